"""Which model the window recognises with, and getting it: loading, the VGG-Face offer, downloads, switching.

:class:`ModelControl` owns the two model loaders and drives the :class:`~facecam.gui.model_bar.ModelBar`;
the window only hears ``ready(recognizer)`` (use this one from now on), ``loading(model)`` and
``failed(model, reason)`` (the first model could not be loaded: nothing recognises).

* VGG-Face (the default) with no weights: SFace is loaded at once and the bar offers
  "Download / Choose file... / Keep SFace". Download (or a chosen file) runs on the second loader:
  the file (from the model folder, downloaded there if missing), the recognizer, then known_faces
  indexed for it (so the switch does not leave everyone Unknown while it indexes); then ``ready``.
* The choice is remembered in the settings, ``settings["window"]["vgg-face"]``: ``"keep-sface"``,
  ``"downloaded"`` or the path of the chosen weights file.
* The detector (MTCNN, the default, or YuNet, the light one) is the window's setting too:
  ``--detector`` for one run, else ``settings["window"]["detector"]``, remembered when chosen in the
  Tools menu (:meth:`ModelControl.use_detector` reloads the current model with it; the gallery cache
  is kept per detector, so switching back embeds nothing again).
* A model that fails shows in the bar (Retry / Choose file... / Use SFace); a failed switch leaves the
  current model running (Retry / Choose file... / Keep SFace).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PyQt5.QtCore import QObject, Qt, pyqtSignal

from facecam import config, registry
from facecam.errors import FacecamError
from facecam.gui.model_bar import ModelBar
from facecam.gui.workers import ModelLoader
from facecam.registry import DEFAULT_DETECTOR, DETECTORS, MODEL_TITLES

VGG_FACE_SIZE = registry.model("vgg-face").download_size   # "580 MB"
KEEP_SFACE = "keep-sface"
DOWNLOADED = "downloaded"


def title_of(model: str | None) -> str:
    return MODEL_TITLES.get(model, model or "-")


def detector_title(key: str) -> str:
    """"MTCNN", "YuNet" (the key itself for a detector the registry does not name)."""
    entry = DETECTORS.get(key)
    return entry.title if entry is not None else key


def vgg_face_missing(model_dir: str | None) -> bool:
    """True when VGG-Face's weights are neither named by FACECAM_VGGFACE_WEIGHTS nor in the model folder."""
    from facecam import registry  # noqa: PLC0415

    return registry.model_file_missing("vgg-face", model_dir)


def saved_choice() -> str | None:
    """What the user chose in the bar last time (see the module notes), or None."""
    window = config.load_settings().get("window")
    choice = window.get("vgg-face") if isinstance(window, dict) else None
    return choice if isinstance(choice, str) else None


def remember_choice(choice: str, key: str = "vgg-face") -> None:
    """Save ``settings["window"][key] = choice`` (the VGG-Face choice, or the detector)."""
    settings = config.load_settings()
    window = settings.get("window") if isinstance(settings.get("window"), dict) else {}
    settings["window"] = {**window, key: choice}
    config.save_settings(settings)


def saved_detector() -> str:
    """The detector chosen in the window last time (``settings["window"]["detector"]``), else the default."""
    window = config.load_settings().get("window")
    choice = window.get("detector") if isinstance(window, dict) else None
    return choice if choice in DETECTORS else DEFAULT_DETECTOR


