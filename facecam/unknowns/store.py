"""Where unknown sightings are kept: one small interface, a local SQLite store behind it.

Layout, per model, beside the gallery cache and never among the photos::

    known_faces/.facecam/unknowns/<model>/unknowns.sqlite   sightings, crops' metadata, embeddings
    known_faces/.facecam/unknowns/<model>/crops/<id>-<n>.jpg the kept face crops

Folders 0700, files 0600 (embeddings and faces are biometric data); with ``FACECAM_KEY`` set the crop files are
encrypted (:mod:`facecam.sealed`) and read back decrypted (``crop_jpeg``, ``crop_files``). A sighting's source is its name
(:func:`facecam.sources.display_name`); opening a store an older facecam wrote cleans the names it kept with
a password (meta ``names``). SQLite from the standard
library (WAL, a busy timeout: a `watch` and an `unknowns` command may use it at once); embeddings
are float32 blobs, never pickle. A crop file is written (atomically) before the row that names it.
Bounded: at most ``max_sightings`` (default 2,000) and ``max_age_days`` (default 30); the oldest
go first. A damaged database is replaced by an empty one with a warning, never a crash; a row
with a damaged embedding is dropped with a warning.

"Not a person / ignore" (:meth:`LocalUnknownStore.ignore`) forgets a cluster but keeps its
sightings' embeddings (no crops) in an ``ignored`` table, at most :data:`MAX_IGNORED` and no older
than ``max_age_days``: a later sighting within the cluster link of one of them is not stored.
``forget_all`` empties that list too.

A sighting a user put there (the window's "Not <name>": a face wrongly given a name) is *pinned*:
its cluster is never retired for matching an enrolled person (it does match the name the user
rejected), only named, merged, ignored or forgotten.

Clusters are not stored: they follow from the sightings (:mod:`facecam.unknowns.cluster`, grown
one sighting at a time while running, rebuilt from scratch when one is removed) plus the users'
merges (a ``merge_group`` shared by the merged sightings). A cluster's id is its oldest sighting's.
The PostgreSQL store (:class:`facecam.db.unknowns.DbUnknownStore`, issue 10) takes the same
:class:`UnknownStore` interface and groups with the same functions (:func:`grouping_of`,
:func:`clusters_of`, :func:`find_cluster`, :func:`clusters_to_retire`); which one is in use is chosen
by :func:`facecam.stores.open_stores` alone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager, Iterator, Protocol

import numpy as np

from facecam.errors import FacecamError
from facecam.fileutil import atomic_write_bytes, private_folder, use_wal
from facecam.sealed import is_sealed_file, seal, unseal
from facecam.source_names import checkpoint, redact_stored_names
from facecam.unknowns.cluster import Clusters, link_for
from facecam.unknowns.collect import UnknownSighting, new_sighting_id

STORE_FORMAT = "1"
NAMES_CLEAN = "1"        # meta "names": the sources' names hold no password (an older facecam's were cleaned)
DEFAULT_MAX_SIGHTINGS = 2000
DEFAULT_MAX_AGE_DAYS = 30.0
DB_NAME = "unknowns.sqlite"
CROP = "an unknown face's crop"   # what a key problem names (facecam.sealed)
ORPHAN_AGE_S = 600.0     # a crop file no row names is deleted on opening once this old (another writer may be mid-way)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sightings (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, track INTEGER NOT NULL,
    first_t REAL NOT NULL, last_t REAL NOT NULL, started REAL NOT NULL, ended REAL NOT NULL,
    embedding BLOB NOT NULL, merge_group TEXT);
CREATE TABLE IF NOT EXISTS crops (
    sighting TEXT NOT NULL REFERENCES sightings(id) ON DELETE CASCADE, rank INTEGER NOT NULL,
    t REAL NOT NULL, frame INTEGER NOT NULL, x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    quality REAL NOT NULL, embedding BLOB NOT NULL, file TEXT NOT NULL, PRIMARY KEY (sighting, rank));
CREATE INDEX IF NOT EXISTS sightings_started ON sightings(started);
CREATE TABLE IF NOT EXISTS ignored (id INTEGER PRIMARY KEY, added REAL NOT NULL, embedding BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pinned (sighting TEXT PRIMARY KEY REFERENCES sightings(id) ON DELETE CASCADE);
"""
MAX_IGNORED = 2000       # embeddings of faces marked "not a person / ignore" (the oldest go first)


