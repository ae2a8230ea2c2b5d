"""Settings: the thresholds and match modes in use (the registry's defaults, or the user's saved overrides).

The thresholds are cosine distances between L2-normalised embeddings, above
which a face is "Unknown". The defaults are published values; ``facecam
evaluate --apply`` measures a better one on your own photos and stores it in
the settings file, which every command and the window then use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from facecam import registry
from facecam.matcher import MATCH_MODES

if TYPE_CHECKING:
    from facecam.openset import Decision


# The models and their default thresholds live in the registry (one table); these names stay for the
# modules that read them from here.
MODELS = registry.MODELS
DEFAULT_MODEL = registry.DEFAULT_MODEL
DEFAULT_DETECTOR = registry.DEFAULT_DETECTOR
# Per-person mean embedding: on LFW (3 photos per person, SFace) it names known people as well as the
# nearest photo does (100% both) and turns strangers away far more reliably (100% vs 91% Unknown at
# the default threshold), because the best of several photos is more often close by chance.
DEFAULT_MATCH_MODE = "mean"
DEFAULT_KNOWN_FACES = Path("known_faces")


def settings_path() -> Path:
    """The user's settings file (FACECAM_CONFIG_DIR, else the platform's config folder)."""
    override = os.environ.get("FACECAM_CONFIG_DIR")
    if override:
        return Path(override) / "settings.json"
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_config_dir("facecam")) / "settings.json"




def _read_settings_file(path: Path) -> tuple[object, str | None]:
    """``(parsed JSON, None)``, ``({}, None)`` when there is no file, or ``({}, why it cannot be used)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as error:
        return {}, f"cannot be read ({getattr(error, 'strerror', None) or type(error).__name__})"
    try:
        return json.loads(text), None
    except ValueError:
        return {}, "is not valid JSON"


def _is_threshold(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < float(value) < 2.0


def _applied_ok(value) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), str) for k in ("by", "on"))


# The entries facecam reads itself: {key: (what each per-model value must be, a test)}. Other keys pass through.
_CHECKED = {
    "thresholds": ("a cosine distance between 0 and 2", _is_threshold),
    "match_mode": ("'nearest' or 'mean'", lambda v: v in MATCH_MODES),
    "threshold_applied": ("{'by': ..., 'on': ...}", _applied_ok),
    "stranger_rates": ("a share of strangers named between 0 and 1, e.g. 0.01", lambda v: _is_rate(v)),
}


def clean_settings(raw) -> tuple[dict, list[str]]:
    """The usable part of parsed settings, and what was ignored (one short phrase per bad entry)."""
    if not isinstance(raw, dict):
        return {}, [f"the file holds a {type(raw).__name__}, not an object"]
    settings, ignored = dict(raw), []
    for key, (expected, valid) in _CHECKED.items():
        if key not in raw:
            continue
        table = raw[key]
        if not isinstance(table, dict):
            ignored.append(f"{key} (expected an object of model: {expected})")
            del settings[key]
            continue
        kept = {model: value for model, value in table.items() if valid(value)}
        ignored += [f"{key}.{model} (expected {expected})" for model in table if model not in kept]
        settings[key] = kept
    return settings, ignored


def load_settings(path: Path | None = None) -> dict:
    """The saved settings, bad entries left out: {} when there are none or the file cannot be used (never raises)."""
    raw, _ = _read_settings_file(path or settings_path())
    return clean_settings(raw)[0]


def settings_warning(path: Path | None = None) -> str | None:
    """One line saying what of the settings file is ignored and what to do, or None when all of it is usable."""
    path = path or settings_path()
    raw, problem = _read_settings_file(path)
    if problem:
        return f"the settings file {path} {problem}; it is ignored: fix or delete it"
    ignored = clean_settings(raw)[1]
    if not ignored:
        return None
    return f"the settings file {path}: ignored {', '.join(ignored)}; fix or delete those entries"


def settings_unusable(path: Path) -> str | None:
    """Why the settings file at ``path`` cannot be updated without losing it (unreadable, not JSON, not an
    object), or None. Bad entries inside a good file are no reason: an update drops them."""
    raw, problem = _read_settings_file(path)
    if problem:
        return problem
    return None if isinstance(raw, dict) else f"holds a {type(raw).__name__}, not an object"


