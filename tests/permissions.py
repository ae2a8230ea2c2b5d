"""Running facecam as a user the file permissions apply to, although the suite runs as root in CI.

Root reads and writes any file: mode 000 and read-only folders do not stop it, so a test of them would
pass for the wrong reason. :func:`without_override` (a ``preexec_fn``) drops, for the child process only,
the two capabilities that let root ignore permissions (CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, from the
bounding set, which an ``execve`` of a root process takes its capabilities from): the child is still uid 0
and still runs the same Python, but a folder of mode 000 refuses it with a real PermissionError, as it would
any user. As a non-root user nothing needs dropping.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def without_override() -> None:
    """``preexec_fn``: the child obeys file permissions like any user (see the module notes)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def run_facecam(*argv, env: dict | None = None, timeout: float = 600.0) -> subprocess.CompletedProcess:
    """``python -m facecam ARGV`` as a user the permissions apply to: the exit code, stdout and stderr."""
    return run_python("-m", "facecam", *argv, env=env, timeout=timeout)


def run_python(*argv, env: dict | None = None, timeout: float = 600.0) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True, cwd=ROOT,
                          env=environment, preexec_fn=without_override, timeout=timeout)
