"""Where facecam keeps what it knows, chosen in one place: the gallery, the sightings log and the unknown faces of
a known_faces folder, or of a PostgreSQL database (``--db URL`` / ``$FACECAM_DB``).

:func:`open_stores` gives a :class:`Stores` for a folder and an optional database URL; every command, ``watch``
and the window open their stores through it, and nothing else constructs :class:`facecam.db.postgres.PostgresStore`
(tests/test_architecture.py checks). What a caller may use is declared by the protocols
(:class:`facecam.sightings.store.SightingStore`, :class:`facecam.unknowns.store.UnknownStore`,
:class:`GalleryStore`), never probed for.

Where the local files go (:func:`local_places`): ``known_faces/.facecam`` while facecam may write the folder; a
folder it may read but not write (a shared or mounted one, or one of another user) keeps working read-only: its
embeddings are cached in the user cache folder (:func:`facecam.gallery.fallback_cache_dir`), its sightings log,
unknown faces and outboxes in the user data folder (platformdirs), and one note says so. A folder it may not read
(:func:`check_readable`) stops a command with one line naming the folder and the permission.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from facecam.errors import FacecamError
from facecam.sightings.store import DEFAULT_RETENTION_DAYS, FILE_NAME, SightingLog, SightingStore, SqliteSightingStore

if TYPE_CHECKING:  # pragma: no cover - the unknowns and the gallery load numpy and OpenCV: imported when used
    from facecam.unknowns.store import UnknownStore

CACHE_DIR = ".facecam"   # as facecam.gallery.CACHE_DIR (a process writing only sightings imports no more than this)

CLI_HINT = "give your user read access to it (chmod u+rwx), or point --known-faces at another folder"
WINDOW_HINT = ("give your user read access to it (chmod u+rwx) and press F5 (Rescan known_faces), or start the "
               "window with --known-faces on another folder")


class FolderAccessError(FacecamError):
    """facecam may not read the known_faces folder (or its ``.facecam`` folder): the message names it and why."""


class GalleryStore(Protocol):
    """The people and their embeddings, from the folder (:class:`facecam.gallery.Gallery`) or the database
    (:class:`facecam.db.gallery.DbGallery`)."""

    cache_note: str | None

    def refresh(self, embed_photo, progress=None, should_stop=None):
        """Embed what is new; an :class:`facecam.gallery.IndexReport`."""

    def matrix(self):
        """The embeddings in matching form (:class:`facecam.matcher.GalleryMatrix`)."""

    def people(self) -> dict[str, list[str]]:
        """Each person's photos (paths, or ``db:<id>`` in the database)."""


# ---------------------------------------------------------------- the local folders

def _describe(path: Path) -> str:
    """``mode 000, owner uid 1000`` (what a user needs to fix a refusal), or "" when it cannot be read."""
    try:
        info = path.stat()
    except OSError:
        return ""
    return f"mode {stat.S_IMODE(info.st_mode):03o}, owner uid {info.st_uid}"


def _refused(path: Path, what: str, hint: str) -> FolderAccessError:
    facts = _describe(path)
    return FolderAccessError(f"{what} {path} cannot be read: permission denied"
                             + (f" ({facts})" if facts else "") + f"; {hint}")


def check_readable(known_faces: Path, hint: str = CLI_HINT) -> None:
    """Raise :class:`FolderAccessError` (one line: the folder, the permission, what to do) when facecam may not
    list ``known_faces`` or its ``.facecam`` folder; a folder that does not exist yet is fine (it is created or
    reported where it is used)."""
    root = Path(known_faces)
    try:
        if not root.is_dir():
            return
        os.listdir(root)
    except PermissionError:
        raise _refused(root, "the known_faces folder", hint) from None
    cache = root / CACHE_DIR
    try:
        if cache.is_symlink() or (cache.exists() and not cache.is_dir()):
            raise FolderAccessError(f"{cache} is not a folder; facecam keeps its cache and logs there: move it "
                                    "aside (or delete it) and try again")
        if cache.is_dir():
            os.listdir(cache)
    except PermissionError:
        raise _refused(cache, "facecam's folder", hint) from None


def permission_message(error: OSError) -> str:
    """One line for a refusal met anywhere (a photo folder, a log): the path, the permission, what to do."""
    if not error.filename:
        return f"permission denied ({error.strerror or error}); check the permissions of the known_faces folder"
    path = Path(error.filename)
    facts = _describe(path)
    refusal = "read-only file system" if error.errno == errno.EROFS else "permission denied"
    return (f"{path} cannot be used: {refusal}" + (f" ({facts})" if facts else "")
            + "; check its permissions (chmod u+rwx), or use another folder")


def user_data_root() -> Path:
    """Where the logs of read-only known_faces folders are kept: the user data folder."""
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_data_dir("facecam")) / "known_faces"


@dataclass(frozen=True)
class LocalPlaces:
    """Where the files of one known_faces folder go."""

    root: Path                # the known_faces folder
    data_root: Path           # its stand-in for writing: ``data_root/.facecam`` holds the logs and outboxes
    cache_dir: Path | None    # the gallery's cache (None: ``root/.facecam``)
    note: str | None          # said once when the folder is read-only

    @property
    def data_folder(self) -> Path:
        return self.data_root / CACHE_DIR


