"""The known_faces gallery: scan the folder, embed what is new, cache the rest.

Layout: ``known_faces/<Person Name>/*.jpg|jpeg|png|bmp|webp`` (any number of
photos, sub-folders included) or ``known_faces/<Person Name>.jpg`` (one photo).
Hidden files and folders are ignored but one: ``<Person>/.learned/``, the crops
``--learn`` keeps (facecam/learn.py), indexed as that person's like any photo
(:func:`is_learned` tells them apart). facecam's own cache lives in
``known_faces/.facecam/``.

The cache is one ``.npz`` file per model (read with ``allow_pickle=False``:
never pickle), keyed by each photo's content hash plus the model's and the
preprocessing's version. A restart re-embeds nothing, a new or replaced photo
is embedded, a removed one dropped, a renamed or moved one reused. Writes are
atomic and owner-only (embeddings are biometric data); an unreadable cache is
rebuilt with a warning.

Practical advice: 3-5 photos per person, taken on different days and in
different light, make recognition much sturdier than one. A photo with several
faces is used for its largest face (and reported): crop group photos first.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from facecam.errors import EnrollError, FacecamError, GalleryError, IndistinctModelError
from facecam.fileutil import atomic_write_bytes, private_folder, sha256_of
from facecam.images import is_image_name
from facecam.matcher import GalleryMatrix
from facecam.search import GallerySearch

log = logging.getLogger(__name__)

CACHE_DIR = ".facecam"
LEARNED_DIR = ".learned"  # known_faces/<person>/.learned/: crops learned with --learn, the one hidden folder read
CACHE_FORMAT = 2  # 2: the fast-path key holds inode and ctime too
# Bump when detection or alignment changes what a photo's embedding would be.
PREPROCESS_VERSION = "mtcnn1.0-largest/align-eyes-level-lsq/v1"
CHECKPOINT_SECONDS = 10.0
# A model that can tell faces apart puts photos of different people apart: median cosine distance 0.87
# with SFace on LFW; even VGG-Face's published layout filled with random He-scaled values (no training at all)
# gives 0.064 (min 0.035, 4 LFW people x 3 photos). A file whose kernels are tiny gives every face the same
# embedding: median 1e-7. Below this bound the gallery refuses to name anyone (bench/weights_check.py, BENCHMARKS.md).
INDISTINCT_MEDIAN_DISTANCE = 0.01
DISTINCT_CHECK_ROWS = 64  # photos sampled for the check (its cost stays constant however large the gallery)


@dataclass(frozen=True)
class PhotoEmbedding:
    """What a photo gives the gallery: how many faces it has, the largest face's box and embedding."""

    faces: int
    box: tuple[float, float, float, float] | None
    embedding: np.ndarray | None


@dataclass
class IndexReport:
    """The outcome of a refresh: counts, plus each skipped photo and each photo with several faces."""

    people: int = 0
    photos: int = 0
    embedded: int = 0
    reused: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    several_faces: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
    no_face: int = 0          # photos read but with no face (listed in ``skipped`` too; not in ``photos``)
    cache_note: str | None = None  # where the cache is when not in the folder itself (a read-only folder)

    @property
    def changed(self) -> bool:
        return bool(self.embedded or self.removed)


@dataclass(frozen=True)
class _Record:
    faces: int
    box: np.ndarray       # (4,) float32, zeros when no face
    embedding: np.ndarray  # (D,) float32, zeros when no face


def person_name_ok(name: str) -> str | None:
    """None when ``name`` is a usable person name, else the reason it is not."""
    if not isinstance(name, str) or not name.strip():
        return "the name is empty"
    if name != name.strip():
        return "the name starts or ends with spaces"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "the name contains a control character"
    if any(ch in name for ch in '/\\:*?"<>|'):
        return 'the name contains one of / \\ : * ? " < > |'
    if name in (".", "..") or name.startswith("."):
        return "the name starts with a dot"
    if name.endswith("."):
        return "the name ends with a dot"
    if len(name.encode("utf-8")) > 200:
        return "the name is longer than 200 bytes"
    if name.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        return f"{name.split('.')[0]!r} is a reserved file name on Windows"
    return None


