"""Fixtures for the window tests: offscreen Qt, a real-photo clip, a known_faces copy, a window factory.

The models are the session fixtures of tests/conftest.py (real MTCNN and SFace), passed to
the window as an already-built Recognizer, so no test loads a model of its own.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything creates the QApplication
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil
import time
from pathlib import Path

import pytest

from clips import Actor, make_gallery, write_clip

from .helpers import facecam_threads

# Tony Blair (enrolled) on the left, Vladimir Putin (a stranger) on the right, both for the whole clip.
GUI_SCENE = (
    Actor("Tony_Blair", 5, 0.0, 60.0, 170, 240, sway_px=25, period_s=4.0),
    Actor("Vladimir_Putin", 5, 0.0, 60.0, 470, 240, sway_px=25, period_s=5.0),
)
CLIP_SECONDS = 40.0


@pytest.fixture(autouse=True)
def _settings_per_test(tmp_path, monkeypatch):
    """Each window test has its own settings file (the window remembers choices in it)."""
    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture(scope="session")
def gui_clip(tmp_path_factory) -> Path:
    clip = tmp_path_factory.mktemp("gui-clip") / "clip.avi"
    write_clip(clip, GUI_SCENE, seconds=CLIP_SECONDS)
    return clip


@pytest.fixture(scope="session")
def indexed_gallery(tmp_path_factory, sface_recognizer) -> Path:
    """known_faces with Tony Blair's three other photos, its SFace cache already built (copied per test)."""
    from facecam.gallery import Gallery

    root = make_gallery(tmp_path_factory.mktemp("gallery-template") / "known_faces", enrolled=("Tony_Blair",))
    gallery = Gallery.for_recognizer(root, sface_recognizer)
    report = gallery.refresh(sface_recognizer.embed_photo)
    assert report.people == 1 and report.photos == 3
    return root


@pytest.fixture
def known_faces(tmp_path, indexed_gallery) -> Path:
    return Path(shutil.copytree(indexed_gallery, tmp_path / "known_faces"))


@pytest.fixture
def make_window(qtbot, gui_clip, known_faces, sface_recognizer):
    """``make_window(**options)``: a shown MainWindow on the clip with the session's SFace recognizer."""
    from facecam.gui.main_window import MainWindow, WindowOptions

    threshold = sface_recognizer.threshold
    windows = []
    opened: list[str] = []

    def make(recognizer=sface_recognizer, source=None, backend=None, build=None, choose_file=None, open_url=None,
             **overrides):
        options = {"source": str(source if source is not None else gui_clip), "known_faces": known_faces,
                   "model": "sface", "watch_interval_s": 0.5, "settle_s": 0.2, **overrides}
        window = MainWindow(WindowOptions(**options), recognizer=recognizer, build_recognizer=build,
                            source_backend=backend,
                            open_url=open_url or (lambda url: opened.append(url.toLocalFile())),
                            confirm=lambda *_: True, choose_file=choose_file)
        window.opened_urls = opened
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        return window

    yield make
    for window in windows:
        window.close()
    sface_recognizer.threshold = threshold
    deadline = time.monotonic() + 3
    while facecam_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
