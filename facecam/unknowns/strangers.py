"""Who an unknown face is among strangers, at its arrival: the cluster it belongs to and its earlier visits.

The ordering problem: a notification goes out when a visit *starts* (the sightings recorder's "arrived"),
but the unknown faces' collection stores a visit, and so decides its cluster, when the visit *ends*. So the
cluster is assigned at arrival, here, and the collection then stores the visit under that assignment:

* :meth:`StrangerIndex.arrive` (the recorder, in the pipeline's thread, at an unknown arrival; a matrix
  product over the stored visits: bench/bench_strangers.py, BENCHMARKS.md): the nearest stored (or just ended,
  not yet stored) unknown visit within the cluster link (:func:`facecam.unknowns.cluster.link_for`, the
  rule clustering uses), else the nearest centre of a stored cluster of 2+ visits within the re-grouping's
  link (:func:`facecam.unknowns.cluster.regroup_link`, clustering's other rule) gives the cluster, and that
  cluster's visits give the history (count, first and last seen, the last 7 days, cameras). A face near none
  is a new stranger: it gets a new id now, which the collector takes as the id of the visit it stores
  (:meth:`claim`), so the new cluster has that id (a cluster's id is its oldest visit's) and the stranger's
  next arrival names the same cluster.
* :meth:`ended` (the collector, pipeline thread, when it hands a visit to the writer): the visit counts at
  once, before it is stored: a stranger who comes back a moment later is known even on a fast file.
* :meth:`refresh` (the collection's writer thread, at start and after each change of the store): the
  stored clusters, read again (merges, forgetting, other instances' visits on a shared store).

The arrival's id is the cluster's own unless the whole visit, stored, joins an older cluster (its first
faces were not enough to see it), or the face is not kept (ignored, enrolled meanwhile). Until the writer's
first read of the store (its first task, when the collection starts) a returning stranger is taken for a new
one; with a shared database that is away, the visits of this run still count (they wait as pending).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from facecam.types import SeenBefore
from facecam.unknowns.cluster import regroup_link
from facecam.unknowns.collect import new_sighting_id

WEEK_S = 7 * 86400.0
PENDING_S = 600.0        # a visit handed to the writer that is still not stored after this was dropped


@dataclass(frozen=True)
class _Visit:
    id: str
    cluster: str
    source: str
    started: float
    ended: float


@dataclass(frozen=True)
class _Reserved:
    id: str
    at: float


class StrangerIndex:
    """See the module notes. ``link``: the cluster link (cosine distance) of the model in use."""

    def __init__(self, link: float, clock=time.time):
        self.link = float(link)
        self.clock = clock
        self._lock = threading.Lock()
        self._vectors = np.zeros((0, 0), np.float32)   # the stored visits' unit embeddings, one row each
        self._visits: list[_Visit] = []                 # ... and the visits
        self._centres = np.zeros((0, 0), np.float32)   # the unit centres of the stored clusters of 2+ visits
        self._centre_ids: list[str] = []                # ... and those clusters' ids
        self._pending: list[tuple[np.ndarray, _Visit]] = []   # handed to the writer, not stored yet
        self._reserved: dict[int, _Reserved] = {}   # track id -> the id its visit will be stored under

    # ------------------------------------------------------------ the writer thread
    def refresh(self, store, settled: str | None = None) -> None:
        """Read the store's clusters again; the visits ended but not stored yet are kept, but ``settled`` (the
        visit the writer just stored, or chose not to keep)."""
        stored = [(s.embedding, _Visit(s.id, cluster.id, s.source, s.started, s.ended))
                  for cluster in store.clusters() for s in cluster.sightings]
        vectors = np.stack([_unit(v) for v, _ in stored]) if stored else np.zeros((0, 0), np.float32)
        sums: dict[str, list[np.ndarray]] = {}
        for vector, visit in zip(vectors, (visit for _, visit in stored)):
            sums.setdefault(visit.cluster, []).append(vector)
        big = {cluster: rows for cluster, rows in sums.items() if len(rows) > 1}
        centres = np.stack([_unit(np.sum(rows, axis=0)) for rows in big.values()]) if big else np.zeros((0, 0), np.float32)
        known = {visit.id for _, visit in stored}
        now = self.clock()
        with self._lock:
            self._vectors, self._visits = vectors, [visit for _, visit in stored]
            self._centres, self._centre_ids = centres, list(big)
            self._pending = [(v, visit) for v, visit in self._pending
                             if visit.id not in known and visit.id != settled and now - visit.ended < PENDING_S]

    # ------------------------------------------------------------ the pipeline's thread
    def arrive(self, track: int, embedding: np.ndarray) -> SeenBefore:
        """An unknown face arrives (``track``: its track id): its cluster and earlier visits; a new stranger
        gets a new cluster id, reserved for its visit (:meth:`claim`)."""
        now = self.clock()
        with self._lock:
            cluster = self._nearest(embedding)
            if cluster is None:
                self._reserved = {t: r for t, r in self._reserved.items() if now - r.at < 86400.0}
                reserved = self._reserved[track] = _Reserved(new_sighting_id(), now)
                return SeenBefore(reserved.id)
            visits = [v for v in self._visits if v.cluster == cluster] + [
                v for _, v in self._pending if v.cluster == cluster]
        return SeenBefore(cluster, len(visits), min(v.started for v in visits), max(v.ended for v in visits),
                          sum(1 for v in visits if now - v.started <= WEEK_S), tuple(sorted({v.source for v in visits})))

    def claim(self, track: int, started: float, ended: float) -> str | None:
        """The id reserved at the arrival of ``track``'s visit (from ``started`` to ``ended``, wall clock), or
        None (not a new stranger's visit, or a reservation made before this visit began: another pipeline's track
        of that number). Claimed when the visit ends, so a reservation is never later than the visit: no upper
        bound, as the visit's times come from the source's clock (:mod:`facecam.visits`), which runs behind this
        one when frames are processed slower than they were captured (a file on a loaded machine), whereas the
        reservation was stamped with this index's clock."""
        with self._lock:
            reserved = self._reserved.pop(track, None)
        if reserved is None or reserved.at < started - 1.0:
            return None
        return reserved.id

    def ended(self, sighting_id: str, source: str, started: float, ended: float, embedding: np.ndarray) -> None:
        """A visit handed to the store: it counts from now (its cluster: the nearest's, else its own id)."""
        with self._lock:
            cluster = self._nearest(embedding) or sighting_id
            self._pending.append((_unit(embedding), _Visit(sighting_id, cluster, str(source), float(started),
                                                          float(ended))))

    def _nearest(self, embedding: np.ndarray) -> str | None:
        """The cluster of the nearest stored or pending visit within the link, or None."""
        vector = _unit(embedding)
        best, cluster = self.link, None
        if self._visits and self._vectors.shape[1] == vector.shape[0]:
            distances = 1.0 - self._vectors @ vector
            index = int(np.argmin(distances))
            if distances[index] <= best:
                best, cluster = float(distances[index]), self._visits[index].cluster
        for pending, visit in self._pending:
            if pending.shape == vector.shape and 1.0 - float(pending @ vector) <= best:
                best, cluster = 1.0 - float(pending @ vector), visit.cluster
        if cluster is None and self._centre_ids and self._centres.shape[1] == vector.shape[0]:
            distances = 1.0 - self._centres @ vector       # a cluster of 2+ visits, by its centre
            index = int(np.argmin(distances))
            if distances[index] <= regroup_link(self.link):
                cluster = self._centre_ids[index]
        return cluster


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, np.float32).reshape(-1)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
