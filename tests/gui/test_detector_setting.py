"""The window's detector setting (issue 11): Tools > Detector, remembered like the model choice, --detector.

Real models: the builder makes a real recognizer (the session's SFace with a real detector of the
kind asked for: YuNet is built here, MTCNN is the session's), so the window recognises with the
detector chosen, and known_faces is indexed for it (the gallery cache is kept per detector).
"""

from __future__ import annotations

import pytest

from facecam import config
from facecam.detector import DetectorOptions, build_detector
from facecam.recognizer import Recognizer

from .helpers import EVENT_TIMEOUT_MS, facecam_threads, wait_for_names


@pytest.fixture
def builder(detector, sface, sface_recognizer):
    """build(...): SFace with the detector asked for (recorded: the model and the detector of each call)."""
    calls = []

    def build(model, weights, model_dir, *, progress=None, cancel=None, detector=None, min_face_size=40, **_):
        calls.append((model, detector))
        if detector == "yunet":
            found = build_detector("yunet", DetectorOptions(min_face_size=min_face_size))
            return Recognizer(found, sface, sface_recognizer.threshold)
        return sface_recognizer

    build.calls = calls
    return build


def test_choosing_yunet_reloads_the_model_with_it_and_is_remembered(make_window, qtbot, builder, known_faces):
    window = make_window(recognizer=None, build=builder)
    qtbot.waitUntil(lambda: window.recognizer is not None, timeout=EVENT_TIMEOUT_MS)
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    menu = window.detector_menu
    assert [a.text() for a in menu.actions()] == ["MTCNN (default)", "YuNet"]
    assert menu.actions_by_key["mtcnn"].isChecked() and window.model_label.text() == "Model: SFace, MTCNN"

    menu.actions_by_key["yunet"].trigger()
    qtbot.waitUntil(lambda: window.recognizer.detector.name == "yunet", timeout=EVENT_TIMEOUT_MS)
    assert builder.calls == [("sface", "mtcnn"), ("sface", "yunet")]
    assert menu.actions_by_key["yunet"].isChecked() and not menu.actions_by_key["mtcnn"].isChecked()
    assert window.model_label.text() == "Model: SFace, YuNet"
    assert config.load_settings()["window"] == {"detector": "yunet"}
    # the gallery is indexed for YuNet (its own cache) and YuNet finds both; the labels of the MTCNN
    # rounds may still be on screen at first, so wait for the cache, not only for the names
    qtbot.waitUntil(lambda: (known_faces / ".facecam" / "sface-yunet.npz").is_file(), timeout=EVENT_TIMEOUT_MS)
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    window.close()
    assert facecam_threads() == []

    again = make_window(recognizer=None, build=builder)        # the next start uses the remembered one
    qtbot.waitUntil(lambda: again.recognizer is not None, timeout=EVENT_TIMEOUT_MS)
    assert builder.calls[-1] == ("sface", "yunet") and again.detector_menu.actions_by_key["yunet"].isChecked()
    again.close()

    once = make_window(recognizer=None, build=builder, detector="mtcnn")   # --detector wins for one run
    qtbot.waitUntil(lambda: once.recognizer is not None, timeout=EVENT_TIMEOUT_MS)
    assert builder.calls[-1] == ("sface", "mtcnn") and config.load_settings()["window"]["detector"] == "yunet"
    once.close()


def test_the_command_line_takes_detector():
    from facecam.gui.app import build_parser, options_from_args

    assert options_from_args(build_parser().parse_args(["--detector", "yunet"])).detector == "yunet"
    assert options_from_args(build_parser().parse_args([])).detector is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--detector", "haar"])
