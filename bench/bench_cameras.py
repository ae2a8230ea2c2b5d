"""Several cameras in one ``watch`` (issue 20): how it scales with 1, 2, 4 and 8 sources on one set of models.

    .venv/bin/python bench/bench_cameras.py [--cameras 1,2,4,8] [--detector mtcnn] [--vgg-cameras 1,2]
        [--vgg-runtime openvino-bf16] [--runs 1]

Each camera is a copy of the same clip (tests/clips.py ``DEFAULT_SCENE``: 640x480, 30 fps, 12 s, Tony Blair and
George W Bush enrolled from LFW photos 1-3, a stranger, people coming and going), all given to one
``python -m facecam watch --source c1 --source c2 ... --realtime`` in its own process: every file plays at its own
rate, each camera has its own pipeline thread, and the detector and the embedder are shared in fair turns
(facecam.shared_models). Per configuration:

* frames shown: each source's frames out over its frames in (the worst source, and the mean);
* fps out per source (mean over the sources);
* first label: per person and source, from the frame the person appears on to the first frame showing their own
  name (SFace), or their first result of any kind (VGG-Face: a He-scaled random weights file of the published
  layout, so names are meaningless and only the pace counts); median and max over every source's people;
* named right: the share of labelled frames with the right name (SFace), the worst source;
* CPU: the child's user + system time over its wall time (cores), and its peak RSS (``wait4``'s ru_maxrss).

``uptime``'s 1-minute load is printed before and after each run: the machine may be shared (run it at a higher
priority than the other jobs, e.g. ``nice -n -5``, and say the load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from clips import DEFAULT_SCENE, ENROLLED, make_gallery, score_events, write_clip  # noqa: E402

SECONDS = 12.0


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def run_watch(clips: list[Path], known: Path, model: str, detector: str, runtime: str | None,
              weights: Path | None, tmp: Path) -> tuple[dict, list[dict], float, float]:
    """One ``watch --realtime`` of every clip: (summary, events, CPU cores used, peak RSS in MB)."""
    events, summary = tmp / "events.jsonl", tmp / "summary.json"
    argv = [sys.executable, "-m", "facecam", "watch", *[a for clip in clips for a in ("--source", str(clip))],
            "--realtime", "--model", model, "--detector", detector, "--known-faces", str(known),
            "--events", str(events), "--summary", str(summary), "--no-sightings", "--no-unknowns",
            *(["--vgg-runtime", runtime] if runtime else []), *(["--weights", str(weights)] if weights else [])]
    started = time.monotonic()
    with open(tmp / "stderr.txt", "w") as err:
        child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{(tmp / 'stderr.txt').read_text()[-3000:]}")
    cores = (usage.ru_utime + usage.ru_stime) / wall
    return (json.loads(summary.read_text()), [json.loads(line) for line in events.read_text().splitlines() if line],
            cores, usage.ru_maxrss / 1024)


def index(known: Path, model: str, detector: str, weights: Path | None) -> None:
    """Embed the gallery once, so every run starts with a warm cache."""
    subprocess.run([sys.executable, "-m", "facecam", "index", "--model", model, "--detector", detector,
                    "--known-faces", str(known), *(["--weights", str(weights)] if weights else [])],
                   cwd=ROOT, check=True, capture_output=True)


def measure(count: int, clip: Path, known: Path, model: str, detector: str, runtime: str | None,
            weights: Path | None, truth, runs: int, tmp: Path) -> dict:
    clips = []
    for n in range(count):
        clips.append(tmp / f"cam{n + 1}.avi")
        if not clips[-1].exists():
            shutil.copy(clip, clips[-1])
    real_names = weights is None
    latencies, missing, shown, fps, right, cores, rss, loads, turns = [], 0, [], [], [], [], [], [], []
    for _ in range(runs):
        before = load()
        summary, events, used, peak = run_watch(clips, known, model, detector, runtime, weights, tmp)
        loads.append(f"{before}/{load()}")
        cores.append(used)
        rss.append(peak)
        for per in summary["sources"]:
            mine = [event for event in events if event["source"] == per["source"]]
            score = score_events(mine, truth)
            found = score["first_right_latency_s"] if real_names else {
                person: s for person, s in score["first_label_latency_s"].items() if person in ENROLLED}
            latencies += list(found.values())
            missing += len(ENROLLED) - len(found)
            shown.append(per["frames_out"] / len(truth))
            fps.append(per["fps_out"])
            right.append(score["label_accuracy"])
            turns.append(per["most_turns_waited"]["embedder"])
    return {"model": model, "runtime": runtime or "", "detector": detector, "cameras": count, "runs": runs,
            "shown_min": min(shown), "shown_mean": statistics.mean(shown), "fps_out": statistics.mean(fps),
            "first_label_median": statistics.median(latencies) if latencies else None,
            "first_label_max": None if missing or not latencies else max(latencies), "never_labelled": missing,
            "named_right_min": min(right) if real_names else None, "cores": statistics.mean(cores),
            "rss_mb": max(rss), "most_embedder_turns_waited": max(turns), "load": " ".join(loads)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1,2,4,8", help="SFace: comma-separated source counts")
    parser.add_argument("--vgg-cameras", default="1,2", help="VGG-Face (He random weights): source counts ('' none)")
    parser.add_argument("--vgg-runtime", default="openvino-bf16")
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cameras-") as folder:
        tmp = Path(folder)
        clip = tmp / "clip.avi"
        truth = write_clip(clip, DEFAULT_SCENE, seconds=SECONDS)
        known = make_gallery(tmp / "known_faces")
        plan = [("sface", None, None, int(n)) for n in args.cameras.split(",") if n]
        if args.vgg_cameras:
            from vgg_fixtures import write_vggface_weights

            weights = write_vggface_weights(tmp / "vgg_face_weights.h5")
            plan += [("vgg-face", args.vgg_runtime, weights, int(n)) for n in args.vgg_cameras.split(",") if n]
        indexed = set()
        for model, runtime, weights, count in plan:
            if model not in indexed:
                index(known, model, args.detector, weights)
                indexed.add(model)
            row = measure(count, clip, known, model, args.detector, runtime, weights, truth, args.runs, tmp)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"date {time.strftime('%Y-%m-%d %H:%M')}; command (niceness {os.nice(0)}): .venv/bin/python "
          f"bench/bench_cameras.py --cameras {args.cameras} --vgg-cameras '{args.vgg_cameras}' --vgg-runtime "
          f"{args.vgg_runtime} --detector {args.detector} --runs {args.runs}")
    print(f"Clip: DEFAULT_SCENE, 640x480, 30 fps, {SECONDS:g} s, {len(truth)} frames, copied once per camera; one "
          "watch --realtime for all of them\n")
    print("| model | cameras | frames shown, worst / mean | fps out per camera | first label, median / max (s) "
          "| named right (worst camera) | CPU (cores) | peak RSS (MB) | most turns waited | load (1 min, before/after) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")

    def seconds(value) -> str:
        return "never" if value is None else f"{value:.2f}"

    for r in rows:
        model = r["model"] + (f" ({r['runtime']}, random He weights)" if r["runtime"] else "")
        right = "n/a" if r["named_right_min"] is None else f"{100 * r['named_right_min']:.1f} %"
        print(f"| {model} | {r['cameras']} | {100 * r['shown_min']:.1f} / {100 * r['shown_mean']:.1f} % | "
              f"{r['fps_out']:.1f} | {seconds(r['first_label_median'])} / {seconds(r['first_label_max'])} | {right} | "
              f"{r['cores']:.2f} | {r['rss_mb']:.0f} | {r['most_embedder_turns_waited']} | {r['load']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
