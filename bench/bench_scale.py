"""Matching at scale: exact against approximate search, build and refresh costs, on a synthetic gallery.

    nice .venv/bin/python bench/bench_scale.py --photos 1000000 --dim 128 --json
    nice .venv/bin/python bench/bench_scale.py --photos 100000 --dim 4096 --json

The gallery is N/10 people x 10 photos, clustered like real SFace embeddings: each person's centre is
a random unit vector sharing a common direction with everyone (so two people's centres have the mean
cosine real ones have), each photo is its person's centre plus isotropic noise scaled so that a
photo's cosine to the mean of its person's other photos is the one real photos show. Both figures
come from ``bench/sface_spread.json`` (``bench/measure_spread.py``, SFace on lfw40 + lfw10); the
synthetic gallery's own figures are printed beside them as a check. Queries are new photos of gallery
people. recall@1 is the share of queries whose approximate answer names the person exact search
names (facecam's own ``match_embeddings`` both times, one query at a time).

Everything goes through facecam's code: ``GallerySearch.attach`` (what ``Gallery.matrix()`` does
after a refresh: person means, photo and people indexes) and ``match_embeddings``. A refresh that
adds one person (10 photos) and removes another is timed, then the first match after it, against the
first match of a gallery matrix that computes its means from scratch (facecam before this change).

``--pgvector`` adds the database path at the same size: a PostgreSQL 16 + pgvector 0.6 server from the
``pgserver`` wheel in a temporary folder, the photos in one table (``COPY``), an HNSW index
(``vector_cosine_ops``, m 16, ef_construction 64, ef_search 100); a query takes the 32 nearest photos
from the index, then every photo of their people exactly (``min(<=>)`` per person, in SQL), as the
local path does. Exact search in SQL is the same ``min(<=>)`` over every photo. pgvector indexes at most
2,000 dimensions: wider galleries index :func:`facecam.search.projection` of each photo (256-d) and
re-rank on the full vectors. Then facecam's own ``--db`` path on the same server (``store_*``): the
gallery COPYed into the store's tables, read cold by :class:`facecam.db.gallery.DbGallery` (what a
starting ``watch --db`` does) and matched, then a person enrolled through the store and the incremental
read + new matrix + first match a running instance pays after the notification. Needs ``pgserver`` and
``psycopg`` installed (tests/requirements.txt, requirements.txt).

One JSON line (``--json``) or a readable table. Run it alone, under ``nice``; ``uptime`` is recorded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from facecam.matcher import GalleryMatrix, match_embeddings, unit_rows  # noqa: E402
from facecam.search import GallerySearch  # noqa: E402

SPREAD_FILE = ROOT / "bench" / "sface_spread.json"
PHOTOS_PER_PERSON = 10
THRESHOLD = 0.5


def noise_scale(photo_to_centre_cos: float, others: int = PHOTOS_PER_PERSON - 1) -> float:
    """The noise ``tau`` (photo = centre + tau * unit-variance noise / sqrt(D)) giving that cosine between
    a photo and the unit mean of ``others`` other photos: ``1 / sqrt((1 + t^2) (1 + t^2 / others))``."""
    target = 1.0 / photo_to_centre_cos ** 2
    a, b, c = 1.0 / others, 1.0 + 1.0 / others, 1.0 - target  # a u^2 + b u + c = 0, u = tau^2
    return float(np.sqrt((-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)))


class SyntheticGallery:
    """People's centres and photos drawn as the module docstring says (seeded: the same every run)."""

    def __init__(self, people: int, dim: int, spread: dict, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        rho = spread["centre_to_centre_cos"]
        self.tau = noise_scale(spread["photo_to_centre_cos"])
        common = unit_rows(self.rng.standard_normal(dim)).astype(np.float32)
        shared = np.float32(np.sqrt(rho / (1 - rho)))
        self.centres = np.empty((people, dim), dtype=np.float32)
        for start in range(0, people, 50_000):
            block = self.rng.standard_normal((min(50_000, people - start), dim), dtype=np.float32)
            self.centres[start:start + len(block)] = unit_rows(shared * common + block / np.float32(np.sqrt(dim)))

    def photos_of(self, labels: np.ndarray) -> np.ndarray:
        out = np.empty((len(labels), self.dim), dtype=np.float32)
        for start in range(0, len(labels), 100_000):
            part = labels[start:start + 100_000]
            noise = self.rng.standard_normal((len(part), self.dim), dtype=np.float32)
            out[start:start + len(part)] = unit_rows(self.centres[part] + np.float32(self.tau / np.sqrt(self.dim)) * noise)
        return out


def vm(field: str) -> float:
    """A /proc/self/status figure in MB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def per_query_ms(queries: np.ndarray, gallery: GalleryMatrix, mode: str) -> tuple[float, float, list]:
    """Median wall ms and median CPU ms (this process, all threads) of one match_embeddings call per query,
    and the matches. CPU time is what a shared, loaded machine distorts least."""
    times, cpu, matches = [], [], []
    for query in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        matches.append(match_embeddings(query, gallery, THRESHOLD, mode)[0])
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return float(np.median(times)), float(np.median(cpu)), matches


def agreement(exact: list, approx: list) -> tuple[float, float]:
    """Share of queries with the same best person, and with the same best and runner-up people and distances."""
    same = np.mean([a.best_name == b.best_name for a, b in zip(exact, approx)])
    identical = np.mean([a.best_name == b.best_name and a.runner_up == b.runner_up
                         and abs(a.distance - b.distance) < 1e-5 for a, b in zip(exact, approx)])
    return float(same), float(identical)


def vector_text(row: np.ndarray) -> str:
    return "[" + ",".join(f"{v:.6g}" for v in row) + "]"


def pgvector_figures(vectors: np.ndarray, labels: np.ndarray, queries: np.ndarray, exact_people: list[int],
                     timed: int, newcomer: np.ndarray) -> dict:
    """The database path's figures (see the module docstring); ``exact_people``: exact search's answer per query."""
    import tempfile

    import pgserver
    import psycopg

    from facecam.search import MAX_INDEXED_DIM, VectorIndex

    wide = vectors.shape[1] > MAX_INDEXED_DIM
    indexed = VectorIndex(vectors.shape[1]).prepare if wide else (lambda rows: rows)
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="facecam-bench-pg-") as folder:
        server = pgserver.get_server(folder, cleanup_mode="stop")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as db:
                db.execute("CREATE EXTENSION IF NOT EXISTS vector")
                dim, idim = vectors.shape[1], indexed(vectors[:1]).shape[1]
                db.execute(f"CREATE TABLE photos (id bigint PRIMARY KEY, person int NOT NULL, "
                           f"embedding vector({dim}) NOT NULL, indexed vector({idim}) NOT NULL)")
                start = time.perf_counter()
                with db.cursor().copy("COPY photos (id, person, embedding, indexed) FROM STDIN") as copy:
                    for begin in range(0, len(vectors), 10_000):
                        block = vectors[begin:begin + 10_000]
                        small = indexed(block)
                        for i, (row, low) in enumerate(zip(block, small)):
                            text = vector_text(row)
                            copy.write_row((begin + i, int(labels[begin + i]), text, text if not wide else vector_text(low)))
                db.execute("CREATE INDEX ON photos (person)")
                out["db_load_s"] = round(time.perf_counter() - start, 1)
                db.execute("SET maintenance_work_mem = '2GB'")
                start = time.perf_counter()
                db.execute("CREATE INDEX ON photos USING hnsw (indexed vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
                out["db_index_s"] = round(time.perf_counter() - start, 1)
                db.execute("SET hnsw.ef_search = 100")
                db.execute("ANALYZE photos")
                exact_sql = ("SELECT person, min(embedding <=> %(q)s::vector) AS d FROM photos "
                             "GROUP BY person ORDER BY d LIMIT 2")
                ann_sql = ("SELECT person, min(embedding <=> %(q)s::vector) AS d FROM photos WHERE person IN "
                           "(SELECT person FROM photos ORDER BY indexed <=> %(i)s::vector LIMIT 32) "
                           "GROUP BY person ORDER BY d LIMIT 2")
                for name, sql, count in (("db_exact_ms", exact_sql, min(timed, 20)), ("db_ann_ms", ann_sql, len(queries))):
                    times, found = [], []
                    for query in queries[:count]:
                        params = {"q": vector_text(query), "i": vector_text(indexed(query[None])[0])}
                        begin = time.perf_counter()
                        rows = db.execute(sql, params).fetchall()
                        times.append((time.perf_counter() - begin) * 1000)
                        found.append(rows[0][0] if rows else -1)
                    out[name] = round(float(np.median(times)), 2)
                    agree = float(np.mean([f == e for f, e in zip(found, exact_people)]))
                    out[name.replace("_ms", "_agrees_with_local_exact")] = round(agree, 4)
                out["db_recall_at_1"] = out.pop("db_ann_agrees_with_local_exact")
                out["db_indexed_dim"] = idim
                db.execute("CREATE DATABASE facecam_store")
            out.update(store_figures(server.get_uri("facecam_store"), vectors, labels, newcomer, exact_people,
                                     queries))
        finally:
            server.cleanup()
    return out


def store_figures(url: str, vectors: np.ndarray, labels: np.ndarray, newcomer: np.ndarray,
                  exact_people: list[int], queries: np.ndarray) -> dict:
    """facecam's own database path (``--db``: :class:`facecam.db.postgres.PostgresStore` and
    :class:`facecam.db.gallery.DbGallery`): the gallery loaded cold by a starting instance, its first match,
    then one person enrolled through the store (10 photos) and what a running instance pays after the
    notification: the incremental read, the new matrix, the first match (which names the newcomer)."""
    from facecam.db.gallery import DbGallery
    from facecam.db.postgres import NewEmbedding, PostgresStore

    out: dict = {}
    model, version, people = "bench", "synthetic", int(labels.max()) + 1
    with PostgresStore(url) as store:
        start = time.perf_counter()
        with store._pool.connection() as db, db.cursor() as cursor:  # bulk load: COPY into the store's own tables
            with cursor.copy("COPY people (id, name) FROM STDIN") as copy:
                for person in range(people):
                    copy.write_row((person + 1, f"p{person:07d}"))
            with cursor.copy("COPY photos (id, person_id, sha256, file_name, thumbnail) FROM STDIN") as copy:
                for i, person in enumerate(labels):
                    copy.write_row((i + 1, int(person) + 1, f"{i:064x}", f"{i}.jpg", b"\xff\xd8"))
            with cursor.copy("COPY embeddings (photo_id, model, version, faces, embedding) FROM STDIN") as copy:
                for i, row in enumerate(vectors):
                    copy.write_row((i + 1, model, version, 1, vector_text(row)))
            for table in ("people", "photos", "embeddings"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
                cursor.execute(f"ANALYZE {table}")  # what autovacuum does soon after a load this size
        out["store_load_s"] = round(time.perf_counter() - start, 1)

        def unused(path):
            raise AssertionError(f"every photo has an embedding: {path}")

        gallery = DbGallery(store, model, version, vectors.shape[1])
        start = time.perf_counter()
        gallery.refresh(unused)
        out["store_cold_read_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        matrix = gallery.matrix()
        out["store_cold_matrix_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        first = match_embeddings(queries[0], matrix, THRESHOLD, "mean")[0]
        out["store_cold_first_match_ms"] = round((time.perf_counter() - start) * 1000, 2)
        found = [match_embeddings(q, matrix, THRESHOLD, "nearest")[0].best_name for q in queries]
        out["store_agrees_with_local_exact"] = round(float(np.mean(
            [name == f"p{e:07d}" for name, e in zip(found, exact_people)])), 4)
        out["store_first_query_named"] = first.best_name == f"p{exact_people[0]:07d}"

        rng = np.random.default_rng(1)
        photos = unit_rows(newcomer[None] + 0.05 * rng.standard_normal((PHOTOS_PER_PERSON, len(newcomer)))
                           .astype(np.float32))
        start = time.perf_counter()
        for i, photo in enumerate(photos):
            store.add_photo("newcomer", f"new{i:061x}", f"{i}.jpg", b"\xff\xd8",
                            NewEmbedding(model, version, 1, None, photo))
        out["store_enroll_10_photos_ms"] = round((time.perf_counter() - start) * 1000, 1)
        start = time.perf_counter()
        gallery.refresh(unused)
        out["store_refresh_read_ms"] = round((time.perf_counter() - start) * 1000, 1)
        start = time.perf_counter()
        matrix = gallery.matrix()
        out["store_refresh_matrix_s"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        newcomer_match = match_embeddings(newcomer, matrix, THRESHOLD, "mean")[0]
        out["store_first_match_after_enrol_ms"] = round((time.perf_counter() - start) * 1000, 2)
        out["store_newcomer_found"] = newcomer_match.best_name == "newcomer"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--exact-queries", type=int, default=0,
                        help="time exact search on this many queries (default: all, 100 above 200,000 photos)")
    parser.add_argument("--pgvector", action="store_true", help="add the database path (pgserver, pgvector HNSW)")
    parser.add_argument("--skip-local", action="store_true", help="with --pgvector: only the database path")
    parser.add_argument("--sweep", default="", metavar="EF,EF,...",
                        help="also measure nearest-mode recall and speed at these HNSW expansion_search values")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.photos < 2 * PHOTOS_PER_PERSON:
        parser.error(f"--photos: at least {2 * PHOTOS_PER_PERSON}")

    spread = json.loads(SPREAD_FILE.read_text(encoding="utf-8"))
    people = args.photos // PHOTOS_PER_PERSON
    data = SyntheticGallery(people + 1, args.dim, spread)  # one more person: enrolled by the refresh
    labels = np.repeat(np.arange(people), PHOTOS_PER_PERSON)
    vectors = data.photos_of(labels)
    names = [f"p{i:07d}" for i in range(people + 1)]
    photos = [(f"/known_faces/{names[p]}/{i}.jpg", names[p], f"{i:064x}") for i, p in enumerate(labels)]
    embeddings = {sha: vectors[i] for i, (_, _, sha) in enumerate(photos)}

    from measure_spread import spread_of

    sample = labels < min(people, spread["people"])
    synthetic = spread_of([names[p] for p in labels[sample]], vectors[sample])

    # the first index of the whole gallery (what a first start without a saved index pays)
    rss_before = vm("VmRSS")
    start, start_cpu = time.perf_counter(), time.process_time()
    plain = GalleryMatrix.from_pairs([p for _, p, _ in photos], vectors)
    search = GallerySearch(args.dim)
    search.attach(plain, photos, embeddings.__getitem__)
    build_s, build_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    rss_mb = vm("VmRSS")

    # a refresh: one person removed (their 10 photos), one new person enrolled with 10 photos
    new_photos = data.photos_of(np.full(PHOTOS_PER_PERSON, people))
    for i, vector in enumerate(new_photos):
        sha = f"new{i:061x}"
        embeddings[sha] = vector
        photos.append((f"/known_faces/{names[people]}/{i}.jpg", names[people], sha))
    gone = names[0]
    photos = [p for p in photos if p[1] != gone]
    start = time.perf_counter()
    refreshed_plain = GalleryMatrix.from_pairs([p for _, p, _ in photos], np.stack([embeddings[s] for _, _, s in photos]))
    matrix_s = time.perf_counter() - start
    start = time.perf_counter()
    refreshed = search.attach(refreshed_plain, photos, embeddings.__getitem__)
    refresh_s = time.perf_counter() - start

    query_labels = data.rng.integers(1, people + 1, args.queries)
    queries = data.photos_of(query_labels)
    newcomer = data.photos_of(np.array([people]))[0]
    start = time.perf_counter()
    first = match_embeddings(newcomer, refreshed, THRESHOLD, "mean")[0]
    first_match_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    match_embeddings(newcomer, refreshed_plain, THRESHOLD, "mean")
    first_match_scratch_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    first_nearest = match_embeddings(newcomer, refreshed, THRESHOLD, "nearest")[0]
    first_nearest_ms = (time.perf_counter() - start) * 1000

    exact_gallery = GalleryMatrix(refreshed.embeddings, refreshed.labels, refreshed.names, refreshed.means)
    timed = args.exact_queries or (args.queries if args.photos <= 200_000 else 100)
    result = {"photos": args.photos, "dim": args.dim}
    if args.pgvector:
        exact = [m for i in range(0, len(queries), 50)
                 for m in match_embeddings(queries[i:i + 50], exact_gallery, THRESHOLD, "nearest")]
        people_of = {name: i for i, name in enumerate(names)}
        db_labels = np.array([people_of[name] for name in refreshed.names])[refreshed.labels]
        result.update(pgvector_figures(refreshed.embeddings, db_labels, queries,
                                       [people_of[m.best_name] for m in exact], timed, newcomer))
    for mode, prefix in (() if args.skip_local else (("nearest", ""), ("mean", "mean_"))):
        exact_ms, exact_cpu_ms, _ = per_query_ms(queries[:timed], exact_gallery, mode)
        exact = [m for i in range(0, len(queries), 50)
                 for m in match_embeddings(queries[i:i + 50], exact_gallery, THRESHOLD, mode)]
        ann_ms, ann_cpu_ms, approx = per_query_ms(queries, refreshed, mode)
        used = (search.photo_index if mode == "nearest" else search.people_index) is not None
        same, identical = agreement(exact, approx)
        result.update({f"{prefix}exact_ms": round(exact_ms, 3), f"{prefix}ann_ms": round(ann_ms, 3) if used else None,
                       f"{prefix}exact_cpu_ms": round(exact_cpu_ms, 3),
                       f"{prefix}ann_cpu_ms": round(ann_cpu_ms, 3) if used else None,
                       f"{prefix}recall_at_1": round(same, 4), f"{prefix}identical": round(identical, 4)})
    if args.sweep and search.photo_index is not None:
        exact = [m for i in range(0, len(queries), 50)
                 for m in match_embeddings(queries[i:i + 50], exact_gallery, THRESHOLD, "nearest")]
        for ef in (int(v) for v in args.sweep.split(",")):
            search.photo_index.set_expansion(ef)
            ann_ms, ann_cpu_ms, approx = per_query_ms(queries, refreshed, "nearest")
            same, identical = agreement(exact, approx)
            result[f"ef{ef}"] = {"ann_ms": round(ann_ms, 3), "ann_cpu_ms": round(ann_cpu_ms, 3),
                                 "recall_at_1": round(same, 4), "identical": round(identical, 4)}
    result.update({
        "build_s": round(build_s, 2), "build_cpu_s": round(build_cpu_s, 1), "rss_mb": round(rss_mb), "index_rss_mb": round(rss_mb - rss_before),
        "peak_rss_mb": round(vm("VmHWM")),
        "refresh_matrix_s": round(matrix_s, 3), "refresh_index_s": round(refresh_s, 3),
        "first_match_after_refresh_ms": round(first_match_ms, 2),
        "first_match_after_refresh_nearest_ms": round(first_nearest_ms, 2),
        "first_match_scratch_means_ms": round(first_match_scratch_ms, 1),
        "newcomer_found": first.best_name == names[people] and first_nearest.best_name == names[people],
        "people": people, "queries": args.queries,
        "synthetic_photo_to_centre_cos": synthetic["photo_to_centre_cos"],
        "real_photo_to_centre_cos": spread["photo_to_centre_cos"],
        "synthetic_centre_to_centre_cos": synthetic["centre_to_centre_cos"],
        "real_centre_to_centre_cos": spread["centre_to_centre_cos"],
        "synthetic_loo_mean_accuracy": synthetic["loo_mean_accuracy"],
        "real_loo_mean_accuracy": spread["loo_mean_accuracy"],
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    })
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:40s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
