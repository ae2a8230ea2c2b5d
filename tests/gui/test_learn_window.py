"""The window's --learn (issue 8): Tools > Learn from clear sightings (off by default, remembered), the People
panel's "N photos + M learned", and "Clear learned..." (confirmed). Real clip of lfw40 photos, real SFace."""

from __future__ import annotations

import pytest

from learn_clips import returns_gallery, returns_visits
from visits import photos_of, write_visits_clip

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
    qtbot.waitUntil(lambda: window.pipeline is not None and window.pipeline.running, timeout=30000)
    window.learn_action.trigger()
    assert window.learning.learning is not None
    qtbot.waitUntil(lambda: config.load_settings().get("window", {}).get("learn") is True, timeout=10000)
    window.retry_source()   # from the start, with learning on
    qtbot.waitUntil(lambda: window.source_ended, timeout=90000)
    qtbot.waitUntil(lambda: window.people_panel.learned_counts().get(PERSON, 0) >= 1, timeout=30000)
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
    qtbot.waitUntil(lambda: window.people_panel.learned_counts().get(PERSON) == 0, timeout=30000)
    assert learned_crops(known, PERSON) == [] and (known / PERSON / photos_of(PERSON)[0].name).exists()
    assert len(window.snapshot.matrix) == 3   # the gallery forgot them: one photo each


def test_the_remembered_switch_turns_learning_on_at_start(make_window, qtbot, returns_clip, tmp_path):
    from facecam import config

    config.save_settings({"window": {"learn": True}})
    window = make_window(source=returns_clip, known_faces=returns_gallery(tmp_path / "kf", PERSON))
    assert window.learn_action.isChecked()
    qtbot.waitUntil(lambda: window.learning.learning is not None, timeout=30000)
    window.learn_action.trigger()
    assert window.learning.learning is None and not window.learn_action.isChecked()
    qtbot.waitUntil(lambda: config.load_settings()["window"]["learn"] is False, timeout=10000)
