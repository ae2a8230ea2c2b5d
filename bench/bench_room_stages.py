"""Where a room's time goes: ``watch --realtime`` on bench_room's clip of 8 faces, every live stage timed.

    .venv/bin/python bench/bench_room_stages.py [--runs 1] [--model vgg-face] [--vgg-runtime openvino-bf16]
        [--detector mtcnn] [--shared-group] [--json PATH]

Builds bench_room's clip (tests/clips.py ``room_scene``: 8 lfw40 faces of ~55 px at once from 0.5 s),
then runs ``python -m facecam watch --realtime`` in a child process that wraps the pipeline's stages
with timers before the command starts (nothing in facecam changes): the recognition thread's rounds
(the motion gate, colour conversion, detection and each MTCNN network, the look signatures, the
tracker, alignment, each model call, matching, the quality judge, the tracker's results, the round
listeners) and the other threads' work (frame reading, the output loop). Per stage it prints the
wall and CPU milliseconds (the calling thread's: OpenVINO's own worker thread is not counted) from
the start of the round that embeds the first face to the end of the 8th embedding, and per round:
when it started, its detection and how many faces it embedded. As bench_room, the child runs in a
scheduling group of its own at this process's niceness (``--shared-group``: in this session's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SECONDS = 10.0
ENTER_S = 0.5

# (module, attribute path, stage name): what the child wraps (a method of a class, or a module function)
STAGES = (
    ("facecam.pipeline", "LivePipeline.process", "round"),
    ("facecam.pipeline", "LivePipeline._gated", "motion gate"),
    ("facecam.pipeline", "bgr_to_rgb", "bgr->rgb"),
    ("facecam.recognizer", "Recognizer.find_faces", "detect"),
    ("facecam.mtcnn_openvino", "Networks.run", "mtcnn network"),
    ("facecam.mtcnn_openvino", "resize_area", "mtcnn pyramid resize"),
    ("facecam.mtcnn_openvino", "crop_and_resize", "mtcnn crops"),
    ("facecam.pipeline", "signatures", "looks"),
    ("facecam.tracker", "FaceTracker.update", "tracker update"),
    ("facecam.pipeline", "LivePipeline._to_embed", "choose faces"),
    ("facecam.recognizer", "align_faces", "align"),
    ("facecam.recognizer", "Recognizer.embed_faces", "embed (align+model)"),
    ("facecam.embedders.vgg_openvino", "OpenVinoForward.__call__", "vgg network"),
    ("facecam.recognizer", "Recognizer.match", "match"),
    ("facecam.recognizer", "Recognizer.judge", "quality judge"),
    ("facecam.tracker", "FaceTracker.add_result", "tracker result"),
    ("facecam.pipeline", "LivePipeline._tell", "round listeners"),
    ("facecam.tracker", "FaceTracker.boxes_at", "output: boxes_at"),
    ("facecam.sources", "VideoSource._publish", "reader: publish"),
)

CHILD = r'''
import atexit, importlib, json, sys, threading, time, functools
stages, log = json.loads(sys.argv[1]), sys.argv[2]
records = []
def wrap(module, path, name):
    owner = importlib.import_module(module)
    *parents, attr = path.split(".")
    for p in parents:
        owner = getattr(owner, p)
    original = getattr(owner, attr)
    @functools.wraps(original)
    def timed(*a, **k):
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            return original(*a, **k)
        finally:
            records.append((name, threading.current_thread().name, w0, time.perf_counter() - w0,
                            time.thread_time() - c0))
    setattr(owner, attr, timed)
for module, path, name in stages:
    try:
        wrap(module, path, name)
    except (ImportError, AttributeError):
        pass
def dump():
    with open(log, "w") as f:
        json.dump({"records": records, "process_cpu": time.process_time()}, f)
atexit.register(dump)
from facecam.__main__ import main
sys.exit(main(sys.argv[3:]))
'''


def run_child(clip: Path, known: Path, args, weights: Path | None, tmp: Path) -> tuple[dict, list[dict], dict]:
    events, summary, log = tmp / "events.jsonl", tmp / "summary.json", tmp / "stages.json"
    argv = ["watch", "--source", str(clip), "--realtime", "--model", args.model, "--detector", args.detector,
            "--known-faces", str(known), "--events", str(events), "--summary", str(summary),
            *(["--vgg-runtime", args.vgg_runtime] if args.model == "vgg-face" else []),
            *(["--weights", str(weights)] if weights else [])]
    from bench_room import run_in_own_group

    child = [sys.executable, "-c", CHILD, json.dumps(STAGES), str(log), *argv]
    result = (subprocess.run(child, cwd=ROOT, capture_output=True, text=True) if args.shared_group
              else run_in_own_group(child, cwd=ROOT))
    if result.returncode != 0:
        raise SystemExit(f"watch failed:\n{result.stderr[-3000:]}")
    return (json.loads(summary.read_text()), [json.loads(line) for line in events.read_text().splitlines() if line],
            json.loads(log.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--model", default="vgg-face")
    parser.add_argument("--vgg-runtime", default="openvino-bf16")
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--json", type=Path, help="also write every run's stage table and rounds here")
    parser.add_argument("--shared-group", action="store_true",
                        help="run watch in this session's scheduling group, as bench_room did before run_in_own_group")
    args = parser.parse_args()

    from bench_room import index
    from clips import make_lfw40_gallery, room_people, room_scene, score_events, write_room_clip
    from facecam.detector import DetectorOptions, build_detector

    out = []
    with tempfile.TemporaryDirectory(prefix="bench-room-stages-") as folder:
        tmp = Path(folder)
        people, photos = room_people(build_detector("mtcnn", DetectorOptions(min_face_size=40)))
        clip = tmp / "room.avi"
        truth = write_room_clip(clip, room_scene(people, photos, enter_s=ENTER_S), seconds=SECONDS)
        known = make_lfw40_gallery(tmp / "known_faces", people)
        weights = args.vgg_weights
        if args.model == "vgg-face" and weights is None:
            from vgg_fixtures import write_vggface_weights

            weights = write_vggface_weights(tmp / "vgg_face_weights.h5")
        index(known, args.model, args.detector, weights if args.model == "vgg-face" else None)
        for run in range(args.runs):
            load_before = os.getloadavg()[0]
            summary, events, log = run_child(clip, known, args, weights, tmp)
            firsts = sorted(score_events(events, truth)["first_label_latency_s"].values())
            out.append(report(run, log["records"], events, firsts, load_before, os.getloadavg()[0]))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


def report(run: int, records: list, events: list[dict], firsts: list[float], load_before: float,
           load_after: float) -> dict:
    """Print and return one run's stage table over the window from the faces' first frame to the last face's
    first embedding (times in the source clock are mapped to wall time by the output loop's events)."""
    rounds = sorted((r for r in records if r[0] == "round"), key=lambda r: r[2])
    detects = sorted((r for r in records if r[0] == "detect"), key=lambda r: r[2])
    # the window: from the first round that detected faces (the faces' first frame is at most a round earlier)
    # to the end of the round that gave the last first embedding; found as the rounds from the first detect
    # with faces onwards until every face was embedded once: the rounds that embedded (counted by vgg/sface calls)
    calls = sorted((r for r in records if r[0] in ("embed (align+model)",)), key=lambda r: r[2])
    if not calls:
        print("no embeddings")
        return {}
    first_call = calls[0][2]
    start = max((r[2] for r in rounds if r[2] <= first_call), default=first_call)
    end = calls[min(len(calls), 8) - 1][2] + calls[min(len(calls), 8) - 1][3]
    window = end - start
    total = defaultdict(lambda: [0, 0.0, 0.0])
    for name, thread, w0, wall, cpu in records:
        if start <= w0 < end:
            key = (name, "recognition" if thread == "facecam-recognition" else
                   "reader" if thread.startswith("facecam-capture") else thread)
            total[key][0] += 1
            total[key][1] += wall
            total[key][2] += cpu
    print(f"\nrun {run + 1}: first embeddings {', '.join(f'{v:.2f}' for v in firsts)} s "
          f"(median {statistics.median(firsts):.2f}, max {max(firsts):.2f}); load {load_before:.2f}/{load_after:.2f}")
    print(f"window: the round before the first embedding to the 8th embedding: {window * 1000:.0f} ms")
    print("| stage | thread | calls | wall ms | CPU ms |\n|---|---|---:|---:|---:|")
    rows = []
    for (name, thread), (n, wall, cpu) in sorted(total.items(), key=lambda kv: (kv[0][1], -kv[1][1])):
        print(f"| {name} | {thread} | {n} | {wall * 1000:.1f} | {cpu * 1000:.1f} |")
        rows.append({"stage": name, "thread": thread, "calls": n, "wall_ms": wall * 1000, "cpu_ms": cpu * 1000})
    print("rounds in the window (ms from its start: round start, detect, round wall, faces embedded):")
    timeline = []
    for r in rounds:
        if start - 0.5 <= r[2] < end + 0.3:
            inside = [c for c in calls if r[2] <= c[2] < r[2] + r[3]]
            det = [d for d in detects if r[2] <= d[2] < r[2] + r[3]]
            item = {"at_ms": (r[2] - start) * 1000, "detect_ms": det[0][3] * 1000 if det else 0.0,
                    "round_ms": r[3] * 1000, "embedded": len(inside),
                    "embed_ms": [round(c[3] * 1000, 1) for c in inside]}
            timeline.append(item)
            print(f"  {item['at_ms']:7.0f} detect {item['detect_ms']:6.1f} round {item['round_ms']:6.1f} "
                  f"faces {item['embedded']} {item['embed_ms']}")
    return {"firsts": firsts, "window_ms": window * 1000, "stages": rows, "rounds": timeline,
            "load": [load_before, load_after]}


if __name__ == "__main__":
    sys.exit(main())
