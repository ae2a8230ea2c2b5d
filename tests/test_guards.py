"""Guards that planted faults once slipped past (issue 18, item 8): each test here fails on one of them.

- a face exactly at the threshold is named (``<=``, not ``<``);
- exact search stays in use up to the documented switch-over (about 130,000 SFace photos), not 8,192;
- learning teaches only from a clear round: distance at most threshold - 0.10, runner-up 0.10 farther;
- a face the detector misses for one slow round keeps its visit (a track lives ``max_age_s`` = 2 s);
- the sightings CSV has each visit's start and end in their own columns.

Real lfw10 / lfw40 photos, real MTCNN + SFace; the visit and CSV guards run the real ``watch`` and
``sightings`` commands. The database's two (the unknowns outbox's order, the unknowns advisory lock)
are in tests/test_db_unknowns.py beside its server.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import numpy as np
import pytest
from clips import make_lfw40_gallery
from conftest import lfw_photos
from learn_clips import returns_gallery
from test_unknowns import common, run
from visits import Visit, photos_of, write_visits_clip

from facecam.matcher import GalleryMatrix, match_embeddings

ENROLLED = "Colin_Powell"
OTHER = "Tony_Blair"
VISITORS = ("Jimmy_Carter", "Celine_Dion")   # lfw40: the slow-rounds clip


@pytest.fixture(scope="module")
def embeddings(sface_recognizer) -> dict[str, np.ndarray]:
    """SFace embeddings of four lfw10 photos of two people (rows: photo order)."""
    return {person: np.stack([sface_recognizer.embed_photo(p).embedding for p in lfw_photos(person)[:4]])
            for person in (ENROLLED, OTHER)}


# ---------------------------------------------------------------- the threshold is inclusive

@pytest.mark.parametrize("mode", ["nearest", "mean"])
def test_a_face_exactly_at_the_threshold_is_named_and_just_above_it_is_not(embeddings, mode):
    gallery = GalleryMatrix.from_pairs([ENROLLED, ENROLLED, OTHER],
                                       np.stack([embeddings[ENROLLED][0], embeddings[ENROLLED][1], embeddings[OTHER][0]]))
    probe = embeddings[ENROLLED][2]
    distance = match_embeddings(probe, gallery, 2.0, mode)[0].distance   # the distance as the matcher computes it
    assert 0.05 < distance < 0.9                                          # a real, ordinary distance
    at = match_embeddings(probe, gallery, distance, mode)[0]
    assert at.name == ENROLLED and at.distance == distance
    above = match_embeddings(probe, gallery, float(np.nextafter(np.float32(distance), np.float32(0))), mode)[0]
    assert above.name is None and above.best_name == ENROLLED


# ---------------------------------------------------------------- the exact-search switch-over

def test_exact_search_lasts_to_the_documented_size():
    """README and BENCHMARKS.md: exact search up to about 130,000 SFace photos (128-d) and 4,096 VGG-Face
    photos (4096-d); the approximate index only past it."""
    from facecam.search import GallerySearch, exact_is_fast

    assert exact_is_fast(130_000, 128) and not exact_is_fast(132_000, 128)
    assert exact_is_fast(4_000, 4096) and not exact_is_fast(4_200, 4096)
    search = GallerySearch(128)
    assert search.exact_fast(100_000) and not search.exact_fast(200_000)
    # a real gallery of 20,000 photos (8,192 < 20,000 < 130,000) is searched exactly: no index is built
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.repeat(np.arange(2_000), 10)
    matrix = GalleryMatrix(vectors, labels, tuple(f"p{i}" for i in range(2_000)))
    photos = [(f"p{i // 10}/{i}.jpg", f"p{i // 10}", f"{i:064x}") for i in range(20_000)]
    by_sha = {sha: vectors[i] for i, (_, _, sha) in enumerate(photos)}
    attached = search.attach(matrix, photos, by_sha.__getitem__)
    assert search.photo_index is None and search.people_index is None
    assert search.candidates(vectors[:2], attached, "nearest") is None


# ---------------------------------------------------------------- learning's margins

def test_learning_needs_a_clear_margin_under_the_threshold_and_over_the_runner_up(embeddings):
    """``clear_match`` on real matches: the same probe is clear, then not clear once the threshold comes
    within 0.10 of its distance, or once a second enrolled person (another folder of the same man) is
    within 0.10 of the first."""
    from facecam.learn import DISTANCE_MARGIN, RUNNER_UP_GAP, clear_match

    assert DISTANCE_MARGIN == pytest.approx(0.10) and RUNNER_UP_GAP == pytest.approx(0.10)
    own, other = embeddings[ENROLLED], embeddings[OTHER]
    probe = own[2]
    alone = GalleryMatrix.from_pairs([ENROLLED, OTHER], np.stack([own[0], other[0]]))
    clear = match_embeddings(probe, alone, 0.575, "nearest")[0]
    assert clear.name == ENROLLED and clear.distance < 0.575 - 0.10
    assert clear.runner_up_distance - clear.distance >= 0.10
    assert clear_match(clear)
    # the threshold within the margin of the same distance: still named, but not clear
    close = match_embeddings(probe, alone, clear.distance + 0.05, "nearest")[0]
    assert close.name == ENROLLED and not clear_match(close)
    # a runner-up within 0.10: the same man enrolled twice, under two names
    twins = GalleryMatrix.from_pairs([ENROLLED, "Colin_Powell_2", OTHER], np.stack([own[0], own[1], other[0]]))
    contested = match_embeddings(probe, twins, 0.575, "nearest")[0]
    assert contested.name is not None and contested.distance < 0.575 - 0.10
    assert contested.runner_up_distance - contested.distance < 0.10
    assert not clear_match(contested)


def test_a_visit_named_within_the_margin_teaches_nothing(sface_recognizer, tmp_path):
    """The live collector on a real clip: a person whose every round is named, yet within 0.10 of the
    threshold, is not learned from; the same visit at the default threshold is (the control)."""
    from tests.clips import read_frames

    from facecam.gallery import Gallery
    from facecam.learn import LearnCollector
    from facecam.pipeline import LivePipeline
    from facecam.recognizer import Recognizer

    person = "Tommy_Thompson"
    clip = tmp_path / "margin.avi"
    write_visits_clip(clip, [Visit(person, photos_of(person)[3], True, 1, 0.2, 2.6)])
    known = returns_gallery(tmp_path / "known_faces", person)
    gallery = Gallery.for_recognizer(known, sface_recognizer, cache_dir=tmp_path / "cache")
    gallery.refresh(sface_recognizer.embed_photo)
    matrix = gallery.matrix()

    def learned_at(threshold: float) -> tuple[list, list]:
        recognizer = Recognizer(sface_recognizer.detector, sface_recognizer.embedder, threshold)
        taught, matches = [], []
        collector = LearnCollector(taught.append)
        pipeline = LivePipeline(recognizer, lambda: matrix,
                                listeners=[lambda r: matches.extend(r.matches), collector])
        for frame in read_frames(clip):
            pipeline.process(frame)
        collector.finish()
        return taught, matches

    taught, matches = learned_at(0.575)
    assert [c.name for c in taught] == [person]                              # the control teaches
    worst = max(m.distance for m in matches)
    assert all(m.name == person for m in matches) and worst < 0.575 - 0.10
    taught, matches = learned_at(worst + 0.05)                               # every round within the margin
    assert matches and all(m.name == person for m in matches)
    assert taught == []


# ---------------------------------------------------------------- visits through slow rounds, the CSV

@pytest.fixture(scope="module")
def slow_rounds(tmp_path_factory, model_dir):
    """``watch`` on a clip of 2.5 frames a second (every frame a round: 0.4 s apart, as VGG-Face with a few
    faces on a loaded machine). Jimmy Carter (slot 0) is missed for one round mid-visit; Celine Dion (slot 2)
    stays on screen (lfw40 photos). Returns (the sightings JSON rows, the CSV text)."""
    folder = tmp_path_factory.mktemp("slow")
    known = make_lfw40_gallery(folder / "known_faces", VISITORS, photos=(1, 2))
    missed, stays = VISITORS
    shown = {person: photos_of(person)[4] for person in VISITORS}
    visits = [Visit(missed, shown[missed], True, 0, 0.2, 3.0), Visit(missed, shown[missed], True, 0, 3.4, 6.0),
              Visit(stays, shown[stays], True, 2, 0.2, 6.0)]
    clip = folder / "slow.avi"
    write_visits_clip(clip, visits, fps=2.5)
    code, _, err = run("watch", "--source", clip, "--no-unknowns", *common(model_dir, known))
    assert code == 0, err
    code, out, err = run("sightings", "--json", "--known-faces", known)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    code, text, err = run("sightings", "--csv", "--known-faces", known)
    assert code == 0, err
    return rows, text


def test_a_face_missed_for_one_slow_round_keeps_its_visit(slow_rounds):
    rows, _ = slow_rounds
    by_name: dict = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    missed, stays = VISITORS
    assert sorted(by_name) == sorted(VISITORS), rows
    assert len(by_name[stays]) == 1                   # the control: on screen throughout
    assert len(by_name[missed]) == 1, by_name[missed]  # one visit through the missed round
    assert by_name[missed][0]["duration_s"] > 4.0


def test_the_sightings_csv_has_start_before_end_and_agrees_with_json(slow_rounds):
    rows, text = slow_rounds
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == len(rows) == 2
    by_id = {row["id"]: row for row in rows}
    for line in table:
        row = by_id[line["id"]]
        start, end = datetime.fromisoformat(line["start"]), datetime.fromisoformat(line["end"])
        assert line["start"] == row["start"] and line["end"] == row["end"]
        assert start < end
        assert line["name"] == row["name"] and float(line["duration_s"]) == pytest.approx(row["duration_s"])
    assert sorted(float(line["duration_s"]) for line in table)[0] > 4.0
