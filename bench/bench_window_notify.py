"""Dead notification endpoints cost the window's video nothing: the window plays the 20-person clip with
no notifications, then with endpoints that hang or refuse.

    .venv/bin/python bench/bench_window_notify.py [--runs 1]   (offscreen Qt)

The clip is bench_notify's (tests/clips.py: 640x480, 30 fps, 20 lfw40 people each appearing once
for 2.4 s, 16 enrolled, 4 strangers, sometimes two at once). The window runs as ``python main.py``
does, given the SFace recognizer (built into facecam) built once, with known_faces indexed
first. **none**: visits logged, no notifications; **dead**: a webhook that hangs (answers nothing
for 60 s; 5 s client timeout), a webhook whose port refuses, and an MQTT URL where no broker
listens, set as the window's notification settings. Measured from the first frame painted to the
end of the clip: frames painted per second (source 30), a 10 ms probe timer's longest gap on the
GUI thread, the visits in the History tab, and each endpoint's counts at close.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "docs")]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def play(app, clip: Path, known: Path, recognizer, notify) -> dict:
    import shutil

    from PyQt5.QtCore import QTimer, Qt

    from facecam.gui.main_window import MainWindow, WindowOptions

    work = Path(tempfile.mkdtemp(prefix="facecam-bench-wn-"))
    known = Path(shutil.copytree(known, work / "known_faces"))
    window = MainWindow(WindowOptions(source=str(clip), known_faces=known, model="sface", source_name="door",
                                      notify=notify), recognizer=recognizer)
    window.resize(1180, 720)
    window.show()
    ticks: list[float] = []
    first = {}

    def probe():
        now = time.perf_counter()
        if window.frames_shown and "t" not in first:
            first.update(t=now, frames=window.frames_shown)
        if "t" in first:
            ticks.append(now)

    timer = QTimer()
    timer.setTimerType(Qt.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(probe)
    timer.start()
    deadline = time.monotonic() + 180
    while not window.source_ended and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.001)
    ended = time.perf_counter()
    frames = window.frames_shown - first["frames"]
    timer.stop()
    window.history_panel.refresh()
    settle = time.monotonic() + 1.5
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.005)
    visits = len(window.history_panel.rows())
    notifier = window.sightings.notifier
    started_close = time.perf_counter()
    window.shutdown()
    close_s = time.perf_counter() - started_close
    gaps = sorted((b - a) * 1000 for a, b in zip(ticks, ticks[1:]))
    return {"fps": frames / (ended - first["t"]), "max_gap": gaps[-1], "p99": gaps[int(0.99 * (len(gaps) - 1))],
            "median_gap": statistics.median(gaps), "visits": visits, "close_s": close_s,
            "sinks": notifier.summary()["sinks"] if notifier is not None else {}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    from history_screenshot import make_clip
    from servers import WebhookServer, free_port

    from facecam.gallery import Gallery
    from facecam.gui.app import create_app
    from facecam.gui.notify_settings import NotifySettings
    from facecam.gui.workers import build_recognizer

    os.environ.setdefault("FACECAM_CONFIG_DIR", tempfile.mkdtemp(prefix="facecam-bench-config-"))
    app = create_app([])
    recognizer = build_recognizer("sface")
    clip, known = make_clip(Path(tempfile.mkdtemp(prefix="facecam-bench-wn-clip-")), recognizer, people=20)
    Gallery.for_recognizer(known, recognizer).refresh(recognizer.embed_photo)
    hanging = WebhookServer(mode="hang", hang_s=60)
    dead = NotifySettings(webhooks=(hanging.url, f"http://127.0.0.1:{free_port()}/hook"),
                          mqtt=f"mqtt://127.0.0.1:{free_port()}/facecam")
    print("| run | endpoints | frames painted/s (source 30) | probe max gap / p99 / median (ms) | visits in History | "
          "events sent / failed / dropped / unsent (each endpoint) | closing (s) | load average |")
    print("|---|---|---:|---:|---:|---|---:|---|")
    for run in range(1, args.runs + 1):
        for name, notify in (("none", NotifySettings()), ("dead", dead)):
            r = play(app, clip, known, recognizer, notify)
            sinks = "; ".join(f"{k} {v['sent']} / {v['failed']} / {v['dropped']} / {v['unsent']}"
                              for k, v in r["sinks"].items()) or "-"
            load = os.getloadavg()
            print(f"| {run} | {name} | {r['fps']:.2f} | {r['max_gap']:.0f} / {r['p99']:.0f} / {r['median_gap']:.1f} | "
                  f"{r['visits']} | {sinks} | {r['close_s']:.2f} | {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |",
                  flush=True)
    hanging.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
