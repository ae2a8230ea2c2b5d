"""The window's "Who's this?" tab and the video's right-click menu (issue 8), on real clips.

The visits clip: four strangers come twice each with a different lfw40 photo, one enrolled person
(Harrison Ford, three other photos in known_faces) comes twice, in shuffled order; the window
(real MTCNN + SFace, offscreen) collects the strangers while it plays. Assertions are on the
panel's rows, the store's rows and the files written, and on the names painted on the video.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtGui import QContextMenuEvent
from PyQt5.QtWidgets import QApplication

from visits import make_gallery, photos_of, plan_visits, truth_of, write_visits_clip

from .helpers import EVENT_TIMEOUT_MS, wait_for_names

ENROLLED = "Harrison_Ford"
STRANGERS = ["Bill_Frist", "Celine_Dion", "Jimmy_Carter", "Yao_Ming"]


@pytest.fixture(scope="module")
def visits_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whos")
    assert all(len(photos_of(p)) >= 5 for p in [ENROLLED, *STRANGERS])
    visits = plan_visits({p: photos_of(p)[:2] for p in STRANGERS}, {ENROLLED: photos_of(ENROLLED)[3:5]},
                         duration=3.0, gap=2.5)
    clip = folder / "visits.avi"
    write_visits_clip(clip, visits)
    return clip, visits


@pytest.fixture
def whos_known_faces(tmp_path) -> Path:
    return make_gallery(tmp_path / "whos_known_faces", {ENROLLED: photos_of(ENROLLED)[:3]})


def open_store(known_faces):
    from facecam.unknowns.store import LocalUnknownStore

    return LocalUnknownStore(known_faces, "sface")


def who_is(cluster, visits) -> str | None:
    """The person most of the cluster's sightings show (None when no majority)."""
    people = truth_of(visits, [(s.crops[0].t, s.crops[0].box) for s in cluster.sightings])
    person, count = Counter(people).most_common(1)[0]
    return person if 2 * count > len(people) else None


def play_to_the_end(qtbot, window, minimum_clusters: int, timeout_s: float = 60.0):
    """Wait for the clip's end and for the panel to list at least ``minimum_clusters`` entries."""
    qtbot.waitUntil(lambda: window.source_ended, timeout=int(timeout_s * 1000))
    qtbot.waitUntil(lambda: len(window.whos_panel.ids()) >= minimum_clusters, timeout=EVENT_TIMEOUT_MS)


@pytest.fixture
def collected_window(make_window, qtbot, visits_clip, whos_known_faces):
    clip, visits = visits_clip
    window = make_window(source=clip, known_faces=whos_known_faces)
    assert window.side_tabs.tabText(1) == "Who's this?" and "Nobody yet" in window.whos_panel.hint.text()
    assert window.unknowns_action.isChecked()
    qtbot.waitUntil(lambda: window.pipeline is not None and window.pipeline.running, timeout=EVENT_TIMEOUT_MS)
    window.retry_source()        # from the start, now that known_faces is indexed
    play_to_the_end(qtbot, window, 3)
    return window, visits


def stranger_clusters(store, visits) -> dict[str, list]:
    out: dict[str, list] = {}
    for cluster in store.clusters():
        out.setdefault(who_is(cluster, visits), []).append(cluster)
    return out


def test_the_panel_lists_the_strangers_newest_first_and_never_the_enrolled(collected_window, qtbot,
                                                                          whos_known_faces):
    window, visits = collected_window
    store = open_store(whos_known_faces)
    qtbot.waitUntil(lambda: window.whos_panel.ids() == [c.id for c in store.clusters()], timeout=EVENT_TIMEOUT_MS)
    clusters = store.clusters()
    by_person = stranger_clusters(store, visits)
    assert ENROLLED not in by_person and None not in by_person
    assert len(set(by_person) & set(STRANGERS)) >= 3, by_person
    # the panel shows the store's clusters, newest first, with their visits and the clip as source
    panel = window.whos_panel
    assert panel.ids() == [c.id for c in clusters]
    for i, cluster in enumerate(clusters):
        first, second = panel.list.item(i).text().split("\n")
        assert first.startswith(f"{len(cluster.sightings)} visit{'s' if len(cluster.sightings) != 1 else ''}, ")
        assert second == Path(window.source_spec).name == "visits.avi"
        assert not panel.list.item(i).icon().isNull()
    assert panel.title.text() == f"Who's this? ({len(clusters)})"
    assert panel.hint.isHidden()


