"""The package: the wheel holds the code, the built-in models with their licences and the commands; installed
into a throw-away virtualenv, ``facecam`` names people from any folder with nothing on stderr but its own lines.

The wheel is built from a copy of the checkout (nothing is written into it); the virtualenv sees the test
environment's packages through a ``.pth`` file, so nothing is downloaded, and facecam itself is never
installed into the shared environment.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import LFW10

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT / "facecam", source / "facecam", ignore=shutil.ignore_patterns("__pycache__", ".facecam"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                            capture_output=True, text=True, cwd=source, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (found,) = out.glob("facecam-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A throw-away virtualenv with the wheel installed; returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "_test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                             "--disable-pip-version-check", "-q", str(wheel)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv / "bin"


def clean_env(tmp_path: Path) -> dict:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("TF_", "FACECAM_", "PYTHON")) and k != "VIRTUAL_ENV"}
    return {**environ, "FACECAM_MODEL_DIR": str(tmp_path / "models"), "FACECAM_CONFIG_DIR": str(tmp_path / "config")}


def test_wheel_holds_the_models_their_licences_and_the_commands(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        sface = archive.getinfo("facecam/data/models/face_recognition_sface_2021dec.onnx")
        yunet = archive.getinfo("facecam/data/models/face_detection_yunet_2023mar.onnx")
    assert (sface.file_size, yunet.file_size) == (38696353, 232589)
    assert {"facecam/data/models/LICENSE-SFace-Apache-2.0.txt", "facecam/data/models/LICENSE-YuNet-MIT.txt",
            "facecam/registry.py", "facecam/cli.py", "facecam/__main__.py", "facecam/gui/app.py"} <= names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
    assert "facecam = facecam.__main__:main" in entry_points
    assert "facecam-window = facecam.gui.app:run" in entry_points


def test_installed_facecam_runs_from_any_folder(installed, tmp_path):
    from facecam import __version__

    env = clean_env(tmp_path)
    where = subprocess.run([str(installed / "python"), "-c", "import facecam; print(facecam.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where.stdout  # not the checkout
    for command in ([str(installed / "facecam"), "--version"],
                    [str(installed / "python"), "-m", "facecam", "--version"]):
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 0 and result.stdout == f"facecam {__version__}\n", result.stderr
    for command, prog in (([str(installed / "facecam"), "window", "--help"], "facecam window"),
                          ([str(installed / "facecam-window"), "--help"], "facecam-window")):
        result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 0 and result.stdout.startswith(f"usage: {prog} ") and "--source" in result.stdout


def test_installed_facecam_names_people_offline_with_only_its_own_lines_on_stderr(installed, tmp_path):
    known = tmp_path / "known_faces"
    for person in ("Tony_Blair", "George_W_Bush", "Hugo_Chavez"):
        (known / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:3]:
            shutil.copy(photo, known / person)
    probe = LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0007.jpg"
    result = subprocess.run([str(installed / "facecam"), "identify", "--model", "sface", str(probe)],
                            capture_output=True, text=True, cwd=tmp_path, env=clean_env(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{probe}: Hugo_Chavez (")
    assert all(line.startswith(("facecam", "indexing known_faces: ")) for line in result.stderr.splitlines()), \
        result.stderr
    assert not (tmp_path / "models").exists()  # the built-in SFace: nothing downloaded
