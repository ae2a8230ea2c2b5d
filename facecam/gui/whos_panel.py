"""The "Who's this?" panel: the unknown faces the camera kept seeing, one row per presumed person.

Newest first: the best crop, the number of visits, first and last seen, the source. Actions:
**Name...** (an existing or a new person), **Merge** (several selected: one person), **Not a person**
(forgotten, and that face is not collected again) and **Forget**. The panel only shows what it is
given (:class:`facecam.gui.whos_control.ClusterView` rows) and emits what the user asked for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                             QPushButton, QVBoxLayout, QWidget)

from facecam.gui.name_dialog import ask_name_dialog
from facecam.gui.people_panel import thumbnail_icon
from facecam.gui.workers import THUMBNAIL_PX

ID_ROLE = Qt.UserRole


def when(timestamp: float, now: float | None = None) -> str:
    """A short local time: "14:03" today, "Mon 14:03" this week, "2026-11-02 14:03" before."""
    now = time.time() if now is None else now
    local, today = time.localtime(timestamp), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    if now - timestamp < 6 * 86400:
        return time.strftime("%a %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def source_name(source: str) -> str:
    """A source as the row shows it: a file's name, "camera 0", a stream's address."""
    if source.isdigit():
        return f"camera {source}"
    if "://" in source:
        return source.split("@")[-1]         # no credentials in view
    return Path(source).name or source


def row_text(view, now: float | None = None) -> str:
    """"2 visits, 14:02 - 14:05" over the sources."""
    visits = f"{view.visits} visit{'s' if view.visits != 1 else ''}"
    seen = when(view.last_seen, now)
    if view.visits > 1:
        seen = f"{when(view.first_seen, now)} - {seen}"
    return f"{visits}, {seen}\n{', '.join(source_name(s) for s in view.sources)}"


def tooltip_text(view) -> str:
    return (f"{view.id}\nfirst seen {time.ctime(view.first_seen)}\nlast seen {time.ctime(view.last_seen)}\n"
            + "\n".join(source_name(s) for s in view.sources))


class WhosPanel(QWidget):
    name_requested = pyqtSignal(str, str)      # cluster id, person
    merge_requested = pyqtSignal(list)
    ignore_requested = pyqtSignal(list)
    forget_requested = pyqtSignal(list)

    def __init__(self, parent: QWidget | None = None,
                 ask_name: Callable[[QWidget, str, list[str]], str | None] = ask_name_dialog):
        super().__init__(parent)
        self.ask_name = ask_name
        self.people: Callable[[], list[str]] = list   # the enrolled names offered by Name...
        self._items: dict[str, tuple[QListWidgetItem, Path, str]] = {}   # id: item, its crop, its text
        self.title = QLabel("Who's this?")
        self.title.setStyleSheet("font-weight: bold")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.setUniformItemSizes(True)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.name_selected())
        self.name_button = QPushButton("Name...")
        self.merge_button = QPushButton("Merge")
        self.ignore_button = QPushButton("Not a person")
        self.forget_button = QPushButton("Forget")
        self.name_button.setToolTip("Save the best crops (at most 5) as photos of a person in known_faces")
        self.merge_button.setToolTip("The selected entries are one person")
        self.ignore_button.setToolTip("Forget it, and do not collect that face again")
        self.forget_button.setToolTip("Delete the selected entries and their crops")
        self.name_button.clicked.connect(self.name_selected)
        self.merge_button.clicked.connect(lambda: self._emit_selected(self.merge_requested))
        self.ignore_button.clicked.connect(lambda: self._emit_selected(self.ignore_requested))
        self.forget_button.clicked.connect(lambda: self._emit_selected(self.forget_requested))

        top = QHBoxLayout()
        top.addWidget(self.name_button)
        top.addWidget(self.merge_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.ignore_button)
        bottom.addWidget(self.forget_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addWidget(self.list, 1)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.problem = ""
        self.set_collecting(True)
        self.set_clusters([])

    def set_collecting(self, on: bool) -> None:
        self.collecting = bool(on)
        self._show_hint()

    def set_problem(self, text: str) -> None:
        """Why nothing can be kept (the store cannot be opened); "" when it works."""
        self.problem = text
        self._show_hint()

    def set_clusters(self, views: list) -> None:
        """Show these rows (newest first). Rows already shown are kept (their icon is not made again) and
        only re-texted and re-ordered, so a refresh of 2,000 entries stays cheap on the GUI thread."""
        selected = set(self.selected())
        now = time.time()
        self.list.setUpdatesEnabled(False)
        self.list.blockSignals(True)
        try:
            wanted = []
            for view in views:
                known = self._items.get(view.id)
                if known is None or known[1] != view.crop:
                    item = QListWidgetItem()
                    item.setData(ID_ROLE, view.id)
                    item.setIcon(thumbnail_icon(view.thumbnail))
                    known = (item, view.crop, "")
                item, _crop, shown = known
                text = view.text or row_text(view, now)
                if shown != text:
                    item.setText(text)
                    item.setToolTip(view.tooltip or tooltip_text(view))
                wanted.append((view.id, item, view.crop, text))
            keep = {id(item) for _id, item, _crop, _text in wanted}
            for row in range(self.list.count() - 1, -1, -1):     # gone (or replaced) rows, from the end
                if id(self.list.item(row)) not in keep:
                    self.list.takeItem(row)
            for row, (view_id, item, _crop, _text) in enumerate(wanted):   # a new or moved row: one move
                if self.list.item(row) is not item:
                    if item.listWidget() is self.list:
                        self.list.takeItem(self.list.row(item))
                    self.list.insertItem(row, item)
                if item.isSelected() != (view_id in selected):
                    item.setSelected(not item.isSelected())
            self._items = {view_id: (item, crop, text) for view_id, item, crop, text in wanted}
        finally:
            self.list.blockSignals(False)
            self.list.setUpdatesEnabled(True)
        self.title.setText(f"Who's this? ({len(views)})")
        self._show_hint()
        self._selection_changed()

    def _show_hint(self) -> None:
        empty = self.list.count() == 0
        if self.problem:
            text = self.problem
        elif not self.collecting:
            text = "Unknown faces are not collected (Tools > Collect unknown faces)."
        elif empty:
            text = ("Nobody yet: faces the camera keeps seeing but cannot name appear here, "
                    "one entry per person, once they leave the picture.")
        else:
            text = ""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def ids(self) -> list[str]:
        return [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())]

    def select(self, cluster_ids) -> None:
        wanted = set(cluster_ids)
        self.list.clearSelection()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setSelected(item.data(ID_ROLE) in wanted)

    def selected(self) -> list[str]:
        return [item.data(ID_ROLE) for item in self.list.selectedItems()]

    def name_selected(self) -> None:
        selected = self.selected()
        if len(selected) != 1:
            return
        name = self.ask_name(self, selected[0], self.people())
        if name:
            self.name_requested.emit(selected[0], name)

    def _emit_selected(self, signal) -> None:
        selected = self.selected()
        if selected:
            signal.emit(selected)

    def _selection_changed(self) -> None:
        count = len(self.selected())
        self.name_button.setEnabled(count == 1)
        self.merge_button.setEnabled(count >= 2)
        self.ignore_button.setEnabled(count >= 1)
        self.forget_button.setEnabled(count >= 1)
