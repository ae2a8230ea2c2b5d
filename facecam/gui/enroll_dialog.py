"""Enroll: pick a face of the current frame, give it a name, save the photo into known_faces/<Name>/.

Detection runs on a worker thread (the dialog opens at once and shows "Finding
faces..."); saving (JPEG encoding, the atomic never-overwriting write) too. "Capture 5
shots" takes five photos of the same person from the live video over about three
seconds (following the chosen face as it moves) and saves them together.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from PyQt5.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import (QAbstractItemView, QButtonGroup, QDialog, QHBoxLayout, QLabel, QLineEdit,
                             QListView, QListWidget, QListWidgetItem, QPushButton, QRadioButton, QVBoxLayout, QWidget)

from facecam.errors import FacecamError
from facecam.gui.name_dialog import name_completer
from facecam.gui.people_panel import pixmap_from_bgr
from facecam.gui.workers import run_task
from facecam.tracker import iou_matrix
from facecam.types import bgr_to_rgb

CROP_MARGIN = 0.5      # face crop: the face box grown by half its size on every side (a square)
JPEG_QUALITY = 95
SHOTS = 5
SHOT_INTERVAL_MS = 600
ICON_PX = 112


def face_crop(bgr_frame: np.ndarray, box, margin: float = CROP_MARGIN) -> np.ndarray:
    """A square crop around the face box, ``margin`` of its size on every side, clipped to the frame."""
    x, y, w, h = (float(v) for v in box)
    side = max(int(round(max(w, h) * (1.0 + 2.0 * margin))), 1)
    left, top = int(round(x + w / 2.0 - side / 2.0)), int(round(y + h / 2.0 - side / 2.0))
    height, width = bgr_frame.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, width), min(top + side, height)
    return np.ascontiguousarray(bgr_frame[y0:y1, x0:x1])


def save_photos(known_faces: Path, name: str, images: list[np.ndarray]) -> list[Path]:
    """Write each BGR image as a new JPEG in known_faces/<name>/ (atomic, unique names, never overwriting)."""
    from facecam.gallery import add_photos  # noqa: PLC0415
    from facecam.images import encode_jpeg  # noqa: PLC0415

    filename = "webcam-" + time.strftime("%Y%m%d-%H%M%S") + ".jpg"
    return add_photos(Path(known_faces), name, ((filename, encode_jpeg(image, JPEG_QUALITY)) for image in images))


class EnrollDialog(QDialog):
    """Non-modal: the video goes on behind it. ``saved(name, paths)`` when photos were written."""

    saved = pyqtSignal(str, list)

    def __init__(self, bgr_frame: np.ndarray, recognizer, known_faces: Path, names: list[str],
                 frame_provider: Callable[[], np.ndarray | None] | None = None, parent: QWidget | None = None,
                 ask_consent: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Enroll a person")
        self.setAttribute(Qt.WA_DeleteOnClose, False)
        self.frame = np.array(bgr_frame, copy=True)
        self.recognizer = recognizer
        self.known_faces = Path(known_faces)
        self.frame_provider = frame_provider
        self.faces = None
        self.busy = False
        self.written: list[Path] = []
        self._shots: list[np.ndarray] = []
        self.shot_times: list[float] = []
        self._shot_box = None
        self._shot_pending = False
        self._closed = False

        self.info = QLabel("Finding faces in the current frame...")
        self.info.setWordWrap(True)
        self.faces_list = QListWidget()
        self.faces_list.setViewMode(QListView.IconMode)
        self.faces_list.setIconSize(QSize(ICON_PX, ICON_PX))
        self.faces_list.setMovement(QListView.Static)
        self.faces_list.setResizeMode(QListView.Adjust)
        self.faces_list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.faces_list.setMinimumHeight(ICON_PX + 40)
        self.faces_list.itemSelectionChanged.connect(self._update_buttons)
        self.retry_button = QPushButton("Use the current frame")
        self.retry_button.clicked.connect(self.detect_current)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name, e.g. Ada Lovelace")
        self.name_edit.setCompleter(name_completer(names, self))
        self.name_edit.textChanged.connect(self._update_buttons)
        self.ask_consent = ask_consent   # the setting consent_required: who agreed is asked and recorded
        self.consent_edit = QLineEdit()
        self.consent_edit.setPlaceholderText("Who agreed to be enrolled (the person, or a guardian)")
        self.consent_edit.setVisible(ask_consent)
        self.crop_radio = QRadioButton("Face with margin")
        self.whole_radio = QRadioButton("Whole frame")
        self.crop_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.crop_radio)
        group.addButton(self.whole_radio)

        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.shots_button = QPushButton(f"Capture {SHOTS} shots")
        self.cancel_button = QPushButton("Cancel")
        self.save_button.clicked.connect(self.save)
        self.shots_button.clicked.connect(self.capture_shots)
        self.cancel_button.clicked.connect(self.reject)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Name:"))
        name_row.addWidget(self.name_edit, 1)
        consent_row = QHBoxLayout()
        self.consent_label = QLabel("Agreed by:")
        self.consent_label.setVisible(ask_consent)
        consent_row.addWidget(self.consent_label)
        consent_row.addWidget(self.consent_edit, 1)
        mode_row = QHBoxLayout()
        mode_row.addWidget(QLabel("Save:"))
        mode_row.addWidget(self.crop_radio)
        mode_row.addWidget(self.whole_radio)
        mode_row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        buttons.addWidget(self.shots_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(self.faces_list, 1)
        layout.addLayout(name_row)
        layout.addLayout(consent_row)
        layout.addLayout(mode_row)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(560, 420)

        self._shot_timer = QTimer(self)
        self._shot_timer.setInterval(SHOT_INTERVAL_MS)
        self._shot_timer.timeout.connect(self._take_shot)
        self._detect(self.frame)
        self._update_buttons()

    # ------------------------------------------------------------------ faces
    def detect_current(self) -> None:
        """Find the faces of the live video's newest frame (the "Use the current frame" button)."""
        frame = self.frame_provider() if self.frame_provider is not None else None
        if frame is not None:
            self.frame = np.array(frame, copy=True)
        self._detect(self.frame)

    def _detect(self, frame: np.ndarray) -> None:
        self.faces = None
        self.faces_list.clear()
        self.info.setText("Finding faces in the current frame...")
        self.busy = True
        self._update_buttons()
        recognizer = self.recognizer
        run_task("enroll-detect", lambda: recognizer.find_faces(bgr_to_rgb(frame)),
                 lambda faces: self._on_faces(frame, faces), self._on_detect_failed)

    def _on_faces(self, frame: np.ndarray, faces) -> None:
        if self._closed or frame is not self.frame:
            return
        self.busy = False
        self.faces = faces
        for i, face in enumerate(faces):
            item = QListWidgetItem(QIcon(pixmap_from_bgr(face_crop(frame, face.box))), f"Face {i + 1}")
            item.setData(Qt.UserRole, i)
            self.faces_list.addItem(item)
        if len(faces) == 0:
            self.info.setText("No face found in this frame. Face the camera and press \"Use the current frame\".")
        elif len(faces) == 1:
            self.info.setText("One face found.")
            self.faces_list.setCurrentRow(0)
        else:
            self.info.setText(f"{len(faces)} faces found: click the one to enroll.")
        self._update_buttons()

    def _on_detect_failed(self, error: BaseException) -> None:
        if self._closed:
            return
        self.busy = False
        self.info.setText(f"Face detection failed: {error}")
        self._update_buttons()

    def select_face(self, index: int) -> None:
        self.faces_list.setCurrentRow(index)

    def selected_index(self) -> int | None:
        items = self.faces_list.selectedItems()
        return int(items[0].data(Qt.UserRole)) if items else None

    # ------------------------------------------------------------------ saving
    def _checked_name(self) -> str | None:
        from facecam.gallery import check_person_name  # noqa: PLC0415

        try:
            return check_person_name(self.name_edit.text().strip())
        except FacecamError as error:
            self.status.setText(str(error))
            return None

    def photo_of(self, frame: np.ndarray, index: int) -> np.ndarray:
        """The photo to save: the face with margin, or the whole frame."""
        if self.whole_radio.isChecked():
            return np.array(frame, copy=True)
        return face_crop(frame, self.faces[index].box)

    def save(self) -> None:
        index = self.selected_index()
        name = self._checked_name()
        if index is None or name is None or self.busy:
            if index is None:
                self.status.setText("Click the face to enroll first.")
            return
        if self.whole_radio.isChecked() and index != 0:
            self.status.setText("With the whole frame the largest face is used, which is not the one chosen: "
                                "choose \"Face with margin\".")
            return
        self._save(name, [self.photo_of(self.frame, index)])

    def _agreed_by(self) -> str | None:
        """Who agreed (when consent is asked for); None, with the reason shown, when nobody is named."""
        from facecam.consent import check_agreed_by  # noqa: PLC0415

        try:
            return check_agreed_by(self.consent_edit.text())
        except FacecamError:
            self.status.setText("Consent is required: type who agreed to be enrolled.")
            return None

    def _save(self, name: str, images: list[np.ndarray]) -> None:
        agreed_by = self._agreed_by() if self.ask_consent else None
        if self.ask_consent and agreed_by is None:
            return
        self.busy = True
        self.status.setText("Saving...")
        self._update_buttons()
        root = self.known_faces

        def save():
            paths = save_photos(root, name, images)
            if agreed_by is not None:
                from facecam.consent import record_consent  # noqa: PLC0415

                record_consent(root, name, agreed_by, how="window")
            return paths

        run_task("enroll-save", save, lambda paths: self._on_saved(name, paths), self._on_save_failed)

    def _on_saved(self, name: str, paths: list[Path]) -> None:
        self.busy = False
        self.written = list(paths)
        self.saved.emit(name, [str(p) for p in paths])
        if not self._closed:
            self.accept()

    def _on_save_failed(self, error: BaseException) -> None:
        self.busy = False
        if not self._closed:
            self.status.setText(f"Not saved: {error}")
            self._update_buttons()

    # ------------------------------------------------------------------ capture 5 shots
    def capture_shots(self) -> None:
        name = self._checked_name()
        if name is None or self.busy or self.frame_provider is None:
            return
        index = self.selected_index()
        self._shot_box = self.faces[index].box if (self.faces is not None and index is not None) else None
        self._shots = []
        self.shot_times = []
        self._shot_name = name
        self.busy = True
        self.status.setText(f"Capturing: shot 0 of {SHOTS}. Move your head a little between shots.")
        self._update_buttons()
        self._shot_timer.start()

    def _take_shot(self) -> None:
        if self._shot_pending or self._closed:
            return
        frame = self.frame_provider()
        if frame is None:
            return
        frame = np.array(frame, copy=True)
        self._shot_pending = True
        recognizer = self.recognizer
        run_task("enroll-shot", lambda: recognizer.find_faces(bgr_to_rgb(frame)),
                 lambda faces: self._on_shot(frame, faces), self._on_shot_failed)

    def _on_shot(self, frame: np.ndarray, faces) -> None:
        self._shot_pending = False
        if self._closed or not self._shot_timer.isActive() or len(faces) == 0:
            return
        if self._shot_box is None:
            index = 0  # the largest face
        else:
            overlaps = iou_matrix(self._shot_box, faces.boxes)[0]
            index = int(np.argmax(overlaps))
            if overlaps[index] < 0.2:
                return  # the person moved away or is hidden: try the next frame
        box = faces[index].box
        self._shot_box = box
        self._shots.append(np.array(frame, copy=True) if self.whole_radio.isChecked() else face_crop(frame, box))
        self.shot_times.append(time.monotonic())
        self.status.setText(f"Capturing: shot {len(self._shots)} of {SHOTS}.")
        if len(self._shots) >= SHOTS:
            self._shot_timer.stop()
            self.busy = False
            self._save(self._shot_name, self._shots)

    def _on_shot_failed(self, error: BaseException) -> None:
        self._shot_pending = False
        self._shot_timer.stop()
        self.busy = False
        if not self._closed:
            self.status.setText(f"Capture failed: {error}")
            self._update_buttons()

    # ------------------------------------------------------------------ state
    def _update_buttons(self) -> None:
        has_face = self.selected_index() is not None
        named = bool(self.name_edit.text().strip())
        self.save_button.setEnabled(has_face and named and not self.busy)
        self.shots_button.setEnabled(named and not self.busy and self.frame_provider is not None)
        self.retry_button.setEnabled(not self.busy)
        self.name_edit.setEnabled(not self.busy)

    def done(self, result: int) -> None:
        self._closed = True
        self._shot_timer.stop()
        super().done(result)
