"""Take a screenshot of the real window (docs/window.png) on a clip built from real photos.

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshot.py --demo /tmp/facecam-demo \\
        --out docs/window.png -- --model sface --model-dir /tmp/facecam-demo/models

``--demo DIR`` writes a clip (tests/clips.py: two enrolled people and a stranger, LFW photos)
and its known_faces into DIR, and copies the SFace model built into facecam
(facecam/data/models) into DIR/models; the arguments after ``--`` go to main.py unchanged
(``--source`` and ``--known-faces`` default to the demo's). The window starts exactly as
``python main.py`` does; the picture is grabbed (``QWidget.grab``) once every face on screen
has a name, at least ``--after`` seconds after the start.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="build the demo clip, known_faces and model folder here")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "window.png")
    parser.add_argument("--after", type=float, default=6.0, help="grab no earlier than this (seconds)")
    parser.add_argument("--timeout", type=float, default=90.0, help="grab anyway after this (seconds)")
    parser.add_argument("--size", default="1180x720", help="window size WxH")
    args = parser.parse_args(own)
    if args.demo is not None:
        clip, known, models = make_demo(args.demo)
        if "--source" not in rest:
            rest += ["--source", str(clip)]
        if "--known-faces" not in rest:
            rest += ["--known-faces", str(known)]
        if "--model-dir" not in rest:
            rest += ["--model-dir", str(models)]

    from PyQt5.QtCore import QTimer

    from facecam.gui.app import build_parser, start_window

    app, window, _hooks = start_window(build_parser().parse_args(rest))
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    started = time.monotonic()

    def poll():
        waited = time.monotonic() - started
        names = window.label_names()
        ready = bool(names) and "..." not in names and window.snapshot is not None and "latency" in window.status_text()
        if (waited >= args.after and ready) or waited >= args.timeout:
            window._update_status()  # noqa: SLF001 - the status text as the next timer tick would set it
            args.out.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(args.out), "PNG", 0)
            print(f"{args.out}: {window.width()}x{window.height()} after {waited:.1f} s; labels {names}; "
                  f"status: {window.status_text()}", flush=True)
            window.close()
            return
        QTimer.singleShot(200, poll)

    QTimer.singleShot(200, poll)
    return int(app.exec_())


if __name__ == "__main__":
    sys.exit(main())
