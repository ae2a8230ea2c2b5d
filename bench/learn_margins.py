"""Choose the learning margins of ``--learn`` (facecam/learn.py) from real photos: lfw40 with SFace.

    nice -n 19 .venv/bin/python bench/learn_margins.py [--facedata ../shared/facedata] [--draws 200]

Every lfw40 photo is embedded once through facecam's own path (MTCNN photo detection, facecam's
alignment, SFace). Each random draw enrols half the people from ONE photo each (the case learning is
for); every other photo of an enrolled person is a probe that may be learned, every photo of a person
not enrolled is a stranger. A probe would be learned when its distance to the closest person is at
most ``threshold - distance_margin`` and the runner-up person is at least ``gap`` farther. Printed per
(distance margin, gap): the share of right probes learned (useful) and the share of learned probes that
are a stranger or the wrong person (drift; must be ~0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DISTANCE_MARGINS = (0.0, 0.05, 0.10, 0.15, 0.20)
GAPS = (0.0, 0.05, 0.10, 0.15, 0.20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facedata", type=Path, default=next(
        (p for p in (ROOT.parent / "shared" / "facedata", Path("/work/shared/facedata")) if p.is_dir()),
        ROOT.parent / "shared" / "facedata"))
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=None, help="keep the embeddings in this .npz between runs")
    args = parser.parse_args()
    from calibrate_thresholds import embed_all

    from facecam import registry
    from facecam.recognizer import build_recognizer

    threshold = registry.MODELS["sface"].threshold
    if not (args.facedata / "lfw40").is_dir():
        parser.error(f"{args.facedata / 'lfw40'} not found; give --facedata")
    if args.cache is not None and args.cache.exists():
        with np.load(args.cache, allow_pickle=False) as data:
            people, vectors = [str(p) for p in data["people"]], data["vectors"]
    else:
        recognizer = build_recognizer("sface", threshold=threshold, match_mode="mean", allow_download=False)
        photos = [(p.parent.name, p) for p in sorted((args.facedata / "lfw40").glob("*/*.jpg"))]
        people, vectors, _ = embed_all(recognizer, photos)
        if args.cache is not None:
            np.savez(args.cache, people=np.array(people), vectors=vectors)
    labels = np.array(people)
    names = sorted(set(people))
    rng = np.random.default_rng(8)
    right = np.zeros((len(DISTANCE_MARGINS), len(GAPS)))
    wrong = np.zeros_like(right)
    n_right = n_probe = 0
    dm = threshold - np.array(DISTANCE_MARGINS)[:, None]
    gp = np.array(GAPS)[None, :]
    for _ in range(args.draws):
        enrolled = rng.choice(names, size=len(names) // 2, replace=False)
        one = [int(rng.choice(np.flatnonzero(labels == name))) for name in enrolled]
        gallery = vectors[one]
        probes = np.array([i for i in range(len(labels)) if i not in one], dtype=int)
        d = 1.0 - vectors[probes] @ gallery.T
        order = np.argsort(d, axis=1)
        d1 = d[np.arange(len(probes)), order[:, 0]]
        d2 = d[np.arange(len(probes)), order[:, 1]]
        is_right = np.array(enrolled)[order[:, 0]] == labels[probes]
        n_right += int(np.isin(labels[probes], enrolled).sum())
        n_probe += len(probes)
        learned = (d1[:, None, None] <= dm[None]) & ((d2 - d1)[:, None, None] >= gp[None])
        right += learned[is_right].sum(axis=0)
        wrong += learned[~is_right].sum(axis=0)
    out = {"threshold": threshold, "photos": len(labels), "draws": args.draws, "rows": []}
    print(f"SFace threshold {threshold}; lfw40 {len(labels)} photos, {args.draws} draws of 20 people enrolled "
          "from one photo each")
    print("distance<=T-m  gap>=g   right probes learned   learned that are wrong/stranger")
    for i, m in enumerate(DISTANCE_MARGINS):
        for j, g in enumerate(GAPS):
            total = right[i, j] + wrong[i, j]
            row = {"distance_margin": m, "gap": g, "right_learned": right[i, j] / n_right,
                   "wrong_share": wrong[i, j] / total if total else 0.0, "wrong": int(wrong[i, j])}
            out["rows"].append(row)
            print(f"  m={m:.2f}  g={g:.2f}   {row['right_learned']:6.1%}   {row['wrong_share']:7.3%} "
                  f"({int(wrong[i, j])} of {int(total)})")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
