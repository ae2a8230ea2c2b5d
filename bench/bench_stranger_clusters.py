"""One stranger, one entry in "Who's this?" (issue 21): the clusters `watch --realtime` makes of 15 strangers who
come back 3 times each with a different photo, small faces, enrolled people passing by.

    nice -n 10 .venv/bin/python bench/bench_stranger_clusters.py [--clip lfw40 lfw1k] [--seed N] [--runs 1] [--keep DIR]
    nice -n 10 .venv/bin/python bench/bench_stranger_clusters.py --draws 100 [--cache /tmp/facecam-openset-yunet.npz]

The clips are tests/stranger_visits.py's (the suite's tests/test_stranger_clusters.py plays the lfw40 one):
real photos, SFace with every default, the unknown faces collected as users have them. For each run: the share
of the strangers whole in one cluster, purity, and the share of the collected sightings that are enrolled
people (the issue's goals: >= 85%, >= 95%, <= 5%), and what goes with them. One JSON line per run, with the
load (``uptime``): ``--realtime`` drops the frames the machine cannot keep up with, so the figures depend on it.

``--draws N``: the grouping rule alone, on many more people than a clip holds: lfw1k's SFace embeddings
(bench/bench_openset.py's cache, one embedding per photo stands for one visit), N draws of 15 strangers (lfw1k
people with 3 photos) x 3 photos among ``--others`` single visitors (lfw1k's strangers) and a quarter as many
people seen twice (lfw1k people with 2 photos): the same figures for single linkage alone
(:func:`facecam.unknowns.cluster.components`), with the centres but not the triangles of single sightings, for
facecam's grouping (:func:`~facecam.unknowns.cluster.cluster_labels`) and for re-grouping links other than facecam's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from stranger_visits import SELECTIONS, build, listing, score, watch  # noqa: E402


def draws(count: int, others: int, cache: Path, seed: int = 4) -> dict:
    """Purity and the strangers whole in one cluster, averaged over ``count`` draws (see the module notes)."""
    import numpy as np
    from bench_openset import embeddings

    from facecam.unknowns import cluster

    data = embeddings(ROOT.parent / "shared" / "facedata", "yunet", cache)
    found = data["faces"] > 0
    vectors = data["emb"] / np.maximum(np.linalg.norm(data["emb"], axis=1, keepdims=True), 1e-12)
    people: dict[str, list[int]] = {}
    singles = [int(i) for i in np.flatnonzero(found & (data["kind"] == "strangers"))]
    for i in np.flatnonzero(found & (data["set"] == "lfw1k") & (data["kind"] != "strangers")):
        people.setdefault(str(data["identity"][i]), []).append(int(i))
    three = sorted(p for p, rows in people.items() if len(rows) == 3)
    two = sorted(p for p, rows in people.items() if len(rows) == 2)
    link = cluster.link_for("sface")
    rules = {"single linkage": lambda v: cluster.components(v, link),
             "+ centres (no triangles)": lambda v: cluster.regroup(v, cluster.components(v, link), link),
             "facecam": lambda v: cluster.cluster_labels(v, link)}
    for factor in (1.0, 1.1):
        rules[f"re-grouped at {factor} x the link"] = (
            lambda v, f=factor: cluster.regroup(v, cluster.join_triangles(v, cluster.components(v, link), link),
                                                link * f / cluster.REGROUP_FACTOR))
    rng = np.random.default_rng(seed)
    totals = {name: [] for name in rules}
    for _ in range(count):
        strangers = [three[i] for i in rng.choice(len(three), 15, replace=False)]
        rows = [i for p in strangers for i in people[p]]
        who = [p for p in strangers for _ in range(3)]
        rows += [singles[i] for i in rng.choice(len(singles), others, replace=False)]
        who += [f"single {n}" for n in range(others)]
        for p in (two[i] for i in rng.choice(len(two), others // 4, replace=False)):
            rows += people[p]
            who += [p, p]
        who_arr = np.array(who)
        for name, rule in rules.items():
            labels = rule(vectors[rows])
            pure = 0
            for label in np.unique(labels):
                _, counts = np.unique(who_arr[labels == label], return_counts=True)
                pure += counts.max() if 2 * counts.max() > counts.sum() else 0
            whole = sum(len(np.unique(labels[who_arr == p])) == 1 for p in strangers)
            totals[name].append((pure / len(rows), whole / len(strangers)))
    return {"draws": count, "others": others, "link": link, "regroup_link": cluster.regroup_link(link),
            **{name: {"purity": round(float(np.mean([t[0] for t in got])), 4),
                      "whole": round(float(np.mean([t[1] for t in got])), 4),
                      "worst_purity": round(float(min(t[0] for t in got)), 4)} for name, got in totals.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", nargs="+", choices=sorted(SELECTIONS), default=sorted(SELECTIONS))
    parser.add_argument("--seed", type=int, default=None, help="another draw of people and photos")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the clips, galleries and stores here")
    parser.add_argument("--every-frame", action="store_true",
                        help="without --realtime: every frame processed, the same figures whatever the load")
    parser.add_argument("--draws", type=int, help="the grouping rule alone on lfw1k's embeddings (see the notes)")
    parser.add_argument("--others", type=int, default=600)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facecam-openset-yunet.npz"))
    args = parser.parse_args()
    if args.draws:
        print(json.dumps(draws(args.draws, args.others, args.cache)))
        return 0
    from facecam.models import BUILTIN_DIR

    for name in args.clip:
        for run in range(args.runs):
            folder = Path(tempfile.mkdtemp(prefix="facecam-stranger-clusters-"))
            try:
                os.environ["FACECAM_CONFIG_DIR"] = str(folder / "config")
                models = folder / "models"
                models.mkdir()
                shutil.copy(BUILTIN_DIR / "face_recognition_sface_2021dec.onnx", models)
                clip, visits, known, strangers = build(folder, name, args.seed)
                summary = watch(clip, known, models, realtime=not args.every_frame)
                figures = score(listing(known, models)["clusters"], visits, strangers)
                print(json.dumps({"clip": name, "seed": args.seed if args.seed is not None else SELECTIONS[name],
                                  "run": run, "realtime": not args.every_frame, **figures, "rounds": summary.get("recognition_rounds"),
                                  "frames_in": summary.get("frames_in"),
                                  "unknown_sightings": summary.get("unknown_sightings"), "uptime": os.getloadavg()}),
                      flush=True)
                if args.keep is not None:
                    shutil.copytree(folder, args.keep / f"{name}-{run}", dirs_exist_ok=True)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
