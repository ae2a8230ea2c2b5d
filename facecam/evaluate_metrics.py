"""The numbers of ``facecam evaluate``, in pure numpy: verification (ROC, AUC, EER, best accuracy,
TAR at a FAR, a threshold for a FAR) and leave-one-out identification (rank-1, confusion,
open-set Unknown rate).

Distances are cosine distances between unit embeddings; a pair is called the
same person when its distance is at most the threshold. No file, model or
plotting library here: the functions take arrays and return numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facecam.config import MATCH_MODES

REPORTED_FARS = (1e-2, 1e-3)


def percent(value: float | None, digits: int = 1) -> str:
    """``12.3%`` (a rate written out), or ``n/a``."""
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"

# A FAR estimate needs several false accepts to be steady: below this many at the target it is flagged.
STEADY_FALSE_ACCEPTS = 10


# ================================================================ verification

@dataclass(frozen=True)
class Roc:
    """The ROC of distances: at ``thresholds[k]`` (accept when distance <= it) the share of
    same-person pairs accepted is ``tpr[k]`` and of different-person pairs ``fpr[k]``.
    ``thresholds[0]`` is -inf (nothing accepted); then one point per distinct distance."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    positives: int
    negatives: int


def _check_pairs(distances, same) -> tuple[np.ndarray, np.ndarray]:
    distances = np.asarray(distances, dtype=np.float64).reshape(-1)
    same = np.asarray(same, dtype=bool).reshape(-1)
    if distances.shape != same.shape:
        raise ValueError(f"same: expected {distances.shape[0]} values to match the distances, got {same.shape[0]}")
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances: expected finite values")
    return distances, same


def roc_curve(distances, same) -> Roc:
    """ROC over every distinct distance (ties move both rates at once: a diagonal step)."""
    distances, same = _check_pairs(distances, same)
    positives, negatives = int(same.sum()), int((~same).sum())
    if positives == 0 or negatives == 0:
        raise ValueError(f"a ROC needs same-person and different-person pairs; got {positives} and {negatives}")
    order = np.argsort(distances, kind="stable")
    sorted_d, sorted_same = distances[order], same[order]
    last_of_value = np.r_[sorted_d[1:] != sorted_d[:-1], True]
    tp = np.cumsum(sorted_same)[last_of_value]
    fp = np.cumsum(~sorted_same)[last_of_value]
    return Roc(fpr=np.r_[0.0, fp / negatives], tpr=np.r_[0.0, tp / positives],
               thresholds=np.r_[-np.inf, sorted_d[last_of_value]], positives=positives, negatives=negatives)


def roc_auc(roc: Roc) -> float:
    """Area under the ROC (trapezoids): the chance a same-person pair is closer than a different-person one,
    ties counting one half."""
    return float(np.trapezoid(roc.tpr, roc.fpr))


def equal_error_rate(roc: Roc) -> tuple[float, float]:
    """``(eer, threshold)`` where the false reject rate (1 - TPR) equals the FAR, interpolated along the ROC."""
    gap = (1.0 - roc.tpr) - roc.fpr  # starts at 1, ends at -1
    k = int(np.argmax(gap <= 0.0))
    if gap[k] == 0.0 or k == 0:
        return float(roc.fpr[k]), float(roc.thresholds[k])
    share = gap[k - 1] / (gap[k - 1] - gap[k])
    eer = roc.fpr[k - 1] + share * (roc.fpr[k] - roc.fpr[k - 1])
    low, high = roc.thresholds[k - 1], roc.thresholds[k]
    threshold = high if not np.isfinite(low) else low + share * (high - low)
    return float(eer), float(threshold)


