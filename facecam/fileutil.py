"""Small file helpers: atomic writes with chosen permissions, unique names."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of it.

    The bytes go to a temporary file in the same folder (created with ``mode``),
    are flushed to disk, then renamed over ``path``. On any error the temporary
    file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode) if hasattr(os, "fchmod") else None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_new_file(folder: Path, stem: str, suffix: str, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` as a new file in ``folder`` named ``stem + suffix`` (or ``stem-2 + suffix``...), never
    overwriting an existing file, atomically (temporary file, then a hard link that fails if the name exists)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode) if hasattr(os, "fchmod") else None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        for n in range(1, 100000):
            target = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            return target
        raise FileExistsError(f"no free file name for {stem}{suffix} in {folder}")
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
