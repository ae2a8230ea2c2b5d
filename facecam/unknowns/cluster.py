"""Grouping unknown sightings into one cluster per person: single linkage, incremental, order-free (then
triangles of single sightings and centres, see below).

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

**Re-grouping as a cluster grows** (issue 21: small faces come back far apart): single linkage asks one
close pair, so a person whose visits are all a little over the link stays in pieces. A cluster of two or
more sightings has a centre (the unit mean of its sightings' embeddings) that stands nearer its person than
any one photo does, so after single linkage the pieces are joined by their centres: the closest two pieces,
at least one of them of 2+ sightings, whose centres are within :func:`regroup_link` (1.04 x the link: 0.52
for SFace) are joined, their centre recomputed, and so on until no such pair is left (:func:`regroup`). Two
single sightings are still linked only within the link (the centre of one photo is that photo). A centre
draws closer to everyone, other people too, so its link stays near the pairs' one: measured on lfw1k's SFace
embeddings (``bench/bench_stranger_clusters.py --draws 100``: 15 strangers x 3 photos among 600 single
visitors and 150 people seen twice; BENCHMARKS.md), the strangers whole in one cluster went from 88.3% to
92.8%, purity 0.996 -> 0.994 (at 1.1 x the link: 93.7%, purity 0.986). The grouping is still a function of the set of sightings alone (single
linkage's components, then a deterministic merge order), whatever order they came in; :class:`Clusters` keeps
the components incrementally and re-groups when asked (cached until the next change).

**Three single visits that agree** (issue 21's second clip): a person whose visits are all a little over the
link from each other has no pair to link and no centre to join. Three sightings, each alone in its piece, that
are pairwise within :func:`triangle_link` (1.2 x the link: 0.60 for SFace) are joined first
(:func:`join_triangles`): two different people rarely come out close three times over, while one pair at 0.60
alone is only a suggestion. Measured the same way (``--draws 100``): whole 92.8% -> 93.7%, purity unchanged
(0.9938, worst draw 0.9810; at 0.62: 94.1%, 0.9933); on 14 clips (lfw40 and lfw1k, seeds 1-7 and 21) it joins one more stranger (lfw1k seed 7's
three visits 0.535-0.581 apart) and changes nothing else. Joined before the centres, so the three then count
as a piece of 3.

**"Probably the same person"**: two clusters whose centres are within :func:`suggest_link` (1.2 x the link:
0.60 for SFace) but were not joined are offered to the user to merge (:meth:`Clusters.suggestions`;
``unknowns`` lists them, ``unknowns merge`` joins them).
"""

from __future__ import annotations

import heapq

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


REGROUP_FACTOR = 1.04   # centres of pieces of 2+ sightings joined within this x the link
TRIANGLE_FACTOR = 1.2   # three single sightings pairwise within this x the link: one person
SUGGEST_FACTOR = 1.2    # clusters whose centres are within this x the link: "probably the same person"


def regroup_link(link: float) -> float:
    """The centre-to-centre link of :func:`regroup` (a piece of 2+ sightings and another)."""
    return round(REGROUP_FACTOR * float(link), 4)


def triangle_link(link: float) -> float:
    """Three single sightings pairwise this close are joined (:func:`join_triangles`)."""
    return round(TRIANGLE_FACTOR * float(link), 4)


def suggest_link(link: float) -> float:
    """Clusters whose centres are this close (but not joined) are suggested for a merge."""
    return round(SUGGEST_FACTOR * float(link), 4)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cluster_labels(embeddings: np.ndarray, link: float, groups=None) -> np.ndarray:
    """``(N,)`` cluster label of each sighting (from scratch): 0..K-1, numbered by first member: single
    linkage's :func:`components`, then :func:`regroup`.

    ``groups``: optional ``N`` merge-group keys (None for none): sightings with the same key are
    in one cluster whatever their distance.
    """
    vectors = _unit(embeddings).reshape(len(embeddings), -1)
    return group(vectors, components(vectors, link, groups), link)


