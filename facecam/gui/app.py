"""Start the window: ``python main.py [--source 0|1|PATH|URL] [--known-faces DIR] [--model vgg-face|sface]
[--detector mtcnn|yunet]
[--threshold T] [--weights PATH] [--model-dir DIR] [--db URL]``.

The window appears at once with the picture; the model loads and known_faces is indexed in the
background (progress in the status bar); recognition starts when both are ready.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Sequence

from facecam import config, registry
from facecam.cli import cosine_distance


def build_parser(prog: str = "facecam-window") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="facecam: recognise faces on a webcam, "
                                     "a video file or a stream, live.")
    parser.add_argument("--source", action="append", metavar="SOURCE",
                        help="camera number, video file or rtsp/http URL (default: 0); give it again for more "
                             "cameras in a grid (--source 0 --source rtsp://...; --source-name names them in order)")
    parser.add_argument("--known-faces", type=Path, default=config.DEFAULT_KNOWN_FACES, metavar="DIR",
                        help="the gallery folder: a sub-folder of photos per person (default: ./known_faces)")
    parser.add_argument("--model", choices=sorted(config.MODELS), default=config.DEFAULT_MODEL,
                        help="embedding model (default: vgg-face; downloaded on first use)")
    parser.add_argument("--threshold", type=cosine_distance, metavar="T",
                        help="cosine distance above which a face is Unknown (default: per model)")
    parser.add_argument("--weights", metavar="PATH", help="use this local model file instead of the model folder")
    parser.add_argument("--model-dir", metavar="DIR", help="folder for model files (default: the user cache; "
                        "or FACECAM_MODEL_DIR)")
    parser.add_argument("--detector", choices=list(registry.DETECTORS), default=None,
                        help="face detector: mtcnn or yunet (lighter, no TensorFlow); default: the one chosen in "
                             "the window last time, else mtcnn")
    parser.add_argument("--min-face-size", type=int, default=40, metavar="PX",
                        help="smallest face to find, in pixels (default 40; 20 finds smaller faces, slower)")
    parser.add_argument("--no-unknowns", action="store_true",
                        help="do not keep unknown faces for \"Who's this?\" (the setting \"unknowns\": false: never)")
    parser.add_argument("--learn", action="store_true",
                        help="get better with use: clear sightings add crops to known_faces/NAME/.learned/ (as "
                             "Tools > Learn from clear sightings, which is remembered)")
    parser.add_argument("--blur-strangers", action="store_true",
                        help="blur every face that is not a named person in the History's and the notifications' "
                             "snapshots (as Tools > Blur strangers, which is remembered)")
    parser.add_argument("--no-motion-gate", action="store_true",
                        help="detect on every round even in an empty, still scene (default: while nobody is "
                             "tracked, detection waits for motion; the setting \"motion_gate\": false: never)")
    from facecam.sightings.live import add_live_options  # noqa: PLC0415

    from facecam.db import add_db_option  # noqa: PLC0415

    add_db_option(parser)     # as watch: --db URL (or FACECAM_DB) shares people, Enroll and visits
    add_live_options(parser, several_sources=True)  # as watch: --source-name (one per --source), --notify, --mqtt,
    # --notify-on, ... (over the saved settings)
    return parser


def options_from_args(args: argparse.Namespace):
    from facecam.db import db_url  # noqa: PLC0415
    from facecam.gui.main_window import WindowOptions  # noqa: PLC0415
    from facecam.gui.notify_settings import NotifySettings  # noqa: PLC0415

    notify = NotifySettings.from_args(args)   # checked by run() (a bad URL is a usage error)
    sources, names = source_list(args)
    return WindowOptions(source=sources[0], known_faces=Path(args.known_faces), model=args.model,
                         threshold=args.threshold, weights=args.weights, model_dir=args.model_dir,
                         min_face_size=max(int(args.min_face_size), 12), detector=args.detector,
                         source_name=names[0], more_sources=tuple(zip(sources[1:], names[1:])),
                         record_sightings=not args.no_sightings,
                         keep_days=args.keep_days, notify=notify, unknowns=not args.no_unknowns,
                         db=db_url(args.db), learn=args.learn, motion_gate=not args.no_motion_gate,
                         blur_strangers=args.blur_strangers)


def source_list(args: argparse.Namespace) -> tuple[list[str], list[str | None]]:
    """The sources of ``--source`` (each one a camera; none: camera 0) and their names from ``--source-name``,
    in the same order (a source with no name: None, its display name)."""
    sources = [str(s) for s in (args.source or ["0"])]
    given = args.source_name
    names = list(given) if isinstance(given, (list, tuple)) else [given]
    return sources, (names + [None] * len(sources))[:len(sources)]


class ExceptionHooks:
    """Unhandled exceptions show a dialog instead of killing the app (PyQt5 aborts on an exception
    in a slot when no sys.excepthook is set). Exceptions on other threads are handed to the GUI
    thread through a queued signal; at most a few dialogs are open at once."""

    MAX_OPEN = 3

    def __init__(self, app):
        from PyQt5.QtCore import QObject, Qt, pyqtSignal  # noqa: PLC0415

        class _Bridge(QObject):
            raised = pyqtSignal(str, str)

        self.app = app
        self.bridge = _Bridge()
        self.bridge.raised.connect(self._show, Qt.QueuedConnection)
        self.open_boxes: list = []
        self.shown: list[str] = []

    def install(self) -> "ExceptionHooks":
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        return self

    def _sys_hook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self.app.quit()
            return
        self._report(exc_type, exc, tb)

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        self._report(args.exc_type, args.exc_value, args.exc_traceback,
                     where=f" in thread {args.thread.name}" if args.thread is not None else "")

    def _report(self, exc_type, exc, tb, where: str = "") -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        print(f"facecam: unexpected error{where}:\n{details}", file=sys.stderr, flush=True)
        self.bridge.raised.emit(f"{exc_type.__name__}: {exc}{where}", details)

    def _show(self, summary: str, details: str) -> None:
        from PyQt5.QtWidgets import QMessageBox  # noqa: PLC0415

        self.shown.append(summary)
        self.open_boxes = [box for box in self.open_boxes if box.isVisible()]
        if len(self.open_boxes) >= self.MAX_OPEN:
            return
        box = QMessageBox(QMessageBox.Critical, "facecam: unexpected error",
                          "Something went wrong, but facecam keeps running.\n\n" + summary)
        box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self.open_boxes.append(box)


def create_app(argv: Sequence[str] | None = None):
    from PyQt5.QtCore import Qt  # noqa: PLC0415
    from PyQt5.QtWidgets import QApplication  # noqa: PLC0415

    app = QApplication.instance()
    if app is None:
        from facecam.detector import preload_tensorflow_libraries  # noqa: PLC0415

        preload_tensorflow_libraries()  # before the event loop: the one native load that would freeze it
        # The window draws no OpenGL. Qt's GLX integration loads Mesa's libGL (and its LLVM), which
        # crashes TensorFlow when it is imported afterwards (segfault in its extension module, seen
        # with Xvfb and Mesa on Linux); without it, both live in one process.
        os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")
        QApplication.setAttribute(Qt.AA_EnableHighDpiScaling, True)
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("facecam")
    return app


def start_window(args: argparse.Namespace):
    """QApplication, hooks and the shown window (the caller runs the event loop). The window is None when
    the user chose Quit because --known-faces names no folder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app = create_app()
    hooks = ExceptionHooks(app).install()
    from facecam.gui.known_faces_dialog import resolve_known_faces  # noqa: PLC0415
    from facecam.gui.main_window import MainWindow  # noqa: PLC0415

    known_faces = resolve_known_faces(Path(args.known_faces))  # asks when the folder does not exist
    if known_faces is None:
        return app, None, hooks
    args.known_faces = known_faces
    window = MainWindow(options_from_args(args))
    window.show()
    window.activateWindow()
    # Ctrl-C in the terminal closes the window cleanly (the display timer lets Python see the signal).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    return app, window, hooks


def run(argv: Sequence[str] | None = None, prog: str = "facecam-window") -> int:
    """The window's entry point (``facecam-window``, ``facecam window``, ``main.py``): the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from facecam.errors import FacecamError  # noqa: PLC0415
    from facecam.gui.notify_settings import NotifySettings  # noqa: PLC0415

    try:
        NotifySettings.from_args(args)
    except FacecamError as error:
        parser.error(str(error))          # exit code 2, one line
    names, sources = args.source_name or [], args.source or ["0"]
    if len(names) > len(sources):         # as watch
        parser.error(f"{len(names)} --source-name for {len(sources)} --source; give at most one name per source, "
                     "in the same order")
    from facecam.sealed import check_key  # noqa: PLC0415

    try:   # "encrypt_snapshots": true without FACECAM_KEY: nothing is written in the clear
        check_key(config.load_settings())
    except FacecamError as error:
        print(f"facecam: error: {error}", file=sys.stderr)
        return 1
    app, window, _hooks = start_window(args)
    if window is None:
        print(f"facecam: known_faces folder {args.known_faces} does not exist; give an existing folder with "
              "--known-faces DIR", file=sys.stderr)
        return 2
    return int(app.exec_())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
