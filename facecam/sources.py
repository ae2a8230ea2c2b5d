"""Video sources: a capture thread that keeps only the newest frame.

Qt-free; OpenCV's ``VideoCapture`` does the decoding. One :class:`VideoSource` per
camera, file or stream::

    source = open_source("0")                # camera 0; also 0, "clip.mp4", "rtsp://..."
    last = None
    while not source.done:
        frame = source.latest(after_seq=last, timeout=0.5)
        if frame is None:
            continue                         # nothing new yet (or done: the loop ends)
        last = frame.seq
        process(frame.bgr_frame, frame.t_source)
    if source.error:
        show(str(source.error))              # one line: what happened, what to do
    source.stop()

Practical advice:

* **Newest frame wins.** In realtime mode (cameras, streams, and files by default)
  the capture thread overwrites the single slot; a frame nobody took is counted in
  ``frames_dropped``. Video never waits for the models: the detector takes
  ``latest()`` when it is free, the painter takes ``latest()`` on every tick.
* Always pass ``after_seq`` (the last ``seq`` you handled): ``latest()`` then returns
  None instead of the same frame again, and with ``timeout`` it waits for a new one
  without spinning.
* Frames are shared between consumers and marked read-only; copy before drawing
  (``facecam.annotate`` returns a new image anyway).
* ``t_source`` is the source's own clock in seconds: the video position for files,
  ``time.monotonic()`` at capture for live sources. Feed it to the tracker.
* ``realtime=False`` (files only) delivers every frame in order: the reader waits
  until the consumer has taken the previous frame (a hand-off of size one). Use it for
  offline processing (``watch`` without ``--realtime``). Live sources are always
  realtime: a camera cannot be paused, and its driver would buffer stale frames.
* Opening happens on the capture thread, so :func:`open_source` never blocks on a
  camera or a dead stream. ``wait_opened(timeout)`` waits for the outcome. Missing files
  and malformed specs raise :class:`~facecam.errors.CameraError` at once; everything
  else ends up in ``error`` (the thread stops): a camera index that does not exist, an
  unreadable file, a stream that does not answer within ``open_timeout_s``, and a
  source that stops delivering frames.
* ``pause()`` / ``resume()`` hold a file where it is (the reader stops reading; the video
  goes on from the same frame, at its own pace, after ``resume``). Cameras and streams
  cannot be held: for them both do nothing (``paused`` stays False) and the consumer
  freezes its picture instead.
* To retry after an error (the GUI's Retry button): ``stop()`` and ``open_source()``
  again; a source is not restartable.
* ``stop()`` returns within its timeout even if the backend is stuck in ``read()``
  (the thread is a daemon and releases the capture when ``read()`` returns).
  Never release a ``cv2.VideoCapture`` from another thread while it reads.
* **Named once.** ``source.name`` (``open_source(spec, name=...)``: ``--source-name``, else "camera 0", a
  file's name, a stream's address without user, password and secret query parameters) is what the logs,
  stores, events, the window and messages get; the full address, password included, stays in ``spec`` and
  reaches only the backend. Error messages name the source by it too (``spec.describe()``, ``spec.scrub``).
* **A folder of snapshots** (``folder:/path``, or a folder's path): a doorbell or NVR drops a photo now and then;
  each new image file (JPEG, PNG, WebP, BMP) is a frame, taken in the order written (modification time, then
  name) once its size stops changing. The files already there when it opens are not frames, but for those of its
  last ``FRESH_S`` seconds (a ring at the door just before facecam started); a file that is not
  a photo is skipped, said once in ``warnings`` (and to ``on_warning``), never an error. Snapshots are handed
  over one by one (none is dropped, whatever ``realtime``); the folder never ends and never stalls (no file
  for hours is normal). :class:`FolderCapture` is its backend.
* **Skimming.** ``skim(every_s)`` asks for one frame each ``every_s`` seconds of the source's time, until
  ``skim(None)``: the frames between are grabbed (``grab()`` without ``retrieve()``: no colour conversion, no
  hand-off, and for a camera's MJPEG no decoding), never published, counted in ``frames_skimmed`` (the ``seq``
  of the frames published skips them). A file played in realtime keeps its pace (the frames it skims are grabbed
  at once, the reader waiting only for the time of each frame it publishes). For a consumer that needs
  only a few frames a second for a while: ``watch`` writing nothing while its pipeline dozes in an empty room.
  A backend without ``grab`` and ``retrieve`` is not skimmed (every frame is published). FFmpeg decodes a
  frame in ``grab()``, so for an MJPEG file or stream skimming alone saves only the colour conversion: a
  realtime source opened with ``open_source(..., skims=True)`` (its consumer will skim it) reads such a video
  as compressed packets instead (:class:`JpegPackets`: ``grab()`` decodes nothing, each published frame is
  decoded by ``cv2.imdecode``, as OpenCV's V4L2 backend decodes a USB camera's MJPEG), for its whole life.
* Tests and odd devices: pass ``backend=`` a factory ``(SourceSpec) -> capture`` whose
  result has ``read()``, ``get(prop)``, ``release()`` and ``isOpened()`` (and may have ``grab()`` and
  ``retrieve()``, for skimming).
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from facecam.errors import CameraError, ImageError
from facecam.images import read_image
from facecam.source_names import is_address, redact_url, scrub
from facecam.types import Frame

DEFAULT_FPS = 30.0
FOLDER_PREFIX = "folder:"
SNAPSHOT_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
FRESH_S = 10.0   # a snapshot folder's files this new when it opens are frames too
SKIP_AFTER_S = 2.0  # a snapshot that cannot be read and does not change for this long is skipped
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")

# Extra time the watchdog gives a backend beyond its own timeout before reporting.
_WATCHDOG_GRACE_S = 1.0
_FAILED_READ_PAUSE_S = 0.02


class Capture(Protocol):
    """What a backend factory returns (``cv2.VideoCapture`` fits)."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...

    def isOpened(self) -> bool: ...


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source: ``kind`` is "camera", "file", "stream" or "folder" (of snapshots); ``target`` the index,
    path or URL."""

    kind: str
    target: int | str
    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0

    @property
    def live(self) -> bool:
        """Cameras, streams and snapshot folders: they run on their own clock and cannot be paused."""
        return self.kind != "file"

    @property
    def name(self) -> str:
        """The source's display name (:func:`display_name`): "camera 0", a file's name, a stream's address
        without its user, password and query secrets."""
        return display_name(self)

    def describe(self) -> str:
        """How messages name the source: its display name with its kind (never a password)."""
        if self.kind == "camera":
            return self.name
        kinds = {"stream": "stream", "folder": "snapshot folder"}
        return f"{kinds.get(self.kind, 'video file')} {self.name}"

    def scrub(self, text: str) -> str:
        """``text`` (an error from a backend, a library's message) with this source's address replaced by its
        display name and any password or secret of it by ``***``."""
        return scrub(text, self.target if self.kind == "stream" else None)


BackendFactory = Callable[[SourceSpec], Capture]


class JpegPackets:
    """An MJPEG file or stream that FFmpeg reads, read as compressed packets (module notes, "Skimming"):
    ``grab()`` takes the next JPEG without decoding it (FFmpeg's raw mode, ``CAP_PROP_FORMAT = -1``),
    ``retrieve()`` decodes it with ``cv2.imdecode`` (libjpeg-turbo; EXIF orientation ignored, as FFmpeg does),
    ``read()`` both. FFmpeg's raw mode cannot be switched off again and its own decoder differs from
    libjpeg-turbo's by ~0.6 grey levels on average, so a source is read this way for its whole life or not
    at all. Build it with :meth:`wrap`."""

    FOURCCS = ("MJPG", "mjpe", "mjpg", "AVI1", "jpeg", "JPEG")   # FFmpeg's names for an MJPEG video

    def __init__(self, capture):
        self._capture = capture

    @classmethod
    def wrap(cls, capture):
        """``capture`` (an opened ``cv2.VideoCapture``) as packets when FFmpeg reads it and it is MJPEG, else
        ``capture`` as it is."""
        try:
            code = int(capture.get(cv2.CAP_PROP_FOURCC))
            fourcc = "".join(chr(code >> 8 * i & 0xFF) for i in range(4))
            if capture.getBackendName() != "FFMPEG" or fourcc not in cls.FOURCCS:
                return capture
            return cls(capture) if capture.set(cv2.CAP_PROP_FORMAT, -1) else capture
        except cv2.error:
            return capture

    def grab(self) -> bool:
        return self._capture.grab()

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        ok, packet = self._capture.retrieve()
        if not ok or packet is None or not packet.size:
            return False, None
        image = cv2.imdecode(packet, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        return image is not None, image

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.retrieve() if self.grab() else (False, None)

    def get(self, prop_id: int) -> float:
        return self._capture.get(prop_id)

    def isOpened(self) -> bool:
        return self._capture.isOpened()

    def release(self) -> None:
        self._capture.release()


RECONNECT_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)   # a lost camera or stream of several is opened again after these
#                                                   waits, then every last one (watch and the window's cameras)


def reconnect_delay(tries: int) -> float:
    """The wait before try ``tries`` (0: the first) to open a lost camera or stream again."""
    return RECONNECT_DELAYS_S[min(tries, len(RECONNECT_DELAYS_S) - 1)]


def unique_name(name: str, taken) -> str:
    """``name``, or ``name (2)``, ``name (3)``... when it is in ``taken`` already (the logs tell cameras apart)."""
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def display_name(spec_or_url: "SourceSpec | str | int | os.PathLike", source_name: str | None = None) -> str:
    """How a source is named wherever facecam shows, stores or sends it (the logs, events, the window, errors).

    ``source_name`` (``--source-name``) when given, else: "camera 0" for a camera index, a file's name
    ("door.mp4"), a stream's address without user, password and secret query parameters
    ("rtsp://cam.local:554/live?channel=1"). A stored name that still holds a password is cleaned the same way."""
    if source_name is not None and str(source_name).strip():
        return redact_url(str(source_name).strip())
    if isinstance(spec_or_url, SourceSpec):
        spec = spec_or_url
    else:
        try:
            spec = parse_source(spec_or_url)
        except CameraError:  # a file that is gone, a scheme facecam does not play: named as given, cleaned
            text = os.fspath(spec_or_url) if isinstance(spec_or_url, os.PathLike) else str(spec_or_url).strip()
            return redact_url(text) if is_address(text) else (Path(text).name or text)
    if spec.kind == "camera":
        return f"camera {spec.target}"
    if spec.kind in ("file", "folder"):
        return Path(str(spec.target)).name or str(spec.target)
    return redact_url(str(spec.target))


def parse_source(spec: str | int | os.PathLike, *, open_timeout_s: float = 5.0,
                 read_timeout_s: float = 5.0) -> SourceSpec:
    """Turn ``0``, ``"0"``, ``"clip.mp4"`` or ``"rtsp://..."`` into a :class:`SourceSpec`.

    Raises :class:`CameraError` for a malformed spec or a file that does not exist.
    """
    timeouts = {"open_timeout_s": float(open_timeout_s), "read_timeout_s": float(read_timeout_s)}
    if isinstance(spec, bool):
        raise CameraError(f"video source {spec!r} is not valid; give a camera number, a file or a URL")
    if isinstance(spec, (int, np.integer)):
        if spec < 0:
            raise CameraError(f"camera index {spec} is not valid; use 0 for the first camera")
        return SourceSpec("camera", int(spec), **timeouts)
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise CameraError("no video source given; give a camera number (0), a video file or a stream URL")
    text = spec.strip()
    if text.lower().startswith(FOLDER_PREFIX):
        folder = Path(text[len(FOLDER_PREFIX):]).expanduser()
        if not folder.is_dir():
            raise CameraError(f"snapshot folder not found: {folder}; check the path after {FOLDER_PREFIX}")
        return SourceSpec("folder", str(folder), **timeouts)
    if text.isdigit():
        return SourceSpec("camera", int(text), **timeouts)
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:
        name = scheme.group(1).lower()
        if name == "file":
            text = text[len("file://"):]
        elif name in STREAM_SCHEMES:
            return SourceSpec("stream", text, **timeouts)
        else:
            raise CameraError(
                f"stream address {redact_url(text)} uses an unsupported scheme {name}://; "
                f"use one of {', '.join(s + '://' for s in STREAM_SCHEMES[:6])}"
            )
    path = Path(text).expanduser()
    if not path.exists():
        raise CameraError(f"video file not found: {path}; check the path (or give a camera number such as 0)")
    if path.is_dir():
        return SourceSpec("folder", str(path), **timeouts)
    if not path.is_file():
        raise CameraError(f"{path} is not a video file; give a video file, a camera number, a stream URL or a folder of snapshots")
    return SourceSpec("file", str(path), **timeouts)


def quiet_opencv() -> None:
    """OpenCV's and FFmpeg's own lines on stderr (``[ WARN:0@0.1] ...``, ``[mjpeg @ 0x...] error y=11``) are not
    for facecam's users: facecam says what went wrong in one line of its own. Unless the user asks for them with
    OpenCV's variables (``OPENCV_LOG_LEVEL``, ``OPENCV_FFMPEG_LOGLEVEL``); FFmpeg's is read when OpenCV first
    opens a video with it, so this runs before any capture."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def opencv_capture(spec: SourceSpec) -> Capture:
    """The default backend: ``cv2.VideoCapture`` with open/read timeouts for streams."""
    if spec.kind == "folder":
        return FolderCapture(spec.target)
    quiet_opencv()
    if spec.kind == "camera":
        return cv2.VideoCapture(int(spec.target), cv2.CAP_ANY)
    if spec.kind == "stream":
        params = []
        for name, seconds in (("CAP_PROP_OPEN_TIMEOUT_MSEC", spec.open_timeout_s),
                              ("CAP_PROP_READ_TIMEOUT_MSEC", spec.read_timeout_s)):
            if hasattr(cv2, name):
                params += [getattr(cv2, name), int(seconds * 1000)]
        return cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG, params)
    return cv2.VideoCapture(str(spec.target), cv2.CAP_ANY)


class FolderCapture:
    """A folder of snapshots as a capture (see the module notes): ``read()`` returns the next new photo, waiting
    up to ``wait_s`` for one (``(False, None)`` when none came: not a failure). ``on_skip(message)`` hears of
    each file that is not a photo."""

    def __init__(self, folder: str | os.PathLike, *, poll_s: float = 0.1, wait_s: float = 0.25,
                 fresh_s: float = FRESH_S):
        self.folder = Path(folder)
        self.poll_s, self.wait_s = float(poll_s), float(wait_s)
        self.on_skip: Callable[[str], None] | None = None
        self._opened = self.folder.is_dir()
        old = time.time_ns() - int(fresh_s * 1e9)
        # name -> (size, mtime) when taken (or skipped); a file written again later is new again. Those already
        # there when opened are taken, but for the fresh ones
        self._done: dict[str, tuple[int, int]] = {name: seen for name, seen in self._snapshots().items()
                                                  if seen[1] < old} if self._opened else {}
        self._sizes: dict[str, tuple[int, int]] = {}  # (size, mtime) of the files not taken yet, at the last poll
        self._failed: dict[str, tuple] = {}  # unreadable so far: ((size, mtime), since when, the error)

    def isOpened(self) -> bool:
        return self._opened

    def get(self, prop_id: int) -> float:
        return 0.0     # no frame rate, no fixed size

    def release(self) -> None:
        """Closed: a file still unreadable is said to be skipped now."""
        self._opened = False
        failed, self._failed = self._failed, {}
        for _, _, error in failed.values():
            if self.on_skip is not None:
                self.on_skip(f"skipped snapshot {error}")

    def _snapshots(self) -> dict[str, tuple[int, int]]:
        """The folder's image files: name -> (size, modification time in ns); hidden and other files left out."""
        found = {}
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.name.lower().endswith(SNAPSHOT_SUFFIXES):
                        continue
                    try:
                        if entry.is_file():
                            info = entry.stat()
                            found[entry.name] = (info.st_size, info.st_mtime_ns)
                    except OSError:  # gone between the listing and the look
                        continue
        except OSError:
            return {}
        return found

    def _settled(self) -> list[tuple[str, tuple[int, int]]]:
        """New files whose size and time did not change since the last poll, oldest first (a file that could
        not be read is tried again once it changes: still being written; unchanged for ``SKIP_AFTER_S``, it is
        skipped, said once)."""
        now = self._snapshots()
        self._done = {name: seen for name, seen in self._done.items() if name in now}
        waiting = {name: seen for name, seen in now.items() if self._done.get(name) != seen}
        ready = []
        for name, seen in waiting.items():
            failed = self._failed.get(name)
            if failed is not None and failed[0] == seen:
                if time.monotonic() - failed[1] >= SKIP_AFTER_S:
                    self._done[name] = seen
                    del self._failed[name]
                    if self.on_skip is not None:
                        self.on_skip(f"skipped snapshot {failed[2]}")
                continue
            if seen[0] > 0 and self._sizes.get(name) == seen:
                ready.append((name, seen))
        self._sizes = waiting
        return sorted(ready, key=lambda item: (item[1][1], item[0]))

    def read(self) -> tuple[bool, np.ndarray | None]:
        deadline = time.monotonic() + self.wait_s
        while self._opened:
            for name, seen in self._settled():
                try:
                    image = read_image(self.folder / name)
                except ImageError as error:
                    self._failed[name] = (seen, time.monotonic(), error)
                    continue
                self._done[name] = seen
                self._failed.pop(name, None)
                return True, image
            if time.monotonic() >= deadline:
                break
            time.sleep(self.poll_s)
        return False, None


def _sane_fps(value) -> float:
    try:
        fps = float(value)
    except (TypeError, ValueError):
        return DEFAULT_FPS
    # Streams often report 0, 1000 or 90000 (a timebase, not a frame rate).
    return fps if math.isfinite(fps) and 1.0 <= fps <= 240.0 else DEFAULT_FPS


class VideoSource:
    """A capture thread and a one-frame slot. Build it with :func:`open_source`.

    State, all safe to read from any thread: ``opened``, ``running``, ``ended`` (a file
    reached its end: no error), ``error`` (a :class:`CameraError` or None), ``done``
    (no new frame will come), ``fps`` (the source's own rate, 30 if unknown),
    ``frame_size`` ``(w, h)`` once opened, ``frames_read``, ``frames_dropped``, ``frames_skimmed``; ``name``, the display name
    (:func:`display_name`: ``--source-name``, else the address without its secrets), the only way the source
    is named outside this object (the full address stays in ``spec``, given to the backend alone).
    """

    def __init__(
        self,
        spec: SourceSpec,
        *,
        realtime: bool = True,
        backend: BackendFactory | None = None,
        max_failed_reads: int = 10,
        stall_timeout_s: float | None = None,
        name: str | None = None,
        skims: bool = False,
    ) -> None:
        self.spec = spec
        self.name = display_name(spec, name)
        self.realtime = (bool(realtime) or spec.live) and spec.kind != "folder"  # snapshots: one by one
        self._packets = bool(skims) and self.realtime   # an MJPEG video read as packets (JpegPackets)
        self.warnings: list[str] = []       # files skipped (a snapshot folder), one line each
        self.on_warning: Callable[[str], None] | None = None
        self._backend = backend or opencv_capture
        self._max_failed_reads = max(int(max_failed_reads), 1)
        self._stall_timeout_s = (spec.read_timeout_s + _WATCHDOG_GRACE_S
                                 if stall_timeout_s is None else float(stall_timeout_s))
        self._cond = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._paused = False
        self._thread: threading.Thread | None = None
        self._frame: Frame | None = None
        self._taken = True
        self._frames_read = 0
        self._frames_dropped = 0
        self._frames_skimmed = 0
        self._skim_s: float | None = None   # skim(): publish one frame each this many source seconds
        self._fps = DEFAULT_FPS
        self._frame_size: tuple[int, int] | None = None
        self._opened = False
        self._open_finished = False
        self._ended = False
        self._error: CameraError | None = None
        self._started_at: float | None = None
        self._last_frame_at: float | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> "VideoSource":
        """Start the capture thread (opening happens there). Returns self."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError("VideoSource.start: already started; open a new source to retry")
            self._started_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name=f"facecam-capture {self.spec.describe()}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 1.0) -> bool:
        """Ask the thread to stop and join it for at most ``timeout`` seconds (:meth:`request_stop`
        then :meth:`join`).

        Returns True when the thread has finished. False means the backend is stuck
        in ``read()`` or open; the daemon thread exits (and releases the capture) as soon
        as that call returns. Safe to call twice, or before start.
        """
        self.request_stop()
        return self.join(timeout)

    def request_stop(self) -> None:
        """Ask the capture thread to stop; returns at once."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: until it ends) for the capture thread; True when it has ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(None if timeout is None else max(float(timeout), 0.0))
        return not thread.is_alive()

    def pause(self) -> bool:
        """Hold a file at its current frame (the reader waits); True when held, False for live sources."""
        if self.spec.live:
            return False
        with self._cond:
            self._paused = True
            self._cond.notify_all()
        return True

    def resume(self) -> None:
        """Go on reading after :meth:`pause` (from the frame after the one shown, at the file's pace)."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def skim(self, every_s: float | None) -> None:
        """From the next frame on, publish one frame each ``every_s`` seconds of the source's time and only grab
        the others (module notes, "Skimming"); None: every frame again. Any thread; cheap enough for every frame."""
        self._skim_s = None if every_s is None else max(float(every_s), 0.0)

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ consuming

    def latest(self, after_seq: int | None = None, timeout: float = 0.0) -> Frame | None:
        """The newest frame if it is newer than ``after_seq``, else None.

        Waits up to ``timeout`` seconds for one (0: never waits, right for a GUI
        timer). Returns None at once when the source is done and nothing newer is
        left. In ``realtime=False`` mode taking a frame lets the reader go on.
        """
        deadline = time.monotonic() + max(float(timeout), 0.0)
        with self._cond:
            while True:
                self._check_watchdogs()
                frame = self._frame
                if frame is not None and (after_seq is None or frame.seq > after_seq):
                    if not self._taken:
                        self._taken = True
                        self._cond.notify_all()
                    return frame
                if self._done_locked():
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.1))

    def wait_opened(self, timeout: float | None = None) -> bool:
        """Wait until opening succeeded (True) or failed or ``timeout`` passed (False).

        On False, ``error`` says why (None: still trying).
        """
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        with self._cond:
            while True:
                self._check_watchdogs()
                if self._opened:
                    return True
                if self._error is not None or self._open_finished or self._thread is None \
                        or self._stop.is_set():
                    return False
                remaining = 0.1 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))

    def check(self) -> None:
        """Raise ``error`` if the source failed."""
        error = self.error
        if error is not None:
            raise error

    # ------------------------------------------------------------------ state

    @property
    def error(self) -> CameraError | None:
        with self._cond:
            self._check_watchdogs()
            return self._error

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended

    @property
    def done(self) -> bool:
        """True when no new frame will come: ended, failed or stopped."""
        with self._cond:
            self._check_watchdogs()
            return self._done_locked()

    @property
    def opened(self) -> bool:
        with self._cond:
            return self._opened

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def fps(self) -> float:
        with self._cond:
            return self._fps

    @property
    def frame_size(self) -> tuple[int, int] | None:
        with self._cond:
            return self._frame_size

    @property
    def frames_read(self) -> int:
        with self._cond:
            return self._frames_read

    @property
    def frames_dropped(self) -> int:
        with self._cond:
            return self._frames_dropped

    @property
    def frames_skimmed(self) -> int:
        """Frames grabbed but neither decoded nor published (:meth:`skim`); also counted in ``frames_read``."""
        with self._cond:
            return self._frames_skimmed

    def __repr__(self) -> str:
        return (f"VideoSource({self.spec.describe()}, realtime={self.realtime}, read={self._frames_read}, "
                f"dropped={self._frames_dropped}, ended={self._ended}, error={self._error!s})")

    # ------------------------------------------------------------------ internals

    def _done_locked(self) -> bool:
        return self._ended or self._error is not None or self._stop.is_set() or (
            self._thread is not None and self._open_finished and not self._thread.is_alive())

    def _check_watchdogs(self) -> None:
        """Report a backend that hangs beyond its own timeouts (called with the lock held)."""
        if self._error is not None or self._ended or self._started_at is None or self._stop.is_set():
            return
        now = time.monotonic()
        if not self._open_finished:
            if now - self._started_at > self.spec.open_timeout_s + _WATCHDOG_GRACE_S:
                self._fail(self._open_error(timed_out=True))
        elif self.spec.live and self._opened and self._last_frame_at is not None:
            if now - self._last_frame_at > self._stall_timeout_s:
                self._fail(self._stopped_error())

    def _fail(self, error: CameraError) -> None:
        if self._error is None:
            self._error = error
        self._cond.notify_all()

    def _open_error(self, timed_out: bool = False) -> CameraError:
        spec = self.spec
        if spec.kind == "camera":
            return CameraError(
                f"camera {spec.target} could not be opened{' in time' if timed_out else ''}; check it is "
                f"connected and not used by another app, or choose another camera number"
            )
        if spec.kind == "folder":
            return CameraError(f"{spec.describe()} cannot be read; check that the folder exists and is readable")
        if spec.kind == "stream":
            return CameraError(
                f"{spec.describe()} did not answer (waited up to {spec.open_timeout_s:g} s) or refused; "
                f"check the address, the network and that the camera is on"
            )
        return CameraError(
            f"{spec.describe()} could not be read (damaged or unsupported format); "
            f"convert it to MP4 or AVI and try again"
        )

    def _stopped_error(self) -> CameraError:
        what = ("stream stopped delivering frames; check the network" if self.spec.kind == "stream"
                else "camera stopped delivering frames; check the cable")
        return CameraError(f"{what} and press Retry", cli=f"{what} and run the command again")

    def _run(self) -> None:
        capture = None
        try:
            capture = self._backend(self.spec)
            if hasattr(capture, "on_skip"):
                capture.on_skip = self._warn
            opened = capture is not None and bool(capture.isOpened())
            if opened and self._packets and isinstance(capture, cv2.VideoCapture):
                capture = JpegPackets.wrap(capture)
            with self._cond:
                self._open_finished = True
                if self._stop.is_set() or self._error is not None:
                    return
                if not opened:
                    self._fail(self._open_error())
                    return
                self._fps = _sane_fps(capture.get(cv2.CAP_PROP_FPS))
                w, h = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
                if w and h and w > 0 and h > 0:
                    self._frame_size = (int(w), int(h))
                self._opened = True
                self._last_frame_at = time.monotonic()
                self._cond.notify_all()
            self._read_loop(capture)
        except Exception as exc:  # noqa: BLE001 - a backend that raises must not kill the thread silently
            with self._cond:
                self._open_finished = True
                what = f"{self.spec.describe()} failed: {self.spec.scrub(str(exc))}"
                self._fail(CameraError(f"{what}; press Retry or choose another source",
                                       cli=f"{what}; run the command again or give another --source"))
        finally:
            if capture is not None:
                try:
                    capture.release()
                except Exception:  # noqa: BLE001 - releasing a broken backend must not hide its error
                    pass
            with self._cond:
                self._open_finished = True
                self._cond.notify_all()

    def _read_loop(self, capture: Capture) -> None:
        live = self.spec.live
        paced = not live and self.realtime
        failures = 0
        seq = 0
        t_prev = -math.inf
        can_skim = callable(getattr(capture, "grab", None)) and callable(getattr(capture, "retrieve", None))
        t_published = -math.inf
        anchor: float | None = None  # wall time of video time 0, for realtime pacing of files
        while not self._stop.is_set():
            if self._wait_while_paused():
                anchor = None  # held: the video goes on from here, not in a burst to catch up
            if self._stop.is_set():
                return
            every_s = self._skim_s if can_skim else None
            ok, image = (capture.grab(), None) if every_s is not None else capture.read()
            if self._stop.is_set() or self._error is not None:
                return
            if not ok or (image is None and every_s is None):
                if self.spec.kind == "folder":  # no new snapshot yet (the capture waited a moment)
                    with self._cond:
                        self._last_frame_at = time.monotonic()
                    continue
                if not live:
                    with self._cond:
                        if seq == 0:
                            self._fail(CameraError(
                                f"{self.spec.describe()} contains no frames OpenCV can decode; "
                                f"convert it to MP4 or AVI and try again"))
                        else:
                            self._ended = True
                        self._cond.notify_all()
                    return
                failures += 1
                if failures >= self._max_failed_reads:
                    with self._cond:
                        self._fail(self._stopped_error())
                    return
                self._stop.wait(_FAILED_READ_PAUSE_S)
                continue
            failures = 0
            seq += 1
            now = time.monotonic()
            if live:
                t_source = now
            else:
                t_source = self._file_time(capture, seq, t_prev)
            t_prev = t_source
            skimmed = every_s is not None and t_source - t_published < every_s - 0.5 / self._fps
            if every_s is not None and not skimmed:
                ok, image = capture.retrieve()   # the grabbed frame is wanted: decode and convert it
                if not ok or image is None:
                    skimmed = True
            if not skimmed:
                t_published = t_source
                image = np.asarray(image)
                image.flags.writeable = False
            with self._cond:
                self._frames_read += 1
                self._frames_skimmed += int(skimmed)
                self._last_frame_at = now
            if paced and not skimmed:   # (a skimmed frame is not waited for: the next one published is, at its time)
                if anchor is None or now - (anchor + t_source) > 1.0:
                    anchor = now - t_source  # start, or far behind: re-anchor instead of bursting
                delay = anchor + t_source - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            if skimmed:
                continue
            if not self._publish(Frame(seq, t_source, image)):
                return

    def _warn(self, message: str) -> None:
        with self._cond:
            self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    def _wait_while_paused(self) -> bool:
        """Block while paused (files only); True if it waited."""
        with self._cond:
            if not self._paused:
                return False
            while self._paused and not self._stop.is_set():
                self._cond.wait(0.1)
            return True

    def _file_time(self, capture: Capture, seq: int, t_prev: float) -> float:
        # The container's timestamp when it is sane (variable frame rate files), else index / fps.
        fallback = (seq - 1) / self._fps
        try:
            pos = float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        except Exception:  # noqa: BLE001 - a backend without a position: count frames instead
            return fallback if fallback > t_prev else t_prev + 1.0 / self._fps
        if math.isfinite(pos) and pos > t_prev and (seq == 1 or pos > 0):
            return pos
        return fallback if fallback > t_prev else t_prev + 1.0 / self._fps

    def _publish(self, frame: Frame) -> bool:
        with self._cond:
            if not self.realtime:
                # Hand-off of size one: wait until the consumer took the previous frame.
                while self._frame is not None and not self._taken:
                    if self._stop.is_set():
                        return False
                    self._cond.wait(0.1)
            elif self._frame is not None and not self._taken:
                self._frames_dropped += 1
            self._frame = frame
            self._taken = False
            self._cond.notify_all()
            return not self._stop.is_set()


def open_source(
    spec: str | int | os.PathLike,
    *,
    realtime: bool = True,
    backend: BackendFactory | None = None,
    open_timeout_s: float = 5.0,
    read_timeout_s: float = 5.0,
    max_failed_reads: int = 10,
    start: bool = True,
    name: str | None = None,
    skims: bool = False,
) -> VideoSource:
    """Open a camera index (``0``, ``"0"``), a video file or a stream URL; start capturing.

    Returns at once: opening runs on the capture thread (see :meth:`VideoSource.wait_opened`).
    Raises :class:`CameraError` only for a malformed spec or a missing file.

    * ``realtime`` - files play at their own frame rate, dropping frames the consumer
      did not take (like a camera). ``False``: every frame, in order, at the
      consumer's pace (files only; live sources are always realtime).
    * ``open_timeout_s`` / ``read_timeout_s`` - given to OpenCV for streams
      (``CAP_PROP_OPEN_TIMEOUT_MSEC`` / ``CAP_PROP_READ_TIMEOUT_MSEC``); a watchdog
      reports an error one second later if the backend ignores them.
    * ``max_failed_reads`` - consecutive failed reads of a live source before it is
      reported as stopped (about 20 ms apart).
    * ``backend`` - capture factory (see module notes), for tests and special devices.
    * ``name`` - the source's name (``--source-name``); the returned source's ``name`` is it, else the
      display name of ``spec`` (:func:`display_name`). Pass ``source.name``, never ``spec``, to whatever
      logs, stores, sends or shows the source.
    * ``skims`` - the consumer will :meth:`~VideoSource.skim` this source: a realtime MJPEG file or stream is
      then read as compressed packets, decoded only when published (module notes, "Skimming").
    """
    parsed = parse_source(spec, open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s)
    source = VideoSource(parsed, realtime=realtime, backend=backend, max_failed_reads=max_failed_reads, name=name,
                         skims=skims)
    if start:
        source.start()
    return source
