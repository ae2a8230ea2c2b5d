"""The window's known_faces (or --db gallery): the gallery service of the model in use, and what its news does.

:class:`GalleryControl` starts a :class:`~facecam.gui.workers.GalleryService` for each recognizer and handles
what it reports on the GUI thread: indexing progress in the status line, a new snapshot (the People panel, the
live session's gallery, the pipeline started on the first one and reset when a user's photos changed), a
failure (shown until it works again; recognition goes on with nobody known). A replaced service is ignored,
whatever it still reports.
"""

from __future__ import annotations

import numpy as np
from PyQt5.QtCore import Qt

from facecam.gui.workers import DatabaseWaiting, GalleryService, GallerySnapshot


def same_matrix(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (tuple(a.names) == tuple(b.names) and a.embeddings.shape == b.embeddings.shape
            and np.array_equal(a.labels, b.labels) and np.array_equal(a.embeddings, b.embeddings))


class GalleryControl:
    """See the module notes. ``window``: the :class:`facecam.gui.main_window.MainWindow`."""

    def __init__(self, window):
        self.window = window

    def start(self, recognizer) -> GalleryService:
        """A new gallery service for ``recognizer`` (the window keeps it as ``window.gallery``), started."""
        service = self.service()
        service.start(recognizer)
        return service

    def service(self) -> GalleryService:
        w = self.window
        service = GalleryService(w.known_faces, interval_s=w.options.watch_interval_s,
                                 settle_s=w.options.settle_s, db_url=w.options.db, parent=w)
        # a service that was replaced (the model changed) is ignored, whatever it still reports
        service.progress.connect(lambda done, total: service is self.window.gallery and self._progress(done, total),
                                 Qt.QueuedConnection)
        service.changed.connect(lambda snapshot: service is self.window.gallery and self._changed(snapshot),
                                Qt.QueuedConnection)
        service.failed.connect(lambda error: service is self.window.gallery and self._failed(error),
                               Qt.QueuedConnection)
        return service

    def _progress(self, done: int, total: int) -> None:
        w = self.window
        if not w.closed and w.snapshot is None:
            w.status_line.set_loading(f"Indexing known_faces {done}/{total}", done, max(total, 1))

    def _changed(self, snapshot: GallerySnapshot) -> None:
        w = self.window
        if w.closed:
            return
        first = w.snapshot is None
        # a learned crop added or cleared is no reason to re-recognise everyone (and split their visits)
        changed = not same_matrix(w.cameras.matrix, snapshot.matrix) and (
            first or w.snapshot.own_photos() != snapshot.own_photos())
        w.snapshot = snapshot
        w.cameras.set_matrix(snapshot.matrix)   # every camera's pipeline
        w.show_threshold()  # a threshold that follows the gallery's size moves with it
        w.gallery_error = None
        w.status_line.set_error(None)
        w.people_panel.set_people(snapshot.people)
        if w.enroll_dialog is not None and not w.enroll_dialog.isVisible():
            w.enroll_dialog = None
        for pipeline in w.cameras.pipelines():
            if changed and (not first or pipeline.running):  # (running already: with no one, while the
                pipeline.reset()  # gallery failed) everyone is recognised afresh against the new gallery
            if not pipeline.running:
                pipeline.start()
                w.status_line.set_loading(None)

    def _failed(self, error: BaseException) -> None:
        w = self.window
        if w.closed:
            return
        w.gallery_error = str(error)
        # kept in view until known_faces works again (a message that fades would be missed)
        waiting = isinstance(error, DatabaseWaiting)  # --db: the server does not answer yet; retried by itself
        w.status_line.set_error(str(error) if waiting else f"{'database' if w.options.db else 'known_faces'}: {error}")
        if w.snapshot is None:
            w.people_panel.hint.setText("People appear when the database answers." if waiting
                                        else f"known_faces could not be read: {error}")
        not_started = [p for p in w.cameras.pipelines() if not p.running]
        if not_started and w.snapshot is None:
            from facecam.matcher import GalleryMatrix  # noqa: PLC0415

            w.cameras.set_matrix(GalleryMatrix.empty(w.recognizer.embedder.dim))
            for pipeline in not_started:
                pipeline.start()  # recognition goes on: everyone is Unknown until the folder works
            w.status_line.set_loading(None)
