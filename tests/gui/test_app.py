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
        assert window.threshold_label.text() == "0.60" and window.model_label.text() == "Model: SFace, MTCNN"
        assert not window.load_label.isVisible()
        window.close()
        assert facecam_threads() == []
    finally:
        signal.signal(signal.SIGINT, previous_sigint)


def click_when_shown(qtbot, text: str, clicked: list) -> None:
    """Click the button called ``text`` of the next modal dialog (run from the event loop it starts)."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QPushButton

    def attempt():
        dialog = QApplication.activeModalWidget()
        buttons = [b for b in (dialog.findChildren(QPushButton) if dialog is not None else []) if b.text() == text]
        if not buttons:
            QTimer.singleShot(20, attempt)
            return
        clicked.append((dialog.text(), text))
        buttons[0].click()

    QTimer.singleShot(0, attempt)


def test_a_known_faces_folder_that_does_not_exist_is_asked_about(qtbot, tmp_path):
    """The window asks (Create it / Choose another folder... / Quit) where the CLI refuses; never creates silently."""
    from facecam.gui.known_faces_dialog import resolve_known_faces

    missing = tmp_path / "nonexistent" / "kf"
    clicked = []
    click_when_shown(qtbot, "Quit", clicked)
    assert resolve_known_faces(missing) is None
    assert not missing.exists() and not missing.parent.exists()
    assert clicked == [(f"The known_faces folder {missing} does not exist.", "Quit")]

    other = tmp_path / "other"
    other.mkdir()
    click_when_shown(qtbot, "Choose another folder...", clicked)
    assert resolve_known_faces(missing, choose_folder=lambda parent, start: str(other)) == other
    assert not missing.exists()

    click_when_shown(qtbot, "Create it", clicked)
    assert resolve_known_faces(missing) == missing and missing.is_dir()
    assert resolve_known_faces(other) == other  # an existing folder: no question
    assert len(clicked) == 3


def test_quit_at_the_known_faces_question_exits_2(qtbot, monkeypatch, tmp_path, gui_clip):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    clicked = []
    click_when_shown(qtbot, "Quit", clicked)
    assert gui_app.run(["--source", str(gui_clip), "--known-faces", str(tmp_path / "typo"), "--model", "sface"]) == 2
    assert clicked and not (tmp_path / "typo").exists()
