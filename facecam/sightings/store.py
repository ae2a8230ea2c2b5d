"""The sightings log: one small store interface, SQLite (standard library) by default.

:class:`SightingStore` is all the rest of facecam knows; :func:`facecam.stores.open_stores`
chooses the implementation (this one, or PostgreSQL: :class:`facecam.db.sightings.SharedSightingStore`).

The SQLite log lives at ``known_faces/.facecam/sightings.sqlite``:

* owner-only: the folder 0700, the database and its ``-wal``/``-shm`` files 0600
  (SQLite gives those the database's own mode);
* WAL journal with ``synchronous=FULL``: a ``kill -9`` (or a power cut) at any moment
  leaves every committed sighting in place and no half-written one; each save is one
  short ``BEGIN IMMEDIATE`` transaction, so two facecam processes can write at once (the
  second waits, up to ``busy_timeout_s``, for the first's few milliseconds);
* capped: sightings that ended more than ``retention_days`` ago are deleted when the
  store opens and about once an hour (by ``clock``) while it is written to; deleted rows are zeroed
  (``secure_delete``), and :func:`facecam.fileutil.scrub_sqlite` rebuilds the file after a forget;
* every query parameterised;
* a source is stored by its name (``--source-name``, else an address without its password:
  :func:`facecam.sources.display_name`); opening a log of schema 1 cleans the names an older facecam
  stored with a password (schema 2).

A file that is not a database (damaged, or something else) is moved aside as
``sightings.sqlite.damaged-<time>`` with a warning and a new log started: nothing is
deleted, and the video never stops for it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Protocol

from facecam.errors import FacecamError
from facecam.fileutil import private_file, private_folder, set_aside_damaged
from facecam.sightings.model import Sighting, SightingQuery
from facecam.source_names import checkpoint, redact_stored_names

log = logging.getLogger(__name__)

FILE_NAME = "sightings.sqlite"
DEFAULT_RETENTION_DAYS = 90.0
SCHEMA_VERSION = 2   # 2: sources named without their passwords (rows of version 1 cleaned on opening)
_PURGE_EVERY_S = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sightings (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    started     TEXT NOT NULL,   -- ISO-8601 with zone, as recorded
    ended       TEXT NOT NULL,
    start_ts    REAL NOT NULL,   -- the same instants as Unix seconds, for ranges and order
    end_ts      REAL NOT NULL,
    t_start     REAL NOT NULL,   -- source seconds
    t_end       REAL NOT NULL,
    name        TEXT,            -- NULL: unknown
    cluster     TEXT,
    distance    REAL,
    box_x INTEGER NOT NULL, box_y INTEGER NOT NULL, box_w INTEGER NOT NULL, box_h INTEGER NOT NULL,
    snapshot    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sightings_start ON sightings (start_ts);
CREATE INDEX IF NOT EXISTS sightings_name ON sightings (name, start_ts);
CREATE INDEX IF NOT EXISTS sightings_end ON sightings (end_ts);
"""
_COLUMNS = ("id, source, started, ended, t_start, t_end, name, cluster, distance, "
            "box_x, box_y, box_w, box_h")


class SightingLog(Protocol):
    """The sightings for a reader (``facecam sightings``, the window's History). Safe from any thread."""

    def query(self, query: SightingQuery = SightingQuery()) -> list[Sighting]:
        """The matching sightings, newest first (``[]`` when none)."""

    def snapshot(self, sighting_id: str) -> bytes:
        """The JPEG snapshot of one sighting (``b""`` when there is no such sighting)."""

    def people(self) -> list[str]:
        """The names that have sightings, sorted (for a filter box)."""

    def close(self) -> None:
        """Release the store."""


class SightingStore(SightingLog, Protocol):
    """Where sightings are kept and written (chosen by :func:`facecam.stores.open_stores`). Every method is safe
    to call from any thread."""

    warnings: list[str]   # what opening or writing had to repair or could not do, for the user
    flushed: int          # sightings that waited in a local outbox and were sent to the database since

    def save(self, sighting: Sighting) -> None:
        """Insert ``sighting``, or replace the one with its id (a visit updated when it ends)."""

    def query(self, query: SightingQuery = SightingQuery()) -> list[Sighting]:
        """The matching sightings, newest first (``[]`` when none)."""

    def snapshot(self, sighting_id: str) -> bytes:
        """The JPEG snapshot of one sighting (``b""`` when there is no such sighting)."""

    def people(self) -> list[str]:
        """The names that have sightings, sorted (for a filter box)."""

    def purge(self, before: datetime | None = None) -> int:
        """Delete sightings that ended before ``before`` (default: the retention limit); how many went."""

    def forget(self, person: str | None = None, *, everything: bool = False) -> int:
        """Delete one person's sightings, or ``everything``; how many went."""

    def close(self) -> None:
        """Release the store (pending writes are finished first)."""


