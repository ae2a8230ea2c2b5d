"""Clips where one person replaces another at the same place (issue 18, "names that cannot jump").

Three places side by side; at each, a line of people stand in turn, ``stay_s`` seconds each. Between two
of them there is either no gap at all (a direct cut: the next face is in the box on the very next frame,
as when someone steps in front) or a ``gap_s`` gap (someone steps into the spot another just left), the
two kinds taking turns over the clip. The lfw40 photos are shown as on the other lfw40 clips
(clips.lfw40_photo: the central 120 px, 200 px wide, faces about 100 px), with a slight sway in phase with
the stays, so the new face is where the old one was. Every fourth visitor is a stranger (not enrolled).

Used by tests/test_swaps.py (``watch --realtime``) and bench/bench_swaps.py; a window test on the same clip
can use :func:`write_swap_clip` and :func:`score_swaps` as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clips import LFW40, Actor, lfw40_photo, make_lfw40_gallery, one_face_photos, write_clip

PLACES = (110, 320, 530)     # photo centres (x); y = 240


@dataclass(frozen=True)
class Swap:
    place: int
    before: Actor            # who leaves
    after: Actor             # who takes the place
    gap_s: float             # 0: a direct cut


def swap_people(detector, count: int = 24, stranger_every: int = 4) -> tuple[list[str], list[int], list[str]]:
    """``count`` lfw40 people (sorted, those with 8 photos or more) and for each a photo from the 4th on that
    shows one face (photos 1-3 are the gallery's): (people, photo numbers, the enrolled ones)."""
    everyone = sorted(p.name for p in LFW40.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 8)
    people = everyone[:count]
    if len(people) < count:
        raise ValueError(f"lfw40 has {len(people)} people with 8 photos or more, {count} wanted")
    strangers = set(people[stranger_every - 1::stranger_every])
    return people, one_face_photos(people, detector), [p for p in people if p not in strangers]


def swap_scene(people: list[str], photos: list[int], *, places=PLACES, stay_s: float = 2.5, gap_s: float = 0.4,
               first_s: float = 0.3, stagger_s: float = 0.6, sway_px: float = 8) -> tuple[tuple[Actor, ...], list[Swap]]:
    """The people in turn at ``places`` (person i at place i % len(places)), each for ``stay_s``; the swaps
    alternate over the clip between a direct cut and a ``gap_s`` gap. Places start ``stagger_s`` apart so
    no two swaps fall on the same frame. Returns the actors (for clips.write_clip) and the swaps."""
    lines: list[list[int]] = [list(range(p, len(people), len(places))) for p in range(len(places))]
    enter = [first_s + stagger_s * p for p in range(len(places))]
    actors: dict[int, Actor] = {}
    swaps: list[Swap] = []
    # walk the swaps in time order so the kinds alternate over the clip, not per place
    queue = sorted((enter[p], p, 0) for p in range(len(places)) if lines[p])
    count = 0
    while queue:
        start, place, n = queue.pop(0)
        i = lines[place][n]
        actor = Actor(people[i], photos[i], round(start, 3), round(start + stay_s, 3), places[place], 240,
                      sway_px=sway_px, period_s=stay_s)
        actors[i] = actor
        if n + 1 < len(lines[place]):
            gap = 0.0 if count % 2 == 0 else gap_s
            count += 1
            queue.append((start + stay_s + gap, place, n + 1))
            queue.sort()
        if n > 0:
            before = actors[lines[place][n - 1]]
            swaps.append(Swap(place, before, actor, round(actor.enter_s - before.leave_s, 3)))
    return tuple(actors[i] for i in range(len(people))), swaps


def write_swap_clip(path: Path, scene: tuple[Actor, ...], enrolled) -> list:
    """The 640x480 30 fps clip of ``scene`` (MJPG .avi or mp4v .mp4), one second after the last leaves;
    its per-frame ground truth (clips.Truth)."""
    seconds = max(a.leave_s for a in scene) + 1.0
    return write_clip(path, scene, seconds=seconds, enrolled=tuple(enrolled), load_photo=lfw40_photo)


def make_swap_gallery(root: Path, enrolled) -> Path:
    """known_faces with photos 1-3 of each enrolled person (the clip shows a later one)."""
    return make_lfw40_gallery(root, enrolled)


def score_swaps(events: list[dict], scene: tuple[Actor, ...], enrolled, grace_s: float = 1.0) -> dict:
    """How well ``watch --events`` lines named each appearance, from ``grace_s`` after it began to its end.

    A face whose box centre lies in an actor's pasted photo (at that frame) is that actor's. On each scored
    frame an actor's face is right when it shows the actor's name (a stranger: Unknown, not pending), wrong
    otherwise (another name, Unknown for an enrolled person, or still pending); a frame where the actor's
    face has no box is *missing* (a detection matter, counted apart). Returns ``{"accuracy", "scored",
    "right", "missing", "wrong": [(t, actor, shown)...] (the first 30), "wrong_by_actor": {actor: n}}``."""
    import math

    from clips import PHOTO_SIZE

    enrolled = set(enrolled)
    right = scored = missing = 0
    wrong: list[tuple[float, str, str | None]] = []
    wrong_by: dict[str, int] = {}
    half = PHOTO_SIZE / 2
    for event in events:
        t = event["t"]
        for actor in scene:
            if not actor.enter_s + grace_s <= t < actor.leave_s:
                continue
            cx = actor.x + actor.sway_px * math.sin(2 * math.pi * (t - actor.enter_s) / actor.period_s)
            mine = [f for f in event["faces"]
                    if abs(f["box"][0] + f["box"][2] / 2 - cx) <= half and abs(f["box"][1] + f["box"][3] / 2 - actor.y) <= half]
            if not mine:
                missing += 1
                continue
            scored += 1
            want = actor.person if actor.person in enrolled else None
            face = mine[0]
            if not face.get("pending") and face["name"] == want and len(mine) == 1:
                right += 1
            else:
                shown = "pending" if face.get("pending") else face["name"]
                wrong.append((t, actor.person, shown))
                wrong_by[actor.person] = wrong_by.get(actor.person, 0) + 1
    return {"accuracy": right / scored if scored else 0.0, "scored": scored, "right": right, "missing": missing,
            "wrong": wrong[:30], "wrong_by_actor": wrong_by}
