"""Search at scale: incremental person means, and an approximate index past the size where exact search slows.

Exact search (one matrix product, :mod:`facecam.matcher`) stays the default while it is fast:
up to :data:`EXACT_MAX_WORK` vectors x dimensions searched per query (about 5-6 ms a query on the
idle 2-core build machine: 4.4 ms at 100,000 x 128; see BENCHMARKS.md "Search at scale"). ``nearest`` searches every photo,
``mean`` one mean per person, so the two modes cross that size at different gallery sizes.

Past it, the gallery keeps an HNSW index (usearch, half-precision vectors) of what the mode
searches. The index only shortlists: its top candidates' people get an exact distance in the
matcher, so a match is the exact one whenever the shortlist holds the true closest people
(``bench/bench_scale.py`` measures how often: recall@1).

Wide embeddings (VGG-Face, 4096-d) are indexed through a fixed, seeded random projection to
:data:`PROJECTED_DIM` dimensions (the same in every process); the exact re-ranking uses the full
vectors. The PostgreSQL store will do the same: pgvector indexes at most 2,000 dimensions.

The photo index is saved in usearch's own file format (no pickle) in the gallery's owner-only
cache folder, loaded at the next start and brought up to date photo by photo; a file that cannot
be read, or that does not fit, is rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from facecam.fileutil import atomic_write_bytes, private_folder
from facecam.matcher import GalleryMatrix, MeansIndex, unit_rows

log = logging.getLogger(__name__)

# Exact search while vectors x dims per query stay under this (~5-6 ms a query here; BENCHMARKS.md):
# 131,072 SFace photos (nearest) or people (mean), 4,096 VGG-Face photos or people.
EXACT_MAX_WORK = 1 << 24
# Embeddings wider than this are indexed through a random projection (pgvector's index limit is 2,000).
MAX_INDEXED_DIM = 1024
PROJECTED_DIM = 256
PROJECTION_SEED = 20261130
# Shortlist sizes and HNSW settings, chosen with bench/bench_scale.py (recall@1 >= 0.99 at 1,000,000 x 128).
PHOTO_CANDIDATES = 32
PEOPLE_CANDIDATES = 16
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256  # 128 gave recall@1 0.96 at 1,000,000 x 128, 256 gave 1.000 at 2.5 ms a query
ADD_CHUNK = 20_000  # vectors added per hold of the index's lock
SAVE_AFTER_CHANGES = 0.01  # rewrite the saved index once this share of it changed


def exact_is_fast(vectors: int, dim: int, limit: int = EXACT_MAX_WORK) -> bool:
    """Whether an exact search over ``vectors`` rows of ``dim`` numbers is cheap enough per query."""
    return vectors * dim < limit


def stable_key(text: str) -> int:
    """A 63-bit key for ``text``, the same in every process (usearch keys are unsigned 64-bit)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def projection(dim: int, out: int = PROJECTED_DIM, seed: int = PROJECTION_SEED) -> np.ndarray:
    """A fixed ``(dim, out)`` matrix with orthonormal columns (seeded Gaussian, QR)."""
    gaussian = np.random.default_rng(seed).standard_normal((dim, out))
    q, _ = np.linalg.qr(gaussian)
    return q.astype(np.float32)