class UnknownsError(FacecamError):
    """The unknowns store cannot do what was asked (no such cluster, cannot write)."""


@dataclass(frozen=True)
class StoredCrop:
    """A kept crop: ``path`` is its file (the local store) or its name in the database (``db:<sighting>-<rank>.jpg``);
    read its JPEG with the store's ``crop_jpeg`` and get files with its ``crop_files``."""

    rank: int
    t: float
    frame: int
    box: tuple[float, float, float, float]
    quality: float
    path: Path
    sighting: str = ""


@dataclass(frozen=True)
class StoredSighting:
    """A sighting as stored: its unit ``embedding`` (the crops' mean) and crops, best first."""

    id: str
    source: str
    track: int
    first_t: float
    last_t: float
    started: float
    ended: float
    embedding: np.ndarray
    merge_group: str | None
    crops: tuple[StoredCrop, ...]


@dataclass(frozen=True)
class Cluster:
    """One presumed person: their sightings, oldest first; ``id`` is the oldest sighting's id. ``probably``: the
    ids of other clusters that are probably the same person (a merge to suggest, closest first;
    :meth:`facecam.unknowns.cluster.Clusters.suggestions`)."""

    id: str
    sightings: tuple[StoredSighting, ...]
    probably: tuple[str, ...] = ()

    @property
    def first_seen(self) -> float:
        return min(s.started for s in self.sightings)

    @property
    def last_seen(self) -> float:
        return max(s.ended for s in self.sightings)

    def best_crops(self, limit: int = 5) -> list[StoredCrop]:
        """Up to ``limit`` crops, best first, one per sighting before a second from any."""
        rounds = [sorted(s.crops, key=lambda c: -c.quality) for s in self.sightings]
        picked: list[StoredCrop] = []
        for level in range(max((len(r) for r in rounds), default=0)):
            layer = sorted((r[level] for r in rounds if len(r) > level), key=lambda c: -c.quality)
            picked.extend(layer)
        return picked[:limit]


class UnknownStore(Protocol):
    """What the collector, the CLI and the window need of an unknowns store (chosen by
    :func:`facecam.stores.open_stores`)."""

    warnings: list[str]   # what opening or writing had to repair or could not do, for the user
    flushed: int          # sightings that waited in a local outbox and were sent to the database since

    def add(self, sighting: UnknownSighting, pinned: bool = False) -> str: ...
    def sightings(self) -> list[StoredSighting]: ...
    def crop_jpeg(self, crop: StoredCrop) -> bytes: ...
    def crop_files(self, crops: list[StoredCrop]) -> ContextManager[list[Path]]: ...
    def clusters(self) -> list[Cluster]: ...
    def cluster(self, cluster_id: str) -> Cluster: ...
    def merge(self, cluster_ids: list[str]) -> Cluster: ...
    def forget(self, cluster_ids: list[str]) -> int: ...
    def forget_all(self) -> int: ...
    def retire_matching(self, gallery, threshold: float, mode: str = "mean") -> list[tuple[str, str]]: ...
    def ignore(self, cluster_ids: list[str]) -> int: ...
    def follow(self, on_change, stop) -> None: ...
    def close(self) -> None: ...


def grouping_of(sightings: list[StoredSighting], link: float) -> Clusters:
    """The clusters of these sightings, from scratch (:class:`facecam.unknowns.cluster.Clusters`)."""
    return Clusters.from_scratch(
        link, [s.id for s in sightings],
        np.stack([s.embedding for s in sightings]) if sightings else np.zeros((0, 1), np.float32),
        [s.merge_group for s in sightings])


def clusters_of(sightings: list[StoredSighting], grouping: Clusters) -> list[Cluster]:
    """The :class:`Cluster` list of a grouping, newest last seen first (then by id: the same order however
    the clusters grew); a cluster's sightings oldest first, its id the oldest one's."""
    by_id = {s.id: s for s in sightings}
    out, cluster_of = [], {}
    for members in grouping.members():
        kept = sorted((by_id[k] for k in members if k in by_id), key=lambda s: (s.started, s.id))
        if kept:
            out.append(Cluster(kept[0].id, tuple(kept)))
            cluster_of[members[0]] = kept[0].id
    probably: dict[str, list[str]] = {}
    for a, b, _ in grouping.suggestions():
        if a in cluster_of and b in cluster_of:
            probably.setdefault(cluster_of[a], []).append(cluster_of[b])
            probably.setdefault(cluster_of[b], []).append(cluster_of[a])
    if probably:
        out = [Cluster(c.id, c.sightings, tuple(probably.get(c.id, ()))) for c in out]
    return sorted(out, key=lambda c: (-c.last_seen, c.id))