class SqliteSightingStore:
    """:class:`SightingStore` in one SQLite file (see the module notes)."""

    flushed = 0   # a local log sends nothing anywhere later

    def __init__(self, path: Path, *, retention_days: float | None = DEFAULT_RETENTION_DAYS,
                 busy_timeout_s: float = 30.0, clock: Callable[[], float] = time.time):
        if retention_days is not None and not retention_days > 0:
            raise FacecamError(f"sightings retention must be more than 0 days, got {retention_days:g}; "
                               "use --no-sightings to keep none")
        self.path = Path(path)
        self.retention = None if retention_days is None else timedelta(days=float(retention_days))
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._busy_timeout_s = float(busy_timeout_s)
        self.clock = clock   # Unix seconds: the retention's "now" (a test moves it forward)
        self._last_purge: float | None = None
        self._db = self._open()
        if self.retention is not None:
            self.purge()

    # ------------------------------------------------------------ opening
    def _open(self) -> sqlite3.Connection:
        private_folder(self.path.parent)
        private_file(self.path)
        try:
            return self._connect()
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise FacecamError(f"the sightings log {self.path} stayed locked by another program; "
                                   "try again, or close the other facecam") from None
            aside = set_aside_damaged(self.path)
            self.warnings.append(f"the sightings log {self.path} could not be read ({error}); it was moved to "
                                 f"{aside.name} and a new log started")
            log.warning(self.warnings[-1])
            private_file(self.path)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            db.execute("PRAGMA secure_delete = ON")   # a deleted visit's bytes are zeroed, not left in free pages
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"database is locked (journal mode {mode})")
            db.execute("PRAGMA synchronous = FULL")
            redacted = 0
            with _transaction(db):
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise FacecamError(f"the sightings log {self.path} was written by a newer facecam "
                                       f"(schema {version}); update facecam")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                if version < 2:  # an older facecam kept a --source URL whole, password included
                    redacted = redact_stored_names(db, "sightings")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            checkpoint(db, redacted)
        except BaseException:
            db.close()
            raise
        return db

    # ------------------------------------------------------------ writing
    def save(self, sighting: Sighting) -> None:
        x, y, w, h = sighting.box
        with self._lock, _transaction(self._db):
            self._db.execute(
                "INSERT INTO sightings (id, source, started, ended, start_ts, end_ts, t_start, t_end, name, cluster,"
                " distance, box_x, box_y, box_w, box_h, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET source = excluded.source, started = excluded.started,"
                " ended = excluded.ended, start_ts = excluded.start_ts, end_ts = excluded.end_ts,"
                " t_start = excluded.t_start, t_end = excluded.t_end, name = excluded.name,"
                " cluster = excluded.cluster, distance = excluded.distance, box_x = excluded.box_x,"
                " box_y = excluded.box_y, box_w = excluded.box_w, box_h = excluded.box_h,"
                " snapshot = CASE WHEN length(excluded.snapshot) > 0 THEN excluded.snapshot ELSE snapshot END",
                (sighting.id, sighting.source, sighting.started.isoformat(timespec="microseconds"),
                 sighting.ended.isoformat(timespec="microseconds"),
                 sighting.started.timestamp(), sighting.ended.timestamp(), sighting.t_start, sighting.t_end,
                 sighting.name, sighting.cluster, sighting.distance, x, y, w, h, sighting.snapshot))
        if self.retention is not None and (self._last_purge is None
                                           or abs(self.clock() - self._last_purge) > _PURGE_EVERY_S):
            self.purge()

    def purge(self, before: datetime | None = None) -> int:
        if before is None and self.retention is None:
            return 0
        now = self.clock()
        before = before or (datetime.fromtimestamp(now).astimezone() - self.retention)
        with self._lock, _transaction(self._db):
            gone = self._db.execute("DELETE FROM sightings WHERE end_ts < ?", (before.timestamp(),)).rowcount
        self._last_purge = now
        return int(gone)

    def forget(self, person: str | None = None, *, everything: bool = False) -> int:
        """Delete one person's sightings, or ``everything``; how many went."""
        if everything:
            sql, params = "DELETE FROM sightings", ()
        elif person:
            sql, params = "DELETE FROM sightings WHERE name = ?", (person,)
        else:
            raise ValueError("forget: name a person or pass everything=True")
        with self._lock, _transaction(self._db):
            gone = self._db.execute(sql, params).rowcount
        return int(gone)

    def forget_id(self, sighting_id: str) -> int:
        """Delete one sighting by its id (the outbox, once the database has it); how many went (0 or 1)."""
        with self._lock, _transaction(self._db):
            return int(self._db.execute("DELETE FROM sightings WHERE id = ?", (sighting_id,)).rowcount)

    # ------------------------------------------------------------ reading
    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM sightings").fetchone()[0])

    def query(self, query: SightingQuery = SightingQuery()) -> list[Sighting]:
        where, params = [], []
        if query.since is not None:
            where.append("start_ts >= ?")
            params.append(query.since.timestamp())
        if query.until is not None:
            where.append("start_ts < ?")
            params.append(query.until.timestamp())
        if query.person is not None:
            where.append("name = ?")
            params.append(query.person)
        if query.unknown:
            where.append("name IS NULL")
        if query.source is not None:
            where.append("source = ?")
            params.append(query.source)
        if query.cluster is not None:
            where.append("cluster = ?")
            params.append(query.cluster)
        sql = (f"SELECT {_COLUMNS}, {'snapshot' if query.snapshots else 'NULL'} FROM sightings"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY start_ts DESC, id")
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(int(query.limit))
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_sighting(row) for row in rows]

    def snapshot(self, sighting_id: str) -> bytes:
        with self._lock:
            row = self._db.execute("SELECT snapshot FROM sightings WHERE id = ?", (sighting_id,)).fetchone()
        return bytes(row[0]) if row else b""

    def people(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT name FROM sightings WHERE name IS NOT NULL ORDER BY name")
            return [row[0] for row in rows.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "SqliteSightingStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _transaction:  # noqa: N801 - used like a function: with _transaction(db):
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): the write lock is taken up front,
    so two writers queue on the busy timeout instead of failing on a lock upgrade."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _sighting(row) -> Sighting:
    (id_, source, started, ended, t_start, t_end, name, cluster, distance, x, y, w, h, snapshot) = row
    return Sighting(id=id_, source=source, started=datetime.fromisoformat(started),
                    ended=datetime.fromisoformat(ended), t_start=t_start, t_end=t_end, name=name, cluster=cluster,
                    distance=distance, box=(x, y, w, h), snapshot=bytes(snapshot) if snapshot else b"")