class VectorIndex:
    """An HNSW index of unit vectors under int64 keys (usearch); thread-safe; projected when wide.

    ``sync(keys, vectors_of, stale)`` makes its contents exactly ``keys``, adding only the keys it
    lacks (and re-adding ``stale`` ones, whose vectors changed); ``search`` returns keys.
    """

    def __init__(self, dim: int, path: Path | None = None):
        self.dim = int(dim)
        self.path = Path(path) if path is not None else None
        self._projection = projection(self.dim) if self.dim > MAX_INDEXED_DIM else None
        self.indexed_dim = PROJECTED_DIM if self._projection is not None else self.dim
        self._index = None
        self.loaded_from_file = False
        self._keys = np.zeros(0, dtype=np.int64)  # sorted
        self._lock = threading.Lock()
        self._unsaved = 0

    def __len__(self) -> int:
        return int(self._keys.size)

    def _new_index(self):
        from usearch.index import Index  # noqa: PLC0415 - only galleries past the exact size load it

        return Index(ndim=self.indexed_dim, metric="ip", dtype="f16", connectivity=CONNECTIVITY,
                     expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)

    def _load(self):
        """The saved index when it reads back and fits, else None (it is then rebuilt)."""
        if self.path is None or not self.path.exists():
            return None
        from usearch.index import Index  # noqa: PLC0415

        try:
            index = Index.restore(self.path.read_bytes())
            if index is None or index.ndim != self.indexed_dim or str(index.metric) != "MetricKind.IP":
                raise ValueError("made for other vectors")
            self._keys = np.sort(np.asarray(index.keys, dtype=np.uint64).astype(np.int64))
        except Exception as error:  # noqa: BLE001 - any damage means: rebuild
            log.warning("search index %s cannot be used (%s); rebuilding it", self.path, error)
            self._keys = np.zeros(0, dtype=np.int64)
            return None
        index.expansion_search = EXPANSION_SEARCH
        self.loaded_from_file = True
        return index

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """What the index holds for ``vectors``: unit float32 rows, projected when wide."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self._projection is not None:
            vectors = vectors @ self._projection
        return np.ascontiguousarray(unit_rows(vectors), dtype=np.float32)

    def sync(self, keys: np.ndarray, vectors_of: Callable[[np.ndarray], np.ndarray],
             stale: np.ndarray | None = None) -> None:
        """Hold exactly ``keys``; ``vectors_of(positions)`` gives the vectors of ``keys[positions]``."""
        keys = np.asarray(keys, dtype=np.int64)
        wanted = np.unique(keys)
        with self._lock:
            if self._index is None:
                self._index = self._load() or self._new_index()
            known = self._keys
            gone = np.setdiff1d(known, wanted, assume_unique=True)
            if stale is not None and len(stale):
                gone = np.union1d(gone, np.intersect1d(np.asarray(stale, dtype=np.int64), known))
            missing = ~np.isin(keys, np.setdiff1d(known, gone, assume_unique=True))
            _, first = np.unique(keys, return_index=True)  # one row per key (a key collision keeps one)
            missing &= np.isin(np.arange(keys.size), first)
            if gone.size:
                self._index.remove(gone.astype(np.uint64))
        positions = np.flatnonzero(missing)
        threads = 0 if positions.size > ADD_CHUNK else 1  # a first build uses every core
        for begin in range(0, positions.size, ADD_CHUNK):
            chunk = positions[begin:begin + ADD_CHUNK]
            vectors = self.prepare(vectors_of(chunk))
            with self._lock:  # searches wait for one chunk at most, never for a whole build
                self._index.add(keys[chunk].astype(np.uint64), vectors, threads=threads)
        with self._lock:
            self._keys = wanted
            self._unsaved += int(gone.size + positions.size)
        if self._unsaved > SAVE_AFTER_CHANGES * max(len(wanted), 1) and self._unsaved > 0:
            self.save()

    def set_expansion(self, expansion_search: int) -> None:
        """How widely a search explores the graph (more: better recall, slower); bench_scale.py sweeps it."""
        with self._lock:
            if self._index is not None:
                self._index.expansion_search = int(expansion_search)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """``(N, k)`` keys of each query's nearest vectors, -1 where there are fewer."""
        queries = self.prepare(queries)
        out = np.full((queries.shape[0], k), -1, dtype=np.int64)
        with self._lock:
            if self._index is None or len(self._index) == 0:
                return out
            found = self._index.search(queries, min(k, len(self._index)), threads=1)
        if hasattr(found, "counts"):  # several queries: BatchMatches
            keys, counts = np.asarray(found.keys), np.asarray(found.counts)
        else:  # one query: Matches, holding only what it found
            keys, counts = np.asarray(found.keys).reshape(1, -1), [len(found.keys)]
        for i, count in enumerate(counts):
            out[i, :count] = keys[i, :count].astype(np.int64)
        return out

    def save(self) -> None:
        """Write the index into the owner-only cache (a failure is logged: it is rebuilt next time)."""
        if self.path is None:
            return
        with self._lock:
            data = bytes(self._index.save()) if self._index is not None else None
            self._unsaved = 0
        if data is None:
            return
        try:
            private_folder(self.path.parent)
            atomic_write_bytes(self.path, data, mode=0o600)
        except OSError as error:
            log.warning("cannot save the search index %s: %s; it will be rebuilt at the next start",
                        self.path, error.strerror or error)


