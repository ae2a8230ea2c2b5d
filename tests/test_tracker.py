"""FaceTracker with synthetic detections: ids, gaps, votes, scheduling, extrapolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facecam.tracker import FaceTracker, Track, iou_matrix
from facecam.types import Faces, Match

DT = 0.125  # one detection round (~8 per second)


def faces_of(*boxes) -> Faces:
    if not boxes:
        return Faces.empty()
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    lm = np.zeros((len(b), 5, 2))
    lm[:, :, 0] = b[:, :1] + b[:, 2:3] / 2
    lm[:, :, 1] = b[:, 1:2] + b[:, 3:4] / 2
    return Faces(b, lm, np.ones(len(b)))


def match(name: str | None, distance: float = 0.3) -> Match:
    return Match(name=name, distance=distance, threshold=0.68)


def by_id(tracks: list[Track]) -> dict[int, Track]:
    return {tr.id: tr for tr in tracks}


def id_nearest(tracks: list[Track], x: float, y: float) -> int:
    centres = [(tr.box[0] + tr.box[2] / 2 - x) ** 2 + (tr.box[1] + tr.box[3] / 2 - y) ** 2 for tr in tracks]
    return tracks[int(np.argmin(centres))].id


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


@pytest.mark.parametrize("dy", [0, 25])
def test_two_faces_crossing_keep_their_ids(dy):
    tracker = FaceTracker()
    w = 100
    # A walks right, B walks left, same speed; they overlap fully half way.
    xs_a = [20 + 40 * i for i in range(13)]
    xs_b = [500 - 40 * i for i in range(13)]
    tracks = tracker.update(faces_of((xs_a[0], 100, w, w), (xs_b[0], 100 + dy, w, w)), 0.0)
    id_a = id_nearest(tracks, xs_a[0] + w / 2, 150)
    id_b = id_nearest(tracks, xs_b[0] + w / 2, 150 + dy)
    assert id_a != id_b
    for i in range(1, 13):
        # Detection order alternates so the tracker cannot rely on it.
        boxes = [(xs_a[i], 100, w, w), (xs_b[i], 100 + dy, w, w)]
        tracks = tracker.update(faces_of(*(boxes if i % 2 else boxes[::-1])), i * DT)
        assert {tr.id for tr in tracks} == {id_a, id_b}
        if abs(xs_a[i] - xs_b[i]) >= 40:  # positions distinguishable
            assert id_nearest(tracks, xs_a[i] + w / 2, 150) == id_a, f"swap at step {i}"
            assert id_nearest(tracks, xs_b[i] + w / 2, 150 + dy) == id_b, f"swap at step {i}"
    final = by_id(tracks)
    assert final[id_a].box[0] > final[id_b].box[0]  # A ended on the right
    assert final[id_a].velocity[0] > 200 and final[id_b].velocity[0] < -200


def test_face_missing_a_few_rounds_keeps_its_id_then_dies():
    tracker = FaceTracker(max_missed=3, max_age_s=10)
    (first,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    t = 0.0
    assert [tr.id for tr in tracker.boxes_at(t)] == [first.id]
    for _ in range(3):  # three rounds without it: still alive, not painted from the first miss on
        t += DT
        (tr,) = tracker.update(Faces.empty(), t)
        assert tr.id == first.id and tr.detection_index is None
        assert tracker.boxes_at(t) == [] and tracker.boxes_at(t + DT) == []  # no ghost box lingers
    t += DT
    (back,) = tracker.update(faces_of((110, 104, 82, 80)), t)  # reappears nearby
    assert back.id == first.id and back.missed == 0 and back.detection_index == 0
    for _ in range(4):
        t += DT
        tracks = tracker.update(Faces.empty(), t)
    assert tracks == []  # 4 > max_missed rounds: dead
    t += DT
    (new,) = tracker.update(faces_of((110, 104, 82, 80)), t)
    assert new.id > first.id  # a new track, the old id is not reused


def test_max_age_kills_even_within_max_missed():
    tracker = FaceTracker(max_missed=10, max_age_s=0.5)
    tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    assert tracker.update(Faces.empty(), 0.4) != []
    assert tracker.update(Faces.empty(), 0.9) == []


def test_fast_face_without_overlap_is_reacquired_by_centre_distance():
    tracker = FaceTracker()
    (a,) = tracker.update(faces_of((100, 100, 60, 60)), 0.0)
    # jumps 50 px (no IoU with the old box, no velocity yet), within one face size
    (b,) = tracker.update(faces_of((150, 110, 60, 60)), DT)
    assert b.id == a.id
    # a far face of very different size is a new person
    tracks = tracker.update(faces_of((150, 110, 60, 60), (300, 300, 200, 200)), 2 * DT)
    assert len(tracks) == 2 and a.id in by_id(tracks)


def test_box_is_smoothed_against_jitter():
    rng = np.random.default_rng(0)
    tracker = FaceTracker()
    raw, smooth = [], []
    for i in range(40):
        box = np.array([200, 150, 100, 100]) + rng.normal(0, 4, 4)
        (tr,) = tracker.update(faces_of(tuple(box)), i * DT)
        raw.append(box[0])
        smooth.append(tr.box[0])
    assert np.std(smooth[10:]) < 0.8 * np.std(raw[10:])
    assert abs(np.mean(smooth[10:]) - 200) < 3


def track_of(tracker: FaceTracker, track_id: int):
    return next(track for track in tracker.tracks() if track.id == track_id)


def test_vote_ignores_one_outlier():
    tracker = FaceTracker(vote_window=5)
    (tr,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    shown = []
    for i, name in enumerate(["A", "A", "B", "A", "A"]):
        assert tracker.add_match(tr.id, match(name, 0.2 + 0.01 * i), i)
        shown.append(track_of(tracker, tr.id).name)
    assert shown == ["A", "A", "A", "A", "A"]
    final = track_of(tracker, tr.id)
    assert final.votes == 5 and final.known and final.display_name == "A"
    assert final.distance == pytest.approx(np.mean([0.20, 0.21, 0.23, 0.24]))


def test_vote_unknown_then_person_needs_a_majority():
    tracker = FaceTracker(vote_window=5)
    (tr,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    assert track_of(tracker, tr.id).display_name is None  # not recognised yet
    shown = []
    for i, name in enumerate([None, "A", "A", "A"]):
        tracker.add_match(tr.id, match(name, 0.8 if name is None else 0.3), i)
        shown.append(track_of(tracker, tr.id).display_name)
    # first result at once; the tie (1-1) keeps Unknown; 2-1 turns it into A
    assert shown == ["Unknown", "Unknown", "A", "A"]


def test_vote_window_lets_a_real_change_through():
    tracker = FaceTracker(vote_window=5)
    (tr,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    for i, name in enumerate(["A"] * 5 + ["B"] * 3):
        tracker.add_match(tr.id, match(name), i)
    assert track_of(tracker, tr.id).name == "B"  # window now A A B B B


def test_add_match_for_dead_track_is_dropped():
    tracker = FaceTracker(max_missed=0)
    (tr,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    tracker.update(Faces.empty(), DT)
    assert tracker.add_match(tr.id, match("A"), DT) is False
    assert tracker.add_match(12345, match("A"), DT) is False


def test_scheduling_new_first_then_after_recheck():
    tracker = FaceTracker()
    t = 0.0
    (a,) = tracker.update(faces_of((100, 100, 80, 80)), t)
    assert [tr.id for tr in tracker.tracks_needing_embedding(t)] == [a.id]
    tracker.add_match(a.id, match("A"), t)
    assert tracker.tracks_needing_embedding(t) == []
    # a newcomer: it comes first, A is not due yet
    t += DT
    tracks = tracker.update(faces_of((102, 100, 80, 80), (400, 100, 80, 80)), t)
    b = next(tr for tr in tracks if tr.id != a.id)
    assert [tr.id for tr in tracker.tracks_needing_embedding(t, recheck_s=1.0)] == [b.id]
    tracker.add_match(b.id, match("B"), t)
    # after recheck_s both are due again, oldest result first; new tracks still first
    while t < 1.2:
        t += DT
        tracker.update(faces_of((102, 100, 80, 80), (400, 100, 80, 80)), t)
    t += DT
    tracks = tracker.update(faces_of((102, 100, 80, 80), (400, 100, 80, 80), (250, 300, 60, 60)), t)
    c = max(tr.id for tr in tracks)
    due = [tr.id for tr in tracker.tracks_needing_embedding(t, recheck_s=1.0)]
    assert due == [c, a.id, b.id]


def test_scheduling_after_big_box_change_and_only_detected_tracks():
    tracker = FaceTracker(box_alpha=1.0)
    (a,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0)
    tracker.add_match(a.id, match("A"), 0.0)
    tracker.update(faces_of((105, 100, 80, 80)), DT)
    assert tracker.tracks_needing_embedding(DT, recheck_s=10) == []
    tracker.update(faces_of((110, 100, 150, 150)), 2 * DT)  # came much closer
    assert [tr.id for tr in tracker.tracks_needing_embedding(2 * DT, recheck_s=10)] == [a.id]
    tracker.add_match(a.id, match("A"), 2 * DT)
    tracker.update(Faces.empty(), 3 * DT)  # missed this round: nothing fresh to crop
    assert tracker.tracks_needing_embedding(3 * DT, recheck_s=0.0) == []


def test_boxes_at_extrapolates_with_clamp():
    tracker = FaceTracker(predict_horizon_s=0.25, max_shift_ratio=0.5)
    for i in range(6):  # 320 px/s to the right
        tracker.update(faces_of((100 + 40 * i, 100, 100, 100)), i * DT)
    t_last = 5 * DT
    (now,) = tracker.boxes_at(t_last)
    (ahead,) = tracker.boxes_at(t_last + 0.1)
    (far,) = tracker.boxes_at(t_last + 5.0)
    assert ahead.box[0] - now.box[0] == pytest.approx(32, abs=3)
    assert far.box[0] - now.box[0] == pytest.approx(50, abs=0.5)  # clamped: 0.5 face size
    assert ahead.box[1] == pytest.approx(now.box[1], abs=1)
    (before,) = tracker.boxes_at(t_last - 1.0)  # an older frame: no backwards extrapolation
    assert before.box == now.box
    # predict_horizon_s=0: plain latest boxes
    plain = FaceTracker(predict_horizon_s=0)
    for i in range(6):
        plain.update(faces_of((100 + 40 * i, 100, 100, 100)), i * DT)
    assert plain.boxes_at(t_last + 0.1)[0].box == plain.tracks()[0].box


def test_update_returns_detection_index_and_raw_face():
    tracker = FaceTracker()
    tracker.update(faces_of((100, 100, 80, 80), (300, 100, 50, 50)), 0.0)
    faces = faces_of((302, 101, 50, 50), (101, 100, 80, 80))
    for tr in tracker.update(faces, DT):
        assert tr.face.box == faces[tr.detection_index].box
        np.testing.assert_array_equal(tr.face.landmarks, faces[tr.detection_index].landmarks)


box_strategy = st.tuples(
    st.floats(0, 600), st.floats(0, 440), st.floats(10, 200), st.floats(10, 200)
)
frames_strategy = st.lists(
    st.tuples(st.floats(0.01, 0.6), st.lists(box_strategy, max_size=5)), min_size=1, max_size=25
)


@settings(max_examples=150, deadline=None)
@given(frames_strategy, st.integers(0, 4))
def test_ids_unique_per_frame_and_never_reused(frames, max_missed):
    tracker = FaceTracker(max_missed=max_missed)
    t = 0.0
    alive: set[int] = set()
    dead: set[int] = set()
    highest = 0
    for dt, boxes in frames:
        t += dt
        tracks = tracker.update(faces_of(*boxes), t)
        ids = [tr.id for tr in tracks]
        assert len(ids) == len(set(ids))
        assert not set(ids) & dead
        new = set(ids) - alive
        assert all(i > highest for i in new)
        highest = max([highest, *ids])
        dead |= alive - set(ids)
        alive = set(ids)
        # every detection is owned by exactly one track
        owned = sorted(tr.detection_index for tr in tracks if tr.detection_index is not None)
        assert owned == list(range(len(boxes)))
        for tr in tracker.boxes_at(t + 0.05):
            assert all(np.isfinite(tr.box)) and tr.box[2] > 0 and tr.box[3] > 0


# ---------------------------------------------------------------- issue 18: a name stays with its face

def look(seed: int, near: np.ndarray | None = None, noise: float = 0.0) -> np.ndarray:
    """A unit signature row (random for ``seed``, or ``near`` plus a little noise)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=144) if near is None else near + noise * rng.normal(size=144)
    return (v / np.linalg.norm(v))[None].astype(np.float32)


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return (v / np.linalg.norm(v)).astype(np.float32)


