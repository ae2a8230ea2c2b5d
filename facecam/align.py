"""Face alignment: pure numpy, one path for gallery photos and live frames.

A face is aligned by one similarity transform (rotation, uniform scale,
translation) chosen so that

* the eyes are exactly level (the rotation is the eye line's angle), and
* the five landmarks land as close as possible (least squares) to the model's
  template, which places the face in the crop with the model's margin.

Because the scale is uniform the aspect ratio is kept. Gallery photos and live
faces go through :func:`align_faces` alike, so a person's enrolled photos and
their face on the camera are preprocessed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from facecam.types import Faces

# ArcFace's five-point template for a 112x112 crop (person's right eye, left eye,
# nose, right mouth corner, left mouth corner), as used by SFace and OpenCV's
# FaceRecognizerSF.alignCrop.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


@dataclass(frozen=True)
class AlignSpec:
    """Where a model wants the face: output ``size`` and landmark ``template (5, 2)`` in output pixels."""

    size: int
    template: np.ndarray

    @classmethod
    def from_arcface(cls, size: int, face_fraction: float = 1.0) -> "AlignSpec":
        """The ArcFace template scaled to ``size``; ``face_fraction < 1`` adds margin around the face."""
        unit = ARCFACE_112 / 112.0 - 0.5
        return cls(size, (unit * face_fraction + 0.5) * size)


def alignment_matrix(landmarks: np.ndarray, spec: AlignSpec) -> np.ndarray:
    """The 2x3 matrix that maps image points to crop points for one face's ``(5, 2)`` landmarks.

    Rotation: the eye line becomes horizontal. Scale and translation: least squares
    fit of the five points to the template under that rotation.
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    template = np.asarray(spec.template, dtype=np.float64)
    eye_vector = points[1] - points[0]
    angle = np.arctan2(eye_vector[1], eye_vector[0]) - np.arctan2(
        template[1, 1] - template[0, 1], template[1, 0] - template[0, 0])
    cos, sin = np.cos(-angle), np.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    p_mean, q_mean = points.mean(axis=0), template.mean(axis=0)
    rotated = (points - p_mean) @ rotation.T
    denominator = float(np.sum(rotated ** 2))
    scale = float(np.sum(rotated * (template - q_mean)) / denominator) if denominator > 1e-9 else 1.0
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    linear = scale * rotation
    translation = q_mean - linear @ p_mean
    return np.hstack([linear, translation[:, None]])


def warp_affine(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Sample ``image`` (H, W, C) uint8 into a ``size`` x ``size`` crop through ``matrix`` (image -> crop).

    Bilinear, black outside the image. When the crop shrinks the face by more
    than 2x, the source region is first box-filtered so that the crop is not aliased.
    """
    image = np.asarray(image)
    height, width = image.shape[:2]
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    factor = int(np.floor(1.0 / scale)) if scale > 0 else 1
    source = image
    offset = np.zeros(2)
    if factor >= 2:
        # Crop the region the output reads from, then average factor x factor blocks.
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) @ inverse.T
        x0 = int(np.clip(np.floor(corners[:, 0].min()) - factor, 0, width))
        y0 = int(np.clip(np.floor(corners[:, 1].min()) - factor, 0, height))
        x1 = int(np.clip(np.ceil(corners[:, 0].max()) + factor, 0, width))
        y1 = int(np.clip(np.ceil(corners[:, 1].max()) + factor, 0, height))
        region = image[y0:y1, x0:x1]
        rh, rw = (region.shape[0] // factor) * factor, (region.shape[1] // factor) * factor
        if rh and rw:
            region = region[:rh, :rw].astype(np.float32)
            source = region.reshape(rh // factor, factor, rw // factor, factor, -1).mean(axis=(1, 3))
            offset = np.array([x0, y0], dtype=np.float64)
        else:
            factor = 1
    else:
        factor = 1
    src = _pixel_centres(size) @ inverse.T  # continuous coordinates in the original image (pixel centres at +0.5)
    sx = (src[:, 0] - offset[0]) / factor - 0.5
    sy = (src[:, 1] - offset[1]) / factor - 0.5
    return _bilinear(np.asarray(source), sx, sy).reshape(size, size, -1).astype(np.uint8)


@lru_cache(maxsize=8)
def _pixel_centres(size: int) -> np.ndarray:
    """The crop's pixel centres as ``(size * size, 3)`` homogeneous x, y, 1 rows (made once per crop size)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    grid = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(size * size)], axis=1)
    grid.flags.writeable = False
    return grid


def _bilinear(source: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """``source`` sampled at ``(sx, sy)``, bilinear, 0 outside it: ``(N, C)`` float32 rounded up by 0.5.

    The samples read only the window of the source they cover, copied with a one-pixel black border, so each
    corner of every sample is one ``np.take`` (a corner outside the source clips onto the border: 0) instead
    of a masked gather per corner; the sums are the same, in the same order, so the crops are bit for bit
    those of the masked version (4 ms a 224-pixel crop of a 55-pixel face instead of 13)."""
    height, width = source.shape[:2]
    channels = source.reshape(height, width, -1)
    count, depth = sx.shape[0], channels.shape[2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = (sx - x0).astype(np.float32)[:, None]
    fy = (sy - y0).astype(np.float32)[:, None]
    out = np.zeros((count, depth), dtype=np.float32)
    left, top = max(int(x0.min()), -1), max(int(y0.min()), -1)
    right, bottom = min(int(x0.max()) + 2, width + 1), min(int(y0.max()) + 2, height + 1)
    if right <= left or bottom <= top:  # every sample outside the source
        return np.clip(out + 0.5, 0, 255)
    window = np.zeros((bottom - top, right - left, depth), np.float32)
    rows, cols = slice(max(top, 0), min(bottom, height)), slice(max(left, 0), min(right, width))
    window[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = channels[rows, cols]
    window_height, window_width = window.shape[:2]
    flat = window.reshape(-1, depth)
    xi = (np.clip(x0 - left, 0, window_width - 1), np.clip(x0 + 1 - left, 0, window_width - 1))
    yi = (np.clip(y0 - top, 0, window_height - 1) * window_width,
          np.clip(y0 + 1 - top, 0, window_height - 1) * window_width)
    for row, wy in ((yi[0], 1 - fy), (yi[1], fy)):
        for col, wx in ((xi[0], 1 - fx), (xi[1], fx)):
            out += np.take(flat, row + col, axis=0) * (wx * wy)
    return np.clip(out + 0.5, 0, 255)


def align_face(rgb_image: np.ndarray, landmarks: np.ndarray, spec: AlignSpec) -> np.ndarray:
    """One aligned ``(size, size, 3) uint8`` RGB crop of the face with these landmarks."""
    return warp_affine(rgb_image, alignment_matrix(landmarks, spec), spec.size)


def align_faces(rgb_image: np.ndarray, faces: Faces, spec: AlignSpec) -> np.ndarray:
    """Aligned crops ``(N, size, size, 3) uint8`` of every face, in the order of ``faces``.

    This is the only preprocessing path for gallery photos and live frames.
    """
    crops = np.zeros((len(faces), spec.size, spec.size, 3), dtype=np.uint8)
    for i in range(len(faces)):
        crops[i] = align_face(rgb_image, faces.landmarks[i], spec)
    return crops
