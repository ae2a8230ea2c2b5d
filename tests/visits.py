"""Clips of visits built from real photos (lfw40), with the ground truth of who came when and where.

For the unknown-faces tests: strangers come back several times, each time with a different photo,
a few enrolled people come by too, in shuffled order, several at once in a 640x480 frame. lfw40's
150x150 thumbnails (faces ~70-90 px) are cut to their central 120 px and shown 180 px wide, so the
faces are about 80-95 px wide (MTCNN's box). Some LFW photos show a second person (a bystander):
:func:`truth_of` tells them from the visitor. Read from ``../shared/facedata/lfw40`` (the shared face data beside the
repository, as CI has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def facedata() -> Path:
    """The shared face data: beside the repository (CI, the main checkout), else /work/shared."""
    for folder in (ROOT.parent / "shared" / "facedata", Path("/work/shared/facedata")):
        if (folder / "lfw40").is_dir():
            return folder
    raise FileNotFoundError("../shared/facedata/lfw40 not found: the tests need the shared face data beside the "
                            "repository")


LFW40 = facedata() / "lfw40"
SIZE = (640, 480)
SHOWN = 180                 # pasted photo size
SLOTS = [(x, y) for y in (40, 260) for x in (25, 230, 435)]   # top-left corners: 2 rows of 3


@dataclass(frozen=True)
class Visit:
    person: str
    photo: Path
    enrolled: bool
    slot: int
    start: float            # source seconds
    end: float
    shown: int = SHOWN      # pasted photo size (faces about half of it wide)

    @property
    def rect(self) -> tuple[int, int, int, int]:
        x, y = SLOTS[self.slot]
        return x, y, self.shown, self.shown


def photos_of(person: str) -> list[Path]:
    return sorted((LFW40 / person).glob("*.jpg"))


def plan_visits(strangers: dict[str, list[Path]], enrolled: dict[str, list[Path]], *, seed: int = 8,
                duration: float = 1.0, gap: float = 0.8, stagger: float = 0.3, shown: int = SHOWN) -> list[Visit]:
    """Visits in shuffled order over the six slots, one per photo given (a stranger comes back once per
    photo). A slot shows one visit at a time, ``gap`` seconds apart; photos ``shown`` px wide."""
    rng = np.random.default_rng(seed)
    wanted = [(p, photo, False) for p, photos in strangers.items() for photo in photos]
    wanted += [(p, photo, True) for p, photos in enrolled.items() for photo in photos]
    order = rng.permutation(len(wanted))
    visits = []
    for n, index in enumerate(order):
        person, photo, is_enrolled = wanted[index]
        slot = n % len(SLOTS)
        start = stagger * slot + (n // len(SLOTS)) * (duration + gap) + 0.2
        visits.append(Visit(person, photo, is_enrolled, slot, round(start, 3), round(start + duration, 3), shown))
    return visits


def _shown(photo: Path, shown: int = SHOWN) -> np.ndarray:
    image = cv2.imread(str(photo))
    return cv2.resize(image[15:135, 15:135], (shown, shown), interpolation=cv2.INTER_CUBIC)


def _background() -> np.ndarray:
    width, height = SIZE
    yy, xx = np.mgrid[0:height, 0:width]
    return np.dstack([90 + 40 * xx / width, 100 + 30 * yy / height, 110 + 0 * xx]).astype(np.uint8)


def write_visits_clip(path: Path, visits: list[Visit], fps: float = 10.0) -> float:
    """Write the clip (MJPG .avi); returns its length in seconds."""
    width, height = SIZE
    seconds = max(v.end for v in visits) + 0.8
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    shown = {(v.photo, v.shown): _shown(v.photo, v.shown) for v in visits}
    background = _background()
    for index in range(int(round(seconds * fps))):
        t = index / fps
        frame = background.copy()
        for visit in visits:
            if visit.start <= t < visit.end:
                x, y, w, h = visit.rect
                frame[y:y + h, x:x + w] = shown[visit.photo, visit.shown]
        writer.write(frame)
    writer.release()
    return seconds


def visit_of(visits: list[Visit], t: float, box) -> Visit | None:
    """The visit on screen at source time ``t`` whose photo holds the centre of ``box``."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    for visit in visits:
        x, y, w, h = visit.rect
        if visit.start - 0.05 <= t <= visit.end + 0.15 and x <= cx <= x + w and y <= cy <= y + h:
            return visit
    return None


def truth_of(visits: list[Visit], sightings: list[tuple[float, list]]) -> list[str | None]:
    """Who each sighting ``(t, box)`` is: the visitor's name (LFW's labelled person is the face in the
    centre of the photo), ``"bystander:<photo>"`` for a face away from the centre (another person in
    the photo), None if on no visit."""
    out: list[str | None] = []
    for t, box in sightings:
        visit = visit_of(visits, t, box)
        if visit is None:
            out.append(None)
            continue
        x, y, w, h = visit.rect
        dx, dy = box[0] + box[2] / 2 - (x + w / 2), box[1] + box[3] / 2 - (y + h / 2)
        out.append(visit.person if abs(dx) <= 0.2 * w and abs(dy) <= 0.25 * h else f"bystander:{visit.photo.name}")
    return out


def listed_truth(clusters: list[dict], visits: list[Visit]) -> tuple[list, list[str | None], int]:
    """For an ``unknowns --json`` listing: its ``(cluster id, sighting)`` rows, who each sighting is
    (:func:`truth_of`), and how many sit in a cluster whose majority (more than half) is their person."""
    from collections import Counter

    rows = [(c["id"], s) for c in clusters for s in c["sightings"]]
    who = truth_of(visits, [(s["t"], s["box"]) for _, s in rows])
    by_cluster: dict[str, Counter] = {}
    for (cluster, _), person in zip(rows, who):
        by_cluster.setdefault(cluster, Counter())[person] += 1
    majority = {c: counts.most_common(1)[0][0] for c, counts in by_cluster.items()
                if 2 * counts.most_common(1)[0][1] > sum(counts.values())}
    pure = sum(1 for (cluster, _), person in zip(rows, who) if person is not None and majority.get(cluster) == person)
    return rows, who, pure


def make_gallery(root: Path, photos: dict[str, list[Path]]) -> Path:
    """known_faces with these photos of each enrolled person (never the ones on the clip)."""
    import shutil

    for person, files in photos.items():
        (root / person).mkdir(parents=True, exist_ok=True)
        for photo in files:
            shutil.copy(photo, root / person)
    return root
