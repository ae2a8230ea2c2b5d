"""The live pipeline on a 640x480 30 fps clip built from real photos, against a naive loop.

    .venv/bin/python bench/bench_live.py [--seconds 12] [--vgg-weights PATH]

For each model (SFace, and VGG-Face on a random-weights file of the published
layout unless --vgg-weights gives the real one) it runs, each in its own process:

* facecam: ``python -m facecam watch --realtime`` (the window's pipeline: newest frame
  wins, tracking, embedding only new faces and re-checks);
* naive: what the tutorials do: read a frame, detect, embed every face, match,
  draw, show; the next frame is the newest one when the loop comes back.

and reports output fps (frames shown per second), time from a face's appearance to
its RIGHT name on screen (an enrolled person's own name; ground truth from the clip; for the
naive loop this includes the time the frame waits for its own recognition before it is shown),
and to its first label of any kind (a wrong name counts there), per-frame label accuracy after
the first label (against who is really there), embeddings computed and CPU seconds.
With random VGG-Face weights the names are meaningless: accuracy is reported for
SFace (real model) only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from clips import DEFAULT_SCENE, Truth, make_gallery, score_events, write_clip  # noqa: E402


def sface_dir() -> Path:
    from facecam.models import BUILTIN_DIR

    return BUILTIN_DIR  # SFace is built into facecam


def run_child(argv: list[str]) -> tuple[float, float]:
    """Run a child process; returns (wall seconds, CPU seconds user+sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}... failed:\n{result.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def naive_loop(args) -> int:
    """The tutorial loop, paced like a camera: detect + embed every face of the newest frame, then show it."""
    from facecam.annotate import FaceAnnotator, Label
    from facecam.cli import Session, build_parser
    from facecam.console import Output
    from facecam.sources import open_source

    parsed = build_parser().parse_args(["identify", "--model", args.model, "--known-faces", args.known_faces,
                                        "--model-dir", args.model_dir, *(["--weights", args.weights] if args.weights
                                                                         else []), "x"])
    session = Session(parsed, Output(False))
    recognizer = session.recognizer()
    gallery = session.gallery().matrix()
    annotator = FaceAnnotator(show_distances=True)
    source = open_source(args.source, realtime=True)
    source.wait_opened(10)
    events, last, embeddings = [], None, 0
    started = time.monotonic()
    while True:
        frame = source.latest(after_seq=last, timeout=0.5)
        if frame is None:
            if source.done:
                break
            continue
        last = frame.seq
        taken = time.monotonic()
        result = recognizer.recognize(frame.bgr_frame, gallery)
        embeddings += len(result.faces)
        labels = [Label(tuple(face.box), match.name, match.distance) for face, match in zip(result.faces, result.matches)]
        annotator.annotate(frame.bgr_frame, labels)
        # shown now: its labels reach the screen this much after the frame was captured
        events.append({"frame": frame.seq - 1, "t": frame.t_source + (time.monotonic() - taken),
                       "faces": [{"box": list(label.box), "name": label.name} for label in labels]})
    wall = time.monotonic() - started
    source.stop()
    Path(args.events).write_text("\n".join(json.dumps(e) for e in events))
    Path(args.summary).write_text(json.dumps({"frames_in": source.frames_read, "frames_out": len(events),
                                              "fps_out": len(events) / wall, "embeddings_computed": embeddings}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--models", default="sface,vgg-face")
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("model", "known_faces", "model_dir", "weights", "source", "events", "summary"):
        parser.add_argument(f"--{hidden.replace('_', '-')}", dest=hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        return naive_loop(args)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        truth: list[Truth] = write_clip(clip, DEFAULT_SCENE, seconds=args.seconds)
        known = make_gallery(tmp / "known_faces")
        models = {}
        if "sface" in args.models:
            models["sface"] = (str(sface_dir()), None)
        if "vgg-face" in args.models:
            weights = args.vgg_weights
            if weights is None:
                from vgg_fixtures import write_vggface_weights

                weights = write_vggface_weights(tmp / "vgg_face_weights.h5")
            models["vgg-face"] = (str(tmp), str(weights))
        for model, (model_dir, weights) in models.items():
            # index once so both runs start with a warm cache
            subprocess.run([sys.executable, "-m", "facecam", "index", "--model", model, "--known-faces", str(known),
                            "--model-dir", model_dir, *(["--weights", weights] if weights else [])],
                           cwd=ROOT, check=True, capture_output=True)
            for kind in ("facecam", "naive"):
                events, summary = tmp / f"{model}-{kind}.jsonl", tmp / f"{model}-{kind}.json"
                common = ["--model", model, "--known-faces", str(known), "--model-dir", model_dir,
                          *(["--weights", weights] if weights else []), "--events", str(events),
                          "--summary", str(summary)]
                if kind == "facecam":
                    argv = [sys.executable, "-m", "facecam", "watch", "--source", str(clip), "--realtime", *common]
                else:
                    argv = [sys.executable, __file__, "--naive", "--source", str(clip), *common]
                wall, cpu = run_child(argv)
                data = json.loads(summary.read_text())
                score = score_events([json.loads(line) for line in events.read_text().splitlines() if line], truth)
                latencies = list(score["first_label_latency_s"].values())
                right = list(score["first_right_latency_s"].values())
                never_right = sorted(set(score["first_label_latency_s"]) - {"stranger"} - set(score["first_right_latency_s"]))
                rows.append({
                    "model": model, "pipeline": kind, "frames_in": data["frames_in"], "frames_out": data["frames_out"],
                    "fps_out": data["fps_out"], "first_label_median_s": statistics.median(latencies) if latencies else None,
                    "first_label_max_s": max(latencies) if latencies else None,
                    "right_name_median_s": statistics.median(right) if right else None,
                    "right_name_max_s": max(right) if right else None,
                    "never_named_right": never_right if weights is None else None,
                    "label_accuracy": score["label_accuracy"] if weights is None else None,
                    "embeddings": data["embeddings_computed"], "cpu_s": cpu, "process_wall_s": wall,
                })
                print(json.dumps(rows[-1]), file=sys.stderr)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"date {time.strftime('%Y-%m-%d')}; command: .venv/bin/python bench/bench_live.py --seconds {args.seconds:g}")
    print(f"Clip: 640x480, 30 fps, {args.seconds:g} s, {len(DEFAULT_SCENE)} people (2 enrolled, 1 stranger), "
          "built from LFW photos by tests/clips.py\n")
    print("| model | pipeline | output fps (source 30) | right name, median / max (s) | first label of any kind, "
          "median / max (s) | label accuracy | embeddings | CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        accuracy = f"{100 * r['label_accuracy']:.1f} %" if r["label_accuracy"] is not None else "n/a (random weights)"
        first = (f"{r['first_label_median_s']:.2f} / {r['first_label_max_s']:.2f}"
                 if r["first_label_median_s"] is not None else "never")
        if r["never_named_right"] is None:
            right = "n/a (random weights)"
        else:
            right = (f"{r['right_name_median_s']:.2f} / {r['right_name_max_s']:.2f}"
                     if r["right_name_median_s"] is not None else "never")
            right += f" (never: {', '.join(r['never_named_right'])})" if r["never_named_right"] else ""
        print(f"| {r['model']} | {r['pipeline']} | {r['fps_out']:.1f} | {right} | {first} | {accuracy} | "
              f"{r['embeddings']} | {r['cpu_s']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
