"""The sighting: one track's visit, as stored, listed and sent (pure Python, no I/O)."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from facecam.types import SeenBefore, iso

JPEG_MAGIC = b"\xff\xd8"


def local_now() -> datetime:
    """Now, as an aware datetime in the machine's time zone."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Sighting:
    """One visit: a track from its first to its last frame.

    ``started``/``ended``: wall clock (aware datetimes); ``t_start``/``t_end``: the source's
    own seconds (the position in a file). ``name`` is None for an unknown face; ``cluster``
    the unknown cluster's id where there is one, ``seen_before`` that stranger's earlier visits (in events,
    not in the log). ``distance``: the best (smallest) cosine
    distance measured for the visit's name (for an unknown face: to the nearest person).
    ``box``: ``(x, y, w, h)`` of the face on the snapshot's frame; ``snapshot``: a small
    JPEG of the face (``b""`` when a listing did not ask for snapshots).
    """

    id: str
    source: str
    started: datetime
    ended: datetime
    t_start: float
    t_end: float
    name: str | None = None
    cluster: str | None = None
    distance: float | None = None
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    snapshot: bytes = b""
    seen_before: SeenBefore | None = None   # an unknown face's earlier visits, known at its arrival (not stored)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("id: expected a non-empty string")
        if not isinstance(self.source, str):
            raise ValueError(f"source: expected a string, got {type(self.source).__name__}")
        for label, moment in (("started", self.started), ("ended", self.ended)):
            if not isinstance(moment, datetime) or moment.tzinfo is None:
                raise ValueError(f"{label}: expected a datetime with a time zone")
        if self.ended < self.started:
            raise ValueError("ended: expected a time at or after started")
        if not (math.isfinite(self.t_start) and math.isfinite(self.t_end)) or self.t_end < self.t_start:
            raise ValueError(f"t_start/t_end: expected finite source seconds, start <= end, got "
                             f"{self.t_start}, {self.t_end}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError("name: expected a non-empty string or None")
        if self.distance is not None and not (math.isfinite(self.distance) and self.distance >= 0):
            raise ValueError(f"distance: expected a finite value >= 0 or None, got {self.distance}")
        box = tuple(int(round(v)) for v in self.box)
        if len(box) != 4 or box[2] < 0 or box[3] < 0:
            raise ValueError(f"box: expected (x, y, w, h) with w, h >= 0, got {self.box}")
        object.__setattr__(self, "box", box)
        if not isinstance(self.snapshot, bytes) or (self.snapshot and not self.snapshot.startswith(JPEG_MAGIC)):
            raise ValueError("snapshot: expected JPEG bytes (or b'')")

    @property
    def kind(self) -> str:
        """``"known"`` or ``"unknown"``."""
        return "known" if self.name is not None else "unknown"

    @property
    def duration_s(self) -> float:
        """How long the face was seen, in the source's seconds."""
        return self.t_end - self.t_start

    def updated(self, **changes) -> "Sighting":
        """A copy with ``changes`` (validated again)."""
        return replace(self, **changes)

    def event(self) -> dict:
        """The notification payload (webhook body, MQTT message): the arrival, with the snapshot in base64."""
        return {"type": self.kind, "name": self.name, "cluster": self.cluster, "source": self.source,
                "t": round(self.t_start, 3), "time": iso(self.started),
                "distance": None if self.distance is None else round(self.distance, 4),
                "box": list(self.box), "snapshot": base64.b64encode(self.snapshot).decode("ascii"),
                "seen_before": None if self.seen_before is None else self.seen_before.event()}

    def row(self) -> dict:
        """The listing's view (``facecam sightings --json``): everything but the snapshot."""
        return {"id": self.id, "type": self.kind, "name": self.name, "cluster": self.cluster,
                "source": self.source, "start": iso(self.started), "end": iso(self.ended),
                "duration_s": round(self.duration_s, 2), "t_start": round(self.t_start, 3),
                "t_end": round(self.t_end, 3),
                "distance": None if self.distance is None else round(self.distance, 4), "box": list(self.box)}


@dataclass(frozen=True)
class SightingQuery:
    """Which sightings to list: newest first, all filters optional.

    ``since``/``until``: visits that started in that window. ``person``: that name only;
    ``unknown``: unknown faces only (not with ``person``); ``cluster``: one stranger's visits (their
    unknown faces' cluster id, not with ``person``). ``snapshots``: also load the JPEGs.
    """

    since: datetime | None = None
    until: datetime | None = None
    person: str | None = None
    unknown: bool = False
    source: str | None = None
    limit: int | None = None
    snapshots: bool = False
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.person is not None and (self.unknown or self.cluster is not None):
            raise ValueError("person, and unknown or a stranger: choose one")
        for label, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{label}: expected a datetime with a time zone")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit: expected 1 or more, got {self.limit}")

    @classmethod
    def today(cls, **filters) -> "SightingQuery":
        """Visits since local midnight (what a History panel shows first)."""
        return cls(since=datetime.combine(date.today(), time()).astimezone(), **filters)


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``"2h"``, ``"30m"``, ``"7d"`` (ago), ``"today"``, ``"2026-11-30"`` (local midnight) or an ISO time.

    Raises ValueError with the forms it accepts.
    """
    now = now or local_now()
    span = _SPAN.match(text)
    if span:
        return now - timedelta(seconds=float(span.group(1)) * _UNITS[span.group(2).lower()])
    if text.strip().lower() == "today":
        return datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a span like 2h, 30m, 7d, 'today', a date like 2026-11-30 or an ISO time, "
                         f"got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.astimezone()
