"""MTCNN without TensorFlow: mtcnn 1.0.0's three networks on OpenVINO, its stage logic in numpy.

Importing TensorFlow and building mtcnn's Keras networks costs 4 s on an idle machine (20 s on a
loaded one) before the first face is found: most of a one-photo ``facecam identify``. Here the
networks are converted once (``openvino.convert_model`` from the same traced graphs
:class:`facecam.detector.MtcnnDetector` runs on TensorFlow), saved as OpenVINO IR (XML + weights,
no pickle, owner-only) named by the mtcnn weights' fingerprint, and later runs read the IR and
never import TensorFlow or mtcnn.

The stages are mtcnn 1.0.0's (MIT licence, Iván de Paz Centeno), ported to numpy line for line:
the image pyramid (TensorFlow's area resize), the proposals, NMS, the 24- and 48-pixel crops
(TensorFlow's ``crop_and_resize``), the refinements and landmarks. The faces are the TensorFlow
detector's to a thousandth of a pixel (tests/test_mtcnn_openvino.py on real photos).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from facecam.embedders.vgg_openvino import save_ir, send_no_telemetry

NETWORKS = ("pnet", "rnet", "onet")
PNET_SMALLEST = 11   # PNet's smallest input side (3x3 conv, 2x2 pool, two 3x3 convs: one output cell)


def openvino_available() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec("openvino") is not None


def weights_fingerprint(paths: Mapping[str, Path]) -> str:
    """12 hex digits of the sha256 of the three mtcnn weight files (names the cached IR)."""
    digest = hashlib.sha256()
    for key in NETWORKS:
        digest.update(Path(paths[key]).read_bytes())
    return digest.hexdigest()[:12]


def ir_paths(cache_dir: Path, fingerprint: str) -> dict[str, Path]:
    return {key: Path(cache_dir) / f"mtcnn-{key}-{fingerprint}.xml" for key in NETWORKS}


def cached_models(cache_dir: Path, fingerprint: str) -> dict | None:
    """The three converted networks read from the cache, or None when one is missing or unreadable."""
    import openvino  # noqa: PLC0415

    paths = ir_paths(cache_dir, fingerprint)
    if not all(p.is_file() and p.with_suffix(".bin").is_file() for p in paths.values()):
        return None
    try:
        return {key: openvino.Core().read_model(path) for key, path in paths.items()}
    except RuntimeError:
        return None                                   # damaged: converted again by the caller


def convert_and_cache(traced: Mapping[str, Callable], cache_dir: Path, fingerprint: str) -> dict:
    """Convert the three traced TensorFlow graphs (``tf.function``s with an input signature) and save them
    in ``cache_dir`` (a folder that cannot be written is only a lost speed-up: the next run converts again)."""
    import openvino  # noqa: PLC0415

    send_no_telemetry()
    converted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for key in NETWORKS:
            converted[key] = openvino.convert_model(traced[key].get_concrete_function())
    for key, path in ir_paths(cache_dir, fingerprint).items():
        try:
            save_ir(converted[key], path)
        except OSError:
            break
    # the networks as every later run reads them (the saved files), when they could be saved
    return cached_models(cache_dir, fingerprint) or converted


class Networks:
    """The three compiled networks; ``run(key, batch)`` gives their outputs in mtcnn's order (box offsets,
    [landmarks,] face scores), told apart by their last dimension (4, 10, 2)."""

    ORDER = {"pnet": (4, 2), "rnet": (4, 2), "onet": (4, 10, 2)}

    def __init__(self, models: Mapping[str, object]):
        import openvino  # noqa: PLC0415

        core = openvino.Core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        self._requests = {key: core.compile_model(models[key], "CPU", config).create_infer_request()
                          for key in NETWORKS}
        self._lock = threading.Lock()

    def run(self, key: str, batch: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            result = self._requests[key].infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
            outputs = [np.array(value) for value in result.values()]
        by_width = {out.shape[-1]: out for out in outputs}
        return [by_width[width] for width in self.ORDER[key]]


# ----------------------------------------------------------------------------------- image operations

def resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """TensorFlow's ``tf.image.resize(..., method="area")`` (no antialias, corners not aligned) of one
    ``(H, W, C)`` image: each output pixel the average of the input area it covers, float32. OpenCV's
    ``INTER_AREA`` computes the same pixel-area average for a reduction (equal to 1e-4 grey levels on the
    MTCNN pyramid of a 640x480 frame) in about 1 ms a scale, where two dense matrix products took 19."""
    import cv2  # noqa: PLC0415 - the video side has loaded it already

    return cv2.resize(np.asarray(image, np.float32), (int(width), int(height)), interpolation=cv2.INTER_AREA)


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """TensorFlow's ``tf.image.crop_and_resize`` (bilinear, 0 outside the image) of one ``(H, W, C)`` image:
    ``boxes`` are ``(n, 4)`` normalised y1, x1, y2, x2; returns ``(n, size, size, C)`` float32, computed in
    float32 as TensorFlow's CPU kernel does."""
    height, width = image.shape[:2]
    boxes = boxes.astype(np.float32)
    steps = np.arange(size, dtype=np.float32)
    y1, x1, y2, x2 = (boxes[:, i:i + 1] for i in range(4))
    in_y = y1 * np.float32(height - 1) + steps * ((y2 - y1) * np.float32(height - 1) / np.float32(size - 1))
    in_x = x1 * np.float32(width - 1) + steps * ((x2 - x1) * np.float32(width - 1) / np.float32(size - 1))
    valid_y = (in_y >= 0) & (in_y <= height - 1)
    valid_x = (in_x >= 0) & (in_x <= width - 1)
    top, left = np.floor(in_y), np.floor(in_x)
    y_lerp = (in_y - top)[:, :, None, None]
    x_lerp = (in_x - left)[:, None, :, None]
    top_i = np.clip(top, 0, height - 1).astype(np.intp)
    bottom_i = np.clip(np.ceil(in_y), 0, height - 1).astype(np.intp)
    left_i = np.clip(left, 0, width - 1).astype(np.intp)
    right_i = np.clip(np.ceil(in_x), 0, width - 1).astype(np.intp)
    pixels = image.astype(np.float32)

    def at(rows, cols):
        return pixels[rows[:, :, None], cols[:, None, :]]

    upper = at(top_i, left_i) + (at(top_i, right_i) - at(top_i, left_i)) * x_lerp
    lower = at(bottom_i, left_i) + (at(bottom_i, right_i) - at(bottom_i, left_i)) * x_lerp
    crops = upper + (lower - upper) * y_lerp
    crops[~(valid_y[:, :, None] & valid_x[:, None, :])] = 0.0
    return crops


