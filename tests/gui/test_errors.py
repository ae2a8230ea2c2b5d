"""What goes wrong shows in the window, never as a crash: sources, model loading, unexpected exceptions."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from PyQt5.QtWidgets import QApplication, QMessageBox

from facecam.errors import DownloadError
from facecam.models import DownloadCancelled

from .helpers import FakeCamera, facecam_threads, wait_for_names


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
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq > 5, timeout=5000)
    assert not window.banner.isVisible()
    wait_for_names(qtbot, window, {"Tony_Blair"})


def test_corrupt_file_shows_the_error(make_window, qtbot, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    window = make_window(source=corrupt)
    qtbot.waitUntil(lambda: banner_shown(window), timeout=5000)
    text = window.banner_label.text()
    assert "corrupt.mp4" in text and ("could not be read" in text or "no frames" in text)
    assert window.video.image() is None and "corrupt.mp4" in window.video.message


def test_camera_unplugged_then_retry(make_window, qtbot):
    cameras = []

    def backend(spec):
        cameras.append(FakeCamera(frames=40 if not cameras else None))
        return cameras[-1]

    window = make_window(source="0", backend=backend)
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq >= 10, timeout=5000)
    assert not window.banner.isVisible()
    qtbot.waitUntil(lambda: banner_shown(window), timeout=5000)
    assert window.banner_label.text() == "camera stopped delivering frames; check the cable and press Retry"
    assert window.video.image() is not None  # the last picture stays
    seq_before = window.video.seq
    window.retry_button.click()
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq > 20, timeout=5000)
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
    qtbot.waitUntil(lambda: banner_shown(window), timeout=5000)
    assert window.banner_label.text().startswith("End of video file") and window.retry_button.text() == "Play again"
    assert window.video.seq == 15
    window.retry_button.click()
    qtbot.waitUntil(lambda: banner_shown(window), timeout=5000)


def test_vgg_download_cancel_then_use_sface(make_window, qtbot, sface_recognizer):
    calls = []

    def build(model, weights, model_dir, *, progress, cancel, **options):
        calls.append((model, weights))
        if model == "sface":
            return sface_recognizer
        for done in range(0, 580_000_000, 5_000_000):  # a download that only the Cancel button ends
            if cancel.is_set():
                raise DownloadCancelled(f"download of vgg_face_weights.h5 cancelled after {done} bytes")
            progress(done, 580_000_000)
            time.sleep(0.02)
        raise AssertionError("not cancelled")

    window = make_window(recognizer=None, build=build, model="vgg-face")
    assert window.video.seq is None or window.video.seq >= 0  # the picture does not wait for the model
    qtbot.waitUntil(lambda: window.video.seq is not None, timeout=3000)
    qtbot.waitUntil(lambda: window.download_dialog is not None and window.download_dialog.value() > 0, timeout=5000)
    assert "Downloading" in window.download_dialog.labelText() and "MB" in window.download_dialog.labelText()
    assert window.recognizer is None and "loading" in window.model_label.text()
    window.download_dialog.cancel()
    qtbot.waitUntil(lambda: window.model_error_box is not None, timeout=3000)
    box = window.model_error_box
    assert sorted(b.text() for b in box.buttons()) == ["Choose weights file...", "Continue without recognition",
                                                       "Retry", "Use SFace"]
    assert "cancelled" in box.informativeText()
    window.model_sface_button.click()
    qtbot.waitUntil(lambda: window.recognizer is sface_recognizer, timeout=3000)
    assert calls == [("vgg-face", None), ("sface", None)]
    assert window.model_label.text() == "Model: SFace"
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})


def test_no_internet_offers_retry_weights_and_sface(make_window, qtbot):
    attempts = []

    def build(model, weights, model_dir, *, progress, cancel, **options):
        attempts.append(model)
        raise DownloadError("cannot download vgg_face_weights.h5: no network (Name or service not known); "
                            "download it by hand or pass --weights PATH")

    window = make_window(recognizer=None, build=build, model="vgg-face")
    qtbot.waitUntil(lambda: window.model_error_box is not None, timeout=3000)
    assert "no network" in window.model_error_box.informativeText()
    assert window.download_dialog is None
    window.model_retry_button.click()
    qtbot.waitUntil(lambda: len(attempts) == 2 and window.model_error_box is not None, timeout=3000)
    window.model_close_button.click()  # go on without recognition: the video still plays
    seq = window.video.seq or 0
    qtbot.waitUntil(lambda: (window.video.seq or 0) > seq + 10, timeout=3000)
    assert window.label_names() == [] and "not loaded" in window.model_label.text()


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
    qtbot.waitUntil(lambda: len(hooks.shown) == 2, timeout=3000)
    assert "ValueError: boom in a slot" in hooks.shown[0]
    assert "ZeroDivisionError" in hooks.shown[1] and "facecam-test-crash" in hooks.shown[1]
    boxes = [b for b in hooks.open_boxes if isinstance(b, QMessageBox) and b.isVisible()]
    assert len(boxes) == 2 and "keeps running" in boxes[0].text()
    for box in boxes:
        box.close()
    assert facecam_threads() == []
