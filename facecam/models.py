"""Model files: where they live, how they are downloaded (with progress and resume), how they are checked.

Downloaded model files live in one folder, chosen in this order:

1. an explicit argument (the command line's ``--model-dir``),
2. the environment variable ``FACECAM_MODEL_DIR``,
3. the user cache: ``platformdirs.user_cache_dir("facecam") / "models"``.

Some files also ship inside the package (``facecam/data/models``: SFace and
YuNet, so the first run works offline). A valid copy in the model folder wins,
else the built-in copy is used, else the file is downloaded (see
:func:`ensure_model_file`). Which files exist is :mod:`facecam.registry`'s table.

Downloads use only the standard library (urllib). A download is written to
``<name>.part`` next to its destination and resumed from there with an HTTP
``Range`` request the next time, so an interrupted or cancelled download of the
580 MB VGG-Face weights does not start over. Only once the size and checksum are
right is the ``.part`` renamed into place (``os.replace``, atomic), so a file
with the final name is always complete.

Verification and its cost: a file is checked against the size and sha256 its
:class:`ModelFile` knows. The sha256 is only computed when one is known (SFace,
38 MB; the VGG-Face weights publish none, so they get a size/format check here
and their layout is validated by the embedder when loaded). Each result is
remembered in memory keyed by (path, size, mtime, inode, expected digest), so a
file is hashed at most once per process unless it changes on disk.

Nothing here imports TensorFlow or Qt, and nothing happens at import time.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

from facecam.errors import DownloadError, ModelError
from facecam.fileutil import sha256_of

__all__ = [
    "ModelFile", "DownloadCancelled", "BUILTIN_DIR", "builtin_path",
    "model_dir", "download", "sha256_of", "verify_file",
    "ensure_model_file", "file_status", "ENV_MODEL_DIR",
]

ENV_MODEL_DIR = "FACECAM_MODEL_DIR"
CHUNK_SIZE = 64 * 1024          # bytes read from the network (and the cancel check interval)
USER_AGENT = "facecam-model-download/1"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
BUILTIN_DIR = Path(__file__).resolve().parent / "data" / "models"  # model files shipped in the package

ProgressCallback = Callable[[int, Union[int, None]], None]


class DownloadCancelled(DownloadError):
    """The download was cancelled on request; the ``.part`` file is kept so it can be resumed."""


@dataclass(frozen=True)
class ModelFile:
    """One model file facecam can use: its registry key, file name, download address and checks.

    ``sha256`` (lower-case hex) and ``size`` (bytes) are None when not published.
    ``builtin``: a copy ships inside the package (``facecam/data/models``), so no download is needed.
    The files themselves are listed in :mod:`facecam.registry`.
    """

    key: str
    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    builtin: bool = False

    def __post_init__(self) -> None:
        if not self.filename or Path(self.filename).name != self.filename or self.filename in (".", ".."):
            raise ValueError(f"filename: expected a bare file name, got {self.filename!r}")
        if self.sha256 is not None:
            if not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
                raise ValueError(f"sha256: expected 64 hex digits, got {self.sha256!r}")
            object.__setattr__(self, "sha256", self.sha256.lower())
        if self.size is not None and (not isinstance(self.size, int) or self.size <= 0):
            raise ValueError(f"size: expected a positive number of bytes, got {self.size!r}")


def builtin_path(spec: ModelFile) -> Path | None:
    """The copy of ``spec``'s file shipped inside the facecam package, or None when it ships none."""
    if not spec.builtin:
        return None
    path = BUILTIN_DIR / spec.filename
    return path if path.is_file() else None


# --------------------------------------------------------------------------- where

