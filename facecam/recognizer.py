"""The recognition core shared by the command line, ``watch`` and the window.

``Recognizer(detector, embedder)`` is built once with its models and passed to
whoever needs it. It turns a BGR image (what OpenCV reads) into faces,
embeddings and matches::

    bgr_image -> rgb (once) -> detect -> align (same path for gallery and live)
              -> embed -> match against the gallery

It knows nothing of Qt or of files beyond reading a photo.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from facecam.align import align_faces
from facecam.detector import Detector
from facecam.embedders.base import Embedder
from facecam.gallery import PhotoEmbedding
from facecam.images import read_image
from facecam.matcher import GalleryMatrix, match_embeddings
from facecam.openset import Decision, entries_compared
from facecam.quality import faces_quality
from facecam.registry import DEFAULT_DETECTOR
from facecam.shared_models import FairLock
from facecam.types import Faces, Recognition, bgr_to_rgb


PHOTO_MIN_FACE_SIZE = 20  # gallery photos are always searched down to 20-pixel faces


class Recognizer:
    """Detect, align, embed and match. ``threshold`` and ``match_mode`` may be changed at any time.

    Live frames use the detector's own ``min_face_size`` (the window and ``watch`` raise it
    to 40 for speed); photos for the gallery are always searched with
    :data:`PHOTO_MIN_FACE_SIZE`, so a gallery's cache means the same whatever the live setting.
    """

    def __init__(self, detector: Detector, embedder: Embedder, threshold: "float | Decision",
                 match_mode: str = "nearest"):
        self.detector = detector
        self.embedder = embedder
        self.match_mode = match_mode
        self.decision: Decision = Decision(embedder.name, threshold=1.0)
        self.threshold = threshold
        self._entries = 0  # gallery entries of the last match (what ``threshold`` reads)
        self.quality_gate = True  # faces too poor to judge are not named (facecam.quality)
        # The live workers (one per camera: facecam.shared_models) and the gallery watcher share the models: one
        # call at a time per model, given in turns between callers.
        self.detect_turns = FairLock("detector")
        self.embed_turns = FairLock("embedder")

    def warm_up(self) -> None:
        """Run the embedder once on a blank face, so that the first real face does not pay for
        graph tracing and memory allocation (about a second with VGG-Face)."""
        size = self.embedder.align_spec.size
        with self.embed_turns:
            self.embedder.embed(np.zeros((1, size, size, 3), dtype=np.uint8))

    @property
    def threshold(self) -> float:
        """The distance in use: a fixed one, or the decision's for the gallery last matched (for a target
        stranger rate and the ``mean`` mode, the one of a person with one photo: the loosest)."""
        return self.decision.threshold_for(self._entries)

    @threshold.setter
    def threshold(self, value: "float | Decision") -> None:
        """A distance (fixed: the slider, ``--threshold``) or a :class:`Decision`."""
        self.decision = value if isinstance(value, Decision) else \
            Decision(self.embedder.name, threshold=float(value), origin="override")

    def match(self, embeddings: np.ndarray, gallery: GalleryMatrix) -> list:
        """The matches of ``embeddings`` in ``gallery`` by the decision in use (the one place it is applied:
        :meth:`recognize`, the live pipeline, the unknown faces)."""
        self._entries = entries_compared(gallery, self.match_mode)
        return match_embeddings(embeddings, gallery, self.decision, self.match_mode)

    def judge(self, rgb_image: np.ndarray, faces: Faces, matches: list) -> list:
        """``matches`` with every face too poor to judge (:mod:`facecam.quality`: tiny, blurred, turned, an
        unsure detection) made unsure: no name given (``identify`` and the window show "?")."""
        if not self.quality_gate:
            return list(matches)
        return [match if quality.judgeable else replace(match, name=None, unsure=True)
                for quality, match in zip(faces_quality(rgb_image, faces), matches)]

    def decision_basis(self, gallery: GalleryMatrix) -> dict:
        """What the decision is based on against ``gallery`` (``identify --json``, the window's status)."""
        return self.decision.describe(gallery, self.match_mode)

    @property
    def model(self) -> str:
        return self.embedder.name

    @property
    def photo_version(self) -> str:
        """What a gallery photo's embedding depends on: the embedder and the photo detection settings."""
        options = getattr(self.detector, "options", None)
        confidence = getattr(options, "min_confidence", "?")
        return f"{self.embedder.version}|{self.detector.name}-min{PHOTO_MIN_FACE_SIZE}-conf{confidence}"

    @property
    def cache_name(self) -> str:
        """The gallery cache's name: the model's, plus the detector's when it is not the default, so that
        each detector keeps its own cache (switching back and forth embeds nothing again) and the default's
        stays where it always was."""
        return self.model if self.detector.name == DEFAULT_DETECTOR else f"{self.model}-{self.detector.name}"

    def find_faces(self, rgb_image: np.ndarray, min_face_size: int | None = None) -> Faces:
        """Faces in an RGB image, largest first."""
        with self.detect_turns:
            faces = self.detector.detect(rgb_image, min_face_size=min_face_size)
        return faces.largest_first()

    def embed_faces(self, rgb_image: np.ndarray, faces: Faces) -> np.ndarray:
        """``(N, D)`` embeddings of ``faces`` in ``rgb_image`` (one batch through the model)."""
        if len(faces) == 0:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        crops = align_faces(rgb_image, faces, self.embedder.align_spec)
        with self.embed_turns:
            return self.embedder.embed(crops)

    def faces_and_embeddings(self, bgr_image: np.ndarray) -> tuple[Faces, np.ndarray]:
        rgb_image = bgr_to_rgb(bgr_image)
        faces = self.find_faces(rgb_image)
        return faces, self.embed_faces(rgb_image, faces)

    def recognize(self, bgr_image: np.ndarray, gallery: GalleryMatrix) -> Recognition:
        """Every face in the image (largest first) with its match in ``gallery`` (unsure when too poor to judge)."""
        rgb_image = bgr_to_rgb(bgr_image)
        faces = self.find_faces(rgb_image)
        embeddings = self.embed_faces(rgb_image, faces)
        matches = self.judge(rgb_image, faces, self.match(embeddings, gallery)) if len(faces) else []
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
        with self.detect_turns:
            return count_faces(self.detector, path)


def count_faces(detector: Detector, path: Path) -> int:
    """How many faces ``detector`` finds in the photo at ``path``, searched as gallery photos are
    (down to :data:`PHOTO_MIN_FACE_SIZE`); ImageError if it cannot be read. Needs no embedding model."""
    return len(detector.detect(bgr_to_rgb(read_image(path)), min_face_size=PHOTO_MIN_FACE_SIZE))


def build_recognizer(model: str, weights=None, model_dir=None, *, threshold: float | None = None,
                     match_mode: str | None = None, detector_options=None, detector: str | None = None,
                     allow_download: bool = True, progress=None, cancel=None, **model_options) -> Recognizer:
    """Build the models once (downloading the model file first if needed and allowed): slow, seconds.

    ``detector`` is a :mod:`facecam.registry` detector key (default: MTCNN). ``threshold`` (fixed) and
    ``match_mode`` default to the user's saved settings, then the model's defaults (for the threshold, a
    target share of strangers named that follows the gallery's size: :mod:`facecam.openset`)
    (:mod:`facecam.config`). ``model_options`` go to the embedder's factory.
    """
    from facecam import config, registry  # noqa: PLC0415
    from facecam.detector import build_detector  # noqa: PLC0415
    from facecam.embedders import build_embedder  # noqa: PLC0415

    detector = registry.detector(detector or config.DEFAULT_DETECTOR).key  # an unknown key fails before any load
    decision, match_mode = config.decision_for(model, threshold), config.match_mode_for(model, match_mode)
    embedder = build_embedder(model, weights, model_dir, allow_download=allow_download, progress=progress,
                              cancel=cancel, **model_options)
    found = build_detector(detector, detector_options, model_dir, allow_download=allow_download)
    return Recognizer(found, embedder, decision, match_mode)
