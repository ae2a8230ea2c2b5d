"""Tools > Check accuracy: the evaluation of known_faces in a non-modal dialog, off the GUI thread; Apply.

Real MTCNN + SFace (the session's recognizer) on real LFW photos copied into the test's known_faces.
"""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
from PyQt5.QtCore import QTimer, Qt

from facecam import config
from facecam.gui.evaluate_dialog import not_enough_message

from .helpers import EVENT_TIMEOUT_MS, lfw_photo

# known_faces already holds Tony_Blair (3 photos); these people are added, 4 photos each.
PEOPLE = ("Ariel_Sharon", "Colin_Powell", "Donald_Rumsfeld", "Hugo_Chavez")
PHOTOS = (1, 2, 3, 4)
MORE_PEOPLE = ("Arnold_Schwarzenegger", "George_W_Bush", "Gerhard_Schroeder", "Jacques_Chirac", "Vladimir_Putin")
MAX_BUSY_S = 0.2  # GUI-thread CPU between two ticks: catches work done on the GUI thread, not a timing benchmark


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    """A settings folder of this test's own (Apply writes the SFace threshold; no other test should see it)."""
    folder = tmp_path / "config"
    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(folder))
    return folder / "settings.json"


@pytest.fixture
def restore_match_mode(sface_recognizer):
    """Apply changes the session recognizer's match mode (make_window restores only its threshold)."""
    mode = sface_recognizer.match_mode
    yield
    sface_recognizer.match_mode = mode


def add_people(known_faces):
    for person in PEOPLE:
        (known_faces / person).mkdir()
        for n in PHOTOS:
            shutil.copy(lfw_photo(person, n), known_faces / person)


class GapProbe:
    """A 10 ms timer on the GUI thread. Between two ticks the event loop did nothing else: the most CPU
    the GUI thread used between two ticks (``time.thread_time``) is the longest piece of work done on it.

    CPU time, not wall time: on a loaded machine the thread is descheduled for long stretches, which
    does not grow its CPU time, so the probe blames work done on the GUI thread and not a busy machine
    (``test_the_probe_catches_evaluation_on_the_gui_thread`` checks it does). Waiting on the worker
    (a join, a lock) costs no CPU either: ``longest_share`` catches that, the longest wall gap as a
    share of the whole run (the evaluation takes seconds; a GUI thread that waited for it would stop
    ticking for most of it, loaded machine or not)."""

    def __init__(self):
        self.ticks: list[tuple[float, float]] = []   # (wall, GUI-thread CPU) per tick
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        self.ticks.append((time.monotonic(), time.thread_time()))

    def start(self):
        self.ticks = []
        self._tick()
        self.timer.start()
        return self

    def stop(self) -> tuple[float, float]:
        """(the most GUI-thread CPU seconds between two ticks, the longest wall gap / the whole run)."""
        self.timer.stop()
        self._tick()
        wall, cpu = np.array(self.ticks).T
        return float(np.max(np.diff(cpu))), float(np.max(np.diff(wall)) / (wall[-1] - wall[0]))


def open_and_wait(qtbot, window, timeout_s=120.0):
    window.evaluate_action.trigger()  # what Tools > Check accuracy... does
    dialog = window.evaluate_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    qtbot.waitUntil(lambda: not dialog.busy and (dialog.outcome is not None or dialog.error is not None),
                    timeout=int(timeout_s * 1000))
    return dialog


