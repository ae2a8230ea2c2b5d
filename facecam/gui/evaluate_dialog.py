"""Check accuracy: ``facecam evaluate`` on known_faces, in the window.

The dialog is non-modal (the video goes on behind it). Everything slow runs on the
worker thread ``facecam-evaluate``: refreshing the gallery (its cache makes that cheap
when the window has already indexed the folder), the evaluation itself, and drawing
the figure with matplotlib into a PNG that is decoded into a QImage there too. The GUI
thread only turns that image into a pixmap and shows the text.

The threshold in use is the window's (the slider), the matching mode the recognizer's.
Apply saves the recommended threshold and matching mode in the settings (as
``facecam evaluate --apply`` does, also off the GUI thread) and puts them into effect
in the window at once.
"""

from __future__ import annotations

import html
import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QFont, QImage, QPixmap
from PyQt5.QtWidgets import (QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QSizePolicy,
                             QVBoxLayout, QWidget)

from facecam.errors import FacecamError
from facecam.gui.workers import run_task
from facecam.registry import MODEL_TITLES

log = logging.getLogger(__name__)

MIN_PEOPLE_WITH_PAIRS = 2   # people with 2+ photos needed for a recommendation worth applying
PROGRESS_EVERY_S = 0.1      # at most ~10 progress signals a second reach the GUI thread
THRESHOLD_SOURCE = "the window's slider"
APPLIED_BY = "the window's Check accuracy"  # how the settings remember who saved the threshold


class Cancelled(Exception):
    """The dialog was closed while the evaluation ran."""


@dataclass
class EvaluationOutcome:
    """What the worker hands to the GUI thread (no widget, no pixmap: a QImage is thread-safe)."""

    root: Path
    model: str
    report: Any = None                 # facecam.evaluate.EvaluationReport, None when there is nothing to measure
    figure: QImage | None = None       # the PNG of plot_report, decoded
    counts: dict[str, int] = field(default_factory=dict)  # photos with a face per person
    not_enough: str | None = None      # why no recommendation can be applied, and what to add
    notes: list[str] = field(default_factory=list)        # read-only cache, indexing warnings
    seconds: float = 0.0

    @property
    def can_apply(self) -> bool:
        return self.apply_refusal is None

    @property
    def apply_refusal(self) -> str | None:
        """Why Apply is not offered (not enough photos, no recommendation, too few pairs to measure it), or None."""
        report = self.report
        if self.not_enough is not None:
            return self.not_enough
        if report is None or report.recommended_threshold is None:
            return "No threshold can be recommended for these photos."
        if not report.recommendation_measurable:
            return (f"The recommended threshold {report.recommended_threshold:.3f} cannot be applied: "
                    f"{report.negatives} pairs of photos of different people are too few to measure a false "
                    f"accept rate of {report.target_far:g} (it needs {report.pairs_needed}+). Add photos of "
                    "more people (3-5 each), then Run again.")
        return None


def not_enough_message(counts: dict[str, int], root: Path) -> str | None:
    """None when ``counts`` (photos with a face per person) allow a recommendation, else what to add."""
    with_pairs = sorted(name for name, n in counts.items() if n >= 2)
    if len(with_pairs) >= MIN_PEOPLE_WITH_PAIRS:
        return None
    singles = sorted(name for name, n in counts.items() if n == 1)
    need = MIN_PEOPLE_WITH_PAIRS - len(with_pairs)
    if not counts:
        have = f"{root} has no photo with a face yet"
    elif not with_pairs:
        have = "nobody has 2+ photos with a face yet"
    else:
        have = f"only {with_pairs[0]} has 2+ photos ({counts[with_pairs[0]]})"
    add = f"Add 2 or more photos of {need} more {'person' if need == 1 else 'people'}"
    if singles:
        shown = ", ".join(singles[:3]) + (", ..." if len(singles) > 3 else "")
        add += f" (or another photo of {shown}, who {'has' if len(singles) == 1 else 'have'} only one)"
    return (f"Not enough photos to check accuracy: it needs at least {MIN_PEOPLE_WITH_PAIRS} people with 2 or "
            f"more photos each, and {have}. {add}: a folder per person in known_faces, or Enroll (E) > "
            "Capture 5 shots. 3-5 varied photos per person work best. Then press Run again.")


