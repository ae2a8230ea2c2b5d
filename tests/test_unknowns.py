"""Unknown faces (issue 8): collected by `watch`, clustered one entry per person, named, merged, forgotten.

Real photos (lfw40) on a clip, real MTCNN + SFace through the command line. The clip: 18 strangers
come back three times each with a different photo, 3 enrolled people come by twice with photos
that are not in their gallery, in shuffled order, up to six faces at once.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import stat
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from servers import db_url, postgres  # noqa: F401 - fixtures
from together import run_together
from visits import LFW40, listed_truth, make_gallery, photos_of, plan_visits, truth_of, write_visits_clip

from facecam.cli import main
from facecam.unknowns.cluster import Clusters, cluster_labels
from facecam.unknowns.collect import UnknownCollector, UnknownCrop, UnknownSighting, face_quality
from facecam.unknowns.store import LocalUnknownStore

ENROLLED = ["Harrison_Ford", "Jeb_Bush", "Rubens_Barrichello"]
PEOPLE = sorted(p.name for p in LFW40.iterdir() if p.is_dir())
STRANGERS = [p for p in PEOPLE if p not in ENROLLED][:18]


def run(*argv) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def common(model_dir, known_faces) -> list:
    return ["--model", "sface", "--model-dir", model_dir, "--known-faces", known_faces]


def listed(model_dir, known_faces) -> list[dict]:
    code, out, err = run("unknowns", "--json", *common(model_dir, known_faces))
    assert code == 0, err
    return json.loads(out)["clusters"]


@pytest.fixture(scope="module")
def collected(tmp_path_factory, model_dir):
    """`watch` over the visits clip (every frame, in order): the known_faces folder with its unknowns store."""
    folder = tmp_path_factory.mktemp("unknowns")
    visits = plan_visits({p: photos_of(p)[:3] for p in STRANGERS}, {p: photos_of(p)[3:5] for p in ENROLLED})
    clip = folder / "visits.avi"
    write_visits_clip(clip, visits)
    known = make_gallery(folder / "known_faces", {p: photos_of(p)[:3] for p in ENROLLED})
    summary = folder / "summary.json"
    with pytest.MonkeyPatch.context() as patch:  # module scope: before the autouse settings isolation
        patch.setenv("FACECAM_CONFIG_DIR", str(folder / "config"))
        code, _, err = run("watch", *common(model_dir, known), "--source", clip, "--summary", summary)
    assert code == 0, err
    return known, visits, clip, json.loads(summary.read_text())


def copy_of(known: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(known, tmp_path / "known_faces"))


def scores(clusters: list[dict], visits) -> dict:
    """The issue's figures for one listing: purity, completeness, leak, and how many visits were collected."""
    rows, who, pure = listed_truth(clusters, visits)
    seen = {p for p in who if p in STRANGERS}
    complete = [p for p in seen if len({c for (c, _), q in zip(rows, who) if q == p}) == 1]
    stranger_visits = {(q, s["t"] // 1) for (_, s), q in zip(rows, who) if q in STRANGERS}
    return {"sightings": len(rows), "clusters": len(clusters), "purity": pure / max(len(rows), 1),
            "complete": len(complete) / max(len(seen), 1), "strangers_seen": len(seen),
            "leak": sum(1 for p in who if p in ENROLLED) / max(len(rows), 1),
            "collected_visits": sum(1 for p in who if p in STRANGERS) / (3 * len(STRANGERS)),
            "bystanders": sum(1 for p in who if p and p.startswith("bystander")),
            "off_visit": sum(1 for p in who if p is None), "distinct_visits": len(stranger_visits)}


def test_returning_strangers_make_one_cluster_each(collected, model_dir):
    known, visits, clip, summary = collected
    clusters = listed(model_dir, known)
    figures = scores(clusters, visits)
    print("clustering on the clip:", json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                                 for k, v in figures.items()}))
    assert summary["unknown_sightings"] == figures["sightings"]
    assert figures["collected_visits"] >= 0.85, figures   # strangers taken for someone are not collected
    assert figures["strangers_seen"] >= 15, figures
    assert figures["purity"] >= 0.95, figures
    assert figures["complete"] >= 0.85, figures
    assert figures["leak"] <= 0.05, figures
    assert figures["off_visit"] == 0, figures
    # The listing's form: newest first, ISO-8601 times, crops that are files in the store.
    assert [c["last_seen"] for c in clusters] == sorted((c["last_seen"] for c in clusters), reverse=True)
    for cluster in clusters:
        assert cluster["faces"] == len(cluster["sightings"]) >= 1
        assert datetime.fromisoformat(cluster["first_seen"]) <= datetime.fromisoformat(cluster["last_seen"])
        for sighting in cluster["sightings"]:
            assert sighting["source"] == clip.name   # a file by its name (sources.display_name)
            assert isinstance(sighting["t"], float) and isinstance(sighting["frame"], int)
            assert sighting["frame"] == pytest.approx(sighting["t"] * 10, abs=0.6)
            assert len(sighting["box"]) == 4 and min(sighting["box"][2:]) >= 30  # live min face 40 (box edges)
            crop = Path(sighting["crop"])
            assert crop.is_file() and crop.parent.parent == known / ".facecam" / "unknowns" / "sface"
    # Human-readable listing names the same clusters.
    code, out, _ = run("unknowns", *common(model_dir, known))
    assert code == 0 and all(c["id"] in out for c in clusters)


