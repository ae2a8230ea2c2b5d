"""Consent on enrolment (the setting ``consent_required``, off by default): who agreed to be enrolled, and when.

Kept beside the person, never in the folder's name: ``known_faces/<name>/.consent.json`` (owner-only, 0600;
the gallery reads no hidden file), ``{"agreed_by": ..., "at": ISO time, "how": "enroll" | "window"}``. It goes
with the person (``people forget`` deletes the folder). ``facecam people list`` and the People panel show it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from facecam.errors import EnrollError
from facecam.fileutil import atomic_write_bytes
from facecam.gallery import person_folder

FILE_NAME = ".consent.json"


def check_agreed_by(agreed_by: str | None) -> str:
    """Who agreed, stripped; EnrollError (one line) when it is empty or holds a control character."""
    text = (agreed_by or "").strip()
    if not text:
        raise EnrollError("consent is required to enroll someone (setting consent_required): say who agreed, "
                          "e.g. --consent-by 'Ada Lovelace'")
    if any(ord(ch) < 32 for ch in text) or len(text) > 200:
        raise EnrollError("who agreed must be one line of at most 200 characters")
    return text


def record_consent(known_faces: Path, name: str, agreed_by: str, how: str = "enroll",
                   clock: Callable[[], float] = time.time) -> dict:
    """Write who agreed to ``name``'s enrolment and when (the folder is created when missing); the record."""
    folder = person_folder(Path(known_faces), name)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"agreed_by": check_agreed_by(agreed_by),
              "at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(clock())), "how": how}
    atomic_write_bytes(folder / FILE_NAME, json.dumps(record, sort_keys=True).encode("utf-8"), mode=0o600)
    return record


def read_consent(known_faces: Path, name: str) -> dict | None:
    """``name``'s consent record, or None when there is none (or it cannot be read)."""
    try:
        path = person_folder(Path(known_faces), name) / FILE_NAME
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, EnrollError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("agreed_by"), str) or not isinstance(
            record.get("at"), str):
        return None
    return {"agreed_by": record["agreed_by"], "at": record["at"], "how": str(record.get("how", ""))}


def describe(record: dict | None) -> str:
    """``agreed by Ada Lovelace on 2026-12-07`` or ``no consent recorded``."""
    if not record:
        return "no consent recorded"
    return f"agreed by {record['agreed_by']} on {record['at'][:10]}"