def local_places(known_faces: Path) -> LocalPlaces:
    """``known_faces`` itself while facecam may write it; else the user cache (embeddings) and the user data
    folder (sightings, unknown faces, outboxes), one of each per folder, with a note that says where."""
    from facecam.gallery import fallback_cache_dir, read_only_folder  # noqa: PLC0415

    root = Path(known_faces)
    if not read_only_folder(root):
        return LocalPlaces(root, root, None, None)
    key = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]
    data_root, cache_dir = user_data_root() / key, fallback_cache_dir(root)
    return LocalPlaces(root, data_root, cache_dir,
                       f"{root} is read-only; its embeddings are cached in {cache_dir} and its sightings and unknown "
                       f"faces are kept in {data_root / CACHE_DIR}")


# ---------------------------------------------------------------- the chooser

def _unknowns_caps(settings: dict | None) -> tuple[int, float]:
    """The settings ``unknowns_max_sightings`` and ``unknowns_max_days`` (defaults 2,000 and 30)."""
    from facecam import config  # noqa: PLC0415
    from facecam.unknowns.store import DEFAULT_MAX_SIGHTINGS  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    max_sightings = settings.get("unknowns_max_sightings", DEFAULT_MAX_SIGHTINGS)
    if not isinstance(max_sightings, int) or isinstance(max_sightings, bool) or max_sightings < 1:
        max_sightings = DEFAULT_MAX_SIGHTINGS
    return max_sightings, config.retention_days("unknowns", None, settings)