def model_dir(override: str | os.PathLike | None = None) -> Path:
    """The model folder: ``override``, else ``$FACECAM_MODEL_DIR``, else the user cache.

    ``~`` is expanded. The folder is not created here (see :func:`ensure_model_file`).
    """
    if override is not None and str(override).strip():
        return Path(override).expanduser()
    env = os.environ.get(ENV_MODEL_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs  # noqa: PLC0415 - only when actually needed

    return Path(platformdirs.user_cache_dir("facecam")) / "models"


# --------------------------------------------------------------------------- checks

_verify_cache: dict[tuple, str | None] = {}
_verify_lock = threading.Lock()


def looks_like_hdf5(path: Path, size: int) -> bool:
    """Whether the file at ``path`` (``size`` bytes) has an HDF5 signature where the format puts it: at
    offset 0, or 512, 1024, 2048... when a user block precedes it (OSError if it cannot be read)."""
    with open(path, "rb") as f:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size and offset <= 1 << 20:
            f.seek(offset)
            if f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _check(path: Path, st: os.stat_result, spec: ModelFile) -> str | None:
    if spec.size is not None and st.st_size != spec.size:
        return f"size {st.st_size} bytes, expected {spec.size}"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    if spec.sha256 is not None:
        if sha256_of(path) != spec.sha256:
            return "sha256 mismatch"
    elif spec.filename.lower().endswith(".h5") and not looks_like_hdf5(path, st.st_size):
        return "not an HDF5 file (perhaps an error page was saved instead)"
    return None


def verify_file(path: str | os.PathLike, spec: ModelFile) -> str | None:
    """None if the file at ``path`` passes ``spec``'s checks, else a one-line reason.

    Checks, cheapest first: it is a regular file; its size (when known; otherwise
    not empty); its sha256 when known, else for ``.h5`` files the HDF5 signature.
    Results are cached in memory by (path, size, mtime, inode, expected sha256), so
    an unchanged file is hashed once per process.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if not path.is_file():
        return "not a regular file"
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, spec.size, spec.sha256, spec.filename)
    with _verify_lock:
        if key in _verify_cache:
            return _verify_cache[key]
    try:
        reason = _check(path, st, spec)
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"  # not cached: may be transient
    with _verify_lock:
        _verify_cache[key] = reason
    return reason


# --------------------------------------------------------------------------- download

def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _is_local_host(host: str | None) -> bool:
    return bool(host) and host.lower().rstrip(".") in _LOCAL_HOSTS


def _check_url(url: str, name: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host:
        raise DownloadError(f"refusing to download {name} from {url!r}: not a valid https:// address")
    if scheme == "https" or (scheme == "http" and _is_local_host(host)):
        return parts
    raise DownloadError(
        f"refusing to download {name} from {url}: only https:// addresses are allowed "
        f"(plain http only for 127.0.0.1/localhost); use the https address")


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to addresses that :func:`_check_url` allows (no https -> http downgrade)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _check_url(urllib.parse.urljoin(req.full_url, newurl), self._name)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(parts: urllib.parse.SplitResult, name: str) -> urllib.request.OpenerDirector:
    handlers: list = [_SafeRedirects(name)]
    if _is_local_host(parts.hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic to a proxy
    return urllib.request.build_opener(*handlers)


def _is_cancelled(cancel) -> bool:
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set() if is_set is not None else cancel())


def _network_reason(exc: BaseException) -> str:
    """A short description of a network failure."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        if isinstance(exc.reason, BaseException):
            return _network_reason(exc.reason)
        return _one_line(exc.reason)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server down or the address wrong?)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return "host not found (are you offline?)"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "connection reset by the server"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection closed early"
    if isinstance(exc, ssl.SSLError):
        return f"secure connection failed ({_one_line(exc.reason or exc)})"
    if isinstance(exc, http.client.HTTPException):
        return f"bad answer from the server ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return _one_line(exc.strerror)
    return _one_line(exc) or type(exc).__name__


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` from a Content-Range header; either may be None."""
    m = _CONTENT_RANGE.match((value or "").strip())
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(3)) if m.group(3) != "*" else None
    return start, total


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None,
             expected_size: int | None = None, progress: ProgressCallback | None = None,
             timeout: float = 30, cancel=None) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part`` if there is one) and return ``dest``.

    * Only ``https://`` addresses are accepted (``http://`` only for 127.0.0.1 and
      localhost, for tests); redirects are held to the same rule.
    * Bytes go to ``<dest>.part``; an existing ``.part`` is resumed with a ``Range``
      request. A server that answers 200 instead of 206 is downloaded from the
      start; a 416 means the ``.part`` is already complete (checked) or stale (restarted).
    * ``progress(done_bytes, total_bytes_or_None)`` is called after each piece.
    * ``cancel`` is a ``threading.Event`` or a callable returning True to stop; it is
      checked between pieces and raises :class:`DownloadCancelled`, keeping the ``.part``.
    * ``timeout`` (seconds) applies to connecting and to each read.
    * The size (``expected_size``) and ``sha256`` are checked, then the file is made
      ``0o644`` and renamed into place atomically. A wrong checksum or size deletes
      the ``.part``.

    Every failure is a :class:`DownloadError` with a one-line message.
    """
    dest = Path(dest)
    name = dest.name
    parts = _check_url(url, name)
    part = dest.with_name(dest.name + ".part")
    if sha256 is not None:
        sha256 = sha256.lower()

    def fail(reason: str, hint: str | None = None) -> DownloadError:
        hint = hint or f"check the network and try again, or download it by hand and save it as {dest}"
        return DownloadError(f"could not download {name} from {url}: {reason}; {hint}")

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the folder {dest.parent} for {name}: "
                            f"{_one_line(exc.strerror or exc)}; choose another folder with --model-dir") from None

    opener = _opener(parts, name)
    complete = False
    for _attempt in range(3):  # at most: resume refused (416 stale) -> fresh start
        offset = part.stat().st_size if part.is_file() else 0
        if expected_size is not None and offset > expected_size:
            part.unlink(missing_ok=True)
            offset = 0
        if _is_cancelled(cancel):
            raise DownloadCancelled(f"download of {name} cancelled after {offset} bytes; "
                                    f"run it again to resume")
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                if exc.code == 416 and offset:
                    _, total = _parse_content_range(exc.headers.get("Content-Range"))
                    if total is not None and total == offset:
                        complete = True  # the .part already holds every byte: go and check it
                        break
                    part.unlink(missing_ok=True)         # stale .part (file changed or shrank): start afresh
                    continue
                reason = f"HTTP {exc.code}" + (f" {_one_line(exc.reason)}" if exc.reason else "")
            raise fail(reason, f"download it by hand, save it as {dest}, or pass --weights PATH") from None
        except DownloadError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise fail(_network_reason(exc)) from None

        with response:
            status = response.status
            length = response.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            if status == 206:
                start, total = _parse_content_range(response.headers.get("Content-Range"))
                if start is None:
                    start = offset
                if start == 0:
                    offset = 0
                elif start != offset:
                    part.unlink(missing_ok=True)
                    raise fail(f"the server resumed at byte {start} instead of {offset}",
                               "the partial download was deleted; try again")
                if total is None and length is not None:
                    total = offset + length
            elif status == 200:
                offset = 0  # no resume support (or no Range sent): start from the beginning
                total = length
            else:
                raise fail(f"unexpected HTTP {status}",
                           f"download it by hand, save it as {dest}, or pass --weights PATH")
            if expected_size is not None and total is not None and total != expected_size:
                part.unlink(missing_ok=True)
                raise fail(f"the server offers {total} bytes, expected {expected_size}",
                           f"download it by hand, save it as {dest}, or pass --weights PATH")

            done = offset
            try:
                out = open(part, "r+b" if offset else "wb")
            except OSError as exc:
                raise DownloadError(f"cannot write {part}: {_one_line(exc.strerror or exc)}; "
                                    f"free some space or choose another folder with --model-dir") from None
            with out:
                out.truncate(offset)
                out.seek(offset)
                if progress is not None:
                    progress(done, total)
                while True:
                    if _is_cancelled(cancel):
                        raise DownloadCancelled(f"download of {name} cancelled after {done} bytes; "
                                                f"run it again to resume")
                    try:
                        chunk = response.read(CHUNK_SIZE)
                    except (OSError, http.client.HTTPException, ValueError) as exc:
                        raise fail(f"{_network_reason(exc)} after {done} of {total or '?'} bytes",
                                   "run it again to resume the download") from None
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise DownloadError(f"cannot write {part}: {_one_line(exc.strerror or exc)}; "
                                            f"free some space and run it again to resume") from None
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise DownloadError(f"cannot write {part}: {_one_line(exc.strerror or exc)}; "
                                        f"free some space and run it again") from None
            if total is not None and done < total:
                raise fail(f"connection closed after {done} of {total} bytes",
                           "run it again to resume the download")
            complete = True
            break
    if not complete:
        raise fail("the server keeps refusing to resume", "delete the .part file and try again")

    size = part.stat().st_size
    if expected_size is not None and size < expected_size:  # server sent no length and stopped short
        raise fail(f"connection closed after {size} of {expected_size} bytes", "run it again to resume the download")
    if expected_size is not None and size != expected_size:
        part.unlink(missing_ok=True)
        raise DownloadError(f"downloaded {name} is corrupt (size {size} bytes, expected {expected_size}) "
                            f"and was deleted; try again")
    if sha256 is not None and sha256_of(part) != sha256:
        part.unlink(missing_ok=True)
        raise DownloadError(f"downloaded {name} is corrupt (sha256 mismatch) and was deleted; try again")
    try:
        os.chmod(part, 0o644)
        os.replace(part, dest)
    except OSError as exc:
        raise DownloadError(f"cannot move {part} to {dest}: {_one_line(exc.strerror or exc)}; "
                            f"check the folder's permissions and try again") from None
    return dest


# --------------------------------------------------------------------------- ensure / status

def _usable_builtin(spec: ModelFile) -> Path | None:
    path = builtin_path(spec)
    return path if path is not None and verify_file(path, spec) is None else None


def ensure_model_file(spec: ModelFile, directory: str | os.PathLike | None = None, *,
                      allow_download: bool = True, progress: ProgressCallback | None = None,
                      cancel=None) -> Path:
    """The path of ``spec``'s file: a valid copy in the model folder, else the built-in copy, else a download.

    * in the model folder and valid (see :func:`verify_file`): returned as is, no network;
    * else the copy shipped in the package (``spec.builtin``), when it passes the same checks;
    * missing: downloaded into the model folder (``allow_download``), else :class:`ModelError`
      saying where to put it and where to get it;
    * present but invalid (and nothing built in): :class:`ModelError` saying to delete it and
      download again.
    """
    folder = model_dir(directory)
    path = folder / spec.filename
    reason = verify_file(path, spec) if path.exists() else None
    if path.exists() and reason is None:
        return path
    builtin = _usable_builtin(spec)
    if builtin is not None:
        return builtin
    if reason is not None:
        raise ModelError(f"{path} is not a valid {spec.key} model file ({reason}); delete it and run again "
                         f"to download it afresh, or download it by hand from {spec.url}")
    if not allow_download:
        raise ModelError(f"{spec.key} model file {spec.filename} not found in {folder}; download it from "
                         f"{spec.url} and save it there, or point --model-dir at the folder that holds it")
    download(spec.url, path, sha256=spec.sha256, expected_size=spec.size, progress=progress, cancel=cancel)
    reason = verify_file(path, spec)
    if reason is not None:
        Path(path).unlink(missing_ok=True)
        raise DownloadError(f"downloaded {spec.filename} is corrupt ({reason}) and was deleted; try again")
    return path


def file_status(spec: ModelFile, directory: str | os.PathLike | None = None,
                chosen: tuple[Path, str] | None = None) -> dict:
    """Where ``spec``'s file would be taken from, for ``facecam models`` (never downloads).

    ``chosen``: ``(path, where)`` of a file the user named (``--weights``, an environment
    variable); it is then the one reported. Keys: ``key``, ``filename``, ``url``, ``path`` (the
    file that would be used, else the model folder's path), ``source`` ("model folder",
    "built-in", the ``where`` of ``chosen``, or None when there is none), ``present`` (the model
    folder has the file), ``valid`` (the file at ``path`` passes the checks; None when absent),
    ``reason`` (None when valid, else why not), ``builtin`` (the built-in copy's path, or None).
    """
    folder_path = model_dir(directory) / spec.filename
    builtin = builtin_path(spec)
    row = {"key": spec.key, "filename": spec.filename, "url": spec.url, "present": folder_path.exists(),
           "builtin": str(builtin) if builtin else None}
    if chosen is not None:
        path, where = chosen
        reason = verify_file(path, spec) if Path(path).exists() else "file not found"
        return {**row, "path": str(path), "source": where, "valid": reason is None, "reason": reason}
    reason = verify_file(folder_path, spec) if row["present"] else None
    if row["present"] and reason is None:
        return {**row, "path": str(folder_path), "source": "model folder", "valid": True, "reason": None}
    if _usable_builtin(spec) is not None:
        return {**row, "path": str(builtin), "source": "built-in", "valid": True, "reason": None}
    if reason is not None:
        return {**row, "path": str(folder_path), "source": "model folder", "valid": False, "reason": reason}
    part = folder_path.with_name(folder_path.name + ".part")
    missing = "not downloaded" + (f" (partial download: {part.stat().st_size} bytes)" if part.is_file() else "")
    return {**row, "path": str(folder_path), "source": None, "valid": None, "reason": missing}
