"""Take a screenshot of the real window (docs/window.png) on a clip built from real photos.

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshot.py --demo /tmp/facecam-demo \\
        --out docs/window.png -- --model sface --model-dir /tmp/facecam-demo/models

``--demo DIR`` writes a clip (tests/clips.py: two enrolled people and a stranger, LFW photos)
and its known_faces into DIR, and copies the SFace model built into facecam
(facecam/data/models) into DIR/models; the arguments after ``--`` go to main.py unchanged
(``--source`` and ``--known-faces`` default to the demo's). The window starts exactly as
``python main.py`` does; the picture is grabbed (``QWidget.grab``) once every face on screen
has a name, at least ``--after`` seconds after the start.

``--whos`` (with ``--demo``) takes the "Who's this?" tab instead (docs/whos_this.png): the demo is
then a clip of visits (tests/visits.py: six strangers come back with other photos, lfw40) and a
known_faces of two other people; the picture is grabbed once the tab lists ``--clusters`` entries.

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshot.py --whos --demo /tmp/facecam-whos \
        --out docs/img/whos_this.png --size 980x560 -- --model sface

``--grid`` (with ``--demo``) takes the grid of four cameras instead (docs/grid.png): four clips of two enrolled
lfw40 people each (tests/clips.py ``camera_clips``), opened with ``--source`` four times; the picture is grabbed
once every tile names its two people.

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshot.py --grid --demo /tmp/facecam-grid \
        --out docs/grid.png -- --model sface

A newcomer's first run (docs/first-run.png, taken by tests/test_first_run_window.py under Xvfb): the
window at its own size, the History tab, grabbed from the X server once the named people are on screen
and History lists a visit; ``--state`` writes what the window shows then (JSON) for the test to check:

    DISPLAY=:99 .venv/bin/python docs/screenshot.py --screen --size default --tab history \
        --names Tony_Blair,Hugo_Chavez --history-rows 1 --state state.json --out docs/first-run.png \
        -- --source clip.mp4
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def make_demo(folder: Path) -> tuple[Path, Path, Path]:
    from clips import Actor, make_gallery, write_clip

    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "clip.avi"
    scene = (Actor("Tony_Blair", 5, 0.0, 60.0, 113, 250, sway_px=8, period_s=6.0),
             Actor("George_W_Bush", 5, 0.0, 60.0, 320, 230, sway_px=8, period_s=7.0),
             Actor("Vladimir_Putin", 5, 0.0, 60.0, 527, 250, sway_px=8, period_s=5.0))
    if not clip.exists():
        write_clip(clip, scene, seconds=40.0)
    known = folder / "known_faces"
    if not known.exists():
        make_gallery(known)
    models = folder / "models"
    models.mkdir(exist_ok=True)
    name = "face_recognition_sface_2021dec.onnx"
    if not (models / name).exists():
        from facecam.models import BUILTIN_DIR

        shutil.copy(BUILTIN_DIR / name, models / name)
    return clip, known, models


WHOS_STRANGERS = ("Bill_Frist", "Celine_Dion", "Jimmy_Carter", "Yao_Ming", "Tom_Hanks", "Ian_Thorpe")
WHOS_ENROLLED = ("Harrison_Ford", "Richard_Gere")


def make_whos_demo(folder: Path) -> tuple[Path, Path, Path]:
    """A visits clip (each stranger twice, an enrolled person now and then) and its known_faces."""
    from visits import make_gallery, photos_of, plan_visits, write_visits_clip

    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "visits.avi"
    if not clip.exists():
        visits = plan_visits({p: photos_of(p)[:2] for p in WHOS_STRANGERS},
                             {p: photos_of(p)[3:4] for p in WHOS_ENROLLED}, duration=3.0, gap=2.5)
        write_visits_clip(clip, visits)
    known = folder / "known_faces"
    if not known.exists():
        make_gallery(known, {p: photos_of(p)[:3] for p in WHOS_ENROLLED})
    _clip, _known, models = make_demo(folder)
    return clip, known, models


GRID_CAMERAS = ("front_door", "hall", "office", "garage")


def make_grid_demo(folder: Path) -> tuple[list[Path], Path, Path]:
    """A clip per camera (two enrolled lfw40 people each) and the known_faces of all eight."""
    from clips import camera_clips, make_lfw40_gallery

    from facecam.detector import MtcnnDetector

    clips = camera_clips(folder, MtcnnDetector(), names=GRID_CAMERAS, seconds=60.0, fps=15.0)
    known = folder / "known_faces"
    if not known.exists():
        make_lfw40_gallery(known, [person for _, pair in clips for person in pair], photos=(1, 2))
    _clip, _known, models = make_demo(folder)
    return [clip for clip, _ in clips], known, models

def window_state(window) -> dict:
    """What the window shows: its size and platform, the names on the video, the status text, the side tabs
    and the History tab's columns (each one's left edge and width against the table's visible width)."""
    from PyQt5.QtCore import Qt
    from PyQt5.QtWidgets import QApplication

    view = window.history_panel.view
    header = view.horizontalHeader()
    model = view.model()
    tabs = window.side_tabs
    return {
        "platform": QApplication.platformName(), "size": [window.width(), window.height()],
        "labels": window.label_names(), "status": window.status_text(),
        "tabs": [tabs.tabText(i) for i in range(tabs.count())], "current_tab": tabs.tabText(tabs.currentIndex()),
        "tab_bar_shown": tabs.tabBar().isVisible(),
        "history_rows": [row.cells() for row in window.history_panel.rows()],
        "history_columns": [{"title": model.headerData(c, Qt.Horizontal), "left": header.sectionViewportPosition(c),
                             "width": header.sectionSize(c), "hidden": header.isSectionHidden(c)}
                            for c in range(model.columnCount())],
        "history_visible_width": view.viewport().width(), "history_shown": view.isVisible(),
        "whos_entries": window.whos_panel.list.count(),
    }


