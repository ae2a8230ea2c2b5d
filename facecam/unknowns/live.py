"""Unknown-face collection plugged into a live pipeline (``watch`` now, the window later).

:class:`UnknownsCollection` is one :class:`facecam.pipeline.LivePipeline` listener: it runs the
collector in the pipeline's thread (cheap) and stores sightings in a background thread (files and
a database commit: never on the video's time). When the gallery it is given changes (someone was
enrolled), the clusters that now match an enrolled person are retired (deleted). A visit is judged on all its
crops against the gallery before it is kept (:meth:`UnknownsCollection._enrolled`): an enrolled person whose
track stayed Unknown is not collected when any of their best crops is named.

Off when ``--no-unknowns`` is given or the settings say ``"unknowns": false``: then nothing is
created and nothing kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from facecam.source_names import redact_url
from facecam.unknowns.cluster import link_for
from facecam.unknowns.collect import BackgroundTasks, UnknownCollector, UnknownSighting
from facecam.unknowns.strangers import StrangerIndex


def collection_enabled(no_unknowns: bool = False, settings: dict | None = None) -> bool:
    """False when turned off for this run (``--no-unknowns``) or for good (setting ``"unknowns": false``)."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    return not no_unknowns and settings.get("unknowns", True) is not False


def open_store(known_faces: Path, model: str, dim: int | None, settings: dict | None = None, *,
               db_url: str | None = None, only_existing: bool = False, live: bool = False):
    """The unknowns store of ``model``: :meth:`facecam.stores.Stores.unknowns` of ``known_faces`` (or of the
    database at ``db_url``), kept for the callers that name it so."""
    from facecam.stores import open_stores  # noqa: PLC0415

    return open_stores(known_faces, db_url).unknowns(model, dim, settings, only_existing=only_existing, live=live)


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
        # source: the source's name (sources.display_name); an address that comes here anyway keeps no password
        self.collector = UnknownCollector(redact_url(source), self._on_visit)
        # who an unknown arrival is among strangers (the sightings recorder asks it; see unknowns.strangers)
        self.strangers = StrangerIndex(link_for(recognizer.model)) if recognizer is not None else None
        self.collector.strangers = self.strangers
        if self.strangers is not None:
            self.tasks.put(self._refresh_strangers)
        self.stored = 0
        self.warned = 0   # how many of the store's warnings were already said (by whoever opened it)
        self.retired: list[tuple[str, str]] = []
        self._gallery_seen = None

    def __call__(self, result) -> None:
        """Standalone: one round (a pipeline listener, with a visit tracker of the collector's own)."""
        self._check_gallery()
        self.collector(result)

    def on_visit(self, event) -> None:
        """A :class:`facecam.visits.VisitTracker` subscriber (the live session's visits)."""
        self._check_gallery()
        self.collector.on_visit(event)

    def _check_gallery(self) -> None:
        if self.gallery is not None and self.recognizer is not None:
            matrix = self.gallery()
            if matrix is not self._gallery_seen:
                self._gallery_seen = matrix
                threshold, mode = self.recognizer.decision, self.recognizer.match_mode
                self.tasks.put(lambda: self._retire(matrix, threshold, mode))

    def set_source(self, source: str) -> None:
        """Standalone: sightings from now on come from ``source`` (the open visits end first)."""
        self.collector.set_source(redact_url(source))

    def put(self, task: Callable[[], object]) -> bool:
        """Run ``task`` in the writer thread (after the sightings waiting), then tell ``on_change``."""
        return self.tasks.put(lambda: (task(), self._changed()))

    def _retire(self, matrix, threshold, mode: str) -> None:
        retired = self.store.retire_matching(matrix, threshold, mode)
        self.retired.extend(retired)
        if retired:
            self._changed()

    def _enrolled(self, sighting: UnknownSighting) -> bool:
        """True when the visit, judged on all its crops, matches an enrolled person: any kept crop, or their mean,
        given a name by the decision in use. A visit is Unknown when its track's vote said so, but the crops kept
        (the best ones) may be better than the rounds that voted (a small face coming closer), and someone may
        have been enrolled while the visit went on (named from "Who's this?" with the person still in view):
        either way it is not a stranger's visit."""
        matrix = self._gallery_seen
        if matrix is None or len(matrix) == 0 or self.recognizer is None:
            return False
        embeddings = np.stack([sighting.embedding] + [c.embedding for c in sighting.crops])
        return any(match.name is not None for match in self.recognizer.match(embeddings, matrix))

    def _changed(self) -> None:
        self._refresh_strangers()
        if self.on_change is not None:
            self.on_change()

    def _refresh_strangers(self, settled: str | None = None) -> None:
        if self.strangers is not None:
            try:
                self.strangers.refresh(self.store, settled)
            except Exception:  # noqa: BLE001 - a shared store that is away: the visits waiting still count
                pass

    def _on_visit(self, build: Callable[[], UnknownSighting]) -> None:
        self.tasks.put(lambda: self._store(build()))

    def _store(self, sighting: UnknownSighting) -> None:
        try:
            if self._enrolled(sighting) or not self.store.add(sighting):
                return
            self.stored += 1
        finally:
            self._refresh_strangers(settled=sighting.id)
        if self.on_change is not None:
            self.on_change()

    def close(self, timeout: float = 10.0) -> None:
        """End the open visits, store what is waiting, close the store."""
        self.collector.finish()
        self.tasks.close(timeout)
        self.store.close()
