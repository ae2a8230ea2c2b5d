"""Grouping unknown sightings into one cluster per person: single linkage, incremental, order-free.

Two sightings are *linked* when the cosine distance between their embeddings (each sighting's
mean crop embedding) is at most ``link``; a cluster is a connected component of that graph,
plus the links a user made with ``unknowns merge`` (sightings sharing a ``merge_group``).

Why single linkage: a new sighting joins the cluster of any member it is close to, opens a new
cluster otherwise, and merges the clusters it bridges, which is what a live view needs; and
connected components do not depend on the order the sightings came in, so growing the clusters
one sighting at a time (:class:`Clusters`, a union-find) gives exactly the grouping of
:func:`cluster_labels` (scipy's connected components) on the whole store.

Why a link of 0.50 for SFace (bench/bench_unknowns.py, BENCHMARKS.md; lfw40, facecam's own
detection and alignment): the closest two photos of different people are 0.552 apart, and up to
0.55 no cluster ever held two people, while the share of people whose three visits all land in one
cluster grows with the link (0.885 at 0.45, 0.95 at 0.50, 0.97 at 0.55). 0.50 keeps a 0.05 margin
under the closest different-person pair (single linkage's price is chaining: one close pair joins
two people, and a big store has many pairs) and about 95% of same-person pairs within the link.
At 0.575 (the recognition threshold) clusters start to mix people. Models not measured here
(VGG-Face) use 0.75 of their default threshold.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Per model: the largest cosine distance at which two sightings are linked (measured for SFace).
DEFAULT_LINKS = {"sface": 0.50}


def link_for(model: str) -> float:
    """The link threshold of ``model``: measured for SFace, else 0.75 of the model's default threshold."""
    from facecam.config import MODELS  # noqa: PLC0415

    if model in DEFAULT_LINKS:
        return DEFAULT_LINKS[model]
    return round(0.75 * MODELS[model].threshold, 3) if model in MODELS else 0.45


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cluster_labels(embeddings: np.ndarray, link: float, groups=None) -> np.ndarray:
    """``(N,)`` component label of each sighting (from scratch): 0..K-1, numbered by first member.

    ``groups``: optional ``N`` merge-group keys (None for none): sightings with the same key are
    in one cluster whatever their distance.
    """
    vectors = _unit(embeddings).reshape(len(embeddings), -1)
    n = vectors.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    distances = 1.0 - vectors @ vectors.T
    rows, cols = np.nonzero(np.triu(distances <= link, 1))
    if groups is not None:
        first: dict = {}
        extra_r, extra_c = [], []
        for i, key in enumerate(groups):
            if key is None:
                continue
            if key in first:
                extra_r.append(first[key])
                extra_c.append(i)
            else:
                first[key] = i
        rows, cols = np.r_[rows, extra_r].astype(np.int64), np.r_[cols, extra_c].astype(np.int64)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # renumber by first appearance, so equal groupings give equal labels
    _, first_index, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_index))
    return order[inverse].astype(np.int64)


