"""A first run: with VGG-Face not downloaded the CLI recognises with the built-in SFace and says so in one line
(the window decides with the same registry.first_run_model)."""

from __future__ import annotations

import json
import shutil

from conftest import LFW10

PROBE = LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0007.jpg"


def small_gallery(root):
    for person in ("Tony_Blair", "Hugo_Chavez"):
        (root / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:2]:
            shutil.copy(photo, root / person)
    return root


def test_first_run_model_is_sface_until_vgg_face_is_here(tmp_path, monkeypatch):
    from facecam.registry import first_run_model, model

    empty = tmp_path / "models"
    assert first_run_model(None, empty) == "sface"
    assert first_run_model("my-vgg.h5", empty) == "vgg-face"          # --weights names the default's file
    monkeypatch.setenv("FACECAM_MODEL_DIR", str(empty))
    assert first_run_model() == "sface"
    empty.mkdir()
    (empty / model("vgg-face").file.filename).write_bytes(b"\x89HDF\r\n\x1a\n")
    assert first_run_model() == "vgg-face"
    monkeypatch.setenv("FACECAM_VGGFACE_WEIGHTS", str(tmp_path / "elsewhere.h5"))
    assert first_run_model(None, tmp_path / "other") == "vgg-face"


def test_cli_without_vgg_face_names_people_with_sface_and_says_how_to_get_vgg_face(cli, tmp_path):
    known = small_gallery(tmp_path / "known_faces")
    code, out, err = cli("identify", "--known-faces", known, "--model-dir", tmp_path / "models", "--json", PROBE)
    assert code == 0, err
    (row,) = map(json.loads, out.splitlines())
    assert row["faces"][0]["name"] == "Hugo_Chavez", row
    assert [p.name for p in (known / ".facecam").glob("*.npz")] == ["sface.npz"]   # SFace with MTCNN
    notes = [line for line in err.splitlines() if "VGG-Face" in line]
    assert notes == ["facecam: VGG-Face is not downloaded; using the built-in SFace (to get VGG-Face, 580 MB: "
                     "facecam models --download vgg-face)"]
    assert not (tmp_path / "models").exists()          # nothing downloaded, nothing created
    # unknowns after such a session looks at SFace's unknowns, as the session kept them
    code, out, err = cli("unknowns", "--known-faces", known, "--model-dir", tmp_path / "models")
    assert code == 0 and out.startswith("no unknown faces kept for sface in "), out + err


def test_asking_for_vgg_face_offline_suggests_the_built_in_model(cli, tmp_path, monkeypatch):
    from facecam import models

    real_download = models.download      # offline: the download's address refuses the connection
    monkeypatch.setattr(models, "download", lambda url, dest, **kw: real_download(
        "http://127.0.0.1:9/vgg_face_weights.h5", dest, **kw))
    known = small_gallery(tmp_path / "known_faces")
    code, _, err = cli("identify", "--model", "vgg-face", "--known-faces", known, "--model-dir", tmp_path / "models",
                       PROBE)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("facecam: error: could not download vgg_face_weights.h5") and err.rstrip().endswith(
        "or use the built-in one: --model sface"), err


def test_the_vgg_face_download_size_is_written_in_one_place():
    """"580 MB" is the registry's (EmbedderEntry.download_size); the CLI's note and the window's bar say it from
    there (docstrings and the docs may mention the figure)."""
    import ast
    from pathlib import Path

    from facecam import registry

    assert registry.model("vgg-face").download_size == "580 MB" and registry.model("sface").download_size == ""
    package = Path(registry.__file__).parent
    written = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        written += [f"{path.relative_to(package)}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and "580 MB" in node.value
                    and id(node) not in docstrings]
    assert [where.split(":")[0] for where in written] == ["registry.py"], written
