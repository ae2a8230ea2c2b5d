"""Collecting unknown sightings from the live pipeline: the best crops of each track that stays Unknown.

A **sighting** is one track's visit, from its first frame to the round its track is gone.
:class:`UnknownCollector` is a :class:`facecam.pipeline.LivePipeline` listener: for every track
it keeps, from the rounds in which the track was embedded and came out Unknown, the best
``max_crops`` (1-5) face crops with their embeddings; when the track ends it hands an
:class:`UnknownSighting` to ``on_sighting`` if the track settled on Unknown (the tracker's vote:
recognised, no name shown) and was never given anyone's name on the way (neither by one
round's match nor by the vote). A stranger once taken for someone is never collected as unknown.

Quality score (:func:`face_quality`, in [0, 1], the product of four factors):

* **yaw** from the landmarks: the nose's offset from the eyes' midpoint along the eye line, in
  eye distances (0 frontal, about 0.35 at 45 degrees): ``1 - offset / 0.5``, floored at 0;
* **roll**: the eye line's angle: ``1 - |angle| / 60 degrees`` (alignment levels the eyes, so
  roll costs little);
* **sharpness**: variance of the Laplacian of the grey face box resampled to 96x96 (a fixed
  size, so faces of any size compare): ``v / (v + 40)`` (about 0.5 for a soft face, 0.9 for a sharp one);
* **size**: eye distance in frame pixels, ``/ 30`` capped at 1 (30 px is a face about 75 px wide).

The crop kept is the face aligned as the models see it (eyes level), with a margin
(:data:`CROP_SPEC`, 224 px, the face about half of it) so that it can be shown, and enrolled as a
photo in which the detector finds the face again. The embedding kept is the pipeline's own.
The pipeline's thread only scores a face (well under a millisecond) and copies the region around
it; aligning the kept crops (pure numpy, 10-50 ms each) is left to whoever builds the sighting
(``on_visit`` gets a function that does it: call it in a worker thread).

Later the general ``Sighting`` of the sightings log (issue 9: one track's visit, with its name or
Unknown, times and snapshot) can be composed in: :class:`UnknownSighting` is that visit plus what
clustering and naming need (crops, embeddings, quality).
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from facecam.align import AlignSpec, align_face
from facecam.quality import face_region, pose_quality, sharpness
from facecam.visits import Visit, VisitFollower

CROP_SPEC = AlignSpec.from_arcface(224, face_fraction=0.5)
MAX_CROPS = 5


@dataclass(frozen=True)
class UnknownCrop:
    """One kept face: aligned ``rgb_crop`` (224x224 RGB), its embedding, quality, and where it was seen."""

    rgb_crop: np.ndarray
    embedding: np.ndarray
    quality: float
    t: float                                   # source seconds
    frame: int                                 # frame index in the source (0-based)
    box: tuple[float, float, float, float]     # x, y, w, h in that frame

    def __post_init__(self) -> None:
        embedding = np.asarray(self.embedding, dtype=np.float32).reshape(-1)
        if embedding.size == 0 or not np.all(np.isfinite(embedding)):
            raise ValueError("embedding: expected a non-empty vector of finite numbers")
        object.__setattr__(self, "embedding", embedding)
        if not 0.0 <= float(self.quality) <= 1.0:
            raise ValueError(f"quality: expected a value in [0, 1], got {self.quality}")
        if len(self.box) != 4:
            raise ValueError(f"box: expected (x, y, w, h), got {self.box}")


@dataclass(frozen=True)
class UnknownSighting:
    """One Unknown visit: 1-5 crops (best first), the source, source and wall-clock times."""

    id: str
    source: str
    track: int
    first_t: float          # source seconds of the track's first and last frame
    last_t: float
    started: float          # wall clock (Unix seconds) at the first and last round
    ended: float
    crops: tuple[UnknownCrop, ...]
    merge_group: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.crops) <= MAX_CROPS:
            raise ValueError(f"crops: expected 1 to {MAX_CROPS}, got {len(self.crops)}")
        if len({c.embedding.shape for c in self.crops}) != 1:
            raise ValueError("crops: expected embeddings of one model (one length)")
        if self.ended < self.started:
            raise ValueError("ended: expected a time at or after started")

    @property
    def embedding(self) -> np.ndarray:
        """The unit mean of the crops' embeddings: what clustering compares."""
        mean = np.mean([c.embedding for c in self.crops], axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def new_sighting_id() -> str:
    """A short random id (8 hex digits), easy to type in ``facecam unknowns name ID NAME``."""
    return secrets.token_hex(4)


def face_quality(rgb_image: np.ndarray, face) -> float:
    """The quality score in [0, 1] of a detected face (see the module notes): yaw x roll x sharpness x size."""
    yaw, roll, eye_distance = pose_quality(face.landmarks)
    variance = sharpness(face_region(rgb_image, face.box))
    return float(yaw * roll * (variance / (variance + 40.0)) * min(1.0, eye_distance / 30.0))


@dataclass(frozen=True)
class FaceCandidate:
    """A face worth keeping, before its crop is aligned: the region of the frame around it."""

    region: np.ndarray       # RGB, a copy
    origin: tuple[int, int]  # the region's top-left corner in the frame
    landmarks: np.ndarray
    embedding: np.ndarray
    quality: float
    t: float
    frame: int
    box: tuple[float, float, float, float]

    @classmethod
    def of(cls, rgb_frame: np.ndarray, face, embedding, quality: float, t: float, frame: int) -> "FaceCandidate":
        x, y, w, h = face.box
        reach = 1.5 * max(w, h)  # the aligned crop (face about half of it) reads within this
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = max(int(cx - reach), 0), max(int(cy - reach), 0)
        x1, y1 = min(int(cx + reach) + 1, rgb_frame.shape[1]), min(int(cy + reach) + 1, rgb_frame.shape[0])
        return cls(rgb_frame[y0:y1, x0:x1].copy(), (x0, y0), np.asarray(face.landmarks, np.float64).copy(),
                   np.asarray(embedding, np.float32).copy(), quality, t, frame, tuple(float(v) for v in face.box))

    def crop(self) -> UnknownCrop:
        landmarks = self.landmarks - np.array(self.origin, np.float64)
        return UnknownCrop(align_face(self.region, landmarks, CROP_SPEC), self.embedding, self.quality,
                           self.t, self.frame, self.box)


@dataclass
class _Visit:
    last: Visit
    crops: list[FaceCandidate] = field(default_factory=list)


class UnknownCollector(VisitFollower):
    """Turns visits that settle on Unknown into :class:`UnknownSighting`\\ s: a subscriber of a
    :class:`~facecam.visits.VisitTracker` (:meth:`on_visit`), or on its own a pipeline listener (call it
    with each round).

    ``on_visit(build)`` is called in the pipeline's thread when such a visit ends; ``build()``
    returns the :class:`UnknownSighting` (it aligns the crops: call it in a worker thread, e.g. a
    :class:`BackgroundTasks`, with the store's write). ``finish()`` ends every open visit (the
    source ended, collection turned off). Cost per round: microseconds per track, plus under a
    millisecond per face embedded and Unknown (its score and a copy of the region around it).
    """

    def __init__(self, source: str, on_visit: Callable[[Callable[[], UnknownSighting]], None], *,
                 max_crops: int = MAX_CROPS, clock: Callable[[], float] = time.time):
        if not 1 <= max_crops <= MAX_CROPS:
            raise ValueError(f"max_crops: expected 1 to {MAX_CROPS}, got {max_crops}")
        super().__init__(source, clock=clock)
        self.on_sighting = on_visit
        self.max_crops = int(max_crops)
        self.collected = 0
        self.strangers = None   # a facecam.unknowns.strangers.StrangerIndex: the ids given at arrival, visits counted

    def begin(self, visit: Visit) -> _Visit:
        return _Visit(visit)

    def follow(self, state: _Visit, event) -> None:
        state.last = visit = event.visit
        seen = event.embedded
        if seen is not None and seen.match.name is None and not visit.named:
            self._offer(state, event.round, seen.face, seen.embedding)

    def _offer(self, visit: _Visit, result, face, embedding: np.ndarray) -> None:
        quality = face_quality(result.rgb_frame, face)
        if len(visit.crops) == self.max_crops and quality <= visit.crops[-1].quality:
            return
        visit.crops.append(FaceCandidate.of(result.rgb_frame, face, embedding, quality, float(result.frame.t_source),
                                         int(result.frame.seq) - 1))
        visit.crops.sort(key=lambda c: -c.quality)
        del visit.crops[self.max_crops:]

    def end(self, state: _Visit, visit: Visit | None) -> None:
        visit = visit or state.last
        if visit.named or not visit.recognised or visit.known or not state.crops:
            return  # settled on Unknown and never anyone's name on the way: a stranger's visit
        self.collected += 1
        candidates, strangers = tuple(state.crops), self.strangers
        sighting_id = (strangers.claim(visit.track, visit.started, visit.ended) if strangers is not None
                       else None) or new_sighting_id()
        if strangers is not None:
            strangers.ended(sighting_id, visit.source, visit.started, visit.ended,
                            np.mean([c.embedding for c in candidates], axis=0))

        def build() -> UnknownSighting:
            return UnknownSighting(sighting_id, visit.source, visit.track, visit.first_t, visit.last_t,
                                   visit.started, max(visit.ended, visit.started),
                                   tuple(c.crop() for c in candidates))

        self.on_sighting(build)


def sighting_of_face(rgb_frame: np.ndarray, face, embedding: np.ndarray, source: str, t: float, frame: int,
                     track: int = -1, clock: Callable[[], float] = time.time) -> UnknownSighting:
    """A one-crop sighting of one face of a frame (the window's "Not <name>": the face a user says was
    mislabelled goes to the unknowns). Aligns the crop: not on a UI thread."""
    now = clock()
    candidate = FaceCandidate.of(rgb_frame, face, embedding, face_quality(rgb_frame, face), float(t), int(frame))
    return UnknownSighting(new_sighting_id(), str(source), int(track), float(t), float(t), now, now,
                           (candidate.crop(),))


class BackgroundTasks:
    """Runs callables one at a time in a thread, so the pipeline never waits for the disk.

    The queue is bounded (``max_waiting``): when full, a task is dropped and counted
    (``dropped``), memory never grows without bound. ``errors`` keeps the first failures.
    """

    def __init__(self, max_waiting: int = 256, on_error: Callable[[BaseException], None] | None = None):
        self._queue: queue.Queue = queue.Queue(maxsize=max_waiting)
        self.dropped = 0
        self.pending = 0        # tasks put and not finished yet (0: idle)
        self._pending_lock = threading.Lock()
        self.on_error = on_error
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="facecam-unknowns", daemon=True)
        self._thread.start()

    def put(self, task: Callable[[], object]) -> bool:
        with self._pending_lock:
            try:
                self._queue.put_nowait(task)
            except queue.Full:
                self.dropped += 1
                return False
            self.pending += 1
            return True

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception as error:  # noqa: BLE001 - reported; later sightings still stored
                if len(self.errors) < 10:
                    self.errors.append(str(error))
                if self.on_error is not None:
                    self.on_error(error)
            finally:
                with self._pending_lock:
                    self.pending -= 1

    def close(self, timeout: float = 10.0) -> bool:
        """Finish the waiting tasks, then stop; True when done within ``timeout``."""
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()
