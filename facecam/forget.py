"""Forget a person everywhere (``facecam people forget NAME``, the People panel's Forget...; Qt-free).

:func:`forget_person` removes, for one name:

* their photos, learned crops, consent record and anything else in ``known_faces/<name>/`` (or the single photo
  ``known_faces/<name>.jpg``), and the copies an earlier Remove kept in ``.facecam/removed/<name>-<time>``;
* their rows in every embeddings cache of the folder (``.facecam/<model>.npz``; the ANN index files are
  deleted and rebuilt from the caches);
* their visits and snapshots in the sightings log (and the ``--db`` outbox of visits), with the unknown visits
  of the clusters below;
* the unknown clusters that are them (most of a cluster's sightings match their embeddings, each model's own
  threshold; never one pinned as "Not <name>"), with their crops, in each model's store and outbox;
* with a database (``--db``): the person, photos, embeddings, visits and unknown clusters there;
* Home Assistant's entity and MQTT's retained topics of the person, when a notifier is given
  (:meth:`facecam.sightings.notify.Notifier.forget`).

Then no deleted byte is left readable: every SQLite file touched is rebuilt (:func:`facecam.fileutil.scrub_sqlite`:
``secure_delete``, ``VACUUM``, the write-ahead log emptied) and the database's tables are rewritten
(``VACUUM FULL``). A name that is nowhere is an error (one line), and nothing is changed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facecam.errors import FacecamError


class UnknownPerson(FacecamError):
    """No such person anywhere."""


@dataclass
class ForgetReport:
    """What :func:`forget_person` removed (counts), for the command's output."""

    name: str
    photos: int = 0            # the user's photos (files)
    learned: int = 0           # learned crops (files)
    backups: int = 0           # folders of earlier removals
    cache_rows: int = 0        # embeddings cache rows
    visits: int = 0            # visits in the sightings log (and its outbox)
    unknown_clusters: int = 0  # unknown clusters that were them
    database: dict = field(default_factory=dict)
    notified: bool = False     # Home Assistant / MQTT told to drop the person
    scrubbed: list[str] = field(default_factory=list)   # SQLite files rebuilt
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"name": self.name, "photos": self.photos, "learned": self.learned, "removed_copies": self.backups,
                "cache_rows": self.cache_rows, "visits": self.visits, "unknown_clusters": self.unknown_clusters,
                "database": self.database, "notified": self.notified}

    def text(self) -> str:
        parts = [f"{self.photos} photo(s)", f"{self.learned} learned crop(s)", f"{self.cache_rows} cached embedding(s)",
                 f"{self.visits} visit(s)", f"{self.unknown_clusters} unknown cluster(s)"]
        if self.backups:
            parts.append(f"{self.backups} removed copy(ies)")
        if self.database:
            parts.append(f"from the database {self.database.get('photos', 0)} photo(s) and "
                         f"{self.database.get('visits', 0)} visit(s)")
        if self.notified:
            parts.append("Home Assistant/MQTT told")
        return f"forgot {self.name}: " + ", ".join(parts)


