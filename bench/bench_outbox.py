"""Unknown faces while the database is away: queueing in the local outbox, and sending it when the server is back.

    nice -n 19 .venv/bin/python bench/bench_outbox.py [--queued 500] [--stored 0] [--json]

A real PostgreSQL 16 + pgvector 0.6 (the ``pgserver`` wheel, a temporary folder, a Unix socket: the tests'
``Postgres``), holding ``--stored`` sightings first. The server is stopped; a live store
(:class:`facecam.db.unknowns_outbox.SharedUnknownStore`, what ``watch --db`` and the window use) takes
``--queued`` sightings of 5 crops each (a real lfw40 face as JPEG, 128-d embeddings of 400 people:
bench_unknowns_store's), each ``add`` timed (median, max): what the collector's writer thread spends while the
server is away. The server is started; the time from then until the outbox is empty (the store connects after
its current retry wait, 1-10 s, then sends oldest first) is ``drain_s``, and ``send_ms`` the time per sighting
once connected. One JSON line with ``uptime``.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=500)
    parser.add_argument("--stored", type=int, default=0)
    parser.add_argument("--facedata", type=Path, default=ROOT.parent / "shared" / "facedata")
    parser.add_argument("--json", action="store_true", help="(the output is always one JSON line)")
    args = parser.parse_args()
    from bench_unknowns_store import face_crop, sightings
    from servers import Postgres

    from facecam.db.postgres import PostgresStore
    from facecam.db.unknowns import DbUnknownStore
    from facecam.db.unknowns_outbox import SharedUnknownStore

    crop = face_crop(args.facedata)
    made = sightings(args.stored + args.queued, crop, time.time() - 2 * (args.stored + args.queued))
    cap = args.stored + args.queued
    with tempfile.TemporaryDirectory(prefix="facecam-bench-outbox-") as folder:
        server = Postgres(Path(tempfile.mkdtemp(prefix="facecam-pg-")))
        try:
            url = server.new_database()

            def connect():
                return DbUnknownStore(PostgresStore(url, timeout_s=3.0), "sface", 128, max_sightings=cap)

            first = connect()
            for s in made[:args.stored]:
                first.add(s)
            first.close()
            server.stop()
            store = SharedUnknownStore(Path(folder) / "outbox.sqlite", "sface", 128, connect, shown="bench",
                                       max_queued=args.queued)
            adds = []
            for s in made[args.stored:]:
                t0 = time.perf_counter()
                store.add(s)
                adds.append(1000 * (time.perf_counter() - t0))
            outbox_mb = sum(p.stat().st_size for p in Path(folder).glob("outbox.sqlite*")) / 1e6
            server.start()
            started = time.perf_counter()
            while store.primary is None:
                time.sleep(0.01)
            connected = time.perf_counter()
            while store.queued:
                time.sleep(0.01)
            done = time.perf_counter()
            store.close()
            check = connect()
            kept = len(check.sightings())
            check.close()
        finally:
            server.close()
    print(json.dumps({
        "stored": args.stored, "queued": args.queued, "kept": kept, "flushed": store.flushed, "lost": store.lost,
        "queue_add_ms_median": round(statistics.median(adds), 1), "queue_add_ms_max": round(max(adds), 1),
        "outbox_mb": round(outbox_mb, 1), "connect_wait_s": round(connected - started, 1),
        "drain_s": round(done - started, 1), "send_ms": round(1000 * (done - connected) / max(1, args.queued), 1),
        "uptime": os.getloadavg()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
