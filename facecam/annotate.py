"""Drawing face boxes and names on a frame. OpenCV only: no Qt, no Pillow.

::

    annotator = FaceAnnotator(show_distances=True)            # configure once
    labels = [Label.from_track(t) for t in tracker.boxes_at(frame.t_source)]
    shown = annotator.annotate(frame.bgr_frame, labels)        # a new image; the input is untouched

Colours (BGR): known faces green, Unknown orange-red, faces not recognised yet grey
with "...". The word "Unknown" is always written too, so the two states do not rely
on colour alone (red-green colour blindness).

Text: names are drawn with OpenCV 5's built-in TrueType fonts (``cv2.FontFace``),
which cover Latin with accents, Greek, Cyrillic and CJK: "José", "Мария" and "李小龍"
come out right, antialiased, at any size. ``cv2.putText`` with the old Hershey fonts
only knows ASCII; on an OpenCV without ``FontFace`` (4.x) names are transliterated
("José" -> "Jose", "Straße" -> "Strasse", other letters -> "?"). Pillow is deliberately
not used: it is only here as a matplotlib dependency, so depending on it would be
implicit, it needs a font file that differs per system, and OpenCV 5 already does
the job. ``unicode_text=False`` forces the ASCII fallback.

Practical advice:

* Build the annotator once; ``annotate`` costs well under a millisecond per face.
* Boxes partly outside the frame are clipped. Labels are laid out together
  (:meth:`FaceAnnotator.label_rects`): each goes above its box, else just inside its top
  edge, else below it, else as near as it fits, and never over another label or
  outside the frame (two faces side by side keep both names whole).
* ``font_scale`` and ``thickness`` are relative to the frame: text height is about
  1/30 of the frame height at ``font_scale=1`` (16 px at 480p, 36 px at 1080p) and the
  box line is ``thickness`` pixels at 480p, scaled with the frame.
* One number convention everywhere (the window, ``watch`` videos): ``show_distances=True``
  appends the **cosine distance** to a known person's name ("Ann 0.32"; lower is a closer
  match), the same scale as the threshold (``--threshold``, the window's slider): a name
  is given when the distance is below the threshold. "Unknown" carries no number (its
  distance is to someone it is not).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

BGR = tuple[int, int, int]

KNOWN_COLOUR: BGR = (0, 200, 0)  # green
UNKNOWN_COLOUR: BGR = (0, 90, 255)  # orange-red
PENDING_COLOUR: BGR = (190, 190, 190)  # grey: not recognised yet

_SPECIAL = {"ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l",
            "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th", "ı": "i", "’": "'", "‘": "'", "“": '"', "”": '"',
            "–": "-", "—": "-"}


@dataclass(frozen=True)
class Label:
    """One face to draw: ``box`` (x, y, w, h) in frame pixels; ``name`` None is Unknown.

    ``distance`` is the match's cosine distance (None: not shown); ``pending`` marks a
    face not recognised yet (grey box, "..."), ``track_id`` is shown on request.
    """

    box: tuple[float, float, float, float]
    name: str | None = None
    distance: float | None = None
    track_id: int | None = None
    pending: bool = False

    @classmethod
    def from_track(cls, track) -> "Label":
        """From a :class:`facecam.tracker.Track` (any object with its attributes)."""
        return cls(tuple(track.box), track.name, track.distance, track.id, pending=track.votes == 0)


def transliterate(text: str) -> str:
    """An ASCII rendering of ``text`` for fonts that only have ASCII ("José" -> "Jose")."""
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and base.isascii() else "?")
    return "".join(out)


class FaceAnnotator:
    """Draws :class:`Label` items on copies of BGR frames. Configure once, reuse per frame."""

    def __init__(
        self,
        *,
        known_colour: BGR = KNOWN_COLOUR,
        unknown_colour: BGR = UNKNOWN_COLOUR,
        pending_colour: BGR = PENDING_COLOUR,
        thickness: int = 2,
        font_scale: float = 1.0,
        show_distances: bool = False,
        show_track_ids: bool = False,
        unicode_text: bool | None = None,
    ) -> None:
        if thickness < 1 or font_scale <= 0:
            raise ValueError("thickness: expected 1 or more; font_scale: expected more than 0")
        self.known_colour = tuple(int(c) for c in known_colour)
        self.unknown_colour = tuple(int(c) for c in unknown_colour)
        self.pending_colour = tuple(int(c) for c in pending_colour)
        self.thickness = int(thickness)
        self.font_scale = float(font_scale)
        self.show_distances = bool(show_distances)
        self.show_track_ids = bool(show_track_ids)
        has_fontface = hasattr(cv2, "FontFace")
        if unicode_text and not has_fontface:
            raise ValueError("unicode_text=True needs OpenCV 5 (cv2.FontFace); this OpenCV only has ASCII fonts")
        self._font = cv2.FontFace("sans") if (has_fontface and unicode_text is not False) else None

    @property
    def unicode_text(self) -> bool:
        """True when names are drawn as they are (OpenCV 5 fonts), False when transliterated."""
        return self._font is not None

    def colour_for(self, label: Label) -> BGR:
        if label.pending:
            return self.pending_colour
        return self.known_colour if label.name is not None else self.unknown_colour

    def text_for(self, label: Label) -> str:
        """The label's text: "#3 Obama 0.32", "Unknown", "..." (depending on the options; no number for Unknown)."""
        parts = []
        if self.show_track_ids and label.track_id is not None:
            parts.append(f"#{label.track_id}")
        if label.pending:
            parts.append("...")
        else:
            parts.append(label.name if label.name is not None else "Unknown")
            if (self.show_distances and label.name is not None and label.distance is not None
                    and math.isfinite(label.distance)):
                parts.append(f"{label.distance:.2f}")
        text = " ".join(parts)
        return text if self._font is not None else transliterate(text)

    def annotate(self, bgr_frame: np.ndarray, items: Iterable[Label]) -> np.ndarray:
        """A copy of ``bgr_frame`` with every item's box and label drawn. The input is not changed."""
        frame = np.asarray(bgr_frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"bgr_frame: expected a uint8 (H, W, 3) image, got {frame.dtype} {frame.shape}")
        out = np.array(frame, copy=True, order="C")
        thickness, text_px = self._sizes(out.shape[0])
        drawn = [(label, box, self.colour_for(label)) for label in items
                 if (box := _frame_box(label.box, out.shape, thickness)) is not None]
        for _label, (x1, y1, x2, y2), colour in drawn:
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_8)
        patches = [self._label_patch(self.text_for(label), colour, text_px) for label, _box, colour in drawn]
        rects = _layout([box for _label, box, _colour in drawn], [p.shape[:2] for p in patches], out.shape,
                        thickness)
        for patch, (px, py, _w, _h) in zip(patches, rects):
            _paste(out, patch, px, py)
        return out

    def label_rects(self, frame_shape: tuple[int, ...], items: Iterable[Label]) -> list[tuple[int, int, int, int]]:
        """Where :meth:`annotate` puts each drawn label, ``(x, y, w, h)`` in frame pixels (boxes wholly
        outside the frame or invalid get none): inside the frame, never overlapping one another
        unless the frame has no room left."""
        thickness, text_px = self._sizes(frame_shape[0])
        drawn = [(label, box) for label in items if (box := _frame_box(label.box, frame_shape, thickness)) is not None]
        sizes = [self._label_patch(self.text_for(label), self.colour_for(label), text_px).shape[:2]
                 for label, _box in drawn]
        return _layout([box for _label, box in drawn], sizes, frame_shape, thickness)

    def label_at(self, frame_shape: tuple[int, ...], items: Iterable[Label], x: float, y: float) -> int | None:
        """The index in ``items`` of the face at frame pixel ``(x, y)``: inside its box or its drawn label
        (the smallest box when several hold the point); None when the point is on no face."""
        items = list(items)
        thickness, _text_px = self._sizes(frame_shape[0])
        drawn = [(i, box) for i, label in enumerate(items)
                 if (box := _frame_box(label.box, frame_shape, thickness)) is not None]
        rects = self.label_rects(frame_shape, items)
        hits = []
        for (index, (x1, y1, x2, y2)), (lx, ly, lw, lh) in zip(drawn, rects):
            if x1 <= x <= x2 and y1 <= y <= y2 or lx <= x <= lx + lw and ly <= y <= ly + lh:
                hits.append(((x2 - x1) * (y2 - y1), index))
        return min(hits)[1] if hits else None

    # ------------------------------------------------------------------ internals

    def _sizes(self, height: int) -> tuple[int, int]:
        """Box line thickness and text height in pixels for a frame ``height`` pixels high."""
        return max(1, round(self.thickness * height / 480.0)), max(10, round(height / 30 * self.font_scale))

    def _label_patch(self, text: str, colour: BGR, text_px: int) -> np.ndarray:
        pad = max(2, text_px // 5)
        ink = (0, 0, 0) if 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2] > 140 else (255, 255, 255)
        if self._font is not None:
            rect = cv2.getTextSize((0, 0), text, (0, 0), self._font, text_px, 600)
            ascent = max(-rect[1], text_px)
            descent = max(rect[1] + rect[3], round(0.25 * text_px))
            patch = np.full((ascent + descent + 2 * pad, max(rect[2], 1) + 2 * pad, 3), colour, np.uint8)
            cv2.putText(patch, text, (pad, pad + ascent), ink, self._font, text_px, 600)
            return patch
        scale = text_px / 22.0
        weight = max(1, round(text_px / 14))
        (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
        patch = np.full((th + baseline + 2 * pad, tw + 2 * pad, 3), colour, np.uint8)
        cv2.putText(patch, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, weight, cv2.LINE_AA)
        return patch


def _frame_box(box, frame_shape, thickness: int) -> tuple[int, int, int, int] | None:
    """``(x1, y1, x2, y2)`` corners of an xywh box, far corners clipped near the frame; None when the box is
    invalid or wholly outside."""
    height, width = frame_shape[:2]
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return None
    x1, y1, x2, y2 = x, y, x + w - 1, y + h - 1
    if x2 < 0 or y2 < 0 or x1 > width - 1 or y1 > height - 1:
        return None
    margin = thickness + 1  # clip far-away corners so OpenCV gets small integers
    x1, x2 = (int(round(min(max(v, -margin), width - 1 + margin))) for v in (x1, x2))
    y1, y2 = (int(round(min(max(v, -margin), height - 1 + margin))) for v in (y1, y2))
    return x1, y1, x2, y2


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _layout(boxes: list[tuple[int, int, int, int]], sizes: list[tuple[int, int]], frame_shape,
            thickness: int) -> list[tuple[int, int, int, int]]:
    """One ``(x, y, w, h)`` per label: inside the frame, not over an already placed label.

    Labels are placed top to bottom (then left to right). Each tries, in order: above its
    box, inside its top edge, below it; then further up, then further down, in steps of
    its own height; if the frame is full, the first place inside the frame.
    """
    height, width = frame_shape[:2]
    half = (thickness + 1) // 2
    placed: list[tuple[int, int, int, int] | None] = [None] * len(boxes)
    for index in sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0])):
        x1, y1, _x2, y2 = boxes[index]
        ph, pw = sizes[index]
        px = min(max(x1 - half, 0), max(width - pw, 0))
        above, below, inside = y1 - half - ph, y2 + half + 1, max(y1, 0)
        tries = [above, inside, below]
        tries += [above - k * ph for k in range(1, height // max(ph, 1) + 1)]
        tries += [below + k * ph for k in range(1, height // max(ph, 1) + 1)]
        candidates = [(px, py, pw, ph) for py in tries if 0 <= py <= height - ph]
        fallback = (px, min(max(inside, 0), max(height - ph, 0)), pw, ph)
        others = [rect for rect in placed if rect is not None]
        placed[index] = next((c for c in candidates if not any(_overlaps(c, o) for o in others)),
                             candidates[0] if candidates else fallback)
    return [rect for rect in placed if rect is not None]


def _paste(out: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Copy ``patch`` into ``out`` at (x, y), clipped to the frame."""
    height, width = out.shape[:2]
    ph, pw = patch.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + pw, width), min(y + ph, height)
    if x1 <= x0 or y1 <= y0:
        return
    out[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
