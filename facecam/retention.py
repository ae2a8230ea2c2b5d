"""How long each kind of data is kept, enforced at start and while running (Qt-free).

Three kinds, each with its own limit in days (:data:`facecam.config.RETENTION`: one place for the settings keys
and defaults; the command-line flags override them for a run; the window's Tools > Privacy... saves them):

* **visits** and their snapshots (the sightings log, and its outbox with ``--db``): ``--keep-days``, the setting
  ``sightings_keep_days``, default 90. The log deletes what ended earlier when it opens and about once an hour
  while it is written to (:class:`facecam.sightings.store.SqliteSightingStore`).
* **unknown faces** (Who's this?: sightings, crops, the ignore list): ``--unknowns-keep-days``, the setting
  ``unknowns_max_days``, default 30. The store drops older ones when it opens and at every new sighting.
* **learned crops** (``known_faces/<name>/.learned/``): ``--learned-keep-days``, the setting
  ``learned_keep_days``, default 365: a crop older than that (the time in its name, else its file's time) is
  deleted at start (:func:`purge_learned`) and while running (:class:`RetentionSweeper`, hourly by its clock).

Every function takes a ``clock`` (Unix seconds, default ``time.time``): the tests move it forward instead of
sleeping. What a purge deleted from an SQLite file is zeroed there (``secure_delete``).
"""

from __future__ import annotations

import argparse
import calendar
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from facecam import config

SWEEP_EVERY_S = 3600.0
_FLAGS = {"unknowns": "--unknowns-keep-days", "learned": "--learned-keep-days"}   # visits: --keep-days (sightings)


@dataclass(frozen=True)
class Retention:
    """The limits in days: ``visits`` (and snapshots), ``unknowns`` (unknown faces), ``learned`` (learned crops)."""

    visits: float
    unknowns: float
    learned: float

    @classmethod
    def chosen(cls, settings: dict | None = None, *, visits: float | None = None, unknowns: float | None = None,
               learned: float | None = None) -> "Retention":
        """The flags given (None: not given), else the saved settings, else the defaults."""
        settings = config.load_settings() if settings is None else settings
        given = {"visits": visits, "unknowns": unknowns, "learned": learned}
        return cls(**{kind: config.retention_days(kind, given[kind], settings) for kind in config.RETENTION})

    @classmethod
    def from_args(cls, args, settings: dict | None = None) -> "Retention":
        """From ``--keep-days``, ``--unknowns-keep-days`` and ``--learned-keep-days`` (those a command has)."""
        return cls.chosen(settings, visits=getattr(args, "keep_days", None),
                          unknowns=getattr(args, "unknowns_keep_days", None),
                          learned=getattr(args, "learned_keep_days", None))

    def settings(self, settings: dict) -> dict:
        """``settings`` with these limits as the saved ones (what the window's dialog saves)."""
        out = dict(settings)
        for kind in config.RETENTION:
            out[config.RETENTION[kind][0]] = config.check_retention(kind, getattr(self, kind))
        return out

    def unknowns_settings(self, settings: dict | None = None) -> dict:
        """The settings an unknowns store is opened with, its age limit this one's."""
        settings = config.load_settings() if settings is None else settings
        return {**settings, config.RETENTION["unknowns"][0]: self.unknowns}

    def lines(self) -> list[str]:
        """One line per kind: ``visits and their snapshots (the sightings log): 90 days``."""
        return [f"{config.RETENTION[kind][2]}: {getattr(self, kind):g} days" for kind in config.RETENTION]


