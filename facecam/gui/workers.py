"""The threads behind the window, and the Qt signals that bring their news to the GUI thread.

Who runs where::

    GUI thread            display timer: newest frame -> labels_at(t) -> annotate -> paint
    facecam-capture       VideoSource: reads the camera/file/stream, keeps the newest frame
    facecam-recognition   LivePipeline: detect, track, embed, match the newest submitted frame
    facecam-gallery-*     first indexing of known_faces (with progress), then GalleryWatcher
    facecam-model-loader  builds the detector and the embedder (downloads VGG-Face first if needed)
    facecam-<task>        short jobs: detection for Enroll, saving photos, removing a person

Rule: a callback that runs on a worker thread never touches a widget. It emits a
signal of a QObject that lives on the GUI thread (the "bridge"); the connection is
queued, so the slot runs on the GUI thread. Every thread is a daemon named
``facecam-...``, so closing the window can find and join them (:func:`join_threads`),
and one that cannot be interrupted (TensorFlow loading a model) is simply abandoned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PyQt5.QtCore import QObject, Qt, pyqtSignal, pyqtSlot

from facecam.errors import FacecamError

THREAD_PREFIX = "facecam-"
LOADER_THREAD = "facecam-model-loader"
THUMBNAIL_PX = 64


# ---------------------------------------------------------------- short tasks

class Task(QObject):
    """Run ``fn()`` on a daemon thread ``facecam-<name>``; ``on_done(result)`` or ``on_failed(error)``
    then run on the GUI thread. Create it on the GUI thread; it keeps itself alive until it reports."""

    _finished = pyqtSignal(bool, object)
    _alive: set["Task"] = set()

    def __init__(self, name: str, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                 on_failed: Callable[[BaseException], None] | None = None):
        super().__init__()
        self.name = name
        self._fn = fn
        self._on_done = on_done
        self._on_failed = on_failed
        self._finished.connect(self._report, Qt.QueuedConnection)
        self.thread = threading.Thread(target=self._run, name=THREAD_PREFIX + name, daemon=True)

    def start(self) -> "Task":
        Task._alive.add(self)
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            result = self._fn()
        except BaseException as error:  # noqa: BLE001 - reported on the GUI thread
            self._finished.emit(False, error)
        else:
            self._finished.emit(True, result)

    @pyqtSlot(bool, object)
    def _report(self, ok: bool, value: object) -> None:
        Task._alive.discard(self)
        callback = self._on_done if ok else self._on_failed
        if callback is not None:
            callback(value)


def run_task(name: str, fn: Callable[[], Any], on_done=None, on_failed=None) -> Task:
    """Start ``fn`` on a worker thread (see :class:`Task`)."""
    return Task(name, fn, on_done, on_failed).start()


def facecam_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX) and t.is_alive()]


def join_threads(deadline: float, abandon: tuple[str, ...] = (LOADER_THREAD,)) -> list[str]:
    """Join every ``facecam-*`` thread until ``deadline`` (time.monotonic); returns the names still alive.

    Threads named in ``abandon`` are not waited for (daemon threads that cannot be interrupted).
    """
    for thread in facecam_threads():
        if thread.name in abandon or thread is threading.current_thread():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in facecam_threads() if t.name not in abandon]


# ---------------------------------------------------------------- model loading

def build_recognizer(model: str, weights=None, model_dir=None, *, threshold: float | None = None,
                     min_face_size: int = 40, detector: str | None = None, progress=None, cancel=None):
    """Build the detector (``detector``: a registry key, default MTCNN) and the embedder (downloading the
    model file first if needed). Slow: worker thread."""
    from facecam.detector import DetectorOptions  # noqa: PLC0415
    from facecam.recognizer import build_recognizer as build  # noqa: PLC0415

    return build(model, weights, model_dir, threshold=threshold, detector=detector,
                 detector_options=DetectorOptions(min_face_size=min_face_size), progress=progress, cancel=cancel)


_gc_lock = threading.Lock()
_gc_pauses = 0


def freeze_survivors() -> None:
    """Move every object alive now into the permanent generation (``gc.freeze``), so later full
    collections skip them. With TensorFlow and the models loaded (~400,000 objects) one full
    collection otherwise holds the GIL for about 370 ms (measured, 2 loaded CPUs), freezing the
    GUI thread; after the freeze it takes microseconds."""
    gc.freeze()


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection while a model loads, then the survivors frozen.

    Importing TensorFlow and building the models creates millions of objects; each full
    collection then holds the GIL for 100-200 ms (measured: bench/bench_gui.py), which
    freezes the GUI thread as surely as running on it. ``gc.freeze()`` afterwards moves
    everything alive into the permanent generation, so later collections skip it.
    """
    global _gc_pauses
    with _gc_lock:
        _gc_pauses += 1
        if _gc_pauses == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                freeze_survivors()
                gc.enable()


