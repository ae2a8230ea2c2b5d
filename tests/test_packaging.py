"""The package: the wheel holds the code, the built-in models with their licences and the commands; installed
into a fresh virtualenv holding only what facecam's pyproject.toml declares, every command does its real work
(identify, watch, sightings, unknowns, evaluate, the window offscreen) from any folder.

What proves that ``pip install .`` alone works, without downloading 1.5 GB of wheels at every run: the
virtualenv holds the wheel's declared requirements and, recursively, theirs (``Requires-Dist`` of the wheel,
markers and extras resolved with ``packaging``), each linked from the test environment's own installed copy,
and nothing else (not requirements.txt's list, not pytest). pip then installs the wheel *with* its dependency
check (``--no-index``: a requirement the venv cannot satisfy fails the install), ``pip check`` agrees, and a
package facecam imports but pyproject.toml forgets is simply not there: the command fails with
ModuleNotFoundError. facecam itself is never installed into the shared environment.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
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


def declared_requirements(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines: what pip installs for ``pip install .``."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]


def requirement_closure(requirements: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """Every distribution ``requirements`` pull in, recursively (extras and markers resolved), from the test
    environment's installed ones: {canonical name: distribution}."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(text, "") for text in requirements]
    while todo:
        text, extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        dist = found.setdefault(name, importlib.metadata.distribution(requirement.name))
        for wanted in ("", *requirement.extras):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo.extend((child, wanted) for child in dist.requires or [])
    return found


def link_distributions(dists, site_packages: Path) -> None:
    """Link each distribution's top-level files and folders (packages, .libs, .dist-info, .pth) into
    ``site_packages``, as if pip had installed it there."""
    for dist in dists:
        for top in sorted({f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}):
            target = site_packages / top
            if not target.exists():
                target.symlink_to(Path(dist.locate_file(top)).resolve())


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with only facecam's declared requirements (recursively) and the wheel, installed by
    pip with its dependency check; returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    link_distributions(requirement_closure(declared_requirements(wheel)).values(), site_packages)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "--disable-pip-version-check"]
    result = subprocess.run([*pip, "install", "--no-index", "-q", str(wheel)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    return venv / "bin"


@pytest.fixture(scope="module")
def user_cache(tmp_path_factory) -> Path:
    """The installed facecam's user cache (XDG_CACHE_HOME): empty at first, so the first command converts
    MTCNN for OpenVINO in the fresh venv; the module's later commands find it converted."""
    return tmp_path_factory.mktemp("cache")


def clean_env(tmp_path: Path, user_cache: Path | None = None) -> dict:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("TF_", "FACECAM_", "PYTHON", "QT_")) and k not in ("VIRTUAL_ENV", "XDG_CACHE_HOME")}
    extra = {"XDG_CACHE_HOME": str(user_cache)} if user_cache is not None else {}
    return {**environ, "FACECAM_MODEL_DIR": str(tmp_path / "models"), "FACECAM_CONFIG_DIR": str(tmp_path / "config"),
            **extra}


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


