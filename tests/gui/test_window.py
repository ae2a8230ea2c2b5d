"""The window on a clip of real photos with real MTCNN + SFace: names painted, threshold, keys, shutdown."""

from __future__ import annotations

import re
import shutil
import threading
import time

import numpy as np
from PyQt5.QtCore import Qt

from .helpers import EVENT_TIMEOUT_MS, facecam_threads, lfw_photo, qimage_to_rgb, wait_for_names

KNOWN_RGB = (0, 200, 0)      # facecam.annotate.KNOWN_COLOUR (BGR 0, 200, 0)
UNKNOWN_RGB = (255, 90, 0)   # facecam.annotate.UNKNOWN_COLOUR (BGR 0, 90, 255)


def colour_mask(rgb: np.ndarray, colour, tolerance=30) -> np.ndarray:
    return np.all(np.abs(rgb.astype(int) - np.array(colour)) <= tolerance, axis=-1)


def border_pixels(rgb: np.ndarray, box, colour, band=3) -> float:
    """Share of the pixels on the box outline (within ``band`` px) that have ``colour``."""
    x, y, w, h = (int(round(v)) for v in box)
    height, width = rgb.shape[:2]
    ring = np.zeros((height, width), bool)
    ring[max(y - band, 0):y + h + band, max(x - band, 0):x + w + band] = True
    ring[max(y + band, 0):max(y + h - band, 0), max(x + band, 0):max(x + w - band, 0)] = False
    return float(colour_mask(rgb, colour)[ring].mean())


def test_names_and_colours_painted(make_window, qtbot):
    window = make_window()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    # the labels and the painted frame belong to the same tick: read both at once
    labels = {}  # the largest face of each name (MTCNN may also find a small face in a photo's background)
    for label in sorted(window.current_labels, key=lambda item: item.box[2] * item.box[3]):
        if not label.pending:
            labels[label.name or "Unknown"] = label
    rgb = qimage_to_rgb(window.video.image())
    assert rgb.shape == (480, 640, 3)
    assert border_pixels(rgb, labels["Tony_Blair"].box, KNOWN_RGB) > 0.3
    assert border_pixels(rgb, labels["Unknown"].box, UNKNOWN_RGB) > 0.3
    assert border_pixels(rgb, labels["Tony_Blair"].box, UNKNOWN_RGB) < 0.05
    # Blair is on the left of the clip, Putin (the stranger) on the right
    assert labels["Tony_Blair"].box[0] < 320 < labels["Unknown"].box[0]
    # what is on screen: the widget, scaled with the aspect ratio kept, has the green box too
    shown = qimage_to_rgb(window.video.grab().toImage())
    rect = window.video.image_rect()
    assert abs(rect.width() / rect.height() - 640 / 480) < 0.01
    assert colour_mask(shown, KNOWN_RGB).sum() > 100 and colour_mask(shown, UNKNOWN_RGB).sum() > 100
    x, y, w, h = labels["Tony_Blair"].box
    top_left, bottom_right = window.video.to_widget(x, y), window.video.to_widget(x + w, y + h)
    inside = shown[int(top_left.y()) - 4:int(bottom_right.y()) + 4, int(top_left.x()) - 4:int(bottom_right.x()) + 4]
    assert colour_mask(inside, KNOWN_RGB).sum() > 50
    # the status bar: fps shown, recognition latency, the gallery and the model
    qtbot.waitUntil(lambda: "latency" in window.status_label.text(), timeout=EVENT_TIMEOUT_MS)
    status = window.status_label.text()
    assert "fps shown" in status and "latency" in status and "1 person, 3 photos" in status and "SFace" in status
    assert window.displayed_fps() > 0  # frames are being painted (the rate itself: bench/bench_gui.py)
    assert window.people_panel.names() == ["Tony_Blair"] and window.people_panel.counts() == {"Tony_Blair": 3}
    assert not window.evaluate_action.isEnabled() or window.evaluate_action.text().startswith("Check")

    # one convention: the cosine distance after a name (the threshold's scale), no number after Unknown
    texts = {label.name: window.annotator.text_for(label) for label in window.current_labels if not label.pending}
    assert re.fullmatch(r"Tony_Blair 0\.\d\d", texts["Tony_Blair"]) and texts[None] == "Unknown", texts
    assert not any("%" in text for text in texts.values())
    blair = next(label for label in window.current_labels if label.name == "Tony_Blair")
    assert blair.distance < window.recognizer.threshold
    window.distances_box.setChecked(False)
    assert window.annotator.text_for(blair) == "Tony_Blair"

    # threshold slider: immediate effect, labels re-voted (0.05: nobody is close enough)
    window.threshold_slider.setValue(5)
    assert window.recognizer.threshold == 0.05
    qtbot.waitUntil(lambda: set(window.label_names()) == {"Unknown"}, timeout=EVENT_TIMEOUT_MS)
    assert len(window.label_names()) >= 2
    window.threshold_slider.setValue(64)
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})


