"""SFace (OpenCV Zoo, Apache-2.0): a 128-d face embedding at about 9 ms per face on a laptop CPU.

The network is the official ``face_recognition_sface_2021dec.onnx`` that
OpenCV's ``FaceRecognizerSF`` runs. facecam runs the same ONNX file through
``cv2.dnn`` directly so that several faces go through in one batch; the
preprocessing is FaceRecognizerSF's (112x112 ArcFace-aligned crop, RGB, raw
0-255 values, no mean, no scaling), and the tests check that both give the same
embedding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facecam.align import AlignSpec
from facecam.embedders.base import check_faces_batch, l2_normalise
from facecam.errors import ModelError


class SFaceEmbedder:
    """OpenCV Zoo SFace. Built once from the model file path; ``embed`` is thread-safe per instance only if serialised."""

    name = "sface"
    dim = 128
    align_spec = AlignSpec.from_arcface(112)
    version = "sface-2021dec/arcface5-112/v1"

    def __init__(self, model_path: str | Path, threads: int | None = None):
        import cv2  # noqa: PLC0415

        self.model_path = Path(model_path)
        try:
            self._net = cv2.dnn.readNetFromONNX(str(self.model_path))
        except cv2.error as error:
            first = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
            raise ModelError(f"cannot load SFace model {self.model_path}: {first}; delete it (the built-in copy is "
                             "used then) and run 'facecam models' to check") from None
        if threads:
            cv2.setNumThreads(int(threads))

    def embed(self, rgb_faces: np.ndarray) -> np.ndarray:
        import cv2  # noqa: PLC0415

        rgb_faces = check_faces_batch(rgb_faces, self.align_spec.size)
        if len(rgb_faces) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        blob = cv2.dnn.blobFromImages(list(rgb_faces), 1.0, (112, 112), (0, 0, 0), swapRB=False, crop=False)
        self._net.setInput(blob)
        features = np.asarray(self._net.forward(), dtype=np.float32).reshape(len(rgb_faces), -1)
        return l2_normalise(features)
