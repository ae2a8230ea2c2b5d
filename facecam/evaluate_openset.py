"""``evaluate --strangers DIR2``: the open set, measured the way a door sees it.

The gallery is the evaluated folder (or the database's people); the strangers are the photos of another
folder, people who are not enrolled. Reported:

* **FPIR**, the share of strangers' photos given a name: each photo's largest face through
  :meth:`facecam.recognizer.Recognizer.recognize` against the whole gallery, with the decision in use (what
  ``identify`` says of that photo's first face, by construction: the same call);
* **DIR**, the share of enrolled people's photos named right, each photo left out of the gallery in turn
  (what ``identify`` says of it against the folder without that photo);
* both across single thresholds (the report's figure), and a recommendation for the target share of
  strangers at this gallery's size: facecam's own decision for that target (its measured curve), and the
  threshold these strangers measure, when there are enough of them (at least ``1 / target``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from facecam.errors import FacecamError
from facecam.evaluate_metrics import OpenSetScores, person_distances_loo
from facecam.matcher import GalleryMatrix, person_distances
from facecam.openset import DEFAULT_STRANGER_RATE, Decision, entries_compared, rate_text

CURVE_THRESHOLDS = np.round(np.arange(0.30, 0.901, 0.005), 3)


@dataclass
class OpenSetEvaluation:
    """What ``evaluate --strangers`` measured (rates are shares in [0, 1], None where not measurable)."""

    strangers_dir: str
    decision: dict                  # Decision.describe against the gallery
    people: int
    mated: int                      # enrolled photos tried (people with 2+ photos), each left out in turn
    strangers: int                  # strangers' photos with a face
    strangers_no_face: list[str]
    strangers_unreadable: list[tuple[str, str]]
    dir: float | None               # at the decision in use
    fpir: float | None
    strangers_named: list[tuple[str, str]]  # (file, the name given)
    target: float
    target_threshold: float         # facecam's decision for the target at this gallery's size
    target_dir: float | None
    target_fpir: float | None
    measured_threshold: float | None  # the largest single threshold naming at most the target share here
    measured_dir: float | None
    measurable: bool                # enough strangers for the target (at least 1 / target)
    thresholds: np.ndarray = field(repr=False, default_factory=lambda: CURVE_THRESHOLDS)
    dir_curve: np.ndarray | None = field(repr=False, default=None)
    fpir_curve: np.ndarray | None = field(repr=False, default=None)

    @property
    def recommendation(self) -> str:
        goal = f"about {rate_text(self.target)} strangers named with {self.people:,} people enrolled"
        if self.measured_threshold is not None and self.measurable:
            return (f"for {goal}: threshold {self.measured_threshold:.3f} on these strangers "
                    f"(facecam's own decision gives {self.target_threshold:.3f}); keep the default "
                    f"(--stranger-rate {self.target:g}) to have it follow the gallery as it grows")
        return (f"for {goal}: facecam's decision, threshold {self.target_threshold:.3f} (--stranger-rate "
                f"{self.target:g}); {self.strangers} stranger photo(s) are too few to measure "
                f"{rate_text(self.target)} (need {int(np.ceil(1 / self.target))}+)")

    def to_json(self) -> dict:
        return {"strangers_dir": self.strangers_dir, "decision": self.decision, "people": self.people,
                "mated_probes": self.mated, "stranger_photos": self.strangers,
                "strangers_no_face": list(self.strangers_no_face),
                "strangers_unreadable": [{"file": f, "reason": r} for f, r in self.strangers_unreadable],
                "dir": self.dir, "fpir": self.fpir,
                "strangers_named": [{"file": f, "name": n} for f, n in self.strangers_named],
                "target_fpir": self.target, "target_threshold": self.target_threshold,
                "at_target_threshold": {"dir": self.target_dir, "fpir": self.target_fpir},
                "measured_threshold": self.measured_threshold, "measured_dir": self.measured_dir,
                "measurable": self.measurable, "recommendation": self.recommendation,
                "curve": {"thresholds": self.thresholds.tolist(),
                          "dir": None if self.dir_curve is None else np.round(self.dir_curve, 5).tolist(),
                          "fpir": None if self.fpir_curve is None else np.round(self.fpir_curve, 5).tolist()}}

    def text(self) -> str:
        def pct(value):
            return "n/a" if value is None else f"{100 * value:.1f}%"

        lines = [f"Open set: {self.strangers} stranger photo(s) from {self.strangers_dir} against "
                 f"{self.people} enrolled people ({self.decision['basis']})",
                 f"  strangers named (FPIR): {pct(self.fpir)}; enrolled photos named right (DIR, each left out "
                 f"in turn, {self.mated}): {pct(self.dir)}"]
        if self.strangers_named:
            shown = ", ".join(f"{Path(f).name} -> {n}" for f, n in self.strangers_named[:5])
            more = f" and {len(self.strangers_named) - 5} more" if len(self.strangers_named) > 5 else ""
            lines.append(f"  strangers given a name: {shown}{more}")
        lines.append(f"  recommended: {self.recommendation}")
        if self.strangers_no_face or self.strangers_unreadable:
            lines.append(f"  left out: {len(self.strangers_no_face)} stranger photo(s) with no face, "
                         f"{len(self.strangers_unreadable)} unreadable")
        return "\n".join(lines)


def stranger_photos(folder: Path) -> list[Path]:
    """Every photo under ``folder`` (hidden files and folders left out), sorted."""
    from facecam.images import is_image_name  # noqa: PLC0415

    folder = Path(folder)
    if not folder.is_dir():
        raise FacecamError(f"--strangers: the folder {folder} does not exist; give a folder of photos of people "
                           "who are not enrolled")
    found = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name)
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not found:
        raise FacecamError(f"--strangers: no photos in {folder}; facecam reads .jpg .jpeg .png .bmp .webp")
    return found


def evaluate_open_set(gallery: GalleryMatrix, recognizer, strangers_dir: Path, *,
                      target: float | None = None,
                      progress: Callable[[int, int, str], None] | None = None) -> OpenSetEvaluation:
    """Measure the open set of ``gallery`` against the photos of ``strangers_dir`` with ``recognizer``'s
    decision and match mode (see the module docstring). ``target``: the share of strangers aimed at (default:
    the decision's, else :data:`facecam.openset.DEFAULT_STRANGER_RATE`)."""
    from facecam.images import read_image  # noqa: PLC0415

    if len(gallery) == 0:
        raise FacecamError("nobody with a face is enrolled: the open set needs a gallery; enroll people first")
    decision: Decision = recognizer.decision
    mode = recognizer.match_mode
    target = float(target or decision.stranger_rate or DEFAULT_STRANGER_RATE)
    photos = stranger_photos(strangers_dir)
    rows, named, no_face, unreadable = [], [], [], []
    for done, path in enumerate(photos, start=1):
        if progress is not None:
            progress(done, len(photos), str(path))
        try:
            result = recognizer.recognize(read_image(path), gallery)
        except FacecamError as error:
            unreadable.append((str(path), str(error)))
            continue
        if not result.matches:
            no_face.append(str(path))
            continue
        rows.append(result.embeddings[0])
        if result.matches[0].name is not None:
            named.append((str(path), result.matches[0].name))
    strangers = np.asarray(rows, dtype=np.float32).reshape(-1, gallery.dim)
    stranger_distances = person_distances(strangers, gallery, mode)

    labels = gallery.labels
    people = len(gallery.names)
    counts = np.bincount(labels, minlength=people)
    loo = person_distances_loo(gallery.embeddings, labels, people, mode)
    probes = np.flatnonzero(counts[labels] >= 2)
    scores = OpenSetScores.of(loo[probes], labels[probes], stranger_distances)
    best = np.argmin(loo[probes], axis=1) if probes.size else np.zeros(0, np.int64)
    dir_in_use = _named_right(decision, scores, best, labels[probes], counts, gallery, mode)

    target_decision = Decision(decision.model, stranger_rate=target)
    target_threshold = float(np.max(np.atleast_1d(target_decision.threshold_at(gallery, mode))))
    target_dir = _named_right(target_decision, scores, best, labels[probes], counts, gallery, mode)
    target_named = sum(m.name is not None for m in _matches(strangers, gallery, target_decision, mode))
    measured = scores.threshold_for_fpir(target) if strangers.shape[0] else None
    measured_dir = scores.rates(measured)[0] if measured is not None else None
    dir_curve, fpir_curve = scores.rates(CURVE_THRESHOLDS)
    return OpenSetEvaluation(
        strangers_dir=str(strangers_dir), decision=recognizer.decision_basis(gallery), people=people,
        mated=int(probes.size), strangers=int(strangers.shape[0]), strangers_no_face=no_face,
        strangers_unreadable=unreadable, dir=dir_in_use,
        fpir=len(named) / strangers.shape[0] if strangers.shape[0] else None, strangers_named=named,
        target=target, target_threshold=round(target_threshold, 4), target_dir=target_dir,
        target_fpir=target_named / strangers.shape[0] if strangers.shape[0] else None,
        measured_threshold=None if measured is None else round(measured, 4), measured_dir=measured_dir,
        measurable=strangers.shape[0] >= int(np.ceil(1 / target - 1e-9)),
        dir_curve=dir_curve, fpir_curve=fpir_curve)


def _matches(embeddings: np.ndarray, gallery: GalleryMatrix, decision: Decision, mode: str):
    from facecam.matcher import match_embeddings  # noqa: PLC0415

    return match_embeddings(embeddings, gallery, decision, mode) if embeddings.shape[0] else []


def _named_right(decision: Decision, scores: OpenSetScores, best: np.ndarray, truth: np.ndarray,
                 counts: np.ndarray, gallery: GalleryMatrix, mode: str) -> float | None:
    """DIR at ``decision`` with each probe left out of its own person (a person with one photo fewer: the
    decision's threshold for that count, as ``identify`` against the folder without the photo would use)."""
    if scores.mated_distance.size == 0:
        return None
    entries = entries_compared(gallery, mode) - (0 if mode == "mean" else 1)
    if mode == "mean" and decision.follows_size:
        k = counts[best] - (best == truth)
        limits = np.array([decision.threshold_for(entries, int(n)) for n in k])
    else:
        limits = np.full(best.shape, decision.threshold_for(entries))
    return float(np.mean(scores.mated_right & (scores.mated_distance <= limits)))
