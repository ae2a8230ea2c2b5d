"""Visits: the one place that turns recognition rounds into a face's visit and its events.

A **visit** is one track of one source, from the round its face was first detected to the round its
track is gone (the tracker's ``max_missed`` / ``max_age_s``), or until the visits are closed (the
source ended or changed, the pipeline was replaced, the program closes). A visit belongs to one
track id: a new track is a new visit.

::

    visits = VisitTracker("front door", [recorder.on_visit, collector.on_visit, learning.on_visit])
    pipeline = LivePipeline(recognizer, gallery, listeners=[visits.on_round])
    ...
    visits.close()          # the open visits end now

Every round, each live visit gets one event, each carrying the visit as it is now (a frozen
:class:`Visit`), the round and, when its face was embedded this round, that face, embedding and
match (:class:`Embedded`):

* :class:`Arrived`: the visit's name settled (the tracker's vote has a result and the face was
  detected in ``min_hits`` rounds, so a one-frame false detection never arrives); once per visit.
* :class:`Renamed`: the vote changed the name of an arrived visit (``old_name`` was shown).
* :class:`Updated`: any other round of the visit (arrived or not yet).

and when it ends, :class:`Ended` (no round). Subscribers run in the pipeline's thread, one after
the other, and must be quick (hand heavy work to their own thread); one that raises is reported
(``errors``) without stopping the others.

Wall-clock times come from the source's clock: ``wall = t_source + offset``, the offset being the
smallest ``time.time() - t_source`` seen so far (the freshest frame), which for a camera or a
realtime file is when the frame was captured. ``started`` and ``ended`` are made with the same
offset, so ``ended - started`` is the visit's length in source seconds (``last_t - first_t``).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np

from facecam.types import Face, Match


@dataclass(frozen=True)
class Visit:
    """One visit as it is now. ``name`` is the vote's (None: Unknown, or not recognised yet: see
    ``recognised``); ``distance`` the best distance measured for that name; ``names`` every name a
    round's match or the vote gave it (None for Unknown): one name all along is an uncontested visit.
    ``face`` is the latest detection matched to the track and ``detected`` whether this round found it."""

    id: str
    track: int
    source: str
    first_t: float            # source seconds of the first and the latest detection
    last_t: float
    started: float            # wall clock (Unix seconds) of the same moments
    ended: float
    name: str | None
    recognised: bool
    arrived: bool
    distance: float | None
    names: frozenset
    face: Face
    detected: bool

    @property
    def known(self) -> bool:
        return self.name is not None

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.face.box

    @property
    def named(self) -> bool:
        """True when anyone's name was given to it at some point (a round's match or the vote)."""
        return any(n is not None for n in self.names)

    @property
    def duration_s(self) -> float:
        return self.last_t - self.first_t


@dataclass(frozen=True)
class Embedded:
    """The visit's face as embedded this round: the detection, its embedding row and its match."""

    face: Face
    embedding: np.ndarray
    match: Match


@dataclass(frozen=True)
class Arrived:
    visit: Visit
    round: object                      # facecam.pipeline.RoundResult
    embedded: Embedded | None = None


@dataclass(frozen=True)
class Updated:
    visit: Visit
    round: object
    embedded: Embedded | None = None


@dataclass(frozen=True)
class Renamed:
    visit: Visit
    round: object
    embedded: Embedded | None = None
    old_name: str | None = None


@dataclass(frozen=True)
class Ended:
    visit: Visit


VisitEvent = Union[Arrived, Updated, Renamed, Ended]
VisitSubscriber = Callable[[VisitEvent], None]


@dataclass
class _Open:
    id: str
    track: int
    source: str
    first_t: float
    arrived: bool = False
    name: str | None = None
    votes: list = field(default_factory=list)     # (name, distance) of every match the track got
    names: set = field(default_factory=set)
    last: Visit | None = None


