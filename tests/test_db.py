"""The shared PostgreSQL store against a real PostgreSQL 16 + pgvector (the pgserver wheel): schema and
migrations, sightings, and the real command line naming real photos with SFace from the database alone."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import numpy as np
import pytest

from conftest import LFW10
from servers import db_url, postgres  # noqa: F401 - fixtures
from together import run_together

PEOPLE = ("Tony_Blair", "George_W_Bush", "Colin_Powell", "Hugo_Chavez")
ENROLLED = 3  # the first photos of each person are enrolled, the others are identified


def photos_of(person: str) -> list:
    return sorted((LFW10 / person).glob("*.jpg"))


def sface_args(model_dir) -> list[str]:
    return ["--model", "sface", "--model-dir", str(model_dir)]


# ---------------------------------------------------------------- a database that does not answer yet

def test_a_long_running_command_waits_1_2_4_8_then_10_s_between_attempts():
    from facecam.db import retry_delays

    delays = retry_delays()
    assert [next(delays) for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_open_when_reachable_retries_until_the_store_opens_and_stops_when_asked(postgres, tmp_path):  # noqa: F811
    """Against a real stopped server (refused at once, DatabaseUnreachable) that starts after two attempts."""
    from facecam.db import DatabaseUnreachable, open_when_reachable
    from facecam.db.postgres import PostgresStore

    url = postgres.new_database()
    postgres.stop()
    waits, errors = [], []
    try:
        def waiting(error, delay):
            errors.append(error)
            waits.append(delay)
            if len(waits) == 2:
                postgres.start()

        store = open_when_reachable(lambda: PostgresStore(url), threading.Event(), waiting, iter([0.01] * 50))
    finally:
        postgres.start()
    with store:
        assert store.schema_versions()
    assert len(waits) == 2 and all(isinstance(e, DatabaseUnreachable) for e in errors)
    assert str(errors[0]).startswith("cannot use the database ")
    stopped = threading.Event()
    stopped.set()
    assert open_when_reachable(lambda: PostgresStore(url), stopped) is None   # stopped first: never tried



def test_a_follower_that_connects_itself_stops_at_once_while_the_server_does_not_answer():
    """``GalleryFollower(None, connect=Stores.open_db_gallery)`` on a port nobody listens on: it says why it waits
    (password hidden), and stop() ends it while it waits, not after the wait."""
    import time

    from facecam.db.gallery import GalleryFollower
    from facecam.stores import open_stores

    waits, connected = [], []
    stores = open_stores("known_faces", "postgresql://ada:s3cret@127.0.0.1:1/none")
    follower = GalleryFollower(None, lambda path: None, lambda matrix: None,
                               connect=lambda: stores.open_db_gallery(None),
                               on_waiting=lambda error, delay: waits.append((str(error), delay, time.monotonic())),
                               on_connected=connected.append).start()
    deadline = time.monotonic() + 30
    while len(waits) < 2 and time.monotonic() < deadline:   # 1 s, then 2 s
        time.sleep(0.05)
    follower.stop(timeout=30)
    # stopped in its 2 s wait, not after it (a wait not interrupted would be followed by another try)
    assert not follower.alive and len(waits) == 2 and time.monotonic() < waits[1][2] + 2.0
    assert [delay for _, delay, _ in waits] == [1.0, 2.0] and connected == []
    assert waits[0][0].startswith("cannot use the database postgresql://ada:***@127.0.0.1:1/none")
    assert "s3cret" not in waits[0][0]


def test_a_follower_that_connects_itself_stores_what_waited_then_reads_once_with_progress_then_follows(
        db_url, sface_recognizer):  # noqa: F811
    """The window's path: photos stored by an instance of another model are embedded by the first read
    (``progress`` once per photo, real SFace on real photos), after ``on_connected`` stored what waited;
    ``on_first_read`` gets that read with its report; a person enrolled elsewhere later reaches
    ``on_change`` through LISTEN/NOTIFY; the store is the caller's to close."""
    import queue

    from facecam.db.gallery import GalleryFollower, db_version, enroll_into
    from facecam.db.postgres import PostgresStore
    from facecam.stores import open_stores

    with PostgresStore(db_url) as other:   # another model's instance enrolled these: no SFace embeddings yet
        for person in PEOPLE[:2]:
            enroll_into(other, person, photos_of(person)[:2], sface_recognizer.embed_photo, "other-model", "v0")
    progress, first, changes, connected = [], queue.Queue(), queue.Queue(), []

    def on_connected(gallery):   # what the window does with an Enroll made while the server was away
        connected.append(gallery)
        enroll_into(gallery.store, PEOPLE[2], photos_of(PEOPLE[2])[:1], sface_recognizer.embed_photo,
                    *db_version(sface_recognizer))

    follower = GalleryFollower(None, sface_recognizer.embed_photo, changes.put,
                               connect=lambda: open_stores("known_faces", db_url).open_db_gallery(sface_recognizer),
                               on_connected=on_connected,
                               progress=lambda *step: progress.append(step),
                               on_first_read=lambda matrix, report: first.put((matrix, report))).start()
    try:
        matrix, report = first.get(timeout=120)
        assert [(done, total) for done, total, _ in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
        assert [photo.split("/")[0] for _, _, photo in progress] == [PEOPLE[0]] * 2 + [PEOPLE[1]] * 2
        assert report.embedded == 4 and report.skipped == [] and report.photos == 5 and report.people == 3
        assert sorted(matrix.names) == sorted(PEOPLE[:3]) and changes.empty()
        with PostgresStore(db_url) as other:
            enroll_into(other, PEOPLE[3], photos_of(PEOPLE[3])[:1], sface_recognizer.embed_photo,
                        *db_version(sface_recognizer))
        assert sorted(changes.get(timeout=30).names) == sorted(PEOPLE)
    finally:
        follower.stop(timeout=10)
    assert not follower.alive and len(connected) == 1
    assert connected[0].store.schema_versions()   # still open: the caller closes it
    connected[0].store.close()


# ---------------------------------------------------------------- URLs

@pytest.mark.parametrize("url, shown", [
    ("postgresql://ada:s3cr%40t@db.example/facecam", "postgresql://ada:***@db.example/facecam"),
    ("postgres://ada@db.example/facecam", "postgres://ada@db.example/facecam"),
    ("host=/run/postgresql dbname=facecam password=s3cret user=ada",
     "host=/run/postgresql dbname=facecam password=*** user=ada"),
    ("host=h password='a b\\' c' dbname=x", "host=h password=*** dbname=x"),
    ("postgresql:///facecam?host=/tmp&password=s3cret&sslmode=verify-full",
     "postgresql:///facecam?host=/tmp&password=***&sslmode=verify-full"),
])
def test_a_url_is_shown_without_its_password(url, shown):
    from facecam.db import redact

    assert redact(url) == shown


def test_db_url_comes_from_the_option_else_the_environment(monkeypatch):
    from facecam.db import db_url as chosen

    monkeypatch.setenv("FACECAM_DB", "postgresql://env/db")
    assert chosen(None) == "postgresql://env/db" and chosen("postgresql://opt/db") == "postgresql://opt/db"
    monkeypatch.setenv("FACECAM_DB", " ")
    assert chosen(None) is None


def test_a_wrong_password_is_one_line_without_the_password(cli, tmp_path, model_dir, postgres):  # noqa: F811
    url = postgres.url().replace("postgresql://postgres:@", "postgresql://nobody:hunter2@")
    code, out, err = cli("identify", *sface_args(model_dir), "--db", url, photos_of("Tony_Blair")[0])
    assert code == 1 and out == ""
    assert err.startswith("facecam: error: cannot use the database postgresql://nobody:***@")
    assert "hunter2" not in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- schema

def test_the_schema_is_migrated_once_even_by_instances_starting_together(db_url):  # noqa: F811
    from facecam.db.postgres import SCHEMA_VERSION, PostgresStore

    stores, errors = run_together(lambda: PostgresStore(db_url))
    assert errors == [] and len(stores) == 4
    assert stores[0].schema_versions() == list(range(1, SCHEMA_VERSION + 1))
    assert stores[0].migrate() == SCHEMA_VERSION
    assert stores[0].schema_versions() == list(range(1, SCHEMA_VERSION + 1))
    import psycopg

    with psycopg.connect(db_url) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        vector = connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert {"people", "photos", "embeddings", "sightings", "facecam_schema", "unknown_sightings", "unknown_crops",
            "unknown_ignored"} <= tables
    assert vector is not None and vector[0].startswith("0.")
    for store in stores:
        store.close()


def test_a_database_of_schema_1_gets_the_unknowns_tables_on_connect_and_migration_2_is_idempotent(
        db_url):  # noqa: F811
    import psycopg

    from facecam.db.postgres import MIGRATIONS, SCHEMA_VERSION, PostgresStore

    PostgresStore(db_url).close()
    with psycopg.connect(db_url) as connection:   # as the facecam before the unknowns tables left it
        connection.execute("DROP TABLE unknown_crops, unknown_sightings, unknown_ignored")
        connection.execute("DELETE FROM facecam_schema WHERE version >= 2")
    with PostgresStore(db_url) as store:
        assert store.schema_versions() == list(range(1, SCHEMA_VERSION + 1))
    with psycopg.connect(db_url) as connection:
        connection.execute(MIGRATIONS[1])          # once more: nothing changes, nothing fails
        count = connection.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'unknown_%'").fetchone()[0]
    assert count == 3


def test_a_database_set_up_by_a_newer_facecam_is_refused_in_one_line(db_url):  # noqa: F811
    import psycopg

    from facecam.db.postgres import PostgresStore
    from facecam.errors import FacecamError

    PostgresStore(db_url).close()
    with psycopg.connect(db_url) as connection:
        connection.execute("INSERT INTO facecam_schema (version) VALUES (%s)", (99,))
    with pytest.raises(FacecamError, match=r"set up by a newer facecam \(schema 99\); update facecam"):
        PostgresStore(db_url)


def test_embeddings_round_trip_exactly_and_incrementally(db_url):  # noqa: F811
    from facecam.db.postgres import NewEmbedding, PostgresStore

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 128)).astype(np.float32)
    with PostgresStore(db_url) as store:
        first, new = store.add_photo("Ada", "a" * 64, "ada.jpg", b"\xff\xd8x",
                                     NewEmbedding("sface", "v1", 1, (1, 2, 3, 4), vectors[0]))
        again, new_again = store.add_photo("Ada", "a" * 64, "ada-copy.jpg", b"\xff\xd8x")
        assert new and not new_again and again == first
        store.add_photo("Bob", "b" * 64, "bob.jpg", b"\xff\xd8y", NewEmbedding("sface", "v1", 1, None, vectors[1]))
        rows = store.embeddings("sface", "v1")
        assert [r.person for r in rows] == ["Ada", "Bob"]
        np.testing.assert_array_equal(np.stack([r.embedding for r in rows]), vectors[:2])
        store.add_photo("Bob", "c" * 64, "bob2.jpg", b"\xff\xd8z", NewEmbedding("sface", "v1", 1, None, vectors[2]))
        later = store.embeddings("sface", "v1", after_id=rows[-1].id)
        assert len(later) == 1 and later[0].person == "Bob"
        assert store.embeddings("vgg-face", "v1") == []
        assert [p.file_name for p in store.photos_without("vgg-face", "v1")] == ["ada.jpg", "bob.jpg", "bob2.jpg"]
        quote = "Robert'); DROP TABLE people; --"
        store.add_photo(quote, "d" * 64, "x.jpg", b"\xff\xd8", None)
        assert (quote, "d" * 64) in store.photo_keys()