def save_settings(settings: dict, path: Path | None = None) -> Path:
    """Write the settings atomically, owner-only (0600)."""
    from facecam.fileutil import atomic_write_bytes  # noqa: PLC0415

    path = path or settings_path()
    atomic_write_bytes(path, json.dumps(settings, indent=2, sort_keys=True).encode("utf-8"), mode=0o600)
    return path


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold in use and where it comes from: ``origin`` is "override" (--threshold, the slider),
    "settings" (saved by ``evaluate --apply`` or the window's Apply) or "default" (the model table)."""

    value: float
    origin: str
    applied: str | None = None  # for "settings": how and when it was saved, e.g. "evaluate --apply on 2026-11-30"

    def note(self) -> str | None:
        """The line every command says once when a saved threshold is in use, else None."""
        if self.origin != "settings":
            return None
        return f"threshold {self.value:g} from settings ({self.applied or 'saved by hand'})"


def threshold_choice(model: str, override: float | None = None, settings: dict | None = None) -> ThresholdChoice:
    """The threshold in use: ``override`` (--threshold), else the saved one, else the table's."""
    default = registry.model(model).threshold
    if override is not None:
        return ThresholdChoice(float(override), "override")
    settings = settings if settings is not None else load_settings()
    saved = settings.get("thresholds", {}).get(model)
    if _is_threshold(saved):
        applied = settings.get("threshold_applied", {}).get(model)
        how = f"{applied['by']} on {applied['on'][:10]}" if _applied_ok(applied) else None
        return ThresholdChoice(float(saved), "settings", how)
    return ThresholdChoice(default, "default")


def threshold_for(model: str, override: float | None = None, settings: dict | None = None) -> float:
    """The threshold in use (see :func:`threshold_choice`)."""
    return threshold_choice(model, override, settings).value


def _is_rate(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < float(value) < 1.0


def decision_for(model: str, override: float | None = None, settings: dict | None = None,
                 stranger_rate: float | None = None) -> "Decision":
    """What decides a name (:class:`facecam.openset.Decision`): a threshold given (``--threshold``, the
    slider) or saved (``evaluate --apply``), else a target share of strangers named (``--stranger-rate``,
    else the saved one, else :data:`facecam.openset.DEFAULT_STRANGER_RATE`) that follows the gallery's size."""
    from facecam.openset import DEFAULT_STRANGER_RATE, Decision  # noqa: PLC0415

    if override is not None:
        return Decision(model, threshold=float(override), origin="override")
    if stranger_rate is not None:
        return Decision(model, stranger_rate=float(stranger_rate), origin="override")
    settings = settings if settings is not None else load_settings()
    choice = threshold_choice(model, None, settings)
    if choice.origin == "settings":
        return Decision(model, threshold=choice.value, origin="settings", applied=choice.applied)
    saved = settings.get("stranger_rates", {}).get(model)
    if _is_rate(saved):
        return Decision(model, stranger_rate=float(saved), origin="settings")
    return Decision(model, stranger_rate=DEFAULT_STRANGER_RATE)


def match_mode_for(model: str, override: str | None = None, settings: dict | None = None) -> str:
    """The matching mode in use: ``override`` (--match), else the saved one, else the default."""
    if override in MATCH_MODES:
        return override
    saved = (settings if settings is not None else load_settings()).get("match_mode", {}).get(model)
    return saved if saved in MATCH_MODES else DEFAULT_MATCH_MODE


# ---------------------------------------------------------------- privacy: how long each kind of data is kept, consent
# {kind: (settings key, default days, what it is)}. The keys of visits and unknown faces are the ones earlier
# versions read (``sightings_keep_days``, ``unknowns_max_days``); facecam.retention enforces them.
RETENTION = {
    "visits": ("sightings_keep_days", 90.0, "visits and their snapshots (the sightings log)"),
    "unknowns": ("unknowns_max_days", 30.0, "unknown faces (Who's this?: sightings and crops)"),
    "learned": ("learned_keep_days", 365.0, "learned crops (known_faces/<name>/.learned/)"),
}
CONSENT_KEY = "consent_required"   # true: enrolling someone asks who agreed, and records it


def _is_days(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < float(value) < 1e6


def retention_days(kind: str, override: float | None = None, settings: dict | None = None) -> float:
    """How many days ``kind`` of data (a key of :data:`RETENTION`) is kept: ``override`` (a command-line flag),
    else the saved setting, else the default."""
    key, default, _ = RETENTION[kind]
    if override is not None:
        return float(override)
    saved = (settings if settings is not None else load_settings()).get(key)
    return float(saved) if _is_days(saved) else default


def check_retention(kind: str, days) -> float:
    """``days`` as a retention of ``kind``, or ValueError (one phrase) when it is none."""
    if not _is_days(days):
        raise ValueError(f"the {kind} retention must be a number of days above 0, got {days!r}")
    return float(days)


def consent_required(settings: dict | None = None) -> bool:
    """True when enrolling someone must record who agreed (the setting ``consent_required``; off by default)."""
    return (settings if settings is not None else load_settings()).get(CONSENT_KEY) is True
