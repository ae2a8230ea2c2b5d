"""``facecam people list`` and ``people forget NAME`` (issue 22): after a forget, nothing of the person is left
readable. Real lfw40 photos, real SFace, real watch runs on clips, a real PostgreSQL (pgserver).

The done-when check (:func:`leftovers`): a byte search over known_faces (``.facecam`` included: caches, the
sightings log and its outbox, the unknown faces' stores and outboxes, every -wal file) for the person's name and
for each of their embeddings as the cache stored them (float32 rows); with ``--db`` also over a text dump of every
facecam table and over the tables' own files on the server's disk (where the embeddings are float32 too)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clips import LFW40, lfw40_photo, lfw40_visitors, make_lfw40_gallery, visits_scene, write_clip
from servers import postgres, db_url  # noqa: F401 - fixtures

TABLES = ("people", "photos", "embeddings", "sightings", "unknown_sightings", "unknown_crops", "unknown_ignored")


@pytest.fixture(scope="module")
def cast():
    """Three lfw40 people: the one to forget (T), one enrolled who stays (A), a stranger (S)."""
    visitors, enrolled = lfw40_visitors()
    stranger = next(p for p in visitors if p not in enrolled)
    return enrolled[0], enrolled[1], stranger


def clip_of(tmp_path: Path, people: list[str]) -> Path:
    """Each person once, alone (windows 0.5-3.3, 3.5-6.3, 6.5-9.3 s), showing their lfw40 photo 5."""
    scene = visits_scene(people, [5] * len(people), stay_s=2.8, steps_s=(3.0,))
    path = tmp_path / "clip.avi"
    write_clip(path, scene, seconds=3.0 * len(people) + 0.5, enrolled=tuple(people),
               load_photo=lambda actor: lfw40_photo(actor))
    return path


def who_at(t: float, people: list[str]) -> str:
    return people[min(max(int((t - 0.5) // 3.0), 0), len(people) - 1)]


def cached_rows(known_faces: Path, person: str) -> list[bytes]:
    """Each of ``person``'s embeddings as the cache stores them (float32 bytes), from every cache file."""
    rows = []
    for cache in (known_faces / ".facecam").glob("*.npz"):
        with np.load(cache, allow_pickle=False) as data:
            theirs = {str(s) for p, s in zip(data["stat_paths"], data["stat_sha"]) if f"/{person}/" in str(p)}
            for sha, vector in zip(data["sha256"], data["embeddings"]):
                if str(sha) in theirs:
                    rows.append(np.asarray(vector, np.float32).tobytes())
    return rows


def leftovers(folder: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``folder`` holding one of ``needles`` (and which)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path} holds needle {i}" for i, needle in enumerate(needles) if needle in data]
    return found


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def unknown_people(cli, sface, known_faces, people, *extra) -> dict[str, set[str]]:
    """``facecam unknowns --json``: who each cluster is (by the clip's timing): {person: {cluster ids}}."""
    code, out, err = cli("unknowns", "--json", *sface, "--known-faces", known_faces, *extra)
    assert code == 0, err
    found: dict[str, set[str]] = {}
    for cluster in json.loads(out)["clusters"]:
        for sighting in cluster["sightings"]:
            found.setdefault(who_at(sighting["t"], people), set()).add(cluster["id"])
    return found


def test_forget_leaves_nothing_of_the_person_in_known_faces(cli, model_dir, cast, tmp_path):
    target, other, stranger = cast
    people = [target, other, stranger]
    clip = clip_of(tmp_path, people)
    sface = ["--model", "sface", "--model-dir", model_dir]
    kf = make_lfw40_gallery(tmp_path / "kf", [other], photos=(1, 2))
    # 1. the target not enrolled yet: a stranger's cluster in Who's this?, unknown visits in the log
    code, _, err = cli("watch", *sface, "--known-faces", kf, "--source", clip)
    assert code == 0, err
    clusters = unknown_people(cli, sface, kf, people)
    assert target in clusters and stranger in clusters, clusters
    # 2. enrolled (and a copy kept by an earlier Remove); known visits and learned crops (no unknowns: the
    #    stranger's cluster of the target stays, as when it was seen by another camera before they were enrolled)
    code, _, err = cli("enroll", *sface, "--known-faces", kf, target, *sorted((LFW40 / target).glob("*.jpg"))[:3])
    assert code == 0, err
    code, _, err = cli("watch", *sface, "--known-faces", kf, "--source", clip, "--learn", "--no-unknowns")
    assert code == 0, err
    code, out, err = cli("sightings", "--json", "--known-faces", kf)
    assert code == 0 and target in {row["name"] for row in json_lines(out)}, err
    code, out, err = cli("people", "list", "--json", "--known-faces", kf)
    listed = {p["name"]: p for p in json.loads(out)["people"]}
    assert code == 0 and listed[target]["photos"] == 3 and listed[target]["visits"] >= 1, (out, err)
    assert listed[target]["last_seen"] is not None and listed[other]["photos"] == 2
    rows = cached_rows(kf, target)
    assert len(rows) >= 3
    needles = [target.encode("utf-8"), *rows]
    assert leftovers(kf, needles), "the search finds nothing even before the forget: it could not fail"

    code, out, err = cli("people", "forget", target, "--yes", "--json", "--known-faces", kf)
    assert code == 0, err
    report = json.loads(out)
    assert report["photos"] == 3 and report["cache_rows"] >= 3 and report["visits"] >= 2, report
    assert report["unknown_clusters"] >= 1, report

    assert leftovers(kf, needles) == []
    code, out, err = cli("sightings", "--json", "--known-faces", kf)
    rows_after = json_lines(out)
    assert code == 0 and target not in out, err
    assert other in {r["name"] for r in rows_after}                        # the others' visits stay
    assert not [r for r in rows_after if r["name"] is None and who_at(r["t_start"], people) == target]
    after = unknown_people(cli, sface, kf, people)
    assert target not in after and stranger in after, after                # the stranger stays a stranger
    code, out, _ = cli("people", "list", "--json", "--known-faces", kf)
    assert [p["name"] for p in json.loads(out)["people"]] == [other]
    code, _, err = cli("identify", *sface, "--known-faces", kf, LFW40 / other / f"{other}_0003.jpg")
    assert code == 0, err                                                   # the gallery still works


