"""The sightings log (SQLite): round trip, filters, retention, owner-only files, a damaged file, and real
processes: two writing at once, and writers killed with SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import pytest

from facecam.sightings import Sighting, SightingQuery, parse_since
from facecam.stores import open_sighting_store
from facecam.sightings.recorder import face_snapshot
from facecam.sightings.store import FILE_NAME

from tests.conftest import PEOPLE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    photo = cv2.imread(str(PEOPLE / "obama.jpg"))
    height, width = photo.shape[:2]
    return face_snapshot(photo, (width * 0.3, height * 0.2, width * 0.4, height * 0.5))


def sighting(jpeg: bytes, n: int, name: str | None, start: datetime, seconds: float = 5.0, **extra) -> Sighting:
    return Sighting(id=f"s{n}", source=extra.pop("source", "door"), started=start,
                    ended=start + timedelta(seconds=seconds), t_start=10.0 * n, t_end=10.0 * n + seconds,
                    name=name, distance=0.3 if name else 0.8, box=(10, 20, 90, 100), snapshot=jpeg, **extra)


def test_round_trip_filters_newest_first_and_update(tmp_path, jpeg):
    now = datetime.now().astimezone()
    with open_sighting_store(tmp_path) as store:
        store.save(sighting(jpeg, 1, "Ada Lovelace", now - timedelta(hours=3)))
        store.save(sighting(jpeg, 2, None, now - timedelta(hours=1), cluster="c7"))
        store.save(sighting(jpeg, 3, "Ada Lovelace", now - timedelta(minutes=5), source="desk"))
        store.save(sighting(jpeg, 4, "Grace Hopper", now - timedelta(minutes=1)))
        everything = store.query()
        assert [s.id for s in everything] == ["s4", "s3", "s2", "s1"]
        first = everything[-1]
        assert first.name == "Ada Lovelace" and first.snapshot == b""        # listings skip the JPEG...
        assert store.snapshot("s1") == jpeg and store.snapshot("nope") == b""  # ...which comes on demand
        assert first.started == now - timedelta(hours=3) and first.started.utcoffset() == now.utcoffset()
        assert first.box == (10, 20, 90, 100) and first.duration_s == 5.0
        assert [s.id for s in store.query(SightingQuery(since=parse_since("2h")))] == ["s4", "s3", "s2"]
        assert [s.id for s in store.query(SightingQuery(person="Ada Lovelace"))] == ["s3", "s1"]
        assert [s.cluster for s in store.query(SightingQuery(unknown=True))] == ["c7"]
        assert [s.id for s in store.query(SightingQuery(source="desk"))] == ["s3"]
        assert [s.id for s in store.query(SightingQuery(limit=1, snapshots=True))] == ["s4"]
        assert store.query(SightingQuery(person="Robert'); DROP TABLE sightings;--")) == []
        assert store.people() == ["Ada Lovelace", "Grace Hopper"]
        # a visit updated when it ends: same id, new end and name; an update without a snapshot keeps it
        ended = sighting(jpeg, 4, "Grace Hopper", now - timedelta(minutes=1), seconds=42.0).updated(snapshot=b"")
        store.save(ended)
        again = store.query(SightingQuery(person="Grace Hopper", snapshots=True))
        assert len(again) == 1 and again[0].duration_s == 42.0 and again[0].snapshot == jpeg
    with open_sighting_store(tmp_path) as store:      # and it is all there after a restart
        assert len(store.query()) == 4


def test_retention_and_forget(tmp_path, jpeg):
    now = datetime.now().astimezone()
    with open_sighting_store(tmp_path) as store:
        store.save(sighting(jpeg, 1, "Ada", now - timedelta(days=100)))
        store.save(sighting(jpeg, 2, "Ada", now - timedelta(days=10)))
        store.save(sighting(jpeg, 3, None, now))
    with open_sighting_store(tmp_path, retention_days=30) as store:   # purged when opened
        assert [s.id for s in store.query()] == ["s3", "s2"]
        assert store.purge(now - timedelta(days=1)) == 1
        assert store.forget("Ada") == 0 and store.forget(everything=True) == 1
        assert store.query() == []


def test_files_are_owner_only(tmp_path, jpeg):
    with open_sighting_store(tmp_path / "known_faces") as store:
        store.save(sighting(jpeg, 1, "Ada", datetime.now().astimezone()))
        folder = tmp_path / "known_faces" / ".facecam"
        files = sorted(p.name for p in folder.iterdir())
        assert files == [FILE_NAME, FILE_NAME + "-shm", FILE_NAME + "-wal"]
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in files:
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
        assert sqlite3.connect(folder / FILE_NAME).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_damaged_log_is_moved_aside_not_lost(tmp_path, jpeg):
    folder = tmp_path / ".facecam"
    folder.mkdir()
    (folder / FILE_NAME).write_bytes(b"this is not a database " * 100)
    with open_sighting_store(tmp_path) as store:
        assert len(store.warnings) == 1 and "moved to sightings.sqlite.damaged-" in store.warnings[0]
        store.save(sighting(jpeg, 1, "Ada", datetime.now().astimezone()))
        assert len(store.query()) == 1
    aside = [p for p in folder.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")


def test_bad_values_are_refused_on_creation(jpeg):
    now = datetime.now().astimezone()
    with pytest.raises(ValueError, match="time zone"):
        sighting(jpeg, 1, "Ada", datetime.now())
    with pytest.raises(ValueError, match="JPEG"):
        sighting(jpeg, 1, "Ada", now).updated(snapshot=b"GIF89a")
    with pytest.raises(ValueError, match="ended"):
        sighting(jpeg, 1, "Ada", now).updated(ended=now - timedelta(seconds=1))
    with pytest.raises(ValueError, match="choose one"):
        SightingQuery(person="Ada", unknown=True)
    assert parse_since("2026-11-30").hour == 0 and parse_since("90m") < now
    with pytest.raises(ValueError, match="2h"):
        parse_since("yesterday-ish")


WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime, timedelta
    from pathlib import Path
    from facecam.sightings import Sighting
    from facecam.stores import open_sighting_store

    root, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    jpeg = Path(sys.argv[4]).read_bytes()
    store = open_sighting_store(root)
    start = datetime.now().astimezone()
    for n in range(count):
        s = Sighting(id=f"{tag}-{n}", source=tag, started=start, ended=start, t_start=n, t_end=n,
                     name=f"person {n % 7}", distance=0.25, box=(1, 2, 3, 4), snapshot=jpeg)
        store.save(s)                                              # the visit arrives...
        store.save(s.updated(ended=start + timedelta(seconds=n), t_end=n + 1.0))   # ...and ends
        print(s.id, flush=True)                                    # committed: it must survive
    store.close()
""")


