"""Unknown faces in PostgreSQL: the :class:`facecam.unknowns.store.UnknownStore` every instance shares.

Same data as the local store (:mod:`facecam.unknowns.store`), in the tables of migration 2
(``unknown_sightings``, ``unknown_crops``, ``unknown_ignored``; one model's rows apart from
another's): a sighting, its 1-5 crops (small JPEGs, bytea, as the gallery's thumbnails) and
their embeddings. Clusters are not stored: they follow from every instance's sightings, grouped
by the same code as the local store (:func:`facecam.unknowns.store.grouping_of`), so two
cameras that see the same stranger make one cluster. Caps (count and age, defaults 2,000 and
30 days), the ignore list, pinned sightings, merge / forget / forget_all / retire_matching as
the local store.

Concurrency: every change is one transaction under the model's advisory lock
(:meth:`facecam.db.postgres.PostgresStore.unknowns`): two instances adding at once take turns
(each add sees the other's sighting when it computes its cluster; the caps count both), and a
merge, forget, ignore or retire resolves its clusters inside the lock, so a sighting another
instance adds meanwhile lands before (and is merged, forgotten or retired with its cluster) or
after (and joins the result by its links). Readers see one snapshot and wait for nobody.

Reading incrementally: a store keeps what it has read (:class:`_Read`: each sighting without its
image data, its crops' metadata once asked for, their grouping). Each use reads one small query of
what may change (ids, start, merge group, pinned: :meth:`facecam.db.postgres.UnknownRows.facts`) and
fetches only the sightings (and crops) it has not seen; a sighting's other columns, embedding and
crops never change once stored. New sightings join the grouping one by one
(:meth:`facecam.unknowns.cluster.Clusters.add`; connected components do not depend on the order),
vanished ones (forget, ignore, retire, the caps, by any instance) split only their own clusters
again (:meth:`~facecam.unknowns.cluster.Clusters.without`), and a changed merge group (a merge)
groups everything afresh from the kept embeddings. So every answer is the grouping of that
transaction's rows, as a full recomputation gives it (tests/test_db_unknowns.py compares), and an
add at the cap of 2,000 reads a few rows instead of every embedding (BENCHMARKS.md).

psycopg-free: SQL lives in :mod:`facecam.db.postgres`.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from facecam.fileutil import private_folder
from facecam.gallery import safe_photo_stem
from facecam.unknowns.cluster import Clusters, link_for
from facecam.unknowns.collect import UnknownSighting, new_sighting_id
from facecam.unknowns.store import (DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_SIGHTINGS, MAX_IGNORED, Cluster, StoredCrop,
                                    StoredSighting, UnknownsError, check_dim, clusters_of, clusters_to_retire, find_cluster,
                                    grouping_of)


def crop_name(sighting_id: str, rank: int) -> Path:
    """How a crop kept in the database is named where a path is shown (``unknowns --json``'s ``crop``)."""
    return Path(f"db:{sighting_id}-{rank}.jpg")


@dataclass(frozen=True)
class EncodedSighting:
    """A sighting as the database stores it: ``row`` (id, source, track, first_t, last_t, started, ended,
    embedding, merge_group) and ``crops`` ((rank, t, frame, box, quality, embedding, jpeg) each, best first)."""

    row: tuple
    crops: tuple[tuple, ...]

    @property
    def id(self) -> str:
        return self.row[0]


def encoded_sighting(sighting: UnknownSighting) -> EncodedSighting:
    """The sighting with its crops encoded as JPEGs (once: the database and the local outbox keep these bytes)."""
    from facecam.images import encode_jpeg  # noqa: PLC0415 - OpenCV, loaded once something is stored
    from facecam.types import rgb_to_bgr  # noqa: PLC0415

    crops = tuple((rank, c.t, c.frame, tuple(float(v) for v in c.box), c.quality, c.embedding,
                   encode_jpeg(rgb_to_bgr(c.rgb_crop))) for rank, c in enumerate(sighting.crops))
    return EncodedSighting((sighting.id, sighting.source, sighting.track, sighting.first_t, sighting.last_t,
                            sighting.started, sighting.ended, sighting.embedding, sighting.merge_group), crops)


@dataclass
class _Read:
    """What a store has read of its model's sightings, by id: this dimension's sightings (with their crops once
    ``crops_read`` names them), the ids of another dimension, and the grouping of ``sightings`` (None: to be
    made afresh)."""

    sightings: dict[str, StoredSighting] = field(default_factory=dict)
    crops_read: set[str] = field(default_factory=set)
    other_dim: set[str] = field(default_factory=set)
    grouping: Clusters | None = None


@dataclass(frozen=True)
class _View:
    """The model's sightings in one transaction: this dimension's, oldest first; their clusters
    (:func:`facecam.unknowns.store.clusters_of`); the pinned sightings' ids."""

    sightings: list[StoredSighting]
    clusters: list[Cluster]
    pinned: set[str]


class DbUnknownStore:
    """One model's unknown faces in the database ``db`` (a :class:`facecam.db.postgres.PostgresStore`, closed
    with this store). Thread-safe (every call takes a pooled connection; what it has read is kept under a lock)."""

    flushed = 0   # written straight to the database (:class:`facecam.db.unknowns_outbox.SharedUnknownStore` queues)

    def __init__(self, db, model: str, dim: int | None = None, *, link: float | None = None,
                 max_sightings: int = DEFAULT_MAX_SIGHTINGS, max_age_days: float = DEFAULT_MAX_AGE_DAYS,
                 clock=time.time):
        if max_sightings < 1 or max_age_days <= 0:
            raise ValueError("max_sightings >= 1 and max_age_days > 0 expected")
        self.db, self.model = db, model
        self.dim: int | None = int(dim) if dim is not None else None
        self.link = float(link if link is not None else link_for(model))
        self.max_sightings, self.max_age_days = int(max_sightings), float(max_age_days)
        self.clock = clock
        self.warnings: list[str] = []
        self._read = _Read()
        self._read_lock = threading.Lock()   # over what was read (see _view)
        with self.db.unknowns(model, write=True) as rows:
            self._enforce_caps(rows)

    @property
    def where(self) -> str:
        """Where the store is, for messages (the password hidden)."""
        return f"the database {self.db.shown}"

    def _enforce_caps(self, rows) -> int:
        return rows.enforce_caps(self.clock() - self.max_age_days * 86400.0, self.max_sightings, MAX_IGNORED)

    # ------------------------------------------------------------- reading
    def _view(self, rows, with_crops: bool = False) -> _View:
        """The sightings, clusters and pinned ids inside a transaction (``with_crops``: the sightings with their
        crops' metadata, else perhaps without: enough to find and change clusters), read incrementally (see the
        module notes). The lock is held over SELECTs only, which wait for no advisory lock: a writer of this
        store waiting for it while holding the model's lock cannot deadlock."""
        with self._read_lock:
            read = self._read
            grouping, read.grouping = read.grouping, None   # None while it changes: made afresh if this fails
            if read.sightings or read.other_dim:
                facts = rows.facts()
                present = {sighting_id for sighting_id, *_ in facts}
                for sighting_id in [i for i in read.sightings if i not in present]:
                    del read.sightings[sighting_id]
                read.crops_read &= present
                read.other_dim &= present
                missing = [i for i, *_ in facts if i not in read.sightings and i not in read.other_dim]
                if missing:
                    self._keep(read, rows.sightings(missing))
            else:   # nothing read yet (a newly opened store): every row at once, the facts with them
                crops = self._crops_of(rows.crops()) if with_crops else None
                fetched = rows.sightings()
                facts = [(row[0], row[5], row[8], row[9]) for row in fetched]
                self._keep(read, fetched, crops)
            regroup = grouping is None
            for sighting_id, _started, group, _pinned in facts:
                sighting = read.sightings.get(sighting_id)
                if sighting is not None and sighting.merge_group != group:   # merged by some instance
                    read.sightings[sighting_id] = dataclasses.replace(sighting, merge_group=group)
                    regroup = True
            if with_crops:
                self._keep_crops(read, rows, [i for i in read.sightings if i not in read.crops_read])
            sightings = [read.sightings[i] for i, *_ in facts if i in read.sightings]
            read.grouping = grouping_of(sightings, self.link) if regroup else self._grown(grouping, sightings)
            return _View(sightings, clusters_of(sightings, read.grouping),
                         {sighting_id for sighting_id, _, _, pinned in facts if pinned})

    def _keep(self, read: _Read, fetched: list[tuple], crops: dict[str, list[StoredCrop]] | None = None) -> None:
        """Remember these sightings' rows (of this store's dimension; the others' ids only), with their ``crops``
        when given (:meth:`_crops_of` every crop row of them)."""
        for sighting_id, source, track, first_t, last_t, started, ended, embedding, group, _pinned in fetched:
            if self.dim is None:
                self.dim = int(embedding.shape[0])
            if embedding.shape != (self.dim,):
                read.other_dim.add(sighting_id)  # another dimension (a model of the same name built otherwise)
                continue
            embedding.setflags(write=False)   # kept and handed out again: nobody may change it in place
            read.sightings[sighting_id] = StoredSighting(
                sighting_id, source, int(track), float(first_t), float(last_t), float(started), float(ended),
                embedding, group, tuple(crops.get(sighting_id, ())) if crops is not None else ())
            if crops is not None:
                read.crops_read.add(sighting_id)

    @staticmethod
    def _crops_of(crop_rows: list[tuple]) -> dict[str, list[StoredCrop]]:
        """The crops' metadata (:meth:`facecam.db.postgres.UnknownRows.crops` rows) by sighting, best first."""
        crops: dict[str, list[StoredCrop]] = {}
        for sighting_id, rank, t, frame, box, quality in crop_rows:
            crops.setdefault(sighting_id, []).append(StoredCrop(
                int(rank), float(t), int(frame), tuple(float(v) for v in box), float(quality),
                crop_name(sighting_id, rank), sighting_id))
        return crops

    def _keep_crops(self, read: _Read, rows, sighting_ids: list[str]) -> None:
        """Read these sightings' crops' metadata into ``read``."""
        if not sighting_ids:
            return
        every = len(sighting_ids) == len(read.sightings)   # none read yet: one plain read
        crops = self._crops_of(rows.crops(None if every else sighting_ids))
        for sighting_id in sighting_ids:
            read.sightings[sighting_id] = dataclasses.replace(read.sightings[sighting_id],
                                                              crops=tuple(crops.get(sighting_id, ())))
        read.crops_read.update(sighting_ids)

    @staticmethod
    def _grown(grouping: Clusters, sightings: list[StoredSighting]) -> Clusters:
        """``grouping`` brought to exactly ``sightings``: the vanished removed, the new added oldest first."""
        present = {s.id for s in sightings}
        grouping = grouping.without({key for key in grouping.keys if key not in present})
        grouped = set(grouping.keys)
        for s in sightings:
            if s.id not in grouped:
                grouping.add(s.id, s.embedding, s.merge_group)
        return grouping

    def sightings(self) -> list[StoredSighting]:
        """Every stored sighting of the model, oldest first."""
        with self.db.unknowns(self.model, write=False) as rows:
            return self._view(rows, with_crops=True).sightings

    def clusters(self) -> list[Cluster]:
        """Every cluster (of every instance's sightings), newest last seen first."""
        with self.db.unknowns(self.model, write=False) as rows:
            return self._view(rows, with_crops=True).clusters

    def cluster(self, cluster_id: str) -> Cluster:
        return find_cluster(self.clusters(), cluster_id)

    def _chosen(self, rows, cluster_ids: list[str]) -> dict[str, Cluster]:
        """The clusters these ids (or unique prefixes) name, by id, inside a transaction; UnknownsError if one
        names none."""
        clusters = self._view(rows).clusters
        return {c.id: c for c in (find_cluster(clusters, i) for i in cluster_ids)}

    def crop_jpeg(self, crop: StoredCrop) -> bytes:
        """The crop's JPEG from the database (b"" when it was deleted meanwhile)."""
        with self.db.unknowns(self.model, write=False) as rows:
            return rows.crop_jpeg(crop.sighting, crop.rank)

    @contextmanager
    def crop_files(self, crops: list[StoredCrop]) -> Iterator[list[Path]]:
        """The crops written to an owner-only temporary folder (deleted afterwards): for detection and enrolling."""
        with tempfile.TemporaryDirectory(prefix="facecam-unknowns-") as folder:
            private_folder(Path(folder))
            files = []
            for n, crop in enumerate(crops):
                data = self.crop_jpeg(crop)
                if data:   # named here, not from the row: a stored id never makes a path
                    path = Path(folder) / f"unknown-{n}-{safe_photo_stem(crop.sighting)}.jpg"
                    path.write_bytes(data)
                    path.chmod(0o600)
                    files.append(path)
            yield files

    def ignored_distance(self, embedding: np.ndarray) -> float | None:
        """Cosine distance to the closest face marked "not a person / ignore" (None: none is)."""
        with self.db.unknowns(self.model, write=False) as rows:
            return rows.nearest_ignored(embedding)

    def is_ignored(self, embedding: np.ndarray) -> bool:
        """True when ``embedding`` is within the cluster link of a face marked "not a person / ignore"."""
        distance = self.ignored_distance(embedding)
        return distance is not None and distance <= self.link

    # ------------------------------------------------------------- writing
    def add(self, sighting: UnknownSighting, pinned: bool = False) -> str:
        """Store a sighting (its crops as JPEGs); its cluster's id (with every instance's sightings), or ""
        when the face was marked "not a person / ignore" (nothing kept)."""
        return self.add_encoded(encoded_sighting(sighting), pinned)

    def add_encoded(self, sighting: EncodedSighting, pinned: bool = False) -> str:
        """:meth:`add` for a sighting already encoded (what the local outbox keeps while the database is away)."""
        dim = sighting.row[7].shape[0]
        if self.dim is None:
            self.dim = int(dim)
        check_dim(dim, self.dim, self.model)
        sighting_id, embedding = sighting.row[0], sighting.row[7]
        with self.db.unknowns(self.model, write=True) as rows:
            distance = rows.nearest_ignored(embedding)
            if distance is not None and distance <= self.link:
                return ""
            rows.insert(sighting.row, list(sighting.crops), pinned)
            self._enforce_caps(rows)
            for cluster in self._view(rows).clusters:
                if any(s.id == sighting_id for s in cluster.sightings):
                    return cluster.id
        return sighting_id  # dropped at once by the caps (older than the age limit)

    def merge(self, cluster_ids: list[str]) -> Cluster:
        """Make one cluster of these (at least two): their sightings share a merge group."""
        with self.db.unknowns(self.model, write=True) as rows:
            chosen = self._chosen(rows, cluster_ids)
            if len(chosen) < 2:
                raise UnknownsError("merge needs two or more different clusters")
            rows.set_group([s.id for c in chosen.values() for s in c.sightings], new_sighting_id())
            oldest = min(chosen.values(), key=lambda c: (c.sightings[0].started, c.id))
            return find_cluster(self._view(rows, with_crops=True).clusters, oldest.id)

    def forget(self, cluster_ids: list[str]) -> int:
        """Delete these clusters (sightings, crops); the number of sightings deleted."""
        with self.db.unknowns(self.model, write=True) as rows:
            chosen = self._chosen(rows, cluster_ids)
            return rows.delete([s.id for c in chosen.values() for s in c.sightings])

    def forget_all(self) -> int:
        """Delete every sighting, crop and ignored face of the model; the number of sightings deleted."""
        with self.db.unknowns(self.model, write=True) as rows:
            return rows.delete_all()

    def ignore(self, cluster_ids: list[str]) -> int:
        """"Not a person / ignore": forget these clusters and keep their embeddings so that the same face is not
        collected again; the sightings forgotten."""
        with self.db.unknowns(self.model, write=True) as rows:
            chosen = self._chosen(rows, cluster_ids)
            sightings = [s for c in chosen.values() for s in c.sightings]
            rows.add_ignored([s.embedding for s in sightings], self.clock())
            count = rows.delete([s.id for s in sightings])
            self._enforce_caps(rows)
            return count

    def retire_matching(self, gallery, threshold: float, mode: str = "mean") -> list[tuple[str, str]]:
        """Delete the clusters most of whose sightings now match an enrolled person; ``[(id, name)]`` (never a
        cluster with a pinned sighting)."""
        if len(gallery) == 0:
            return []
        with self.db.unknowns(self.model, write=True) as rows:
            view = self._view(rows)
            retire = clusters_to_retire(view.clusters, view.pinned, gallery, threshold, mode)
            rows.delete([s.id for cluster, _ in retire for s in cluster.sightings])
        return [(cluster.id, name) for cluster, name in retire]

    def follow(self, on_change, stop) -> None:
        """Call ``on_change()`` whenever any instance changes the unknown faces (LISTEN/NOTIFY; also once at
        the start and after a reconnection), until the event ``stop`` is set. Blocks: run it in a thread."""
        from facecam.db.postgres import UNKNOWNS_CHANNEL  # noqa: PLC0415

        self.db.listen(on_change, stop, channel=UNKNOWNS_CHANNEL)

    def close(self) -> None:
        self.db.close()
