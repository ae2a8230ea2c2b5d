"""The command line, in-process, on real photos with SFace: outputs, files written, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import LFW10, PEOPLE, SFACE_DEFAULT

BLAIR = sorted((LFW10 / "Tony_Blair").glob("*.jpg"))
BUSH = sorted((LFW10 / "George_W_Bush").glob("*.jpg"))


def sface_args(model_dir, known=None):
    args = ["--model", "sface", "--model-dir", str(model_dir)]
    return args + (["--known-faces", str(known)] if known else [])


def test_verify_same_and_different_people(cli, model_dir):
    code, out, err = cli("verify", "--json", *sface_args(model_dir), BLAIR[0], BLAIR[4])
    assert code == 0, err
    same = json.loads(out)
    assert same["verified"] is True and same["model"] == "sface" and same["threshold"] == SFACE_DEFAULT
    assert 0.0 < same["distance"] < SFACE_DEFAULT
    code, out, err = cli("verify", "--json", *sface_args(model_dir), BLAIR[0], BUSH[0])
    different = json.loads(out)
    assert code == 0 and different["verified"] is False and different["distance"] > SFACE_DEFAULT


def test_verify_human_output_and_threshold_override(cli, model_dir):
    code, out, _ = cli("verify", *sface_args(model_dir), "--threshold", "0.01", BLAIR[0], BLAIR[4])
    assert code == 0 and out.startswith("different people (distance ") and "threshold 0.01" in out


def test_embed_gives_unit_vectors_per_face(cli, model_dir):
    code, out, err = cli("embed", "--json", *sface_args(model_dir), PEOPLE / "two_people.jpg")
    assert code == 0, err
    faces = json.loads(out)["faces"]
    assert len(faces) == 2
    for face in faces:
        vector = np.array(face["embedding"])
        assert vector.shape == (128,) and abs(np.linalg.norm(vector) - 1) < 1e-4
        assert len(face["box"]) == 4


def test_enroll_then_identify(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    code, out, err = cli("enroll", "--json", *sface_args(model_dir, known), "José Müller", BLAIR[0], BLAIR[1])
    assert code == 0, err
    files = [Path(f) for f in json.loads(out)["files"]]
    assert [f.parent for f in files] == [known / "José Müller"] * 2
    assert [f.read_bytes() for f in files] == [BLAIR[0].read_bytes(), BLAIR[1].read_bytes()]
    # enrolling the same photo again never overwrites
    code, out, _ = cli("enroll", "--json", *sface_args(model_dir, known), "José Müller", BLAIR[0])
    again = Path(json.loads(out)["files"][0])
    assert code == 0 and again.name == "Tony_Blair_0001-2.jpg" and files[0].exists()

    code, out, err = cli("identify", "--json", *sface_args(model_dir, known), BLAIR[5], BUSH[0])
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert rows[0]["faces"][0]["name"] == "José Müller" and rows[1]["faces"][0]["name"] is None


def test_enroll_refuses_a_photo_without_a_face(cli, tmp_path, model_dir):
    import cv2

    wall = tmp_path / "wall.jpg"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 200, np.uint8))
    known = tmp_path / "known_faces"
    code, out, err = cli("enroll", *sface_args(model_dir, known), "Ann", BLAIR[0], wall)
    assert code == 1 and out == ""
    assert err.startswith("facecam: error: no face found in ") and err.count("\n") == 1
    assert not (known / "Ann").exists() or list((known / "Ann").iterdir()) == []


@pytest.mark.parametrize("name", ["../outside", "..", "a/b", "x\\y", "", "bad\x07"])
def test_enroll_refuses_names_that_escape(cli, tmp_path, model_dir, name):
    known = tmp_path / "known_faces"
    known.mkdir()
    code, out, err = cli("enroll", *sface_args(model_dir, known), name, BLAIR[0])
    assert code == 1 and "cannot use" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["known_faces"]


def test_index_lists_people_and_skipped_files(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    for photo in BLAIR[:2]:
        shutil.copy(photo, known / "Tony Blair")
    (known / "Tony Blair" / "broken.jpg").write_bytes(b"this is not a photo")
    code, out, err = cli("index", "--json", *sface_args(model_dir, known))
    assert code == 0, err
    report = json.loads(out)
    assert report["people"] == {"Tony Blair": 2} and report["embedded"] == 2
    assert [Path(s["file"]).name for s in report["skipped"]] == ["broken.jpg"]
    code, out, _ = cli("index", *sface_args(model_dir, known))
    assert code == 0 and "2 photos with a face (0 read now, 2 from the cache" in out and "skipped" in out


def test_index_fails_when_nothing_is_usable(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    known.mkdir()
    (known / "x.jpg").write_bytes(b"")
    code, _, err = cli("index", *sface_args(model_dir, known))
    assert code == 1 and "no photo in" in err


def test_usage_errors_exit_2(cli, capsys):
    assert cli("identify")[0] == 2
    assert cli("frobnicate")[0] == 2
    assert cli("verify", "--threshold", "abc", "a.jpg", "b.jpg")[0] == 2
    assert cli("verify", "--model", "facenet", "a.jpg", "b.jpg")[0] == 2


def test_missing_photo_is_one_line_exit_1(cli, tmp_path, model_dir):
    code, _, err = cli("verify", *sface_args(model_dir), tmp_path / "nope.jpg", BLAIR[0])
    assert code == 1 and err.startswith("facecam: error: ") and err.count("\n") == 1
    assert "nope.jpg" in err


def test_missing_model_file_says_where_to_put_it(cli, tmp_path):
    # no network here: the download fails fast and the message says what to do
    code, _, err = cli("verify", "--model", "sface", "--model-dir", tmp_path / "empty", "--weights",
                       tmp_path / "missing.onnx", BLAIR[0], BLAIR[1])
    assert code == 1 and "missing.onnx" in err and "--weights" in err


def test_models_command_reports_files(cli, model_dir):
    code, out, err = cli("models", "--json", "--model-dir", model_dir)
    rows = {row["key"]: row for row in map(json.loads, out.splitlines())}
    assert code == 0, err
    assert rows["sface"]["present"] is True and rows["sface"]["valid"] is True
    assert rows["vgg-face"]["present"] is False


# ---------------------------------------------------------------- issue 12: traps on the command line

def _wall(path: Path) -> Path:
    import cv2

    cv2.imwrite(str(path), np.full((300, 300, 3), 200, np.uint8))
    return path


def test_index_counts_photos_without_a_face_apart(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    for photo in BLAIR[:2]:
        shutil.copy(photo, known / "Tony Blair")
    _wall(known / "Tony Blair" / "wall.jpg")
    code, out, err = cli("index", "--json", *sface_args(model_dir, known))
    report = json.loads(out)
    assert code == 0, err
    assert (report["photos"], report["no_face"], report["people"]) == (2, 1, {"Tony Blair": 2})
    code, out, _ = cli("index", *sface_args(model_dir, known))
    assert code == 0 and out.startswith(f"{known}: 1 person, 2 photos with a face, 1 photo without a face (")


def test_embed_on_a_photo_without_a_face_exits_1_with_one_line(cli, tmp_path, model_dir):
    code, out, err = cli("embed", "--json", *sface_args(model_dir), _wall(tmp_path / "wall.jpg"))
    assert code == 1 and out == ""
    assert err.startswith("facecam: error: no face found in ") and "wall.jpg" in err and err.count("\n") == 1


def test_identify_with_nobody_enrolled_says_unknown_without_none(cli, tmp_path, model_dir):
    known = tmp_path / "known_faces"
    known.mkdir()
    code, out, err = cli("identify", *sface_args(model_dir, known), BLAIR[0])
    assert code == 0, err
    # LFW's Tony_Blair_0001 shows a second, small face in the background: Unknown, or too poor to judge
    assert out.strip() in (f"{BLAIR[0]}: Unknown, Unknown", f"{BLAIR[0]}: Unknown, ? (too poor to judge)")
    assert "None" not in out and "nobody is enrolled" in err


# Each command and the shared options it must (True) or must not (False) offer.
HELP_OPTIONS = {
    "identify": {"--known-faces": True, "--threshold": True, "--match": True, "--model": True, "--json": True},
    "verify": {"--known-faces": False, "--threshold": True, "--match": False, "--model": True},
    "embed": {"--known-faces": False, "--threshold": False, "--match": False, "--model": True},
    "index": {"--known-faces": True, "--threshold": False, "--match": False, "--model": True},
    "enroll": {"--known-faces": True, "--threshold": False, "--match": False},
    "models": {"--known-faces": False, "--threshold": False, "--match": False, "--min-face-size": False,
               "--model-dir": True, "--json": True},
    "watch": {"--known-faces": True, "--threshold": True, "--match": True, "--source": True},
    "evaluate": {"--known-faces": True, "--threshold": True, "--match": True, "--force": True},
}


@pytest.mark.parametrize("command", sorted(HELP_OPTIONS))
def test_help_shows_only_the_options_of_the_command_in_plain_text(cli, capsys, command):
    code, _, _ = cli(command, "--help")
    text = capsys.readouterr().out  # argparse prints help on sys.stdout
    assert code == 0 and text.startswith(f"usage: facecam {command}")
    offered = {option: f" {option}" in text for option in HELP_OPTIONS[command]}
    assert offered == HELP_OPTIONS[command]
    assert "``" not in text and ":func:" not in text


@pytest.mark.parametrize("content", [
    {"thresholds": ["x"]},
    [1, 2, 3],
    {"thresholds": {"sface": "x"}, "match_mode": {"sface": 7}, "threshold_applied": "yesterday"},
    {"thresholds": 0.5, "match_mode": ["mean"]},
    "{not json",
])
def test_settings_of_the_wrong_shape_give_one_warning_and_defaults(cli, tmp_path, model_dir, content):
    from facecam.config import settings_path

    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR[0], known / "Tony Blair")
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    try:
        code, out, err = cli("verify", "--json", *sface_args(model_dir), BLAIR[0], BLAIR[4])
        assert code == 0, err
        assert json.loads(out)["threshold"] == SFACE_DEFAULT
        assert err.count("\n") == 1 and err.startswith(f"facecam: warning: the settings file {path}")
        assert "Traceback" not in err
        code, out, err = cli("identify", "--json", *sface_args(model_dir, known), BLAIR[5])
        assert code == 0 and json.loads(out)["faces"][0]["name"] == "Tony Blair"
    finally:
        path.unlink()


def test_a_saved_threshold_is_announced_once_with_where_it_came_from(cli, tmp_path, model_dir):
    from facecam.config import save_settings

    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR[0], known / "Tony Blair")
    save_settings({"thresholds": {"sface": 0.71},
                   "threshold_applied": {"sface": {"by": "evaluate --apply", "on": "2026-11-30T18:00:00Z"}}})
    try:
        code, out, err = cli("verify", "--json", *sface_args(model_dir), BLAIR[0], BLAIR[4])
        assert code == 0 and json.loads(out)["threshold"] == 0.71
        assert err == "facecam: threshold 0.71 from settings (evaluate --apply on 2026-11-30)\n"
        code, out, err = cli("identify", *sface_args(model_dir, known), BLAIR[5], BLAIR[6])
        assert code == 0 and err.count("threshold 0.71 from settings") == 1
        code, out, err = cli("verify", *sface_args(model_dir), "--threshold", "0.5", BLAIR[0], BLAIR[4])
        assert code == 0 and "from settings" not in err  # --threshold wins, nothing to announce
        code, out, err = cli("embed", *sface_args(model_dir), BLAIR[0])
        assert code == 0 and err == ""  # no threshold used
    finally:
        from facecam.config import settings_path

        settings_path().unlink()


def test_a_read_only_known_faces_is_indexed_into_the_user_cache(cli, tmp_path, model_dir, monkeypatch):
    import facecam.gallery

    elsewhere = tmp_path / "user-cache"
    monkeypatch.setattr(facecam.gallery, "fallback_cache_root", lambda: elsewhere)
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    for photo in BLAIR[:2]:
        shutil.copy(photo, known / "Tony Blair")
    folders = [known / "Tony Blair", known]
    for folder in folders:
        folder.chmod(0o555)
    try:
        code, out, err = cli("index", "--json", *sface_args(model_dir, known))
        assert code == 0, err
        assert json.loads(out)["people"] == {"Tony Blair": 2}
        notes = [line for line in err.splitlines() if "read-only" in line]
        assert len(notes) == 1 and notes[0].startswith(f"facecam: note: {known} is read-only") and str(elsewhere) in notes[0]
        assert not (known / ".facecam").exists() and len(list(elsewhere.rglob("sface.npz"))) == 1
        code, out, err = cli("identify", "--json", *sface_args(model_dir, known), BLAIR[5])
        assert code == 0, err
        assert json.loads(out)["faces"][0]["name"] == "Tony Blair"
    finally:
        for folder in folders:
            folder.chmod(0o755)


ROOT = Path(__file__).resolve().parents[1]


def run_into_closed_pipe(tmp_path, *argv: str) -> subprocess.CompletedProcess:
    """``python -m facecam ARGV | head -0``, without the race: stdout is a pipe whose reader has already gone,
    so the command's first result line meets a closed pipe (EPIPE), as it does once ``head -1`` has its line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "FACECAM_CONFIG_DIR": str(tmp_path / "config")}
    env.pop("PYTHONUNBUFFERED", None)  # as a user runs it: stdout buffered, flushed last at exit
    try:
        return subprocess.run([sys.executable, "-m", "facecam", *map(str, argv)], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=300)
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_identify_sightings_and_unknowns_quietly(tmp_path, model_dir):
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR[0], known / "Tony Blair")
    from facecam.stores import open_sighting_store

    open_sighting_store(known).close()  # an empty log: `sightings --csv` still writes its header row
    commands = [("identify", "--json", *sface_args(model_dir, known), "--detector", "yunet", LFW10 / "Tony_Blair"),
                ("sightings", "--csv", "--known-faces", known),
                ("unknowns", "--json", *sface_args(model_dir, known))]
    for argv in commands:
        done = run_into_closed_pipe(tmp_path, *argv)
        assert done.returncode == 0, (argv, done.stderr)
        said = [line for line in done.stderr.splitlines() if not line.startswith("facecam: indexing known_faces:")]
        assert said == [], argv  # no traceback, no "error: Broken pipe": progress lines only