def main() -> int:
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="build the demo clip, known_faces and model folder here")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "window.png")
    parser.add_argument("--after", type=float, default=6.0, help="grab no earlier than this (seconds)")
    parser.add_argument("--timeout", type=float, default=90.0, help="grab anyway after this (seconds; the exit code is then 1)")
    parser.add_argument("--size", default="1180x720", help="window size WxH, or \"default\" (the window's own)")
    parser.add_argument("--tab", choices=("people", "whos", "history"), help="show this side tab")
    parser.add_argument("--names", default="", help="grab once these names (comma-separated) are all on screen")
    parser.add_argument("--history-rows", type=int, default=0, help="grab once History lists this many visits")
    parser.add_argument("--screen", action="store_true",
                        help="grab the window's pixels from the display server (else the widget renders itself)")
    parser.add_argument("--state", type=Path, help="write what the window shows at the grab here (JSON)")
    parser.add_argument("--whos", action="store_true", help="the \"Who's this?\" tab, on a clip of visits")
    parser.add_argument("--clusters", type=int, default=5, help="with --whos: grab once this many entries are listed")
    parser.add_argument("--grid", action="store_true", help="four cameras in the grid, each on a clip of its own")
    args = parser.parse_args(own)
    if args.demo is not None:
        if args.grid:
            clips, known, models = make_grid_demo(args.demo)
        else:
            clip, known, models = (make_whos_demo if args.whos else make_demo)(args.demo)
            clips = [clip]
        if "--source" not in rest:
            rest += [arg for clip in clips for arg in ("--source", str(clip))]
        if "--known-faces" not in rest:
            rest += ["--known-faces", str(known)]
        if "--model-dir" not in rest:
            rest += ["--model-dir", str(models)]

    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from facecam.gui.app import build_parser, start_window

    app, window, _hooks = start_window(build_parser().parse_args(rest))
    if args.size != "default":
        width, height = (int(v) for v in args.size.split("x"))
        window.resize(width, height)
    tab = "whos" if args.whos else args.tab
    if tab:
        window.side_tabs.setCurrentWidget({"people": window.people_panel, "whos": window.whos_panel,
                                           "history": window.history_panel}[tab])
    wanted = {name for name in args.names.split(",") if name}
    outcome = {"code": 1}     # 1: grabbed at --timeout, before the window was ready
    started = time.monotonic()

    def poll():
        waited = time.monotonic() - started
        names = window.label_names()
        ready = bool(names) and "..." not in names and window.snapshot is not None and "latency" in window.status_text()
        ready = ready and wanted <= set(names) and len(window.history_panel.rows()) >= args.history_rows
        if args.grid:
            tiles = window.cameras_control.views.grid.tiles
            ready = len(tiles) == len(GRID_CAMERAS) and all(
                len(tile.names) >= 2 and not {"...", "Unknown"} & set(tile.names) for tile in tiles)
        if args.whos:
            rows = [window.whos_panel.list.item(i).text() for i in range(window.whos_panel.list.count())]
            ready = ready and len(rows) >= args.clusters and any(not row.startswith("1 visit,") for row in rows)
        if (waited >= args.after and ready) or waited >= args.timeout:
            window._update_status()  # noqa: SLF001 - the status text as the next timer tick would set it
            if args.whos:
                window.whos_panel.list.setCurrentRow(0)   # the actions as they look with an entry picked
            QApplication.processEvents()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            picture = window.screen().grabWindow(int(window.winId())) if args.screen else window.grab()
            picture.save(str(args.out), "PNG", 0)
            if args.state is not None:
                args.state.write_text(json.dumps({**window_state(window), "ready": ready, "waited_s": waited,
                                                  "picture": [picture.width(), picture.height()]}, indent=1))
            if args.grid:
                names = [tile.status_text() + ": " + ", ".join(tile.names) for tile in tiles]
            print(f"{args.out}: {window.width()}x{window.height()} after {waited:.1f} s; labels {names}; "
                  f"status: {window.status_text()}", flush=True)
            outcome["code"] = 0 if ready else 1
            window.close()
            return
        QTimer.singleShot(200, poll)

    QTimer.singleShot(200, poll)
    return int(app.exec_()) or outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
