"""The status line at the bottom of the window: what runs, a persistent error, and work in progress.

* ``show_state(WindowState)`` writes "30 fps shown | recognition 45 ms/round, latency 60 ms | 1 person,
  3 photos | model SFace" (:func:`status_text`), or "recognition idle: nothing moves" while the motion
  gate holds detection back (nobody tracked, a still scene);
* ``set_error(text)`` keeps an error in view (red, with the whole message as tooltip) until
  ``set_error(None)``: a known_faces folder that cannot be indexed stays visible instead of a
  message that fades after a few seconds;
* ``set_loading(text, value, maximum, busy)`` shows a label and a progress bar (``None`` hides them).
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QStatusBar, QWidget

from facecam.motion import SAFETY_S


@dataclass(frozen=True)
class WindowState:
    """What the status line reports; ``recognition`` is a phrase when no round has run yet."""

    fps: float
    model_title: str
    rounds: int = 0
    round_ms: float = 0.0
    latency_ms: float = 0.0
    recognition: str = "starting"
    people: int | None = None
    photos: int = 0
    skipped: int = 0
    idle: bool = False        # the motion gate: nobody tracked, nothing moving, detection waits

    @classmethod
    def of(cls, window) -> "WindowState":
        """What the status line shows now of ``window`` (a :class:`facecam.gui.main_window.MainWindow`)."""
        from facecam.gui.model_control import title_of  # noqa: PLC0415

        stats = window.pipeline.stats if window.pipeline is not None else None
        models, recognizer, snapshot = window.models, window.recognizer, window.snapshot
        if recognizer is None and (models.error is not None or not models.busy):
            recognition = "off: model not loaded"
        else:
            recognition = "loading model" if recognizer is None else "starting"
        model = recognizer.model if recognizer is not None else (models.loading_model or window.options.model)
        return cls(fps=window.displayed_fps(), model_title=title_of(model),
                   rounds=stats.rounds if stats is not None else 0,
                   round_ms=stats.last_round_s * 1000 if stats is not None else 0.0,
                   latency_ms=stats.latency_s * 1000 if stats is not None else 0.0, recognition=recognition,
                   people=len(snapshot.people) if snapshot is not None else None,
                   photos=snapshot.photos if snapshot is not None else 0,
                   skipped=snapshot.skipped if snapshot is not None else 0,
                   idle=window.pipeline is not None and window.pipeline.idle)


def status_text(state: WindowState) -> str:
    parts = [f"{state.fps:.0f} fps shown"]
    if state.idle:
        parts.append(f"recognition idle: nothing moves (a check every {SAFETY_S:.0f} s)")
    elif state.rounds:
        parts.append(f"recognition {state.round_ms:.0f} ms/round, latency {state.latency_ms:.0f} ms")
    else:
        parts.append(f"recognition: {state.recognition}")
    if state.people is not None:
        parts.append(f"{state.people} {'person' if state.people == 1 else 'people'}, {state.photos} photos"
                     + (f" ({state.skipped} skipped)" if state.skipped else ""))
    parts.append(f"model {state.model_title}")
    return "  |  ".join(parts)


class StatusLine(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.status_label = QLabel()
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.error_label.setWordWrap(False)
        self.load_label = QLabel()
        self.load_bar = QProgressBar()
        self.load_bar.setMaximumWidth(180)
        self.load_bar.setTextVisible(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.status_label, 1)
        row.addWidget(self.error_label)
        row.addWidget(self.load_label)
        row.addWidget(self.load_bar)
        self.set_error(None)
        self.set_loading(None)

    def showEvent(self, event) -> None:
        """In a QStatusBar: the error and the progress become permanent widgets of the bar (on its right), so a
        temporary message never hides them nor is drawn over them; the status text is a normal widget, which the
        bar hides while a message shows. Shown with its window while a message is up (one shown before the
        window was, which QStatusBar does not hide it for): hidden now, and shown again when the message ends
        (the hide is not an explicit one)."""
        super().showEvent(event)
        bar = self.parent()
        if not isinstance(bar, QStatusBar):
            return
        if self.error_label.parent() is self:
            for widget in (self.error_label, self.load_label, self.load_bar):
                bar.addPermanentWidget(widget)
        if bar.currentMessage():
            self.hide()
            self.setAttribute(Qt.WA_WState_ExplicitShowHide, False)

    def show_state(self, state: WindowState) -> None:
        self.status_label.setText(status_text(state))

    @property
    def error(self) -> str | None:
        return self.error_label.toolTip() or None

    def set_error(self, text: str | None) -> None:
        self.error_label.setVisible(bool(text))
        self.error_label.setToolTip(text or "")
        short = text if text is None or len(text) <= 110 else text[:107] + "..."
        self.error_label.setText(short or "")

    def set_loading(self, text: str | None, value: int | None = None, maximum: int | None = None,
                    busy: bool = False) -> None:
        self.load_label.setVisible(text is not None)
        self.load_bar.setVisible(text is not None)
        if text is None:
            return
        self.load_label.setText(text)
        if busy:
            self.load_bar.setRange(0, 0)
        elif value is not None and maximum:
            self.load_bar.setRange(0, maximum)
            self.load_bar.setValue(value)
