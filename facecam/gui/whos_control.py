"""The window's side of the unknown faces: collection on the live pipeline, the store, the panel's data.

:class:`UnknownsControl` owns the :class:`facecam.unknowns.live.UnknownsCollection` of the running
pipeline (the same listener ``watch`` uses) and does every store operation off the GUI thread
(opening the store, reading clusters and their thumbnails, naming, merging, ignoring, forgetting);
results come back as signals. A stored sighting asks for a refresh; refreshes are coalesced (one
at a time, at most one waiting), so a busy camera never queues work on the GUI thread.

Switched off (the menu, ``--no-unknowns``, the setting ``"unknowns": false``) nothing is collected and
nothing kept; the clusters already kept are still listed (and can be named or forgotten).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PyQt5.QtCore import QObject, Qt, pyqtSignal

from facecam.camera_set import Sessions
from facecam.gui.workers import THUMBNAIL_PX, run_task


@dataclass(frozen=True)
class ClusterView:
    """One row of the "Who's this?" panel (built off the GUI thread)."""

    id: str
    visits: int
    first_seen: float
    last_seen: float
    sources: tuple[str, ...]
    crop: Path
    thumbnail: np.ndarray | None     # BGR, THUMBNAIL_PX square (None: the crop cannot be read)
    text: str = ""                   # the row's text and tooltip, made off the GUI thread ("": made when shown)
    tooltip: str = ""


def cluster_views(store, thumbnails: dict[Path, np.ndarray]) -> list[ClusterView]:
    """The store's clusters, newest first, with their best crop's thumbnail (``thumbnails`` caches them)."""
    import cv2  # noqa: PLC0415

    from facecam.gui.whos_panel import row_text, tooltip_text  # noqa: PLC0415
    from facecam.sealed import KeyProblem  # noqa: PLC0415

    views = []
    for cluster in store.clusters():
        best = cluster.best_crops(1)[0]
        crop = best.path   # a file, or the crop's name in the database: the store reads it
        if crop not in thumbnails:
            try:
                data = store.crop_jpeg(best)
            except KeyProblem:   # encrypted with another key, or none set: no thumbnail (naming it says why)
                data = b""
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
            thumbnails[crop] = (cv2.resize(image, (THUMBNAIL_PX, THUMBNAIL_PX), interpolation=cv2.INTER_AREA)
                                if image is not None else None)
        view = ClusterView(cluster.id, len(cluster.sightings), cluster.first_seen, cluster.last_seen,
                           tuple(sorted({s.source for s in cluster.sightings})), crop, thumbnails[crop])
        views.append(dataclasses.replace(view, text=row_text(view), tooltip=tooltip_text(view)))
    return views


class UnknownsControl(QObject):
    """Collects unknown faces for the window and runs the panel's actions (see the module notes).

    ``clusters(list[ClusterView])`` after each refresh; ``named(name, files)`` once a cluster was saved
    as a person (the window then rescans known_faces); ``message(text)`` for the status bar;
    ``problem(text)`` when the store cannot be opened (e.g. known_faces is not a folder: the window's
    own known_faces error stays in the status bar, this one is shown in the tab).
    """

    clusters = pyqtSignal(list)
    problem = pyqtSignal(str)        # the store cannot be opened (shown in the tab: "" when it works again)
    named = pyqtSignal(str, list)
    message = pyqtSignal(str)
    _stored = pyqtSignal()

    def __init__(self, known_faces: Path, enabled: bool = True, parent: QObject | None = None,
                 db_url: str | None = None):
        super().__init__(parent)
        self.known_faces = Path(known_faces)
        self.db_url = db_url   # --db: the unknown faces every instance on that database shares
        self.enabled = bool(enabled)
        self.store = None
        self.collection = None
        self.sessions = Sessions()   # the live sessions collected from (one per camera: camera_set.Sessions)
        self.pipeline = None         # the first session's pipeline (a new model: a new one)
        self.recognizer = None
        self.source = ""
        self.gallery: Callable | None = None
        self.views: list[ClusterView] = []
        self.refreshes = 0
        self._thumbnails: dict[Path, np.ndarray] = {}
        self._refreshing = False
        self._refresh_again = False
        self._waiting_for_db = False
        self._closed = False
        self._follow_stop = threading.Event()
        self._stored.connect(self.refresh, Qt.QueuedConnection)

    # ------------------------------------------------------------- the pipeline
    def attach(self, sessions, recognizer, gallery: Callable) -> None:
        """Collect from the visits of ``sessions`` (:class:`facecam.live_session.LiveSession`, one per camera) as
        their pipelines of ``recognizer`` see them (a new model: new pipelines, and the store of that model)."""
        self._detach()
        self.sessions, self.recognizer, self.gallery = Sessions(sessions), recognizer, gallery
        self.source = self.source or self.sessions.first().source_name
        self.pipeline = pipeline = self.sessions.first().pipeline
        self.store = None
        self.views = []
        self.clusters.emit([])
        from facecam.unknowns.live import open_store  # noqa: PLC0415

        root, model, dim, db_url = self.known_faces, recognizer.model, recognizer.embedder.dim, self.db_url
        run_task("unknowns-open", lambda: open_store(root, model, dim, db_url=db_url, live=True),
                 lambda store: self._on_open(pipeline, store),
                 lambda error: None if self._closed or pipeline is not self.pipeline else self.problem.emit(
                     f"Unknown faces are not kept: {error}"))

    def _on_open(self, pipeline, store) -> None:
        if self._closed or pipeline is not self.pipeline:
            run_task("unknowns-close", store.close)
            return
        self.store = store
        self.problem.emit("")
        self._follow_stop = threading.Event()   # other instances' changes (a shared store) refresh the panel
        threading.Thread(target=store.follow, args=(lambda: self._from_writer(self._stored), self._follow_stop),
                         name="facecam-unknowns-follow", daemon=True).start()
        for warning in store.warnings:
            self.message.emit(f"Unknown faces: {warning}")
        if self.enabled:
            self._start_collecting()
        self.refresh()

    def _start_collecting(self) -> None:
        from facecam.unknowns.live import UnknownsCollection  # noqa: PLC0415

        if self.collection is not None or self.store is None or self.pipeline is None:
            return
        self.collection = UnknownsCollection(self.store, self.source, self.recognizer, self.gallery,
                                             on_error=lambda error: self._from_writer(self.message, f"Unknown faces: {error}"),
                                             on_change=lambda: self._from_writer(self._stored))
        self.sessions.follow(self.collection.on_visit)

    def _from_writer(self, signal, *args) -> None:
        """Emit from the writer thread; nothing once the window has gone (its C++ object may be deleted)."""
        if self._closed:
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # the window was destroyed under the writer thread
            pass

    def _stop_collecting(self, close_store: bool = False) -> None:
        collection, self.collection = self.collection, None
        store = self.store if close_store else None
        if collection is not None:
            self.sessions.unfollow()

        def stop():
            if collection is not None:
                collection.collector.finish()   # the open visits are kept: they were seen while on
                collection.tasks.close()
            if store is not None:
                store.close()

        if collection is not None or store is not None:
            run_task("unknowns-stop", stop)

    def _detach(self) -> None:
        self._follow_stop.set()
        self._stop_collecting(close_store=True)
        self.pipeline = None

    def set_enabled(self, enabled: bool) -> None:
        """The menu's "Collect unknown faces" switch (this run only, as ``--no-unknowns``)."""
        self.enabled = bool(enabled)
        if self.enabled:
            self._start_collecting()
        else:
            self._stop_collecting()
        self.message.emit("Unknown faces are collected" if enabled else
                          "Unknown faces are not collected (nothing new is kept)")

    def set_source(self, source: str) -> None:
        """The source's name for a face added by hand (the visits carry the session's)."""
        self.source = str(source)

    @property
    def collecting(self) -> bool:
        return self.collection is not None

    def strangers(self):
        """The collection's :class:`facecam.unknowns.strangers.StrangerIndex` while it collects, else None."""
        collection = self.collection
        return collection.strangers if collection is not None else None

    # ------------------------------------------------------------- reading
    def refresh(self) -> None:
        """Re-read the clusters in a worker thread (coalesced: one at a time, one more at most)."""
        if self._closed or self.store is None:
            return
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        store, thumbnails = self.store, self._thumbnails
        run_task("unknowns-read", lambda: cluster_views(store, thumbnails),
                 lambda views: self._on_views(store, views), self._on_read_failed)

    def _on_views(self, store, views: list[ClusterView]) -> None:
        self._refreshing = False
        if self._closed or store is not self.store:
            return
        if self._waiting_for_db:
            self._waiting_for_db = False
            self.problem.emit("")
        self.views = views
        self.refreshes += 1
        self.clusters.emit(views)
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()

    def _on_read_failed(self, error: BaseException) -> None:
        from facecam.db import DatabaseUnreachable  # noqa: PLC0415

        self._refreshing = False
        if isinstance(error, DatabaseUnreachable) and not self._closed:
            # --db, the server away: said in the tab; the list comes back with the server (store.follow)
            self._waiting_for_db = True
            self.problem.emit("Database not reachable: unknown faces are kept on this computer meanwhile "
                              "and listed here once it answers.")
            return
        self._on_failed(error)

    # ------------------------------------------------------------- actions
    def _act(self, name: str, work: Callable, done_text: Callable[[object], str]) -> None:
        store = self.store
        if store is None:
            self.message.emit("Unknown faces: the store is not open yet")
            return

        def done(value):
            if not self._closed:
                self.message.emit(done_text(value))
                self.refresh()

        run_task(name, lambda: work(store), done, self._on_failed)

    def name(self, cluster_id: str, person: str) -> None:
        """Save the cluster's best crops (at most 5) as photos of ``person`` (the CLI's ``unknowns name``)."""
        from facecam.unknowns.naming import name_cluster  # noqa: PLC0415

        count_faces = self.recognizer.count_faces

        def done(named):
            if not self._closed:
                self.named.emit(named.name, [str(p) for p in named.files])
            return f"Named {named.cluster_id} {named.name}: {len(named.files)} photo(s) saved"

        self._act("unknowns-name", lambda store: name_cluster(store, cluster_id, person, self.known_faces,
                                                              count_faces), done)

    def merge(self, cluster_ids: list[str]) -> None:
        self._act("unknowns-merge", lambda store: store.merge(cluster_ids),
                  lambda cluster: f"Merged into {cluster.id}: {len(cluster.sightings)} visit(s)")

    def ignore(self, cluster_ids: list[str]) -> None:
        self._act("unknowns-ignore", lambda store: store.ignore(cluster_ids),
                  lambda count: f"Ignored {len(cluster_ids)} face(s): not collected again")

    def forget(self, cluster_ids: list[str]) -> None:
        self._act("unknowns-forget", lambda store: store.forget(cluster_ids),
                  lambda count: f"Forgot {count} sighting(s)")

    def add_face(self, rgb_frame: np.ndarray, face, embedding: np.ndarray, t: float, frame: int,
                 track: int = -1) -> None:
        """Keep one face as an unknown sighting (the video's "Not <name>"); even when collection is off,
        since the user asked for it."""
        from facecam.unknowns.collect import sighting_of_face  # noqa: PLC0415

        source = self.source
        self._act("unknowns-add", lambda store: store.add(sighting_of_face(rgb_frame, face, embedding, source,
                                                                           t, frame, track), pinned=True),
                  lambda cluster_id: "The face was added to Who's this?" if cluster_id else
                  "That face is ignored (Not a person): not kept")

    def _on_failed(self, error: BaseException) -> None:
        if not self._closed:
            self.message.emit(f"Unknown faces: {error}")

    def close(self) -> None:
        """Stop collecting (the waiting sightings are stored) and close the store (in a worker thread)."""
        if self._closed:
            return
        self._detach()
        self._closed = True


