"""Search at scale: incremental person means and the approximate index, on real SFace embeddings of lfw10."""

from __future__ import annotations

import logging
import shutil
import stat

import numpy as np
import pytest

from conftest import LFW10, SFACE_DEFAULT, lfw_people, lfw_photos
from visits import make_gallery

from facecam import search as search_module
from facecam.gallery import Gallery
from facecam.matcher import GalleryMatrix, MeansIndex, match_embeddings
from facecam.search import GallerySearch, exact_is_fast

TRIO = ("Tony_Blair", "Hugo_Chavez", "Colin_Powell")

PHOTOS_PER_PERSON = 6


@pytest.fixture(scope="module")
def lfw_embeddings(sface_recognizer):
    """``[(person, photo name, embedding)]``: 6 photos of each lfw10 person through facecam's photo path."""
    rows = []
    for person in lfw_people():
        for path in lfw_photos(person)[:PHOTOS_PER_PERSON]:
            result = sface_recognizer.embed_photo(path)
            assert result.embedding is not None, path
            rows.append((person, path.name, np.asarray(result.embedding, np.float32)))
    return rows


def photo_rows(rows):
    """Gallery-style ``(path, person, sha)`` per row and a sha -> embedding lookup."""
    photos = [(f"/known_faces/{person}/{name}", person, f"sha-{name}") for person, name, _ in rows]
    return photos, {f"sha-{name}": vector for _, name, vector in rows}


def attach(search: GallerySearch, rows) -> GalleryMatrix:
    """What Gallery.rows() does: the plain matrix, then the search's means, keys and index."""
    photos, embeddings = photo_rows(rows)
    plain = GalleryMatrix.from_pairs([p for _, p, _ in photos], np.stack([embeddings[s] for _, _, s in photos]))
    index = {name: i for i, name in enumerate(plain.names)}
    order = np.argsort([index[p] for _, p, _ in photos], kind="stable")
    return search.attach(plain, [photos[i] for i in order], embeddings.__getitem__)


def scratch_means(matrix: GalleryMatrix) -> np.ndarray:
    return GalleryMatrix(matrix.embeddings, matrix.labels, matrix.names).person_means()


def test_means_index_equals_scratch_after_adds_removes_replacements(lfw_embeddings):
    rng = np.random.default_rng(7)
    index = MeansIndex(128)
    rows = list(lfw_embeddings)
    current = [(person, name, i) for i, (person, name, _) in enumerate(rows[:20])]  # i: which embedding
    for step in range(12):
        # remove a few photos, add a few others, and replace one photo's content under the same path
        for i in sorted(rng.choice(len(current), 3, replace=False), reverse=True):
            current.pop(i)
        names = {name for _, name, _ in current}
        spare = [(p, n, i) for i, (p, n, _) in enumerate(rows) if n not in names]
        current += [spare[i] for i in rng.choice(len(spare), 4, replace=False)]
        person, name, _ = current[0]
        current[0] = (person, name, (step * 7) % len(rows))  # new content: the key (path, sha) changes too
        keyed = [((f"/k/{p}/{n}", f"sha-{i}"), p, rows[i][2]) for p, n, i in current]
        changed = index.sync(keyed)
        assert changed, "every step changes someone"
        matrix = GalleryMatrix.from_pairs([p for p, _, _ in current], np.stack([rows[i][2] for _, _, i in current]))
        assert np.allclose(index.means(matrix.names), scratch_means(matrix), atol=2e-7)
    # everyone removed: nothing left, not even rounding residue
    assert index.sync([]) and len(index) == 0 and index.mean(current[0][0]) is None


