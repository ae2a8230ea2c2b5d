"""The window's --learn (issue 8): Tools > Learn from clear sightings (off by default, remembered), the People
panel's "N photos + M learned", and "Clear learned..." (confirmed). Real clip of lfw40 photos, real SFace."""

from __future__ import annotations

import pytest

from learn_clips import returns_gallery, returns_visits
from visits import photos_of, write_visits_clip

from .helpers import EVENT_TIMEOUT_MS

PERSON = "Tommy_Thompson"


@pytest.fixture(scope="module")
def returns_clip(tmp_path_factory):
    clip = tmp_path_factory.mktemp("learn-window") / "returns.avi"
    write_visits_clip(clip, returns_visits(PERSON, photos_of(PERSON)[1:6]))
    return clip


def test_learning_in_the_window_shows_learned_apart_and_clear_removes_them(make_window, qtbot, returns_clip,
                                                                           tmp_path):
    from facecam import config
    from facecam.learn import learned_crops

    known = returns_gallery(tmp_path / "learn_known_faces", PERSON)
    asked: list[str] = []
    window = make_window(source=returns_clip, known_faces=known)
    window.confirm = lambda title, text: asked.append(text) or True
    assert not window.learn_action.isChecked() and window.learning.learning is None   # off by default
    qtbot.waitUntil(lambda: window.pipeline is not None and window.pipeline.running, timeout=EVENT_TIMEOUT_MS)
    window.learn_action.trigger()
    assert window.learning.learning is not None
    qtbot.waitUntil(lambda: config.load_settings().get("window", {}).get("learn") is True, timeout=EVENT_TIMEOUT_MS)
    window.retry_source()   # from the start, with learning on
    resets = []
    pipeline_reset = window.pipeline.reset
    window.pipeline.reset = lambda: (resets.append(1), pipeline_reset())
    qtbot.waitUntil(lambda: window.source_ended, timeout=90000)
    # the clip's end ends its last visit: what it teaches is written, then the panel shows it
    qtbot.waitUntil(lambda: window.learning.learning.tasks.pending == 0, timeout=EVENT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.people_panel.learned_counts().get(PERSON, 0) == len(learned_crops(known, PERSON))
                    >= 1, timeout=EVENT_TIMEOUT_MS)
    # a learned crop changes the gallery, but nobody is re-recognised from scratch for it (no split visits)
    assert resets == []
    count = window.people_panel.learned_counts()[PERSON]
    assert count == len(learned_crops(known, PERSON)) <= 10
    row = next(window.people_panel.list.item(i).text() for i in range(window.people_panel.list.count())
               if window.people_panel.list.item(i).text().startswith(PERSON))
    assert row == f"{PERSON}\n1 photo + {count} learned"
    assert window.people_panel.counts()[PERSON] == 1
    # Clear learned... for the selected person, after a confirmation that says how many
    window.people_panel.select("Jeb_Bush")
    assert not window.people_panel.clear_learned_button.isEnabled()   # nothing learned of him
    window.people_panel.select(PERSON)
    assert window.people_panel.clear_learned_button.isEnabled()
    window.people_panel.clear_learned_button.click()
    assert asked and f"the {count} face(s) learned of {PERSON}" in asked[0]
    qtbot.waitUntil(lambda: window.people_panel.learned_counts().get(PERSON) == 0, timeout=EVENT_TIMEOUT_MS)
    assert learned_crops(known, PERSON) == [] and (known / PERSON / photos_of(PERSON)[0].name).exists()
    assert len(window.snapshot.matrix) == 3   # the gallery forgot them: one photo each


def test_the_remembered_switch_turns_learning_on_at_start(make_window, qtbot, returns_clip, tmp_path):
    from facecam import config

    config.save_settings({"window": {"learn": True}})
    window = make_window(source=returns_clip, known_faces=returns_gallery(tmp_path / "kf", PERSON))
    assert window.learn_action.isChecked()
    qtbot.waitUntil(lambda: window.learning.learning is not None, timeout=EVENT_TIMEOUT_MS)
    window.learn_action.trigger()
    assert window.learning.learning is None and not window.learn_action.isChecked()
    qtbot.waitUntil(lambda: config.load_settings()["window"]["learn"] is False, timeout=EVENT_TIMEOUT_MS)