def whos_tab(window) -> None:
    """The "Who's this?" tab of ``window`` (a :class:`facecam.gui.main_window.MainWindow`), the unknown faces'
    collection behind it (``window.unknowns``) and the video's right-click menu (``window.face_menu``)."""
    from facecam.gui.face_menu import FaceMenu  # noqa: PLC0415
    from facecam.gui.whos_panel import WhosPanel  # noqa: PLC0415
    from facecam.unknowns.live import collection_enabled  # noqa: PLC0415

    def say(text: str) -> None:
        window.statusBar().showMessage(text, 8000)

    window.whos_panel = panel = WhosPanel()
    panel.people = window.people_names
    window.side_tabs.addTab(panel, "Who's this?")
    window.unknowns = unknowns = UnknownsControl(window.known_faces, collection_enabled(not window.options.unknowns),
                                                 window, db_url=window.options.db)
    unknowns.clusters.connect(panel.set_clusters)
    unknowns.problem.connect(panel.set_problem)
    unknowns.named.connect(window.people.on_enrolled)
    unknowns.message.connect(say)
    panel.set_collecting(unknowns.enabled)
    panel.name_requested.connect(unknowns.name)
    panel.merge_requested.connect(unknowns.merge)
    panel.ignore_requested.connect(unknowns.ignore)
    panel.forget_requested.connect(window.people.forget_unknowns)
    window.face_menu = FaceMenu(window)
    window.face_menu.saved.connect(window.people.on_enrolled)
    window.face_menu.message.connect(say)
    window.video.context_requested.connect(window.face_menu.open_at)
