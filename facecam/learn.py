"""Getting better with use (``--learn``, opt-in): clear sightings of a known person become learned crops.

A **sighting** is one track's visit (its first frame to its track's end). With learning on, a visit
adds its best face crop to ``known_faces/<name>/.learned/`` when all of these hold:

* **clear**: at least one round named it with a margin: distance at most ``threshold -``
  :data:`DISTANCE_MARGIN` and the runner-up person at least :data:`RUNNER_UP_GAP` farther (no runner-up:
  one person enrolled, the distance margin alone). The crop kept is the best of those clear rounds.
  Chosen on lfw40 with SFace (``bench/learn_margins.py``, BENCHMARKS.md): 20 people enrolled from one
  photo each, 200 random draws (30,000 probes): at the threshold itself 0.25% of the faces it would
  learn are a stranger or the wrong person; from 0.05 under it none is; 0.10 doubles that margin and
  still lets 92% of the right faces teach.
* **never contested**: every round's match and every vote of the track named that same person: a track
  that was Unknown or another name at ANY point of its visit (a stranger taken for someone once, an id
  that jumped between two people, a face a user said was not that person) teaches nothing (drift guard).
* **good quality**: the unknown-faces score (:func:`facecam.unknowns.collect.face_quality`: eyes and
  pose from the landmarks, variance of the Laplacian for blur, size) at least :data:`MIN_QUALITY`.
* **new**: not a near-duplicate (cosine distance under :data:`NEAR_DUPLICATE`) of a photo or learned
  crop the person already has (someone sitting still all day adds one crop, not ten).

At most :data:`MAX_LEARNED` crops per person: the oldest is replaced. The user's own photos are never
touched. A learned crop is the face aligned as the unknowns' crops are (:data:`CROP_SPEC`: 224 px, eyes
level, the face about half of it), written as a JPEG the detector finds the face in again, so it goes
through the gallery's one path (detect, align, embed) and embeds to (nearly) the live face's vector.
Files are owner-only (0600 in a 0700 folder) and written atomically; names come from the gallery's
checked person names and never leave known_faces.

The gallery indexes ``.learned/`` (the one hidden folder it reads: :func:`facecam.gallery.is_learned`);
``facecam learned list`` / ``facecam learned clear NAME|--all`` and the window's People panel show and
clear them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from facecam.errors import GalleryError
from facecam.gallery import LEARNED_DIR, check_person_name, is_learned, person_folder
from facecam.matcher import cosine_distances
from facecam.unknowns.collect import BackgroundTasks, FaceCandidate, face_quality
from facecam.visits import Visit, VisitFollower

MAX_LEARNED = 10
DISTANCE_MARGIN = 0.10   # a clear round: distance <= threshold - 0.10 (SFace: 0.475) ...
RUNNER_UP_GAP = 0.10     # ... and the runner-up person at least 0.10 farther
MIN_QUALITY = 0.3        # the unknowns' quality score (lfw40 faces on a clip: 0.04 blurred or turned, 0.3-0.7 good)
NEAR_DUPLICATE = 0.08    # cosine distance under which a crop adds nothing to what the person has
LEARNED_PREFIX = "learned-"


def learning_enabled(flag: bool = False, settings: dict | None = None) -> bool:
    """True when ``--learn`` (or the window's setting) asks for it, or the setting ``"learn": true`` keeps it on."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    return bool(flag) or settings.get("learn") is True


def clear_match(match, distance_margin: float = DISTANCE_MARGIN, gap: float = RUNNER_UP_GAP) -> bool:
    """True when ``match`` (a :class:`facecam.types.Match`) names someone with a clear margin (module notes)."""
    if match.name is None or match.distance > match.threshold - distance_margin:
        return False
    return match.runner_up_distance is None or match.runner_up_distance - match.distance >= gap


# ---------------------------------------------------------------- the files

def learned_folder(known_faces: Path, name: str) -> Path:
    """``known_faces/<name>/.learned`` (the name checked, the folder proven inside known_faces)."""
    return person_folder(Path(known_faces), name) / LEARNED_DIR


def learned_crops(known_faces: Path, name: str) -> list[Path]:
    """A person's learned crops, oldest first (their names carry the time they were learned)."""
    folder = learned_folder(known_faces, name)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink()
                  and p.name.startswith(LEARNED_PREFIX) and p.suffix == ".jpg")


