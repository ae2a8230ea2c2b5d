"""Matching embeddings against the gallery: pure numpy, one matrix product.

Embeddings are unit vectors, so the cosine distance is ``1 - q . g``. For each
query the distance to every gallery photo comes from one matrix product; a
person's distance is their best photo's (``nearest``) or the distance to the
mean of their photos (``mean``). The answer is the closest person, or Unknown
(``name=None``) when even that one is farther than the threshold.

Large galleries: a :class:`MeansIndex` keeps each person's sum of embeddings and
updates it photo by photo, so a refreshed gallery's means cost only what changed.
Past a size measured in BENCHMARKS.md a gallery may carry an approximate search
(``GalleryMatrix.search``, see :mod:`facecam.search`): it proposes a few
candidate people per query and their distances are then computed exactly, so the
answer is the exact one whenever the candidates hold the true closest people.

Practical advice: several photos per person (different days, light, glasses)
make ``nearest`` sturdier; ``mean`` is more robust to one bad gallery photo.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Protocol, Sequence

import numpy as np

from facecam.types import Match

if TYPE_CHECKING:
    from facecam.openset import Decision

MATCH_MODES = ("nearest", "mean")


class CandidateSearch(Protocol):
    """What an approximate search gives the matcher (:class:`facecam.search.GallerySearch` is one)."""

    def candidates(self, queries: np.ndarray, gallery: "GalleryMatrix", mode: str) -> list[np.ndarray] | None:
        """Per query, the person indices worth an exact distance; None: search exactly."""


@dataclass(frozen=True)
class GalleryMatrix:
    """The gallery in matching form: ``embeddings (M, D)`` unit rows sorted by person,
    ``labels (M,)`` person index of each row, ``names`` the people, in label order.

    Optional: ``means (P, D)`` the unit person means when already known (from a
    :class:`MeansIndex`), ``keys (M,)`` a stable int64 key per row and ``search`` an
    approximate search that knows the rows by those keys.
    """

    embeddings: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    means: np.ndarray | None = None
    keys: np.ndarray | None = None
    search: Any = None  # CandidateSearch | None

    def __post_init__(self) -> None:
        embeddings = np.asarray(self.embeddings, dtype=np.float32)
        labels = np.asarray(self.labels, dtype=np.int64)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings: expected shape (M, D), got {embeddings.shape}")
        if labels.shape != (embeddings.shape[0],):
            raise ValueError(f"labels: expected shape ({embeddings.shape[0]},), got {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.names)):
            raise ValueError(f"labels: expected values in [0, {len(self.names)}), got {labels.min()}..{labels.max()}")
        keys = None if self.keys is None else np.asarray(self.keys, dtype=np.int64)
        if keys is not None and keys.shape != labels.shape:
            raise ValueError(f"keys: expected shape {labels.shape}, got {keys.shape}")
        if self.means is not None:
            means = np.asarray(self.means, dtype=np.float32)
            if means.shape != (len(self.names), embeddings.shape[1]):
                raise ValueError(f"means: expected shape ({len(self.names)}, {embeddings.shape[1]}), got {means.shape}")
            object.__setattr__(self, "means", means)
        if labels.size and np.any(labels[1:] < labels[:-1]):
            order = np.argsort(labels, kind="stable")
            embeddings, labels = embeddings[order], labels[order]
            keys = None if keys is None else keys[order]
        object.__setattr__(self, "embeddings", np.ascontiguousarray(embeddings))
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "names", tuple(self.names))

    def with_search(self, means: np.ndarray | None, keys: np.ndarray | None, search: Any) -> "GalleryMatrix":
        """The same rows with known means, row keys and an approximate search attached."""
        return replace(self, means=means, keys=keys, search=search)

    @classmethod
    def from_pairs(cls, names_per_row, embeddings) -> "GalleryMatrix":
        """Build from one person name per embedding row (any order)."""
        names = tuple(sorted(set(names_per_row)))
        index = {name: i for i, name in enumerate(names)}
        labels = np.array([index[name] for name in names_per_row], dtype=np.int64)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings: expected shape (M, D), got {embeddings.shape}")
        return cls(embeddings, labels, names)

    @classmethod
    def empty(cls, dim: int = 0) -> "GalleryMatrix":
        return cls(np.zeros((0, dim), dtype=np.float32), np.zeros((0,), dtype=np.int64), ())

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def person_means(self) -> np.ndarray:
        """``(P, D)`` unit mean embedding of each person (zero rows for people without photos).

        The ``means`` given at creation when there are (a :class:`MeansIndex` keeps them up to
        date for a gallery), else computed once per gallery matrix (one ``reduceat``).
        """
        if self.means is not None:
            return self.means
        cached = self.__dict__.get("_means")
        if cached is not None:
            return cached
        means = np.zeros((len(self.names), self.dim), dtype=np.float32)
        if len(self):
            starts = _group_starts(self.labels)
            sums = np.add.reduceat(self.embeddings, starts, axis=0, dtype=np.float64)
            means[self.labels[starts]] = unit_rows(sums)
        object.__setattr__(self, "_means", means)
        return means

    def name_index(self) -> dict[str, int]:
        """Each person's index in ``names``."""
        cached = self.__dict__.get("_name_index")
        if cached is None:
            cached = {name: i for i, name in enumerate(self.names)}
            object.__setattr__(self, "_name_index", cached)
        return cached

    def rows_of_keys(self, keys: np.ndarray) -> np.ndarray:
        """The row holding each of ``keys`` (any shape), -1 for a key not in this gallery (or no keys)."""
        keys = np.asarray(keys, dtype=np.int64)
        if self.keys is None or len(self) == 0:
            return np.full(keys.shape, -1, dtype=np.int64)
        cached = self.__dict__.get("_key_order")
        if cached is None:
            order = np.argsort(self.keys, kind="stable")
            cached = (order, self.keys[order])
            object.__setattr__(self, "_key_order", cached)
        order, sorted_keys = cached
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return np.where(sorted_keys[at] == keys, order[at], -1)

    def person_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, stops)``, each ``(P,)``: person ``p``'s rows are ``starts[p]:stops[p]`` (empty if none)."""
        cached = self.__dict__.get("_person_rows")
        if cached is None:
            people = np.arange(len(self.names))
            cached = (np.searchsorted(self.labels, people, "left"), np.searchsorted(self.labels, people, "right"))
            object.__setattr__(self, "_person_rows", cached)
        return cached


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """``rows`` scaled to unit length (a zero row stays zero)."""
    rows = np.asarray(rows)
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


