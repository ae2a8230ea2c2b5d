"""Video clips built from real photos, with the ground truth of who is where on every frame.

No camera here: the live pipeline is tested and benchmarked on these. A clip is
640x480 at 30 fps; LFW photos (250x250) are pasted on a plain background and
glide slowly, people come and go, and one of them is a stranger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LFW10 = Path(__file__).parent / "data" / "lfw10"


@dataclass(frozen=True)
class Actor:
    person: str          # LFW folder
    photo: int           # which photo appears on the video (1-based)
    enter_s: float
    leave_s: float
    x: int               # centre of the pasted photo
    y: int
    sway_px: float = 40  # horizontal sway amplitude
    period_s: float = 5.0


# Two enrolled people and a stranger, overlapping in time.
DEFAULT_SCENE = (
    Actor("Tony_Blair", 5, 0.5, 11.0, 150, 240),
    Actor("George_W_Bush", 5, 3.0, 10.0, 330, 220),
    Actor("Vladimir_Putin", 5, 6.0, 9.5, 510, 250),
)
ENROLLED = ("Tony_Blair", "George_W_Bush")
GALLERY_PHOTOS = (1, 2, 3)
PHOTO_SIZE = 200  # pasted size (the face inside is ~90 px wide)


@dataclass(frozen=True)
class Truth:
    """Who is visible on one frame: (name or None for a stranger, pasted box x, y, w, h)."""

    frame: int
    t: float
    people: tuple[tuple[str | None, tuple[int, int, int, int]], ...]


def _photo(actor: Actor) -> np.ndarray:
    path = LFW10 / actor.person / f"{actor.person}_{actor.photo:04d}.jpg"
    image = cv2.imread(str(path))
    # keep the central face region: LFW crops have the face in the middle
    image = image[25:225, 25:225]
    return cv2.resize(image, (PHOTO_SIZE, PHOTO_SIZE), interpolation=cv2.INTER_AREA)


def write_clip(path: Path, scene=DEFAULT_SCENE, seconds: float = 12.0, fps: float = 30.0,
               size=(640, 480), enrolled=ENROLLED, load_photo=None, photo_size: int = PHOTO_SIZE) -> list[Truth]:
    """Write the clip (mp4v in .mp4, or MJPG in .avi) and return the per-frame ground truth.

    ``load_photo(actor)`` gives the pasted BGR image, ``photo_size`` square (default: the actor's LFW10
    photo, PHOTO_SIZE square)."""
    width, height = size
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if str(path).endswith(".avi") else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    photos = [(load_photo or _photo)(actor) for actor in scene]
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.dstack([90 + 40 * xx / width, 100 + 30 * yy / height, 110 + 0 * xx]).astype(np.uint8)
    truth = []
    half = photo_size // 2
    for index in range(int(round(seconds * fps))):
        t = index / fps
        frame = background.copy()
        people = []
        for actor, photo in zip(scene, photos):
            if not actor.enter_s <= t < actor.leave_s:
                continue
            cx = int(round(actor.x + actor.sway_px * math.sin(2 * math.pi * (t - actor.enter_s) / actor.period_s)))
            x0, y0 = cx - half, actor.y - half
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + photo_size, width), min(y0 + photo_size, height)
            frame[ya:yb, xa:xb] = photo[ya - y0:yb - y0, xa - x0:xb - x0]
            people.append((actor.person if actor.person in enrolled else None, (xa, ya, xb - xa, yb - ya)))
        writer.write(frame)
        truth.append(Truth(index, t, tuple(people)))
    writer.release()
    return truth


def read_frames(path: Path):
    """The clip's frames as facecam Frames (seq from 1, t_source from the frame rate), in order."""
    from facecam.types import Frame

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(Frame(len(frames) + 1, len(frames) / fps, image))
    capture.release()
    return frames


def make_gallery(root: Path, enrolled=ENROLLED, photos=GALLERY_PHOTOS) -> Path:
    """known_faces with the enrolled people's other photos (never the ones on the video)."""
    import shutil

    for person in enrolled:
        (root / person).mkdir(parents=True, exist_ok=True)
        for n in photos:
            shutil.copy(LFW10 / person / f"{person}_{n:04d}.jpg", root / person)
    return root


