"""``evaluate --strangers``: its FPIR and DIR equal a direct count over ``identify --json`` on real photos
(YuNet + SFace; lfw10 people as the gallery, lfw1k strangers)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import lfw_photos
from facecam.openset import Decision

PEOPLE = ("Colin_Powell", "Donald_Rumsfeld", "Hugo_Chavez", "Tony_Blair", "Vladimir_Putin")
LFW1K = Path(__file__).resolve().parents[2] / "shared" / "facedata" / "lfw1k"
if not LFW1K.is_dir():
    LFW1K = Path("/work/shared/facedata/lfw1k")


@pytest.fixture
def folders(tmp_path):
    gallery = tmp_path / "gallery"
    for person in PEOPLE:
        (gallery / person).mkdir(parents=True)
        for photo in lfw_photos(person)[:4]:
            shutil.copy(photo, gallery / person)
    strangers = tmp_path / "strangers"
    strangers.mkdir()
    for photo in sorted((LFW1K / "strangers").glob("*.jpg"))[:24]:
        shutil.copy(photo, strangers)
    # and people of lfw10 who are not enrolled: strangers the gallery has never seen
    for person in ("Jacques_Chirac", "Gerhard_Schroeder"):
        for photo in lfw_photos(person)[:3]:
            shutil.copy(photo, strangers)
    return gallery, strangers


def _identify(cli, known: Path, photos, *options) -> list[dict]:
    code, out, err = cli("identify", "--model", "sface", "--detector", "yunet", "--known-faces", known, "--json",
                         *options, *photos)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _evaluate(cli, gallery: Path, strangers: Path, *options) -> dict:
    code, out, err = cli("evaluate", gallery, "--model", "sface", "--detector", "yunet", "--strangers", strangers,
                         "--json", *options)
    assert code == 0, err
    return json.loads(out)["open_set"]


def test_fpir_is_the_share_of_strangers_identify_names(cli, folders):
    gallery, strangers = folders
    for options in ((), ("--threshold", "0.72")):
        found = _evaluate(cli, gallery, strangers, *options)
        answers = [a for a in _identify(cli, gallery, sorted(strangers.iterdir()), *options) if a["faces"]]
        named = [a for a in answers if a["faces"][0]["name"] is not None]
        assert found["stranger_photos"] == len(answers) == 30
        assert found["fpir"] == pytest.approx(len(named) / len(answers))
        assert sorted(s["file"] for s in found["strangers_named"]) == sorted(a["image"] for a in named)
        assert found["decision"] == answers[0]["decision"]
    assert found["fpir"] > 0  # at 0.72 some strangers are named: the count means something
    default = _evaluate(cli, gallery, strangers)
    assert default["decision"]["based_on"] == "stranger rate"
    assert default["target_threshold"] == Decision("sface", stranger_rate=0.01).threshold_for(len(PEOPLE), 4)
    assert not default["measurable"] and "too few" in default["recommendation"]
    curve = default["curve"]
    assert curve["fpir"] == sorted(curve["fpir"]) and curve["dir"] == sorted(curve["dir"])


def test_dir_is_the_share_of_enrolled_photos_identify_names_right_without_them(cli, folders, tmp_path):
    gallery, strangers = folders
    found = _evaluate(cli, gallery, strangers, "--threshold", "0.27")
    aside = tmp_path / "aside"
    aside.mkdir()
    right = total = 0
    for person in PEOPLE:
        for photo in sorted((gallery / person).glob("*.jpg")):
            moved = shutil.move(photo, aside / photo.name)
            answer = _identify(cli, gallery, [moved], "--threshold", "0.27")[0]
            shutil.move(moved, photo)
            total += 1
            right += answer["faces"][0]["name"] == person
    assert found["mated_probes"] == total == 20
    assert found["dir"] == pytest.approx(right / total)
    assert 0 < right < total  # at 0.27 some enrolled photos are Unknown: the count means something