class MeansIndex:
    """Each person's sum of unit embeddings, updated photo by photo (no recomputation of the whole gallery).

    ``sync(rows)`` makes the sums those of ``rows`` -- ``(key, person, embedding)`` for every
    photo now in the gallery, ``key`` any hashable that changes when the photo does (path and
    content hash) -- adding the photos it has not seen and subtracting the ones gone; it returns
    the people whose mean changed. ``means(names)`` gives the unit means, row by row as
    :meth:`GalleryMatrix.person_means` computes them from scratch (sums in float64).
    """

    def __init__(self, dim: int):
        self.dim = int(dim)
        self._photos: dict[Hashable, tuple[str, np.ndarray]] = {}
        self._sums: dict[str, np.ndarray] = {}
        self._counts: dict[str, int] = {}
        self._means: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._sums)

    def sync(self, rows: Iterable[tuple[Hashable, str, np.ndarray]]) -> set[str]:
        current = {key: (person, embedding) for key, person, embedding in rows}
        changed: set[str] = set()
        for key in [key for key in self._photos if key not in current]:
            person, embedding = self._photos.pop(key)
            self._add(person, embedding, -1)
            changed.add(person)
        for key in [key for key in current if key not in self._photos]:
            person, embedding = current[key]
            embedding = np.asarray(embedding, dtype=np.float32).reshape(-1)
            if embedding.shape != (self.dim,):
                raise ValueError(f"embedding: expected {self.dim} values, got {embedding.shape[0]}")
            self._photos[key] = (person, embedding)
            self._add(person, embedding, +1)
            changed.add(person)
        for person in changed:
            if person in self._sums:
                self._means[person] = unit_rows(self._sums[person]).astype(np.float32)
            else:
                self._means.pop(person, None)
        return changed

    def _add(self, person: str, embedding: np.ndarray, sign: int) -> None:
        count = self._counts.get(person, 0) + sign
        if count <= 0:  # nobody left: drop the sum rather than keep rounding residue
            self._counts.pop(person, None)
            self._sums.pop(person, None)
            return
        self._counts[person] = count
        total = self._sums.get(person)
        if total is None:
            total = self._sums[person] = np.zeros(self.dim, dtype=np.float64)
        total += sign * embedding.astype(np.float64)

    def mean(self, person: str) -> np.ndarray | None:
        """``person``'s unit mean, None when they have no photo."""
        return self._means.get(person)

    def means(self, names: Sequence[str]) -> np.ndarray:
        """``(len(names), D)`` unit means in the order of ``names`` (a zero row for a person with no photo)."""
        zero = np.zeros(self.dim, dtype=np.float32)
        if not names:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._means.get(name, zero) for name in names])


def _group_starts(sorted_labels: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])


