"""The widgets of several cameras: a tile per camera (its picture with the names, its name, state and fps), the grid
of tiles, the bar above the picture (back to all cameras, add, remove) and the stack of the large view and the grid.

Widgets only: what they show and when is :mod:`facecam.gui.cameras_control`'s.
"""

from __future__ import annotations

import math

from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QToolButton,
                             QVBoxLayout, QWidget)

from facecam.gui.video_view import VideoView

STATE_COLOURS = {"live": "#2e7d32", "idle": "#546e7a", "reconnecting": "#ef6c00", "ended": "#455a64",
                 "failed": "#b00020", "opening": "#546e7a", "paused": "#546e7a"}


class TileView(VideoView):
    """A camera's picture in its tile: smaller than the large view; a click selects the camera."""

    clicked = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.setFocusPolicy(Qt.NoFocus)

    def sizeHint(self) -> QSize:
        return QSize(400, 300)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.LeftButton:
            self.clicked.emit()
        event.accept()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - no face menu on a tile: the large view has it
        event.accept()


class CameraTile(QFrame):
    """One camera: its name, state and fps over its picture. ``clicked()``: show it large;
    ``remove_requested()``: the tile's x button."""

    clicked = pyqtSignal()
    remove_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("tile")
        self.name_label = QLabel()
        self.name_label.setStyleSheet("font-weight: bold;")
        self.state_label = QLabel()
        self.fps_label = QLabel()
        self.remove_button = QToolButton()
        self.remove_button.setText("\u2715")
        self.remove_button.setToolTip("Remove this camera")
        self.remove_button.setAutoRaise(True)
        self.remove_button.clicked.connect(self.remove_requested.emit)
        self.view = TileView()
        self.view.clicked.connect(self.clicked.emit)
        self.names: list[str] = []     # the names painted on the tile's frame ("Unknown", "..." as in the view)
        self.state = ""
        self.selected: bool | None = None
        header = QHBoxLayout()
        header.setContentsMargins(4, 2, 2, 0)
        header.addWidget(self.name_label, 1)
        header.addWidget(self.state_label)
        header.addWidget(self.fps_label)
        header.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        self.set_selected(False)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name: the header selects too
        if event.button() == Qt.LeftButton:
            self.clicked.emit()
        event.accept()

    def set_selected(self, selected: bool) -> None:
        if selected == self.selected:
            return          # a style sheet set again re-polishes the tile and its children: only on a change
        self.selected = selected
        border = "#1e88e5" if selected else "#3a3a3a"
        self.setStyleSheet(f"#tile {{ border: 2px solid {border}; border-radius: 4px; }}")

    def set_status(self, name: str, state: str, fps: float) -> None:
        self.name_label.setText(name)
        self.name_label.setToolTip(name)
        if state != self.state:
            self.state = state
            self.state_label.setText(state)
            self.state_label.setStyleSheet(f"color: white; background: {STATE_COLOURS.get(state, '#546e7a')}; "
                                           "border-radius: 3px; padding: 0 4px;")
        self.fps_label.setText(f"{fps:.0f} fps")

    def status_text(self) -> str:
        return f"{self.name_label.text()} {self.state_label.text()} {self.fps_label.text()}"


class CameraGrid(QWidget):
    """The tiles in rows and columns (two cameras side by side, four in two rows, ...)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles: list[CameraTile] = []
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)

    def add_tile(self) -> CameraTile:
        tile = CameraTile()
        self.tiles.append(tile)
        self._layout()
        return tile

    def remove_tile(self, tile: CameraTile) -> None:
        self.tiles.remove(tile)
        self.grid.removeWidget(tile)
        tile.hide()
        tile.deleteLater()
        self._layout()

    def _layout(self) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
        columns = max(1, math.ceil(math.sqrt(len(self.tiles))))
        for i, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, i // columns, i % columns)
        for column in range(self.grid.columnCount()):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)
        for row in range(self.grid.rowCount()):
            self.grid.setRowStretch(row, 1 if row < math.ceil(len(self.tiles) / columns) else 0)


class CameraBar(QFrame):
    """Above the picture, with several cameras: "All cameras" (back to the grid; in the large view), the
    selected camera's name, "Add camera..." and "Remove camera"."""

    grid_requested = pyqtSignal()
    add_requested = pyqtSignal()
    remove_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid_button = QPushButton("\u25a6 All cameras")
        self.grid_button.setToolTip("Back to the grid of cameras (G)")
        self.label = QLabel()
        self.label.setStyleSheet("font-weight: bold;")
        self.add_button = QPushButton("Add camera...")
        self.remove_button = QPushButton("Remove camera")
        self.grid_button.clicked.connect(self.grid_requested.emit)
        self.add_button.clicked.connect(self.add_requested.emit)
        self.remove_button.clicked.connect(self.remove_requested.emit)
        for button in (self.grid_button, self.add_button, self.remove_button):
            button.setFocusPolicy(Qt.NoFocus)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.grid_button)
        row.addWidget(self.label, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)

    def show_for(self, cameras: int, large: bool, name: str) -> None:
        """Hidden with one camera (the window as it always was); else the buttons of the page shown."""
        self.setVisible(cameras > 1)
        self.grid_button.setVisible(large)
        self.remove_button.setVisible(large)
        self.label.setText(name if large else f"{cameras} cameras: click one for the large view")


class CameraViews(QStackedWidget):
    """The large view (the window's VideoView) or the grid of cameras."""

    def __init__(self, video: VideoView, parent: QWidget | None = None):
        super().__init__(parent)
        self.video = video
        self.grid = CameraGrid()
        self.addWidget(video)
        self.addWidget(self.grid)

    @property
    def large(self) -> bool:
        return self.currentWidget() is self.video

    def show_large(self) -> None:
        self.setCurrentWidget(self.video)

    def show_grid(self) -> None:
        self.setCurrentWidget(self.grid)