def test_name_enrolls_the_best_crops_and_the_person_is_then_named_on_the_video(collected_window, qtbot,
                                                                               whos_known_faces):
    window, visits = collected_window
    store = open_store(whos_known_faces)
    by_person = stranger_clusters(store, visits)
    person = next(p for p in STRANGERS if p in by_person)
    cluster = max(by_person[person], key=lambda c: len(c.sightings))
    window.whos_panel.ask_name = lambda _parent, cluster_id, names: (
        "Someone New" if cluster_id == cluster.id and names == [ENROLLED] else None)
    window.whos_panel.select([cluster.id])
    assert window.whos_panel.name_button.isEnabled() and not window.whos_panel.merge_button.isEnabled()
    qtbot.mouseClick(window.whos_panel.name_button, Qt.LeftButton)

    folder = whos_known_faces / "Someone New"
    qtbot.waitUntil(lambda: folder.is_dir() and len(list(folder.glob("*.jpg"))) >= 1, timeout=EVENT_TIMEOUT_MS)
    saved = sorted(folder.glob("*.jpg"))
    assert 1 <= len(saved) <= min(5, sum(len(s.crops) for s in cluster.sightings))
    qtbot.waitUntil(lambda: cluster.id not in window.whos_panel.ids(), timeout=EVENT_TIMEOUT_MS)
    assert cluster.id not in [c.id for c in open_store(whos_known_faces).clusters()]
    qtbot.waitUntil(lambda: "Someone New" in window.people_panel.names(), timeout=EVENT_TIMEOUT_MS)

    # the same person, on the next play of the clip, is named (no restart); the other strangers are not
    window.retry_source()
    wait_for_names(qtbot, window, {"Someone New"})


