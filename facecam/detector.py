"""Face detection: the Detector interface and MTCNN behind it.

``detect(rgb_image) -> Faces``: boxes clipped to the image, five landmarks
named from the person's own point of view (see :mod:`facecam.types`), scores.

MTCNN (the ``mtcnn`` package, TensorFlow) runs its three networks as traced
graphs here (see :func:`_compile_stages`: four times faster than the package's
own eager calls, same results). Its time grows with the number of pixels: large
photos are detected on a copy whose longest side is ``max_side`` and the
results scaled back. ``min_face_size`` is the smallest face (in pixels of the
original image) it looks for; raising it makes detection faster.

Security: mtcnn 1.0 loads its weights with joblib (pickle) and looks for
``pnet.lz4``/``rnet.lz4``/``onet.lz4`` in the *current directory* before its
own package. facecam always passes the absolute path of the package's own
files, so a file planted in whatever folder facecam starts from is never read.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from facecam.errors import ModelError
from facecam.types import Faces


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        """Faces in an ``(H, W, 3) uint8`` RGB image, in no particular order (``min_face_size``
        overrides the detector's own for this call)."""
        ...


@dataclass(frozen=True)
class DetectorOptions:
    """MTCNN settings. ``min_confidence`` filters ONet's score; ``max_side`` bounds the work per image."""

    min_face_size: int = 20
    min_confidence: float = 0.9
    max_side: int = 1280

    def __post_init__(self) -> None:
        if self.min_face_size < 12:
            raise ValueError(f"min_face_size: expected 12 or more pixels, got {self.min_face_size}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence: expected a value in [0, 1], got {self.min_confidence}")
        if self.max_side < 64:
            raise ValueError(f"max_side: expected 64 or more pixels, got {self.max_side}")


def mtcnn_weight_paths() -> dict[str, Path]:
    """Absolute paths of the mtcnn package's own weight files (never the working directory's)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the mtcnn package is not installed; run: pip install -r requirements.txt")
    folder = Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights"
    paths = {name: (folder / f"{name}.lz4").resolve() for name in ("pnet", "rnet", "onet")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ModelError(f"mtcnn weight files are missing ({', '.join(missing)}); reinstall: pip install --force-reinstall mtcnn==1.0.0")
    return paths


def preload_tensorflow_libraries() -> None:
    """Load TensorFlow's two large native libraries now, without importing TensorFlow.

    Loading them (about 0.35 s here) happens inside one C call that no other Python
    thread can interrupt. The window calls this before its event loop starts, so that
    the model loading in the background later finds them loaded and never freezes the
    picture. Does nothing where the files are not found (another platform or layout).
    """
    import ctypes  # noqa: PLC0415

    spec = importlib.util.find_spec("tensorflow")
    if spec is None or spec.origin is None:
        return
    folder = Path(spec.origin).parent
    for name in ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2"):
        if (folder / name).is_file():
            try:
                ctypes.CDLL(str(folder / name))
            except OSError:
                return


def quiet_tensorflow():
    """Import TensorFlow with its start-up chatter turned down (only when a model is built)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: PLC0415 - lazy on purpose

    tf.get_logger().setLevel("ERROR")
    return tf


MTCNN_FACE = 20  # the face size (pixels) mtcnn's pyramid is built for


class MtcnnDetector:
    """MTCNN face detector. Built once (loads TensorFlow and the three networks), then ``detect`` per image."""

    name = "mtcnn"

    def __init__(self, options: DetectorOptions | None = None):
        self.options = options or DetectorOptions()
        paths = mtcnn_weight_paths()
        quiet_tensorflow()
        from mtcnn import MTCNN  # noqa: PLC0415
        from mtcnn.stages import StageONet, StagePNet, StageRNet  # noqa: PLC0415

        self._mtcnn = MTCNN(stages=[StagePNet(weights=str(paths["pnet"])),
                                    StageRNet(weights=str(paths["rnet"])),
                                    StageONet(weights=str(paths["onet"]))])
        _compile_stages(self._mtcnn.stages)

    def detect(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        min_face = int(min_face_size or self.options.min_face_size)
        if min_face < 12:
            raise ValueError(f"min_face_size: expected 12 or more pixels, got {min_face}")
        rgb_image = np.asarray(rgb_image)
        if rgb_image.ndim != 3 or rgb_image.shape[2] != 3 or rgb_image.dtype != np.uint8:
            raise ValueError(f"rgb_image: expected (H, W, 3) uint8, got {rgb_image.shape} {rgb_image.dtype}")
        height, width = rgb_image.shape[:2]
        # mtcnn 1.0 sizes its image pyramid for 20-pixel faces whatever min_face_size it is given (a larger
        # value shrinks the pyramid below PNet's 12-pixel input and finds nothing), so facecam keeps it at 20
        # and shrinks the image instead: a face of min_face_size pixels becomes a 20-pixel face.
        scale = min(1.0, self.options.max_side / max(height, width), MTCNN_FACE / min_face)
        if min(height, width) * scale < 12:
            return Faces.empty()
        small = rgb_image if scale == 1.0 else _resize(rgb_image, scale)
        rows = self._mtcnn.detect_faces(
            small, output_type="numpy", box_format="xyxy", fit_to_image=True,
            min_face_size=MTCNN_FACE, threshold_onet=min(0.8, self.options.min_confidence))
        faces = faces_from_mtcnn(np.asarray(rows, dtype=np.float64), 1.0 / scale, (width, height),
                                 self.options.min_confidence)
        keep = np.maximum(faces.boxes[:, 2], faces.boxes[:, 3]) >= min_face
        return faces if keep.all() else faces[keep]


# Input shapes of the three networks: PNet runs on every pyramid level (any size), RNet on 24x24
# and ONet on 48x48 crops.
_STAGE_INPUTS = {"pnet": (None, None, None, 3), "rnet": (None, 24, 24, 3), "onet": (None, 48, 48, 3)}


def _compile_stages(stages) -> None:
    """Run each MTCNN network as one traced graph instead of op by op.

    mtcnn calls its Keras models eagerly: on a 640x480 frame about 80% of the time
    goes to Python dispatch of hundreds of small ops, not to the arithmetic. A
    ``tf.function`` with a shape-relaxed input signature is traced once per network
    (never again, whatever the frame or pyramid size) and gives the same numbers
    about four times faster. Each graph is traced here, at build time, so that the
    first frame with a face is not the one that pays for it.
    """
    tf = quiet_tensorflow()
    for stage, key in zip(stages, ("pnet", "rnet", "onet")):
        model = stage._model  # noqa: SLF001 - mtcnn keeps it there; its stages call self._model(x)
        compiled = tf.function(
            lambda batch, model=model: model(batch, training=False),
            input_signature=[tf.TensorSpec(_STAGE_INPUTS[key], tf.float32)],
            reduce_retracing=False,
        )
        warm_shape = [1] + [size or 24 for size in _STAGE_INPUTS[key][1:]]
        compiled(tf.zeros(warm_shape, tf.float32))
        stage._model = compiled  # noqa: SLF001


def _resize(rgb_image: np.ndarray, scale: float) -> np.ndarray:
    import cv2  # noqa: PLC0415

    height, width = rgb_image.shape[:2]
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    return cv2.resize(rgb_image, size, interpolation=cv2.INTER_AREA)


def faces_from_mtcnn(rows: np.ndarray, scale: float, image_size: tuple[int, int], min_confidence: float) -> Faces:
    """Convert mtcnn's ``(n, 16)`` xyxy rows to :class:`Faces` in original-image pixels.

    mtcnn's columns: image id, x1, y1, x2, y2, score, then the five x's and the
    five y's of its "left_eye", "right_eye", nose, "mouth_left", "mouth_right"
    as seen by the viewer. The
    viewer's left eye is the person's right eye, which is what facecam's order
    starts with, so the order is kept; boxes are clipped to the image.
    """
    if rows.size == 0:
        return Faces.empty()
    rows = rows.reshape(-1, 16)
    rows = rows[rows[:, 5] >= min_confidence]
    width, height = image_size
    x1 = np.clip(rows[:, 1] * scale, 0, width)
    y1 = np.clip(rows[:, 2] * scale, 0, height)
    x2 = np.clip(rows[:, 3] * scale, 0, width)
    y2 = np.clip(rows[:, 4] * scale, 0, height)
    keep = (x2 - x1 >= 1) & (y2 - y1 >= 1)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)[keep]
    landmarks = (np.stack([rows[:, 6:11], rows[:, 11:16]], axis=-1) * scale)[keep]
    return Faces(boxes, landmarks, rows[keep, 5])
