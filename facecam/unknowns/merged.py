"""Which unknown clusters became which person: one line per cluster named (``unknowns name``, the window's
"Who's this?") or retired for matching them, in ``known_faces/.facecam/merged_clusters.jsonl`` (owner-only).

The unknowns store forgets a cluster once it is named; the sightings log keeps its visits under the cluster's
id (name empty). This record is what links those visits to the person, for ``facecam people export --name``
("what do you hold on me"). JSON lines, never pickle; a damaged line is passed over.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from facecam.fileutil import private_file, private_folder

FILE_NAME = "merged_clusters.jsonl"
CACHE_DIR = ".facecam"   # as facecam.gallery.CACHE_DIR


def record_path(known_faces: Path) -> Path:
    return Path(known_faces) / CACHE_DIR / FILE_NAME


def record(known_faces: Path, merged: list[tuple[str, str]]) -> None:
    """Append ``[(cluster id, person name)]``; a folder facecam may not write keeps no record (best effort:
    naming itself has already succeeded)."""
    if not merged:
        return
    path = record_path(known_faces)
    lines = "".join(json.dumps({"cluster": cluster, "name": name, "time": round(time.time(), 3)},
                               ensure_ascii=False) + "\n" for cluster, name in merged)
    try:
        private_folder(path.parent)
        private_file(path)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        pass


def clusters_of(known_faces: Path, name: str) -> list[str]:
    """The ids of the clusters merged into ``name``, oldest first (no duplicates)."""
    path = record_path(known_faces)
    found: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if (isinstance(entry, dict) and entry.get("name") == name and isinstance(entry.get("cluster"), str)
                        and entry["cluster"] not in found):
                    found.append(entry["cluster"])
    except OSError:
        return []
    return found
