"""Soak: `watch --realtime` over 10,000+ frames with faces; resident memory, open files, retracing.

    .venv/bin/python bench/soak.py [--frames 10000] [--model vgg-face|sface] [--vgg-weights PATH]

Builds a long 640x480 30 fps clip from real photos (people come and go every 12 s,
so tracks are born and die all along), runs watch on it in a child process and
samples the child's resident memory (VmRSS) and open file descriptors every second.
Reports memory after warm-up (the first 60 s) and at the end, the growth, the
descriptor counts, and how many times VGG-Face's inference graph was traced.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from clips import DEFAULT_SCENE, Actor, make_gallery, write_clip  # noqa: E402

WARMUP_S = 60.0


def looping_scene(seconds: float) -> tuple[Actor, ...]:
    actors = []
    for k in range(int(seconds // 12) + 1):
        for a in DEFAULT_SCENE:
            actors.append(Actor(a.person, 5 + (k % 5), a.enter_s + 12 * k, a.leave_s + 12 * k, a.x, a.y,
                                a.sway_px, a.period_s))
    return tuple(actors)


def sample(pid: int) -> tuple[float, int]:
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--model", default="vgg-face", choices=("vgg-face", "sface"))
    parser.add_argument("--vgg-weights", type=Path)
    args = parser.parse_args()
    seconds = args.frames / 30.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "soak.mp4"
        print(f"writing a {seconds:.0f} s clip...", file=sys.stderr)
        write_clip(clip, looping_scene(seconds), seconds=seconds)
        known = make_gallery(tmp / "known_faces")
        if args.model == "sface":
            from facecam.models import BUILTIN_DIR

            model_args = ["--model-dir", str(BUILTIN_DIR)]
        else:
            weights = args.vgg_weights
            if weights is None:
                from vgg_fixtures import write_vggface_weights

                weights = write_vggface_weights(tmp / "vgg_face_weights.h5")
            model_args = ["--weights", str(weights), "--model-dir", str(tmp)]
        summary = tmp / "summary.json"
        argv = [sys.executable, "-m", "facecam", "watch", "--realtime", "--source", str(clip), "--model", args.model,
                "--known-faces", str(known), *model_args, "--summary", str(summary),
                "--events", str(tmp / "events.jsonl")]
        child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        start = time.monotonic()
        samples = []
        while child.poll() is None:
            try:
                samples.append((time.monotonic() - start, *sample(child.pid)))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(1.0)
        stderr = child.stderr.read()
        if child.returncode != 0:
            raise SystemExit(f"watch failed: {stderr[-2000:]}")
        data = json.loads(summary.read_text())
    # warm-up: from when the video started (the model build and indexing come first)
    video_start = samples[-1][0] - data["wall_s"]
    after = [s for s in samples if s[0] >= video_start + WARMUP_S]
    if not after:
        raise SystemExit("the run was shorter than the warm-up; use more --frames")
    rss_warm, rss_end = after[0][1], after[-1][1]
    rss_peak = max(s[1] for s in after)
    fds = [s[2] for s in after]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}; "
          f"command: .venv/bin/python bench/soak.py --frames {args.frames} --model {args.model}\n")
    print("| model | frames in / out | output fps | RSS after warm-up | RSS end | growth | peak | open fds "
          "(min-max) | embeddings | graph traces |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.model} | {data['frames_in']} / {data['frames_out']} | {data['fps_out']:.1f} | {rss_warm:.0f} MB | "
          f"{rss_end:.0f} MB | {rss_end - rss_warm:+.0f} MB | {rss_peak:.0f} MB | {min(fds)}-{max(fds)} | "
          f"{data['embeddings_computed']} | {data['embedder_traces']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
