"""Choose the video source: a camera number, a video file or a stream URL (shown without its password)."""

from __future__ import annotations

from PyQt5.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QLabel, QLineEdit,
                             QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from facecam.source_names import is_address, redact_url

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mkv *.mov *.webm *.m4v *.mpg *.mpeg *.wmv);;All files (*)"


class SourceDialog(QDialog):
    """``spec()`` is what ``open_source`` takes: "0", a path or a URL. The current stream is shown by its display
    name (no user, password or token: facecam.source_names); left as shown, it is the current address, secrets
    and all."""

    def __init__(self, current: str = "0", parent: QWidget | None = None):
        super().__init__(parent)
        self._kept: tuple[str, str] | None = None   # (the display name shown, the address it stands for)
        self.setWindowTitle("Choose video source")
        self.camera_radio = QRadioButton("Camera number")
        self.file_radio = QRadioButton("Video file")
        self.url_radio = QRadioButton("Stream URL")
        self.group = QButtonGroup(self)
        for button in (self.camera_radio, self.file_radio, self.url_radio):
            self.group.addButton(button)
        self.camera_spin = QSpinBox()
        self.camera_spin.setRange(0, 63)
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("/path/to/video.mp4")
        self.browse_button = QPushButton("Browse...")
        self.browse_button.clicked.connect(self._browse)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("rtsp://user:password@192.168.1.10:554/stream1")
        self.file_edit.textEdited.connect(lambda _t: self.file_radio.setChecked(True))
        self.url_edit.textEdited.connect(lambda _t: self.url_radio.setChecked(True))
        self.camera_spin.valueChanged.connect(lambda _v: self.camera_radio.setChecked(True))

        grid = QGridLayout()
        grid.addWidget(self.camera_radio, 0, 0)
        grid.addWidget(self.camera_spin, 0, 1)
        grid.addWidget(self.file_radio, 1, 0)
        grid.addWidget(self.file_edit, 1, 1)
        grid.addWidget(self.browse_button, 1, 2)
        grid.addWidget(self.url_radio, 2, 0)
        grid.addWidget(self.url_edit, 2, 1, 1, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(QLabel("Files play at their own frame rate."))
        layout.addWidget(buttons)
        self.set_spec(current)
        self.resize(520, self.sizeHint().height())

    def set_spec(self, spec: str) -> None:
        text = str(spec).strip()
        if text.isdigit():
            self.camera_spin.setValue(int(text))
            self.camera_radio.setChecked(True)
        elif is_address(text) and not text.lower().startswith("file://"):
            shown = redact_url(text)
            self._kept = (shown, text) if shown != text else None
            self.url_edit.setText(shown)
            self.url_radio.setChecked(True)
        else:
            self.file_edit.setText(text)
            self.file_radio.setChecked(True)

    def spec(self) -> str:
        if self.camera_radio.isChecked():
            return str(self.camera_spin.value())
        if self.url_radio.isChecked():
            url = self.url_edit.text().strip()
            return self._kept[1] if self._kept is not None and url == self._kept[0] else url
        return self.file_edit.text().strip()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video file", self.file_edit.text(), VIDEO_FILTER)
        if path:
            self.file_edit.setText(path)
            self.file_radio.setChecked(True)
