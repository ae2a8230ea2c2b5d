"""``facecam evaluate``: how well a model tells your people apart, and a threshold for it.

A folder in the known_faces layout (a folder per person) is indexed once (the
gallery cache; a read-only folder keeps its cache in the user cache folder),
then measured with the functions of :mod:`facecam.evaluate_metrics`:

* verification over all pairs of faces, or the pairs of a CSV
  ``file_x,file_y,same`` (paths relative to the folder): ROC, AUC, EER, the best
  accuracy, TAR at FAR 1e-2 and 1e-3 (flagged when there are too few
  different-person pairs for the FAR to mean much), and what the threshold in
  use does;
* identification, leave one photo out, by the nearest photo and by each
  person's mean embedding: rank-1 and a confusion matrix; open set, leave one
  person out: the share of a stranger's photos called Unknown at the threshold;
* a recommended threshold: the distance at which the share of different-person
  pairs accepted (FAR) is at most the target (default 1e-3), and the better
  matching mode. :func:`apply_recommendation` saves both in the settings; it
  refuses a threshold the pairs cannot measure (fewer different-person pairs
  than ``1 / target``) unless forced.

:func:`evaluate_folder` is the one flow, shared by the command
(:mod:`facecam.evaluate_command`) and the window's Check accuracy; the text and
the figure are in :mod:`facecam.evaluate_report`. Photos with no face are
reported and left out; people with one photo only serve as strangers.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from facecam import config
from facecam.errors import FacecamError
from facecam.evaluate_metrics import (MATCH_MODES, REPORTED_FARS, Identification, Roc, TarAtFar, best_accuracy,
                                      distance_matrix, equal_error_rate, false_accepts_allowed, far_note,
                                      identify_leave_one_out, percent, person_distances_loo, rates_at, roc_auc,
                                      roc_curve, stranger_unknown_rate, tar_at_far, threshold_for_far, upper_pairs)

DEFAULT_TARGET_FAR = 1e-3
_SAME_VALUES = {"1": True, "true": True, "yes": True, "same": True,
                "0": False, "false": False, "no": False, "different": False}


class PairsError(FacecamError):
    """A pairs CSV cannot be used (unreadable, or a row names its problem)."""


class NotMeasurableError(FacecamError):
    """The recommended threshold rests on too few different-person pairs to be applied."""


def better_mode(by_mode: dict[str, Identification], unknown_rates: dict[str, float | None],
                current: str) -> tuple[str, str]:
    """``(mode, reason)``: higher rank-1; on a tie, more strangers called Unknown; still tied: ``current``."""
    a, b = by_mode["nearest"], by_mode["mean"]
    if a.rank1 is None:
        return current, "no person has 2+ photos: keeping the mode in use"
    if a.correct != b.correct:
        winner = "nearest" if a.correct > b.correct else "mean"
        loser = "mean" if winner == "nearest" else "nearest"
        return winner, (f"higher rank-1 ({percent(by_mode[winner].rank1)} vs {percent(by_mode[loser].rank1)})")
    ua, ub = unknown_rates.get("nearest"), unknown_rates.get("mean")
    if ua is not None and ub is not None and ua != ub:
        winner = "nearest" if ua > ub else "mean"
        return winner, (f"same rank-1; turns away more strangers ({percent(max(ua, ub))} vs {percent(min(ua, ub))})")
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
    open_set: object = None           # facecam.evaluate_openset.OpenSetEvaluation with --strangers

    @property
    def rank1(self) -> float | None:
        return self.identification[self.match_mode].rank1

    @property
    def people_with_pairs(self) -> int:
        return sum(1 for n in self.photos_per_person.values() if n >= 2)

    @property
    def recommendation_measurable(self) -> bool:
        """False when the pairs are too few to show the target FAR at all: the threshold is then a guess."""
        return false_accepts_allowed(self.target_far, self.negatives) > 0

    @property
    def pairs_needed(self) -> int:
        """Different-person pairs needed for the target FAR to be measurable."""
        return math.ceil(1.0 / self.target_far - 1e-9)

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
            "recommendation_measurable": self.recommendation_measurable,
            "match_mode_recommended": self.match_mode_recommended,
            "match_mode_reason": self.match_mode_reason,
            "confusion": {"mode": self.match_mode, "names": list(self.names),
                          "matrix": ident[self.match_mode].confusion.tolist()},
            "indexing": dict(self.indexing),
            "warnings": list(self.warnings),
            **({"open_set": self.open_set.to_json()} if self.open_set is not None else {}),
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
        distances, same, _, _ = upper_pairs(full, labels)
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

def apply_recommendation(report: EvaluationReport, settings_file: Path | None = None, *, force: bool = False,
                         by: str = "evaluate --apply") -> dict:
    """Save the recommended threshold and matching mode for the report's model (other settings kept), with
    ``by`` and today's date (the commands say where a saved threshold comes from).

    Refuses (:class:`NotMeasurableError`) a threshold the report flags as not measurable, unless ``force``.
    Returns ``{"settings", "threshold": {"old", "new"}, "match_mode": {"old", "new"}}``.
    """
    if report.recommended_threshold is None:
        raise FacecamError("there is no recommended threshold to apply: the folder needs at least two people, "
                           "some with 2+ photos, and different people must not look closer than the same person")
    if not report.recommendation_measurable and not force:
        raise NotMeasurableError(
            f"not applied: {report.recommended_threshold:.3f} rests on {report.negatives} different-person pairs, "
            f"too few to measure a FAR of {report.target_far:g} (needs {report.pairs_needed}+); "
            "add photos of more people, or --force to apply it anyway")
    path = Path(settings_file) if settings_file else config.settings_path()
    problem = config.settings_unusable(path)
    if problem:
        raise FacecamError(f"the settings file {path} cannot be read as settings (it {problem}); fix or delete it, "
                           "then run again")
    settings = config.load_settings(path)
    old_threshold = config.threshold_for(report.model, settings=settings)
    old_mode = config.match_mode_for(report.model, settings=settings)
    applied = {"by": by, "on": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for key, value in (("thresholds", report.recommended_threshold), ("match_mode", report.match_mode_recommended),
                       ("threshold_applied", applied)):
        settings[key] = {**settings.get(key, {}), report.model: value}
    written = config.save_settings(settings, path)
    return {"settings": str(written),
            "threshold": {"old": old_threshold, "new": report.recommended_threshold},
            "match_mode": {"old": old_mode, "new": report.match_mode_recommended}}


def threshold_source(model: str, override: float | None) -> str:
    """Where the threshold in use comes from, in the report's words."""
    origin = config.threshold_choice(model, override).origin
    return {"override": "--threshold", "settings": "saved setting", "default": "facecam default"}[origin]


