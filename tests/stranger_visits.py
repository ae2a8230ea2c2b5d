"""Issue 21's "one stranger, one entry in Who's this?" clip: 15 strangers come back 3 times each (a different
photo each time), enrolled people pass by (photos that are not in their gallery), small faces (photos shown
140 px wide: faces about 60-75 px, MTCNN's box), played in real time (`watch --realtime`, SFace, the unknown
faces collected as users have it). Built from real photos, in two selections of other people:

* ``"lfw40"`` (seed 21): 15 lfw40 strangers, 3 random photos each; 20 other lfw40 people enrolled with 2 photos,
  10 of them pass by twice with two other photos;
* ``"lfw1k"`` (seed 7): 15 lfw1k people with 3 photos as the strangers; 20 other lfw1k 3-photo people enrolled
  with their first 2 photos, 12 of them pass by once with their third.

:func:`score` gives the issue's three figures from ``facecam unknowns --json``: the share of the 15 strangers
whole in one cluster (every sighting of theirs collected lies in one cluster), purity (sightings in a cluster
whose majority is their person) and the share of collected sightings that are enrolled people.
Used by tests/test_stranger_clusters.py and bench/bench_stranger_clusters.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from visits import LFW40, facedata, listed_truth, make_gallery, photos_of, plan_visits, write_visits_clip

SHOWN_SMALL = 140     # pasted photo size: faces about 60-75 px
SELECTIONS = {"lfw40": 21, "lfw1k": 7}


def selection(name: str, seed: int | None = None):
    """(strangers {person: 3 photos}, passing {enrolled person: photos on the clip}, gallery {person: photos})."""
    rng = np.random.default_rng(SELECTIONS[name] if seed is None else seed)
    if name == "lfw40":
        people = sorted(p.name for p in LFW40.iterdir() if p.is_dir())
        order = [people[i] for i in rng.permutation(len(people))]
        strangers = {p: [photos_of(p)[i] for i in sorted(rng.choice(len(photos_of(p)), 3, replace=False))]
                     for p in order[:15]}
        enrolled = order[15:35]
        gallery = {p: photos_of(p)[:2] for p in enrolled}
        passing = {p: photos_of(p)[2:4] for p in enrolled[:10]}
        return strangers, passing, gallery
    root = facedata() / "lfw1k" / "people"
    three = sorted(p.name for p in root.iterdir() if len(list(p.glob("*.jpg"))) == 3)
    order = [three[i] for i in rng.permutation(len(three))]
    files = {p: sorted((root / p).glob("*.jpg")) for p in order[:35]}
    strangers = {p: files[p] for p in order[:15]}
    gallery = {p: files[p][:2] for p in order[15:35]}
    passing = {p: files[p][2:] for p in order[15:27]}
    return strangers, passing, gallery


def build(folder: Path, name: str, seed: int | None = None):
    """The clip (``folder/<name>.avi``), its visits and the known_faces folder (``folder/known_faces``)."""
    strangers, passing, gallery = selection(name, seed)
    visits = plan_visits(strangers, passing, seed=SELECTIONS[name] if seed is None else seed, duration=1.6,
                         gap=0.8, shown=SHOWN_SMALL)
    clip = folder / f"{name}.avi"
    write_visits_clip(clip, visits)
    known = make_gallery(folder / "known_faces", gallery)
    return clip, visits, known, strangers


def run_cli(*argv) -> tuple[int, str, str]:
    from facecam.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def watch(clip: Path, known: Path, model_dir: Path, *extra, realtime: bool = True) -> dict:
    """`facecam watch --realtime` over the clip (SFace, unknown faces collected; ``realtime=False``: every frame
    in order); its summary."""
    summary = clip.with_suffix(".summary.json")
    code, _, err = run_cli("watch", "--model", "sface", "--model-dir", model_dir, "--known-faces", known,
                           "--source", clip, *(["--realtime"] if realtime else []), "--summary", summary, *extra)
    if code != 0:
        raise RuntimeError(err)
    return json.loads(summary.read_text())


def listing(known: Path, model_dir: Path, *extra) -> dict:
    code, out, err = run_cli("unknowns", "--json", "--model", "sface", "--model-dir", model_dir, "--known-faces",
                             known, *extra)
    if code != 0:
        raise RuntimeError(err)
    return json.loads(out)


def score(clusters: list[dict], visits, strangers) -> dict:
    """The issue's figures for one listing (see the module notes) and what goes with them."""
    rows, who, pure = listed_truth(clusters, visits)
    clusters_of = {p: {c for (c, _), q in zip(rows, who) if q == p} for p in strangers}
    whole = [p for p, found in clusters_of.items() if len(found) == 1]
    suggested = {c["id"]: set(c.get("probably_same_as", ())) for c in clusters}
    # or joined by the "probably the same person" suggestions (one merge away)
    offered = [p for p, found in clusters_of.items() if found and _connected(found, suggested)]
    enrolled = {v.person for v in visits if v.enrolled}
    visits_seen = {(q, round(s["t"])) for (_, s), q in zip(rows, who) if q in strangers}
    return {"strangers": len(strangers), "whole": round(len(whole) / len(strangers), 4),
            "whole_or_suggested": round(len(offered) / len(strangers), 4),
            "purity": round(pure / max(len(rows), 1), 4),
            "enrolled_share": round(sum(1 for p in who if p in enrolled) / max(len(rows), 1), 4),
            "sightings": len(rows), "clusters": len(clusters),
            "stranger_sightings": sum(1 for p in who if p in strangers),
            "strangers_unseen": sum(1 for found in clusters_of.values() if not found),
            "split": sorted(p for p, found in clusters_of.items() if len(found) > 1),
            "enrolled_collected": sorted({p for p in who if p in enrolled}),
            "bystanders": sum(1 for p in who if p and p.startswith("bystander")),
            "off_visit": sum(1 for p in who if p is None), "approx_visits_seen": len(visits_seen)}


def _connected(clusters: set[str], links: dict[str, set[str]]) -> bool:
    """True when ``clusters`` are all reached from one of them through ``links`` (within ``clusters``)."""
    start = next(iter(clusters))
    reached, todo = {start}, [start]
    while todo:
        for other in links.get(todo.pop(), set()) & clusters:
            if other not in reached:
                reached.add(other)
                todo.append(other)
    return reached == clusters