class Clusters:
    """Sightings grouped as they arrive (union-find over the link graph).

    ``add(key, embedding, group)`` links the new sighting to every member within ``link`` (and
    to its merge group) and returns the key of its cluster's root. ``members()`` gives each
    cluster's keys in arrival order. Removing sightings: :meth:`without` (only the clusters that
    held them are grouped again).
    """

    def __init__(self, link: float):
        self.link = float(link)
        self.keys: list[str] = []
        self._buffer: np.ndarray | None = None   # grows by doubling: adding N sightings costs O(N) copies
        self._parent: list[int] = []
        self._group_first: dict[str, int] = {}
        self._groups: list[str | None] = []

    @classmethod
    def from_scratch(cls, link: float, keys: list[str], embeddings: np.ndarray, groups=None) -> "Clusters":
        """The same state as adding every sighting in order, computed at once (:func:`cluster_labels`)."""
        clusters = cls(link)
        if not keys:
            return clusters
        vectors = _unit(np.asarray(embeddings, np.float32).reshape(len(keys), -1))
        labels = cluster_labels(vectors, link, groups)
        first: dict[int, int] = {}
        clusters.keys = list(keys)
        clusters._parent = [first.setdefault(int(label), i) for i, label in enumerate(labels)]
        clusters._buffer = vectors.copy()
        clusters._groups = list(groups) if groups is not None else [None] * len(keys)
        clusters._index_groups()
        return clusters

    def without(self, gone: set[str]) -> "Clusters":
        """The grouping once the keys ``gone`` are removed (the rest in arrival order): removing a member can
        only split its own cluster, so only the clusters that held one are grouped again (:func:`cluster_labels`
        on their remaining members), the others are kept as they are. The same state as :meth:`from_scratch`
        on what remains, for the cost of the touched clusters."""
        n = len(self.keys)
        kept = [i for i in range(n) if self.keys[i] not in gone]
        if len(kept) == n:
            return self
        roots = self._roots().tolist()
        touched = {roots[i] for i in range(n) if self.keys[i] in gone}
        new_index = {old: new for new, old in enumerate(kept)}
        out = Clusters(self.link)
        out.keys = [self.keys[i] for i in kept]
        out._groups = [self._groups[i] for i in kept]
        out._buffer = self._buffer[kept].copy() if kept else None
        parent = [new_index.get(roots[i], -1) for i in kept]   # untouched: their root (the oldest) stays
        members: dict[int, list[int]] = {}
        for new, old in enumerate(kept):
            if roots[old] in touched:
                members.setdefault(roots[old], []).append(new)
        for part in members.values():
            labels = cluster_labels(out._buffer[part], self.link, [out._groups[i] for i in part])
            first: dict[int, int] = {}
            for i, label in zip(part, labels):
                parent[i] = first.setdefault(int(label), i)
        out._parent = parent
        out._index_groups()
        return out

    def _index_groups(self) -> None:
        """``_group_first``: each merge group's first member, from ``_groups``."""
        for i, key in enumerate(self._groups):
            if key is not None:
                self._group_first.setdefault(key, i)

    @property
    def _vectors(self) -> np.ndarray | None:
        return None if self._buffer is None else self._buffer[: len(self.keys)]

    def __len__(self) -> int:
        return len(self.keys)

    def _find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)  # the oldest member stays the root

    def add(self, key: str, embedding: np.ndarray, group: str | None = None) -> int:
        """Add one sighting; returns the index of its cluster's root (its oldest member)."""
        vector = _unit(np.asarray(embedding, np.float32).reshape(1, -1))
        index = len(self.keys)
        if index:
            close = np.flatnonzero(1.0 - self._vectors @ vector[0] <= self.link)
        else:
            close = ()
        if self._buffer is None or index == len(self._buffer):
            grown = np.zeros((max(16, 2 * index), vector.shape[1]), np.float32)
            if self._buffer is not None:
                grown[:index] = self._buffer
            self._buffer = grown
        self._buffer[index] = vector[0]
        self.keys.append(key)
        self._parent.append(index)
        self._groups.append(group)
        for other in close:
            self._union(int(other), index)
        if group is not None:
            if group in self._group_first:
                self._union(self._group_first[group], index)
            else:
                self._group_first[group] = index
        return self._find(index)

    def _roots(self) -> np.ndarray:
        """``(N,)`` each member's root (pointer jumping in numpy: a few passes instead of N lookups)."""
        roots = np.asarray(self._parent, dtype=np.int64)
        while True:
            jumped = roots[roots]
            if np.array_equal(jumped, roots):
                return roots
            roots = jumped

    def labels(self) -> np.ndarray:
        """``(N,)`` labels numbered by first member, comparable with :func:`cluster_labels`."""
        roots = self._roots()
        _, first_index, inverse = np.unique(roots, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first_index))
        return order[inverse].astype(np.int64) if len(roots) else roots

    def members(self) -> list[list[str]]:
        """Each cluster's keys (arrival order), clusters in order of their first member."""
        out: dict[int, list[str]] = {}
        for key, root in zip(self.keys, self._roots().tolist()):
            out.setdefault(root, []).append(key)
        return list(out.values())
