"""Getting better with use (issue 8, ``--learn``): clear sightings of a known person become learned crops.

Real photos (lfw40) on clips, real MTCNN + SFace. A person enrolled from ONE photo comes back eight times,
each time with another photo (tests/learn_clips.py); two other people are enrolled from one photo each.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from learn_clips import returns_gallery, returns_visits
from test_unknowns import common, run  # the command line in-process, and the model options
from visits import Visit, photos_of, visit_of, write_visits_clip

from facecam.learn import (MAX_LEARNED, MIN_QUALITY, LearnCandidate, LearnCollector, Learning, add_learned,
                           clear_match, learned_crops)

PERSON = "Tommy_Thompson"
STRANGER = "Ali_Naimi"


def visit_distances(events: Path, visits: list[Visit]) -> list[list[float]]:
    """For each visit, the distances shown on its face while it was named the person."""
    out: list[list[float]] = [[] for _ in visits]
    for line in events.read_text().splitlines():
        event = json.loads(line)
        for face in event["faces"]:
            visit = visit_of(visits, event["t"], face["box"])
            if visit is not None and face["name"] == visit.person and face["distance"] is not None:
                out[visits.index(visit)].append(face["distance"])
    return out


@pytest.fixture(scope="module")
def returns(tmp_path_factory, model_dir):
    """`watch` over the returns clip twice, on two copies of one known_faces: without and with --learn."""
    folder = tmp_path_factory.mktemp("learn")
    visits = returns_visits(PERSON, photos_of(PERSON)[1:9])
    clip = folder / "returns.avi"
    write_visits_clip(clip, visits)
    known = returns_gallery(folder / "known_faces", PERSON)
    runs = {}
    with pytest.MonkeyPatch.context() as patch:  # module scope: before the autouse settings isolation
        patch.setenv("FACECAM_CONFIG_DIR", str(folder / "config"))
        for mode in ("plain", "learn"):
            copy = Path(shutil.copytree(known, folder / mode / "known_faces"))
            events, summary = folder / mode / "events.jsonl", folder / mode / "summary.json"
            code, _, err = run("watch", *common(model_dir, copy), "--source", clip, "--no-unknowns", "--events", events,
                               "--summary", summary, *(["--learn"] if mode == "learn" else []))
            assert code == 0, err
            runs[mode] = (copy, visit_distances(events, visits), json.loads(summary.read_text()))
    return visits, runs


def test_learned_crop_embeds_like_the_live_face(sface_recognizer, tmp_path):
    """A learned crop goes through the gallery's one path (detect, align, embed) and lands within 0.05 of the
    live face it came from (a JPEG of the aligned crop with a margin; measured 0.009-0.04)."""
    import cv2

    from facecam.types import bgr_to_rgb
    from facecam.unknowns.collect import FaceCandidate, face_quality
    from visits import _background, _shown

    for person in (PERSON, "Jeb_Bush", "Richard_Gere", "Harrison_Ford"):
        frame = _background()
        frame[100:280, 200:380] = _shown(photos_of(person)[1])
        rgb = bgr_to_rgb(frame)
        faces = sface_recognizer.find_faces(rgb, 40)
        live = sface_recognizer.embed_faces(rgb, faces[:1])[0]
        candidate = LearnCandidate(person, 1, 0.2, FaceCandidate.of(rgb, faces[0], live, face_quality(rgb, faces[0]), 0, 0))
        path, _ = add_learned(tmp_path, person, candidate.jpeg())
        assert path.parent == tmp_path / person / ".learned" and cv2.imread(str(path)).shape == (224, 224, 3)
        again = sface_recognizer.embed_photo(path)
        assert again.faces == 1
        assert 1.0 - float(again.embedding @ live) < 0.05, person


def test_learning_fills_learned_and_later_visits_come_closer(returns):
    visits, runs = returns
    plain_known, plain, plain_summary = runs["plain"]
    learn_known, learned, learn_summary = runs["learn"]
    crops = learned_crops(learn_known, PERSON)
    assert 1 <= len(crops) <= MAX_LEARNED and learn_summary["learned"] == len(crops)
    assert not (plain_known / PERSON / ".learned").exists() and plain_summary["learned"] is None
    # the user's own photo untouched; owner-only files in an owner-only folder
    assert sorted(p.name for p in (learn_known / PERSON).iterdir() if p.is_file()) == [photos_of(PERSON)[0].name]
    assert stat.S_IMODE((learn_known / PERSON / ".learned").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in crops)
    # nobody else was learned from: the other people never came by
    assert not any((learn_known / name / ".learned").exists() for name in ("Jeb_Bush", "Richard_Gere"))
    # every visit was named in both runs; the first is the same (nothing learned yet) ...
    assert all(plain) and all(learned)
    assert np.mean(learned[0]) == pytest.approx(np.mean(plain[0]), abs=0.01)
    # ... the later visits (photos never seen before) are closer with what was learned
    later_plain = np.mean([np.mean(d) for d in plain[4:]])
    later_learn = np.mean([np.mean(d) for d in learned[4:]])
    assert later_learn < later_plain - 0.03, (later_plain, later_learn)


def test_index_and_list_show_learned_apart_and_clear_forgets_them(returns, model_dir, tmp_path):
    from facecam.gallery import Gallery
    from facecam.recognizer import build_recognizer

    _, runs = returns
    known = Path(shutil.copytree(runs["learn"][0], tmp_path / "known_faces"))
    count = len(learned_crops(known, PERSON))
    code, out, err = run("index", *common(model_dir, known))
    assert code == 0, err
    assert f"{PERSON}: 1 photo + {count} learned" in out
    code, out, _ = run("index", "--json", *common(model_dir, known))
    assert json.loads(out)["learned"] == {PERSON: count} and json.loads(out)["people"][PERSON] == 1 + count
    code, out, _ = run("learned", "--json", "--known-faces", known)
    assert code == 0 and list(json.loads(out)["people"]) == [PERSON]
    # a bad name never leaves the folder
    code, _, err = run("learned", "clear", "../known_faces", "--known-faces", known)
    assert code == 1 and "cannot use" in err
    code, out, err = run("learned", "clear", PERSON, "--known-faces", known)
    assert code == 0, err
    assert f"cleared {count} learned crop(s) of {PERSON}" in out
    assert learned_crops(known, PERSON) == [] and (known / PERSON / photos_of(PERSON)[0].name).exists()
    recognizer = build_recognizer("sface", model_dir=model_dir, allow_download=False)
    gallery = Gallery.for_recognizer(known, recognizer)
    gallery.refresh(recognizer.embed_photo)
    assert {name: len(paths) for name, paths in gallery.people().items()} == {PERSON: 1, "Jeb_Bush": 1,
                                                                               "Richard_Gere": 1}
    code, out, _ = run("learned", "clear", "--all", "--known-faces", known)
    assert code == 0 and "cleared 0" in out


def test_oldest_learned_crop_is_replaced_past_the_cap(tmp_path):
    times = iter(range(1_000_000, 1_000_100))
    paths = [add_learned(tmp_path, "Ada", b"\xff\xd8jpeg%d" % n, keep=3, clock=lambda: float(next(times)))[0]
             for n in range(5)]
    assert learned_crops(tmp_path, "Ada") == paths[2:]
    (tmp_path / "Ada" / "mine.jpg").write_bytes(b"own photo")
    from facecam.learn import clear_learned

    assert clear_learned(tmp_path) == {"Ada": 3}
    assert (tmp_path / "Ada" / "mine.jpg").read_bytes() == b"own photo"


def test_a_contested_or_unknown_track_never_teaches(sface_recognizer, tmp_path):
    """In one place the person shows, then a stranger takes their place (the same track: an id that jumped),
    then the person again: that track had clear good rounds of the person, yet teaches nothing. Elsewhere
    the person alone is learned from (the control). Remove the drift guard and the first track teaches."""
    from tests.clips import read_frames

    from facecam.gallery import Gallery
    from facecam.pipeline import LivePipeline

    person_photo = photos_of(PERSON)[2]
    visits = [Visit(PERSON, person_photo, True, 0, 0.2, 1.8), Visit(STRANGER, photos_of(STRANGER)[0], False, 0, 1.8, 3.6),
              Visit(PERSON, person_photo, True, 0, 3.6, 5.2), Visit(PERSON, photos_of(PERSON)[3], True, 2, 0.2, 2.4)]
    clip = tmp_path / "contested.avi"
    write_visits_clip(clip, visits)
    known = returns_gallery(tmp_path / "known_faces", PERSON)
    gallery = Gallery.for_recognizer(known, sface_recognizer, cache_dir=tmp_path / "cache")
    gallery.refresh(sface_recognizer.embed_photo)
    matrix = gallery.matrix()
    candidates: list[LearnCandidate] = []
    seen: dict[int, list] = {}   # track -> [(visit slot, match name, clear and good)]

    def record(result):
        from facecam.unknowns.collect import face_quality

        for track_id, face, match in zip(result.embedded_ids, result.embedded_faces, result.matches):
            visit = visit_of(visits, result.frame.t_source, face.box)
            good = clear_match(match) and face_quality(result.rgb_frame, face) >= MIN_QUALITY
            seen.setdefault(track_id, []).append((visit.slot if visit else None, match.name, good))

    # the tracker's look and gap checks off (issue 18): with them the stranger gets a track of their own; the
    # learner's guard must still hold where an id does jump (a look the checks cannot tell apart)
    from facecam.tracker import FaceTracker

    blind = FaceTracker(min_similarity=-1.0, doubt_similarity=-1.0, reverify_missed=10**6, reverify_gap_s=1e9)
    pipeline = LivePipeline(sface_recognizer, lambda: matrix, listeners=[record, LearnCollector(candidates.append)],
                            tracker=blind)
    for frame in read_frames(clip):
        pipeline.process(frame)
    pipeline.listeners[1].finish()
    contested = [t for t, rows in seen.items() if {r[0] for r in rows} == {0}]
    control = [t for t, rows in seen.items() if {r[0] for r in rows} == {2}]
    assert len(contested) == 1 and len(control) == 1, seen
    rows = seen[contested[0]]
    assert any(name == PERSON and good for _, name, good in rows), rows      # it would teach ...
    assert any(name != PERSON for _, name, _ in rows), rows                   # ... but it was contested
    assert [c.track for c in candidates] == control                           # only the control teaches
    assert candidates[0].name == PERSON and candidates[0].candidate.quality >= MIN_QUALITY


def test_near_duplicates_are_not_learned_twice(sface_recognizer, tmp_path):
    """The same face seen again (someone sitting still) adds one crop, not one per visit."""
    from facecam.matcher import GalleryMatrix
    from facecam.types import bgr_to_rgb
    from facecam.unknowns.collect import FaceCandidate, face_quality
    from visits import _background, _shown

    own = sface_recognizer.embed_photo(photos_of(PERSON)[0]).embedding
    matrix = GalleryMatrix.from_pairs([PERSON], own[None])
    learning = Learning(tmp_path, lambda: matrix)
    frame = _background()
    frame[100:280, 200:380] = _shown(photos_of(PERSON)[1])
    rgb = bgr_to_rgb(frame)
    faces = sface_recognizer.find_faces(rgb, 40)
    live = sface_recognizer.embed_faces(rgb, faces[:1])[0]
    for track in (1, 2, 3):
        learning._on_candidate(LearnCandidate(PERSON, track, 0.3, FaceCandidate.of(rgb, faces[0], live,
                                                                                face_quality(rgb, faces[0]), 0, 0)))
    learning.close()
    assert len(learned_crops(tmp_path, PERSON)) == 1 and learning.duplicates == 2
    # the user's own photo itself is a duplicate too
    learning = Learning(tmp_path / "other", lambda: GalleryMatrix.from_pairs([PERSON], live[None]))
    assert learning.near_duplicate(PERSON, live) and not learning.near_duplicate("Jeb_Bush", live)
    learning.close()


def test_learning_is_off_by_default_and_kept_on_by_the_setting(monkeypatch, tmp_path):
    from facecam import config
    from facecam.learn import learning_enabled

    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(tmp_path / "config"))   # the session's settings stay as they are
    assert not learning_enabled(False) and learning_enabled(True)
    config.save_settings({"learn": True})
    assert learning_enabled(False)


def test_watch_learn_with_db_is_off_with_one_note(tmp_path):
    from types import SimpleNamespace

    from facecam.watch import _learn

    said: list[str] = []
    out = SimpleNamespace(message=said.append)
    session = SimpleNamespace(db_url="postgresql://facecam@127.0.0.1:5/facecam")
    args = SimpleNamespace(learn=True, known_faces=tmp_path)
    assert _learn(args, session, None, [], None, out) is None
    assert said == ["facecam: note: --learn keeps crops in a known_faces folder; with --db nothing is learned"]
    assert _learn(SimpleNamespace(learn=False, known_faces=tmp_path), session, None, [], None, out) is None
    assert len(said) == 1


def test_learned_crops_never_leave_known_faces(tmp_path):
    from facecam.errors import EnrollError, GalleryError

    for bad in ("../elsewhere", "a/b", ".hidden", ""):
        with pytest.raises(EnrollError):
            add_learned(tmp_path / "known_faces", bad, b"jpeg")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "known_faces" / "Ada").mkdir(parents=True)
    (tmp_path / "known_faces" / "Ada" / ".learned").symlink_to(outside)
    with pytest.raises(GalleryError, match="symbolic link"):
        add_learned(tmp_path / "known_faces", "Ada", b"jpeg")
    assert list(outside.iterdir()) == []


def test_the_gallery_reads_learned_and_no_other_hidden_folder(tmp_path):
    from facecam.gallery import is_learned, scan_photos

    for folder in ("Ada/.learned", "Ada/.other", "Ada/trip/.learned", ".learned"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "learned-1.jpg").write_bytes(b"x")
    (tmp_path / "Ada" / "own.jpg").write_bytes(b"x")
    photos = sorted(scan_photos(tmp_path)[0])
    assert [(str(p.relative_to(tmp_path)), who) for p, who in photos] == [("Ada/.learned/learned-1.jpg", "Ada"),
                                                                           ("Ada/own.jpg", "Ada")]
    assert [is_learned(p) for p, _ in photos] == [True, False]
