"""The ``facecam evaluate`` report for people: its text and its figure (matplotlib, loaded only here
and only when a figure is drawn). The window shows the same text and figure."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facecam.errors import FacecamError
from facecam.evaluate_metrics import REPORTED_FARS, percent

if TYPE_CHECKING:  # pragma: no cover
    from facecam.evaluate import EvaluationReport


def plot_report(report: "EvaluationReport", path: Path) -> Path:
    """One PNG: the ROC (log FAR), the distance histograms with both thresholds, the confusion matrix."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    path = Path(path)
    open_set = report.open_set
    figure = Figure(figsize=(22.0 if open_set is not None else 16.5, 5.4), dpi=90, layout="constrained")
    FigureCanvasAgg(figure)
    if open_set is not None:
        roc_axes, hist_axes, conf_axes, open_axes = figure.subplots(1, 4, width_ratios=[1, 1, 1.05, 1])
        _plot_open_set(open_set, open_axes)
    else:
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



def _plot_open_set(open_set, axes) -> None:
    """DIR and FPIR across single thresholds, with the decision in use and the target's threshold."""
    t = open_set.thresholds
    if open_set.dir_curve is not None:
        axes.plot(t, open_set.dir_curve, color="tab:green", lw=1.6, label="enrolled named right (DIR)")
    if open_set.fpir_curve is not None:
        axes.plot(t, open_set.fpir_curve, color="tab:orange", lw=1.6, label="strangers named (FPIR)")
    axes.axvline(open_set.target_threshold, color="tab:red", lw=1.4,
                 label=f"facecam for {open_set.target:g} FPIR: {open_set.target_threshold:.3f}")
    if open_set.measured_threshold is not None:
        axes.axvline(open_set.measured_threshold, color="tab:purple", ls=":", lw=1.4,
                     label=f"measured here: {open_set.measured_threshold:.3f}")
    axes.axhline(open_set.target, color="0.6", ls="--", lw=0.8)
    axes.set_title(f"Open set: {open_set.strangers} strangers, {open_set.people} people "
                   f"(in use: FPIR {percent(open_set.fpir)}, DIR {percent(open_set.dir)})", fontsize=10)
    axes.set_xlabel("threshold (cosine distance)")
    axes.set_ylabel("share")
    axes.set_ylim(-0.02, 1.02)
    axes.grid(True, alpha=0.25)
    axes.legend(fontsize=8, loc="center right")


# ================================================================ human output

def auc_text(auc: float) -> str:
    """AUC with enough decimals not to round up to a perfect 1 when it is not."""
    digits = 4
    while digits < 8 and auc < 1.0 and float(f"{auc:.{digits}f}") >= 1.0:
        digits += 1
    return f"{auc:.{digits}f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_report(report: "EvaluationReport", save_hint: str = "Use --apply to save it.") -> str:
    """The report as text; ``save_hint`` ends it: how to save the threshold where it is read (the CLI's option,
    the window's button), or "" where it was already asked for."""
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
        lines.append(f"  AUC {auc_text(r.auc)}   EER {percent(r.eer, 2)} (at {_num(r.eer_threshold)})   "
                     f"best accuracy {percent(r.best_accuracy, 2)} (at {_num(r.best_threshold)})")
        for far, t in r.tar.items():
            lines.append(f"  TAR {percent(t.tar)} at FAR {far:g}" + (f"  [{t.note}]" if t.note else ""))
    lines.append(f"  threshold in use {r.threshold_in_use:.3f} ({r.threshold_source or 'given'}): accepts "
                 f"{percent(r.tpr_in_use)} of same-person pairs, {percent(r.fpr_in_use, 2)} of different-person pairs")
    ident = r.identification
    lines.append("identification (leave one out)                  nearest     mean")
    lines.append(f"  rank-1 (closest person is right)          {percent(ident['nearest'].rank1):>9} {percent(ident['mean'].rank1):>9}")
    lines.append(f"  known photo named right at {r.threshold_in_use:.3f}         "
                 f"{percent(ident['nearest'].known_named):>9} {percent(ident['mean'].known_named):>9}")
    lines.append(f"  stranger called Unknown at {r.threshold_in_use:.3f}         "
                 f"{percent(ident['nearest'].stranger_unknown):>9} {percent(ident['mean'].stranger_unknown):>9}")
    if r.recommended_threshold is not None:
        rec = r.recommended_threshold
        lines.append(f"  stranger called Unknown at {rec:.3f}         "
                     f"{percent(r.unknown_rate_at_recommended['nearest']):>9} "
                     f"{percent(r.unknown_rate_at_recommended['mean']):>9}")
        lines.append(f"recommended: threshold {rec:.3f} (FAR {percent(r.recommended_fpr, 2)} <= {r.target_far:g} on these "
                     f"pairs, accepts {percent(r.recommended_tpr)} of same-person pairs), match mode "
                     f"{r.match_mode_recommended} ({r.match_mode_reason})")
        if r.recommendation_note:
            lines.append(f"  note: {r.recommendation_note}")
    else:
        lines.append("recommended threshold: none (see the warnings)")
    if r.open_set is not None:
        lines.append(r.open_set.text())
    for warning in r.warnings:
        lines.append(f"warning: {warning}")
    lines.append("how to choose: a face is named when its distance is at most the threshold. Lower it and fewer "
                 "strangers get a name but more known faces show as Unknown; raise it for the reverse. "
                 "The recommended value keeps wrong names rare (FAR target); if known people then show as Unknown "
                 "too often, add 3-5 varied photos of them before raising it." + (f" {save_hint}" if save_hint else ""))
    return "\n".join(lines)
