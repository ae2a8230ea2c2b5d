"""The History tab: today's visits from the sightings log, newest first, with their face snapshots.

Each row is one visit (a :class:`~facecam.sightings.model.Sighting`): snapshot, time, name or
Unknown (with its stranger's cluster), distance, duration, source. The box above filters by person (or
unknown faces, or one stranger: the clusters of today's unknown visits);
double-clicking a row shows its snapshot large (:class:`SnapshotDialog`).

The log is read on a worker thread through the panel's own connection (SQLite in WAL mode:
reading never blocks the writer), with the same query as ``facecam sightings --since today``;
the GUI thread only swaps the model's rows in (the view draws the visible ones). Refreshes
are asked for when a visit is saved (:meth:`HistoryPanel.refresh_soon`, coalesced), every
``poll_ms`` (another facecam writing to the same log; midnight), and when the filter changes.
The newest state wins: a refresh asked for while one runs starts when it ends, and a result
for a filter no longer chosen is dropped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PyQt5.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, QTimer
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel, QStyle,
                             QTableView, QVBoxLayout, QWidget)

from facecam.gui.video_view import bgr_to_qimage
from facecam.gui.workers import run_task

ICON_PX = 48
LARGE_PX = 384
MAX_ROWS = 2000              # a day at a busy door; older rows of the day are left out (the CLI has them all)
EVERYONE, UNKNOWN = "Everyone", "Unknown faces"
STRANGER = "Stranger "       # + a cluster id: one stranger's visits (their cluster in Who's this?)
COLUMNS = ("Time", "Who", "Distance", "Duration", "Source")


@dataclass(frozen=True)
class HistoryRow:
    """One visit as the panel shows it (built on the worker thread)."""

    sighting: object                 # facecam.sightings.model.Sighting, with its snapshot
    icon: QImage                     # the snapshot, ICON_PX high (QImage: safe to build off the GUI thread)

    @property
    def who(self) -> str:
        s = self.sighting
        return s.name or ("Unknown" + (f" ({s.cluster})" if s.cluster else ""))

    def cells(self) -> tuple[str, str, str, str, str]:
        s = self.sighting
        return (s.started.strftime("%H:%M:%S"), self.who, "" if s.distance is None else f"{s.distance:.2f}",
                f"{s.duration_s:.1f} s", s.source)


@dataclass(frozen=True)
class HistoryFilter:
    """Which visits: ``person`` (a name), ``unknown`` faces, one stranger (``cluster``), or everyone."""

    person: str | None = None
    unknown: bool = False
    cluster: str | None = None


class HistoryReader:
    """Reads today's visits through its own connection to the log (opened on first use; any thread).

    The snapshots are read and decoded once per visit and kept (a visit's snapshot changes only with
    its name or a closer match, so those are the key): a refresh reads the rows, then only the new
    snapshots."""

    def __init__(self, known_faces: Path, db_url: str | None = None):
        self.known_faces = Path(known_faces)
        self.db_url = db_url          # --db: the visits of every instance on the database, not the local log
        self._store = None
        self._lock = threading.Lock()
        self._closed = False
        self._snapshots: dict[tuple, tuple[bytes, QImage]] = {}
        self._strangers: dict[str, None] = {}   # the clusters of today's unknown visits, in order first seen
        self.key_problem: str | None = None     # a snapshot could not be decrypted (facecam.sealed): why

    def read(self, chosen: HistoryFilter) -> tuple[list[HistoryRow], list[str]]:
        """(today's visits for ``chosen``, newest first; the names with visits and today's strangers, for the
        filter box)."""
        from facecam.sealed import KeyProblem  # noqa: PLC0415
        from facecam.sightings.model import SightingQuery  # noqa: PLC0415
        from facecam.stores import open_stores  # noqa: PLC0415

        with self._lock:
            if self._closed:
                return [], []
            if self._store is None:  # None: no log yet (a database that does not answer: the read fails, said in
                self._store = open_stores(self.known_faces, self.db_url).sighting_log()  # the panel; the next retries)
                if self._store is None:
                    return [], []
            sightings = self._store.query(SightingQuery.today(person=chosen.person, unknown=chosen.unknown,
                                                              cluster=chosen.cluster, limit=MAX_ROWS))
            self._strangers.update((s.cluster, None) for s in reversed(sightings) if s.name is None and s.cluster)
            people = self._store.people() + [STRANGER + cluster for cluster in self._strangers]
            rows = []
            for sighting in sightings:
                key = (sighting.id, sighting.name, sighting.distance)
                if key not in self._snapshots:
                    try:
                        jpeg = self._store.snapshot(sighting.id)
                    except KeyProblem as error:   # encrypted with another key, or none set: the row, no picture
                        self.key_problem, jpeg = str(error), b""
                    self._snapshots[key] = (jpeg, icon_of(jpeg))
                jpeg, icon = self._snapshots[key]
                rows.append(HistoryRow(sighting.updated(snapshot=jpeg), icon))
            if chosen == HistoryFilter():   # everyone's rows: forget the snapshots (and strangers) of visits gone
                shown = {(s.id, s.name, s.distance) for s in sightings}
                self._snapshots = {k: v for k, v in self._snapshots.items() if k in shown}
                self._strangers = {s.cluster: None for s in reversed(sightings) if s.name is None and s.cluster}
        return rows, people

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._store is not None:
                self._store.close()
                self._store = None


def icon_of(jpeg: bytes, height: int = ICON_PX) -> QImage:
    """The snapshot ``height`` pixels high (decoded and scaled by OpenCV, which lets other threads run)."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) if jpeg else None
    if bgr is None:
        return QImage()
    width = max(int(round(bgr.shape[1] * height / bgr.shape[0])), 1)
    image, _buffer = bgr_to_qimage(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA))
    return image.copy()   # owns its pixels


