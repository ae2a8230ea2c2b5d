"""Choose the link threshold of the unknown-faces clustering on real photos (SFace, facecam's own path).

    .venv/bin/python bench/bench_unknowns.py [--facedata ../shared/facedata] [--draws 300] [--weights SFACE.onnx] [--json]

Every lfw40 photo (40 people, 8-12 photos each) is embedded once as known_faces and live faces are
(MTCNN, the largest face, facecam's alignment, SFace); each photo stands for one sighting (a visit
shows the same photo on every frame, so its crops' mean is that photo's embedding). The grouping is
facecam's own (:func:`facecam.unknowns.cluster.cluster_labels`: single linkage, i.e. the connected
components of the "distance <= link" graph). For each link threshold:

* **visits**: many random draws of 16 strangers who come back 3 times each (a different photo each
  time), as in the issue's measurement: the share of sightings in a cluster whose majority is their
  person (purity), the share of people with all their visits in one cluster (completeness), and the
  share of draws in which two different people end up in one cluster;
* **all of lfw40**: all 370 photos as sightings of 40 people (harder: 8-12 visits each, more
  chances to chain two people together).

Then the cost at the store's cap (2,000 sightings: lfw40's embeddings repeated with a little
noise): clustering from scratch, growing the clusters one sighting at a time, and storing one
sighting with 5 crops (JPEG files + one SQLite transaction, in a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LINKS = np.round(np.arange(0.30, 0.601, 0.025), 3)


def scores(people: np.ndarray, labels: np.ndarray) -> tuple[float, float, bool]:
    """(purity, completeness, any cluster holding two people) of a grouping."""
    pure = 0
    mixed = False
    for cluster in np.unique(labels):
        members = people[labels == cluster]
        counts = Counter(members.tolist())
        top, n_top = counts.most_common(1)[0]
        pure += sum(1 for m in members if m == top and n_top * 2 > len(members))
        mixed |= len(counts) > 1
    complete = sum(len(np.unique(labels[people == p])) == 1 for p in np.unique(people))
    return pure / len(people), complete / len(np.unique(people)), mixed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facedata", type=Path, default=ROOT.parent / "shared" / "facedata")
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--weights", help="the SFace .onnx file (default: facecam's model folder)")
    args = parser.parse_args()
    if not (args.facedata / "lfw40").is_dir() and Path("/work/shared/facedata/lfw40").is_dir():
        args.facedata = Path("/work/shared/facedata")

    from facecam.recognizer import build_recognizer
    from facecam.unknowns.cluster import cluster_labels

    started = time.perf_counter()
    recognizer = build_recognizer("sface", args.weights, allow_download=False)
    people, vectors = [], []
    for path in sorted((args.facedata / "lfw40").glob("*/*.jpg")):
        result = recognizer.embed_photo(path)
        if result.embedding is not None:
            people.append(path.parent.name)
            vectors.append(result.embedding)
    people_arr, vectors_arr = np.array(people), np.asarray(vectors, np.float32)
    embed_s = time.perf_counter() - started

    rng = np.random.default_rng(8)
    names = sorted(set(people))
    by_person = {name: np.flatnonzero(people_arr == name) for name in names}
    splits = []
    for _ in range(args.draws):
        chosen = rng.choice(names, size=16, replace=False)
        splits.append(np.concatenate([rng.choice(by_person[n], size=3, replace=False) for n in chosen]))
    rows = []
    for link in LINKS:
        purity, complete, mixed = [], [], 0
        for rows_i in splits:
            labels = cluster_labels(vectors_arr[rows_i], link)
            p, c, m = scores(people_arr[rows_i], labels)
            purity.append(p)
            complete.append(c)
            mixed += m
        all_labels = cluster_labels(vectors_arr, link)
        ap, ac, _ = scores(people_arr, all_labels)
        rows.append({"link": float(link), "visits_purity": round(float(np.mean(purity)), 4),
                     "visits_purity_p5": round(float(np.percentile(purity, 5)), 4),
                     "visits_complete": round(float(np.mean(complete)), 4),
                     "visits_complete_p5": round(float(np.percentile(complete, 5)), 4),
                     "draws_with_a_mixed_cluster": round(mixed / len(splits), 4),
                     "lfw40_purity": round(ap, 4), "lfw40_complete": round(ac, 4),
                     "lfw40_clusters": int(len(np.unique(all_labels)))})
    timing = cost_at_cap(vectors_arr)
    report = {"timing": timing, "model": "sface", "photos": len(people), "people": len(names), "draws": args.draws,
              "embed_s": round(embed_s, 1), "machine": platform.processor() or platform.machine(),
              "load": os.getloadavg()[0], "rows": rows}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{len(people)} photos of {len(names)} people embedded in {embed_s:.1f} s; {args.draws} draws of "
          f"16 strangers x 3 visits; load {os.getloadavg()[0]:.2f}")
    print("link   visits: purity (p5)  complete (p5)  mixed-draws | lfw40 370: purity complete clusters")
    for r in rows:
        print(f"{r['link']:.3f}  {r['visits_purity']:.3f} ({r['visits_purity_p5']:.3f})  {r['visits_complete']:.3f} "
              f"({r['visits_complete_p5']:.3f})  {r['draws_with_a_mixed_cluster']:.3f}      | "
              f"{r['lfw40_purity']:.3f}  {r['lfw40_complete']:.3f}  {r['lfw40_clusters']}")
    print("cost at 2,000 sightings:", json.dumps(timing))
    return 0


def cost_at_cap(vectors: np.ndarray, n: int = 2000) -> dict:
    """Median milliseconds: from-scratch clustering, one-by-one growth, storing one sighting."""
    import tempfile

    from facecam.unknowns.cluster import Clusters, cluster_labels
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting
    from facecam.unknowns.store import LocalUnknownStore

    rng = np.random.default_rng(0)
    tiled = vectors[np.arange(n) % len(vectors)] + rng.normal(0, 0.02, (n, vectors.shape[1])).astype(np.float32)
    tiled /= np.linalg.norm(tiled, axis=1, keepdims=True)
    scratch = []
    for _ in range(5):
        t0 = time.perf_counter()
        cluster_labels(tiled, 0.5)
        scratch.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    clusters = Clusters(0.5)
    for i, v in enumerate(tiled):
        clusters.add(str(i), v)
    grow = time.perf_counter() - t0
    crop = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    adds = []
    with tempfile.TemporaryDirectory() as folder:
        store = LocalUnknownStore(Path(folder), "sface", 128, max_sightings=50)
        for i in range(80):
            crops = tuple(UnknownCrop(crop, tiled[i], 0.5, float(i), i, (0, 0, 90, 110)) for _ in range(5))
            sighting = UnknownSighting(f"{i:08x}", "bench", i, float(i), float(i) + 1, 1e9 + i, 1e9 + i + 1, crops)
            t0 = time.perf_counter()
            store.add(sighting)
            adds.append(time.perf_counter() - t0)
        store.close()
    return {"sightings": n, "from_scratch_ms": round(1000 * float(np.median(scratch)), 1),
            "grow_one_by_one_total_ms": round(1000 * grow, 1),
            "store_one_sighting_5_crops_ms_median": round(1000 * float(np.median(adds)), 1),
            "store_one_sighting_5_crops_ms_max": round(1000 * float(np.max(adds)), 1)}


if __name__ == "__main__":
    sys.exit(main())
