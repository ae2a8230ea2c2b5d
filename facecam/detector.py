"""Face detection: the Detector interface, and MTCNN and YuNet behind it.

``detect(rgb_image) -> Faces``: boxes clipped to the image, five landmarks
named from the person's own point of view (see :mod:`facecam.types`), scores.
``build_detector(key, options)`` builds the one :mod:`facecam.registry` names.

YuNet (OpenCV's ``FaceDetectorYN``, a 232 KB ONNX file built into the package)
is the light one: no TensorFlow, about 19 ms per 640x480 frame.

MTCNN (the ``mtcnn`` package's networks and weights) runs on OpenVINO where it is
installed (:mod:`facecam.mtcnn_openvino`: converted once and cached, then no
TensorFlow at all; the same faces to a thousandth of a pixel), else on TensorFlow
as traced graphs (see :func:`_compile_stages`: four times faster than the
package's own eager calls, same results). Its time grows with the number of pixels: large
photos are detected on a copy whose longest side is ``max_side`` and the
results scaled back. ``min_face_size`` is the smallest face (in pixels of the
original image) it looks for; raising it makes detection faster.

Security: mtcnn 1.0 loads its weights with joblib (pickle) and looks for
``pnet.lz4``/``rnet.lz4``/``onet.lz4`` in the *current directory* before its
own package. facecam always passes the absolute path of the package's own
files, so a file planted in whatever folder facecam starts from is never read.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from facecam import models, registry
from facecam.errors import ModelError
from facecam.tensorflow_setup import preload_tensorflow_libraries, quiet_tensorflow
from facecam.tracker import iou_matrix
from facecam.types import Faces

__all__ = ["Detector", "DetectorOptions", "MtcnnDetector", "YuNetDetector", "build_detector",
           "preload_tensorflow_libraries", "quiet_tensorflow"]


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        """Faces in an ``(H, W, 3) uint8`` RGB image, in no particular order (``min_face_size``
        overrides the detector's own for this call)."""
        ...


@dataclass(frozen=True)
class DetectorOptions:
    """Detector settings. ``min_confidence`` filters the detector's score (MTCNN's ONet, YuNet's); None
    means the detector's own default (their scores differ: see each ``DEFAULT_CONFIDENCE``). ``max_side``
    bounds the work per image (larger images are detected on a smaller copy)."""

    min_face_size: int = 20
    min_confidence: float | None = None
    max_side: int = 1280

    def __post_init__(self) -> None:
        if self.min_face_size < 12:
            raise ValueError(f"min_face_size: expected 12 or more pixels, got {self.min_face_size}")
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence: expected a value in [0, 1], got {self.min_confidence}")
        if self.max_side < 64:
            raise ValueError(f"max_side: expected 64 or more pixels, got {self.max_side}")

    def with_confidence(self, default: float) -> "DetectorOptions":
        """These options with ``min_confidence`` filled in with ``default`` when it is None."""
        return self if self.min_confidence is not None else dataclasses.replace(self, min_confidence=default)


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


MTCNN_FACE = 20  # the face size (pixels) mtcnn's pyramid is built for


MTCNN_RUNTIMES = ("auto", "openvino", "tensorflow")


class MtcnnDetector:
    """MTCNN face detector. Built once (the three networks), then ``detect`` per image.

    ``runtime``: ``openvino`` (the networks converted once from mtcnn's Keras models and cached as
    OpenVINO IR in ``cache_dir``, default the user cache's ``facecam/openvino``; later builds import
    neither TensorFlow nor mtcnn), ``tensorflow`` (mtcnn's own code, traced graphs: the reference), or
    ``auto`` (the default: ``openvino`` when it is installed). ``converted`` says whether this build
    had to convert (a first run: TensorFlow imported once).
    """

    name = "mtcnn"
    DEFAULT_CONFIDENCE = 0.9   # ONet's score

    def __init__(self, options: DetectorOptions | None = None, *, runtime: str = "auto",
                 cache_dir: str | Path | None = None):
        from facecam import mtcnn_openvino  # noqa: PLC0415

        if runtime not in MTCNN_RUNTIMES:
            raise ValueError(f"runtime: expected one of {', '.join(MTCNN_RUNTIMES)}, got {runtime!r}")
        self.options = (options or DetectorOptions()).with_confidence(self.DEFAULT_CONFIDENCE)
        paths = mtcnn_weight_paths()
        if runtime == "auto":
            runtime = "openvino" if mtcnn_openvino.openvino_available() else "tensorflow"
        self.runtime = runtime
        self.converted = False
        self._mtcnn = self._networks = None
        if runtime == "tensorflow":
            self._mtcnn = _tensorflow_mtcnn(paths)
            return
        from facecam.embedders.vgg_openvino import default_cache_dir  # noqa: PLC0415

        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        fingerprint = mtcnn_openvino.weights_fingerprint(paths)
        networks = mtcnn_openvino.cached_models(folder, fingerprint)
        if networks is None:
            self.converted = True
            traced = {key: stage._model  # noqa: SLF001 - the traced graphs _compile_stages put there
                      for key, stage in zip(mtcnn_openvino.NETWORKS, _tensorflow_mtcnn(paths).stages)}
            networks = mtcnn_openvino.convert_and_cache(traced, folder, fingerprint)
        self._networks = mtcnn_openvino.Networks(networks)

    def _rows(self, small: np.ndarray, threshold_onet: float) -> np.ndarray:
        """mtcnn's ``(n, 16)`` xyxy rows for an image already sized for its 20-pixel pyramid."""
        if self._networks is not None:
            from facecam.mtcnn_openvino import detect_rows  # noqa: PLC0415

            return detect_rows(small, self._networks, MTCNN_FACE, threshold_onet)
        rows = self._mtcnn.detect_faces(small, output_type="numpy", box_format="xyxy", fit_to_image=True,
                                        min_face_size=MTCNN_FACE, threshold_onet=threshold_onet)
        return np.asarray(rows, dtype=np.float64)

    def detect(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        rgb_image, min_face = _checked_request(rgb_image, min_face_size, self.options)
        height, width = rgb_image.shape[:2]
        # mtcnn 1.0 sizes its image pyramid for 20-pixel faces whatever min_face_size it is given (a larger
        # value shrinks the pyramid below PNet's 12-pixel input and finds nothing), so facecam keeps it at 20
        # and shrinks the image instead: a face of min_face_size pixels becomes a 20-pixel face.
        scale = min(1.0, self.options.max_side / max(height, width), MTCNN_FACE / min_face)
        if min(height, width) * scale < 12:
            return Faces.empty()
        small = rgb_image if scale == 1.0 else _resize(rgb_image, scale)
        rows = self._rows(small, min(0.8, self.options.min_confidence))
        faces = faces_from_mtcnn(rows, 1.0 / scale, (width, height), self.options.min_confidence)
        return _at_least(faces, min_face)


def _tensorflow_mtcnn(paths: dict[str, Path]):
    """mtcnn's own MTCNN (TensorFlow) with facecam's weight paths, its networks traced (slow: imports TensorFlow)."""
    quiet_tensorflow()
    from mtcnn import MTCNN  # noqa: PLC0415
    from mtcnn.stages import StageONet, StagePNet, StageRNet  # noqa: PLC0415

    found = MTCNN(stages=[StagePNet(weights=str(paths["pnet"])), StageRNet(weights=str(paths["rnet"])),
                          StageONet(weights=str(paths["onet"]))])
    _compile_stages(found.stages)
    return found


def _checked_request(rgb_image, min_face_size: int | None, options: DetectorOptions) -> tuple[np.ndarray, int]:
    """The image as an array and the smallest face size for this call, both checked (ValueError)."""
    min_face = int(min_face_size or options.min_face_size)
    if min_face < 12:
        raise ValueError(f"min_face_size: expected 12 or more pixels, got {min_face}")
    rgb_image = np.asarray(rgb_image)
    if rgb_image.ndim != 3 or rgb_image.shape[2] != 3 or rgb_image.dtype != np.uint8:
        raise ValueError(f"rgb_image: expected (H, W, 3) uint8, got {rgb_image.shape} {rgb_image.dtype}")
    return rgb_image, min_face


def _at_least(faces: Faces, min_face: int) -> Faces:
    """The faces whose box's longer side is at least ``min_face`` pixels."""
    keep = np.maximum(faces.boxes[:, 2], faces.boxes[:, 3]) >= min_face
    return faces if keep.all() else faces[keep]


class YuNetDetector:
    """YuNet (OpenCV Zoo, MIT): a 232 KB network run by OpenCV's ``FaceDetectorYN``; no TensorFlow.

    About 19 ms per 640x480 frame on this machine's 2 cores. Built once from the model
    file (the copy built into the package unless the model folder has one).
    """

    name = "yunet"
    # YuNet's scores run lower than MTCNN's: on the LFW test photos every whole face scores 0.89-0.95
    # and the false or cut-off ones mostly below 0.85 (0.9, MTCNN's value, loses 3 faces in 100).
    DEFAULT_CONFIDENCE = 0.85
    NMS_THRESHOLD = 0.3   # OpenCV Zoo's demo value
    TOP_K = 5000
    COARSE_SIDE = 160     # the short side of the copy searched for large faces
    BIG_FACE = 200        # faces the coarse search adds must be at least this large (detection pixels)

    def __init__(self, model_path: str | Path, options: DetectorOptions | None = None):
        import cv2  # noqa: PLC0415

        self.options = (options or DetectorOptions()).with_confidence(self.DEFAULT_CONFIDENCE)
        self.model_path = Path(model_path)
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5 warns of its graph engine
        try:
            self._net = cv2.FaceDetectorYN.create(str(self.model_path), "", (320, 320),
                                                  self.options.min_confidence, self.NMS_THRESHOLD, self.TOP_K)
        except cv2.error as error:
            first = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
            raise ModelError(f"cannot load the YuNet model {self.model_path}: {first}; delete it and run "
                             "'facecam models' to see which copy is used") from None
        finally:
            cv2.utils.logging.setLogLevel(level)

    def detect(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        rgb_image, min_face = _checked_request(rgb_image, min_face_size, self.options)
        height, width = rgb_image.shape[:2]
        scale = min(1.0, self.options.max_side / max(height, width))
        faces = self._detect_at(rgb_image, scale)
        # YuNet finds faces of about 10 to 300 pixels: a face filling more of the picture (a 1200-pixel
        # portrait, someone close to the camera) is looked for again on a small copy (about 1/9 of the work).
        coarse = self.COARSE_SIDE / min(height, width)
        if coarse < scale / 2:
            big = self._detect_at(rgb_image, coarse)
            big = big[np.maximum(big.boxes[:, 2], big.boxes[:, 3]) * scale >= self.BIG_FACE]
            if len(big) and len(faces):
                big = big[iou_matrix(big.boxes, faces.boxes).max(axis=1) < 0.3]
            if len(big):
                faces = Faces(np.concatenate([faces.boxes, big.boxes]),
                              np.concatenate([faces.landmarks, big.landmarks]),
                              np.concatenate([faces.scores, big.scores]))
        return _at_least(faces, min_face)

    def _detect_at(self, rgb_image: np.ndarray, scale: float) -> Faces:
        import cv2  # noqa: PLC0415

        height, width = rgb_image.shape[:2]
        small = rgb_image if scale == 1.0 else _resize(rgb_image, scale)
        # YuNet was trained on OpenCV's BGR images: it gets them in that order (a copy for this call only).
        bgr_small = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self._net.setInputSize((bgr_small.shape[1], bgr_small.shape[0]))
        _, rows = self._net.detect(bgr_small)
        rows = np.zeros((0, 15)) if rows is None else np.asarray(rows, dtype=np.float64)
        return faces_from_yunet(rows, 1.0 / scale, (width, height), self.options.min_confidence)


def faces_from_yunet(rows: np.ndarray, scale: float, image_size: tuple[int, int], min_confidence: float) -> Faces:
    """Convert ``FaceDetectorYN``'s ``(n, 15)`` rows to :class:`Faces` in original-image pixels.

    Columns: x, y, w, h, then x, y of the right eye, left eye, nose tip, right and left
    mouth corners (the person's own right and left: the first eye is on the viewer's
    left, as in facecam's order), then the score. Boxes are clipped to the image.
    """
    rows = rows.reshape(-1, 15)
    rows = rows[rows[:, 14] >= min_confidence]
    width, height = image_size
    x1 = np.clip(rows[:, 0] * scale, 0, width)
    y1 = np.clip(rows[:, 1] * scale, 0, height)
    x2 = np.clip((rows[:, 0] + rows[:, 2]) * scale, 0, width)
    y2 = np.clip((rows[:, 1] + rows[:, 3]) * scale, 0, height)
    keep = (x2 - x1 >= 1) & (y2 - y1 >= 1)
    if not keep.any():
        return Faces.empty()
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)[keep]
    landmarks = (rows[:, 4:14].reshape(-1, 5, 2) * scale)[keep]
    return Faces(boxes, landmarks, rows[keep, 14])


def build_detector(key: str = "mtcnn", options: DetectorOptions | None = None, model_dir=None, *,
                   allow_download: bool = True) -> Detector:
    """The detector called ``key`` in :mod:`facecam.registry`, built once (its file found as the
    embedders' are: the model folder, else the built-in copy, else a download)."""
    entry = registry.detector(key)
    options = options or DetectorOptions()
    if entry.file is None:
        return entry.build(options)
    return entry.build(options, models.ensure_model_file(entry.file, model_dir, allow_download=allow_download))


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
