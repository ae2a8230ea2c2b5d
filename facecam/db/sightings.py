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

from facecam.sightings.model import Sighting, SightingQuery

log = logging.getLogger(__name__)

OUTBOX_NAME = "sightings-outbox.sqlite"
DEFAULT_MAX_QUEUED = 100_000
RETRY_S = 1.0
WRITE_TIMEOUT_S = 3.0  # a sighting that waits this long for the server goes to the outbox


class SharedSightingStore:
    """Sightings in PostgreSQL (``primary``: a :class:`facecam.db.postgres.PostgresStore`) with a local outbox."""

    def __init__(self, primary, outbox_path: Path, *, retention_days: float | None = None,
                 max_queued: int = DEFAULT_MAX_QUEUED, retry_s: float = RETRY_S):
        from facecam.sightings.store import SqliteSightingStore  # noqa: PLC0415

        self.primary = primary
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
        if retention_days is not None:
            self._try(lambda: self.primary.purge(retention_days=retention_days))

    def save(self, sighting: Sighting) -> None:
        with self._lock:
            if self.queued == 0 and self._try(lambda: self.primary.save(sighting)):
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
            if self.outbox is None:
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
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self.queued:
                self.flush()

    def _try(self, write) -> bool:
        try:
            write()
            return True
        except Exception as error:  # noqa: BLE001 - any driver or pool failure: the outbox keeps the sighting
            log.info("facecam: the database did not take a sighting (%s); kept in the local outbox",
                     type(error).__name__)
            return False

    def query(self, query: SightingQuery = SightingQuery()) -> list[Sighting]:
        return self.primary.query(query)

    def snapshot(self, sighting_id: str) -> bytes:
        return self.primary.snapshot(sighting_id)

    def people(self) -> list[str]:
        return self.primary.people()

    def purge(self, before: datetime | None = None) -> int:
        return self.primary.purge(before, retention_days=self.retention_days)

    def forget(self, person: str | None = None, *, everything: bool = False) -> int:
        return self.primary.forget(person, everything=everything)

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
        self.primary.close()
