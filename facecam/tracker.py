"""Face tracking between detections: stable ids, smooth boxes, voted labels, embedding schedule.

Pure numpy, no OpenCV, no Qt. One :class:`FaceTracker` per video source.

How the live pipeline uses it (one detection worker, one painting GUI)::

    tracker = FaceTracker()
    # worker thread, once per detection round, on the newest frame:
    tracks = tracker.update(faces, t_source)            # faces: facecam.types.Faces
    for track in tracker.tracks_needing_embedding(t_source)[:2]:
        face = track.face                                # raw box + landmarks for alignment
        match = recognise(bgr_frame, face)               # ~176 ms per face with VGG-Face
        tracker.add_match(track.id, match, t_source)
    # GUI thread, every painted frame:
    for track in tracker.boxes_at(frame_t_source):
        draw(track.box, track.name, track.distance)

Practical advice:

* Pass the **source time of the frame** (``VideoSource.latest()``'s ``t_source``), not the
  time the detector finished: velocities and ages are then in video seconds, and
  ``boxes_at(t)`` moves a box by exactly how far the painted frame is ahead of the
  frame the detector saw.
* Embedding is the expensive part. Embed one or two faces per detection round (the
  first of ``tracks_needing_embedding``): new tracks come first, so a person who walks
  in gets a name within one round.
* Every public method takes a lock, so ``update`` (worker) and ``boxes_at`` (GUI) may be
  called from different threads. :class:`Track` objects are frozen snapshots: keep
  them, they never change under you.
* Ids are never reused (a counter that only grows), so a result that arrives for a
  track that has died meanwhile is dropped by ``add_match`` (it returns False)
  instead of landing on a newcomer.

Design choices:

* **Association**: greedy on IoU (highest first, ``min_iou``) between detections and
  each track's *predicted* box (constant velocity, so two faces crossing are told
  apart by where they are heading), then a greedy fallback on centre distance
  relative to the face size (``max_center_dist``) with similar size (``max_size_ratio``),
  which reacquires a fast-moving face whose boxes no longer overlap. Greedy instead of
  Hungarian: with a handful of faces that rarely overlap the two agree, greedy needs
  no scipy and is easier to reason about.
* **Box smoothing**: an alpha-beta filter on the box centre (``box_alpha``,
  ``velocity_beta``: a Kalman filter's steady state without the matrices) and
  exponential smoothing of the size. It damps detector jitter without lagging a face
  that moves steadily.
* **Labels**: simple majority over the last ``vote_window`` results, Unknown counting as
  a vote; a tie keeps the name already shown. One outlier never flips a label, and a
  first result shows at once. Majority rather than weighting by ``1 - distance``:
  distances of an Unknown result (best person above the threshold) and of a match are
  not on a comparable scale, and a count is easy to explain to a user.
* **boxes_at(t)** extrapolates with the smoothed velocity, clamped to
  ``predict_horizon_s`` and to ``max_shift_ratio`` of the box size. Detection takes
  ~120 ms and runs on a frame that is already old, so without extrapolation boxes
  trail a moving head by 2-4 painted frames; the clamps keep a face that stops or
  leaves from dragging its box away. ``predict_horizon_s=0`` gives plain latest boxes.
* **A name stays with its face, not with its box.** A box that another person steps into (a direct
  cut, someone stepping in front, the spot another just left) is associated like any other, so the
  tracker checks that the face in it is still the same face before it keeps showing its name: every
  round each detection's look (``signatures``, facecam.appearance: a 12x12 grey thumbnail placed
  by the landmarks) is compared with its track's last one (correlation: 0.76 at the least for one
  face in consecutive frames, 0.70 at the most for two people's, measured there).
  A track whose look changed (below ``min_similarity``) or whose face was not found for
  ``reverify_missed`` rounds or ``reverify_gap_s`` seconds is *verifying*: shown as not recognised
  (``votes == 0``, its old name kept for listeners, so no visit is renamed by it) and first in line
  for an embedding. One whose look is in doubt (below ``doubt_similarity``) is *doubted*: its name
  is still shown, and it is first in line too. That embedding decides (:meth:`add_result`): the same
  face (within the model's threshold of the track's last embedding, and no other person's name)
  keeps or gets back its name; another face ends the track and starts a new one, with a new id, on
  the same detection, so whatever follows track ids (visits, notifications, History) sees the first
  person leave and the second arrive.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from facecam.types import Face, Faces, Match

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Track:
    """A snapshot of one tracked face.

    ``box`` is the smoothed ``(x, y, w, h)`` (moved to the asked time by
    :meth:`FaceTracker.boxes_at`), ``velocity`` the box centre's speed in pixels per
    second. ``face`` is the raw detection last matched to the track (box and
    landmarks: what alignment needs) and ``detection_index`` its index in the
    ``faces`` of the latest :meth:`FaceTracker.update`, or None when the track was not
    detected in that round (``missed > 0``).

    Label state: ``votes`` recognition results are in the window; ``name`` is their
    majority (None is Unknown) and ``distance`` the mean distance of the votes for it.
    ``votes == 0`` means *not recognised yet* (show a neutral box, not "Unknown"); ``verifying``
    tracks show ``votes == 0`` too, with the name they had (see the module notes).
    """

    id: int
    box: Box
    velocity: tuple[float, float]
    first_seen: float
    last_seen: float
    hits: int
    missed: int
    face: Face
    detection_index: int | None
    name: str | None
    distance: float | None
    votes: int
    last_embedded: float | None
    verifying: bool = False     # the face must be recognised again before its name is shown (votes == 0)
    doubted: bool = False       # the face may be another: embedded first, its name still shown

    @property
    def recognised(self) -> bool:
        """True once at least one recognition result was recorded."""
        return self.votes > 0

    @property
    def known(self) -> bool:
        """True when the displayed name is a person (not Unknown, not pending)."""
        return self.name is not None

    @property
    def display_name(self) -> str | None:
        """The person's name, "Unknown", or None while not recognised yet."""
        if not self.recognised:
            return None
        return self.name if self.name is not None else "Unknown"


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every xywh box in ``a (N, 4)`` with every one in ``b (M, 4)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0.0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0.0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _centre(box) -> np.ndarray:
    return np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0])