def start_writer(root: Path, tag: str, count: int, jpeg_file: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), tag, str(count), str(jpeg_file)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_log(root: Path) -> list[Sighting]:
    db = sqlite3.connect(root / ".facecam" / FILE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with open_sighting_store(root) as store:
        assert store.warnings == []
        return store.query(SightingQuery(snapshots=True))


def test_two_processes_write_at_once(tmp_path, jpeg):
    jpeg_file = tmp_path / "face.jpg"
    jpeg_file.write_bytes(jpeg)
    writers = [start_writer(tmp_path, tag, 150, jpeg_file) for tag in ("a", "b")]
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err
        assert len(out.split()) == 150
    rows = check_log(tmp_path)
    assert len(rows) == 300
    assert all(s.snapshot == jpeg and s.t_end == s.t_start + 1.0 for s in rows)   # every update landed


def test_kill_9_at_any_moment_loses_no_committed_sighting(tmp_path, jpeg):
    jpeg_file = tmp_path / "face.jpg"
    jpeg_file.write_bytes(jpeg)
    rng = random.Random(9)
    promised: set[str] = set()
    for round_ in range(6):
        writers = [start_writer(tmp_path, f"r{round_}{tag}", 100000, jpeg_file) for tag in "xy"]
        first = [writer.stdout.readline() for writer in writers]   # both are writing, however loaded the machine
        time.sleep(rng.uniform(0.0, 1.2))
        for writer in writers:
            os.kill(writer.pid, signal.SIGKILL)
        for writer, line in zip(writers, first):
            writer.wait(timeout=30)
            out = writer.stdout.read()   # through the reader readline used: communicate() would skip what it buffered
            writer.stdout.close()
            writer.stderr.close()
            assert writer.returncode == -signal.SIGKILL
            promised.update((line + out).split())
        rows = check_log(tmp_path)
        found = {s.id for s in rows}
        assert promised <= found, sorted(promised - found)[:5]
        assert all(s.snapshot == jpeg for s in rows)
    assert len(promised) > 50


def test_a_reader_deletes_nothing_and_the_retention_setting_counts(tmp_path, jpeg):
    from facecam.sightings.live import keep_days

    now = datetime.now().astimezone()
    with open_sighting_store(tmp_path, retention_days=365) as store:
        store.save(sighting(jpeg, 1, "Ada", now - timedelta(days=200)))
    with open_sighting_store(tmp_path, retention_days=None) as store:   # `facecam sightings`
        assert len(store.query()) == 1 and store.purge() == 0
    assert keep_days(None, {}) == 90 and keep_days(None, {"sightings_keep_days": 365}) == 365
    assert keep_days(7, {"sightings_keep_days": 365}) == 7
