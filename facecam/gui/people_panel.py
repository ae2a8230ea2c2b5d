"""The people in known_faces: a thumbnail and photo count each ("3 photos + 2 learned": the crops
``--learn`` kept are counted apart) and, when consent is required, who agreed; open their folder, remove them,
forget them everywhere, clear what was learned; export everyone or one person (with all facecam holds on them)
to an archive, import one.

The panel only shows what it is given (a :class:`facecam.gui.workers.GallerySnapshot`,
built off the GUI thread) and emits what the user asked for; the window does the work.
"""

from __future__ import annotations

from typing import Iterable

from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QPixmap
from PyQt5.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                             QVBoxLayout, QWidget)

from facecam.gui.video_view import bgr_to_qimage
from facecam.gui.workers import THUMBNAIL_PX, Person
from facecam.consent import describe
from facecam.learn import describe_counts

NAME_ROLE = Qt.UserRole


def pixmap_from_bgr(bgr) -> QPixmap:
    image, _buffer = bgr_to_qimage(bgr)
    return QPixmap.fromImage(image)  # copies the pixels: the buffer may go


def thumbnail_icon(bgr) -> QIcon:
    """The icon of a BGR thumbnail; a grey square when there is none (None)."""
    if bgr is not None:
        return QIcon(pixmap_from_bgr(bgr))
    blank = QPixmap(THUMBNAIL_PX, THUMBNAIL_PX)
    blank.fill(QColor(80, 80, 80))
    return QIcon(blank)


class PeoplePanel(QWidget):
    open_person = pyqtSignal(str)
    remove_person = pyqtSignal(str)
    forget_person = pyqtSignal(str)
    open_gallery = pyqtSignal()
    rescan = pyqtSignal()
    clear_learned = pyqtSignal(str)
    export_all = pyqtSignal()
    export_person = pyqtSignal(str)
    import_archive = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("People")
        self.title.setStyleSheet("font-weight: bold")
        self.hint = QLabel("Indexing known_faces...")
        self.hint.setWordWrap(True)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.open_person.emit(item.data(NAME_ROLE)))
        self.open_button = QPushButton("Open folder")
        self.remove_button = QPushButton("Remove...")
        self.forget_button = QPushButton("Forget...")
        self.forget_button.setToolTip("Delete everything of this person: photos, learned crops, visits and snapshots, "
                                      "unknown faces that are them, the database's rows (facecam people forget)")
        self.forget_button.clicked.connect(lambda: self._emit_selected(self.forget_person))
        self.consent_required = False   # set by the window (the setting consent_required): each person says who agreed
        self.open_button.clicked.connect(lambda: self._emit_selected(self.open_person))
        self.remove_button.clicked.connect(lambda: self._emit_selected(self.remove_person))
        self.clear_learned_button = QPushButton("Clear learned...")
        self.clear_learned_button.setToolTip("Delete the faces learned of this person (known_faces/<name>/.learned/); "
                                             "their photos stay")
        self.clear_learned_button.clicked.connect(lambda: self._emit_selected(self.clear_learned))
        self._learned: dict[str, int] = {}
        self._people: list[Person] = []
        self.gallery_button = QPushButton("Open known_faces")
        self.rescan_button = QPushButton("Rescan")
        self.gallery_button.clicked.connect(self.open_gallery)
        self.rescan_button.clicked.connect(self.rescan)
        self.export_button = QPushButton("Export...")
        self.export_button.setToolTip("Save everyone's photos and learned faces in one archive file (a backup, or to "
                                      "move them to another computer or to the shared database)")
        self.export_person_button = QPushButton("Export person...")
        self.export_person_button.setToolTip("Save all facecam holds on this person in one archive file: photos, "
                                             "learned faces, visits and their snapshots")
        self.import_button = QPushButton("Import...")
        self.import_button.setToolTip("Add the people of an archive made with Export (photos they do not have yet)")
        self.export_button.clicked.connect(self.export_all)
        self.export_person_button.clicked.connect(lambda: self._emit_selected(self.export_person))
        self.import_button.clicked.connect(self.import_archive)

        person_row = QHBoxLayout()
        person_row.addWidget(self.open_button)
        person_row.addWidget(self.remove_button)
        person_row.addWidget(self.forget_button)
        person_row.addWidget(self.clear_learned_button)
        gallery_row = QHBoxLayout()
        gallery_row.addWidget(self.gallery_button)
        gallery_row.addWidget(self.rescan_button)
        archive_row = QHBoxLayout()
        archive_row.addWidget(self.export_button)
        archive_row.addWidget(self.export_person_button)
        archive_row.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addWidget(self.list, 1)
        layout.addLayout(person_row)
        layout.addLayout(gallery_row)
        layout.addLayout(archive_row)
        self.setMinimumWidth(max(220, layout.minimumSize().width()))  # never narrower than its buttons' texts
        self._selection_changed()

    def set_people(self, people: Iterable[Person]) -> None:
        selected = self.selected()
        self.list.clear()
        people = list(people)
        self._people = people
        self._learned = {person.name: person.learned for person in people}
        for person in people:
            consent = describe(person.consent) if self.consent_required or person.consent else ""
            item = QListWidgetItem(f"{person.name}\n{describe_counts(len(person.photos) - person.learned, person.learned)}"
                                   + (f"\n{consent}" if consent else ""))
            item.setData(NAME_ROLE, person.name)
            item.setToolTip("\n".join(([consent] if consent else []) + list(person.photos)))
            if self.consent_required and person.consent is None:
                item.setForeground(QColor(200, 90, 0))
            item.setIcon(thumbnail_icon(person.thumbnail))
            self.list.addItem(item)
            if person.name == selected:
                item.setSelected(True)
        self.title.setText(f"People ({len(people)})")
        self.hint.setText("" if people else "Nobody yet: press Enroll (E) with a face in view, "
                          "or put photos in known_faces/<Name>/.")
        self.hint.setVisible(not people)
        self._selection_changed()

    def set_consent_required(self, required: bool) -> None:
        """Show who agreed to each enrolment (and mark those without) when consent is required."""
        self.consent_required = bool(required)
        self.set_people(self._people)

    def names(self) -> list[str]:
        return [self.list.item(i).data(NAME_ROLE) for i in range(self.list.count())]

    def counts(self) -> dict[str, int]:
        return {self.list.item(i).data(NAME_ROLE): int(self.list.item(i).text().split("\n")[1].split()[0])
                for i in range(self.list.count())}

    def learned_counts(self) -> dict[str, int]:
        """How many learned crops each person shown has."""
        return dict(self._learned)

    def select(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(NAME_ROLE) == name:
                self.list.setCurrentRow(i)
                return

    def selected(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(NAME_ROLE) if items else None

    def _emit_selected(self, signal) -> None:
        name = self.selected()
        if name is not None:
            signal.emit(name)

    def _selection_changed(self) -> None:
        has = self.selected() is not None
        self.open_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        self.export_person_button.setEnabled(has)
        self.forget_button.setEnabled(has)
        self.clear_learned_button.setEnabled(has and self._learned.get(self.selected(), 0) > 0)