def test_watch_given_the_video_as_an_argument_says_to_use_source(cli, capsys):
    code, out, err = cli("watch", "clip.mp4")
    usage_and_error = capsys.readouterr().err  # argparse writes to the process's stderr
    assert code == 2 and out == ""
    assert usage_and_error.startswith("usage: facecam watch ")
    assert usage_and_error.splitlines()[-1] == ("facecam watch: error: the video or camera is given with --source: "
                                                "use --source clip.mp4")


def test_a_camera_that_stops_says_what_to_do_at_the_command_line_not_press_retry(cli, model_dir, tmp_path,
                                                                                    monkeypatch):
    import facecam.sources
    from test_sources import FakeCapture

    monkeypatch.setattr(facecam.sources, "opencv_capture", lambda spec: FakeCapture(fail_after=5))
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR[0], known / "Tony Blair")
    code, out, err = cli("watch", *sface_args(model_dir, known), "--detector", "yunet", "--source", "0",
                         "--no-sightings", "--no-unknowns")
    assert code == 1
    last = err.splitlines()[-1]
    assert last == "facecam: error: camera stopped delivering frames; check the cable and run the command again"
    assert "Retry" not in err


def test_the_hint_about_skipped_gallery_files_is_a_command_that_runs(cli, tmp_path, model_dir):
    known = tmp_path / "known folder"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR[0], known / "Tony Blair")
    (known / "Tony Blair" / "notes.jpg").write_text("not a photo")
    code, _, err = cli("identify", *sface_args(model_dir, known), "--detector", "yunet", BLAIR[1])
    assert code == 0, err
    hint = f"run 'facecam index --known-faces '{known}' --model sface --detector yunet' to see which and why"
    assert f"facecam: 1 file(s) in {known} skipped; {hint}" in err.splitlines()
    code, out, err = cli("index", "--known-faces", known, "--model", "sface", "--detector", "yunet",
                         "--model-dir", model_dir)   # the hint's command, as given
    assert code == 0 and "skipped" in out and "notes.jpg" in out, err