def score_events(events: list[dict], truth: list[Truth]) -> dict:
    """Per-frame label accuracy after each face's first label, and latencies from a person's appearance.

    A labelled face on an output frame is matched to the true person whose pasted
    box contains the face box's centre. Returns ``{"label_accuracy", "frames_scored",
    "first_label_latency_s": {person: s}, "first_right_latency_s": {enrolled person: s},
    "wrong": [...]}``: the first label is the first result of any kind (the face's first
    embedding), the first right one the first that shows the person's own name.
    """
    by_frame = {t.frame: t for t in truth}
    first_label: dict[str, float] = {}
    appeared: dict[str, float] = {}
    for t in truth:
        for name, _ in t.people:
            appeared.setdefault(name or "stranger", t.t)
    correct = scored = 0
    wrong = []
    first_right: dict[str, float] = {}
    for event in events:
        frame_truth = by_frame.get(event["frame"])
        if frame_truth is None:
            continue
        for face in event["faces"]:
            x, y, w, h = face["box"]
            cx, cy = x + w / 2, y + h / 2
            owner = [p for p in frame_truth.people
                     if p[1][0] <= cx <= p[1][0] + p[1][2] and p[1][1] <= cy <= p[1][1] + p[1][3]]
            if len(owner) != 1 or face.get("pending"):
                continue
            key = owner[0][0] or "stranger"
            if owner[0][0] is not None and face["name"] == owner[0][0]:
                first_right.setdefault(key, event["t"] - appeared[key])
            if key not in first_label:
                first_label[key] = event["t"] - appeared[key]
                continue  # accuracy counts the frames after the first label
            scored += 1
            if face["name"] == owner[0][0]:
                correct += 1
            else:
                wrong.append((event["frame"], key, face["name"]))
    return {"label_accuracy": correct / scored if scored else 0.0, "frames_scored": scored,
            "first_label_latency_s": first_label, "first_right_latency_s": first_right, "wrong": wrong[:20]}


# A shorter scene for the test suite: the same three people, 6 seconds.
SHORT_SCENE = (
    Actor("Tony_Blair", 5, 0.3, 5.5, 150, 240, period_s=3.0),
    Actor("George_W_Bush", 5, 1.5, 6.0, 330, 220, period_s=3.0),
    Actor("Vladimir_Putin", 5, 3.0, 5.0, 510, 250, period_s=3.0),
)


# ---------------------------------------------------------------- lfw40: 20 visits, one each
LFW40 = Path(__file__).resolve().parents[2] / "shared" / "facedata" / "lfw40"
if not LFW40.is_dir():
    LFW40 = Path("/work/shared/facedata/lfw40")


def lfw40_photo(actor: Actor, size: int = PHOTO_SIZE) -> np.ndarray:
    """An lfw40 thumbnail (150x150, face ~60 px): its central 120 px, resized to ``size`` (PHOTO_SIZE: face
    ~100 px; ROOM_PHOTO_SIZE: face ~55 px)."""
    image = cv2.imread(str(LFW40 / actor.person / f"{actor.person}_{actor.photo:04d}.jpg"))
    if image is None:
        raise FileNotFoundError(f"lfw40 photo {actor.person} #{actor.photo} not found under {LFW40}")
    interpolation = cv2.INTER_CUBIC if size > 120 else cv2.INTER_AREA
    return cv2.resize(image[15:135, 15:135], (size, size), interpolation=interpolation)


def visits_scene(people: list[str], photos: list[int], first_s: float = 0.5, stay_s: float = 2.4,
                 steps_s=(1.6, 2.6)) -> tuple[Actor, ...]:
    """Each person appears once (``photos[i]``: which of their photos), for ``stay_s``, in turn at three places; consecutive visits overlap
    when the step is shorter than the stay (so sometimes two people are on screen at once)."""
    actors, enter = [], first_s
    for i, person in enumerate(people):
        actors.append(Actor(person, photos[i], enter, enter + stay_s, (110, 320, 530)[i % 3], 240, sway_px=12,
                            period_s=4.0))
        enter += steps_s[i % len(steps_s)]
    return tuple(actors)


def lfw40_visitors() -> tuple[list[str], list[str]]:
    """20 lfw40 people (every second one, sorted; every 5th of them a stranger): (visitors in order, enrolled 16)."""
    everyone = sorted(p.name for p in LFW40.iterdir() if p.is_dir())
    visitors = everyone[::2][:20]
    strangers = visitors[2::5]
    return visitors, [p for p in visitors if p not in strangers]


def one_face_photos(visitors: list[str], detector, first: int = 4, size: int = PHOTO_SIZE,
                    min_face_size: int = 20) -> list[int]:
    """For each visitor the first photo from ``first`` on that shows one face only, pasted on a plain
    background as on the clip (some LFW photos show a second person at the edge)."""
    from facecam.types import bgr_to_rgb

    chosen = []
    for person in visitors:
        for n in range(first, first + 5):
            pasted = cv2.copyMakeBorder(lfw40_photo(Actor(person, n, 0, 1, 0, 0), size), 60, 60, 60, 60,
                                        cv2.BORDER_CONSTANT, value=(110, 110, 110))
            if len(detector.detect(bgr_to_rgb(pasted), min_face_size=min_face_size)) == 1:
                chosen.append(n)
                break
        else:
            raise ValueError(f"no lfw40 photo of {person} with one face")
    return chosen