def best_accuracy(roc: Roc) -> tuple[float, float]:
    """``(accuracy, threshold)``: the highest share of all pairs decided right by one threshold
    (half-way between the last distance accepted and the next one)."""
    correct = roc.tpr * roc.positives + (1.0 - roc.fpr) * roc.negatives
    k = int(np.argmax(correct))
    accuracy = float(correct[k] / (roc.positives + roc.negatives))
    thresholds = roc.thresholds
    if k == 0:
        return accuracy, float(thresholds[1]) / 2.0
    if k == len(thresholds) - 1:
        return accuracy, float(thresholds[k])
    return accuracy, float((thresholds[k] + thresholds[k + 1]) / 2.0)


@dataclass(frozen=True)
class TarAtFar:
    """The share of same-person pairs accepted (TAR) at the loosest threshold whose FAR is at most ``far``."""

    far: float
    tar: float
    threshold: float            # accept when distance <= this (-inf: nothing can be accepted)
    negatives: int
    false_accepts_allowed: int  # floor(far * negatives)
    note: str | None            # why the figure is rough or not measurable, None when it is steady

    @property
    def reliable(self) -> bool:
        return self.note is None


def false_accepts_allowed(far: float, negatives: int) -> int:
    """How many false accepts a FAR of ``far`` allows among ``negatives`` different-person pairs (0: the FAR
    cannot be measured on them: a threshold for it is a guess)."""
    return int(math.floor(far * negatives + 1e-9))


def far_note(far: float, negatives: int) -> str | None:
    """None when ``negatives`` different-person pairs measure FAR ``far`` steadily, else what is wrong."""
    allowed = false_accepts_allowed(far, negatives)
    if allowed == 0:
        return (f"not measurable: {negatives} different-person pairs cannot show a FAR of {far:g} "
                f"(needs {math.ceil(1 / far)}+); the figure is for no false accept at all")
    if allowed < STEADY_FALSE_ACCEPTS:
        return (f"rough: FAR {far:g} allows only {allowed} false accept(s) among {negatives} different-person "
                f"pairs; {math.ceil(STEADY_FALSE_ACCEPTS / far)}+ pairs give a steady figure")
    return None


def tar_at_far(roc: Roc, far: float) -> TarAtFar:
    if not 0.0 < far < 1.0:
        raise ValueError(f"far: expected a rate between 0 and 1, got {far}")
    ok = roc.fpr <= far + 1e-12
    k = int(np.flatnonzero(ok)[-1])  # tpr never decreases: the last point within the FAR is the best
    return TarAtFar(far=float(far), tar=float(roc.tpr[k]), threshold=float(roc.thresholds[k]),
                    negatives=roc.negatives, false_accepts_allowed=false_accepts_allowed(far, roc.negatives),
                    note=far_note(far, roc.negatives))


def rates_at(distances, same, threshold: float) -> tuple[float | None, float | None]:
    """``(tpr, fpr)`` of a threshold: shares of same- and different-person pairs accepted (None if no such pair)."""
    distances, same = _check_pairs(distances, same)
    accepted = distances <= threshold
    tpr = float(accepted[same].mean()) if same.any() else None
    fpr = float(accepted[~same].mean()) if (~same).any() else None
    return tpr, fpr


def threshold_for_far(distances, same, target_far: float) -> float | None:
    """The recommended threshold: 3 decimals, strictly below the different-person distance that would
    push the FAR above ``target_far`` (so FAR <= target on these pairs). None without different-person
    pairs, or when no positive threshold reaches the target."""
    if not 0.0 < target_far < 1.0:
        raise ValueError(f"target_far: expected a rate between 0 and 1, got {target_far}")
    distances, same = _check_pairs(distances, same)
    negative = np.sort(distances[~same])
    if negative.size == 0:
        return None
    first_too_many = float(negative[false_accepts_allowed(target_far, negative.size)])
    threshold = round(math.floor(first_too_many * 1000.0) / 1000.0, 3)
    if threshold >= first_too_many:
        threshold = round(threshold - 0.001, 3)
    return threshold if threshold > 0.0 else None