def test_store_is_private_and_never_among_the_photos(collected):
    known, *_ = collected
    folder = known / ".facecam" / "unknowns" / "sface"
    for path in [folder, folder / "crops"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    files = [folder / "unknowns.sqlite", *(folder / "crops").iterdir()]
    assert len(files) > 40
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert sorted(p.name for p in known.iterdir() if not p.name.startswith(".")) == sorted(ENROLLED)


def test_growing_clusters_one_by_one_in_any_order_equals_clustering_from_scratch(collected):
    known, *_ = collected
    store = LocalUnknownStore(known, "sface")
    sightings = store.sightings()
    embeddings = np.stack([s.embedding for s in sightings])
    ids = [s.id for s in sightings]

    def partition(groups) -> set:
        return {frozenset(g) for g in groups}

    def from_labels(labels, keys) -> set:
        out: dict = {}
        for key, label in zip(keys, labels):
            out.setdefault(label, set()).add(key)
        return partition(out.values())

    reference = from_labels(cluster_labels(embeddings, store.link), ids)
    assert partition([s.id for s in c.sightings] for c in store.clusters()) == reference
    assert 15 <= len(reference) < len(ids)
    rng = np.random.default_rng(0)
    # two user merges, given to some of the members only (as the store keeps them)
    groups = [None] * len(ids)
    a, b, c = rng.choice(len(ids), 3, replace=False)
    groups[a] = groups[b] = "g1"
    groups[c] = "g2"
    reference_merged = from_labels(cluster_labels(embeddings, store.link, groups), ids)
    assert len(reference_merged) in (len(reference) - 1, len(reference))
    for _ in range(5):
        order = rng.permutation(len(ids))
        clusters = Clusters(store.link)
        merged = Clusters(store.link)
        for i in order:
            clusters.add(ids[i], embeddings[i])
            merged.add(ids[i], embeddings[i], groups[i])
        assert partition(clusters.members()) == reference
        assert partition(merged.members()) == reference_merged
        shuffled = from_labels(cluster_labels(embeddings[order], store.link), [ids[i] for i in order])
        assert shuffled == reference
    store.close()


def test_name_enrolls_a_cluster_and_identify_then_names_their_other_photos(collected, model_dir, tmp_path):
    known, visits, *_ = collected
    known = copy_of(known, tmp_path)
    clusters = listed(model_dir, known)
    who = {c["id"]: Counter(truth_of(visits, [(s["t"], s["box"]) for s in c["sightings"]])) for c in clusters}
    person = "John_Allen_Muhammad"  # 11 photos: 3 on the clip, 8 never seen
    cluster = max((c for c in clusters if who[c["id"]].most_common(1)[0][0] == person), key=lambda c: c["faces"])
    code, out, err = run("unknowns", "name", cluster["id"][:6], "John Allen Muhammad", *common(model_dir, known),
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["cluster"] == cluster["id"] and 1 <= len(result["files"]) <= 5
    assert all(Path(f).parent == known / "John Allen Muhammad" for f in result["files"])
    assert cluster["id"] not in {c["id"] for c in listed(model_dir, known)}  # named: no longer unknown
    others = photos_of(person)[3:]
    code, out, err = run("identify", *common(model_dir, known), "--json", *others)
    assert code == 0, err
    names = [json.loads(line)["faces"][0]["name"] if json.loads(line)["faces"] else None for line in out.splitlines()]
    assert len(names) == len(others) == 8
    assert sum(n == "John Allen Muhammad" for n in names) / len(names) >= 0.9, names
    # bad names are refused before anything is written
    other = next(c for c in listed(model_dir, known))
    code, _, err = run("unknowns", "name", other["id"], "../escape", *common(model_dir, known))
    assert code == 1 and "cannot use" in err and not (known.parent / "escape").exists()
    code, _, err = run("unknowns", "name", "ffffffffff", "Somebody", *common(model_dir, known))
    assert code == 1 and "no unknown cluster" in err


def test_merge_and_forget_survive_a_restart(collected, model_dir, tmp_path):
    known = copy_of(collected[0], tmp_path)
    before = listed(model_dir, known)
    first, second = before[0], before[-1]
    code, out, err = run("unknowns", "merge", first["id"], second["id"], *common(model_dir, known), "--json")
    assert code == 0, err
    after = listed(model_dir, known)  # a new command: the store opened afresh
    assert len(after) == len(before) - 1
    merged = next(c for c in after if c["faces"] == first["faces"] + second["faces"]
                  and {s["crop"] for s in c["sightings"]} == {s["crop"] for s in first["sightings"] + second["sightings"]})
    # forgetting: the cluster, its rows and its crop files
    crops = [Path(s["crop"]) for s in merged["sightings"]]
    code, out, err = run("unknowns", "forget", merged["id"], *common(model_dir, known))
    assert code == 0 and "forgot" in out, err
    assert merged["id"] not in {c["id"] for c in listed(model_dir, known)}
    assert not any(p.exists() for p in crops)
    assert len(listed(model_dir, known)) == len(before) - 2
    code, _, err = run("unknowns", "forget", *common(model_dir, known))
    assert code == 2 and "--all" in err
    code, out, err = run("unknowns", "forget", "--all", *common(model_dir, known))
    assert code == 0, err
    assert listed(model_dir, known) == []
    assert list((known / ".facecam" / "unknowns" / "sface" / "crops").iterdir()) == []


def test_damaged_store_is_rebuilt_with_a_warning(collected, model_dir, tmp_path):
    known = copy_of(collected[0], tmp_path)
    database = known / ".facecam" / "unknowns" / "sface" / "unknowns.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"not a database" * 1000)
    code, out, err = run("unknowns", "--json", *common(model_dir, known))
    assert code == 0 and json.loads(out) == {"clusters": []}
    assert "facecam: warning:" in err and "damaged" in err
    code, out, err = run("unknowns", "--json", *common(model_dir, known))  # rebuilt: no warning the next time
    assert code == 0 and err == ""
    # a damaged row (an embedding of the wrong length) is dropped with a warning, the others kept
    known = copy_of(collected[0], tmp_path / "second")
    database = known / ".facecam" / "unknowns" / "sface" / "unknowns.sqlite"
    count = len(LocalUnknownStore(known, "sface").sightings())
    with sqlite3.connect(database) as db:
        db.execute("UPDATE sightings SET embedding = x'00' WHERE rowid = 1")
    store = LocalUnknownStore(known, "sface")
    assert len(store.sightings()) == count - 1 and "damaged" in store.warnings[0]


def test_caps_drop_the_oldest_first(collected, tmp_path):
    known = copy_of(collected[0], tmp_path)
    source = LocalUnknownStore(known, "sface")
    sightings = source.sightings()
    clock = [sightings[-1].ended]
    store = LocalUnknownStore(tmp_path / "kf", "sface", max_sightings=5, max_age_days=1, clock=lambda: clock[0])
    crop = np.zeros((224, 224, 3), np.uint8)
    for s in sightings[:8]:
        store.add(UnknownSighting(s.id, s.source, s.track, s.first_t, s.last_t, s.started, s.ended,
                                  (UnknownCrop(crop, s.embedding, 0.5, s.first_t, 0, (0, 0, 10, 10)),)))
    kept = [s.id for s in store.sightings()]
    assert kept == [s.id for s in sightings[3:8]]
    assert len(list(store.crops_folder.iterdir())) == 5
    clock[0] += 2 * 86400  # two days later: older than a day
    store.add(UnknownSighting("newest00", "cam", 1, 0.0, 1.0, clock[0], clock[0],
                              (UnknownCrop(crop, sightings[0].embedding, 0.5, 0.0, 0, (0, 0, 10, 10)),)))
    assert [s.id for s in store.sightings()] == ["newest00"]


def test_clusters_that_match_a_newly_enrolled_person_are_retired(collected, sface_recognizer, tmp_path):
    from facecam.matcher import GalleryMatrix, person_distances

    known, visits, *_ = collected
    store = LocalUnknownStore(copy_of(known, tmp_path), "sface")
    clusters = store.clusters()
    person = "Jacques_Rogge"
    gallery = GalleryMatrix.from_pairs([person] * 3, np.stack(
        [sface_recognizer.embed_photo(p).embedding for p in photos_of(person)[5:8]]))
    theirs = [c for c in clusters if Counter(truth_of(visits, [(s.crops[0].t, s.crops[0].box) for s in c.sightings]))
              .most_common(1)[0][0] == person]
    assert len(theirs) == 1
    distances = person_distances(np.stack([s.embedding for s in theirs[0].sightings]), gallery, "mean")[:, 0]
    # close to the enrolled person but above the threshold: still unknown
    assert store.retire_matching(gallery, float(distances.min()) - 0.01, "mean") == []
    assert len(store.clusters()) == len(clusters)
    retired = store.retire_matching(gallery, sface_recognizer.threshold, "mean")
    assert retired == [(theirs[0].id, person)]
    assert {c.id for c in store.clusters()} == {c.id for c in clusters} - {theirs[0].id}


def test_watch_realtime_collects_and_keeps_nothing_when_off(model_dir, tmp_path, monkeypatch):
    strangers = STRANGERS[:4]
    visits = plan_visits({p: photos_of(p)[3:4] for p in strangers}, {"Jeb_Bush": photos_of("Jeb_Bush")[5:6]},
                         duration=1.5, seed=1)
    clip = tmp_path / "short.avi"
    write_visits_clip(clip, visits)
    known = make_gallery(tmp_path / "known_faces", {"Jeb_Bush": photos_of("Jeb_Bush")[:3]})
    summary = tmp_path / "summary.json"
    code, _, err = run("watch", *common(model_dir, known), "--source", clip, "--realtime", "--summary", summary)
    assert code == 0, err
    clusters = listed(model_dir, known)
    who = truth_of(visits, [(s["t"], s["box"]) for c in clusters for s in c["sightings"]])
    assert json.loads(summary.read_text())["unknown_sightings"] == len(who)
    assert len(set(who) & set(strangers)) >= 3 and "Jeb_Bush" not in who, who
    # off for this run: nothing is created
    fresh = make_gallery(tmp_path / "off", {"Jeb_Bush": photos_of("Jeb_Bush")[:3]})
    code, _, err = run("watch", *common(model_dir, fresh), "--source", clip, "--max-frames", "25", "--no-unknowns")
    assert code == 0, err
    assert not (fresh / ".facecam" / "unknowns").exists()
    assert listed(model_dir, fresh) == [] and not (fresh / ".facecam" / "unknowns").exists()
    # off for good: the setting "unknowns": false (what watch and the window ask)
    from facecam.config import save_settings
    from facecam.unknowns.live import collection_enabled

    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(tmp_path / "config"))
    assert collection_enabled() and not collection_enabled(no_unknowns=True)
    save_settings({"unknowns": False})
    assert not collection_enabled()


def test_collector_keeps_strangers_best_crops_and_never_someone_once_named(sface_recognizer):
    from facecam.images import read_image
    from facecam.types import bgr_to_rgb
    from facecam.matcher import GalleryMatrix
    from facecam.pipeline import LivePipeline
    from facecam.types import Frame

    from tests.conftest import PEOPLE

    obama = sface_recognizer.embed_photo(PEOPLE / "obama.jpg").embedding
    biden = sface_recognizer.embed_photo(PEOPLE / "biden2.jpg").embedding
    galleries = [GalleryMatrix.from_pairs(["Barack Obama", "Joe Biden"], np.stack([obama, biden])),
                 GalleryMatrix.from_pairs(["Barack Obama"], obama[None])]
    current = [galleries[0]]
    builds = []
    collector = UnknownCollector("two_people.jpg", builds.append, clock=lambda: 1000.0)
    pipeline = LivePipeline(sface_recognizer, lambda: current[0], listeners=[collector])
    bgr_frame = read_image(PEOPLE / "two_people.jpg")
    # Biden named in the first round, then (gallery changed) Unknown on every re-check: never collected.
    for seq, t in enumerate([0.0, 1.1, 2.2, 3.3, 4.4], start=1):
        pipeline.process(Frame(seq, t, bgr_frame))
        current[0] = galleries[1]
    pipeline.process(Frame(6, 7.0, bgr_frame[:50]))  # nobody: the tracks end
    pipeline.process(Frame(7, 9.5, bgr_frame[:50]))
    assert builds == []
    # A stranger from the start (Biden not enrolled) is collected when their track ends, with crops.
    pipeline.reset()
    for seq, t in enumerate([10.0, 11.1, 12.2], start=8):
        pipeline.process(Frame(seq, t, bgr_frame))
    collector.finish()
    assert len(builds) == 1
    sighting = builds[0]()
    # embedded at 10.0 and re-checked once (one re-check per round, two faces): two crops
    assert len(sighting.crops) == 2 and {c.t for c in sighting.crops} == {10.0, 11.1}
    assert sighting.crops[0].quality >= sighting.crops[-1].quality > 0.3
    assert sighting.crops[0].rgb_crop.shape == (224, 224, 3)
    assert 0.0 <= 1.0 - float(sighting.embedding @ biden) <= 0.4  # it is Biden's face
    # the crop is aligned from the frame: the same as aligning the whole frame
    from facecam.align import align_face
    from facecam.unknowns.collect import CROP_SPEC

    rgb = bgr_to_rgb(bgr_frame)
    faces = sface_recognizer.find_faces(rgb)
    biden_face = min(faces, key=lambda f: abs(f.box[0] - sighting.crops[0].box[0]))
    whole = align_face(rgb, biden_face.landmarks, CROP_SPEC)
    assert np.abs(whole.astype(int) - sighting.crops[0].rgb_crop.astype(int)).max() <= 1
    # quality: a blurred face scores lower than the sharp one, a small one lower than a large one
    import cv2

    blurred = cv2.GaussianBlur(rgb, (9, 9), 3)
    assert face_quality(blurred, faces[0]) < 0.7 * face_quality(rgb, faces[0])
    small = cv2.resize(rgb, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small_faces = sface_recognizer.find_faces(small, 20)
    assert face_quality(small, small_faces[0]) < 0.7 * face_quality(rgb, faces[0])


def test_clusters_from_scratch_is_the_state_of_adding_one_by_one(collected):
    store = LocalUnknownStore(collected[0], "sface")
    sightings = store.sightings()
    keys, embeddings = [s.id for s in sightings], np.stack([s.embedding for s in sightings])
    groups = [None] * len(keys)
    groups[0] = groups[-1] = "g"
    grown = Clusters(store.link)
    for key, embedding, group in zip(keys[:-5], embeddings, groups):
        grown.add(key, embedding, group)
    built = Clusters.from_scratch(store.link, keys[:-5], embeddings[:-5], groups[:-5])
    for key, embedding, group in zip(keys[-5:], embeddings[-5:], groups[-5:]):  # and both keep growing alike
        grown.add(key, embedding, group)
        built.add(key, embedding, group)
    assert grown.members() == built.members()
    assert np.array_equal(grown.labels(), cluster_labels(embeddings, store.link, groups))
    assert len(grown.members()) < len(keys)
    store.close()


def test_clusters_without_some_members_is_the_grouping_of_the_rest_from_scratch(collected):
    """Removing sightings (the caps, forget) re-groups only their clusters: the same state as from scratch,
    also when the removed one was the only link between two parts of its cluster."""
    store = LocalUnknownStore(collected[0], "sface")
    sightings = store.sightings()
    keys, embeddings = [s.id for s in sightings], np.stack([s.embedding for s in sightings])
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    groups = [None] * len(keys)
    groups[1] = groups[-2] = "g"
    labels = cluster_labels(embeddings, store.link, groups)
    apart = next((i, j) for i in range(len(keys)) for j in range(i)
                 if labels[i] != labels[j] and 1.0 < 1.0 - unit[i] @ unit[j] < 1.4)   # two people, far apart
    bridge = unit[apart[0]] + unit[apart[1]]              # close to both: links their clusters while it is there
    keys, groups = [*keys, "bridge"], [*groups, None]
    embeddings = np.vstack([embeddings, bridge / np.linalg.norm(bridge)])
    whole = Clusters.from_scratch(store.link, keys, embeddings, groups)
    assert len(whole.members()) < len(Clusters.from_scratch(store.link, keys[:-1], embeddings[:-1], groups[:-1]).members())
    rng = np.random.default_rng(3)
    for gone in [{"bridge"}, {keys[1]}, {keys[0], "bridge"}, *({keys[i] for i in rng.choice(len(keys), 8, replace=False)}
                                                               for _ in range(4)), set(keys)]:
        kept = [i for i, key in enumerate(keys) if key not in gone]
        expected = Clusters.from_scratch(store.link, [keys[i] for i in kept], embeddings[kept], [groups[i] for i in kept])
        smaller = whole.without(gone)
        assert smaller.members() == expected.members()
        assert np.array_equal(smaller.labels(), expected.labels())
        if kept:    # and both keep growing alike
            assert smaller.add("new", embeddings[kept[0]], "g") == expected.add("new", embeddings[kept[0]], "g")
            assert smaller.members() == expected.members()
    assert whole.without(set()) is whole and len(whole.without(set(keys))) == 0
    store.close()


def test_collection_retires_clusters_when_the_gallery_changes(collected, sface_recognizer, tmp_path):
    from facecam.matcher import GalleryMatrix
    from facecam.pipeline import RoundResult
    from facecam.types import Frame
    from facecam.types import Faces
    from facecam.unknowns.live import UnknownsCollection

    known, visits, *_ = collected
    store = LocalUnknownStore(copy_of(known, tmp_path), "sface")
    before = {c.id for c in store.clusters()}
    person = "Heizo_Takenaka"
    theirs = {c.id for c in store.clusters() if truth_of(visits, [(s.crops[0].t, s.crops[0].box)
                                                                  for s in c.sightings])[0] == person}
    assert len(theirs) == 1
    galleries = [GalleryMatrix.empty(128), GalleryMatrix.from_pairs([person] * 2, np.stack(
        [sface_recognizer.embed_photo(p).embedding for p in photos_of(person)[3:5]]))]
    current = [galleries[0]]
    collection = UnknownsCollection(store, "cam", sface_recognizer, lambda: current[0])
    empty = np.zeros((48, 64, 3), np.uint8)
    collection(RoundResult(Frame(1, 0.0, empty), empty, Faces.empty(), ()))
    current[0] = galleries[1]  # someone was enrolled: the next round retires what now matches them
    collection(RoundResult(Frame(2, 0.1, empty), empty, Faces.empty(), ()))
    collection.tasks.close()
    assert collection.retired == [(next(iter(theirs)), person)]
    assert {c.id for c in store.clusters()} == before - theirs
    store.close()


def test_ignore_keeps_that_face_out_until_forget_all_and_pinned_clusters_are_never_retired(collected, model_dir,
                                                                                             tmp_path):
    import os
    import time

    import cv2

    from facecam.matcher import GalleryMatrix

    known = copy_of(collected[0], tmp_path)
    store = LocalUnknownStore(known, "sface")
    before = store.clusters()
    target, other = before[0], before[1]

    def again(sighting, pinned=False):
        """The same face seen again: a new sighting with the stored crop and embedding."""
        rgb = cv2.cvtColor(cv2.imread(str(sighting.crops[0].path)), cv2.COLOR_BGR2RGB)
        crop = UnknownCrop(rgb, sighting.embedding, 0.5, 1.0, 10, (0.0, 0.0, 80.0, 80.0))
        now = time.time()
        return UnknownSighting(f"again{len(store.sightings())}", "camera", 1, 1.0, 2.0, now, now + 1.0, (crop,))

    copies = [again(s) for s in target.sightings]
    code, out, err = run("unknowns", "ignore", target.id, *common(model_dir, known), "--json")
    assert code == 0 and json.loads(out) == {"ignored": len(target.sightings)}, err
    store = LocalUnknownStore(known, "sface")    # reopened: the ignore list lasts
    assert target.id not in {c.id for c in store.clusters()} and len(store.clusters()) == len(before) - 1
    assert len(store.ignored()) == len(target.sightings)
    assert not any(c.path.exists() for s in target.sightings for c in s.crops)
    assert [store.add(c) for c in copies] == [""] * len(copies)       # the same face: not kept
    assert len(store.clusters()) == len(before) - 1
    assert store.add(again(other.sightings[0])) == other.id           # another face still is

    # a pinned sighting (a user's "Not <name>") is never retired for matching the name
    pinned = again(other.sightings[0])
    gallery = GalleryMatrix.from_pairs(["Someone"], other.sightings[0].embedding[None, :])
    assert store.add(pinned, pinned=True) == other.id
    assert store.retire_matching(gallery, 0.3) == []
    assert other.id in {c.id for c in store.clusters()}
    spare = again(other.sightings[0])
    store.forget([other.id])
    assert store.add(spare) == store.clusters()[0].id == spare.id                 # not pinned: retired
    assert store.retire_matching(gallery, 0.3) == [(spare.id, "Someone")]

    # forget --all empties the ignore list too: the face is kept again
    code, out, err = run("unknowns", "forget", "--all", *common(model_dir, known))
    assert code == 0, err
    store = LocalUnknownStore(known, "sface")
    assert len(store.ignored()) == 0 and store.clusters() == []
    assert store.add(copies[0]) == copies[0].id

    # a crop no row names is only removed once it is old (another writer may be about to name it)
    orphan = store.crops_folder / "zzzz0000-0.jpg"
    orphan.write_bytes(b"x")
    LocalUnknownStore(known, "sface").close()
    assert orphan.exists()
    os.utime(orphan, (1e9, 1e9))
    LocalUnknownStore(known, "sface").close()
    assert not orphan.exists()


# ---------------------------------------------------------------- the shared PostgreSQL store (issue 10)

def copy_into_database(known: Path, url: str):
    """The collected local store, and a database store given the same sightings (real crops re-read from
    their files, their own embeddings), in the order they came: ``(local, database)``."""
    from facecam.db.postgres import PostgresStore
    from facecam.db.unknowns import DbUnknownStore
    from facecam.images import read_image
    from facecam.types import bgr_to_rgb

    local = LocalUnknownStore(known, "sface")
    with sqlite3.connect(local.path) as db:
        vectors = {(sid, rank): np.frombuffer(blob, np.float32)
                   for sid, rank, blob in db.execute("SELECT sighting, rank, embedding FROM crops")}
    shared = DbUnknownStore(PostgresStore(url), "sface")
    for s in local.sightings():
        crops = tuple(UnknownCrop(bgr_to_rgb(read_image(c.path)), vectors[(s.id, c.rank)], c.quality, c.t, c.frame,
                                  c.box) for c in s.crops)
        shared.add(UnknownSighting(s.id, s.source, s.track, s.first_t, s.last_t, s.started, s.ended, crops,
                                   s.merge_group))
    return local, shared


def test_the_database_store_groups_as_the_local_store_and_holds_the_clustering_figures(collected, model_dir,
                                                                                       db_url):  # noqa: F811
    known, visits, *_ = collected
    local, shared = copy_into_database(known, db_url)
    # the same clusters (same code): the same ids, members and order
    assert [(c.id, [s.id for s in c.sightings]) for c in shared.clusters()] == \
        [(c.id, [s.id for s in c.sightings]) for c in local.clusters()]
    shared.close()
    # the listing through the command line with --db: the local one's, crops named in the database
    code, out, err = run("unknowns", "--json", *common(model_dir, known.parent / "elsewhere"), "--db", db_url)
    assert code == 0, err
    clusters = json.loads(out)["clusters"]
    for cluster in clusters:
        for sighting in cluster["sightings"]:
            assert sighting.pop("crop") == f"db:{sighting['id']}-0.jpg"
    mine = listed(model_dir, known)
    for cluster in mine:
        for sighting in cluster["sightings"]:
            sighting.pop("crop")
    assert clusters == mine
    figures = scores(clusters, visits)
    print("clustering through PostgreSQL:", json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                                         for k, v in figures.items()}))
    assert figures["purity"] >= 0.95 and figures["complete"] >= 0.85 and figures["leak"] <= 0.05, figures
    assert not (known.parent / "elsewhere" / ".facecam" / "unknowns").exists()   # nothing kept locally