def named_track(tracker: FaceTracker, name: str | None, signature, embedding) -> Track:
    (tr,) = tracker.update(faces_of((100, 100, 80, 80)), 0.0, signature)
    assert tracker.add_result(tr.id, match(name), 0.0, embedding) == tr.id
    return track_of(tracker, tr.id)


def test_another_look_hides_the_name_until_an_embedding_says_whose_face_it_is():
    tracker = FaceTracker()
    a = look(1)
    tr = named_track(tracker, "A", a, unit(1))
    # the same face a round later (correlation well above doubt_similarity): nothing changes
    (same,) = tracker.update(faces_of((102, 100, 80, 80)), DT, look(2, a[0], 0.05))
    assert not same.verifying and not same.doubted and same.display_name == "A"
    assert tracker.tracks_needing_embedding(DT) == []
    # another face in the box: not recognised (votes 0, the old name kept for listeners), first in line
    (other,) = tracker.update(faces_of((103, 100, 80, 80)), 2 * DT, look(3))
    assert other.verifying and other.votes == 0 and other.display_name is None and other.name == "A"
    assert [t.id for t in tracker.tracks_needing_embedding(2 * DT, recheck_s=10)] == [tr.id]
    # its embedding is far from the track's: a new track on the same detection, the old one ends
    new_id = tracker.add_result(tr.id, match("B"), 2 * DT, unit(2))
    assert new_id is not None and new_id > tr.id
    (now,) = tracker.tracks()
    assert now.id == new_id and now.name == "B" and now.first_seen == 2 * DT and now.hits == 1
    assert now.detection_index == 0 and now.face.box == (103.0, 100.0, 80.0, 80.0)


