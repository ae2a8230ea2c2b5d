"""Several cameras in one window: the grid of tiles, the large view of the selected camera, adding and removing.

Each camera (:class:`facecam.camera_set.Camera`) has its own source (capture thread) and live session (its
pipeline, recognition thread, and its visits under the camera's name); all of them recognise with the window's
recognizer and match the same gallery, and their visits go to the same followers: the sightings log and
notifications, "Who's this?" and learning (History and Who's this? list every camera, with its name as the
source). :class:`CamerasControl` runs the display timer's work for all of them: each camera's newest frame goes
to its pipeline; the selected camera's is drawn in the large view (the window as it always was: names, Enroll,
the right-click menu, the status line are the selected camera's), or every camera's in its tile while the grid
shows. With one camera there is no grid and no camera bar. With several, a camera or stream that is lost is
opened again on its own (1, 2, 5, 10, then every 30 s, as watch; its tile says "reconnecting"); a file's end is "ended".

The window reads the selected camera's state as its own (``window.source``, ``window.pipeline``,
``window.last_frame``...: :class:`SelectedCamera`), so the single-camera code and its tests are unchanged.
"""

from __future__ import annotations

import time

from facecam.camera_set import Camera
from facecam.gui.camera_grid import CameraBar, CameraTile, CameraViews
from facecam.gui.workers import run_task
from facecam.live_session import LiveSession
from facecam.motion import motion_options
from facecam.shared_models import SharedModels

GRID_INTERVAL_S = 0.1          # the tiles are painted together, at most this often (the large view: every frame)
STOP_JOIN_S = 10.0             # a removed camera's round in progress finishes (a safety net only)
CAPTURE_JOIN_S = 1.0


def label_names(labels) -> list[str]:
    """The names painted for ``labels`` ("Unknown" for strangers, "..." for not yet recognised)."""
    return ["..." if label.pending else (label.name or "Unknown") for label in labels]


def _selected(name: str) -> property:
    return property(lambda window: getattr(window.cameras.selected, name),
                    lambda window, value: setattr(window.cameras.selected, name, value),
                    doc=f"The selected camera's {name} (facecam.camera_set.Camera).")


class SelectedCamera:
    """The window's source, session, pipeline, newest frame and labels: the selected camera's."""

    source = _selected("source")
    source_spec = _selected("source_spec")
    source_problem = _selected("source_problem")
    source_ended = _selected("source_ended")
    last_frame = _selected("last_frame")
    current_labels = _selected("current_labels")

    @property
    def session(self) -> LiveSession:
        return self.cameras.selected.session

    @property
    def pipeline(self):
        return self.cameras.selected.pipeline


