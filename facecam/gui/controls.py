"""The row under the video: the threshold slider (cosine distance, immediate), Show distances, the model."""

from __future__ import annotations

import numpy as np
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

THRESHOLD_RANGE = (0.05, 1.50)  # the slider's cosine-distance range


class ControlsRow(QWidget):
    """``threshold_changed(float)`` when the user moves the slider; ``distances_box.toggled(bool)``."""

    threshold_changed = pyqtSignal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.threshold_slider = QSlider(Qt.Horizontal)
        self.threshold_slider.setRange(int(THRESHOLD_RANGE[0] * 100), int(THRESHOLD_RANGE[1] * 100))
        self.threshold_slider.setEnabled(False)
        self.threshold_slider.setToolTip("Cosine distance above which a face is Unknown: lower is stricter")
        self.threshold_slider.valueChanged.connect(lambda value: self.threshold_changed.emit(value / 100.0))
        self.threshold_label = QLabel("threshold -")
        self.threshold_label.setMinimumWidth(110)
        self.distances_box = QCheckBox("Show distances")
        self.distances_box.setChecked(True)
        self.distances_box.setToolTip("Show the cosine distance after each name: the threshold's scale, lower is "
                                      "closer; a name is given below the threshold")
        self.model_label = QLabel("Model: -")
        for widget in (self.threshold_slider, self.distances_box):
            widget.setFocusPolicy(Qt.NoFocus)  # keys go to the window's shortcuts, not to a button
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(QLabel("Threshold:"))
        row.addWidget(self.threshold_slider, 1)
        row.addWidget(self.threshold_label)
        row.addWidget(self.distances_box)
        row.addSpacing(12)
        row.addWidget(self.model_label)

    def show_decision(self, recognizer, matrix) -> None:
        """The slider at ``recognizer``'s threshold for the gallery ``matrix``: by default it follows the
        gallery's size (about 1 stranger in 100 named, whatever the number of people), said beside it, with
        what it rests on as the tooltip."""
        from facecam import config  # noqa: PLC0415
        from facecam.matcher import GalleryMatrix  # noqa: PLC0415
        from facecam.openset import rate_text  # noqa: PLC0415

        decision, mode = recognizer.decision, recognizer.match_mode
        matrix = matrix if matrix is not None else GalleryMatrix.empty(recognizer.embedder.dim)
        basis = decision.basis(matrix, mode)
        if decision.follows_size:
            value = float(np.max(np.atleast_1d(decision.threshold_at(matrix, mode))))
            self.show_threshold(value, note=f" (about {rate_text(decision.stranger_rate)} strangers)",
                                basis=basis + "; the default names about 1 stranger in 100 whatever the "
                                "gallery's size. Move the slider to fix a threshold by hand.")
            return
        model = config.MODELS.get(recognizer.model)
        self.show_threshold(recognizer.threshold, model.threshold if model is not None else None, basis=basis)

    def show_threshold(self, threshold: float, default: float | None = None, note: str | None = None,
                       basis: str | None = None) -> None:
        """The slider and the label at ``threshold`` (no ``threshold_changed``); "(default)" when it is, or
        ``note``; ``basis`` (what the decision rests on) as the label's tooltip."""
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(int(round(threshold * 100)))
        self.threshold_slider.blockSignals(False)
        self.threshold_slider.setEnabled(True)
        if note is None:
            note = " (default)" if default is not None and abs(default - threshold) < 5e-4 else ""
        self.threshold_label.setText(f"{threshold:.2f}{note}")
        self.threshold_label.setToolTip(basis or "")
