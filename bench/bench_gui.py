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

``--clip strangers``: a 30 fps clip of visits instead (tests/visits.py, lfw40): 36 strangers come
twice each with a different photo and two enrolled people now and then, six places on screen, a
new face about every second; unknown faces are collected into the "Who's this?" tab as the window
does by default (``--no-unknowns``: not). Also prints the sightings stored, the tab's refreshes and
what one refresh costs the GUI thread (rebuilding the list).

``--cameras 4``: the window with that many cameras, each on its own copy of the demo clip (a grid of tiles,
every camera recognised with the one model in turns): the same gaps, and each camera's rounds per second. Figures:
BENCHMARKS.md, "Several cameras in the window".

``--panel-rows 2000``: only the "Who's this?" list: what showing N entries costs the GUI thread
the first time, on a refresh with nothing changed, with one new entry and with one moved to the top.
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


def panel_refresh_costs(rows: int) -> int:
    """Print what ``WhosPanel.set_clusters`` costs the GUI thread with ``rows`` entries."""
    import dataclasses

    import numpy as np

    from facecam.gui.app import create_app
    from facecam.gui.whos_control import ClusterView
    from facecam.gui.whos_panel import WhosPanel, row_text, tooltip_text

    _app = create_app()
    panel = WhosPanel()
    rng = np.random.default_rng(0)
    now = time.time()

    def view(i: int, last_seen: float) -> ClusterView:
        plain = ClusterView(f"{i:08x}", 1 + i % 3, now - 3600, last_seen, ("camera 0",), Path(f"/crops/{i}.jpg"),
                            rng.integers(0, 255, (64, 64, 3), np.uint8))
        return dataclasses.replace(plain, text=row_text(plain), tooltip=tooltip_text(plain))

    views = [view(i, now - i) for i in range(rows)]

    def timed(new_views) -> float:
        start = time.perf_counter()
        panel.set_clusters(new_views)
        return (time.perf_counter() - start) * 1000

    first = timed(views)
    same = sorted(timed(views) for _ in range(5))[2]
    newest = view(rows, now + 1)
    added = timed([newest] + views)
    moved = timed([views[rows // 2], newest] + views[:rows // 2] + views[rows // 2 + 1:])
    print(f"Who's this? list, {rows} entries, load {os.getloadavg()[0]:.1f}: first fill {first:.1f} ms, refresh with "
          f"nothing changed {same:.1f} ms (median of 5), one new entry {added:.1f} ms, one moved to the top "
          f"{moved:.1f} ms")
    return 0


STRANGER_ENROLLED = ("Harrison_Ford", "Richard_Gere")


def make_strangers_clip(folder: Path) -> tuple[Path, Path, Path]:
    """A 30 fps clip of visits (about 70 s) and a known_faces of the two enrolled people (other photos)."""
    sys.path.insert(0, str(ROOT / "docs"))
    from screenshot import make_demo
    from visits import LFW40, make_gallery, photos_of, plan_visits, write_visits_clip

    strangers = sorted(p.name for p in LFW40.iterdir() if p.is_dir() and p.name not in STRANGER_ENROLLED)
    visits = plan_visits({p: photos_of(p)[:2] for p in strangers},
                         {p: photos_of(p)[3:5] for p in STRANGER_ENROLLED}, duration=3.0, gap=2.5)
    clip = folder / "strangers.avi"
    write_visits_clip(clip, visits, fps=30.0)
    known = make_gallery(folder / "strangers_known_faces", {p: photos_of(p)[:3] for p in STRANGER_ENROLLED})
    _clip, _known, models = make_demo(folder)
    return clip, known, models


def camera_copies(clip: Path, cameras: int) -> tuple[tuple[str, str], ...]:
    """The cameras after the first: copies of ``clip`` (each its own file, read by its own capture thread)."""
    copies = []
    for n in range(2, cameras + 1):
        copy = clip.with_name(f"{clip.stem}-{n}{clip.suffix}")
        shutil.copy(clip, copy)
        copies.append((str(copy), f"camera {n}"))
    return tuple(copies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to measure once recognition runs")
    parser.add_argument("--model-dir", type=Path, help="folder with the SFace ONNX (default: the built-in copy)")
    parser.add_argument("--model", choices=("sface", "vgg-face"), default="sface")
    parser.add_argument("--clip", choices=("demo", "strangers"), default="demo",
                        help="demo: three people all along; strangers: a new stranger about every second")
    parser.add_argument("--no-unknowns", action="store_true", help="do not collect unknown faces (as main.py --no-unknowns)")
    parser.add_argument("--panel-rows", type=int, help="only time the Who's this? list with this many entries")
    parser.add_argument("--cameras", type=int, default=1, help="this many cameras in the window (a grid from 2 on)")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-Face weights (default: a random-weights file of the "
                        "published layout, written to a temporary folder: same speed as the real one)")
    args = parser.parse_args()
    if args.panel_rows:
        return panel_refresh_costs(args.panel_rows)

    from PyQt5.QtCore import QTimer, Qt

    sys.path.insert(0, str(ROOT / "docs"))
    from screenshot import make_demo

    from facecam.gui.app import create_app
    from facecam.gui.main_window import MainWindow, WindowOptions

    work = Path(tempfile.mkdtemp(prefix="facecam-bench-gui-"))
    os.environ["FACECAM_CONFIG_DIR"] = str(work / "config")   # the defaults, not this user's settings
    try:
        clip, known, models = make_demo(work) if args.clip == "demo" else make_strangers_clip(work)
        weights = None
        if args.model == "vgg-face":
            weights = args.vgg_weights
            if weights is None:
                from vgg_fixtures import write_vggface_weights

                weights = write_vggface_weights(work / "vgg_face_weights.h5")
        app = create_app()
        window = MainWindow(WindowOptions(source=str(clip), known_faces=known, model=args.model,
                                          weights=str(weights) if weights else None,
                                          model_dir=str(args.model_dir or models), unknowns=not args.no_unknowns,
                                          more_sources=camera_copies(clip, args.cameras)))
        window.resize(1180, 720)
        window.show()
        list_costs: list[float] = []
        original_set_clusters = window.whos_panel.set_clusters

        def timed_set_clusters(views):
            start = time.perf_counter()
            original_set_clusters(views)
            list_costs.append(time.perf_counter() - start)

        window.unknowns.clusters.disconnect()
        window.unknowns.clusters.connect(timed_set_clusters)

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
                phase["camera_rounds"] = [c.pipeline.stats.rounds for c in window.cameras]
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

        collection = window.unknowns.collection
        print(f"# GUI event loop, model {args.model}, clip {args.clip}, unknowns "
              f"{'off' if args.no_unknowns else 'collected'}, load {os.getloadavg()[0]:.1f}, Qt platform {app.platformName()}, {platform.machine()}, "
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
        if phase["recognising_at"] is not None and args.cameras > 1:
            print(f"{args.cameras} cameras, recognition rounds/s each: " + ", ".join(
                f"{(c.pipeline.stats.rounds - n) / seconds:.1f}" for c, n in zip(window.cameras, phase["camera_rounds"])))
        if not args.no_unknowns:
            costs = [c * 1000 for c in list_costs] or [float("nan")]
            print(f"unknowns: {window.unknowns.views and sum(v.visits for v in window.unknowns.views)} sightings "
                  f"listed in {len(window.unknowns.views)} entries; {len(list_costs)} tab refreshes, list rebuild on "
                  f"the GUI thread median {statistics.median(costs):.1f} ms, max {max(costs):.1f} ms"
                  + (f"; writer queue dropped {collection.tasks.dropped}" if collection is not None else ""))
        print(f"model loading + first indexing: {(phase['recognising_at'] or ticks[-1][0]) - phase['started']:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
