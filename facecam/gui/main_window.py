"""The main window: live video with names, the people panel, controls, status bar.

Everything slow happens elsewhere (see :mod:`facecam.gui.workers`); the GUI thread
only pulls the newest frame on a timer, asks the pipeline for the labels at that
frame's time, draws them (FaceAnnotator) and paints. Frames that arrive between two
ticks are never drawn.

Recognition is a :class:`facecam.live_session.LiveSession`, as in ``watch``: its pipeline, its visits
and what follows them (WindowSightings: the log and notifications; UnknownsControl: "Who's this?";
LearnControl: learning). The window is a view and controls on it, each in its own module: the menus
(window_menus), people actions (people_actions), the source (source_control), the gallery
(gallery_control), the model (model_control), and small widgets, one job each: VideoView, ModelBar,
StatusLine, PeoplePanel, WhosPanel, FaceMenu (right-click a face), HistoryPanel, the source banner.

With no VGG-Face weights (the default model) the window does not wait: it recognises with
SFace at once and the ModelBar offers "Download / Choose file... / Keep SFace"; a download
(or a chosen file) is built and known_faces indexed for it in the background, then the
window switches. The choice is remembered in the settings (``window.vgg-face``).

Tests build it with their own pieces: ``MainWindow(WindowOptions(source=clip, ...),
recognizer=sface_recognizer)`` skips model loading; ``build_recognizer`` replaces the model
builder; ``source_backend`` fakes a camera; ``open_url``, ``confirm`` and ``choose_file``
replace the desktop, the confirmation dialog and the file picker.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PyQt5.QtCore import QTimer, QUrl, Qt
from PyQt5.QtGui import QDesktopServices
from PyQt5.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QTabWidget, QVBoxLayout, QWidget

from facecam import config
from facecam.annotate import FaceAnnotator, Label
from facecam.gui.controls import ControlsRow
from facecam.gui.enroll_dialog import EnrollDialog
from facecam.gui.gallery_control import GalleryControl
from facecam.gui.history_panel import HistoryPanel
from facecam.gui.model_bar import ModelBar
from facecam.gui.model_control import ModelControl, detector_title, title_of
from facecam.gui.notify_settings import NotifySettings
from facecam.gui.people_actions import PeopleActions
from facecam.gui.people_panel import PeoplePanel
from facecam.gui.privacy_dialog import start_retention
from facecam.gui.sightings_control import WindowSightings
from facecam.gui.source_banner import SourceBanner
from facecam.gui.source_control import SourceControl
from facecam.gui.status_line import StatusLine, WindowState, status_text
from facecam.gui.video_view import VideoView
from facecam.gui.learn_control import LearnControl, saved_choice
from facecam.gui.whos_control import whos_tab
from facecam.gui.window_menus import build_actions
from facecam.gui.workers import (LOADER_THREAD, GalleryService, GallerySnapshot, PipelineBridge,
                                 freeze_survivors, join_threads)
from facecam.gui.workers import build_recognizer as default_build_recognizer
from facecam.live_session import LiveSession
from facecam.motion import motion_options

JOIN_TIMEOUT_S = 10.0         # closing waits for each thread to end (a round, a photo); a safety net only
CAPTURE_JOIN_S = 1.0          # a camera driver stuck in read() cannot hold the window longer than this


@dataclass
class WindowOptions:
    """What the command line gives the window (see facecam.gui.app)."""

    source: str = "0"
    known_faces: Path = field(default_factory=lambda: Path(config.DEFAULT_KNOWN_FACES))
    model: str = config.DEFAULT_MODEL
    threshold: float | None = None
    weights: str | None = None
    model_dir: str | None = None
    min_face_size: int = 40
    detector: str | None = None      # None: the one chosen in the window last time, else MTCNN
    display_interval_ms: int = 15
    watch_interval_s: float = 0.5
    settle_s: float = 0.3
    source_name: str | None = None        # the source's name in the sightings log (--source-name)
    record_sightings: bool = True         # False: --no-sightings
    keep_days: float | None = None        # --keep-days (else the setting sightings_keep_days, else 90)
    notify: NotifySettings | None = None  # None: the saved notification settings
    unknowns: bool = True         # False: --no-unknowns (the setting "unknowns": false turns it off too)
    db: str | None = None                 # --db / FACECAM_DB: people, Enroll and visits in this PostgreSQL database
    learn: bool = False                   # --learn (else the window's remembered switch, or the setting "learn": true)
    motion_gate: bool = True              # False: --no-motion-gate (the setting "motion_gate": false turns it off too)


class MainWindow(QMainWindow):
    def __init__(self, options: WindowOptions | None = None, *, recognizer=None,
                 build_recognizer: Callable | None = None, source_backend=None,
                 open_url: Callable[[QUrl], object] | None = None,
                 confirm: Callable[[str, str], bool] | None = None,
                 choose_file: Callable[[str], str] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.options = options or WindowOptions()
        self.known_faces = Path(self.options.known_faces)
        self.source_backend = source_backend
        self.open_url = open_url or QDesktopServices.openUrl
        self.people = PeopleActions(self)     # Enroll, folders, remove, forget, clear learned, notifications
        self.sources = SourceControl(self)    # open, switch, retry, choose, pause; the banner
        self.galleries = GalleryControl(self)  # a gallery service per model, and what its news does
        self.confirm = confirm or self.people.confirm_dialog

        self.recognizer = None
        self.pipeline = None
        self.gallery: GalleryService | None = None
        self.source = None
        self.source_spec = str(self.options.source)
        self.source_problem: str | None = None
        self.source_ended = False
        self.snapshot: GallerySnapshot | None = None
        self.current_labels: list[Label] = []
        self.last_frame = None                # the newest Frame shown (raw, for Enroll)
        self.paused = False
        self.enroll_dialog: EnrollDialog | None = None
        self.evaluate_dialog = None           # facecam.gui.evaluate_dialog.EvaluateDialog, once opened
        self.notify_dialog = None             # facecam.gui.notify_dialog.NotifyDialog, once opened
        self.privacy_dialog = None            # facecam.gui.privacy_dialog.PrivacyDialog, once opened
        self.message_box: QMessageBox | None = None
        self.gallery_error: str | None = None
        self.pipeline_error: str | None = None
        self.frames_shown = 0
        self._paint_times: collections.deque[float] = collections.deque(maxlen=240)
        self.closed = False
        self._retired: list = []              # gallery services asked to stop (model switched)
        self.old_sources: list = []          # sources asked to stop (source switched)

        self.annotator = FaceAnnotator(show_distances=True)
        # OpenCV's text renderer is set up per thread on its first text (~30 ms): do it now, before the
        # event loop runs, rather than on the first frame with a name.
        warm_up_annotator(self.annotator)
        self.bridge = PipelineBridge(self)
        self.bridge.round_done.connect(self._on_round, Qt.QueuedConnection)
        self.bridge.failed.connect(self._on_pipeline_error, Qt.QueuedConnection)

        self._build_ui()
        self.session = LiveSession(self.sources.source_name())   # the pipeline, its visits, their followers
        self.sightings = WindowSightings(self.known_faces, self.options.notify or NotifySettings.load(),
                                         enabled=self.options.record_sightings, db_url=self.options.db,
                                         keep_days_override=self.options.keep_days, parent=self)
        self.sightings.saved.connect(self.history_panel.refresh_soon)
        self.session.subscribe(self.sightings.on_visit)
        self.retention = start_retention(self)   # each kind's limit applied now (a task) and kept while running
        self.sightings.strangers = self.unknowns.strangers   # an unknown arrival's events name its cluster
        warnings = self.sightings.warnings + ([NotifySettings.saved_problem()] if self.options.notify is None else [])
        if any(warnings):
            self.statusBar().showMessage("; ".join(w for w in warnings if w), 15000)
        self.models = ModelControl(self.options, self.known_faces, build_recognizer or default_build_recognizer,
                                   self.model_bar, choose_file or self._choose_file_dialog, self)
        self.models.ready.connect(self._use_recognizer)
        self.models.loading.connect(self._on_model_loading)
        self.models.failed.connect(self._on_model_failed)
        self.models.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.loader = self.models.loader  # the first model's loader (tests listen to it)
        build_actions(self)
        self.setWindowTitle("facecam")
        self.resize(1180, 720)

        self.display_timer = QTimer(self)
        self.display_timer.setTimerType(Qt.PreciseTimer)
        self.display_timer.setInterval(self.options.display_interval_ms)
        self.display_timer.timeout.connect(self._tick)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(500)
        self.status_timer.timeout.connect(self._update_status)

        self.open_source(self.source_spec)
        self.display_timer.start()
        self.status_timer.start()
        if recognizer is not None:
            freeze_survivors()  # as after a load (workers.gc_paused): a recognizer built elsewhere is not re-scanned
            self._use_recognizer(recognizer)
        else:
            self.models.start()
        self._update_status()

    # ================================================================== UI
    def _build_ui(self) -> None:
        self.video = VideoView()
        self.banner = SourceBanner()
        self.banner.retry.connect(self.sources.retry)
        self.banner.choose.connect(self.sources.choose)
        # the parts tests read
        self.banner_label, self.retry_button, self.choose_source_button = (
            self.banner.label, self.banner.retry_button, self.banner.choose_button)

        self.controls = ControlsRow()
        self.controls.threshold_changed.connect(self.set_threshold)
        self.controls.distances_box.toggled.connect(self.set_show_distances)
        # the parts tests and the evaluate dialog use
        self.threshold_slider, self.threshold_label, self.distances_box, self.model_label = (
            self.controls.threshold_slider, self.controls.threshold_label, self.controls.distances_box,
            self.controls.model_label)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.model_bar = ModelBar()
        left_layout.addWidget(self.model_bar)
        left_layout.addWidget(self.banner)
        left_layout.addWidget(self.video, 1)
        left_layout.addWidget(self.controls)

        self.people_panel = PeoplePanel()
        self.people_panel.open_person.connect(self.people.open_person_folder)
        self.people_panel.remove_person.connect(self.people.remove_person)
        self.people_panel.forget_person.connect(self.people.forget_person)
        self.people_panel.set_consent_required(config.consent_required())
        self.people_panel.open_gallery.connect(self.people.open_known_faces)
        self.people_panel.rescan.connect(self.rescan)
        self.people_panel.clear_learned.connect(self.people.clear_learned)
        self.people_panel.export_all.connect(lambda: self.people.export_archive(None))
        self.people_panel.export_person.connect(self.people.export_archive)
        self.people_panel.import_archive.connect(self.people.import_archive)
        self.learning = LearnControl(self.known_faces, self.options.learn or saved_choice(), db=bool(self.options.db),
                                     parent=self)
        self.learning.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.learning.cleared.connect(lambda *_: self.refresh_gallery())

        # the side panels, one tab each (People; the unknown faces and the history plug in here)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.people_panel, "People")
        whos_tab(self)   # the "Who's this?" tab, the unknown faces behind it, the right-click menu
        self.history_panel = HistoryPanel(self.known_faces, db_url=self.options.db)
        self.side_tabs.addTab(self.history_panel, "History")

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.side_tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 260])
        self.setCentralWidget(splitter)

        self.status_line = StatusLine()
        self.statusBar().addWidget(self.status_line, 1)
        # the parts tests and the evaluate dialog read
        self.status_label, self.load_label, self.load_bar = (self.status_line.status_label,
                                                             self.status_line.load_label, self.status_line.load_bar)
        self._set_loading = self.status_line.set_loading

    def set_collecting_unknowns(self, on: bool) -> None:
        """Tools > Collect unknown faces (this run, as --no-unknowns)."""
        self.unknowns.set_enabled(on)
        self.whos_panel.set_collecting(on)
        self.unknowns_action.setChecked(on)

    # ================================================================== model
    def _on_model_loading(self, model: str) -> None:
        self._set_loading(f"Loading {title_of(model)} model...", busy=True)
        self.model_label.setText(f"Model: {title_of(model)} (loading)")
        self.video.set_message(self.video.message or "Loading...")

    def _on_model_failed(self, model: str, _reason: str) -> None:
        if self.closed:
            return
        self._set_loading(None)
        self.model_label.setText(f"Model: {title_of(model)} (not loaded)")
        self.people_panel.hint.setText("Faces are not recognised: the model is not loaded.")

    def _use_recognizer(self, recognizer) -> None:
        """Recognise with ``recognizer`` from now on: a new pipeline and gallery service (the old ones are
        asked to stop and joined when the window closes)."""
        if self.closed:
            return
        if self.gallery is not None:
            self.gallery.request_stop()
            self._retired.append(self.gallery)
        self.recognizer = recognizer
        if self.options.threshold is not None and recognizer.model == self.options.model:
            recognizer.threshold = float(self.options.threshold)
        self.snapshot = None  # the new pipeline starts with the new gallery's first snapshot (the old matrix
        # stays for the old pipeline's last round: it has the old model's dimension)
        # the old one stops; its open visits end. An empty, still scene is not detected on (facecam.motion)
        self.pipeline = self.session.start(recognizer, motion=motion_options(not self.options.motion_gate))
        self.bridge.attach(self.pipeline)
        self.unknowns.attach(self.session, recognizer, self.session.gallery)
        self.learning.attach(self.session, self.session.gallery)
        self.pipeline.paused = self.paused
        self.show_threshold()
        runtime = getattr(recognizer.embedder, "runtime_description", "")   # VGG-Face: which runtime runs
        self.model_label.setText(f"Model: {title_of(recognizer.model)}" + (f" ({runtime})" if runtime else "")
                                 + f", {detector_title(recognizer.detector.name)}")
        self.vgg_action.setEnabled(recognizer.model != "vgg-face")
        self._set_loading("Reading the database..." if self.options.db else "Indexing known_faces...", busy=True)
        self.gallery = self.galleries.start(recognizer)

    def _choose_file_dialog(self, title: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, "", "Model files (*.h5 *.onnx);;All files (*)")
        return path

    # ================================================================== gallery (gui.gallery_control)
    def rescan(self) -> None:
        self.refresh_gallery()
        self.statusBar().showMessage("Rescanning known_faces...", 3000)

    def refresh_gallery(self) -> None:
        if self.gallery is not None:
            self.gallery.refresh_now()

    def people_names(self) -> list[str]:
        return self.snapshot.names if self.snapshot is not None else []

    # ================================================================== source (gui.source_control)
    def open_source(self, spec: str) -> bool:
        """Switch to ``spec`` (camera number, file, URL); never blocks."""
        return self.sources.open(spec)

    def retry_source(self) -> None:
        self.sources.retry()

    def set_paused(self, paused: bool) -> None:
        self.sources.set_paused(paused)

    # ================================================================== people (gui.people_actions)
    def enroll(self) -> None:
        self.people.enroll()

    def use_notifications(self, settings: NotifySettings) -> None:
        self.people.use_notifications(settings)

    # ================================================================== display
    def _tick(self) -> None:
        source = self.source
        if source is None or self.paused:
            return
        frame = source.latest(after_seq=self.last_frame.seq if self.last_frame is not None else None)
        if frame is None:
            self.sources.check_done(source)
            return
        self.last_frame = frame
        pipeline = self.pipeline
        if pipeline is not None and pipeline.running:
            pipeline.submit(frame)
        labels = pipeline.labels_at(frame.t_source) if pipeline is not None else []
        self.current_labels = labels
        self.video.set_frame(self.annotator.annotate(frame.bgr_frame, labels), frame.seq)
        self.frames_shown += 1
        self._paint_times.append(time.monotonic())

    def displayed_fps(self) -> float:
        now = time.monotonic()
        recent = [t for t in self._paint_times if now - t <= 1.0]
        return float(len(recent))

    def label_names(self) -> list[str]:
        """The names painted on the current frame ("Unknown" for strangers, "..." for not yet recognised)."""
        return ["..." if label.pending else (label.name or "Unknown") for label in self.current_labels]

    def set_show_distances(self, show: bool) -> None:
        self.annotator.show_distances = bool(show)
        self._redraw()

    def _redraw(self) -> None:
        frame = self.last_frame
        if frame is not None:
            self.video.set_frame(self.annotator.annotate(frame.bgr_frame, self.current_labels), frame.seq)

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.fullscreen_action.setChecked(self.isFullScreen())
        self.menuBar().setVisible(not self.isFullScreen())
        self.toolbar.setVisible(not self.isFullScreen())

    def leave_full_screen(self) -> None:
        """Esc leaves full screen and does nothing else (Q or Ctrl+Q quits)."""
        if self.isFullScreen():
            self.toggle_full_screen()

    # ================================================================== threshold
    def set_threshold(self, threshold: float) -> None:
        """Takes effect at once: the recognizer matches with it from the next face on, and every face is
        re-voted (pipeline.reset) so no label made with the old threshold lingers."""
        if self.recognizer is None:
            return
        self.recognizer.threshold = float(threshold)
        if self.pipeline is not None:
            self.pipeline.reset()
        self.show_threshold()

    def show_threshold(self) -> None:
        """The slider at the threshold in use (by default it follows the gallery's size: gui.controls)."""
        if self.recognizer is not None:
            self.controls.show_decision(self.recognizer, self.session.matrix)

    # ================================================================== status
    def _on_round(self, _stats) -> None:
        self.pipeline_error = None

    def _on_pipeline_error(self, error: BaseException) -> None:
        if self.closed:
            return
        self.pipeline_error = str(error)
        self.statusBar().showMessage(f"Recognition error (the video goes on): {error}", 5000)

    def status_text(self) -> str:
        return status_text(self.window_state())

    def _update_status(self) -> None:
        self.status_line.show_state(self.window_state())

    def window_state(self) -> WindowState:
        """What the status line shows now."""
        return WindowState.of(self)

    # ================================================================== shutdown
    def closeEvent(self, event) -> None:
        self.shutdown()
        event.accept()

    def shutdown(self) -> list[str]:
        """Stop every thread: ask them all first, then join each until it has ended (a recognition round
        or a photo being indexed finishes; JOIN_TIMEOUT_S is only a safety net). A capture thread stuck in
        a camera driver is given CAPTURE_JOIN_S and then left to end on its own. Returns any still alive."""
        if self.closed:
            return []
        self.closed = True
        self.display_timer.stop()
        self.status_timer.stop()
        for dialog in (self.enroll_dialog, self.evaluate_dialog, self.notify_dialog, self.privacy_dialog, self.message_box):
            if dialog is not None:
                dialog.close()  # an indexing in progress in the evaluate dialog stops
        self.models.close()  # a model still loading is left to finish on its daemon thread
        workers = [w for w in (self.session, self.gallery, *self._retired) if w is not None]
        sources = [w for w in (self.source, *self.old_sources) if w is not None]
        for worker in workers + sources:
            worker.request_stop()
        for worker in workers:
            worker.join(JOIN_TIMEOUT_S)
        for source in sources:
            source.join(CAPTURE_JOIN_S)
        hanging = self.sightings.notify_threads()   # a request to a dead endpoint is not waited for
        self.session.close(0.0)     # the open visits end: logged, kept as unknown faces, learned from
        self.unknowns.close()       # the sightings waiting are stored (a facecam- thread joined below)
        self.learning.close()       # the crops waiting are written (likewise)
        self.sightings.close()      # the log is written
        self.history_panel.close_log()
        return join_threads(time.monotonic() + JOIN_TIMEOUT_S, abandon=(LOADER_THREAD, *hanging))


def warm_up_annotator(annotator: FaceAnnotator) -> None:
    annotator.annotate(np.zeros((48, 64, 3), np.uint8), [Label((4, 20, 20, 20), "Ag", 0.5)])