def test_forget_an_unknown_name_is_one_line_and_changes_nothing(cli, cast, tmp_path):
    target, other, _ = cast
    kf = make_lfw40_gallery(tmp_path / "kf", [other], photos=(1,))
    before = sorted(str(p) for p in kf.rglob("*"))
    code, out, err = cli("people", "forget", target, "--yes", "--known-faces", kf)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "people list" in err
    code, _, err = cli("people", "forget", other, "--known-faces", kf)   # no terminal to ask on, no --yes
    assert code == 2 and "--yes" in err
    code, _, err = cli("people", "forget", "../etc", "--yes", "--known-faces", kf)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert sorted(str(p) for p in kf.rglob("*")) == before


def table_dump(url: str) -> bytes:
    """Every row of facecam's tables as text (the vectors in pgvector's text form)."""
    import psycopg

    with psycopg.connect(url) as connection:
        return b"\n".join(str(row).encode("utf-8") for table in TABLES
                          for row in connection.execute(f"SELECT t::text FROM {table} t").fetchall())


def table_files(url: str) -> list[Path]:
    """The files that hold facecam's tables (and their TOAST tables and indexes) on the server's disk."""
    import psycopg

    with psycopg.connect(url) as connection:
        data = Path(connection.execute("SHOW data_directory").fetchone()[0])
        paths = connection.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 't', 'i')").fetchall()
        toast = connection.execute(
            "SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c JOIN pg_namespace n ON "
            "n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.reltoastrelid <> 0").fetchall()
        connection.execute("CHECKPOINT")   # what is in the shared buffers reaches the files
    return [data / p for (p,) in paths + toast if p and (data / p).is_file()]


def test_forget_with_db_leaves_nothing_in_the_database_nor_the_folder(cli, model_dir, cast, db_url, tmp_path):  # noqa: F811
    target, other, stranger = cast
    people = [target, other, stranger]
    clip = clip_of(tmp_path, people)
    sface = ["--model", "sface", "--model-dir", model_dir]
    db = ["--db", db_url]
    kf = tmp_path / "kf"
    code, _, err = cli("enroll", *sface, *db, "--known-faces", kf, other, *sorted((LFW40 / other).glob("*.jpg"))[:2])
    assert code == 0, err
    code, _, err = cli("watch", *sface, *db, "--known-faces", kf, "--source", clip)
    assert code == 0, err
    assert target in unknown_people(cli, sface, kf, people, *db)
    # enrolled through the folder and sent to the database (index --db), as a user moving to the database does
    make_lfw40_gallery(kf, [target], photos=(1, 2, 3))
    code, _, err = cli("index", *sface, *db, "--known-faces", kf)
    assert code == 0, err
    rows = cached_rows(kf, target)
    code, _, err = cli("watch", *sface, *db, "--known-faces", kf, "--source", clip, "--no-unknowns")
    assert code == 0, err
    code, out, err = cli("people", "list", "--json", *db, "--known-faces", kf)
    listed = {p["name"]: p for p in json.loads(out)["people"]}
    assert code == 0 and listed[target]["visits"] >= 1 and listed[target]["photos"] >= 3, (out, err)
    needles = [target.encode("utf-8"), *rows]
    files = table_files(db_url)
    assert target.encode() in table_dump(db_url)
    assert any(rows[0] in path.read_bytes() for path in files), "the embeddings are not float32 on disk: the search could not fail"

    code, out, err = cli("people", "forget", target, "--yes", "--json", *db, "--known-faces", kf)
    assert code == 0, err
    report = json.loads(out)
    assert report["database"]["photos"] >= 3 and report["database"]["visits"] >= 1 and report["unknown_clusters"] >= 1

    assert target.encode() not in table_dump(db_url)
    assert [str(p) for p in table_files(db_url) if any(n in p.read_bytes() for n in needles)] == []
    assert leftovers(kf, needles) == []
    code, out, err = cli("sightings", "--json", *db, "--known-faces", kf)
    assert code == 0 and target not in out and other in out, err
    after = unknown_people(cli, sface, kf, people, *db)
    assert target not in after and stranger in after, after