def check_dim(dim: int, store_dim: int | None, model: str) -> None:
    """UnknownsError unless a ``dim``-long embedding fits a store of ``store_dim`` (None: not known yet, any fits)."""
    if store_dim is not None and dim != store_dim:
        raise UnknownsError(f"a {dim}-d sighting cannot go into the {store_dim}-d store of {model}")


def find_cluster(clusters: list[Cluster], cluster_id: str) -> Cluster:
    """The cluster with this id (or a unique prefix of it); UnknownsError if none."""
    found = [c for c in clusters if c.id == cluster_id]
    if not found:
        found = [c for c in clusters if c.id.startswith(cluster_id)] if cluster_id else []
    if len(found) != 1:
        raise UnknownsError(f"no unknown cluster {cluster_id!r}; run 'facecam unknowns' to list them")
    return found[0]


def clusters_to_retire(clusters: list[Cluster], pinned: set[str], gallery, threshold: float,
                       mode: str = "mean") -> list[tuple[Cluster, str]]:
    """The clusters most of whose sightings match an enrolled person of ``gallery`` (a GalleryMatrix), with
    that person's name; never a cluster with a pinned sighting."""
    from facecam.matcher import match_embeddings  # noqa: PLC0415

    if len(gallery) == 0:
        return []
    out = []
    for cluster in clusters:
        if any(s.id in pinned for s in cluster.sightings):
            continue
        matches = match_embeddings(np.stack([s.embedding for s in cluster.sightings]), gallery, threshold, mode)
        named = Counter(m.name for m in matches if m.name is not None)
        if named:
            name, count = named.most_common(1)[0]
            if 2 * count >= len(matches):
                out.append((cluster, name))
    return out


def store_folder(known_faces: Path, model: str) -> Path:
    """``known_faces/.facecam/unknowns/<model>/``."""
    from facecam.gallery import CACHE_DIR  # noqa: PLC0415

    return Path(known_faces) / CACHE_DIR / "unknowns" / model


