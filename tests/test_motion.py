"""The motion gate (issue 20): an empty, still room costs no detection rounds, whatever its noise and light;
people walking in are named as soon as without the gate. Real lfw40 photos sliding in from the edge of a
textured room (tests/motion_clips.py), the real ``watch`` command with MTCNN / YuNet + SFace."""

from __future__ import annotations

import json
import shutil

import pytest
from clips import make_lfw40_gallery
from motion_clips import first_named, plan_arrivals, write_clip
from test_unknowns import common, run
from visits import SHOWN, photos_of

from facecam.motion import SAFETY_S, MotionGate, MotionOptions, motion_options
from facecam.types import Frame

PEOPLE = ["Jimmy_Carter", "Celine_Dion", "Yao_Ming", "Bill_Frist", "Richard_Gere", "Tom_Hanks"]
FPS = 15.0
ARRIVALS_FPS = 10.0


def frames_of(path):
    from tests.clips import read_frames

    return read_frames(path)


def test_noise_flicker_and_light_changes_alone_are_not_motion(tmp_path):
    clip = tmp_path / "still.avi"
    write_clip(clip, 20.0, fps=FPS)
    gate = MotionGate()
    moved = [gate.moved(frame.bgr_frame) for frame in frames_of(clip)]
    assert moved[0] and not any(moved[1:]), [i for i, m in enumerate(moved) if m]
    assert gate.last_fraction < MotionOptions().min_area


def test_a_person_sliding_in_is_motion_on_every_frame_until_settled(tmp_path):
    arrivals = plan_arrivals([(p, photos_of(p)[3]) for p in PEOPLE[:2]])
    clip = tmp_path / "arrivals.avi"
    write_clip(clip, arrivals[-1].gone + 1.0, arrivals, fps=FPS)
    gate = MotionGate()
    for frame in frames_of(clip):
        moved = gate.moved(frame.bgr_frame)
        t = frame.t_source
        for a in arrivals:
            left = a.left_at(t)
            # on screen by at least a fifth of the photo and still sliding in
            if left is not None and a.enter < t < a.settled and -0.8 * SHOWN < left < 640 - 0.2 * SHOWN:
                assert moved, (a.person, t)


def test_the_gate_is_on_by_default_and_off_by_flag_or_setting():
    assert motion_options().enabled and motion_options(settings={}).enabled
    assert not motion_options(off=True, settings={}).enabled
    assert not motion_options(settings={"motion_gate": False}).enabled