def _shift(box: np.ndarray, delta: np.ndarray) -> np.ndarray:
    out = np.array(box, dtype=np.float64)
    out[:2] += delta
    return out


class _State:
    """Mutable per-track state, private to the tracker (callers only see Track snapshots)."""

    def __init__(self, track_id: int, face: Face, index: int, t: float, vote_window: int) -> None:
        self.id = track_id
        self.box = np.array(face.box, dtype=np.float64)
        self.velocity = np.zeros(2)
        self.first_seen = t
        self.last_seen = t
        self.hits = 1
        self.missed = 0
        self.face = face
        self.detection_index: int | None = index
        self.votes: deque[tuple[str | None, float]] = deque(maxlen=vote_window)
        self.name: str | None = None
        self.distance: float | None = None
        self.last_embedded: float | None = None
        self.embedded_box: np.ndarray | None = None
        self.rejected: set[str] = set()    # names a user said this face is not
        self.signature: np.ndarray | None = None   # the face's look in its latest round (facecam.appearance)
        self.embedding: np.ndarray | None = None   # the embedding of its latest accepted result
        self.verifying = False
        self.doubted = False

    def shift_to(self, t: float, horizon_s: float, max_shift_ratio: float) -> np.ndarray:
        """Constant-velocity offset from ``last_seen`` to ``t``, clamped in time and size."""
        dt = min(max(t - self.last_seen, 0.0), horizon_s)
        delta = self.velocity * dt
        limit = max_shift_ratio * math.sqrt(self.box[2] * self.box[3])
        norm = float(np.hypot(*delta))
        if norm > limit > 0:
            delta *= limit / norm
        return delta

    def snapshot(self, box: np.ndarray | None = None) -> Track:
        b = self.box if box is None else box
        return Track(
            id=self.id,
            box=tuple(float(v) for v in b),
            velocity=(float(self.velocity[0]), float(self.velocity[1])),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            hits=self.hits,
            missed=self.missed,
            face=self.face,
            detection_index=self.detection_index,
            name=self.name,
            distance=self.distance,
            votes=0 if self.verifying else len(self.votes),
            last_embedded=self.last_embedded,
            verifying=self.verifying,
            doubted=self.doubted,
        )