def learned_people(known_faces: Path) -> dict[str, list[Path]]:
    """Every person with learned crops (sorted by name): their crops, oldest first."""
    root = Path(known_faces)
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            crops = learned_crops(root, entry.name)
        except Exception:  # noqa: BLE001 - a folder whose name is no person name holds nothing learned
            continue
        if crops:
            out[entry.name] = crops
    return out


def add_learned(known_faces: Path, name: str, jpeg: bytes, *, keep: int = MAX_LEARNED,
                clock: Callable[[], float] = time.time) -> tuple[Path, list[Path]]:
    """Write one learned crop (JPEG bytes) for ``name``; the oldest beyond ``keep`` are removed.
    Returns the new file and the files removed. Never touches anything outside ``.learned``."""
    from facecam.fileutil import atomic_write_bytes, private_folder  # noqa: PLC0415

    folder = learned_folder(known_faces, name)
    if folder.is_symlink():
        raise GalleryError(f"{folder} is a symbolic link; facecam writes learned crops only into a real folder: "
                           "remove the link")
    folder = private_folder(folder)
    now = clock()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"-{int(now * 1e6) % 1_000_000:06d}"
    path = folder / f"{LEARNED_PREFIX}{stamp}.jpg"
    n = 2
    while path.exists():  # two in the same microsecond
        path = folder / f"{LEARNED_PREFIX}{stamp}-{n}.jpg"
        n += 1
    atomic_write_bytes(path, jpeg, mode=0o600)
    crops = learned_crops(known_faces, name)
    removed = crops[:max(len(crops) - keep, 0)]
    for old in removed:
        old.unlink(missing_ok=True)
    return path, removed


def clear_learned(known_faces: Path, name: str | None = None) -> dict[str, int]:
    """Delete the learned crops of ``name`` (None: of everyone); returns how many per person. The user's
    own photos are never touched (only ``learned-*.jpg`` files inside ``.learned``)."""
    root = Path(known_faces)
    people = {check_person_name(name): learned_crops(root, name)} if name is not None else learned_people(root)
    cleared = {}
    for person, crops in people.items():
        for crop in crops:
            crop.unlink(missing_ok=True)
        folder = learned_folder(root, person)
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
        cleared[person] = len(crops)
    return cleared


def split_learned(paths) -> tuple[list[str], list[str]]:
    """A person's gallery paths split into (own photos, learned crops)."""
    own, learned = [], []
    for path in paths:
        (learned if is_learned(path) else own).append(str(path))
    return own, learned


def describe_counts(photos: int, learned: int) -> str:
    """"3 photos", "3 photos + 2 learned" (how the People panel and ``index`` say it)."""
    text = f"{photos} photo{'s' if photos != 1 else ''}"
    return text + (f" + {learned} learned" if learned else "")


# ---------------------------------------------------------------- the listener

@dataclass(frozen=True)
class LearnCandidate:
    """A visit worth learning from: the person, the best clear face (not aligned yet) and its match."""

    name: str
    track: int
    distance: float
    candidate: FaceCandidate

    @property
    def embedding(self) -> np.ndarray:
        return self.candidate.embedding

    def jpeg(self) -> bytes:
        """The crop as it is written (aligns it: 10-50 ms, not on the pipeline's thread)."""
        from facecam.images import encode_jpeg  # noqa: PLC0415
        from facecam.types import rgb_to_bgr  # noqa: PLC0415

        return encode_jpeg(rgb_to_bgr(self.candidate.crop().rgb_crop), quality=95)


@dataclass
class _Visit:
    last: Visit
    best: FaceCandidate | None = None
    distance: float = 0.0


