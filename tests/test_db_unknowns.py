"""Unknown faces in the shared PostgreSQL store (issue 10 + issue 8), against a real PostgreSQL 16 +
pgvector (pgserver): two instances seeing one stranger make one cluster; instances adding, capping
and merging at once keep every sighting and the same grouping as from scratch; `watch --db
--realtime` collects into the database, `unknowns --db` lists, ignores and forgets it all (rows
counted). Real lfw40 photos, real MTCNN + SFace."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from servers import db_url, late_db_url, postgres  # noqa: F401 - fixtures
from visits import photos_of, plan_visits, truth_of, write_visits_clip

from facecam.unknowns.cluster import cluster_labels

PEOPLE = ["Bill_Frist", "Celine_Dion", "Jimmy_Carter", "Yao_Ming"]


def face_of(recognizer, photo):
    """A real photo's (rgb image, largest face, its SFace embedding)."""
    from facecam.images import read_image
    from facecam.types import bgr_to_rgb

    bgr = read_image(photo)
    found, embeddings = recognizer.faces_and_embeddings(bgr)
    return bgr_to_rgb(bgr), found[0], embeddings[0]


@pytest.fixture(scope="module")
def faces(sface_recognizer) -> dict[str, list]:
    """Per person, three real photos' (rgb image, face, embedding)."""
    return {person: [face_of(sface_recognizer, photo) for photo in photos_of(person)[:3]] for person in PEOPLE}


def sighting(face, source: str, started: float):
    """A real one-crop sighting of ``face`` (aligned crop, SFace embedding) seen at ``started``."""
    from facecam.unknowns.collect import sighting_of_face

    rgb, found, embedding = face
    return sighting_of_face(rgb, found, embedding, source, 1.0, 10, clock=lambda: started)


def open_shared(url: str, model: str = "sface", **caps):
    from facecam.db.postgres import PostgresStore
    from facecam.db.unknowns import DbUnknownStore

    return DbUnknownStore(PostgresStore(url), model, 128, **caps)


def partition(store) -> set:
    return {frozenset(s.id for s in c.sightings) for c in store.clusters()}


def from_scratch(store) -> set:
    """The grouping of the stored sightings computed afresh (scipy), merges included."""
    sightings = store.sightings()
    labels = cluster_labels(np.stack([s.embedding for s in sightings]), store.link, [s.merge_group for s in sightings])
    out: dict = {}
    for s, label in zip(sightings, labels):
        out.setdefault(label, set()).add(s.id)
    return {frozenset(v) for v in out.values()}


def rows(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # our own table names
                for table in ("unknown_sightings", "unknown_crops", "unknown_ignored")}


