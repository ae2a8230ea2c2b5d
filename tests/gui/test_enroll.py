"""Enroll through the window: pick the stranger's face, name him, save; he is recognised without a restart."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
from PyQt5.QtCore import Qt

from facecam.gui.enroll_dialog import SHOTS
from facecam.tracker import iou_matrix

from .helpers import EVENT_TIMEOUT_MS, wait_for_names


def tree_hashes(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and ".facecam" not in p.parts}


def test_enroll_the_stranger_then_he_is_recognised(make_window, qtbot, known_faces):
    window = make_window()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    before = tree_hashes(known_faces)
    stranger = next(label for label in window.current_labels if not label.pending and label.name is None)

    qtbot.keyClick(window, Qt.Key_E)
    dialog = window.enroll_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.faces is not None, timeout=EVENT_TIMEOUT_MS)
    # Blair and Putin (MTCNN may also find a small face in the background of Putin's photo)
    assert len(dialog.faces) >= 2 and dialog.faces_list.count() == len(dialog.faces)
    assert not dialog.save_button.isEnabled()  # several faces: the user picks one
    overlaps = iou_matrix(dialog.faces.boxes, stranger.box)[:, 0]
    pick = max(range(len(overlaps)), key=overlaps.__getitem__)
    assert overlaps[pick] > 0.3
    dialog.select_face(pick)
    assert dialog.name_edit.completer().model().stringList() == ["Tony_Blair"]
    qtbot.keyClicks(dialog.name_edit, "Vladimir Putin")
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)

    folder = known_faces / "Vladimir Putin"
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=EVENT_TIMEOUT_MS)
    saved = sorted(folder.glob("*.jpg"))
    assert len(saved) == 1 and saved[0].name.startswith("webcam-")
    photo = cv2.imread(str(saved[0]))
    assert photo is not None and photo.shape[0] == photo.shape[1] >= 100  # the face crop with margin
    assert tree_hashes(known_faces) == {**before, saved[0].relative_to(known_faces): tree_hashes(known_faces)[
        saved[0].relative_to(known_faces)]}  # nothing else changed
    assert not list(folder.glob(".incoming-*"))  # no temporary file left

    wait_for_names(qtbot, window, {"Tony_Blair", "Vladimir Putin"})
    assert "Unknown" not in window.label_names()
    assert window.people_panel.counts() == {"Tony_Blair": 3, "Vladimir Putin": 1}


def test_capture_five_shots_and_refusals(make_window, qtbot, known_faces):
    window = make_window()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    window.enroll()
    dialog = window.enroll_dialog
    qtbot.waitUntil(lambda: dialog.faces is not None, timeout=EVENT_TIMEOUT_MS)
    blair = max(range(len(dialog.faces)), key=lambda i: -dialog.faces[i].box[0])  # the face on the left
    dialog.select_face(blair)
    # a bad name is refused with the reason, nothing written
    qtbot.keyClicks(dialog.name_edit, "../evil")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "cannot use" in dialog.status.text() and dialog.isVisible()
    dialog.name_edit.setText("Tony_Blair")
    # the whole frame is refused for a face that is not the largest (the gallery would use the largest)
    dialog.select_face(1)
    dialog.whole_radio.setChecked(True)
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "largest face" in dialog.status.text() and dialog.isVisible()
    dialog.crop_radio.setChecked(True)
    dialog.select_face(blair)
    before = sorted((known_faces / "Tony_Blair").iterdir())
    qtbot.mouseClick(dialog.shots_button, Qt.LeftButton)
    assert dialog.busy and not dialog.save_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=EVENT_TIMEOUT_MS)
    after = sorted((known_faces / "Tony_Blair").iterdir())
    new = [p for p in after if p not in before]
    assert len(new) == SHOTS and all(p.name.startswith("webcam-") for p in new)
    assert all(cv2.imread(str(p)) is not None for p in new)
    gaps = np.diff(dialog.shot_times)
    span = dialog.shot_times[-1] - dialog.shot_times[0]
    assert len(gaps) == SHOTS - 1 and gaps.min() > 0.3 and 1.5 < span, span   # spread over time (idle: ~3 s)
    qtbot.waitUntil(lambda: window.people_panel.counts().get("Tony_Blair") == 3 + SHOTS, timeout=EVENT_TIMEOUT_MS)
