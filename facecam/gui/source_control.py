"""The window's source handling: open or switch a source, retry, choose one, pause; the banner when it fails or ends.

:class:`SourceControl` acts on a camera's source state (``source``, ``source_spec``, ``source_problem``,
``source_ended``, ``last_frame`` of a :class:`facecam.camera_set.Camera`; by default the selected camera's, which
the window shows as ``window.source`` and so on, and the display timer and the tests read). Opening never
blocks the GUI thread: it happens on the capture thread. A new source is a new set of visits (the live
session's open visits end), and a source that ends ends its visits at once (they are logged and shown in
History with their whole length, as ``watch`` logs them). The banner, the picture's message and the title are
the selected camera's; with several cameras a lost camera or stream is opened again on its own
(gui.cameras_control: its tile says "reconnecting").
"""

from __future__ import annotations

from facecam.errors import CameraError
from facecam.gui.source_dialog import SourceDialog


class SourceControl:
    """See the module notes. ``window``: the :class:`facecam.gui.main_window.MainWindow`."""

    def __init__(self, window):
        self.window = window

    def _shown(self, camera) -> bool:
        """True when ``camera``'s banner and picture are the large view's (the selected camera)."""
        return camera is self.window.cameras.selected

    def open(self, spec: str, camera=None) -> bool:
        """Switch ``camera`` (default: the selected one) to ``spec`` (camera number, file, URL). Never blocks:
        opening happens on the capture thread."""
        from facecam.sources import open_source  # noqa: PLC0415

        w = self.window
        c = camera or w.cameras.selected
        old, c.source = c.source, None
        if old is not None:
            old.request_stop()  # the capture thread ends on its own (a stuck driver cannot hold us)
            c.old_sources = [item for item in c.old_sources if item.running] + [old]
        c.source_spec = str(spec)
        c.session.set_source_name(w.cameras.unique_name(self.source_name(c), exclude=c))  # the open visits end
        if self._shown(c):
            w.unknowns.set_source(c.session.source_name)
        c.source_ended = False
        c.last_frame = None
        c.current_labels = []
        if c.pipeline is not None:
            c.pipeline.reset()  # a new clock: tracks of the old source mean nothing
        self.hide_banner(c)
        try:
            c.source = open_source(spec, realtime=True, backend=w.source_backend, name=c.session.source_name)
        except CameraError as error:
            self.show_problem(str(error), camera=c)
            return False
        if w.paused:
            c.source.pause()
        if self._shown(c):
            w.video.clear(f"Opening {c.source.spec.describe()}...")
            w.setWindowTitle(f"facecam - {c.source.spec.describe()}")
        return True

    def source_name(self, camera=None) -> str:
        """The source's name in the logs and events: the given name (--source-name) for the source it names, else
        the spec's display name (sources.display_name: never a password)."""
        from facecam.sources import display_name  # noqa: PLC0415

        c = camera or self.window.cameras.selected
        return display_name(c.source_spec, c.given_name if c.source_spec == c.named_spec else None)

    def retry(self) -> None:
        self.open(self.window.source_spec)

    def choose(self) -> None:
        w = self.window
        dialog = SourceDialog(w.source_spec, w)
        w.source_dialog = dialog
        camera = w.cameras.selected
        dialog.accepted.connect(lambda: camera in w.cameras.cameras and self.open(dialog.spec(), camera))
        dialog.open()

    def check_done(self, source, camera=None) -> bool:
        """No new frame: when ``source`` is done (the first time), its visits end and the banner says why. True
        when it has just ended or failed."""
        c = camera or self.window.cameras.selected
        if not source.done or c.source_problem is not None:
            return False
        c.session.source_ended()   # its open visits end now: logged, shown in History
        if source.error is not None:
            self.show_problem(str(source.error), camera=c)
        elif source.ended:
            c.source_ended = True
            self.show_problem(f"End of {source.spec.describe()}.", "Replay", problem=False, camera=c)
        else:
            self.show_problem(f"{source.spec.describe()} stopped.", camera=c)
        return True

    def set_paused(self, paused: bool) -> None:
        """Pause every camera: a video file is held where it is (it goes on from the same frame); a camera or a
        stream cannot wait, so its picture is frozen."""
        w = self.window
        w.paused = bool(paused)
        for camera in w.cameras:
            if camera.source is not None:
                if w.paused:
                    camera.source.pause()
                else:
                    camera.source.resume()
            if camera.pipeline is not None:
                camera.pipeline.paused = w.paused
        w.pause_action.setChecked(w.paused)
        w.video.set_overlay("Paused (Space)" if w.paused else "")

    def show_problem(self, message: str, retry_text: str = "Retry", *, problem: bool = True, camera=None) -> None:
        w = self.window
        c = camera or w.cameras.selected
        c.source_problem = message
        if not self._shown(c):
            return
        w.banner.show_message(message, retry_text, problem=problem)
        if c.last_frame is None:
            w.video.clear(message)

    def show_banner_of(self, camera) -> None:
        """The banner as ``camera`` needs it (it was just selected)."""
        if camera.source_problem is None:
            self.window.banner.hide()
        else:
            self.window.banner.show_message(camera.source_problem, "Replay" if camera.source_ended else "Retry",
                                            problem=not camera.source_ended)

    def hide_banner(self, camera=None) -> None:
        c = camera or self.window.cameras.selected
        c.source_problem = None
        if self._shown(c):
            self.window.banner.hide()
