"""Sightings in the shared database, with a local outbox so that losing the database loses none.

:class:`SharedSightingStore` is a :class:`facecam.sightings.store.SightingStore`: a sighting goes
straight to PostgreSQL while it answers; when it does not (server down, network cut), it is
written to a local SQLite outbox (``known_faces/.facecam/sightings-outbox.sqlite``: owner-only,
survives a restart of facecam) and a background thread moves the outbox into the database, in
order, once the server is back. The outbox is bounded (``max_queued``); past it a sighting is
counted as lost and said in the warnings. The machinery is :class:`facecam.db.outbox.OutboxedStore`, which the
unknown faces share.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

from facecam.db.outbox import RETRY_S, OutboxedStore
from facecam.sightings.model import Sighting, SightingQuery

OUTBOX_NAME = "sightings-outbox.sqlite"
DEFAULT_MAX_QUEUED = 100_000


class SharedSightingStore(OutboxedStore):
    """Sightings in PostgreSQL (``primary``: a :class:`facecam.db.postgres.PostgresStore`) with a local outbox."""

    what = "sightings"
    thread_name = "facecam-sightings-outbox"

    def __init__(self, primary, outbox_path: Path, *, retention_days: float | None = None,
                 max_queued: int = DEFAULT_MAX_QUEUED, retry_s: float = RETRY_S,
                 connect: Callable[[], object] | None = None):
        """``primary`` None with ``connect``: the database is opened by the background thread (``connect()``
        tried until the server answers, :func:`facecam.db.open_when_reachable`); sightings wait in the
        outbox meanwhile. A live command starts at once, whether or not the server is up."""
        self.retention_days = retention_days
        super().__init__(primary, outbox_path, max_queued=max_queued, retry_s=retry_s, connect=connect)
        self._start()

    def save(self, sighting: Sighting) -> None:
        self._write(sighting)

    # ------------------------------------------------------------ the outbox (a SqliteSightingStore)
    def _open_outbox_file(self):
        from facecam.sightings.store import SqliteSightingStore  # noqa: PLC0415

        return SqliteSightingStore(self.outbox_path, retention_days=None)

    def _send(self, primary, sighting: Sighting) -> None:
        primary.save(sighting)

    def _queue(self, outbox, sighting: Sighting) -> None:
        outbox.save(sighting)

    def _queued_items(self, outbox) -> list[tuple[str, Sighting]]:
        return [(s.id, s) for s in sorted(outbox.query(SightingQuery(snapshots=True)), key=lambda s: s.started)]

    def _dequeue(self, outbox, sighting_id: str) -> None:
        outbox.forget_id(sighting_id)

    def _is_queued(self, sighting: Sighting) -> bool:
        return bool(self.outbox is not None and self.outbox.snapshot(sighting.id))

    def _on_connected(self, primary) -> None:
        if self.retention_days is not None:
            self._try(lambda: primary.purge(retention_days=self.retention_days))

    # ------------------------------------------------------------ reading: the database
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
