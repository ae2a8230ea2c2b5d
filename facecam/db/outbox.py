"""Writes that outlive the database: a local outbox while the server is away, sent in order once it answers.

:class:`OutboxedStore` is what the shared stores a live command writes to have in common (the visits,
:class:`facecam.db.sightings.SharedSightingStore`; the unknown faces,
:class:`facecam.db.unknowns_outbox.SharedUnknownStore`): a write goes straight to PostgreSQL while it
answers; when it does not (server down, network cut, not reachable yet at start) it goes to a local
SQLite outbox in ``known_faces/.facecam`` (owner-only, survives a restart of facecam), and one background
thread opens the database (retrying, :func:`facecam.db.open_when_reachable`) and moves the outbox into it,
oldest first, once the server is back. While the outbox holds anything, new writes queue behind it, so
the database receives them in order.

The outbox is bounded (``max_queued``): past it a write is counted in ``lost`` and said once in
``warnings``. An item the database refuses for good (one of ``refused``, e.g. another model's embedding
length) is not queued: the caller hears of it at once, and an outboxed one is dropped with a warning
rather than blocking the others.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

RETRY_S = 1.0   # how often a non-empty outbox is offered to the database
WRITE_TIMEOUT_S = 3.0  # a live write that waits this long for the server goes to the outbox


class OutboxedStore:
    """The database ``primary`` (or ``connect()`` to open it in the background) with a local outbox (see the
    module notes). A subclass says how an item is sent, queued, listed and removed."""

    what = "items"                                       # in messages: "sightings", "unknown faces"
    thread_name = "facecam-outbox"
    refused: tuple[type[BaseException], ...] = ()        # the database will never take such an item: not queued

    def __init__(self, primary, outbox_path: Path, *, max_queued: int, retry_s: float = RETRY_S,
                 connect: Callable[[], object] | None = None):
        if primary is None and connect is None:
            raise ValueError(f"{type(self).__name__}: give the database store, or connect() to open it")
        self.primary = primary
        self._connect = connect
        self.max_queued = int(max_queued)
        self.retry_s = float(retry_s)
        self.outbox_path = Path(outbox_path)
        self.outbox = None  # opened when first needed (or now, when an earlier run left items in it)
        self.warnings: list[str] = []
        self.queued = self._open_outbox().count() if self.outbox_path.exists() else 0
        self.flushed = 0
        self.lost = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def _start(self) -> None:
        """Start the background thread (a subclass calls this at the end of its ``__init__``)."""
        self._thread.start()
        if self.primary is not None:
            self._on_connected(self.primary)

    # ------------------------------------------------------------ what a subclass gives
    def _open_outbox_file(self):
        """The outbox at ``outbox_path`` (an object with ``count()``, ``close()``, ``warnings``, ``path``)."""
        raise NotImplementedError

    def _send(self, primary, item):
        """Write ``item`` to the database; its answer."""
        raise NotImplementedError

    def _queue(self, outbox, item) -> None:
        raise NotImplementedError

    def _queued_items(self, outbox) -> list[tuple[object, object]]:
        """``(key, item)`` of everything queued, in the order the database should receive it."""
        raise NotImplementedError

    def _dequeue(self, outbox, key) -> None:
        raise NotImplementedError

    def _is_queued(self, item) -> bool:
        """True when ``item`` replaces one already queued (it then takes no new place in a full outbox)."""
        return False

    def _on_connected(self, primary) -> None:
        """Called once the database is open (e.g. to apply a retention limit)."""

    def _idle(self) -> None:
        """Called in the background thread, with the database open, whenever the outbox is empty (about every
        ``retry_s``): work that waited for the database."""

    # ------------------------------------------------------------ writing
    def _write(self, item) -> tuple[str, object]:
        """Send ``item`` or queue it: ``("sent", the database's answer)``, ``("queued", None)`` or ``("lost", None)``
        (the outbox is full). Raises what ``refused`` names."""
        with self._lock:
            if self.queued == 0 and self.primary is not None:
                sent, answer = self._try(lambda: self._send(self.primary, item))
                if sent:
                    return "sent", answer
            if self.queued >= self.max_queued and not self._is_queued(item):
                self.lost += 1
                if self.lost == 1:
                    self.warnings.append(f"the database did not answer and the local outbox is full "
                                         f"({self.max_queued} {self.what}); newer {self.what} are not kept")
                return "lost", None
            outbox = self._open_outbox()
            self._queue(outbox, item)
            self.queued = outbox.count()
        self._wake.set()
        return "queued", None

    def _open_outbox(self):
        if self.outbox is None:
            self.outbox = self._open_outbox_file()
            self.warnings.extend(self.outbox.warnings)
        return self.outbox

    def flush(self) -> int:
        """Move the outbox into the database (in order, stopping at the first failure); how many went."""
        moved = 0
        with self._lock:
            if self.outbox is None or self.primary is None:
                return 0
            for key, item in self._queued_items(self.outbox):
                try:
                    sent, _ = self._try(lambda i=item: self._send(self.primary, i))
                except self.refused as error:
                    self.lost += 1
                    self.warnings.append(f"the database refused one of the {self.what} in the local outbox "
                                         f"({error}); it was dropped")
                    sent = True
                if not sent:
                    break
                self._dequeue(self.outbox, key)
                moved += 1
            self.queued = self.outbox.count()
            self.flushed += moved
        return moved

    def _try(self, write) -> tuple[bool, object]:
        """``(True, write())``, or ``(False, None)`` when the database did not take it (the outbox keeps it)."""
        try:
            return True, write()
        except self.refused:
            raise
        except Exception as error:  # noqa: BLE001 - any driver or pool failure: the outbox keeps the item
            log.info("facecam: the database did not take one of the %s (%s); kept in the local outbox",
                     self.what, type(error).__name__)
            return False, None

    # ------------------------------------------------------------ the background thread
    def _run(self) -> None:
        if self.primary is None and not self._open_primary():
            return
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self.queued:
                self.flush()
            if not self.queued:
                self._idle()

    def _open_primary(self) -> bool:
        """Open the database (retrying until it answers); True once open, False when closed first or refused."""
        from facecam.db import open_when_reachable  # noqa: PLC0415

        def waiting(error, delay):
            log.info("facecam: the database does not answer yet (retrying in %.0f s); %s wait in the local outbox",
                     delay, self.what)

        try:
            primary = open_when_reachable(self._connect, self._stop, waiting)
        except Exception as error:  # noqa: BLE001 - e.g. a schema too new: said at the end; the outbox keeps all
            self.warnings.append(f"{self.what} stay in the local outbox: {error}")
            return False
        if primary is None:
            return False
        with self._lock:
            self.primary = primary
        self._on_connected(primary)
        self._wake.set()  # send what waited in the outbox
        return True

    def wait_connected(self, stop: threading.Event) -> bool:
        """Block until the database is open (True) or ``stop`` is set / the store closed (False)."""
        while not stop.is_set() and not self._stop.is_set():
            if self.primary is not None:
                return True
            stop.wait(0.2)
        return self.primary is not None and not stop.is_set()

    def _database(self):
        """The database store, or :class:`facecam.db.DatabaseUnreachable` while it has not answered yet."""
        primary = self.primary
        if primary is None:
            from facecam.db import DatabaseUnreachable  # noqa: PLC0415

            raise DatabaseUnreachable(f"the database has not answered yet; the {self.what} wait in the local "
                                      "outbox and are sent when it does")
        return primary

    def close(self) -> None:
        """Stop the thread after one last flush; what the database still refuses stays in the outbox."""
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        if self.queued:
            self.flush()
        if self.queued:
            self.warnings.append(f"{self.queued} of the {self.what} wait in {self.outbox.path} for the database; "
                                 "the next run with --db sends them")
        if self.outbox is not None:
            self.outbox.close()
        if self.primary is not None:
            self.primary.close()
