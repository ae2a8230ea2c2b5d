"""VGG-Face on OpenVINO: the same Keras network, converted once, run in bf16 where the CPU has it.

Runtimes (``VggFaceEmbedder(path, runtime=...)``, ``--vgg-runtime``, ``FACECAM_VGG_RUNTIME``)
    ``tensorflow``     the Keras model itself, fp32: the reference.
    ``openvino-bf16``  OpenVINO CPU plugin with bf16 inference precision (AVX-512 BF16 or AMX CPUs);
                       embeddings within cosine 0.9999 of the reference (tests/test_vggface.py).
    ``openvino-f32``   OpenVINO in fp32: what ``openvino-bf16`` falls back to on a CPU without bf16.
    ``auto``           (the default) ``openvino-bf16`` if the CPU has bf16, else ``openvino-f32``,
                       else (OpenVINO not installed) ``tensorflow``.

All three meet the exactness target, so the embedder's ``version`` (and the
gallery cache) is the same whichever runs. int8 weight compression of fc6/fc7
was measured and rejected: cosine 0.99986 to the reference (below 0.9999) and
no faster (docs in BENCHMARKS.md).

The converted model
    The Keras fc7 model (:class:`facecam.embedders.vggface.VggFaceEmbedder`'s
    ``embedding_model``) converted by ``openvino.convert_model`` with a dynamic
    batch size, saved as OpenVINO IR (XML + weights, no pickle) in an
    owner-only folder, named by the weights' fingerprint, so later runs skip
    TensorFlow altogether: the cold start is hashing the weights file, reading
    the IR and compiling it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from facecam.errors import ModelError
from facecam.fileutil import private_folder

ENV_RUNTIME = "FACECAM_VGG_RUNTIME"
RUNTIMES = ("auto", "tensorflow", "openvino-bf16", "openvino-f32")
IR_STEM = "vggface-fc7"


def _openvino():
    """The ``openvino`` module, or None when it is not installed."""
    try:
        import openvino  # noqa: PLC0415
    except ImportError:
        return None
    return openvino


def cpu_has_bf16(core) -> bool:
    """True when OpenVINO's CPU plugin reports native bf16 (AVX-512 BF16 or AMX)."""
    try:
        return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return False


def resolve_runtime(requested: str | None = None) -> str:
    """The runtime that will run: ``requested`` (else ``$FACECAM_VGG_RUNTIME``, else ``auto``) made concrete.

    ``auto`` picks the fastest exact one on this machine; ``openvino-bf16`` on a
    CPU without bf16 becomes ``openvino-f32`` (exact, and what OpenVINO would do anyway).
    Raises :class:`ModelError` for an unknown name, or OpenVINO asked for but missing.
    """
    name = (requested or os.environ.get(ENV_RUNTIME) or "auto").strip().lower()
    if name not in RUNTIMES:
        raise ModelError(f"unknown VGG-Face runtime {name!r}; choose one of: {', '.join(RUNTIMES)}")
    if name == "tensorflow":
        return name
    openvino = _openvino()
    if openvino is None:
        if name == "auto":
            return "tensorflow"
        raise ModelError(f"VGG-Face runtime {name} needs OpenVINO; install openvino (requirements.txt) "
                         "or use --vgg-runtime tensorflow")
    if name == "openvino-f32":
        return name
    return "openvino-bf16" if cpu_has_bf16(openvino.Core()) else "openvino-f32"


def describe_runtime(runtime: str) -> str:
    """One line for ``facecam models`` and the status bar, e.g. ``OpenVINO 2026.4.1 bf16``."""
    if runtime == "tensorflow":
        return "TensorFlow fp32 (reference)"
    openvino = _openvino()
    version = openvino.__version__.split("-")[0] if openvino else "?"
    if runtime == "openvino-bf16":
        return f"OpenVINO {version} bf16"
    return f"OpenVINO {version} fp32"


def default_cache_dir() -> Path:
    """Where converted models are kept: the user cache, ``.../facecam/openvino``."""
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_cache_dir("facecam")) / "openvino"


def ir_path(cache_dir: Path, fingerprint: str) -> Path:
    """The cached IR (``.xml``; its weights are the ``.bin`` beside it) for weights with this fingerprint."""
    return Path(cache_dir) / f"{IR_STEM}-{fingerprint}.xml"


def save_ir(model, target: Path) -> None:
    """Save ``model`` as IR at ``target`` (owner-only files), atomically: .bin first, then .xml."""
    openvino = _openvino()
    scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=private_folder(target.parent)))
    try:
        openvino.save_model(model, scratch / "model.xml", compress_to_fp16=False)
        for suffix in (".bin", ".xml"):
            os.chmod(scratch / f"model{suffix}", 0o600)
            os.replace(scratch / f"model{suffix}", target.with_suffix(suffix))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def send_no_telemetry() -> None:
    """Point OpenVINO's converter at its own telemetry stub: it sends usage events (to Google Analytics)
    unless the user opted out, and a face-recognition app phones home about nothing."""
    import importlib  # noqa: PLC0415

    stub = importlib.import_module("openvino.tools.ovc.telemetry_stub")
    for name in ("convert_impl", "telemetry_utils", "utils"):
        module = importlib.import_module(f"openvino.tools.ovc.{name}")
        if hasattr(module, "tm"):
            module.tm = stub


def cached_or_converted(fingerprint: str, cache_dir: Path, keras_model: Callable[[], object]):
    """The OpenVINO model for these weights: read from the cache, else converted from ``keras_model()`` and cached.

    Returns ``(model, was_cached)``. A cache that cannot be read is converted
    again; one that cannot be written is only a lost speed-up.
    """
    openvino = _openvino()
    path = ir_path(cache_dir, fingerprint)
    if path.is_file() and path.with_suffix(".bin").is_file():
        try:
            return openvino.Core().read_model(path), True
        except RuntimeError:
            pass                                  # damaged: convert again below
    send_no_telemetry()
    with warnings.catch_warnings():          # Keras: "The structure of `inputs` doesn't match" (harmless)
        warnings.simplefilter("ignore", UserWarning)
        model = openvino.convert_model(keras_model(), input=[-1, 224, 224, 3])
    try:
        save_ir(model, path)
    except OSError:
        pass
    return model, False


class OpenVinoForward:
    """A compiled VGG-Face fc7 model: ``(N, 224, 224, 3) float32`` network input -> ``(N, 4096) float32``."""

    def __init__(self, model, runtime: str):
        openvino = _openvino()
        precision = "bf16" if runtime == "openvino-bf16" else "f32"
        self.compiled = openvino.Core().compile_model(
            model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision})
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            result = self._request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
            return np.array(result[0], dtype=np.float32).reshape(len(batch), -1)
