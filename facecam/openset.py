"""The open-set decision: when the closest enrolled person is close enough to name a face.

A stranger's face lands near *some* enrolled person more often the more people are enrolled: with one
fixed threshold, SFace named about 1 stranger in 11 against a gallery of 560 people. So facecam's
default is not a distance but a promise, a share of strangers that may be given a name (the false
positive identification rate, FPIR: 1 in 100 by default, 1 in 1,000 as the careful setting), turned
into the distance for the gallery in use now.

How: a stranger is named when they come closer than the threshold to at least one of the ``n``
entries the face is compared with (people, for the ``mean`` match mode; photos, for ``nearest``).
When ``p(t)`` is the chance that one stranger-entry pair is closer than ``t``, the chance that a
stranger is named is ``1 - (1 - p(t))**n``; the threshold for a target FPIR ``f`` is the distance
at which ``p(t) = 1 - (1 - f)**(1/n)``. ``p`` is a model's curve, measured on data
(bench/bench_openset.py --calibrate: distances between photos of different people) and shipped here
as numbers only, never as faces. Checked on people and strangers held out of that measurement
(BENCHMARKS.md, "Strangers at scale").

The threshold never goes above the model's fixed default (SFace 0.575, calibrated on galleries of a dozen
people): a gallery of a few dozen people keeps it and names even fewer strangers than the target (0.1-0.2%
with 10 people); from about 60 people on, the target tightens it (0.52 with 1,000).

A model without a curve (VGG-Face: its real weights are not available where facecam is measured) keeps
its fixed threshold. A threshold given by hand (``--threshold``, the window's slider) or saved by
``evaluate --apply`` overrides the target: :class:`Decision` says which one is in use and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_STRANGER_RATE = 0.01       # about 1 stranger in 100 named, whatever the gallery's size
CAREFUL_STRANGER_RATE = 0.001      # the setting for 1 in 1,000
# The curves say what a stranger does on average; a test of a thousand strangers sees the few closest ones,
# and a stranger close to one person tends to be close to others too. Aiming at 0.7 of the target keeps the
# calibration half's own galleries at or under it (1.4% named at 535 people with 1.0, 1.02% with 0.7;
# bench/bench_openset.py); on held-out people it costs at most 1 point of the best rate named right.
DESIGN_MARGIN = 0.7


@dataclass(frozen=True)
class PairCurve:
    """``log10 p`` -> distance: the distance under which a share ``p`` of different-person pairs fall (one
    face against one gallery entry). Interpolated linearly in ``log10 p``; below the measured end the first
    decade's slope goes on (the tail is close to straight there), never under ``floor``."""

    log10_p: tuple[float, ...]
    distance: tuple[float, ...]
    floor: float = 0.3

    def __post_init__(self) -> None:
        if len(self.log10_p) != len(self.distance) or len(self.log10_p) < 2:
            raise ValueError("PairCurve: log10_p and distance must have the same length, 2 or more")
        if np.any(np.diff(self.log10_p) <= 0) or np.any(np.diff(self.distance) < 0):
            raise ValueError("PairCurve: log10_p must increase and distance must not decrease")

    def distance_at(self, p: float) -> float:
        """The distance under which a share ``p`` of different-person pairs fall."""
        x = math.log10(min(max(p, 1e-300), 1.0))
        xs, ys = self.log10_p, self.distance
        if x <= xs[0]:
            slope = (float(np.interp(xs[0] + 1.0, xs, ys)) - ys[0]) / min(1.0, xs[-1] - xs[0])
            return max(self.floor, ys[0] + slope * (x - xs[0]))
        return float(np.interp(x, xs, ys))


def pair_rate(stranger_rate: float, entries: int) -> float:
    """The per-pair chance ``p`` at which a stranger facing ``entries`` gallery entries is named with
    probability ``stranger_rate``: ``1 - (1 - f) ** (1 / n)``."""
    entries = max(int(entries), 1)
    return -math.expm1(math.log1p(-stranger_rate) / entries)


# Per model, per photos enrolled for a person (k; the last one serves for more): the distance under which a
# share 10**x of different-person pairs fall, a face against the mean of a person's k photos. A mean of
# several photos sits closer to everyone (k=2 is 0.01-0.03 nearer than k=1 in the tail), hence one curve
# per k and a threshold per person. Measured with bench/bench_openset.py --calibrate (YuNet + SFace,
# facecam's alignment) on lfw40, lfw10 and half of lfw1k's people and strangers; the other half is the
# held-out test (BENCHMARKS.md, "Strangers at scale"). Numbers only: no face of anyone is shipped.
_LOG10_P = tuple(-5.0 + 0.25 * i for i in range(17))   # 1e-5 ... 1e-1
CURVES: dict[str, dict[int, PairCurve]] = {
    "sface": {
        1: PairCurve(_LOG10_P, (0.5298, 0.5356, 0.5462, 0.5644, 0.5776, 0.5911, 0.6049, 0.6204, 0.6362,
                              0.6522, 0.6683, 0.6853, 0.7038, 0.7241, 0.7456, 0.7695, 0.7965)),  # 1,695,480 pairs
        2: PairCurve(_LOG10_P, (0.4975, 0.5093, 0.5286, 0.5456, 0.5609, 0.5778, 0.5935, 0.6102, 0.6254,
                              0.641, 0.6578, 0.6751, 0.6938, 0.714, 0.736, 0.7601, 0.7871)),  # 1,695,480 pairs
        3: PairCurve(_LOG10_P, (0.4946, 0.5022, 0.515, 0.5303, 0.5501, 0.5705, 0.587, 0.6047, 0.6201,
                              0.6365, 0.6531, 0.6707, 0.6894, 0.7094, 0.7311, 0.7553, 0.7825)),  # 754,220 pairs
    },
}