# ---------------------------------------------------------------- sightings

def test_sightings_are_shared_through_the_database(db_url, tmp_path):  # noqa: F811
    from facecam.sightings.model import Sighting, SightingQuery, local_now
    from facecam.stores import open_sighting_store

    now = local_now()
    door = open_sighting_store(tmp_path / "door", db_url=db_url)
    desk = open_sighting_store(tmp_path / "desk", db_url=db_url)
    door.save(Sighting("door-1", "door", now - timedelta(minutes=5), now - timedelta(minutes=4), 0.0, 60.0,
                       name="Ada", distance=0.3, box=(1, 2, 30, 40), snapshot=b"\xff\xd8jpeg"))
    desk.save(Sighting("desk-1", "desk", now - timedelta(minutes=2), now, 0.0, 120.0, box=(5, 6, 7, 8)))
    desk.save(Sighting("old", "desk", now - timedelta(days=100), now - timedelta(days=100), 0.0, 1.0, name="Bob"))
    listed = door.query()
    assert [(s.id, s.name, s.source) for s in listed] == [("desk-1", None, "desk"), ("door-1", "Ada", "door"),
                                                           ("old", "Bob", "desk")]
    assert listed[1].box == (1, 2, 30, 40) and listed[1].distance == pytest.approx(0.3)
    assert abs((listed[1].started - (now - timedelta(minutes=5))).total_seconds()) < 1e-3
    assert door.snapshot("door-1") == b"\xff\xd8jpeg" and door.people() == ["Ada", "Bob"]
    assert [s.id for s in desk.query(SightingQuery(person="Ada"))] == ["door-1"]
    assert [s.id for s in desk.query(SightingQuery(unknown=True))] == ["desk-1"]
    assert desk.purge() == 1 and [s.id for s in door.query()] == ["desk-1", "door-1"]
    door.close()
    desk.close()
    assert not (tmp_path / "door").exists()  # the local outbox is made only when the database does not answer