class VisitTracker:
    """Follows every track of one source and tells its subscribers about its visit (see the module notes)."""

    def __init__(self, source: str = "", subscribers: list[VisitSubscriber] | tuple = (), *, min_hits: int = 2,
                 clock: Callable[[], float] = time.time):
        if min_hits < 1:
            raise ValueError(f"min_hits: expected 1 or more, got {min_hits}")
        self.source = str(source)
        self.subscribers: list[VisitSubscriber] = list(subscribers)
        self.min_hits = int(min_hits)
        self.clock = clock
        self.errors: list[str] = []
        self._offset = math.inf
        self._open: dict[int, _Open] = {}
        self._lock = threading.RLock()     # a round's events are told before another round (or close) runs

    def subscribe(self, subscriber: VisitSubscriber) -> None:
        with self._lock:
            if subscriber not in self.subscribers:
                self.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: VisitSubscriber) -> None:
        with self._lock:
            if subscriber in self.subscribers:
                self.subscribers.remove(subscriber)

    # ------------------------------------------------------------ pipeline side
    def on_round(self, result) -> None:
        """The pipeline listener: one :class:`~facecam.pipeline.RoundResult`."""
        now = self.clock()
        with self._lock:
            self._offset = min(self._offset, now - float(result.frame.t_source))
            # a face too poor to judge (Match.unsure, facecam.quality) is no vote, no name, no lesson, no unknown face
            embedded = {track_id: Embedded(face, result.embeddings[i], match) for i, (track_id, face, match)
                        in enumerate(zip(result.embedded_ids, result.embedded_faces, result.matches))
                        if not match.unsure}
            events: list[VisitEvent] = []
            live = set()
            for track in result.tracks:
                live.add(track.id)
                state = self._open.get(track.id)
                if state is None:
                    state = self._open[track.id] = _Open(uuid.uuid4().hex, track.id, self.source, track.first_seen)
                seen = embedded.get(track.id)
                if seen is not None:
                    state.votes.append((seen.match.name, float(seen.match.distance)))
                    state.names.add(seen.match.name)
                if track.recognised:
                    state.names.add(track.name)
                events.append(self._event(state, track, result, seen))
            for track_id in [i for i in self._open if i not in live]:
                state = self._open.pop(track_id)
                if state.last is not None:
                    events.append(Ended(state.last))
            self._tell(events)

    def _event(self, state: _Open, track, result, seen: Embedded | None) -> VisitEvent:
        arriving = (not state.arrived and track.recognised and track.hits >= self.min_hits
                    and track.detection_index is not None)
        renamed = state.arrived and track.name != state.name
        old_name = state.name
        state.arrived |= arriving
        if state.arrived:
            state.name = track.name
        state.last = visit = Visit(
            state.id, state.track, state.source, state.first_t, max(track.last_seen, state.first_t),
            self._wall(state.first_t), self._wall(max(track.last_seen, state.first_t)), track.name,
            track.recognised, state.arrived, _best_distance(state.votes, track.name), frozenset(state.names),
            track.face, track.detection_index is not None)
        if arriving:
            return Arrived(visit, result, seen)
        if renamed:
            return Renamed(visit, result, seen, old_name)
        return Updated(visit, result, seen)

    def close(self) -> None:
        """End every visit still open (the source stopped or changed, the pipeline was replaced, the program
        closes): the next round's tracks are new visits."""
        with self._lock:
            states, self._open = list(self._open.values()), {}
            self._tell([Ended(s.last) for s in states if s.last is not None])

    def set_source(self, source: str) -> None:
        """Visits from now on come from ``source`` (the open ones end first; a new source has a new clock)."""
        with self._lock:
            self.close()
            self.source = str(source)
            self._offset = math.inf

    def open_visits(self) -> list[Visit]:
        """The visits in progress, as of their latest round."""
        with self._lock:
            return [s.last for s in self._open.values() if s.last is not None]

    def _tell(self, events: list[VisitEvent]) -> None:
        for event in events:
            for subscriber in list(self.subscribers):
                try:
                    subscriber(event)
                except Exception as error:  # noqa: BLE001 - one subscriber's fault never stops the others
                    self.errors.append(f"{type(error).__name__}: {error}")

    def _wall(self, t_source: float) -> float:
        offset = self._offset if math.isfinite(self._offset) else self.clock() - t_source
        return t_source + offset


def _best_distance(votes: list[tuple[str | None, float]], name: str | None) -> float | None:
    distances = [d for n, d in votes if n == name and math.isfinite(d)]
    return min(distances) if distances else None


class VisitFollower:
    """The base of whatever keeps something per visit (the sightings recorder, the unknown faces, learning).

    Subscribe :meth:`on_visit` to a shared :class:`VisitTracker`, or call the follower with each round
    (:meth:`on_round`): it then runs a tracker of its own (one consumer on its own: tests, tools).
    :meth:`finish` ends what it holds of the open visits. Subclasses implement :meth:`begin` (a new
    visit: its state), :meth:`follow` (each round's event) and :meth:`end` (the visit ended)."""

    def __init__(self, source: str = "", *, clock: Callable[[], float] = time.time, min_hits: int = 2):
        self.source = str(source)
        self.clock = clock
        self.min_hits = int(min_hits)
        self._own: VisitTracker | None = None
        self._states: dict[str, object] = {}
        self._follow_lock = threading.RLock()

    # ------------------------------------------------------------ the tracker's side
    def on_round(self, result) -> None:
        """Standalone: one round, through a tracker of the follower's own."""
        if self._own is None:
            self._own = VisitTracker(self.source, [self.on_visit], min_hits=self.min_hits, clock=self.clock)
        self._own.on_round(result)

    __call__ = on_round

    def on_visit(self, event: VisitEvent) -> None:
        """A :class:`VisitTracker` subscriber."""
        with self._follow_lock:
            visit = event.visit
            if isinstance(event, Ended):
                state = self._states.pop(visit.id, None)
                if state is not None:
                    self.end(state, visit)
                return
            state = self._states.get(visit.id)
            if state is None:
                state = self._states[visit.id] = self.begin(visit)
            self.follow(state, event)

    def finish(self) -> None:
        """End every visit open here now (the source ended, this consumer is turned off)."""
        if self._own is not None:
            self._own.close()
        with self._follow_lock:
            states, self._states = list(self._states.values()), {}
            for state in states:
                self.end(state, None)

    def set_source(self, source: str) -> None:
        """Standalone: visits from now on come from ``source`` (the open ones end first)."""
        self.finish()
        self.source = str(source)
        if self._own is not None:
            self._own.set_source(source)

    # ------------------------------------------------------------ for subclasses
    def begin(self, visit: Visit) -> object:
        raise NotImplementedError

    def follow(self, state, event: VisitEvent) -> None:
        raise NotImplementedError

    def end(self, state, visit: Visit | None) -> None:
        """``visit``: as it ended (None: ended by :meth:`finish`; the state's latest view stands)."""
        raise NotImplementedError
