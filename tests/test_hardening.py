"""Hostile photos, damaged files, disk faults: nothing crashes, nothing is lost (issue: hardening)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import LFW10, SFACE_DEFAULT
from facecam.errors import EnrollError

BLAIR = LFW10 / "Tony_Blair" / "Tony_Blair_0001.jpg"


def sface(model_dir, known):
    return ["--model", "sface", "--model-dir", str(model_dir), "--known-faces", str(known)]


def bad_corpus(root: Path) -> dict[str, str]:
    """known_faces full of odd files; returns {relative path: expected fragment of the reason} for the bad ones."""
    good = root / "Good Person"
    good.mkdir(parents=True)
    shutil.copy(BLAIR, good / "plain.jpg")
    face = cv2.imread(str(BLAIR))
    cv2.imwrite(str(good / "grey.png"), cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(good / "sixteen.png"), face.astype(np.uint16) * 257)
    cv2.imwrite(str(good / "alpha.png"), cv2.cvtColor(face, cv2.COLOR_BGR2BGRA))
    rgb = Image.fromarray(cv2.cvtColor(face, cv2.COLOR_BGR2RGB))
    rgb.convert("CMYK").save(good / "cmyk.jpg", "JPEG")
    rgb.save(good / "webp-named.jpg", "WEBP")
    # a phone photo: pixels stored sideways, EXIF says "rotate 90 degrees clockwise to view"
    sideways = rgb.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(good / "phone.jpg", "JPEG", exif=exif.tobytes())
    (root / "José Müller").mkdir()
    shutil.copy(LFW10 / "Jacques_Chirac" / "Jacques_Chirac_0001.jpg", root / "José Müller" / "été.jpg")
    shutil.copy(LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0001.jpg", root / "李雷.jpg")
    # a group photo of ten faces (2 rows of 5 LFW crops)
    crops = [cv2.resize(cv2.imread(str(p))[40:210, 40:210], (160, 160))
             for p in sorted(LFW10.glob("*/*_0002.jpg"))[:10]]
    cv2.imwrite(str(root / "Group.jpg"), np.vstack([np.hstack(crops[:5]), np.hstack(crops[5:])]))

    bad = root / "Bad Files"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "truncated.jpg").write_bytes(BLAIR.read_bytes()[:3000])
    (bad / "text.jpg").write_text("I am not a photo")
    (bad / "folder.jpg").mkdir()
    os.symlink("loop.jpg", bad / "loop.jpg")
    cv2.imwrite(str(bad / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(bad / "wall.png"), np.full((300, 300, 3), 120, np.uint8))
    return {
        "Bad Files/empty.jpg": "empty",
        "Bad Files/truncated.jpg": "truncated",
        "Bad Files/text.jpg": "text file",
        "Bad Files/loop.jpg": "link",
        "Bad Files/tiny.png": "too small",
        "Bad Files/wall.png": "no face found",
    }


def test_index_survives_a_corpus_of_bad_photos(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    expected = bad_corpus(known)
    code, out, err = cli("index", "--json", *sface(model_dir, known))
    assert code == 0, err
    report = json.loads(out)
    skipped = {str(Path(s["file"]).relative_to(known)): s["reason"] for s in report["skipped"]}
    for name, fragment in expected.items():
        assert name in skipped, f"{name} not reported; skipped: {skipped}"
        assert fragment in skipped[name], (name, skipped[name])
    assert len(skipped) == len(expected), skipped
    # every good photo indexed, the phone photo turned upright first (a sideways face is not found)
    assert report["people"] == {"Good Person": 7, "Group": 1, "José Müller": 1, "李雷": 1}
    several = {Path(s["file"]).name: s["faces"] for s in report["several_faces"]}
    assert several["Group.jpg"] >= 8


def test_upright_phone_photo_matches_its_person(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    bad_corpus(known)
    code, out, err = cli("identify", "--json", *sface(model_dir, known), known / "Good Person" / "phone.jpg")
    assert code == 0, err
    assert json.loads(out)["faces"][0]["name"] == "Good Person"


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"<!DOCTYPE html><html>404 Not Found</html>", "HTML"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 5000, "damaged"),
])
def test_damaged_vggface_weights_give_one_clear_line(cli, tmp_path, content, fragment):
    weights = tmp_path / "vgg_face_weights.h5"
    weights.write_bytes(content)
    code, out, err = cli("verify", "--weights", weights, BLAIR, BLAIR)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facecam: error: ")
    assert fragment.lower() in lines[0].lower() and ("download" in lines[0] or "--weights" in lines[0])


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_enroll_disk_full_or_read_only_leaves_nothing_behind(cli, tmp_path, model_dir, monkeypatch, failure):
    import facecam.fileutil

    known = tmp_path / "known_faces"
    (known / "Ann").mkdir(parents=True)
    shutil.copy(BLAIR, known / "Ann" / "Tony_Blair_0001.jpg")
    before = (known / "Ann" / "Tony_Blair_0001.jpg").read_bytes()

    def refuse(*_args, **_kwargs):
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(facecam.fileutil.os, "link", refuse)
    code, _, err = cli("enroll", *sface(model_dir, known), "Ann", BLAIR)
    assert code == 1
    assert os.strerror(failure) in err and "check" in err
    assert sorted(p.name for p in (known / "Ann").iterdir()) == ["Tony_Blair_0001.jpg"]  # no temp file left
    assert (known / "Ann" / "Tony_Blair_0001.jpg").read_bytes() == before                # nothing overwritten


def test_settings_and_cache_are_owner_only(tmp_path):
    from facecam.config import load_settings, save_settings, settings_path

    path = save_settings({"thresholds": {"sface": 0.5}})
    assert path == settings_path() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings()["thresholds"]["sface"] == 0.5


def test_garbage_settings_are_ignored():
    from facecam.config import settings_path, threshold_for

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{not json")
    assert threshold_for("sface") == SFACE_DEFAULT
    settings_path().write_text(json.dumps({"thresholds": {"sface": "DROP TABLE"}}))
    assert threshold_for("sface") == SFACE_DEFAULT
    settings_path().unlink()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=0, max_size=80))
def test_any_name_is_refused_or_stays_inside(tmp_path, name):
    from facecam.gallery import person_folder

    root = tmp_path / "known"
    root.mkdir(exist_ok=True)
    try:
        folder = person_folder(root, name)
    except EnrollError as error:
        assert "\n" not in str(error) or "\n" in repr(name)
        return
    assert folder.parent == root.resolve()
    folder.mkdir(exist_ok=True)  # the name is a real, creatable folder name
    assert folder.is_dir() and folder.resolve().parent == root.resolve()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=3000), st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=2000))))
def test_cache_reader_never_crashes_on_garbage(tmp_path, data):
    from facecam.gallery import CACHE_DIR, Gallery

    root = tmp_path / "k"
    (root / CACHE_DIR).mkdir(parents=True, exist_ok=True)
    (root / CACHE_DIR / "sface.npz").write_bytes(data)
    gallery = Gallery(root, "sface", "v1", 128)
    warnings = gallery.load_cache()
    assert len(warnings) == 1 and "rebuilding" in warnings[0]
    assert len(gallery.matrix()) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 5), dim=st.sampled_from([127, 128, 129]), bad=st.sampled_from(["shape", "nan", "keys"]))
def test_cache_reader_rejects_well_formed_npz_with_wrong_content(tmp_path, n, dim, bad):
    from facecam.gallery import CACHE_DIR, CACHE_FORMAT, Gallery

    root = tmp_path / "k"
    (root / CACHE_DIR).mkdir(parents=True, exist_ok=True)
    gallery = Gallery(root, "sface", "v1", 128)
    embeddings = np.ones((n, dim), np.float32)
    if bad == "nan" and n:
        embeddings[0, 0] = np.nan
    arrays = dict(format=np.int64(CACHE_FORMAT), model=np.str_("sface"), version=np.str_(gallery.version),
                  sha256=np.array(["0" * 64] * n, dtype="U64"), faces=np.ones(n, np.int64),
                  boxes=np.zeros((n, 4), np.float32), embeddings=embeddings,
                  stat_paths=np.array([], dtype=str), stat_keys=np.zeros((0, 4), np.int64),
                  stat_sha=np.array([], dtype="U64"))
    if bad == "keys":
        del arrays["faces"]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (root / CACHE_DIR / "sface.npz").write_bytes(buffer.getvalue())
    warnings = gallery.load_cache()
    valid = bad == "shape" and dim == 128 or (bad == "nan" and dim == 128 and n == 0)
    assert (warnings == []) == valid


def test_unwritable_cache_is_one_line_and_loses_nothing(cli, tmp_path, model_dir, monkeypatch):
    import facecam.gallery

    known = tmp_path / "known_faces"
    (known / "Ann").mkdir(parents=True)
    shutil.copy(BLAIR, known / "Ann")

    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(facecam.gallery, "atomic_write_bytes", read_only)
    code, out, err = cli("index", *sface(model_dir, known))
    assert code == 1 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("facecam: error: cannot write the embeddings cache") and "Read-only file system" in last
    assert sorted(p.name for p in (known / "Ann").iterdir()) == ["Tony_Blair_0001.jpg"]


def test_identify_goes_on_past_a_bad_photo(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR, known / "Tony Blair")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(BLAIR.read_bytes()[:2000])
    good = LFW10 / "Tony_Blair" / "Tony_Blair_0004.jpg"
    code, out, err = cli("identify", "--json", *sface(model_dir, known), broken, good)
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in rows] == [str(broken), str(good)] and rows[1]["faces"][0]["name"] == "Tony Blair"
    assert rows[0]["faces"] == [] and "broken.jpg" in rows[0]["error"] and "truncated" in rows[0]["error"]
    errors = [line for line in err.splitlines() if line.startswith("facecam: error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0] and "truncated" in errors[0]