def _days(text: str) -> float:
    try:
        return config.check_retention("", float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days above 0, got {text!r}") from None


def add_options(parser) -> None:
    """``--unknowns-keep-days`` and ``--learned-keep-days`` (visits: ``--keep-days``, with the sightings options)."""
    for kind, flag in _FLAGS.items():
        key, default, what = config.RETENTION[kind]
        parser.add_argument(flag, type=_days, metavar="DAYS",
                            help=f"delete {what} older than this (default: the setting {key}, else {default:g})")


# ---------------------------------------------------------------- learned crops

def learned_time(path: Path) -> float | None:
    """When a learned crop was learned (Unix seconds): the time in its name (``learned-20261207T031500-...``,
    UTC), else its file's modification time; None when neither can be read."""
    from facecam.learn import LEARNED_PREFIX  # noqa: PLC0415

    stamp = path.name[len(LEARNED_PREFIX):len(LEARNED_PREFIX) + 15]
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S")))
    except ValueError:
        try:
            return path.stat().st_mtime
        except OSError:
            return None


def purge_learned(known_faces: Path, days: float, clock: Callable[[], float] = time.time) -> list[Path]:
    """Delete every learned crop older than ``days``; the files deleted (the user's own photos are never touched)."""
    from facecam.learn import learned_people  # noqa: PLC0415

    cutoff = clock() - float(days) * 86400.0
    gone = []
    for crops in learned_people(Path(known_faces)).values():
        for crop in crops:
            learned = learned_time(crop)
            if learned is not None and learned < cutoff:
                crop.unlink(missing_ok=True)
                gone.append(crop)
    return gone


# ---------------------------------------------------------------- at start

def enforce(stores, retention: Retention, clock: Callable[[], float] = time.time,
            settings: dict | None = None) -> dict[str, int]:
    """Apply every limit now to what ``stores`` (a :class:`facecam.stores.Stores`) holds: the sightings log (or
    the database's), each model's unknown faces, the folder's learned crops; nothing is created. Returns how
    many went of each kind. (``watch`` and the window do this as they start; their stores keep doing it.)"""
    counts = {"visits": 0, "unknowns": 0, "learned": 0}
    if stores.has_sightings():
        log = stores.sightings(retention_days=None, clock=clock)   # the purge below counts what goes
        try:
            counts["visits"] = log.purge(datetime.fromtimestamp(clock() - retention.visits * 86400.0).astimezone())
        finally:
            log.close()
    for model in _unknown_models(stores):
        before = _unknown_count(stores, model)
        store = stores.unknowns(model, None, retention.unknowns_settings(settings), only_existing=True, clock=clock)
        if store is not None:   # the caps apply as the store opens
            counts["unknowns"] += max(before - len(store.sightings()), 0)
            store.close()
    if not stores.shared and not stores.read_only:
        counts["learned"] = len(purge_learned(stores.known_faces, retention.learned, clock))
    return counts


def _unknown_models(stores) -> list[str]:
    if stores.db_url:
        return stores.database().unknown_models()
    from facecam.unknowns.store import DB_NAME, store_folder  # noqa: PLC0415

    folder = store_folder(stores.places.data_root, "x").parent
    return sorted(p.name for p in folder.iterdir() if (p / DB_NAME).is_file()) if folder.is_dir() else []


def _unknown_count(stores, model: str) -> int:
    if stores.db_url:
        return 0   # the database's store counts nothing before its caps; the rows it dropped are not reported
    import sqlite3  # noqa: PLC0415

    from facecam.unknowns.store import DB_NAME, store_folder  # noqa: PLC0415

    db = sqlite3.connect(store_folder(stores.places.data_root, model) / DB_NAME)
    try:
        return int(db.execute("SELECT count(*) FROM sightings").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


# ---------------------------------------------------------------- while running

class RetentionSweeper:
    """While a live session runs: every ``every_s`` seconds of ``clock``, learned crops past their limit are
    deleted (the sightings log and the unknown faces keep their own limits as they are written). A visit
    subscriber (``session.subscribe(sweeper.on_visit, sweeper.close)``): it only looks at the clock in the
    recognition thread; the deleting runs on a thread of its own."""

    def __init__(self, known_faces: Path, retention: Retention, clock: Callable[[], float] = time.time,
                 every_s: float = SWEEP_EVERY_S, on_swept: Callable[[list[Path]], None] | None = None):
        self.known_faces, self.retention, self.clock = Path(known_faces), retention, clock
        self.every_s = float(every_s)
        self.on_swept = on_swept
        self.swept: list[Path] = []
        self.errors: list[str] = []
        self._last = clock()
        self._busy = threading.Lock()
        self._thread: threading.Thread | None = None

    def on_visit(self, _event=None) -> None:
        now = self.clock()
        if abs(now - self._last) < self.every_s or not self._busy.acquire(blocking=False):
            return
        self._last = now
        self._thread = threading.Thread(target=self._sweep, name="facecam-retention", daemon=True)
        self._thread.start()

    def _sweep(self) -> None:
        try:
            gone = purge_learned(self.known_faces, self.retention.learned, self.clock)
            self.swept.extend(gone)
            if gone and self.on_swept is not None:
                self.on_swept(gone)
        except Exception as error:  # noqa: BLE001 - a folder that went away: said at the end, the video goes on
            self.errors.append(f"retention: {error}")
        finally:
            self._busy.release()

    def close(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(10)
