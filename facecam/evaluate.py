"""``python -m facecam evaluate DIR``: how well a model tells your people apart, and a threshold for it.

DIR has the known_faces layout (a folder per person). Every photo is embedded
once (the gallery cache in ``DIR/.facecam``; a read-only DIR keeps its cache in
the user cache folder instead), then, with pure numpy:

* verification over all pairs of faces, or the pairs of a CSV
  ``file_x,file_y,same`` (paths relative to DIR): ROC, AUC, EER, the best
  accuracy, TAR at FAR 1e-2 and 1e-3 (flagged when there are too few
  different-person pairs for the FAR to mean much), and what the threshold in
  use does (share of same-person pairs accepted, of different-person pairs
  accepted);
* identification, leave one photo out, by the nearest photo and by each
  person's mean embedding (the left-out photo excluded from it): rank-1 and a
  confusion matrix; open set, leave one person out: the share of a stranger's
  photos called Unknown at the threshold in use;
* a recommended threshold: the distance at which the share of different-person
  pairs accepted (FAR) is at most ``--target-far`` (default 1e-3), and the
  better matching mode (higher rank-1, ties broken by more strangers turned
  away). ``--apply`` saves both in facecam's settings for this model.

Distances are cosine distances between unit embeddings; a pair is called the
same person when its distance is at most the threshold. Photos with no face
are reported and left out; people with one photo only serve as strangers.

The window calls :func:`evaluate_gallery` and :func:`plot_report` (no Qt here).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from facecam import config
from facecam.errors import FacecamError
from facecam.matcher import MATCH_MODES

DEFAULT_TARGET_FAR = 1e-3
REPORTED_FARS = (1e-2, 1e-3)
# A FAR estimate needs several false accepts to be steady: below this many at the target it is flagged.
STEADY_FALSE_ACCEPTS = 10
_SAME_VALUES = {"1": True, "true": True, "yes": True, "same": True,
                "0": False, "false": False, "no": False, "different": False}


class PairsError(FacecamError):
    """A pairs CSV cannot be used (unreadable, or a row names its problem)."""


# ================================================================ verification metrics (pure numpy)

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


def _allowed(far: float, negatives: int) -> int:
    return int(math.floor(far * negatives + 1e-9))


def far_note(far: float, negatives: int) -> str | None:
    """None when ``negatives`` different-person pairs measure FAR ``far`` steadily, else what is wrong."""
    allowed = _allowed(far, negatives)
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
                    negatives=roc.negatives, false_accepts_allowed=_allowed(far, roc.negatives),
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
    first_too_many = float(negative[_allowed(target_far, negative.size)])
    threshold = round(math.floor(first_too_many * 1000.0) / 1000.0, 3)
    if threshold >= first_too_many:
        threshold = round(threshold - 0.001, 3)
    return threshold if threshold > 0.0 else None


def all_pairs(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of rows: ``(distances, same, i, j)`` with cosine distances in float64."""
    return _upper_pairs(distance_matrix(embeddings), labels)


