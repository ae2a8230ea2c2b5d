"""The window's sightings: the visits log and the notifications, the same :class:`~facecam.sightings.live.LiveSightings`
as ``watch``.

::

    sightings = WindowSightings(known_faces, NotifySettings.load())
    session.subscribe(sightings.on_visit)        # the live session's visits (facecam.live_session)
    sightings.saved.connect(history.refresh_soon)
    sightings.set_notify(NotifySettings(...))    # the settings dialog's OK: the notifier is replaced
    sightings.close()                            # the window closes: visits end, the log is written

What is a visit, when it arrives and ends, is the session's visit tracker's (the same as ``watch``'s): the
History tab shows what ``facecam sightings`` lists. The log is ``known_faces/.facecam/sightings.sqlite``
(retention: the setting ``sightings_keep_days``) or the ``--db`` database. Nothing here blocks the GUI thread:
the recorder runs in the recognition thread, saving in the writer's, sending in each sink's; a replaced
notifier is closed on a worker thread.
"""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from facecam.gui.notify_settings import NotifySettings
from facecam.gui.workers import run_task

NOTIFY_CLOSE_S = 0.5        # closing the window gives queued notifications this long to go out


class WindowSightings(QObject):
    """See the module notes. Signals (GUI thread, queued): ``saved(sighting)`` after each save."""

    saved = pyqtSignal(object)

    def __init__(self, known_faces: Path, notify: NotifySettings | None = None, *, enabled: bool = True,
                 keep_days_override: float | None = None, db_url: str | None = None, parent: QObject | None = None):
        from facecam.sightings.live import LiveSightings, keep_days  # noqa: PLC0415
        from facecam.sightings.recorder import SightingRecorder  # noqa: PLC0415
        from facecam.stores import open_stores  # noqa: PLC0415

        super().__init__(parent)
        self.known_faces = Path(known_faces)
        self.error: str | None = None
        self.note: str | None = None   # a read-only known_faces: where its files go instead (said once)
        store = None
        if enabled:
            try:
                stores = open_stores(self.known_faces, db_url)
                self.note = stores.note
                store = stores.sightings(retention_days=keep_days(keep_days_override),
                                         connect_later=True)  # never waits on the GUI thread
            except Exception as error:  # noqa: BLE001 - shown in the window; the video goes on without a log
                self.error = f"the sightings log cannot be opened ({error}); visits are not logged this run"
        self.live = LiveSightings(SightingRecorder(""), store, on_saved=self.saved.emit)
        self.store, self.writer, self.recorder = self.live.store, self.live.writer, self.live.recorder
        self.notify = NotifySettings()
        self.strangers = lambda: None   # the Who's this? collection's StrangerIndex, while it collects
        self._closed = False
        if notify is not None:
            self.set_notify(notify)

    @property
    def notifier(self):
        return self.live.notifier

    @property
    def warnings(self) -> list[str]:
        found = [self.error] if self.error else []
        found += [f"Note: {self.note}"] if self.note else []
        found += list(self.store.warnings) if self.store is not None else []
        return found

    def on_visit(self, event) -> None:
        """A :class:`facecam.visits.VisitTracker` subscriber (recognition thread)."""
        if not self._closed:
            self.live.recorder.strangers = self.strangers()
            self.live.on_visit(event)

    # ------------------------------------------------------------ notifications
    def set_notify(self, settings: NotifySettings) -> str | None:
        """Notify with ``settings`` from now on; the old notifier is closed on a worker thread. Returns an
        error line (an MQTT library missing...) or None."""
        try:
            notifier = settings.notifier()
        except Exception as error:  # noqa: BLE001 - shown in the window
            return f"notifications: {error}"
        old, self.notify = self.live.set_notifier(notifier), settings
        if old is not None:
            run_task("notify-close", lambda: old.close(NOTIFY_CLOSE_S))
        return None

    def forget_person(self, name: str, everywhere: bool = False) -> None:
        """``name`` was removed from the gallery: the sinks drop what they published about them (Home
        Assistant's entity, MQTT's retained topics). ``everywhere`` (People > Forget...): their visit still open
        is not logged either when it ends (:meth:`facecam.sightings.live.LiveSightings.forget`)."""
        if everywhere:
            self.live.forget(name)
            return
        notifier = self.live.notifier
        if notifier is not None:
            notifier.forget(name)

    def remember_person(self, name: str) -> None:
        """``name`` was enrolled (again): their visits are logged."""
        self.live.forget(name, forgotten=False)

    def notify_summary(self) -> dict:
        notifier = self.live.notifier
        return notifier.summary() if notifier is not None else {}

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        """End the open visits, write them, give notifications NOTIFY_CLOSE_S to go out, close the log."""
        if self._closed:
            return
        self.live.close(NOTIFY_CLOSE_S)
        self._closed = True

    @staticmethod
    def notify_threads() -> tuple[str, ...]:
        """The notification threads a closing window does not wait for (a request to a hanging endpoint
        cannot be interrupted; they are daemons, and the queued events are counted as unsent)."""
        from facecam.gui.workers import facecam_threads  # noqa: PLC0415

        return tuple(t.name for t in facecam_threads() if t.name.startswith("facecam-notify "))