# ---------------------------------------------------------------- the command line, real photos, SFace

def identify_json(cli, *argv) -> dict[str, list]:
    code, out, err = cli("identify", "--json", *argv)
    assert code == 0, err
    found = {}
    for line in out.splitlines():
        row = json.loads(line)
        found[row["image"]] = [(face["name"], face["distance"]) for face in row["faces"]]
    return found


def test_identify_verify_and_evaluate_from_an_empty_folder_work_as_with_the_local_store(cli, tmp_path, model_dir,
                                                                             db_url, monkeypatch):  # noqa: F811
    """Done when (issue 10): enrolled into the database, people's other photos are named from an empty
    folder exactly as a local known_faces folder with the same photos names them."""
    local = tmp_path / "local" / "known_faces"
    for person in PEOPLE:
        photos = photos_of(person)[:ENROLLED]
        code, _, err = cli("enroll", *sface_args(model_dir), "--known-faces", local, person, *photos)
        assert code == 0, err
        code, out, err = cli("enroll", "--json", *sface_args(model_dir), "--db", db_url, person, *photos)
        assert code == 0, err
        assert json.loads(out)["db"] is True and len(json.loads(out)["photos"]) == ENROLLED
    queries = [photo for person in PEOPLE for photo in photos_of(person)[ENROLLED:ENROLLED + 3]]
    strangers = photos_of("Vladimir_Putin")[:2]
    expected = identify_json(cli, *sface_args(model_dir), "--known-faces", local, *queries, *strangers)

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.setenv("FACECAM_DB", db_url)  # the environment variable, as a service would set it
    found = identify_json(cli, *sface_args(model_dir), *queries, *strangers)
    assert found == expected
    names = [faces[0][0] for faces in found.values()]
    assert names == [person for person in PEOPLE for _ in range(3)] + [None, None]
    assert not (empty / "known_faces").exists()  # nothing local was needed

    # verify takes --db (and $FACECAM_DB, set here) and compares its two photos as without it
    pair = [photos_of("Tony_Blair")[ENROLLED], photos_of("Colin_Powell")[ENROLLED]]
    verified = [cli("verify", "--json", *sface_args(model_dir), *extra, *pair) for extra in ([], ["--db", db_url])]
    assert [code for code, _, _ in verified] == [0, 0], verified
    assert json.loads(verified[0][1]) == json.loads(verified[1][1])
    assert json.loads(verified[0][1])["verified"] is False

    # evaluate with the database (no folder): leave-one-out on its people, as on a folder of the same photos
    code, out, err = cli("evaluate", "--json", *sface_args(model_dir))
    assert code == 0, err
    from_db = json.loads(out)
    code, out, err = cli("evaluate", "--json", *sface_args(model_dir), local)
    assert code == 0, err
    from_folder = json.loads(out)
    assert from_db["dir"].startswith("the database ") and from_db["images"] == from_folder["images"] == 12
    for key in ("people", "pairs", "auc", "eer", "rank1_by_mode", "open_set_unknown_rate", "recommended_threshold",
                "confusion"):
        assert from_db[key] == pytest.approx(from_folder[key]) if isinstance(from_db[key], float) \
            else from_db[key] == from_folder[key], key
    assert from_db["rank1"] == 1.0
    code, _, err = cli("evaluate", *sface_args(model_dir), "--pairs", tmp_path / "pairs.csv")
    assert code == 1 and err.count("\n") == 1 and "--pairs names files of a folder" in err