def _upper_pairs(distances: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    first, second = np.triu_indices(distances.shape[0], k=1)
    labels = np.asarray(labels)
    return distances[first, second], labels[first] == labels[second], first, second


def distance_matrix(embeddings: np.ndarray) -> np.ndarray:
    """``(N, N)`` cosine distances ``1 - a.b`` between unit rows, float64, clipped to [0, 2]."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    return np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)


# ================================================================ identification metrics (pure numpy)

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


def better_mode(by_mode: dict[str, Identification], unknown_rates: dict[str, float | None],
                current: str) -> tuple[str, str]:
    """``(mode, reason)``: higher rank-1; on a tie, more strangers called Unknown; still tied: ``current``."""
    a, b = by_mode["nearest"], by_mode["mean"]
    if a.rank1 is None:
        return current, "no person has 2+ photos: keeping the mode in use"
    if a.correct != b.correct:
        winner = "nearest" if a.correct > b.correct else "mean"
        loser = "mean" if winner == "nearest" else "nearest"
        return winner, (f"higher rank-1 ({_pct(by_mode[winner].rank1)} vs {_pct(by_mode[loser].rank1)})")
    ua, ub = unknown_rates.get("nearest"), unknown_rates.get("mean")
    if ua is not None and ub is not None and ua != ub:
        winner = "nearest" if ua > ub else "mean"
        return winner, (f"same rank-1; turns away more strangers ({_pct(max(ua, ub))} vs {_pct(min(ua, ub))})")
    return current, "both modes do equally well here: keeping the mode in use"


# ================================================================ pairs CSV

@dataclass(frozen=True)
class LabelledPair:
    file_x: Path
    file_y: Path
    same: bool
    line: int


def read_pairs_csv(path: Path, root: Path) -> list[LabelledPair]:
    """Rows ``file_x,file_y,same`` (paths relative to ``root``; same: 1/0, true/false, yes/no, same/different).

    An optional header row, blank lines and lines starting with ``#`` are skipped. A bad row raises
    :class:`PairsError` naming its line.
    """
    from facecam.images import is_image_name  # noqa: PLC0415

    path, root = Path(path), Path(root)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise PairsError(f"cannot read the pairs file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise PairsError(f"the pairs file {path} is not UTF-8 text; save it as CSV (UTF-8)") from None
    root_resolved = root.resolve()
    expected = f"expected file_x,file_y,same with paths relative to {root} and same = 1 or 0"
    pairs: list[LabelledPair] = []
    first_row = True
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        fields = [f.strip() for f in row]
        if not fields or all(not f for f in fields) or fields[0].startswith("#"):
            continue

        def bad(problem: str) -> PairsError:
            return PairsError(f"{path} line {line}: {problem}; {expected}")

        if len(fields) != 3:
            raise bad(f"{len(fields)} field(s)")
        if first_row and not is_image_name(fields[0]) and not is_image_name(fields[1]):
            first_row = False
            continue  # a header
        first_row = False
        same = _SAME_VALUES.get(fields[2].lower())
        if same is None:
            raise bad(f"same is {fields[2]!r}")
        files = []
        for name in fields[:2]:
            if not name:
                raise bad("an empty file name")
            file = root / name
            resolved = file.resolve()
            if root_resolved not in resolved.parents:
                raise bad(f"{name} is outside {root}")
            if any(part.startswith(".") for part in resolved.relative_to(root_resolved).parts):
                raise bad(f"{name} is hidden (facecam ignores files and folders starting with a dot)")
            if not resolved.is_file():
                raise bad(f"{name} not found in {root}")
            if not is_image_name(resolved.name):
                raise bad(f"{name} is not a photo (.jpg .jpeg .png .bmp .webp)")
            files.append(resolved)
        if files[0] == files[1]:
            raise bad(f"{fields[0]} is paired with itself")
        pairs.append(LabelledPair(files[0], files[1], same, line))
    if not pairs:
        raise PairsError(f"the pairs file {path} has no pairs; {expected}")
    return pairs


# ================================================================ the report

@dataclass
class EvaluationReport:
    """Everything ``evaluate`` measured. Rates are shares in [0, 1]; None where not measurable."""

    model: str
    root: str
    images: int
    faces_found: int
    no_face: list[str]
    unreadable: list[tuple[str, str]]
    several_faces: list[tuple[str, int]]
    names: tuple[str, ...]
    photos_per_person: dict[str, int]
    pair_source: str                  # "all pairs" or the CSV's path
    positives: int
    negatives: int
    pairs_left_out: int               # CSV pairs naming a photo with no face / unreadable
    auc: float | None
    eer: float | None
    eer_threshold: float | None
    best_threshold: float | None
    best_accuracy: float | None
    tar: dict[float, TarAtFar]
    threshold_in_use: float
    threshold_source: str
    tpr_in_use: float | None
    fpr_in_use: float | None
    match_mode: str                   # the mode in use
    identification: dict[str, Identification]
    unknown_rate_at_recommended: dict[str, float | None]
    target_far: float
    recommended_threshold: float | None
    recommended_tpr: float | None
    recommended_fpr: float | None
    match_mode_recommended: str
    match_mode_reason: str
    warnings: list[str] = field(default_factory=list)
    pair_distances: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    pair_same: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    roc: Roc | None = field(default=None, repr=False)
    indexing: dict[str, int] = field(default_factory=dict)

    @property
    def rank1(self) -> float | None:
        return self.identification[self.match_mode].rank1

    @property
    def people_with_pairs(self) -> int:
        return sum(1 for n in self.photos_per_person.values() if n >= 2)

    @property
    def recommendation_note(self) -> str | None:
        return far_note(self.target_far, self.negatives) if self.negatives else None

    def to_json(self) -> dict:
        ident = self.identification
        return {
            "model": self.model,
            "dir": self.root,
            "images": self.images,
            "faces_found": self.faces_found,
            "no_face": list(self.no_face),
            "unreadable": [{"file": f, "reason": r} for f, r in self.unreadable],
            "several_faces": [{"file": f, "faces": n} for f, n in self.several_faces],
            "people": len(self.names),
            "people_with_2_photos": self.people_with_pairs,
            "pairs": {"positive": self.positives, "negative": self.negatives, "source": self.pair_source,
                      "left_out": self.pairs_left_out},
            "auc": self.auc,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "best_threshold": self.best_threshold,
            "best_accuracy": self.best_accuracy,
            "tar_at_far": {f"{far:g}": t.tar for far, t in self.tar.items()},
            "tar_at_far_detail": {f"{far:g}": {"tar": t.tar, "threshold": _finite(t.threshold),
                                               "false_accepts_allowed": t.false_accepts_allowed,
                                               "reliable": t.reliable, "note": t.note}
                                  for far, t in self.tar.items()},
            "rank1": self.rank1,
            "rank1_by_mode": {m: ident[m].rank1 for m in MATCH_MODES},
            "match_mode": self.match_mode,
            "known_named_rate": {m: ident[m].known_named for m in MATCH_MODES},
            "open_set_unknown_rate": {m: ident[m].stranger_unknown for m in MATCH_MODES},
            "open_set_unknown_rate_at_recommended": dict(self.unknown_rate_at_recommended),
            "threshold_in_use": self.threshold_in_use,
            "threshold_source": self.threshold_source,
            "at_threshold_in_use": {"tpr": self.tpr_in_use, "fpr": self.fpr_in_use},
            "target_far": self.target_far,
            "recommended_threshold": self.recommended_threshold,
            "at_recommended_threshold": {"tpr": self.recommended_tpr, "fpr": self.recommended_fpr},
            "recommendation_note": self.recommendation_note,
            "match_mode_recommended": self.match_mode_recommended,
            "match_mode_reason": self.match_mode_reason,
            "confusion": {"mode": self.match_mode, "names": list(self.names),
                          "matrix": ident[self.match_mode].confusion.tolist()},
            "indexing": dict(self.indexing),
            "warnings": list(self.warnings),
        }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def evaluate_embeddings(embeddings: np.ndarray, labels: np.ndarray, names: Sequence[str], threshold: float, *,
                        target_far: float = DEFAULT_TARGET_FAR, match_mode: str = config.DEFAULT_MATCH_MODE,
                        pairs: tuple[np.ndarray, np.ndarray] | None = None, model: str = "",
                        root: str = "") -> EvaluationReport:
    """The whole evaluation on ``(N, D)`` unit embeddings with person ``labels`` (indices into ``names``).

    ``pairs``: ``(index_pairs (K, 2), same (K,))`` to verify instead of every pair of rows.
    """
    if not 0.0 < target_far < 1.0:
        raise FacecamError(f"--target-far must be between 0 and 1 (e.g. 0.001), got {target_far}")
    if match_mode not in MATCH_MODES:
        raise ValueError(f"match_mode: expected one of {MATCH_MODES}, got {match_mode!r}")
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    names = tuple(names)
    counts = np.bincount(labels, minlength=len(names))
    full = distance_matrix(embeddings)
    if pairs is None:
        distances, same, _, _ = _upper_pairs(full, labels)
        source = "all pairs"
    else:
        index_pairs, same = np.asarray(pairs[0], dtype=np.int64).reshape(-1, 2), np.asarray(pairs[1], dtype=bool)
        distances = full[index_pairs[:, 0], index_pairs[:, 1]]
        source = "pairs"
    positives, negatives = int(same.sum()), int((~same).sum())
    warnings: list[str] = []
    roc = auc = eer = eer_t = best_t = best_acc = None
    tars: dict[float, TarAtFar] = {}
    if positives and negatives:
        roc = roc_curve(distances, same)
        auc = roc_auc(roc)
        eer, eer_t = equal_error_rate(roc)
        best_acc, best_t = best_accuracy(roc)
        for far in sorted({*REPORTED_FARS, float(target_far)}, reverse=True):
            tars[far] = tar_at_far(roc, far)
    else:
        warnings.append(f"verification needs same-person and different-person pairs; got {positives} and "
                        f"{negatives}: add people with 2+ photos")
    tpr_use, fpr_use = rates_at(distances, same, threshold)
    # FAR alone fixes the threshold, but without same-person pairs nobody could tell what it costs
    recommended = threshold_for_far(distances, same, target_far) if negatives and positives else None
    if negatives and positives and recommended is None:
        warnings.append(f"no threshold keeps the FAR at {target_far:g}: photos of different people are nearly "
                        "identical here; check for the same photo under two names, or try another model")
    rec_tpr, rec_fpr = rates_at(distances, same, recommended) if recommended is not None else (None, None)

    loo = {m: person_distances_loo(embeddings, labels, len(names), m, full) for m in MATCH_MODES}
    del full
    identification = {m: identify_leave_one_out(embeddings, labels, len(names), m, threshold, loo[m])
                      for m in MATCH_MODES}
    if recommended is not None:
        at_rec = {m: stranger_unknown_rate(loo[m], labels, recommended) for m in MATCH_MODES}
    else:
        at_rec = {m: None for m in MATCH_MODES}
    tie_break = at_rec if recommended is not None else {m: identification[m].stranger_unknown for m in MATCH_MODES}
    mode, reason = better_mode(identification, tie_break, match_mode)
    if len(names) < 2:
        warnings.append("fewer than two people: strangers cannot be simulated; add more people")
    return EvaluationReport(
        model=model, root=root, images=int(labels.size), faces_found=int(labels.size), no_face=[], unreadable=[],
        several_faces=[], names=names, photos_per_person={n: int(c) for n, c in zip(names, counts)},
        pair_source=source, positives=positives, negatives=negatives, pairs_left_out=0,
        auc=auc, eer=eer, eer_threshold=eer_t, best_threshold=best_t, best_accuracy=best_acc, tar=tars,
        threshold_in_use=float(threshold), threshold_source="", tpr_in_use=tpr_use, fpr_in_use=fpr_use,
        match_mode=match_mode, identification=identification, unknown_rate_at_recommended=at_rec,
        target_far=float(target_far), recommended_threshold=recommended, recommended_tpr=rec_tpr,
        recommended_fpr=rec_fpr, match_mode_recommended=mode, match_mode_reason=reason, warnings=warnings,
        pair_distances=distances, pair_same=same, roc=roc)


def gallery_rows(gallery) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str]]:
    """``(embeddings, labels, names, paths)`` of a refreshed gallery, one row per photo with a face."""
    matrix, paths = gallery.rows()
    return matrix.embeddings, matrix.labels, matrix.names, paths


def evaluate_gallery(gallery, threshold: float, target_far: float = DEFAULT_TARGET_FAR, *,
                     match_mode: str = config.DEFAULT_MATCH_MODE, pairs: Sequence[LabelledPair] | None = None,
                     index_report=None, threshold_source: str = "") -> EvaluationReport:
    """Evaluate a refreshed :class:`facecam.gallery.Gallery` (what the window calls).

    ``index_report`` (the refresh's :class:`IndexReport`) adds the photos with no face and the unreadable
    ones to the counts; ``pairs`` (from :func:`read_pairs_csv`) replaces all pairs for verification.
    """
    embeddings, labels, names, paths = gallery_rows(gallery)
    pair_arrays, left_out = None, 0
    if pairs is not None:
        row_of = {Path(p).resolve(): i for i, p in enumerate(paths)}
        kept, same = [], []
        for pair in pairs:
            x, y = row_of.get(Path(pair.file_x).resolve()), row_of.get(Path(pair.file_y).resolve())
            if x is None or y is None:
                left_out += 1
                continue
            kept.append((x, y))
            same.append(pair.same)
        pair_arrays = (np.array(kept, dtype=np.int64).reshape(-1, 2), np.array(same, dtype=bool))
    report = evaluate_embeddings(embeddings, labels, names, threshold, target_far=target_far, match_mode=match_mode,
                                 pairs=pair_arrays, model=gallery.model, root=str(gallery.root))
    report.threshold_source = threshold_source
    report.pairs_left_out = left_out
    if pairs is not None:
        report.pair_source = "pairs file"
        kept_pairs = pair_arrays[0]
        disagree = int(np.sum(pair_arrays[1] != (labels[kept_pairs[:, 0]] == labels[kept_pairs[:, 1]])))
        if left_out:
            report.warnings.append(f"{left_out} pair(s) of the pairs file left out: a photo has no face or "
                                   "could not be read")
        if disagree:
            report.warnings.append(f"{disagree} pair(s) of the pairs file disagree with the folders (same person "
                                   "in different folders or the reverse); the file was followed")
    if index_report is not None:
        report.no_face = [f for f, reason in index_report.skipped if reason == "no face found"]
        report.unreadable = [(f, r) for f, r in index_report.skipped
                             if r != "no face found" and not r.startswith("not a photo")]
        report.several_faces = list(index_report.several_faces)
        report.images = report.faces_found + len(report.no_face) + len(report.unreadable)
        report.indexing = {"embedded": index_report.embedded, "reused": index_report.reused}
    return report


# ================================================================ applying the recommendation

def apply_recommendation(report: EvaluationReport, settings_file: Path | None = None) -> dict:
    """Save the recommended threshold and matching mode for the report's model (other settings kept).

    Returns ``{"settings", "threshold": {"old", "new"}, "match_mode": {"old", "new"}}``.
    """
    if report.recommended_threshold is None:
        raise FacecamError("there is no recommended threshold to apply: the folder needs at least two people, "
                           "some with 2+ photos, and different people must not look closer than the same person")
    path = Path(settings_file) if settings_file else config.settings_path()
    if path.exists() and path.stat().st_size > 2 and not config.load_settings(path):
        raise FacecamError(f"the settings file {path} cannot be read; fix or delete it, then run again")
    settings = config.load_settings(path)
    old_threshold = config.threshold_for(report.model, settings=settings)
    old_mode = config.match_mode_for(report.model, settings=settings)
    for key, value in (("thresholds", report.recommended_threshold), ("match_mode", report.match_mode_recommended)):
        table = settings.get(key)
        if not isinstance(table, dict):
            table = {}
        table[report.model] = value
        settings[key] = table
    written = config.save_settings(settings, path)
    return {"settings": str(written),
            "threshold": {"old": old_threshold, "new": report.recommended_threshold},
            "match_mode": {"old": old_mode, "new": report.match_mode_recommended}}


def threshold_source(model: str, override: float | None) -> str:
    if override is not None:
        return "--threshold"
    saved = config.load_settings().get("thresholds", {})
    if isinstance(saved, dict) and model in saved and config.threshold_for(model) != config.MODELS[model].threshold:
        return "saved setting"
    return "facecam default"


# ================================================================ the figure

def plot_report(report: EvaluationReport, path: Path) -> Path:
    """One PNG: the ROC (log FAR), the distance histograms with both thresholds, the confusion matrix."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    path = Path(path)
    figure = Figure(figsize=(16.5, 5.4), dpi=90, layout="constrained")
    FigureCanvasAgg(figure)
    roc_axes, hist_axes, conf_axes = figure.subplots(1, 3, width_ratios=[1, 1, 1.05])
    in_use, recommended = report.threshold_in_use, report.recommended_threshold
    title = f"facecam evaluate: {Path(report.root).name or report.root}, model {report.model}, " \
            f"{report.faces_found} faces of {len(report.names)} people"
    figure.suptitle(title, fontsize=12)

    # ROC, FAR on a log axis
    if report.roc is not None:
        roc = report.roc
        floor = 0.5 / roc.negatives
        roc_axes.step(np.maximum(roc.fpr, floor), roc.tpr, where="post", color="tab:blue", lw=1.6,
                      label=f"ROC (AUC {auc_text(report.auc)})")
        roc_axes.set_xscale("log")
        roc_axes.set_xlim(floor, 1.0)  # a FAR of 0 is drawn on the left edge
        low = min(float(roc.tpr[np.searchsorted(roc.fpr, floor, side="right")]) if roc.fpr.size else 0.0, 0.9)
        roc_axes.set_ylim(max(0.0, low - 0.05), 1.005)
        for far in REPORTED_FARS:
            roc_axes.axvline(far, color="0.75", lw=0.8, ls=":")
        marks = [(in_use, report.fpr_in_use, report.tpr_in_use, "k", "o", "in use")]
        if recommended is not None:
            marks.append((recommended, report.recommended_fpr, report.recommended_tpr, "tab:red", "s", "recommended"))
        for value, fpr, tpr, colour, marker, what in marks:
            roc_axes.plot(max(fpr, floor), tpr, marker=marker, color=colour, ls="none", ms=7,
                          label=f"{what} {value:.3f}: FAR {fpr:.2%}, TAR {tpr:.1%}")
        roc_axes.legend(loc="lower right", fontsize=8)
    else:
        roc_axes.text(0.5, 0.5, "no ROC: needs same- and\ndifferent-person pairs", ha="center", va="center")
    eer = f", EER {report.eer:.2%}" if report.eer is not None else ""
    roc_axes.set_title(f"Verification ROC ({report.positives} same, {report.negatives} different pairs{eer})",
                       fontsize=10)
    roc_axes.set_xlabel("false accept rate (different-person pairs accepted; left edge: none)")
    roc_axes.set_ylabel("true accept rate (same-person pairs accepted)")
    roc_axes.grid(True, which="both", alpha=0.25)

    # distance histograms
    distances, same = report.pair_distances, report.pair_same
    top = max(float(distances.max()) if distances.size else 1.0, in_use, recommended or 0.0) * 1.02
    bins = np.linspace(0.0, top, 61)
    if same.any():
        hist_axes.hist(distances[same], bins=bins, density=True, alpha=0.6, color="tab:green",
                       label=f"same person ({int(same.sum())})")
    if (~same).any():
        hist_axes.hist(distances[~same], bins=bins, density=True, alpha=0.6, color="tab:orange",
                       label=f"different people ({int((~same).sum())})")
    hist_axes.axvline(in_use, color="k", ls="--", lw=1.4, label=f"threshold in use {in_use:.3f}")
    if recommended is not None:
        hist_axes.axvline(recommended, color="tab:red", lw=1.6,
                          label=f"recommended {recommended:.3f} (FAR {report.target_far:g})")
    hist_axes.set_title("Cosine distances of the pairs (each group scaled to area 1)", fontsize=10)
    hist_axes.set_xlabel("cosine distance (a match when at most the threshold)")
    hist_axes.set_ylabel("density")
    bottom, top_y = hist_axes.get_ylim()
    hist_axes.set_ylim(bottom, top_y * 1.45)  # room for the legend above the bars
    hist_axes.legend(fontsize=8, loc="upper center", ncols=2)

    # confusion matrix
    ident = report.identification[report.match_mode]
    matrix = ident.confusion
    conf_axes.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, int(matrix.max())))
    people = len(report.names)
    if people <= 40:
        short = [n if len(n) <= 16 else n[:15] + "…" for n in report.names]
        size = 8 if people <= 15 else 6
        conf_axes.set_xticks(range(people), short, rotation=60, ha="right", fontsize=size)
        conf_axes.set_yticks(range(people), short, fontsize=size)
    if people <= 25:
        limit = matrix.max() / 2 if matrix.size else 0
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                conf_axes.text(col, row, str(count), ha="center", va="center", fontsize=8,
                               color="white" if count > limit else "black")
    rank1 = f"rank-1 {ident.rank1:.1%}" if ident.rank1 is not None else "no person with 2+ photos"
    conf_axes.set_title(f"Leave-one-out identification ({report.match_mode}): {rank1}", fontsize=10)
    conf_axes.set_xlabel("predicted (closest person)")
    conf_axes.set_ylabel("true person")

    try:
        figure.savefig(path, format="png")
    except OSError as error:
        raise FacecamError(f"cannot write the figure {path}: {error.strerror or error}; "
                           "choose a writable folder") from None
    return path