def test_known_faces_changed_on_disk_and_remove_person(make_window, qtbot, known_faces):
    from facecam.gui.main_window import WindowOptions

    defaults = WindowOptions()  # the app's own watcher timings
    window = make_window(watch_interval_s=defaults.watch_interval_s, settle_s=defaults.settle_s)
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    folder = known_faces / "Vladimir_Putin"
    folder.mkdir()
    for n in (1, 2, 3):
        shutil.copy(lfw_photo("Vladimir_Putin", n), folder)
    # found by the watcher itself (no Rescan, no restart); how soon is a speed, measured on an idle machine
    # (about a second: interval 0.5 s + settle 0.3 s + indexing), not asserted here where the load varies
    qtbot.waitUntil(lambda: "Vladimir_Putin" in window.people_panel.names(), timeout=EVENT_TIMEOUT_MS)
    assert window.people_panel.counts()["Vladimir_Putin"] == 3
    wait_for_names(qtbot, window, {"Tony_Blair", "Vladimir_Putin"})
    assert "Unknown" not in window.label_names()

    # remove him (confirmation answered yes by the fixture): moved into .facecam/removed, never deleted
    window.people_panel.select("Vladimir_Putin")
    window.people_panel.remove_button.click()
    qtbot.waitUntil(lambda: "Vladimir_Putin" not in window.people_panel.names(), timeout=EVENT_TIMEOUT_MS)
    assert not folder.exists()
    backups = list((known_faces / ".facecam" / "removed").glob("Vladimir_Putin-*/Vladimir_Putin"))
    assert len(backups) == 1 and len(list(backups[0].glob("*.jpg"))) == 3
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})

    # open folders through the desktop (replaced by the fixture)
    window.people_panel.select("Tony_Blair")
    window.people_panel.open_button.click()
    window.people_panel.gallery_button.click()
    assert window.opened_urls[-2:] == [str((known_faces / "Tony_Blair").resolve()), str(known_faces.resolve())]


def test_space_pauses_the_video_file_itself_esc_never_quits_and_q_closes_at_once(make_window, qtbot):
    window = make_window()
    wait_for_names(qtbot, window, {"Tony_Blair"})
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.paused and window.pipeline.paused and window.source.paused
    paused_frame = window.last_frame
    qtbot.wait(100)  # a read in progress ends
    read = window.source.frames_read
    seq = window.video.seq
    qtbot.wait(800)
    assert window.video.seq == seq  # frames stop advancing on screen...
    assert window.source.frames_read <= read + 1  # ...and the file is not read on underneath
    qtbot.keyClick(window, Qt.Key_Space)
    assert not window.paused and not window.source.paused
    qtbot.waitUntil(lambda: window.video.seq > seq, timeout=EVENT_TIMEOUT_MS)
    # the video goes on from where it was paused: no skip of the 0.8 s spent paused
    assert window.last_frame.t_source - paused_frame.t_source < 0.4

    qtbot.keyClick(window, Qt.Key_Escape)  # not full screen: Esc does nothing (it used to quit)
    qtbot.wait(50)
    assert window.isVisible()
    qtbot.keyClick(window, Qt.Key_F)
    assert window.isFullScreen() and not window.menuBar().isVisible()
    qtbot.keyClick(window, Qt.Key_Escape)  # leaves full screen
    assert not window.isFullScreen() and window.isVisible()

    started = time.monotonic()
    qtbot.keyClick(window, Qt.Key_Q)
    elapsed = time.monotonic() - started
    assert not window.isVisible()
    assert elapsed < 10.0, elapsed   # no question, no thread waited out (idle: under a second)
    assert facecam_threads() == []


def test_closing_while_recognising_stops_every_thread(make_window, qtbot):
    window = make_window()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    assert {"facecam-recognition", "facecam-gallery-watcher"} <= set(facecam_threads())
    assert any(name.startswith("facecam-capture") for name in facecam_threads())
    started = time.monotonic()
    window.close()
    elapsed = time.monotonic() - started
    assert elapsed < 10.0, elapsed   # no question, no thread waited out (idle: under a second)
    assert [t.name for t in threading.enumerate() if t.name.startswith("facecam-")] == []


def test_open_known_faces_without_a_file_manager_shows_the_path(make_window, qtbot, known_faces):
    window = make_window(open_url=lambda url: False)  # QDesktopServices.openUrl's answer with no file manager
    window.people_panel.gallery_button.click()
    box = window.message_box
    assert box is not None and box.isVisible() and not box.isModal()
    assert str(known_faces.resolve()) in box.text() and "No file manager" in box.text()


def test_a_known_faces_that_cannot_be_read_is_shown_persistently_and_recognition_goes_on(make_window, qtbot,
                                                                                          tmp_path):
    not_a_folder = tmp_path / "known_faces.txt"
    not_a_folder.write_text("not a folder")
    window = make_window(known_faces=not_a_folder)
    qtbot.waitUntil(lambda: window.status_line.error is not None, timeout=EVENT_TIMEOUT_MS)
    assert window.status_line.error.startswith("known_faces: ") and "known_faces.txt" in window.status_line.error
    assert window.status_line.error_label.isVisible()
    wait_for_names(qtbot, window, {"Unknown"})  # not stuck on "Indexing...": faces are shown, as Unknown
    assert not window.load_label.isVisible()
    qtbot.wait(2500)  # several watcher rounds and longer than a status message lasts: still in view
    assert window.status_line.error_label.isVisible() and "known_faces.txt" in window.status_line.error
