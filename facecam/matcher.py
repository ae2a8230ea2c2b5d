"""Matching embeddings against the gallery: pure numpy, one matrix product.

Embeddings are unit vectors, so the cosine distance is ``1 - q . g``. For each
query the distance to every gallery photo comes from one matrix product; a
person's distance is their best photo's (``nearest``) or the distance to the
mean of their photos (``mean``). The answer is the closest person, or Unknown
(``name=None``) when even that one is farther than the threshold.

Practical advice: several photos per person (different days, light, glasses)
make ``nearest`` sturdier; ``mean`` is more robust to one bad gallery photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facecam.types import Match

MATCH_MODES = ("nearest", "mean")


@dataclass(frozen=True)
class GalleryMatrix:
    """The gallery in matching form: ``embeddings (M, D)`` unit rows sorted by person,
    ``labels (M,)`` person index of each row, ``names`` the people, in label order."""

    embeddings: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        embeddings = np.asarray(self.embeddings, dtype=np.float32)
        labels = np.asarray(self.labels, dtype=np.int64)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings: expected shape (M, D), got {embeddings.shape}")
        if labels.shape != (embeddings.shape[0],):
            raise ValueError(f"labels: expected shape ({embeddings.shape[0]},), got {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.names)):
            raise ValueError(f"labels: expected values in [0, {len(self.names)}), got {labels.min()}..{labels.max()}")
        order = np.argsort(labels, kind="stable")
        object.__setattr__(self, "embeddings", np.ascontiguousarray(embeddings[order]))
        object.__setattr__(self, "labels", labels[order])
        object.__setattr__(self, "names", tuple(self.names))

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

        Computed once per gallery matrix (rows are sorted by person, so one ``reduceat``).
        """
        cached = self.__dict__.get("_means")
        if cached is not None:
            return cached
        means = np.zeros((len(self.names), self.dim), dtype=np.float32)
        if len(self):
            starts = _group_starts(self.labels)
            sums = np.add.reduceat(self.embeddings, starts, axis=0, dtype=np.float64)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            means[self.labels[starts]] = sums / np.maximum(norms, 1e-12)
        object.__setattr__(self, "_means", means)
        return means


def _group_starts(sorted_labels: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])


def cosine_distances(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """``(N, M)`` cosine distances between unit rows (``1 - dot``), in [0, 2]."""
    queries = np.asarray(queries, dtype=np.float32)
    gallery = np.asarray(gallery, dtype=np.float32)
    return np.clip(1.0 - queries @ gallery.T, 0.0, 2.0)


def person_distances(queries: np.ndarray, gallery: GalleryMatrix, mode: str = "nearest") -> np.ndarray:
    """``(N, P)`` distance from each query to each person (inf for a person with no photo)."""
    if mode not in MATCH_MODES:
        raise ValueError(f"mode: expected one of {MATCH_MODES}, got {mode!r}")
    queries = np.asarray(queries, dtype=np.float32).reshape(-1, gallery.dim if len(gallery) else queries.shape[-1])
    people = len(gallery.names)
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


def match_embeddings(queries: np.ndarray, gallery: GalleryMatrix, threshold: float,
                     mode: str = "nearest") -> list[Match]:
    """One :class:`Match` per query row: closest person, or Unknown above ``threshold``."""
    queries = np.asarray(queries, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries[None]
    if len(gallery) == 0:
        return [Match(None, float("inf"), threshold) for _ in range(queries.shape[0])]
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
        runner = int(candidates[1]) if len(candidates) > 1 and np.isfinite(row[candidates[1]]) else None
        matches.append(Match(
            name=gallery.names[first] if distance <= threshold else None,
            distance=distance,
            threshold=float(threshold),
            best_name=gallery.names[first],
            runner_up=gallery.names[runner] if runner is not None else None,
            runner_up_distance=float(row[runner]) if runner is not None else None,
        ))
    return matches