# ================================================================ human output

def auc_text(auc: float) -> str:
    """AUC with enough decimals not to round up to a perfect 1 when it is not."""
    digits = 4
    while digits < 8 and auc < 1.0 and float(f"{auc:.{digits}f}") >= 1.0:
        digits += 1
    return f"{auc:.{digits}f}"


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_report(report: EvaluationReport) -> str:
    r = report
    lines = [f"facecam evaluate: {r.root} with {r.model}"]
    singles = len(r.names) - r.people_with_pairs
    lines.append(f"  {r.images} photos: {r.faces_found} with a face, {len(r.no_face)} without (left out)"
                 + (f", {len(r.unreadable)} unreadable" if r.unreadable else "")
                 + f"; {r.people_with_pairs} people with 2+ photos"
                 + (f", {singles} with one (used as strangers only)" if singles else ""))
    for file in r.no_face:
        lines.append(f"  no face: {file}")
    for file, reason in r.unreadable:
        lines.append(f"  unreadable: {file}: {reason}")
    if r.several_faces:
        lines.append(f"  {len(r.several_faces)} photo(s) show several faces; the largest was used "
                     "(crop them if that is not the person): "
                     + ", ".join(Path(f).name for f, _ in r.several_faces[:5])
                     + (", ..." if len(r.several_faces) > 5 else ""))
    lines.append(f"verification ({r.pair_source}: {r.positives} same-person, {r.negatives} different-person pairs)")
    if r.auc is not None:
        lines.append(f"  AUC {auc_text(r.auc)}   EER {_pct(r.eer, 2)} (at {_num(r.eer_threshold)})   "
                     f"best accuracy {_pct(r.best_accuracy, 2)} (at {_num(r.best_threshold)})")
        for far, t in r.tar.items():
            lines.append(f"  TAR {_pct(t.tar)} at FAR {far:g}" + (f"  [{t.note}]" if t.note else ""))
    lines.append(f"  threshold in use {r.threshold_in_use:.3f} ({r.threshold_source or 'given'}): accepts "
                 f"{_pct(r.tpr_in_use)} of same-person pairs, {_pct(r.fpr_in_use, 2)} of different-person pairs")
    ident = r.identification
    lines.append("identification (leave one out)                  nearest     mean")
    lines.append(f"  rank-1 (closest person is right)          {_pct(ident['nearest'].rank1):>9} {_pct(ident['mean'].rank1):>9}")
    lines.append(f"  known photo named right at {r.threshold_in_use:.3f}         "
                 f"{_pct(ident['nearest'].known_named):>9} {_pct(ident['mean'].known_named):>9}")
    lines.append(f"  stranger called Unknown at {r.threshold_in_use:.3f}         "
                 f"{_pct(ident['nearest'].stranger_unknown):>9} {_pct(ident['mean'].stranger_unknown):>9}")
    if r.recommended_threshold is not None:
        rec = r.recommended_threshold
        lines.append(f"  stranger called Unknown at {rec:.3f}         "
                     f"{_pct(r.unknown_rate_at_recommended['nearest']):>9} "
                     f"{_pct(r.unknown_rate_at_recommended['mean']):>9}")
        lines.append(f"recommended: threshold {rec:.3f} (FAR {_pct(r.recommended_fpr, 2)} <= {r.target_far:g} on these "
                     f"pairs, accepts {_pct(r.recommended_tpr)} of same-person pairs), match mode "
                     f"{r.match_mode_recommended} ({r.match_mode_reason})")
        if r.recommendation_note:
            lines.append(f"  note: {r.recommendation_note}")
    else:
        lines.append("recommended threshold: none (see the warnings)")
    for warning in r.warnings:
        lines.append(f"warning: {warning}")
    lines.append("how to choose: a face is named when its distance is at most the threshold. Lower it and fewer "
                 "strangers get a name but more known faces show as Unknown; raise it for the reverse. "
                 "The recommended value keeps wrong names rare (FAR target); if known people then show as Unknown "
                 "too often, add 3-5 varied photos of them before raising it. Use --apply to save it.")
    return "\n".join(lines)