def test_an_empty_still_room_runs_only_the_safety_detections(tmp_path, model_dir):
    """20 s of a noisy room with the light changing: ungated, 300 detection rounds; gated, the first and one
    every SAFETY_S (5) s (at most 6)."""
    clip = tmp_path / "still.avi"
    frames = write_clip(clip, 20.0, fps=FPS)
    known = tmp_path / "known_faces"
    (known / PEOPLE[0]).mkdir(parents=True)
    shutil.copy(photos_of(PEOPLE[0])[0], known / PEOPLE[0])
    summaries = {}
    for gated in (True, False):
        summary = tmp_path / f"summary-{gated}.json"
        code, _, err = run("watch", "--source", clip, "--detector", "yunet", "--summary", summary, "--no-unknowns",
                           "--no-sightings", *common(model_dir, known), *([] if gated else ["--no-motion-gate"]))
        assert code == 0, err
        summaries[gated] = json.loads(summary.read_text())
    assert summaries[False]["recognition_rounds"] == frames and summaries[False]["idle_rounds"] == 0
    assert summaries[True]["motion_gate"] and 1 <= summaries[True]["recognition_rounds"] <= 1 + int(20 // SAFETY_S) + 1
    assert summaries[True]["recognition_rounds"] + summaries[True]["idle_rounds"] == frames


@pytest.fixture(scope="module")
def arrivals_run(tmp_path_factory, model_dir):
    """``watch`` (every frame, default MTCNN + SFace) over six people sliding in one after another, gated and
    ungated: per run, the --events rows and the summary."""
    folder = tmp_path_factory.mktemp("arrivals")
    known = make_lfw40_gallery(folder / "known_faces", PEOPLE, photos=(1, 2))
    arrivals = plan_arrivals([(p, photos_of(p)[3]) for p in PEOPLE[:4]])
    clip = folder / "arrivals.avi"
    write_clip(clip, arrivals[-1].gone + 1.5, arrivals, fps=ARRIVALS_FPS)
    out = {}
    for gated in (True, False):
        events, summary = folder / f"events-{gated}.jsonl", folder / f"summary-{gated}.json"
        code, _, err = run("watch", "--source", clip, "--events", events, "--summary", summary, "--no-unknowns",
                           "--no-sightings", *common(model_dir, known), *([] if gated else ["--no-motion-gate"]))
        assert code == 0, err
        out[gated] = ([json.loads(line) for line in events.read_text().splitlines()], json.loads(summary.read_text()))
    return arrivals, out


def test_gating_never_misses_an_arrival_nor_names_it_later(arrivals_run):
    arrivals, runs = arrivals_run
    (gated_rows, gated), (plain_rows, plain) = runs[True], runs[False]
    for arrival in arrivals:
        with_gate, without = first_named(gated_rows, arrival), first_named(plain_rows, arrival)
        assert without is not None and with_gate is not None, arrival.person
        assert with_gate <= without + 1 / ARRIVALS_FPS, (arrival.person, with_gate, without)
        assert with_gate < arrival.leave                     # named while in place
    # the empty stretches cost almost nothing: most frames with nobody in view are idle rounds
    empty = sum(all(a.left_at(row["t"]) is None for a in arrivals) for row in gated_rows)
    assert gated["idle_rounds"] >= 0.7 * empty, (gated["idle_rounds"], empty)
    assert plain["idle_rounds"] == 0 and plain["recognition_rounds"] == len(plain_rows)


def test_the_pipeline_detects_again_as_soon_as_something_moves(sface_recognizer):
    """Process-level: after idle rounds, the first frame with motion is a detection round."""
    import numpy as np

    from facecam.matcher import GalleryMatrix
    from facecam.pipeline import LivePipeline

    from motion_clips import room

    empty = GalleryMatrix(np.zeros((0, 128), np.float32), np.zeros(0, np.int64), ())
    pipeline = LivePipeline(sface_recognizer, lambda: empty)
    still = room().astype(np.uint8)
    for n in range(1, 20):
        pipeline.process(Frame(n, n / FPS, still))
    assert pipeline.stats.rounds == 1 and pipeline.stats.idle_rounds == 18 and pipeline.idle
    moved = still.copy()
    moved[100:300, 100:260] = 30
    pipeline.process(Frame(20, 20 / FPS, moved))
    assert pipeline.stats.rounds == 2 and not pipeline.idle
    pipeline.process(Frame(21, 21 / FPS + SAFETY_S, moved))  # still again, but the safety detection is due
    assert pipeline.stats.rounds == 3


def test_the_background_steps_by_the_frames_the_gate_did_not_see():
    """A gate that looks at every third frame follows the scene at the same pace in seconds: one step of three
    frames is three steps of one (the room still, nothing masked as moving)."""
    import numpy as np

    from motion_clips import room

    still = room().astype(np.uint8)
    brighter = np.clip(still.astype(int) + 6, 0, 255).astype(np.uint8)  # the light, not motion
    every, third = MotionGate(), MotionGate()
    every.moved(still)
    third.moved(still)
    for _ in range(3):
        assert not every.moved(brighter)
    assert not third.moved(brighter, frames=3)
    assert np.allclose(every._background, third._background, atol=1e-3)
    assert not np.allclose(third._background, MotionGate().small_grey(still))  # it did step


def test_a_still_room_is_looked_at_idle_fps_times_a_second_until_something_moves(sface_recognizer):
    """The live worker, once the room has been still for ``doze_after_s``, takes ``idle_fps`` frames a second of
    the 30 it is offered (the others replace each other unseen); the first motion it sees is detected."""
    import time

    import numpy as np

    from facecam.matcher import GalleryMatrix
    from facecam.pipeline import LivePipeline

    from motion_clips import room

    empty = GalleryMatrix(np.zeros((0, 128), np.float32), np.zeros(0, np.int64), ())
    pipeline = LivePipeline(sface_recognizer, lambda: empty, motion=MotionOptions(idle_fps=2.0, doze_after_s=0.0))
    still = room().astype(np.uint8)
    moved = still.copy()
    moved[100:300, 100:260] = 30
    pipeline.start()
    try:
        seq = 0

        def offer(image, until):
            nonlocal seq
            while not until():
                seq += 1
                pipeline.submit(Frame(seq, seq / 30, image))
                time.sleep(1 / 30)

        offer(still, lambda: pipeline.stats.rounds >= 1 or seq >= 900)  # the first frame is a detection
        offered, started = seq, time.monotonic()
        offer(still, lambda: seq - offered >= 60)             # two seconds of a still room at 30 fps
        looks, elapsed = pipeline.stats.rounds + pipeline.stats.idle_rounds, time.monotonic() - started
        # a slower machine only makes the worker look less often: the bound follows the time it took
        assert pipeline.stats.idle_rounds >= 1 and looks <= 1 + 2.0 * elapsed + 2, (looks, elapsed)
        rounds = pipeline.stats.rounds
        deadline = time.monotonic() + 60
        offer(moved, lambda: pipeline.stats.rounds > rounds or time.monotonic() > deadline)
        assert pipeline.stats.rounds > rounds and not pipeline.idle
    finally:
        pipeline.stop(5)


def test_an_empty_room_watched_in_realtime_decodes_only_the_frames_the_dozing_gate_looks_at(tmp_path, model_dir):
    """``watch --realtime`` writing nothing: once the room has been still for a second, the source skims (grabs
    without decoding) the frames the dozing pipeline does not look at; with --events every frame is decoded."""
    clip = tmp_path / "still.avi"
    frames = write_clip(clip, 8.0, fps=30.0, light=False)
    known = tmp_path / "known_faces"
    (known / PEOPLE[0]).mkdir(parents=True)
    shutil.copy(photos_of(PEOPLE[0])[0], known / PEOPLE[0])
    summaries = {}
    for events in (False, True):
        summary = tmp_path / f"summary-{events}.json"
        code, _, err = run("watch", "--source", clip, "--realtime", "--detector", "yunet", "--summary", summary,
                           "--no-unknowns", "--no-sightings", *common(model_dir, known),
                           *(["--events", tmp_path / "events.jsonl"] if events else []))
        assert code == 0, err
        summaries[events] = json.loads(summary.read_text())
    quiet, written = summaries[False], summaries[True]
    assert quiet["frames_in"] == written["frames_in"] == frames
    # 7 s of dozing at 10 looks a second skim 2 frames of 3 (a loaded machine dozes later: a third at least)
    assert quiet["frames_skimmed"] >= frames // 3, quiet
    assert quiet["frames_out"] + quiet["frames_skimmed"] <= frames
    assert quiet["recognition_rounds"] + quiet["idle_rounds"] <= quiet["frames_out"]   # looked only at decoded ones
    assert written["frames_skimmed"] == 0


def test_a_safety_detection_that_finds_nobody_does_not_wake_the_dozing_worker(sface_recognizer):
    """The safety detections of a still, empty room leave the worker dozing (it used to look at every frame for
    ``doze_after_s`` after each): ``on_doze`` says True once and never False while nothing moves."""
    import time

    import numpy as np

    from facecam.matcher import GalleryMatrix
    from facecam.pipeline import LivePipeline

    from motion_clips import room

    empty = GalleryMatrix(np.zeros((0, 128), np.float32), np.zeros(0, np.int64), ())
    dozes: list[bool] = []
    pipeline = LivePipeline(sface_recognizer, lambda: empty, on_doze=dozes.append,
                            motion=MotionOptions(safety_s=0.3, doze_after_s=0.0, idle_fps=5.0))
    still = room().astype(np.uint8)
    pipeline.start()
    try:
        seq = 0
        # the first detection and three safety detections, idle looks between them: the source's clock runs at a
        # tenth of the pace (a safety detection every 90 frames offered, ~3 s), so a slow round cannot skip them
        while (pipeline.stats.rounds < 4 or pipeline.stats.idle_rounds < 3) and seq < 6000:
            seq += 1
            pipeline.submit(Frame(seq, seq / 300, still))
            time.sleep(1 / 30)
        assert pipeline.stats.rounds >= 4 and pipeline.stats.idle_rounds >= 1
        assert dozes == [True] and pipeline.dozing
    finally:
        pipeline.stop(5)
    assert dozes == [True, False]                           # a stopped worker dozes no more


def test_the_gates_sample_is_every_nth_pixel_whatever_the_frame_size():
    """The gate's sample (OpenCV's nearest resize where the size is a multiple of the step) is exactly every n-th
    pixel of the frame, blurred: the pixels the strided copy took, for common and odd sizes, colour and grey."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(7)
    gate = MotionGate()
    for height, width, channels in ((480, 640, 3), (720, 1280, 3), (1080, 1920, 3), (481, 643, 3), (479, 641, 3),
                                    (100, 150, 3), (480, 640, 1)):
        frame = rng.integers(0, 256, (height, width, channels), np.uint8).squeeze()
        step = max(width // 160, 1)
        sample = np.ascontiguousarray(frame[::step, ::step])
        grey = cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY) if sample.ndim == 3 else sample
        assert np.array_equal(gate.small_grey(frame), cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)), \
            (height, width, channels)
