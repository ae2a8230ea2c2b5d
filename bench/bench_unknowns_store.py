"""The unknown-faces store at its cap: local (SQLite + crop files) against PostgreSQL (``--db``).

    nice -n 19 .venv/bin/python bench/bench_unknowns_store.py [--sightings 2000] [--json]

Both stores are filled through their own ``add`` with ``--sightings`` sightings of 5 crops each (a
real lfw40 face, 224x224, as JPEG; embeddings: 400 people's centres plus noise, 128-d, so that the
grouping makes about 400 clusters), the cap set to that number. Then, with the store full (every
add also drops the oldest): ``add`` (one more sighting: its crops, its row, the caps and the
cluster it joined; median and max of 20, on the store that was filled), ``add`` cold (the first
add of a newly opened store; median of 3 stores), ``clusters()`` cold (a newly opened store's first
call; median of 3) and warm (median of 5, nothing changed in between), and ``clusters()`` right after an add (median of 10:
what the Who's this? panel pays on each change; the add made by a second instance for PostgreSQL,
by the same store for the local one, whose grouping follows its own adds). The database is a
PostgreSQL 16 + pgvector 0.6 from the ``pgserver`` wheel in a temporary folder, on a Unix socket
(as the tests'). One JSON line per store; ``uptime`` in each. ``--skip-local``: the database only.
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


def face_crop(facedata: Path) -> np.ndarray:
    """A real face, 224x224 RGB (the middle of the first lfw40 photo), or grey noise without facedata."""
    import cv2

    photos = sorted((facedata / "lfw40").glob("*/*.jpg"))
    if not photos:
        return np.random.default_rng(0).integers(90, 160, (224, 224, 3), dtype=np.uint8)
    bgr = cv2.imread(str(photos[0]))
    h, w = bgr.shape[:2]
    return cv2.cvtColor(cv2.resize(bgr[h // 4: 3 * h // 4, w // 4: 3 * w // 4], (224, 224)), cv2.COLOR_BGR2RGB)


def sightings(n: int, crop: np.ndarray, start: float) -> list:
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(400, 128)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = []
    for i in range(n):
        vectors = centres[i % 400] + rng.normal(0, 0.04, (5, 128)).astype(np.float32)
        crops = tuple(UnknownCrop(crop, v, 0.5, float(i), i, (0.0, 0.0, 90.0, 110.0)) for v in vectors)
        out.append(UnknownSighting(f"{i:08x}", "bench", i, float(i), float(i) + 1, start + i, start + i + 1, crops))
    return out


def measure(open_store, n: int, crop: np.ndarray, shared: bool) -> dict:
    """``shared``: instances see each other's adds (the database), so the refresh is timed across two."""
    start = time.time() - 2 * n
    made = sightings(n + 33, crop, start)
    store = open_store()
    t0 = time.perf_counter()
    for s in made[:n]:
        store.add(s)
    fill = time.perf_counter() - t0
    adds = []
    for s in made[n:n + 20]:
        t0 = time.perf_counter()
        store.add(s)
        adds.append(1000 * (time.perf_counter() - t0))
    store.close()
    cold = []
    for _ in range(3):
        store = open_store()
        t0 = time.perf_counter()
        clusters = store.clusters()
        cold.append(1000 * (time.perf_counter() - t0))
        store.close()
    store = open_store()
    store.clusters()
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        store.clusters()
        warm.append(1000 * (time.perf_counter() - t0))
    writer = open_store() if shared else store
    refresh = []
    for s in made[n + 20:n + 30]:
        writer.add(s)
        t0 = time.perf_counter()
        store.clusters()
        refresh.append(1000 * (time.perf_counter() - t0))
    if writer is not store:
        writer.close()
    store.close()
    add_cold = []
    for s in made[n + 30:n + 33]:
        store = open_store()
        t0 = time.perf_counter()
        store.add(s)
        add_cold.append(1000 * (time.perf_counter() - t0))
        store.close()
    store = open_store()
    kept = len(store.sightings())
    store.close()
    return {"sightings": kept, "clusters": len(clusters), "fill_s": round(fill, 1),
            "add_ms_median": round(statistics.median(adds), 1), "add_ms_max": round(max(adds), 1),
            "add_cold_ms": round(statistics.median(add_cold), 1), "clusters_cold_ms": round(statistics.median(cold), 1),
            "clusters_warm_ms": round(statistics.median(warm), 1),
            "clusters_after_add_ms": round(statistics.median(refresh), 1), "uptime": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=2000)
    parser.add_argument("--facedata", type=Path, default=ROOT.parent / "shared" / "facedata")
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    crop = face_crop(args.facedata)
    n = args.sightings
    from facecam.unknowns.store import LocalUnknownStore

    if not args.skip_local:
        with tempfile.TemporaryDirectory(prefix="facecam-bench-unk-") as folder:
            figures = measure(lambda: LocalUnknownStore(Path(folder), "sface", 128, max_sightings=n), n, crop,
                              shared=False)
        print(json.dumps({"store": "local", **figures}), flush=True)

    import pgserver

    from facecam.db.postgres import PostgresStore
    from facecam.db.unknowns import DbUnknownStore

    with tempfile.TemporaryDirectory(prefix="facecam-bench-pg-") as folder:
        server = pgserver.get_server(folder, cleanup_mode="stop")
        try:
            url = server.get_uri()
            figures = measure(lambda: DbUnknownStore(PostgresStore(url), "sface", 128, max_sightings=n), n, crop,
                              shared=True)
        finally:
            server.cleanup()
    print(json.dumps({"store": "postgresql", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