class ModelLoader(QObject):
    """Builds a Recognizer on the daemon thread ``facecam-model-loader``.

    Signals (GUI thread): ``progress(done_bytes, total_or_None)`` while downloading,
    ``ready(recognizer)``, ``failed(error)``. ``cancel_download()`` stops a download;
    ``abandon()`` also drops the result of a load that cannot be interrupted.
    """

    progress = pyqtSignal(object, object)
    ready = pyqtSignal(object)
    failed = pyqtSignal(object)

    def __init__(self, build: Callable[..., Any] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.build = build or build_recognizer
        self._cancel: threading.Event | None = None
        self._generation = 0
        self.model: str | None = None

    @property
    def busy(self) -> bool:
        """True while a load started here has not reported yet."""
        return self._cancel is not None

    def start(self, model: str, weights=None, model_dir=None, **options) -> None:
        self.abandon()
        self._generation += 1
        generation, cancel = self._generation, threading.Event()
        self._cancel, self.model = cancel, model

        last = [0.0]

        def progress(done, total):  # called per 64 KB: at most ~10 signals a second reach the GUI
            now = time.monotonic()
            if not cancel.is_set() and (now - last[0] >= 0.1 or (total and done >= total)):
                last[0] = now
                self.progress.emit(done, total)

        def work():
            try:
                with gc_paused():
                    recognizer = self.build(model, weights, model_dir, progress=progress, cancel=cancel, **options)
            except BaseException as error:  # noqa: BLE001 - shown in the window
                if generation == self._generation:
                    self._cancel = None
                    self.failed.emit(error)
                return
            if generation == self._generation:
                self._cancel = None
                self.ready.emit(recognizer)

        threading.Thread(target=work, name=LOADER_THREAD, daemon=True).start()

    def cancel_download(self) -> None:
        """The user's Cancel: a download in progress stops (``failed`` reports DownloadCancelled)."""
        cancel = self._cancel
        if cancel is not None:
            cancel.set()

    def abandon(self) -> None:
        """Stop a download and ignore whatever the loader produces (closing the window, loading another model)."""
        cancel, self._cancel = self._cancel, None
        if cancel is not None:
            cancel.set()
        self._generation += 1


# ---------------------------------------------------------------- gallery

@dataclass(frozen=True)
class Person:
    name: str
    photos: tuple[str, ...]
    thumbnail: np.ndarray | None  # BGR, THUMBNAIL_PX square
    consent: dict | None = None   # who agreed to the enrolment and when (facecam.consent), None: not recorded

    @property
    def learned(self) -> int:
        """How many of ``photos`` are crops learned with --learn (``.learned/``), not the user's photos."""
        from facecam.gallery import is_learned  # noqa: PLC0415

        return sum(1 for path in self.photos if is_learned(path))


@dataclass(frozen=True)
class GallerySnapshot:
    """What the window shows of known_faces, built on the gallery thread (never read from the GUI thread)."""

    matrix: Any                      # facecam.matcher.GalleryMatrix
    people: tuple[Person, ...]
    photos: int
    skipped: int
    embedded: int

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.people]

    def own_photos(self) -> frozenset[tuple[str, str]]:
        """(person, path) of every photo but the crops learned with --learn: what a user changed."""
        from facecam.gallery import is_learned  # noqa: PLC0415

        return frozenset((p.name, path) for p in self.people for path in p.photos if not is_learned(path))


def thumbnail(bgr_image: np.ndarray, size: int = THUMBNAIL_PX) -> np.ndarray:
    """A centred square of the photo, ``size`` pixels (people photos have the face in the middle)."""
    import cv2  # noqa: PLC0415

    h, w = bgr_image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    square = bgr_image[y0:y0 + side, x0:x0 + side]
    return np.ascontiguousarray(cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA))


class DatabaseWaiting(Exception):
    """What the window shows while the --db server does not answer (the service retries by itself)."""


