"""Blurring strangers: every face that is not a named person, in what facecam writes or sends.

::

    boxes = stranger_boxes(pipeline.strangers_at(frame.t_source))   # Unknown, "?" and not-yet-named faces
    shown = blur_faces(frame.bgr_frame, boxes)                        # a new image; the input is untouched

One function, :func:`blur_faces`, is applied at one place per output: ``watch --output`` (the frame before its
labels are drawn), and the sightings recorder's face snapshot (the History, ``facecam sightings --snapshots``
and every notification that carries one: webhook, MQTT, Home Assistant). "Named" is the label drawn on the
face: a track whose vote settled on a person (``votes > 0`` and a name); a face still being recognised, one
too poor to judge ("?") and an Unknown are blurred.

How: the face box grown by :data:`MARGIN` of its size on every side (hair, ears, chin) is shrunk to about
:data:`CELLS` cells across (an area average: what was in a cell is gone, not hidden) and spread back smoothly
(bilinear, then twice a mean over a cell), so no block edges remain for a viewer or a codec to sharpen. On a
90-pixel face that is a cell of about 20 pixels: the face's colour and layout remain, its identity does not
(the eyes, nose and mouth are each less than a cell). This is for people looking at the video or the
snapshot; it is not a cryptographic guarantee (docs/privacy.md).

Pure numpy and OpenCV; the setting is ``"blur_strangers": true`` (``watch --blur-strangers``, the window's
Tools > Blur strangers).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

MARGIN = 0.25   # of the face box's width and height, on each side
CELLS = 6       # cells across the grown box's longest side


def blur_enabled(flag: bool = False, settings: dict | None = None) -> bool:
    """True when ``--blur-strangers`` (or the window's switch) asks for it, or the setting ``"blur_strangers": true``."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    return bool(flag) or settings.get("blur_strangers") is True


def is_named(track) -> bool:
    """True when ``track`` (a :class:`facecam.tracker.Track`, or anything with ``votes`` and ``name``) is shown as a
    person: its vote has a result and it is a name (not Unknown, not pending, not "?")."""
    return track.votes > 0 and track.name is not None


def stranger_boxes(tracks: Iterable) -> list[tuple[float, float, float, float]]:
    """The ``(x, y, w, h)`` boxes of the tracks that are not named (see :func:`is_named`)."""
    return [tuple(float(v) for v in track.box) for track in tracks if not is_named(track)]


def grown_box(box, shape, margin: float = MARGIN) -> tuple[int, int, int, int] | None:
    """``box`` (x, y, w, h) grown by ``margin`` on each side and clipped to a frame of ``shape``: ``(x0, y0, x1,
    y1)`` integer corners, or None when nothing of it is inside."""
    height, width = shape[:2]
    x, y, w, h = (float(v) for v in box)
    if not all(np.isfinite((x, y, w, h))) or w <= 0 or h <= 0:
        return None
    x0, y0 = max(int(np.floor(x - w * margin)), 0), max(int(np.floor(y - h * margin)), 0)
    x1, y1 = min(int(np.ceil(x + w * (1 + margin))), width), min(int(np.ceil(y + h * (1 + margin))), height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def blur_faces(bgr_frame: np.ndarray, boxes, *, margin: float = MARGIN, cells: int = CELLS) -> np.ndarray:
    """``bgr_frame`` with each of ``boxes`` ((x, y, w, h), frame pixels; partly outside is clipped) blurred beyond
    recognition (module notes). A new image when there is a box to blur; the frame itself (untouched) when not."""
    import cv2  # noqa: PLC0415 - only when a frame is blurred: the command line starts without OpenCV

    regions = [r for r in (grown_box(box, bgr_frame.shape, margin) for box in boxes) if r is not None]
    if not regions:
        return bgr_frame
    out = bgr_frame.copy()
    for x0, y0, x1, y1 in regions:
        region = out[y0:y1, x0:x1]
        h, w = region.shape[:2]
        cell = max(max(h, w) / float(cells), 1.0)
        small = cv2.resize(region, (max(int(round(w / cell)), 1), max(int(round(h / cell)), 1)),
                           interpolation=cv2.INTER_AREA)
        spread = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        k = int(cell) | 1     # two box filters of a cell: a smooth bell, at a fraction of a Gaussian's cost
        out[y0:y1, x0:x1] = cv2.blur(cv2.blur(spread, (k, k), borderType=cv2.BORDER_REPLICATE), (k, k),
                                     borderType=cv2.BORDER_REPLICATE)
    return out
