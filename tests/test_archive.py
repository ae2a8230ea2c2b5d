"""Backing up and moving a gallery (issue 22): ``facecam people export`` / ``import``, through a folder and through
a real PostgreSQL (pgserver), with real lfw photos and the real MTCNN + SFace; damaged and hostile archives are
refused with one line and nothing written (the folder tree compared byte for byte, the database's rows counted)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from conftest import LFW10
from servers import db_url, postgres  # noqa: F401 - fixtures

PEOPLE = ("Tony_Blair", "George_W_Bush", "Colin_Powell", "Hugo_Chavez")
ENROLLED = 3   # each person's first photos are enrolled, the next three are the hold-out photos


def photos_of(person: str) -> list[Path]:
    return sorted((LFW10 / person).glob("*.jpg"))


def sface(model_dir) -> list:
    return ["--model", "sface", "--model-dir", model_dir]


def make_known(root: Path, learned: bool = True) -> Path:
    """known_faces with 3 photos of each person, one of them in a sub-folder, and (``learned``) a learned crop."""
    for person in PEOPLE:
        folder = root / person
        (folder / "2019").mkdir(parents=True)
        first, *rest = photos_of(person)[:ENROLLED]
        shutil.copy(first, folder / "2019")
        for photo in rest:
            shutil.copy(photo, folder)
    if learned:
        (root / "Hugo_Chavez" / ".learned").mkdir(mode=0o700)
        shutil.copy(photos_of("Hugo_Chavez")[8], root / "Hugo_Chavez" / ".learned" / "learned-20261207-010203.jpg")
    return root


def hold_out() -> list[Path]:
    return [p for person in PEOPLE for p in photos_of(person)[ENROLLED:ENROLLED + 3]] + photos_of("Vladimir_Putin")[:2]


def identify(cli, *argv) -> dict[str, list]:
    code, out, err = cli("identify", "--json", *argv, *hold_out())
    assert code == 0, err
    return {Path(row["image"]).name: [(face["name"], face["distance"]) for face in row["faces"]]
            for row in map(json.loads, out.splitlines())}


def tree(root: Path) -> dict | None:
    """Everything under ``root`` (hidden files too, links not followed): path -> (mode, bytes or None)."""
    if not root.exists():
        return None
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        state[str(path.relative_to(root))] = (info.st_mode, path.read_bytes() if stat.S_ISREG(info.st_mode) else None)
    return state


def contents(root: Path) -> dict[str, list[str]]:
    """Each person's files as the sha256 of their bytes (own photos and learned crops apart), sorted."""
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [p for p in folder.rglob("*") if p.is_file()]
        out[folder.name] = sorted(("learned " if p.parent.name == ".learned" else "") +
                                  hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
    return out


# ---------------------------------------------------------------- the round trips

def test_export_then_import_into_an_empty_folder_names_the_hold_out_photos_at_the_same_distances(cli, tmp_path,
                                                                                                 model_dir):
    known = make_known(tmp_path / "known_faces")
    before = identify(cli, *sface(model_dir), "--known-faces", known)
    archive = tmp_path / "backup.zip"
    code, out, err = cli("people", "export", "--json", "--known-faces", known, archive)
    assert code == 0, err
    assert json.loads(out)["people"] == sorted(PEOPLE) and json.loads(out)["learned"] == 1
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600   # faces: owner-only
    with zipfile.ZipFile(archive) as z:
        manifest = json.loads(z.read("manifest.json"))
        assert manifest["facecam_version"] and manifest["format"] == "facecam-archive"
        assert set(manifest["members"]) == set(z.namelist()) - {"manifest.json", "manifest.sha256"}
        assert all(hashlib.sha256(z.read(m)).hexdigest() == v["sha256"] for m, v in manifest["members"].items())

    moved = tmp_path / "elsewhere" / "known_faces"
    code, out, err = cli("people", "import", "--json", "--known-faces", moved, archive)
    assert code == 0, err
    assert json.loads(out)["mode"] == "merge"
    assert contents(moved) == contents(known)
    assert stat.S_IMODE((moved / "Hugo_Chavez" / ".learned").stat().st_mode) == 0o700
    after = identify(cli, *sface(model_dir), "--known-faces", moved)
    assert after == before
    assert [faces[0][0] for faces in after.values()] == [p for p in PEOPLE for _ in range(3)] + [None, None]
    assert not list((moved / ".facecam").glob("importing-*"))   # the staging folder is gone

    # merge again: nothing new; --replace: exactly the archive's photos, the old folder kept aside
    code, out, err = cli("people", "import", "--known-faces", moved, archive)
    assert code == 0 and "0 photo(s) and 0 learned crop(s) added, 13 already there" in out, (out, err)
    extra = moved / "Tony_Blair" / "extra.jpg"
    shutil.copy(photos_of("Tony_Blair")[9], extra)
    code, out, err = cli("people", "import", "--replace", "--known-faces", moved, archive)
    assert code == 0, err
    assert contents(moved) == contents(known) and not extra.exists()
    assert list((moved / ".facecam" / "removed").glob("Tony_Blair-*/Tony_Blair/extra.jpg"))


def test_local_to_database_and_back_names_the_hold_out_photos_as_before(cli, tmp_path, model_dir, db_url):  # noqa: F811
    """local -> archive -> import --db (an empty database): the same names and distances as the folder; the
    database -> export --db -> an empty folder: the same names (its photos are the database's face thumbnails,
    embedded again, so distances move a little: measured below)."""
    known = make_known(tmp_path / "known_faces", learned=False)
    before = identify(cli, *sface(model_dir), "--known-faces", known)
    archive = tmp_path / "backup.zip"
    assert cli("people", "export", "--known-faces", known, archive)[0] == 0
    code, out, err = cli("people", "import", "--json", *sface(model_dir), "--db", db_url, archive)
    assert code == 0, err
    assert {n: c["photos"] for n, c in json.loads(out)["people"].items()} == {p: ENROLLED for p in PEOPLE}
    empty = tmp_path / "empty"
    empty.mkdir()
    from_db = identify(cli, *sface(model_dir), "--db", db_url, "--known-faces", empty / "known_faces")
    assert from_db == before
    assert not (empty / "known_faces").exists()
    code, out, err = cli("people", "import", "--json", *sface(model_dir), "--db", db_url, archive)
    assert code == 0 and sum(c["already"] for c in json.loads(out)["people"].values()) == 12, err   # merge: once

    back = tmp_path / "back.zip"
    code, out, err = cli("people", "export", "--json", "--db", db_url, back)
    assert code == 0, err
    assert json.loads(out)["people"] == sorted(PEOPLE) and json.loads(out)["photos"] == 12
    local = tmp_path / "local" / "known_faces"
    assert cli("people", "import", "--known-faces", local, back)[0] == 0
    again = identify(cli, *sface(model_dir), "--known-faces", local)
    assert [[n for n, _ in f] for f in again.values()] == [[n for n, _ in f] for f in before.values()]
    named = [(a[0][1], b[0][1]) for a, b in zip(again.values(), before.values()) if a and a[0][0] is not None]
    drift = max(abs(x - y) for x, y in named)
    print(f"database -> folder: {len(named)} hold-out faces named alike, largest distance change {drift:.4f}")
    assert drift < 0.05


def test_a_refused_archive_leaves_the_database_untouched(cli, tmp_path, model_dir, db_url):  # noqa: F811
    from facecam.stores import open_stores

    known = make_known(tmp_path / "known_faces", learned=False)
    archive = tmp_path / "backup.zip"
    assert cli("people", "export", "--known-faces", known, archive)[0] == 0
    damaged = tmp_path / "damaged.zip"
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0xFF
    damaged.write_bytes(bytes(data))
    code, _, err = cli("people", "import", *sface(model_dir), "--db", db_url, damaged)
    assert code == 1 and err.count("\n") == 1 and "nothing was written" in err, err
    stores = open_stores(tmp_path / "known_faces", db_url)
    try:
        assert stores.database().gallery_photos() == []
    finally:
        stores.close()


# ---------------------------------------------------------------- damaged and hostile archives

def craft(path: Path, files: dict[str, bytes], people: list[dict], *, links: dict[str, str] | None = None,
          listed_sha: dict[str, str] | None = None) -> Path:
    """An archive as an attacker (or a broken disk) would make it: a manifest that lists ``files`` with their
    real checksums (or ``listed_sha``) and a matching manifest.sha256; ``links``: symlink members."""
    members = {name: {"sha256": (listed_sha or {}).get(name, hashlib.sha256(data).hexdigest()), "size": len(data)}
               for name, data in {**files, **{k: v.encode() for k, v in (links or {}).items()}}.items()}
    manifest = json.dumps({"format": "facecam-archive", "format_version": 1, "facecam_version": "0",
                           "people": people, "members": members}).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
        z.writestr("manifest.json", manifest)
        z.writestr("manifest.sha256", hashlib.sha256(manifest).hexdigest())
    return path


def rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the archive ``source`` with ``change(name, data)`` -> new data, or None to leave a member out."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
    return target


@pytest.fixture
def good_archive(cli, tmp_path) -> Path:
    known = make_known(tmp_path / "source" / "known_faces")
    archive = tmp_path / "good.zip"
    assert cli("people", "export", "--known-faces", known, archive)[0] == 0
    return archive


def damaged_archives(good: Path, folder: Path) -> dict[str, Path]:
    data = good.read_bytes()
    with zipfile.ZipFile(good) as z:
        photo = next(n for n in z.namelist() if n.endswith(".jpg"))
        photo_bytes = z.read(photo)
    out = {"truncated": folder / "truncated.zip", "flipped byte": folder / "flipped.zip"}
    out["truncated"].write_bytes(data[: len(data) * 2 // 3])
    flipped = bytearray(data)
    flipped[data.find(photo_bytes[1000:1100]) + 50] ^= 0x01   # inside a stored photo: its CRC no longer matches
    out["flipped byte"].write_bytes(bytes(flipped))
    out["not a zip"] = folder / "text.zip"
    out["not a zip"].write_text("hello")
    out["checksum mismatch"] = rewrite(good, folder / "changed.zip",
                                       lambda n, d: d[:-10] + bytes(10) if n == photo else d)
    out["tampered manifest"] = rewrite(good, folder / "tampered.zip",
                                       lambda n, d: d.replace(b"Colin_Powell", b"Colin_Powel2") if n == "manifest.json"
                                       else d)
    out["missing member"] = rewrite(good, folder / "missing.zip", lambda n, d: None if n == photo else d)
    out["unlisted member"] = rewrite(good, folder / "extra.zip", lambda n, d: d)
    with zipfile.ZipFile(out["unlisted member"], "a") as z:
        z.writestr("people/Tony_Blair/photos/smuggled.jpg", photo_bytes)
    return out


def hostile_archives(folder: Path) -> dict[str, Path]:
    jpeg = photos_of("Tony_Blair")[0].read_bytes()
    person = [{"name": "Tony_Blair", "photos": ["people/Tony_Blair/photos/a.jpg"], "learned": []}]
    ok = {"people/Tony_Blair/photos/a.jpg": jpeg}
    out = {}
    for label, member in (("dot-dot", "../../evil.jpg"), ("absolute", "/tmp/evil.jpg"),
                          ("backslash", "..\\..\\evil.jpg"), ("drive", "C:/evil.jpg"),
                          ("inner dot-dot", "people/Tony_Blair/../../../evil.jpg")):
        out[label] = craft(folder / f"{label}.zip", {**ok, member: jpeg},
                           [{"name": "Tony_Blair", "photos": ["people/Tony_Blair/photos/a.jpg", member], "learned": []}])
    out["symlink"] = craft(folder / "link.zip", ok, [{**person[0], "photos": person[0]["photos"] +
                                                      ["people/Tony_Blair/photos/b.jpg"]}],
                           links={"people/Tony_Blair/photos/b.jpg": "/etc/passwd"})
    for label, name in (("name ..", ".."), ("name with a slash", "../outside"), ("hidden name", ".facecam"),
                        ("name with a control character", "Ada\x00Lovelace"), ("reserved name", "CON"),
                        ("name not text", 7)):
        out[label] = craft(folder / f"name-{len(out)}.zip", ok, [{**person[0], "name": name}])
    out["zip bomb"] = craft(folder / "bomb.zip", {**ok, "people/Tony_Blair/photos/big.jpg": bytes(60 << 20)},
                            [{**person[0], "photos": person[0]["photos"] + ["people/Tony_Blair/photos/big.jpg"]}])
    out["not a photo"] = craft(folder / "script.zip", {**ok, "people/Tony_Blair/photos/run.sh": b"#!/bin/sh\n"},
                               [{**person[0], "photos": person[0]["photos"] + ["people/Tony_Blair/photos/run.sh"]}])
    return out


REASONS = {   # why each is refused: the one line says it
    "truncated": "not a readable zip", "flipped byte": "the archive is damaged", "not a zip": "not a readable zip",
    "checksum mismatch": "does not match its checksum", "tampered manifest": "manifest.json does not match",
    "missing member": "is missing", "unlisted member": "is not in the manifest",
    "dot-dot": "with '..'", "absolute": "an absolute", "backslash": "Windows path", "drive": "Windows path",
    "inner dot-dot": "with '..'", "symlink": "is a link", "name ..": "starts with a dot",
    "name with a slash": "contains one of", "hidden name": "starts with a dot", "name with a control character":
    "control character", "reserved name": "reserved file name", "name not text": "not text", "zip bomb": "zip bomb",
    "not a photo": "not a photo file name",
}


def test_damaged_and_hostile_archives_are_refused_in_one_line_and_nothing_is_written(cli, tmp_path, good_archive):
    known = make_known(tmp_path / "known_faces")
    (known / ".facecam").mkdir(mode=0o700)
    (known / ".facecam" / "sightings.sqlite").write_bytes(b"kept as it is")
    before = tree(tmp_path)
    (tmp_path / "bad").mkdir()
    cases = {**damaged_archives(good_archive, tmp_path / "bad"), **hostile_archives(tmp_path / "bad")}
    snapshot = tree(tmp_path)
    assert {k: v for k, v in snapshot.items() if not k.startswith("bad")} == before
    for label, archive in cases.items():
        for target in (known, tmp_path / "new" / "known_faces"):
            code, out, err = cli("people", "import", "--known-faces", target, archive)
            assert code == 1 and out == "" and err.count("\n") == 1, (label, err)
            assert err.startswith(f"facecam: error: cannot import {archive}: ") and "nothing was written" in err, \
                (label, err)
            assert REASONS[label] in err, (label, err)
            assert tree(tmp_path) == snapshot, label   # not a byte, not a folder, anywhere
    assert not (tmp_path.parent / "evil.jpg").exists() and not Path("/tmp/evil.jpg").exists()
    code, _, err = cli("people", "import", "--known-faces", known, tmp_path / "nowhere.zip")
    assert code == 1 and "no such file" in err


def test_member_count_and_total_size_are_capped(tmp_path, monkeypatch):
    from facecam import archive as archive_module
    from facecam.archive import ArchiveError, CheckedArchive

    jpeg = photos_of("Tony_Blair")[0].read_bytes()
    files = {f"people/Tony_Blair/photos/{n}.jpg": jpeg for n in range(12)}
    archive = craft(tmp_path / "many.zip", files, [{"name": "Tony_Blair", "photos": list(files), "learned": []}])
    with CheckedArchive(archive) as checked:
        assert len(checked.people[0].photos) == 12
    with pytest.raises(ArchiveError, match="more than the 10 allowed"):
        CheckedArchive(archive, max_members=10)
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        CheckedArchive(archive, max_total=len(jpeg) * 5)
    monkeypatch.setattr(archive_module, "MAX_MEMBER_BYTES", len(jpeg) - 1)   # one member: at most a photo's size
    with pytest.raises(ArchiveError, match="more than a photo facecam reads"):
        CheckedArchive(archive)


def test_an_archive_member_that_unpacks_past_its_listed_size_is_refused(tmp_path):
    """The manifest says 100 bytes; the member unpacks to 1 MB: reading stops at 100 (no bomb is unpacked)."""
    from facecam.archive import ArchiveError, CheckedArchive

    name = "people/Tony_Blair/photos/a.jpg"
    archive = craft(tmp_path / "liar.zip", {name: bytes(1 << 20)}, [{"name": "Tony_Blair", "photos": [name]}])
    with zipfile.ZipFile(archive) as z:
        manifest = json.loads(z.read("manifest.json"))
    manifest["members"][name]["size"] = 100
    text = json.dumps(manifest).encode()
    rewrite(archive, tmp_path / "liar2.zip", lambda n, d: text if n == "manifest.json" else
            hashlib.sha256(text).hexdigest().encode() if n == "manifest.sha256" else d)
    with pytest.raises(ArchiveError, match="unpacks to more than it says"):
        CheckedArchive(tmp_path / "liar2.zip")


# ---------------------------------------------------------------- "what do you hold on me"

def test_export_name_holds_their_photos_visits_snapshots_and_the_unknown_visits_named_as_them(cli, tmp_path,
                                                                                              model_dir):
    """A real watch over a clip (one enrolled person, two strangers), a stranger named from "Who's this?", a
    second watch that now names him: export --name gives his photos, both kinds of visits with their snapshots
    and a readable summary, and nothing of anyone else."""
    from visits import LFW40, make_gallery, plan_visits, truth_of, write_visits_clip

    def lfw40(person):
        return sorted((LFW40 / person).glob("*.jpg"))

    known = make_gallery(tmp_path / "known_faces", {"Harrison_Ford": lfw40("Harrison_Ford")[:3]})
    visits = plan_visits({"Jeb_Bush": lfw40("Jeb_Bush")[:3], "Rubens_Barrichello": lfw40("Rubens_Barrichello")[:2]},
                         {"Harrison_Ford": lfw40("Harrison_Ford")[3:5]})
    clip = tmp_path / "visits.avi"
    write_visits_clip(clip, visits)
    common = [*sface(model_dir), "--known-faces", known]
    code, _, err = cli("watch", *common, "--source", clip)
    assert code == 0, err
    code, out, err = cli("unknowns", "--json", *common)
    assert code == 0, err
    clusters = json.loads(out)["clusters"]
    jeb = max((c for c in clusters if "Jeb_Bush" in truth_of(visits, [(s["t"], s["box"]) for s in c["sightings"]])),
              key=lambda c: c["faces"])
    code, out, err = cli("unknowns", "name", *common, "--json", jeb["id"], "Jeb Bush")
    assert code == 0, err
    photos = json.loads(out)["files"]
    code, _, err = cli("watch", *common, "--source", clip)   # he comes again: now by name
    assert code == 0, err
    code, out, err = cli("sightings", "--json", "--known-faces", known)
    assert code == 0, err
    logged = [json.loads(line) for line in out.splitlines()]
    his = [row for row in logged if row["name"] == "Jeb Bush"]
    as_unknown = [row for row in logged if row["name"] is None and row["cluster"] == jeb["id"]]
    assert his and as_unknown

    archive = tmp_path / "jeb.zip"
    code, out, err = cli("people", "export", "--json", "--known-faces", known, "--name", "Jeb Bush", archive)
    assert code == 0, err
    assert json.loads(out)["people"] == ["Jeb Bush"] and json.loads(out)["photos"] == len(photos)
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        summary = json.loads(z.read("subject/summary.json"))
        table = list(csv.DictReader(io.StringIO(z.read("subject/visits.csv").decode())))
        assert summary["name"] == "Jeb Bush" and summary["merged_clusters"] == [jeb["id"]]
        assert sorted(v["id"] for v in summary["visit_list"]) == sorted(r["id"] for r in his)
        assert sorted(v["id"] for v in summary["unknown_visit_list"]) == sorted(r["id"] for r in as_unknown)
        assert len(table) == len(his) + len(as_unknown)
        for visit in summary["visit_list"] + summary["unknown_visit_list"]:
            assert z.read(visit["snapshot"]).startswith(b"\xff\xd8")   # the JPEG snapshot itself
        assert sorted(n for n in names if n.startswith("people/")) == sorted(
            f"people/Jeb Bush/photos/{Path(p).name}" for p in photos)
    assert not any("Harrison" in n or "Rubens" in n for n in names)
    assert not any(row["name"] == "Harrison_Ford" for row in table)
    code, _, err = cli("people", "export", "--known-faces", known, "--name", "Nobody Here", tmp_path / "no.zip")
    assert code == 1 and "holds nothing on 'Nobody Here'" in err and not (tmp_path / "no.zip").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".no.zip")]   # no temporary file left


def test_database_replace_and_what_the_database_holds_on_someone(cli, tmp_path, model_dir, db_url):  # noqa: F811
    """--replace into the database: the person ends with exactly the archive's photos, the others untouched;
    export --db --name: their photos (thumbnails) and their visits and snapshots from the database's log, and the
    unknown visits of a cluster named as them."""
    from datetime import datetime, timedelta, timezone

    from facecam.sightings.model import Sighting
    from facecam.stores import open_stores
    from facecam.unknowns.merged import record

    known = make_known(tmp_path / "known_faces", learned=False)
    archive = tmp_path / "all.zip"
    assert cli("people", "export", "--known-faces", known, archive)[0] == 0
    assert cli("people", "import", *sface(model_dir), "--db", db_url, archive)[0] == 0
    one = tmp_path / "one" / "known_faces"
    (one / "Tony_Blair").mkdir(parents=True)
    shutil.copy(photos_of("Tony_Blair")[9], one / "Tony_Blair")
    assert cli("people", "export", "--known-faces", one, tmp_path / "one.zip")[0] == 0
    code, out, err = cli("people", "import", "--json", "--replace", *sface(model_dir), "--db", db_url,
                         tmp_path / "one.zip")
    assert code == 0, err
    assert json.loads(out)["people"]["Tony_Blair"] == {"photos": 1, "learned": 0, "already": 0, "no_face": 0,
                                                       "replaced": ENROLLED}
    stores = open_stores(known, db_url)
    try:
        held = {}
        for photo in stores.database().gallery_photos():
            held[photo.person] = held.get(photo.person, 0) + 1
        assert held == {"Tony_Blair": 1, "George_W_Bush": 3, "Colin_Powell": 3, "Hugo_Chavez": 3}
        now = datetime.now(timezone.utc)
        snapshot = photos_of("Tony_Blair")[5].read_bytes()
        log = stores.sightings(retention_days=None)
        for n, (name, cluster) in enumerate((("Tony_Blair", None), ("Tony_Blair", None), (None, "c0ffee"),
                                             ("Colin_Powell", None), (None, "other"))):
            log.save(Sighting(f"visit-{n}", "front door", now - timedelta(minutes=10 - n), now - timedelta(minutes=9 - n),
                              float(n), n + 1.0, name=name, cluster=cluster, distance=0.2 if name else None,
                              box=(1, 2, 30, 30), snapshot=snapshot))
        log.close()
    finally:
        stores.close()
    record(known, [("c0ffee", "Tony_Blair")])
    subject = tmp_path / "tony.zip"
    code, out, err = cli("people", "export", "--db", db_url, "--known-faces", known, "--name", "Tony_Blair", subject)
    assert code == 0, err
    with zipfile.ZipFile(subject) as z:
        summary = json.loads(z.read("subject/summary.json"))
        assert [v["id"] for v in summary["visit_list"]] == ["visit-0", "visit-1"]
        assert [v["id"] for v in summary["unknown_visit_list"]] == ["visit-2"]
        assert all(z.read(v["snapshot"]) == snapshot for v in summary["visit_list"] + summary["unknown_visit_list"])
        assert len(summary["photos"]) == 1 and summary["photos"][0].startswith("people/Tony_Blair/photos/")
        assert not [n for n in z.namelist() if "Colin" in n or "visit-3" in n or "visit-4" in n]
