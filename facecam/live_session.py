"""A live session, without Qt: one source's recognition pipeline, the gallery it matches, its visits and what
follows them. ``watch`` and the window both run one (the window is a view and controls on it).

::

    session = LiveSession("front door")
    session.set_matrix(gallery.matrix())              # and again whenever the gallery changes (follow_gallery)
    pipeline = session.start(recognizer)              # a new model: start() again (the visits end)
    session.subscribe(sightings.on_visit, sightings.close)        # the log and notifications
    session.subscribe(unknowns.on_visit, unknowns.close)          # "Who's this?"
    ...  pipeline.submit(frame) / pipeline.process(frame) ...
    session.source_ended()                            # a file's end: its open visits end with it
    session.close()                                   # the pipeline stops, visits end, followers close

Every round of the current pipeline goes to one :class:`~facecam.visits.VisitTracker`, whose events
(arrived, updated, renamed, ended) go to every subscriber: no consumer decides on its own when a visit
ends. A retired pipeline's last round is not told (its tracks belong to a model no longer used).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from facecam.motion import MotionOptions
from facecam.pipeline import LivePipeline, PipelineOptions
from facecam.visits import VisitSubscriber, VisitTracker


class LiveSession:
    """See the module notes. ``matrix`` is the gallery the pipeline matches against (replaced whole)."""

    def __init__(self, source_name: str = "", *, clock: Callable[[], float] = time.time):
        self.visits = VisitTracker(source_name, clock=clock)
        self.pipeline: LivePipeline | None = None
        self.matrix = None
        self.follower = None                         # what keeps the matrix in step (follow_gallery)
        self.retired: list[LivePipeline] = []        # pipelines asked to stop, joined by close()
        self._closers: list[tuple[VisitSubscriber, Callable[[], object] | None]] = []
        self._lock = threading.RLock()
        self.closed = False
        self.ended = False            # the source ended: a round still in flight is not a new visit

    @property
    def source_name(self) -> str:
        return self.visits.source

    def gallery(self):
        """The pipeline's gallery callable: the current matrix."""
        return self.matrix

    def set_matrix(self, matrix) -> None:
        """Match against ``matrix`` from the next round on (a gallery refreshed, a database change)."""
        self.matrix = matrix

    def follow_gallery(self, follow: Callable, on_error: Callable[[BaseException], None]):
        """Keep the matrix in step with a gallery that changes elsewhere: ``follow(on_change, on_error)`` starts a
        follower (``cli.Session.follow_gallery``: the shared database's LISTEN/NOTIFY), or returns None when
        there is nothing to follow; :meth:`close` stops it."""
        self.follower = follow(self.set_matrix, on_error)
        return self.follower

    # ------------------------------------------------------------ the pipeline
    def start(self, recognizer, *, options: PipelineOptions | None = None, motion: MotionOptions | None = None,
              on_round=None, on_error=None) -> LivePipeline:
        """Recognise with ``recognizer`` from now on: a new pipeline (not started: ``start()`` it, or drive it
        with ``process``). The previous one is asked to stop, and the open visits end (track ids start again).
        ``motion``: the motion gate's settings (:mod:`facecam.motion`; on by default)."""
        pipeline = LivePipeline(recognizer, self.gallery, options=options, on_round=on_round, on_error=on_error,
                                motion=motion)

        def listener(result, pipeline=pipeline):
            with self._lock:                     # a retired pipeline's last round is not told
                if self.pipeline is pipeline and not self.ended:
                    self.visits.on_round(result)

        pipeline.listeners.append(listener)
        with self._lock:
            old, self.pipeline = self.pipeline, pipeline
            self.visits.close()
        if old is not None:
            old.request_stop()
            self.retired = [p for p in self.retired if p.running] + [old]
        return pipeline

    # ------------------------------------------------------------ the visits
    def subscribe(self, subscriber: VisitSubscriber, close: Callable[[], object] | None = None) -> None:
        """Tell ``subscriber`` every visit event; ``close`` (if given) is called by :meth:`close`, after the
        last visits ended, in the order subscribed."""
        self.visits.subscribe(subscriber)
        with self._lock:
            self._closers.append((subscriber, close))

    def unsubscribe(self, subscriber: VisitSubscriber) -> None:
        """No more events for ``subscriber`` (its open visits are its own to finish); it is not closed here."""
        self.visits.unsubscribe(subscriber)
        with self._lock:
            self._closers = [(s, c) for s, c in self._closers if s is not subscriber]

    def set_source_name(self, name: str) -> None:
        """Visits from now on are of the source ``name`` (a new source: the open visits end first)."""
        with self._lock:
            self.visits.set_source(name)
            self.ended = False

    def source_ended(self) -> None:
        """The source ended (a file's last frame, a camera lost): its open visits end now, not when the next
        source's first round comes. A round still in flight on its last frame is not told (it would begin
        the same faces' visits again); :meth:`set_source_name` starts the next source."""
        with self._lock:
            self.ended = True
            self.visits.close()

    # ------------------------------------------------------------ shutdown
    def request_stop(self) -> None:
        """Ask every pipeline to stop after its round in progress; returns at once."""
        for pipeline in [self.pipeline, *self.retired]:
            if pipeline is not None:
                pipeline.request_stop()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        ended = True
        for pipeline in [self.pipeline, *self.retired]:
            if pipeline is not None:
                ended &= pipeline.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
        return ended

    def close(self, timeout: float | None = 2.0) -> list[str]:
        """Stop the pipelines (a round in progress finishes, up to ``timeout``), end the open visits, then close
        the subscribers in the order subscribed (each one's fault is returned, the others still close)."""
        if self.closed:
            return []
        self.closed = True
        self.request_stop()
        if self.follower is not None:
            self.follower.stop()
        self.join(timeout)
        with self._lock:
            self.visits.close()
            closers, self._closers = [c for _, c in self._closers if c is not None], []
        errors = list(self.visits.errors)
        for close in closers:
            try:
                close()
            except Exception as error:  # noqa: BLE001 - the others still close
                errors.append(f"{type(error).__name__}: {error}")
        return errors