def test_gallery_means_follow_the_folder_and_match_as_scratch(tmp_path, sface_recognizer):
    root = tmp_path / "known_faces"
    make_gallery(root, {person: lfw_photos(person)[:2] for person in TRIO})
    gallery = Gallery.for_recognizer(root, sface_recognizer)
    gallery.refresh(sface_recognizer.embed_photo)
    first = gallery.matrix()
    assert first.means is not None and np.allclose(first.means, scratch_means(first), atol=2e-7)

    shutil.copytree(LFW10 / "Jacques_Chirac", root / "Jacques_Chirac",
                    ignore=lambda _, names: [n for n in names if n > "Jacques_Chirac_0002.jpg"])  # a new person
    (root / "Hugo_Chavez" / lfw_photos("Hugo_Chavez")[0].name).unlink()  # a photo removed
    shutil.copy(lfw_photos("Tony_Blair")[5], root / "Tony_Blair" / lfw_photos("Tony_Blair")[0].name)  # replaced
    gallery.refresh(sface_recognizer.embed_photo)
    matrix = gallery.matrix()
    assert matrix.names == ("Colin_Powell", "Hugo_Chavez", "Jacques_Chirac", "Tony_Blair")
    assert np.allclose(matrix.means, scratch_means(matrix), atol=2e-7)
    probes = [lfw_photos(p)[7] for p in ("Tony_Blair", "Hugo_Chavez", "Colin_Powell", "Jacques_Chirac")]
    queries = np.stack([sface_recognizer.embed_photo(p).embedding for p in probes])
    plain = GalleryMatrix(matrix.embeddings, matrix.labels, matrix.names)
    got = match_embeddings(queries, matrix, sface_recognizer.threshold, "mean")
    want = match_embeddings(queries, plain, sface_recognizer.threshold, "mean")
    assert [m.name for m in got] == [m.name for m in want] == ["Tony_Blair", "Hugo_Chavez", "Colin_Powell", "Jacques_Chirac"]
    assert np.allclose([m.distance for m in got], [m.distance for m in want], atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest", "mean"])
def test_approximate_search_names_as_exact_search_does(lfw_embeddings, mode):
    enrolled = [r for r in lfw_embeddings if int(r[1][-8:-4]) <= 4]
    probes = [r for r in lfw_embeddings if int(r[1][-8:-4]) > 4]
    search = GallerySearch(128, exact_max_work=1)  # every gallery is "large": the index is always used
    gallery = attach(search, enrolled)
    assert search.photo_index is not None and len(search.photo_index) == len(gallery)
    assert search.people_index is not None and len(search.people_index) == len(gallery.names)
    queries = np.stack([v for _, _, v in probes])
    assert all(len(c) for c in search.candidates(queries, gallery, mode))
    plain = GalleryMatrix(gallery.embeddings, gallery.labels, gallery.names)
    approx = match_embeddings(queries, gallery, SFACE_DEFAULT, mode)
    exact = match_embeddings(queries, plain, SFACE_DEFAULT, mode)
    assert [m.name for m in approx] == [m.name for m in exact]
    assert [m.runner_up for m in approx] == [m.runner_up for m in exact]
    assert np.allclose([m.distance for m in approx], [m.distance for m in exact], atol=1e-6)
    assert sum(m.name == person for m, (person, _, _) in zip(approx, probes)) >= len(probes) - 1


def test_switch_over_size_is_respected(lfw_embeddings):
    photos, people = len(lfw_embeddings), len(lfw_people())
    # exact while photos x dims stays under the limit; the index only past it
    at_limit = GallerySearch(128, exact_max_work=photos * 128 + 1)
    gallery = attach(at_limit, lfw_embeddings)
    assert exact_is_fast(photos, 128, photos * 128 + 1)
    assert at_limit.photo_index is None and at_limit.people_index is None
    assert at_limit.candidates(gallery.embeddings[:2], gallery, "nearest") is None
    past = GallerySearch(128, exact_max_work=photos * 128)
    gallery = attach(past, lfw_embeddings)
    assert past.photo_index is not None and len(past.photo_index) == photos
    assert past.people_index is None  # 10 means are far under the limit: mean mode stays exact
    assert past.candidates(gallery.embeddings[:2], gallery, "mean") is None
    assert [len(c) > 0 for c in past.candidates(gallery.embeddings[:2], gallery, "nearest")] == [True, True]
    # the gallery shrinks under the limit again: the index is dropped
    gallery = attach(past, lfw_embeddings[: photos - people])
    assert past.photo_index is None


def test_newly_enrolled_person_is_found_at_once_and_index_is_saved(tmp_path, sface_recognizer, monkeypatch, caplog):
    monkeypatch.setattr(search_module, "EXACT_MAX_WORK", 1)  # this small gallery is searched through the index
    root = tmp_path / "known_faces"
    make_gallery(root, {person: lfw_photos(person)[:3] for person in TRIO})
    gallery = Gallery.for_recognizer(root, sface_recognizer)
    gallery.refresh(sface_recognizer.embed_photo)
    before = gallery.matrix()
    newcomer = sface_recognizer.embed_photo(lfw_photos("Gerhard_Schroeder")[5]).embedding
    assert match_embeddings(newcomer, before, sface_recognizer.threshold, "nearest")[0].name is None

    (root / "Gerhard_Schroeder").mkdir()
    for photo in lfw_photos("Gerhard_Schroeder")[:3]:
        shutil.copy(photo, root / "Gerhard_Schroeder")
    shutil.rmtree(root / "Colin_Powell")
    gallery.refresh(sface_recognizer.embed_photo)
    after = gallery.matrix()
    index = gallery._search.photo_index
    assert index is not None and len(index) == len(after) == 9
    for mode in ("nearest", "mean"):
        assert after.search.candidates(newcomer[None], after, mode) is not None
        assert match_embeddings(newcomer, after, sface_recognizer.threshold, mode)[0].name == "Gerhard_Schroeder"
    colin = sface_recognizer.embed_photo(lfw_photos("Colin_Powell")[0]).embedding
    assert match_embeddings(colin, after, sface_recognizer.threshold, "nearest")[0].best_name != "Colin_Powell"

    # saved in the owner-only cache in usearch's own format; the next start loads it
    path = index.path
    assert path.parent == gallery.cache_dir and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.read_bytes().startswith(b"\x80")  # not a pickle
    restarted = Gallery.for_recognizer(root, sface_recognizer)
    restarted.refresh(sface_recognizer.embed_photo)
    again = restarted.matrix()
    assert restarted._search.photo_index.loaded_from_file
    assert match_embeddings(newcomer, again, sface_recognizer.threshold, "nearest")[0].name == "Gerhard_Schroeder"

    # a damaged file is rebuilt, with a warning, and matching goes on
    path.write_bytes(b"not an index" * 10)
    with caplog.at_level(logging.WARNING, logger="facecam.search"):
        damaged = Gallery.for_recognizer(root, sface_recognizer)
        damaged.refresh(sface_recognizer.embed_photo)
        rebuilt = damaged.matrix()
    assert not damaged._search.photo_index.loaded_from_file
    assert any("rebuilding it" in r.getMessage() for r in caplog.records)
    assert match_embeddings(newcomer, rebuilt, sface_recognizer.threshold, "nearest")[0].name == "Gerhard_Schroeder"
    assert len(path.read_bytes()) > 120  # written anew


def test_wide_embeddings_are_indexed_through_a_projection(lfw_embeddings):
    """VGG-Face's 4096-d embeddings: the index holds a 256-d projection, matching stays exact on top."""
    rng = np.random.default_rng(3)
    lift = np.linalg.qr(rng.standard_normal((4096, 128)))[0].astype(np.float32)  # 128-d -> 4096-d, cosines kept
    wide = [(p, n, (v @ lift.T).astype(np.float32)) for p, n, v in lfw_embeddings]
    enrolled = [r for r in wide if int(r[1][-8:-4]) <= 4]
    probes = np.stack([v for _, n, v in wide if int(n[-8:-4]) > 4])
    search = GallerySearch(4096, exact_max_work=1)
    gallery = attach(search, enrolled)
    assert search.photo_index.indexed_dim == 256
    plain = GalleryMatrix(gallery.embeddings, gallery.labels, gallery.names)
    for mode in ("nearest", "mean"):
        approx = match_embeddings(probes, gallery, SFACE_DEFAULT, mode)
        exact = match_embeddings(probes, plain, SFACE_DEFAULT, mode)
        assert [m.name for m in approx] == [m.name for m in exact]