def test_name_with_db_enrolls_into_the_database_and_identify_from_an_empty_folder_names_them(
        collected, model_dir, db_url, tmp_path):  # noqa: F811
    from facecam.db.postgres import PostgresStore
    from facecam.db.unknowns import DbUnknownStore

    known, visits, *_ = collected
    copy_into_database(known, db_url)[1].close()
    empty = tmp_path / "empty"
    clusters = json.loads(run("unknowns", "--json", *common(model_dir, empty), "--db", db_url)[1])["clusters"]
    who = {c["id"]: Counter(truth_of(visits, [(s["t"], s["box"]) for s in c["sightings"]])) for c in clusters}
    person = "John_Allen_Muhammad"  # 11 photos: 3 on the clip, 8 never seen
    cluster = max((c for c in clusters if who[c["id"]].most_common(1)[0][0] == person), key=lambda c: c["faces"])
    code, out, err = run("unknowns", "name", cluster["id"][:6], "John Allen Muhammad", *common(model_dir, empty),
                         "--db", db_url, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["cluster"] == cluster["id"] and 1 <= len(result["files"]) <= 5
    assert all(f.startswith("db:") for f in result["files"])
    assert not (empty / "John Allen Muhammad").exists()          # into the database, not a folder
    with PostgresStore(db_url) as database:
        assert sum(name == "John Allen Muhammad" for name, _ in database.photo_keys()) == len(result["files"])
        other = DbUnknownStore(PostgresStore(db_url), "sface")   # another instance: the cluster is gone
        assert cluster["id"] not in {c.id for c in other.clusters()}
        other.close()
    others = photos_of(person)[3:]
    code, out, err = run("identify", *common(model_dir, tmp_path / "empty2"), "--db", db_url, "--json", *others)
    assert code == 0, err
    names = [json.loads(line)["faces"][0]["name"] if json.loads(line)["faces"] else None for line in out.splitlines()]
    assert len(names) == len(others) == 8
    assert sum(n == "John Allen Muhammad" for n in names) / len(names) >= 0.9, names
    assert not (tmp_path / "empty2" / "John Allen Muhammad").exists()


def test_without_model_unknowns_lists_the_store_of_the_model_used_last(collected, model_dir, tmp_path):
    known, *_ = collected
    code, out, err = run("unknowns", "--json", "--model-dir", model_dir, "--known-faces", known)  # no --model
    assert code == 0, err
    assert json.loads(out)["clusters"] == listed(model_dir, known) != []     # the SFace session's, not vgg-face's
    code, out, err = run("unknowns", "--model-dir", model_dir, "--known-faces", known)
    assert code == 0 and out.startswith(f"{len(listed(model_dir, known))} unknown people") and err == ""
    # a vgg-face store written after it: that one is listed, and the SFace one is said to exist
    from facecam.unknowns.store import LocalUnknownStore

    other = copy_of(known, tmp_path)
    LocalUnknownStore(other, "vgg-face", 4096).close()
    code, out, err = run("unknowns", "--model-dir", model_dir, "--known-faces", other)
    assert code == 0 and out == f"no unknown faces kept for vgg-face in {other}\n"
    assert err == ("facecam: note: these are the unknown faces of vgg-face (the model used last); "
                   "add --model sface for those of sface\n")


def test_stores_opened_at_the_same_moment_share_one_store_and_lose_nothing(tmp_path):
    """A window and its retention sweep (or two commands) opening a new store together: the second opener's
    meta rows used to collide with the first's and the collision was taken for damage (the store wiped)."""
    for round_ in range(30):
        known = tmp_path / f"k{round_}"
        known.mkdir()
        stores, errors = run_together(lambda: LocalUnknownStore(known, "sface"))
        assert errors == [] and len(stores) == 4
        assert [s.warnings for s in stores] == [[]] * 4, round_
        assert not list(known.glob(".facecam/unknowns/sface/*.damaged*"))