# ================================================================ the command

def add_command(commands, add_common) -> None:
    from facecam.cli import number_between  # noqa: PLC0415 - cli imports this module to register it

    sub = commands.add_parser("evaluate", help="measure accuracy on a folder of labelled photos and "
                              "recommend a threshold", description=__doc__.splitlines()[0])
    add_common(sub)
    sub.add_argument("folder", nargs="?", type=Path, metavar="DIR",
                     help="a folder per person, 2+ photos each for the people that count (default: --known-faces)")
    sub.add_argument("--pairs", type=Path, metavar="CSV",
                     help="verify these pairs (file_x,file_y,same; paths relative to DIR) instead of all pairs")
    sub.add_argument("--target-far", type=number_between(0.0, 1.0, "a rate (e.g. 0.001)"),
                     default=DEFAULT_TARGET_FAR, metavar="F",
                     help="false accept rate the recommended threshold aims at (default 0.001)")
    sub.add_argument("--plot", type=Path, metavar="PNG", help="write the ROC, distance histograms and confusion matrix")
    sub.add_argument("--apply", action="store_true",
                     help="save the recommended threshold and matching mode for this model")
    sub.set_defaults(handler=run_evaluate)


def fallback_cache_root() -> Path:
    """Where the embeddings of a read-only folder are cached (the user cache)."""
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_cache_dir("facecam")) / "evaluate"


