"""Strangers at scale: how many strangers a gallery of 10 to 1,070 people names, before and after the open-set decision.

    .venv/bin/python bench/bench_openset.py [--facedata ../shared/facedata] [--detector yunet]
                                            [--cache /tmp/facecam-openset-yunet.npz] [--calibrate] [--json]

Every photo of lfw1k, lfw40 and lfw10 is embedded once through facecam's own path (the detector, the largest
face, facecam's alignment, SFace), cached in ``--cache`` (outside the repository: embeddings are biometric).

Split: lfw1k's people and strangers are split in two halves by their sorted order (even: calibration,
odd: held out). ``--calibrate`` measures the pair curves facecam ships (:data:`facecam.openset.CURVES`) on
the calibration half plus lfw40 and lfw10 only, and prints them as Python to paste there.

The report: lfw1k's protocol (enrol the first photo of each person, or the first 2 of those with 3;
probe with their other photos and with the strangers), the gallery ``mean`` match mode (facecam's default),
on galleries of 10, 100, 1,000 people drawn at random (pooled over several draws) and on all of them, for
the held-out half (the honest figures) and for all of lfw1k (half of it calibrated on). Per row: strangers
named (FPIR) and enrolled people named right (DIR) at the old fixed default, with the decision at the
target (1 in 100, and 1 in 1,000), and the best DIR any single threshold reaches at the target FPIR on the
same scores; a second table: the best DIR any single threshold reaches naming at most the share of strangers the
decision itself named (issue 21's "the decision costs no accuracy"), and the gap to the decision's DIR.
The decision is :func:`facecam.matcher.match_embeddings` with a :class:`facecam.openset.Decision`: the code
``identify`` and the live pipeline run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OLD_DEFAULT = 0.575
TARGETS = (0.01, 0.001)
SIZES = (10, 100, 1000)
DRAWS = {10: 60, 100: 20, 1000: 3}
CURVE_LOG10_P = tuple(float(x) for x in np.round(np.arange(-5.0, -0.99, 0.25), 2))
CURVE_KS = (1, 2, 3)


# ================================================================ embeddings

def photo_list(facedata: Path) -> list[tuple[str, str, str, Path]]:
    """(set, person, kind, path) of every photo: lfw1k (kind people/strangers), lfw40, lfw10."""
    rows = []
    with open(facedata / "lfw1k" / "labels.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append(("lfw1k", row["identity"], row["set"], facedata / "lfw1k" / row["file"]))
    for name in ("lfw40", "lfw10"):
        rows += [(name, p.parent.name, "people", p) for p in sorted((facedata / name).glob("*/*.jpg"))]
    return rows


def embeddings(facedata: Path, detector: str, cache: Path) -> dict[str, np.ndarray]:
    """The photos' embeddings (a zero row where no face was found), from ``cache`` when it is there."""
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    from facecam.recognizer import build_recognizer

    recognizer = build_recognizer("sface", detector=detector, allow_download=False)
    rows = photo_list(facedata)
    vectors, faces = [], []
    started = time.perf_counter()
    for i, (_, _, _, path) in enumerate(rows):
        found = recognizer.embed_photo(path)
        faces.append(found.faces)
        vectors.append(found.embedding if found.embedding is not None else np.zeros(recognizer.embedder.dim))
        if i % 500 == 0:
            print(f"embedded {i}/{len(rows)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    data = {"set": np.array([r[0] for r in rows]), "identity": np.array([r[1] for r in rows]),
            "kind": np.array([r[2] for r in rows]), "path": np.array([str(r[3].relative_to(facedata)) for r in rows]),
            "emb": np.asarray(vectors, np.float32), "faces": np.array(faces)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **data)
    os.chmod(cache, 0o600)
    return data


# ================================================================ the split

class Photos:
    def __init__(self, data: dict[str, np.ndarray]):
        self.emb = data["emb"]
        found = data["faces"] > 0
        self.people: dict[str, dict[str, list[int]]] = {"lfw1k": {}, "lfw40": {}, "lfw10": {}}
        self.strangers: list[int] = []
        for i in np.flatnonzero(found):
            if data["kind"][i] == "strangers":
                self.strangers.append(int(i))
            else:
                self.people[str(data["set"][i])].setdefault(str(data["identity"][i]), []).append(int(i))
        names = sorted(self.people["lfw1k"])
        self.half = {"calibration": [n for i, n in enumerate(names) if i % 2 == 0],
                     "held-out": [n for i, n in enumerate(names) if i % 2 == 1], "all lfw1k": names}
        self.stranger_half = {"calibration": self.strangers[0::2], "held-out": self.strangers[1::2],
                              "all lfw1k": self.strangers}
        self.no_face = int((~found).sum())