def all_pairs(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of rows: ``(distances, same, i, j)`` with cosine distances in float64."""
    return upper_pairs(distance_matrix(embeddings), labels)


def upper_pairs(distances: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    first, second = np.triu_indices(distances.shape[0], k=1)
    labels = np.asarray(labels)
    return distances[first, second], labels[first] == labels[second], first, second


def distance_matrix(embeddings: np.ndarray) -> np.ndarray:
    """``(N, N)`` cosine distances ``1 - a.b`` between unit rows, float64, clipped to [0, 2]."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    return np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)


# ================================================================ identification

def person_distances_loo(embeddings: np.ndarray, labels: np.ndarray, people: int, mode: str,
                         pair_matrix: np.ndarray | None = None) -> np.ndarray:
    """``(N, P)`` distance from each photo to each person, the photo itself left out of the gallery.

    ``nearest``: the closest other photo of that person; ``mean``: that person's mean embedding
    (re-normalised), computed without the photo for its own person. inf where a person has no
    other photo. ``pair_matrix``: :func:`distance_matrix` of the embeddings, if already computed.
    """
    if mode not in MATCH_MODES:
        raise ValueError(f"mode: expected one of {MATCH_MODES}, got {mode!r}")
    vectors = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = vectors.shape[0]
    out = np.full((n, people), np.inf)
    if n == 0:
        return out
    if mode == "nearest":
        distances = distance_matrix(vectors) if pair_matrix is None else np.array(pair_matrix, dtype=np.float64)
        np.fill_diagonal(distances, np.inf)
        for person in range(people):
            members = labels == person
            if members.any():
                out[:, person] = distances[:, members].min(axis=1)
        return out
    sums = np.zeros((people, vectors.shape[1]))
    np.add.at(sums, labels, vectors)
    counts = np.bincount(labels, minlength=people)
    means = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    out[:] = np.clip(1.0 - vectors @ means.T, 0.0, 2.0)
    out[:, counts == 0] = np.inf
    own_sum = sums[labels] - vectors  # the own person's sum without this photo
    own_norm = np.linalg.norm(own_sum, axis=1)
    alone = counts[labels] < 2
    own = np.clip(1.0 - np.einsum("nd,nd->n", vectors, own_sum) / np.maximum(own_norm, 1e-12), 0.0, 2.0)
    own[alone] = np.inf
    out[np.arange(n), labels] = own
    return out


@dataclass(frozen=True)
class Identification:
    """Leave-one-out identification for one matching mode."""

    mode: str
    probes: np.ndarray      # row index of each photo tried (people with 2+ photos)
    predicted: np.ndarray   # predicted person of each probe (closed set: the closest)
    distance: np.ndarray    # distance to that person
    correct: int
    rank1: float | None
    confusion: np.ndarray   # (P, P) counts: true person (row) -> predicted person (column)
    known_named: float | None  # share of probes named correctly and within the threshold
    stranger_unknown: float | None  # open set: share of a left-out person's photos called Unknown


def stranger_unknown_rate(person_distances: np.ndarray, labels: np.ndarray, threshold: float) -> float | None:
    """Open set, each person left out in turn: the share of their photos whose closest other person is
    farther than ``threshold`` (called Unknown). ``person_distances`` from :func:`person_distances_loo`:
    its other-person columns are the distances to the full gallery of each other person."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0 or person_distances.shape[1] < 2:
        return None
    strangers = np.array(person_distances, dtype=np.float64)
    strangers[np.arange(labels.size), labels] = np.inf
    return float(np.mean(strangers.min(axis=1) > threshold))


def identify_leave_one_out(embeddings: np.ndarray, labels: np.ndarray, people: int, mode: str,
                           threshold: float, person_distances: np.ndarray | None = None) -> Identification:
    """Rank-1, confusion and open-set Unknown rate for ``mode`` (see the module docstring)."""
    labels = np.asarray(labels, dtype=np.int64)
    distances = person_distances if person_distances is not None else \
        person_distances_loo(embeddings, labels, people, mode)
    counts = np.bincount(labels, minlength=people)
    probes = np.flatnonzero(counts[labels] >= 2)
    confusion = np.zeros((people, people), dtype=np.int64)
    if probes.size:
        rows = distances[probes]
        predicted = np.argmin(rows, axis=1)
        best = rows[np.arange(probes.size), predicted]
        truth = labels[probes]
        np.add.at(confusion, (truth, predicted), 1)
        hits = predicted == truth
        correct = int(hits.sum())
        rank1 = correct / probes.size
        known_named = float(np.mean(hits & (best <= threshold)))
    else:
        predicted = np.zeros(0, np.int64)
        best = np.zeros(0)
        correct, rank1, known_named = 0, None, None
    stranger_unknown = stranger_unknown_rate(distances, labels, threshold)
    return Identification(mode=mode, probes=probes, predicted=predicted, distance=best, correct=correct,
                          rank1=rank1, confusion=confusion, known_named=known_named,
                          stranger_unknown=stranger_unknown)


# ================================================================ open set: enrolled people and strangers

@dataclass(frozen=True)
class OpenSetScores:
    """An open-set test's scores: for each photo of an enrolled person (mated probe), the distance to the
    closest person and whether that person is the right one; for each stranger's photo, the distance to
    the closest person. A face is named when its distance is at most the threshold."""

    mated_distance: np.ndarray
    mated_right: np.ndarray
    stranger_distance: np.ndarray

    @classmethod
    def of(cls, mated: np.ndarray, truth: np.ndarray, strangers: np.ndarray) -> "OpenSetScores":
        """From ``(N, P)`` person distances of the mated probes (their true person ``truth``) and ``(S, P)``
        of the strangers (:func:`facecam.matcher.person_distances`)."""
        mated = np.asarray(mated, dtype=np.float64).reshape(-1, max(np.shape(mated)[-1], 1))
        strangers = np.asarray(strangers, dtype=np.float64).reshape(-1, mated.shape[1])
        best = np.argmin(mated, axis=1) if mated.size else np.zeros(0, np.int64)
        return cls(mated[np.arange(len(best)), best] if mated.size else np.zeros(0),
                   best == np.asarray(truth, dtype=np.int64),
                   strangers.min(axis=1) if strangers.size else np.zeros(0))

    def concat(self, other: "OpenSetScores") -> "OpenSetScores":
        return OpenSetScores(np.r_[self.mated_distance, other.mated_distance],
                             np.r_[self.mated_right, other.mated_right],
                             np.r_[self.stranger_distance, other.stranger_distance])

    def rates(self, threshold) -> tuple[np.ndarray | float | None, np.ndarray | float | None]:
        """``(DIR, FPIR)`` at ``threshold`` (a number or an array of them): the share of mated probes
        named right, of strangers named (None when there are none)."""
        t = np.asarray(threshold, dtype=np.float64)
        named_right = (self.mated_distance[:, None] <= t.reshape(1, -1)) & self.mated_right[:, None]
        strangers_named = self.stranger_distance[:, None] <= t.reshape(1, -1)
        dir_ = named_right.mean(axis=0) if self.mated_distance.size else None
        fpir = strangers_named.mean(axis=0) if self.stranger_distance.size else None
        if t.ndim == 0:
            return (None if dir_ is None else float(dir_[0])), (None if fpir is None else float(fpir[0]))
        return dir_, fpir

    def threshold_for_fpir(self, fpir: float) -> float | None:
        """The largest threshold at which at most a share ``fpir`` of the strangers is named (the best any
        single threshold does for the enrolled people at that rate); None without strangers."""
        distances = np.sort(self.stranger_distance)
        if distances.size == 0:
            return None
        allowed = int(math.floor(fpir * distances.size + 1e-9))
        if allowed >= distances.size:
            return float(distances[-1])
        return float(np.nextafter(distances[allowed], -np.inf))