def render_figure(report) -> QImage:
    """plot_report's PNG, decoded (worker thread: matplotlib and PNG decoding never run on the GUI thread)."""
    from facecam.evaluate_report import plot_report  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="facecam-evaluate-") as folder:
        data = plot_report(report, Path(folder) / "evaluate.png").read_bytes()
    image = QImage.fromData(data, "PNG")
    if image.isNull():
        raise FacecamError("the accuracy figure could not be decoded")
    return image


def evaluate_known_faces(root: Path, recognizer, threshold: float, match_mode: str, *,
                         target_far: float | None = None,
                         progress: Callable[[str, int, int], None] | None = None,
                         should_stop: Callable[[], bool] | None = None) -> EvaluationOutcome:
    """Refresh the gallery of ``root``, evaluate it (:func:`facecam.evaluate.evaluate_folder`, the flow the
    command runs too) and draw the figure. Slow: call it on a worker thread."""
    from facecam.evaluate import DEFAULT_TARGET_FAR, evaluate_folder  # noqa: PLC0415

    started = time.monotonic()
    root = Path(root)
    stop = should_stop or (lambda: False)
    outcome = EvaluationOutcome(root=root, model=recognizer.model)
    if not root.is_dir():
        outcome.not_enough = not_enough_message({}, root)
        return outcome

    def step(text: str) -> None:
        if stop():
            raise Cancelled()
        if progress is not None:
            progress(text, 0, 0)

    step("Indexing known_faces...")
    last = [0.0]

    def on_photo(done: int, total: int, _path: str) -> None:
        now = time.monotonic()
        if progress is not None and (now - last[0] >= PROGRESS_EVERY_S or done == total):
            last[0] = now
            progress(f"Indexing known_faces {done}/{total}...", done, total)

    found = evaluate_folder(root, recognizer, threshold, match_mode=match_mode,
                            target_far=target_far or DEFAULT_TARGET_FAR, threshold_source=THRESHOLD_SOURCE,
                            progress=on_photo, should_stop=stop)
    if found.interrupted:
        raise Cancelled()
    outcome.notes.extend(found.notes)
    outcome.counts = {name: len(paths) for name, paths in found.gallery.people().items()}
    outcome.not_enough = not_enough_message(outcome.counts, root)
    outcome.report = found.report
    if outcome.report is not None and outcome.not_enough is None:
        step("Drawing the figure...")
        outcome.figure = render_figure(outcome.report)
    outcome.seconds = time.monotonic() - started
    return outcome


# ---------------------------------------------------------------- text

def summary_lines(outcome: EvaluationOutcome) -> list[str]:
    """The compact summary, one plain-text line each (the dialog escapes and joins them)."""
    from facecam.evaluate_report import auc_text, percent as _pct  # noqa: PLC0415

    r = outcome.report
    if r is None:
        return []
    lines = []
    singles = len(r.names) - r.people_with_pairs
    lines.append(f"{r.images} photos, {r.faces_found} with a face; {r.people_with_pairs} "
                 f"{'person' if r.people_with_pairs == 1 else 'people'} with 2+ photos"
                 + (f", {singles} with one (used as strangers only)" if singles else "")
                 + (f"; {len(r.no_face)} without a face left out" if r.no_face else "")
                 + (f"; {len(r.unreadable)} unreadable" if r.unreadable else ""))
    if r.auc is not None:
        lines.append(f"AUC {auc_text(r.auc)}, EER {_pct(r.eer, 2)} "
                     f"({r.positives} same-person, {r.negatives} different-person pairs)")
    ident = r.identification
    lines.append(f"Rank-1 (leave one out): nearest photo {_pct(ident['nearest'].rank1)}, "
                 f"person's mean {_pct(ident['mean'].rank1)}")
    in_use = r.threshold_in_use
    mode = r.match_mode
    lines.append(f"Threshold in use {in_use:.3f} ({mode}): strangers called Unknown "
                 f"{_pct(ident[mode].stranger_unknown)}, known photos named right {_pct(ident[mode].known_named)}")
    if r.recommended_threshold is not None:
        rec, rec_mode = r.recommended_threshold, r.match_mode_recommended
        lines.append(f"Recommended threshold {rec:.3f} with match mode {rec_mode}: strangers called Unknown "
                     f"{_pct(r.unknown_rate_at_recommended[rec_mode])}; wrong names for "
                     f"{_pct(r.recommended_fpr, 2)} of different-person pairs (target {r.target_far:g}), "
                     f"accepts {_pct(r.recommended_tpr)} of same-person pairs")
        lines.append(f"Match mode: {r.match_mode_reason}")
        if r.recommendation_note:
            lines.append(f"Note: {r.recommendation_note}")
    else:
        lines.append("No recommended threshold (see the warnings).")
    lines.extend(f"Warning: {w}" for w in r.warnings)
    return lines