def _read_only(root: Path) -> bool:
    """True when facecam should not write into ``root``: its cache folder (or ``root``) is marked read-only."""
    from facecam.gallery import CACHE_DIR  # noqa: PLC0415

    target = root / CACHE_DIR
    probe = target if target.exists() else root
    try:
        mode = probe.stat().st_mode
    except OSError:
        return False
    return not (mode & 0o222) or not os.access(probe, os.W_OK)


def open_gallery(root: Path, recognizer):
    """``(gallery, note)``: the gallery of ``root``, cached in ``root/.facecam`` or, when ``root`` is
    read-only, in the user cache (``note`` then says where)."""
    from facecam.gallery import Gallery  # noqa: PLC0415

    if not _read_only(root):
        return Gallery.for_recognizer(root, recognizer), None
    folder = fallback_cache_root() / hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]

    return Gallery.for_recognizer(root, recognizer, cache_dir=folder), \
        f"{root} is read-only; its embeddings are cached in {folder}"


def run_evaluate(session, args, out) -> int:
    from facecam.cli import Progress  # noqa: PLC0415

    root = Path(args.folder if args.folder is not None else args.known_faces)
    if not root.is_dir():
        raise FacecamError(f"the folder {root} does not exist; give a folder with a sub-folder of photos per person")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise FacecamError(f"--plot writes a PNG: give a file name ending in .png, not {args.plot.name}")
    pairs = read_pairs_csv(args.pairs, root) if args.pairs is not None else None  # before loading any model
    model = session.model
    threshold = session.threshold()
    mode = config.match_mode_for(model, args.match)

    recognizer = session.recognizer()
    gallery, note = open_gallery(root, recognizer)
    if note:
        out.message(f"facecam: note: {note}")
    index_report = gallery.refresh(recognizer.embed_photo, progress=Progress(f"indexing {root}", out.stderr))
    for warning in index_report.warnings:
        out.message(f"facecam: warning: {warning}")
    if index_report.photos == 0:
        raise FacecamError(f"no photo with a face in {root}; put a folder of photos per person there")

    report = evaluate_gallery(gallery, threshold, args.target_far, match_mode=mode, pairs=pairs,
                              index_report=index_report, threshold_source=threshold_source(model, args.threshold))
    if args.pairs is not None:
        report.pair_source = str(args.pairs)
    result = report.to_json()
    human = format_report(report)
    if args.plot is not None:
        plot_report(report, args.plot)
        result["plot"] = str(args.plot)
        human += f"\nfigure written to {args.plot}"
    if args.apply:
        changes = apply_recommendation(report)
        result["applied"] = changes
        old_t, new_t = changes["threshold"]["old"], changes["threshold"]["new"]
        old_m, new_m = changes["match_mode"]["old"], changes["match_mode"]["new"]
        human += (f"\napplied for {model}: threshold {old_t} -> {new_t}"
                  f"{'' if old_t != new_t else ' (unchanged)'}, match mode {old_m} -> {new_m}"
                  f"{'' if old_m != new_m else ' (unchanged)'}; saved in {changes['settings']}. "
                  "Every command and the window use it from now on.")
        if report.recommendation_note:
            out.message(f"facecam: warning: the applied threshold rests on little evidence: {report.recommendation_note}")
    out.result(result, human)
    return 0