class CamerasControl:
    """See the module notes. ``window``: the :class:`facecam.gui.main_window.MainWindow`; ``window.cameras`` is
    the :class:`facecam.camera_set.CameraSet`."""

    def __init__(self, window):
        self.window = window
        self.tiles: dict[Camera, CameraTile] = {}
        self.bar = CameraBar()
        self.bar.grid_requested.connect(self.show_grid)
        self.bar.add_requested.connect(self.choose_new)
        self.bar.remove_requested.connect(lambda: self.remove(self.window.cameras.selected))
        self.bar.hide()
        self.views: CameraViews | None = None
        self.models: SharedModels | None = None    # the window's recognizer, taken by the cameras in fair turns
        self._painted: dict[Camera, int] = {}     # the frame (seq) each tile shows
        self._grid_painted = 0.0

    def build(self, video) -> CameraViews:
        """The stack of the large view (``video``) and the grid, put where the video was."""
        self.views = CameraViews(video)
        return self.views

    # ------------------------------------------------------------ adding, removing, choosing
    def add(self, spec: str, name: str | None = None, *, open_now: bool = True) -> Camera:
        """A camera on ``spec`` (camera number, file, URL), named ``name`` (else the spec's display name; made
        unique): its session follows the window's followers, recognises with the model in use, and its source
        opens (``open_now``). A second camera or more: the grid shows."""
        w = self.window
        camera = Camera(str(spec), LiveSession(""), given_name=name, named_spec=str(spec))
        camera.session.set_source_name(w.cameras.unique_name(w.sources.source_name(camera)))
        w.cameras.add(camera)
        camera.session.subscribe(w.sightings.on_visit)
        w.unknowns.sessions.add(camera.session)     # Who's this? and learning follow it too
        w.learning.sessions.add(camera.session)
        w.retention_sessions.add(camera.session)     # and the sweep of old learned crops
        if w.recognizer is not None:
            self.start_pipeline(camera, w.recognizer)
            if w.cameras.matrix is not None:        # the gallery is ready: the others run already
                camera.pipeline.start()
        tile = self.tiles[camera] = self.views.grid.add_tile()
        tile.clicked.connect(lambda: self.select(camera))
        tile.remove_requested.connect(lambda: self.remove(camera))
        if open_now:
            w.sources.open(spec, camera)
        if open_now:
            self.show_grid()       # (with two cameras or more) the new one's tile among the others
        self.refresh()
        return camera

    def choose_new(self) -> None:
        """File > Add camera...: the source dialog (the next camera number), then a new camera."""
        from facecam.gui.source_dialog import SourceDialog  # noqa: PLC0415

        dialog = SourceDialog(str(len(self.window.cameras)), self.window)
        dialog.setWindowTitle("Add camera")
        self.window.add_camera_dialog = dialog
        dialog.accepted.connect(lambda: self.add(dialog.spec()) if dialog.spec() else None)
        dialog.open()

    def remove(self, camera: Camera) -> bool:
        """Take ``camera`` out of the window: its open visits end (logged), its source and pipeline stop (joined
        on a worker thread), the others go on. The last camera stays (Choose source... switches it)."""
        w = self.window
        if len(w.cameras) <= 1 or camera not in w.cameras.cameras:
            w.statusBar().showMessage("The last camera stays: Choose source... switches it to another", 5000)
            return False
        was_selected = camera is w.cameras.selected
        w.cameras.remove(camera)
        self.views.grid.remove_tile(self.tiles.pop(camera))
        self._painted.pop(camera, None)
        sources = [s for s in (camera.source, *camera.old_sources) if s is not None]
        for source in sources:
            source.request_stop()
        camera.session.source_ended()          # its open visits end now: logged, kept, learned from
        camera.session.unsubscribe(w.sightings.on_visit)
        w.unknowns.sessions.remove(camera.session)
        w.learning.sessions.remove(camera.session)
        w.retention_sessions.remove(camera.session)
        camera.session.request_stop()
        camera.retry_at, camera.last_frame, camera.current_labels = None, None, []

        def stop():
            camera.session.close(STOP_JOIN_S)
            for source in sources:
                source.join(CAPTURE_JOIN_S)

        run_task("camera-stop", stop)
        w.statusBar().showMessage(f"Removed {camera.name}", 5000)
        if was_selected or len(w.cameras) == 1:
            self.select(w.cameras.selected, large=len(w.cameras) == 1 or self.views.large)
        self.refresh()
        return True

    def select(self, camera: Camera, large: bool = True) -> None:
        """Show ``camera`` in the large view (its picture, banner, names; Enroll and the face menu act on it)."""
        w = self.window
        if camera not in w.cameras.cameras:
            return
        w.cameras.select(camera)
        w.unknowns.set_source(camera.name)       # a face added by hand is this camera's
        if large or len(w.cameras) == 1:
            self.views.show_large()
            w.sources.show_banner_of(camera)
        frame = camera.last_frame
        if frame is not None:
            w.video.set_frame(w.annotator.annotate(frame.bgr_frame, camera.current_labels), frame.seq)
        else:
            w.video.clear(camera.source_problem or "Opening...")
        if camera.source is not None:
            w.setWindowTitle(f"facecam - {camera.source.spec.describe()}")
        self.refresh()

    def show_grid(self) -> None:
        """Every camera in its tile (with several cameras; G)."""
        if len(self.window.cameras) > 1:
            self.views.show_grid()
            self.window.banner.hide()
            self.refresh()

    # ------------------------------------------------------------ the model
    def start_pipeline(self, camera: Camera, recognizer):
        """A new pipeline of ``recognizer`` for ``camera`` (not started: the gallery's first snapshot starts it).
        Every camera's pipeline recognises with the same models (facecam.shared_models): one detection or one
        batch of faces at a time, in turns between the cameras, so a busy camera does not hold up a quiet one's
        arrival."""
        w = self.window
        if self.models is None or self.models.recognizer is not recognizer:
            self.models = SharedModels(recognizer)
        pipeline = camera.session.start(self.models.for_camera(camera), motion=motion_options(not w.options.motion_gate))
        w.bridge.attach(pipeline)
        pipeline.paused = w.paused
        return pipeline

    # ------------------------------------------------------------ the display timer
    def tick(self) -> None:
        """Each camera's newest frame to its pipeline; the selected one drawn large, or each in its tile."""
        w = self.window
        if w.paused:
            return
        now = time.monotonic()
        several = len(w.cameras) > 1
        large = self.views.large
        grid_due = not large and now - self._grid_painted >= GRID_INTERVAL_S
        for camera in w.cameras:
            if camera.retry_at is not None and now >= camera.retry_at:
                camera.retry_at = None
                if not w.sources.open(camera.source_spec, camera) and several:
                    camera.plan_reconnect(now)
            source = camera.source
            if source is None:
                continue
            frame = source.latest(after_seq=camera.last_frame.seq if camera.last_frame is not None else None)
            if frame is None:
                if w.sources.check_done(source, camera) and several and source.error is not None and source.spec.live:
                    camera.plan_reconnect(now)   # a lost camera or stream in a grid: opened again on its own
                continue
            camera.last_frame, camera.retries = frame, 0
            camera.took_frame(now)
            pipeline = camera.pipeline
            if pipeline is not None and pipeline.running:
                pipeline.submit(frame)
            labels = camera.current_labels = pipeline.labels_at(frame.t_source) if pipeline is not None else []
            if camera is w.cameras.selected:
                w.frames_shown += 1
                if large:
                    w.video.set_frame(w.annotator.annotate(frame.bgr_frame, labels), frame.seq)
        if grid_due:        # every tile in one go: one repaint of the grid, not one per camera and frame
            self._grid_painted = now
            for camera, tile in self.tiles.items():
                frame = camera.last_frame
                if frame is not None and self._painted.get(camera) != frame.seq:
                    self._painted[camera] = frame.seq
                    tile.view.set_frame(w.annotator.annotate(frame.bgr_frame, camera.current_labels), frame.seq)
                    tile.names = label_names(camera.current_labels)

    def refresh(self) -> None:
        """The bar and the tiles' name, state and fps (the status timer, and after each change)."""
        w = self.window
        if self.views is None or w.cameras.selected is None:
            return
        selected = w.cameras.selected
        self.bar.show_for(len(w.cameras), self.views.large, selected.name)
        for camera, tile in self.tiles.items():
            tile.set_status(camera.name, camera.state(w.paused), camera.fps())
            tile.set_selected(camera is selected)
            if camera.source_problem is not None and camera.last_frame is None:
                tile.view.clear(camera.source_problem)

    def tile_of(self, camera: Camera) -> CameraTile:
        return self.tiles[camera]

    # ------------------------------------------------------------ shutdown
    def workers(self) -> list:
        """Every camera's session (its pipelines), to stop and join."""
        return [camera.session for camera in self.window.cameras]

    def sources(self) -> list:
        return [s for camera in self.window.cameras for s in (camera.source, *camera.old_sources) if s is not None]

    def close_sessions(self) -> None:
        """The open visits of every camera end (logged, kept as unknown faces, learned from)."""
        for camera in self.window.cameras:
            camera.session.close(0.0)
