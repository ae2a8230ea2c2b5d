"""The banner above the video about the source: red for a problem (no camera, stream lost, unreadable
file: **Retry**), grey-blue for the end of a video file, a normal state (**Replay**); both with
**Choose source...**."""

from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

PROBLEM_COLOUR = "#7a1f1f"
NOTICE_COLOUR = "#3d4a57"


class SourceBanner(QFrame):
    retry = pyqtSignal()
    choose = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.retry_button = QPushButton("Retry")
        self.choose_button = QPushButton("Choose source...")
        self.retry_button.clicked.connect(self.retry.emit)
        self.choose_button.clicked.connect(self.choose.emit)
        row = QHBoxLayout(self)
        row.addWidget(self.label, 1)
        row.addWidget(self.retry_button)
        row.addWidget(self.choose_button)
        self.hide()

    def show_message(self, text: str, retry_text: str = "Retry", *, problem: bool = True) -> None:
        colour, weight = (PROBLEM_COLOUR, "bold") if problem else (NOTICE_COLOUR, "normal")
        self.setStyleSheet(f"#banner {{ background: {colour}; border-radius: 4px; }} "
                           f"#banner QLabel {{ color: white; font-weight: {weight}; }}")
        self.label.setText(text)
        self.retry_button.setText(retry_text)
        self.show()