class HistoryModel(QAbstractTableModel):
    """The rows of :class:`HistoryPanel` (pixmaps made only for the rows drawn, then kept)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[HistoryRow] = []
        self._pixmaps: dict[str, QPixmap] = {}

    def set_rows(self, rows: list[HistoryRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        ids = {row.sighting.id for row in self.rows}
        self._pixmaps = {k: v for k, v in self._pixmaps.items() if k.split(":")[0] in ids}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802 - Qt's name
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.DisplayRole:
            return row.cells()[index.column()]
        if role == Qt.DecorationRole and index.column() == 0 and not row.icon.isNull():
            key = f"{row.sighting.id}:{len(row.sighting.snapshot)}"   # a better snapshot replaces the old one
            if key not in self._pixmaps:
                self._pixmaps[key] = QPixmap.fromImage(row.icon)
            return self._pixmaps[key]
        if role == Qt.ToolTipRole:
            s = row.sighting
            return f"{row.who}: {s.started.isoformat(timespec='seconds')} to {s.ended.strftime('%H:%M:%S')}"
        if role == Qt.TextAlignmentRole and index.column() in (2, 3):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class SnapshotDialog(QDialog):
    """One visit's snapshot, large, with what the row says (non-modal)."""

    def __init__(self, row: HistoryRow, parent: QWidget | None = None):
        super().__init__(parent)
        s = row.sighting
        self.setWindowTitle(f"{row.who} at {s.started.strftime('%H:%M:%S')}")
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        picture = QImage.fromData(s.snapshot, "JPG") if s.snapshot else QImage()
        if picture.isNull():
            self.image.setText("No snapshot")
        else:
            self.image.setPixmap(QPixmap.fromImage(picture).scaled(LARGE_PX, LARGE_PX, Qt.KeepAspectRatio,
                                                                   Qt.SmoothTransformation))
        distance = "" if s.distance is None else f", distance {s.distance:.3f}"
        self.caption = QLabel(f"{row.who}: {s.started.strftime('%Y-%m-%d %H:%M:%S')}, {s.duration_s:.1f} s"
                              f"{distance}, {s.source}")
        self.caption.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)
        self.setModal(False)