class FaceTracker:
    """Associates detections across frames and keeps per-face box and label state.

    Parameters (defaults suit ~5-10 detection rounds per second on 640x480):

    * ``min_iou`` - IoU needed to match a detection to a track's predicted box.
    * ``max_center_dist`` - fallback: centre distance, in face sizes (sqrt of area),
      still accepted when boxes do not overlap enough; ``max_size_ratio`` limits how
      different the two sizes may be (a small face in the background is not the big
      one in front).
    * ``max_missed`` - a track survives this many rounds in a row without a match
      (MTCNN misses a turned or blurred face now and then); ``max_age_s`` kills it
      sooner when detection rounds are slow.
    * ``show_missed`` - :meth:`boxes_at` still shows a track missed this many rounds.
      0 (the default): a box disappears with the first round that does not find its
      face, so no ghost box lingers after a face left; the track itself lives on
      (``max_missed``), so a face found again keeps its id and its name.
    * ``box_alpha`` - weight of the new detection in the smoothed box (1 = no smoothing).
    * ``velocity_beta`` - how fast the velocity follows the residuals (the beta of
      the alpha-beta filter; about ``box_alpha**2 / (2 - box_alpha)`` is well damped).
    * ``vote_window`` - recognition results kept per track for the label vote.
    * ``predict_horizon_s``, ``max_shift_ratio`` - clamps of the extrapolation in
      :meth:`boxes_at` and of the prediction used for matching.
    * ``min_similarity`` - a face whose look (``signatures`` given to :meth:`update`) correlates
      less than this with its track's previous round is verified by an embedding before its name is
      shown again (below ``doubt_similarity``: verified while its name is shown);
      ``reverify_missed`` / ``reverify_gap_s`` - so is a face found again after this many missed
      rounds, or after this many seconds unseen with a missed round between (a slow round on a
      loaded machine is not a gap, a missed one that long is).
    """

    def __init__(
        self,
        *,
        min_iou: float = 0.3,
        max_center_dist: float = 1.0,
        max_size_ratio: float = 2.0,
        max_missed: int = 5,
        max_age_s: float = 2.0,
        show_missed: int = 0,
        box_alpha: float = 0.5,
        velocity_beta: float = 0.15,
        vote_window: int = 5,
        predict_horizon_s: float = 0.25,
        max_shift_ratio: float = 0.5,
        min_similarity: float = 0.6,
        doubt_similarity: float = 0.85,
        reverify_missed: int = 2,
        reverify_gap_s: float = 0.3,
    ) -> None:
        if not 0.0 < box_alpha <= 1.0 or not 0.0 <= velocity_beta <= 1.0:
            raise ValueError("box_alpha: expected a value in (0, 1]; velocity_beta: in [0, 1]")
        if vote_window < 1 or max_missed < 0 or show_missed < 0:
            raise ValueError("vote_window >= 1, max_missed >= 0 and show_missed >= 0 expected")
        self.min_iou = float(min_iou)
        self.max_center_dist = float(max_center_dist)
        self.max_size_ratio = float(max_size_ratio)
        self.max_missed = int(max_missed)
        self.max_age_s = float(max_age_s)
        self.show_missed = int(show_missed)
        self.box_alpha = float(box_alpha)
        self.velocity_beta = float(velocity_beta)
        self.vote_window = int(vote_window)
        self.predict_horizon_s = float(predict_horizon_s)
        self.max_shift_ratio = float(max_shift_ratio)
        self.min_similarity = float(min_similarity)
        self.doubt_similarity = max(float(doubt_similarity), self.min_similarity)
        self.reverify_missed = max(int(reverify_missed), 1)
        self.reverify_gap_s = float(reverify_gap_s)
        self._lock = threading.RLock()
        self._states: dict[int, _State] = {}
        self._next_id = 1

    # ------------------------------------------------------------------ tracking

    def update(self, faces: Faces, t: float, signatures: np.ndarray | None = None) -> list[Track]:
        """Feed one detection round (all faces found in the frame of time ``t``).

        ``signatures`` (optional, one row per face: facecam.appearance.signatures) is how each face
        looks; without them a changed face is only noticed after a gap (see the module notes).
        Returns every live track sorted by id, including tracks missed in this round
        (``missed > 0``, ``detection_index`` None). Call it also when nothing was
        found (``Faces.empty()``): that is how tracks age and die.
        """
        t = float(t)
        with self._lock:
            states = list(self._states.values())
            boxes = faces.boxes.astype(np.float64) if len(faces) else np.zeros((0, 4))
            matches = self._associate(states, boxes, t)
            matched_tracks = set()
            matched_dets = set()
            for ti, di in matches:
                self._check_face(states[ti], None if signatures is None else signatures[di], t)
                self._correct(states[ti], faces[di], di, t)
                matched_tracks.add(ti)
                matched_dets.add(di)
            for ti, state in enumerate(states):
                if ti not in matched_tracks:
                    state.missed += 1
                    state.detection_index = None
                    if state.missed > self.max_missed or t - state.last_seen > self.max_age_s:
                        del self._states[state.id]
            for di in range(len(faces)):
                if di not in matched_dets:
                    state = self._new_state(faces[di], di, t)
                    if signatures is not None:
                        state.signature = np.asarray(signatures[di], np.float32)
            return [s.snapshot() for s in sorted(self._states.values(), key=lambda s: s.id)]

    def _new_state(self, face: Face, index: int | None, t: float) -> _State:
        state = _State(self._next_id, face, index, t, self.vote_window)
        self._next_id += 1
        self._states[state.id] = state
        return state

    def _check_face(self, state: _State, signature: np.ndarray | None, t: float) -> None:
        """Before a detection joins ``state``: is it still the same face? If in doubt, ``verifying``."""
        gap = state.missed >= self.reverify_missed or (state.missed > 0 and t - state.last_seen > self.reverify_gap_s)
        similarity = 1.0
        if signature is not None:
            signature = np.asarray(signature, np.float32)
            if state.signature is not None:
                similarity = float(np.dot(state.signature, signature))
            state.signature = signature
        if state.votes:
            state.verifying |= gap or similarity < self.min_similarity
            state.doubted |= similarity < self.doubt_similarity

    def _predicted(self, state: _State, t: float) -> np.ndarray:
        # Matching may look further ahead than painting: a face missed for a few rounds
        # kept moving. Still clamped so a wrong velocity cannot run away.
        horizon = max(self.predict_horizon_s, 0.5)
        return _shift(state.box, state.shift_to(t, horizon, self.max_shift_ratio * 2))

    def _associate(self, states: list[_State], boxes: np.ndarray, t: float) -> list[tuple[int, int]]:
        if not states or not len(boxes):
            return []
        predicted = np.array([self._predicted(s, t) for s in states])
        iou = iou_matrix(predicted, boxes)
        pairs: list[tuple[int, int]] = []
        free_t = set(range(len(states)))
        free_d = set(range(len(boxes)))
        # 1. greedy on IoU, highest first (stable order for ties)
        order = np.argsort(-iou, axis=None, kind="stable")
        for flat in order:
            ti, di = divmod(int(flat), len(boxes))
            if iou[ti, di] < self.min_iou:
                break
            if ti in free_t and di in free_d:
                pairs.append((ti, di))
                free_t.discard(ti)
                free_d.discard(di)
        # 2. fallback: centre distance in face sizes, similar size
        if free_t and free_d:
            candidates = []
            for ti in free_t:
                p = predicted[ti]
                size_t = math.sqrt(p[2] * p[3])
                for di in free_d:
                    d = boxes[di]
                    size_d = math.sqrt(d[2] * d[3])
                    ratio = max(size_t, size_d) / max(min(size_t, size_d), 1e-9)
                    if ratio > self.max_size_ratio:
                        continue
                    dist = float(np.hypot(*(_centre(p) - _centre(d)))) / max(size_t, 1e-9)
                    if dist <= self.max_center_dist:
                        candidates.append((dist, ti, di))
            for _, ti, di in sorted(candidates):
                if ti in free_t and di in free_d:
                    pairs.append((ti, di))
                    free_t.discard(ti)
                    free_d.discard(di)
        return pairs

    def _correct(self, state: _State, face: Face, index: int, t: float) -> None:
        # An alpha-beta filter on the box centre (constant velocity), plain exponential
        # smoothing on the size: jitter is damped, a steadily moving face is not lagged.
        det = np.array(face.box, dtype=np.float64)
        dt = t - state.last_seen
        pred = self._predicted(state, t)
        residual = _centre(det) - _centre(pred)
        if dt > 0:
            if state.hits == 1:  # two-point start: the first velocity is the measured one
                state.velocity = (_centre(det) - _centre(state.box)) / dt
            else:
                state.velocity = state.velocity + self.velocity_beta * residual / dt
        a = self.box_alpha
        size = a * det[2:] + (1 - a) * pred[2:]
        centre = _centre(pred) + a * residual
        state.box = np.concatenate([centre - size / 2, size])
        state.face = face
        state.detection_index = index
        state.last_seen = max(state.last_seen, t)
        state.hits += 1
        state.missed = 0

    # ------------------------------------------------------------------ painting

    def boxes_at(self, t: float, *, include_missed: bool | None = None) -> list[Track]:
        """Tracks to paint on the frame of time ``t``, boxes extrapolated to ``t``.

        Only tracks missed at most ``show_missed`` rounds are returned (pass
        ``include_missed=True`` for all live tracks). Cheap: call it every frame.
        """
        with self._lock:
            out = []
            for state in sorted(self._states.values(), key=lambda s: s.id):
                if not include_missed and state.missed > self.show_missed:
                    continue
                delta = state.shift_to(float(t), self.predict_horizon_s, self.max_shift_ratio)
                out.append(state.snapshot(_shift(state.box, delta)))
            return out

    def tracks(self) -> list[Track]:
        """Every live track (snapshots, sorted by id), without extrapolation."""
        with self._lock:
            return [s.snapshot() for s in sorted(self._states.values(), key=lambda s: s.id)]

    def reset(self) -> None:
        """Forget every track (e.g. the source changed). Ids still never repeat."""
        with self._lock:
            self._states.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    # ------------------------------------------------------------------ labels

    def add_match(self, track_id: int, match: Match, t: float) -> bool:
        """Record a recognition result for a track; the displayed name is re-voted.

        ``t`` is the time of the frame the embedding was computed on. Returns False
        (and records nothing) when the track has died meanwhile. (:meth:`add_result`
        with the embedding: the same, and a verifying track is judged by it too.)
        """
        return self.add_result(track_id, match, t) is not None

    def add_result(self, track_id: int, match: Match, t: float, embedding: np.ndarray | None = None) -> int | None:
        """Record a recognition result (``match``, and the ``embedding`` it came from) for a track.

        A *verifying* track (its face looked different, or was away) is judged first: another face
        (its embedding further than ``match.threshold`` from the track's last one, or another
        person's name where the track had a name) ends the track, and a new track (new id) starts
        on the same detection with this result. Returns the id of the track that got the result
        (``track_id`` or the new one), None when the track has died meanwhile.
        """
        with self._lock:
            state = self._states.get(track_id)
            if state is None:
                return None
            if embedding is not None:
                embedding = np.asarray(embedding, np.float32).ravel()
            name = None if match.name in state.rejected else match.name
            if (state.verifying or state.doubted) and _other_face(state, name, match.threshold, embedding):
                del self._states[state.id]
                fresh = self._new_state(state.face, state.detection_index, state.last_seen)
                fresh.box = np.array(state.face.box, dtype=np.float64)
                fresh.signature = state.signature
                state = fresh
            state.verifying = state.doubted = False
            state.votes.append((name, float(match.distance)))
            state.last_embedded = float(t)
            state.embedded_box = state.box.copy()
            if embedding is not None:
                state.embedding = embedding
            state.name, state.distance = self._vote(state)
            return state.id

    def reject(self, track_id: int, name: str) -> bool:
        """A user said track ``track_id`` is not ``name``: its votes are dropped, it is recognised afresh
        (first in line), and from now on a match to ``name`` counts as Unknown for it. False when the
        track is gone."""
        with self._lock:
            state = self._states.get(track_id)
            if state is None:
                return False
            state.rejected.add(str(name))
            state.votes.clear()
            state.name, state.distance = None, None
            state.last_embedded, state.embedded_box = None, None
            state.verifying = state.doubted = False
            return True

    @staticmethod
    def _vote(state: _State) -> tuple[str | None, float | None]:
        counts = Counter(name for name, _ in state.votes)
        best = max(counts.values())
        leaders = {name for name, count in counts.items() if count == best}
        if len(state.votes) > 1 and state.name in leaders:
            winner = state.name  # a tie keeps what is shown: no flip on one outlier
        else:
            winner = next(name for name, _ in reversed(state.votes) if name in leaders)
        distances = [d for name, d in state.votes if name == winner]
        return winner, float(np.mean(distances))

    # ------------------------------------------------------------------ scheduling

    def tracks_needing_embedding(
        self,
        t: float,
        recheck_s: float = 1.0,
        move_ratio: float = 0.5,
    ) -> list[Track]:
        """Tracks detected in the latest round that should be (re-)recognised now.

        In priority order:

        1. never embedded, verifying or doubted (oldest track first): a newcomer, or a face
           that may be another since its last result, gets a name first;
        2. box changed a lot since its last embedding: centre moved more than
           ``move_ratio`` face sizes, or size changed by more than ``1 + move_ratio``
           (someone walked in front, or the person came much closer);
        3. last embedded more than ``recheck_s`` ago (oldest result first), which
           catches a wrong first result and an id that jumped to another person.

        Only tracks with a detection in the latest round are returned (their
        ``face`` is fresh). How many of them a round embeds is the pipeline's choice
        (:class:`facecam.pipeline.PipelineOptions`: every new face, re-checks only
        when no new face waits).
        """
        t = float(t)
        with self._lock:
            groups: tuple[list, list, list] = ([], [], [])
            for state in self._states.values():
                if state.missed > 0:
                    continue
                if state.last_embedded is None or state.verifying or state.doubted:
                    groups[0].append((state.first_seen, state.id, state))
                elif _moved(state.embedded_box, state.box, move_ratio):
                    groups[1].append((state.last_embedded, state.id, state))
                elif t - state.last_embedded > recheck_s:
                    groups[2].append((state.last_embedded, state.id, state))
            ordered = [s for group in groups for *_, s in sorted(group, key=lambda g: g[:2])]
            return [s.snapshot() for s in ordered]


def _moved(before: np.ndarray | None, now: np.ndarray, move_ratio: float) -> bool:
    if before is None:
        return False
    size = math.sqrt(before[2] * before[3])
    shift = float(np.hypot(*(_centre(now) - _centre(before))))
    scale = math.sqrt((now[2] * now[3]) / max(before[2] * before[3], 1e-12))
    return shift > move_ratio * size or max(scale, 1.0 / max(scale, 1e-12)) > 1.0 + move_ratio


def _other_face(state: _State, name: str | None, threshold: float, embedding: np.ndarray | None) -> bool:
    """Is the face of a result (``name``, ``embedding``) another than the one ``state`` was recognised as?"""
    if embedding is not None and state.embedding is not None and len(embedding) == len(state.embedding):
        if 1.0 - float(np.dot(embedding, state.embedding)) > threshold:
            return True
    return state.name is not None and name is not None and name != state.name
