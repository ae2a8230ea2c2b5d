"""Snapshots and crops encrypted at rest (issue 22): `watch --learn` with FACECAM_KEY set, on a clip of real lfw40
photos (an enrolled person and a stranger), real SFace and YuNet. On disk: no JPEG in the sightings log, the
unknown faces' crops or the learned crops (no JFIF header, nothing OpenCV decodes); through facecam's commands
(`sightings --snapshots`, `unknowns name`, `index`): the same pictures back. A wrong or missing key: one line, exit 1.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from clips import Actor, lfw40_photo, lfw40_visitors, make_lfw40_gallery, one_face_photos, write_clip

KEY = "kT3v0qJxWm2cYB8s1hZ5nE4rLuA9dG6fPiO7wXyQzc0="   # 32 bytes in URL-safe base64
OTHER_KEY = "a passphrase that is not the key"
JFIF = b"JFIF"     # every JPEG facecam writes (OpenCV) has this header; 4 random bytes match it once in 4 GB


def undecodable(data: bytes) -> bool:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None


@pytest.fixture(scope="module")
def sealed_run(tmp_path_factory, model_dir, detector):
    from facecam.cli import main

    folder = tmp_path_factory.mktemp("sealed")
    visitors, enrolled = lfw40_visitors()
    person, stranger = enrolled[1], [p for p in visitors if p not in enrolled][1]
    photos = one_face_photos([person, stranger], detector)
    scene = (Actor(person, photos[0], 0.2, 4.0, 170, 240, sway_px=10, period_s=4.0),
             Actor(stranger, photos[1], 0.2, 4.0, 470, 240, sway_px=10, period_s=4.0))
    clip = folder / "pair.avi"
    write_clip(clip, scene, seconds=4.0, fps=15.0, enrolled=(person,), load_photo=lfw40_photo)
    known = make_lfw40_gallery(folder / "known_faces", [person])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACECAM_KEY", KEY)
        code = main(["watch", "--model", "sface", "--detector", "yunet", "--model-dir", str(model_dir),
                     "--known-faces", str(known), "--source", str(clip), "--learn"])
    assert code == 0
    return SimpleNamespace(known=known, person=person, folder=folder,
                           args=("--model", "sface", "--detector", "yunet", "--model-dir", str(model_dir),
                                 "--known-faces", str(known)))


def test_nothing_on_disk_is_a_jpeg(sealed_run):
    from facecam.sealed import is_sealed

    facecam = sealed_run.known / ".facecam"
    log = facecam / "sightings.sqlite"
    with sqlite3.connect(log) as db:
        blobs = [bytes(row[0]) for row in db.execute("SELECT snapshot FROM sightings")]
    assert len(blobs) >= 2 and all(is_sealed(b) and undecodable(b) for b in blobs)
    crops = sorted((facecam / "unknowns").glob("*/crops/*.jpg"))
    learned = sorted((sealed_run.known / sealed_run.person / ".learned").glob("*.jpg"))
    assert crops and learned, (crops, learned)
    for path in [log, *log.parent.glob("sightings.sqlite-*"), *crops, *learned]:
        data = path.read_bytes()
        assert JFIF not in data, path
    for path in crops + learned:
        assert is_sealed(path.read_bytes()) and undecodable(path.read_bytes()), path


def test_facecam_reads_them_back_with_the_key(sealed_run, cli, monkeypatch, tmp_path):
    monkeypatch.setenv("FACECAM_KEY", KEY)
    code, out, err = cli("sightings", "--known-faces", sealed_run.known, "--json", "--snapshots", tmp_path / "snaps")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["type"] for r in rows} == {"known", "unknown"}
    for row in rows:
        data = (tmp_path / "snaps" / f"{row['id']}.jpg").read_bytes()
        assert JFIF in data and not undecodable(data)
    # the gallery reads the learned crops (each a photo with a face), nothing skipped
    code, out, err = cli("index", *sealed_run.args, "--json")
    assert code == 0, err
    assert "skipped" not in err.lower() and "encrypted" not in err + out, err
    # Who's this?: naming the stranger saves their crops as ordinary photos in known_faces
    code, out, err = cli("unknowns", "--known-faces", sealed_run.known, "--model", "sface", "--json")
    assert code == 0, err
    cluster = json.loads(out)["clusters"][0]["id"]
    code, out, err = cli("unknowns", "name", cluster, "Stranger Named", *sealed_run.args, "--json")
    assert code == 0, err
    saved = json.loads(out)["files"]
    assert saved and all(JFIF in Path(name).read_bytes() and Path(name).parent.name == "Stranger Named" for name in saved)


@pytest.mark.parametrize("key, why", [(OTHER_KEY, "another key"), (None, "FACECAM_KEY is not set")])
def test_a_wrong_or_missing_key_is_one_line(sealed_run, cli, monkeypatch, tmp_path, key, why):
    if key is None:
        monkeypatch.delenv("FACECAM_KEY", raising=False)
    else:
        monkeypatch.setenv("FACECAM_KEY", key)
    code, out, err = cli("sightings", "--known-faces", sealed_run.known, "--snapshots", tmp_path / "snaps")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and why in err and "Traceback" not in err, err
    assert not (tmp_path / "snaps").exists() or not any((tmp_path / "snaps").iterdir())
    code, out, err = cli("sightings", "--known-faces", sealed_run.known, "--json")   # the rows need no key
    assert code == 0 and out.strip(), err
    # a gallery indexed afresh: the learned crop is skipped with that reason, the person's own photos are used
    fresh = tmp_path / "known_faces"
    shutil.copytree(sealed_run.known / sealed_run.person, fresh / sealed_run.person)
    code, out, err = cli("index", *sealed_run.args[:-1], fresh)
    assert code == 0, err
    skipped = [line for line in (out + err).splitlines() if ".learned" in line]
    assert len(skipped) == 1 and why in skipped[0] and "3 photos" in out, out + err


def test_the_setting_refuses_to_write_without_a_key(cli, monkeypatch, tmp_path, model_dir):
    from facecam import config

    monkeypatch.delenv("FACECAM_KEY", raising=False)
    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(tmp_path / "config"))   # this test's settings only
    config.save_settings({"encrypt_snapshots": True})
    code, out, err = cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", tmp_path,
                         "--source", "0")   # checked before any camera opens
    assert code == 1 and len(err.strip().splitlines()) == 1 and "encrypt_snapshots" in err, err
    assert not (tmp_path / ".facecam").exists()


def test_seal_and_unseal():
    from facecam.errors import FacecamError
    from facecam.sealed import KeyProblem, seal, unseal

    jpeg = cv2.imencode(".jpg", lfw40_photo(Actor(lfw40_visitors()[0][0], 1, 0, 1, 0, 0)))[1].tobytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FACECAM_KEY", raising=False)
        assert seal(jpeg) is jpeg and unseal(jpeg) is jpeg     # no key: written and read as before
        for key in (KEY, OTHER_KEY):                            # a key, or a passphrase (scrypt)
            patch.setenv("FACECAM_KEY", key)
            sealed = seal(jpeg)
            assert sealed != seal(jpeg) and undecodable(sealed) and JFIF not in sealed   # a fresh nonce each time
            assert unseal(sealed) == jpeg and unseal(jpeg) == jpeg                       # old plain files still read
        damaged = bytearray(sealed)
        damaged[-5] ^= 1
        with pytest.raises(KeyProblem, match="damaged"):
            unseal(bytes(damaged), "the crop")
        patch.setenv("FACECAM_KEY", KEY)
        with pytest.raises(KeyProblem, match="another key") as caught:
            unseal(sealed, "the crop")
        assert isinstance(caught.value, FacecamError) and "\n" not in str(caught.value)


def test_the_unknown_faces_outbox_keeps_its_crops_sealed(tmp_path, monkeypatch):
    """`--db` while the server is away: the unknown faces wait in a local SQLite outbox, their crops sealed too."""
    from facecam.db.unknowns import EncodedSighting
    from facecam.db.unknowns_outbox import UnknownOutbox

    jpeg = cv2.imencode(".jpg", lfw40_photo(Actor(lfw40_visitors()[0][2], 1, 0, 1, 0, 0)))[1].tobytes()
    vector = np.ones(128, np.float32) / np.sqrt(128)
    queued = EncodedSighting(("s1", "door", 1, 0.0, 1.0, 1000.0, 1001.0, vector, None),
                             ((0, 0.5, 15, (10.0, 10.0, 90.0, 90.0), 0.8, vector, jpeg),))
    monkeypatch.setenv("FACECAM_KEY", KEY)
    outbox = UnknownOutbox(tmp_path / "outbox.sqlite")
    try:
        outbox.put(queued, pinned=False)
        with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
            stored = bytes(db.execute("SELECT jpeg FROM queued_crops").fetchone()[0])
        assert JFIF not in stored and undecodable(stored)
        [(sighting_id, (back, _pinned))] = outbox.items()
        assert sighting_id == "s1" and back.crops[0][-1] == jpeg     # sent to the database as the JPEG it was
    finally:
        outbox.close()


def test_people_export_gives_the_sealed_crops_and_snapshots_as_jpegs(sealed_run, cli, monkeypatch, tmp_path):
    """"What do you hold on me" with FACECAM_KEY set: the archive holds their learned crops and visit snapshots as
    JPEGs (decrypted), not the sealed bytes only this machine's key opens."""
    import zipfile

    monkeypatch.setenv("FACECAM_KEY", KEY)
    archive = tmp_path / "person.zip"
    code, out, err = cli("people", "export", archive, "--name", sealed_run.person, "--known-faces", sealed_run.known)
    assert code == 0, err
    with zipfile.ZipFile(archive) as opened:
        images = {name: opened.read(name) for name in opened.namelist() if name.endswith(".jpg")}
    learned = [n for n in images if "/learned/" in n]
    visits = [n for n in images if n.startswith("subject/visits/")]
    assert learned and visits, sorted(images)
    assert all(JFIF in images[n] and not undecodable(images[n]) for n in learned + visits)


def test_people_import_keeps_learned_crops_sealed_and_adds_nothing_twice(sealed_run, cli, monkeypatch, tmp_path):
    """An archive imported with FACECAM_KEY set writes its learned crops sealed, as `--learn` does (its photos stay
    the user's own JPEGs); importing it again finds them there (compared as JPEGs) and adds nothing."""
    from facecam.sealed import is_sealed

    monkeypatch.setenv("FACECAM_KEY", KEY)
    archive = tmp_path / "all.zip"
    code, _, err = cli("people", "export", archive, "--known-faces", sealed_run.known)
    assert code == 0, err
    target = tmp_path / "known_faces"
    for attempt in range(2):
        code, out, err = cli("people", "import", archive, "--known-faces", target, "--json")
        assert code == 0, err
    learned = sorted((target / sealed_run.person / ".learned").iterdir())
    assert learned and all(is_sealed(p.read_bytes()) and undecodable(p.read_bytes()) for p in learned)
    assert len(learned) == len(list((sealed_run.known / sealed_run.person / ".learned").iterdir()))
    photos = [p for p in (target / sealed_run.person).iterdir() if p.is_file()]
    assert photos and all(JFIF in p.read_bytes() for p in photos)
