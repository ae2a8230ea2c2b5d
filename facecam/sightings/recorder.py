"""Turn the live pipeline's tracks into sightings (a :class:`~facecam.pipeline.LivePipeline` listener).

::

    recorder = SightingRecorder("front door", listeners=[saver.put, notifier])
    pipeline = LivePipeline(recognizer, gallery, listeners=[recorder.on_round])
    ...
    recorder.close()   # the visits still open end now

Each listener is called as ``listener(sighting, stage)``:

* ``"arrived"``: the track's name settled (the tracker's vote has a result and the
  face was detected in ``min_hits`` rounds, so a one-frame false detection is never a
  visit). This is when a notification goes out: one round after the face's first.
* ``"updated"``: the vote changed the name, a closer match gave a better snapshot, or
  ``heartbeat_s`` passed on a long visit (so a killed process loses little of its end).
* ``"ended"``: the track is gone (or :meth:`close`).

Listeners run in the pipeline's worker thread and must be quick (queue the work).
Wall-clock times come from the source's clock: ``wall = t_source + offset``, the offset
being the smallest ``time.time() - t_source`` seen so far (the freshest frame), which for
a camera or a realtime file is when the frame was captured.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import numpy as np

from facecam.sightings.model import Sighting

SightingListener = Callable[[Sighting, str], None]

SNAPSHOT_SIDE = 128     # longest side of the face snapshot, pixels
SNAPSHOT_QUALITY = 85
SNAPSHOT_MARGIN = 0.25  # of the face box, on each side


def face_snapshot(bgr_frame: np.ndarray, box) -> bytes:
    """A small JPEG of the face ``box`` (x, y, w, h) with some margin, longest side <= SNAPSHOT_SIDE."""
    import cv2  # noqa: PLC0415 - loaded by the video source already; kept out of `facecam --help`

    from facecam.images import encode_jpeg  # noqa: PLC0415 - OpenCV too
    height, width = bgr_frame.shape[:2]
    x, y, w, h = (float(v) for v in box)
    mx, my = w * SNAPSHOT_MARGIN, h * SNAPSHOT_MARGIN
    x0, y0 = max(int(x - mx), 0), max(int(y - my), 0)
    x1, y1 = min(int(math.ceil(x + w + mx)), width), min(int(math.ceil(y + h + my)), height)
    crop = bgr_frame[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    scale = SNAPSHOT_SIDE / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, (max(int(crop.shape[1] * scale), 1), max(int(crop.shape[0] * scale), 1)),
                          interpolation=cv2.INTER_AREA)
    return encode_jpeg(crop, SNAPSHOT_QUALITY)


@dataclass
class _Visit:
    sighting: Sighting | None = None                 # None until the name settles
    votes: list[tuple[str | None, float]] = field(default_factory=list)  # every match the track got
    last_written: float = 0.0


class SightingRecorder:
    """Follows every track of one source and reports its visit (see the module notes)."""

    def __init__(self, source: str, listeners: list[SightingListener] | tuple = (), *, min_hits: int = 2,
                 heartbeat_s: float = 30.0, clock: Callable[[], float] = time.time):
        if min_hits < 1:
            raise ValueError(f"min_hits: expected 1 or more, got {min_hits}")
        self.source = source
        self.listeners: list[SightingListener] = list(listeners)
        self.min_hits = int(min_hits)
        self.heartbeat_s = float(heartbeat_s)
        self.clock = clock
        self.errors: list[str] = []
        self._offset = math.inf
        self._visits: dict[int, _Visit] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ pipeline side
    def on_round(self, result) -> None:
        """The pipeline listener: one :class:`~facecam.pipeline.RoundResult`."""
        now = self.clock()
        with self._lock:
            self._offset = min(self._offset, now - float(result.frame.t_source))
            for track_id, match in zip(result.embedded_ids, result.matches):
                if not match.unsure:  # a face too poor to judge casts no vote
                    self._visits.setdefault(track_id, _Visit()).votes.append((match.name, float(match.distance)))
            live = set()
            for track in result.tracks:
                live.add(track.id)
                visit = self._visits.setdefault(track.id, _Visit())
                if visit.sighting is None:
                    self._maybe_arrive(visit, track, result, now)
                else:
                    self._follow(visit, track, result, now)
            for track_id in [i for i in self._visits if i not in live]:
                self._end(self._visits.pop(track_id))

    def close(self) -> None:
        """End every visit still open (the source stopped, or the program closes)."""
        with self._lock:
            visits, self._visits = list(self._visits.values()), {}
            for visit in visits:
                self._end(visit)

    def open_visits(self) -> list[Sighting]:
        """The visits in progress (settled ones only)."""
        with self._lock:
            return [v.sighting for v in self._visits.values() if v.sighting is not None]

    # ------------------------------------------------------------ stages
    def _maybe_arrive(self, visit: _Visit, track, result, now: float) -> None:
        if not track.recognised or track.hits < self.min_hits or track.detection_index is None:
            return
        visit.sighting = Sighting(
            id=uuid.uuid4().hex, source=self.source, started=self._wall(track.first_seen),
            ended=max(self._wall(track.last_seen), self._wall(track.first_seen)), t_start=track.first_seen, t_end=track.last_seen,
            name=track.name, distance=_best_distance(visit.votes, track.name), box=track.face.box,
            snapshot=face_snapshot(result.frame.bgr_frame, track.face.box))
        visit.last_written = now
        self._tell(visit.sighting, "arrived")

    def _follow(self, visit: _Visit, track, result, now: float) -> None:
        old = visit.sighting
        best = _best_distance(visit.votes, track.name)
        changes: dict = {"ended": max(self._wall(track.last_seen), old.started), "t_end": track.last_seen}
        changed = track.name != old.name
        if changed:
            changes.update(name=track.name, distance=best)
        better = (track.id in result.embedded_ids and best is not None and track.detection_index is not None
                  and (old.distance is None or best < old.distance) and not changed)
        if changed or better:
            changes.update(box=track.face.box, snapshot=face_snapshot(result.frame.bgr_frame, track.face.box),
                           distance=best)
        visit.sighting = old.updated(**changes)
        if changed or better or now - visit.last_written >= self.heartbeat_s:
            visit.last_written = now
            self._tell(visit.sighting, "updated")

    def _end(self, visit: _Visit) -> None:
        if visit.sighting is not None:
            self._tell(visit.sighting, "ended")

    def _tell(self, sighting: Sighting, stage: str) -> None:
        for listener in list(self.listeners):
            try:
                listener(sighting, stage)
            except Exception as error:  # noqa: BLE001 - one listener's fault never stops the others
                self.errors.append(f"{type(error).__name__}: {error}")

    def _wall(self, t_source: float) -> datetime:
        offset = self._offset if math.isfinite(self._offset) else self.clock() - t_source
        return datetime.fromtimestamp(t_source + offset).astimezone()


def _best_distance(votes: list[tuple[str | None, float]], name: str | None) -> float | None:
    distances = [d for n, d in votes if n == name and math.isfinite(d)]
    return min(distances) if distances else None
