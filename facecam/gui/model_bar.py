"""The model bar: a non-modal strip above the video for everything about the model files.

It never blocks the window (recognition goes on with the model already loaded) and has
one state at a time:

* ``offer(text)``      "VGG-Face (580 MB) is not downloaded": Download / Choose file... / Keep SFace
* ``progress(...)``    a download or the indexing for the new model, with a progress bar (Cancel)
* ``failed(text)``     a model that could not be downloaded or loaded: Retry / Choose file... / Keep
* ``hide()``

The buttons only emit signals; :class:`facecam.gui.main_window.MainWindow` decides what they do.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton


class ModelBar(QFrame):
    download = pyqtSignal()
    choose_file = pyqtSignal()
    keep = pyqtSignal()
    retry = pyqtSignal()
    cancel = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelbar")
        self.setStyleSheet("#modelbar { background: #24465e; border-radius: 4px; } "
                           "#modelbar QLabel { color: white; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.download_button = QPushButton("Download")
        self.retry_button = QPushButton("Retry")
        self.choose_button = QPushButton("Choose file...")
        self.keep_button = QPushButton("Keep SFace")
        self.cancel_button = QPushButton("Cancel")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.progress_bar)
        for button, signal in ((self.download_button, self.download), (self.retry_button, self.retry),
                               (self.choose_button, self.choose_file), (self.keep_button, self.keep),
                               (self.cancel_button, self.cancel)):
            button.setFocusPolicy(Qt.NoFocus)  # Space and the letter keys stay the window's shortcuts
            button.clicked.connect(signal.emit)
            row.addWidget(button)
        self.state = "hidden"
        self.hide()

    def _show(self, state: str, text: str, buttons: tuple[QPushButton, ...], progress: bool) -> None:
        self.state = state
        self.label.setText(text)
        for button in (self.download_button, self.retry_button, self.choose_button, self.keep_button,
                       self.cancel_button):
            button.setVisible(button in buttons)
        self.progress_bar.setVisible(progress)
        self.show()

    def offer(self, text: str, keep_text: str = "Keep SFace") -> None:
        """A model is not there: Download / Choose file... / Keep."""
        self.keep_button.setText(keep_text)
        self._show("offer", text, (self.download_button, self.choose_button, self.keep_button), False)

    def progress(self, text: str, done: int | None = None, total: int | None = None, cancel: bool = True) -> None:
        """Work in progress: ``done`` of ``total`` (busy when ``total`` is unknown)."""
        if self.state != "progress":
            self._show("progress", text, (self.cancel_button,) if cancel else (), True)
        self.label.setText(text)
        self.cancel_button.setVisible(cancel)
        if total:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * min(max(done or 0, 0), total) / total))
        else:
            self.progress_bar.setRange(0, 0)

    def failed(self, text: str, keep_text: str | None = "Keep SFace") -> None:
        """Something went wrong: Retry / Choose file... / Keep (``keep_text`` None: no Keep button)."""
        buttons = (self.retry_button, self.choose_button)
        if keep_text:
            self.keep_button.setText(keep_text)
            buttons += (self.keep_button,)
        self._show("failed", text, buttons, False)

    def hide(self) -> None:
        self.state = "hidden"
        super().hide()
