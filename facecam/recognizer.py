"""The recognition core shared by the command line, ``watch`` and the window.

``Recognizer(detector, embedder)`` is built once with its models and passed to
whoever needs it. It turns a BGR image (what OpenCV reads) into faces,
embeddings and matches::

    bgr_image -> rgb (once) -> detect -> align (same path for gallery and live)
              -> embed -> match against the gallery

It knows nothing of Qt or of files beyond reading a photo.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from facecam.align import align_faces
from facecam.detector import Detector
from facecam.embedders.base import Embedder
from facecam.gallery import PhotoEmbedding
from facecam.images import bgr_to_rgb, read_image
from facecam.matcher import GalleryMatrix, match_embeddings
from facecam.types import Faces, Recognition


PHOTO_MIN_FACE_SIZE = 20  # gallery photos are always searched down to 20-pixel faces


class Recognizer:
    """Detect, align, embed and match. ``threshold`` and ``match_mode`` may be changed at any time.

    Live frames use the detector's own ``min_face_size`` (the window and ``watch`` raise it
    to 40 for speed); photos for the gallery are always searched with
    :data:`PHOTO_MIN_FACE_SIZE`, so a gallery's cache means the same whatever the live setting.
    """

    def __init__(self, detector: Detector, embedder: Embedder, threshold: float, match_mode: str = "nearest"):
        self.detector = detector
        self.embedder = embedder
        self.threshold = float(threshold)
        self.match_mode = match_mode
        # The live worker and the gallery watcher share the models: one call at a time per model.
        self._detect_lock = threading.Lock()
        self._embed_lock = threading.Lock()

    def warm_up(self) -> None:
        """Run the embedder once on a blank face, so that the first real face does not pay for
        graph tracing and memory allocation (about a second with VGG-Face)."""
        size = self.embedder.align_spec.size
        with self._embed_lock:
            self.embedder.embed(np.zeros((1, size, size, 3), dtype=np.uint8))

    @property
    def model(self) -> str:
        return self.embedder.name

    @property
    def photo_version(self) -> str:
        """What a gallery photo's embedding depends on: the embedder and the photo detection settings."""
        options = getattr(self.detector, "options", None)
        confidence = getattr(options, "min_confidence", "?")
        return f"{self.embedder.version}|{self.detector.name}-min{PHOTO_MIN_FACE_SIZE}-conf{confidence}"

    def find_faces(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        """Faces in an RGB image, largest first."""
        with self._detect_lock:
            faces = self.detector.detect(rgb_image, min_face_size=min_face_size)
        return faces.largest_first()

    def embed_faces(self, rgb_image: np.ndarray, faces: Faces) -> np.ndarray:
        """``(N, D)`` embeddings of ``faces`` in ``rgb_image`` (one batch through the model)."""
        if len(faces) == 0:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        crops = align_faces(rgb_image, faces, self.embedder.align_spec)
        with self._embed_lock:
            return self.embedder.embed(crops)

    def faces_and_embeddings(self, bgr_image: np.ndarray) -> tuple[Faces, np.ndarray]:
        rgb_image = bgr_to_rgb(bgr_image)
        faces = self.find_faces(rgb_image)
        return faces, self.embed_faces(rgb_image, faces)

    def recognize(self, bgr_image: np.ndarray, gallery: GalleryMatrix) -> Recognition:
        """Every face in the image (largest first) with its match in ``gallery``."""
        faces, embeddings = self.faces_and_embeddings(bgr_image)
        matches = match_embeddings(embeddings, gallery, self.threshold, self.match_mode) if len(faces) else []
        return Recognition(faces, tuple(matches), embeddings)

    def embed_photo(self, path: Path) -> PhotoEmbedding:
        """The gallery's view of a photo: face count and the largest face's embedding (ImageError if unreadable)."""
        rgb_image = bgr_to_rgb(read_image(path))
        faces = self.find_faces(rgb_image, PHOTO_MIN_FACE_SIZE)
        if len(faces) == 0:
            return PhotoEmbedding(0, None, None)
        embedding = self.embed_faces(rgb_image, faces[:1])[0]
        return PhotoEmbedding(len(faces), tuple(float(v) for v in faces.boxes[0]), embedding)

    def count_faces(self, path: Path) -> int:
        return len(self.find_faces(bgr_to_rgb(read_image(path)), PHOTO_MIN_FACE_SIZE))


def build_recognizer(model: str, weights=None, model_dir=None, *, threshold: float | None = None,
                     match_mode: str | None = None, detector_options=None, allow_download: bool = True,
                     progress=None, cancel=None, vgg_runtime: str | None = None) -> Recognizer:
    """Build the models once (downloading the model file first if needed and allowed): slow, seconds.

    ``threshold`` and ``match_mode`` default to the user's saved settings, then the
    model's defaults (:mod:`facecam.config`).
    """
    from facecam import config  # noqa: PLC0415
    from facecam.detector import MtcnnDetector  # noqa: PLC0415
    from facecam.embedders import build_embedder  # noqa: PLC0415

    embedder = build_embedder(model, weights, model_dir, allow_download=allow_download, progress=progress,
                              cancel=cancel, vgg_runtime=vgg_runtime)
    return Recognizer(MtcnnDetector(detector_options), embedder, config.threshold_for(model, threshold),
                      config.match_mode_for(model, match_mode))
