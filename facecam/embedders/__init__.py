"""Embedding models behind one interface (:class:`facecam.embedders.base.Embedder`).

``build_embedder(key, ...)`` finds the model file (``--weights``, the model's
environment variable, the model folder, the copy built into the package, or a
download) and builds the model once with the factory :mod:`facecam.registry`
names; pass the result to whoever needs it. Importing this package loads no
model and no TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from facecam import registry
from facecam.errors import ModelError

ENV_VGGFACE_WEIGHTS = registry.MODELS["vgg-face"].weights_env


def chosen_weights(model: str, weights: str | Path | None = None) -> tuple[Path, str] | None:
    """The file the user named for ``model`` and how: ``(path, "--weights")``, ``(path, ENV_NAME)``, or None."""
    entry = registry.model(model)
    if weights:
        return Path(weights).expanduser(), "--weights"
    named = os.environ.get(entry.weights_env, "").strip() if entry.weights_env else ""
    return (Path(named).expanduser(), entry.weights_env) if named else None


def model_file_path(model: str, weights: str | Path | None = None, model_dir: str | Path | None = None,
                    allow_download: bool = True, progress: Callable[[int, int | None], None] | None = None,
                    cancel=None) -> Path:
    """Where the model's file is: ``weights`` (--weights), else the model's environment variable
    (FACECAM_VGGFACE_WEIGHTS for vgg-face), else the model folder or the built-in copy (downloaded
    into the model folder on first use when ``allow_download``)."""
    from facecam import models  # noqa: PLC0415

    entry = registry.model(model)
    chosen = chosen_weights(model, weights)
    if chosen is not None:
        path, where = chosen
        if not path.is_file():
            raise ModelError(f"weights file {path} not found; check the path given to --weights"
                             + (f" or {entry.weights_env}" if entry.weights_env else ""))
        return path
    return models.ensure_model_file(entry.file, model_dir, allow_download=allow_download, progress=progress,
                                    cancel=cancel)


def build_embedder(model: str, weights: str | Path | None = None, model_dir: str | Path | None = None,
                   allow_download: bool = True, progress=None, cancel=None, **options):
    """Build the named embedder once (loads its weights; downloads them first if needed and allowed).

    ``options`` go to the model's factory (per-model settings, e.g. a runtime choice).
    """
    path = model_file_path(model, weights, model_dir, allow_download, progress, cancel)
    return registry.model(model).build(path, **options)
