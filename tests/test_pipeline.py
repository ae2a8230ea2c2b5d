"""LivePipeline's scheduling: newest frame wins, errors reported, clean stop.

These tests check *when* work happens, so the detector is a timed stand-in; the
recognition itself is tested with the real models in test_watch and test_recognition.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from facecam.matcher import GalleryMatrix
from facecam.motion import MotionOptions
from facecam.pipeline import LivePipeline
from facecam.types import Frame
from facecam.types import Faces

# These tests are about scheduling (the newest frame wins, errors, stopping): their frames are plain colours, which
# the motion gate would rightly leave undetected (tests/test_motion.py tests the gate).
NO_GATE = MotionOptions(enabled=False)


class SlowDetector:
    """Takes `delay` seconds per frame and remembers which frames it saw."""

    def __init__(self, delay: float, fail_on: set[int] | None = None):
        self.delay = delay
        self.seen: list[int] = []
        self.fail_on = fail_on or set()

    def __call__(self, rgb_frame):
        seq = int(rgb_frame[0, 0, 0])
        self.seen.append(seq)
        time.sleep(self.delay)
        if seq in self.fail_on:
            raise RuntimeError(f"detector failed on frame {seq}")
        return Faces.empty()


class StubRecognizer:
    threshold = 0.5
    match_mode = "mean"

    def __init__(self, detector):
        self.find_faces = detector

    def embed_faces(self, rgb_frame, faces):  # pragma: no cover - no faces, never called
        raise AssertionError("no faces: nothing to embed")


def frame(seq: int) -> Frame:
    bgr = np.full((8, 8, 3), seq % 256, np.uint8)
    return Frame(seq, seq / 30.0, bgr)


def test_newest_frame_wins_and_stale_frames_are_dropped():
    detector = SlowDetector(delay=0.1)
    pipeline = LivePipeline(StubRecognizer(detector), lambda: GalleryMatrix.empty(4), motion=NO_GATE)
    pipeline.start()
    try:
        for seq in range(1, 61):          # 60 frames at 100 Hz while each round takes 100 ms
            pipeline.submit(frame(seq))
            time.sleep(0.01)
        deadline = time.monotonic() + 30
        while detector.seen[-1:] != [60] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        assert pipeline.stop(timeout=30.0)
    seen = detector.seen
    assert seen[-1] == 60                       # the last frame is always processed
    assert seen == sorted(set(seen))            # never an older frame after a newer one, never twice
    assert len(seen) <= 12                      # ~6 s of work would have queued up; about 0.6 s was done
    assert max(b - a for a, b in zip(seen, seen[1:])) >= 5  # frames in between were dropped


def test_a_failing_round_is_reported_and_the_worker_goes_on():
    detector = SlowDetector(delay=0.0, fail_on={2})
    errors = []
    pipeline = LivePipeline(StubRecognizer(detector), lambda: GalleryMatrix.empty(4), on_error=errors.append, motion=NO_GATE)
    pipeline.start()
    try:
        for seq in (1, 2, 3):
            pipeline.submit(frame(seq))
            deadline = time.monotonic() + 30
            while seq not in detector.seen and time.monotonic() < deadline:
                time.sleep(0.01)
        deadline = time.monotonic() + 30
        while pipeline.stats.rounds < 2 and time.monotonic() < deadline:   # the last round counted
            time.sleep(0.01)
    finally:
        assert pipeline.stop(timeout=30.0)
    assert detector.seen == [1, 2, 3]
    assert [str(e) for e in errors] == ["detector failed on frame 2"]
    assert pipeline.stats.rounds == 2


def test_stop_returns_without_waiting_out_its_timeout_and_threads_are_gone():
    pipeline = LivePipeline(StubRecognizer(SlowDetector(0.0)), lambda: GalleryMatrix.empty(4), motion=NO_GATE).start()
    assert pipeline.running
    started = time.monotonic()
    assert pipeline.stop(timeout=30.0)
    assert time.monotonic() - started < 15.0   # not the 30 s timeout (idle: well under a second)
    assert not any(t.name == "facecam-recognition" and t.is_alive() for t in threading.enumerate())


def test_the_slot_keeps_the_newest_waiting_frame():
    """Frames submitted while the worker is busy (here: not started yet) replace each other: the worker
    then takes the newest one, once, and none of the older ones."""
    detector = SlowDetector(delay=0.0)
    pipeline = LivePipeline(StubRecognizer(detector), lambda: GalleryMatrix.empty(4), motion=NO_GATE)
    for seq in (1, 2, 3):
        pipeline.submit(frame(seq))
    pipeline.start()
    try:
        deadline = time.monotonic() + 30
        while not detector.seen and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        assert pipeline.stop(timeout=None)
    assert detector.seen == [3]


def test_request_stop_then_join_keeps_the_handle_until_the_thread_ended():
    """request_stop returns at once; a join that timed out during a long round can be repeated."""
    detector = SlowDetector(delay=3.0)   # a round long enough to still run when asked to stop, however loaded
    pipeline = LivePipeline(StubRecognizer(detector), lambda: GalleryMatrix.empty(4), motion=NO_GATE).start()
    pipeline.submit(frame(1))
    deadline = time.monotonic() + 30
    while not detector.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    pipeline.request_stop()
    assert not pipeline.join(timeout=0.0)        # the round in progress is not interrupted
    assert pipeline.running
    assert pipeline.join(timeout=None)           # the second join still has the thread to wait for
    assert not pipeline.running
    assert not any(t.name == "facecam-recognition" and t.is_alive() for t in threading.enumerate())


def test_no_box_is_drawn_for_a_face_once_a_round_missed_it(tmp_path, sface_recognizer):
    """Real MTCNN + SFace on a clip where Tony Blair leaves at 1.0 s (Putin stays): from the first round
    on a frame without him, no frame drawn afterwards has a box on his side."""
    import cv2

    from clips import Actor, write_clip

    clip = tmp_path / "leaves.avi"
    write_clip(clip, (Actor("Tony_Blair", 5, 0.0, 1.0, 170, 240, sway_px=0),
                      Actor("Vladimir_Putin", 5, 0.0, 9.0, 470, 240, sway_px=0)), seconds=1.6)
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(Frame(len(frames) + 1, len(frames) / 30.0, image))
    capture.release()
    pipeline = LivePipeline(sface_recognizer, lambda: GalleryMatrix.empty(sface_recognizer.embedder.dim))
    left_boxes = []   # (t of the frame drawn, boxes on the left half) for every frame
    missed_at = None  # the time of the first round that no longer sees him
    for index, item in enumerate(frames):
        if index % 4 == 0:  # a recognition round every 4th frame, as when the model is slower than the video
            pipeline.process(item)
            if item.t_source >= 1.0 and missed_at is None:
                missed_at = item.t_source
        left = [label.box for label in pipeline.labels_at(item.t_source) if label.box[0] + label.box[2] / 2 < 320]
        left_boxes.append((item.t_source, left))
    assert missed_at is not None
    assert any(left for t, left in left_boxes if t < 1.0)  # he was boxed while there
    after = [(t, left) for t, left in left_boxes if t >= missed_at]
    assert len(after) >= 10 and all(not left for _, left in after), after[:3]
    assert all(label.box[0] > 320 for label in pipeline.labels_at(frames[-1].t_source))  # Putin still boxed
    assert pipeline.labels_at(frames[-1].t_source)
