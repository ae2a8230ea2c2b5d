"""The live pipeline: recognition that never makes the picture wait.

Three parties, three rates::

    capture thread   VideoSource keeps only the newest frame (sources.py)
    recognition      LivePipeline's worker: takes the newest frame when it is free,
                     detects, tracks, embeds only the faces that need it, matches
    display          window timer or `watch` loop: every frame, drawn with the
                     tracks' latest boxes moved to that frame's time (labels_at)

The worker never queues: ``submit`` replaces a frame that was not taken yet, so a
slow model round costs the boxes some freshness, never the video its smoothness.
Embedding (VGG-Face 80-220 ms per face on 2 cores, by runtime) is the expensive part, so it
runs only for faces the tracker asks for: new tracks first (a whole room's in one round,
named face by face), and only when none waits, a face that moved or changed size a lot,
or a re-check about once a second (see :class:`PipelineOptions`).
Names are smoothed by a vote over each track's recent results, and kept only while the face stays
the same face: every round each face's look (facecam.appearance, about 0.1 ms a face) is
given to the tracker, and a face that changed or was away is embedded again, with the new faces,
before its name is shown (facecam.tracker's module notes); another person in the box gets a new
track id there and then.

Qt-free: the window wraps it (gui/workers.py) and ``watch`` drives it directly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from facecam.annotate import Label
from facecam.appearance import signatures
from facecam.blur import is_named
from facecam.matcher import GalleryMatrix
from facecam.motion import MotionGate, MotionOptions
from facecam.recognizer import Recognizer
from facecam.tracker import FaceTracker, Track
from facecam.types import Face, Faces, Frame, Match, bgr_to_rgb


@dataclass(frozen=True)
class PipelineOptions:
    """When faces are embedded (measured on a room of 8 faces at once: bench/bench_room.py).

    ``recheck_s``: re-embed each face this often; ``move_ratio``: or when it moved this many face
    sizes. New faces come first: a round embeds up to ``max_embed_per_round`` new faces (all of a
    room's, so none waits for another detection), and re-checks (at most ``max_recheck_per_round``)
    only when no new face waits. The faces go to the model ``embed_batch`` at a time, and each
    batch's names are shown at once (the first faces are named before the last are embedded).
    One at a time by default: no model here is cheaper per face in larger batches (VGG-Face on
    OpenVINO bf16: 79-81 ms per face at batch 1, 4 and 8; SFace ~2 ms less of 12), so the names
    come face by face and a room's median face is named about twice as soon as in one batch.
    """

    recheck_s: float = 1.0
    move_ratio: float = 0.5
    max_embed_per_round: int = 8
    max_recheck_per_round: int = 1
    embed_batch: int = 1

    def __post_init__(self) -> None:
        if min(self.max_embed_per_round, self.max_recheck_per_round, self.embed_batch) < 1:
            raise ValueError("max_embed_per_round, max_recheck_per_round and embed_batch: expected 1 or more, got "
                             f"{self.max_embed_per_round}, {self.max_recheck_per_round} and {self.embed_batch}")
        if self.recheck_s <= 0 or self.move_ratio <= 0:
            raise ValueError(f"recheck_s and move_ratio: expected positive values, got {self.recheck_s} and "
                             f"{self.move_ratio}")


@dataclass(frozen=True)
class RoundResult:
    """What one recognition round saw, for whoever listens (sightings log, unknown faces, sinks).

    ``tracks``: every live track after this round's matches (snapshots, sorted by id; a track
    that is gone no longer appears). ``embedded``: the tracks embedded this round, as parallel
    tuples: their ids, the face each was embedded from, its embedding row and match.
    ``rgb_frame`` is the frame the round ran on (read-only for listeners).
    """

    frame: Frame
    rgb_frame: np.ndarray
    faces: Faces
    tracks: tuple[Track, ...]
    embedded_ids: tuple[int, ...] = ()
    embedded_faces: tuple[Face, ...] = ()
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    matches: tuple[Match, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.embedded_ids)
        if not (len(self.embedded_faces) == len(self.matches) == n and (n == 0 or len(self.embeddings) == n)):
            raise ValueError(f"embedded: expected {n} faces, embeddings and matches, got "
                             f"{len(self.embedded_faces)}, {len(self.embeddings)} and {len(self.matches)}")


RoundListener = Callable[[RoundResult], None]


@dataclass
class PipelineStats:
    """What the status bar and ``watch --summary`` show."""

    rounds: int = 0                 # rounds that ran the detector
    idle_rounds: int = 0            # rounds skipped by the motion gate (nothing tracked, nothing moved)
    embeddings_computed: int = 0
    last_round_s: float = 0.0
    last_detect_s: float = 0.0
    last_embed_s: float = 0.0
    latency_s: float = 0.0          # age of the frame when its round finished (wall clock)


class LivePipeline:
    """Detect, track, embed and match on the newest frame, in a worker thread (or in the caller with ``process``).

    ``gallery`` is a callable returning the current :class:`GalleryMatrix`, so a
    gallery refreshed elsewhere (files dropped into known_faces) is used from the
    next round on. ``on_round(stats)`` and ``on_error(exception)`` are called from
    the worker thread after each round / on an error (the worker keeps going).
    ``motion`` gates detection while nothing is tracked (:mod:`facecam.motion`; on by default,
    ``MotionOptions(enabled=False)`` detects on every round); ``idle`` says whether the last round
    was skipped by it, ``dozing`` whether the worker looks at only ``idle_fps`` frames a second (the room still for
    ``doze_after_s``; a safety detection that finds no face does not wake it), and ``on_doze(dozing)`` is called
    from the worker when that changes (``watch`` then has its source skim the frames nobody looks at).
    Each of ``listeners`` is called with the :class:`RoundResult` of every round, in the
    thread that ran it; a listener must be quick (hand heavy work to its own thread), and
    one that raises is reported through ``on_error`` without stopping the others.
    """

    def __init__(self, recognizer: Recognizer, gallery: Callable[[], GalleryMatrix], *,
                 options: PipelineOptions | None = None, tracker: FaceTracker | None = None,
                 on_round: Callable[[PipelineStats], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 listeners: list[RoundListener] | tuple[RoundListener, ...] = (),
                 motion: MotionOptions | None = None,
                 on_doze: Callable[[bool], None] | None = None):
        self.recognizer = recognizer
        self.gallery = gallery
        self.options = options or PipelineOptions()
        self.tracker = tracker if tracker is not None else FaceTracker()  # an empty tracker is falsy (__len__)
        self.stats = PipelineStats()
        self.on_round = on_round
        self.on_error = on_error
        self.listeners: list[RoundListener] = list(listeners)
        motion = motion or MotionOptions()
        self.gate: MotionGate | None = MotionGate(motion) if motion.enabled else None
        self.idle = False
        self.dozing = False
        self.on_doze = on_doze
        self._safety_only = False                   # this round detects only because the safety detection is due
        self._last_detection: float | None = None   # source time of the last round that ran the detector
        self._idle_since: float | None = None       # wall time of the first idle round of the current stretch
        self._last_look: tuple[int, float] = (0, 0.0)  # the last gated frame's number and wall time
        self._slot: tuple[Frame, float] | None = None  # the waiting frame and when it was submitted
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused = False

    # ----------------------------------------------------------- worker thread
    def start(self) -> "LivePipeline":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="facecam-recognition", daemon=True)
            self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the worker to stop after its current round; returns at once (see :meth:`join`)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end (``None``: as long as it takes); True when it has ended.

        The thread handle is kept until the thread has really ended, so a join that timed out
        can be repeated (closing the window asks every thread first, then joins each).
        """
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def stop(self, timeout: float | None = 1.0) -> bool:
        """:meth:`request_stop` then :meth:`join` (a round in progress is not interrupted)."""
        self.request_stop()
        return self.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, frame: Frame) -> None:
        """Offer the newest frame; one not taken yet is replaced (dropped), never queued."""
        with self._cond:
            self._slot = (frame, time.monotonic())
            self._cond.notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._doze()
            with self._cond:
                while self._slot is None and not self._stop.is_set():
                    self._cond.wait(0.1)
                waiting, self._slot = self._slot, None
            if waiting is None or self.paused:
                continue
            frame, submitted = waiting
            try:
                self.process(frame)
                self.stats.latency_s = time.monotonic() - submitted
                if self.on_round is not None:
                    self.on_round(self.stats)
            except Exception as error:  # noqa: BLE001 - reported, and the video goes on
                if self.on_error is not None:
                    self.on_error(error)
                time.sleep(0.05)
        self._set_dozing(False)

    def _doze(self) -> None:
        """While the room has been still (idle rounds, and safety detections that found no face) for
        ``doze_after_s``, sleep until the next of ``idle_fps`` looks a second: the frames submitted meanwhile replace
        each other unseen, and the worker wakes neither for them nor for the gate (an empty room's CPU). A stop
        wakes it at once."""
        gate, since = self.gate, self._idle_since
        if gate is None or since is None:
            return
        now = time.monotonic()
        if now - since >= gate.options.doze_after_s:
            self._set_dozing(True)
            self._stop.wait(max(self._last_look[1] + 1.0 / gate.options.idle_fps - now, 0.0))

    def _set_dozing(self, dozing: bool) -> None:
        if dozing != self.dozing:
            self.dozing = dozing
            if self.on_doze is not None:
                self.on_doze(dozing)

    def _awake(self) -> None:
        """Something moved or is tracked: the room is no longer still (looked at on every frame again)."""
        self._idle_since = None
        self._set_dozing(False)

    # ----------------------------------------------------------- one round
    def process(self, frame: Frame) -> list[Track]:
        """One recognition round on ``frame`` (detect, track, embed what is needed, match), unless the motion
        gate finds nothing tracked and nothing moving (then the tracks, none, are returned at once)."""
        t = float(frame.t_source)
        self.idle = self._gated(frame, t)
        if self.idle:
            self.stats.idle_rounds += 1
            if self._idle_since is None:
                self._idle_since = self._last_look[1]
            return []
        if not self._safety_only:
            self._awake()      # before detecting: a source that skims gives every frame again from now on
        self._last_detection = t
        started = time.perf_counter()
        rgb_frame = bgr_to_rgb(frame.bgr_frame)
        faces = self.recognizer.find_faces(rgb_frame)
        detected = time.perf_counter()
        looks = signatures(rgb_frame, faces.boxes, faces.landmarks) if len(faces) else None
        tracks = self.tracker.update(faces, t, looks)
        if len(faces):
            self._awake()
        chosen = self._to_embed(t)
        embeddings, matches, ids = self._embed_and_match(rgb_frame, faces, chosen, t)
        chosen = chosen[: len(matches)]  # fewer when a stop was asked for mid-round
        if self.listeners:
            self._tell(RoundResult(frame, rgb_frame, faces, tuple(self.tracker.tracks()),
                                   tuple(ids), tuple(tr.face for tr in chosen), embeddings, tuple(matches)))
        finished = time.perf_counter()
        self.stats.rounds += 1
        self.stats.last_detect_s = detected - started
        self.stats.last_embed_s = finished - detected
        self.stats.last_round_s = finished - started
        return tracks

    def _gated(self, frame: Frame, t: float) -> bool:
        """True when this round may skip detection: a gate, no live track, no motion, and a detection less
        than ``safety_s`` ago. The gate sees every round's frame (its background stays current)."""
        gate = self.gate
        self._safety_only = False
        if gate is None:
            return False
        seen, self._last_look = self._last_look[0], (frame.seq, time.monotonic())
        moved = gate.moved(frame.bgr_frame, frames=frame.seq - seen if 0 < seen < frame.seq else 1)
        last = self._last_detection
        if moved or len(self.tracker) or last is None:
            return False
        self._safety_only = not 0 <= t - last < gate.options.safety_s   # a still, empty room's safety detection
        return not self._safety_only

    def _to_embed(self, t: float) -> list[Track]:
        """The tracks this round embeds: new ones and those verifying their face first (up to
        ``max_embed_per_round``); re-checks (a face that moved, or one not embedded for ``recheck_s``) only
        when none of those waits."""
        wanted = self.tracker.tracks_needing_embedding(t, self.options.recheck_s, self.options.move_ratio)
        new = [tr for tr in wanted if tr.last_embedded is None or tr.verifying or tr.doubted]
        if new:
            return new[: self.options.max_embed_per_round]
        return wanted[: self.options.max_recheck_per_round]

    def _embed_and_match(self, rgb_frame: np.ndarray, faces: Faces, chosen: list[Track],
                         t: float) -> tuple[np.ndarray, list[Match], list[int]]:
        """Embed and match ``chosen``, ``embed_batch`` faces per model call, each batch's matches given to the
        tracker at once (so they are drawn while the next batch is embedded). Returns the embeddings,
        matches and the ids of the tracks that got them, in ``chosen``'s order (an id differs from the chosen
        track's when its face proved another person's: :meth:`FaceTracker.add_result`); a stop asked for
        meanwhile ends it after the current batch."""
        rows: list[np.ndarray] = []
        matches: list[Match] = []
        ids: list[int] = []
        step = self.options.embed_batch
        for start in range(0, len(chosen), step):
            if start and self._stop.is_set():
                break
            batch = chosen[start:start + step]
            chosen_faces = faces[np.array([tr.detection_index for tr in batch])]
            embedded = self.recognizer.embed_faces(rgb_frame, chosen_faces)
            found = self.recognizer.judge(rgb_frame, chosen_faces, self.recognizer.match(embedded, self.gallery()))
            self.stats.embeddings_computed += len(batch)
            for track, match, row in zip(batch, found, embedded):
                if match.unsure:  # a face too poor to judge casts no vote: its label stays, re-checked later
                    ids.append(track.id)
                    continue
                got = self.tracker.add_result(track.id, match, t, row)
                ids.append(track.id if got is None else got)
            rows.append(embedded)
            matches.extend(found)
        return (np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)), matches, ids

    def _tell(self, result: RoundResult) -> None:
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception as error:  # noqa: BLE001 - one listener's fault never stops the round
                if self.on_error is not None:
                    self.on_error(error)

    # ----------------------------------------------------------- display side
    def tracks_at(self, t_source: float) -> list[Track]:
        """The tracks to draw on the frame of time ``t_source``, boxes moved to that time."""
        return self.tracker.boxes_at(t_source)

    def strangers_at(self, t_source: float) -> list[Track]:
        """The tracks not named on the frame of time ``t_source`` (Unknown, "?", not recognised yet), boxes moved to
        that time: the faces :func:`facecam.blur.blur_faces` hides. Every live track counts, also one the detector
        missed a few rounds (its box is still drawn where it was last seen and moved, and so blurred)."""
        return [track for track in self.tracker.boxes_at(t_source, include_missed=True) if not is_named(track)]

    def labels_at(self, t_source: float) -> list[Label]:
        """What to draw on the frame of time ``t_source`` (see :class:`facecam.annotate.Label`)."""
        return [Label.from_track(track) for track in self.tracks_at(t_source)]

    def reject(self, track_id: int, name: str) -> bool:
        """Track ``track_id`` is not ``name`` (a user said so): it is re-checked without that name."""
        return self.tracker.reject(track_id, name)

    def reset(self) -> None:
        """Forget all tracks: every face is recognised afresh (new source, gallery or threshold changed)."""
        self.tracker.reset()
        if self.gate is not None:
            self.gate.reset()
        self._last_detection = None
        self._awake()
