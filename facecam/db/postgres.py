"""The PostgreSQL store: people, face thumbnails, embeddings (pgvector) and sightings, shared by every facecam.

The only module that imports psycopg. One :class:`PostgresStore` per process holds a small
connection pool (psycopg_pool); every query is parameterised. On open it migrates the schema
(versioned in ``facecam_schema``, each step idempotent, all under one advisory lock, so two
instances starting at once do not race). A change to the people or photos sends
``NOTIFY facecam_gallery``; :meth:`PostgresStore.listen` calls back on it (LISTEN/NOTIFY:
nobody polls the whole table).

Tables: ``people(id, name)``, ``photos(id, person_id, sha256, file_name, thumbnail)`` (a small
JPEG of the face and its surroundings, never the whole photo), ``embeddings(id, photo_id,
model, version, faces, box, embedding vector)`` (one row per photo and model/preprocessing
version: a photo enrolled with SFace is embedded again from its thumbnail by a VGG-Face
instance), ``sightings`` (as :class:`facecam.sightings.model.Sighting`).
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterator

import numpy as np

from facecam.db import DatabaseUnreachable, redact
from facecam.errors import FacecamError
from facecam.sightings.model import Sighting, SightingQuery, local_now
from facecam.source_names import redaction_sql

log = logging.getLogger(__name__)

CHANNEL = "facecam_gallery"
UNKNOWNS_CHANNEL = "facecam_unknowns"   # NOTIFY on every change to the unknown faces (payload: the model)
_MIGRATION_LOCK = 0x66616365  # pg_advisory_xact_lock key: "face"
_UNKNOWNS_LOCK = 0x756E6B6E   # pg_advisory_xact_lock(key, hashtext(model)): "unkn", one lock per model
MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE IF NOT EXISTS people (
        id      bigserial PRIMARY KEY,
        name    text NOT NULL UNIQUE,
        created timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS photos (
        id        bigserial PRIMARY KEY,
        person_id bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        sha256    text NOT NULL,
        file_name text NOT NULL,
        thumbnail bytea NOT NULL,
        created   timestamptz NOT NULL DEFAULT now(),
        UNIQUE (person_id, sha256)
    );
    CREATE TABLE IF NOT EXISTS embeddings (
        id        bigserial PRIMARY KEY,
        photo_id  bigint NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        model     text NOT NULL,
        version   text NOT NULL,
        faces     integer NOT NULL,
        box       real[],
        embedding vector,
        UNIQUE (photo_id, model, version)
    );
    CREATE INDEX IF NOT EXISTS embeddings_model ON embeddings (model, version, id);
    CREATE TABLE IF NOT EXISTS sightings (
        id       text PRIMARY KEY,
        source   text NOT NULL,
        started  timestamptz NOT NULL,
        ended    timestamptz NOT NULL,
        t_start  double precision NOT NULL,
        t_end    double precision NOT NULL,
        name     text,
        cluster  text,
        distance double precision,
        box      integer[] NOT NULL,
        snapshot bytea NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sightings_started ON sightings (started);
    CREATE INDEX IF NOT EXISTS sightings_name ON sightings (name, started);
    CREATE INDEX IF NOT EXISTS sightings_ended ON sightings (ended);
    """,
    # 2: unknown faces (issue 8's store, shared): sightings per model, their 1-5 crops, the ignore list
    """
    CREATE TABLE IF NOT EXISTS unknown_sightings (
        id          text PRIMARY KEY,
        model       text NOT NULL,
        source      text NOT NULL,
        track       integer NOT NULL,
        first_t     double precision NOT NULL,
        last_t      double precision NOT NULL,
        started     double precision NOT NULL,
        ended       double precision NOT NULL,
        embedding   vector NOT NULL,
        merge_group text,
        pinned      boolean NOT NULL DEFAULT false
    );
    CREATE INDEX IF NOT EXISTS unknown_sightings_model ON unknown_sightings (model, started, id);
    CREATE INDEX IF NOT EXISTS unknown_sightings_ended ON unknown_sightings (model, ended);
    CREATE TABLE IF NOT EXISTS unknown_crops (
        sighting  text NOT NULL REFERENCES unknown_sightings (id) ON DELETE CASCADE,
        rank      integer NOT NULL,
        t         double precision NOT NULL,
        frame     integer NOT NULL,
        box       double precision[] NOT NULL,
        quality   double precision NOT NULL,
        embedding vector NOT NULL,
        jpeg      bytea NOT NULL,
        PRIMARY KEY (sighting, rank)
    );
    CREATE TABLE IF NOT EXISTS unknown_ignored (
        id        bigserial PRIMARY KEY,
        model     text NOT NULL,
        added     double precision NOT NULL,
        embedding vector NOT NULL
    );
    CREATE INDEX IF NOT EXISTS unknown_ignored_model ON unknown_ignored (model, id);
    """,
    # 3: sources named without their passwords: an older facecam kept a --source URL whole, password included;
    # the same rules as the name of a new row (facecam.source_names.NAME_STEPS, run by PostgreSQL's regexp_replace)
    f"""
    UPDATE sightings SET source = {redaction_sql('source')} WHERE source LIKE '%://%';
    UPDATE unknown_sightings SET source = {redaction_sql('source')} WHERE source LIKE '%://%';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_TABLES = ("people", "photos", "embeddings", "sightings", "unknown_sightings", "unknown_crops", "unknown_ignored")


@dataclass(frozen=True)
class NewEmbedding:
    """A photo's embedding to store: ``faces`` 0 (and ``vector`` None) when the photo showed no face."""

    model: str
    version: str
    faces: int
    box: tuple[float, float, float, float] | None
    vector: np.ndarray | None

    def __post_init__(self) -> None:
        if self.faces < 0 or (self.faces > 0) != (self.vector is not None):
            raise ValueError("faces: expected 0 with no vector, or 1 or more with one")


