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

psycopg-free: SQL lives in :mod:`facecam.db.postgres`.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from facecam.fileutil import private_folder
from facecam.gallery import safe_photo_stem
from facecam.unknowns.cluster import link_for
from facecam.unknowns.collect import UnknownSighting, new_sighting_id
from facecam.unknowns.store import (DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_SIGHTINGS, MAX_IGNORED, Cluster, StoredCrop,
                                    StoredSighting, UnknownsError, clusters_of, clusters_to_retire, find_cluster,
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


class DbUnknownStore:
    """One model's unknown faces in the database ``db`` (a :class:`facecam.db.postgres.PostgresStore`, closed
    with this store). Thread-safe (every call takes a pooled connection)."""

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
        with self.db.unknowns(model, write=True) as rows:
            self._enforce_caps(rows)

    @property
    def where(self) -> str:
        """Where the store is, for messages (the password hidden)."""
        return f"the database {self.db.shown}"

    def _enforce_caps(self, rows) -> int:
        return rows.enforce_caps(self.clock() - self.max_age_days * 86400.0, self.max_sightings, MAX_IGNORED)

    # ------------------------------------------------------------- reading
    def _stored(self, rows, with_crops: bool = True) -> list[StoredSighting]:
        """The model's sightings (of this store's dimension), oldest first; ``with_crops``: their crops' metadata."""
        crops: dict[str, list[StoredCrop]] = {}
        if with_crops:
            for sighting_id, rank, t, frame, box, quality in rows.crops():
                crops.setdefault(sighting_id, []).append(StoredCrop(
                    int(rank), float(t), int(frame), tuple(float(v) for v in box), float(quality),
                    crop_name(sighting_id, rank), sighting_id))
        out = []
        for sighting_id, source, track, first_t, last_t, started, ended, embedding, group, _pinned in rows.sightings():
            if self.dim is None:
                self.dim = int(embedding.shape[0])
            if embedding.shape != (self.dim,):
                continue  # another dimension (a model of the same name built otherwise): not comparable
            out.append(StoredSighting(sighting_id, source, int(track), float(first_t), float(last_t), float(started),
                                      float(ended), embedding, group, tuple(crops.get(sighting_id, ()))))
        return out

    def sightings(self) -> list[StoredSighting]:
        """Every stored sighting of the model, oldest first."""
        with self.db.unknowns(self.model, write=False) as rows:
            return self._stored(rows)

    def clusters(self) -> list[Cluster]:
        """Every cluster (of every instance's sightings), newest last seen first."""
        with self.db.unknowns(self.model, write=False) as rows:
            return self._clusters_in(rows, with_crops=True)

    def cluster(self, cluster_id: str) -> Cluster:
        return find_cluster(self.clusters(), cluster_id)

    def _clusters_in(self, rows, with_crops: bool = False) -> list[Cluster]:
        """The clusters inside a transaction (``with_crops``: with their crops' metadata, else without: enough
        to find and change them)."""
        sightings = self._stored(rows, with_crops)
        return clusters_of(sightings, grouping_of(sightings, self.link))

    def _chosen(self, rows, cluster_ids: list[str]) -> dict[str, Cluster]:
        """The clusters these ids (or unique prefixes) name, by id, inside a transaction; UnknownsError if one
        names none."""
        clusters = self._clusters_in(rows)
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
        if dim != self.dim:
            raise UnknownsError(f"a {dim}-d sighting cannot go into the {self.dim}-d store of {self.model}")
        sighting_id, embedding = sighting.row[0], sighting.row[7]
        with self.db.unknowns(self.model, write=True) as rows:
            distance = rows.nearest_ignored(embedding)
            if distance is not None and distance <= self.link:
                return ""
            rows.insert(sighting.row, list(sighting.crops), pinned)
            self._enforce_caps(rows)
            for cluster in self._clusters_in(rows):
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
            return find_cluster(self._clusters_in(rows, with_crops=True), oldest.id)

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
            pinned = {r[0] for r in rows.sightings() if r[9]}
            retire = clusters_to_retire(self._clusters_in(rows), pinned, gallery, threshold, mode)
            rows.delete([s.id for cluster, _ in retire for s in cluster.sightings])
        return [(cluster.id, name) for cluster, name in retire]

    def follow(self, on_change, stop) -> None:
        """Call ``on_change()`` whenever any instance changes the unknown faces (LISTEN/NOTIFY; also once at
        the start and after a reconnection), until the event ``stop`` is set. Blocks: run it in a thread."""
        from facecam.db.postgres import UNKNOWNS_CHANNEL  # noqa: PLC0415

        self.db.listen(on_change, stop, channel=UNKNOWNS_CHANNEL)

    def close(self) -> None:
        self.db.close()
