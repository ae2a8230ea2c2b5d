"""TensorFlow, imported quietly: the one place facecam imports it (only when a model that needs it is built).

TensorFlow 2.21 writes its start-up chatter straight to the process's stderr
(file descriptor 2) from C++ before its logging is set up, whatever
``TF_CPP_MIN_LOG_LEVEL`` says: "WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR" and the oneDNN notice,
twice. So the import runs with descriptor 2 pointed at a temporary file; lines
in that chatter's format (informational and warning lines) are dropped and
anything else (an error) is passed on to stderr. ``TF_CPP_MIN_LOG_LEVEL=2`` and
the Python loggers at ERROR keep later messages down. oneDNN itself stays on
(``TF_ENABLE_ONEDNN_OPTS`` is left alone: it is what makes TensorFlow fast on
this kind of CPU); only its notice goes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
# absl/glog lines: "I0000 00:00:1796064370.861500   13515 port.cc:153] ..." (I = info, W = warning)
_CHATTER = re.compile(r"^(?:[IW]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl::InitializeLog\(\))")


def _quietly(load):
    """Run ``load()`` with descriptor 2 captured; pass on what is not TensorFlow's start-up chatter."""
    with _lock:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no descriptor 2 (a detached process): nothing to keep quiet
            return load()
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                return load()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                        if line.strip() and not _CHATTER.match(line)]
                if kept:
                    print("\n".join(kept), file=sys.stderr, flush=True)


def quiet_tensorflow():
    """``import tensorflow`` with its start-up chatter silenced; returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]

    def load():
        import tensorflow as tf  # noqa: PLC0415 - lazy on purpose: about 4 s

        return tf

    tf = _quietly(load)
    tf.get_logger().setLevel("ERROR")
    logging.getLogger("absl").setLevel(logging.ERROR)
    return tf


def preload_tensorflow_libraries() -> None:
    """Load TensorFlow's two large native libraries now, without importing TensorFlow.

    Loading them (about 0.35 s here) happens inside one C call that no other Python
    thread can interrupt. The window calls this before its event loop starts, so that
    the model loading in the background later finds them loaded and never freezes the
    picture. Does nothing where the files are not found (another platform or layout).
    """
    import ctypes  # noqa: PLC0415

    spec = importlib.util.find_spec("tensorflow")
    if spec is None or spec.origin is None:
        return
    folder = Path(spec.origin).parent

    def load():
        for name in ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2"):
            if (folder / name).is_file():
                try:
                    ctypes.CDLL(str(folder / name))
                except OSError:
                    return

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _quietly(load)
