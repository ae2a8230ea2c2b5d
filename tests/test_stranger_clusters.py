"""Issue 21: one stranger, one entry in "Who's this?". A realtime clip of small faces (tests/stranger_visits.py:
15 lfw40 strangers come back 3 times each with a different photo, faces about 60-75 px, 10 enrolled people pass
by twice with photos not in their gallery of 20), played by `facecam watch --realtime` with SFace and the unknown
faces collected as users have them; the clusters of `facecam unknowns --json` scored against the truth. The
same clusters and merge suggestions through PostgreSQL; the re-grouping and the suggestions on their own; a
visit judged on all its crops before it is kept."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from servers import db_url, postgres  # noqa: F401 - fixtures
from stranger_visits import build, listing, run_cli, score, watch
from visits import photos_of

from facecam.unknowns.cluster import Clusters, cluster_labels, components, regroup_link, suggest_link, triangle_link


@pytest.fixture(scope="module")
def played(tmp_path_factory, model_dir):
    folder = tmp_path_factory.mktemp("stranger-clusters")
    clip, visits, known, strangers = build(folder, "lfw40")
    with pytest.MonkeyPatch.context() as patch:  # module scope: before the autouse settings isolation
        patch.setenv("FACECAM_CONFIG_DIR", str(folder / "config"))
        summary = watch(clip, known, model_dir)
    return known, visits, strangers, summary


def test_fifteen_strangers_back_three_times_with_small_faces_make_one_cluster_each(played, model_dir):
    known, visits, strangers, summary = played
    listed = listing(known, model_dir)["clusters"]
    figures = score(listed, visits, strangers)
    print("strangers' clusters on the realtime clip:", json.dumps(figures))
    assert summary["unknown_sightings"] == figures["sightings"]
    assert figures["off_visit"] == 0, figures
    assert figures["whole"] >= 0.85, figures            # every sighting of theirs in one cluster
    assert figures["purity"] >= 0.95, figures
    assert figures["enrolled_share"] <= 0.05, figures
    assert figures["clusters"] <= 15 + figures["bystanders"] + 3, figures   # about one entry per person
    for cluster in listed:                               # suggestions name clusters of the listing, not itself
        assert set(cluster["probably_same_as"]) <= {c["id"] for c in listed} - {cluster["id"]}


def test_the_database_store_makes_the_same_clusters_and_suggestions(played, db_url):  # noqa: F811
    from test_unknowns import copy_into_database

    local, shared = copy_into_database(played[0], db_url)
    try:
        assert [(c.id, [s.id for s in c.sightings], c.probably) for c in shared.clusters()] == \
            [(c.id, [s.id for s in c.sightings], c.probably) for c in local.clusters()]
    finally:
        shared.close()
        local.close()


def vectors_at(distances_from_first: list[float], dim: int = 128, seed: int = 0) -> np.ndarray:
    """Unit vectors: the first one, then one at each cosine distance from it (otherwise random directions)."""
    rng = np.random.default_rng(seed)
    first = rng.normal(size=dim)
    first /= np.linalg.norm(first)
    out = [first]
    for distance in distances_from_first:
        other = rng.normal(size=dim)
        other -= (other @ first) * first
        other /= np.linalg.norm(other)
        out.append((1 - distance) * first + np.sqrt(1 - (1 - distance) ** 2) * other)
    return np.asarray(out, np.float32)


def around_a_pair(to_centre: float, dim: int = 128) -> np.ndarray:
    """a and b 0.3 apart, and c at ``to_centre`` (cosine distance) from their centre, as far from each."""
    a, b, c = np.zeros((3, dim), np.float32)
    a[0] = 1.0
    b[0], b[1] = 0.7, np.sqrt(1 - 0.7 ** 2)
    centre = (a + b) / np.linalg.norm(a + b)
    c[:] = (1 - to_centre) * centre
    c[2] = np.sqrt(1 - (1 - to_centre) ** 2)
    return np.stack([a, b, c])


def test_a_piece_of_two_joins_by_its_centre_two_single_sightings_never():
    link = 0.5
    near = around_a_pair(0.5)        # c: 0.54 from a and from b (over the link), 0.50 from their centre
    assert np.all(1 - near[:2] @ near[2] > link)
    assert len(set(components(near, link).tolist())) == 2
    assert cluster_labels(near, link).tolist() == [0, 0, 0]
    assert len(set(cluster_labels(around_a_pair(0.54), link).tolist())) == 2      # far from the centre: apart
    # two single sightings over the link stay apart, however close to it
    assert cluster_labels(vectors_at([0.52]), link).tolist() == [0, 1]
    assert regroup_link(link) == 0.52 and suggest_link(link) == 0.6


def with_distances(distances: list[list[float]], dim: int = 128) -> np.ndarray:
    """Unit vectors whose pairwise cosine distances are ``distances`` (a symmetric matrix, zero diagonal)."""
    gram = 1.0 - np.asarray(distances, np.float64)
    rows = np.linalg.cholesky(gram)
    out = np.zeros((len(gram), dim), np.float32)
    out[:, : len(gram)] = rows
    return out


def test_three_single_sightings_that_agree_are_one_person_two_are_only_suggested():
    link = 0.5
    assert triangle_link(link) == 0.6
    three = with_distances([[0, 0.535, 0.581], [0.535, 0, 0.561], [0.581, 0.561, 0]])   # each pair over the link
    assert len(set(components(three, link).tolist())) == 3
    assert cluster_labels(three, link).tolist() == [0, 0, 0]
    for order in ([2, 0, 1], [1, 2, 0]):                                  # however they came in
        grown = Clusters(link)
        for i in order:
            grown.add(str(i), three[i])
        assert grown.members() == [[str(i) for i in order]]
    one_far = with_distances([[0, 0.535, 0.62], [0.535, 0, 0.561], [0.62, 0.561, 0]])   # one side over 0.60
    assert len(set(cluster_labels(one_far, link).tolist())) == 3
    assert cluster_labels(vectors_at([0.58]), link).tolist() == [0, 1]   # a pair alone: a suggestion, no more
    # a sighting already in a piece of two is no corner: the piece joins (or not) by its centre
    four = with_distances([[0, 0.3, 0.59, 0.59], [0.3, 0, 0.59, 0.59], [0.59, 0.59, 0, 0.58], [0.59, 0.59, 0.58, 0]])
    assert cluster_labels(four, link).tolist() == [0, 0, 1, 2]


def test_regrouping_does_not_depend_on_the_order_the_sightings_came_in(played):
    from facecam.unknowns.store import LocalUnknownStore

    store = LocalUnknownStore(played[0], "sface")
    sightings = store.sightings()
    store.close()
    keys, embeddings = [s.id for s in sightings], np.stack([s.embedding for s in sightings])
    expected = {frozenset(m) for m in Clusters.from_scratch(0.5, keys, embeddings).members()}
    for seed in range(3):
        grown = Clusters(0.5)
        for i in np.random.default_rng(seed).permutation(len(keys)):
            grown.add(keys[i], embeddings[i])
        assert {frozenset(m) for m in grown.members()} == expected


def test_probably_the_same_person_is_suggested_then_merged(tmp_path, model_dir):
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting
    from facecam.unknowns.store import LocalUnknownStore

    vectors = vectors_at([0.58, 0.9])      # two over the link but within the suggestion's 0.60; one far
    known = tmp_path / "known_faces"
    known.mkdir()
    store = LocalUnknownStore(known, "sface", 128)
    now = time.time() - 60
    for n, vector in enumerate(vectors):
        crop = UnknownCrop(np.full((224, 224, 3), 100 + 40 * n, np.uint8), vector, 0.9, float(n), n, (0, 0, 80, 80))
        store.add(UnknownSighting(f"0000000{n}", "cam", n, float(n), float(n), now + n, now + n, (crop,)))
    by_id = {c.id: c for c in store.clusters()}
    store.close()
    assert by_id["00000000"].probably == ("00000001",) and by_id["00000001"].probably == ("00000000",)
    assert by_id["00000002"].probably == ()
    common = ["--model", "sface", "--model-dir", model_dir, "--known-faces", known]
    code, out, err = run_cli("unknowns", *common)
    assert code == 0, err
    assert "probably the same person as 00000000 (facecam unknowns merge 00000001 00000000)" in out
    code, out, err = run_cli("unknowns", "merge", "00000001", "00000000", *common)
    assert code == 0, err
    listed = listing(known, model_dir)["clusters"]
    assert sorted(c["faces"] for c in listed) == [1, 2] and all(c["probably_same_as"] == [] for c in listed)


def test_a_visit_is_judged_on_all_its_crops_before_it_is_kept(sface_recognizer, tmp_path):
    """An enrolled person's visit whose best crops include one the decision names is not kept, even when the
    crops' mean is not named; a stranger's visit is."""
    from facecam.matcher import GalleryMatrix
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting
    from facecam.unknowns.live import UnknownsCollection
    from facecam.unknowns.store import LocalUnknownStore

    enrolled, stranger = "Jeb_Bush", "Harrison_Ford"
    embed = lambda photo: sface_recognizer.embed_photo(photo).embedding  # noqa: E731
    gallery = GalleryMatrix.from_pairs([enrolled] * 2, np.stack([embed(p) for p in photos_of(enrolled)[:2]]))
    theirs = embed(photos_of(enrolled)[2])
    others = [embed(p) for p in photos_of(stranger)[:4]]
    assert sface_recognizer.match(np.stack([theirs]), gallery)[0].name == enrolled

    def sighting(sid: str, embeddings) -> UnknownSighting:
        crops = tuple(UnknownCrop(np.zeros((224, 224, 3), np.uint8), e, 0.5, 0.0, 0, (0, 0, 80, 80)) for e in embeddings)
        return UnknownSighting(sid, "cam", 1, 0.0, 1.0, time.time() - 2, time.time() - 1, crops)

    mixed = sighting("aaaaaaaa", [theirs, *others])     # one crop of the enrolled person among a stranger's
    mean = mixed.embedding[None, :]
    assert sface_recognizer.match(mean, gallery)[0].name is None   # the mean alone would have been kept
    store = LocalUnknownStore(tmp_path / "known_faces", "sface", 128)
    collection = UnknownsCollection(store, "cam", sface_recognizer, lambda: gallery)
    collection._check_gallery()
    collection._store(mixed)
    collection._store(sighting("bbbbbbbb", others))
    collection.tasks.close()
    assert [s.id for s in store.sightings()] == ["bbbbbbbb"]
    store.close()


def test_an_arrival_near_a_clusters_centre_is_that_stranger(tmp_path):
    """The stranger's arrival uses clustering's rules: a face over the link from each of a cluster's two visits
    but within the re-grouping's link of their centre is that cluster's stranger, not a new one."""
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting
    from facecam.unknowns.store import LocalUnknownStore
    from facecam.unknowns.strangers import StrangerIndex

    a, b, c = around_a_pair(0.5)
    store = LocalUnknownStore(tmp_path / "known_faces", "sface", 128)
    now = time.time() - 60
    for n, vector in enumerate((a, b)):
        crop = UnknownCrop(np.full((224, 224, 3), 90, np.uint8), vector, 0.9, float(n), n, (0, 0, 80, 80))
        store.add(UnknownSighting(f"0000000{n}", "cam", n, float(n), float(n), now + n, now + n, (crop,)))
    index = StrangerIndex(store.link)
    index.refresh(store)
    store.close()
    seen = index.arrive(7, c)
    assert (seen.cluster, seen.visits) == ("00000000", 2)
    assert index.arrive(8, around_a_pair(0.6)[2]).visits == 0          # far from the centre: a new stranger


def test_a_new_strangers_id_is_claimed_when_the_source_clock_runs_behind():
    """A file processed slower than it was filmed (a loaded machine): the visit's times (the source's clock)
    end before the reservation's stamp (the index's clock); the visit still gets the id announced at its
    arrival. A reservation older than the visit (another pipeline's track of that number) is not taken."""
    from facecam.unknowns.strangers import StrangerIndex

    clock = [1000.0]
    index = StrangerIndex(0.5, clock=lambda: clock[0])
    announced = index.arrive(3, around_a_pair(0.5)[0]).cluster
    assert index.claim(3, started=996.0, ended=998.5) == announced    # the source's clock 1.5 s and more behind
    index.arrive(4, around_a_pair(0.5)[0])
    assert index.claim(4, started=1005.0, ended=1010.0) is None       # reserved before this visit began