def _files_of(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            files += [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
        elif path.is_file():
            files.append(path)
    return files


def _hashes(files: list[Path]) -> set[str]:
    from facecam.fileutil import sha256_of  # noqa: PLC0415

    out = set()
    for path in files:
        try:
            out.add(sha256_of(path))
        except OSError:
            pass
    return out


def _threshold(model: str) -> float:
    """The model's default distance: a cluster whose sightings are mostly this close to the person is them."""
    from facecam import registry  # noqa: PLC0415

    try:
        return registry.model(model).threshold
    except Exception:  # noqa: BLE001 - a store of a model this facecam does not know: the cluster link
        from facecam.unknowns.cluster import link_for  # noqa: PLC0415

        return link_for(model)


def _model_of_cache(cache_name: str) -> str:
    """``sface-yunet.npz`` -> ``sface`` (caches are named model[-detector])."""
    from facecam import registry  # noqa: PLC0415

    stem = cache_name[:-len(".npz")] if cache_name.endswith(".npz") else cache_name
    for key in sorted(registry.MODELS, key=len, reverse=True):
        if stem == key or stem.startswith(key + "-"):
            return key
    return stem


def _person_gallery(name: str, vectors: np.ndarray):
    from facecam.matcher import GalleryMatrix  # noqa: PLC0415

    vectors = np.asarray(vectors, np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return GalleryMatrix.from_pairs([name] * len(vectors), vectors)


def _matches(vectors: np.ndarray, person: np.ndarray, threshold: float) -> np.ndarray:
    """For each row of ``vectors``: within ``threshold`` (cosine distance) of one of ``person``'s embeddings."""
    if len(vectors) == 0 or len(person) == 0:
        return np.zeros(len(vectors), bool)
    a = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    b = person / np.maximum(np.linalg.norm(person, axis=1, keepdims=True), 1e-12)
    return (1.0 - a @ b.T).min(axis=1) <= threshold


def person_known(stores, name: str) -> bool:
    """True when ``name`` has anything anywhere: photos, removed copies, visits, or a row in the database."""
    from facecam.gallery import person_files, removed_backups  # noqa: PLC0415

    root = stores.known_faces
    if person_files(root, name) or removed_backups(root, name):
        return True
    if stores.has_sightings():
        from facecam.sightings.model import SightingQuery  # noqa: PLC0415

        log = stores.sightings(retention_days=None)
        try:
            if log.query(SightingQuery(person=name, limit=1)):
                return True
        finally:
            log.close()
    outbox = _sightings_outbox(stores)
    if outbox is not None and outbox.is_file():
        from facecam.sightings.store import SqliteSightingStore  # noqa: PLC0415

        with SqliteSightingStore(outbox, retention_days=None) as log:
            if name in log.people():
                return True
    return bool(stores.db_url) and name in stores.database().person_photos()


def _sightings_outbox(stores) -> Path | None:
    from facecam.db.sightings import OUTBOX_NAME  # noqa: PLC0415

    return stores.places.data_folder / OUTBOX_NAME


def forget_person(stores, name: str, *, notifier=None) -> ForgetReport:
    """Remove ``name`` from everything ``stores`` (a :class:`facecam.stores.Stores`) reaches (see the module
    notes); :class:`UnknownPerson` when there is nothing of them anywhere, and nothing is changed."""
    from facecam.gallery import check_person_name, drop_cached_person, is_learned, person_files, removed_backups  # noqa: PLC0415

    name = check_person_name(name)
    if not person_known(stores, name):
        raise UnknownPerson(f"nobody called {name!r} in {stores.where}; 'facecam people list' shows who is there")
    if stores.read_only:
        raise FacecamError(f"{stores.known_faces} is read-only, so {name}'s photos cannot be deleted; give your user "
                           "write access to it (chmod u+rwx) and try again")
    report = ForgetReport(name)
    root = stores.known_faces
    places = stores.places

    # 1. the files: photos, learned crops, consent, earlier removals; their embeddings from every cache
    own, backups = person_files(root, name), removed_backups(root, name)
    files = _files_of(own)
    report.photos = sum(1 for f in files if not is_learned(f) and f.name != ".consent.json")
    report.learned = sum(1 for f in files if is_learned(f))
    report.backups = len(backups)
    hashes = _hashes(files + _files_of(backups))
    cache_dir = places.cache_dir or (root / ".facecam")
    removed = drop_cached_person(cache_dir, root, name, hashes)
    report.cache_rows = sum(len(rows) for rows in removed.values())
    embeddings: dict[str, list[np.ndarray]] = {}
    for cache_name, rows in removed.items():
        if rows.size:
            embeddings.setdefault(_model_of_cache(cache_name), []).append(rows)
    for path in own + backups:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    # 2. the database: their embeddings first (to find their unknown clusters there), then the rows
    database = stores.database() if stores.db_url else None
    if database is not None:
        for model, rows in database.person_embeddings(name).items():
            embeddings.setdefault(model, []).append(rows)
    person = {model: np.concatenate(rows) for model, rows in embeddings.items()}

    # 3. the unknown clusters that are them
    clusters = _forget_unknowns(stores, name, person, report)

    # 4. the visits: the log, its outbox, the database
    from facecam.sightings.store import FILE_NAME, SqliteSightingStore  # noqa: PLC0415

    for path in (places.data_folder / FILE_NAME, _sightings_outbox(stores)):
        if path.is_file():
            with SqliteSightingStore(path, retention_days=None) as log:
                report.visits += log.forget(name)
                for cluster in clusters:
                    report.visits += sum(log.forget_id(s.id) for s in log.query(_cluster_query(cluster)))
    if database is not None:
        report.database = database.forget_person(name, clusters)
        try:
            database.vacuum()
        except FacecamError as error:   # e.g. a role that does not own the tables
            report.warnings.append(str(error))

    # 5. nothing left readable in the SQLite files touched
    from facecam.fileutil import scrub_sqlite  # noqa: PLC0415

    for path in _sqlite_files(places.data_folder):
        if scrub_sqlite(path):
            report.scrubbed.append(str(path))
        else:
            report.warnings.append(f"{path} is in use by another facecam; close it and run the forget again to "
                                   "rebuild the file")

    # 6. Home Assistant and MQTT
    if notifier is not None:
        missed = tell_sinks(notifier, name)
        report.notified = not missed
        report.warnings += [f"{where} was not told to drop {name} (no answer); run the forget again when it answers"
                            for where in missed]
    return report


def tell_sinks(notifier, name: str, timeout_s: float = 20.0) -> list[str]:
    """Tell the sinks of ``notifier`` (:class:`facecam.sightings.notify.Notifier`) that keep something about people
    (Home Assistant's entity, MQTT's retained topics) to drop ``name``, and wait up to ``timeout_s`` for them (a
    sink built just now connects first: its first tries fail and are retried); the sinks not told."""
    import time  # noqa: PLC0415

    from facecam.sinks.base import FORGET  # noqa: PLC0415

    told = [d for d in notifier.deliveries if FORGET in d.sink.stages]
    sent = {id(d): (d.stats.sent, d.stats.failed) for d in told}
    notifier.forget(name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any((d.stats.sent, d.stats.failed) == sent[id(d)] for d in told):
        time.sleep(0.05)
    return [d.sink.describe() for d in told if d.stats.sent == sent[id(d)][0]]


def _cluster_query(cluster: str):
    from facecam.sightings.model import SightingQuery  # noqa: PLC0415

    return SightingQuery(cluster=cluster, unknown=True)


def _sqlite_files(folder: Path) -> list[Path]:
    """The SQLite files facecam keeps in ``folder`` (``known_faces/.facecam``): the log, the outboxes, the
    unknown faces' stores."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.sqlite") if p.is_file() and not p.is_symlink())


def _forget_unknowns(stores, name: str, person: dict[str, np.ndarray], report: ForgetReport) -> list[str]:
    """Forget the unknown clusters (and outboxed unknown sightings) that are ``name`` in each model's store;
    the ids of the clusters forgotten."""
    from facecam.db.unknowns_outbox import UnknownOutbox, outbox_path  # noqa: PLC0415
    from facecam.unknowns.store import DB_NAME, store_folder  # noqa: PLC0415

    forgotten: list[str] = []
    data_root = stores.places.data_root
    for model, vectors in person.items():
        if not len(vectors):
            continue
        threshold = _threshold(model)
        gallery = _person_gallery(name, vectors)
        local = (store_folder(data_root, model) / DB_NAME).is_file()
        if stores.db_url or local:
            store = _unknown_store(stores, model)
            try:
                retired = store.retire_matching(gallery, threshold, "nearest")
            finally:
                store.close()
            forgotten += [cluster for cluster, _ in retired]
        queue = outbox_path(data_root, model)
        if queue.is_file():
            outbox = UnknownOutbox(queue)
            try:
                for sighting_id, (sighting, _pinned) in outbox.items():
                    if _matches(np.asarray(sighting.row[7], np.float32).reshape(1, -1), vectors, threshold).all():
                        outbox.remove(sighting_id)
                        forgotten.append(sighting_id)
            finally:
                outbox.close()
    report.unknown_clusters = len(forgotten)
    return forgotten


def _unknown_store(stores, model: str):
    """``model``'s unknown faces as :meth:`facecam.stores.Stores.unknowns` opens them (the saved caps): the
    folder's store, or with ``--db`` the database's (on a connection of its own)."""
    return stores.unknowns(model, None, only_existing=not stores.db_url)


# ---------------------------------------------------------------- who is there (people list, the People panel)

@dataclass(frozen=True)
class PersonFacts:
    """What facecam holds on one person: photos, learned crops, visits, when last seen, consent."""

    name: str
    photos: int
    learned: int
    visits: int
    last_seen: str | None        # ISO time of the end of their latest visit
    consent: dict | None         # :func:`facecam.consent.read_consent`

    def as_dict(self) -> dict:
        return {"name": self.name, "photos": self.photos, "learned": self.learned, "visits": self.visits,
                "last_seen": self.last_seen, "consent": self.consent}


def people_overview(stores) -> list[PersonFacts]:
    """Everyone facecam holds anything on, by name: the folder's people (or the database's), and anyone who only
    has visits left in the log. Reads no model."""
    from facecam.consent import read_consent  # noqa: PLC0415
    from facecam.gallery import is_learned, scan_photos  # noqa: PLC0415

    photos: dict[str, list[int]] = {}
    root = stores.known_faces
    if root.is_dir():
        for path, person in scan_photos(root)[0]:
            counts = photos.setdefault(person, [0, 0])
            counts[1 if is_learned(path) else 0] += 1
    if stores.db_url:   # the gallery in use: the database's photos (the folder's learned crops stay counted)
        for person, count in stores.database().person_photos().items():
            photos.setdefault(person, [0, 0])[0] = count
    visits: dict[str, list] = {}
    if stores.has_sightings():
        from facecam.sightings.model import SightingQuery  # noqa: PLC0415

        log = stores.sightings(retention_days=None)
        try:
            for sighting in log.query(SightingQuery()):
                if sighting.name is not None:
                    seen = visits.setdefault(sighting.name, [0, None])
                    seen[0] += 1
                    seen[1] = max(seen[1] or sighting.ended, sighting.ended)
        finally:
            log.close()
    out = []
    for name in sorted(set(photos) | set(visits)):
        own, learned = photos.get(name, (0, 0))
        count, last = visits.get(name, (0, None))
        out.append(PersonFacts(name, own, learned, count, last.isoformat(timespec="seconds") if last else None,
                               read_consent(root, name)))
    return out