# ================================================================ calibration

def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


def calibrate(photos: Photos, seed: int = 0) -> dict[int, tuple[tuple[float, ...], tuple[float, ...], int]]:
    """Per photos-per-person ``k``: the distances under which a share 10**x of different-person pairs fall
    (one photo against one person's ``k``-photo mean), on the calibration half, lfw40 and lfw10 only."""
    rng = np.random.default_rng(seed)
    groups = [photos.people["lfw1k"][n] for n in photos.half["calibration"]]
    groups += list(photos.people["lfw40"].values()) + list(photos.people["lfw10"].values())
    owner = {i: g for g, rows in enumerate(groups) for i in rows}
    probes = np.array(sorted(owner) + photos.stranger_half["calibration"])
    probe_owner = np.array([owner.get(int(i), -1) for i in probes])
    curves = {}
    for k in CURVE_KS:
        entries, entry_owner = [], []
        for g, rows in enumerate(groups):
            if len(rows) < k:
                continue
            for _ in range(1 if len(rows) <= 3 else 3):  # the larger sets: a few draws of k photos
                entries.append(unit(photos.emb[rng.permutation(rows)[:k]].sum(axis=0)))
                entry_owner.append(g)
        entries, entry_owner = np.array(entries), np.array(entry_owner)
        d = 1.0 - photos.emb[probes] @ entries.T
        impostor = d[probe_owner[:, None] != entry_owner[None, :]]
        quantiles = np.quantile(impostor, 10.0 ** np.array(CURVE_LOG10_P))
        curves[k] = (CURVE_LOG10_P, tuple(round(float(q), 4) for q in np.maximum.accumulate(quantiles)),
                     int(impostor.size))
    return curves


# ================================================================ the report

def draw_galleries(names: list[str], size: int | None, draws: int, rng) -> list[list[str]]:
    if size is None or size >= len(names):
        return [names]
    return [list(rng.choice(names, size=size, replace=False)) for _ in range(draws)]


