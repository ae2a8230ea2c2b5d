"""Naming a cluster: its best crops become photos of a person in known_faces (the CLI's
``unknowns name`` and the window's "Who's this?" panel share this)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from facecam.errors import FacecamError

MAX_PHOTOS = 5


@dataclass(frozen=True)
class NamedCluster:
    """What naming did: the cluster's id, the person's (checked) name and the photos written (their files,
    or ``db:<id>`` for photos stored in the shared database)."""

    cluster_id: str
    name: str
    files: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("files: a named cluster has at least one photo written")


def name_cluster(store, cluster_id: str, name: str, known_faces: Path,
                 count_faces: Callable[[Path], int],
                 save: Callable[[str, list[Path]], list] | None = None) -> NamedCluster:
    """Save the cluster's best crops (at most 5, those the detector finds a face in again) as photos of
    ``name`` and forget the cluster. Slow (a detection per crop): not on a UI thread.

    ``save(name, photos)`` stores the photos and returns what it wrote (files or photo ids); by default
    they are copied into ``known_faces/<name>/`` (``enroll --db``'s way with a database: the session
    passes :func:`facecam.db.gallery.enroll_into`). The caller refreshes the gallery; clusters that then
    match the person are retired by the store's ``retire_matching``.
    """
    from facecam.gallery import check_person_name, enroll_photos  # noqa: PLC0415

    name = check_person_name(name)
    if save is None:
        save = lambda person, photos: enroll_photos(Path(known_faces), person, photos, count_faces)  # noqa: E731
    cluster = store.cluster(cluster_id)
    with store.crop_files(cluster.best_crops(MAX_PHOTOS)) as files:
        crops = [path for path in files if count_faces(path) > 0]
        if not crops:
            raise FacecamError(f"no crop of cluster {cluster.id} shows a face the detector finds again; "
                               f"forget it with 'facecam unknowns forget {cluster.id}'")
        written = save(name, crops)
    store.forget([cluster.id])
    from facecam.unknowns.merged import record  # noqa: PLC0415

    record(Path(known_faces), [(cluster.id, name)])   # its visits in the sightings log are now theirs
    return NamedCluster(cluster.id, name, tuple(str(p) for p in written))
