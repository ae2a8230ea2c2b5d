"""Result types shared by every part of facecam: frozen, validated, never None.

Conventions (used everywhere in facecam):

* Images are ``numpy.uint8`` arrays ``(H, W, 3)``. Names say the channel order:
  ``bgr_frame`` (what OpenCV reads) or ``rgb_face`` (what the models take).
  The conversion happens once, in :func:`bgr_to_rgb` (here).
* Boxes are ``(x, y, w, h)`` in pixels of the image they were found in.
* Times written for people and programs are ISO-8601 with the zone offset (:func:`iso`).
* The five landmarks are, in this order, the person's own right eye, left eye,
  nose, right mouth corner, left mouth corner. The person's right eye is on the
  *left* of an unmirrored photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, NamedTuple

import numpy as np

LANDMARK_NAMES = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")


def bgr_to_rgb(bgr: np.ndarray) -> np.ndarray:
    """The same image with channels in RGB order, as a new C-contiguous array.

    The one place in facecam where channel order changes (OpenCV gives BGR,
    the models take RGB). Accepts ``(..., 3)`` arrays of any dtype.
    """
    array = np.asarray(bgr)
    if array.ndim < 3 or array.shape[-1] != 3:
        raise ValueError(f"bgr_to_rgb: expected an (H, W, 3) image, got shape {array.shape}")
    return np.ascontiguousarray(array[..., ::-1])


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """The way back, only for handing an RGB face crop to OpenCV's writers (JPEG crops, snapshots)."""
    array = np.asarray(rgb)
    if array.ndim < 3 or array.shape[-1] != 3:
        raise ValueError(f"rgb_to_bgr: expected an (H, W, 3) image, got shape {array.shape}")
    return np.ascontiguousarray(array[..., ::-1])


def iso(moment: datetime | float, timespec: str = "milliseconds") -> str:
    """ISO-8601 with the zone offset: ``2026-11-30T18:40:46.123+01:00``. A Unix timestamp is shown in the
    machine's time zone; ``timespec`` as :meth:`datetime.isoformat` ("seconds" for a person's eyes)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(float(moment)).astimezone()
    return moment.isoformat(timespec=timespec)


class Frame(NamedTuple):
    """One video frame (facecam.sources captures them): ``seq`` counts from 1 in reading order,
    ``t_source`` is the source's clock in seconds; unpack as a tuple."""

    seq: int
    t_source: float
    bgr_frame: np.ndarray


def _check_array(name: str, value, shape_tail: tuple, n: int | None) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.ndim != 1 + len(shape_tail) or tuple(array.shape[1:]) != shape_tail:
        expected = "(N, " + ", ".join(map(str, shape_tail)) + ")" if shape_tail else "(N,)"
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(array.shape)}")
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name}: expected {n} rows to match boxes, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    return array


@dataclass(frozen=True)
class Face:
    """One detected face: box ``(x, y, w, h)``, five landmarks ``(5, 2)`` and detector score."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    @property
    def int_box(self) -> tuple[int, int, int, int]:
        x, y, w, h = self.box
        return int(round(x)), int(round(y)), int(round(w)), int(round(h))


@dataclass(frozen=True)
class Faces:
    """The faces found in one image, as parallel arrays (supervision style).

    ``boxes (N, 4)`` xywh, ``landmarks (N, 5, 2)`` xy, ``scores (N,)``. An image
    with no face gives ``Faces.empty()``, never None.
    """

    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        boxes = _check_array("boxes", self.boxes, (4,), None)
        n = boxes.shape[0]
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "landmarks", _check_array("landmarks", self.landmarks, (5, 2), n))
        object.__setattr__(self, "scores", _check_array("scores", self.scores, (), n))
        if n and np.any(boxes[:, 2:] <= 0):
            raise ValueError("boxes: expected positive width and height, got a box of size 0 or less")

    @classmethod
    def empty(cls) -> "Faces":
        return cls(np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros((0,)))

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index) -> "Faces | Face":
        if isinstance(index, (int, np.integer)):
            return Face(tuple(float(v) for v in self.boxes[index]), self.landmarks[index].copy(),
                        float(self.scores[index]))
        return Faces(self.boxes[index], self.landmarks[index], self.scores[index])

    def __iter__(self) -> Iterator[Face]:
        for i in range(len(self)):
            yield self[i]

    @property
    def areas(self) -> np.ndarray:
        return self.boxes[:, 2] * self.boxes[:, 3]

    def largest_first(self) -> "Faces":
        """The same faces sorted by box area, largest first."""
        return self[np.argsort(-self.areas, kind="stable")]

    def scaled(self, factor: float) -> "Faces":
        """Coordinates multiplied by ``factor`` (detect on a small copy, report on the original)."""
        return Faces(self.boxes * factor, self.landmarks * factor, self.scores)


@dataclass(frozen=True)
class Match:
    """The gallery's answer for one embedding.

    ``name`` is None for Unknown (best distance above the threshold); ``distance``
    is the cosine distance to the best person; ``runner_up`` the next person, if any.
    """

    name: str | None
    distance: float
    threshold: float
    best_name: str | None = None
    runner_up: str | None = None
    runner_up_distance: float | None = None
    unsure: bool = False  # the face was too poor to judge (facecam.quality): no name given, shown as "?"

    @property
    def known(self) -> bool:
        return self.name is not None

    @property
    def similarity(self) -> float:
        return 1.0 - self.distance


@dataclass(frozen=True)
class Recognition:
    """What the recogniser says of one image: its faces (largest first) and one match each."""

    faces: Faces
    matches: tuple[Match, ...] = field(default_factory=tuple)
    embeddings: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.matches) != len(self.faces):
            raise ValueError(f"matches: expected {len(self.faces)} to match faces, got {len(self.matches)}")


@dataclass(frozen=True)
class SeenBefore:
    """What is known, at an unknown face's arrival, of who it is among strangers: ``cluster``, the id of the
    unknown faces' cluster it belongs to (:mod:`facecam.unknowns`; a new stranger gets the id its cluster will
    have), and its earlier visits across cameras: how many, the first and last (Unix seconds), how many in
    the last 7 days, and the cameras (source names) that saw it."""

    cluster: str
    visits: int = 0
    first: float | None = None
    last: float | None = None
    last_7_days: int = 0
    cameras: tuple[str, ...] = ()

    def event(self) -> dict:
        """As in a notification's JSON: ISO times, ``null`` when never seen before."""
        return {"visits": self.visits, "last_7_days": self.last_7_days,
                "first": None if self.first is None else iso(self.first),
                "last": None if self.last is None else iso(self.last), "cameras": list(self.cameras)}
