"""The gallery kept in PostgreSQL: the same face as :class:`facecam.gallery.Gallery` to the commands.

:class:`DbGallery` holds the embeddings of one model/preprocessing version in memory and keeps
them in step with the database incrementally (rows after the last one it read). A photo stored
without an embedding for this model (enrolled by an instance running another model) is embedded
from its thumbnail, through the same ``embed_photo`` path as a folder photo, and stored for the
next instance. :func:`upload_folder` sends a local ``known_faces`` gallery's photos (their face
thumbnails) and embeddings; :func:`enroll_into` stores new photos of a person.

psycopg-free: it talks to the database only through :class:`facecam.db.postgres.PostgresStore`.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from facecam.db import open_when_reachable
from facecam.db.postgres import NewEmbedding
from facecam.errors import EnrollError, FacecamError
from facecam.fileutil import private_folder, sha256_of
from facecam.gallery import PREPROCESS_VERSION, IndexReport, PhotoEmbedding, check_person_name
from facecam.matcher import GalleryMatrix
from facecam.search import GallerySearch

THUMBNAIL_LONGEST = 320      # pixels: the face and some of its surroundings, enough to detect and embed it again
THUMBNAIL_MARGIN = 0.6       # of the face's size, added on each side
THUMBNAIL_QUALITY = 92


def face_thumbnail(bgr_image: np.ndarray, box) -> tuple[bytes, tuple[float, float, float, float]]:
    """A small JPEG of the face at ``box`` (x, y, w, h) with a margin, and the face's box in it."""
    import cv2  # noqa: PLC0415

    height, width = bgr_image.shape[:2]
    x, y, w, h = (float(v) for v in box)
    pad = THUMBNAIL_MARGIN * max(w, h)
    left, top = max(0, int(x - pad)), max(0, int(y - pad))
    right, bottom = min(width, int(np.ceil(x + w + pad))), min(height, int(np.ceil(y + h + pad)))
    crop = bgr_image[top:bottom, left:right]
    scale = min(1.0, THUMBNAIL_LONGEST / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    if not ok:
        raise FacecamError("could not encode a face thumbnail as JPEG")
    return jpeg.tobytes(), ((x - left) * scale, (y - top) * scale, w * scale, h * scale)


def db_version(recognizer) -> tuple[str, str]:
    """The ``(model, version)`` key of ``recognizer``'s embeddings, as the folder cache keys them."""
    return recognizer.cache_name, f"{recognizer.photo_version}|{PREPROCESS_VERSION}"


class DbGallery:
    """The people and embeddings in the database, for one model; ``refresh`` reads only what is new."""

    cache_note = None

    def __init__(self, store, model: str, version: str, dim: int):
        self.store, self.model, self.version, self.dim = store, model, version, int(dim)
        self._rows: dict[int, tuple[str, np.ndarray]] = {}  # photo id -> (person, embedding)
        self._last_id = 0
        self._photos_seen = 0  # photos up to this id were embedded or tried: a refresh looks only past it
        self._lock = threading.Lock()
        self._search = GallerySearch(self.dim, salt=version)  # in memory: rebuilt at each start past the exact size

    @classmethod
    def for_recognizer(cls, store, recognizer) -> "DbGallery":
        model, version = db_version(recognizer)
        return cls(store, model, version, recognizer.embedder.dim)

    def refresh(self, embed_photo: Callable[[Path], PhotoEmbedding], progress=None,
                should_stop: Callable[[], bool] | None = None) -> IndexReport:
        """Embed stored photos this model has not seen, then read the embeddings added since the last call."""
        report = IndexReport()
        with self._lock:
            missing = self.store.photos_without(self.model, self.version, self._photos_seen)
            if missing:
                with tempfile.TemporaryDirectory(prefix="facecam-db-") as folder:
                    private_folder(Path(folder))
                    for done, photo in enumerate(missing, 1):
                        if should_stop is not None and should_stop():
                            report.interrupted = True
                            break
                        path = Path(folder) / f"{photo.id}.jpg"
                        path.write_bytes(photo.thumbnail)
                        try:
                            result = embed_photo(path)
                        except FacecamError as error:
                            report.skipped.append((f"{photo.person}/{photo.file_name}", str(error)))
                            continue
                        finally:
                            path.unlink(missing_ok=True)
                        self.store.add_embedding(photo.id, NewEmbedding(self.model, self.version, result.faces,
                                                                        result.box, result.embedding))
                        report.embedded += 1
                        if progress is not None:
                            progress(done, len(missing), f"{photo.person}/{photo.file_name}")
            seen = max([self._photos_seen] + [photo.id for photo in missing])
            for row in self.store.embeddings(self.model, self.version, self._last_id):
                self._last_id = max(self._last_id, row.id)
                seen = max(seen, row.photo_id)
                if row.faces == 0 or row.embedding is None or row.embedding.shape != (self.dim,):
                    report.no_face += 1
                    continue
                self._rows[row.photo_id] = (row.person, row.embedding)
            if not report.interrupted:  # (a photo committed late with a lower id waits for the next start)
                self._photos_seen = seen
            report.photos = len(self._rows)
            report.people = len({person for person, _ in self._rows.values()})
        return report

    def matrix(self) -> GalleryMatrix:
        """The embeddings read so far in matching form (empty when no one is enrolled), with person means kept
        up to date photo by photo and, past the exact-search size, an approximate index (:mod:`facecam.search`)."""
        with self._lock:
            rows = dict(self._rows)
        if not rows:
            return GalleryMatrix.empty(self.dim)
        ids = sorted(rows)
        names = [rows[i][0] for i in ids]
        matrix = GalleryMatrix.from_pairs(names, np.stack([rows[i][1] for i in ids]))
        index = {name: n for n, name in enumerate(matrix.names)}
        order = np.argsort([index[name] for name in names], kind="stable")  # GalleryMatrix's own row order
        photos = [(f"db:{ids[n]}", names[n], str(ids[n])) for n in order]
        return self._search.attach(matrix, photos, lambda key: rows[int(key)][1])

    def people(self) -> dict[str, list[str]]:
        """Each person and their photo ids (as ``db:<id>``), sorted by name."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for photo_id, (person, _) in sorted(self._rows.items()):
                out.setdefault(person, []).append(f"db:{photo_id}")
        return dict(sorted(out.items()))


def upload_folder(store, gallery, model: str, version: str) -> tuple[int, int]:
    """Send the photos of a refreshed local :class:`facecam.gallery.Gallery` that the database lacks (their
    face thumbnails and embeddings); ``(photos sent, photos already there)``."""
    from facecam.images import read_image  # noqa: PLC0415

    matrix, paths = gallery.rows()
    known = store.photo_keys()
    sent = kept = 0
    for path, label, embedding in zip(paths, matrix.labels, matrix.embeddings):
        person = matrix.names[int(label)]
        sha = sha256_of(path)
        if (person, sha) in known:
            kept += 1
            continue
        thumbnail, box = face_thumbnail(read_image(path), gallery.face_box(path))
        store.add_photo(person, sha, Path(path).name, thumbnail, NewEmbedding(model, version, 1, box, embedding))
        sent += 1
    return sent, kept


def enroll_into(store, name: str, photos: Iterable[Path], embed_photo: Callable[[Path], PhotoEmbedding],
                model: str, version: str) -> list[int]:
    """Store photos of ``name`` (each must show a face: EnrollError before anything is written); the photo ids."""
    from facecam.images import read_image  # noqa: PLC0415

    name = check_person_name(name)
    checked = []
    for photo in photos:
        photo = Path(photo)
        result = embed_photo(photo)
        if result.faces == 0 or result.embedding is None:
            raise EnrollError(f"no face found in {photo}; choose a photo where the face is clear and at least "
                              "40 pixels wide")
        checked.append((photo, result))
    ids = []
    for photo, result in checked:
        thumbnail, box = face_thumbnail(read_image(photo), result.box)
        photo_id, _ = store.add_photo(name, sha256_of(photo), photo.name, thumbnail,
                                      NewEmbedding(model, version, result.faces, box, result.embedding))
        ids.append(photo_id)
    return ids


class GalleryFollower:
    """Keeps a :class:`DbGallery` in step with the database while a live command runs (one thread).

    It LISTENs for the notifications every instance sends when it enrolls or embeds a photo, reads
    what is new (incrementally) and calls ``on_change(matrix)`` when the gallery grew. While the
    database is away the last gallery stays in use; on reconnection it catches up at once.
    ``on_error(exception)`` reports a failed refresh; the follower keeps going.

    Started without a gallery (``gallery`` None: the database did not answer at start, or the caller leaves
    connecting to this thread), it first calls ``connect()`` (which opens the store and returns the
    :class:`DbGallery`, e.g. :meth:`facecam.stores.Stores.open_db_gallery`) until the database answers, with
    growing waits (:func:`facecam.db.open_when_reachable`; ``on_waiting(error, seconds)`` before each), then
    ``on_connected(gallery)`` (still before anything is read: e.g. store what waited for the database),
    then reads the gallery once (``progress(done, total, photo)`` for each photo it embeds) and reports it
    to ``on_first_read(matrix, report)`` when given (always, an empty gallery too), else to ``on_change``
    as any read; then follows as above. The store handed to ``on_connected`` is the caller's to close
    (stopped before that, the follower closes it).
    """

    def __init__(self, gallery: DbGallery | None, embed_photo: Callable[[Path], PhotoEmbedding],
                 on_change: Callable[[GalleryMatrix], None],
                 on_error: Callable[[BaseException], None] | None = None, *,
                 connect: Callable[[], DbGallery] | None = None,
                 on_waiting: Callable[[BaseException, float], None] | None = None,
                 on_connected: Callable[[DbGallery], None] | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 on_first_read: Callable[[GalleryMatrix, IndexReport], None] | None = None):
        if gallery is None and connect is None:
            raise ValueError("GalleryFollower: give a gallery, or connect() to open one")
        self.gallery, self.embed_photo = gallery, embed_photo
        self.on_change, self.on_error = on_change, on_error
        self._connect, self.on_waiting, self.on_connected = connect, on_waiting, on_connected
        self.progress, self.on_first_read = progress, on_first_read
        self.refreshes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facecam-db-gallery", daemon=True)

    def start(self) -> "GalleryFollower":
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the follower's thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        if self.gallery is None:
            if not self._open():
                return
            self._refresh(first=True)
        self.gallery.store.listen(self._refresh, self._stop)

    def _open(self) -> bool:
        """Wait for the database (retrying); True once the gallery is open, False when stopped or refused."""
        try:
            gallery = open_when_reachable(self._connect, self._stop, self.on_waiting)
        except Exception as error:  # noqa: BLE001 - e.g. a schema too new: reported, no retry helps
            if self.on_error is not None:
                self.on_error(error)
            return False
        if gallery is None:
            return False
        if self._stop.is_set():
            gallery.store.close()
            return False
        self.gallery = gallery
        if self.on_connected is not None:
            self.on_connected(gallery)
        return True

    def _refresh(self, first: bool = False) -> None:
        """Read what is new (``first``: the read after connecting, with ``progress``) and report it."""
        before = self.gallery.people()
        try:
            report = self.gallery.refresh(self.embed_photo, progress=self.progress if first else None,
                                          should_stop=self._stop.is_set)
        except Exception as error:  # noqa: BLE001 - reported; recognition goes on with the last gallery
            if self.on_error is not None:
                self.on_error(error)
            return
        self.refreshes += 1
        if first and self.on_first_read is not None:
            self.on_first_read(self.gallery.matrix(), report)
        elif report.embedded or self.gallery.people() != before:
            self.on_change(self.gallery.matrix())