def details_text(outcome: EvaluationOutcome) -> str:
    from facecam.evaluate_report import format_report  # noqa: PLC0415

    parts = list(outcome.notes)
    if outcome.report is not None:
        parts.append(format_report(outcome.report, save_hint="Apply saves it for this model."))
    return "\n".join(parts)


def error_text(error: BaseException) -> str:
    if isinstance(error, FacecamError):
        return str(error)
    return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------- widgets

class FigureView(QLabel):
    """Shows an image scaled to fit, keeping its proportions (rescaled when the dialog is resized)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._source: QPixmap | None = None
        self.setAlignment(Qt.AlignCenter)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)  # the pixmap never dictates the size
        self.setMinimumSize(360, 140)

    def set_image(self, image: QImage | None) -> None:
        self._source = QPixmap.fromImage(image) if image is not None and not image.isNull() else None
        self._rescale()

    @property
    def source_size(self):
        return self._source.size() if self._source is not None else None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source is None:
            self.clear()
            return
        self.setPixmap(self._source.scaled(self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))


class EvaluateDialog(QDialog):
    """Non-modal. ``start()`` runs the evaluation on a worker thread; ``finished_run`` when it has reported.

    ``recognizer_of()`` gives the window's recognizer (None while a model loads);
    ``apply_to_window(threshold, mode)`` puts a threshold and matching mode into effect in the window and
    returns the old ``(threshold, mode)``.
    """

    finished_run = pyqtSignal()
    _progress = pyqtSignal(int, str, int, int)

    def __init__(self, known_faces: Path, recognizer_of: Callable[[], Any],
                 apply_to_window: Callable[[float, str], tuple[float, str]] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Check accuracy")
        self.setAttribute(Qt.WA_DeleteOnClose, False)
        self.setModal(False)
        self.known_faces = Path(known_faces)
        self.recognizer_of = recognizer_of
        self.apply_to_window = apply_to_window
        self.outcome: EvaluationOutcome | None = None
        self.error: str | None = None
        self.applied: dict | None = None
        self.busy = False
        self._closed = False
        self._generation = 0
        self._stop = threading.Event()
        self._progress.connect(self._on_progress, Qt.QueuedConnection)

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.message = QLabel()  # "not enough photos", errors
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #8a1c1c; font-weight: bold")
        self.message.hide()
        self.figure = FigureView()
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.details.setFont(QFont("monospace"))
        self.details.setMinimumHeight(160)
        self.details.hide()
        self.applied_label = QLabel()
        self.applied_label.setWordWrap(True)
        self.applied_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.apply_button = QPushButton("Apply recommended")
        self.apply_button.setToolTip("Save the recommended threshold and match mode for this model and use them now")
        self.apply_button.clicked.connect(self.apply)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self.details.setVisible)
        self.rerun_button = QPushButton("Run again")
        self.rerun_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)

        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress_bar)
        buttons = QHBoxLayout()
        buttons.addWidget(self.details_button)
        buttons.addWidget(self.rerun_button)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(status_row)
        layout.addWidget(self.message)
        layout.addWidget(self.summary)
        layout.addWidget(self.figure, 1)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.applied_label)
        layout.addLayout(buttons)
        self.resize(1180, 760)
        self._update_buttons()

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """(Re)run the evaluation with the window's recognizer, threshold and match mode."""
        recognizer = self.recognizer_of()
        self._closed = False
        if recognizer is None:
            self._show_error("The model is still loading: Check accuracy works once it is loaded.")
            return
        if self.busy:
            return
        self._generation += 1
        generation = self._generation
        self._stop.set()  # a run of a closed-then-reopened dialog stops; its result is ignored anyway
        self._stop = stop = threading.Event()
        self.busy = True
        self.error = None
        self.outcome = None
        self.applied = None
        threshold, mode = float(recognizer.threshold), str(recognizer.match_mode)
        title = MODEL_TITLES.get(recognizer.model, recognizer.model)
        self.intro.setText(f"How well {title} tells apart the people in {self.known_faces}: every pair of photos, "
                           f"and each photo named by the others (people with 2+ photos; those with one serve as "
                           f"strangers). Threshold in use {threshold:.3f}, match mode {mode}.")
        self.summary.clear()
        self.message.hide()
        self.figure.set_image(None)
        self.details.clear()
        self.applied_label.clear()
        self._set_status("Starting...", busy=True)
        self._update_buttons()
        root = self.known_faces

        def progress(text: str, done: int, total: int) -> None:  # worker thread: only emit
            self._progress.emit(generation, text, done, total)

        def work() -> EvaluationOutcome:
            return evaluate_known_faces(root, recognizer, threshold, mode, progress=progress,
                                        should_stop=stop.is_set)

        run_task("evaluate", work, lambda outcome: self._on_done(generation, outcome),
                 lambda error: self._on_failed(generation, error))

    def _current(self, generation: int) -> bool:
        return not self._closed and generation == self._generation

    def _on_progress(self, generation: int, text: str, done: int, total: int) -> None:
        if self._current(generation) and self.busy:
            self._set_status(text, done, total)

    def _on_done(self, generation: int, outcome: EvaluationOutcome) -> None:
        if generation != self._generation:
            return
        self.busy = False
        if self._closed:
            return
        self.outcome = outcome
        report = outcome.report
        lines = summary_lines(outcome)
        self.summary.setText("<br>".join(html.escape(line) for line in lines))
        self.summary.setVisible(bool(lines))
        if outcome.not_enough:
            self.message.setText(outcome.not_enough)
            self.message.show()
        elif report is not None and report.recommended_threshold is None:
            self.message.setText("No threshold can be recommended for these photos: "
                                 + ("; ".join(report.warnings) or "see the details") + ".")
            self.message.show()
        elif outcome.apply_refusal:
            self.message.setText(outcome.apply_refusal)
            self.message.show()
        self.figure.set_image(outcome.figure)
        self.figure.setVisible(outcome.figure is not None)
        self.details.setPlainText(details_text(outcome))
        self._set_status(f"Checked in {outcome.seconds:.1f} s." + "".join(f" {note}" for note in outcome.notes[:2]))
        self._update_buttons()
        self.finished_run.emit()

    def _on_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self.busy = False
        if self._closed or isinstance(error, Cancelled):
            return
        if not isinstance(error, FacecamError):
            log.error("Check accuracy failed", exc_info=(type(error), error, error.__traceback__))
        self._show_error(f"Could not check accuracy: {error_text(error)}")
        self.finished_run.emit()

    def _show_error(self, text: str) -> None:
        self.error = text
        self.message.setText(text)
        self.message.show()
        self._set_status("")
        self._update_buttons()

    def _set_status(self, text: str, done: int = 0, total: int = 0, busy: bool = False) -> None:
        self.status.setText(text)
        running = self.busy
        self.progress_bar.setVisible(running)
        if running:
            if total and not busy:
                self.progress_bar.setRange(0, total)
                self.progress_bar.setValue(done)
            else:
                self.progress_bar.setRange(0, 0)

    def _update_buttons(self) -> None:
        outcome = self.outcome
        self.apply_button.setEnabled(not self.busy and outcome is not None and outcome.can_apply
                                     and self.apply_to_window is not None)
        self.rerun_button.setEnabled(not self.busy)
        if outcome is not None and outcome.can_apply:
            r = outcome.report
            self.apply_button.setText(f"Apply {r.recommended_threshold:.3f} ({r.match_mode_recommended})")
        else:
            self.apply_button.setText("Apply recommended")

    # ------------------------------------------------------------------ applying
    def apply(self) -> None:
        """Save the recommendation (worker thread: a settings write), then put it into effect in the window."""
        outcome = self.outcome
        if self.busy or outcome is None or not outcome.can_apply or self.apply_to_window is None:
            return
        report = outcome.report
        recognizer = self.recognizer_of()
        if recognizer is None or recognizer.model != report.model:
            self._show_error("The model changed since this check: press Run again, then Apply.")
            return
        from facecam.evaluate import apply_recommendation  # noqa: PLC0415

        self.busy = True
        self._update_buttons()
        self.applied_label.setText("Saving...")
        generation = self._generation
        run_task("evaluate-apply", lambda: apply_recommendation(report, by=APPLIED_BY),
                 lambda changes: self._on_applied(generation, report, changes),
                 lambda error: self._on_apply_failed(generation, error))

    def _on_applied(self, generation: int, report, changes: dict) -> None:
        self.busy = False
        if self._closed or generation != self._generation:
            return
        recognizer = self.recognizer_of()
        threshold, mode = report.recommended_threshold, report.match_mode_recommended
        if recognizer is None or recognizer.model != report.model:
            self.applied_label.setText(f"Saved in {changes['settings']}; the window uses another model now, so it "
                                       "takes effect when this model is loaded again.")
        else:
            old_threshold, old_mode = self.apply_to_window(threshold, mode)
            title = MODEL_TITLES.get(report.model, report.model)
            t_text = (f"threshold {old_threshold:.3f} -> {threshold:.3f}" if abs(old_threshold - threshold) > 5e-7
                      else f"threshold {threshold:.3f} (unchanged)")
            m_text = f"match mode {old_mode} -> {mode}" if old_mode != mode else f"match mode {mode} (unchanged)"
            self.applied_label.setText(f"Applied for {title}: {t_text}, {m_text}. In effect now and saved in "
                                       f"{changes['settings']} for the next start and every command.")
        self.applied = changes
        self._update_buttons()

    def _on_apply_failed(self, generation: int, error: BaseException) -> None:
        self.busy = False
        if self._closed or generation != self._generation:
            return
        self.applied_label.clear()
        self._show_error(f"Could not apply: {error_text(error)}")

    # ------------------------------------------------------------------ closing
    def done(self, result: int) -> None:
        self._closed = True
        self._stop.set()  # an indexing in progress stops at the next photo
        self.busy = False
        super().done(result)