class HistoryPanel(QWidget):
    """See the module notes. ``HistoryPanel(known_faces)``; call :meth:`refresh_soon` when a visit is saved
    and :meth:`close_log` when the window closes."""

    def __init__(self, known_faces: Path, parent: QWidget | None = None, *, poll_ms: int = 10_000,
                 coalesce_ms: int = 300, db_url: str | None = None):
        super().__init__(parent)
        self.reader = HistoryReader(known_faces, db_url)
        self.snapshot_dialog: SnapshotDialog | None = None
        self.error: str | None = None
        self.refreshes = 0                   # finished reads (tests wait on it)
        self._running = False
        self._dirty = False
        self._closed = False

        self.title = QLabel("Today")
        self.title.setStyleSheet("font-weight: bold")
        self.filter_box = QComboBox()
        self.filter_box.addItems([EVERYONE, UNKNOWN])
        self.filter_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.hint = QLabel("No visits yet today.")
        self.hint.setWordWrap(True)
        self.model = HistoryModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setIconSize(QSize(ICON_PX, ICON_PX))
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(ICON_PX + 4)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)   # not ResizeToContents: that measures every row
        header.setStretchLastSection(True)
        text = self.view.fontMetrics().horizontalAdvance
        for column, sample in enumerate(("00:00:00", "Firstname_Last", COLUMNS[2], COLUMNS[3], "camera 0")):
            header.resizeSection(column, max(text(sample), text(COLUMNS[column])) + 16
                                 + (ICON_PX + 8 if column == 0 else 0))
        self.view.doubleClicked.connect(lambda index: self.open_snapshot(index.row()))

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.filter_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.view, 1)
        # wide enough for every column (the window's side tabs take it at the default size), with a scroll bar
        columns = sum(header.sectionSize(c) for c in range(len(COLUMNS)))
        self.setMinimumWidth(columns + 2 * self.view.frameWidth() + 8
                             + self.view.style().pixelMetric(QStyle.PM_ScrollBarExtent))

        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(coalesce_ms)
        self._soon.timeout.connect(self.refresh)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self.refresh)
        self._poll.start()
        self.refresh()

    # ------------------------------------------------------------ reading
    def chosen(self) -> HistoryFilter:
        text = self.filter_box.currentText()
        if text == UNKNOWN:
            return HistoryFilter(unknown=True)
        if text.startswith(STRANGER):
            return HistoryFilter(cluster=text[len(STRANGER):])
        return HistoryFilter(person=text) if text and text != EVERYONE else HistoryFilter()

    def refresh_soon(self, *_args) -> None:
        """A visit was saved: refresh within ``coalesce_ms`` (many saves, one read)."""
        if not self._soon.isActive():
            self._soon.start()

    def refresh(self) -> None:
        """Read the log now on a worker thread (or right after the read in progress)."""
        if self._closed:
            return
        if self._running:
            self._dirty = True
            return
        self._running, self._dirty = True, False
        chosen = self.chosen()
        run_task("history", lambda: self.reader.read(chosen), lambda result: self._show(chosen, result),
                 self._failed)

    def _show(self, chosen: HistoryFilter, result) -> None:
        self._running = False
        if self._closed:
            return
        self.refreshes += 1
        if chosen == self.chosen():           # a result for another filter is dropped (the newer read follows)
            rows, people = result
            self.error = None
            self._set_people(people)
            selected = self.selected_id()
            self.model.set_rows(rows)
            self._select(selected)
            self._show_summary(rows, chosen)
        if self._dirty or chosen != self.chosen():
            self.refresh()

    def _failed(self, error: BaseException) -> None:
        self._running = False
        if self._closed:
            return
        self.refreshes += 1
        self.error = f"The sightings log cannot be read: {error}"
        self.hint.setText(self.error)
        self.hint.setVisible(True)
        if self._dirty:
            self.refresh()

    def _set_people(self, people: list[str]) -> None:
        current = self.filter_box.currentText()
        wanted = [EVERYONE, UNKNOWN, *people]
        if current not in wanted:
            wanted.append(current)          # the chosen person stays chosen (e.g. their visits were forgotten)
        if [self.filter_box.itemText(i) for i in range(self.filter_box.count())] == wanted:
            return
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItems(wanted)
        self.filter_box.setCurrentText(current)
        self.filter_box.blockSignals(False)

    def _show_summary(self, rows: list[HistoryRow], chosen: HistoryFilter) -> None:
        unknown = sum(1 for row in rows if row.sighting.name is None)
        who = chosen.person or ("unknown faces" if chosen.unknown else None) or (
            f"stranger {chosen.cluster}" if chosen.cluster else None)
        self.title.setText(f"Today: {len(rows)} visit{'s' if len(rows) != 1 else ''}"
                           + (f" of {who}" if who else (f" ({unknown} unknown)" if unknown else "")))
        problem = self.reader.key_problem     # the snapshots cannot be decrypted: said once, the rows shown
        self.hint.setText("No visits yet today." if not rows else f"Snapshots not shown: {problem}" if problem else "")
        self.hint.setVisible(not rows or bool(problem))

    # ------------------------------------------------------------ rows
    def rows(self) -> list[HistoryRow]:
        return list(self.model.rows)

    def selected_id(self) -> str | None:
        indexes = self.view.selectionModel().selectedRows()
        return self.model.rows[indexes[0].row()].sighting.id if indexes else None

    def _select(self, sighting_id: str | None) -> None:
        for n, row in enumerate(self.model.rows):
            if row.sighting.id == sighting_id:
                self.view.selectRow(n)
                return

    def open_snapshot(self, row: int) -> None:
        if not 0 <= row < len(self.model.rows):
            return
        if self.snapshot_dialog is not None:
            self.snapshot_dialog.close()
        self.snapshot_dialog = SnapshotDialog(self.model.rows[row], self)
        self.snapshot_dialog.show()

    def close_log(self) -> None:
        """The window closes: no more reads; the connection is closed (after a read in progress)."""
        self._closed = True
        self._soon.stop()
        self._poll.stop()
        if self.snapshot_dialog is not None:
            self.snapshot_dialog.close()
        self.reader.close()
