"""What the window's History tab costs the GUI thread, with a full day in the log.

    .venv/bin/python bench/bench_history.py [--visits 2000] [--refreshes 20]   (offscreen Qt)

A sightings log in a temporary known_faces gets ``--visits`` visits of today (the panel
shows at most MAX_ROWS = 2000), each with a real face snapshot (a JPEG made by the recorder's
own ``face_snapshot`` from the lfw10 photos in tests/data), names of 10 people and unknown
faces. A HistoryPanel then reads it: the first read (cold: opening the log, decoding every
snapshot) and ``--refreshes`` more while a writer thread saves a visit every 100 ms to the
same log (a busy door) and asks for a refresh after each, as the window does. Measured: the
read on the worker thread (query + new snapshots decoded), the GUI thread's part (rows
swapped into the model, the filter box), and a 10 ms probe timer on the GUI thread (the
longest gap between its ticks: how long the event loop was ever blocked), against the same
probe with nothing to do (the shared machine's own noise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def snapshots() -> list[bytes]:
    import cv2

    from facecam.sightings.recorder import face_snapshot

    photos = sorted((ROOT / "tests" / "data" / "lfw10").glob("*/*.jpg"))
    return [face_snapshot(cv2.imread(str(p)), (70, 70, 110, 110)) for p in photos]


def fill(known: Path, visits: int) -> None:
    from facecam.sightings import Sighting
    from facecam.stores import open_sighting_store
    from facecam.sightings.model import local_now

    jpegs = snapshots()
    people = sorted({p.parent.name for p in (ROOT / "tests" / "data" / "lfw10").glob("*/*.jpg")})
    midnight = local_now().replace(hour=0, minute=0, second=0, microsecond=0)
    span = max((local_now() - midnight).total_seconds() - 60, 60)
    with open_sighting_store(known) as store:
        for n in range(visits):
            start = midnight + timedelta(seconds=span * n / visits)
            store.save(Sighting(id=uuid.uuid4().hex, source="front door", started=start,
                                ended=start + timedelta(seconds=3), t_start=0.0, t_end=3.0,
                                name=None if n % 5 == 0 else people[n % len(people)], distance=0.3,
                                box=(70, 70, 110, 110), snapshot=jpegs[n % len(jpegs)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--refreshes", type=int, default=20)
    args = parser.parse_args()

    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from facecam.gui import history_panel
    from facecam.sightings import Sighting
    from facecam.stores import open_sighting_store
    from facecam.sightings.model import local_now

    known = Path(tempfile.mkdtemp(prefix="facecam-bench-history-")) / "known_faces"
    started = time.perf_counter()
    fill(known, args.visits)
    print(f"log filled: {args.visits} visits in {time.perf_counter() - started:.1f} s, "
          f"{(known / '.facecam' / 'sightings.sqlite').stat().st_size / 1e6:.1f} MB")
    app = QApplication([])

    reads: list[float] = []
    gui: list[float] = []
    original_read, original_show = history_panel.HistoryReader.read, history_panel.HistoryPanel._show

    def timed_read(self, chosen):
        t0 = time.perf_counter()
        try:
            return original_read(self, chosen)
        finally:
            reads.append(time.perf_counter() - t0)

    def timed_show(self, chosen, result):
        t0 = time.perf_counter()
        try:
            return original_show(self, chosen, result)
        finally:
            gui.append(time.perf_counter() - t0)

    history_panel.HistoryReader.read, history_panel.HistoryPanel._show = timed_read, timed_show
    gaps: list[float] = []
    last = [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(probe)
    timer.start()
    panel = history_panel.HistoryPanel(known, poll_ms=3_600_000)
    panel.resize(640, 600)
    panel.show()

    def pump(until):
        while not until():
            app.processEvents()
            time.sleep(0.001)

    pump(lambda: panel.refreshes >= 1)
    cold_read, cold_gui, rows = reads[0], gui[0], len(panel.rows())
    gaps.clear()
    idle_until = time.perf_counter() + 3.0
    pump(lambda: time.perf_counter() > idle_until)      # the baseline: the probe alone, same machine load
    idle = sorted(gaps)
    jpeg = snapshots()[0]
    stop = threading.Event()

    def writer():
        with open_sighting_store(known) as store:
            while not stop.wait(0.1):
                now = local_now()
                store.save(Sighting(id=uuid.uuid4().hex, source="front door", started=now, ended=now, t_start=0.0,
                                    t_end=0.0, name=None, box=(70, 70, 110, 110), snapshot=jpeg))
                panel_ask.append(1)

    panel_ask: list[int] = []
    asked = [0]

    def ask():
        while asked[0] < len(panel_ask):
            asked[0] += 1
            panel.refresh_soon()

    asker = QTimer()
    asker.setInterval(5)
    asker.timeout.connect(ask)   # the window's saved signal arrives on the GUI thread the same way
    asker.start()
    gaps.clear()
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    pump(lambda: panel.refreshes >= 1 + args.refreshes)
    stop.set()
    thread.join()
    warm_reads, warm_gui = reads[1:], gui[1:]
    panel.close_log()
    ordered = sorted(gaps)
    print(f"rows shown: {rows} (cold), {len(panel.rows())} (end)")
    print(f"cold: read {cold_read * 1000:.0f} ms (worker thread), GUI thread {cold_gui * 1000:.1f} ms")
    print(f"warm ({len(warm_reads)} refreshes, a visit saved every 100 ms): read median "
          f"{statistics.median(warm_reads) * 1000:.0f} ms, max {max(warm_reads) * 1000:.0f} ms (worker); GUI thread "
          f"median {statistics.median(warm_gui) * 1000:.1f} ms, max {max(warm_gui) * 1000:.1f} ms")
    print(f"probe timer (10 ms) during the warm refreshes: max gap {ordered[-1] * 1000:.0f} ms, "
          f"p99 {ordered[int(0.99 * (len(ordered) - 1))] * 1000:.0f} ms, median {statistics.median(gaps) * 1000:.1f} ms")
    print(f"probe timer, 3 s with nothing to do (the machine's own noise): max gap {idle[-1] * 1000:.0f} ms, "
          f"p99 {idle[int(0.99 * (len(idle) - 1))] * 1000:.0f} ms, median {statistics.median(idle) * 1000:.1f} ms")
    print("uptime:", os.popen("uptime").read().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
