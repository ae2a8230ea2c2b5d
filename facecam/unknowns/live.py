"""Unknown-face collection plugged into a live pipeline (``watch`` now, the window later).

:class:`UnknownsCollection` is one :class:`facecam.pipeline.LivePipeline` listener: it runs the
collector in the pipeline's thread (cheap) and stores sightings in a background thread (files and
a database commit: never on the video's time). When the gallery it is given changes (someone was
enrolled), the clusters that now match an enrolled person are retired (deleted).

Off when ``--no-unknowns`` is given or the settings say ``"unknowns": false``: then nothing is
created and nothing kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from facecam.unknowns.collect import BackgroundTasks, UnknownCollector, UnknownSighting
from facecam.unknowns.store import (DB_NAME, DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_SIGHTINGS, LocalUnknownStore,
                                    store_folder)


def collection_enabled(no_unknowns: bool = False, settings: dict | None = None) -> bool:
    """False when turned off for this run (``--no-unknowns``) or for good (setting ``"unknowns": false``)."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    return not no_unknowns and settings.get("unknowns", True) is not False


def open_store(known_faces: Path, model: str, dim: int | None, settings: dict | None = None, *,
               db_url: str | None = None, only_existing: bool = False, live: bool = False):
    """The unknowns store of ``model`` (an :class:`facecam.unknowns.store.UnknownStore`): the local one in
    ``known_faces``, or with ``db_url`` (``--db``) the one every instance on that PostgreSQL database shares
    (:class:`facecam.db.unknowns.DbUnknownStore`). Capped by the settings ``unknowns_max_sightings`` and
    ``unknowns_max_days`` (defaults 2,000 and 30). ``only_existing``: None instead of creating a local store.
    ``live`` (``watch``, the window) with ``db_url``: returned at once, whether or not the server answers; it
    connects in the background and sightings wait in a local outbox while the database is away
    (:class:`facecam.db.unknowns_outbox.SharedUnknownStore`)."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    max_sightings = settings.get("unknowns_max_sightings", DEFAULT_MAX_SIGHTINGS)
    max_days = settings.get("unknowns_max_days", DEFAULT_MAX_AGE_DAYS)
    if not isinstance(max_sightings, int) or max_sightings < 1:
        max_sightings = DEFAULT_MAX_SIGHTINGS
    if not isinstance(max_days, (int, float)) or max_days <= 0:
        max_days = DEFAULT_MAX_AGE_DAYS
    if db_url:
        from facecam.db import redact  # noqa: PLC0415
        from facecam.db.postgres import PostgresStore  # noqa: PLC0415
        from facecam.db.outbox import WRITE_TIMEOUT_S  # noqa: PLC0415
        from facecam.db.unknowns import DbUnknownStore  # noqa: PLC0415
        from facecam.db.unknowns_outbox import SharedUnknownStore, outbox_path  # noqa: PLC0415

        def connect():
            # live: a write that waits WRITE_TIMEOUT_S for the server goes to the local outbox instead
            database = PostgresStore(db_url, **({"timeout_s": WRITE_TIMEOUT_S} if live else {}))
            try:
                return DbUnknownStore(database, model, dim, max_sightings=max_sightings,
                                      max_age_days=float(max_days))
            except BaseException:
                database.close()
                raise

        if live:
            return SharedUnknownStore(outbox_path(known_faces, model), model, dim, connect, shown=redact(db_url))
        return connect()
    if only_existing and not (store_folder(known_faces, model) / DB_NAME).exists():
        return None
    return LocalUnknownStore(known_faces, model, dim, max_sightings=max_sightings, max_age_days=float(max_days))


class UnknownsCollection:
    """Collector + store + writer thread. Call it with each round; ``close()`` at the end.

    ``gallery()`` returns the pipeline's current :class:`GalleryMatrix`; ``recognizer`` gives the
    threshold and matching mode a cluster is retired with.
    """

    def __init__(self, store, source: str, recognizer=None, gallery: Callable | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 on_change: Callable[[], None] | None = None):
        self.store = store
        self.on_change = on_change  # called (in the writer thread) after a sighting is stored or clusters retired
        self.recognizer = recognizer
        self.gallery = gallery
        self.tasks = BackgroundTasks(max_waiting=64, on_error=on_error)  # each waiting visit holds its faces' regions
        self.collector = UnknownCollector(source, self._on_visit)
        self.stored = 0
        self.warned = 0   # how many of the store's warnings were already said (by whoever opened it)
        self.retired: list[tuple[str, str]] = []
        self._gallery_seen = None

    def __call__(self, result) -> None:
        if self.gallery is not None and self.recognizer is not None:
            matrix = self.gallery()
            if matrix is not self._gallery_seen:
                self._gallery_seen = matrix
                threshold, mode = self.recognizer.decision, self.recognizer.match_mode
                self.tasks.put(lambda: self._retire(matrix, threshold, mode))
        self.collector(result)

    def set_source(self, source: str) -> None:
        """Sightings from now on come from ``source`` (the open visits end first)."""
        self.collector.finish()
        self.collector.source = str(source)

    def put(self, task: Callable[[], object]) -> bool:
        """Run ``task`` in the writer thread (after the sightings waiting), then tell ``on_change``."""
        return self.tasks.put(lambda: (task(), self._changed()))

    def _retire(self, matrix, threshold, mode: str) -> None:
        retired = self.store.retire_matching(matrix, threshold, mode)
        self.retired.extend(retired)
        if retired:
            self._changed()

    def _enrolled_since(self, sighting: UnknownSighting) -> bool:
        """True when the sighting now matches an enrolled person (enrolled while the visit went on, e.g.
        named from "Who's this?" with the person still in view): it is not an unknown any more."""
        matrix = self._gallery_seen
        if matrix is None or len(matrix) == 0 or self.recognizer is None:
            return False
        match = self.recognizer.match(sighting.embedding[None, :], matrix)[0]
        return match.name is not None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _on_visit(self, build: Callable[[], UnknownSighting]) -> None:
        self.tasks.put(lambda: self._store(build()))

    def _store(self, sighting: UnknownSighting) -> None:
        if self._enrolled_since(sighting):
            return
        if self.store.add(sighting):
            self.stored += 1
            self._changed()

    def close(self, timeout: float = 10.0) -> None:
        """End the open visits, store what is waiting, close the store."""
        self.collector.finish()
        self.tasks.close(timeout)
        self.store.close()
