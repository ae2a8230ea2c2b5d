"""Settings: the thresholds and match modes in use (the registry's defaults, or the user's saved overrides).

The thresholds are cosine distances between L2-normalised embeddings, above
which a face is "Unknown". The defaults are published values; ``facecam
evaluate --apply`` measures a better one on your own photos and stores it in
the settings file, which every command and the window then use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from facecam import registry
from facecam.matcher import MATCH_MODES


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


def load_settings(path: Path | None = None) -> dict:
    """The saved settings, or {} when there are none or the file cannot be read (never raises)."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(settings: dict, path: Path | None = None) -> Path:
    """Write the settings atomically, owner-only (0600)."""
    from facecam.fileutil import atomic_write_bytes  # noqa: PLC0415

    path = path or settings_path()
    atomic_write_bytes(path, json.dumps(settings, indent=2, sort_keys=True).encode("utf-8"), mode=0o600)
    return path


def threshold_for(model: str, override: float | None = None, settings: dict | None = None) -> float:
    """The threshold in use: ``override`` (--threshold), else the saved one, else the table's."""
    default = registry.model(model).threshold
    if override is not None:
        return float(override)
    saved = (settings if settings is not None else load_settings()).get("thresholds", {}).get(model)
    if isinstance(saved, (int, float)) and 0.0 < float(saved) < 2.0:
        return float(saved)
    return default


def match_mode_for(model: str, override: str | None = None, settings: dict | None = None) -> str:
    """The matching mode in use: ``override`` (--match), else the saved one, else the default."""
    if override in MATCH_MODES:
        return override
    saved = (settings if settings is not None else load_settings()).get("match_mode", {}).get(model)
    return saved if saved in MATCH_MODES else DEFAULT_MATCH_MODE