def test_index_uploads_a_folder_once_and_a_vgg_instance_embeds_the_thumbnails(cli, tmp_path, model_dir,
                                                                               db_url):  # noqa: F811
    """``index --db`` sends a known_faces folder's people (face thumbnails + embeddings), incrementally; an
    instance on another detector (its own embeddings key) embeds the stored thumbnails itself and names
    the same people."""
    known = tmp_path / "known_faces"
    for person in PEOPLE[:2]:
        (known / person).mkdir(parents=True)
        for photo in photos_of(person)[:ENROLLED]:
            (known / person / photo.name).write_bytes(photo.read_bytes())
    code, out, err = cli("index", "--json", *sface_args(model_dir), "--known-faces", known, "--db", db_url)
    assert code == 0, err
    assert json.loads(out)["sent"] == 2 * ENROLLED and json.loads(out)["already_there"] == 0
    code, out, err = cli("index", "--json", *sface_args(model_dir), "--known-faces", known, "--db", db_url)
    assert json.loads(out)["sent"] == 0 and json.loads(out)["already_there"] == 2 * ENROLLED
    queries = [photos_of(person)[ENROLLED] for person in PEOPLE[:2]]
    found = identify_json(cli, *sface_args(model_dir), "--detector", "yunet", "--db", db_url,
                          "--known-faces", tmp_path / "none", *queries)
    assert [faces[0][0] for faces in found.values()] == list(PEOPLE[:2])
    import psycopg

    with psycopg.connect(db_url) as connection:
        keys = connection.execute("SELECT model, count(*) FROM embeddings GROUP BY model ORDER BY model").fetchall()
        largest = connection.execute("SELECT max(length(thumbnail)) FROM photos").fetchone()[0]
    assert keys == [("sface", 2 * ENROLLED), ("sface-yunet", 2 * ENROLLED)]
    assert largest < 60_000  # a face thumbnail, not the whole photo


