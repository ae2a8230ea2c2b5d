"""The shared store (issue 10): PostgreSQL + pgvector, chosen with ``--db URL`` or ``FACECAM_DB``.

Without a URL facecam keeps today's local store (the ``known_faces`` folder, its cache and the
SQLite logs). With one, people, their face thumbnails, embeddings and sightings live in the
database, and every facecam pointed at it shares them. This module is psycopg-free (URL
handling only); :mod:`facecam.db.postgres` is the one module that talks to PostgreSQL.

URLs: ``postgresql://user@host:5432/db``, ``postgresql:///db?host=/run/postgresql`` (a Unix
socket) or libpq's ``key=value`` form (``host=/path dbname=facecam``). The password comes from
the URL, ``PGPASSWORD``, or libpq's password/service files (``~/.pgpass``,
``PGSERVICEFILE``); TLS options (``sslmode=verify-full sslrootcert=...``) pass through to libpq.
A URL is never printed or logged with its password (:func:`redact`).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Callable, Iterator, TypeVar

from facecam.errors import FacecamError

ENV_VAR = "FACECAM_DB"
RETRY_FIRST_S = 1.0   # a long-running instance whose database does not answer tries again after 1 s,
RETRY_MOST_S = 10.0   # then 2, 4, 8, 10, 10... s (off the video's threads)
T = TypeVar("T")


class DatabaseUnreachable(FacecamError):
    """The database server did not answer (down, refused, network, authentication): worth trying again
    later. A one-shot command reports it and exits 1; ``watch`` and the window go on and retry."""

_URL_PASSWORD = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^:/?#@]*):(?P<password>[^@/?#]*)@", re.IGNORECASE)
_KEY_PASSWORD = re.compile(r"(?P<head>(?:^|[\s&?])password\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|[^\s&]*)",
                           re.IGNORECASE)


def db_url(option: str | None) -> str | None:
    """The database URL in use: ``--db`` when given, else ``$FACECAM_DB``, else None (the local store)."""
    chosen = option if option is not None else os.environ.get(ENV_VAR)
    chosen = chosen.strip() if chosen else ""
    return chosen or None


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (URL and ``key=value`` forms, query parameters too)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:***@", str(url))
    return _KEY_PASSWORD.sub(lambda m: f"{m.group('head')}***", text)


def add_db_option(parser) -> None:
    """``--db URL`` on a command that reads or writes people, embeddings or sightings."""
    parser.add_argument("--db", metavar="URL", default=None,
                        help="share people, embeddings and sightings through this PostgreSQL database "
                             f"(postgresql://user@host/db; default: ${ENV_VAR}, else the local known_faces folder)")


def retry_delays(first_s: float = RETRY_FIRST_S, most_s: float = RETRY_MOST_S) -> Iterator[float]:
    """The waits between attempts to reach the database: doubling from ``first_s``, at most ``most_s``."""
    delay = float(first_s)
    while True:
        yield delay
        delay = min(delay * 2.0, float(most_s))


def open_when_reachable(open_store: Callable[[], T], stop: threading.Event,
                        on_waiting: Callable[[DatabaseUnreachable, float], None] | None = None,
                        delays: Iterator[float] | None = None) -> T | None:
    """``open_store()`` tried until the database answers (blocks: call it off the video's threads); None when
    ``stop`` was set first. Before each wait ``on_waiting(error, seconds)`` says why and for how long.
    Errors other than :class:`DatabaseUnreachable` (a schema too new, no pgvector) are raised."""
    delays = delays if delays is not None else retry_delays()
    while not stop.is_set():
        try:
            return open_store()
        except DatabaseUnreachable as error:
            delay = next(delays)
            if on_waiting is not None:
                on_waiting(error, delay)
            stop.wait(delay)
    return None