def test_a_verified_face_keeps_its_track_and_an_unknown_stranger_is_told_by_the_embedding():
    for name, embedding, stays in (("A", unit(1), True), (None, unit(1), True), (None, unit(9), False)):
        tracker = FaceTracker()
        tr = named_track(tracker, name, look(1), unit(1))
        tracker.update(faces_of((101, 100, 80, 80)), DT, look(4))
        got = tracker.add_result(tr.id, match(name), DT, embedding)
        assert (got == tr.id) == stays
        (now,) = tracker.tracks()
        assert now.display_name == (name or "Unknown") and not now.verifying


def test_without_embeddings_another_name_is_another_face():
    tracker = FaceTracker()
    tr = named_track(tracker, "A", look(1), None)
    tracker.update(faces_of((101, 100, 80, 80)), DT, look(5))
    assert tracker.add_match(tr.id, match("B"), DT) is True
    (now,) = tracker.tracks()
    assert now.id != tr.id and now.name == "B"


def test_a_look_in_doubt_keeps_its_name_shown_while_it_is_checked():
    tracker = FaceTracker(min_similarity=0.6, doubt_similarity=0.85)
    a = look(1)
    tr = named_track(tracker, "A", a, unit(1))
    drift = a[0] + 0.9 * look(6)[0]          # correlation about 0.74 with a
    drift = (drift / np.linalg.norm(drift))[None]
    assert 0.6 < float(drift[0] @ a[0]) < 0.85
    (doubted,) = tracker.update(faces_of((101, 100, 80, 80)), DT, drift)
    assert doubted.doubted and not doubted.verifying and doubted.display_name == "A"
    assert [t.id for t in tracker.tracks_needing_embedding(DT, recheck_s=10)] == [tr.id]
    assert tracker.add_result(tr.id, match("A"), DT, unit(1)) == tr.id
    assert not track_of(tracker, tr.id).doubted


