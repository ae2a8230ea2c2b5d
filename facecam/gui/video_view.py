"""The video widget: a numpy BGR frame shown scaled to the widget, aspect ratio kept.

One QImage per painted frame, made without copying or converting: ``QImage.Format_BGR888``
reads OpenCV's byte order directly (so no channel swap happens here; facecam.images stays
the one place that converts channels). A QImage made from a buffer does not own it, so
the widget keeps a reference to the numpy array for as long as the QImage lives.
"""

from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QPoint, QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QImage, QPainter
from PyQt5.QtWidgets import QSizePolicy, QWidget


def bgr_to_qimage(bgr_frame: np.ndarray) -> tuple[QImage, np.ndarray]:
    """A QImage viewing ``bgr_frame`` (no copy) and the C-contiguous buffer it views: keep both alive."""
    buffer = np.ascontiguousarray(bgr_frame)
    if buffer.ndim != 3 or buffer.shape[2] != 3 or buffer.dtype != np.uint8:
        raise ValueError(f"bgr_frame: expected a uint8 (H, W, 3) image, got {buffer.dtype} {buffer.shape}")
    height, width = buffer.shape[:2]
    image = QImage(buffer.data, width, height, buffer.strides[0], QImage.Format_BGR888)
    return image, buffer


def fit_rect(image_w: int, image_h: int, area_w: int, area_h: int) -> QRectF:
    """The largest rectangle of the image's aspect ratio centred in the area (letterbox)."""
    if image_w <= 0 or image_h <= 0 or area_w <= 0 or area_h <= 0:
        return QRectF()
    scale = min(area_w / image_w, area_h / image_h)
    w, h = image_w * scale, image_h * scale
    return QRectF((area_w - w) / 2, (area_h - h) / 2, w, h)


class VideoView(QWidget):
    """Shows the newest frame; ``set_frame`` is called by the window's display timer.

    ``context_requested(frame_x, frame_y, global_pos)``: a right-click on the picture, in frame pixels.
    """

    context_requested = pyqtSignal(float, float, QPoint)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None  # what _image points into: must outlive it
        self.seq: int | None = None
        self.message = ""
        self.overlay = ""
        self.frames_painted = 0
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(320, 240)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAttribute(Qt.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    # ----------------------------------------------------------------- state
    def set_frame(self, bgr_frame: np.ndarray, seq: int | None = None) -> None:
        self._image, self._buffer = bgr_to_qimage(bgr_frame)
        self.seq = seq
        self.message = ""
        self.update()

    def clear(self, message: str = "") -> None:
        self._image = None
        self._buffer = None
        self.seq = None
        self.message = message
        self.update()

    def set_message(self, message: str) -> None:
        """Text shown instead of the picture while there is none (opening, loading)."""
        self.message = message
        self.update()

    def set_overlay(self, text: str) -> None:
        """Text shown over the picture ("Paused")."""
        self.overlay = text
        self.update()

    def image(self) -> QImage | None:
        """The QImage painted now (a view of the current frame buffer)."""
        return self._image

    def frame(self) -> np.ndarray | None:
        """The annotated BGR frame painted now."""
        return self._buffer

    def image_rect(self) -> QRectF:
        """Where the frame is drawn in widget coordinates."""
        if self._image is None:
            return QRectF()
        return fit_rect(self._image.width(), self._image.height(), self.width(), self.height())

    def to_widget(self, x: float, y: float) -> QPointF:
        """A point of the frame (pixels) in widget coordinates."""
        rect = self.image_rect()
        if self._image is None or rect.isEmpty():
            return QPointF()
        scale = rect.width() / self._image.width()
        return QPointF(rect.x() + x * scale, rect.y() + y * scale)

    def to_frame(self, x: float, y: float) -> tuple[float, float] | None:
        """A widget point in frame pixels; None when it is off the picture."""
        rect = self.image_rect()
        if self._image is None or rect.isEmpty() or not rect.contains(QPointF(x, y)):
            return None
        scale = self._image.width() / rect.width()
        return (x - rect.x()) * scale, (y - rect.y()) * scale

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt's name
        point = self.to_frame(event.pos().x(), event.pos().y())
        if point is not None:
            self.context_requested.emit(point[0], point[1], event.globalPos())
        event.accept()

    # ----------------------------------------------------------------- painting
    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(24, 24, 24))
            if self._image is not None:
                painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
                painter.drawImage(self.image_rect(), self._image)
                self.frames_painted += 1
            elif self.message:
                painter.setPen(QColor(220, 220, 220))
                font = QFont(painter.font())
                font.setPointSizeF(max(font.pointSizeF(), 12.0))
                painter.setFont(font)
                painter.drawText(self.rect().adjusted(20, 20, -20, -20), Qt.AlignCenter | Qt.TextWordWrap,
                                 self.message)
            if self.overlay:
                font = QFont(painter.font())
                font.setPointSizeF(20.0)
                font.setBold(True)
                painter.setFont(font)
                box = self.rect().adjusted(0, 10, 0, 0)
                painter.setPen(QColor(0, 0, 0, 160))
                painter.drawText(box.translated(2, 2), Qt.AlignHCenter | Qt.AlignTop, self.overlay)
                painter.setPen(QColor(255, 255, 255))
                painter.drawText(box, Qt.AlignHCenter | Qt.AlignTop, self.overlay)
        finally:
            painter.end()
