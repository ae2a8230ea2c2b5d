"""The live pipeline's schedule on a room of faces (issue 11): real clip, real YuNet + SFace, every result checked.

A round embeds all the new faces of a room (none waits for another detection), one model call per face
(``embed_batch``), each face's name shown before the next is embedded, and re-checks only when no new
face waits. Speed itself is
shown by bench/bench_room.py; these tests check what the pipeline did, on real outputs, not timing.
"""

from __future__ import annotations

import pytest

from clips import lfw40_matrix, read_frames, room_people, room_scene, write_room_clip
from facecam.detector import DetectorOptions, build_detector
from facecam.pipeline import LivePipeline, PipelineOptions, RoundResult
from facecam.recognizer import Recognizer
from facecam.registry import MODELS


class WatchedEmbedder:
    """The real SFace embedder, noting for each model call its batch size and how many tracks already had a
    name when it was made (the pipeline is set afterwards)."""

    def __init__(self, inner):
        self.inner = inner
        self.pipeline: LivePipeline | None = None
        self.calls: list[tuple[int, int]] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, crops):
        named = sum(track.votes > 0 for track in self.pipeline.tracker.tracks()) if self.pipeline else -1
        self.calls.append((len(crops), named))
        return self.inner.embed(crops)


@pytest.fixture(scope="module")
def room(sface):
    """(recognizer with YuNet at the live setting and the watched SFace, the 8 people, their photo numbers,
    gallery of their photos 1-3)."""
    detector = build_detector("yunet", DetectorOptions(min_face_size=40))
    recognizer = Recognizer(detector, WatchedEmbedder(sface), MODELS["sface"].threshold)
    people, photos = room_people(detector)
    return recognizer, people, photos, lfw40_matrix(recognizer, people)


def run_rounds(recognizer, gallery, clip, every: int) -> tuple[LivePipeline, list[RoundResult]]:
    """A fresh pipeline on every ``every``-th frame of ``clip`` (as when the model is slower than the video);
    every round's result."""
    results: list[RoundResult] = []
    pipeline = LivePipeline(recognizer, lambda: gallery, listeners=[results.append])
    recognizer.embedder.pipeline, recognizer.embedder.calls = pipeline, []
    for frame in read_frames(clip)[::every]:
        pipeline.process(frame)
    return pipeline, results


def names_of(result: RoundResult) -> list[str | None]:
    return sorted(match.name for match in result.matches)


def test_a_room_of_eight_is_embedded_in_one_round_and_named_face_by_face(tmp_path, room):
    recognizer, people, photos, gallery = room
    clip = tmp_path / "room.avi"
    write_room_clip(clip, room_scene(people, photos, enter_s=0.5, leave_s=2.0), seconds=1.5)
    pipeline, results = run_rounds(recognizer, gallery, clip, every=3)
    first = next(r for r in results if len(r.faces))
    assert len(first.faces) == 8
    assert len(first.embedded_ids) == 8 and names_of(first) == sorted(people)   # everyone, right names, at once
    # one model call per face, each begun with every face before it already named (shown while it ran)
    assert recognizer.embedder.calls[:8] == [(1, n) for n in range(8)]
    assert {track.name for track in pipeline.tracker.tracks()} == set(people)


def test_new_faces_are_embedded_before_due_rechecks(tmp_path, room):
    """Five people from 0.5 s, three more from 2.0 s; a round every 10th frame (3 a second). When the three
    arrive, the first five are all due a re-check (last embedded over a second ago): the round embeds the
    three newcomers only, and the re-checks follow in the next rounds."""
    recognizer, people, photos, gallery = room
    clip = tmp_path / "late.avi"
    write_room_clip(clip, room_scene(people, photos, enter_s=0.5, leave_s=4.0, late=3, late_s=2.0), seconds=3.0)
    pipeline, results = run_rounds(recognizer, gallery, clip, every=10)
    first = next(r for r in results if len(r.faces))
    assert len(first.embedded_ids) == 5 and names_of(first) == sorted(people[:5])
    arrival = next(i for i, r in enumerate(results) if len(r.faces) == 8)
    before = {track.id: track.last_embedded for track in results[arrival - 1].tracks}
    t = results[arrival].frame.t_source
    assert all(t - last > pipeline.options.recheck_s for last in before.values())   # re-checks were due
    newcomers = set(results[arrival].embedded_ids)
    assert not newcomers & set(before) and len(newcomers) == 3                       # ...yet only newcomers
    assert names_of(results[arrival]) == sorted(people[5:])
    rechecked = [i for r in results[arrival + 1:arrival + 3] for i in r.embedded_ids]
    assert len(rechecked) == 2 and set(rechecked) <= set(before)                     # then one re-check a round


def test_larger_batches_are_one_model_call_each(tmp_path, room):
    recognizer, people, photos, gallery = room
    clip = tmp_path / "room.avi"
    write_room_clip(clip, room_scene(people, photos, enter_s=0.0, leave_s=1.0), seconds=0.1)
    results: list[RoundResult] = []
    pipeline = LivePipeline(recognizer, lambda: gallery, options=PipelineOptions(embed_batch=3),
                            listeners=[results.append])
    recognizer.embedder.pipeline, recognizer.embedder.calls = pipeline, []
    pipeline.process(read_frames(clip)[0])
    assert recognizer.embedder.calls == [(3, 0), (3, 3), (2, 6)]
    assert names_of(results[0]) == sorted(people) and results[0].embeddings.shape == (8, recognizer.embedder.dim)


@pytest.mark.parametrize("options", [dict(embed_batch=0), dict(max_embed_per_round=0), dict(recheck_s=0)])
def test_options_are_checked(options):
    with pytest.raises(ValueError):
        PipelineOptions(**options)
