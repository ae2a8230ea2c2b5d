"""How quickly facecam gives control back: the figures the tests used to assert as wall-clock bounds (issue 19
moved them here: a test asserts the outcome, a CPU hog beside it may not break it).

    nice -n 10 .venv/bin/python bench/bench_responsive.py [--repeat 5] [--json]

Measured (median and max of ``--repeat`` runs, seconds), each through facecam's own API as the tests drive it:

* pipeline stop: ``LivePipeline.stop()`` of an idle recognition thread (tests/test_pipeline.py);
* stream open returns: ``open_source`` of a stream that never answers (the open runs on the capture thread);
* stream gives up: the same stream, until ``wait_opened`` is False (its ``open_timeout_s`` is 1 s);
* camera stop: ``VideoSource.stop()`` of a healthy camera-like backend (tests/test_sources.py's fake);
* 20 offers: ``Notifier.offer`` x 20 with one webhook that hangs and one whose port refuses (test_notify.py);
* gallery notices: a photo copied into known_faces until ``GalleryWatcher`` reports the new person (SFace,
  interval 0.5 s, settle 0.3 s; tests/test_gallery.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def pipeline_stop() -> float:
    from test_pipeline import NO_GATE, SlowDetector, StubRecognizer

    from facecam.matcher import GalleryMatrix
    from facecam.pipeline import LivePipeline

    pipeline = LivePipeline(StubRecognizer(SlowDetector(0.0)), lambda: GalleryMatrix.empty(4), motion=NO_GATE).start()
    time.sleep(0.2)
    started = time.monotonic()
    assert pipeline.stop(timeout=30.0)
    return time.monotonic() - started


def silent_stream() -> tuple[float, float]:
    from facecam.sources import open_source

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    try:
        started = time.monotonic()
        source = open_source(f"http://127.0.0.1:{server.getsockname()[1]}/video.mjpg", open_timeout_s=1.0)
        returned = time.monotonic() - started
        assert not source.wait_opened(30) and "did not answer" in str(source.error)
        gave_up = time.monotonic() - started
        source.stop()
        return returned, gave_up
    finally:
        server.close()


def camera_stop() -> float:
    from test_sources import FakeCapture

    from facecam.sources import open_source

    source = open_source(0, backend=lambda spec: FakeCapture(period=0.01))
    assert source.latest(timeout=30) is not None
    started = time.monotonic()
    assert source.stop(timeout=30.0)
    return time.monotonic() - started


def twenty_offers() -> float:
    from servers import WebhookServer, free_port
    from test_notify import arrival

    from facecam.sightings.notify import Notifier, WebhookSink

    hanging = WebhookServer(mode="hang", hang_s=3.0)
    notifier = Notifier([WebhookSink(hanging.url, timeout_s=0.5), WebhookSink(f"http://127.0.0.1:{free_port()}/x")],
                        cooldown_s=0, max_queue=3, backoff_s=0.05, max_backoff_s=0.1, max_attempts=2)
    jpeg = b"\xff\xd8\xff\xd9"
    try:
        started = time.perf_counter()
        for n in range(20):
            notifier.offer(arrival(jpeg, f"person {n}"))
        return time.perf_counter() - started
    finally:
        notifier.close(0)
        hanging.close()


def gallery_notices(recognizer, folder: Path) -> float:
    from conftest import LFW10

    from facecam.gallery import Gallery, GalleryWatcher

    known = folder / "known_faces"
    shutil.rmtree(known, ignore_errors=True)
    (known / "Tony_Blair").mkdir(parents=True)
    shutil.copy(LFW10 / "Tony_Blair" / "Tony_Blair_0001.jpg", known / "Tony_Blair")
    changed = threading.Event()
    names: list[str] = []

    def on_change(matrix, report):
        names[:] = list(matrix.names)
        changed.set()

    watcher = GalleryWatcher(Gallery.for_recognizer(known, recognizer), recognizer.embed_photo, on_change,
                             interval_s=0.5, settle_s=0.3).start()
    try:
        assert changed.wait(60)
        changed.clear()
        (known / "Jacques Chirac").mkdir()
        started = time.monotonic()
        shutil.copy(LFW10 / "Jacques_Chirac" / "Jacques_Chirac_0001.jpg", known / "Jacques Chirac")
        assert changed.wait(60) and "Jacques Chirac" in names
        return time.monotonic() - started
    finally:
        watcher.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from facecam.recognizer import build_recognizer

    recognizer = build_recognizer("sface")
    runs: dict[str, list[float]] = {k: [] for k in ("pipeline stop", "stream open returns", "stream gives up",
                                                     "camera stop", "20 offers", "gallery notices")}
    with tempfile.TemporaryDirectory(prefix="facecam-bench-responsive-") as folder:
        for _ in range(args.repeat):
            runs["pipeline stop"].append(pipeline_stop())
            returned, gave_up = silent_stream()
            runs["stream open returns"].append(returned)
            runs["stream gives up"].append(gave_up)
            runs["camera stop"].append(camera_stop())
            runs["20 offers"].append(twenty_offers())
            runs["gallery notices"].append(gallery_notices(recognizer, Path(folder)))
    load = os.getloadavg()
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load": [round(v, 1) for v in load],
              "repeat": args.repeat,
              "seconds": {k: {"median": round(statistics.median(v), 4), "max": round(max(v), 4)} for k, v in runs.items()}}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{result['machine']}, load {result['load']}, {args.repeat} runs each")
        for key, value in result["seconds"].items():
            print(f"  {key:<20} median {value['median']:.4f} s   max {value['max']:.4f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
