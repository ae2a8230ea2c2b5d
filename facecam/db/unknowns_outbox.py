"""Unknown faces shared in PostgreSQL, with a local outbox so that losing the database loses none.

:class:`SharedUnknownStore` is the :class:`facecam.unknowns.store.UnknownStore` a live command (``watch
--db``, the window with ``--db``) writes to: a sighting goes to the database's store
(:class:`facecam.db.unknowns.DbUnknownStore`) while the server answers; while it does not (down, a network
cut, not reachable yet when facecam started) the sighting, its crops already encoded as JPEGs, waits in
``known_faces/.facecam/unknowns/<model>/outbox.sqlite`` (owner-only, the crops encrypted with ``FACECAM_KEY``; survives a restart) and is sent, oldest
first, once the server is back: it then joins its cluster as if it had arrived at once. The machinery
(retrying, order, the bound) is :class:`facecam.db.outbox.OutboxedStore`, shared with the visits.

Reading (the "Who's this?" list, naming, merging...) needs the database: until it has answered once,
those calls raise :class:`facecam.db.DatabaseUnreachable` (the window says so in its tab) and
:meth:`SharedUnknownStore.follow` waits for it. A clean-up asked while the database is away (clusters
that now match someone enrolled) is done once the outbox has been sent.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from facecam.db import DatabaseUnreachable
from facecam.db.outbox import RETRY_S, OutboxedStore
from facecam.db.unknowns import EncodedSighting, encoded_sighting
from facecam.errors import FacecamError
from facecam.fileutil import private_file, private_folder, set_aside_damaged, use_wal
from facecam.sealed import seal, unseal
from facecam.source_names import checkpoint, redact_stored_names
from facecam.unknowns.collect import UnknownSighting
from facecam.unknowns.store import CROP, DEFAULT_MAX_SIGHTINGS, UnknownsError, check_dim, store_folder

OUTBOX_NAME = "outbox.sqlite"
DEFAULT_MAX_QUEUED = DEFAULT_MAX_SIGHTINGS   # the store's own default cap: more would be dropped by it anyway

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queued (
    n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, track INTEGER NOT NULL,
    first_t REAL NOT NULL, last_t REAL NOT NULL, started REAL NOT NULL, ended REAL NOT NULL,
    embedding BLOB NOT NULL, merge_group TEXT, pinned INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS queued_crops (
    sighting TEXT NOT NULL REFERENCES queued(id) ON DELETE CASCADE, rank INTEGER NOT NULL,
    t REAL NOT NULL, frame INTEGER NOT NULL, x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    quality REAL NOT NULL, embedding BLOB NOT NULL, jpeg BLOB NOT NULL, PRIMARY KEY (sighting, rank));
"""


def outbox_path(known_faces: Path, model: str) -> Path:
    """Where ``model``'s unknown faces wait for the database: ``known_faces/.facecam/unknowns/<model>/outbox.sqlite``."""
    return store_folder(known_faces, model) / OUTBOX_NAME