def test_a_face_found_after_a_gap_is_verified_a_one_round_miss_is_not():
    tracker = FaceTracker(reverify_missed=2, reverify_gap_s=0.3)
    tr = named_track(tracker, "A", None, unit(1))
    tracker.update(Faces.empty(), DT)
    (back,) = tracker.update(faces_of((100, 100, 80, 80)), 2 * DT)      # missed once, 0.25 s: no gap
    assert not back.verifying and back.display_name == "A"
    for i in (3, 4):
        tracker.update(Faces.empty(), i * DT)
    (back,) = tracker.update(faces_of((100, 100, 80, 80)), 5 * DT)      # missed twice: verified first
    assert back.id == tr.id and back.verifying and back.display_name is None
    # on a loaded machine one missed round can be a long gap: that counts too
    assert tracker.add_result(tr.id, match("A"), 5 * DT, unit(1)) == tr.id
    tracker.update(Faces.empty(), 1.0)
    (back,) = tracker.update(faces_of((100, 100, 80, 80)), 1.4)
    assert back.verifying


def test_reject_ends_a_verification():
    tracker = FaceTracker()
    tr = named_track(tracker, "A", look(1), unit(1))
    tracker.update(faces_of((101, 100, 80, 80)), DT, look(7))
    assert tracker.reject(tr.id, "A")
    now = track_of(tracker, tr.id)
    assert not now.verifying and not now.doubted and now.votes == 0
