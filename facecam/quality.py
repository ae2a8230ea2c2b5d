"""Is a face good enough to judge? Size, sharpness, pose from the five landmarks, detector confidence.

A wrong name on a blurred, tiny or turned face is worse than a moment's "?": such a face is not named
(its match says ``unsure``), and it is not used to collect unknown faces or to learn; the live pipeline
leaves the track's label as it was and checks the face again in a later round. Pure numpy.

The measures, each on what the embedder sees:

* ``eye_px``: the distance between the eyes in the image, in pixels (the face's real resolution);
* ``sharpness``: the variance of the Laplacian of the face's box resampled to 96 px grey: a blurred
  face has little fine detail;
* ``yaw``: how far the nose sits from the eyes' middle, along the eye line, per eye distance (0 frontal,
  about 0.5 in profile); ``roll``: the eye line's angle, degrees;
* ``confidence``: the detector's score.

The limits are set where SFace's answers stop meaning anything, measured on lfw40 (BENCHMARKS.md, "Faces too
poor to judge"): every normal photo passes (eyes 20-34 px apart, sharpness 43+, yaw under 0.35); a Gaussian
blur of 3 px gives sharpness 3-18. SFace rarely gives a wrong name to a poor face (its embedding drifts away
from everyone: Unknown), so stricter limits mostly turned right names into "?": at 12 px and 25 they took
94 of 100 right names from lfw40 photos shrunk to 60 px; hence 8 px and 12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


MIN_EYE_PX = 8.0
MIN_SHARPNESS = 12.0
MAX_YAW = 0.42
MAX_ROLL = 40.0
MIN_CONFIDENCE = 0.6


def pose_quality(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw factor, roll factor, eye distance in pixels) from the five landmarks."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes = points[1] - points[0]
    eye_distance = float(np.hypot(*eyes))
    if eye_distance < 1e-6:
        return 0.0, 0.0, 0.0
    axis = eyes / eye_distance
    offset = abs(float(np.dot(points[2] - (points[0] + points[1]) / 2, axis))) / eye_distance
    roll = abs(math.degrees(math.atan2(eyes[1], eyes[0])))
    return max(0.0, 1.0 - offset / 0.5), max(0.0, 1.0 - roll / 60.0), eye_distance


def sharpness(rgb_face: np.ndarray) -> float:
    """Variance of the Laplacian of the face (resampled to 96x96 grey), in grey levels squared."""
    import cv2  # noqa: PLC0415

    if rgb_face.size == 0:
        return 0.0
    grey = cv2.resize(np.ascontiguousarray(rgb_face), (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32)
    grey = grey @ np.array([0.299, 0.587, 0.114], np.float32)
    laplacian = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1])
    return float(laplacian.var())


def face_region(rgb_image: np.ndarray, box) -> np.ndarray:
    """The part of the image inside ``box`` (x, y, w, h), clipped to the image."""
    x, y, w, h = (int(round(v)) for v in box)
    return rgb_image[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)]


@dataclass(frozen=True)
class FaceQuality:
    """How well a face can be judged: ``eye_px`` the eyes' distance in pixels, ``sharpness`` (see
    :func:`sharpness`), ``yaw`` the nose's offset from the eyes' middle per eye distance (0 frontal, about
    0.5 in profile), ``roll`` the eye line's angle in degrees, ``confidence`` the detector's score."""

    eye_px: float
    sharpness: float
    yaw: float
    roll: float
    confidence: float

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the face is too poor to judge ("tiny", "blurred", "turned", "unsure detection"); () when fine."""
        found = []
        if self.eye_px < MIN_EYE_PX:
            found.append("tiny")
        if self.sharpness < MIN_SHARPNESS:
            found.append("blurred")
        if self.yaw > MAX_YAW or self.roll > MAX_ROLL:
            found.append("turned")
        if self.confidence < MIN_CONFIDENCE:
            found.append("unsure detection")
        return tuple(found)

    @property
    def judgeable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"eye_px": round(self.eye_px, 1), "sharpness": round(self.sharpness, 1), "yaw": round(self.yaw, 3),
                "roll": round(self.roll, 1), "confidence": round(self.confidence, 3), "problems": list(self.problems)}


def judge_face(rgb_image: np.ndarray, box, landmarks: np.ndarray, score: float) -> FaceQuality:
    """The :class:`FaceQuality` of one detected face."""
    yaw, roll, eye_px = pose_quality(landmarks)
    return FaceQuality(eye_px, sharpness(face_region(rgb_image, box)), (1.0 - yaw) * 0.5, (1.0 - roll) * 60.0,
                       float(score))


def faces_quality(rgb_image: np.ndarray, faces) -> list[FaceQuality]:
    """:func:`judge_face` of every face of a :class:`facecam.types.Faces`."""
    return [judge_face(rgb_image, faces.boxes[i], faces.landmarks[i], float(faces.scores[i])) for i in range(len(faces))]
