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
    """What naming did: the cluster's id, the person's (checked) name and the photos written."""

    cluster_id: str
    name: str
    files: tuple[Path, ...]

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("files: a named cluster has at least one photo written")


def name_cluster(store, cluster_id: str, name: str, known_faces: Path,
                 count_faces: Callable[[Path], int]) -> NamedCluster:
    """Save the cluster's best crops (at most 5, those the detector finds a face in again) into
    ``known_faces/<name>/`` and forget the cluster. Slow (a detection per crop): not on a UI thread.

    The caller refreshes the gallery; clusters that then match the person are retired by
    :meth:`facecam.unknowns.store.LocalUnknownStore.retire_matching`.
    """
    from facecam.gallery import check_person_name, enroll_photos  # noqa: PLC0415

    name = check_person_name(name)
    cluster = store.cluster(cluster_id)
    crops = [c.path for c in cluster.best_crops(MAX_PHOTOS) if c.path.exists() and count_faces(c.path) > 0]
    if not crops:
        raise FacecamError(f"no crop of cluster {cluster.id} shows a face the detector finds again; "
                           f"forget it with 'facecam unknowns forget {cluster.id}'")
    written = enroll_photos(Path(known_faces), name, crops, count_faces)
    store.forget([cluster.id])
    return NamedCluster(cluster.id, name, tuple(Path(p) for p in written))