def test_sightings_wait_in_a_bounded_outbox_while_the_server_is_down_and_survive_a_restart(postgres, tmp_path):  # noqa: F811
    """The real server stopped: sightings go to the local SQLite outbox (owner-only), at most ``max_queued``;
    a later run, with the server back, sends what the outbox kept."""
    from facecam.db.postgres import PostgresStore
    from facecam.db.sightings import SharedSightingStore
    from facecam.sightings.model import Sighting, local_now

    url = postgres.new_database()
    outbox = tmp_path / "known_faces" / ".facecam" / "sightings-outbox.sqlite"
    now = local_now()
    visits = [Sighting(f"v{i}", "door", now + timedelta(seconds=i), now + timedelta(seconds=i + 1), i, i + 1.0,
                       name="Ada") for i in range(5)]
    store = SharedSightingStore(PostgresStore(url, timeout_s=2), outbox, max_queued=3)
    store.save(visits[0])
    postgres.stop()
    try:
        for visit in visits[1:]:
            store.save(visit)
        assert store.queued == 3 and store.lost == 1 and "outbox is full" in store.warnings[0]
        store.close()
        assert "wait in" in store.warnings[-1] and outbox.stat().st_mode & 0o077 == 0
    finally:
        postgres.start()
    later = SharedSightingStore(PostgresStore(url), outbox)
    assert later.queued == 3
    later.flush()  # or its own thread does, within a second
    assert later.flushed == 3 and later.queued == 0
    assert sorted(s.id for s in later.query()) == ["v0", "v1", "v2", "v3"]
    later.close()
