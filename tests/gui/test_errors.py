"""What goes wrong shows in the window, never as a crash: sources, model loading, unexpected exceptions."""

from __future__ import annotations

import sys
import threading

import numpy as np
from PyQt5.QtWidgets import QApplication, QMessageBox

from facecam.errors import ModelError

from .helpers import EVENT_TIMEOUT_MS, point_vgg_face_at, FakeCamera, facecam_threads, wait_for_names


def banner_shown(window) -> bool:
    return window.banner.isVisible() and window.retry_button.isVisible() and window.choose_source_button.isVisible()


def test_missing_file_shows_a_banner_with_retry_and_choose_source(make_window, qtbot, tmp_path, gui_clip):
    window = make_window(source=tmp_path / "nope.mp4")
    assert banner_shown(window)
    assert "video file not found" in window.banner_label.text() and "nope.mp4" in window.banner_label.text()
    window.retry_button.click()  # still missing: still the banner, no crash
    assert banner_shown(window) and window.source is None
    # Choose source...: a dialog; pick the clip and the video plays
    window.choose_source_button.click()
    dialog = window.source_dialog
    assert dialog.isVisible()
    dialog.file_edit.setText(str(gui_clip))
    dialog.file_radio.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq > 5, timeout=EVENT_TIMEOUT_MS)
    assert not window.banner.isVisible()
    wait_for_names(qtbot, window, {"Tony_Blair"})


def test_corrupt_file_shows_the_error(make_window, qtbot, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    window = make_window(source=corrupt)
    qtbot.waitUntil(lambda: banner_shown(window), timeout=EVENT_TIMEOUT_MS)
    text = window.banner_label.text()
    assert "corrupt.mp4" in text and ("could not be read" in text or "no frames" in text)
    assert window.video.image() is None and "corrupt.mp4" in window.video.message


def test_camera_unplugged_then_retry(make_window, qtbot):
    cameras = []

    def backend(spec):
        cameras.append(FakeCamera(frames=40 if not cameras else None))
        return cameras[-1]

    window = make_window(source="0", backend=backend)
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq >= 10, timeout=EVENT_TIMEOUT_MS)
    assert not window.banner.isVisible()
    qtbot.waitUntil(lambda: banner_shown(window), timeout=EVENT_TIMEOUT_MS)
    assert window.banner_label.text() == "camera stopped delivering frames; check the cable and press Retry"
    colour = window.banner.grab().toImage().pixelColor(3, window.banner.height() // 2)
    assert colour.red() > 100 and colour.blue() < 60, colour.name()  # a problem: red
    assert window.video.image() is not None  # the last picture stays
    seq_before = window.video.seq
    window.retry_button.click()
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq > 20, timeout=EVENT_TIMEOUT_MS)
    assert len(cameras) == 2 and not window.banner.isVisible() and cameras[0].released.is_set()
    assert seq_before == 40
    wait_for_names(qtbot, window, {"Tony_Blair"})


