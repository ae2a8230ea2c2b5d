"""Shared fixtures: real models built once per test session, real photos from tests/data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from facecam import registry
from facecam.matcher import GalleryMatrix

DATA = Path(__file__).parent / "data"
LFW10 = DATA / "lfw10"
PEOPLE = DATA / "people"
SFACE_DEFAULT = registry.model("sface").threshold   # the default the app uses; never a literal in tests


def slowdown(cpu_s: float = 0.1) -> float:
    """How many times longer than its CPU time a piece of work takes right now, for a process of this one's
    priority: about 1 on an idle machine, 2 beside two busy processes. Measured in a child process (no GIL
    shared with the window's threads), so a wall-clock budget can be scaled by it and still mean "at most
    that much work", whatever else the machine is doing."""
    import subprocess
    import sys

    code = ("import time\nw, c = time.monotonic(), time.process_time()\n"
            f"while time.process_time() - c < {cpu_s}: pass\n"
            "print((time.monotonic() - w) / (time.process_time() - c))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return max(1.0, float(out))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds a full-size model (still runs in the normal suite)")


# The longest files first (about 117, 109, 59, 58, 57, 48 ... s on 2026-12-01), for tests/run.sh's two
# pytest-xdist workers (--dist loadfile --no-loadscope-reorder: whole files, in this order): each worker
# takes the next file when it is nearly done, so the long real-time files start early and the short ones
# fill in at the end, instead of one worker starting a two-minute file when the other is done. Only the
# order of whole files changes (a file's own tests keep theirs); a file not listed keeps its place after these.
LONGEST_FILES = (
    "tests/test_db_live.py", "tests/test_vggface.py", "tests/gui/test_whos.py", "tests/gui/test_db_window.py",
    "tests/test_notify_live.py", "tests/test_cli.py", "tests/test_recognition.py", "tests/test_db.py",
    "tests/test_watch.py", "tests/test_unknowns.py", "tests/gui/test_history.py",
    "tests/gui/test_evaluate_dialog.py", "tests/test_learn.py", "tests/test_evaluate.py", "tests/test_notify.py",
)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (a worker collects what the scheduler hands out): the longest files first."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(LONGEST_FILES)}
        items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's own settings, cache, model folder or weights."""
    # a settings folder of each test's own: a setting one test saves (consent required, retention) is not the next's
    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(tmp_path_factory.mktemp("config", numbered=True)))
    user_cache = tmp_path_factory.getbasetemp() / "user-cache"   # read-only galleries' and data sets' caches
    monkeypatch.setattr("facecam.gallery.fallback_cache_root", lambda: user_cache)
    monkeypatch.delenv("FACECAM_MODEL_DIR", raising=False)
    monkeypatch.delenv("FACECAM_VGGFACE_WEIGHTS", raising=False)


def packaged_model_file(filename: str) -> Path:
    """An official OpenCV Zoo ONNX file as built into facecam (facecam/data/models)."""
    from facecam.models import BUILTIN_DIR

    path = BUILTIN_DIR / filename
    if not path.is_file():
        pytest.fail(f"{filename} is missing from {BUILTIN_DIR}; facecam ships it (check the checkout)")
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A model folder holding the real SFace file, as a user's would after the first download."""
    folder = tmp_path_factory.mktemp("models")
    shutil.copy(packaged_model_file("face_recognition_sface_2021dec.onnx"), folder)
    return folder


@pytest.fixture(scope="session")
def detector():
    from facecam.detector import MtcnnDetector

    return MtcnnDetector()


@pytest.fixture(scope="session")
def sface(model_dir):
    from facecam.embedders.sface import SFaceEmbedder

    return SFaceEmbedder(model_dir / "face_recognition_sface_2021dec.onnx")


@pytest.fixture(scope="session")
def sface_recognizer(detector, sface):
    from facecam.recognizer import Recognizer
    from facecam.registry import MODELS

    return Recognizer(detector, sface, MODELS["sface"].threshold)


def lfw_people() -> list[str]:
    return sorted(p.name for p in LFW10.iterdir() if p.is_dir())


def lfw_photos(person: str) -> list[Path]:
    return sorted((LFW10 / person).glob("*.jpg"))


@pytest.fixture
def cli(monkeypatch):
    """Run the command line in-process: returns (exit code, stdout, stderr)."""
    import io

    from facecam.cli import main

    def run(*argv: str, cwd: Path | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main([str(a) for a in argv], stdout=stdout, stderr=stderr)
        return code, stdout.getvalue(), stderr.getvalue()

    return run


def gallery_of(recognizer, photos: dict[str, str]) -> GalleryMatrix:
    """A gallery of one tests/data/people photo per person ({name: file}), embedded by ``recognizer``."""
    rows = [recognizer.embed_photo(PEOPLE / file).embedding for file in photos.values()]
    return GalleryMatrix.from_pairs(list(photos), np.stack(rows))
