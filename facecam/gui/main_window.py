"""The main window: live video with names, the people panel, controls, status bar.

Everything slow happens elsewhere (see :mod:`facecam.gui.workers`); the GUI thread
only pulls the newest frame on a timer, asks the pipeline for the labels at that
frame's time, draws them (FaceAnnotator) and paints. Frames that arrive between two
ticks are never drawn.

Tests build it with their own pieces: ``MainWindow(WindowOptions(source=clip, ...),
recognizer=sface_recognizer)`` skips model loading; ``source_backend`` fakes a camera;
``open_url`` and ``confirm`` replace the desktop and the confirmation dialog.
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
from PyQt5.QtWidgets import (QAction, QCheckBox, QFileDialog, QFrame, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                             QProgressBar, QProgressDialog, QPushButton, QSlider, QSplitter, QToolBar, QVBoxLayout,
                             QWidget)

from facecam import config
from facecam.annotate import FaceAnnotator, Label
from facecam.errors import CameraError, FacecamError
from facecam.gui.enroll_dialog import EnrollDialog
from facecam.gui.people_panel import PeoplePanel
from facecam.gui.source_dialog import SourceDialog
from facecam.gui.video_view import VideoView
from facecam.gui.workers import GalleryService, GallerySnapshot, ModelLoader, PipelineBridge, join_threads, run_task

MODEL_TITLES = {"vgg-face": "VGG-Face", "sface": "SFace"}
SHUTDOWN_BUDGET_S = 0.9
THRESHOLD_RANGE = (0.05, 1.50)  # the slider's cosine-distance range


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
    display_interval_ms: int = 15
    watch_interval_s: float = 0.5
    settle_s: float = 0.3


def same_matrix(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (tuple(a.names) == tuple(b.names) and a.embeddings.shape == b.embeddings.shape
            and np.array_equal(a.labels, b.labels) and np.array_equal(a.embeddings, b.embeddings))


class MainWindow(QMainWindow):
    def __init__(self, options: WindowOptions | None = None, *, recognizer=None,
                 build_recognizer: Callable | None = None, source_backend=None,
                 open_url: Callable[[QUrl], object] | None = None,
                 confirm: Callable[[str, str], bool] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.options = options or WindowOptions()
        self.known_faces = Path(self.options.known_faces)
        self.source_backend = source_backend
        self.open_url = open_url or QDesktopServices.openUrl
        self.confirm = confirm or self._confirm_dialog

        self.recognizer = None
        self.pipeline = None
        self.source = None
        self.source_spec = str(self.options.source)
        self.source_problem: str | None = None
        self.snapshot: GallerySnapshot | None = None
        self.current_labels: list[Label] = []
        self.last_frame = None                # the newest Frame shown (raw, for Enroll)
        self.paused = False
        self.enroll_dialog: EnrollDialog | None = None
        self.evaluate_dialog = None           # facecam.gui.evaluate_dialog.EvaluateDialog, once opened
        self.model_error_box: QMessageBox | None = None
        self.download_dialog: QProgressDialog | None = None
        self.gallery_error: str | None = None
        self.pipeline_error: str | None = None
        self.frames_shown = 0
        self._matrix = None
        self._paint_times: collections.deque[float] = collections.deque(maxlen=240)
        self._closed = False
        self._model_error: BaseException | None = None

        self.annotator = FaceAnnotator(show_distances=True, as_similarity=True)
        # OpenCV's text renderer is set up per thread on its first text (~30 ms): do it now, before the
        # event loop runs, rather than on the first frame with a name.
        warm_up_annotator(self.annotator)
        self.loader = ModelLoader(build_recognizer, self)
        self.loader.progress.connect(self._on_download_progress, Qt.QueuedConnection)
        self.loader.ready.connect(self._on_model_ready, Qt.QueuedConnection)
        self.loader.failed.connect(self._on_model_failed, Qt.QueuedConnection)
        self.gallery = GalleryService(self.known_faces, interval_s=self.options.watch_interval_s,
                                      settle_s=self.options.settle_s, parent=self)
        self.gallery.progress.connect(self._on_gallery_progress, Qt.QueuedConnection)
        self.gallery.changed.connect(self._on_gallery_changed, Qt.QueuedConnection)
        self.gallery.failed.connect(self._on_gallery_failed, Qt.QueuedConnection)
        self.bridge = PipelineBridge(self)
        self.bridge.round_done.connect(self._on_round, Qt.QueuedConnection)
        self.bridge.failed.connect(self._on_pipeline_error, Qt.QueuedConnection)

        self._build_ui()
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
            self._on_model_ready(recognizer)
        else:
            self._load_model(self.options.model, self.options.weights)
        self._update_status()

    # ================================================================== UI
    def _build_ui(self) -> None:
        self.video = VideoView()
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner.setStyleSheet("#banner { background: #7a1f1f; border-radius: 4px; } "
                                  "#banner QLabel { color: white; font-weight: bold; }")
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.retry_button = QPushButton("Retry")
        self.choose_source_button = QPushButton("Choose source...")
        self.retry_button.clicked.connect(self.retry_source)
        self.choose_source_button.clicked.connect(self.choose_source)
        banner_row = QHBoxLayout(self.banner)
        banner_row.addWidget(self.banner_label, 1)
        banner_row.addWidget(self.retry_button)
        banner_row.addWidget(self.choose_source_button)
        self.banner.hide()

        self.threshold_slider = QSlider(Qt.Horizontal)
        self.threshold_slider.setRange(int(THRESHOLD_RANGE[0] * 100), int(THRESHOLD_RANGE[1] * 100))
        self.threshold_slider.setEnabled(False)
        self.threshold_slider.setToolTip("Cosine distance above which a face is Unknown: lower is stricter")
        self.threshold_slider.valueChanged.connect(self._on_threshold_slider)
        self.threshold_label = QLabel("threshold -")
        self.threshold_label.setMinimumWidth(110)
        self.distances_box = QCheckBox("Show distances")
        self.distances_box.setToolTip("Show the cosine distance (lower is closer) instead of the similarity %")
        self.distances_box.toggled.connect(self.set_show_distances)
        self.model_label = QLabel("Model: -")
        for widget in (self.threshold_slider, self.distances_box):
            widget.setFocusPolicy(Qt.NoFocus)  # keys go to the window's shortcuts, not to a button
        controls = QHBoxLayout()
        controls.setContentsMargins(6, 2, 6, 2)
        controls.addWidget(QLabel("Threshold:"))
        controls.addWidget(self.threshold_slider, 1)
        controls.addWidget(self.threshold_label)
        controls.addWidget(self.distances_box)
        controls.addSpacing(12)
        controls.addWidget(self.model_label)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.banner)
        left_layout.addWidget(self.video, 1)
        left_layout.addLayout(controls)

        self.people_panel = PeoplePanel()
        self.people_panel.open_person.connect(self.open_person_folder)
        self.people_panel.remove_person.connect(self.remove_person)
        self.people_panel.open_gallery.connect(self.open_known_faces)
        self.people_panel.rescan.connect(self.rescan)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.people_panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 260])
        self.setCentralWidget(splitter)

        bar = self.statusBar()
        self.status_label = QLabel()
        self.load_label = QLabel()
        self.load_bar = QProgressBar()
        self.load_bar.setMaximumWidth(180)
        self.load_bar.setTextVisible(True)
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.load_label)
        bar.addPermanentWidget(self.load_bar)
        self._set_loading(None)

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
        self.escape_action = action("Leave full screen / quit", self._escape, ("Esc",))
        self.open_gallery_action = action("Open &known_faces", self.open_known_faces)
        self.rescan_action = action("&Rescan known_faces", self.rescan, ("F5",))
        self.distances_action = action("Show &distances", self.distances_box.setChecked, checkable=True)
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
        tools_menu = menu.addMenu("&Tools")
        tools_menu.addAction(self.evaluate_action)

        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setFocusPolicy(Qt.NoFocus)
        for act in (self.source_action, self.enroll_action, self.pause_action, self.fullscreen_action):
            toolbar.addAction(act)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    # ================================================================== model
    def _load_model(self, model: str, weights=None) -> None:
        self._set_loading(f"Loading {MODEL_TITLES.get(model, model)} model...", busy=True)
        self.model_label.setText(f"Model: {MODEL_TITLES.get(model, model)} (loading)")
        self.video.set_message(self.video.message or "Loading...")
        threshold = self.options.threshold if model == self.options.model else None
        self.loader.start(model, weights, self.options.model_dir, threshold=threshold,
                          min_face_size=self.options.min_face_size)

    def _on_download_progress(self, done, total) -> None:
        if self._closed or self.loader.model is None:
            return
        if self.download_dialog is None:
            title = MODEL_TITLES.get(self.loader.model, self.loader.model)
            dialog = QProgressDialog(f"Downloading the {title} model (first use only)...", "Cancel", 0, 1000, self)
            dialog.setWindowTitle("Downloading model")
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.setMinimumDuration(0)
            dialog.canceled.connect(self.loader.cancel_download)
            dialog.open()
            self.download_dialog = dialog
        mb = done / 1e6
        if total:
            self.download_dialog.setValue(int(1000 * done / total))
            self.download_dialog.setLabelText(f"Downloading the model (first use only): {mb:.0f} of {total / 1e6:.0f} MB")
            self._set_loading(f"Downloading model {mb:.0f}/{total / 1e6:.0f} MB", int(1000 * done / total), 1000)
        else:
            self.download_dialog.setRange(0, 0)
            self.download_dialog.setLabelText(f"Downloading the model (first use only): {mb:.0f} MB")

    def _close_download_dialog(self) -> None:
        if self.download_dialog is not None:
            dialog, self.download_dialog = self.download_dialog, None
            dialog.canceled.disconnect()
            dialog.close()
            dialog.deleteLater()

    def _on_model_ready(self, recognizer) -> None:
        if self._closed:
            return
        self._close_download_dialog()
        self.recognizer = recognizer
        if self.options.threshold is not None and recognizer.model == self.options.model:
            recognizer.threshold = float(self.options.threshold)
        from facecam.pipeline import LivePipeline  # noqa: PLC0415

        self.pipeline = LivePipeline(recognizer, lambda: self._matrix)
        self.bridge.attach(self.pipeline)
        self.pipeline.paused = self.paused
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(int(round(recognizer.threshold * 100)))
        self.threshold_slider.blockSignals(False)
        self.threshold_slider.setEnabled(True)
        self._show_threshold()
        runtime = getattr(recognizer.embedder, "runtime_description", "")   # VGG-Face: which runtime runs
        self.model_label.setText(f"Model: {MODEL_TITLES.get(recognizer.model, recognizer.model)}"
                                 + (f" ({runtime})" if runtime else ""))
        self._set_loading("Indexing known_faces...", busy=True)
        self.gallery.start(recognizer)

    def _on_model_failed(self, error: BaseException) -> None:
        if self._closed:
            return
        self._close_download_dialog()
        self._model_error = error
        model = self.loader.model or self.options.model
        title = MODEL_TITLES.get(model, model)
        self._set_loading(None)
        self.model_label.setText(f"Model: {title} (not loaded)")
        self.people_panel.hint.setText("Faces are not recognised: the model is not loaded.")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Warning)
        box.setWindowTitle("Model not available")
        box.setText(f"The {title} model could not be loaded, so faces are not recognised yet.")
        box.setInformativeText(str(error) if isinstance(error, FacecamError) else f"{type(error).__name__}: {error}")
        self.model_retry_button = box.addButton("Retry", QMessageBox.AcceptRole)
        self.model_weights_button = box.addButton("Choose weights file...", QMessageBox.ActionRole)
        self.model_sface_button = box.addButton("Use SFace", QMessageBox.ActionRole) if model != "sface" else None
        self.model_close_button = box.addButton("Continue without recognition", QMessageBox.RejectRole)
        box.buttonClicked.connect(lambda button: self._on_model_choice(button, model))
        self.model_error_box = box
        box.open()

    def _on_model_choice(self, button, model: str) -> None:
        box, self.model_error_box = self.model_error_box, None
        if box is not None:
            box.deleteLater()
        if button is self.model_retry_button:
            self._load_model(model, self.options.weights if model == self.options.model else None)
        elif button is self.model_weights_button:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose the {MODEL_TITLES.get(model, model)} weights file",
                                                  "", "Model files (*.h5 *.onnx);;All files (*)")
            if path:
                self._load_model(model, path)
        elif button is self.model_sface_button:
            self._load_model("sface")

    # ================================================================== gallery
    def _on_gallery_progress(self, done: int, total: int) -> None:
        if not self._closed and self.snapshot is None:
            self._set_loading(f"Indexing known_faces {done}/{total}", done, max(total, 1))

    def _on_gallery_changed(self, snapshot: GallerySnapshot) -> None:
        if self._closed:
            return
        first = self.snapshot is None
        changed = not same_matrix(self._matrix, snapshot.matrix)
        self.snapshot = snapshot
        self._matrix = snapshot.matrix
        self.gallery_error = None
        self.people_panel.set_people(snapshot.people)
        if self.enroll_dialog is not None and not self.enroll_dialog.isVisible():
            self.enroll_dialog = None
        if self.pipeline is not None:
            if changed and not first:
                self.pipeline.reset()  # everyone is recognised afresh against the new gallery
            if not self.pipeline.running:
                self.pipeline.start()
                self._set_loading(None)

    def _on_gallery_failed(self, error: BaseException) -> None:
        if self._closed:
            return
        self.gallery_error = str(error)
        self.statusBar().showMessage(f"known_faces: {error}", 10000)
        if self.pipeline is not None and not self.pipeline.running and self.snapshot is None:
            from facecam.matcher import GalleryMatrix  # noqa: PLC0415

            self._matrix = GalleryMatrix.empty(self.recognizer.embedder.dim)
            self.pipeline.start()  # recognition goes on: everyone is Unknown until the folder works
            self._set_loading(None)

    def rescan(self) -> None:
        self.gallery.refresh_now()
        self.statusBar().showMessage("Rescanning known_faces...", 3000)

    def people_names(self) -> list[str]:
        return self.snapshot.names if self.snapshot is not None else []

    def open_known_faces(self) -> None:
        self.open_url(QUrl.fromLocalFile(str(self.known_faces.resolve())))

    def open_person_folder(self, name: str) -> None:
        folder = self.known_faces / name
        self.open_url(QUrl.fromLocalFile(str((folder if folder.is_dir() else self.known_faces).resolve())))

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
                self.gallery.refresh_now()

        def failed(error):
            if not self._closed:
                self.statusBar().showMessage(f"Could not remove {name}: {error}", 10000)

        run_task("remove-person", lambda: remove_person(root, name), done, failed)

    def _confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    # ================================================================== source
    def open_source(self, spec: str) -> bool:
        """Switch to ``spec`` (camera number, file, URL). Never blocks: opening happens on the capture thread."""
        from facecam.sources import open_source  # noqa: PLC0415

        old, self.source = self.source, None
        if old is not None:
            old.stop(timeout=0.0)  # the capture thread ends on its own (a stuck driver cannot hold us)
        self.source_spec = str(spec)
        self.last_frame = None
        self.current_labels = []
        if self.pipeline is not None:
            self.pipeline.reset()  # a new clock: tracks of the old source mean nothing
        self._hide_banner()
        try:
            self.source = open_source(spec, realtime=True, backend=self.source_backend)
        except CameraError as error:
            self._show_problem(str(error))
            return False
        self.video.clear(f"Opening {self.source.spec.describe()}...")
        self.setWindowTitle(f"facecam - {self.source.spec.describe()}")
        return True

    def retry_source(self) -> None:
        self.open_source(self.source_spec)

    def choose_source(self) -> None:
        dialog = SourceDialog(self.source_spec, self)
        self.source_dialog = dialog
        dialog.accepted.connect(lambda: self.open_source(dialog.spec()))
        dialog.open()

    def _show_problem(self, message: str, retry_text: str = "Retry") -> None:
        self.source_problem = message
        self.banner_label.setText(message)
        self.retry_button.setText(retry_text)
        self.banner.show()
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
                    self._show_problem(f"End of {source.spec.describe()}.", "Play again")
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
        self.paused = bool(paused)
        if self.pipeline is not None:
            self.pipeline.paused = self.paused
        self.pause_action.setChecked(self.paused)
        self.video.set_overlay("Paused (Space)" if self.paused else "")

    def set_show_distances(self, show: bool) -> None:
        self.annotator.as_similarity = not show
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
        if self.isFullScreen():
            self.toggle_full_screen()
        else:
            self.close()

    # ================================================================== threshold
    def _on_threshold_slider(self, value: int) -> None:
        self.set_threshold(value / 100.0)

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
        if self.recognizer is not None:
            default = config.MODELS[self.recognizer.model].threshold if self.recognizer.model in config.MODELS else None
            note = " (default)" if default is not None and abs(default - self.recognizer.threshold) < 5e-4 else ""
            self.threshold_label.setText(f"{self.recognizer.threshold:.2f}{note}")

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
        self.gallery.refresh_now()  # the gallery change then resets the pipeline: recognised on the next rounds

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
    def _set_loading(self, text: str | None, value: int | None = None, maximum: int | None = None,
                     busy: bool = False) -> None:
        self.load_label.setVisible(text is not None)
        self.load_bar.setVisible(text is not None)
        if text is None:
            return
        self.load_label.setText(text)
        if busy:
            self.load_bar.setRange(0, 0)
        elif value is not None and maximum:
            self.load_bar.setRange(0, maximum)
            self.load_bar.setValue(value)

    def _on_round(self, _stats) -> None:
        self.pipeline_error = None

    def _on_pipeline_error(self, error: BaseException) -> None:
        if self._closed:
            return
        self.pipeline_error = str(error)
        self.statusBar().showMessage(f"Recognition error (the video goes on): {error}", 5000)

    def status_text(self) -> str:
        parts = [f"{self.displayed_fps():.0f} fps shown"]
        if self.pipeline is not None and self.pipeline.stats.rounds:
            stats = self.pipeline.stats
            parts.append(f"recognition {stats.last_round_s * 1000:.0f} ms/round, "
                         f"latency {stats.latency_s * 1000:.0f} ms")
        elif self.recognizer is None and self.model_error_box is None and not self.loader.busy:
            parts.append("recognition off: model not loaded")
        elif self.recognizer is None:
            parts.append("recognition: loading model")
        else:
            parts.append("recognition: starting")
        if self.snapshot is not None:
            people = len(self.snapshot.people)
            parts.append(f"{people} {'person' if people == 1 else 'people'}, {self.snapshot.photos} photos"
                         + (f" ({self.snapshot.skipped} skipped)" if self.snapshot.skipped else ""))
        model = self.recognizer.model if self.recognizer is not None else (self.loader.model or self.options.model)
        parts.append(f"model {MODEL_TITLES.get(model, model)}")
        return "  |  ".join(parts)

    def _update_status(self) -> None:
        self.status_label.setText(self.status_text())

    # ================================================================== shutdown
    def closeEvent(self, event) -> None:
        self.shutdown()
        event.accept()

    def shutdown(self) -> list[str]:
        """Stop every thread: ask all first, then join them within SHUTDOWN_BUDGET_S. Returns any still alive."""
        if self._closed:
            return []
        self._closed = True
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S
        self.display_timer.stop()
        self.status_timer.stop()
        if self.enroll_dialog is not None:
            self.enroll_dialog.close()
        if self.evaluate_dialog is not None:
            self.evaluate_dialog.close()  # an indexing in progress stops
        self._close_download_dialog()
        self.loader.abandon()  # a model still loading is left to finish on its daemon thread
        self.gallery.stop()
        if self.pipeline is not None:
            self.pipeline.stop(timeout=0.0)
        if self.source is not None:
            self.source.stop(timeout=0.0)
        return join_threads(deadline)


def warm_up_annotator(annotator: FaceAnnotator) -> None:
    annotator.annotate(np.zeros((48, 64, 3), np.uint8), [Label((4, 20, 20, 20), "Ag", 0.5)])


def evaluate_available() -> bool:
    try:
        return importlib.util.find_spec("facecam.evaluate") is not None
    except (ImportError, ValueError):
        return False
