"""Retention per kind of data (issue 22): visits and snapshots, unknown faces, learned crops, each with its own
limit, enforced at start (:func:`facecam.retention.enforce`, what ``watch`` runs as it starts) and while running
(the stores as they are written, :class:`facecam.retention.RetentionSweeper`). A clock moved forward, never a
sleep; the data is real: a watch run on a clip of lfw40 photos with SFace, learned crops of real faces."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from clips import LFW40, lfw40_photo, lfw40_visitors, make_lfw40_gallery, visits_scene, write_clip

DAY = 86400.0


@pytest.fixture(scope="module")
def watched(tmp_path_factory, model_dir):
    """known_faces after `watch` on a clip of one enrolled person and two strangers: visits and unknown faces."""
    import io

    from facecam.cli import main

    folder = tmp_path_factory.mktemp("retention")
    visitors, enrolled = lfw40_visitors()
    strangers = [p for p in visitors if p not in enrolled][:2]
    people = [enrolled[0], *strangers]
    clip = folder / "clip.avi"
    write_clip(clip, visits_scene(people, [5] * 3, stay_s=2.8, steps_s=(3.0,)), seconds=9.5,
               enrolled=tuple(people), load_photo=lambda actor: lfw40_photo(actor))
    kf = make_lfw40_gallery(folder / "kf", [enrolled[0]], photos=(1, 2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACECAM_CONFIG_DIR", str(folder / "config"))
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(["watch", "--model", "sface", "--model-dir", str(model_dir), "--known-faces", str(kf),
                     "--source", str(clip)], stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    return kf, enrolled[0]


def copy_of(kf: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(kf, tmp_path / "kf"))


def learn_one(kf: Path, name: str, at: float) -> Path:
    """A learned crop of ``name`` (a real face: their lfw40 photo 3) learned at ``at``."""
    from facecam.learn import add_learned

    path, _ = add_learned(kf, name, (LFW40 / name / f"{name}_0003.jpg").read_bytes(), clock=lambda: at)
    return path


def listing(cli, kf: Path, model_dir) -> tuple[list[dict], list[dict]]:
    code, out, err = cli("sightings", "--json", "--known-faces", kf)
    assert code == 0, err
    visits = [json.loads(line) for line in out.splitlines() if line.strip()]
    code, out, err = cli("unknowns", "--json", "--model", "sface", "--model-dir", model_dir, "--known-faces", kf)
    assert code == 0, err
    return visits, json.loads(out)["clusters"]


def test_each_kind_is_gone_after_a_restart_past_its_own_limit(watched, cli, model_dir, tmp_path):
    from facecam.retention import Retention, enforce
    from facecam.stores import open_stores

    kf = copy_of(watched[0], tmp_path)
    name = watched[1]
    now = time.time()
    crop = learn_one(kf, name, now)
    photos = sorted((kf / name).glob("*.jpg"))
    visits, clusters = listing(cli, kf, model_dir)
    assert visits and clusters and crop.is_file()
    limits = Retention.chosen({})
    assert (limits.visits, limits.unknowns, limits.learned) == (90.0, 30.0, 365.0)

    def restart(days: float) -> dict:
        stores = open_stores(kf)
        try:
            return enforce(stores, limits, clock=lambda: now + days * DAY)
        finally:
            stores.close()

    assert restart(29) == {"visits": 0, "unknowns": 0, "learned": 0}
    assert listing(cli, kf, model_dir) == (visits, clusters)
    gone = restart(31)                                       # unknown faces: 30 days
    assert gone["unknowns"] == sum(len(c["sightings"]) for c in clusters) and gone["visits"] == 0
    assert listing(cli, kf, model_dir) == (visits, [])
    assert not any((kf / ".facecam" / "unknowns" / "sface" / "crops").iterdir())
    assert restart(91)["visits"] == len(visits)              # visits and their snapshots: 90 days
    assert listing(cli, kf, model_dir) == ([], []) and crop.is_file()
    assert restart(366)["learned"] == 1                      # learned crops: 365 days
    assert not crop.exists() and sorted((kf / name).glob("*.jpg")) == photos   # their own photos stay


def test_limits_come_from_the_flags_else_the_settings_else_the_defaults(tmp_path):
    from facecam import config
    from facecam.retention import Retention

    config.save_settings({"sightings_keep_days": 7, "learned_keep_days": 60, "unknowns_max_days": "soon"})
    assert Retention.chosen() == Retention(visits=7.0, unknowns=30.0, learned=60.0)
    assert Retention.chosen(learned=2, unknowns=1) == Retention(visits=7.0, unknowns=1.0, learned=2.0)
    saved = Retention(14, 3, 30).settings(config.load_settings())
    assert Retention.chosen(saved) == Retention(14.0, 3.0, 30.0)
    with pytest.raises(ValueError):
        Retention(0, 3, 30).settings({})


def test_watch_flags_set_the_limits_for_the_run(cli, capsys, tmp_path):
    from facecam.cli import build_parser
    from facecam.retention import Retention

    args = build_parser().parse_args(["watch", "--keep-days", "5", "--unknowns-keep-days", "2",
                                      "--learned-keep-days", "9"])
    assert Retention.from_args(args, {}) == Retention(5.0, 2.0, 9.0)
    code, _, err = cli("watch", "--learned-keep-days", "0", "--source", tmp_path / "none.avi")
    assert code == 2 and "--learned-keep-days: expected a number of days above 0" in capsys.readouterr().err


def test_each_kind_goes_while_running_as_the_clock_moves(watched, tmp_path):
    """One store opened once, written to as a run does: what passed its limit goes at the next write (visits,
    unknown faces) or the next sweep (learned crops), with no restart."""
    from facecam.retention import Retention, RetentionSweeper
    from facecam.sightings.model import SightingQuery
    from facecam.stores import open_stores
    from facecam.unknowns.collect import UnknownCrop, UnknownSighting

    kf = copy_of(watched[0], tmp_path)
    name = watched[1]
    clock = [time.time()]
    stores = open_stores(kf)
    log = stores.sightings(retention_days=90, clock=lambda: clock[0])
    old = log.query(SightingQuery(snapshots=True))
    assert old and all(s.snapshot for s in old)
    unknowns = stores.unknowns("sface", None, {}, clock=lambda: clock[0])
    strangers = unknowns.sightings()
    assert strangers
    crop = learn_one(kf, name, clock[0])
    sweeper = RetentionSweeper(kf, Retention(90, 30, 365), clock=lambda: clock[0])

    clock[0] += 31 * DAY                      # a new stranger a month later: the old ones go
    newest = strangers[-1]
    face = lfw40_photo(type("A", (), {"person": name, "photo": 3})())[:, :, ::-1].copy()
    unknowns.add(UnknownSighting("later001", "cam", 1, 0.0, 1.0, clock[0], clock[0],
                                 (UnknownCrop(face, newest.embedding, 0.5, 0.0, 0, (0, 0, 10, 10)),)))
    assert [s.id for s in unknowns.sightings()] == ["later001"]
    clock[0] += 60 * DAY                      # a visit three months after the first ones: they go
    visit = old[0]
    later = datetime.fromtimestamp(clock[0]).astimezone()
    from dataclasses import replace

    log.save(replace(visit, id="later-visit", started=later, ended=later))
    assert [s.id for s in log.query()] == ["later-visit"]
    sweeper.on_visit()
    sweeper.close()
    assert crop.is_file()                     # 91 days: within the learned crops' year
    clock[0] += 275 * DAY
    sweeper.on_visit()
    sweeper.close()
    assert not crop.exists() and sweeper.swept == [crop]
    log.close()
    unknowns.close()
    stores.close()
