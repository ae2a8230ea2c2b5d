"""The window's privacy parts (issue 22): Enroll asks who agreed when consent is required and the People panel
shows it; People > Forget... deletes the person everywhere (the same core as ``facecam people forget``), even
while they are in view; Tools > Privacy... saves each kind of data's retention. Real clip, real SFace."""

from __future__ import annotations

import json

import numpy as np
from PyQt5.QtCore import Qt

from facecam import config
from facecam.retention import Retention
from facecam.tracker import iou_matrix

from .helpers import EVENT_TIMEOUT_MS, wait_for_names


def cached_rows(known_faces, person: str) -> list[bytes]:
    rows = []
    for cache in (known_faces / ".facecam").glob("*.npz"):
        with np.load(cache, allow_pickle=False) as data:
            theirs = {str(s) for p, s in zip(data["stat_paths"], data["stat_sha"]) if f"/{person}/" in str(p)}
            rows += [np.asarray(v, np.float32).tobytes() for s, v in zip(data["sha256"], data["embeddings"])
                     if str(s) in theirs]
    return rows


def test_enroll_with_consent_then_forget_him_while_in_view(make_window, qtbot, known_faces):
    config.save_settings({config.CONSENT_KEY: True})
    window = make_window()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    stranger = next(label for label in window.current_labels if not label.pending and label.name is None)
    qtbot.keyClick(window, Qt.Key_E)
    dialog = window.enroll_dialog
    qtbot.waitUntil(lambda: dialog.faces is not None, timeout=EVENT_TIMEOUT_MS)
    assert dialog.consent_edit.isVisibleTo(dialog)
    overlaps = iou_matrix(dialog.faces.boxes, stranger.box)[:, 0]
    dialog.select_face(max(range(len(overlaps)), key=overlaps.__getitem__))
    qtbot.keyClicks(dialog.name_edit, "Vladimir Putin")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    folder = known_faces / "Vladimir Putin"
    assert "Consent is required" in dialog.status.text() and not folder.exists()   # nothing written
    qtbot.keyClicks(dialog.consent_edit, "Vladimir Putin himself")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=EVENT_TIMEOUT_MS)
    record = json.loads((folder / ".consent.json").read_text())
    assert record["agreed_by"] == "Vladimir Putin himself" and record["how"] == "window"
    wait_for_names(qtbot, window, {"Tony_Blair", "Vladimir Putin"})
    texts = {window.people_panel.list.item(i).text() for i in range(window.people_panel.list.count())}
    assert f"Vladimir Putin\n1 photo\nagreed by Vladimir Putin himself on {record['at'][:10]}" in texts
    assert "Tony_Blair\n3 photos\nno consent recorded" in texts
    qtbot.waitUntil(lambda: bool(cached_rows(known_faces, "Vladimir Putin")), timeout=EVENT_TIMEOUT_MS)
    needles = [b"Vladimir Putin", *cached_rows(known_faces, "Vladimir Putin")]

    window.people_panel.select("Vladimir Putin")
    window.people_panel.forget_button.click()                  # the confirmation is answered yes by the fixture
    qtbot.waitUntil(lambda: "Vladimir Putin" not in window.people_panel.names(), timeout=EVENT_TIMEOUT_MS)
    assert not folder.exists()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})   # a stranger again
    window.close()                                             # his visit in view ends: not logged under his name
    left = [str(p) for p in known_faces.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]
    assert left == []
    assert "Tony_Blair" in window.people_panel.names()


def test_privacy_dialog_saves_each_kinds_retention_and_consent(make_window, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(tmp_path / "config"))   # its settings are not the next tests'
    window = make_window()
    window.privacy_action.trigger()
    dialog = window.privacy_dialog
    assert dialog.chosen() == Retention(90.0, 30.0, 365.0) and not dialog.consent_box.isChecked()
    dialog.days["visits"].setValue(14)
    dialog.days["unknowns"].setValue(3)
    dialog.days["learned"].setValue(60)
    dialog.consent_box.setChecked(True)
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=EVENT_TIMEOUT_MS)
    assert Retention.chosen() == Retention(14.0, 3.0, 60.0) and config.consent_required()
    assert window.people_panel.consent_required
