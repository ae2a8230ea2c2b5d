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

ENV_VAR = "FACECAM_DB"

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
