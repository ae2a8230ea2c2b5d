"""Turn visits into sightings (a :class:`~facecam.visits.VisitTracker` subscriber).

::

    recorder = SightingRecorder("front door", listeners=[saver.put, notifier])
    visits.subscribe(recorder.on_visit)     # the live session's visits (or: a pipeline listener recorder.on_round)
    ...
    recorder.close()   # what it holds of the open visits ends now

Each listener is called as ``listener(sighting, stage)``:

* ``"arrived"``: the track's name settled (the tracker's vote has a result and the
  face was detected in ``min_hits`` rounds, so a one-frame false detection is never a
  visit). This is when a notification goes out: one round after the face's first.
* ``"updated"``: the vote changed the name, a closer match gave a better snapshot, or
  ``heartbeat_s`` passed on a long visit (so a killed process loses little of its end).
* ``"ended"``: the track is gone (or :meth:`close`).

Listeners run in the pipeline's worker thread and must be quick (queue the work).
When a visit begins, arrives and ends, and its wall-clock times, are the visit tracker's
(:mod:`facecam.visits`): the log, notifications, the unknown faces and learning see the same visits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import numpy as np

from facecam.sightings.model import Sighting
from facecam.visits import Arrived, Renamed, Visit, VisitFollower

SightingListener = Callable[[Sighting, str], None]

SNAPSHOT_SIDE = 128     # longest side of the face snapshot, pixels
SNAPSHOT_QUALITY = 85
SNAPSHOT_MARGIN = 0.25  # of the face box, on each side


def face_snapshot(bgr_frame: np.ndarray, box, blur: list | tuple = ()) -> bytes:
    """A small JPEG of the face ``box`` (x, y, w, h) with some margin, longest side <= SNAPSHOT_SIDE; the faces
    ``blur`` (boxes on the frame: the strangers, :func:`facecam.blur.stranger_boxes`) blurred first."""
    import cv2  # noqa: PLC0415 - loaded by the video source already; kept out of `facecam --help`

    from facecam.blur import blur_faces  # noqa: PLC0415 - OpenCV too
    from facecam.images import encode_jpeg  # noqa: PLC0415 - OpenCV too
    height, width = bgr_frame.shape[:2]
    x, y, w, h = (float(v) for v in box)
    mx, my = w * SNAPSHOT_MARGIN, h * SNAPSHOT_MARGIN
    x0, y0 = max(int(x - mx), 0), max(int(y - my), 0)
    x1, y1 = min(int(math.ceil(x + w + mx)), width), min(int(math.ceil(y + h + my)), height)
    crop = bgr_frame[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    if blur:  # on the crop, the boxes moved with it (a blur is local: the same pixels as blurring the frame)
        crop = blur_faces(crop, [(bx - x0, by - y0, bw, bh) for bx, by, bw, bh in blur])
    scale = SNAPSHOT_SIDE / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, (max(int(crop.shape[1] * scale), 1), max(int(crop.shape[0] * scale), 1)),
                          interpolation=cv2.INTER_AREA)
    return encode_jpeg(crop, SNAPSHOT_QUALITY)


@dataclass
class _Visit:
    sighting: Sighting | None = None                 # None until the visit arrives (its name settles)
    last_written: float = 0.0
    unknown_sum: np.ndarray | None = None            # the sum of the track's embeddings that matched nobody


class SightingRecorder(VisitFollower):
    """Reports every visit of one source as a :class:`Sighting` (see the module notes): a subscriber of a
    :class:`~facecam.visits.VisitTracker` (:meth:`on_visit`), or on its own a pipeline listener (:meth:`on_round`)."""

    def __init__(self, source: str, listeners: list[SightingListener] | tuple = (), *, min_hits: int = 2,
                 heartbeat_s: float = 30.0, clock: Callable[[], float] = time.time, blur_strangers: bool = False):
        if min_hits < 1:
            raise ValueError(f"min_hits: expected 1 or more, got {min_hits}")
        super().__init__(source, clock=clock, min_hits=min_hits)
        self.listeners: list[SightingListener] = list(listeners)
        self.heartbeat_s = float(heartbeat_s)
        self.errors: list[str] = []
        self.blur_strangers = bool(blur_strangers)   # snapshots with every face not named blurred (facecam.blur)
        # who an unknown arrival is among strangers: a facecam.unknowns.strangers.StrangerIndex (watch sets it)
        self.strangers = None

    def close(self) -> None:
        """End every visit still open (the source stopped, or the program closes)."""
        self.finish()

    def open_visits(self) -> list[Sighting]:
        """The visits in progress (arrived ones only)."""
        with self._follow_lock:
            return [v.sighting for v in self._states.values() if v.sighting is not None]

    # ------------------------------------------------------------ stages
    def begin(self, visit: Visit) -> _Visit:
        return _Visit()

    def follow(self, state: _Visit, event) -> None:
        visit, now, embedded = event.visit, self.clock(), event.embedded
        if embedded is not None and embedded.match.name is None and self.strangers is not None:
            state.unknown_sum = embedded.embedding + (0 if state.unknown_sum is None else state.unknown_sum)
        if isinstance(event, Arrived):
            seen = (self.strangers.arrive(visit.track, state.unknown_sum)
                    if visit.name is None and self.strangers is not None and state.unknown_sum is not None else None)
            state.sighting = Sighting(
                id=visit.id, source=visit.source, started=_wall(visit.started), ended=_wall(visit.ended),
                t_start=visit.first_t, t_end=visit.last_t, name=visit.name, distance=visit.distance, box=visit.box,
                snapshot=self._snapshot(event.round, visit.box),
                cluster=None if seen is None else seen.cluster, seen_before=seen)
            state.last_written = now
            self._tell(state.sighting, "arrived")
            return
        old = state.sighting
        if old is None:
            return
        changes: dict = {"started": _wall(visit.started), "ended": _wall(visit.ended), "t_end": visit.last_t}
        changed = isinstance(event, Renamed)
        if changed:
            changes.update(name=visit.name, distance=visit.distance)
        better = (event.embedded is not None and visit.distance is not None and visit.detected
                  and (old.distance is None or visit.distance < old.distance) and not changed)
        if changed or better:
            changes.update(box=visit.box, snapshot=self._snapshot(event.round, visit.box),
                           distance=visit.distance)
        state.sighting = old.updated(**changes)
        if changed or better or now - state.last_written >= self.heartbeat_s:
            state.last_written = now
            self._tell(state.sighting, "updated")

    def _snapshot(self, round_, box) -> bytes:
        """The visit's snapshot from this round's frame; with ``blur_strangers``, every face of the round that is not
        named blurred (the round's tracks after its matches: what the window draws on that frame)."""
        from facecam.blur import stranger_boxes  # noqa: PLC0415 - OpenCV

        return face_snapshot(round_.frame.bgr_frame, box, stranger_boxes(round_.tracks) if self.blur_strangers else ())

    def end(self, state: _Visit, visit: Visit | None) -> None:
        if state.sighting is not None:
            self._tell(state.sighting, "ended")

    def _tell(self, sighting: Sighting, stage: str) -> None:
        for listener in list(self.listeners):
            try:
                listener(sighting, stage)
            except Exception as error:  # noqa: BLE001 - one listener's fault never stops the others
                self.errors.append(f"{type(error).__name__}: {error}")


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds).astimezone()
