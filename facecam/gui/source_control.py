"""The window's source handling: open or switch a source, retry, choose one, pause; the banner when it fails or ends.

:class:`SourceControl` acts on the window's source state (``window.source``, ``source_spec``, ``source_problem``,
``source_ended``, ``last_frame``, ``paused``), which the display timer and the tests read. Opening never
blocks the GUI thread: it happens on the capture thread. A new source is a new set of visits (the live
session's open visits end), and a source that ends ends its visits at once (they are logged and shown in
History with their whole length, as ``watch`` logs them).
"""

from __future__ import annotations

from facecam.errors import CameraError
from facecam.gui.source_dialog import SourceDialog


class SourceControl:
    """See the module notes. ``window``: the :class:`facecam.gui.main_window.MainWindow`."""

    def __init__(self, window):
        self.window = window

    def open(self, spec: str) -> bool:
        """Switch to ``spec`` (camera number, file, URL). Never blocks: opening happens on the capture thread."""
        from facecam.sources import open_source  # noqa: PLC0415

        w = self.window
        old, w.source = w.source, None
        if old is not None:
            old.request_stop()  # the capture thread ends on its own (a stuck driver cannot hold us)
            w.old_sources = [item for item in w.old_sources if item.running] + [old]
        w.source_spec = str(spec)
        w.session.set_source_name(self.source_name())  # the open visits end: another source's follow
        w.unknowns.set_source(w.session.source_name)
        w.source_ended = False
        w.last_frame = None
        w.current_labels = []
        if w.pipeline is not None:
            w.pipeline.reset()  # a new clock: tracks of the old source mean nothing
        self.hide_banner()
        try:
            w.source = open_source(spec, realtime=True, backend=w.source_backend, name=w.session.source_name)
        except CameraError as error:
            self.show_problem(str(error))
            return False
        if w.paused:
            w.source.pause()
        w.video.clear(f"Opening {w.source.spec.describe()}...")
        w.setWindowTitle(f"facecam - {w.source.spec.describe()}")
        return True

    def source_name(self) -> str:
        """The source's name in the logs and events: --source-name for the source it names, else the spec's display
        name (sources.display_name: never a password)."""
        from facecam.sources import display_name  # noqa: PLC0415

        w = self.window
        given = w.options.source_name
        return display_name(w.source_spec, given if w.source_spec == str(w.options.source) else None)

    def retry(self) -> None:
        self.open(self.window.source_spec)

    def choose(self) -> None:
        w = self.window
        dialog = SourceDialog(w.source_spec, w)
        w.source_dialog = dialog
        dialog.accepted.connect(lambda: self.open(dialog.spec()))
        dialog.open()

    def check_done(self, source) -> None:
        """No new frame: when ``source`` is done (the first time), its visits end and the banner says why."""
        w = self.window
        if not source.done or w.source_problem is not None:
            return
        w.session.source_ended()   # its open visits end now: logged, shown in History
        if source.error is not None:
            self.show_problem(str(source.error))
        elif source.ended:
            w.source_ended = True
            self.show_problem(f"End of {source.spec.describe()}.", "Replay", problem=False)
        else:
            self.show_problem(f"{source.spec.describe()} stopped.")

    def set_paused(self, paused: bool) -> None:
        """Pause: a video file is held where it is (it goes on from the same frame); a camera or a
        stream cannot wait, so its picture is frozen."""
        w = self.window
        w.paused = bool(paused)
        if w.source is not None:
            if w.paused:
                w.source.pause()
            else:
                w.source.resume()
        if w.pipeline is not None:
            w.pipeline.paused = w.paused
        w.pause_action.setChecked(w.paused)
        w.video.set_overlay("Paused (Space)" if w.paused else "")

    def show_problem(self, message: str, retry_text: str = "Retry", *, problem: bool = True) -> None:
        w = self.window
        w.source_problem = message
        w.banner.show_message(message, retry_text, problem=problem)
        if w.last_frame is None:
            w.video.clear(message)

    def hide_banner(self) -> None:
        self.window.source_problem = None
        self.window.banner.hide()