def test_merge_ignore_and_forget_change_the_store(collected_window, qtbot, whos_known_faces):
    window, visits = collected_window
    panel = window.whos_panel
    before = open_store(whos_known_faces).clusters()
    assert len(before) >= 3
    a, b = before[0], before[1]
    # the tab lists what the store holds once its refresh (a task) has run: slower on a loaded machine
    qtbot.waitUntil(lambda: {a.id, b.id} <= set(panel.ids()), timeout=EVENT_TIMEOUT_MS)
    panel.select([a.id, b.id])
    assert panel.merge_button.isEnabled() and not panel.name_button.isEnabled()
    qtbot.mouseClick(panel.merge_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(panel.ids()) == len(before) - 1, timeout=EVENT_TIMEOUT_MS)
    merged = [c for c in open_store(whos_known_faces).clusters()
              if {s.id for s in c.sightings} == {s.id for s in a.sightings + b.sightings}]
    assert len(merged) == 1 and merged[0].id in panel.ids()

    # Not a person: forgotten, and its face kept on the ignore list (the same face is not stored again)
    target = merged[0]
    panel.select([target.id])
    qtbot.mouseClick(panel.ignore_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: target.id not in panel.ids(), timeout=EVENT_TIMEOUT_MS)
    store = open_store(whos_known_faces)
    assert target.id not in [c.id for c in store.clusters()]
    assert len(store.ignored()) == len(target.sightings)
    assert all(store.is_ignored(s.embedding) for s in target.sightings)
    assert not any(c.path.exists() for s in target.sightings for c in s.crops)

    # Forget: the sightings and their crop files are gone
    rest = store.clusters()
    victim = next(c for c in rest if who_is(c, visits) in STRANGERS)   # a visitor (not a face in the background)
    panel.select([victim.id])
    qtbot.mouseClick(panel.forget_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: victim.id not in panel.ids(), timeout=EVENT_TIMEOUT_MS)
    # exactly the victim is gone (the window may still be storing the clip's last visits: on a loaded machine
    # its writer lags, so a cluster may be added meanwhile; none holds a forgotten sighting)
    after = open_store(whos_known_faces).clusters()
    assert victim.id not in [c.id for c in after]
    assert {c.id for c in rest if c.id != victim.id} <= {c.id for c in after}
    assert not {s.id for s in victim.sightings} & {s.id for c in after for s in c.sightings}
    assert not any(c.path.exists() for s in victim.sightings for c in s.crops)

    # the clip again: the ignored faces are not collected again, the forgotten ones are. A visit is kept once its
    # track has been judged Unknown; beside CPU hogs a replay's short visits may get too few rounds for that, so
    # the clip plays up to three times until the forgotten person is back (each play a new chance for the ignored)
    ignored_people = {who_is(target, visits)} | {who_is(c, visits) for c in (a, b)}
    forgotten = who_is(victim, visits)
    for _ in range(3):
        window.retry_source()
        play_to_the_end(qtbot, window, 1)
        try:    # the writer may still be storing the last visits of the play
            qtbot.waitUntil(lambda: forgotten in stranger_clusters(open_store(whos_known_faces), visits),
                            timeout=EVENT_TIMEOUT_MS // 4)
            break
        except Exception:  # noqa: BLE001 - pytest-qt's TimeoutError: play the clip again
            continue
    again = stranger_clusters(open_store(whos_known_faces), visits)
    assert forgotten in again, sorted(map(str, again))
    assert not (ignored_people - {None}) & set(again), sorted(map(str, again))


def test_switching_collection_off_keeps_nothing_new(make_window, qtbot, visits_clip, whos_known_faces):
    clip, _ = visits_clip
    window = make_window(source=clip, known_faces=whos_known_faces)
    qtbot.waitUntil(lambda: window.pipeline is not None and window.pipeline.running, timeout=EVENT_TIMEOUT_MS)
    window.unknowns_action.trigger()
    window.retry_source()
    assert not window.unknowns_action.isChecked() and not window.unknowns.collecting
    assert "not collected" in window.whos_panel.hint.text()
    qtbot.waitUntil(lambda: window.source_ended, timeout=60000)
    qtbot.wait(1500)
    assert open_store(whos_known_faces).clusters() == []


def test_no_unknowns_setting_keeps_collection_off(make_window, qtbot, visits_clip, whos_known_faces, tmp_path):
    from facecam import config

    config.save_settings({"unknowns": False})
    clip, _ = visits_clip
    window = make_window(source=clip, known_faces=whos_known_faces)
    assert not window.unknowns_action.isChecked() and not window.unknowns.enabled


def right_click(window, box) -> None:
    x, y, w, h = box
    point = window.video.to_widget(x + w / 2, y + h / 2)
    pos = QPoint(int(point.x()), int(point.y()))
    event = QContextMenuEvent(QContextMenuEvent.Mouse, pos, window.video.mapToGlobal(pos))
    QApplication.sendEvent(window.video, event)


def menu_actions(window) -> dict:
    menu = window.face_menu.menu
    assert menu is not None
    return {action.text(): action for action in menu.actions()}


def test_right_click_this_is_enrolls_the_crop_and_not_name_rechecks_and_keeps_it(make_window, qtbot,
                                                                                   known_faces):
    window = make_window()     # the GUI clip: Tony Blair (enrolled) and Vladimir Putin (a stranger)
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    window.set_paused(True)
    stranger = next(label for label in window.current_labels if not label.pending and label.name is None)

    # a click off every face opens no menu
    window.face_menu.menu = None
    QApplication.sendEvent(window.video, QContextMenuEvent(QContextMenuEvent.Mouse, QPoint(2, 2),
                                                           window.video.mapToGlobal(QPoint(2, 2))))
    assert window.face_menu.menu is None

    right_click(window, stranger.box)
    assert list(menu_actions(window)) == ["This is..."]
    window.face_menu.ask_name = lambda _parent, _what, names: "Vladimir Putin" if names == ["Tony_Blair"] else None
    menu_actions(window)["This is..."].trigger()
    folder = known_faces / "Vladimir Putin"
    qtbot.waitUntil(lambda: folder.is_dir() and len(list(folder.glob("*.jpg"))) == 1, timeout=EVENT_TIMEOUT_MS)
    assert len(list(folder.glob("*.jpg"))) == 1
    window.set_paused(False)
    wait_for_names(qtbot, window, {"Tony_Blair", "Vladimir Putin"})   # enrolled: named without a restart
    window.set_paused(True)
    blair = next(label for label in window.current_labels if label.name == "Tony_Blair")

    right_click(window, blair.box)
    assert list(menu_actions(window)) == ["This is...", "Not Tony_Blair"]
    menu_actions(window)["Not Tony_Blair"].trigger()
    window.set_paused(False)
    # the track is re-checked without the name: Blair's face is Unknown
    qtbot.waitUntil(lambda: {"Vladimir Putin", "Unknown"} <= set(window.label_names())
                    and "Tony_Blair" not in window.label_names(), timeout=EVENT_TIMEOUT_MS)
    # and the crop went to the unknowns: a one-crop sighting of Blair's face, from this clip, listed in the panel
    def blair_sightings():
        return [(c, s) for c in open_store(known_faces).clusters() for s in c.sightings
                if abs(s.crops[0].box[0] - blair.box[0]) < 40 and abs(s.crops[0].box[1] - blair.box[1]) < 40]

    qtbot.waitUntil(lambda: len(blair_sightings()) == 1, timeout=EVENT_TIMEOUT_MS)
    (cluster, sighting), = blair_sightings()
    assert sighting.source == Path(window.source_spec).name and len(sighting.crops) == 1 and sighting.crops[0].path.is_file()
    qtbot.waitUntil(lambda: cluster.id in window.whos_panel.ids(), timeout=EVENT_TIMEOUT_MS)
    shutil.rmtree(folder)


def test_a_store_that_cannot_be_opened_is_said_in_the_tab_not_over_the_known_faces_error(make_window, qtbot,
                                                                                          tmp_path):
    not_a_folder = tmp_path / "known_faces.txt"
    not_a_folder.write_text("not a folder")
    window = make_window(known_faces=not_a_folder)
    qtbot.waitUntil(lambda: window.whos_panel.hint.text().startswith("Unknown faces are not kept: "), timeout=EVENT_TIMEOUT_MS)
    assert "known_faces.txt" in window.whos_panel.hint.text()
    assert window.status_line.error_label.isVisible() and "known_faces.txt" in window.status_line.error


def answer_name_dialog(qtbot, keys: str, seen: dict) -> None:
    """When the Name... dialog is up: note what it shows, type ``keys``, press Enter, then close it if still open."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QLineEdit

    def answer():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, answer)
            return
        try:
            edit = dialog.findChild(QLineEdit)
            model = edit.completer().model() if edit.completer() is not None else None
            seen.update(text=edit.text(), selected=edit.selectedText(),
                        offered=[model.index(i, 0).data() for i in range(model.rowCount())] if model else None)
            qtbot.keyClicks(edit, keys)
            qtbot.keyClick(edit, Qt.Key_Return)
            seen["open_after_enter"] = dialog.isVisible()
        finally:
            if dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(0, answer)


def test_name_opens_empty_and_enter_alone_files_the_stranger_under_nobody(qtbot):
    from facecam.gui.whos_panel import ask_name_dialog

    seen: dict = {}
    answer_name_dialog(qtbot, "", seen)
    assert ask_name_dialog(None, "u-1", ["Tony_Blair", "Ada Lovelace"]) is None
    assert (seen["text"], seen["selected"]) == ("", "")                  # nobody preselected
    assert seen["offered"] == ["Ada Lovelace", "Tony_Blair"]              # the known names, as completions
    assert seen["open_after_enter"]                                      # Enter on an empty name does nothing
    answer_name_dialog(qtbot, "  Grace Hopper ", seen)
    assert ask_name_dialog(None, "u-1", ["Tony_Blair"]) == "Grace Hopper"
    assert not seen["open_after_enter"]