def test_only_the_declared_requirements_are_there(installed, tmp_path):
    """The venv is what pip install . makes: facecam's own requirements, not the test environment's extras."""
    code = ("import importlib.util as u; print(*(u.find_spec(m) is not None for m in "
            "('scipy', 'paho.mqtt.client', 'usearch', 'psycopg', 'psycopg_pool', 'openvino', 'pytest', 'xdist')))")
    result = subprocess.run([str(installed / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env=clean_env(tmp_path), timeout=60)
    assert result.stdout.split() == ["True"] * 6 + ["False", "False"], result.stderr


def small_gallery(root: Path, people=("Tony_Blair", "George_W_Bush", "Hugo_Chavez")) -> Path:
    for person in people:
        (root / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:3]:
            shutil.copy(photo, root / person)
    return root


def test_installed_facecam_names_people_offline_with_only_its_own_lines_on_stderr(installed, user_cache, tmp_path):
    """A first run with the defaults: SFace (VGG-Face not downloaded, said once), MTCNN converted for OpenVINO."""
    small_gallery(tmp_path / "known_faces")             # the default --known-faces, in the current folder
    probe = LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0007.jpg"
    result = subprocess.run([str(installed / "facecam"), "identify", str(probe)], capture_output=True, text=True,
                            cwd=tmp_path, env=clean_env(tmp_path, user_cache), timeout=900)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{probe}: Hugo_Chavez (")
    assert all(line.startswith(("facecam", "indexing known_faces: ")) for line in result.stderr.splitlines()), \
        result.stderr
    assert "facecam: VGG-Face is not downloaded; using the built-in SFace" in result.stderr
    assert not (tmp_path / "models").exists()  # the built-in SFace: nothing downloaded
    assert len(list((user_cache / "facecam" / "openvino").glob("mtcnn-*.xml"))) == 3


def run_installed(installed: Path, cwd: Path, env: dict, *argv, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([str(installed / "facecam"), *map(str, argv)], capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=timeout)
    assert result.returncode == 0, (argv, result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from clips import SHORT_SCENE, make_gallery, write_clip

    folder = tmp_path_factory.mktemp("scene")
    clip = folder / "clip.avi"
    write_clip(clip, SHORT_SCENE, seconds=6.0)
    return clip, make_gallery(folder / "known_faces")      # Tony_Blair and George_W_Bush; Vladimir_Putin a stranger


def test_watch_sightings_unknowns_and_evaluate_work_installed(installed, user_cache, scene, tmp_path):
    clip, known_faces = scene
    known = Path(shutil.copytree(known_faces, tmp_path / "known_faces"))
    env = clean_env(tmp_path, user_cache)
    summary = tmp_path / "summary.json"
    run_installed(installed, tmp_path, env, "watch", "--source", clip, "--known-faces", known, "--summary", summary)
    assert json.loads(summary.read_text())["frames_out"] == 180
    result = run_installed(installed, tmp_path, env, "sightings", "--known-faces", known, "--json")
    names = [json.loads(line)["name"] for line in result.stdout.splitlines()]
    assert {"Tony_Blair", "George_W_Bush"} <= set(names), names
    result = run_installed(installed, tmp_path, env, "unknowns", "--known-faces", known, "--json")
    clusters = json.loads(result.stdout)["clusters"]
    assert len(clusters) >= 1 and all(c["sightings"] for c in clusters), clusters   # the stranger, kept
    dataset = small_gallery(tmp_path / "dataset", ("Tony_Blair", "George_W_Bush", "Hugo_Chavez", "Vladimir_Putin"))
    result = run_installed(installed, tmp_path, env, "evaluate", dataset, "--json")
    report = json.loads(result.stdout)
    assert report["auc"] > 0.9 and report["rank1_by_mode"]["mean"] > 0.8, report


def test_the_window_starts_offscreen_and_logs_who_it_sees(installed, user_cache, scene, tmp_path):
    from clips import Actor, write_clip

    _, known_faces = scene
    known = Path(shutil.copytree(known_faces, tmp_path / "known_faces"))
    # a long clip (the window plays it at its own rate while the model loads): the two stay for 5 minutes
    clip = tmp_path / "long.avi"
    write_clip(clip, (Actor("Tony_Blair", 5, 0.3, 299.0, 170, 240, period_s=3.0),
                      Actor("George_W_Bush", 5, 0.5, 299.0, 450, 220, period_s=3.0)), seconds=300.0, fps=5.0)
    env = {**clean_env(tmp_path, user_cache), "QT_QPA_PLATFORM": "offscreen"}
    window = subprocess.Popen([str(installed / "facecam-window"), "--source", str(clip), "--known-faces", str(known)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    log = known / ".facecam" / "sightings.sqlite"
    named: set[str] = set()
    deadline = time.monotonic() + 600          # not a speed bound: how long a loaded machine may take to start
    try:
        while window.poll() is None and time.monotonic() < deadline and not {"Tony_Blair", "George_W_Bush"} <= named:
            time.sleep(2)
            if log.is_file():
                try:
                    with sqlite3.connect(f"file:{log}?mode=ro", uri=True) as db:
                        named = {row[0] for row in db.execute("SELECT name FROM sightings WHERE name IS NOT NULL")}
                except sqlite3.Error:
                    pass
        running = window.poll() is None
    finally:
        if window.poll() is None:
            window.send_signal(signal.SIGINT)           # the window closes cleanly on Ctrl-C
        try:
            _, err = window.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            window.kill()
            _, err = window.communicate()
    assert running, err[-3000:]
    assert {"Tony_Blair", "George_W_Bush"} <= named, err[-3000:]
    assert window.returncode == 0, err[-3000:]