def group(vectors: np.ndarray, pieces: np.ndarray, link: float) -> np.ndarray:
    """Single linkage's ``pieces`` (0..K-1, numbered by first member) made clusters: :func:`join_triangles`, then
    :func:`regroup`."""
    return regroup(vectors, join_triangles(vectors, pieces, link), link)


def join_triangles(vectors: np.ndarray, labels: np.ndarray, link: float) -> np.ndarray:
    """Join the sightings alone in their piece of ``labels`` that form triangles: three of them pairwise within
    :func:`triangle_link` (see the module notes). Returns labels numbered by first member."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) < 3:
        return labels
    alone = np.flatnonzero(np.bincount(labels)[labels] == 1)
    if len(alone) < 3:
        return labels
    vectors = _unit(vectors).reshape(len(labels), -1)[alone]
    near = (1.0 - vectors @ vectors.T) <= triangle_link(link)
    np.fill_diagonal(near, False)
    rows, cols = np.nonzero(np.triu(near, 1))
    if len(rows) == 0:
        return labels
    edges = coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=near.shape).tocsr()
    edges = edges + edges.T
    shared = edges @ edges                       # how many sightings are near both ends of each pair
    keep = np.asarray(shared[rows, cols]).ravel() > 0
    if not keep.any():
        return labels
    a, b = labels[alone[rows[keep]]], labels[alone[cols[keep]]]
    k = int(labels.max()) + 1
    _, joined = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(k, k)), directed=False)
    merged = joined[labels]
    _, first_index, inverse = np.unique(merged, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_index))
    return order[inverse].astype(np.int64)


def regroup(vectors: np.ndarray, labels: np.ndarray, link: float) -> np.ndarray:
    """Join the pieces ``labels`` (0..K-1, numbered by first member) by their centres (see the module notes):
    the closest pair first while within :func:`regroup_link`, a pair of single sightings never. Returns
    labels numbered by first member."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return labels
    k = int(labels.max()) + 1
    vectors = _unit(vectors).reshape(len(labels), -1)
    sums = np.zeros((k, vectors.shape[1]), np.float64)
    np.add.at(sums, labels, vectors)
    sizes = np.bincount(labels, minlength=k)
    if sizes.max() < 2:
        return labels
    limit = regroup_link(link)
    centres = _unit(sums)
    heap: list[tuple[float, int, int, int, int]] = []
    version = np.zeros(k, np.int64)
    alive = np.ones(k, bool)
    many = np.flatnonzero(sizes > 1)
    close = 1.0 - centres[many] @ centres.T <= limit    # only a piece of 2+ can join by its centre
    for row, other in zip(*np.nonzero(close)):
        a, b = int(many[row]), int(other)
        if a != b and not (sizes[b] > 1 and b < a):   # each pair of two big pieces once
            lo, hi = min(a, b), max(a, b)
            heapq.heappush(heap, (float(1.0 - centres[lo] @ centres[hi]), lo, hi, 0, 0))
    owner = np.arange(k)
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or version[a] != va or version[b] != vb:
            continue
        sums[a] += sums[b]          # the older piece (lower number) keeps its number
        sizes[a] += sizes[b]
        alive[b] = False
        owner[owner == b] = a
        version[a] += 1
        centres[a] = sums[a] / max(float(np.linalg.norm(sums[a])), 1e-12)
        distances = 1.0 - centres @ centres[a]
        for c in np.flatnonzero((distances <= limit) & alive):
            c = int(c)
            if c != a:
                lo, hi = min(a, c), max(a, c)
                heapq.heappush(heap, (float(distances[c]), lo, hi, int(version[lo]), int(version[hi])))
    merged = owner[labels]
    _, first_index, inverse = np.unique(merged, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_index))
    return order[inverse].astype(np.int64)