@dataclass(frozen=True)
class StoredEmbedding:
    """One photo's embedding for one model/version: ``faces`` 0 means the thumbnail showed no face."""

    id: int
    photo_id: int
    person: str
    faces: int
    embedding: np.ndarray | None


@dataclass(frozen=True)
class StoredPhoto:
    """A photo kept in the database (its thumbnail JPEG)."""

    id: int
    person: str
    file_name: str
    thumbnail: bytes


def _psycopg():
    try:
        import psycopg  # noqa: PLC0415
        import psycopg_pool  # noqa: PLC0415
    except ImportError:
        raise FacecamError("--db needs psycopg 3 and psycopg-pool; install them with: "
                           "pip install 'psycopg[binary]' psycopg-pool") from None
    return psycopg, psycopg_pool


def _vector_text(vector: np.ndarray) -> str:
    """pgvector's text form, ``[0.1,0.2,...]`` (float32 values written exactly)."""
    return "[" + ",".join(repr(float(v)) for v in np.asarray(vector, np.float32).reshape(-1)) + "]"


def _vector_from_binary(data: bytes) -> np.ndarray:
    """pgvector's binary form: dimensions (int16), unused (int16), then big-endian float32 values."""
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


class PostgresStore:
    """A connection pool on one database, migrated on open. Safe to use from any thread."""

    def __init__(self, url: str, *, max_connections: int = 4, timeout_s: float = 10.0):
        psycopg, psycopg_pool = _psycopg()
        self.url = url
        self.shown = redact(url)
        self.timeout_s = float(timeout_s)
        self._psycopg = psycopg
        self._errors = (psycopg.Error, psycopg_pool.PoolTimeout)  # what a database that does not answer raises
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=max_connections, open=False, timeout=self.timeout_s,
            check=psycopg_pool.ConnectionPool.check_connection, name="facecam",
            kwargs={"connect_timeout": max(1, int(self.timeout_s))})
        try:
            # one plain connection first: a server that is down says so at once (the pool would retry
            # in the background until its timeout); then the pool, and the schema
            psycopg.connect(url, connect_timeout=max(1, int(self.timeout_s))).close()
            self._pool.open(wait=True, timeout=self.timeout_s)
            self.migrate()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            self._pool.close()
            away = isinstance(error, (psycopg.OperationalError, psycopg_pool.PoolTimeout))  # worth trying again
            raise (DatabaseUnreachable if away else FacecamError)(
                f"cannot use the database {self.shown}: {_reason(error)}; check the URL, that the server runs "
                "and that the role may connect") from None
        except BaseException:
            self._pool.close()  # a schema too new, no pgvector: said by migrate(); no pool threads left behind
            raise

    # ------------------------------------------------------------ schema
    def migrate(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION` (each step once, under an advisory lock); the version."""
        with self._pool.connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            has_vector = connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
            if not has_vector:
                try:
                    with connection.transaction():
                        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except self._psycopg.Error as error:
                    raise FacecamError(f"the database {self.shown} has no pgvector extension and this role cannot "
                                       f"create it ({_reason(error)}); ask its owner to run CREATE EXTENSION vector"
                                       ) from None
            connection.execute("CREATE TABLE IF NOT EXISTS facecam_schema ("
                               " version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())")
            done = connection.execute("SELECT coalesce(max(version), 0) FROM facecam_schema").fetchone()[0]
            if done > SCHEMA_VERSION:
                raise FacecamError(f"the database {self.shown} was set up by a newer facecam (schema {done}); "
                                   "update facecam")
            for version in range(done + 1, SCHEMA_VERSION + 1):
                connection.execute(MIGRATIONS[version - 1])
                connection.execute("INSERT INTO facecam_schema (version) VALUES (%s)", (version,))
        return SCHEMA_VERSION

    def schema_versions(self) -> list[int]:
        with self._pool.connection() as connection:
            return [row[0] for row in connection.execute("SELECT version FROM facecam_schema ORDER BY version")]

    # ------------------------------------------------------------ people and photos
    def add_photo(self, person: str, sha256: str, file_name: str, thumbnail: bytes,
                  embedding: NewEmbedding | None = None) -> tuple[int, bool]:
        """Store a photo of ``person`` (created when new) and its ``embedding``, in one transaction, and tell
        the listeners; ``(photo id, True if the photo was new)``."""
        with self._pool.connection() as connection, connection.transaction():
            person_id = connection.execute(
                "INSERT INTO people (name) VALUES (%s) ON CONFLICT (name) DO UPDATE SET name = excluded.name "
                "RETURNING id", (person,)).fetchone()[0]
            row = connection.execute(
                "INSERT INTO photos (person_id, sha256, file_name, thumbnail) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (person_id, sha256) DO NOTHING RETURNING id",
                (person_id, sha256, file_name, thumbnail)).fetchone()
            new = row is not None
            if not new:
                row = connection.execute("SELECT id FROM photos WHERE person_id = %s AND sha256 = %s",
                                         (person_id, sha256)).fetchone()
            if embedding is not None:
                self._put_embedding(connection, int(row[0]), embedding)
            if new or embedding is not None:
                connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "photo"))
            return int(row[0]), new

    def add_embedding(self, photo_id: int, embedding: NewEmbedding) -> None:
        """Store (or replace) a photo's embedding for its model/version and tell the listeners."""
        with self._pool.connection() as connection, connection.transaction():
            self._put_embedding(connection, photo_id, embedding)
            connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "embedding"))

    @staticmethod
    def _put_embedding(connection, photo_id: int, embedding: NewEmbedding) -> None:
        connection.execute(
            "INSERT INTO embeddings (photo_id, model, version, faces, box, embedding) "
            "VALUES (%s, %s, %s, %s, %s, %s::vector) ON CONFLICT (photo_id, model, version) DO UPDATE SET "
            "faces = excluded.faces, box = excluded.box, embedding = excluded.embedding",
            (photo_id, embedding.model, embedding.version, embedding.faces,
             None if embedding.box is None else [float(v) for v in embedding.box],
             None if embedding.vector is None else _vector_text(embedding.vector)))

    def embeddings(self, model: str, version: str, after_id: int = 0) -> list[StoredEmbedding]:
        """The embeddings for ``model``/``version`` stored after row ``after_id``, in row order."""
        with self._pool.connection() as connection:
            rows = connection.cursor(binary=True).execute(  # binary: the vectors arrive as float32 bytes, exact
                "SELECT e.id, e.photo_id, p.name, e.faces, e.embedding FROM embeddings e "
                "JOIN photos ph ON ph.id = e.photo_id JOIN people p ON p.id = ph.person_id "
                "WHERE e.model = %s AND e.version = %s AND e.id > %s ORDER BY e.id",
                (model, version, int(after_id))).fetchall()
        return [StoredEmbedding(int(id_), int(photo), name, int(faces),
                                _vector_from_binary(data) if data is not None else None)
                for id_, photo, name, faces, data in rows]

    def photos_without(self, model: str, version: str, after_id: int = 0) -> list[StoredPhoto]:
        """Photos after row ``after_id`` with no embedding yet for ``model``/``version`` (enrolled by an
        instance with another model). With ``after_id`` a range of the photos' primary key is read (about
        0.04 ms for 10 new photos of 100,000), not every photo (a hash anti-join, 180-230 ms at 100,000)."""
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT ph.id, p.name, ph.file_name, ph.thumbnail FROM photos ph JOIN people p ON p.id = ph.person_id "
                "WHERE ph.id > %s AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id = ph.id "
                "AND e.model = %s AND e.version = %s) ORDER BY ph.id", (int(after_id), model, version)).fetchall()
        return [StoredPhoto(int(id_), name, file_name, bytes(thumb)) for id_, name, file_name, thumb in rows]

    def photo_keys(self) -> set[tuple[str, str]]:
        """``(person, sha256)`` of every stored photo (what an upload can skip)."""
        with self._pool.connection() as connection:
            rows = connection.execute("SELECT p.name, ph.sha256 FROM photos ph JOIN people p ON p.id = ph.person_id")
            return {(name, sha) for name, sha in rows.fetchall()}

    def gallery_photos(self, person: str | None = None) -> list[StoredPhoto]:
        """Every stored photo (its thumbnail), or only ``person``'s, by name then id (``people export``)."""
        with self._pool.connection() as connection:
            rows = connection.execute(
                "SELECT ph.id, p.name, ph.file_name, ph.thumbnail FROM photos ph JOIN people p ON p.id = ph.person_id "
                "WHERE %s::text IS NULL OR p.name = %s ORDER BY p.name, ph.id", (person, person)).fetchall()
        return [StoredPhoto(int(id_), name, file_name, bytes(thumb)) for id_, name, file_name, thumb in rows]

    def drop_other_photos(self, person: str, keep: list[int]) -> int:
        """Delete ``person``'s photos (and their embeddings) but those of ids ``keep``: ``people import --replace``,
        after the archive's photos are stored, so a failure half-way loses nothing. How many went; tells the
        listeners."""
        with self._pool.connection() as connection, connection.transaction():
            count = connection.execute(
                "DELETE FROM photos WHERE person_id IN (SELECT id FROM people WHERE name = %s) AND NOT (id = ANY(%s))",
                (person, [int(i) for i in keep])).rowcount
            connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "photo"))
        return int(count or 0)

    def listen(self, on_change: Callable[[], None], stop: threading.Event, *, retry_s: float = 1.0,
               channel: str = CHANNEL) -> None:
        """Call ``on_change()`` on every gallery change any instance makes (``channel`` UNKNOWNS_CHANNEL: every
        change to the unknown faces), until ``stop`` is set (blocks: run it in a thread). A lost connection
        is opened again; ``on_change`` is called after each (re)connect too, so nothing changed during an
        outage is missed."""
        if channel not in (CHANNEL, UNKNOWNS_CHANNEL):
            raise ValueError(f"channel: expected {CHANNEL} or {UNKNOWNS_CHANNEL}")
        psycopg = self._psycopg
        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.timeout_s))) as conn:
                    conn.execute(f"LISTEN {channel}")  # one of two constant names: LISTEN takes no parameter
                    on_change()
                    while not stop.is_set():
                        if any(True for _ in conn.notifies(timeout=0.5, stop_after=1)):
                            on_change()
            except psycopg.Error as error:
                log.info("facecam: gallery notifications paused: %s", _reason(error))
                stop.wait(retry_s)

    # ------------------------------------------------------------ sightings (facecam.sightings.store.SightingStore)
    def save(self, sighting: Sighting) -> None:
        with self._pool.connection() as connection:
            connection.execute(
                "INSERT INTO sightings (id, source, started, ended, t_start, t_end, name, cluster, distance, box,"
                " snapshot) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " source = excluded.source, started = excluded.started, ended = excluded.ended,"
                " t_start = excluded.t_start, t_end = excluded.t_end, name = excluded.name,"
                " cluster = excluded.cluster, distance = excluded.distance, box = excluded.box,"
                " snapshot = CASE WHEN length(excluded.snapshot) > 0 THEN excluded.snapshot"
                " ELSE sightings.snapshot END",
                (sighting.id, sighting.source, sighting.started, sighting.ended, sighting.t_start, sighting.t_end,
                 sighting.name, sighting.cluster, sighting.distance, list(sighting.box), sighting.snapshot))

    def query(self, query: SightingQuery = SightingQuery()) -> list[Sighting]:
        where, params = [], []
        for sql, value, wanted in (("started >= %s", query.since, query.since is not None),
                                   ("started < %s", query.until, query.until is not None),
                                   ("name = %s", query.person, query.person is not None),
                                   ("source = %s", query.source, query.source is not None),
                                   ("cluster = %s", query.cluster, query.cluster is not None)):
            if wanted:
                where.append(sql)
                params.append(value)
        if query.unknown:
            where.append("name IS NULL")
        sql = ("SELECT id, source, started, ended, t_start, t_end, name, cluster, distance, box, "
               + ("snapshot" if query.snapshots else "NULL") + " FROM sightings"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started DESC, id")
        if query.limit is not None:
            sql += " LIMIT %s"
            params.append(int(query.limit))
        with self._pool.connection() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [Sighting(id=id_, source=source, started=started.astimezone(), ended=ended.astimezone(),
                         t_start=t_start, t_end=t_end, name=name, cluster=cluster, distance=distance, box=tuple(box),
                         snapshot=bytes(snapshot) if snapshot else b"")
                for id_, source, started, ended, t_start, t_end, name, cluster, distance, box, snapshot in rows]

    def snapshot(self, sighting_id: str) -> bytes:
        with self._pool.connection() as connection:
            row = connection.execute("SELECT snapshot FROM sightings WHERE id = %s", (sighting_id,)).fetchone()
        return bytes(row[0]) if row else b""

    def people(self) -> list[str]:
        with self._pool.connection() as connection:
            rows = connection.execute("SELECT DISTINCT name FROM sightings WHERE name IS NOT NULL ORDER BY name")
            return [row[0] for row in rows.fetchall()]

    def purge(self, before: datetime | None = None, *, retention_days: float | None = None) -> int:
        if before is None:
            if retention_days is None:
                return 0
            before = local_now() - timedelta(days=float(retention_days))
        with self._pool.connection() as connection:
            return int(connection.execute("DELETE FROM sightings WHERE ended < %s", (before,)).rowcount)

    def forget(self, person: str | None = None, *, everything: bool = False) -> int:
        if everything:
            sql, params = "DELETE FROM sightings", ()
        elif person:
            sql, params = "DELETE FROM sightings WHERE name = %s", (person,)
        else:
            raise ValueError("forget: name a person or pass everything=True")
        with self._pool.connection() as connection:
            return int(connection.execute(sql, params).rowcount)

    # ------------------------------------------------------------ one person, everywhere (facecam.forget)
    def person_photos(self) -> dict[str, int]:
        """How many photos each person has in the database."""
        with self._pool.connection() as connection:
            rows = connection.execute("SELECT p.name, count(ph.id) FROM people p LEFT JOIN photos ph "
                                      "ON ph.person_id = p.id GROUP BY p.name ORDER BY p.name").fetchall()
        return {name: int(count) for name, count in rows}

    def person_embeddings(self, person: str) -> dict[str, np.ndarray]:
        """``{model: (N, D) float32}``: the stored embeddings of ``person``'s photos, per model."""
        with self._pool.connection() as connection:
            rows = connection.cursor(binary=True).execute(
                "SELECT e.model, e.embedding FROM embeddings e JOIN photos ph ON ph.id = e.photo_id "
                "JOIN people p ON p.id = ph.person_id WHERE p.name = %s AND e.embedding IS NOT NULL ORDER BY e.id",
                (person,)).fetchall()
        out: dict[str, list[np.ndarray]] = {}
        for model, data in rows:
            out.setdefault(model, []).append(_vector_from_binary(data))
        return {model: np.stack(vectors) for model, vectors in out.items()}

    def unknown_models(self) -> list[str]:
        """The models that have unknown faces or ignored faces stored."""
        with self._pool.connection() as connection:
            rows = connection.execute("SELECT model FROM unknown_sightings UNION SELECT model FROM unknown_ignored "
                                      "ORDER BY 1").fetchall()
        return [row[0] for row in rows]

    def forget_person(self, person: str, clusters: list[str] = ()) -> dict[str, int]:
        """Delete ``person`` (their photos and embeddings), their visits and the unknown visits of
        ``clusters``, in one transaction, and tell the gallery listeners; ``{"photos": n, "visits": n}``."""
        with self._pool.connection() as connection, connection.transaction():
            photos = connection.execute("SELECT count(*) FROM photos ph JOIN people p ON p.id = ph.person_id "
                                        "WHERE p.name = %s", (person,)).fetchone()[0]
            people = connection.execute("DELETE FROM people WHERE name = %s", (person,)).rowcount
            visits = connection.execute("DELETE FROM sightings WHERE name = %s OR (name IS NULL AND cluster = ANY(%s))",
                                        (person, list(clusters))).rowcount
            if people:
                connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "forget"))
        return {"people": int(people), "photos": int(photos), "visits": int(visits)}

    def vacuum(self) -> None:
        """Rewrite facecam's tables (``VACUUM FULL``: new files without the deleted rows; the old ones are
        removed), so that what was deleted is not left readable in them. Takes each table's lock briefly."""
        psycopg = self._psycopg
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.timeout_s))) as connection:
                for table in _TABLES:   # constant names: VACUUM takes no parameter
                    connection.execute(f"VACUUM FULL {table}")
        except psycopg.Error as error:
            raise FacecamError(f"the tables of {self.shown} could not be rewritten ({_reason(error)}); the rows are "
                               "deleted, but until the tables' owner runs VACUUM FULL on them their bytes may stay in "
                               "the server's files") from None

    # ------------------------------------------------------------ unknown faces (facecam.db.unknowns)
    @contextmanager
    def unknowns(self, model: str, *, write: bool) -> Iterator["UnknownRows"]:
        """One transaction on ``model``'s unknown faces. ``write``: under the model's advisory lock, so the
        writers of every instance take turns (an add, its caps and the cluster it joined are one step; a
        merge or forget resolves its clusters and changes them with nobody adding in between). A reader
        sees one snapshot (REPEATABLE READ) and waits for nobody. A database that does not answer is a
        :class:`facecam.db.DatabaseUnreachable` (one line; other refusals a FacecamError)."""
        try:
            with self._pool.connection() as connection, connection.transaction():
                if write:
                    connection.execute("SELECT pg_advisory_xact_lock(%s::integer, hashtext(%s))",
                                       (_UNKNOWNS_LOCK, model))
                else:
                    connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield UnknownRows(connection, model)
                if write:   # sent at commit: every instance's Who's this? refreshes
                    connection.execute("SELECT pg_notify(%s, %s)", (UNKNOWNS_CHANNEL, model))
        except self._errors as error:
            away = isinstance(error, (self._psycopg.OperationalError, self._errors[1]))  # worth trying again
            raise (DatabaseUnreachable if away else FacecamError)(
                f"the database {self.shown} did not keep the unknown faces: {_reason(error)}; "
                "check that the server runs") from None

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(error: BaseException) -> str:
    """The first line of a driver error, without any password it might quote."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return redact(text)


class UnknownRows:
    """The unknowns tables of one model inside one transaction (:meth:`PostgresStore.unknowns`); plain values
    in and out (embeddings as float32 arrays), every query parameterised."""

    _SIGHTING = ("SELECT id, source, track, first_t, last_t, started, ended, embedding, merge_group, pinned "
                 "FROM unknown_sightings WHERE model = %s")

    def __init__(self, connection, model: str):
        self.connection, self.model = connection, model

    def insert(self, row: tuple, crops: list[tuple], pinned: bool) -> None:
        """``row``: (id, source, track, first_t, last_t, started, ended, embedding, merge_group); ``crops``:
        (rank, t, frame, box, quality, embedding, jpeg) each."""
        sighting_id, source, track, first_t, last_t, started, ended, embedding, group = row
        self.connection.execute(
            "INSERT INTO unknown_sightings (id, model, source, track, first_t, last_t, started, ended, embedding, "
            "merge_group, pinned) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::vector, %s, %s)",
            (sighting_id, self.model, source, int(track), float(first_t), float(last_t), float(started),
             float(ended), _vector_text(embedding), group, bool(pinned)))
        with self.connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO unknown_crops (sighting, rank, t, frame, box, quality, embedding, jpeg) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s::vector, %s)",
                [(sighting_id, int(rank), float(t), int(frame), [float(v) for v in box], float(quality),
                  _vector_text(vector), jpeg) for rank, t, frame, box, quality, vector, jpeg in crops])

    def facts(self) -> list[tuple]:
        """(id, started, merge_group, pinned) of every sighting, oldest first: what may change or vanish (a
        sighting's other columns, embedding and crops never change once stored), without the embeddings."""
        return self.connection.cursor(binary=True).execute(
            "SELECT id, started, merge_group, pinned FROM unknown_sightings WHERE model = %s ORDER BY started, id",
            (self.model,)).fetchall()

    def sightings(self, ids: list[str] | None = None) -> list[tuple]:
        """(id, source, track, first_t, last_t, started, ended, embedding, merge_group, pinned), oldest first;
        ``ids``: only these."""
        where, params = ("", (self.model,)) if ids is None else (" AND id = ANY(%s)", (self.model, list(ids)))
        rows = self.connection.cursor(binary=True).execute(
            self._SIGHTING + where + " ORDER BY started, id", params).fetchall()
        return [(*row[:7], _vector_from_binary(row[7]), *row[8:]) for row in rows]

    def crops(self, ids: list[str] | None = None) -> list[tuple]:
        """(sighting, rank, t, frame, box, quality) of every crop (no image), by sighting and rank; ``ids``:
        only these sightings'."""
        where, params = ("", (self.model,)) if ids is None else (" AND s.id = ANY(%s)", (self.model, list(ids)))
        rows = self.connection.cursor(binary=True).execute(  # binary, the box as four numbers: quick to read
            "SELECT c.sighting, c.rank, c.t, c.frame, c.box[1], c.box[2], c.box[3], c.box[4], c.quality "
            "FROM unknown_crops c JOIN unknown_sightings s ON s.id = c.sighting WHERE s.model = %s" + where +
            " ORDER BY c.sighting, c.rank", params).fetchall()
        return [(sighting, rank, t, frame, (x, y, w, h), quality) for sighting, rank, t, frame, x, y, w, h, quality in rows]

    def crop_jpeg(self, sighting_id: str, rank: int) -> bytes:
        """The crop's JPEG (b"" when it is gone)."""
        row = self.connection.execute(
            "SELECT c.jpeg FROM unknown_crops c JOIN unknown_sightings s ON s.id = c.sighting "
            "WHERE s.model = %s AND c.sighting = %s AND c.rank = %s", (self.model, sighting_id, int(rank))).fetchone()
        return bytes(row[0]) if row else b""

    def delete(self, sighting_ids: list[str]) -> int:
        """Delete these sightings (their crops go with them); how many were there."""
        if not sighting_ids:
            return 0
        return int(self.connection.execute("DELETE FROM unknown_sightings WHERE model = %s AND id = ANY(%s)",
                                           (self.model, list(sighting_ids))).rowcount)

    def delete_all(self) -> int:
        """Every sighting, crop and ignored face of the model; the sightings deleted."""
        self.connection.execute("DELETE FROM unknown_ignored WHERE model = %s", (self.model,))
        return int(self.connection.execute("DELETE FROM unknown_sightings WHERE model = %s", (self.model,)).rowcount)

    def set_group(self, sighting_ids: list[str], group: str) -> None:
        self.connection.execute("UPDATE unknown_sightings SET merge_group = %s WHERE model = %s AND id = ANY(%s)",
                                (group, self.model, list(sighting_ids)))

    def add_ignored(self, embeddings: list[np.ndarray], added: float) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany("INSERT INTO unknown_ignored (model, added, embedding) VALUES (%s, %s, %s::vector)",
                               [(self.model, float(added), _vector_text(v)) for v in embeddings])

    def nearest_ignored(self, vector: np.ndarray) -> float | None:
        """The cosine distance from ``vector`` to the closest ignored face of its dimension (None: none)."""
        vector = np.asarray(vector, np.float32).reshape(-1)
        row = self.connection.execute(
            "SELECT min(embedding <=> %s::vector) FROM unknown_ignored WHERE model = %s AND vector_dims(embedding) = %s",
            (_vector_text(vector), self.model, int(vector.size))).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def enforce_caps(self, cutoff: float, max_sightings: int, max_ignored: int) -> int:
        """Delete what ended before ``cutoff`` (Unix seconds) and the oldest past ``max_sightings`` (and past
        ``max_ignored`` ignored faces); the sightings deleted."""
        self.connection.execute(
            "DELETE FROM unknown_ignored WHERE model = %s AND (added < %s OR id NOT IN "
            "(SELECT id FROM unknown_ignored WHERE model = %s ORDER BY id DESC LIMIT %s))",
            (self.model, float(cutoff), self.model, int(max_ignored)))
        return int(self.connection.execute(
            "DELETE FROM unknown_sightings WHERE model = %s AND (ended < %s OR id IN (SELECT id FROM unknown_sightings "
            "WHERE model = %s ORDER BY started DESC, id DESC OFFSET %s))",
            (self.model, float(cutoff), self.model, int(max_sightings))).rowcount)
