"""The window's side of ``--learn``: the learning listener on the live pipeline, its switch and "Clear learned faces".

:class:`LearnControl` owns the :class:`facecam.learn.Learning` on the live session's visits (as
``watch --learn``). A crop it writes lands in ``known_faces/<name>/.learned/``, which the window's
folder watcher sees like any new photo: the gallery is refreshed and the People panel shows the count.
The switch (Tools > Learn from clear sightings) is remembered in the settings, ``settings["window"]["learn"]``;
``--learn`` or the setting ``"learn": true`` turn it on at start. With ``--db`` learning is off (the crops
live in a local folder, the people in the database): the window says so once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PyQt5.QtCore import QObject, pyqtSignal

from facecam.camera_set import Sessions
from facecam.gui.workers import run_task

SETTINGS_KEY = "learn"   # settings["window"]["learn"]


def saved_choice() -> bool:
    """The window's remembered switch, or the setting ``"learn": true`` (off by default)."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings()
    window = settings.get("window") if isinstance(settings.get("window"), dict) else {}
    return window.get(SETTINGS_KEY) is True or settings.get("learn") is True


def save_choice(on: bool) -> None:
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings()
    window = settings.get("window") if isinstance(settings.get("window"), dict) else {}
    settings["window"] = {**window, SETTINGS_KEY: bool(on)}
    config.save_settings(settings)


class LearnControl(QObject):
    """Learning on the window's pipeline (see the module notes). ``message(text)`` for the status bar;
    ``cleared(name, count)`` after "Clear learned faces" (the window then rescans known_faces)."""

    message = pyqtSignal(str)
    cleared = pyqtSignal(str, int)

    def __init__(self, known_faces: Path, enabled: bool, db: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self.known_faces = Path(known_faces)
        self.enabled = bool(enabled)
        self.db = bool(db)
        self.sessions = Sessions()   # the live sessions learned from (one per camera: camera_set.Sessions)
        self.gallery: Callable | None = None
        self.learning = None
        self._closed = False

    def attach(self, sessions, gallery: Callable) -> None:
        """Learn from the visits of ``sessions`` (:class:`facecam.live_session.LiveSession`, one per camera; a new
        model: learning starts again, as the sessions' visits do)."""
        self._stop()
        self.sessions, self.gallery = Sessions(sessions), gallery
        if self.enabled:
            self._start()

    def _start(self) -> None:
        from facecam.learn import Learning  # noqa: PLC0415

        if self.learning is not None or not self.sessions or self._closed:
            return
        if self.db:
            self.message.emit("Learning is off with --db: learned crops are kept in a local known_faces folder")
            return
        self.learning = Learning(self.known_faces, self.gallery,
                                 on_error=lambda error: self._from_writer(f"Learning: {error}"),
                                 on_learned=lambda name, _path: self._from_writer(f"Learned a new face of {name}"))
        self.sessions.follow(self.learning.on_visit)

    def _from_writer(self, text: str) -> None:
        if self._closed:
            return
        try:
            self.message.emit(text)
        except RuntimeError:  # the window was destroyed under the writer thread
            pass

    def _stop(self) -> None:
        learning, self.learning = self.learning, None
        if learning is None:
            return
        self.sessions.unfollow()
        run_task("learn-stop", learning.close)

    def set_enabled(self, on: bool, remember: bool = True) -> None:
        """Tools > Learn from clear sightings (remembered for the next start)."""
        self.enabled = bool(on)
        if self.enabled:
            self._start()
        else:
            self._stop()
        if remember:
            run_task("save-settings", lambda: save_choice(on), None,
                     lambda error: self.message.emit(f"Could not save the settings: {error}"))
        if not self.db or not on:
            self.message.emit("Learning from clear sightings (known_faces/<name>/.learned/)" if on else
                              "Not learning (the learned crops stay until cleared)")

    def clear(self, name: str | None) -> None:
        """Delete the learned crops of ``name`` (None: everyone's), off the GUI thread."""
        from facecam.learn import clear_learned  # noqa: PLC0415

        root = self.known_faces

        def done(cleared: dict) -> None:
            if self._closed:
                return
            count = sum(cleared.values())
            self.message.emit(f"Cleared {count} learned face(s)" + (f" of {name}" if name else ""))
            self.cleared.emit(name or "", count)

        run_task("learn-clear", lambda: clear_learned(root, name), done,
                 lambda error: None if self._closed else self.message.emit(f"Could not clear: {error}"))

    def close(self) -> None:
        """Stop learning (the visits open end now; their crops are written in a worker thread)."""
        if self._closed:
            return
        self._stop()
        self._closed = True