# ----------------------------------------------------------------------------------- mtcnn 1.0.0's stages

def detect_rows(rgb_image: np.ndarray, networks: Networks, min_face_size: int = 20,
                threshold_onet: float = 0.8) -> np.ndarray:
    """``MTCNN.detect_faces(image, output_type="numpy", box_format="xyxy", fit_to_image=True, min_face_size=...,
    threshold_onet=...)`` for one RGB image: ``(n, 16)`` rows of image id, x1, y1, x2, y2, score, the five
    landmark x's and the five y's (mtcnn's defaults for every other setting)."""
    height, width = rgb_image.shape[:2]
    normalized = (rgb_image - 127.5) / 128
    boxes = _pnet_stage(normalized, networks, min_face_size)
    if len(boxes):
        boxes = _rnet_stage(normalized, networks, boxes)
    if len(boxes):
        boxes = _onet_stage(normalized, networks, boxes, threshold_onet)
    if not len(boxes):
        return np.empty((0, 16))
    boxes = boxes.copy()
    boxes[:, [1, 3]] = np.minimum(np.maximum(boxes[:, [1, 3]], 0), width - 1)
    boxes[:, [2, 4]] = np.minimum(np.maximum(boxes[:, [2, 4]], 0), height - 1)
    return boxes


def _scale_pyramid(width: int, height: int, min_face_size: int, scale_factor: float = 0.709,
                   min_size: int = 12) -> np.ndarray:
    count = round(-((np.log(min(width, height) / min_size) / np.log(scale_factor)) + 1))
    return min_size / min_face_size * scale_factor ** np.arange(count)


def _pnet_stage(normalized: np.ndarray, networks: Networks, min_face_size: int) -> np.ndarray:
    height, width = normalized.shape[:2]
    scales = _scale_pyramid(width, height, min_face_size)
    shape = np.asarray([height, width])
    per_scale = []
    for scale in scales:
        new_height, new_width = (shape * scale).astype(np.int32)
        if min(new_height, new_width) < PNET_SMALLEST:
            return np.empty((0, 6))        # TensorFlow fails on such a level, and mtcnn then finds no face
        level = resize_area(normalized, int(new_height), int(new_width))
        reg, score = networks.run("pnet", level[None])
        found = _proposals(reg, score, 0.6)
        found[:, 1:5] = found[:, 1:5] / scale
        per_scale.append(_nms(found, 0.5, "union", initial_sort=False))
    boxes = np.concatenate(per_scale, axis=0) if per_scale else np.empty((0, 6))
    return _to_square(_nms(boxes, 0.7, "union"))