# ================================================================ the flow (the command and the window)

@dataclass
class FolderEvaluation:
    """What :func:`evaluate_folder` found: the indexing, notes for people, and the report (None when no
    photo has a face)."""

    root: Path
    gallery: object                      # facecam.gallery.Gallery, refreshed
    index: object                        # its IndexReport
    notes: list[str] = field(default_factory=list)  # where the cache went, indexing warnings
    report: EvaluationReport | None = None

    @property
    def interrupted(self) -> bool:
        return bool(self.index.interrupted)


def evaluate_folder(root: Path, recognizer, threshold: float, *, match_mode: str,
                    target_far: float = DEFAULT_TARGET_FAR, pairs: Sequence[LabelledPair] | None = None,
                    threshold_source: str = "", progress: Callable[[int, int, str], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> FolderEvaluation:
    """Index ``root`` (its own cache when it has one, as a known_faces folder does, else the user cache: a data
    set's folder is not written to) and evaluate it: the one evaluate
    flow of the command and the window. Slow the first time (every photo is embedded once).

    ``progress(done, total, path)`` per photo; ``should_stop()`` ends the indexing early (then
    ``interrupted`` is True and there is no report).
    """
    from facecam.gallery import (CACHE_DIR, Gallery, fallback_cache_dir,  # noqa: PLC0415 - numpy-only users of
                                 read_only_folder)                         # the metrics need no gallery

    root = Path(root)
    if not root.is_dir():
        raise FacecamError(f"the folder {root} does not exist; give a folder with a sub-folder of photos per person")
    # a known_faces folder keeps using its own cache; a data set is left as it was (its cache in the user cache)
    own_cache = (root / CACHE_DIR).is_dir() or read_only_folder(root)
    gallery = Gallery.for_recognizer(root, recognizer, None if own_cache else fallback_cache_dir(root))
    index = gallery.refresh(recognizer.embed_photo, progress=progress, should_stop=should_stop)
    found = FolderEvaluation(root, gallery, index, [index.cache_note] if index.cache_note else [])
    found.notes.extend(index.warnings)
    if index.interrupted or index.photos == 0:
        return found
    found.report = evaluate_gallery(gallery, threshold, target_far, match_mode=match_mode, pairs=pairs,
                                    index_report=index, threshold_source=threshold_source)
    return found
