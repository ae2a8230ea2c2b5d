"""Does ``--learn`` help? A person enrolled from ONE photo comes back again and again, with and without learning.

    nice -n 19 .venv/bin/python bench/bench_learn.py [--people 6] [--json]

For each of several lfw40 people: known_faces holds their first photo only (plus two other people, one
photo each, so every match has a runner-up); a clip (tests/learn_clips.py) shows them 8 times, each
visit another of their photos (never the enrolled one), one at a time, 1.2 s each. ``facecam watch``
runs over it (every frame, in order: the same rounds on any machine; ``--realtime``: at the clip's own
rate, as a camera) without and with ``--learn``
(SFace, MTCNN). Per visit: the mean distance shown while named, and the first-label time (source seconds
from the visit's start to the first frame naming the person; a visit never named counts as its whole
length). Reported: visits 1-4 (learning has little yet) and 5-8 (photos never seen, after learning),
and the learned crops kept.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PEOPLE = ["Tommy_Thompson", "Paul_Wolfowitz", "Kim_Ryong-sung", "Fernando_Gonzalez", "Rubens_Barrichello",
          "Ian_Thorpe", "Mike_Weir", "Nicanor_Duarte_Frutos"]
OTHERS = ("Jeb_Bush", "Harrison_Ford")


def per_visit(events: Path, visits) -> list[dict]:
    from visits import visit_of

    rows = [{"distances": [], "first": None} for _ in visits]
    for line in events.read_text().splitlines():
        event = json.loads(line)
        for face in event["faces"]:
            visit = visit_of(visits, event["t"], face["box"])
            if visit is None or face["name"] != visit.person:
                continue
            row = rows[visits.index(visit)]
            if face["distance"] is not None:
                row["distances"].append(face["distance"])
            if row["first"] is None:
                row["first"] = max(event["t"] - visit.start, 0.0)
    return [{"distance": statistics.mean(r["distances"]) if r["distances"] else None,
             "first_label_s": r["first"] if r["first"] is not None else (v.end - v.start),
             "named": r["first"] is not None} for r, v in zip(rows, visits)]


def run_person(person: str, model_dir: Path | None, folder: Path, realtime: bool = False) -> dict:
    from learn_clips import returns_gallery, returns_visits
    from visits import photos_of, write_visits_clip

    from facecam.cli import main

    visits = returns_visits(person, photos_of(person)[1:9])
    clip = folder / f"{person}.avi"
    write_visits_clip(clip, visits)
    known = returns_gallery(folder / f"{person}-known", person, OTHERS)
    out = {"person": person, "visits": len(visits)}
    for mode in ("plain", "learn"):
        copy = Path(shutil.copytree(known, folder / mode / person / "known_faces"))
        events = folder / mode / person / "events.jsonl"
        argv = ["watch", "--model", "sface", "--known-faces", str(copy), "--source", str(clip), "--no-unknowns",
                "--events", str(events), *(["--model-dir", str(model_dir)] if model_dir else []),
                *(["--learn"] if mode == "learn" else []), *(["--realtime"] if realtime else [])]
        started = time.perf_counter()
        code = main(argv, stdout=io.StringIO(), stderr=io.StringIO())
        if code != 0:
            raise SystemExit(f"watch failed for {person} ({mode})")
        rows = per_visit(events, visits)
        learned = copy / person / ".learned"
        out[mode] = {"visits": rows, "wall_s": round(time.perf_counter() - started, 1),
                     "learned": len(list(learned.glob("*.jpg"))) if learned.is_dir() else 0}
    return out


def summary(results: list[dict]) -> dict:
    def mean(mode: str, key: str, part: slice) -> float:
        values = [v[key] for r in results for v in r[mode]["visits"][part] if v[key] is not None]
        return round(statistics.mean(values), 3) if values else float("nan")

    def named(mode: str, part: slice) -> float:
        rows = [v["named"] for r in results for v in r[mode]["visits"][part]]
        return round(sum(rows) / len(rows), 3)

    out = {}
    for mode in ("plain", "learn"):
        out[mode] = {f"visits_{name}": {"distance": mean(mode, "distance", part),
                                        "first_label_s": mean(mode, "first_label_s", part),
                                        "named": named(mode, part)}
                     for name, part in (("1-4", slice(0, 4)), ("5-8", slice(4, 8)))}
        out[mode]["learned_per_person"] = [r[mode]["learned"] for r in results]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--realtime", action="store_true",
                        help="play the clips at their own rate (first-label times then include the rounds' "
                             "latency, which depends on the machine's load)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-learn-") as tmp:
        os.environ["FACECAM_CONFIG_DIR"] = str(Path(tmp) / "config")   # no saved setting changes the runs
        results = [run_person(person, args.model_dir, Path(tmp), args.realtime) for person in PEOPLE[:args.people]]
    table = summary(results)
    report = {"people": [r["person"] for r in results], "summary": table, "results": results,
              "load_before": [round(v, 2) for v in load], "load_after": [round(v, 2) for v in os.getloadavg()]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    how = "--realtime" if args.realtime else "every frame"
    print(f"{len(results)} people, 8 visits each, {how} (load {report['load_before']} -> {report['load_after']})")
    print("| | visits 1-4: distance | first label (s) | named | visits 5-8: distance | first label (s) | named |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("plain", "learn"):
        a, b = table[mode]["visits_1-4"], table[mode]["visits_5-8"]
        print(f"| {'without' if mode == 'plain' else 'with --learn'} | {a['distance']} | {a['first_label_s']} | "
              f"{a['named']:.0%} | {b['distance']} | {b['first_label_s']} | {b['named']:.0%} |")
    print(f"learned crops per person: {table['learn']['learned_per_person']}")
    for r in results:
        print(r["person"], "plain", [v["distance"] and round(v["distance"], 3) for v in r["plain"]["visits"]],
              "learn", [v["distance"] and round(v["distance"], 3) for v in r["learn"]["visits"]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
