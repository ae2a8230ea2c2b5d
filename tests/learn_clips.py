"""Clips for ``--learn`` (tests/test_learn.py, bench/bench_learn.py): a person enrolled from ONE lfw40 photo
comes back again and again, each time with another photo; two other people (one photo each) are enrolled
too, so every match has a runner-up. Built with tests/visits.py (lfw40 photos pasted on a plain background,
faces ~80-95 px wide)."""

from __future__ import annotations

from pathlib import Path

from visits import SLOTS, Visit, photos_of

OTHERS = ("Jeb_Bush", "Richard_Gere")   # enrolled from one photo each: the runner-ups


def returns_visits(person: str, photos: list[Path], stay: float = 1.2, gap: float = 0.8) -> list[Visit]:
    """One visit per photo, one at a time (the slot moves round the frame), ``gap`` seconds between visits:
    long enough for the track to end (5 missed rounds) before the next one starts."""
    visits, start = [], 0.2
    for n, photo in enumerate(photos):
        visits.append(Visit(person, photo, True, n % len(SLOTS), round(start, 3), round(start + stay, 3)))
        start += stay + gap
    return visits


def returns_gallery(root: Path, person: str, others=OTHERS) -> Path:
    """known_faces: ``person`` from their first lfw40 photo only, each of ``others`` from their first."""
    import shutil

    for name in (person, *others):
        (root / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(photos_of(name)[0], root / name)
    return root
