"""Adding a model is adding one registry entry: the CLI, the settings, the file lookup and the factory follow."""

from __future__ import annotations

import json
from types import MappingProxyType

from conftest import LFW10


def test_one_new_entry_is_a_new_model_everywhere(cli, monkeypatch, tmp_path):
    from facecam import config, registry
    from facecam.models import ModelFile

    sface = registry.MODELS["sface"]
    twin_file = ModelFile("sface-twin", sface.file.filename, sface.file.url, sface.file.sha256, sface.file.size,
                          builtin=True)
    twin = registry.EmbedderEntry("sface-twin", "SFace twin", twin_file, 0.5, "a test", sface.factory)
    monkeypatch.setattr(registry, "MODELS", MappingProxyType({**registry.MODELS, "sface-twin": twin}))

    assert config.threshold_for("sface-twin", settings={}) == 0.5
    assert config.match_mode_for("sface-twin", settings={}) == config.DEFAULT_MATCH_MODE
    blair = sorted((LFW10 / "Tony_Blair").glob("*.jpg"))
    code, out, err = cli("verify", "--json", "--model", "sface-twin", "--detector", "yunet", blair[0], blair[4])
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "sface-twin" and result["threshold"] == 0.5 and result["verified"] is True
    code, out, err = cli("models", "--json", "--model-dir", tmp_path)
    assert code == 0, err
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["vgg-face", "sface", "sface-twin", "yunet"]


def test_match_modes_are_named_once():
    from facecam import cli, config, evaluate, matcher

    assert config.MATCH_MODES is matcher.MATCH_MODES and evaluate.MATCH_MODES is matcher.MATCH_MODES
    match = next(a for a in cli.build_parser()._subparsers._group_actions[0].choices["identify"]._actions
                 if a.dest == "match")
    assert tuple(match.choices) == matcher.MATCH_MODES