def test_two_cameras_seeing_one_stranger_make_one_cluster(faces, db_url):  # noqa: F811
    door, desk = open_shared(db_url), open_shared(db_url)
    now = time.time()
    first = door.add(sighting(faces["Celine_Dion"][0], "door", now))
    second = desk.add(sighting(faces["Celine_Dion"][1], "desk", now + 5))   # another photo, another camera
    other = desk.add(sighting(faces["Yao_Ming"][0], "desk", now + 6))
    assert second == first != other
    for store in (door, desk):                          # both instances list the same two clusters
        clusters = store.clusters()
        assert [c.id for c in clusters] == [other, first]
        assert {s.source for s in clusters[1].sightings} == {"door", "desk"} and len(clusters[1].sightings) == 2
    # the crops are real JPEGs in the database, readable by the other instance
    import cv2

    crop = door.clusters()[1].best_crops(1)[0]
    image = cv2.imdecode(np.frombuffer(desk.crop_jpeg(crop), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (224, 224, 3)
    with desk.crop_files(door.clusters()[1].best_crops(5)) as files:
        assert len(files) == 2 and all(cv2.imread(str(f)).shape == (224, 224, 3) for f in files)
        folder = files[0].parent
    assert not folder.exists()                          # temporary files, gone after use
    # an id another program wrote into the database never makes a path outside that folder
    import dataclasses

    evil = dataclasses.replace(sighting(faces["Jimmy_Carter"][0], "door", now + 7), id="../../evil")
    cluster = door.cluster(door.add(evil))
    with door.crop_files(cluster.best_crops(5)) as files:
        assert len(files) == 1 and files[0].resolve().parent == (folder_of := files[0].parent).resolve()
        assert folder_of.name.startswith("facecam-unknowns-")
    door.close()
    desk.close()


def test_instances_adding_at_once_keep_the_caps_and_a_merge_meanwhile_holds(faces, db_url):  # noqa: F811
    stores = [open_shared(db_url, max_sightings=10), open_shared(db_url, max_sightings=10)]
    now = time.time()
    made = [[sighting(faces[p][i], f"camera{n}", now + 12 * n + 3 * k + i)
             for k, p in enumerate(PEOPLE) for i in range(3)] for n in range(2)]   # 2 x 12 sightings
    errors, returned = [], []

    def add_all(store, sightings):
        try:
            for s in sightings:
                returned.append(store.add(s))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=add_all, args=(store, made[n])) for n, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(returned) == 24 and all(returned)
    everything = sorted((s for batch in made for s in batch), key=lambda s: s.started)
    assert [s.id for s in stores[1].sightings()] == [s.id for s in everything[-10:]]   # the 10 newest, exactly
    assert partition(stores[0]) == partition(stores[1]) == from_scratch(stores[0])
    person = {s.id: p for batch in made for s, p in zip(batch, [p for p in PEOPLE for _ in range(3)])}
    assert all(len({person[i] for i in cluster}) == 1 for cluster in partition(stores[0]))   # never two people

    # one instance merges two clusters while the other adds: the merge holds, every sighting is kept
    big = open_shared(db_url)
    before = big.clusters()
    base = [c.id for c in before]
    late = [sighting(faces[p][i], "camera9", now + 100 + 3 * k + i) for k, p in enumerate(PEOPLE) for i in range(2)]
    adder = threading.Thread(target=add_all, args=(big, late))
    listings = []

    def list_while_adding():   # the window's panel reads through the store its collector writes with
        try:
            while adder.is_alive():
                listings.append([[s.id for s in c.sightings] for c in big.clusters()])
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    lister = threading.Thread(target=list_while_adding)
    adder.start()
    lister.start()
    merged = stores[0].merge(base[:2])
    adder.join()
    lister.join()
    assert errors == [] and listings
    for listing in listings:    # each a whole grouping: every sighting in one cluster
        ids = [i for cluster in listing for i in cluster]
        assert len(ids) == len(set(ids)) >= 10
    after = big.clusters()
    assert len(big.sightings()) == 18
    assert {s.id for s in merged.sightings} >= {s.id for c in before[:2] for s in c.sightings}
    assert {s.id for s in merged.sightings} <= {s.id for s in next(c for c in after if c.id == merged.id).sightings}
    assert partition(big) == from_scratch(big)
    for store in (*stores, big):
        store.close()


def test_watch_db_collects_into_the_database_and_unknowns_db_lists_ignores_and_forgets_all(
        cli, model_dir, db_url, tmp_path):  # noqa: F811
    strangers = PEOPLE
    visits = plan_visits({p: photos_of(p)[3:4] for p in strangers}, {"Jeb_Bush": photos_of("Jeb_Bush")[5:6]},
                         duration=1.5, seed=1)
    clip = tmp_path / "short.avi"
    write_visits_clip(clip, visits)
    sface = ["--model", "sface", "--model-dir", model_dir]
    code, _, err = cli("enroll", *sface, "--db", db_url, "Jeb_Bush", *photos_of("Jeb_Bush")[:3])
    assert code == 0, err
    empty = tmp_path / "empty"
    code, _, err = cli("watch", *sface, "--known-faces", empty, "--db", db_url, "--source", clip, "--realtime",
                       "--summary", tmp_path / "summary.json")
    assert code == 0, err
    assert not (empty / ".facecam" / "unknowns").exists()                 # nothing kept locally
    code, out, err = cli("unknowns", "--json", *sface, "--known-faces", tmp_path / "reader", "--db", db_url)
    assert code == 0, err
    clusters = json.loads(out)["clusters"]
    who = truth_of(visits, [(s["t"], s["box"]) for c in clusters for s in c["sightings"]])
    assert json.loads((tmp_path / "summary.json").read_text())["unknown_sightings"] == len(who)
    assert len(set(who) & set(strangers)) >= 3 and "Jeb_Bush" not in who, who   # the enrolled: never
    assert all(s["crop"].startswith("db:") and s["source"] == clip.name for c in clusters for s in c["sightings"])
    counted = rows(db_url)
    assert counted["unknown_sightings"] == len(who) and counted["unknown_crops"] >= len(who)

    code, out, err = cli("unknowns", "ignore", clusters[0]["id"], *sface, "--known-faces", empty, "--db", db_url,
                         "--json")
    assert code == 0 and json.loads(out) == {"ignored": clusters[0]["faces"]}, err
    assert rows(db_url)["unknown_ignored"] == clusters[0]["faces"]
    store = open_shared(db_url)
    ignored = store.sightings()
    assert clusters[0]["id"] not in {c.id for c in store.clusters()}
    store.close()
    code, out, err = cli("unknowns", "forget", "--all", *sface, "--known-faces", empty, "--db", db_url, "--json")
    assert code == 0 and json.loads(out) == {"forgotten": len(ignored)}, err
    assert rows(db_url) == {"unknown_sightings": 0, "unknown_crops": 0, "unknown_ignored": 0}   # privacy: all gone
    code, out, err = cli("unknowns", "--json", *sface, "--known-faces", empty, "--db", db_url)
    assert code == 0 and json.loads(out) == {"clusters": []}


def arrival_order(url: str) -> list[str]:
    """The unknown sightings' ids in the order the database received them: each add is its own transaction,
    so the rows' creating transaction ids (xmin) follow the order of arrival (nothing here updates a row)."""
    import psycopg

    with psycopg.connect(url) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM unknown_sightings ORDER BY xmin::text::bigint")]


def test_writers_of_the_unknowns_take_turns_under_the_models_advisory_lock(faces, db_url):  # noqa: F811
    """While another session holds the model's advisory lock (as another instance adding, merging or capping
    does), an add waits for it, seen as a waiting lock in pg_locks and no new row, and completes once it is
    released; a store of another model does not wait."""
    import psycopg

    from facecam.db.postgres import _UNKNOWNS_LOCK

    store = open_shared(db_url)
    holder = psycopg.connect(db_url, autocommit=True)
    waiting_sql = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                   "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    try:
        holder.execute("SELECT pg_advisory_lock(%s::integer, hashtext(%s))", (_UNKNOWNS_LOCK, "sface"))
        added: list[str] = []
        thread = threading.Thread(target=lambda: added.append(store.add(sighting(faces["Yao_Ming"][0], "door",
                                                                                  time.time()))), daemon=True)
        thread.start()
        deadline, waiting = time.monotonic() + 60, 0
        while time.monotonic() < deadline and not added and not waiting:
            waiting = holder.execute(waiting_sql).fetchone()[0]
            time.sleep(0.05)
        assert waiting == 1 and not added                     # the add waits for the lock ...
        assert rows(db_url)["unknown_sightings"] == 0         # ... and has written nothing
        other = open_shared(db_url, "vgg-face")              # another model's writers do not wait
        assert len(other.add(sighting(faces["Celine_Dion"][0], "door", time.time()))) == 8
        other.close()
        holder.execute("SELECT pg_advisory_unlock(%s::integer, hashtext(%s))", (_UNKNOWNS_LOCK, "sface"))
        thread.join(60)
        assert len(added) == 1 and [c.id for c in store.clusters()] == added
    finally:
        holder.close()
        store.close()


def test_unknown_sightings_wait_in_a_bounded_outbox_while_the_database_is_away_and_join_their_clusters_later(
        faces, postgres, late_db_url, tmp_path):  # noqa: F811
    """A live store (``watch --db``, the window) whose server is down keeps each stranger's sighting in an
    owner-only local outbox (at most ``max_queued``; past it one is counted lost and said); the outbox survives a
    restart of facecam; once the server answers, the sightings arrive in order and group as if they had been
    added at once, and a clean-up asked meanwhile (a cluster now matching someone enrolled) is done then."""
    from facecam.db import DatabaseUnreachable
    from facecam.db.unknowns_outbox import SharedUnknownStore, outbox_path
    from facecam.matcher import GalleryMatrix

    outbox = outbox_path(tmp_path / "known_faces", "sface")

    def live_store():
        return SharedUnknownStore(outbox, "sface", 128, lambda: open_shared(late_db_url), shown="the test's",
                                  max_queued=4)

    now = time.time()
    visits = [("Celine_Dion", 0), ("Yao_Ming", 0), ("Celine_Dion", 1), ("Jimmy_Carter", 0), ("Bill_Frist", 0)]
    store = live_store()
    answers = [store.add(sighting(faces[person][n], "door", now + i)) for i, (person, n) in enumerate(visits)]
    assert all(len(a) == 8 for a in answers[:4]) and len(set(answers[:4])) == 4   # queued: each its own id
    assert answers[4] == "" and store.queued == 4 and store.lost == 1               # the bound holds
    assert "outbox is full (4 unknown faces)" in store.warnings[0]
    with pytest.raises(DatabaseUnreachable):
        store.clusters()
    assert outbox.stat().st_mode & 0o077 == 0 and outbox.parent.stat().st_mode & 0o077 == 0
    store.close()
    assert "4 of the unknown faces wait in" in store.warnings[-1]

    later = live_store()                       # facecam restarted, the server still down: the outbox kept them
    assert later.queued == 4
    jimmy = faces["Jimmy_Carter"][1][2]        # Jimmy Carter enrolled (another photo) while the server is away
    enrolled = GalleryMatrix(jimmy[None, :] / np.linalg.norm(jimmy), np.zeros(1, np.int64), ("Jimmy Carter",))
    assert later.retire_matching(enrolled, 0.6) == []   # done once the database answers
    postgres.start()
    deadline = time.monotonic() + 40
    while (later.queued or later._retire_later is not None) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert later.flushed == 4 and later.queued == 0
    clusters = later.clusters()
    assert partition(later) == {frozenset({answers[0], answers[2]}), frozenset({answers[1]})}   # Jimmy's retired
    assert [c.id for c in clusters] == [answers[0], answers[1]]   # newest last seen first: Celine Dion's
    assert arrival_order(late_db_url) == [answers[0], answers[1], answers[2]]   # sent oldest first
    assert rows(late_db_url) == {"unknown_sightings": 3, "unknown_crops": 3, "unknown_ignored": 0}
    import cv2

    crop = clusters[0].best_crops(1)[0]        # the JPEG made before the outage, intact
    assert cv2.imdecode(np.frombuffer(later.crop_jpeg(crop), np.uint8), cv2.IMREAD_COLOR).shape == (224, 224, 3)
    later.close()
    assert not any("wait in" in w for w in later.warnings)


def signature(clusters) -> list:
    """Everything a listing shows of the clusters (ids, order, sightings, crops, embeddings), comparable."""
    return [(c.id, [(s.id, s.source, s.track, s.first_t, s.last_t, s.started, s.ended, s.merge_group, s.crops,
                     s.embedding.tobytes()) for s in c.sightings]) for c in clusters]


def test_a_store_reading_incrementally_answers_as_a_fresh_one_through_every_change(faces, db_url):  # noqa: F811
    """Two instances keep what they read; after each change by either (adds in and out of order, a bridge
    and its removal by the caps, merge, retire with a pinned cluster, ignore, forget) both list exactly
    what a newly opened store (reading everything) lists."""
    from facecam.config import MODELS
    from facecam.matcher import GalleryMatrix

    a, b = open_shared(db_url), open_shared(db_url)
    t0 = time.time() - 1000

    def check() -> list:
        fresh = open_shared(db_url)
        expected, expected_sightings = fresh.clusters(), [s.id for s in fresh.sightings()]
        fresh.close()
        for store in (a, b):
            assert signature(store.clusters()) == signature(expected)
            assert [s.id for s in store.sightings()] == expected_sightings
        return expected

    def cluster_of(clusters, sighting_id: str):
        return next(c for c in clusters if sighting_id in {s.id for s in c.sightings})

    def add(store, face, started: float, pinned: bool = False, embedding=None) -> str:
        made = sighting(face if embedding is None else (face[0], face[1], embedding), "cam", started)
        returned = store.add(made, pinned)
        assert returned == cluster_of(check(), made.id).id
        return made.id

    bill = [add(a, faces["Bill_Frist"][0], t0 + 10), add(a, faces["Bill_Frist"][1], t0 + 11)]
    celine = add(a, faces["Celine_Dion"][0], t0 + 12)
    jimmy = add(b, faces["Jimmy_Carter"][0], t0 + 13)
    yao = [add(b, faces["Yao_Ming"][0], t0 + 14), add(b, faces["Yao_Ming"][1], t0 + 1)]   # the second: older
    clusters = check()
    assert cluster_of(clusters, bill[0]) is cluster_of(clusters, bill[1]) is not cluster_of(clusters, yao[0])
    # a sighting between Bill and Yao (the mean of their faces, within the link of both) joins their clusters
    mean = faces["Bill_Frist"][0][2] / np.linalg.norm(faces["Bill_Frist"][0][2]) + \
        faces["Yao_Ming"][0][2] / np.linalg.norm(faces["Yao_Ming"][0][2])
    bridge = add(a, faces["Bill_Frist"][2], t0, embedding=(mean / np.linalg.norm(mean)).astype(np.float32))
    clusters = check()
    assert cluster_of(clusters, bill[0]) is cluster_of(clusters, yao[0]) is cluster_of(clusters, bridge)
    merged = b.merge([cluster_of(clusters, celine).id, cluster_of(clusters, jimmy).id])
    clusters = check()
    assert cluster_of(clusters, celine).id == merged.id == cluster_of(clusters, jimmy).id
    add(a, faces["Celine_Dion"][1], t0 + 15)
    # the caps of a third instance drop the oldest sighting, the bridge: Bill and Yao are apart again
    count = len(a.sightings())
    capped = open_shared(db_url, max_sightings=count)
    add(capped, faces["Jimmy_Carter"][1], t0 + 16)
    capped.close()
    clusters = check()
    assert len(a.sightings()) == count and bridge not in {s.id for s in a.sightings()}
    assert cluster_of(clusters, bill[0]) is not cluster_of(clusters, yao[0])
    # retire: Bill's cluster goes, Yao's stays (a user pinned one of its sightings)
    add(b, faces["Yao_Ming"][0], t0 + 17, pinned=True)
    enrolled = np.stack([faces[p][2][2] / np.linalg.norm(faces[p][2][2]) for p in ("Bill_Frist", "Yao_Ming")])
    gallery = GalleryMatrix(enrolled, np.array([0, 1]), ("Bill_Frist", "Yao_Ming"))
    assert a.retire_matching(gallery, MODELS["sface"].threshold) == [(cluster_of(clusters, bill[0]).id, "Bill_Frist")]
    clusters = check()
    assert bill[0] not in {s.id for s in a.sightings()} and yao[0] in {s.id for s in b.sightings()}
    assert a.ignore([cluster_of(clusters, yao[0]).id]) == len(cluster_of(clusters, yao[0]).sightings) >= 2
    clusters = check()
    assert b.forget([c.id for c in clusters]) == sum(len(c.sightings) for c in clusters) >= 4
    assert check() == [] and a.sightings() == b.sightings() == []
    for store in (a, b):
        store.close()
