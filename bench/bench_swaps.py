"""Names that cannot jump (issue 18): the cost of the look check per round, and the time to the new name after a swap.

    .venv/bin/python bench/bench_swaps.py [--runs 1] [--configs sface,vgg-face:openvino-bf16] [--hog]

1. **The check's cost** (facecam.appearance.signatures + the tracker's comparison): per round with 1, 3 and 8
   faces on a 640x480 frame (MTCNN's faces on lfw40 photos), the median of 300 calls, wall and CPU time;
   beside it ``FaceTracker.update`` with and without the faces' looks.
2. **The time to the new name**: the swap clip of tests/swap_clips.py (three places, 24 lfw40 people in turn,
   2.5 s each; 11 direct cuts, 10 swaps after a 0.4 s gap) through ``python -m facecam watch --realtime``, one
   process per configuration as bench_room.py runs it. Per swap, from the first frame of the new person to the
   first output frame whose label at that place comes from an embedding of the new face (a box on another track
   than the one before, not pending; or on the old track after it was shown pending, i.e. verified), and to the
   first on a new track that shows the right name (SFace only:
   VGG-Face runs on He-scaled random weights of the published layout unless --vgg-weights names the real file,
   so its names are meaningless); median and max over the swaps, cuts and gaps apart; and the frames named right
   from 1 s after each arrival (tests/swap_clips.py score_swaps). ``--hog`` runs a busy process beside it, as
   the test does.
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
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from bench_room import index, load, run_watch  # noqa: E402
from swap_clips import make_swap_gallery, score_swaps, swap_people, swap_scene, write_swap_clip  # noqa: E402

CONFIGS = "sface,vgg-face:openvino-bf16"


def check_cost(detector) -> list[dict]:
    """Microseconds per round of the look check for 1, 3 and 8 faces, and of the tracker's update with and without it."""
    import cv2

    from clips import Actor, lfw40_photo
    from facecam.appearance import signatures
    from facecam.tracker import FaceTracker
    from facecam.types import bgr_to_rgb

    people, photos, _ = swap_people(detector, count=8)
    rows = []
    for count in (1, 3, 8):
        frame = np.full((480, 640, 3), 110, np.uint8)
        for i in range(count):   # photos 120 px wide (faces ~60 px) in two rows of four
            x, y = 20 + 155 * (i % 4), 60 + 220 * (i // 4)
            frame[y:y + 120, x:x + 120] = cv2.resize(lfw40_photo(Actor(people[i], photos[i], 0, 1, 0, 0)), (120, 120))
        rgb = bgr_to_rgb(frame)
        faces = detector.detect(rgb, min_face_size=30)

        def timed(fn, repeat=300):
            walls, cpus = [], []
            for _ in range(repeat):
                w, c = time.perf_counter(), time.process_time()
                fn()
                walls.append(time.perf_counter() - w)
                cpus.append(time.process_time() - c)
            return 1e6 * statistics.median(walls), 1e6 * statistics.mean(cpus)

        looks = signatures(rgb, faces.boxes, faces.landmarks)
        tracker_with, tracker_without = FaceTracker(), FaceTracker()
        step = iter(range(10 ** 6))
        sig_wall, sig_cpu = timed(lambda: signatures(rgb, faces.boxes, faces.landmarks))
        with_wall, _ = timed(lambda: tracker_with.update(faces, next(step) / 30, looks))
        without_wall, _ = timed(lambda: tracker_without.update(faces, next(step) / 30))
        rows.append({"faces": len(faces), "signatures_us": sig_wall, "signatures_cpu_us": sig_cpu,
                     "update_with_us": with_wall, "update_without_us": without_wall})
    return rows


def swap_times(events: list[dict], swaps, enrolled) -> dict[str, list]:
    """Per swap, seconds from the new person's first frame to the first label from an embedding of the new face
    (on a new track, or on the old one after it was shown pending: verified), and to the right name (None:
    never); and whether the new face got a track of its own."""
    out: dict[str, list] = {"label": [], "name": [], "new_track": [], "kind": []}
    for swap in swaps:
        x = swap.after.x

        def at_place(event, x=x):
            return [f for f in event["faces"] if abs(f["box"][0] + f["box"][2] / 2 - x) <= 100]

        old_ids = {f["track"] for e in events if swap.before.enter_s + 1.0 <= e["t"] < swap.before.leave_s
                   for f in at_place(e)}
        want = swap.after.person if swap.after.person in enrolled else None
        label = name = None
        verified = new_track = False
        for event in events:
            if not swap.after.enter_s <= event["t"] < swap.after.leave_s:
                continue
            for face in at_place(event):
                if face.get("pending"):
                    verified = True     # what is shown next comes from an embedding of the new face
                    continue
                fresh = face["track"] not in old_ids
                new_track |= fresh
                if not (fresh or verified):
                    continue
                delay = event["t"] - swap.after.enter_s
                label = delay if label is None else label
                if face["name"] == want and name is None and fresh:
                    name = delay
            if label is not None and name is not None:
                break
        out["label"].append(label)
        out["name"].append(name)
        out["new_track"].append(new_track)
        out["kind"].append("cut" if swap.gap_s == 0 else "gap")
    return out


def summarise(values: list[float | None]) -> str:
    found = [v for v in values if v is not None]
    if not found:
        return "never"
    missing = len(values) - len(found)
    return f"{statistics.median(found):.2f} / {max(found):.2f}" + (f" ({missing} never)" if missing else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per configuration (swaps pooled)")
    parser.add_argument("--configs", default=CONFIGS, help=f"comma-separated model[:vgg runtime] (default {CONFIGS})")
    parser.add_argument("--vgg-weights", type=Path, help="the real vgg_face_weights.h5 (default: random weights)")
    parser.add_argument("--hog", action="store_true", help="a busy process beside each run (as tests/test_swaps.py)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    from facecam.detector import DetectorOptions, build_detector

    detector = build_detector("mtcnn", DetectorOptions(min_face_size=40))
    costs = check_cost(detector)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"date {time.strftime('%Y-%m-%d %H:%M')} UTC; load (1 min) {load()}; command (niceness {os.nice(0)}): "
          f".venv/bin/python bench/bench_swaps.py --runs {args.runs} --configs {args.configs}"
          f"{' --hog' if args.hog else ''}\n")
    print("| faces in the round | signatures: wall, median (us) | signatures: CPU, mean (us) | "
          "tracker update with looks (us) | without (us) |")
    print("|---:|---:|---:|---:|---:|")
    for c in costs:
        print(f"| {c['faces']} | {c['signatures_us']:.0f} | {c['signatures_cpu_us']:.0f} | {c['update_with_us']:.0f} | "
              f"{c['update_without_us']:.0f} |")
    sys.stdout.flush()

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-swaps-") as folder:
        tmp = Path(folder)
        people, photos, enrolled = swap_people(detector)
        scene, swaps = swap_scene(people, photos)
        clip = tmp / "swaps.avi"
        write_swap_clip(clip, scene, enrolled)
        known = make_swap_gallery(tmp / "known_faces", enrolled)
        weights = args.vgg_weights
        configs = [c.split(":") if ":" in c else (c, None) for c in args.configs.split(",") if c]
        if weights is None and any(model == "vgg-face" for model, _ in configs):
            from vgg_fixtures import write_vggface_weights

            weights = write_vggface_weights(tmp / "vgg_face_weights.h5")
        indexed = set()
        for model, runtime in configs:
            model_weights = weights if model == "vgg-face" else None
            if model not in indexed:
                index(known, model, "mtcnn", model_weights)
                indexed.add(model)
            times: dict[str, list] = {"label": [], "name": [], "new_track": [], "kind": []}
            right, loads = [], []
            for _ in range(args.runs):
                before = load()
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.hog else None
                try:
                    _, events = run_watch(clip, known, model, runtime, "mtcnn", model_weights, tmp)
                finally:
                    if hog is not None:
                        hog.kill()
                        hog.wait()
                loads.append(f"{before}/{load()}")
                for key, values in swap_times(events, swaps, enrolled).items():
                    times[key] += values
                right.append(score_swaps(events, scene, enrolled)["accuracy"])
            real_names = model == "sface" or args.vgg_weights is not None
            row = {"model": model, "runtime": runtime or "", "runs": args.runs, "times": times,
                   "named_right": statistics.mean(right) if real_names else None, "load": " ".join(loads)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"cost": costs, "swaps": rows}, indent=2))
    print(f"\nClip: tests/swap_clips.py, {len(swaps)} swaps ({sum(s.gap_s == 0 for s in swaps)} direct cuts, "
          f"{sum(s.gap_s > 0 for s in swaps)} after a 0.4 s gap), watch --realtime, MTCNN"
          f"{', a busy process beside it' if args.hog else ''}; seconds from the new person's first frame "
          "(median / max over every run's swaps)\n")
    print("| model | runtime | first label of the new face, cuts | after a gap | right name, cuts | after a gap | "
          "new track | frames named right after 1 s | load (1 min, before/after each run) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        t = r["times"]
        part = {k: {kind: [v for v, k2 in zip(t[k], t["kind"]) if k2 == kind] for kind in ("cut", "gap")}
                for k in ("label", "name")}
        names = r["named_right"] is not None
        right = f"{100 * r['named_right']:.1f} %" if names else "n/a"
        print(f"| {r['model']} | {r['runtime'] or '-'} | {summarise(part['label']['cut'])} | "
              f"{summarise(part['label']['gap'])} | {summarise(part['name']['cut']) if names else 'n/a'} | "
              f"{summarise(part['name']['gap']) if names else 'n/a'} | {sum(t['new_track'])} of {len(t['kind'])} | "
              f"{right} | {r['load']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
