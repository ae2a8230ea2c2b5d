"""The open-set decision (facecam.openset): a target share of strangers named, turned into the threshold for
the gallery's size; the same decision in ``identify`` and the live pipeline; the overrides."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import SFACE_DEFAULT, lfw_photos
from facecam import config
from facecam.matcher import GalleryMatrix
from facecam.openset import DEFAULT_STRANGER_RATE, Decision, pair_rate
from facecam.registry import MODELS
from facecam.types import Frame

ENROLLED = ("Colin_Powell", "George_W_Bush", "Gerhard_Schroeder", "Hugo_Chavez", "Jacques_Chirac", "Tony_Blair",
            "Donald_Rumsfeld")
STRANGER = "Vladimir_Putin"


def test_the_threshold_tightens_as_the_gallery_grows_and_never_loosens_past_the_old_default():
    decision = Decision("sface", stranger_rate=DEFAULT_STRANGER_RATE)
    one, ten, hundred, thousand = (decision.threshold_for(n) for n in (1, 10, 100, 1000))
    # a few dozen people keep the default calibrated for them (it names fewer strangers than the target there)
    assert one == ten == SFACE_DEFAULT
    assert ten > hundred > thousand
    # Measured on lfw1k (BENCHMARKS.md): 1% of strangers named at about 0.52 with 1,000 people.
    assert 0.55 < hundred < SFACE_DEFAULT and 0.50 < thousand < 0.54
    careful = Decision("sface", stranger_rate=0.001)
    assert careful.threshold_for(100) < hundred and careful.threshold_for(1000) < thousand
    # a mean of two photos sits closer to everyone: a tighter threshold for the same rate
    assert decision.threshold_for(100, photos_per_person=2) < hundred
    assert pair_rate(0.01, 100) == pytest.approx(1 - 0.99 ** 0.01)


def test_a_fixed_threshold_and_a_model_without_a_curve_do_not_follow_the_size():
    fixed = Decision("sface", threshold=0.6, origin="override")
    assert fixed.threshold_for(10) == fixed.threshold_for(5000) == 0.6
    vgg = Decision("vgg-face", stranger_rate=0.01)  # no measured curve: its published fixed threshold stays
    assert vgg.threshold_for(10) == vgg.threshold_for(5000) == MODELS["vgg-face"].threshold
    assert not vgg.follows_size


def test_settings_choose_between_a_saved_threshold_a_saved_rate_and_the_default():
    assert config.decision_for("sface", settings={}).stranger_rate == DEFAULT_STRANGER_RATE
    assert config.decision_for("sface", settings={"stranger_rates": {"sface": 0.001}}).stranger_rate == 0.001
    saved = config.decision_for("sface", settings={"thresholds": {"sface": 0.5}})
    assert (saved.threshold, saved.origin) == (0.5, "settings")
    assert config.decision_for("sface", 0.45, settings={"thresholds": {"sface": 0.5}}).threshold == 0.45
    assert config.decision_for("sface", None, settings={}, stranger_rate=0.001).stranger_rate == 0.001
    _, ignored = config.clean_settings({"stranger_rates": {"sface": 3}})
    assert ignored and "stranger_rates.sface" in ignored[0]


def _known_faces(tmp_path):
    known = tmp_path / "known_faces"
    for person in ENROLLED:
        (known / person).mkdir(parents=True)
        photo = lfw_photos(person)[0]
        (known / person / photo.name).write_bytes(photo.read_bytes())
    return known


def test_identify_json_says_what_the_decision_rests_on(tmp_path, cli):
    known = _known_faces(tmp_path)
    probe = lfw_photos("George_W_Bush")[3]
    code, out, err = cli("identify", "--model", "sface", "--known-faces", known, "--json", probe)
    assert code == 0, err
    result = json.loads(out)
    decision = result["decision"]
    expected = Decision("sface", stranger_rate=0.01).threshold_for(len(ENROLLED))
    assert decision["based_on"] == "stranger rate" and decision["entries"] == len(ENROLLED)
    assert decision["stranger_rate"] == 0.01 and decision["threshold"] == expected
    assert "1 in 100 strangers" in decision["basis"]
    face = result["faces"][0]
    assert face["name"] == "George_W_Bush" and face["threshold"] == expected

    code, out, _ = cli("identify", "--model", "sface", "--known-faces", known, "--json", "--stranger-rate",
                       "1/100000", probe)
    careful = json.loads(out)["decision"]
    assert code == 0 and careful["threshold"] < expected and careful["stranger_rate"] == 0.00001

    code, out, _ = cli("identify", "--model", "sface", "--known-faces", known, "--json", "--threshold", "0.3", probe)
    fixed = json.loads(out)
    assert code == 0 and fixed["decision"]["origin"] == "override" and fixed["decision"]["threshold"] == 0.3
    assert fixed["faces"][0]["threshold"] == 0.3


def test_the_live_pipeline_and_identify_give_the_same_decisions(sface_recognizer):
    """Real MTCNN + SFace: an enrolled person and a stranger side by side, through the pipeline's round and
    through Recognizer.recognize (identify's path), with the default decision: the same names and thresholds."""
    from facecam.pipeline import LivePipeline

    gallery = GalleryMatrix.from_pairs(
        list(ENROLLED), np.stack([sface_recognizer.embed_photo(lfw_photos(p)[0]).embedding for p in ENROLLED]))
    image = np.hstack([cv2.imread(str(lfw_photos("Hugo_Chavez")[4])), cv2.imread(str(lfw_photos(STRANGER)[2]))])
    old = sface_recognizer.decision
    sface_recognizer.threshold = Decision("sface", stranger_rate=0.01)
    try:
        direct = sface_recognizer.recognize(image, gallery)
        rounds = []
        pipeline = LivePipeline(sface_recognizer, lambda: gallery)
        pipeline.listeners.append(rounds.append)
        pipeline.process(Frame(1, 0.0, image))
    finally:
        sface_recognizer.threshold = old
    live = rounds[0]
    by_box = {tuple(np.round(f.box).astype(int)): m for f, m in zip(direct.faces, direct.matches)}
    assert len(live.matches) == len(direct.matches) == 2
    for face, match in zip(live.embedded_faces, live.matches):
        twin = by_box[tuple(np.round(face.box).astype(int))]
        assert (match.name, match.threshold) == (twin.name, twin.threshold)
        assert match.distance == pytest.approx(twin.distance, abs=1e-5)
    names = sorted(str(m.name) for m in direct.matches)
    assert names == ["Hugo_Chavez", "None"]
    assert direct.matches[0].threshold == Decision("sface", stranger_rate=0.01).threshold_for(len(ENROLLED))