class LocalUnknownStore:
    """The SQLite store of one model's unknown sightings (see the module notes).

    ``warnings`` lists what opening had to repair. Thread-safe (one connection, one lock).
    """

    flushed = 0   # a local store sends nothing anywhere later

    def __init__(self, known_faces: Path, model: str, dim: int | None = None, *, link: float | None = None,
                 max_sightings: int = DEFAULT_MAX_SIGHTINGS, max_age_days: float = DEFAULT_MAX_AGE_DAYS,
                 clock=time.time):
        if max_sightings < 1 or max_age_days <= 0:
            raise ValueError("max_sightings >= 1 and max_age_days > 0 expected")
        self.folder = store_folder(known_faces, model)
        self.model = model
        self.dim: int | None = int(dim) if dim is not None else None  # None: the stored one
        self.link = float(link if link is not None else link_for(model))
        self.max_sightings, self.max_age_days = int(max_sightings), float(max_age_days)
        self.clock = clock
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._clusters: Clusters | None = None
        try:
            private_folder(self.folder)
            private_folder(self.crops_folder)
        except OSError as error:
            raise UnknownsError(f"cannot create the unknowns store {self.folder}: {error.strerror or error}; "
                                "check that the known_faces folder is writable") from None
        self._db = self._open()
        self._drop_damaged_rows()
        self._remove_orphan_crops()
        self._enforce_caps()

    @property
    def path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def crops_folder(self) -> Path:
        return self.folder / "crops"

    # ------------------------------------------------------------- opening and repair
    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(self.path, 0o600)
        db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        use_wal(db)
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA secure_delete=ON")   # a forgotten face's bytes are zeroed, not left in free pages
        db.executescript(_SCHEMA)
        # Two processes (or a window and its retention sweep) may create the store at the same moment: the first
        # writes the meta rows, the other's are ignored, and both then read the same ones.
        with self._transaction(db):
            if not db.execute("SELECT 1 FROM meta LIMIT 1").fetchone():
                db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                               [("format", STORE_FORMAT), ("model", self.model)])
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != STORE_FORMAT or meta.get("model") != self.model or (
                self.dim is not None and meta.get("dim", str(self.dim)) != str(self.dim)):
            db.close()
            raise sqlite3.DatabaseError(f"made for {meta.get('model')} ({meta.get('dim')}-d), format {meta.get('format')}")
        if self.dim is None and str(meta.get("dim", "")).isdigit():
            self.dim = int(meta["dim"])
        if self.dim is not None and "dim" not in meta:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('dim', ?)", (str(self.dim),))
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            db.close()
            raise sqlite3.DatabaseError("quick_check failed")
        if meta.get("names") != NAMES_CLEAN:  # an older facecam kept a --source URL whole, password included
            with self._transaction(db):
                redacted = redact_stored_names(db, "sightings")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('names', ?)", (NAMES_CLEAN,))
            checkpoint(db, redacted)
        return db

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.OperationalError as error:   # busy, locked, a disk error: the file may be fine, keep it
            raise UnknownsError(f"cannot open the unknowns store {self.path}: {error}; "
                                "close other facecam windows or commands using it, or check the disk, and retry") from None
        except sqlite3.Error as error:
            self.warnings.append(f"the unknowns store {self.path} was damaged ({error}); its sightings are lost "
                                 "and a new, empty store was started")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(self.crops_folder, ignore_errors=True)
        private_folder(self.crops_folder)
        return self._connect()

    def _drop_damaged_rows(self) -> None:
        if self.dim is None:
            return
        size = 4 * self.dim
        bad = [row[0] for row in self._db.execute(
            "SELECT id FROM sightings WHERE length(embedding) != ? OR id NOT IN (SELECT sighting FROM crops) "
            "OR id IN (SELECT sighting FROM crops WHERE length(embedding) != ?)", (size, size))]
        for sighting_id, blob in self._db.execute("SELECT id, embedding FROM sightings").fetchall():
            if len(blob) == size and not np.all(np.isfinite(np.frombuffer(blob, np.float32))):
                bad.append(sighting_id)
        if bad:
            self.warnings.append(f"{len(bad)} damaged sighting(s) in {self.path} dropped")
            self._delete(sorted(set(bad)))

    def _remove_orphan_crops(self, min_age_s: float = ORPHAN_AGE_S) -> None:
        """Delete crop files no row names, older than ``min_age_s``: a younger one may be a crop another
        process (a running ``watch`` or window) has written and is about to name in its row."""
        known = {row[0] for row in self._db.execute("SELECT file FROM crops")}
        cutoff = time.time() - min_age_s
        for entry in os.scandir(self.crops_folder):
            try:
                old = entry.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if entry.name not in known and old:
                Path(entry.path).unlink(missing_ok=True)

    # ------------------------------------------------------------- writing
    def add(self, sighting: UnknownSighting, pinned: bool = False) -> str:
        """Store a sighting (crops first, then its row, then the caps); returns its cluster's id, or ""
        when the face was marked "not a person / ignore" (:meth:`is_ignored`): then nothing is kept.
        ``pinned``: a user put it there; its cluster is never retired (see the module notes)."""
        from facecam.images import encode_jpeg  # noqa: PLC0415 - OpenCV, loaded once something is stored
        from facecam.types import rgb_to_bgr  # noqa: PLC0415

        files = []
        dim = sighting.crops[0].embedding.shape[0]
        if self.dim is None:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(dim),))
                self.dim = dim
        check_dim(dim, self.dim, self.model)
        if self.is_ignored(sighting.embedding):
            return ""
        try:
            for rank, crop in enumerate(sighting.crops):
                name = f"{sighting.id}-{rank}.jpg"
                atomic_write_bytes(self.crops_folder / name, seal(encode_jpeg(rgb_to_bgr(crop.rgb_crop))), mode=0o600)
                files.append(name)
            with self._lock:
                with self._transaction():
                    self._db.execute("INSERT INTO sightings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                        sighting.id, sighting.source, sighting.track, sighting.first_t, sighting.last_t,
                        sighting.started, sighting.ended, sighting.embedding.astype(np.float32).tobytes(),
                        sighting.merge_group))
                    self._db.executemany("INSERT INTO crops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                        (sighting.id, rank, c.t, c.frame, *map(float, c.box), c.quality,
                         c.embedding.astype(np.float32).tobytes(), name)
                        for rank, (c, name) in enumerate(zip(sighting.crops, files))])
                    if pinned:
                        self._db.execute("INSERT INTO pinned VALUES (?)", (sighting.id,))
                if self._clusters is not None:
                    self._clusters.add(sighting.id, sighting.embedding, sighting.merge_group)
                self._enforce_caps()
                return self._cluster_id_of(sighting.id)
        except (OSError, sqlite3.Error) as error:
            for name in files:
                (self.crops_folder / name).unlink(missing_ok=True)
            raise UnknownsError(f"cannot store an unknown sighting in {self.folder}: {error}; "
                                "check the disk space and that the folder is writable") from None

    def _transaction(self, db: sqlite3.Connection | None = None, begin: str = "BEGIN IMMEDIATE"):
        """A write transaction; ``begin="BEGIN"`` for a read one: its SELECTs see one snapshot of the file."""
        db = self._db if db is None else db

        class _Tx:
            def __enter__(self):
                db.execute(begin)

            def __exit__(self, kind, *_):
                db.execute("COMMIT" if kind is None else "ROLLBACK")
                return False

        return _Tx()

    def _enforce_caps(self) -> None:
        with self._lock:
            cutoff = self.clock() - self.max_age_days * 86400.0
            self._db.execute("DELETE FROM ignored WHERE added < ? OR id NOT IN "
                             "(SELECT id FROM ignored ORDER BY id DESC LIMIT ?)", (cutoff, MAX_IGNORED))
            old = [r[0] for r in self._db.execute("SELECT id FROM sightings WHERE ended < ?", (cutoff,))]
            extra = [r[0] for r in self._db.execute(
                "SELECT id FROM sightings ORDER BY started DESC, id DESC LIMIT -1 OFFSET ?", (self.max_sightings,))]
            if old or extra:
                self._delete(sorted(set(old + extra)))

    def _delete(self, sighting_ids: list[str]) -> int:
        with self._lock:
            files = []
            with self._transaction():
                for i in range(0, len(sighting_ids), 500):
                    chunk = sighting_ids[i:i + 500]
                    marks = ",".join("?" * len(chunk))
                    files += [r[0] for r in self._db.execute(f"SELECT file FROM crops WHERE sighting IN ({marks})", chunk)]
                    self._db.execute(f"DELETE FROM crops WHERE sighting IN ({marks})", chunk)
                    self._db.execute(f"DELETE FROM sightings WHERE id IN ({marks})", chunk)
            for name in files:
                (self.crops_folder / name).unlink(missing_ok=True)
            self._clusters = None  # rebuilt on next use: removing breaks links
            return len(sighting_ids)

    # ------------------------------------------------------------- reading and clusters
    def sightings(self) -> list[StoredSighting]:
        """Every stored sighting, oldest first. Crops and sightings are read in one snapshot: another process
        (a window, a ``watch``) storing or deleting a sighting between the two reads would otherwise give a
        sighting without its crops."""
        with self._lock, self._transaction(begin="BEGIN"):
            crops: dict[str, list[StoredCrop]] = {}
            for sid, rank, t, frame, x, y, w, h, quality, file in self._db.execute(
                    "SELECT sighting, rank, t, frame, x, y, w, h, quality, file FROM crops ORDER BY sighting, rank"):
                crops.setdefault(sid, []).append(StoredCrop(rank, t, frame, (x, y, w, h), quality,
                                                            self.crops_folder / file, sid))
            rows = self._db.execute("SELECT id, source, track, first_t, last_t, started, ended, embedding, "
                                    "merge_group FROM sightings ORDER BY started, id").fetchall()
        return [StoredSighting(r[0], r[1], r[2], r[3], r[4], r[5], r[6], np.frombuffer(r[7], np.float32).copy(),
                               r[8], tuple(crops.get(r[0], ()))) for r in rows]

    def _grouping(self) -> Clusters:
        if self._clusters is None:
            self._clusters = grouping_of(self.sightings(), self.link)
        return self._clusters

    def _cluster_id_of(self, sighting_id: str) -> str:
        for members in self._grouping().members():
            if sighting_id in members:
                return members[0]
        return sighting_id  # dropped at once by the caps (older than the age limit)

    def clusters(self) -> list[Cluster]:
        """Every cluster, newest last seen first (then by id: the same order however the clusters grew)."""
        with self._lock:
            return clusters_of(self.sightings(), self._grouping())

    def cluster(self, cluster_id: str) -> Cluster:
        """The cluster with this id (or a unique prefix of it); UnknownsError if none."""
        return find_cluster(self.clusters(), cluster_id)

    def crop_jpeg(self, crop: StoredCrop) -> bytes:
        """The crop's JPEG (b"" when its file is gone)."""
        try:
            return unseal(crop.path.read_bytes(), CROP)
        except OSError:
            return b""

    @contextmanager
    def crop_files(self, crops: list[StoredCrop]) -> Iterator[list[Path]]:
        """The crops as files (here: their own files, those that still exist; encrypted ones decrypted into an
        owner-only temporary folder, deleted afterwards)."""
        files = [c.path for c in crops if c.path.is_file()]
        if not any(is_sealed_file(path) for path in files):
            yield files
            return
        with tempfile.TemporaryDirectory(prefix="facecam-unknowns-") as folder:
            plain = []
            for path in files:
                data = unseal(path.read_bytes(), CROP)
                atomic_write_bytes(private_folder(Path(folder)) / path.name, data, mode=0o600)
                plain.append(Path(folder) / path.name)
            yield plain

    def merge(self, cluster_ids: list[str]) -> Cluster:
        """Make one cluster of these (at least two); lasts: the sightings share a merge group."""
        clusters = {c.id: c for c in (self.cluster(i) for i in cluster_ids)}
        if len(clusters) < 2:
            raise UnknownsError("merge needs two or more different clusters")
        group = new_sighting_id()
        members = [s.id for c in clusters.values() for s in c.sightings]
        with self._lock:
            with self._transaction():
                self._db.executemany("UPDATE sightings SET merge_group = ? WHERE id = ?", [(group, m) for m in members])
            self._clusters = None
            return self.cluster(min(clusters.values(), key=lambda c: (c.sightings[0].started, c.id)).id)

    def forget(self, cluster_ids: list[str]) -> int:
        """Delete these clusters (sightings, crops); returns the number of sightings deleted."""
        clusters = {c.id: c for c in (self.cluster(i) for i in cluster_ids)}
        return self._delete([s.id for c in clusters.values() for s in c.sightings])

    def forget_all(self) -> int:
        """Delete every sighting and crop, and the ignore list; returns the number of sightings deleted."""
        with self._lock:
            self._db.execute("DELETE FROM ignored")
            return self._delete([r[0] for r in self._db.execute("SELECT id FROM sightings")])

    def ignore(self, cluster_ids: list[str]) -> int:
        """"Not a person / ignore": forget these clusters, and keep their sightings' embeddings so that
        the same face is not collected again (:meth:`is_ignored`). Returns the sightings forgotten."""
        clusters = {c.id: c for c in (self.cluster(i) for i in cluster_ids)}
        sightings = [s for c in clusters.values() for s in c.sightings]
        now = self.clock()
        with self._lock:
            with self._transaction():
                self._db.executemany("INSERT INTO ignored (added, embedding) VALUES (?, ?)",
                                     [(now, s.embedding.astype(np.float32).tobytes()) for s in sightings])
            count = self._delete([s.id for s in sightings])
            self._enforce_caps()
        return count

    def ignored(self) -> np.ndarray:
        """The ignored faces' unit embeddings, ``(N, dim)`` (N may be 0)."""
        with self._lock:
            blobs = [r[0] for r in self._db.execute("SELECT embedding FROM ignored ORDER BY id")]
        size = 4 * (self.dim or 0)
        vectors = [np.frombuffer(b, np.float32) for b in blobs if size and len(b) == size]
        return np.stack(vectors) if vectors else np.zeros((0, self.dim or 0), np.float32)

    def is_ignored(self, embedding: np.ndarray) -> bool:
        """True when ``embedding`` is within the cluster link of a face marked "not a person / ignore"."""
        ignored = self.ignored()
        if len(ignored) == 0:
            return False
        vector = np.asarray(embedding, np.float32).reshape(-1)
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return bool(np.min(1.0 - ignored @ vector) <= self.link)

    def retire_matching(self, gallery, threshold: float, mode: str = "mean") -> list[tuple[str, str]]:
        """Delete the clusters most of whose sightings now match an enrolled person; ``[(id, name)]``
        (never a cluster with a pinned sighting)."""
        if len(gallery) == 0:
            return []
        retired = []
        with self._lock:
            pinned = {r[0] for r in self._db.execute("SELECT sighting FROM pinned")}
            for cluster, name in clusters_to_retire(self.clusters(), pinned, gallery, threshold, mode):
                retired.append((cluster.id, name))
                self._delete([s.id for s in cluster.sightings])
        return retired

    def follow(self, on_change, stop) -> None:
        """Returns at once: only this process's writers change a local store as it runs, and they report each
        change themselves (the shared store calls ``on_change`` on other instances' changes)."""

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
