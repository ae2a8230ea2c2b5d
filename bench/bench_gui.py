"""How long the window's event loop is ever blocked, while the model loads and while recognition runs.

    .venv/bin/python bench/bench_gui.py [--seconds 20] [--model sface|vgg-face] [--vgg-weights PATH]   (offscreen Qt)
    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python bench/bench_gui.py   (X11)

A probe QTimer ticks every 10 ms on the GUI thread and records the gap between ticks: a
gap well above 10 ms means the event loop was blocked (by the window's own work or by a
worker thread holding the GIL). The window runs exactly as ``python main.py`` does (the
model is built on its loader thread, known_faces indexed on the gallery thread) on a
640x480 30 fps clip of real photos (tests/clips.py: two enrolled people and a stranger),
with MTCNN and the SFace built into facecam (or VGG-Face: --model vgg-face). Prints, per phase, the max, p99 and median
gap, the frames painted per second, the recognition rounds, and the cost of one display
tick (pull the newest frame, labels_at, annotate, QImage).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to measure once recognition runs")
    parser.add_argument("--model-dir", type=Path, help="folder with the SFace ONNX (default: the built-in copy)")
    parser.add_argument("--model", choices=("sface", "vgg-face"), default="sface")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-Face weights (default: a random-weights file of the "
                        "published layout, written to a temporary folder: same speed as the real one)")
    args = parser.parse_args()

    from PyQt5.QtCore import QTimer, Qt

    sys.path.insert(0, str(ROOT / "docs"))
    from screenshot import make_demo

    from facecam.gui.app import create_app
    from facecam.gui.main_window import MainWindow, WindowOptions

    work = Path(tempfile.mkdtemp(prefix="facecam-bench-gui-"))
    try:
        clip, known, models = make_demo(work)
        weights = None
        if args.model == "vgg-face":
            weights = args.vgg_weights
            if weights is None:
                from vgg_fixtures import write_vggface_weights

                weights = write_vggface_weights(work / "vgg_face_weights.h5")
        app = create_app()
        window = MainWindow(WindowOptions(source=str(clip), known_faces=known, model=args.model,
                                          weights=str(weights) if weights else None,
                                          model_dir=str(args.model_dir or models)))
        window.resize(1180, 720)
        window.show()

        ticks: list[tuple[float, str]] = []
        tick_costs: list[float] = []
        original_tick = window._tick

        def timed_tick():
            start = time.perf_counter()
            before = window.frames_shown
            original_tick()
            if window.frames_shown != before:
                tick_costs.append(time.perf_counter() - start)

        window.display_timer.timeout.disconnect()
        window.display_timer.timeout.connect(timed_tick)

        phase = {"name": "loading", "started": time.perf_counter(), "recognising_at": None}

        def probe():
            now = time.perf_counter()
            if phase["name"] == "loading" and window.pipeline is not None and window.pipeline.running:
                phase["name"] = "recognising"
                phase["recognising_at"] = now
                phase["frames_at_start"] = window.frames_shown
                phase["rounds_at_start"] = window.pipeline.stats.rounds
                del tick_costs[:]
            ticks.append((now, phase["name"]))
            if phase["recognising_at"] is not None and now - phase["recognising_at"] >= args.seconds:
                window.close()
                app.quit()
            elif now - phase["started"] > 180:
                print("recognition did not start within 180 s", file=sys.stderr)
                window.close()
                app.quit()

        timer = QTimer()
        timer.setTimerType(Qt.PreciseTimer)
        timer.setInterval(10)
        timer.timeout.connect(probe)
        timer.start()
        app.exec_()

        print(f"# GUI event loop, model {args.model}, Qt platform {app.platformName()}, {platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
        print()
        print("| phase | seconds | max gap ms | p99 gap ms | median gap ms | gaps > 50 ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name in ("loading", "recognising"):
            times = [t for t, p in ticks if p == name]
            gaps = [(b - a) * 1000 for a, b in zip(times, times[1:])]
            if not gaps:
                continue
            print(f"| {name} | {times[-1] - times[0]:.1f} | {max(gaps):.1f} | {percentile(gaps, 99):.1f} | "
                  f"{statistics.median(gaps):.1f} | {sum(g > 50 for g in gaps)} |")
        if phase["recognising_at"] is not None:
            seconds = ticks[-1][0] - phase["recognising_at"]
            frames = window.frames_shown - phase["frames_at_start"]
            rounds = window.pipeline.stats.rounds - phase["rounds_at_start"]
            costs = [c * 1000 for c in tick_costs]
            print()
            print(f"while recognising: {frames / seconds:.1f} frames painted/s (source 30), "
                  f"{rounds / seconds:.1f} recognition rounds/s, last round {window.pipeline.stats.last_round_s * 1000:.0f} ms; "
                  f"display tick median {statistics.median(costs):.1f} ms, p99 {percentile(costs, 99):.1f} ms, "
                  f"max {max(costs):.1f} ms")
        print(f"model loading + first indexing: {(phase['recognising_at'] or ticks[-1][0]) - phase['started']:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