def test_check_accuracy_shows_the_report_and_applies_it(make_window, qtbot, known_faces, sface_recognizer,
                                                        settings_file, restore_match_mode):
    from facecam.evaluate import DEFAULT_TARGET_FAR, evaluate_gallery
    from facecam.evaluate_report import auc_text
    from facecam.gallery import Gallery

    add_people(known_faces)
    window = make_window()
    assert window.evaluate_action.isEnabled()
    threshold, mode = window.recognizer.threshold, window.recognizer.match_mode
    frames_before = window.frames_shown
    probe = GapProbe().start()
    dialog = open_and_wait(qtbot, window)  # runs while the window indexes and recognises the video
    busy, longest_share = probe.stop()

    assert dialog.error is None, dialog.error
    assert busy < MAX_BUSY_S, f"the GUI thread worked {busy * 1000:.0f} ms without turning its event loop"
    assert longest_share < 0.5, f"the GUI thread stopped for {longest_share:.0%} of the evaluation"
    assert window.frames_shown > frames_before  # the video went on behind the dialog

    # the same numbers as evaluate_gallery on the same folder, computed independently
    gallery = Gallery.for_recognizer(known_faces, sface_recognizer)
    index = gallery.refresh(sface_recognizer.embed_photo)
    expected = evaluate_gallery(gallery, threshold, DEFAULT_TARGET_FAR, match_mode=mode, index_report=index)
    assert expected.people_with_pairs == len(PEOPLE) + 1 and expected.recommended_threshold is not None
    report = dialog.outcome.report
    assert report.recommended_threshold == expected.recommended_threshold
    assert report.auc == pytest.approx(expected.auc)
    assert report.match_mode_recommended == expected.match_mode_recommended
    summary = dialog.summary.text()
    rec = expected.recommended_threshold
    assert f"AUC {auc_text(expected.auc)}" in summary
    assert f"Recommended threshold {rec:.3f}" in summary
    assert f"Threshold in use {threshold:.3f}" in summary
    assert "19 photos" in summary and "5 people with 2+ photos" in summary
    assert "nearest photo" in summary and "Unknown" in summary
    assert "facecam evaluate" in dialog.details.toPlainText()
    # 19 photos give 144 different-person pairs: too few to measure a FAR of 0.001, so Apply is not offered
    assert expected.negatives == 144 and not expected.recommendation_measurable
    assert dialog.message.isVisible() and "cannot be applied" in dialog.message.text()
    assert "144 pairs" in dialog.message.text() and "1000+" in dialog.message.text()
    assert not dialog.apply_button.isEnabled() and not settings_file.exists()

    pixmap = dialog.figure.pixmap()
    assert pixmap is not None and not pixmap.isNull()
    assert pixmap.width() >= 300 and pixmap.height() >= 100
    assert pixmap.width() <= dialog.figure.width() and pixmap.height() <= dialog.figure.height()
    source = dialog.figure.source_size
    assert source.width() > 1000 and pixmap.width() / pixmap.height() == pytest.approx(
        source.width() / source.height(), rel=0.02)  # scaled to fit, proportions kept

    # five more people, 6 photos each: 49 photos, 1074 different-person pairs, and Apply is offered
    for person in MORE_PEOPLE:
        (known_faces / person).mkdir()
        for photo in sorted(lfw_photo(person, 1).parent.glob("*.jpg"))[:6]:
            shutil.copy(photo, known_faces / person)
    qtbot.mouseClick(dialog.rerun_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy and dialog.outcome is not None, timeout=120000)
    assert dialog.error is None, dialog.error
    index = gallery.refresh(sface_recognizer.embed_photo)
    expected = evaluate_gallery(gallery, threshold, DEFAULT_TARGET_FAR, match_mode=mode, index_report=index)
    assert expected.negatives == 1074 and expected.recommendation_measurable
    rec = expected.recommended_threshold
    assert dialog.outcome.report.recommended_threshold == rec and not dialog.message.isVisible()
    assert dialog.apply_button.isEnabled() and f"{rec:.3f}" in dialog.apply_button.text()
    qtbot.mouseClick(dialog.apply_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.applied is not None or dialog.error is not None, timeout=EVENT_TIMEOUT_MS)
    assert dialog.error is None, dialog.error
    saved = json.loads(settings_file.read_text())
    assert saved["thresholds"]["sface"] == rec
    assert saved["match_mode"]["sface"] == expected.match_mode_recommended
    assert saved["threshold_applied"]["sface"]["by"] == "the window's Check accuracy"
    assert config.threshold_for("sface") == rec
    assert window.recognizer.threshold == rec  # exact, not the slider's 0.01 step
    assert window.threshold_slider.value() == round(rec * 100)
    assert window.recognizer.match_mode == expected.match_mode_recommended
    assert window.threshold_label.text().startswith(f"{rec:.2f}")
    assert f"threshold {threshold:.3f} -> {rec:.3f}" in dialog.applied_label.text()

    # the window goes on recognising with the new threshold; closing it closes the dialog
    window.close()
    assert not dialog.isVisible()


