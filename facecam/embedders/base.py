"""The embedder interface: one per kind of recognition model.

An embedder is built once (it loads its weights then) and passed to whoever
needs it. ``embed`` takes aligned RGB face crops as produced by
:func:`facecam.align.align_faces` with the embedder's own :class:`AlignSpec`,
and returns L2-normalised float32 embeddings, one row per face.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from facecam.align import AlignSpec


@runtime_checkable
class Embedder(Protocol):
    name: str             # "vgg-face" or "sface": the key of the thresholds table
    dim: int              # embedding size
    align_spec: AlignSpec  # how faces are cropped for this model (size, template)
    version: str          # changes when the embedding of a given crop would change

    def embed(self, rgb_faces: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3) uint8`` aligned RGB faces -> ``(N, dim) float32`` unit vectors."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def check_faces_batch(rgb_faces: np.ndarray, size: int) -> np.ndarray:
    """Validate a batch of aligned faces: ``(N, size, size, 3) uint8``."""
    rgb_faces = np.asarray(rgb_faces)
    if rgb_faces.ndim == 3:
        rgb_faces = rgb_faces[None]
    if rgb_faces.ndim != 4 or rgb_faces.shape[1:] != (size, size, 3):
        raise ValueError(f"rgb_faces: expected shape (N, {size}, {size}, 3), got {rgb_faces.shape}")
    if rgb_faces.dtype != np.uint8:
        raise ValueError(f"rgb_faces: expected dtype uint8, got {rgb_faces.dtype}")
    return rgb_faces