def make_lfw40_gallery(root: Path, enrolled, photos=(1, 2, 3)) -> Path:
    """known_faces with photos 1-3 of each enrolled lfw40 person (the clip shows a later one)."""
    import shutil

    for person in enrolled:
        (root / person).mkdir(parents=True, exist_ok=True)
        for n in photos:
            shutil.copy(LFW40 / person / f"{person}_{n:04d}.jpg", root / person)
    return root


# ---------------------------------------------------------------- lfw40: a room of 8 faces at once (issue 11)
ROOM_PHOTO_SIZE = 110   # pasted lfw40 crop size: faces about 55 px (MTCNN's box)
ROOM_SEATS = [(x, y) for y in (130, 350) for x in (80, 240, 400, 560)]   # photo centres: 2 rows of 4


def room_scene(people: list[str], photos: list[int], enter_s: float = 0.5, leave_s: float = 10.0,
               late: int = 0, late_s: float = 3.0) -> tuple[Actor, ...]:
    """Up to 8 people seated in two rows of four, drifting slowly (12 px sideways, 6 s period), each
    showing their lfw40 photo number ``photos[i]``: all enter at ``enter_s`` except the last ``late`` of
    them, who enter at ``late_s``."""
    if len(people) > len(ROOM_SEATS):
        raise ValueError(f"a room seats {len(ROOM_SEATS)} people, got {len(people)}")
    return tuple(Actor(person, photos[i], late_s if i >= len(people) - late else enter_s, leave_s, *ROOM_SEATS[i],
                       sway_px=12, period_s=6.0) for i, person in enumerate(people))


def room_photo(actor: Actor) -> np.ndarray:
    """The pasted photo of a room clip: the lfw40 crop at ROOM_PHOTO_SIZE (face about 55 px)."""
    return lfw40_photo(actor, ROOM_PHOTO_SIZE)


def write_room_clip(path: Path, scene, seconds: float = 10.0) -> list[Truth]:
    """A 640x480 30 fps room clip of ``scene`` (see :func:`room_scene`), everyone enrolled; its ground truth."""
    return write_clip(path, scene, seconds=seconds, enrolled=tuple(a.person for a in scene), load_photo=room_photo,
                      photo_size=ROOM_PHOTO_SIZE)


def room_people(detector, count: int = 8) -> tuple[list[str], list[int]]:
    """The first ``count`` enrolled lfw40 visitors and, for each, a photo from the 4th on that shows one face
    at the room's size (looked for as live: faces of 40 px and up): (people, photo numbers)."""
    people = lfw40_visitors()[1][:count]
    return people, one_face_photos(people, detector, size=ROOM_PHOTO_SIZE, min_face_size=40)


# ---------------------------------------------------------------- lfw40: one clip per camera (issue 20, the grid)
def camera_clips(folder: Path, detector, names=("camera1", "camera2", "camera3", "camera4"), seconds: float = 60.0,
                 fps: float = 10.0) -> list[tuple[Path, tuple[str, str]]]:
    """A clip per camera name (``folder/<name>.avi``, 640x480), each with two enrolled lfw40 people side by side
    for the whole clip, different people on each (a photo from the 4th on that shows one face; enrol their photos
    1 and 2 with :func:`make_lfw40_gallery`): [(clip, (left person, right person))]. Clips already written are
    kept."""
    people = lfw40_visitors()[1][:2 * len(names)]
    photos = one_face_photos(people, detector)
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i, name in enumerate(names):
        pair = (people[2 * i], people[2 * i + 1])
        clip = folder / f"{name}.avi"
        if not clip.exists():
            scene = tuple(Actor(person, photos[2 * i + k], 0.0, seconds + 1, (170, 470)[k], 240, sway_px=20,
                                period_s=4.0 + k) for k, person in enumerate(pair))
            write_clip(clip, scene, seconds=seconds, fps=fps, enrolled=pair, load_photo=lfw40_photo)
        clips.append((clip, pair))
    return clips


def lfw40_matrix(recognizer, people, photos=(1, 2, 3)):
    """A GalleryMatrix of each lfw40 person's ``photos``, embedded by ``recognizer`` (no files written)."""
    from facecam.matcher import GalleryMatrix

    names, rows = [], []
    for person in people:
        for n in photos:
            rows.append(recognizer.embed_photo(LFW40 / person / f"{person}_{n:04d}.jpg").embedding)
            names.append(person)
    return GalleryMatrix.from_pairs(names, np.stack(rows))
