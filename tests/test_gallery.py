"""known_faces: scanning, the incremental cache, and what is reported, on real photos with SFace."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from conftest import LFW10, PEOPLE
from facecam.gallery import CACHE_DIR, Gallery, check_person_name, person_folder, scan_photos
from facecam.errors import EnrollError


class Counting:
    """Wraps recognizer.embed_photo and records which photos were embedded."""

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.calls: list[str] = []

    def __call__(self, path):
        self.calls.append(Path(path).name)
        return self.recognizer.embed_photo(path)


def new_gallery(root, recognizer):
    return Gallery.for_recognizer(root, recognizer)


@pytest.fixture
def known(tmp_path):
    root = tmp_path / "known_faces"
    for person in ("Tony_Blair", "Hugo_Chavez"):
        (root / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:2]:
            shutil.copy(photo, root / person)
    shutil.copy(LFW10 / "Colin_Powell" / "Colin_Powell_0001.jpg", root / "Colin Powell.jpg")
    return root


def test_layout_folders_and_single_photos_hidden_ignored(known):
    (known / ".hidden.jpg").write_bytes(b"x")
    (known / "Tony_Blair" / ".DS_Store").write_bytes(b"x")
    (known / "notes.txt").write_text("hello")
    photos, passed = scan_photos(known)
    assert [(p.name, person) for p, person in photos] == [
        ("Colin Powell.jpg", "Colin Powell"),
        ("Hugo_Chavez_0001.jpg", "Hugo_Chavez"), ("Hugo_Chavez_0002.jpg", "Hugo_Chavez"),
        ("Tony_Blair_0001.jpg", "Tony_Blair"), ("Tony_Blair_0002.jpg", "Tony_Blair")]
    assert [(Path(p).name, r.split(" (")[0]) for p, r in passed] == [("notes.txt", "not a photo")]


def test_restart_embeds_nothing_and_changes_embed_only_what_changed(known, sface_recognizer):
    first = Counting(sface_recognizer)
    gallery = new_gallery(known, sface_recognizer)
    report = gallery.refresh(first)
    assert (report.people, report.photos, report.embedded) == (3, 5, 5)
    assert len(first.calls) == 5
    matrix = gallery.matrix()
    assert matrix.names == ("Colin Powell", "Hugo_Chavez", "Tony_Blair") and matrix.embeddings.shape == (5, 128)

    # a new process: nothing is embedded again, and the embeddings are the same
    again = Counting(sface_recognizer)
    restarted = new_gallery(known, sface_recognizer)
    report = restarted.refresh(again)
    assert again.calls == [] and report.reused == 5
    assert np.array_equal(restarted.matrix().embeddings, matrix.embeddings)

    # add one, replace one, remove one, rename one (same content: reused)
    shutil.copy(LFW10 / "Tony_Blair" / "Tony_Blair_0003.jpg", known / "Tony_Blair")
    shutil.copy(LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0005.jpg", known / "Hugo_Chavez" / "Hugo_Chavez_0002.jpg")
    (known / "Tony_Blair" / "Tony_Blair_0001.jpg").unlink()
    (known / "Colin Powell.jpg").rename(known / "Colin_Powell.jpg")
    changed = Counting(sface_recognizer)
    report = new_gallery(known, sface_recognizer).refresh(changed)
    assert sorted(changed.calls) == ["Hugo_Chavez_0002.jpg", "Tony_Blair_0003.jpg"]
    assert report.photos == 5 and report.removed >= 1
    assert set(new_gallery(known, sface_recognizer).matrix().names) == set()  # nothing loaded before refresh
    people = new_gallery(known, sface_recognizer)
    people.refresh(Counting(sface_recognizer))
    assert {k: len(v) for k, v in people.people().items()} == {"Colin_Powell": 1, "Hugo_Chavez": 2, "Tony_Blair": 2}


def test_cache_is_owner_only_and_not_pickle(known, sface_recognizer):
    gallery = new_gallery(known, sface_recognizer)
    gallery.refresh(sface_recognizer.embed_photo)
    cache = known / CACHE_DIR / "sface.npz"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    with np.load(cache, allow_pickle=False) as data:  # would raise if any array needed pickle
        assert data["embeddings"].shape == (5, 128)


@pytest.mark.parametrize("damage", [b"", b"garbage" * 100, b"PK\x03\x04broken zip"])
def test_damaged_cache_is_rebuilt_with_a_warning(known, sface_recognizer, damage):
    new_gallery(known, sface_recognizer).refresh(sface_recognizer.embed_photo)
    cache = known / CACHE_DIR / "sface.npz"
    original = cache.read_bytes()
    cache.write_bytes(damage if damage else original[: len(original) // 2])
    counting = Counting(sface_recognizer)
    gallery = new_gallery(known, sface_recognizer)
    report = gallery.refresh(counting)
    assert len(counting.calls) == 5 and report.photos == 5
    assert any("rebuilding" in w for w in report.warnings)
    with np.load(cache, allow_pickle=False) as data:
        assert data["embeddings"].shape == (5, 128)


def test_cache_of_another_version_is_rebuilt(known, sface_recognizer):
    new_gallery(known, sface_recognizer).refresh(sface_recognizer.embed_photo)
    other = Gallery(known, "sface", "sface-2099/other", 128)
    counting = Counting(sface_recognizer)
    report = other.refresh(counting)
    assert len(counting.calls) == 5 and "other preprocessing" in report.warnings[0]


def test_no_face_skipped_several_faces_reported(known, sface_recognizer):
    blank = np.full((200, 200, 3), 128, np.uint8)
    import cv2

    cv2.imwrite(str(known / "Tony_Blair" / "wall.png"), blank)
    shutil.copy(PEOPLE / "two_people.jpg", known / "Hugo_Chavez" / "group.jpg")
    counting = Counting(sface_recognizer)
    report = new_gallery(known, sface_recognizer).refresh(counting)
    assert (str(known / "Tony_Blair" / "wall.png"), "no face found") in report.skipped
    several = {Path(p).name: n for p, n in report.several_faces}
    assert several["group.jpg"] == 2  # (LFW's Tony_Blair_0001 has a second face in the background too)
    # the no-face photo is remembered: not detected again on the next start
    again = Counting(sface_recognizer)
    report = new_gallery(known, sface_recognizer).refresh(again)
    assert again.calls == [] and (str(known / "Tony_Blair" / "wall.png"), "no face found") in report.skipped


def test_stopping_midway_keeps_the_cache_and_resumes(known, sface_recognizer):
    counting = Counting(sface_recognizer)
    stop_after = iter([False, False, True])
    report = new_gallery(known, sface_recognizer).refresh(counting, should_stop=lambda: next(stop_after, True))
    assert report.interrupted and len(counting.calls) == 2
    resumed = Counting(sface_recognizer)
    report = new_gallery(known, sface_recognizer).refresh(resumed)
    assert len(resumed.calls) == 3 and report.photos == 5


def test_ctrl_c_midway_saves_what_was_done(known, sface_recognizer):
    calls = []

    def interrupting(path):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(path)
        return sface_recognizer.embed_photo(path)

    with pytest.raises(KeyboardInterrupt):
        new_gallery(known, sface_recognizer).refresh(interrupting)
    resumed = Counting(sface_recognizer)
    report = new_gallery(known, sface_recognizer).refresh(resumed)
    assert len(resumed.calls) == 2 and report.photos == 5


@pytest.mark.parametrize("name", ["..", "../evil", "a/b", "a\\b", "", "   ", "bad\x00name", "tab\tname",
                                  "CON", "nul.txt", "COM1", "x" * 256, ".hidden"])
def test_bad_person_names_are_refused(tmp_path, name):
    with pytest.raises(EnrollError, match="cannot use"):
        person_folder(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["José Müller", "李雷", "Ada Lovelace", "O'Brien"])
def test_good_person_names_stay_inside(tmp_path, name):
    folder = person_folder(tmp_path, name)
    assert folder.parent == tmp_path.resolve() and folder.name == check_person_name(name)


def test_watcher_picks_up_added_and_removed_photos_by_itself(known, sface_recognizer):
    import threading

    from facecam.gallery import GalleryWatcher

    seen = []
    changed = threading.Event()

    def on_change(matrix, report):
        seen.append({name: int((matrix.labels == i).sum()) for i, name in enumerate(matrix.names)})
        changed.set()

    gallery = new_gallery(known, sface_recognizer)
    watcher = GalleryWatcher(gallery, sface_recognizer.embed_photo, on_change, interval_s=0.5, settle_s=0.3).start()
    try:
        assert changed.wait(30)
        assert seen[-1] == {"Colin Powell": 1, "Hugo_Chavez": 2, "Tony_Blair": 2}
        changed.clear()
        (known / "Jacques Chirac").mkdir()
        shutil.copy(LFW10 / "Jacques_Chirac" / "Jacques_Chirac_0001.jpg", known / "Jacques Chirac")
        assert changed.wait(60)   # noticed by itself (idle: within 3 s)
        assert seen[-1]["Jacques Chirac"] == 1
        changed.clear()
        (known / "Colin Powell.jpg").unlink()
        assert changed.wait(60)
        assert "Colin Powell" not in seen[-1]
    finally:
        assert watcher.stop(timeout=2.0)


# ---------------------------------------------------------------- issue 12: what the cache keeps and trusts

def _cached(known) -> dict[str, np.ndarray]:
    with np.load(known / CACHE_DIR / "sface.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_a_removed_photos_embedding_leaves_the_cache_file(known, sface_recognizer):
    import hashlib

    gallery = new_gallery(known, sface_recognizer)
    gallery.refresh(sface_recognizer.embed_photo)
    removed = known / "Tony_Blair" / "Tony_Blair_0002.jpg"
    sha = hashlib.sha256(removed.read_bytes()).hexdigest()
    cached = _cached(known)
    row = list(cached["sha256"]).index(sha)
    embedding = cached["embeddings"][row]
    removed.unlink()
    report = gallery.refresh(sface_recognizer.embed_photo)  # the same gallery object, as the window's watcher
    assert report.removed == 1 and report.photos == 4
    cached = _cached(known)
    assert sha not in set(cached["sha256"]) and str(removed) not in set(cached["stat_paths"])
    assert len(cached["embeddings"]) == 4
    assert not np.any(np.all(cached["embeddings"] == embedding, axis=1))  # biometric data of a removed photo

    # a removed photo whose content lives on in a copy: the embedding stays (the copy uses it), the path goes
    kept = known / "Hugo_Chavez" / "Hugo_Chavez_0001.jpg"
    shutil.copy(kept, known / "Hugo_Chavez" / "copy.jpg")
    gallery.refresh(sface_recognizer.embed_photo)
    kept.unlink()
    report = gallery.refresh(sface_recognizer.embed_photo)
    assert report.removed == 1 and report.photos == 4
    assert str(kept) not in set(_cached(known)["stat_paths"])
    assert str(kept) not in {path for path, _ in gallery.photos()}


class _PickleBomb:
    """Unpickling this runs ``open(marker, "w")``: what a planted cache could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_pickle_in_the_cache_is_never_unpickled(known, sface_recognizer, tmp_path):
    import io
    import zipfile

    gallery = new_gallery(known, sface_recognizer)
    gallery.refresh(sface_recognizer.embed_photo)
    cache = known / CACHE_DIR / "sface.npz"
    marker = tmp_path / "pwned"
    arrays = _cached(known)
    arrays["embeddings"] = np.array([_PickleBomb(marker)] * len(arrays["sha256"]), dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # an object array: stored as a pickle inside the .npy
    cache.write_bytes(buffer.getvalue())
    with zipfile.ZipFile(cache) as archive:  # the planted file really carries a pickle
        assert b"pwned" in archive.read("embeddings.npy")
    counting = Counting(sface_recognizer)
    again = new_gallery(known, sface_recognizer)
    report = again.refresh(counting)
    assert not marker.exists()
    assert len(counting.calls) == 5 and report.photos == 5  # rebuilt
    assert len(report.warnings) == 1 and "rebuilding" in report.warnings[0]
    assert _cached(known)["embeddings"].dtype == np.float32


def _same_size_as(size: int, skip: int = 0) -> bytes:
    """The bytes of another person's LFW photo, padded with zeros to ``size`` (JPEG readers stop at the end marker)."""
    smaller = sorted((p for p in (LFW10 / "Colin_Powell").glob("*.jpg") if p.stat().st_size <= size),
                     key=lambda p: p.name)
    data = smaller[skip].read_bytes()
    return data + b"\0" * (size - len(data))


def test_a_photo_replaced_with_the_same_size_and_mtime_is_embedded_again(known, sface_recognizer):
    from PIL import Image

    new_gallery(known, sface_recognizer).refresh(sface_recognizer.embed_photo)
    photo = known / "Hugo_Chavez" / "Hugo_Chavez_0002.jpg"
    before = photo.stat()

    # replaced by a new file (a new inode: how editors and sync tools write), the mtime put back
    tmp = photo.with_name(".incoming.jpg")
    tmp.write_bytes(_same_size_as(before.st_size))
    os.replace(tmp, photo)
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = photo.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    Image.open(photo).verify()
    counting = Counting(sface_recognizer)
    report = new_gallery(known, sface_recognizer).refresh(counting)
    assert counting.calls == ["Hugo_Chavez_0002.jpg"] and report.embedded == 1

    # rewritten in place (the same inode; the ctime moves, and cannot be put back)
    inode = photo.stat().st_ino
    photo.write_bytes(_same_size_as(before.st_size, skip=1))
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (photo.stat().st_ino, photo.stat().st_size, photo.stat().st_mtime_ns) == \
        (inode, before.st_size, before.st_mtime_ns)
    counting = Counting(sface_recognizer)
    gallery = new_gallery(known, sface_recognizer)
    report = gallery.refresh(counting)
    assert counting.calls == ["Hugo_Chavez_0002.jpg"] and report.embedded == 1
    colin = sface_recognizer.embed_photo(photo).embedding
    row = gallery.rows()[1].index(str(photo))
    assert np.allclose(gallery.matrix().embeddings[row], colin, atol=1e-6)
