"""Permissions (issue 19): a known_faces folder facecam may read but not write works read-only everywhere
(``watch`` too: the sightings log and the unknown faces go to the user data folder, with one note); a folder it
may not read stops every command with one line naming the folder and the permission, exit 1.

Each command runs in a child process that obeys file permissions although CI runs as root
(tests/permissions.py drops the two capabilities that let root ignore them): the refusals are real ones.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from clips import ENROLLED, SHORT_SCENE, make_gallery, write_clip
from permissions import run_facecam

MODEL = ("--model", "sface", "--detector", "yunet")   # the built-in models: no download, no TensorFlow


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("permissions")
    clip = folder / "clip.avi"
    write_clip(clip, SHORT_SCENE, seconds=6.0)
    return clip


def user_folders(tmp_path: Path) -> dict:
    """The user's own folders (data, cache, settings) under ``tmp_path``."""
    return {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "FACECAM_CONFIG_DIR": str(tmp_path / "config")}


def every_file(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def set_modes(root: Path, folder_mode: int, file_mode: int) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(folder_mode if path.is_dir() else file_mode)
    root.chmod(folder_mode)


def test_watch_on_a_read_only_known_faces_logs_in_the_user_data_folder(scene, tmp_path):
    """Before: ``watch`` died writing known_faces/.facecam/sightings.sqlite (PermissionError, or EROFS on a
    read-only mount). Now it runs, names the enrolled people, and keeps the visits and the unknown faces in the
    user data folder, said in one note; ``sightings`` and ``unknowns`` read them there; known_faces is untouched."""
    known = make_gallery(tmp_path / "known_faces")
    before = every_file(known)
    env = user_folders(tmp_path)
    set_modes(known, 0o555, 0o444)
    try:
        result = run_facecam("watch", *MODEL, "--known-faces", known, "--source", scene, "--json", "--learn",
                             env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        notes = [line for line in result.stderr.splitlines() if "read-only" in line]
        data = tmp_path / "data" / "facecam" / "known_faces"
        assert len(notes) == 2 and notes[0].startswith(f"facecam: note: {known} is read-only"), result.stderr
        assert str(data) in notes[0] and str(tmp_path / "cache") in notes[0]
        assert notes[1] == f"facecam: note: --learn writes into {known}, which is read-only; nothing is learned"
        assert "Traceback" not in result.stderr and "warning" not in result.stderr
        summary = json.loads(result.stdout.splitlines()[-1])
        assert summary["sightings"]["visits"] >= len(ENROLLED) and summary["unknown_sightings"] >= 1
        assert summary["learned"] is None
        logs = list(data.rglob("sightings.sqlite"))
        assert len(logs) == 1 and stat.S_IMODE(logs[0].stat().st_mode) == 0o600
        assert len(list(data.rglob("unknowns.sqlite"))) == 1

        result = run_facecam("sightings", "--json", "--known-faces", known, env=env)
        assert result.returncode == 0, result.stderr
        names = {json.loads(line)["name"] for line in result.stdout.splitlines()}
        assert set(ENROLLED) <= names
        result = run_facecam("unknowns", "--json", *MODEL, "--known-faces", known, env=env)
        assert result.returncode == 0, result.stderr
        assert len([json.loads(line) for line in result.stdout.splitlines()]) >= 1
    finally:
        set_modes(known, 0o755, 0o644)
    assert every_file(known) == before   # no .facecam, nothing written


COMMANDS = {
    "identify": ("identify", *MODEL, "{photo}"),
    "watch": ("watch", *MODEL, "--source", "{clip}"),
    "index": ("index", *MODEL),
    "sightings": ("sightings",),
    "unknowns": ("unknowns", *MODEL),
    "evaluate": ("evaluate", *MODEL),
    "learned": ("learned", "list"),
}


@pytest.mark.parametrize("refused", ["known_faces", ".facecam"])
def test_a_folder_facecam_may_not_read_stops_every_command_with_one_line(scene, tmp_path, refused):
    """Mode 000 on known_faces, or a known_faces/.facecam facecam may not read (as one of another user's):
    before, each command printed a PermissionError traceback. Now: exit 1, one line that names the folder,
    the permission and what to do, before any model loads."""
    known = make_gallery(tmp_path / "known_faces")
    (known / ".facecam").mkdir()
    photo = next(known.rglob("*.jpg"))
    shown = tmp_path / "photo.jpg"
    shown.write_bytes(photo.read_bytes())
    folder = known if refused == "known_faces" else known / ".facecam"
    folder.chmod(0o000)
    try:
        for command, argv in COMMANDS.items():
            argv = [a.format(photo=shown, clip=scene) for a in argv]
            result = run_facecam(*argv[:1], "--known-faces", known, *argv[1:], env=user_folders(tmp_path))
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 1, (command, result.stderr[-2000:])
            assert len(lines) == 1, (command, result.stderr[-2000:])
            assert lines[0].startswith("facecam: error: ") and f"{folder} cannot be read: permission denied (mode 000" \
                in lines[0] and "chmod" in lines[0], (command, lines[0])
    finally:
        folder.chmod(0o755)


def test_a_facecam_that_is_a_file_is_one_line_too(tmp_path, cli):
    """``known_faces/.facecam`` is a file (copied in by mistake): one line that says to move it aside."""
    known = tmp_path / "known_faces"
    known.mkdir()
    (known / ".facecam").write_text("not a folder")
    code, out, err = cli("sightings", "--known-faces", known)
    assert code == 1 and err.strip() == (f"facecam: error: {known / '.facecam'} is not a folder; facecam keeps its "
                                         "cache and logs there: move it aside (or delete it) and try again")
    assert (known / ".facecam").read_text() == "not a folder"


def test_the_child_obeys_permissions_as_any_user_would(tmp_path):
    """The means of the tests above: a folder of mode 000 refuses the child process even when the suite runs as
    root (if this failed, the tests above would pass for the wrong reason)."""
    from permissions import run_python

    folder = tmp_path / "closed"
    folder.mkdir()
    folder.chmod(0o000)
    try:
        result = run_python("-c", f"import os; os.listdir({str(folder)!r})")
        assert result.returncode == 1 and "PermissionError" in result.stderr
        assert os.listdir(folder) == [] or os.geteuid() != 0   # this process itself (root in CI) is not refused
    finally:
        folder.chmod(0o755)