class ModelControl(QObject):
    """See the module notes. ``build(model, weights, model_dir, *, progress, cancel, threshold,
    min_face_size)`` builds a Recognizer (slow; called on a loader thread)."""

    ready = pyqtSignal(object)
    loading = pyqtSignal(str)
    failed = pyqtSignal(str, str)
    message = pyqtSignal(str)
    _indexing = pyqtSignal(int, int)

    def __init__(self, options, known_faces: Path, build: Callable, bar: ModelBar,
                 choose_file: Callable[[str], str], parent: QObject | None = None):
        super().__init__(parent)
        self.options, self.known_faces, self.build, self.bar = options, Path(known_faces), build, bar
        self.choose_file = choose_file
        self.detector: str = getattr(options, "detector", None) or saved_detector()
        self._weights: dict[str, str | None] = {}   # the weights file each model was last loaded with
        self.current: str | None = None       # the model in use (after ready)
        self.error: str | None = None         # why the first model is not loaded
        self.loader = ModelLoader(build, self)                           # the model the window starts with
        self.upgrade = ModelLoader(self._download_build_and_index, self)  # VGG-Face while SFace runs
        for loader, on_ready in ((self.loader, self._on_ready), (self.upgrade, self._on_upgrade_ready)):
            loader.progress.connect(self._on_download_progress, Qt.QueuedConnection)
            loader.ready.connect(on_ready, Qt.QueuedConnection)
            loader.failed.connect(self._on_failed, Qt.QueuedConnection)
        self._indexing.connect(self._on_indexing, Qt.QueuedConnection)
        self._bar_loader: ModelLoader = self.upgrade  # the loader the bar's buttons act on
        self._bar_model = "vgg-face"
        self._upgrade_weights: str | None = None
        self._closed = False
        bar.download.connect(self.download_vgg_face)
        bar.retry.connect(self._retry)
        bar.choose_file.connect(self._choose_file)
        bar.keep.connect(self._keep)
        bar.cancel.connect(lambda: self._bar_loader.cancel_download())

    @property
    def busy(self) -> bool:
        return self.loader.busy

    @property
    def loading_model(self) -> str | None:
        return self.loader.model

    # ------------------------------------------------------------ start
    def start(self) -> None:
        """The chosen model; VGG-Face not downloaded: SFace now and the bar's offer (unless Keep SFace was chosen)."""
        model, weights = self.options.model, self.options.weights
        if model == "vgg-face" and weights is None and vgg_face_missing(self.options.model_dir):
            saved = saved_choice()
            if saved not in (None, KEEP_SFACE, DOWNLOADED) and Path(saved).is_file():
                weights = saved  # a weights file chosen earlier
            else:
                model = registry.first_run_model(None, self.options.model_dir)  # SFace, as the CLI decides
                if saved != KEEP_SFACE:
                    self.offer_vgg_face()
        self.load(model, weights)

    def load(self, model: str, weights=None) -> None:
        self.error = None
        self._weights[model] = weights
        self.loading.emit(model)
        self.loader.start(model, weights, self.options.model_dir, threshold=self._threshold_for(model),
                          min_face_size=self.options.min_face_size, detector=self.detector)

    def use_detector(self, key: str) -> None:
        """Detect faces with ``key`` (a registry detector) from now on: remembered, and the model in use
        reloaded with it (the current one keeps recognising until the new one is ready)."""
        if key not in DETECTORS:
            raise ValueError(f"unknown detector {key!r}; choose one of: {', '.join(DETECTORS)}")
        if key == self.detector:
            return
        self.detector = key
        self._remember(key, "detector")
        model = self.current or self.loader.model
        if model is not None:
            self.load(model, self._weights.get(model))

    def _threshold_for(self, model: str) -> float | None:
        return self.options.threshold if model == self.options.model else None

    def _on_ready(self, recognizer) -> None:
        if self._closed:
            return
        if self._bar_loader is self.loader and self.bar.state in ("progress", "failed"):
            self.bar.hide()
        self.current = recognizer.model
        self.ready.emit(recognizer)

    # ------------------------------------------------------------ VGG-Face in the background
    def offer_vgg_face(self) -> None:
        """The bar: "VGG-Face (580 MB) is not downloaded: Download / Choose file... / Keep SFace"."""
        self._bar_loader, self._bar_model = self.upgrade, "vgg-face"
        if vgg_face_missing(self.options.model_dir):
            self.bar.download_button.setText("Download")
            self.bar.offer(f"VGG-Face ({VGG_FACE_SIZE}) is not downloaded: faces are recognised with SFace "
                           f"meanwhile.", "Keep SFace")
        else:
            self.bar.download_button.setText("Use it")
            self.bar.offer("VGG-Face is in the model folder: switch to it?", "Keep SFace")

    def download_vgg_face(self) -> None:
        """Download VGG-Face (or take the model folder's copy), build it, index known_faces for it; then switch."""
        self._prepare_upgrade(None)

    def _prepare_upgrade(self, weights: str | None) -> None:
        self._bar_loader, self._bar_model, self._upgrade_weights = self.upgrade, "vgg-face", weights
        verb = "Downloading" if weights is None and vgg_face_missing(self.options.model_dir) else "Loading"
        self.bar.progress(f"{verb} VGG-Face...", 0, None)
        self.upgrade.start("vgg-face", weights, self.options.model_dir, threshold=self._threshold_for("vgg-face"),
                           min_face_size=self.options.min_face_size, detector=self.detector)

    def _download_build_and_index(self, model, weights, model_dir, *, progress=None, cancel=None, **options):
        """On the loader thread: the model file (downloaded if needed), the recognizer, known_faces indexed."""
        from facecam.embedders import model_file_path  # noqa: PLC0415
        from facecam.gallery import Gallery  # noqa: PLC0415

        if weights is None:  # the model folder's copy, downloaded first when missing
            weights = str(model_file_path(model, None, model_dir, allow_download=True, progress=progress,
                                          cancel=cancel))
        self._weights[model] = weights
        recognizer = self.build(model, weights, model_dir, progress=progress, cancel=cancel, **options)
        try:
            Gallery.for_recognizer(self.known_faces, recognizer).refresh(
                recognizer.embed_photo, progress=lambda done, total, _path: self._indexing.emit(done, total),
                should_stop=cancel.is_set if cancel is not None else None)
        except Exception:  # noqa: BLE001 - the window's gallery service reports it (persistently) after the switch
            pass
        return recognizer

    def _on_indexing(self, done: int, total: int) -> None:
        if not self._closed and self.bar.state == "progress":
            self.bar.progress(f"Indexing known_faces for VGG-Face {done}/{total}...", done, max(total, 1))

    def _on_upgrade_ready(self, recognizer) -> None:
        if self._closed:
            return
        self._remember(self._upgrade_weights or DOWNLOADED)
        self.bar.hide()
        self.current = recognizer.model
        self.ready.emit(recognizer)
        self.message.emit(f"Switched to {title_of(recognizer.model)}.")

    def _remember(self, choice: str, key: str = "vgg-face") -> None:
        try:
            remember_choice(choice, key)
        except OSError as error:
            self.message.emit(f"Could not save the settings: {error}")

    # ------------------------------------------------------------ progress and failures
    def _on_download_progress(self, done, total) -> None:
        loader = self.sender() if isinstance(self.sender(), ModelLoader) else self.loader
        if self._closed or loader.model is None:
            return
        self._bar_loader, self._bar_model = loader, loader.model
        mb = done / 1e6
        text = (f"Downloading {title_of(loader.model)}: {mb:.0f} of {total / 1e6:.0f} MB" if total
                else f"Downloading {title_of(loader.model)}: {mb:.0f} MB")
        self.bar.progress(text, done, total)

    def _on_failed(self, error: BaseException) -> None:
        loader = self.sender() if isinstance(self.sender(), ModelLoader) else self.loader
        if self._closed:
            return
        model = loader.model or self.options.model
        reason = str(error) if isinstance(error, FacecamError) else f"{type(error).__name__}: {error}"
        self._bar_loader, self._bar_model = loader, model
        if loader is self.upgrade:  # the current model goes on; only the switch failed
            self.bar.failed(f"{title_of(model)} is not ready ({reason}).",
                            f"Keep {title_of(self.current)}" if self.current else None)
            return
        self.error = reason
        self.bar.failed(f"The {title_of(model)} model could not be loaded, so faces are not recognised: {reason}",
                        "Use SFace" if model != "sface" else None)
        self.failed.emit(model, reason)

    def _retry(self) -> None:
        if self._bar_loader is self.upgrade:
            self._prepare_upgrade(self._upgrade_weights)
        else:
            self.bar.progress(f"Loading {title_of(self._bar_model)}...", cancel=False)
            self.load(self._bar_model, self.options.weights if self._bar_model == self.options.model else None)

    def _choose_file(self) -> None:
        path = self.choose_file(f"Choose the {title_of(self._bar_model)} weights file")
        if not path:
            return
        if self._bar_loader is self.upgrade:
            self._prepare_upgrade(str(path))
        else:
            self.bar.progress(f"Loading {title_of(self._bar_model)}...", cancel=False)
            self.load(self._bar_model, str(path))

    def _keep(self) -> None:
        """Keep SFace (the offer or a failed switch; remembered), or Use SFace after a failed first load."""
        if self._bar_loader is self.upgrade:
            self.upgrade.abandon()
            self._remember(KEEP_SFACE)
            self.bar.hide()
        else:
            self.bar.progress("Loading SFace...", cancel=False)
            self.load("sface")

    def close(self) -> None:
        """The window closes: a model still loading is left to finish on its daemon thread, unheard."""
        self._closed = True
        self.loader.abandon()
        self.upgrade.abandon()


def detector_menu(control: ModelControl, parent):
    """Tools > Detector, a QMenu: one checkable entry per registry detector (the one in use checked); choosing one
    calls :meth:`ModelControl.use_detector`."""
    from PyQt5.QtWidgets import QAction, QActionGroup, QMenu  # noqa: PLC0415

    menu = QMenu("&Detector", parent)
    group = QActionGroup(menu)
    group.setExclusive(True)
    menu.actions_by_key = {}
    for key, entry in DETECTORS.items():
        action = QAction(entry.title + ("" if key != DEFAULT_DETECTOR else " (default)"), menu, checkable=True)
        action.setChecked(key == control.detector)
        action.setStatusTip(f"Find faces with {entry.title}; remembered for the next start")
        action.triggered.connect(lambda _checked=False, key=key: control.use_detector(key))
        group.addAction(action)
        menu.addAction(action)
        menu.actions_by_key[key] = action
    return menu