def test_end_of_file_offers_play_again(make_window, qtbot, tmp_path):
    import cv2

    short = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for i in range(15):
        writer.write(np.full((120, 160, 3), i * 10, np.uint8))
    writer.release()
    window = make_window(source=short)
    qtbot.waitUntil(lambda: banner_shown(window), timeout=EVENT_TIMEOUT_MS)
    assert window.banner_label.text().startswith("End of video file") and window.retry_button.text() == "Replay"
    assert window.video.seq == 15 and window.source_ended and window.choose_source_button.isVisible()
    # a normal state, not an error: the banner is grey-blue, not the red of a problem
    colour = window.banner.grab().toImage().pixelColor(3, window.banner.height() // 2)
    assert colour.red() < 100 and abs(colour.red() - colour.blue()) < 40, colour.name()
    window.retry_button.click()
    qtbot.waitUntil(lambda: banner_shown(window), timeout=EVENT_TIMEOUT_MS)


def test_a_model_that_fails_to_load_shows_in_the_bar_with_retry_choose_file_and_use_sface(make_window, qtbot,
                                                                                         sface_recognizer, tmp_path):
    attempts = []

    def build(model, weights, model_dir, *, progress, cancel, **options):
        attempts.append((model, weights))
        if model == "sface":
            return sface_recognizer
        raise ModelError(f"{weights} is not a valid VGG-Face weights file (layer conv2d_3 missing); "
                         "download it again or pass another --weights")

    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    window = make_window(recognizer=None, build=build, model="vgg-face", weights=str(broken),
                         choose_file=lambda title: str(broken))
    bar = window.model_bar
    qtbot.waitUntil(lambda: bar.state == "failed", timeout=EVENT_TIMEOUT_MS)
    assert QApplication.activeModalWidget() is None  # a bar, not a modal dialog: the video plays on
    assert "could not be loaded" in bar.label.text() and "conv2d_3 missing" in bar.label.text()
    assert [b.text() for b in (bar.retry_button, bar.choose_button, bar.keep_button) if b.isVisible()] == [
        "Retry", "Choose file...", "Use SFace"]
    assert "not loaded" in window.model_label.text() and "off: model not loaded" in window.status_text()
    seq = window.video.seq or 0
    qtbot.waitUntil(lambda: (window.video.seq or 0) > seq + 10, timeout=EVENT_TIMEOUT_MS)
    bar.retry_button.click()
    qtbot.waitUntil(lambda: len(attempts) == 2 and bar.state == "failed", timeout=EVENT_TIMEOUT_MS)
    bar.choose_button.click()
    qtbot.waitUntil(lambda: len(attempts) == 3 and bar.state == "failed", timeout=EVENT_TIMEOUT_MS)
    assert attempts == [("vgg-face", str(broken))] * 3
    bar.keep_button.click()  # Use SFace
    qtbot.waitUntil(lambda: window.recognizer is sface_recognizer, timeout=EVENT_TIMEOUT_MS)
    assert not bar.isVisible() and window.model_label.text() == "Model: SFace, MTCNN"
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})


def test_no_network_for_the_download_shows_in_the_bar_and_sface_goes_on(make_window, qtbot, tmp_path, monkeypatch,
                                                                       sface_recognizer):
    import socket

    from facecam import models

    with socket.socket() as s:  # a port on 127.0.0.1 where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = models.ModelFile("vgg-face", "vgg_face_weights.h5", f"http://127.0.0.1:{port}/vgg_face_weights.h5")
    point_vgg_face_at(monkeypatch, spec)

    def build(model, weights, model_dir, *, progress, cancel, **options):
        assert model == "sface"
        return sface_recognizer

    window = make_window(recognizer=None, build=build, model="vgg-face", model_dir=str(tmp_path / "models"))
    window.model_bar.download_button.click()
    qtbot.waitUntil(lambda: window.model_bar.state == "failed", timeout=EVENT_TIMEOUT_MS)
    assert "could not download" in window.model_bar.label.text()
    assert window.recognizer is sface_recognizer
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})


def test_unhandled_exceptions_show_a_dialog(qtbot, monkeypatch):
    from facecam.gui.app import ExceptionHooks

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    hooks = ExceptionHooks(QApplication.instance()).install()
    assert sys.excepthook == hooks._sys_hook
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    worker = threading.Thread(target=lambda: 1 / 0, name="facecam-test-crash")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(hooks.shown) == 2, timeout=EVENT_TIMEOUT_MS)
    assert "ValueError: boom in a slot" in hooks.shown[0]
    assert "ZeroDivisionError" in hooks.shown[1] and "facecam-test-crash" in hooks.shown[1]
    boxes = [b for b in hooks.open_boxes if isinstance(b, QMessageBox) and b.isVisible()]
    assert len(boxes) == 2 and "keeps running" in boxes[0].text()
    for box in boxes:
        box.close()
    assert facecam_threads() == []
