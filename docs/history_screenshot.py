"""Take a screenshot of the window's History tab (docs/history.png) after it ran a clip of real people.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/history_screenshot.py [--out docs/history.png] [--work DIR]

The clip is the test suite's (tests/clips.py, tests/gui/test_history.py): 8 lfw40 people come
once each, 6 of them enrolled from other photos, 2 strangers. The window (SFace, built into
facecam; known_faces indexed first) plays it with ``--source-name "front door"`` into a fresh known_faces under ``--work``;
when the clip has ended the History tab is grabbed (``QWidget.grab``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def make_clip(folder: Path, recognizer, people: int = 8) -> tuple[Path, Path]:
    """The clip of the first ``people`` lfw40 visitors (tests/clips.py) and their known_faces (not indexed)."""
    from clips import lfw40_photo, lfw40_visitors, make_lfw40_gallery, one_face_photos, visits_scene, write_clip

    visitors, enrolled = lfw40_visitors()
    visitors = visitors[:people]
    enrolled = [p for p in enrolled if p in visitors]
    scene = visits_scene(visitors, one_face_photos(visitors, recognizer.detector))
    clip = folder / "visits.avi"
    write_clip(clip, scene, seconds=scene[-1].leave_s + 0.6, enrolled=enrolled, load_photo=lfw40_photo)
    return clip, make_lfw40_gallery(folder / "known_faces", enrolled)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "history.png")
    parser.add_argument("--work", type=Path, help="folder for the clip and known_faces (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = args.work or Path(tempfile.mkdtemp(prefix="facecam-history-"))
    os.environ.setdefault("FACECAM_CONFIG_DIR", str(work / "config"))   # no user settings (no notifications)

    from facecam.gui.app import create_app
    from facecam.gui.main_window import MainWindow, WindowOptions
    from facecam.gui.workers import build_recognizer

    app = create_app([])
    recognizer = build_recognizer("sface")
    clip, known = make_clip(work, recognizer)
    from facecam.gallery import Gallery

    Gallery.for_recognizer(known, recognizer).refresh(recognizer.embed_photo)   # indexed: names from the first visit
    window = MainWindow(WindowOptions(source=str(clip), known_faces=known, model="sface", source_name="front door"),
                        recognizer=recognizer)
    window.resize(1180, 720)
    window.centralWidget().setSizes([520, 660])
    window.side_tabs.setCurrentWidget(window.history_panel)
    window.show()
    deadline = time.monotonic() + 120
    while not window.source_ended and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    window.history_panel.refresh()
    settle = time.monotonic() + 2
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.01)
    rows = window.history_panel.rows()
    window.history_panel.view.selectRow(0)
    app.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.side_tabs.grab().save(str(args.out))
    print(f"{args.out}: {len(rows)} visits ({sum(1 for r in rows if r.sighting.name is None)} unknown)")
    window.close()
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
