"""The window names a camera by its display name only (issue 18, item 5): a stream's address with a password opens,
and the title, every widget's text and tooltip, History, the sightings log and the unknowns store show its name
(``--source-name``, else the address without user, password and token), never the password."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2

from .helpers import wait_for_names

PASSWORD, TOKEN = "S3cretPW-w1n", "T0ken-w1n"
URL = f"rtsp://alice:{PASSWORD}@cam.local:554/live?channel=1&token={TOKEN}"
SHOWN = "rtsp://cam.local:554/live?channel=1"


class PacedClip:
    """The camera behind URL, for the window's source_backend: the clip's frames at 30 fps, in a loop (a live
    source is not paced by facecam). ``targets`` records what the backend was asked to open."""

    targets: list[str] = []

    def __init__(self, clip: Path, target: str):
        self.targets.append(target)
        self.capture = cv2.VideoCapture(str(clip))
        self.clip, self.next_at, self.lock = clip, time.monotonic(), threading.Lock()

    def isOpened(self):
        return self.capture.isOpened()

    def get(self, prop):
        return self.capture.get(prop)

    def read(self):
        with self.lock:
            self.next_at += 1 / 30
            time.sleep(max(0.0, self.next_at - time.monotonic()))
            ok, frame = self.capture.read()
            if not ok:   # the end of the clip: round again
                self.capture.release()
                self.capture = cv2.VideoCapture(str(self.clip))
                ok, frame = self.capture.read()
            return ok, frame

    def release(self):
        with self.lock:
            self.capture.release()


def shown_texts(window) -> list[str]:
    """Every text the window shows or holds for the user: titles, labels, buttons, fields, tooltips, status tips,
    the status bar, and each cell of its lists and tables (display text and tooltip)."""
    from PyQt5.QtCore import QAbstractListModel, Qt
    from PyQt5.QtWidgets import QAbstractItemView, QWidget

    texts = [window.windowTitle(), window.statusBar().currentMessage()]
    for widget in window.findChildren(QWidget):
        texts += [widget.windowTitle(), widget.toolTip(), widget.statusTip(), widget.accessibleName()]
        for getter in ("text", "toPlainText", "placeholderText", "currentText"):
            if hasattr(widget, getter):
                try:
                    texts.append(str(getattr(widget, getter)()))
                except TypeError:
                    pass
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            columns = model.columnCount() if hasattr(model, "columnCount") and not isinstance(model, QAbstractListModel) \
                else 1
            for row in range(model.rowCount()):
                for column in range(columns):
                    index = model.index(row, column)
                    texts += [str(model.data(index, role)) for role in (Qt.DisplayRole, Qt.ToolTipRole)]
    return texts


def test_the_window_shows_and_stores_only_the_display_name(make_window, qtbot, gui_clip, known_faces):
    from facecam.sightings import SightingQuery
    from facecam.stores import open_sighting_store
    from facecam.unknowns.live import open_store

    PacedClip.targets.clear()
    window = make_window(source=URL, source_name="porch", backend=lambda spec: PacedClip(gui_clip, spec.target))
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    assert PacedClip.targets == [URL]                        # the address, password and all, reached the camera only
    assert window.windowTitle() == f"facecam - stream {SHOWN}" and window.source.name == "porch"
    qtbot.waitUntil(lambda: {r.sighting.name for r in window.history_panel.rows()} >= {"Tony_Blair", None},
                    timeout=60_000)
    assert {r.sighting.source for r in window.history_panel.rows()} == {"porch"}
    texts = shown_texts(window)
    assert any("porch" in text for text in texts) and any(SHOWN in text for text in texts)
    assert [text for text in texts if PASSWORD in text or TOKEN in text or "alice" in text] == []
    window.close()                                           # open visits end and are written, unknowns stored
    with open_sighting_store(known_faces, retention_days=None) as store:
        logged = store.query(SightingQuery())
    assert {s.name for s in logged} >= {"Tony_Blair", None} and {s.source for s in logged} == {"porch"}
    unknowns = open_store(known_faces, "sface", 128)
    try:
        strangers = unknowns.sightings()
    finally:
        unknowns.close()
    assert strangers and {s.source for s in strangers} == {"porch"}   # the unknowns honour the name too
    holding = [str(path) for path in Path(known_faces).rglob("*") if path.is_file()
               and any(secret.encode() in path.read_bytes() for secret in (PASSWORD, TOKEN))]
    assert holding == []


def test_choose_source_shows_the_stream_by_its_display_name_and_keeps_its_password(qtbot):
    """Choose source... (Ctrl+O) on a stream with a password: the field shows the display name; OK without
    editing reopens the same address (password and token kept); an address typed in is taken as typed."""
    from PyQt5.QtWidgets import QLineEdit, QWidget

    from facecam.gui.source_dialog import SourceDialog

    dialog = SourceDialog(URL)
    qtbot.addWidget(dialog)
    assert dialog.url_radio.isChecked() and dialog.url_edit.text() == SHOWN
    texts = [t for w in dialog.findChildren(QWidget) for t in (w.toolTip(), getattr(w, "text", str)())]
    texts += [edit.text() for edit in dialog.findChildren(QLineEdit)]
    assert not [t for t in texts if PASSWORD in t or TOKEN in t or "alice" in t], texts
    assert dialog.spec() == URL                                    # left as shown: the same camera
    other = "rtsp://bob:pw2@cam.local:554/live"
    dialog.url_edit.setText(other)
    assert dialog.spec() == other
    dialog.url_edit.setText(SHOWN)                                 # the display name typed back: the address kept
    assert dialog.spec() == URL
    plain = SourceDialog("rtsp://cam.local/stream")                # nothing to hide: shown as it is
    qtbot.addWidget(plain)
    assert plain.url_edit.text() == "rtsp://cam.local/stream" == plain.spec()
    assert SourceDialog("3").spec() == "3" and SourceDialog("clip.mp4").spec() == "clip.mp4"