# ---------------------------------------------------------------- the window's side

def apply_to_window(window, threshold: float, mode: str) -> tuple[float, str]:
    """Put ``threshold`` and ``mode`` into effect in ``window`` as the slider does (pipeline reset included);
    the slider shows the nearest step. Returns the old ``(threshold, mode)``."""
    recognizer = window.recognizer
    old = (float(recognizer.threshold), str(recognizer.match_mode))
    recognizer.match_mode = mode
    slider = window.threshold_slider
    slider.blockSignals(True)  # the slider's steps are 0.01: it must not round the recommended value
    slider.setValue(int(round(threshold * 100)))
    slider.blockSignals(False)
    window.set_threshold(threshold)  # recognizer.threshold, pipeline.reset(), the threshold label
    return old


def open_evaluate_dialog(window) -> EvaluateDialog:
    """The window's "Check accuracy..." action: show the dialog (one per window) and run the evaluation."""
    dialog = getattr(window, "evaluate_dialog", None)
    if dialog is None:
        dialog = EvaluateDialog(window.known_faces, lambda: window.recognizer,
                                lambda threshold, mode: apply_to_window(window, threshold, mode), parent=window)
        window.evaluate_dialog = dialog
    if dialog.isVisible():
        dialog.raise_()
        dialog.activateWindow()
        return dialog
    dialog.show()
    dialog.start()
    return dialog