def test_scrub_leaves_no_deleted_bytes_in_an_sqlite_file_nor_its_log(tmp_path):
    """Without secure_delete a deleted row stays readable in the file's free pages; scrub_sqlite rebuilds the file
    and empties its write-ahead log."""
    import sqlite3

    from facecam.fileutil import scrub_sqlite

    path = tmp_path / "log.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=OFF")
    db.execute("CREATE TABLE t (name TEXT, blob BLOB)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(f"Ada Lovelace {i}", b"\x01" * 3000) for i in range(50)]
                   + [("Alan Turing", b"\x02" * 10)])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("DELETE FROM t WHERE name LIKE 'Ada%'")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"Ada Lovelace" in path.read_bytes()          # deleted, still readable: the check can fail
    other = sqlite3.connect(path)                          # another connection open, as a reader would be
    assert scrub_sqlite(path)
    other.close()
    db.close()
    assert b"Ada Lovelace" not in path.read_bytes() and b"Alan Turing" in path.read_bytes()
    wal = Path(f"{path}-wal")
    assert not wal.exists() or b"Ada Lovelace" not in wal.read_bytes()


def test_forget_removes_the_persons_home_assistant_entity(cli, cast, tmp_path):
    """``people forget --homeassistant URL``: the person's discovery config and state are emptied (retained) on the
    real broker, so Home Assistant removes the entity; the camera's entities stay."""
    import time
    import uuid
    from datetime import datetime, timedelta

    from servers import Subscriber, shared_broker_port, wait_until

    from facecam.sightings import Sighting
    from facecam.sightings.notify import Notifier
    from facecam.sinks import SINKS
    from facecam.sinks.homeassistant import slug

    target = cast[0]
    port, broker = shared_broker_port(tmp_path)
    prefix = f"ha-forget-{uuid.uuid4().hex[:8]}"
    url = f"mqtt://127.0.0.1:{port}/{prefix}"
    camera = f"door {uuid.uuid4().hex[:6]}"
    person_config = f"{prefix}/sensor/facecam/person_{slug(target)}/config"
    view_config = f"{prefix}/sensor/facecam/camera_{slug(camera)}_in_view/config"
    kf = make_lfw40_gallery(tmp_path / "kf", [target], photos=(1,))
    now = datetime.now().astimezone()
    live = Subscriber(port, [f"{prefix}/#", "facecam/ha/#"])
    notifier = Notifier([SINKS["homeassistant"].build(url)], cooldown_s=0)
    try:
        assert wait_until(lambda: live.on("facecam/ha/available") and live.on("facecam/ha/available")[-1][1] == b"online")
        notifier(Sighting(id=uuid.uuid4().hex, source=camera, started=now, ended=now + timedelta(seconds=2),
                          t_start=0.0, t_end=2.0, name=target, distance=0.3), "arrived")
        assert wait_until(lambda: live.on(person_config) and live.on(view_config))
        notifier.close(10)
        code, out, err = cli("people", "forget", target, "--yes", "--json", "--homeassistant", url,
                             "--known-faces", kf)
        assert code == 0 and json.loads(out)["notified"] is True, err
        after = Subscriber(port, [f"{prefix}/#"])
        assert wait_until(lambda: after.on(view_config))        # the retained messages have arrived
        time.sleep(0.5)
        kept = {topic for _, topic, payload, retained in after.messages if retained and payload}
        after.close()
        assert person_config not in kept and view_config in kept
    finally:
        live.close()
        if broker is not None:
            broker.stop()


def test_a_visit_of_someone_forgotten_meanwhile_teaches_nothing(sface_recognizer, cast, tmp_path):
    """Learning (``--learn``, the window's): a clear visit that ends after its person was forgotten (the gallery in
    use no longer has them) writes no learned crop, so their folder is not made again."""
    import cv2

    from facecam.learn import LearnCandidate, Learning
    from facecam.matcher import GalleryMatrix
    from facecam.types import bgr_to_rgb
    from facecam.unknowns.collect import FaceCandidate

    target = cast[0]
    rgb = bgr_to_rgb(cv2.imread(str(LFW40 / target / f"{target}_0003.jpg")))
    faces = sface_recognizer.detector.detect(rgb, min_face_size=20)
    vector = sface_recognizer.embed_photo(LFW40 / target / f"{target}_0003.jpg").embedding
    enrolled = sface_recognizer.embed_photo(LFW40 / target / f"{target}_0001.jpg").embedding
    candidate = LearnCandidate(target, 1, 0.2, FaceCandidate.of(rgb, faces[0], vector, 0.6, 1.0, 30))
    for gallery, learned in ((GalleryMatrix.from_pairs([target], enrolled[None]), True),
                             (GalleryMatrix.empty(len(vector)), False)):
        root = tmp_path / ("kept" if learned else "forgotten")
        learning = Learning(root, lambda gallery=gallery: gallery)
        learning._on_candidate(candidate)
        learning.close()
        assert (root / target / ".learned").is_dir() == learned