def _rnet_stage(normalized: np.ndarray, networks: Networks, boxes: np.ndarray) -> np.ndarray:
    offsets, scores = networks.run("rnet", _patches(normalized, boxes, 24))
    boxes = boxes.copy()
    boxes[:, -1] = scores[:, -1]
    boxes = _adjusted(boxes, offsets)
    boxes = boxes[np.where(boxes[:, -1] > 0.7)[0]]
    return _to_square(_nms(boxes, 0.7, "union"))


def _onet_stage(normalized: np.ndarray, networks: Networks, boxes: np.ndarray, threshold: float) -> np.ndarray:
    offsets, landmarks, scores = networks.run("onet", _patches(normalized, boxes, 48))
    landmarks = landmarks.copy()
    w = boxes[:, 3:4] - boxes[:, 1:2] + 1
    h = boxes[:, 4:5] - boxes[:, 2:3] + 1
    landmarks[:, 0:5] = w * landmarks[:, 0:5] + boxes[:, 1:2] - 1
    landmarks[:, 5:10] = h * landmarks[:, 5:10] + boxes[:, 2:3] - 1
    boxes = boxes.copy()
    boxes[:, -1] = scores[:, -1]
    boxes = np.concatenate([_adjusted(boxes, offsets), landmarks], axis=-1)
    boxes = boxes[np.where(boxes[:, 5] > threshold)[0]]
    return _nms(boxes, 0.7, "min")


def _patches(normalized: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    height, width = normalized.shape[:2]
    coords = boxes[:, [2, 1, 4, 3]] / np.asarray([[height, width, height, width]])
    return crop_and_resize(normalized, coords, size)


def _proposals(reg: np.ndarray, score: np.ndarray, threshold: float, stride: int = 2, cell: int = 12) -> np.ndarray:
    confidence = score[:, :, :, 1]
    index = np.stack(np.where(confidence > threshold))            # batch, y, x
    reg_x1, reg_y1, reg_x2, reg_y2 = np.transpose(reg[index[0], index[1], index[2]], (1, 0))
    up_left = index * np.asarray([[1], [stride], [stride]]) + np.asarray([[0], [1], [1]])
    bottom_right = index * np.asarray([[1], [stride], [stride]]) + np.asarray([[0], [cell], [cell]])
    reg_w = bottom_right[2] - up_left[2]
    reg_h = bottom_right[1] - up_left[1]
    found = np.stack([index[0], up_left[2] + reg_x1 * reg_w, up_left[1] + reg_y1 * reg_h,
                      bottom_right[2] + reg_x2 * reg_w, bottom_right[1] + reg_y2 * reg_h,
                      confidence[index[0], index[1], index[2]]], axis=0).T
    return found[np.argsort(found[:, -1])[::-1]]


def _nms(boxes: np.ndarray, threshold: float, method: str, initial_sort: bool = True) -> np.ndarray:
    """mtcnn's ``smart_nms_from_bboxes`` for one image: a box goes when one before it overlaps it more than
    ``threshold`` (IoU, or the overlap over the smaller area for ``"min"``)."""
    if initial_sort:
        boxes = boxes[np.argsort(boxes[:, 5])[::-1]]
    if not len(boxes):
        return boxes
    corners = boxes[:, 1:5]
    area = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    a, b = corners[None, :, :], corners[:, None, :]
    inter = (np.maximum(0, np.minimum(a[:, :, 2], b[:, :, 2]) - np.maximum(a[:, :, 0], b[:, :, 0]))
             * np.maximum(0, np.minimum(a[:, :, 3], b[:, :, 3]) - np.maximum(a[:, :, 1], b[:, :, 1])))
    if method == "union":
        overlap = inter / (area[:, None] + area[None, :] - inter)
    else:
        overlap = inter / np.minimum(area[:, None], area[None, :])
    earlier = np.triu(np.ones((len(boxes), len(boxes))), k=1)
    keep = np.where(((overlap > threshold).astype(int) * earlier).sum(axis=0) == 0)[0]
    return boxes[keep]


def _to_square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    h = boxes[:, 4] - boxes[:, 2]
    w = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 1] = boxes[:, 1] + w * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 2] + h * 0.5 - side * 0.5
    boxes[:, 3:5] = boxes[:, 1:3] + np.tile(side, (2, 1)).T
    return boxes


def _adjusted(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 3] - boxes[:, 1] + 1
    h = boxes[:, 4] - boxes[:, 2] + 1
    boxes[:, 1:5] += offsets * np.stack([w, h, w, h], axis=-1)
    return boxes