class LearnCollector(VisitFollower):
    """For each visit, whether it was ever Unknown or contested, and its best clear face: a subscriber of a
    :class:`~facecam.visits.VisitTracker` (:meth:`on_visit`), or on its own a pipeline listener (call it with
    each round).

    When a visit ends with one name all along and a good clear face, ``on_candidate(LearnCandidate)`` is
    called (in the pipeline's thread: hand it on to a worker). Per round: microseconds per track, plus
    the quality score of a clearly named face (under a millisecond).
    """

    def __init__(self, on_candidate: Callable[[LearnCandidate], None], *, min_quality: float = MIN_QUALITY,
                 distance_margin: float = DISTANCE_MARGIN, gap: float = RUNNER_UP_GAP):
        super().__init__()
        self.on_candidate = on_candidate
        self.min_quality = float(min_quality)
        self.distance_margin = float(distance_margin)
        self.gap = float(gap)

    def begin(self, visit: Visit) -> _Visit:
        return _Visit(visit)

    def follow(self, state: _Visit, event) -> None:
        state.last = visit = event.visit
        seen = event.embedded   # visit.names holds every round's match and vote, this one's included
        if seen is not None and len(visit.names) == 1 and clear_match(seen.match, self.distance_margin, self.gap):
            self._offer(state, event.round, seen.face, seen.embedding, seen.match.distance)

    def _offer(self, visit: _Visit, result, face, embedding, distance: float) -> None:
        quality = face_quality(result.rgb_frame, face)
        if quality < self.min_quality or (visit.best is not None and quality <= visit.best.quality):
            return
        visit.best = FaceCandidate.of(result.rgb_frame, face, embedding, quality, float(result.frame.t_source),
                                   int(result.frame.seq) - 1)
        visit.distance = float(distance)

    def end(self, state: _Visit, visit: Visit | None) -> None:
        names = (visit or state.last).names
        if state.best is None or len(names) != 1 or None in names:
            return  # nothing clear, or Unknown / another name at some point: the drift guard
        self.on_candidate(LearnCandidate(next(iter(names)), state.last.track, state.distance, state.best))


class Learning:
    """Collector + writer thread: call it with each round; ``close()`` at the end.

    ``gallery()`` returns the pipeline's current :class:`facecam.matcher.GalleryMatrix` (the near-duplicate
    check compares with the person's rows there). ``on_learned(name, path)`` is called in the writer thread
    after a crop was written: refresh the gallery then (``watch`` does it itself; the window's folder
    watcher sees the new file).
    """

    def __init__(self, known_faces: Path, gallery: Callable, *, on_learned: Callable[[str, Path], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None, keep: int = MAX_LEARNED):
        self.known_faces = Path(known_faces)
        self.gallery = gallery
        self.on_learned = on_learned
        self.keep = int(keep)
        self.tasks = BackgroundTasks(max_waiting=32, on_error=on_error)
        self.collector = LearnCollector(self._on_candidate)
        self.learned: list[Path] = []
        self.duplicates = 0
        self._recent: dict[str, list[np.ndarray]] = {}   # written this run, before the gallery has them

    def __call__(self, result) -> None:
        """Standalone: one round (a pipeline listener, with a visit tracker of the collector's own)."""
        self.collector(result)

    def on_visit(self, event) -> None:
        """A :class:`facecam.visits.VisitTracker` subscriber (the live session's visits)."""
        self.collector.on_visit(event)

    def _on_candidate(self, candidate: LearnCandidate) -> None:
        self.tasks.put(lambda: self._learn(candidate))

    def near_duplicate(self, name: str, embedding: np.ndarray) -> bool:
        """True when ``embedding`` is within :data:`NEAR_DUPLICATE` of a row of ``name`` in the gallery or of
        a crop learned this run."""
        rows = list(self._recent.get(name, []))
        matrix = self.gallery()
        index = matrix.name_index() if matrix is not None and len(matrix) else {}
        if name in index:
            rows.extend(matrix.embeddings[matrix.labels == index[name]])
        if not rows:
            return False
        return bool(cosine_distances(np.asarray(embedding)[None], np.asarray(rows)).min() < NEAR_DUPLICATE)

    def _learn(self, candidate: LearnCandidate) -> None:
        matrix = self.gallery()
        if matrix is None or candidate.name not in matrix.name_index():
            return   # removed or forgotten while their visit went on: nothing of them is written again
        if self.near_duplicate(candidate.name, candidate.embedding):
            self.duplicates += 1
            return
        path, _ = add_learned(self.known_faces, candidate.name, candidate.jpeg(), keep=self.keep)
        recent = self._recent.setdefault(candidate.name, [])
        recent.append(candidate.embedding)
        del recent[:-self.keep]
        self.learned.append(path)
        if self.on_learned is not None:
            self.on_learned(candidate.name, path)

    def close(self, timeout: float = 10.0) -> None:
        """End the open visits and write what is waiting."""
        self.collector.finish()
        self.tasks.close(timeout)

