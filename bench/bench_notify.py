"""Notifications never cost the video: `watch --realtime` with working, dead and no endpoints.

    .venv/bin/python bench/bench_notify.py [--json]

The clip: 640x480, 30 fps, 20 lfw40 people each appearing once for 2.4 s (16 enrolled from
three other photos, 4 strangers; sometimes two at once), built by tests/clips.py. SFace.
Each configuration runs `facecam watch --realtime` in this process (models loaded afresh):

* none: sightings logged, no notifications;
* live: a webhook (HTTP server on 127.0.0.1) and MQTT (mosquitto on 127.0.0.1) that answer;
* dead: a webhook that hangs (answers nothing for 60 s), a webhook whose port refuses, and an
  MQTT URL where no broker listens.

Reported: display fps (frames shown per second of the clip's playing time: the video's
pace), watch's own fps_out (frames over its whole wall time, which includes up to 5 s
at exit waiting for queued notifications), frames shown / read, first-label median (summary), events
sent / failed / dropped per sink, and for "live" the delay from each person's first frame on the
video to the event's arrival (median / max), webhook and MQTT.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from clips import (lfw40_photo, lfw40_visitors, make_lfw40_gallery, one_face_photos,  # noqa: E402
                   visits_scene, write_clip)
from servers import Broker, Subscriber, WebhookServer, free_port, run_watch_timed  # noqa: E402


def sface_dir() -> Path:
    """The folder of facecam's built-in SFace file."""
    from facecam import models, registry

    return models.builtin_path(registry.model_file("sface")).parent


def delays(received: list[tuple[float, dict]], scene, anchor: float) -> list[float]:
    """Delay of the first event of each visitor (matched by source time and place) from their first frame."""
    out = []
    for actor in scene:
        times = [t for t, e in received if actor.enter_s - 0.1 <= e["t"] <= actor.leave_s
                 and abs(e["box"][0] + e["box"][2] / 2 - actor.x) <= 110]
        if times:
            out.append(min(times) - (anchor + actor.enter_s))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from facecam.detector import MtcnnDetector

    folder = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    visitors, enrolled = lfw40_visitors()
    scene = visits_scene(visitors, one_face_photos(visitors, MtcnnDetector()))
    clip = folder / "visits.avi"
    write_clip(clip, scene, seconds=scene[-1].leave_s + 0.6, enrolled=enrolled, load_photo=lfw40_photo)
    broker = Broker(folder).start()
    results = []
    try:
        for config in ("none", "live", "dead"):
            known = make_lfw40_gallery(folder / f"known-{config}", enrolled)
            extra: list[str] = []
            webhook = subscriber = hanging = None
            prefix = f"bench-{uuid.uuid4().hex[:6]}"
            if config == "live":
                webhook = WebhookServer()
                subscriber = Subscriber(broker.port, [f"{prefix}/events"])
                extra = ["--notify", webhook.url, "--mqtt", f"mqtt://127.0.0.1:{broker.port}/{prefix}"]
            elif config == "dead":
                hanging = WebhookServer(mode="hang", hang_s=60.0)
                extra = ["--notify", hanging.url, "--notify", f"http://127.0.0.1:{free_port()}/hook",
                         "--mqtt", f"mqtt://127.0.0.1:{free_port()}/{prefix}"]
            summary_file = folder / f"summary-{config}.json"
            started = time.monotonic()
            code, anchor, _, err = run_watch_timed(
                ["watch", "--model", "sface", "--model-dir", str(sface_dir()), "--known-faces", str(known),
                 "--source", str(clip), "--realtime", "--summary", str(summary_file), *extra])
            if code != 0:
                raise SystemExit(f"watch failed ({config}):\n{err[-2000:]}")
            summary = json.loads(summary_file.read_text())
            playing_s = summary["frames_in"] / summary["source_fps"]
            row = {"config": config, "display_fps": round(summary["frames_out"] / playing_s, 2),
                   "fps_out": summary["fps_out"], "frames_out": summary["frames_out"],
                   "frames_in": summary["frames_in"],
                   "first_label_median_s": summary["first_label_latency_s"]["median"],
                   "wall_s": round(time.monotonic() - started, 1),
                   "notifications": summary["sightings"].get("notifications")}
            if webhook is not None:
                got = delays(webhook.received, scene, anchor)
                row["webhook_delay_s"] = {"n": len(got), "median": round(statistics.median(got), 3),
                                          "max": round(max(got), 3)}
                time.sleep(0.5)
                mqtt = [(t, json.loads(p)) for t, p in subscriber.on(f"{prefix}/events")]
                got = delays(mqtt, scene, anchor)
                row["mqtt_delay_s"] = {"n": len(got), "median": round(statistics.median(got), 3),
                                       "max": round(max(got), 3)}
                webhook.close()
                subscriber.close()
            if hanging is not None:
                hanging.close()
            results.append(row)
    finally:
        broker.stop()
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "load": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M")}
    if args.json:
        print(json.dumps({"machine": machine, "runs": results}))
        return
    print(f"machine: {machine}")
    print("| endpoints | display fps (source 30) | watch fps_out | frames shown / read | first label median (s) | events sent / failed / dropped / unsent at exit | delay to event, median / max (s) |")  # noqa: E501
    print("|---|---:|---:|---:|---:|---|---|")
    for row in results:
        sinks = (row["notifications"] or {}).get("sinks", {})
        counts = "; ".join(f"{name}: {s['sent']} / {s['failed']} / {s['dropped']} / {s['unsent']}" for name, s in sinks.items()) or "-"
        delay = (f"webhook {row['webhook_delay_s']['median']} / {row['webhook_delay_s']['max']}; "
                 f"MQTT {row['mqtt_delay_s']['median']} / {row['mqtt_delay_s']['max']}") if "webhook_delay_s" in row else "-"
        print(f"| {row['config']} | {row['display_fps']} | {row['fps_out']} | {row['frames_out']} / {row['frames_in']} | "
              f"{row['first_label_median_s']} | {counts} | {delay} |")


if __name__ == "__main__":
    main()
