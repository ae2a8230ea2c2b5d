"""The one table of what facecam can run: embedding models and face detectors.

Adding a model or a detector means adding one entry here: its key (what
``--model``/``--detector`` take), its title (what the window shows), its file(s)
(download address, size, sha256, whether a copy ships in the package), for a
model its default threshold and where that number comes from, and the factory
that builds it.

Factories are named as ``"module:callable"`` and imported only when something is
built, so reading this table loads no model library (TensorFlow, mtcnn, OpenCV's
networks), and the modules that only need the table (settings, the command
line's parser) never depend on the model code. An embedder factory is called as
``factory(path, **options)`` (``options``: per-model settings such as a runtime
choice); a detector factory as ``factory(options)`` or, when the detector has a
file, ``factory(path, options)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from facecam.errors import ModelError
from facecam.models import ModelFile

_OPENCV_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models/"


def _callable(factory: str) -> Callable[..., Any]:
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)


def _check_factory(factory: str) -> None:
    module, sep, name = factory.partition(":")
    if not (sep and module.startswith("facecam.") and name.isidentifier()):
        raise ValueError(f"factory: expected 'facecam.module:callable', got {factory!r}")


@dataclass(frozen=True)
class EmbedderEntry:
    """One embedding model. ``threshold`` is the default cosine distance above which a face is Unknown."""

    key: str
    title: str
    file: ModelFile
    threshold: float
    threshold_source: str
    factory: str                   # "module:callable", called as factory(path, **options)
    weights_env: str | None = None  # environment variable that may name a local copy of the file
    download_size: str = ""         # the download's size as the user is told it ("580 MB"); "": built in

    def __post_init__(self) -> None:
        _check_factory(self.factory)
        if not 0.0 < self.threshold < 2.0:
            raise ValueError(f"threshold: expected a cosine distance between 0 and 2, got {self.threshold}")
        if self.file.key != self.key:
            raise ValueError(f"file: expected the file of {self.key!r}, got {self.file.key!r}")

    def build(self, path: Path, **options):
        """The embedder, built once from the model file at ``path`` (slow: loads the network)."""
        return _callable(self.factory)(path, **options)


@dataclass(frozen=True)
class DetectorEntry:
    """One face detector. ``file`` is None when the detector's weights come with a package (MTCNN)."""

    key: str
    title: str
    factory: str                  # "module:callable", called as factory(options) or factory(path, options)
    file: ModelFile | None = None
    uses_tensorflow: bool = False

    def __post_init__(self) -> None:
        _check_factory(self.factory)
        if self.file is not None and self.file.key != self.key:
            raise ValueError(f"file: expected the file of {self.key!r}, got {self.file.key!r}")

    def build(self, options, path: Path | None = None):
        """The detector, built once (``path``: its model file, when it has one)."""
        factory = _callable(self.factory)
        return factory(options) if self.file is None else factory(path, options)


MODELS: Mapping[str, EmbedderEntry] = MappingProxyType({entry.key: entry for entry in (
    EmbedderEntry(
        key="vgg-face", title="VGG-Face",
        file=ModelFile("vgg-face", "vgg_face_weights.h5",
                       "https://github.com/serengil/deepface_models/releases/download/v1.0/vgg_face_weights.h5"),
        # no sha256 or size published: the embedder validates the HDF5 layout when it loads the weights
        threshold=0.68, threshold_source="deepface's value for L2-normalised fc7 embeddings",
        factory="facecam.embedders.vggface:VggFaceEmbedder", weights_env="FACECAM_VGGFACE_WEIGHTS",
        download_size="580 MB"),
    EmbedderEntry(
        key="sface", title="SFace",
        file=ModelFile("sface", "face_recognition_sface_2021dec.onnx",
                       _OPENCV_ZOO + "face_recognition_sface/face_recognition_sface_2021dec.onnx",
                       sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
                       size=38696353, builtin=True),
        # calibrated for facecam's own alignment (bench/calibrate_thresholds.py, BENCHMARKS.md); OpenCV's
        # published cosine similarity 0.363 (distance 0.637) named 1.5-7.5% of strangers here (BENCHMARKS.md)
        threshold=0.575, threshold_source="calibrated on lfw40 for facecam's alignment",
        factory="facecam.embedders.sface:SFaceEmbedder"),
)})

DETECTORS: Mapping[str, DetectorEntry] = MappingProxyType({entry.key: entry for entry in (
    DetectorEntry(key="mtcnn", title="MTCNN", factory="facecam.detector:MtcnnDetector", uses_tensorflow=True),
    DetectorEntry(
        key="yunet", title="YuNet", factory="facecam.detector:YuNetDetector",
        file=ModelFile("yunet", "face_detection_yunet_2023mar.onnx",
                       _OPENCV_ZOO + "face_detection_yunet/face_detection_yunet_2023mar.onnx",
                       sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
                       size=232589, builtin=True)),
)})

DEFAULT_MODEL = "vgg-face"
DEFAULT_DETECTOR = "mtcnn"   # the product's promise; YuNet is the light option
FIRST_RUN_MODEL = "sface"    # built in: what runs while the default model's weights are not downloaded
MODEL_TITLES: Mapping[str, str] = MappingProxyType({key: entry.title for key, entry in MODELS.items()})


def _lookup(table: Mapping, key: str, what: str):
    try:
        return table[key]
    except (KeyError, TypeError):
        raise ModelError(f"unknown {what} {key!r}; choose one of: {', '.join(table)}") from None


def model(key: str) -> EmbedderEntry:
    """The embedding model called ``key`` (ModelError naming the choices if there is none)."""
    return _lookup(MODELS, key, "model")


def detector(key: str) -> DetectorEntry:
    """The face detector called ``key`` (ModelError naming the choices if there is none)."""
    return _lookup(DETECTORS, key, "detector")


def model_files() -> list[ModelFile]:
    """Every model file facecam knows, models first (what ``facecam models`` lists)."""
    return [entry.file for entry in MODELS.values()] + [d.file for d in DETECTORS.values() if d.file is not None]


def model_file(key: str) -> ModelFile:
    """The file registered under ``key`` (a model's or a detector's)."""
    return _lookup({spec.key: spec for spec in model_files()}, key, "model file")


def model_file_missing(key: str, model_dir=None) -> bool:
    """True when model ``key``'s file is neither built in, nor named by its environment variable, nor in the
    model folder (``model_dir``, else ``$FACECAM_MODEL_DIR``, else the user cache): using it means a download."""
    import os  # noqa: PLC0415

    from facecam import models  # noqa: PLC0415

    entry = model(key)
    if entry.file.builtin or (entry.weights_env and os.environ.get(entry.weights_env, "").strip()):
        return False
    return not (models.model_dir(model_dir) / entry.file.filename).exists()


def first_run_model(weights=None, model_dir=None) -> str:
    """The model to run when the user named none: :data:`DEFAULT_MODEL`, or :data:`FIRST_RUN_MODEL` (built in,
    nothing to download) while the default's weights are not here and no ``weights`` file was given.
    The CLI and the window both decide with this."""
    if weights is None and model_file_missing(DEFAULT_MODEL, model_dir):
        return FIRST_RUN_MODEL
    return DEFAULT_MODEL
