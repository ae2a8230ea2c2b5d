"""What an idle camera costs, and whether the motion gate delays arrivals (issue 20).

    .venv/bin/python bench/bench_idle.py [--seconds 90] [--part cpu|arrivals|both] [--clips mjpeg,raw]

1. CPU: ``facecam watch --realtime`` on an empty, still, lightly noisy room (640x480, 30 fps, sensor
   noise of 2.5 grey levels; tests/motion_clips.py), gated and ungated (``--no-motion-gate``), with MTCNN
   and YuNet (SFace). The process's CPU time (all threads, /proc/PID/stat) is sampled every second; the
   steady figure is the CPU seconds per wall second over the clip's last 45 s (the models were loaded
   long before, however long the start took on a loaded machine). ``--clips mjpeg,raw`` also plays the room
   as uncompressed frames (an AVI of raw YUV 4:2:0: nothing to decode, as a USB camera's raw YUYV; the MJPEG
   clip stays the figure of record).
2. Arrivals: ``watch --realtime --events`` on two clips of people (lfw40 photos) sliding in from the edge
   with 2 s of empty room between them (12 people; the second clip: 12 others, other photos, not tuned
   on), gated and ungated: median and max time from a person's first frame in view to their right name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_room import popen_in_own_group  # noqa: E402
from clips import make_lfw40_gallery  # noqa: E402
from motion_clips import first_named, plan_arrivals, write_clip  # noqa: E402
from visits import LFW40, photos_of  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime + stime, every thread


def watch(argv: list[str]) -> list[tuple[float, float]]:
    """Run ``facecam watch`` with ``argv`` (in a scheduling group of its own at this process's niceness:
    bench_room's :func:`popen_in_own_group`); (wall seconds since start, CPU seconds) once a second."""
    process = popen_in_own_group([sys.executable, "-m", "facecam", "watch", *argv], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    start, samples = time.monotonic(), []
    while process.poll() is None:
        cpu = cpu_seconds(process.pid)
        if cpu is not None:
            samples.append((time.monotonic() - start, cpu))
        time.sleep(1.0)
    if process.returncode != 0:
        raise SystemExit(f"watch {' '.join(argv[:4])}... failed:\n{process.stderr.read()[-2000:]}")
    return samples


def steady_cores(samples: list[tuple[float, float]], last_s: float = 45.0) -> float:
    """CPU seconds per wall second over the clip's last ``last_s`` seconds (models loaded long before, however
    long the start took), leaving out the last 3 s (the end of the clip, closing)."""
    end = samples[-1][0]
    kept = [s for s in samples if end - last_s - 3 <= s[0] <= end - 3]
    (w0, c0), (w1, c1) = kept[0], kept[-1]
    return (c1 - c0) / (w1 - w0)


def gallery(folder: Path, people: list[str]) -> Path:
    """known_faces with each person's first two lfw40 photos (the clips show a later one)."""
    return make_lfw40_gallery(folder / "known_faces", people, photos=(1, 2))


CODECS = {"mjpeg": "MJPG", "raw": "I420"}   # the clip's frames: MJPEG (the figure of record), or raw YUV 4:2:0


def cpu_part(folder: Path, seconds: float, clips: list[str]) -> list[dict]:
    known = gallery(folder, ["Jimmy_Carter"])
    rows = []
    for kind in clips:
        clip = folder / f"still-{kind}.avi"
        write_clip(clip, seconds, fps=30.0, light=False, fourcc=CODECS[kind])
        for detector in ("mtcnn", "yunet"):
            for gated in (True, False):
                samples = watch(["--source", str(clip), "--realtime", "--model", "sface", "--detector", detector,
                                 "--known-faces", str(known), "--no-unknowns", "--no-sightings",
                                 *([] if gated else ["--no-motion-gate"])])
                rows.append({"clip": kind, "detector": detector, "gated": gated,
                             "cores": round(steady_cores(samples), 4),
                             "cpu_s_total": round(samples[-1][1], 1), "wall_s": round(samples[-1][0], 1)})
                print(json.dumps(rows[-1]), flush=True)
        clip.unlink()
    return rows


def arrivals_part(folder: Path) -> list[dict]:
    people = sorted(p.name for p in LFW40.iterdir() if p.is_dir() and len(photos_of(p.name)) >= 5)
    rows = []
    for clip_n, (chosen, photo) in enumerate(((people[:12], 3), (people[12:24], 4))):
        known = gallery(folder / f"g{clip_n}", chosen)
        arrivals = plan_arrivals([(p, photos_of(p)[photo]) for p in chosen])
        clip = folder / f"arrivals{clip_n}.avi"
        write_clip(clip, arrivals[-1].gone + 1.5, arrivals, fps=30.0)
        for gated in (True, False):
            events, summary = folder / f"ev{clip_n}{gated}.jsonl", folder / f"s{clip_n}{gated}.json"
            watch(["--source", str(clip), "--realtime", "--model", "sface", "--known-faces", str(known),
                   "--events", str(events), "--summary", str(summary), "--no-unknowns", "--no-sightings",
                   *([] if gated else ["--no-motion-gate"])])
            frames = [json.loads(line) for line in events.read_text().splitlines()]
            waits = []
            for a in arrivals:
                named = first_named(frames, a)
                waits.append(None if named is None else round(named - a.enter, 3))
            found = [w for w in waits if w is not None]
            stats = json.loads(summary.read_text())
            rows.append({"clip": clip_n + 1, "gated": gated, "named": f"{len(found)}/{len(arrivals)}",
                         "median_s": round(statistics.median(found), 3), "max_s": round(max(found), 3),
                         "detection_rounds": stats["recognition_rounds"], "idle_rounds": stats["idle_rounds"]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--part", choices=("cpu", "arrivals", "both"), default="both")
    parser.add_argument("--clips", default="mjpeg", help="the still room's clips, of mjpeg,raw (default mjpeg)")
    args = parser.parse_args()
    clips = [c for c in args.clips.split(",") if c]
    if not clips or set(clips) - set(CODECS):
        parser.error(f"--clips: expected some of {','.join(CODECS)}, got {args.clips!r}")
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory(prefix="facecam-idle-") as tmp:
        if args.part in ("cpu", "both"):
            cpu_part(Path(tmp), args.seconds, clips)
        if args.part in ("arrivals", "both"):
            arrivals_part(Path(tmp))
    print(f"# load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
