"""The ``evaluate`` command: its options, and running :func:`facecam.evaluate.evaluate_folder` for a terminal."""

from __future__ import annotations

from pathlib import Path

from facecam import config
from facecam.console import Progress, number_between
from facecam.errors import FacecamError
from facecam.evaluate import (DEFAULT_TARGET_FAR, apply_recommendation, evaluate_folder, read_pairs_csv,
                              threshold_source)
from facecam.evaluate_report import format_report, plot_report

HELP = "measure accuracy on a folder of labelled photos and recommend a threshold"
DESCRIPTION = ("How well a model tells your people apart, and a threshold for it: verification over all pairs "
               "(ROC, AUC, EER, TAR at a FAR), leave-one-out identification and the open-set test, on a folder "
               "with a sub-folder of photos per person.")


def add_options(sub) -> None:
    """The options only ``evaluate`` has (the shared ones are added by the command line)."""
    sub.add_argument("folder", nargs="?", type=Path, metavar="DIR",
                     help="a folder per person, 2+ photos each for the people that count (default: --known-faces)")
    sub.add_argument("--pairs", type=Path, metavar="CSV",
                     help="verify these pairs (file_x,file_y,same; paths relative to DIR) instead of all pairs")
    sub.add_argument("--target-far", type=number_between(0.0, 1.0, "a rate (e.g. 0.001)"),
                     default=DEFAULT_TARGET_FAR, metavar="F",
                     help="false accept rate the recommended threshold aims at (default 0.001)")
    sub.add_argument("--plot", type=Path, metavar="PNG", help="write the ROC, distance histograms and confusion matrix")
    sub.add_argument("--apply", action="store_true",
                     help="save the recommended threshold and matching mode for this model (refused when the "
                          "pairs are too few to measure the target FAR)")
    sub.add_argument("--force", action="store_true",
                     help="with --apply: save the threshold even when the pairs are too few to measure it")


def run_evaluate(session, args, out) -> int:
    root = Path(args.folder if args.folder is not None else args.known_faces)
    if not root.is_dir():
        raise FacecamError(f"the folder {root} does not exist; give a folder with a sub-folder of photos per person")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise FacecamError(f"--plot writes a PNG: give a file name ending in .png, not {args.plot.name}")
    if args.force and not args.apply:
        raise FacecamError("--force only changes what --apply does; add --apply, or leave --force out")
    pairs = read_pairs_csv(args.pairs, root) if args.pairs is not None else None  # before loading any model
    model = session.model
    threshold = session.threshold()
    found = evaluate_folder(root, session.recognizer(), threshold, match_mode=config.match_mode_for(model, args.match),
                            target_far=args.target_far, pairs=pairs,
                            threshold_source=threshold_source(model, args.threshold),
                            progress=Progress(f"indexing {root}", out.stderr))
    for note in found.notes:
        out.message(f"facecam: note: {note}" if note == found.index.cache_note else f"facecam: warning: {note}")
    report = found.report
    if report is None:
        raise FacecamError(f"no photo with a face in {root}; put a folder of photos per person there")
    if args.pairs is not None:
        report.pair_source = str(args.pairs)
    result = report.to_json()
    human = format_report(report)
    if args.plot is not None:
        plot_report(report, args.plot)
        result["plot"] = str(args.plot)
        human += f"\nfigure written to {args.plot}"
    if args.apply:
        try:
            changes = apply_recommendation(report, force=args.force)
        except FacecamError:
            out.result(result, human)  # the report stands; the refusal is the one error line
            raise
        result["applied"] = changes
        human += "\n" + applied_text(report.model, changes)
        if report.recommendation_note:
            out.message(f"facecam: warning: the applied threshold rests on little evidence: "
                        f"{report.recommendation_note}")
    out.result(result, human)
    return 0


def applied_text(model: str, changes: dict) -> str:
    old_t, new_t = changes["threshold"]["old"], changes["threshold"]["new"]
    old_m, new_m = changes["match_mode"]["old"], changes["match_mode"]["new"]
    return (f"applied for {model}: threshold {old_t} -> {new_t}{'' if old_t != new_t else ' (unchanged)'}, "
            f"match mode {old_m} -> {new_m}{'' if old_m != new_m else ' (unchanged)'}; saved in "
            f"{changes['settings']}. Every command and the window use it from now on.")