def cosine_distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """``(N, M)`` cosine distances between unit rows (``1 - dot``), in [0, 2]."""
    queries = np.asarray(queries, dtype=np.float32)
    gallery = np.asarray(gallery, dtype=np.float32)
    return np.clip(1.0 - queries @ gallery.T, 0.0, 2.0)


def person_distances(queries: np.ndarray, gallery: GalleryMatrix, mode: str = "nearest") -> np.ndarray:
    """``(N, P)`` distance from each query to each person (inf for a person with no photo).

    With an approximate search on the gallery, only its candidate people get a distance
    (computed exactly); the others stay inf.
    """
    if mode not in MATCH_MODES:
        raise ValueError(f"mode: expected one of {MATCH_MODES}, got {mode!r}")
    queries = np.asarray(queries, dtype=np.float32).reshape(-1, gallery.dim if len(gallery) else queries.shape[-1])
    people = len(gallery.names)
    candidates = None
    if gallery.search is not None and len(gallery) and queries.shape[0]:
        candidates = gallery.search.candidates(queries, gallery, mode)
    if candidates is not None:
        return _candidate_distances(queries, gallery, mode, candidates)
    if mode == "mean":
        out = cosine_distances(queries, gallery.person_means())
        present = np.bincount(gallery.labels, minlength=people) > 0
        out[:, ~present] = np.inf
        return out
    out = np.full((queries.shape[0], people), np.inf, dtype=np.float32)
    if len(gallery) == 0 or queries.shape[0] == 0:
        return out
    distances = cosine_distances(queries, gallery.embeddings)
    starts = _group_starts(gallery.labels)
    out[:, gallery.labels[starts]] = np.minimum.reduceat(distances, starts, axis=1)
    return out


def _candidate_distances(queries: np.ndarray, gallery: GalleryMatrix, mode: str,
                         candidates: list[np.ndarray]) -> np.ndarray:
    """Exact distances to each query's candidate people (person indices), inf for everyone else."""
    out = np.full((queries.shape[0], len(gallery.names)), np.inf, dtype=np.float32)
    starts, stops = gallery.person_rows()
    for i, people in enumerate(candidates):
        people = np.unique(np.asarray(people, dtype=np.int64))
        people = people[stops[people] > starts[people]]  # people with photos
        if people.size == 0:
            continue
        if mode == "mean":
            out[i, people] = cosine_distances(queries[i:i + 1], gallery.person_means()[people])[0]
            continue
        sizes = stops[people] - starts[people]
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        rows = np.repeat(starts[people] - first, sizes) + np.arange(sizes.sum())
        distances = cosine_distances(queries[i:i + 1], gallery.embeddings[rows])[0]
        out[i, people] = np.minimum.reduceat(distances, first)
    return out


def decided_threshold(threshold: "float | Decision", gallery: GalleryMatrix, mode: str) -> float | np.ndarray:
    """The distance in use against ``gallery``: ``threshold`` itself, or what a decision makes of it
    (one number, or one per person: ``(P,)``)."""
    if isinstance(threshold, (int, float, np.floating)):
        return float(threshold)
    return threshold.threshold_at(gallery, mode)


def match_embeddings(queries: np.ndarray, gallery: GalleryMatrix, threshold: "float | Decision",
                     mode: str = "nearest") -> list[Match]:
    """One :class:`Match` per query row: closest person, or Unknown above the threshold.

    ``threshold``: a distance, or a :class:`facecam.openset.Decision` (the threshold then follows this
    gallery's size: the one place the live pipeline, ``identify`` and the unknown faces decide)."""
    queries = np.asarray(queries, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries[None]
    threshold = decided_threshold(threshold, gallery, mode)
    if len(gallery) == 0:
        return [Match(None, float("inf"), float(np.max(threshold, initial=0.0))) for _ in range(queries.shape[0])]
    if queries.shape[1] != gallery.dim:
        raise ValueError(f"queries: expected {gallery.dim}-d embeddings (the gallery's model), got {queries.shape[1]}-d")
    distances = person_distances(queries, gallery, mode)
    k = min(2, distances.shape[1])
    best = np.argpartition(distances, k - 1, axis=1)[:, :k]
    matches = []
    for row, candidates in zip(distances, best):
        candidates = candidates[np.argsort(row[candidates], kind="stable")]
        first = int(candidates[0])
        distance = float(row[first])
        limit = float(threshold if np.ndim(threshold) == 0 else threshold[first])
        runner = int(candidates[1]) if len(candidates) > 1 and np.isfinite(row[candidates[1]]) else None
        matches.append(Match(
            name=gallery.names[first] if distance <= limit else None,
            distance=distance,
            threshold=limit,
            best_name=gallery.names[first],
            runner_up=gallery.names[runner] if runner is not None else None,
            runner_up_distance=float(row[runner]) if runner is not None else None,
        ))
    return matches