def test_a_text_file_named_jpg_is_refused_before_any_model_loads(cli, tmp_path, model_dir):
    text = tmp_path / "notes.jpg"
    text.write_text("I am not a photo")
    known = tmp_path / "known_faces"
    (known / "Tony Blair").mkdir(parents=True)
    shutil.copy(BLAIR[0], known / "Tony Blair")
    no_models = tmp_path / "no models"   # a model would fail to load from here: only the photo may be said
    no_models.mkdir()
    said = f"facecam: error: {text}: is a text file, not a JPEG, PNG, BMP or WebP photo"
    for argv in (("identify", "--known-faces", known, text), ("verify", text, BLAIR[0]), ("embed", text),
                 ("enroll", "--known-faces", known, "Ann", BLAIR[0], text)):
        code, out, err = cli(*argv[:1], "--model", "sface", "--model-dir", no_models, *argv[1:])
        assert code == 1 and out == "", argv
        assert err.startswith(said) and err.count("\n") == 1, (argv, err)
    assert not (known / ".facecam").exists() and not (known / "Ann").exists()   # nothing indexed, nothing copied
    # with a real photo beside it: the text file is said first (before the gallery is indexed), the photo named
    code, out, err = cli("identify", "--json", *sface_args(model_dir, known), "--detector", "yunet", text, BLAIR[1])
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [r["image"] for r in rows] == [str(text), str(BLAIR[1])]
    assert "text file" in rows[0]["error"] and rows[1]["faces"][0]["name"] == "Tony Blair"
    assert err.splitlines()[0].startswith(said) and err.count("is a text file") == 1


def test_a_photo_folder_that_cannot_be_read_is_said_so_not_empty(tmp_path):
    import tempfile

    outer = Path(tempfile.mkdtemp(dir="/tmp"))   # a folder another user may pass through (tmp_path is private)
    try:
        outer.chmod(0o711)
        photos = outer / "photos"
        photos.mkdir()
        shutil.copy(BLAIR[0], photos)
        photos.chmod(0)
        (outer / "config").mkdir(mode=0o777)
        outer.joinpath("config").chmod(0o777)
        env = {**os.environ, "FACECAM_CONFIG_DIR": str(outer / "config")}
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        done = subprocess.run([*as_nobody,   # root reads any folder: as "nobody", who may not read this one
                               sys.executable, "-m", "facecam", "identify", "--model", "sface", str(photos)],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    finally:
        (outer / "photos").chmod(0o700)
        shutil.rmtree(outer)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"facecam: error: cannot read the folder {photos} (Permission denied); give your user "
                           "read permission on it (chmod u+rx) or name another folder\n")
