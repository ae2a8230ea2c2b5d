"""The People panel's Export... / Export person... / Import... (issue 22): real window, real SFace, real photos;
the work runs on a task thread, and a refused archive writes nothing."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from conftest import LFW10


def tree(root: Path) -> dict:
    """The people's folders byte for byte (``.facecam`` aside: the running window writes its logs there)."""
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*")) if p.relative_to(root).parts[0] != ".facecam"}


def test_export_and_import_from_the_people_panel(make_window, qtbot, known_faces, tmp_path, cli):
    window = make_window()
    qtbot.waitUntil(lambda: window.people_panel.names() == ["Tony_Blair"], timeout=60000)
    everyone, one = tmp_path / "everyone.zip", tmp_path / "tony.zip"
    answers = iter([str(everyone), str(one)])
    window.people.ask_archive = lambda title, save, suggested="": next(answers)
    assert not window.people_panel.export_person_button.isEnabled()   # nobody selected
    window.people_panel.export_button.click()
    qtbot.waitUntil(everyone.exists, timeout=30000)
    window.people_panel.select("Tony_Blair")
    window.people_panel.export_person_button.click()
    qtbot.waitUntil(one.exists, timeout=30000)
    with zipfile.ZipFile(everyone) as z:
        assert [p["name"] for p in json.loads(z.read("manifest.json"))["people"]] == ["Tony_Blair"]
    with zipfile.ZipFile(one) as z:
        assert json.loads(z.read("subject/summary.json"))["name"] == "Tony_Blair"

    # an archive from another gallery: Hugo Chavez joins, the panel shows him once the gallery is read again
    other = tmp_path / "other" / "known_faces"
    (other / "Hugo_Chavez").mkdir(parents=True)
    for photo in sorted((LFW10 / "Hugo_Chavez").glob("*.jpg"))[:2]:
        shutil.copy(photo, other / "Hugo_Chavez")
    hugo = tmp_path / "hugo.zip"
    assert cli("people", "export", "--known-faces", other, hugo)[0] == 0
    window.people.ask_archive = lambda title, save, suggested="": str(hugo)
    window.people_panel.import_button.click()
    qtbot.waitUntil(lambda: window.people_panel.names() == ["Hugo_Chavez", "Tony_Blair"], timeout=60000)
    assert "Imported 1 person(s)" in window.statusBar().currentMessage()

    # a damaged archive: refused on the task thread, said in the status bar, the folder untouched
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(hugo.read_bytes()[:-200])
    before = tree(known_faces)
    window.people.ask_archive = lambda title, save, suggested="": str(damaged)
    window.people_panel.import_button.click()
    qtbot.waitUntil(lambda: "Could not import" in window.statusBar().currentMessage(), timeout=30000)
    assert "nothing was written" in window.statusBar().currentMessage()
    assert tree(known_faces) == before and not list((known_faces / ".facecam").glob("importing-*"))
