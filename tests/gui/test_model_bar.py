"""No VGG-Face weights: the window recognises with SFace at once, and a non-modal bar offers
Download / Choose file... / Keep SFace. Downloads come from a real HTTP server on 127.0.0.1.

The VGG-Face file served is the published HDF5 layout (tests/vgg_fixtures.py, "lazy": the real
580 MB cannot be downloaded here, nor built in a window test). The builder the window is given
builds SFace (real MTCNN + SFace) for both keys and records which file it was handed: what
these tests prove is the window's part (download, progress, cancel, background indexing,
the switch, the remembered choice), not VGG-Face's accuracy (tests/test_vggface.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt5.QtWidgets import QApplication

from facecam import config, models
from facecam.recognizer import Recognizer

from .helpers import EVENT_TIMEOUT_MS, point_vgg_face_at, ModelServer, facecam_threads, wait_for_names

VGG_FILE = "vgg_face_weights.h5"


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A 127.0.0.1 server with a VGG-Face file (HDF5 layout + padding to 3 MB), the registry pointed at it."""
    from vgg_fixtures import write_vggface_weights

    h5 = write_vggface_weights(tmp_path / "served.h5", values="lazy")
    data = Path(h5).read_bytes()
    data += bytes(3_000_000 - len(data))
    server = ModelServer(data, hold_after=1_000_000)
    spec = models.ModelFile("vgg-face", VGG_FILE, server.url(VGG_FILE))
    point_vgg_face_at(monkeypatch, spec)
    yield server
    server.close()


@pytest.fixture
def builder(detector, sface, sface_recognizer):
    """build(model, weights, ...): the session's SFace for "sface"; for "vgg-face" a new SFace recognizer
    (recorded with the file it was given)."""
    calls = []

    def build(model, weights, model_dir, *, progress=None, cancel=None, **options):
        calls.append((model, weights))
        if model == "sface":
            return sface_recognizer
        assert Path(weights).is_file()
        build.built = Recognizer(detector, sface, sface_recognizer.threshold)
        return build.built

    build.calls = calls
    build.built = None
    return build


def visible_buttons(bar) -> list[str]:
    return [b.text() for b in (bar.download_button, bar.retry_button, bar.choose_button, bar.keep_button,
                               bar.cancel_button) if b.isVisible()]


def test_no_weights_recognises_with_sface_at_once_then_downloads_indexes_and_switches(
        make_window, qtbot, tmp_path, served, builder, sface_recognizer):
    model_dir = tmp_path / "models"
    window = make_window(recognizer=None, build=builder, model="vgg-face", model_dir=str(model_dir))
    bar = window.model_bar
    assert bar.isVisible() and bar.state == "offer"
    assert "VGG-Face (580 MB) is not downloaded" in bar.label.text()
    assert visible_buttons(bar) == ["Download", "Choose file...", "Keep SFace"]
    assert QApplication.activeModalWidget() is None  # nothing modal: the window works meanwhile
    qtbot.waitUntil(lambda: window.recognizer is sface_recognizer, timeout=EVENT_TIMEOUT_MS)
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    assert builder.calls == [("sface", None)]

    bar.download_button.click()
    qtbot.waitUntil(lambda: bar.progress_bar.value() > 0 and "MB" in bar.label.text(), timeout=EVENT_TIMEOUT_MS)
    assert "Downloading VGG-Face" in bar.label.text() and visible_buttons(bar) == ["Cancel"]
    wait_for_names(qtbot, window, {"Tony_Blair"})  # recognition goes on during the download
    served.hold.set()
    qtbot.waitUntil(lambda: window.recognizer is builder.built and builder.built is not None, timeout=EVENT_TIMEOUT_MS)
    downloaded = model_dir / VGG_FILE
    assert downloaded.read_bytes() == served.data
    assert builder.calls == [("sface", None), ("vgg-face", str(downloaded))]
    assert not bar.isVisible()
    assert config.load_settings()["window"] == {"vgg-face": "downloaded"}
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})  # the new model names people (gallery indexed)
    window.close()
    assert facecam_threads() == []  # the replaced pipeline and gallery watcher were joined too


def test_cancel_then_retry_resumes_and_keep_sface_is_remembered(make_window, qtbot, tmp_path, served, builder,
                                                                sface_recognizer):
    model_dir = tmp_path / "models"
    window = make_window(recognizer=None, build=builder, model="vgg-face", model_dir=str(model_dir))
    bar = window.model_bar
    bar.download_button.click()
    qtbot.waitUntil(lambda: bar.progress_bar.value() > 0, timeout=EVENT_TIMEOUT_MS)
    bar.cancel_button.click()
    qtbot.waitUntil(lambda: bar.state == "failed", timeout=EVENT_TIMEOUT_MS)
    assert "cancelled" in bar.label.text() and visible_buttons(bar) == ["Retry", "Choose file...", "Keep SFace"]
    assert window.recognizer is sface_recognizer  # SFace goes on
    partial = model_dir / (VGG_FILE + ".part")
    assert partial.is_file() and partial.stat().st_size > 0
    bar.retry_button.click()  # resumes where it stopped (a Range request)
    qtbot.waitUntil(lambda: len(served.ranges) == 2, timeout=EVENT_TIMEOUT_MS)
    assert served.ranges[0] is None and served.ranges[1].startswith("bytes=")
    bar.keep_button.click()  # changed our mind: keep SFace (the download in progress stops)
    assert not bar.isVisible()
    assert config.load_settings()["window"] == {"vgg-face": "keep-sface"}
    window.close()

    again = make_window(recognizer=None, build=builder, model="vgg-face", model_dir=str(model_dir))
    assert not again.model_bar.isVisible()  # remembered: no offer this time
    qtbot.waitUntil(lambda: again.recognizer is sface_recognizer, timeout=EVENT_TIMEOUT_MS)
    assert "VGG-Face" in again.vgg_action.text()  # Tools > Use VGG-Face... brings the offer back
    again.vgg_action.trigger()
    assert again.model_bar.isVisible() and again.model_bar.state == "offer"


def test_a_chosen_weights_file_is_used_and_remembered(make_window, qtbot, tmp_path, builder, sface_recognizer):
    from vgg_fixtures import write_vggface_weights

    weights = write_vggface_weights(tmp_path / "my_vgg.h5", values="lazy")
    asked = []
    window = make_window(recognizer=None, build=builder, model="vgg-face", model_dir=str(tmp_path / "models"),
                         choose_file=lambda title: asked.append(title) or str(weights))
    window.model_bar.choose_button.click()
    assert asked == ["Choose the VGG-Face weights file"]
    qtbot.waitUntil(lambda: builder.built is not None and window.recognizer is builder.built, timeout=EVENT_TIMEOUT_MS)
    assert builder.calls == [("sface", None), ("vgg-face", str(weights))]
    assert config.load_settings()["window"] == {"vgg-face": str(weights)}
    window.close()

    builder.calls.clear()
    again = make_window(recognizer=None, build=builder, model="vgg-face", model_dir=str(tmp_path / "models"))
    qtbot.waitUntil(lambda: len(builder.calls) == 1, timeout=EVENT_TIMEOUT_MS)
    assert builder.calls == [("vgg-face", str(weights))] and not again.model_bar.isVisible()
