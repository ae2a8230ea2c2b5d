"""Clips for the motion gate (tests/test_motion.py, bench/bench_idle.py): a still room with sensor noise and
light changes, and people (lfw40 photos) sliding in from the edge of that room, staying, and sliding out,
with empty stretches between them. 640x480; faces about 80-95 px wide (tests/visits.py's size)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from visits import SHOWN, SIZE, _shown


@dataclass(frozen=True)
class Arrival:
    person: str
    photo: Path
    enter: float          # source seconds: the photo starts sliding in
    settled: float        # in place
    leave: float          # starts sliding out
    gone: float
    from_left: bool
    y: int = 150
    x_rest: int = 230     # left edge once in place

    def left_at(self, t: float) -> float | None:
        """The photo's left edge at ``t`` (None when off screen)."""
        width = SIZE[0]
        start = -SHOWN if self.from_left else width
        if t < self.enter or t >= self.gone:
            return None
        if t < self.settled:
            return start + (self.x_rest - start) * (t - self.enter) / (self.settled - self.enter)
        if t < self.leave:
            return float(self.x_rest)
        return self.x_rest + (start - self.x_rest) * (t - self.leave) / (self.gone - self.leave)


def room(seed: int = 3) -> np.ndarray:
    """A still, textured room: a wall gradient, a door, a shelf, a picture, soft texture."""
    width, height = SIZE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.dstack([95 + 35 * xx / width, 105 + 25 * yy / height, 115 + 10 * xx / width])
    texture = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), 3)
    image += texture[..., None]
    image[60:420, 500:600] = (60, 75, 95)         # a door
    image[300:315, 20:200] = (50, 60, 70)         # a shelf
    image[80:170, 60:180] = (140, 120, 90)        # a picture
    return np.clip(image, 0, 255).astype(np.float32)


def plan_arrivals(people: list[tuple[str, Path]], *, empty_s: float = 2.0, slide_s: float = 0.8,
                  stay_s: float = 1.6, first_s: float = 1.5) -> list[Arrival]:
    """One arrival per (person, photo), alternating sides, ``empty_s`` of empty room between them."""
    out, t = [], first_s
    for n, (person, photo) in enumerate(people):
        out.append(Arrival(person, photo, round(t, 3), round(t + slide_s, 3), round(t + slide_s + stay_s, 3),
                           round(t + 2 * slide_s + stay_s, 3), from_left=n % 2 == 0))
        t += 2 * slide_s + stay_s + empty_s
    return out


def lighting(t: float, seconds: float) -> float:
    """The room's brightness at ``t``: a slow rise of 30% over the clip (the sun), a flicker of 6% on every
    seventh frame-ish beat, and the light switched down by a quarter in the last third."""
    gain = 1.0 + 0.3 * t / max(seconds, 1e-9)
    if int(t * 10) % 7 == 0:
        gain *= 1.06
    if t > 2 * seconds / 3:
        gain *= 0.75
    return gain


def write_clip(path: Path, seconds: float, arrivals: list[Arrival] = (), *, fps: float = 15.0, noise: float = 2.5,
               light: bool = True, seed: int = 5, fourcc: str = "MJPG") -> int:
    """Write the room (MJPG .avi; ``fourcc="I420"``: uncompressed YUV 4:2:0, as a USB camera's raw frames) with sensor
    noise (Gaussian, ``noise`` grey levels), the light changes of :func:`lighting` and the arrivals; returns the
    number of frames."""
    width, height = SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    rng = np.random.default_rng(seed)
    base = room()
    shown = {a.photo: _shown(a.photo).astype(np.float32) for a in arrivals}
    count = int(round(seconds * fps))
    for index in range(count):
        t = index / fps
        frame = base.copy()
        for arrival in arrivals:
            left = arrival.left_at(t)
            if left is None:
                continue
            x0 = int(round(left))
            a, b = max(x0, 0), min(x0 + SHOWN, width)
            if b > a:
                frame[arrival.y:arrival.y + SHOWN, a:b] = shown[arrival.photo][:, a - x0:b - x0]
        if light:
            frame *= lighting(t, seconds)
        frame += rng.normal(0, noise, frame.shape).astype(np.float32)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return count


def first_named(rows, arrival) -> float | None:
    """Source time of the first ``watch --events`` row naming ``arrival``'s person on a box inside their photo."""
    for row in rows:
        left = arrival.left_at(row["t"])
        if left is None:
            continue
        for face in row["faces"]:
            x, y, w, h = face["box"]
            cx, cy = x + w / 2, y + h / 2
            if face["name"] == arrival.person and left <= cx <= left + SHOWN and arrival.y <= cy <= arrival.y + SHOWN:
                return row["t"]
    return None
