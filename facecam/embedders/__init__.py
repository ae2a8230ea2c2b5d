"""Embedding models behind one interface (:class:`facecam.embedders.base.Embedder`).

``build_embedder("vgg-face" | "sface", ...)`` finds or downloads the model file
and builds the model once; pass the result to whoever needs it. Importing this
package loads no model and no TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from facecam.errors import ModelError

ENV_VGGFACE_WEIGHTS = "FACECAM_VGGFACE_WEIGHTS"


def model_file_path(model: str, weights: str | Path | None = None, model_dir: str | Path | None = None,
                    allow_download: bool = True, progress: Callable[[int, int | None], None] | None = None,
                    cancel=None) -> Path:
    """Where the model's file is: ``weights`` (--weights), else FACECAM_VGGFACE_WEIGHTS for vgg-face,
    else the model folder (downloaded there on first use when ``allow_download``)."""
    from facecam import models  # noqa: PLC0415

    spec = models.get_model(model)
    chosen = weights or (os.environ.get(ENV_VGGFACE_WEIGHTS) if model == "vgg-face" else None)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ModelError(f"weights file {path} not found; check the path given to --weights"
                             + (f" or {ENV_VGGFACE_WEIGHTS}" if model == "vgg-face" else ""))
        return path
    return models.ensure_model_file(spec, model_dir, allow_download=allow_download, progress=progress, cancel=cancel)


def build_embedder(model: str, weights: str | Path | None = None, model_dir: str | Path | None = None,
                   allow_download: bool = True, progress=None, cancel=None, vgg_runtime: str | None = None):
    """Build the named embedder once (loads its weights; downloads them first if needed and allowed).

    ``vgg_runtime``: how VGG-Face runs (:mod:`facecam.embedders.vgg_openvino`; None: the environment or auto)."""
    path = model_file_path(model, weights, model_dir, allow_download, progress, cancel)
    if model == "sface":
        from facecam.embedders.sface import SFaceEmbedder  # noqa: PLC0415

        return SFaceEmbedder(path)
    from facecam.embedders.vggface import VggFaceEmbedder  # noqa: PLC0415

    return VggFaceEmbedder(path, runtime=vgg_runtime)
