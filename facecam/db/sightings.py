"""Sightings in the shared database, with a local outbox so that losing the database loses none.

:class:`SharedSightingStore` is a :class:`facecam.sightings.store.SightingStore`: a sighting goes
straight to PostgreSQL while it answers; when it does not (server down, network cut), it is
written to a local SQLite outbox (``known_faces/.facecam/sightings-outbox.sqlite``: owner-only,
survives a restart of facecam) and a background thread moves the outbox into the database, in
order, once the server is back. The outbox is bounded (``max_queued``); past it a sighting is
counted as lost and said in the warnings.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Callable

from facecam.sightings.model import Sighting, SightingQuery

log = logging.getLogger(__name__)

OUTBOX_NAME = "sightings-outbox.sqlite"
DEFAULT_MAX_QUEUED = 100_000
RETRY_S = 1.0
WRITE_TIMEOUT_S = 3.0  # a sighting that waits this long for the server goes to the outbox


class SharedSightingStore:
    """Sightings in PostgreSQL (``primary``: a :class:`facecam.db.postgres.PostgresStore`) with a local outbox."""

    def __init__(self, primary, outbox_path: Path, *, retention_days: float | None = None,
                 max_queued: int = DEFAULT_MAX_QUEUED, retry_s: float = RETRY_S,
                 connect: Callable[[], object] | None = None):
        """``primary`` None with ``connect``: the database is opened by the background thread (``connect()``
        tried until the server answers, :func:`facecam.db.open_when_reachable`); sightings wait in the
        outbox meanwhile. A live command starts at once, whether or not the server is up."""
        from facecam.sightings.store import SqliteSightingStore  # noqa: PLC0415

        if primary is None and connect is None:
            raise ValueError("SharedSightingStore: give the database store, or connect() to open it")
        self.primary = primary
        self._connect = connect
        self.retention_days = retention_days
        self.max_queued = int(max_queued)
        self.retry_s = float(retry_s)
        self.outbox_path = Path(outbox_path)
        self._outbox_class = SqliteSightingStore
        self.outbox = None  # opened when first needed (or when an earlier run left sightings in it)
        self.warnings: list[str] = []
        self.queued = self._open_outbox().count() if self.outbox_path.exists() else 0
        self.flushed = 0
        self.lost = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facecam-sightings-outbox", daemon=True)
        self._thread.start()
        if retention_days is not None and primary is not None:
            self._try(lambda: self.primary.purge(retention_days=retention_days))

    def save(self, sighting: Sighting) -> None:
        with self._lock:
            if self.queued == 0 and self.primary is not None and self._try(lambda: self.primary.save(sighting)):
                return
            if self.queued >= self.max_queued and not self.outbox.snapshot(sighting.id):
                self.lost += 1
                if self.lost == 1:
                    self.warnings.append(f"the database did not answer and the local outbox is full "
                                         f"({self.max_queued} sightings); newer sightings are not kept")
                return
            self._open_outbox().save(sighting)
            self.queued = self.outbox.count()
        self._wake.set()

    def _open_outbox(self):
        if self.outbox is None:
            self.outbox = self._outbox_class(self.outbox_path, retention_days=None)
            self.warnings.extend(self.outbox.warnings)
        return self.outbox

    def flush(self) -> int:
        """Move the outbox into the database (oldest first, stopping at the first failure); how many went."""
        moved = 0
        with self._lock:
            if self.outbox is None or self.primary is None:
                return 0
            for sighting in sorted(self.outbox.query(SightingQuery(snapshots=True)), key=lambda s: s.started):
                if not self._try(lambda s=sighting: self.primary.save(s)):
                    break
                self.outbox.forget_id(sighting.id)
                moved += 1
            self.queued = self.outbox.count()
            self.flushed += moved
        return moved

    def _run(self) -> None:
        if self.primary is None and not self._open_primary():
            return
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self.queued:
                self.flush()

    def _open_primary(self) -> bool:
        """Open the database (retrying until it answers); True once open, False when closed first or refused."""
        from facecam.db import open_when_reachable  # noqa: PLC0415

        def waiting(error, delay):
            log.info("facecam: the database does not answer yet (retrying in %.0f s); sightings wait in the "
                     "local outbox", delay)

        try:
            primary = open_when_reachable(self._connect, self._stop, waiting)
        except Exception as error:  # noqa: BLE001 - e.g. a schema too new: said at the end; the outbox keeps all
            self.warnings.append(f"sightings stay in the local outbox: {error}")
            return False
        if primary is None:
            return False
        with self._lock:
            self.primary = primary
        if self.retention_days is not None:
            self._try(lambda: primary.purge(retention_days=self.retention_days))
        self._wake.set()  # send what waited in the outbox
        return True

    def _database(self):
        """The database store, or DatabaseUnreachable while it has not answered yet."""
        primary = self.primary
        if primary is None:
            from facecam.db import DatabaseUnreachable  # noqa: PLC0415

            raise DatabaseUnreachable("the database has not answered yet; the visits wait in the local outbox "
                                      "and are sent when it does")
        return primary

    def _try(self, write) -> bool:
        try:
            write()
            return True
        except Exception as error:  # noqa: BLE001 - any driver or pool failure: the outbox keeps the sighting
            log.info("facecam: the database did not take a sighting (%s); kept in the local outbox",
                     type(error).__name__)
            return False

    def query(self, query: SightingQuery = SightingQuery()) -> list[Sighting]:
        return self._database().query(query)

    def snapshot(self, sighting_id: str) -> bytes:
        return self._database().snapshot(sighting_id)

    def people(self) -> list[str]:
        return self._database().people()

    def purge(self, before: datetime | None = None) -> int:
        return self._database().purge(before, retention_days=self.retention_days)

    def forget(self, person: str | None = None, *, everything: bool = False) -> int:
        return self._database().forget(person, everything=everything)

    def close(self) -> None:
        """Stop the retry thread after one last flush; what the database still refuses stays in the outbox."""
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        if self.queued:
            self.flush()
        if self.queued:
            self.warnings.append(f"{self.queued} sighting(s) wait in {self.outbox.path} for the database; "
                                 "the next run with --db sends them")
        if self.outbox is not None:
            self.outbox.close()
        if self.primary is not None:
            self.primary.close()
