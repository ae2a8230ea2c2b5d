"""Names that cannot jump, in the window (issue 18): the window plays the swap clip (tests/swap_clips.py: 21
swaps of lfw40 people at three places, 11 direct cuts and 10 after a 0.4 s gap) in real time; History shows
the same visits, with the same durations, as `facecam sightings` lists from the log, live (the window still
open), and every swapped-in enrolled person has a visit of their own that began at their arrival.
Real MTCNN + SFace (the session's recognizer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from swap_clips import make_swap_gallery, swap_people, swap_scene, write_swap_clip

from .helpers import slowdown
from .test_history import cli_sightings, wait_for_refresh


@pytest.fixture(scope="module")
def swap_clip(tmp_path_factory, detector, sface_recognizer):
    from facecam.gallery import Gallery

    folder = tmp_path_factory.mktemp("swaps-window")
    people, photos, enrolled = swap_people(detector)
    scene, swaps = swap_scene(people, photos)
    write_swap_clip(folder / "clip.avi", scene, enrolled)
    known = make_swap_gallery(folder / "known_faces", enrolled)
    Gallery.for_recognizer(known, sface_recognizer).refresh(sface_recognizer.embed_photo)
    return folder / "clip.avi", scene, swaps, enrolled, known


def test_history_shows_a_visit_for_each_person_who_took_the_place(make_window, qtbot, swap_clip):
    clip, scene, swaps, enrolled, known = swap_clip
    window = make_window(source=clip, known_faces=Path(known), source_name="door")
    qtbot.waitUntil(lambda: window.source_ended, timeout=180_000)
    assert window.sightings.live.recorder.open_visits() == []      # the clip's end ended its last visits
    window.sightings.writer.close()                                 # what is queued is written
    panel = window.history_panel
    wait_for_refresh(qtbot, panel)
    shown = {row.sighting.id: row.sighting for row in panel.rows()}
    logged = {row["id"]: row for row in cli_sightings(Path(known))}
    # History is the log, live: the same visits, the same durations (to the log's 0.01 s)
    assert sorted(shown) == sorted(logged)
    for sid, sighting in shown.items():
        assert abs(sighting.duration_s - logged[sid]["duration_s"]) <= 0.2, (sighting, logged[sid])
    # each enrolled person who took a place has one visit of their own, begun at their arrival (a starved
    # realtime pipeline may miss a few on a loaded machine: all on an idle one)
    by_name: dict[str, list] = {}
    for sighting in shown.values():
        by_name.setdefault(sighting.name, []).append(sighting)
    arrivals = [swap.after for swap in swaps if swap.after.person in enrolled]
    seen = 0
    for after in arrivals:
        mine = by_name.get(after.person, [])
        assert len(mine) <= 1, (after, mine)
        if mine:
            assert after.enter_s - 0.05 <= mine[0].t_start <= after.enter_s + 1.5, (after, mine)
            assert mine[0].t_end <= after.leave_s + 0.3, (after, mine)
            seen += 1
    load = slowdown()
    assert seen >= (len(arrivals) if load < 1.5 else len(arrivals) - 3), (seen, len(arrivals), load)
    # nobody's visit runs on into the next person's stay (one visit for the place all along was the bug)
    assert all(s.duration_s <= 2.5 + 1.0 for s in shown.values()), sorted(s.duration_s for s in shown.values())