_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def check_person_name(name: str) -> str:
    """``name`` normalised (Unicode NFC) if it is safe as a folder inside known_faces, else EnrollError."""
    normalised = unicodedata.normalize("NFC", name) if isinstance(name, str) else name
    reason = person_name_ok(normalised)
    if reason:
        raise EnrollError(f"cannot use {name!r} as a person's name: {reason}; choose a plain name like 'Ada Lovelace'")
    return normalised


def person_folder(root: Path, name: str) -> Path:
    """The folder of person ``name`` inside ``root``, proven to stay inside it."""
    name = check_person_name(name)
    root = Path(root).resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise EnrollError(f"cannot use {name!r} as a person's name: it leaves the known_faces folder")
    return folder


def scan_photos(root: Path) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """Photos under ``root`` as ``(path, person)``, sorted; plus ``(path, reason)`` for entries passed over.

    Never follows a symbolic link to a folder (no loops); hidden entries are ignored.
    """
    root = Path(root)
    photos: list[tuple[Path, str]] = []
    passed: list[tuple[str, str]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        raise GalleryError(f"the known_faces folder {root} does not exist; create it and add a folder per person") from None
    except OSError as error:
        raise GalleryError(f"cannot read the known_faces folder {root}: {error.strerror}") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if _is_dir(entry):
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False, onerror=lambda e: passed.append(
                    (str(e.filename), f"cannot read: {e.strerror}"))):
                top = dirpath == str(path)  # the person's own folder: its .learned/ is read (learned crops)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") or (top and d == LEARNED_DIR))
                for filename in sorted(filenames):
                    if filename.startswith("."):
                        continue
                    file_path = Path(dirpath) / filename
                    if is_image_name(filename):
                        photos.append((file_path, entry.name))
                    elif filename.lower() not in ("readme.md", "readme.txt", "thumbs.db", "desktop.ini"):
                        passed.append((str(file_path), "not a photo (facecam reads .jpg .jpeg .png .bmp .webp)"))
        elif is_image_name(entry.name):
            photos.append((path, Path(entry.name).stem))
        elif entry.name.lower() not in ("readme.md", "readme.txt", "thumbs.db", "desktop.ini"):
            passed.append((str(path), "not a photo (facecam reads .jpg .jpeg .png .bmp .webp)"))
    return photos, passed


