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
               "with a sub-folder of photos per person, or with --db (or $FACECAM_DB) and no folder, on the "
               "database's people.")


def add_options(sub) -> None:
    """The options only ``evaluate`` has (the shared ones are added by the command line)."""
    sub.add_argument("folder", nargs="?", type=Path, metavar="DIR",
                     help="a folder per person, 2+ photos each for the people that count (default: --known-faces)")
    sub.add_argument("--pairs", type=Path, metavar="CSV",
                     help="verify these pairs (file_x,file_y,same; paths relative to DIR) instead of all pairs")
    sub.add_argument("--target-far", type=number_between(0.0, 1.0, "a rate (e.g. 0.001)"),
                     default=DEFAULT_TARGET_FAR, metavar="F",
                     help="false accept rate the recommended threshold aims at (default 0.001)")
    sub.add_argument("--strangers", type=Path, metavar="DIR2",
                     help="a folder of photos of people who are not enrolled: report the share of them given a "
                          "name (FPIR) and of enrolled photos named right (DIR), at the decision in use and across "
                          "thresholds, and a setting for the target share (--stranger-rate, default 1/100)")
    sub.add_argument("--plot", type=Path, metavar="PNG", help="write the ROC, distance histograms and confusion matrix")
    sub.add_argument("--apply", action="store_true",
                     help="save the recommended threshold and matching mode for this model (refused when the "
                          "pairs are too few to measure the target FAR)")
    sub.add_argument("--force", action="store_true",
                     help="with --apply: save the threshold even when the pairs are too few to measure it")


def run_evaluate(session, args, out) -> int:
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise FacecamError(f"--plot writes a PNG: give a file name ending in .png, not {args.plot.name}")
    if args.force and not args.apply:
        raise FacecamError("--force only changes what --apply does; add --apply, or leave --force out")
    if args.strangers is not None and not Path(args.strangers).is_dir():
        raise FacecamError(f"--strangers: the folder {args.strangers} does not exist; give a folder of photos of "
                           "people who are not enrolled")
    if session.db_url and args.folder is None:
        report = _database_report(session, args)
        _open_set(report, session.gallery().matrix(), session, args, out)
        return _finish(report, args, out)
    root = Path(args.folder if args.folder is not None else args.known_faces)
    if not root.is_dir():
        raise FacecamError(f"the folder {root} does not exist; give a folder with a sub-folder of photos per person")
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
    _open_set(report, found.gallery.matrix(), session, args, out)
    return _finish(report, args, out)


def _open_set(report, matrix, session, args, out) -> None:
    """``--strangers``: the open set against the evaluated gallery, with the decision in use."""
    if args.strangers is None:
        return
    from facecam.evaluate_openset import evaluate_open_set  # noqa: PLC0415

    recognizer = session.recognizer()
    recognizer.threshold = session.decision()
    report.open_set = evaluate_open_set(matrix, recognizer, Path(args.strangers),
                                        progress=Progress(f"identifying {args.strangers}", out.stderr))


def _database_report(session, args):
    """``evaluate --db`` (or ``$FACECAM_DB``) without a folder: the database's gallery for this model, its
    stored embeddings (the enrolling instance's, or embedded here from the face thumbnails), every pair
    verified and each photo identified leave-one-out against the others, as for a folder."""
    if args.pairs is not None:
        raise FacecamError("--pairs names files of a folder; with --db the database's photos are evaluated on all "
                           "pairs: leave --pairs out, or give the folder: facecam evaluate DIR --pairs CSV")
    from facecam.evaluate import evaluate_embeddings  # noqa: PLC0415

    model = session.model
    threshold = session.threshold()
    matrix = session.gallery().matrix()
    if len(matrix) == 0:
        raise FacecamError(f"nobody with a face is enrolled in {session.gallery_name}; enroll people there "
                           "(enroll --db, index --db) or evaluate a folder: facecam evaluate DIR")
    report = evaluate_embeddings(matrix.embeddings, matrix.labels, matrix.names, threshold,
                                 target_far=args.target_far, match_mode=config.match_mode_for(model, args.match),
                                 model=model, root=session.gallery_name)
    report.threshold_source = threshold_source(model, args.threshold)
    read = session.report  # the database gallery's refresh: photos embedded here, skipped, with no face
    report.unreadable = list(read.skipped)
    report.images = report.faces_found + read.no_face + len(read.skipped)
    report.indexing = {"embedded": read.embedded, "reused": report.faces_found - read.embedded}
    if read.no_face:
        report.warnings.append(f"{read.no_face} photo(s) in the database show no face to {model}; left out")
    return report


def _finish(report, args, out) -> int:
    """Print the report (plot, --apply): the same for a folder and for the database."""
    result = report.to_json()
    human = format_report(report, save_hint="" if args.apply else "Use --apply to save it.")  # asked: not again
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
