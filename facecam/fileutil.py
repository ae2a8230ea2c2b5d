"""Small file helpers: atomic writes with chosen permissions, unique names."""

from __future__ import annotations

import hashlib
import os
import time
import tempfile
from pathlib import Path


def _write_temporary(folder: Path, prefix: str, data: bytes, mode: int) -> str:
    """Write ``data`` to a new temporary file in ``folder`` (created with ``mode``), flushed to disk."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of it.

    The bytes go to a temporary file in the same folder (created with ``mode``),
    are flushed to disk, then renamed over ``path``. On any error the temporary
    file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temporary(path.parent, "." + path.name + ".", data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_new_file(folder: Path, stem: str, suffix: str, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` as a new file in ``folder`` named ``stem + suffix`` (or ``stem-2 + suffix``...), never
    overwriting an existing file, atomically (temporary file, then a hard link that fails if the name exists)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _write_temporary(folder, ".incoming-", data, mode)
    try:
        for n in range(1, 100000):
            target = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            return target
        raise FileExistsError(f"no free file name for {stem}{suffix} in {folder}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def sha256_of(path: str | os.PathLike) -> str:
    """The lower-case hex sha256 of the file at ``path``, read in 1 MB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def private_folder(folder: Path) -> Path:
    """``folder`` created if missing and made owner-only (0700) for the biometric data kept in it.

    A folder this user cannot chmod (another owner's) is left as it is: writing into it then fails
    with its own clear error.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(folder, 0o700)
    except OSError:
        pass
    return folder


def private_file(path: Path) -> Path:
    """``path`` created empty and owner-only (0600) if missing, made owner-only if not (SQLite then gives its
    -wal/-shm files the same mode)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)
    return path


def set_aside_damaged(path: Path) -> Path:
    """Move a file that cannot be read (and its SQLite -wal/-shm companions) to ``<name>.damaged-<time>``
    beside it, so a new one can start without destroying what might still be rescued; the new name."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside}{suffix}"))
    return aside


def use_wal(db, patience_s: float = 10.0) -> None:
    """Put the SQLite connection ``db``'s file in write-ahead-log mode. On a new file opened by two connections at
    once (a window and its retention sweep, two commands), SQLite answers "database is locked" to the second at
    once, without its busy wait: ask again for up to ``patience_s``."""
    import sqlite3  # noqa: PLC0415

    deadline = time.monotonic() + patience_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def scrub_sqlite(path: Path) -> bool:
    """Leave nothing deleted readable in the SQLite file at ``path`` (a forget, a retention purge): rebuild it
    (``VACUUM``, with ``secure_delete`` on: freed pages are zeroed first) and empty its write-ahead log into it
    (``wal_checkpoint(TRUNCATE)``: the ``-wal`` file, which holds earlier versions of pages, is cut to 0 bytes).
    False when the file is missing or busy (another process holds the log: it is scrubbed on a later call)."""
    import sqlite3  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        return False
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete = ON")
        db.execute("VACUUM")
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()
