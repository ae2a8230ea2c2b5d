"""The window's sightings: the visits log and the notifications, wired as ``watch`` wires them.

::

    sightings = WindowSightings(known_faces, NotifySettings.load())
    sightings.attach(pipeline, "front door")     # a new pipeline (model switched) or a new source
    sightings.saved.connect(history.refresh_soon)
    sightings.set_notify(NotifySettings(...))    # the settings dialog's OK: the notifier is replaced
    sightings.close()                            # the window closes: visits end, the log is written

The same pieces as ``watch`` (:mod:`facecam.sightings.live`): a
:class:`~facecam.sightings.recorder.SightingRecorder` per pipeline and source (track ids start again
with a new pipeline, and a visit belongs to one source), one
:class:`~facecam.sightings.live.SightingWriter` thread on the log
(``known_faces/.facecam/sightings.sqlite``, retention: the setting ``sightings_keep_days``), and the
CLI's :class:`~facecam.sightings.notify.Notifier`. Nothing here blocks the GUI thread: the recorder
runs in the recognition thread, saving in the writer's, sending in each sink's; a replaced notifier
is closed on a worker thread.
"""

from __future__ import annotations

import threading
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
        from facecam.sightings.live import SightingWriter, keep_days  # noqa: PLC0415
        from facecam.stores import open_stores  # noqa: PLC0415

        super().__init__(parent)
        self.known_faces = Path(known_faces)
        self.error: str | None = None
        self.note: str | None = None   # a read-only known_faces: where its files go instead (said once)
        self.store = self.writer = None
        if enabled:
            try:
                stores = open_stores(self.known_faces, db_url)
                self.note = stores.note
                self.store = stores.sightings(retention_days=keep_days(keep_days_override),
                                              connect_later=True)  # never waits on the GUI thread
            except Exception as error:  # noqa: BLE001 - shown in the window; the video goes on without a log
                self.error = f"the sightings log cannot be opened ({error}); visits are not logged this run"
        if self.store is not None:
            self.writer = SightingWriter(self.store, on_saved=self.saved.emit)
        self.notify = NotifySettings()
        self.notifier = None
        self.recorder = None
        self._lock = threading.Lock()
        self._pipeline = None
        self._listener = None
        if notify is not None:
            self.set_notify(notify)

    @property
    def warnings(self) -> list[str]:
        found = [self.error] if self.error else []
        found += [f"Note: {self.note}"] if self.note else []
        found += list(self.store.warnings) if self.store is not None else []
        return found

    # ------------------------------------------------------------ recording
    def attach(self, pipeline, source_name: str) -> None:
        """Record the visits of ``pipeline`` under ``source_name`` from now on (the previous recorder's
        open visits end, and it is taken off the pipeline it listened to)."""
        from facecam.sightings.recorder import SightingRecorder  # noqa: PLC0415

        recorder = SightingRecorder(str(source_name), [self._on_sighting])

        def listener(result, recorder=recorder):
            with self._lock:                    # a retired pipeline's last round is not recorded
                if self.recorder is recorder:
                    recorder.on_round(result)

        with self._lock:
            old, old_pipeline, old_listener = self.recorder, self._pipeline, self._listener
            self.recorder, self._pipeline, self._listener = recorder, pipeline, listener
        if old_pipeline is not None and old_listener in old_pipeline.listeners:
            old_pipeline.listeners.remove(old_listener)
        if old is not None:
            old.close()
        pipeline.listeners.append(listener)

    def _on_sighting(self, sighting, stage: str) -> None:
        """The recorder's listener (recognition thread): queue for the log and offer to the notifier."""
        if self.writer is not None:
            self.writer(sighting, stage)
        notifier = self.notifier
        if notifier is not None:
            notifier(sighting, stage)

    # ------------------------------------------------------------ notifications
    def set_notify(self, settings: NotifySettings) -> str | None:
        """Notify with ``settings`` from now on; the old notifier is closed on a worker thread. Returns an
        error line (an MQTT library missing...) or None."""
        try:
            notifier = settings.notifier()
        except Exception as error:  # noqa: BLE001 - shown in the window
            return f"notifications: {error}"
        old, self.notifier, self.notify = self.notifier, notifier, settings
        if old is not None:
            run_task("notify-close", lambda: old.close(NOTIFY_CLOSE_S))
        return None

    def notify_summary(self) -> dict:
        notifier = self.notifier
        return notifier.summary() if notifier is not None else {}

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        """End the open visits, write them, give notifications NOTIFY_CLOSE_S to go out, close the log."""
        with self._lock:
            recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()
        if self.writer is not None:
            self.writer.close()
        notifier, self.notifier = self.notifier, None
        if notifier is not None:
            notifier.close(NOTIFY_CLOSE_S)
        if self.store is not None:
            self.store.close()

    @staticmethod
    def notify_threads() -> tuple[str, ...]:
        """The notification threads a closing window does not wait for (a request to a hanging endpoint
        cannot be interrupted; they are daemons, and the queued events are counted as unsent)."""
        from facecam.gui.workers import facecam_threads  # noqa: PLC0415

        return tuple(t.name for t in facecam_threads() if t.name.startswith("facecam-notify "))
