"""The recorder on the real pipeline (MTCNN + SFace, real photos): a visit arrives when the name settles,
is updated, ends when the track is gone; a face seen on one round only is never a visit."""

from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np

from facecam.images import read_image
from facecam.pipeline import LivePipeline
from facecam.sightings.recorder import SightingRecorder
from facecam.types import Frame

from tests.conftest import PEOPLE, gallery_of


def test_visits_arrive_update_and_end(sface_recognizer):
    gallery = gallery_of(sface_recognizer, {"Joe Biden": "biden2.jpg"})   # Obama stays a stranger
    stages: list[tuple[str, object]] = []
    clock = [1_000_000.0]
    recorder = SightingRecorder("desk", [lambda s, stage: stages.append((stage, s))], clock=lambda: clock[0])
    pipeline = LivePipeline(sface_recognizer, lambda: gallery, listeners=[recorder.on_round])
    two = read_image(PEOPLE / "two_people.jpg")
    empty = np.full_like(two, 128)

    def feed(image, t):
        clock[0] = 1_000_000.0 + t + 0.05          # each round's result comes 50 ms after its frame
        pipeline.process(Frame(int(t * 10), t, image))

    feed(two, 0.0)
    assert stages == []                            # one round: not a visit yet (could be a false detection)
    feed(two, 0.1)
    arrived = [s for stage, s in stages if stage == "arrived"]
    assert sorted(s.kind for s in arrived) == ["known", "unknown"]
    known = next(s for s in arrived if s.kind == "known")
    assert known.name == "Joe Biden" and known.source == "desk" and known.t_start == 0.0
    assert known.distance is not None and known.distance <= sface_recognizer.threshold
    assert known.started.timestamp() == 1_000_000.0 + 0.05    # source time + the smallest lag seen
    snapshot = cv2.imdecode(np.frombuffer(known.snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot is not None and max(snapshot.shape[:2]) <= 128
    for step in range(2, 20):
        feed(two, step / 10)
    assert len(recorder.open_visits()) == 2
    for step in range(20, 40):                     # they leave: the tracks die, the visits end
        feed(empty, step / 10)
    ended = [s for stage, s in stages if stage == "ended"]
    assert sorted(s.id for s in ended) == sorted(s.id for s in arrived)
    assert all(s.t_end == 1.9 and s.duration_s == 1.9 for s in ended)
    assert all(s.ended - s.started == timedelta(seconds=1.9) for s in ended)
    assert recorder.open_visits() == [] and recorder.errors == []
    assert len([1 for stage, _ in stages if stage == "arrived"]) == 2   # one arrival each, never repeated


def test_close_ends_open_visits_and_a_failing_listener_is_reported(sface_recognizer):
    gallery = gallery_of(sface_recognizer, {"Barack Obama": "obama.jpg"})
    seen: list[str] = []

    def broken(_sighting, _stage):
        raise OSError("disk full")

    recorder = SightingRecorder("cam 0", [broken, lambda s, stage: seen.append(stage)])
    pipeline = LivePipeline(sface_recognizer, lambda: gallery, listeners=[recorder.on_round])
    photo = read_image(PEOPLE / "obama-480p.jpg")
    for step in range(3):
        pipeline.process(Frame(step, step * 0.1, photo))
    recorder.close()
    assert seen == ["arrived", "ended"]
    assert recorder.errors == ["OSError: disk full", "OSError: disk full"]