class Stores:
    """The stores of one known_faces folder, or of the database at ``db_url`` (with the folder's local
    outboxes for when it is away). Open them with :func:`open_stores`; ``close()`` closes the database."""

    def __init__(self, known_faces: Path, db_url: str | None = None, *, hint: str = CLI_HINT):
        self.known_faces = Path(known_faces)
        self.db_url = db_url or None
        self.hint = hint   # what to do about a folder facecam may not read (the CLI's words, or the window's)
        self._places: LocalPlaces | None = None
        self._database = None

    @property
    def shared(self) -> bool:
        """True with a database: people, sightings and unknown faces are shared by every instance on it."""
        return self.db_url is not None

    @property
    def places(self) -> LocalPlaces:
        """Where the folder's files go; raises :class:`FolderAccessError` when facecam may not read it."""
        if self._places is None:
            check_readable(self.known_faces, self.hint)
            self._places = local_places(self.known_faces)
        return self._places

    @property
    def note(self) -> str | None:
        """The one note when the folder is read-only (where facecam keeps its files instead), else None."""
        return self.places.note

    @property
    def read_only(self) -> bool:
        """True when facecam may read the folder but not write it (nothing can be learned or enrolled into it)."""
        return self.places.note is not None

    @property
    def where(self) -> str:
        """Where the people come from, for messages: the folder, or the database (password hidden)."""
        if self.db_url:
            from facecam.db import redact  # noqa: PLC0415

            return f"the database {redact(self.db_url)}"
        return str(self.known_faces)

    # ------------------------------------------------------------ the database
    def connect(self, **options):
        """A new connection pool to the database (opened and migrated now): the only place facecam constructs a
        :class:`facecam.db.postgres.PostgresStore`. Raises :class:`facecam.db.DatabaseUnreachable`."""
        if not self.db_url:
            raise ValueError("no database URL: the stores are the known_faces folder")
        from facecam.db.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(self.db_url, **options)

    def database(self):
        """The database of ``--db``, opened and migrated once (closed by :meth:`close`)."""
        if self._database is None:
            self._database = self.connect()
        return self._database

    def adopt(self, database) -> None:
        """Keep ``database`` (opened by a background connect) as this session's own: closed by :meth:`close`."""
        if self._database is None:
            self._database = database

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None

    def __enter__(self) -> "Stores":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the gallery
    def gallery(self, recognizer) -> GalleryStore:
        """The gallery as ``recognizer`` embeds it, not yet refreshed: the folder's (cached in
        :attr:`LocalPlaces.cache_dir`), or with a database the one kept there."""
        if self.db_url:
            from facecam.db.gallery import DbGallery  # noqa: PLC0415

            return DbGallery.for_recognizer(self.database(), recognizer)
        return self.folder_gallery(recognizer)

    def folder_gallery(self, recognizer):
        """The folder's gallery (also with a database: ``index --db`` sends it there)."""
        from facecam.gallery import Gallery  # noqa: PLC0415

        return Gallery.for_recognizer(self.known_faces, recognizer, self.places.cache_dir)

    def open_db_gallery(self, recognizer):
        """The database's gallery on a connection of its own, opened now (a live command's follower calls it
        until the server answers); nothing is left open when it fails."""
        from facecam.db.gallery import DbGallery  # noqa: PLC0415

        database = self.connect()
        try:
            return DbGallery.for_recognizer(database, recognizer)
        except BaseException:
            database.close()
            raise

    # ------------------------------------------------------------ the sightings log
    def sightings(self, *, retention_days: float | None = DEFAULT_RETENTION_DAYS,
                  connect_later: bool = False, clock=None) -> SightingStore:
        """The sightings log (created when missing): the folder's SQLite log, or the database's with a local
        outbox for when the server is away.

        ``retention_days``: visits that ended longer ago are deleted now and while writing; None for a
        reader that deletes nothing (``facecam sightings``: a writer's ``--keep-days`` is what counts).
        ``connect_later`` (a live writer: ``watch``, the window): with a database, return at once and connect in
        the background, retrying until the server answers; visits wait in the local outbox meanwhile.
        ``clock``: the retention's "now" in Unix seconds (default ``time.time``; a test moves it forward)."""
        if retention_days is not None and not retention_days > 0:
            raise FacecamError(f"sightings retention must be more than 0 days, got {retention_days:g}; "
                               "use --no-sightings to keep none")
        folder = self.places.data_folder
        if self.db_url:
            from facecam.db.outbox import WRITE_TIMEOUT_S  # noqa: PLC0415
            from facecam.db.sightings import OUTBOX_NAME, SharedSightingStore  # noqa: PLC0415

            def connect():  # a write that waits WRITE_TIMEOUT_S for the server goes to the local outbox instead
                return self.connect(timeout_s=WRITE_TIMEOUT_S)

            return SharedSightingStore(None if connect_later else connect(), folder / OUTBOX_NAME,
                                       retention_days=retention_days, connect=connect)
        return SqliteSightingStore(folder / FILE_NAME, retention_days=retention_days,
                                   **({"clock": clock} if clock is not None else {}))

    def sighting_log(self) -> SightingLog | None:
        """The sightings log for reading only (the window's History): the database's (one connection, no
        outbox), or the folder's; None when the folder has none yet (nothing is created)."""
        if self.db_url:
            return self.connect(max_connections=1)
        if not (self.places.data_folder / FILE_NAME).exists():
            return None
        return SqliteSightingStore(self.places.data_folder / FILE_NAME, retention_days=None)

    def has_sightings(self) -> bool:
        """True with a database, or when the folder has a sightings log."""
        return bool(self.db_url) or (self.places.data_folder / FILE_NAME).exists()

    # ------------------------------------------------------------ the unknown faces
    def unknowns(self, model: str, dim: int | None, settings: dict | None = None, *, only_existing: bool = False,
                 live: bool = False, clock=None) -> UnknownStore | None:
        """The unknown faces of ``model``: the folder's (SQLite + crop files), or the database's, shared by every
        instance on it. Capped by the settings ``unknowns_max_sightings`` and ``unknowns_max_days``.
        ``only_existing``: None instead of creating a local store. ``live`` (``watch``, the window) with a
        database: returned at once, whether or not the server answers; it connects in the background and
        sightings wait in a local outbox while the database is away. ``clock``: the caps' "now" (Unix seconds)."""
        from facecam.unknowns.store import DB_NAME, LocalUnknownStore, store_folder  # noqa: PLC0415

        max_sightings, max_days = _unknowns_caps(settings)
        timing = {"clock": clock} if clock is not None else {}
        data_root = self.places.data_root
        if self.db_url:
            from facecam.db import redact  # noqa: PLC0415
            from facecam.db.outbox import WRITE_TIMEOUT_S  # noqa: PLC0415
            from facecam.db.unknowns import DbUnknownStore  # noqa: PLC0415
            from facecam.db.unknowns_outbox import SharedUnknownStore, outbox_path  # noqa: PLC0415

            def connect():
                # live: a write that waits WRITE_TIMEOUT_S for the server goes to the local outbox instead
                database = self.connect(**({"timeout_s": WRITE_TIMEOUT_S} if live else {}))
                try:
                    return DbUnknownStore(database, model, dim, max_sightings=max_sightings, max_age_days=max_days,
                                          **timing)
                except BaseException:
                    database.close()
                    raise

            if live:
                return SharedUnknownStore(outbox_path(data_root, model), model, dim, connect,
                                          shown=redact(self.db_url))
            return connect()
        if only_existing and not (store_folder(data_root, model) / DB_NAME).exists():
            return None
        return LocalUnknownStore(data_root, model, dim, max_sightings=max_sightings, max_age_days=max_days, **timing)


def open_stores(known_faces: Path, db_url: str | None = None, *, hint: str = CLI_HINT) -> Stores:
    """The stores of ``known_faces``, or with ``db_url`` of that database (see :class:`Stores`); ``hint``: what
    a message about a folder facecam may not read tells the user to do (:data:`WINDOW_HINT` in the window)."""
    return Stores(known_faces, db_url, hint=hint)


def open_sighting_store(known_faces: Path, *, retention_days: float | None = DEFAULT_RETENTION_DAYS,
                        db_url: str | None = None, connect_later: bool = False) -> SightingStore:
    """The sightings log of ``known_faces`` (or of the database at ``db_url``): :meth:`Stores.sightings`."""
    return open_stores(known_faces, db_url).sightings(retention_days=retention_days, connect_later=connect_later)
