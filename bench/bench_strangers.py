"""Who a stranger is, at their arrival: the cost of :meth:`facecam.unknowns.strangers.StrangerIndex.arrive` (in the
pipeline's thread, once per unknown arrival) and of ``refresh`` (the unknowns writer's thread, after each stored
visit), with a full unknowns store.

    nice -n 19 .venv/bin/python bench/bench_strangers.py [--stored 2000] [--json]

A real :class:`facecam.unknowns.store.LocalUnknownStore` (SQLite, in a temporary folder) holding ``--stored``
sightings of 5 crops each (400 people's 128-d embeddings: bench_unknowns_store's), so ``refresh`` reads it as
``watch`` does. ``arrive`` is timed for a returning stranger (a stored person's embedding, noise added) and a new
one (a vector near nobody), 500 times each (median, p95), with SFace's 128-d embeddings and with VGG-Face's
4,096-d ones (the same store's layout, vectors of that length). One JSON line with ``uptime``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


class _Stored:
    """A stand-in for a store's clusters() with ``n`` visits of ``dim``-d embeddings (400 people)."""

    def __init__(self, n: int, dim: int):
        from facecam.unknowns.store import Cluster, StoredSighting

        rng = np.random.default_rng(1)
        centres = rng.normal(size=(400, dim)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        by_person: dict[int, list] = {}
        for i in range(n):
            vector = self.centres[i % 400] + rng.normal(0, 0.2 / np.sqrt(dim), dim).astype(np.float32)
            by_person.setdefault(i % 400, []).append(
                StoredSighting(f"{i:08x}", "bench", i, 0.0, 1.0, time.time() - i, time.time() - i + 1,
                               vector / np.linalg.norm(vector), None, ()))
        self._clusters = [Cluster(s[0].id, tuple(s)) for s in by_person.values()]

    def clusters(self):
        return self._clusters


def timed(call, runs: int) -> dict:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 3), "p95_ms": round(times[int(0.95 * (runs - 1))], 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--facedata", type=Path, default=ROOT.parent / "shared" / "facedata")
    parser.add_argument("--json", action="store_true", help="(the output is always one JSON line)")
    args = parser.parse_args()
    from bench_unknowns_store import face_crop, sightings

    from facecam.unknowns.cluster import link_for
    from facecam.unknowns.store import LocalUnknownStore
    from facecam.unknowns.strangers import StrangerIndex

    result: dict = {"stored": args.stored}
    with tempfile.TemporaryDirectory(prefix="facecam-strangers-") as folder:   # the real store: refresh's reads
        store = LocalUnknownStore(Path(folder), "sface", 128)
        for sighting in sightings(args.stored, face_crop(args.facedata), time.time() - args.stored - 10):
            store.add(sighting)
        index = StrangerIndex(link_for("sface"))
        result["refresh_local_store"] = timed(lambda: index.refresh(store), 5)
        result["clusters"] = len(store.clusters())
        store.close()
    rng = np.random.default_rng(2)
    for model, dim in (("sface", 128), ("vgg-face", 4096)):
        stored = _Stored(args.stored, dim)
        index = StrangerIndex(0.5)
        index.refresh(stored)
        returning = stored.centres[7] + rng.normal(0, 0.2 / np.sqrt(dim), dim).astype(np.float32)
        assert index.arrive(0, returning).visits >= 1
        new = rng.normal(size=dim).astype(np.float32)
        assert index.arrive(1, new).visits == 0
        result[model] = {"returning_stranger": timed(lambda: index.arrive(0, returning), args.runs),
                         "new_stranger": timed(lambda: index.arrive(1, new), args.runs)}
    result["uptime"] = os.getloadavg()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
