"""The window with several cameras (issue 20): a grid of tiles, each naming its own people, a click for the large
view, a camera added and removed. Four clips of real lfw40 photos (two different people on each, all eight
enrolled), the real MTCNN + SFace recognizer shared by the four cameras."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PyQt5.QtCore import Qt

from clips import camera_clips, make_lfw40_gallery

from .helpers import EVENT_TIMEOUT_MS, FakeCamera, wait_for_names

CLIP_SECONDS = 60.0
CLIP_FPS = 10.0
PENDING = {"Unknown", "..."}


@pytest.fixture(scope="session")
def grid_clips(tmp_path_factory, detector) -> list[tuple[Path, tuple[str, str]]]:
    """Four clips, each with two enrolled lfw40 people side by side for the whole clip (eight people in all)."""
    return camera_clips(tmp_path_factory.mktemp("grid-clips"), detector, seconds=CLIP_SECONDS, fps=CLIP_FPS)


@pytest.fixture(scope="session")
def grid_gallery_template(tmp_path_factory, sface_recognizer, grid_clips) -> Path:
    from facecam.gallery import Gallery

    people = [person for _, pair in grid_clips for person in pair]
    root = make_lfw40_gallery(tmp_path_factory.mktemp("grid-gallery") / "known_faces", people, photos=(1, 2))
    report = Gallery.for_recognizer(root, sface_recognizer).refresh(sface_recognizer.embed_photo)
    assert report.people == 8
    return root


@pytest.fixture
def grid_gallery(tmp_path, grid_gallery_template) -> Path:
    return Path(shutil.copytree(grid_gallery_template, tmp_path / "grid_known_faces"))


def four_cameras(make_window, grid_clips, grid_gallery):
    (first, _), *others = grid_clips
    return make_window(source=first, source_name="door 1", known_faces=grid_gallery,
                       more_sources=tuple((str(clip), f"door {i + 2}") for i, (clip, _) in enumerate(others)))


def named(names) -> set[str]:
    return set(names) - PENDING


def test_four_cameras_each_tile_names_its_people_and_removing_one_stops_only_it(make_window, qtbot, grid_clips,
                                                                                 grid_gallery):
    window = four_cameras(make_window, grid_clips, grid_gallery)
    saved = []
    window.sightings.saved.connect(saved.append)
    cameras = list(window.cameras)
    assert [c.name for c in cameras] == ["door 1", "door 2", "door 3", "door 4"]
    assert not window.camera_views.large and window.cameras_control.bar.isVisible()   # the grid shows
    tiles = [window.cameras_control.tile_of(c) for c in cameras]
    assert all(tile.isVisible() for tile in tiles)
    expected = [set(pair) for _, pair in grid_clips]

    # each tile names its own two people, and no one else's: what the tile painted and what its pipeline says
    def every_tile_named():
        return all(named(tile.names) == people and named(label.name for label in camera.current_labels) == people
                   for tile, camera, people in zip(tiles, cameras, expected))

    qtbot.waitUntil(every_tile_named, timeout=3 * EVENT_TIMEOUT_MS)
    window._update_status()
    for tile, camera in zip(tiles, cameras):
        assert tile.name_label.text() == camera.name and tile.state in ("live", "idle")
        assert tile.fps_label.text().endswith("fps")
        assert camera.pipeline.running and camera.source.running
    # the visits carry the camera's name: each camera's people are logged under it, and only there
    qtbot.waitUntil(lambda: {(s.source, s.name) for s in saved} >= {(c.name, p) for c, people in zip(cameras, expected)
                                                                     for p in people}, timeout=EVENT_TIMEOUT_MS)
    for sighting in saved:
        if sighting.name is not None:
            assert sighting.name in expected[[c.name for c in cameras].index(sighting.source)], sighting

    # one camera removed: its threads stop, its open visits end (written once more, as ended), the others go on
    gone = cameras[2]
    pipeline, source = gone.pipeline, gone.source
    saves_before = len(saved)
    tiles[2].remove_button.click()
    assert [c.name for c in window.cameras] == ["door 1", "door 2", "door 4"]
    assert len(window.cameras_control.views.grid.tiles) == 3 and gone not in window.cameras_control.tiles
    qtbot.waitUntil(lambda: not pipeline.running and not source.running, timeout=EVENT_TIMEOUT_MS)
    assert gone.session.closed and not gone.session.visits.open_visits()
    qtbot.waitUntil(lambda: {s.name for s in saved[saves_before:] if s.source == "door 3"} >= expected[2],
                    timeout=EVENT_TIMEOUT_MS)
    rest = [c for c in cameras if c is not gone]
    before = [(c.source.frames_read, c.pipeline.stats.rounds + c.pipeline.stats.idle_rounds) for c in rest]
    qtbot.waitUntil(lambda: all(c.source.frames_read > frames + 10 and c.pipeline.stats.rounds + c.pipeline.stats.idle_rounds
                                > rounds + 3 for c, (frames, rounds) in zip(rest, before)), timeout=EVENT_TIMEOUT_MS)
    assert all(c.pipeline.running and c.source.running for c in rest)
    qtbot.waitUntil(lambda: all(named(window.cameras_control.tile_of(c).names) == people
                                for c, people in zip(rest, (expected[0], expected[1], expected[3]))),
                    timeout=EVENT_TIMEOUT_MS)


def test_click_a_tile_for_the_large_view_and_back_to_the_grid(make_window, qtbot, grid_clips, grid_gallery):
    window = four_cameras(make_window, grid_clips, grid_gallery)
    second = list(window.cameras)[1]
    tile = window.cameras_control.tile_of(second)
    qtbot.waitUntil(lambda: tile.view.frame() is not None, timeout=EVENT_TIMEOUT_MS)
    qtbot.mouseClick(tile.view, Qt.LeftButton)
    # the large view is the second camera's: its picture, its names, the status line and Enroll's frame
    assert window.camera_views.large and window.cameras.selected is second
    assert window.source is second.source and window.pipeline is second.pipeline
    assert window.cameras_control.bar.grid_button.isVisible() and window.cameras_control.bar.label.text() == "door 2"
    wait_for_names(qtbot, window, set(grid_clips[1][1]))
    assert named(window.label_names()) <= set(grid_clips[1][1])
    qtbot.waitUntil(lambda: window.video.seq is not None and window.video.seq == window.last_frame.seq,
                    timeout=EVENT_TIMEOUT_MS)
    assert window.unknowns.source == "door 2"      # a face added by hand from this view is this camera's
    # the others go on behind the large view
    others = [c for c in window.cameras if c is not second]
    frames = [c.source.frames_read for c in others]
    qtbot.waitUntil(lambda: all(c.source.frames_read > n + 5 for c, n in zip(others, frames)), timeout=EVENT_TIMEOUT_MS)
    # G (or "All cameras") goes back to the grid
    window.cameras_control.bar.grid_button.click()
    assert not window.camera_views.large and not window.banner.isVisible()
    qtbot.waitUntil(lambda: named(tile.names) == set(grid_clips[1][1]), timeout=EVENT_TIMEOUT_MS)


def test_one_camera_looks_as_before_until_a_second_is_added_and_removed(make_window, qtbot, gui_clip, tmp_path):
    window = make_window()
    assert len(window.cameras) == 1 and window.camera_views.large and not window.cameras_control.bar.isVisible()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    first = window.cameras.selected
    second = window.cameras_control.add(str(gui_clip))       # File > Add camera... with the same clip
    assert second.name == f"{first.name} (2)"                 # two cameras never share a name in the log
    assert not window.camera_views.large and window.cameras_control.bar.isVisible()
    qtbot.waitUntil(lambda: "Tony_Blair" in window.cameras_control.tile_of(second).names, timeout=EVENT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "Tony_Blair" in window.cameras_control.tile_of(first).names, timeout=EVENT_TIMEOUT_MS)
    pipeline = second.pipeline
    assert window.cameras_control.remove(second)
    assert not window.cameras_control.remove(first)          # the last camera stays
    qtbot.waitUntil(lambda: not pipeline.running, timeout=EVENT_TIMEOUT_MS)
    assert window.camera_views.large and not window.cameras_control.bar.isVisible()
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})
    # a camera that cannot be opened: its tile says so, the large view's banner too once it is clicked; no crash
    bad = window.cameras_control.add(str(tmp_path / "nope.mp4"))
    tile = window.cameras_control.tile_of(bad)
    window._update_status()
    assert bad.state() == "failed" and tile.state == "failed" and "video file not found" in tile.view.message
    assert not window.banner.isVisible()          # the grid shows: the banner is the large view's
    qtbot.mouseClick(tile.view, Qt.LeftButton)
    assert window.banner.isVisible() and "video file not found" in window.banner_label.text()
    window.cameras_control.bar.remove_button.click()
    assert window.cameras.selected is first and not window.banner.isVisible() and len(window.cameras) == 1
    wait_for_names(qtbot, window, {"Tony_Blair", "Unknown"})


def test_the_command_line_opens_several_sources_with_their_names():
    from facecam.gui.app import build_parser, options_from_args

    options = options_from_args(build_parser().parse_args(["--source", "0", "--source", "door.mp4", "--source",
                                                           "rtsp://cam/x", "--source-name", "desk", "--source-name",
                                                           "door"]))
    assert options.source == "0" and options.source_name == "desk"
    assert options.more_sources == (("door.mp4", "door"), ("rtsp://cam/x", None))
    options = options_from_args(build_parser().parse_args([]))
    assert options.source == "0" and options.more_sources == () and options.source_name is None


def test_more_names_than_sources_is_a_usage_error(capsys):
    from facecam.gui.app import run

    with pytest.raises(SystemExit) as exit_info:
        run(["--source", "0", "--source-name", "a", "--source-name", "b"])
    assert exit_info.value.code == 2
    assert "2 --source-name for 1 --source" in capsys.readouterr().err


def test_a_lost_camera_in_a_grid_reconnects_on_its_own(make_window, qtbot):
    """Two cameras; the first is unplugged after 40 frames: its tile says "reconnecting", it is opened again
    by itself (no Retry to press, unlike the single camera's banner) and goes on; the other never stops."""
    opened: list[FakeCamera] = []      # camera 0's (the capture threads open their cameras in any order)

    def backend(spec):
        camera = FakeCamera(frames=40 if spec.target == 0 and not opened else None)
        if spec.target == 0:
            opened.append(camera)
        return camera

    window = make_window(source="0", backend=backend, more_sources=(("1", "desk"),))
    first, second = window.cameras
    qtbot.waitUntil(lambda: first.state() == "reconnecting", timeout=EVENT_TIMEOUT_MS)
    window._update_status()
    assert window.cameras_control.tile_of(first).state == "reconnecting"
    assert "stopped delivering frames" in first.source_problem
    frames = second.source.frames_read
    qtbot.waitUntil(lambda: len(opened) == 2 and first.state() in ("live", "idle") and first.source.frames_read > 5,
                    timeout=EVENT_TIMEOUT_MS)
    assert opened[0].released.wait(5) and first.retries == 0 and first.source_problem is None
    assert second.source.frames_read > frames and len(opened) == 2 and second.source_problem is None