def curves_for(model: str) -> dict[int, PairCurve] | None:
    """The model's measured curves by photos per person, None when there are none (its fixed threshold stays)."""
    return CURVES.get(model)


def entries_compared(gallery, mode: str) -> int:
    """How many gallery entries a face is compared with: people (``mean``) or photos (``nearest``)."""
    if mode == "mean":
        return int(np.count_nonzero(np.bincount(gallery.labels, minlength=len(gallery.names)))) if len(gallery) else 0
    return len(gallery)


def _fixed_default(model: str) -> float:
    """The model's fixed default threshold (the registry's): what a model without a curve keeps, and what a
    target never loosens (small galleries keep the threshold they were calibrated with, see below)."""
    from facecam import registry  # noqa: PLC0415

    return float(registry.model(model).threshold)


def rate_text(rate: float) -> str:
    """``0.01`` -> "1 in 100"."""
    return f"1 in {round(1 / rate):,}" if rate > 0 else "none"


@dataclass(frozen=True)
class Decision:
    """What decides whether the closest person's name is given: a target share of strangers named
    (``stranger_rate``, the threshold then follows the gallery's size) or a fixed ``threshold``.

    ``origin``: "default" (the target facecam promises, or a model's fixed default), "settings" (saved
    by ``evaluate --apply`` or the window), "override" (``--threshold``, the slider).
    """

    model: str
    threshold: float | None = None        # fixed: this distance whatever the gallery
    stranger_rate: float | None = None    # else: this share of strangers named at most
    origin: str = "default"
    applied: str | None = None            # for "settings": how and when it was saved

    def __post_init__(self) -> None:
        if (self.threshold is None) == (self.stranger_rate is None):
            raise ValueError("Decision: give either a fixed threshold or a stranger rate")
        if self.stranger_rate is not None and not 0.0 < self.stranger_rate < 1.0:
            raise ValueError(f"stranger_rate: expected a share between 0 and 1, got {self.stranger_rate}")

    @property
    def follows_size(self) -> bool:
        """True when the threshold follows the gallery's size (a target and a measured curve)."""
        return self.threshold is None and curves_for(self.model) is not None

    def threshold_for(self, entries: int, photos_per_person: int = 1) -> float:
        """The distance under which the closest of ``entries`` gallery entries is named, for a person
        enrolled with ``photos_per_person`` photos (their mean; 1 for ``nearest``: one photo, one entry)."""
        if self.threshold is not None:
            return float(self.threshold)
        curves = curves_for(self.model)
        if curves is None:  # no measured curve for this model: its fixed default
            return _fixed_default(self.model)
        curve = curves[min(max(int(photos_per_person), 1), max(curves))]
        measured = curve.distance_at(pair_rate(self.stranger_rate * DESIGN_MARGIN, entries))
        return round(min(measured, _fixed_default(self.model)), 4)

    def threshold_at(self, gallery, mode: str) -> float | np.ndarray:
        """The distance in use against ``gallery`` (a :class:`facecam.matcher.GalleryMatrix`): one number,
        or with ``mean`` and a target, one per person (by how many photos each has)."""
        entries = entries_compared(gallery, mode)
        if mode != "mean" or not self.follows_size:
            return self.threshold_for(entries)
        counts = np.bincount(gallery.labels, minlength=len(gallery.names))
        if counts.size == 0:
            return self.threshold_for(entries)
        by_count = {int(k): self.threshold_for(entries, int(k)) for k in np.unique(np.maximum(counts, 1))}
        return np.array([by_count[max(int(k), 1)] for k in counts], dtype=np.float64)

    def basis(self, gallery, mode: str) -> str:
        """What the decision rests on, in a few words (the status line, ``identify``)."""
        thresholds = np.atleast_1d(self.threshold_at(gallery, mode))
        low, high = float(thresholds.min()), float(thresholds.max())
        value = f"{low:.3f}" if high - low < 5e-4 else f"{low:.3f}-{high:.3f}"
        if self.threshold is not None:
            why = {"override": "set by hand", "settings": f"saved ({self.applied or 'by hand'})"}.get(
                self.origin, "fixed")
            return f"threshold {value}, {why}"
        if not self.follows_size:
            return f"threshold {value}, the model's fixed default (no measured curve for {self.model})"
        entries = entries_compared(gallery, mode)
        what = "people" if mode == "mean" else "photos"
        return f"threshold {value} for {entries:,} {what}: about {rate_text(self.stranger_rate)} strangers named"

    def describe(self, gallery, mode: str) -> dict:
        """The decision against ``gallery`` as data (``identify --json``'s ``decision``)."""
        thresholds = np.atleast_1d(self.threshold_at(gallery, mode))
        out = {"based_on": "stranger rate" if self.follows_size else "threshold", "origin": self.origin,
               "match_mode": mode, "entries": entries_compared(gallery, mode),
               "threshold": round(float(thresholds.max()), 4) if thresholds.size else None,
               "basis": self.basis(gallery, mode)}
        if self.follows_size:
            out["stranger_rate"] = self.stranger_rate
            out["threshold_min"] = round(float(thresholds.min()), 4)
        return out