class GalleryService(QObject):
    """known_faces for the window: first indexing with progress, then a GalleryWatcher; all off the GUI thread.

    Signals (GUI thread): ``progress(done, total)``, ``changed(GallerySnapshot)``, ``failed(error)``.
    """

    progress = pyqtSignal(int, int)
    changed = pyqtSignal(object)
    failed = pyqtSignal(object)

    def __init__(self, root: Path, *, interval_s: float = 0.5, settle_s: float = 0.3,
                 db_url: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.root = Path(root)
        self.db_url = db_url          # --db: the people come from this database (facecam.db), not the folder
        self.store = None             # its facecam.db.postgres.PostgresStore, once it answered
        self._db_gallery = None
        self._follower = None
        self._embed_photo = None
        self._pending_enrolls: list[tuple[str, list]] = []  # Enroll while the database did not answer
        self.interval_s, self.settle_s = interval_s, settle_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watcher = None
        self._index_thread: threading.Thread | None = None
        self._thumbs: dict[tuple[str, int, int], np.ndarray | None] = {}
        self._refused = None   # the recognizer of a start refused by the folder's permissions: Rescan starts again

    def start(self, recognizer) -> None:
        if self.db_url:
            self._follow_db(recognizer)
            return
        from facecam.gallery import GalleryWatcher  # noqa: PLC0415
        from facecam.stores import WINDOW_HINT, open_stores  # noqa: PLC0415

        try:  # a folder facecam may not read: said in red (failed), and nothing indexed until Rescan
            gallery = open_stores(self.root, hint=WINDOW_HINT).folder_gallery(recognizer)
        except (FacecamError, OSError) as error:
            self._refused = recognizer
            self.failed.emit(error)
            return

        def index():
            try:  # a missing folder is an error shown in the window (the app asked before creating it)
                gallery.refresh(recognizer.embed_photo, progress=lambda done, total, _path: self.progress.emit(done, total),
                                should_stop=self._stop.is_set)
            except Exception as error:  # noqa: BLE001 - shown; the watcher still starts
                self.failed.emit(error)
            with self._lock:
                if self._stop.is_set():
                    return
                # initial_refresh: a second, cheap pass (the cache knows every photo) that catches files
                # added while the first one ran, and reports the first snapshot.
                self._watcher = GalleryWatcher(gallery, recognizer.embed_photo, self._on_change, self.failed.emit,
                                               interval_s=self.interval_s, settle_s=self.settle_s)
                self._watcher.start(initial_refresh=True)

        self._index_thread = threading.Thread(target=index, name="facecam-gallery-index", daemon=True)
        self._index_thread.start()

    def _on_change(self, matrix, report) -> None:
        """Called on the watcher thread: build the snapshot here (reads thumbnails), then only emit."""
        watcher = self._watcher
        if watcher is None or self._stop.is_set():
            return
        from facecam.gallery import is_learned  # noqa: PLC0415

        from facecam.consent import read_consent  # noqa: PLC0415

        root = watcher.gallery.root
        people = tuple(Person(name, tuple(paths), self._thumbnail([p for p in paths if not is_learned(p)] or paths),
                              read_consent(root, name))
                       for name, paths in watcher.gallery.people().items())
        self.changed.emit(GallerySnapshot(matrix, people, report.photos, len(report.skipped), report.embedded))

    # ------------------------------------------------------------ --db: the shared gallery
    def _follow_db(self, recognizer) -> None:
        """With --db: a :class:`facecam.db.gallery.GalleryFollower` on its own thread connects, reads the
        database's gallery (``progress`` for each photo it embeds), reports it, then follows it (LISTEN/NOTIFY:
        what another instance enrolls arrives within seconds). While the server does not answer, ``failed``
        says so (a :class:`DatabaseWaiting`: "Database not reachable: retrying in N s (why)", password
        hidden) before each wait, and it tries again, waiting 1, 2, 4, 8, then 10 s; the window shows
        the video meanwhile and names nobody (no copy of the shared gallery is kept on disk)."""
        from facecam.db.gallery import GalleryFollower  # noqa: PLC0415
        from facecam.stores import open_stores  # noqa: PLC0415

        stores = open_stores(self.root, self.db_url)
        follower = GalleryFollower(
            None, recognizer.embed_photo, self._db_changed, self.failed.emit,
            connect=lambda: stores.open_db_gallery(recognizer),
            on_waiting=lambda error, delay: self.failed.emit(
                DatabaseWaiting(f"Database not reachable: retrying in {delay:.0f} s ({error})")),
            on_connected=lambda gallery: self._db_connected(gallery, recognizer),
            progress=lambda done, total, _photo: self.progress.emit(done, total), on_first_read=self._db_changed)
        with self._lock:  # request_stop stops it once started; stopped already: not started at all
            if not self._stop.is_set():
                self._follower = follower.start()

    def _db_connected(self, gallery, recognizer) -> None:
        """The database answered (follower thread, before the first read): keep its store, then store
        what Enroll saved while it did not answer."""
        with self._lock:
            self.store, self._db_gallery, self._embed_photo = gallery.store, gallery, recognizer.embed_photo
            if self._stop.is_set():
                return  # (the store is closed by join)
            pending, self._pending_enrolls = self._pending_enrolls, []
        for name, paths in pending:  # Enroll while the server was away: stored now
            try:
                self.enroll_into_db(name, paths, recognizer)
            except Exception as error:  # noqa: BLE001 - shown; the photos stay in known_faces
                self.failed.emit(error)

    def _refresh_db(self, embed_photo) -> None:
        """Read what is new in the database and report the snapshot (Rescan); a failure is reported."""
        try:
            report = self._db_gallery.refresh(embed_photo, should_stop=self._stop.is_set)
        except Exception as error:  # noqa: BLE001 - shown; the last gallery stays in use
            self.failed.emit(error)
            return
        self._db_changed(self._db_gallery.matrix(), report)

    def _db_changed(self, matrix, report=None) -> None:
        gallery = self._db_gallery
        if self._stop.is_set() or gallery is None:
            return
        people = tuple(Person(name, tuple(ids), None) for name, ids in gallery.people().items())
        photos = sum(len(p.photos) for p in people)
        self.changed.emit(GallerySnapshot(matrix, people, photos, len(report.skipped) if report else 0,
                                          report.embedded if report else 0))

    def enroll_into_db(self, name: str, paths: list, recognizer) -> list[int] | None:
        """--db: store the photos Enroll saved as ``name``'s in the database (every instance on it is told);
        blocking, run it on a task thread. The photo ids; None when the database has not answered yet:
        the photos are stored when it does (they are in known_faces meanwhile)."""
        from facecam.db.gallery import db_version, enroll_into  # noqa: PLC0415

        with self._lock:
            if self.store is None:
                self._pending_enrolls.append((name, list(paths)))
                return None
        return enroll_into(self.store, name, [Path(p) for p in paths], recognizer.embed_photo,
                           *db_version(recognizer))

    def _thumbnail(self, paths: list[str]) -> np.ndarray | None:
        from facecam.images import read_image  # noqa: PLC0415

        for path in paths[:1]:
            try:
                stat = Path(path).stat()
                key = (path, stat.st_size, stat.st_mtime_ns)
                if key not in self._thumbs:
                    self._thumbs[key] = thumbnail(read_image(Path(path)))
                return self._thumbs[key]
            except Exception:  # noqa: BLE001 - a thumbnail is not worth an error
                return None
        return None

    def refresh_now(self) -> None:
        """Rescan now (Rescan button, after Enroll or Remove)."""
        embed_photo = self._embed_photo
        if self._db_gallery is not None and embed_photo is not None:
            threading.Thread(target=self._refresh_db, args=(embed_photo,), name="facecam-gallery-refresh",
                             daemon=True).start()
            return
        watcher = self._watcher
        if watcher is not None:
            watcher.refresh_now()
        elif self._refused is not None and not self._stop.is_set():  # the folder could not be read: try again
            recognizer, self._refused = self._refused, None
            self.start(recognizer)

    def request_stop(self) -> None:
        """Ask the indexing and the watcher to stop after the photo in progress; returns at once."""
        self._stop.set()
        with self._lock:  # the indexing thread starts the watcher only while not stopped
            watcher, follower = self._watcher, self._follower
        if watcher is not None:
            watcher.request_stop()
        if follower is not None:
            follower.stop(0.0)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the indexing and the watcher threads to end; True when both have."""
        deadline = None if timeout is None else time.monotonic() + timeout
        left = lambda: None if deadline is None else max(deadline - time.monotonic(), 0.0)  # noqa: E731
        if self._index_thread is not None:
            self._index_thread.join(left())
        with self._lock:
            watcher, follower = self._watcher, self._follower
        ended = self._index_thread is None or not self._index_thread.is_alive()
        if follower is not None:
            follower.stop(left())
            ended = ended and not follower.alive
        with self._lock:  # read once the follower ended: it may have connected meanwhile
            store = self.store
        if store is not None and ended and self._stop.is_set():
            store.close()
        return (watcher.join(left()) if watcher is not None else True) and ended

    def stop(self, timeout: float | None = 0.0) -> bool:
        self.request_stop()
        return self.join(timeout)


# ---------------------------------------------------------------- live pipeline

class PipelineBridge(QObject):
    """LivePipeline's callbacks (recognition thread) turned into signals: ``round_done(stats)``, ``failed(error)``."""

    round_done = pyqtSignal(object)
    failed = pyqtSignal(object)

    def attach(self, pipeline) -> None:
        pipeline.on_round = lambda stats: self.round_done.emit(dataclasses.replace(stats))
        pipeline.on_error = self.failed.emit
