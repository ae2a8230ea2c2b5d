"""The main window: live video with names, the people panel, controls, status bar.

Everything slow happens elsewhere (see :mod:`facecam.gui.workers`); the GUI thread
only pulls the newest frame on a timer, asks the pipeline for the labels at that
frame's time, draws them (FaceAnnotator) and paints. Frames that arrive between two
ticks are never drawn.

The window composes small widgets, one job each: VideoView (the picture), ModelBar (model
files: the VGG-Face download offer, progress, failures; never modal), StatusLine (what runs,
a persistent error, work in progress), PeoplePanel, the "Who's this?" tab (WhosPanel, with
UnknownsControl collecting unknown faces off the GUI thread), FaceMenu (right-click a face),
HistoryPanel (today's visits), and the source banner; WindowSightings logs the visits and sends
the notifications as ``watch`` does.

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
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PyQt5.QtCore import QTimer, QUrl, Qt
from PyQt5.QtGui import QDesktopServices, QKeySequence
from PyQt5.QtWidgets import (QAction, QFileDialog, QMainWindow, QMessageBox,
                             QSplitter, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from facecam import config
from facecam.annotate import FaceAnnotator, Label
from facecam.errors import CameraError
from facecam.matcher import GalleryMatrix
from facecam.openset import rate_text
from facecam.gui.controls import ControlsRow
from facecam.gui.enroll_dialog import EnrollDialog
from facecam.gui.face_menu import FaceMenu
from facecam.gui.history_panel import HistoryPanel
from facecam.gui.model_bar import ModelBar
from facecam.gui.model_control import ModelControl, detector_menu, detector_title, title_of
from facecam.gui.notify_settings import NotifySettings
from facecam.gui.people_panel import PeoplePanel
from facecam.gui.sightings_control import WindowSightings
from facecam.gui.source_banner import SourceBanner
from facecam.gui.source_dialog import SourceDialog
from facecam.gui.status_line import StatusLine, WindowState, status_text
from facecam.gui.video_view import VideoView
from facecam.gui.learn_control import LearnControl, saved_choice
from facecam.gui.whos_control import UnknownsControl
from facecam.gui.whos_panel import WhosPanel
from facecam.gui.workers import (LOADER_THREAD, DatabaseWaiting, GalleryService, GallerySnapshot, PipelineBridge,
                                 freeze_survivors, join_threads, run_task)
from facecam.gui.workers import build_recognizer as default_build_recognizer

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


def same_matrix(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (tuple(a.names) == tuple(b.names) and a.embeddings.shape == b.embeddings.shape
            and np.array_equal(a.labels, b.labels) and np.array_equal(a.embeddings, b.embeddings))


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
        self.confirm = confirm or self._confirm_dialog

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
        self.message_box: QMessageBox | None = None
        self.gallery_error: str | None = None
        self.pipeline_error: str | None = None
        self.frames_shown = 0
        self._matrix = None
        self._paint_times: collections.deque[float] = collections.deque(maxlen=240)
        self._closed = False
        self._retired: list = []              # pipelines and gallery services asked to stop (model switched)
        self._old_sources: list = []          # sources asked to stop (source switched)

        self.annotator = FaceAnnotator(show_distances=True)
        # OpenCV's text renderer is set up per thread on its first text (~30 ms): do it now, before the
        # event loop runs, rather than on the first frame with a name.
        warm_up_annotator(self.annotator)
        self.bridge = PipelineBridge(self)
        self.bridge.round_done.connect(self._on_round, Qt.QueuedConnection)
        self.bridge.failed.connect(self._on_pipeline_error, Qt.QueuedConnection)

        self._build_ui()
        self.sightings = WindowSightings(self.known_faces, self.options.notify or NotifySettings.load(),
                                         enabled=self.options.record_sightings, db_url=self.options.db,
                                         keep_days_override=self.options.keep_days, parent=self)
        self.sightings.saved.connect(self.history_panel.refresh_soon)
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
        self._build_actions()
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
        self.banner.retry.connect(self.retry_source)
        self.banner.choose.connect(self.choose_source)
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
        self.people_panel.open_person.connect(self.open_person_folder)
        self.people_panel.remove_person.connect(self.remove_person)
        self.people_panel.open_gallery.connect(self.open_known_faces)
        self.people_panel.rescan.connect(self.rescan)
        self.people_panel.clear_learned.connect(self.clear_learned)
        self.learning = LearnControl(self.known_faces, self.options.learn or saved_choice(), db=bool(self.options.db),
                                     parent=self)
        self.learning.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.learning.cleared.connect(lambda *_: self._refresh_gallery())

        # the side panels, one tab each (People; the unknown faces and the history plug in here)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.people_panel, "People")
        self._build_whos()
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

    def _build_whos(self) -> None:
        """The "Who's this?" tab, the unknown faces' collection behind it, and the video's right-click menu."""
        from facecam.unknowns.live import collection_enabled  # noqa: PLC0415

        self.whos_panel = WhosPanel()
        self.whos_panel.people = self.people_names
        self.side_tabs.addTab(self.whos_panel, "Who's this?")
        self.unknowns = UnknownsControl(self.known_faces, collection_enabled(not self.options.unknowns), self,
                                        db_url=self.options.db)
        self.unknowns.clusters.connect(self.whos_panel.set_clusters)
        self.unknowns.problem.connect(self.whos_panel.set_problem)
        self.unknowns.named.connect(self._on_enrolled)
        self.unknowns.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.whos_panel.set_collecting(self.unknowns.enabled)
        self.whos_panel.name_requested.connect(self.unknowns.name)
        self.whos_panel.merge_requested.connect(self.unknowns.merge)
        self.whos_panel.ignore_requested.connect(self.unknowns.ignore)
        self.whos_panel.forget_requested.connect(self.forget_unknowns)
        self.face_menu = FaceMenu(self)
        self.face_menu.saved.connect(self._on_enrolled)
        self.face_menu.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.video.context_requested.connect(self.face_menu.open_at)

    def set_collecting_unknowns(self, on: bool) -> None:
        """Tools > Collect unknown faces (this run, as --no-unknowns)."""
        self.unknowns.set_enabled(on)
        self.whos_panel.set_collecting(on)
        self.unknowns_action.setChecked(on)

    def _build_actions(self) -> None:
        def action(text, slot, shortcuts=(), checkable=False, tip=None):
            act = QAction(text, self)
            if shortcuts:
                act.setShortcuts([QKeySequence(s) for s in shortcuts])
                act.setShortcutContext(Qt.WindowShortcut)
            act.setCheckable(checkable)
            if tip:
                act.setStatusTip(tip)
            act.triggered.connect(slot)
            self.addAction(act)  # shortcuts work even with the menu bar hidden (full screen)
            return act

        self.source_action = action("Choose &source...", self.choose_source, ("Ctrl+O",),
                                    tip="Camera number, video file or stream URL")
        self.enroll_action = action("&Enroll... (E)", self.enroll, ("E",),
                                    tip="Save a face of the current frame as a person in known_faces")
        self.pause_action = action("&Pause (Space)", lambda: self.set_paused(not self.paused), ("Space",),
                                   checkable=True)
        self.fullscreen_action = action("&Full screen (F)", self.toggle_full_screen, ("F",), checkable=True)
        self.quit_action = action("&Quit", self.close, ("Q", "Ctrl+Q"))
        self.escape_action = action("Leave full screen", self._escape, ("Esc",))
        self.open_gallery_action = action("Open &known_faces", self.open_known_faces)
        self.rescan_action = action("&Rescan known_faces", self.rescan, ("F5",))
        self.distances_action = action("Show &distances", self.distances_box.setChecked, checkable=True)
        self.distances_action.setChecked(True)
        self.distances_box.toggled.connect(self.distances_action.setChecked)
        # ---- hook for the evaluate feature (another engineer's): enabled only when facecam.evaluate exists.
        self.evaluate_action = action("Check &accuracy...", self.check_accuracy,
                                      tip="Measure how well the model tells your people apart (facecam.evaluate)")
        self.evaluate_action.setEnabled(evaluate_available())

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for act in (self.source_action, self.enroll_action, self.open_gallery_action, self.rescan_action):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu("&View")
        for act in (self.pause_action, self.fullscreen_action, self.distances_action):
            view_menu.addAction(act)
        self.vgg_action = action("Use &VGG-Face...", self.models.offer_vgg_face,
                                 tip="Download VGG-Face or choose its weights file, then switch to it")
        tools_menu = menu.addMenu("&Tools")
        tools_menu.addAction(self.evaluate_action)
        tools_menu.addAction(self.vgg_action)
        self.detector_menu = tools_menu.addMenu(detector_menu(self.models, self)).menu()
        self.notify_action = action("&Notifications...", self.edit_notifications,
                                    tip="Webhooks and MQTT: be told when someone arrives (as watch --notify/--mqtt)")
        tools_menu.addAction(self.notify_action)
        self.unknowns_action = action("&Collect unknown faces", self.set_collecting_unknowns, checkable=True,
                                      tip="Keep the faces the camera cannot name for \"Who's this?\"")
        self.unknowns_action.setChecked(self.unknowns.enabled)
        tools_menu.addAction(self.unknowns_action)
        self.learn_action = action("&Learn from clear sightings", self.learning.set_enabled, checkable=True,
                                   tip="Clear sightings of a person add a crop to known_faces/<name>/.learned/ "
                                       "(at most 10 each; remembered)")
        self.learn_action.setChecked(self.learning.enabled)
        tools_menu.addAction(self.learn_action)
        self.clear_learned_action = action("Clear learned faces (everyone)...", lambda: self.clear_learned(None))
        tools_menu.addAction(self.clear_learned_action)

        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setFocusPolicy(Qt.NoFocus)
        for act in (self.source_action, self.enroll_action, self.pause_action, self.fullscreen_action):
            toolbar.addAction(act)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    # ================================================================== model
    def _on_model_loading(self, model: str) -> None:
        self._set_loading(f"Loading {title_of(model)} model...", busy=True)
        self.model_label.setText(f"Model: {title_of(model)} (loading)")
        self.video.set_message(self.video.message or "Loading...")

    def _on_model_failed(self, model: str, _reason: str) -> None:
        if self._closed:
            return
        self._set_loading(None)
        self.model_label.setText(f"Model: {title_of(model)} (not loaded)")
        self.people_panel.hint.setText("Faces are not recognised: the model is not loaded.")

    def _use_recognizer(self, recognizer) -> None:
        """Recognise with ``recognizer`` from now on: a new pipeline and gallery service (the old ones are
        asked to stop and joined when the window closes)."""
        from facecam.pipeline import LivePipeline  # noqa: PLC0415

        if self._closed:
            return
        for old in (self.pipeline, self.gallery):
            if old is not None:
                old.request_stop()
                self._retired.append(old)
        self.recognizer = recognizer
        if self.options.threshold is not None and recognizer.model == self.options.model:
            recognizer.threshold = float(self.options.threshold)
        self.snapshot = None  # the new pipeline starts with the new gallery's first snapshot (the old matrix
        # stays for the old pipeline's last round: it has the old model's dimension)
        self.pipeline = LivePipeline(recognizer, lambda: self._matrix)
        self.bridge.attach(self.pipeline)
        self.sightings.attach(self.pipeline, self.sightings_source_name())
        self.unknowns.attach(self.pipeline, recognizer, self.source_spec, lambda: self._matrix)
        self.learning.attach(self.pipeline, lambda: self._matrix)
        self.pipeline.paused = self.paused
        self._show_threshold()
        runtime = getattr(recognizer.embedder, "runtime_description", "")   # VGG-Face: which runtime runs
        self.model_label.setText(f"Model: {title_of(recognizer.model)}" + (f" ({runtime})" if runtime else "")
                                 + f", {detector_title(recognizer.detector.name)}")
        self.vgg_action.setEnabled(recognizer.model != "vgg-face")
        self._set_loading("Reading the database..." if self.options.db else "Indexing known_faces...", busy=True)
        self.gallery = self._gallery_service()
        self.gallery.start(recognizer)

    def _gallery_service(self) -> GalleryService:
        service = GalleryService(self.known_faces, interval_s=self.options.watch_interval_s,
                                 settle_s=self.options.settle_s, db_url=self.options.db, parent=self)
        # a service that was replaced (the model changed) is ignored, whatever it still reports
        service.progress.connect(lambda done, total: service is self.gallery and self._on_gallery_progress(done, total),
                                 Qt.QueuedConnection)
        service.changed.connect(lambda snapshot: service is self.gallery and self._on_gallery_changed(snapshot),
                                Qt.QueuedConnection)
        service.failed.connect(lambda error: service is self.gallery and self._on_gallery_failed(error),
                               Qt.QueuedConnection)
        return service

    def _choose_file_dialog(self, title: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, "", "Model files (*.h5 *.onnx);;All files (*)")
        return path

    # ================================================================== gallery
    def _on_gallery_progress(self, done: int, total: int) -> None:
        if not self._closed and self.snapshot is None:
            self._set_loading(f"Indexing known_faces {done}/{total}", done, max(total, 1))

    def _on_gallery_changed(self, snapshot: GallerySnapshot) -> None:
        if self._closed:
            return
        first = self.snapshot is None
        # a learned crop added or cleared is no reason to re-recognise everyone (and split their visits)
        changed = not same_matrix(self._matrix, snapshot.matrix) and (
            first or self.snapshot.own_photos() != snapshot.own_photos())
        self.snapshot = snapshot
        self._matrix = snapshot.matrix
        self._show_threshold()  # a threshold that follows the gallery's size moves with it
        self.gallery_error = None
        self.status_line.set_error(None)
        self.people_panel.set_people(snapshot.people)
        if self.enroll_dialog is not None and not self.enroll_dialog.isVisible():
            self.enroll_dialog = None
        if self.pipeline is not None:
            if changed and (not first or self.pipeline.running):  # (running already: with no one, while the
                self.pipeline.reset()  # gallery failed) everyone is recognised afresh against the new gallery
            if not self.pipeline.running:
                self.pipeline.start()
                self._set_loading(None)

    def _on_gallery_failed(self, error: BaseException) -> None:
        if self._closed:
            return
        self.gallery_error = str(error)
        # kept in view until known_faces works again (a message that fades would be missed)
        waiting = isinstance(error, DatabaseWaiting)  # --db: the server does not answer yet; retried by itself
        self.status_line.set_error(str(error) if waiting else
                                   f"{'database' if self.options.db else 'known_faces'}: {error}")
        if self.snapshot is None:
            self.people_panel.hint.setText("People appear when the database answers." if waiting
                                           else f"known_faces could not be read: {error}")
        if self.pipeline is not None and not self.pipeline.running and self.snapshot is None:
            self._matrix = GalleryMatrix.empty(self.recognizer.embedder.dim)
            self.pipeline.start()  # recognition goes on: everyone is Unknown until the folder works
            self._set_loading(None)

    def rescan(self) -> None:
        self._refresh_gallery()
        self.statusBar().showMessage("Rescanning known_faces...", 3000)

    def _refresh_gallery(self) -> None:
        if self.gallery is not None:
            self.gallery.refresh_now()

    def people_names(self) -> list[str]:
        return self.snapshot.names if self.snapshot is not None else []

    def open_known_faces(self) -> None:
        self._open_folder(self.known_faces)

    def open_person_folder(self, name: str) -> None:
        folder = self.known_faces / name
        self._open_folder(folder if folder.is_dir() else self.known_faces)

    def _open_folder(self, folder: Path) -> None:
        """The desktop's file manager on ``folder``; when there is none, a message that gives the path."""
        path = folder.resolve()
        if self.open_url(QUrl.fromLocalFile(str(path))) is False:
            self.show_message("Open folder", f"No file manager could open the folder. It is:\n\n{path}")

    def show_message(self, title: str, text: str) -> None:
        """A non-modal message (the text can be selected and copied)."""
        if self.message_box is not None:
            self.message_box.close()
        box = QMessageBox(QMessageBox.Information, title, text, QMessageBox.Ok, self)
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.setModal(False)
        box.show()
        self.message_box = box

    def remove_person(self, name: str) -> None:
        if not self.confirm("Remove person",
                            f"Remove {name} from known_faces?\n\nTheir photos are moved to "
                            f"{self.known_faces / '.facecam' / 'removed'}, not deleted."):
            return
        from facecam.gallery import remove_person  # noqa: PLC0415

        root = self.known_faces

        def done(backup):
            if not self._closed:
                self.statusBar().showMessage(f"Removed {name}; photos kept in {backup}", 8000)
                self._refresh_gallery()

        def failed(error):
            if not self._closed:
                self.statusBar().showMessage(f"Could not remove {name}: {error}", 10000)

        run_task("remove-person", lambda: remove_person(root, name), done, failed)

    def forget_unknowns(self, cluster_ids: list) -> None:
        """Who's this? > Forget, after a confirmation that says how many sightings go with the entries."""
        chosen = set(cluster_ids)
        sightings = sum(view.visits for view in self.unknowns.views if view.id in chosen)
        entries = f"{len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'}"
        if self.confirm("Forget", f"Forget {entries} and {sightings} sighting(s), with their crops?\n\n"
                                  "They are deleted; the same face seen again is collected again."):
            self.unknowns.forget(list(cluster_ids))

    def clear_learned(self, name: str | None) -> None:
        """People > Clear learned (one person) or Tools > Clear learned faces (everyone), after a confirmation."""
        from facecam.gallery import is_learned  # noqa: PLC0415

        people = self.snapshot.people if self.snapshot is not None else ()
        count = sum(1 for p in people if name in (None, p.name) for path in p.photos if is_learned(path))
        whose = name or "everyone"
        if self.confirm("Clear learned faces", f"Delete the {count} face(s) learned of {whose}?\n\n"
                                               "The photos in known_faces are not touched."):
            self.learning.clear(name)

    def _confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    # ================================================================== source
    def open_source(self, spec: str) -> bool:
        """Switch to ``spec`` (camera number, file, URL). Never blocks: opening happens on the capture thread."""
        from facecam.sources import open_source  # noqa: PLC0415

        old, self.source = self.source, None
        if old is not None:
            old.request_stop()  # the capture thread ends on its own (a stuck driver cannot hold us)
            self._old_sources = [item for item in self._old_sources if item.running] + [old]
        self.source_spec = str(spec)
        self.unknowns.set_source(self.source_spec)
        self.source_ended = False
        self.last_frame = None
        self.current_labels = []
        if self.pipeline is not None:
            self.pipeline.reset()  # a new clock: tracks of the old source mean nothing
            self.sightings.attach(self.pipeline, self.sightings_source_name())  # the visits of another source
        self._hide_banner()
        try:
            self.source = open_source(spec, realtime=True, backend=self.source_backend)
        except CameraError as error:
            self._show_problem(str(error))
            return False
        if self.paused:
            self.source.pause()
        self.video.clear(f"Opening {self.source.spec.describe()}...")
        self.setWindowTitle(f"facecam - {self.source.spec.describe()}")
        return True

    def sightings_source_name(self) -> str:
        """The source's name in the sightings log: --source-name for the source it names, else the spec."""
        given = self.options.source_name
        return given if given and self.source_spec == str(self.options.source) else self.source_spec

    def retry_source(self) -> None:
        self.open_source(self.source_spec)

    def choose_source(self) -> None:
        dialog = SourceDialog(self.source_spec, self)
        self.source_dialog = dialog
        dialog.accepted.connect(lambda: self.open_source(dialog.spec()))
        dialog.open()

    def _show_problem(self, message: str, retry_text: str = "Retry", *, problem: bool = True) -> None:
        self.source_problem = message
        self.banner.show_message(message, retry_text, problem=problem)
        if self.last_frame is None:
            self.video.clear(message)

    def _hide_banner(self) -> None:
        self.source_problem = None
        self.banner.hide()

    # ================================================================== display
    def _tick(self) -> None:
        source = self.source
        if source is None or self.paused:
            return
        frame = source.latest(after_seq=self.last_frame.seq if self.last_frame is not None else None)
        if frame is None:
            if source.done and self.source_problem is None:
                if source.error is not None:
                    self._show_problem(str(source.error))
                elif source.ended:
                    self.source_ended = True
                    self._show_problem(f"End of {source.spec.describe()}.", "Replay", problem=False)
                else:
                    self._show_problem(f"{source.spec.describe()} stopped.")
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

    def set_paused(self, paused: bool) -> None:
        """Pause: a video file is held where it is (it goes on from the same frame); a camera or a
        stream cannot wait, so its picture is frozen."""
        self.paused = bool(paused)
        if self.source is not None:
            if self.paused:
                self.source.pause()
            else:
                self.source.resume()
        if self.pipeline is not None:
            self.pipeline.paused = self.paused
        self.pause_action.setChecked(self.paused)
        self.video.set_overlay("Paused (Space)" if self.paused else "")

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

    def _escape(self) -> None:
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
        self._show_threshold()

    def _show_threshold(self) -> None:
        """The slider at the threshold in use; by default it follows the gallery's size (about 1 stranger in
        100 named, whatever the number of people), said beside it, with what it rests on as the tooltip."""
        if self.recognizer is None:
            return
        decision, mode = self.recognizer.decision, self.recognizer.match_mode
        matrix = self._matrix if self._matrix is not None else GalleryMatrix.empty(self.recognizer.embedder.dim)
        basis = decision.basis(matrix, mode)
        if decision.follows_size:
            value = float(np.max(np.atleast_1d(decision.threshold_at(matrix, mode))))
            self.controls.show_threshold(value, note=f" (about {rate_text(decision.stranger_rate)} strangers)",
                                         basis=basis + "; the default names about 1 stranger in 100 whatever the "
                                         "gallery's size. Move the slider to fix a threshold by hand.")
            return
        model = config.MODELS.get(self.recognizer.model)
        self.controls.show_threshold(self.recognizer.threshold, model.threshold if model is not None else None,
                                     basis=basis)

    # ================================================================== enroll
    def enroll(self) -> None:
        if self.recognizer is None:
            self.statusBar().showMessage("The model is still loading: Enroll works once faces are recognised.", 5000)
            return
        if self.last_frame is None:
            self.statusBar().showMessage("No picture yet: Enroll takes the faces of the current frame.", 5000)
            return
        if self.enroll_dialog is not None and self.enroll_dialog.isVisible():
            self.enroll_dialog.raise_()
            return
        dialog = EnrollDialog(self.last_frame.bgr_frame, self.recognizer, self.known_faces, self.people_names(),
                              frame_provider=self._newest_frame, parent=self)
        dialog.saved.connect(self._on_enrolled)
        self.enroll_dialog = dialog
        dialog.open()

    def _newest_frame(self):
        frame = self.last_frame
        return frame.bgr_frame if frame is not None else None

    def _on_enrolled(self, name: str, paths: list) -> None:
        if self._closed:
            return
        self.statusBar().showMessage(f"Saved {len(paths)} photo(s) of {name} in {self.known_faces / name}", 8000)
        if self.options.db and self.gallery is not None:
            self._enroll_into_db(name, paths)
            return
        self._refresh_gallery()  # the gallery change then resets the pipeline: recognised on the next rounds

    def _enroll_into_db(self, name: str, paths: list) -> None:
        """--db: the photos Enroll saved go to the database too (on a task thread); every instance on it,
        this window included (LISTEN/NOTIFY), names the person within seconds."""
        service, recognizer = self.gallery, self.recognizer

        def done(ids):
            if not self._closed:
                self.statusBar().showMessage(f"{name} will be stored in the database when it answers" if ids is None
                                             else f"Enrolled {name} in the database ({len(ids)} photo(s))", 8000)

        def failed(error):
            if not self._closed:
                self.statusBar().showMessage(f"{name} could not be enrolled in the database: {error}", 15000)

        run_task("db-enroll", lambda: service.enroll_into_db(name, paths, recognizer), done, failed)

    # ================================================================== notifications
    def edit_notifications(self) -> None:
        """Tools > Notifications...: the settings dialog; OK saves them and notifies with them from now on."""
        from facecam.gui.notify_dialog import NotifyDialog  # noqa: PLC0415

        dialog = NotifyDialog(self.sightings.notify, self)
        dialog.chosen.connect(self.use_notifications)
        self.notify_dialog = dialog
        dialog.open()

    def use_notifications(self, settings: NotifySettings) -> None:
        problem = self.sightings.set_notify(settings)
        self.statusBar().showMessage(problem or settings.describe(), 8000)   # describe(): never a password
        if problem:
            return
        run_task("save-settings", settings.save, None,
                 lambda error: self.statusBar().showMessage(f"Could not save the settings: {error}", 10000))

    # ================================================================== evaluate hook
    def check_accuracy(self) -> None:
        """Tools > Check accuracy: ``facecam evaluate`` on known_faces in a non-modal dialog
        (:func:`facecam.gui.evaluate_dialog.open_evaluate_dialog`, kept as ``self.evaluate_dialog``);
        the action is disabled when ``facecam.evaluate`` is missing."""
        try:
            from facecam.gui import evaluate_dialog  # noqa: PLC0415
        except ImportError:
            QMessageBox.information(self, "Check accuracy",
                                    "Run it from a terminal:\n\n    python -m facecam evaluate --known-faces "
                                    f"{self.known_faces}")
            return
        evaluate_dialog.open_evaluate_dialog(self)

    # ================================================================== status
    def _on_round(self, _stats) -> None:
        self.pipeline_error = None

    def _on_pipeline_error(self, error: BaseException) -> None:
        if self._closed:
            return
        self.pipeline_error = str(error)
        self.statusBar().showMessage(f"Recognition error (the video goes on): {error}", 5000)

    def status_text(self) -> str:
        return status_text(self.window_state())

    def _update_status(self) -> None:
        self.status_line.show_state(self.window_state())

    def window_state(self) -> WindowState:
        """What the status line shows now."""
        stats = self.pipeline.stats if self.pipeline is not None else None
        if self.recognizer is None and (self.models.error is not None or not self.models.busy):
            recognition = "off: model not loaded"
        elif self.recognizer is None:
            recognition = "loading model"
        else:
            recognition = "starting"
        model = self.recognizer.model if self.recognizer is not None else (self.models.loading_model
                                                                            or self.options.model)
        snapshot = self.snapshot
        return WindowState(fps=self.displayed_fps(), model_title=title_of(model),
                           rounds=stats.rounds if stats is not None else 0,
                           round_ms=stats.last_round_s * 1000 if stats is not None else 0.0,
                           latency_ms=stats.latency_s * 1000 if stats is not None else 0.0,
                           recognition=recognition,
                           people=len(snapshot.people) if snapshot is not None else None,
                           photos=snapshot.photos if snapshot is not None else 0,
                           skipped=snapshot.skipped if snapshot is not None else 0)

    # ================================================================== shutdown
    def closeEvent(self, event) -> None:
        self.shutdown()
        event.accept()

    def shutdown(self) -> list[str]:
        """Stop every thread: ask them all first, then join each until it has ended (a recognition round
        or a photo being indexed finishes; JOIN_TIMEOUT_S is only a safety net). A capture thread stuck in
        a camera driver is given CAPTURE_JOIN_S and then left to end on its own. Returns any still alive."""
        if self._closed:
            return []
        self._closed = True
        self.display_timer.stop()
        self.status_timer.stop()
        for dialog in (self.enroll_dialog, self.evaluate_dialog, self.notify_dialog, self.message_box):
            if dialog is not None:
                dialog.close()  # an indexing in progress in the evaluate dialog stops
        self.models.close()  # a model still loading is left to finish on its daemon thread
        self.unknowns.close()  # the sightings waiting are stored (a facecam- thread joined below)
        self.learning.close()  # the crops waiting are written (likewise)
        workers = [w for w in (self.pipeline, self.gallery, *self._retired) if w is not None]
        sources = [w for w in (self.source, *self._old_sources) if w is not None]
        for worker in workers + sources:
            worker.request_stop()
        for worker in workers:
            worker.join(JOIN_TIMEOUT_S)
        for source in sources:
            source.join(CAPTURE_JOIN_S)
        hanging = self.sightings.notify_threads()   # a request to a dead endpoint is not waited for
        self.sightings.close()                      # open visits end and are written
        self.history_panel.close_log()
        return join_threads(time.monotonic() + JOIN_TIMEOUT_S, abandon=(LOADER_THREAD, *hanging))


def warm_up_annotator(annotator: FaceAnnotator) -> None:
    annotator.annotate(np.zeros((48, 64, 3), np.uint8), [Label((4, 20, 20, 20), "Ag", 0.5)])


def evaluate_available() -> bool:
    try:
        return importlib.util.find_spec("facecam.evaluate") is not None
    except (ImportError, ValueError):
        return False