class GallerySearch:
    """What a gallery keeps between refreshes so that a large one stays fast to match against.

    * a :class:`MeansIndex` (person means updated for the photos a refresh added or removed);
    * past the exact-search size, a :class:`VectorIndex` of the photos (``nearest``) and one of the
      person means (``mean``), brought up to date on each refresh.

    ``attach(matrix, photos, embedding_of)`` is called with each new gallery matrix and returns it with
    its means, row keys and this search attached; the matcher then calls :meth:`candidates`.
    """

    def __init__(self, dim: int, index_path: Path | None = None, salt: str = "",
                 exact_max_work: int | None = None):
        self.dim = int(dim)
        self.salt = salt
        self.exact_max_work = int(EXACT_MAX_WORK if exact_max_work is None else exact_max_work)
        self._lock = threading.Lock()  # one attach at a time (the watcher thread and a command may both ask)
        self.means = MeansIndex(self.dim)
        self.index_path = Path(index_path) if index_path is not None else None
        self.photo_index: VectorIndex | None = None
        self.people_index: VectorIndex | None = None
        self._keys: dict[tuple, int] = {}
        self._person_keys: dict[str, int] = {}
        self._person_names: dict[int, str] = {}

    def person_key(self, name: str) -> int:
        key = self._person_keys.get(name)
        if key is None:
            key = self._person_keys[name] = stable_key(f"person\0{name}")
            self._person_names[key] = name
        return key

    def _photo_keys(self, photos: Sequence[tuple[str, str, str]]) -> np.ndarray:
        """A stable key per photo (path and content), remembered for the photos still in the gallery."""
        known, kept = self._keys, {}
        for path, _, sha in photos:
            identity = (path, sha)
            key = known.get(identity)
            kept[identity] = key if key is not None else stable_key(f"{self.salt}\0{path}\0{sha}")
        self._keys = kept
        return np.fromiter((kept[(path, sha)] for path, _, sha in photos), dtype=np.int64, count=len(photos))

    def attach(self, matrix: GalleryMatrix, photos: Sequence[tuple[str, str, str]],
               embedding_of: Callable[[str], np.ndarray]) -> GalleryMatrix:
        """``matrix`` with means, keys and this search; ``photos`` are ``(path, person, sha256)`` per matrix row."""
        if len(photos) != len(matrix):
            raise ValueError(f"photos: expected one per matrix row ({len(matrix)}), got {len(photos)}")
        with self._lock:
            return self._attach(matrix, photos, embedding_of)

    def _attach(self, matrix: GalleryMatrix, photos: Sequence[tuple[str, str, str]],
                embedding_of: Callable[[str], np.ndarray]) -> GalleryMatrix:
        changed = self.means.sync(((path, person, sha), person, embedding_of(sha)) for path, person, sha in photos)
        keys = self._photo_keys(photos)
        if self.exact_fast(len(matrix)):
            self.photo_index = None
        else:
            if self.photo_index is None:
                self.photo_index = VectorIndex(self.dim, self.index_path)
            self.photo_index.sync(keys, lambda positions: matrix.embeddings[positions])
        means = self.means.means(matrix.names)
        if self.exact_fast(len(matrix.names)):
            self.people_index = None
        else:
            if self.people_index is None:
                self.people_index = VectorIndex(self.dim)
            people_keys = np.fromiter((self.person_key(n) for n in matrix.names), dtype=np.int64, count=len(matrix.names))
            stale = np.fromiter((self.person_key(n) for n in changed), dtype=np.int64, count=len(changed))
            self.people_index.sync(people_keys, lambda positions: means[positions], stale=stale)
        return matrix.with_search(means, keys, self)

    def exact_fast(self, vectors: int) -> bool:
        return exact_is_fast(vectors, self.dim, self.exact_max_work)

    def candidates(self, queries: np.ndarray, gallery: GalleryMatrix, mode: str) -> list[np.ndarray] | None:
        """Per query, the person indices to compute exactly; None while exact search is fast."""
        if mode == "nearest":
            index = self.photo_index
            if index is None or gallery.keys is None or self.exact_fast(len(gallery)):
                return None
            rows = gallery.rows_of_keys(index.search(queries, PHOTO_CANDIDATES))
            return [gallery.labels[r[r >= 0]] for r in rows]
        index = self.people_index
        if index is None or self.exact_fast(len(gallery.names)):
            return None
        people = gallery.name_index()
        names = self._person_names
        return [np.array([people[names[k]] for k in row if k in names and names[k] in people], dtype=np.int64)
                for row in index.search(queries, PEOPLE_CANDIDATES)]
