"""Commands that start at once: no TensorFlow when none is needed, no library noise, arguments checked
before any model loads; enroll with the detector alone; the models command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import LFW10, PEOPLE

ROOT = Path(__file__).resolve().parents[1]
BLAIR = sorted((LFW10 / "Tony_Blair").glob("*.jpg"))


def run_python(code: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """A fresh interpreter in an empty folder, with only the checkout on its path and no TF log setting."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "FACECAM_"))}
    environ.update(PYTHONPATH=str(ROOT), FACECAM_CONFIG_DIR=str(tmp_path / "config"),
                   FACECAM_MODEL_DIR=str(tmp_path / "models"), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=environ,
                          timeout=300)


def test_identify_with_yunet_and_sface_never_imports_tensorflow(tmp_path):
    known = tmp_path / "known_faces" / "Tony Blair"
    known.mkdir(parents=True)
    for photo in BLAIR[:3]:
        (known / photo.name).write_bytes(photo.read_bytes())
    code = ("import sys; from facecam.cli import main; "
            f"code = main(['identify', '--detector', 'yunet', '--model', 'sface', '--known-faces', "
            f"{str(tmp_path / 'known_faces')!r}, {str(BLAIR[5])!r}]); "
            "print(code, sorted(m for m in ('tensorflow', 'keras', 'mtcnn', 'h5py') if m in sys.modules))")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(f"{BLAIR[5]}: Tony Blair (")
    assert result.stdout.splitlines()[-1] == "0 []"


def test_no_library_noise_on_stderr_even_with_tensorflow(tmp_path):
    """MTCNN on TensorFlow (the reference runtime; also what converts it for OpenVINO on a first run) imports
    TensorFlow, whose C++ start-up lines (absl, oneDNN) must not reach the terminal."""
    code = ("import sys; from facecam.cli import main; from facecam.detector import MtcnnDetector; "
            "MtcnnDetector(runtime='tensorflow'); "
            f"code = main(['embed', '--model', 'sface', {str(PEOPLE / 'two_people.jpg')!r}]); "
            "print(code, 'tensorflow' in sys.modules)")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 True"
    assert result.stderr == ""


def test_quiet_tensorflow_passes_on_real_errors(tmp_path):
    code = ("import os; from facecam.tensorflow_setup import _quietly; "
            "_quietly(lambda: os.write(2, b'I0000 00:00:1796064370.861500   13515 port.cc:153] chatter\\n"
            "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n"
            "E0000 00:00:1.5   1 x.cc:1] a real error\\n'))")
    result = run_python(code, tmp_path)
    assert result.returncode == 0 and result.stderr == "E0000 00:00:1.5   1 x.cc:1] a real error\n"


def test_a_missing_photo_fails_at_once_before_any_model_loads(tmp_path):
    # VGG-Face (the default) is not downloaded and there is no network: the photo is checked first
    code = ("import sys, time; from facecam.cli import main; start = time.monotonic(); "
            f"code = main(['identify', {str(tmp_path / 'nope.jpg')!r}, {str(BLAIR[0])!r}]); "
            "print(code, round(time.monotonic() - start, 1) < 2, 'tensorflow' in sys.modules, 'cv2' in sys.modules)")
    result = run_python(code, tmp_path)
    assert result.stdout.split() == ["1", "True", "False", "False"], result.stderr
    assert result.stderr == f"facecam: error: {tmp_path / 'nope.jpg'}: no such file or folder; check the path\n"
    assert not (tmp_path / "models").exists()


def test_a_missing_video_file_fails_before_any_model_loads(cli, tmp_path):
    (tmp_path / "known_faces").mkdir()
    code, out, err = cli("watch", "--model", "vgg-face", "--model-dir", tmp_path / "no-models", "--source",
                         tmp_path / "nope.mp4", cwd=tmp_path)
    assert (code, out) == (1, "")
    assert err == f"facecam: error: {tmp_path / 'nope.mp4'}: no such file or folder; check the path\n"
    assert not (tmp_path / "no-models").exists()  # no download was tried


def test_enroll_needs_no_embedding_model(cli, tmp_path):
    """No VGG-Face weights and no network: enroll checks for a face with the detector alone."""
    known = tmp_path / "known_faces"
    code, out, err = cli("enroll", "--json", "--model", "vgg-face", "--model-dir", tmp_path / "no-models",
                         "--known-faces", known, "Tony Blair", BLAIR[0])
    assert code == 0, err
    assert [Path(f) for f in json.loads(out)["files"]] == [known / "Tony Blair" / BLAIR[0].name]
    assert not (tmp_path / "no-models").exists()  # nothing downloaded, not even tried


def test_enroll_makes_photo_names_safe_and_they_are_indexed(cli, tmp_path):
    sneaky, control = tmp_path / ".sneaky.jpg", tmp_path / "bell\x07\u202eface.jpg"
    sneaky.write_bytes(BLAIR[0].read_bytes())
    control.write_bytes(BLAIR[1].read_bytes())
    known = tmp_path / "known_faces"
    code, out, err = cli("enroll", "--json", "--detector", "yunet", "--known-faces", known, "Tony Blair",
                         sneaky, control)
    assert code == 0, err
    names = [Path(f).name for f in json.loads(out)["files"]]
    assert names == ["sneaky.jpg", "bellface.jpg"]
    assert sorted(p.name for p in (known / "Tony Blair").iterdir()) == ["bellface.jpg", "sneaky.jpg"]
    code, out, err = cli("index", "--json", "--model", "sface", "--detector", "yunet", "--known-faces", known)
    assert code == 0, err
    assert json.loads(out)["people"] == {"Tony Blair": 2}  # both photos are in the gallery, none silently lost


def test_models_lists_the_built_in_copies_and_honours_weights(cli, tmp_path, monkeypatch):
    from facecam.models import BUILTIN_DIR

    code, out, err = cli("models", "--json", "--model-dir", tmp_path)
    rows = {row["key"]: row for row in map(json.loads, out.splitlines())}
    assert code == 0, err
    assert list(rows) == ["vgg-face", "sface", "yunet"]
    for key in ("sface", "yunet"):
        assert rows[key]["source"] == "built-in" and rows[key]["valid"] is True
        assert rows[key]["path"] == str(BUILTIN_DIR / rows[key]["filename"])
    assert rows["vgg-face"]["source"] is None and rows["vgg-face"]["reason"] == "not downloaded"
    # --weights and FACECAM_VGGFACE_WEIGHTS name the file that will be used
    weights = tmp_path / "mine.h5"
    weights.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    code, out, _ = cli("models", "--json", "--model-dir", tmp_path / "empty", "--weights", weights)
    vgg = json.loads(out.splitlines()[0])
    assert (vgg["path"], vgg["source"], vgg["valid"]) == (str(weights), "--weights", True)
    monkeypatch.setenv("FACECAM_VGGFACE_WEIGHTS", str(tmp_path / "missing.h5"))
    code, out, _ = cli("models", "--model-dir", tmp_path / "empty")
    first = out.splitlines()[0]
    assert first.startswith("vgg-face") and "file not found" in first and "missing.h5" in first
    assert "ok (built-in)" in out.splitlines()[1]


def test_version(tmp_path):
    from facecam import __version__

    result = run_python("import sys; from facecam.__main__ import main; sys.exit(main(['--version']))", tmp_path)
    assert result.returncode == 0 and result.stdout == f"facecam {__version__}\n"
