"""Several cameras in one process, without Qt: each camera's source, live session and what is shown of it.

The window (``gui.cameras_control``) keeps a :class:`CameraSet`; every camera has its own
:class:`~facecam.live_session.LiveSession` (its pipeline, its visits under the camera's name) and its own
capture thread, and all of them recognise with the same recognizer. The set keeps the names unique (two
cameras of one name would mix their visits in the log) and which camera is selected (the large view).

::

    cameras = CameraSet()
    front = cameras.add(Camera("0", LiveSession(cameras.unique_name("front door"))))
    ...
    front.state(now)                 # "live", "idle", "reconnecting", "ended", "opening", "paused", "failed"
    cameras.remove(front)            # its source and pipeline are the caller's to stop
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from facecam.live_session import LiveSession
from facecam.sources import reconnect_delay, unique_name

FPS_WINDOW_S = 1.0


@dataclass(eq=False)
class Camera:
    """One camera of the set. ``source_spec`` is what it opens (camera number, file, URL); ``given_name`` its
    name as given (``--source-name``) for ``named_spec``, the spec it was given for (a source switched to
    another spec takes that one's display name). The fields are the window's view of it (the display timer
    and the source control write them)."""

    source_spec: str
    session: LiveSession
    given_name: str | None = None
    named_spec: str | None = None
    source: object = None                      # facecam.sources.VideoSource (None: not open, failed)
    old_sources: list = field(default_factory=list)   # sources asked to stop, joined at the end
    source_problem: str | None = None
    source_ended: bool = False
    last_frame: object = None                  # the newest types.Frame taken (raw)
    current_labels: list = field(default_factory=list)
    retry_at: float | None = None              # monotonic time of the next reconnection (None: none planned)
    retries: int = 0
    shown_at: collections.deque = field(default_factory=lambda: collections.deque(maxlen=240))

    @property
    def name(self) -> str:
        """The camera's name in the logs, events and its tile."""
        return self.session.source_name

    @property
    def pipeline(self):
        return self.session.pipeline

    def took_frame(self, now: float | None = None) -> None:
        self.shown_at.append(time.monotonic() if now is None else now)

    def fps(self, now: float | None = None) -> float:
        """Frames taken from the source in the last second."""
        now = time.monotonic() if now is None else now
        return float(sum(1 for t in self.shown_at if now - t <= FPS_WINDOW_S))

    def plan_reconnect(self, now: float | None = None) -> float:
        """The source was lost: the next attempt's time (1, 2, 5, 10, then every 30 s, as watch)."""
        now = time.monotonic() if now is None else now
        delay = reconnect_delay(self.retries)
        self.retries += 1
        self.retry_at = now + delay
        return delay

    def state(self, paused: bool = False) -> str:
        """What the camera's tile says: "reconnecting" (lost, another attempt planned), "failed" (a problem
        and no attempt planned), "ended" (a file played to its end), "opening", "paused", "idle" (the motion
        gate holds detection back: nobody tracked, nothing moves) or "live"."""
        if self.retry_at is not None:
            return "reconnecting"
        if self.source_ended:
            return "ended"
        if self.source_problem is not None or self.source is None:
            return "failed"
        if paused:
            return "paused"
        if self.last_frame is None:
            return "opening"
        pipeline = self.pipeline
        return "idle" if pipeline is not None and pipeline.idle else "live"


class CameraSet:
    """The cameras in order, and the selected one (never empty once the first camera was added)."""

    def __init__(self):
        self.cameras: list[Camera] = []
        self.selected: Camera | None = None
        self.matrix = None          # the gallery every camera matches against (set_matrix)

    def __iter__(self):
        return iter(list(self.cameras))

    def __len__(self) -> int:
        return len(self.cameras)

    def add(self, camera: Camera) -> Camera:
        """Add ``camera`` (it matches against the set's gallery from now on)."""
        camera.session.set_matrix(self.matrix)
        self.cameras.append(camera)
        if self.selected is None:
            self.selected = camera
        return camera

    def remove(self, camera: Camera) -> Camera:
        """Take ``camera`` out of the set (the selection moves to its neighbour); stopping it is the caller's."""
        index = self.cameras.index(camera)
        self.cameras.remove(camera)
        if self.selected is camera:
            self.selected = self.cameras[min(index, len(self.cameras) - 1)] if self.cameras else None
        return camera

    def select(self, camera: Camera) -> None:
        if camera not in self.cameras:
            raise ValueError(f"{camera.name} is not one of the cameras")
        self.selected = camera

    def names(self) -> list[str]:
        return [camera.name for camera in self.cameras]

    def unique_name(self, name: str, exclude: Camera | None = None) -> str:
        """``name``, or ``name (2)``, ``name (3)``... when another camera has it already."""
        return unique_name(name, {camera.name for camera in self.cameras if camera is not exclude})

    def pipelines(self) -> list:
        return [camera.pipeline for camera in self.cameras if camera.pipeline is not None]

    def sessions(self) -> list[LiveSession]:
        return [camera.session for camera in self.cameras]

    def gallery(self):
        """The pipelines' gallery callable: the current matrix."""
        return self.matrix

    def set_matrix(self, matrix) -> None:
        """Every camera matches against ``matrix`` from its next round on."""
        self.matrix = matrix
        for camera in self.cameras:
            camera.session.set_matrix(matrix)


class Sessions:
    """Several cameras' live sessions, and the one visits subscriber that follows all of them now (the window's
    Who's this? collection, its learning): a camera added is followed at once, a camera removed no more."""

    def __init__(self, sessions=()):
        self.sessions: list[LiveSession] = list(sessions)
        self.subscriber = None

    def __iter__(self):
        return iter(list(self.sessions))

    def __len__(self) -> int:
        return len(self.sessions)

    def first(self) -> LiveSession | None:
        return self.sessions[0] if self.sessions else None

    def follow(self, subscriber) -> None:
        """``subscriber`` is told every session's visit events from now on (one at a time: the last one stops)."""
        self.unfollow()
        self.subscriber = subscriber
        for session in self.sessions:
            session.subscribe(subscriber)

    def unfollow(self) -> None:
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is not None:
            for session in self.sessions:
                session.unsubscribe(subscriber)

    def add(self, session: LiveSession) -> None:
        self.sessions.append(session)
        if self.subscriber is not None:
            session.subscribe(self.subscriber)

    def remove(self, session: LiveSession) -> None:
        """No more events of ``session`` (a camera removed: end its open visits first, they are told)."""
        if session in self.sessions:
            self.sessions.remove(session)
            if self.subscriber is not None:
                session.unsubscribe(self.subscriber)