def answer_next_box(qtbot, button, seen: list[str]) -> None:
    """Press ``button`` (QMessageBox.Yes / No) in the next modal message box, from a timer (the box runs its
    own event loop); its text is added to ``seen``."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QMessageBox

    def press():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, press)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(50, press)


def test_forget_and_clear_learned_ask_first_in_a_message_box(make_window, qtbot, returns_clip, tmp_path,
                                                            sface_recognizer):
    """Who's this? > Forget and Clear learned... ask in a real QMessageBox (answered from a timer): No keeps
    everything, Yes deletes; the question says how many sightings / learned faces go."""
    from PyQt5.QtWidgets import QMessageBox

    from facecam.learn import LearnCandidate, add_learned, learned_crops
    from facecam.types import bgr_to_rgb
    from facecam.unknowns.collect import FaceCandidate, face_quality, sighting_of_face
    from facecam.unknowns.store import LocalUnknownStore
    from visits import _background, _shown

    known = returns_gallery(tmp_path / "kf", PERSON)
    store = LocalUnknownStore(known, "sface")
    for n, photo in enumerate(photos_of("Ali_Naimi")[:2] + photos_of(PERSON)[1:2]):
        frame = _background()
        frame[100:280, 200:380] = _shown(photo)
        rgb = bgr_to_rgb(frame)
        faces = sface_recognizer.find_faces(rgb, 40)
        embedding = sface_recognizer.embed_faces(rgb, faces[:1])[0]
        if n < 2:   # a stranger seen twice: one entry, two sightings
            store.add(sighting_of_face(rgb, faces[0], embedding, "door", float(n), n))
        else:       # a learned crop of the person
            candidate = FaceCandidate.of(rgb, faces[0], embedding, face_quality(rgb, faces[0]), 0, 0)
            add_learned(known, PERSON, LearnCandidate(PERSON, 1, 0.2, candidate).jpeg())
    assert [len(c.sightings) for c in store.clusters()] == [2]
    store.close()
    window = make_window(source=returns_clip, known_faces=known, unknowns=False)
    window.confirm = window.people.confirm_dialog   # the real question, not the fixture's yes
    qtbot.waitUntil(lambda: len(window.whos_panel.ids()) == 1, timeout=EVENT_TIMEOUT_MS)
    seen: list[str] = []
    window.whos_panel.select(window.whos_panel.ids())
    answer_next_box(qtbot, QMessageBox.No, seen)
    window.whos_panel.forget_button.click()
    assert seen == ["Forget 1 entry and 2 sighting(s), with their crops?\n\n"
                    "They are deleted; the same face seen again is collected again."]
    qtbot.wait(300)
    assert len(window.whos_panel.ids()) == 1
    answer_next_box(qtbot, QMessageBox.Yes, seen)
    window.whos_panel.forget_button.click()
    qtbot.waitUntil(lambda: window.whos_panel.ids() == [], timeout=EVENT_TIMEOUT_MS)
    # Clear learned...: the same
    qtbot.waitUntil(lambda: window.people_panel.learned_counts().get(PERSON) == 1, timeout=EVENT_TIMEOUT_MS)
    window.people_panel.select(PERSON)
    answer_next_box(qtbot, QMessageBox.No, seen)
    window.people_panel.clear_learned_button.click()
    assert "Delete the 1 face(s) learned of Tommy_Thompson?" in seen[-1]
    qtbot.wait(300)
    assert len(learned_crops(known, PERSON)) == 1
    answer_next_box(qtbot, QMessageBox.Yes, seen)
    window.people_panel.clear_learned_button.click()
    qtbot.waitUntil(lambda: window.people_panel.learned_counts().get(PERSON) == 0, timeout=EVENT_TIMEOUT_MS)
    assert learned_crops(known, PERSON) == []