def test_one_person_is_not_enough(make_window, qtbot, known_faces, settings_file):
    window = make_window()  # known_faces: Tony_Blair's three photos
    dialog = open_and_wait(qtbot, window)
    assert dialog.error is None, dialog.error
    assert dialog.message.isVisible()
    text = dialog.message.text()
    assert "Not enough photos" in text and "only Tony_Blair has 2+ photos (3)" in text
    assert "Add 2 or more photos of 1 more person" in text
    assert not dialog.apply_button.isEnabled()
    assert not dialog.figure.isVisible() and (dialog.figure.pixmap() is None or dialog.figure.pixmap().isNull())
    assert "1 person with 2+ photos" in dialog.summary.text()
    assert not settings_file.exists()

    # a second person with two photos: Run again finds enough
    (known_faces / "Hugo_Chavez").mkdir()
    for n in (1, 2):
        shutil.copy(lfw_photo("Hugo_Chavez", n), known_faces / "Hugo_Chavez")
    qtbot.mouseClick(dialog.rerun_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy and dialog.outcome is not None, timeout=60000)
    assert "Not enough photos" not in dialog.message.text()
    assert dialog.outcome.report.people_with_pairs == 2
    # enough to measure, not enough to apply: 6 different-person pairs cannot show a FAR of 0.001
    assert "cannot be applied" in dialog.message.text() and not dialog.apply_button.isEnabled()
    assert dialog.figure.pixmap() is not None and not dialog.figure.pixmap().isNull()


def test_the_probe_catches_evaluation_on_the_gui_thread(make_window, qtbot, monkeypatch, known_faces,
                                                        settings_file, restore_match_mode):
    """The mistake the probe is there for, planted: the evaluation run on the GUI thread."""
    import facecam.gui.evaluate_dialog

    def on_the_gui_thread(_name, fn, on_done=None, on_failed=None):
        try:
            result = fn()
        except Exception as error:  # noqa: BLE001 - handed on as the real worker does
            if on_failed is not None:
                on_failed(error)
        else:
            if on_done is not None:
                on_done(result)

    monkeypatch.setattr(facecam.gui.evaluate_dialog, "run_task", on_the_gui_thread)
    add_people(known_faces)
    window = make_window()
    probe = GapProbe().start()
    dialog = open_and_wait(qtbot, window)
    busy, _ = probe.stop()
    assert dialog.error is None and dialog.outcome is not None
    assert busy >= MAX_BUSY_S, f"the probe saw only {busy * 1000:.0f} ms of GUI-thread work"


def test_an_error_in_the_evaluation_is_shown_not_raised(make_window, qtbot, monkeypatch, settings_file):
    import facecam.evaluate

    def broken(*_args, **_kwargs):
        raise RuntimeError("the evaluation broke")

    monkeypatch.setattr(facecam.evaluate, "evaluate_gallery", broken)
    window = make_window()
    dialog = open_and_wait(qtbot, window)
    assert dialog.error is not None and "RuntimeError: the evaluation broke" in dialog.message.text()
    assert dialog.message.isVisible() and not dialog.apply_button.isEnabled()
    assert dialog.rerun_button.isEnabled() and window.isVisible()
    # the menu action on an open dialog raises it, without a second dialog
    window.evaluate_action.trigger()
    assert window.evaluate_dialog is dialog


def test_not_enough_message_says_what_to_add(tmp_path):
    assert not_enough_message({"A": 2, "B": 3}, tmp_path) is None
    empty = not_enough_message({}, tmp_path)
    assert "no photo with a face" in empty and "2 more people" in empty
    singles = not_enough_message({"A": 1, "B": 1}, tmp_path)
    assert "nobody has 2+ photos" in singles and "another photo of A, B, who have only one" in singles
    one = not_enough_message({"A": 4, "B": 1}, tmp_path)
    assert "only A has 2+ photos (4)" in one and "1 more person" in one and "B, who has only one" in one
