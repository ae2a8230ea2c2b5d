"""One detector and one embedder for several cameras, taken in turns.

Each camera has its own :class:`~facecam.live_session.LiveSession` and pipeline thread; the models (one
:class:`~facecam.recognizer.Recognizer`, built once) are shared::

    recognizer = session.recognizer()                     # built once: the models load once
    shared = SharedModels(recognizer)
    door = LiveSession("front door")
    door.start(shared.for_camera("front door")).start()   # a Recognizer to the pipeline: it cannot tell
    yard = LiveSession("yard")
    yard.start(shared.for_camera("yard")).start()
    ...
    shared.turns()        # {"detector": {"front door": 812, "yard": 790}, "embedder": {...}}

**Fair turns.** Each model call (the detection of one frame, the embedding of one batch) is a turn of a
:class:`FairLock`: when the model is free it goes to the waiting camera served least recently (round robin
between cameras, first come first served within one). A busy camera embedding a room of 8 faces one batch at a
time therefore lets a quiet camera's new face in after at most one batch of each other camera, instead of
after all 8 (a plain lock lets the thread that just released it take it again). The detector and the embedder
have a lock each, as before, so one camera's detection can run while another's faces are embedded.

A camera is the name given to :meth:`SharedModels.for_camera` (set for the thread during each call); any
other caller (the gallery's watcher thread, a test) is a camera of its own, by thread. ``threshold`` and the
other settings go to the shared recognizer: every camera matches by the same decision.

Standard library only: :mod:`facecam.recognizer` takes its locks from here.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import threading
from collections import Counter
from typing import Any, Hashable, Iterator

_current = threading.local()


def current_camera() -> Hashable:
    """Who is calling: the camera set by :func:`camera_turns` on this thread, else the thread itself."""
    camera = getattr(_current, "camera", None)
    return camera if camera is not None else ("thread", threading.get_ident())


@contextlib.contextmanager
def camera_turns(camera: Hashable) -> Iterator[None]:
    """Model calls made on this thread inside the block are ``camera``'s turns."""
    previous = getattr(_current, "camera", None)
    _current.camera = camera
    try:
        yield
    finally:
        _current.camera = previous


class FairLock:
    """A lock given in turns between cameras (see the module notes); ``with lock:`` as a ``threading.Lock``.

    Counted, for the summary and the tests: ``taken[camera]`` turns taken, ``waited[camera]`` the most turns
    other cameras took while one of ``camera``'s calls waited, ``grants`` the turns given in all."""

    def __init__(self, name: str = ""):
        self.name = name
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._waiting: list[list] = []      # [arrival, camera, grants when it arrived], in arrival order
        self._arrivals = itertools.count()
        self._last_turn: dict[Hashable, int] = {}
        self.grants = 0
        self.taken: Counter = Counter()
        self.waited: dict[Hashable, int] = {}

    def _next(self) -> list:
        return min(self._waiting, key=lambda entry: (self._last_turn.get(entry[1], 0), entry[0]))

    def acquire(self) -> bool:
        camera = current_camera()
        with self._cond:
            entry = [next(self._arrivals), camera, self.grants]
            self._waiting.append(entry)
            while self._held or self._next() is not entry:
                self._cond.wait()
            self._waiting.remove(entry)
            self._held = True
            self.waited[camera] = max(self.waited.get(camera, 0), self.grants - entry[2])
            self.grants += 1
            self._last_turn[camera] = self.grants
            self.taken[camera] += 1
        return True

    def release(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError(f"FairLock {self.name}: released while not held")
            self._held = False
            self._cond.notify_all()

    def locked(self) -> bool:
        with self._cond:
            return self._held

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class CameraModels:
    """The shared recognizer as one camera sees it: every attribute and method of a
    :class:`~facecam.recognizer.Recognizer` (settings written go to the shared one), each method call made as
    this camera's turn."""

    __slots__ = ("_recognizer", "camera")

    def __init__(self, recognizer, camera: Hashable):
        object.__setattr__(self, "_recognizer", recognizer)
        object.__setattr__(self, "camera", camera)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._recognizer, name)
        if not inspect.ismethod(value):
            return value
        camera = self.camera

        def as_camera(*args, **kwargs):
            with camera_turns(camera):
                return value(*args, **kwargs)

        as_camera.__name__ = name
        return as_camera

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._recognizer, name, value)

    def __repr__(self) -> str:
        return f"CameraModels({self.camera!r}, {self._recognizer!r})"


class SharedModels:
    """One recognizer's models shared by several cameras in fair turns (see the module notes)."""

    def __init__(self, recognizer):
        self.recognizer = recognizer

    def for_camera(self, camera: Hashable) -> CameraModels:
        """What one camera's pipeline recognises with (the Recognizer interface)."""
        return CameraModels(self.recognizer, camera)

    def locks(self) -> dict[str, FairLock]:
        return {"detector": self.recognizer.detect_turns, "embedder": self.recognizer.embed_turns}

    def turns(self) -> dict[str, dict]:
        """Turns taken per camera on each model: ``{"detector": {camera: n}, "embedder": {camera: n}}``."""
        return {model: dict(lock.taken) for model, lock in self.locks().items()}

    def waited(self, camera: Hashable) -> dict[str, int]:
        """The most turns other cameras took while one of ``camera``'s calls waited, per model."""
        return {model: lock.waited.get(camera, 0) for model, lock in self.locks().items()}