class UnknownOutbox:
    """The local queue of encoded sightings (one SQLite file, owner-only); thread-safe."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        private_folder(self.path.parent)
        try:
            self._db = self._connect()
        except sqlite3.OperationalError as error:   # busy, locked, a disk error: the file may be fine, keep it
            raise FacecamError(f"cannot open the unknown faces' outbox {self.path}: {error}; close other facecam "
                               "windows or commands using it, or check the disk, and retry") from None
        except sqlite3.DatabaseError as error:
            aside = set_aside_damaged(self.path)
            self.warnings.append(f"the unknown faces' outbox {self.path} could not be read ({error}); it was moved "
                                 f"to {aside.name} and a new one started")
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        private_file(self.path)
        db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            use_wal(db)
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA secure_delete=ON")
            db.executescript(_SCHEMA)
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            if db.execute("PRAGMA user_version").fetchone()[0] < 1:  # 1: the sources' names hold no password
                db.execute("BEGIN IMMEDIATE")     # (an older facecam queued a --source URL whole)
                redacted = redact_stored_names(db, "queued")
                db.execute("PRAGMA user_version = 1")
                db.execute("COMMIT")
                checkpoint(db, redacted)
        except BaseException:
            db.close()
            raise
        return db

    def put(self, sighting: EncodedSighting, pinned: bool) -> None:
        sighting_id, source, track, first_t, last_t, started, ended, embedding, group = sighting.row
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM queued WHERE id = ?", (sighting_id,))
                self._db.execute(
                    "INSERT INTO queued (id, source, track, first_t, last_t, started, ended, embedding, "
                    "merge_group, pinned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sighting_id, source, int(track), float(first_t), float(last_t), float(started), float(ended),
                     np.asarray(embedding, np.float32).tobytes(), group, int(bool(pinned))))
                self._db.executemany(
                    "INSERT INTO queued_crops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(sighting_id, int(rank), float(t), int(frame), *map(float, box), float(quality),
                      np.asarray(vector, np.float32).tobytes(), seal(jpeg))   # encrypted with FACECAM_KEY
                     for rank, t, frame, box, quality, vector, jpeg in sighting.crops])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def items(self) -> list[tuple[str, tuple[EncodedSighting, bool]]]:
        """``(id, (sighting, pinned))`` of every queued sighting, in the order they were queued. A row whose
        embedding cannot be read (a damaged file) is dropped with a warning."""
        with self._lock:
            crops: dict[str, list[tuple]] = {}
            for sid, rank, t, frame, x, y, w, h, quality, vector, jpeg in self._db.execute(
                    "SELECT sighting, rank, t, frame, x, y, w, h, quality, embedding, jpeg FROM queued_crops "
                    "ORDER BY sighting, rank"):
                crops.setdefault(sid, []).append((rank, t, frame, (x, y, w, h), quality,
                                                  np.frombuffer(vector, np.float32).copy(), unseal(bytes(jpeg), CROP)))
            rows = self._db.execute("SELECT id, source, track, first_t, last_t, started, ended, embedding, "
                                    "merge_group, pinned FROM queued ORDER BY n").fetchall()
        out, damaged = [], []
        for sid, source, track, first_t, last_t, started, ended, blob, group, pinned in rows:
            embedding = np.frombuffer(blob, np.float32).copy()
            kept = crops.get(sid, [])
            if (embedding.size == 0 or not np.all(np.isfinite(embedding)) or not kept
                    or any(c[5].shape != embedding.shape for c in kept)):
                damaged.append(sid)
                continue
            row = (sid, source, track, first_t, last_t, started, ended, embedding, group)
            out.append((sid, (EncodedSighting(row, tuple(kept)), bool(pinned))))
        for sid in damaged:
            self.remove(sid)
        if damaged:
            self.warnings.append(f"{len(damaged)} damaged sighting(s) in {self.path} dropped")
        return out

    def remove(self, sighting_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM queued WHERE id = ?", (sighting_id,))

    def clear(self) -> int:
        """Empty the outbox; how many sightings it held."""
        with self._lock:
            return int(self._db.execute("DELETE FROM queued").rowcount)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM queued").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SharedUnknownStore(OutboxedStore):
    """``model``'s unknown faces in the database (opened by ``connect()``, in the background, retrying until it
    answers) with a local outbox (see the module notes)."""

    what = "unknown faces"
    thread_name = "facecam-unknowns-outbox"
    refused = (UnknownsError,)

    def __init__(self, outbox: Path, model: str, dim: int | None, connect: Callable[[], object], *, shown: str,
                 max_queued: int = DEFAULT_MAX_QUEUED, retry_s: float = RETRY_S):
        self.model = model
        self.dim = int(dim) if dim is not None else None
        self.shown = shown
        self._retire_later: tuple | None = None   # a clean-up asked while the database was away
        super().__init__(None, outbox, max_queued=max_queued, retry_s=retry_s, connect=connect)
        self._start()

    @property
    def where(self) -> str:
        return f"the database {self.shown}"

    # ------------------------------------------------------------ the outbox
    def _open_outbox_file(self) -> UnknownOutbox:
        return UnknownOutbox(self.outbox_path)

    def _send(self, primary, item: tuple[EncodedSighting, bool]) -> str:
        return primary.add_encoded(*item)

    def _queue(self, outbox: UnknownOutbox, item: tuple[EncodedSighting, bool]) -> None:
        outbox.put(*item)

    def _queued_items(self, outbox: UnknownOutbox) -> list:
        return outbox.items()

    def _dequeue(self, outbox: UnknownOutbox, sighting_id: str) -> None:
        outbox.remove(sighting_id)

    def _idle(self) -> None:
        """The outbox is empty: do the clean-up asked for while the database was away."""
        with self._lock:
            asked, self._retire_later = self._retire_later, None
            if asked is not None and self._retire_now(*asked) is None:
                self._retire_later = asked   # still away: the next time

    # ------------------------------------------------------------ writing
    def add(self, sighting: UnknownSighting, pinned: bool = False) -> str:
        """Store a sighting: its cluster's id when the database took it, "" when that face is ignored (or the
        outbox is full), the sighting's own id when it waits in the outbox."""
        check_dim(sighting.crops[0].embedding.shape[0], self.dim, self.model)
        encoded = encoded_sighting(sighting)
        state, answer = self._write((encoded, pinned))
        return str(answer) if state == "sent" else encoded.id if state == "queued" else ""

    def retire_matching(self, gallery, threshold: float, mode: str = "mean") -> list[tuple[str, str]]:
        """As :meth:`facecam.db.unknowns.DbUnknownStore.retire_matching`; while the database is away (or sightings
        still wait to be sent) it is done later, in the background, and ``[]`` is returned now."""
        with self._lock:
            if self.queued == 0 and self.primary is not None:
                retired = self._retire_now(gallery, threshold, mode)
                if retired is not None:
                    return retired
            self._retire_later = (gallery, threshold, mode)
        self._wake.set()
        return []

    def _retire_now(self, gallery, threshold: float, mode: str) -> list[tuple[str, str]] | None:
        """The clusters retired, or None when the database did not answer."""
        try:
            return self.primary.retire_matching(gallery, threshold, mode)
        except DatabaseUnreachable:
            return None

    def forget_all(self) -> int:
        """Every sighting of the model, in the database and in the outbox (nothing arrives later)."""
        with self._lock:
            cleared = self.outbox.clear() if self.outbox is not None else 0
            self.queued = 0
            return cleared + self._database().forget_all()

    # ------------------------------------------------------------ reading and the user's changes: the database
    def sightings(self):
        return self._database().sightings()

    def clusters(self):
        return self._database().clusters()

    def cluster(self, cluster_id: str):
        return self._database().cluster(cluster_id)

    def crop_jpeg(self, crop) -> bytes:
        return self._database().crop_jpeg(crop)

    def crop_files(self, crops):
        return self._database().crop_files(crops)

    def merge(self, cluster_ids: list[str]):
        return self._database().merge(cluster_ids)

    def forget(self, cluster_ids: list[str]) -> int:
        return self._database().forget(cluster_ids)

    def ignore(self, cluster_ids: list[str]) -> int:
        return self._database().ignore(cluster_ids)

    def ignored_distance(self, embedding: np.ndarray) -> float | None:
        return self._database().ignored_distance(embedding)

    def is_ignored(self, embedding: np.ndarray) -> bool:
        return self._database().is_ignored(embedding)

    def follow(self, on_change, stop: threading.Event) -> None:
        """Wait for the database, then call ``on_change()`` on every change any instance makes (and once at the
        start) until ``stop`` is set. Blocks: run it in a thread."""
        if self.wait_connected(stop):
            self.primary.follow(on_change, stop)