def is_learned(path: str | Path) -> bool:
    """True for a crop learned with ``--learn`` (in ``<person>/.learned/``), False for a user's own photo."""
    return Path(path).parent.name == LEARNED_DIR


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _fast_key(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What must stay the same for a photo's cached hash to be trusted: size, mtime, inode, ctime."""
    return (int(stat.st_size), int(stat.st_mtime_ns), int(stat.st_ino), int(stat.st_ctime_ns))


class Gallery:
    """The people of a known_faces folder and their embeddings for one model.

    ``refresh(embed_photo)`` brings the cache up to date with the folder, calling
    ``embed_photo(path) -> PhotoEmbedding`` only for photos it has not seen;
    ``matrix()`` gives the embeddings in matching form.
    """

    @classmethod
    def for_recognizer(cls, root: Path, recognizer, cache_dir: Path | None = None) -> "Gallery":
        """The gallery of ``root`` as ``recognizer`` (a :class:`facecam.recognizer.Recognizer`) embeds it.

        ``cache_dir`` None: ``root/.facecam``, or a folder in the user cache when ``root`` is read-only
        (a shared or mounted folder); ``cache_note`` then says where, and each refresh's report carries it.
        """
        model_file = getattr(recognizer.embedder, "weights_path", None) or getattr(recognizer.embedder,
                                                                                   "model_path", None)
        return cls(root, recognizer.model, recognizer.photo_version, recognizer.embedder.dim, cache_dir,
                   model_file=model_file, cache_name=recognizer.cache_name)

    def __init__(self, root: Path, model: str, embedder_version: str, dim: int, cache_dir: Path | None = None,
                 model_file: str | Path | None = None, cache_name: str | None = None):
        self.root = Path(root)
        self.cache_note: str | None = None
        if cache_dir is None and read_only_folder(self.root):
            cache_dir = fallback_cache_dir(self.root)
            self.cache_note = f"{self.root} is read-only; its embeddings are cached in {cache_dir}"
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / CACHE_DIR
        self.model_file = model_file
        self.model = model
        self.cache_name = cache_name or model  # the cache file's name: one per model and detector
        self.version = f"{embedder_version}|{PREPROCESS_VERSION}"
        self.dim = int(dim)
        self._records: dict[str, _Record] = {}        # sha256 -> record
        self._stat: dict[str, tuple[int, int, int, int, str]] = {}  # path -> (size, mtime_ns, inode, ctime_ns, sha)
        self._photos: list[tuple[str, str, str]] = []   # (path, person, sha256) currently in the folder
        self._present: set[str] = set()                   # sha256 of every photo on disk (faces or not)
        self._loaded = False
        # person means kept up to date photo by photo, and past the exact size an ANN index (facecam.search)
        self._search = GallerySearch(self.dim, self.cache_dir / f"{model}-index.usearch", salt=self.version)

    # ----- cache -----
    @property
    def cache_path(self) -> Path:
        return self.cache_dir / f"{self.cache_name}.npz"

    def load_cache(self) -> list[str]:
        """Read the cache; returns warnings (an unreadable or stale cache is ignored and rebuilt)."""
        self._loaded = True
        path = self.cache_path
        if not path.exists():
            return []
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != CACHE_FORMAT or str(data["model"]) != self.model:
                    return [f"cache {path} is from another facecam version or model; rebuilding it"]
                if str(data["version"]) != self.version:
                    return [f"cache {path} was made with other preprocessing ({data['version']}); rebuilding it"]
                hashes = data["sha256"]
                faces = data["faces"].astype(np.int64)
                boxes = data["boxes"].astype(np.float32)
                embeddings = data["embeddings"].astype(np.float32)
                stat_paths, stat_sha = data["stat_paths"], data["stat_sha"]
                stat_keys = data["stat_keys"].astype(np.int64)
            n = len(hashes)
            if faces.shape != (n,) or boxes.shape != (n, 4) or embeddings.shape != (n, self.dim) or \
                    stat_keys.shape != (len(stat_paths), 4) or len(stat_sha) != len(stat_paths):
                return [f"cache {path} is inconsistent; rebuilding it"]
            if not np.all(np.isfinite(embeddings)):
                return [f"cache {path} holds invalid numbers; rebuilding it"]
        except Exception as error:  # noqa: BLE001 - any damage means: rebuild
            return [f"cache {path} cannot be read ({type(error).__name__}); rebuilding it"]
        self._records = {str(h): _Record(int(f), b, e) for h, f, b, e in zip(hashes, faces, boxes, embeddings)}
        self._stat = {str(p): (*(int(v) for v in k), str(h)) for p, k, h in zip(stat_paths, stat_keys, stat_sha)}
        return []

    def save_cache(self) -> None:
        """Write the cache atomically (0600), keeping only the photos in the folder."""
        live = self._present
        hashes = sorted(h for h in self._records if h in live)
        records = [self._records[h] for h in hashes]
        stat_items = sorted((p, v) for p, v in self._stat.items() if v[-1] in live)

        buffer = io.BytesIO()
        np.savez(
            buffer,
            format=np.int64(CACHE_FORMAT), model=np.str_(self.model), version=np.str_(self.version),
            sha256=np.array(hashes, dtype="U64"),
            faces=np.array([r.faces for r in records], dtype=np.int64),
            boxes=np.array([r.box for r in records], dtype=np.float32).reshape(-1, 4),
            embeddings=np.array([r.embedding for r in records], dtype=np.float32).reshape(-1, self.dim),
            stat_paths=np.array([p for p, _ in stat_items], dtype=str),
            stat_keys=np.array([v[:4] for _, v in stat_items], dtype=np.int64).reshape(-1, 4),
            stat_sha=np.array([v[-1] for _, v in stat_items], dtype="U64"),
        )
        try:
            private_folder(self.cache_path.parent)
            atomic_write_bytes(self.cache_path, buffer.getvalue(), mode=0o600)
        except OSError as error:
            raise GalleryError(f"cannot write the embeddings cache {self.cache_path}: {error.strerror or error}; "
                               "check the disk space and that the folder is writable") from None

    # ----- refresh -----
    def refresh(self, embed_photo: Callable[[Path], PhotoEmbedding],
                progress: Callable[[int, int, str], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> IndexReport:
        """Bring the gallery up to date with the folder; embeds only photos not in the cache.

        ``progress(done, total, path)`` is called for each photo; ``should_stop()``
        ends the refresh early (the work done so far is kept). Ctrl-C is safe:
        what was embedded is saved, the cache is never left half-written.
        """
        report = IndexReport(cache_note=self.cache_note)
        if not self._loaded:
            report.warnings.extend(self.load_cache())
        photos, passed = scan_photos(self.root)
        report.skipped.extend(passed)
        on_disk = {str(path) for path, _ in photos}
        gone = [key for key in self._stat if key not in on_disk]
        current: list[tuple[str, str, str]] = []
        present: set[str] = set()
        dirty = bool(gone)
        last_save = time.monotonic()
        try:
            for done, (path, person) in enumerate(photos, start=1):
                if should_stop is not None and should_stop():
                    report.interrupted = True
                    break
                key = str(path)
                try:
                    sha = self._hash(path)
                except OSError as error:
                    report.skipped.append((key, f"cannot read: {error.strerror or error}"))
                    continue
                record = self._records.get(sha)
                if record is None:
                    try:
                        result = embed_photo(path)
                    except FacecamError as error:
                        report.skipped.append((key, str(error)))
                        self._stat.pop(key, None)
                        continue
                    record = self._record_from(result)
                    self._records[sha] = record
                    report.embedded += 1
                    dirty = True
                else:
                    report.reused += 1
                present.add(sha)
                if record.faces == 0:
                    report.no_face += 1
                    report.skipped.append((key, "no face found"))
                else:
                    if record.faces > 1:
                        report.several_faces.append((key, record.faces))
                    current.append((key, person, sha))
                if progress is not None:
                    progress(done, len(photos), key)
                if dirty and time.monotonic() - last_save > CHECKPOINT_SECONDS:
                    self._save_partial(current, present)
                    last_save, dirty = time.monotonic(), False
        except KeyboardInterrupt:
            self._save_partial(current, present)
            raise
        if report.interrupted:
            # Keep what we did not get to, so that stopping early drops nobody.
            self._save_partial(current, present)
            return self._finish(report)
        for key in gone:
            self._stat.pop(key, None)
        report.removed = len(gone)
        self._photos = current
        self._present = present
        if dirty or not self.cache_path.exists():
            self.save_cache()
        self._check_distinct()
        return self._finish(report)

    def _save_partial(self, current: list, present: set) -> None:
        seen = {key for key, _, _ in current}
        self._photos = current + [p for p in self._photos if p[0] not in seen]
        self._present = present | {sha for _, _, sha in self._photos} | {v[-1] for v in self._stat.values()}
        self.save_cache()

    def _finish(self, report: IndexReport) -> IndexReport:
        report.photos = len(self._photos)
        report.people = len({person for _, person, _ in self._photos})
        return report

    def _hash(self, path: Path) -> str:
        """The photo's sha256; not read again while its size, mtime, inode and ctime stay the same (a photo
        replaced under the same size and mtime still gets a new inode or ctime)."""
        stat = path.stat()
        key = str(path)
        fast = _fast_key(stat)
        cached = self._stat.get(key)
        if cached and cached[:4] == fast:
            return cached[4]
        if not path.is_file():
            raise IsADirectoryError(21, "not a regular file")
        sha = sha256_of(path)
        self._stat[key] = (*fast, sha)
        return sha

    def _check_distinct(self) -> None:
        """IndistinctModelError when the photos' embeddings are nearly all the same (see
        :func:`median_distinct_distance`): a model that cannot tell faces apart must not name anyone."""
        matrix = self.matrix()
        median = median_distinct_distance(matrix.embeddings, matrix.labels)
        if median is None or median >= INDISTINCT_MEDIAN_DISTANCE:
            return
        what = f"the model file {self.model_file}" if self.model_file else f"the {self.model} model"
        raise IndistinctModelError(
            f"{what} cannot tell faces apart: photos of different people in {self.root} embed to nearly the same "
            f"vector (median cosine distance {median:.2g}, below {INDISTINCT_MEDIAN_DISTANCE:g}); it is not a "
            f"working {self.model} weights file: download it again or choose another with --weights PATH. "
            "Nobody is named with it")

    def _record_from(self, result: PhotoEmbedding) -> _Record:
        if result.faces == 0 or result.embedding is None:
            return _Record(0, np.zeros(4, np.float32), np.zeros(self.dim, np.float32))
        embedding = np.asarray(result.embedding, dtype=np.float32).reshape(-1)
        if embedding.shape != (self.dim,):
            raise GalleryError(f"embedding: expected {self.dim} values, got {embedding.shape[0]}")
        return _Record(int(result.faces), np.asarray(result.box, np.float32), embedding)

    # ----- queries -----
    def matrix(self) -> GalleryMatrix:
        """The current photos' embeddings in matching form (empty when no one is enrolled)."""
        return self.rows()[0]

    def rows(self) -> tuple[GalleryMatrix, list[str]]:
        """The matrix and, for each of its rows (in the matrix's order), the photo's path."""
        if not self._photos:
            return GalleryMatrix.empty(self.dim), []
        names = [person for _, person, _ in self._photos]
        embeddings = np.stack([self._records[sha].embedding for _, _, sha in self._photos])
        matrix = GalleryMatrix.from_pairs(names, embeddings)
        index = {name: i for i, name in enumerate(matrix.names)}
        order = np.argsort([index[name] for name in names], kind="stable")  # GalleryMatrix's own row order
        photos = [self._photos[i] for i in order]
        matrix = self._search.attach(matrix, photos, lambda sha: self._records[sha].embedding)
        return matrix, [path for path, _, _ in photos]

    def people(self) -> dict[str, list[str]]:
        """Each person and their photo paths, sorted by name."""
        out: dict[str, list[str]] = {}
        for path, person, _ in self._photos:
            out.setdefault(person, []).append(path)
        return dict(sorted(out.items()))

    def photos(self) -> list[tuple[str, str]]:
        return [(path, person) for path, person, _ in self._photos]

    def face_box(self, path: str | Path) -> tuple[float, float, float, float] | None:
        """The ``(x, y, w, h)`` of the face used for a photo in the gallery (None if it is not in it)."""
        key = str(path)
        for photo, _, sha in self._photos:
            if photo == key:
                return tuple(float(v) for v in self._records[sha].box)
        return None


def median_distinct_distance(embeddings: np.ndarray, labels: np.ndarray,
                             rows: int = DISTINCT_CHECK_ROWS) -> float | None:
    """The median cosine distance between photos of different people (between any two photos when there is
    one person), over at most ``rows`` photos spread evenly; None with fewer than two photos."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if embeddings.shape[0] < 2:
        return None
    pick = np.unique(np.linspace(0, embeddings.shape[0] - 1, min(rows, embeddings.shape[0])).round().astype(int))
    vectors, owners = embeddings[pick], labels[pick]
    first, second = np.triu_indices(len(pick), k=1)
    distances = 1.0 - np.einsum("kd,kd->k", vectors[first], vectors[second])
    different = owners[first] != owners[second]
    return float(np.median(distances[different] if different.any() else distances))


def read_only_folder(root: Path) -> bool:
    """True when facecam should not write into ``root``: its cache folder (or ``root``) is read-only, by its
    permission bits (which count even for root) or for this user."""
    target = Path(root) / CACHE_DIR
    try:
        probe = target if target.exists() else Path(root)
        mode = probe.stat().st_mode
    except OSError:
        return False
    return not (mode & 0o222) or not os.access(probe, os.W_OK)


def fallback_cache_root() -> Path:
    """Where the embeddings of read-only folders are cached: the user cache folder."""
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_cache_dir("facecam")) / "known_faces"


def fallback_cache_dir(root: Path) -> Path:
    """The user-cache folder that holds the cache of the read-only folder ``root`` (one per folder)."""
    return fallback_cache_root() / hashlib.sha256(str(Path(root).resolve()).encode("utf-8")).hexdigest()[:16]
def safe_photo_stem(stem: str) -> str:
    """``stem`` made into a file name the gallery will index: visible (no leading dot), no control or
    format characters, none of ``/ \\ : * ? " < > |``, no trailing dot or space, at most 80 characters;
    "photo" when nothing is left."""
    stem = unicodedata.normalize("NFC", stem)
    stem = "".join("_" if ch in '/\\:*?"<>|' else ch for ch in stem
                   if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    stem = stem.strip().lstrip(".").strip()[:80].rstrip(". ")
    if not stem or stem.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        return "photo" + (f"-{stem}" if stem else "")
    return stem


def enroll_photos(root: Path, name: str, photo_paths: Iterable[Path],
                  has_face: Callable[[Path], int]) -> list[Path]:
    """Copy photos into ``root/name/``, refusing any with no face; returns the new files.

    ``has_face(path)`` returns the number of faces in a photo (0 refuses it).
    Files are written under new unique names, never overwriting anything.
    """
    person_folder(root, name)   # a bad name is refused before any photo is looked at
    checked = []
    for photo in photo_paths:
        photo = Path(photo)
        count = has_face(photo)
        if count == 0:
            raise EnrollError(f"no face found in {photo}; choose a photo where the face is clear and at least 40 pixels wide")
        checked.append(photo)
    return add_photos(root, name, ((photo.name, photo.read_bytes()) for photo in checked))


def add_photos(root: Path, name: str, photos: Iterable[tuple[str, bytes]]) -> list[Path]:
    """Write each ``(file name, encoded photo)`` as a new file in ``root/name/``; returns the new files.

    The one way a photo gets into a person's folder (``enroll``, the window's Enroll, naming unknown
    faces): the name made safe (:func:`safe_photo_stem`, an image suffix), atomic, under a new unique
    name, never overwriting anything. EnrollError when the disk refuses.
    """
    from facecam.fileutil import write_new_file  # noqa: PLC0415

    folder = person_folder(root, name)
    written = []
    for filename, data in photos:
        stem, suffix = os.path.splitext(filename)
        suffix = suffix.lower() if is_image_name("x" + suffix) else ".jpg"
        try:
            written.append(write_new_file(folder, safe_photo_stem(stem), suffix, data))
        except OSError as error:
            raise EnrollError(f"cannot save {filename} into {folder}: {error.strerror or error}; "
                              "check the disk space and that the folder is writable") from None
    return written


def remove_person(root: Path, name: str) -> Path:
    """Move a person's folder (or single photo) into ``known_faces/.facecam/removed/``; returns where it went."""
    root = Path(root)
    folder = person_folder(root, name)
    sources = [folder] if folder.is_dir() else [p for p in root.iterdir() if p.is_file() and p.stem == name and is_image_name(p.name)]
    if not sources:
        raise GalleryError(f"no person called {name!r} in {root}")
    backup = root / CACHE_DIR / "removed" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    backup.mkdir(parents=True, exist_ok=False)
    for source in sources:
        shutil.move(str(source), str(backup / source.name))
    return backup


def person_files(root: Path, name: str) -> list[Path]:
    """Everything of person ``name`` in ``root``: their folder (photos, learned crops, anything else) and a
    single photo named after them (``root/<name>.jpg``); ``[]`` when there is none."""
    root = Path(root)
    folder = person_folder(root, name)
    found = [folder] if folder.is_dir() and not folder.is_symlink() else []
    if root.is_dir():
        found += sorted(p for p in root.iterdir() if p.is_file() and p.stem == name and is_image_name(p.name))
    return found


def removed_backups(root: Path, name: str) -> list[Path]:
    """The copies :func:`remove_person` kept of ``name`` (``.facecam/removed/<name>-<time>``)."""
    folder = Path(root) / CACHE_DIR / "removed"
    if not folder.is_dir():
        return []
    stamp = len("-20260101-000000")
    return sorted(p for p in folder.iterdir() if p.name[:-stamp] == name and p.name[-stamp:][:1] == "-")


def _belongs_to(stat_path: str, roots: list[Path], name: str) -> bool:
    """True when the cached path ``stat_path`` is one of ``name``'s photos (their folder, or ``<name>.jpg``)."""
    path = Path(stat_path)
    for root in roots:
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            continue
        return bool(parts) and (parts[0] == name if len(parts) > 1 else Path(parts[0]).stem == name)
    return False


def drop_cached_person(cache_dir: Path, root: Path, name: str, hashes: set[str]) -> dict[str, np.ndarray]:
    """Remove a person's rows from every embeddings cache in ``cache_dir``: the photos with these content hashes
    and every cached path of theirs (their folder, ``<name>.jpg``). The ANN index files there are deleted (the
    next refresh rebuilds them from the caches) and a cache that cannot be read is deleted (it is rebuilt).
    Returns ``{cache file name: the embeddings removed, float32 rows as they were stored}``."""
    cache_dir = Path(cache_dir)
    removed: dict[str, np.ndarray] = {}
    if not cache_dir.is_dir():
        return removed
    roots = [Path(root), Path(root).absolute(), Path(root).resolve()]
    for index in cache_dir.glob("*-index.usearch"):
        index.unlink(missing_ok=True)
    for path in sorted(cache_dir.glob("*.npz")):
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            stat_sha, stat_paths, sha = arrays["stat_sha"], arrays["stat_paths"], arrays["sha256"]
        except Exception:  # noqa: BLE001 - a cache that cannot be read may hold anything: it goes (and is rebuilt)
            path.unlink(missing_ok=True)
            removed[path.name] = np.zeros((0, 0), np.float32)
            continue
        theirs = set(hashes) | {str(h) for p, h in zip(stat_paths, stat_sha) if _belongs_to(str(p), roots, name)}
        rows = np.isin(sha.astype(str), list(theirs)) if len(sha) else np.zeros(0, bool)
        stats = np.isin(stat_sha.astype(str), list(theirs)) if len(stat_sha) else np.zeros(0, bool)
        if not rows.any() and not stats.any():
            continue
        removed[path.name] = np.asarray(arrays["embeddings"][rows], np.float32)
        per_row = {"sha256", "faces", "boxes", "embeddings"}
        per_stat = {"stat_paths", "stat_keys", "stat_sha"}
        kept = {key: (value[~rows] if key in per_row else value[~stats] if key in per_stat else value)
                for key, value in arrays.items()}
        buffer = io.BytesIO()
        np.savez(buffer, **kept)
        atomic_write_bytes(path, buffer.getvalue(), mode=0o600)
    return removed


def folder_signature(root: Path) -> tuple:
    """A cheap fingerprint of the photos in ``root`` (names, sizes, modification times): no file is read."""
    photos, _ = scan_photos(root)
    signature = []
    for path, person in photos:
        try:
            stat = path.stat()
        except OSError:
            continue
        signature.append((str(path), person, stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


class GalleryWatcher:
    """Keeps a :class:`Gallery` in step with its folder while the app runs (Qt-free, one thread).

    Every ``interval_s`` it compares the folder's fingerprint (names, sizes,
    times: cheap) with the last one; on a change it waits until the folder has
    been quiet for ``settle_s`` (a photo still being copied), refreshes the
    gallery (embedding only what is new) and calls ``on_change(matrix, report)``.
    ``on_error(exception)`` reports a failure; the watcher keeps going.
    ``refresh_now()`` asks for a refresh at once (the Rescan button, after Enroll).
    """

    def __init__(self, gallery: Gallery, embed_photo: Callable[[Path], PhotoEmbedding],
                 on_change: Callable[[GalleryMatrix, IndexReport], None],
                 on_error: Callable[[BaseException], None] | None = None,
                 interval_s: float = 0.5, settle_s: float = 0.3,
                 progress: Callable[[int, int, str], None] | None = None):
        self.gallery = gallery
        self.embed_photo = embed_photo
        self.on_change = on_change
        self.on_error = on_error
        self.interval_s = float(interval_s)
        self.settle_s = float(settle_s)
        self.progress = progress
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._signature: tuple | None = None

    def start(self, initial_refresh: bool = True) -> "GalleryWatcher":
        if initial_refresh:
            self._wake.set()
        else:
            self._signature = self._safe_signature()
        self._thread = threading.Thread(target=self._run, name="facecam-gallery-watcher", daemon=True)
        self._thread.start()
        return self

    def refresh_now(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = 1.0) -> bool:
        self.request_stop()
        return self.join(timeout)

    def request_stop(self) -> None:
        """Ask the watcher to stop after the refresh in progress; returns at once (see :meth:`join`)."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the watcher thread to end (None: as long as it takes); True when it has ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _safe_signature(self) -> tuple | None:
        try:
            return folder_signature(self.gallery.root)
        except FacecamError:
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            forced = self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            signature = self._safe_signature()
            if not forced and signature == self._signature:
                continue
            if not forced:
                # let a copy finish: wait until the folder stops changing
                while not self._stop.wait(self.settle_s):
                    again = self._safe_signature()
                    if again == signature:
                        break
                    signature = again
            try:
                report = self.gallery.refresh(self.embed_photo, progress=self.progress, should_stop=self._stop.is_set)
                self._signature = signature
                self.on_change(self.gallery.matrix(), report)
            except Exception as error:  # noqa: BLE001 - reported; the watcher keeps going
                self._signature = signature
                if self.on_error is not None:
                    self.on_error(error)
