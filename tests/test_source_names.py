"""A source is named once (issue 18, item 5): the display name of a camera, a file and a stream's address, errors
that never show a password, and the migrations that clean the names an older facecam stored with one: the local
sightings log, the local unknowns store, the unknown faces' outbox, and PostgreSQL (a real server, pgserver)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from servers import db_url, postgres  # noqa: F401 - fixtures

from facecam.errors import CameraError
from facecam.source_names import redact_url, redaction_sql, scrub
from facecam.sources import display_name, open_source, parse_source

PASSWORD = "S3cretPW-77"
TOKEN = "T0kenQ-91x"
# (an address as given, its display name): user and password, secret query parameters and fragments go
NAMES = [
    (f"http://alice:{PASSWORD}@127.0.0.1:8080/stream?token={TOKEN}", "http://127.0.0.1:8080/stream"),
    (f"rtsp://admin:{PASSWORD}@192.168.1.5:554/cam/realmonitor?channel=1&subtype=0",
     "rtsp://192.168.1.5:554/cam/realmonitor?channel=1&subtype=0"),
    (f"rtsp://admin:p@ss{PASSWORD}@cam.local/live", "rtsp://cam.local/live"),                 # "@" in a password
    (f"rtsp://admin:pa?ss#{PASSWORD}@cam.local/live", "rtsp://cam.local/live"),               # "?" and "#" too
    (f"https://cam.local/mjpg?user=admin&password={PASSWORD}&res=hd", "https://cam.local/mjpg?res=hd"),
    (f"https://cam.local/mjpg?res=hd&access_token={TOKEN}&X-Amz-Signature={PASSWORD}&fps=10#{TOKEN}",
     "https://cam.local/mjpg?res=hd&fps=10"),
    (f"HTTP://cam.local/s?Sig={TOKEN}&apiKey={PASSWORD}", "HTTP://cam.local/s"),
    ("rtsp://viewer@cam.local/x", "rtsp://cam.local/x"),
    ("rtsp://cam.local:8554/live.sdp?channel=2", "rtsp://cam.local:8554/live.sdp?channel=2"),   # nothing secret
]


@pytest.mark.parametrize("url, name", NAMES)
def test_a_stream_is_named_without_its_user_password_and_secret_parameters(url, name):
    assert display_name(url) == redact_url(url) == name
    assert display_name(parse_source(url)) == name and parse_source(url).describe() == f"stream {name}"
    assert PASSWORD not in display_name(url) and TOKEN not in display_name(url)


def test_a_camera_a_file_and_a_given_name(tmp_path):
    clip = tmp_path / "front door.avi"
    clip.write_bytes(b"not even a video")
    assert display_name(0) == display_name("0") == display_name(parse_source(" 0 ")) == "camera 0"
    assert display_name(clip) == display_name(str(clip)) == "front door.avi"
    assert display_name(tmp_path / "gone.mp4") == "gone.mp4"         # named even when it cannot be opened
    assert display_name(f"http://a:{PASSWORD}@h/x", "front door") == "front door"
    assert display_name(0, f"rtsp://a:{PASSWORD}@h/x") == "rtsp://h/x"   # a URL given as the name is cleaned too
    assert display_name("rtsp://h/x", "  ") == "rtsp://h/x"


def test_an_opened_source_has_its_name_and_its_errors_never_show_the_password():
    url = f"rtsp://alice:{PASSWORD}@127.0.0.1:9/live?token={TOKEN}"

    def failing_backend(spec):   # a library's message that quotes the whole address, as some do
        raise OSError(f"could not connect to {spec.target} (user alice, token {TOKEN}, password {PASSWORD})")

    source = open_source(url, backend=failing_backend)
    try:
        assert source.name == "rtsp://127.0.0.1:9/live"
        assert not source.wait_opened(5)
        message = str(source.error)
        assert isinstance(source.error, CameraError) and "rtsp://127.0.0.1:9/live" in message
        assert PASSWORD not in message and TOKEN not in message and "alice" not in message
        assert PASSWORD not in repr(source)
    finally:
        source.stop()
    named = open_source(url, backend=failing_backend, name="porch", start=False)
    assert named.name == "porch" and named.spec.target == url    # the address itself stays inside, for the backend
    with pytest.raises(CameraError) as refused:
        parse_source(f"ftp://alice:{PASSWORD}@h/x.mp4")
    assert PASSWORD not in str(refused.value)
    assert scrub(f"GET {url} failed", url) == "GET rtsp://127.0.0.1:9/live failed"


# ---------------------------------------------------------------- the migrations of old rows

def old_sighting(n: int, source: str):
    from facecam.sightings.model import Sighting, local_now

    now = local_now()
    return Sighting(id=f"old-{n}", source=source, started=now - timedelta(minutes=n + 1), ended=now - timedelta(minutes=n),
                    t_start=0.0, t_end=60.0, name="Ada" if n % 2 else None, distance=0.3, box=(1, 2, 30, 40),
                    snapshot=b"\xff\xd8jpeg")


OLD_SOURCES = [NAMES[0][0], NAMES[1][0], NAMES[5][0], "front door", "/videos/clip.avi", "0"]
CLEAN_SOURCES = [NAMES[0][1], NAMES[1][1], NAMES[5][1], "front door", "/videos/clip.avi", "0"]


def files_holding(folder: Path, *secrets: str) -> list[str]:
    """The files under ``folder`` whose bytes hold any of ``secrets``."""
    return [str(path) for path in folder.rglob("*") if path.is_file()
            and any(secret.encode() in path.read_bytes() for secret in secrets)]


def test_an_old_sightings_log_is_cleaned_when_it_opens(tmp_path):
    from facecam.sightings.store import FILE_NAME, SqliteSightingStore
    from facecam.stores import open_sighting_store

    path = tmp_path / ".facecam" / FILE_NAME
    with SqliteSightingStore(path) as store:   # rows as an older facecam wrote them: the --source URL whole
        for n, source in enumerate(OLD_SOURCES * 30):
            store.save(old_sighting(n, source))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 1")   # schema 1: the log before names were made once
    db.close()
    assert files_holding(tmp_path, PASSWORD, TOKEN)
    with open_sighting_store(tmp_path) as store:
        rows = store.query()
        assert len(rows) == 180 and sorted({s.source for s in rows}) == sorted(CLEAN_SOURCES)
        assert [s.id for s in rows if s.source == NAMES[0][1]] == [f"old-{n}" for n in range(0, 180, 6)]
        assert store.snapshot("old-0") == b"\xff\xd8jpeg" and {s.name for s in rows} == {"Ada", None}
        assert files_holding(tmp_path, PASSWORD, TOKEN) == []        # not in the database, nor its write-ahead log
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


def test_an_old_unknowns_store_and_outbox_are_cleaned_when_they_open(tmp_path):
    from facecam.db.unknowns import encoded_sighting
    from facecam.db.unknowns_outbox import UnknownOutbox, outbox_path
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting
    from facecam.unknowns.store import DB_NAME, LocalUnknownStore, store_folder

    rng = np.random.default_rng(18)
    crop = np.full((112, 112, 3), 128, np.uint8)

    def unknown(n: int, source: str) -> UnknownSighting:
        vector = rng.normal(size=128).astype(np.float32)
        vector /= np.linalg.norm(vector)
        face = UnknownCrop(rgb_crop=crop, embedding=vector, quality=0.9, t=1.0, frame=n, box=(10.0, 10.0, 50.0, 50.0))
        return UnknownSighting(f"u{n:03d}", source, n, 1.0, 2.0, 1e9 + n, 1e9 + n + 1, (face,))

    known = tmp_path / "known_faces"
    store = LocalUnknownStore(known, "sface", 128, clock=lambda: 1e9 + 100)
    for n, source in enumerate(OLD_SOURCES * 3):
        store.add(unknown(n, source))
    store.close()
    outbox = UnknownOutbox(outbox_path(known, "sface"))
    for n, source in enumerate(OLD_SOURCES):
        outbox.put(encoded_sighting(unknown(100 + n, source)), False)
    outbox.close()
    with sqlite3.connect(store_folder(known, "sface") / DB_NAME) as db:   # as an older facecam left them
        db.execute("DELETE FROM meta WHERE key = 'names'")
    db.close()
    with sqlite3.connect(outbox_path(known, "sface")) as db:
        db.execute("PRAGMA user_version = 0")
    db.close()
    assert len(files_holding(known, PASSWORD, TOKEN)) == 2
    store = LocalUnknownStore(known, "sface", 128, clock=lambda: 1e9 + 100)
    outbox = UnknownOutbox(outbox_path(known, "sface"))
    try:
        kept = store.sightings()
        assert len(kept) == 18 and sorted({s.source for s in kept}) == sorted(CLEAN_SOURCES)
        assert {s.id: s.source for s in kept}["u000"] == NAMES[0][1] and all(len(s.crops) == 1 for s in kept)
        queued = outbox.items()
        assert [item[1][0].row[1] for item in queued] == CLEAN_SOURCES
        assert files_holding(known, PASSWORD, TOKEN) == []
    finally:
        store.close()
        outbox.close()


def test_postgres_migration_3_cleans_old_rows_as_facecam_names_new_ones(db_url):  # noqa: F811
    import psycopg

    from facecam.db.postgres import MIGRATIONS, PostgresStore

    PostgresStore(db_url).close()
    with psycopg.connect(db_url) as connection:
        # PostgreSQL's regexp_replace gives exactly what Python gives, for every address of the table above
        for url, name in NAMES:
            assert connection.execute(f"SELECT {redaction_sql('%s')}", (url,)).fetchone()[0] == name
        for n, source in enumerate(OLD_SOURCES):   # rows as an older facecam wrote them
            connection.execute(
                "INSERT INTO sightings (id, source, started, ended, t_start, t_end, box, snapshot) "
                "VALUES (%s, %s, now(), now(), 0, 1, %s, %s)", (f"s{n}", source, [1, 2, 3, 4], b"jpeg"))
            connection.execute(
                "INSERT INTO unknown_sightings (id, model, source, track, first_t, last_t, started, ended, embedding) "
                "VALUES (%s, 'sface', %s, 1, 0, 1, 0, 1, '[1,0,0]')", (f"u{n}", source))
        connection.execute("DELETE FROM facecam_schema WHERE version = 3")
    with PostgresStore(db_url) as store:
        assert store.schema_versions() == [1, 2, 3]
        assert [s.source for s in sorted(store.query(), key=lambda s: s.id)] == CLEAN_SOURCES
    with psycopg.connect(db_url) as connection:
        unknowns = connection.execute("SELECT source FROM unknown_sightings ORDER BY id").fetchall()
        assert [row[0] for row in unknowns] == CLEAN_SOURCES
        connection.execute(MIGRATIONS[2])   # once more: nothing changes
        assert [row[0] for row in connection.execute("SELECT source FROM sightings ORDER BY id")] == CLEAN_SOURCES
