"""main.py's way in: arguments, the real model loading on its thread, the picture before the model."""

from __future__ import annotations

import signal
import sys
import threading

import pytest

from facecam.gui import app as gui_app

from .helpers import facecam_threads, wait_for_names


def test_arguments():
    parser = gui_app.build_parser()
    args = parser.parse_args([])
    options = gui_app.options_from_args(args)
    assert (options.source, options.model, options.threshold, str(options.known_faces)) == ("0", "vgg-face", None,
                                                                                          "known_faces")
    args = parser.parse_args(["--source", "1", "--model", "sface", "--threshold", "0.5", "--weights", "w.onnx",
                              "--model-dir", "m", "--known-faces", "kf"])
    options = gui_app.options_from_args(args)
    assert (options.source, options.model, options.threshold, options.weights, options.model_dir) == (
        "1", "sface", 0.5, "w.onnx", "m")
    for bad in (["--threshold", "3"], ["--model", "facenet"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_window_from_arguments_loads_the_model_in_the_background(qtbot, monkeypatch, gui_clip, known_faces,
                                                                 model_dir, sface_recognizer):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    previous_sigint = signal.getsignal(signal.SIGINT)
    args = gui_app.build_parser().parse_args(["--source", str(gui_clip), "--known-faces", str(known_faces),
                                              "--model", "sface", "--model-dir", str(model_dir),
                                              "--threshold", "0.6"])
    try:
        _app, window, _hooks = gui_app.start_window(args)
        qtbot.addWidget(window)
        # the model (MTCNN + SFace) is built on its thread while the picture is already shown
        assert window.recognizer is None and "facecam-model-loader" in facecam_threads()
        assert window.load_label.isVisible() and "Loading SFace" in window.load_label.text()
        frames_when_ready = []
        window.loader.ready.connect(lambda _recognizer: frames_when_ready.append(window.frames_shown))
        qtbot.waitUntil(lambda: bool(frames_when_ready), timeout=60000)
        assert frames_when_ready[0] > 0
        wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"}, timeout_s=60)
        assert window.recognizer is not sface_recognizer and window.recognizer.threshold == 0.6
        assert window.recognizer.detector.options.min_face_size == 40
        assert window.threshold_label.text() == "0.60" and window.model_label.text() == "Model: SFace"
        assert not window.load_label.isVisible()
        window.close()
        assert facecam_threads() == []
    finally:
        signal.signal(signal.SIGINT, previous_sigint)