def suggestions(vectors: np.ndarray, labels: np.ndarray, link: float) -> list[tuple[int, int, float]]:
    """Pairs of clusters ``(a, b, distance)`` (a < b, labels) whose centres are within :func:`suggest_link`:
    "probably the same person", closest first."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return []
    vectors = _unit(vectors).reshape(len(labels), -1)
    sums = np.zeros((int(labels.max()) + 1, vectors.shape[1]), np.float64)
    np.add.at(sums, labels, vectors)
    centres = _unit(sums)
    distances = 1.0 - centres @ centres.T
    rows, cols = np.nonzero(np.triu(distances <= suggest_link(link), 1))
    return sorted(((int(a), int(b), round(float(distances[a, b]), 4)) for a, b in zip(rows, cols)),
                  key=lambda pair: pair[2])


def components(embeddings: np.ndarray, link: float, groups=None) -> np.ndarray:
    """``(N,)`` single linkage's component of each sighting: 0..K-1, numbered by first member (``groups``: as
    :func:`cluster_labels`)."""
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
    """Sightings grouped as they arrive (union-find over the link graph, then :func:`regroup`).

    ``add(key, embedding, group)`` links the new sighting to every member within ``link`` (and
    to its merge group) and returns the index of its single-linkage piece's root. ``members()`` gives each
    cluster's keys in arrival order (the pieces re-grouped by their centres: computed when asked, kept until
    the next change). Removing sightings: :meth:`without` (only the pieces that held them are grouped again).
    """

    def __init__(self, link: float):
        self.link = float(link)
        self.keys: list[str] = []
        self._buffer: np.ndarray | None = None   # grows by doubling: adding N sightings costs O(N) copies
        self._parent: list[int] = []
        self._group_first: dict[str, int] = {}
        self._groups: list[str | None] = []
        self._labels: np.ndarray | None = None   # the re-grouped labels, until the next add
        self._suggested: tuple | None = None      # (the labels they were made for, the suggestions)

    @classmethod
    def from_scratch(cls, link: float, keys: list[str], embeddings: np.ndarray, groups=None) -> "Clusters":
        """The same state as adding every sighting in order, computed at once (:func:`components`)."""
        clusters = cls(link)
        if not keys:
            return clusters
        vectors = _unit(np.asarray(embeddings, np.float32).reshape(len(keys), -1))
        labels = components(vectors, link, groups)
        first: dict[int, int] = {}
        clusters.keys = list(keys)
        clusters._parent = [first.setdefault(int(label), i) for i, label in enumerate(labels)]
        clusters._buffer = vectors.copy()
        clusters._groups = list(groups) if groups is not None else [None] * len(keys)
        clusters._index_groups()
        return clusters

    def without(self, gone: set[str]) -> "Clusters":
        """The grouping once the keys ``gone`` are removed (the rest in arrival order): removing a member can
        only split its own piece, so only the pieces that held one are grouped again (:func:`components`
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
            labels = components(out._buffer[part], self.link, [out._groups[i] for i in part])
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
        self._labels = None
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

    def _pieces(self) -> np.ndarray:
        """``(N,)`` single linkage's labels, numbered by first member."""
        roots = self._roots()
        _, first_index, inverse = np.unique(roots, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first_index))
        return order[inverse].astype(np.int64) if len(roots) else roots

    def labels(self) -> np.ndarray:
        """``(N,)`` cluster labels numbered by first member, equal to :func:`cluster_labels` on the same sightings."""
        if self._labels is None or len(self._labels) != len(self.keys):
            self._labels = group(self._vectors, self._pieces(), self.link) if self.keys else np.zeros(0, np.int64)
        return self._labels

    def members(self) -> list[list[str]]:
        """Each cluster's keys (arrival order), clusters in order of their first member."""
        out: dict[int, list[str]] = {}
        for key, label in zip(self.keys, self.labels().tolist()):
            out.setdefault(label, []).append(key)
        return list(out.values())

    def suggestions(self) -> list[tuple[str, str, float]]:
        """"Probably the same person": ``(key, key, distance)`` of the first members of two clusters whose centres
        are within :func:`suggest_link`, closest first (see :func:`suggestions`)."""
        if not self.keys:
            return []
        labels = self.labels()
        if self._suggested is None or self._suggested[0] is not labels:
            first = {}
            for key, label in zip(self.keys, labels.tolist()):
                first.setdefault(label, key)
            self._suggested = (labels, [(first[a], first[b], d) for a, b, d in suggestions(self._vectors, labels,
                                                                                              self.link)])
        return list(self._suggested[1])
