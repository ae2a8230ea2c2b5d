"""The window on a known_faces folder it may not read (issue 19): before, "Something went wrong" and then
"Indexing known_faces..." forever; now one red status line naming the folder, the permission and what to do in
the window, the video going on with nobody named. The window runs in a child process that obeys file permissions
although CI runs as root (tests/permissions.py)."""

from __future__ import annotations

import json
import textwrap

from clips import ENROLLED, make_gallery
from permissions import run_python

WINDOW = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from PyQt5.QtWidgets import QApplication
    app = QApplication([])
    from facecam.gui.app import ExceptionHooks
    hooks = ExceptionHooks(app).install()
    from facecam.gui.main_window import MainWindow, WindowOptions
    from facecam.models import BUILTIN_DIR
    from facecam.recognizer import build_recognizer
    known, clip, mode = sys.argv[1:4]
    recognizer = build_recognizer("sface", None, BUILTIN_DIR, detector="yunet")
    window = MainWindow(WindowOptions(source=clip, known_faces=Path(known), model="sface"), recognizer=recognizer,
                        confirm=lambda *_: True)
    window.show()
    message = window.statusBar().currentMessage()
    def settle(seconds, done=lambda: False):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not done():
            app.processEvents()
            time.sleep(0.02)
    if mode == "read-only":
        settle(120, lambda: window.people_names() != [])
        print(json.dumps({"message": message, "error": window.status_line.error, "people": window.people_names(),
                          "unexpected": hooks.shown}))
        window.close()
        sys.exit(0)
    settle(60, lambda: window.status_line.error is not None)
    settle(2)
    status = window.status_line
    refused = {"error": status.error, "style": status.error_label.styleSheet(),
               "shown": status.error_label.isVisibleTo(window),
               "loading": status.load_label.text() if status.load_label.isVisibleTo(window) else None,
               "running": window.pipeline.running}
    Path(known).chmod(0o755)   # the user gives read access and presses F5
    window.rescan()
    settle(120, lambda: window.people_names() != [])
    print(json.dumps({"refused": refused, "error_after": status.error, "people": window.people_names(),
                      "unexpected": hooks.shown}))
    window.close()
""")


def run_window(tmp_path, known, clip, mode):
    return run_python("-c", WINDOW, known, clip, mode, timeout=300, env={
        "QT_QPA_PLATFORM": "offscreen", "FACECAM_CONFIG_DIR": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")})


def test_the_window_on_a_read_only_known_faces_names_people_and_logs_in_the_user_data_folder(tmp_path, gui_clip):
    """Before: the window could not open its sightings log in a read-only known_faces ("the sightings log cannot
    be opened"). Now it names the people, says once where the files go, and logs there."""
    known = make_gallery(tmp_path / "known_faces")
    for folder in [*known.iterdir(), known]:
        folder.chmod(0o555)
    try:
        result = run_window(tmp_path, known, gui_clip, "read-only")
    finally:
        for folder in [*known.iterdir(), known]:
            folder.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["unexpected"] == [] and found["error"] is None and sorted(found["people"]) == sorted(ENROLLED)
    data = tmp_path / "data" / "facecam" / "known_faces"
    assert found["message"].startswith(f"Note: {known} is read-only") and str(data) in found["message"]
    assert "cannot be opened" not in found["message"]
    assert len(list(data.rglob("sightings.sqlite"))) == 1 and not (known / ".facecam").exists()


def test_a_known_faces_the_window_may_not_read_is_one_red_line(tmp_path, gui_clip):
    known = make_gallery(tmp_path / "known_faces")
    known.chmod(0o000)
    try:
        result = run_window(tmp_path, known, gui_clip, "unreadable")
    finally:
        known.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    state = found["refused"]
    assert found["unexpected"] == [] and state["loading"] is None and state["running"], found
    assert state["shown"] and "color: #b00020" in state["style"]
    assert f"{known} cannot be read: permission denied (mode 000" in state["error"]
    assert "F5 (Rescan known_faces)" in state["error"] and "--known-faces" in state["error"]
    assert found["error_after"] is None and sorted(found["people"]) == sorted(ENROLLED)   # F5 after chmod: it works