def evaluate(photos: Photos, part: str, k: int, size: int | None, rng) -> dict:
    """One row of the table: galleries of ``size`` people of ``part`` (None: all), ``k`` photos enrolled."""
    from facecam.evaluate_metrics import OpenSetScores
    from facecam.matcher import GalleryMatrix, match_embeddings, person_distances
    from facecam.openset import Decision

    eligible = [n for n in photos.half[part] if len(photos.people["lfw1k"][n]) > k]
    strangers = photos.emb[photos.stranger_half[part]]
    galleries = draw_galleries(eligible, size, DRAWS.get(size, 1), rng)
    scores = None
    decided = {t: [0, 0, 0, 0] for t in TARGETS}  # named right, mated probes, strangers named, strangers
    for names in galleries:
        rows = [photos.people["lfw1k"][n] for n in names]
        gallery = GalleryMatrix.from_pairs([n for n, r in zip(names, rows) for _ in r[:k]],
                                           photos.emb[[i for r in rows for i in r[:k]]])
        index = gallery.name_index()
        mated = [i for r in rows for i in r[k:]]
        truth = np.array([index[n] for n, r in zip(names, rows) for _ in r[k:]])
        part_scores = OpenSetScores.of(person_distances(photos.emb[mated], gallery, "mean"), truth,
                                       person_distances(strangers, gallery, "mean"))
        scores = part_scores if scores is None else scores.concat(part_scores)
        for target in TARGETS:
            decision = Decision("sface", stranger_rate=target)
            known = match_embeddings(photos.emb[mated], gallery, decision, "mean")
            unknown = match_embeddings(strangers, gallery, decision, "mean")
            counts = decided[target]
            counts[0] += sum(m.name == gallery.names[t] for m, t in zip(known, truth))
            counts[1] += len(known)
            counts[2] += sum(m.name is not None for m in unknown)
            counts[3] += len(unknown)
    dir_old, fpir_old = scores.rates(OLD_DEFAULT)
    row = {"part": part, "k": k, "people": len(galleries[0]), "galleries": len(galleries),
           "mated": int(scores.mated_distance.size), "strangers": int(scores.stranger_distance.size),
           "old": {"threshold": OLD_DEFAULT, "dir": dir_old, "fpir": fpir_old}}
    for target in TARGETS:
        right, mated_n, named, stranger_n = decided[target]
        best_t = scores.threshold_for_fpir(target)
        best_dir, best_fpir = scores.rates(best_t)
        # the done-when's comparison: the best any single threshold does naming at most the share of strangers
        # the decision itself named on these scores (so the decision costs no accuracy when the gap is ~0)
        same_t = scores.threshold_for_fpir(named / stranger_n)
        same_dir, same_fpir = scores.rates(same_t)
        row[str(target)] = {"dir": right / mated_n, "fpir": named / stranger_n,
                            "best_threshold": round(best_t, 4), "best_dir": best_dir, "best_fpir": best_fpir,
                            "threshold": Decision("sface", stranger_rate=target).threshold_for(len(galleries[0]), k),
                            "at_its_rate": {"threshold": round(same_t, 4), "dir": same_dir, "fpir": same_fpir,
                                            "gap": same_dir - right / mated_n}}
    return row


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def table(rows: list[dict]) -> str:
    lines = ["| test | photos enrolled | people | strangers named, old 0.575 | named right, old | "
             "target 1 in 100: threshold | strangers named | named right | best single threshold (named right) | "
             "target 1 in 1,000: strangers named | named right | best single threshold |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a, b = r["0.01"], r["0.001"]
        lines.append(
            f"| {r['part']} | {r['k']} | {r['people']:,}{' x' + str(r['galleries']) if r['galleries'] > 1 else ''} "
            f"| {pct(r['old']['fpir'])} | {pct(r['old']['dir'])} | {a['threshold']:.3f} | {pct(a['fpir'])} | "
            f"{pct(a['dir'])} | {a['best_threshold']:.3f} ({pct(a['best_dir'])}) | {pct(b['fpir'])} | {pct(b['dir'])} "
            f"| {b['best_threshold']:.3f} ({pct(b['best_dir'])}) |")
    return "\n".join(lines)


def table_at_its_rate(rows: list[dict]) -> str:
    """The decision against the best single threshold at the share of strangers the decision itself named."""
    lines = ["| test | photos enrolled | people | target | threshold | strangers named (FPIR) | named right (DIR) | "
             "best single threshold at that FPIR | its DIR | gap (points) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for target in TARGETS:
            a = r[str(target)]
            same = a["at_its_rate"]
            lines.append(
                f"| {r['part']} | {r['k']} | {r['people']:,}{' x' + str(r['galleries']) if r['galleries'] > 1 else ''} "
                f"| 1 in {round(1 / target):,} | {a['threshold']:.3f} | {100 * a['fpir']:.2f}% | {pct(a['dir'])} | "
                f"{same['threshold']:.3f} | {pct(same['dir'])} | {100 * same['gap']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facedata", type=Path, default=ROOT.parent / "shared" / "facedata")
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--cache", type=Path, help="the embeddings' cache (default /tmp/facecam-openset-DETECTOR.npz)")
    parser.add_argument("--calibrate", action="store_true", help="print the pair curves measured on the calibration half")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cache = args.cache or Path("/tmp") / f"facecam-openset-{args.detector}.npz"
    photos = Photos(embeddings(args.facedata, args.detector, cache))
    if args.calibrate:
        for k, (xs, ds, pairs) in calibrate(photos).items():
            print(f"    # k={k}: {pairs:,} different-person pairs")
            print(f"    ({k}, PairCurve({xs!r},\n                {ds!r})),")
        return 0
    rng = np.random.default_rng(0)
    rows = []
    for part in ("held-out", "all lfw1k"):
        for k in (1, 2):
            for size in (*SIZES, None):
                eligible = sum(1 for n in photos.half[part] if len(photos.people["lfw1k"][n]) > k)
                if size is not None and size >= eligible:
                    continue
                rows.append(evaluate(photos, part, k, size, rng))
                print(f"{part} k={k} {rows[-1]['people']}: done", file=sys.stderr)
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"SFace + {args.detector}, match mode mean; {photos.no_face} photo(s) without a face left out; "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print(table(rows))
        print()
        print(table_at_its_rate(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
