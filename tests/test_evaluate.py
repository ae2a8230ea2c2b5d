"""``evaluate``: the metrics against scikit-learn and brute force, on the real LFW photos with SFace, and the command.

The LFW gallery (100 photos) is embedded once per module, in a copy of tests/data/lfw10 (its cache must not
land in the repository); every later run in the module reuses that cache.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve as sk_roc_curve

from conftest import LFW10, SFACE_DEFAULT
from facecam import evaluate as ev
from facecam import evaluate_metrics as metrics
from facecam import evaluate_report as report_text
from facecam.errors import FacecamError
import facecam.gallery
from facecam.gallery import CACHE_DIR, Gallery
from facecam.matcher import GalleryMatrix, match_embeddings

BLAIR = sorted((LFW10 / "Tony_Blair").glob("*.jpg"))


def sface_args(model_dir):
    return ["--model", "sface", "--model-dir", str(model_dir)]


# ---------------------------------------------------------------- the LFW gallery, once per module

@pytest.fixture(scope="module")
def lfw_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evaluate") / "lfw10"
    shutil.copytree(LFW10, root)
    return root


@pytest.fixture(scope="module")
def lfw_indexed(lfw_dir, sface_recognizer):
    gallery = Gallery.for_recognizer(lfw_dir, sface_recognizer)
    return gallery, gallery.refresh(sface_recognizer.embed_photo)


@pytest.fixture(scope="module")
def lfw_report(lfw_indexed):
    gallery, index_report = lfw_indexed
    return ev.evaluate_gallery(gallery, SFACE_DEFAULT, 1e-3, match_mode="mean", index_report=index_report)


@pytest.fixture(scope="module")
def lfw_rows(lfw_indexed):
    """(embeddings float64, person name per row, path per row) straight from the gallery."""
    embeddings, labels, names, paths = ev.gallery_rows(lfw_indexed[0])
    return np.asarray(embeddings, np.float64), [names[i] for i in labels], paths


# ---------------------------------------------------------------- LFW: quality and independent checks

def test_lfw_counts_and_quality(lfw_report):
    r = lfw_report
    assert (r.images, r.faces_found, r.no_face, r.unreadable) == (100, 100, [], [])
    several = {Path(f).name for f, _ in r.several_faces}  # SOURCE.txt: two photos with a second face
    assert {"Arnold_Schwarzenegger_0007.jpg", "Ariel_Sharon_0004.jpg"} & several, several
    assert (r.positives, r.negatives) == (10 * 45, 100 * 99 // 2 - 450)
    assert r.auc >= 0.99
    assert r.identification["nearest"].rank1 >= 0.97 and r.identification["mean"].rank1 >= 0.97
    assert r.rank1 == r.identification["mean"].rank1
    assert r.recommended_threshold is not None and 0.0 < r.recommended_threshold < 2.0


def test_pair_distances_are_every_pair_brute_force(lfw_report, lfw_rows):
    embeddings, persons, _ = lfw_rows
    expected_d, expected_same = [], []
    for i, j in itertools.combinations(range(len(persons)), 2):
        expected_d.append(1.0 - float(np.dot(embeddings[i], embeddings[j])))
        expected_same.append(persons[i] == persons[j])
    np.testing.assert_allclose(lfw_report.pair_distances, expected_d, atol=1e-9)
    assert lfw_report.pair_same.tolist() == expected_same


def test_roc_auc_eer_tar_agree_with_sklearn(lfw_report):
    r = lfw_report
    d, same = r.pair_distances, r.pair_same
    assert abs(r.auc - roc_auc_score(same, -d)) <= 1e-9
    fpr, tpr, thresholds = sk_roc_curve(same, -d, drop_intermediate=False)
    np.testing.assert_array_equal(r.roc.fpr, fpr)
    np.testing.assert_array_equal(r.roc.tpr, tpr)
    np.testing.assert_array_equal(r.roc.thresholds[1:], -thresholds[1:])
    # EER: at the sklearn point closest to FNR = FPR, the EER lies between that point's FNR and FPR
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    assert min(fpr[i], fnr[i]) - 1e-12 <= r.eer <= max(fpr[i], fnr[i]) + 1e-12
    # TAR at FAR: the best TPR of sklearn's curve within the FAR
    for far in (1e-2, 1e-3):
        assert r.tar[far].tar == tpr[fpr <= far + 1e-12].max()
        fp = int(np.sum(~same & (d <= r.tar[far].threshold)))
        assert fp <= far * r.negatives
    assert r.tar[1e-2].note is None and r.tar[1e-2].false_accepts_allowed == 45
    assert r.tar[1e-3].note.startswith("rough") and r.tar[1e-3].false_accepts_allowed == 4


def test_best_accuracy_and_threshold_rates_brute_force(lfw_report):
    r = lfw_report
    d, same = r.pair_distances, r.pair_same
    accuracies = [np.mean((d <= t) == same) for t in np.r_[-1.0, np.unique(d)]]
    assert r.best_accuracy == pytest.approx(max(accuracies), abs=1e-12)
    assert np.mean((d <= r.best_threshold) == same) == pytest.approx(r.best_accuracy, abs=1e-12)
    assert r.tpr_in_use == np.mean(d[same] <= SFACE_DEFAULT) and r.fpr_in_use == np.mean(d[~same] <= SFACE_DEFAULT)
    # the recommended threshold: FAR within the target, and 0.001 more would break it
    rec = r.recommended_threshold
    assert np.mean(d[~same] <= rec) <= 1e-3 < np.mean(d[~same] <= rec + 0.001)
    assert r.recommended_tpr == np.mean(d[same] <= rec)


def test_rank1_brute_force_and_with_the_apps_matcher(lfw_report, lfw_rows):
    embeddings, persons, _ = lfw_rows
    n = len(persons)
    correct = {"nearest": 0, "mean": 0}
    matcher_correct = {"nearest": 0, "mean": 0}
    for i in range(n):
        others = [j for j in range(n) if j != i]
        # nearest photo, by hand
        best_j = min(others, key=lambda j: 1.0 - float(np.dot(embeddings[i], embeddings[j])))
        correct["nearest"] += persons[best_j] == persons[i]
        # each person's mean without photo i, by hand
        best_person, best_distance = None, np.inf
        for person in sorted(set(persons)):
            members = [j for j in others if persons[j] == person]
            mean = np.sum(embeddings[members], axis=0)
            distance = 1.0 - float(np.dot(embeddings[i], mean / np.linalg.norm(mean)))
            if distance < best_distance:
                best_person, best_distance = person, distance
        correct["mean"] += best_person == persons[i]
        # the app's own matcher on the gallery without photo i
        gallery = GalleryMatrix.from_pairs([persons[j] for j in others], embeddings[others])
        for mode in ("nearest", "mean"):
            match = match_embeddings(embeddings[i], gallery, 2.0, mode)[0]
            matcher_correct[mode] += match.best_name == persons[i]
    for mode in ("nearest", "mean"):
        ident = lfw_report.identification[mode]
        assert ident.correct == correct[mode] == matcher_correct[mode]
        assert ident.rank1 == correct[mode] / n
        assert ident.confusion.sum() == n and np.trace(ident.confusion) == ident.correct
        assert ident.confusion.sum(axis=1).tolist() == [10] * 10


@pytest.mark.parametrize("threshold", [SFACE_DEFAULT, 0.55])
def test_open_set_unknown_rate_with_the_apps_matcher(lfw_indexed, lfw_rows, threshold):
    embeddings, persons, _ = lfw_rows
    report = ev.evaluate_gallery(lfw_indexed[0], threshold, 1e-3)
    for mode in ("nearest", "mean"):
        unknown = 0
        for person in sorted(set(persons)):
            kept = [j for j, p in enumerate(persons) if p != person]
            gallery = GalleryMatrix.from_pairs([persons[j] for j in kept], embeddings[kept])
            queries = embeddings[[j for j, p in enumerate(persons) if p == person]]
            unknown += sum(m.name is None for m in match_embeddings(queries, gallery, threshold, mode))
        assert report.identification[mode].stranger_unknown == unknown / len(persons)


def test_to_json_has_the_issue_keys(lfw_report):
    data = json.loads(json.dumps(lfw_report.to_json()))
    for key in ("model", "images", "faces_found", "pairs", "auc", "eer", "best_threshold", "best_accuracy",
                "tar_at_far", "rank1", "threshold_in_use", "recommended_threshold", "rank1_by_mode",
                "open_set_unknown_rate", "match_mode_recommended", "confusion"):
        assert key in data, key
    assert data["pairs"] == {"positive": 450, "negative": 4500, "source": "all pairs", "left_out": 0}
    assert set(data["tar_at_far"]) == {"0.01", "0.001"}
    assert data["auc"] == lfw_report.auc and data["threshold_in_use"] == SFACE_DEFAULT
    assert len(data["confusion"]["names"]) == 10 and np.array(data["confusion"]["matrix"]).shape == (10, 10)


# ---------------------------------------------------------------- the command on LFW

def test_cli_json_reuses_the_cache_and_writes_the_plot(cli, lfw_dir, lfw_report, model_dir, tmp_path):
    plot = tmp_path / "report.png"
    code, out, err = cli("evaluate", lfw_dir, "--json", *sface_args(model_dir), "--plot", plot)
    assert code == 0, err
    data = json.loads(out)
    assert data["indexing"] == {"embedded": 0, "reused": 100}  # nothing embedded twice
    assert data["auc"] == pytest.approx(lfw_report.auc, abs=1e-12)
    assert data["recommended_threshold"] == lfw_report.recommended_threshold
    assert data["rank1_by_mode"] == {m: lfw_report.identification[m].rank1 for m in ("nearest", "mean")}
    assert data["threshold_source"] == "facecam default" and data["plot"] == str(plot)
    image = cv2.imread(str(plot))
    assert image is not None and image.shape[0] >= 300 and image.shape[1] >= 900
    assert 20_000 < plot.stat().st_size < 300_000


def test_cli_apply_saves_the_recommendation_and_verify_uses_it(cli, lfw_dir, lfw_report, model_dir, tmp_path,
                                                               monkeypatch):
    config_dir = tmp_path / "config"
    monkeypatch.setenv("FACECAM_CONFIG_DIR", str(config_dir))
    config_dir.mkdir()
    (config_dir / "settings.json").write_text(json.dumps(
        {"thresholds": {"vgg-face": 0.5}, "match_mode": {"vgg-face": "nearest"}, "window": {"width": 800}}))
    code, out, err = cli("evaluate", lfw_dir, *sface_args(model_dir), "--apply")
    assert code == 0, err
    rec = lfw_report.recommended_threshold
    assert "AUC " in out and f"recommended: threshold {rec:.3f}" in out and "how to choose" in out
    assert f"applied for sface: threshold {SFACE_DEFAULT:g} -> {rec}" in out
    settings = json.loads((config_dir / "settings.json").read_text())
    assert settings["thresholds"] == {"vgg-face": 0.5, "sface": rec}
    assert settings["match_mode"] == {"vgg-face": "nearest", "sface": lfw_report.match_mode_recommended}
    assert settings["window"] == {"width": 800}
    assert stat.S_IMODE((config_dir / "settings.json").stat().st_mode) == 0o600

    code, out, err = cli("verify", "--json", *sface_args(model_dir), BLAIR[0], BLAIR[4])
    assert code == 0, err
    assert json.loads(out)["threshold"] == rec
    # and the next evaluate reports it as the threshold in use
    code, out, err = cli("evaluate", lfw_dir, "--json", *sface_args(model_dir))
    data = json.loads(out)
    assert data["threshold_in_use"] == rec and data["threshold_source"] == "saved setting"


def _write_pairs(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_pairs_csv(cli, lfw_dir, lfw_rows, model_dir, tmp_path):
    embeddings, persons, paths = lfw_rows
    people = sorted(set(persons))
    rows, expected = ["file_x,file_y,same", ""], []
    for person in people:  # two same-person pairs each
        photos = sorted((lfw_dir / person).glob("*.jpg"))
        for a, b in ((0, 1), (2, 7)):
            rows.append(f"{person}/{photos[a].name},{person}/{photos[b].name},1")
            expected.append((photos[a], photos[b], True))
    for p, q in zip(people, people[1:] + people[:1]):  # different-person pairs
        a, b = sorted((lfw_dir / p).glob("*.jpg"))[3], sorted((lfw_dir / q).glob("*.jpg"))[5]
        rows.append(f"{p}/{a.name},{q}/{b.name},0")
        expected.append((a, b, False))
    a, b = sorted((lfw_dir / people[0]).glob("*.jpg"))[9], sorted((lfw_dir / people[1]).glob("*.jpg"))[9]
    rows.append(f'"{people[0]}/{a.name}", {people[1]}/{b.name} ,yes')  # quoted, spaced; disagrees with the folders
    expected.append((a, b, True))
    pairs = _write_pairs(tmp_path / "pairs.csv", rows)
    code, out, err = cli("evaluate", lfw_dir, "--json", *sface_args(model_dir), "--pairs", pairs)
    assert code == 0, err
    data = json.loads(out)
    assert data["pairs"] == {"positive": 21, "negative": 10, "source": str(pairs), "left_out": 0}
    assert any("1 pair(s) of the pairs file disagree with the folders" in w for w in data["warnings"])
    row = {Path(p).resolve(): i for i, p in enumerate(paths)}
    d = [1.0 - float(np.dot(embeddings[row[a.resolve()]], embeddings[row[b.resolve()]])) for a, b, _ in expected]
    assert abs(data["auc"] - roc_auc_score([s for _, _, s in expected], -np.array(d))) <= 1e-9
    assert data["rank1"] >= 0.97  # identification still uses every photo


@pytest.mark.parametrize("bad_row, problem", [
    ("Tony_Blair/Tony_Blair_0001.jpg,Tony_Blair/Tony_Blair_0002.jpg", "2 field(s)"),
    ("Tony_Blair/Tony_Blair_0001.jpg,Tony_Blair/Tony_Blair_0002.jpg,maybe", "same is 'maybe'"),
    ("Tony_Blair/Tony_Blair_0001.jpg,Tony_Blair/nope.jpg,1", "Tony_Blair/nope.jpg not found"),
    ("Tony_Blair/Tony_Blair_0001.jpg,../outside.jpg,0", "outside"),
    ("Tony_Blair/Tony_Blair_0001.jpg,Tony_Blair/Tony_Blair_0001.jpg,1", "paired with itself"),
    ("Tony_Blair/Tony_Blair_0001.jpg,labels.csv,0", "not a photo"),
])
def test_cli_bad_pairs_row_is_one_line_naming_the_row(cli, lfw_dir, model_dir, tmp_path, bad_row, problem):
    (tmp_path / "outside.jpg").write_bytes(BLAIR[0].read_bytes())
    pairs = _write_pairs(tmp_path / "pairs.csv", [
        "file_x,file_y,same", "Tony_Blair/Tony_Blair_0001.jpg,Colin_Powell/Colin_Powell_0001.jpg,0", bad_row])
    code, out, err = cli("evaluate", lfw_dir, *sface_args(model_dir), "--pairs", pairs)
    assert code == 1 and out == ""
    assert err.startswith(f"facecam: error: {pairs} line 3: ") and problem in err and err.count("\n") == 1


def test_cli_usage_errors(cli, lfw_dir, tmp_path):
    assert cli("evaluate", lfw_dir, "--target-far", "2")[0] == 2
    assert cli("evaluate", lfw_dir, "--target-far", "x")[0] == 2
    code, _, err = cli("evaluate", tmp_path / "missing")
    assert code == 1 and "does not exist" in err and err.count("\n") == 1
    code, _, err = cli("evaluate", lfw_dir, "--plot", tmp_path / "report.jpg")
    assert code == 1 and ".png" in err


# ---------------------------------------------------------------- no face, one photo, a read-only folder

def test_no_face_and_single_photos_in_a_read_only_folder(cli, model_dir, tmp_path, monkeypatch):
    root = tmp_path / "people"
    for person in ("Tony_Blair", "George_W_Bush", "Colin_Powell"):
        (root / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:2]:
            shutil.copy(photo, root / person)
    shutil.copy(LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0001.jpg", root / "Hugo Chavez.jpg")  # one photo
    cv2.imwrite(str(root / "Tony_Blair" / "wall.jpg"), np.full((200, 200, 3), 180, np.uint8))
    elsewhere = tmp_path / "user-cache"
    monkeypatch.setattr(facecam.gallery, "fallback_cache_root", lambda: elsewhere)
    folders = [root, *[p for p in root.iterdir() if p.is_dir()]]
    for folder in folders:
        folder.chmod(0o555)
    try:
        code, out, err = cli("evaluate", root, "--json", *sface_args(model_dir))
        assert code == 0, err
        data = json.loads(out)
        assert "read-only" in err and not (root / CACHE_DIR).exists()
        assert len(list(elsewhere.rglob("sface.npz"))) == 1
        assert (data["images"], data["faces_found"]) == (8, 7)
        assert [Path(f).name for f in data["no_face"]] == ["wall.jpg"]
        assert (data["people"], data["people_with_2_photos"]) == (4, 3)
        assert data["pairs"]["positive"] == 3 and data["pairs"]["negative"] == 7 * 6 // 2 - 3
        assert data["tar_at_far_detail"]["0.001"]["note"].startswith("not measurable")
        assert data["recommendation_note"].startswith("not measurable")
        assert data["confusion"]["matrix"][data["confusion"]["names"].index("Hugo Chavez")] == [0, 0, 0, 0]
        code, out, err = cli("evaluate", root, *sface_args(model_dir))
        assert code == 0 and "no face: " in out and "wall.jpg" in out and "used as strangers only" in out
        code, out, _ = cli("evaluate", root, "--json", *sface_args(model_dir))
        assert json.loads(out)["indexing"] == {"embedded": 0, "reused": 8}

        # 18 different-person pairs cannot measure a FAR of 0.001: --apply refuses, --force applies
        from facecam.config import settings_path

        code, out, err = cli("evaluate", root, "--json", *sface_args(model_dir), "--apply")
        assert code == 1 and json.loads(out)["recommendation_measurable"] is False
        errors = [line for line in err.splitlines() if line.startswith("facecam: error:")]
        assert errors == [line for line in err.splitlines() if "not applied" in line] and len(errors) == 1
        assert "18 different-person pairs" in errors[0] and "1000+" in errors[0] and "--force" in errors[0]
        assert not settings_path().exists()
        code, out, err = cli("evaluate", root, "--json", *sface_args(model_dir), "--apply", "--force")
        assert code == 0, err
        applied = json.loads(out)["applied"]["threshold"]["new"]
        saved = json.loads(settings_path().read_text())
        assert saved["thresholds"] == {"sface": applied}
        assert saved["threshold_applied"]["sface"]["by"] == "evaluate --apply"
        code, out, err = cli("verify", *sface_args(model_dir), BLAIR[0], BLAIR[4])
        assert code == 0 and err.startswith(f"facecam: threshold {applied:g} from settings (evaluate --apply on 20")
        settings_path().unlink()
    finally:
        for folder in folders:
            folder.chmod(0o755)


# ---------------------------------------------------------------- the metric functions on small known cases

def test_small_hand_computed_case():
    roc = metrics.roc_curve([0.1, 0.2, 0.3, 0.4], [True, False, True, False])
    assert roc.fpr.tolist() == [0, 0, 0.5, 0.5, 1] and roc.tpr.tolist() == [0, 0.5, 0.5, 1, 1]
    assert metrics.roc_auc(roc) == 0.75
    assert metrics.equal_error_rate(roc) == (0.5, 0.2)
    assert metrics.best_accuracy(roc) == (0.75, pytest.approx(0.15))
    assert metrics.rates_at([0.1, 0.2, 0.3, 0.4], [True, False, True, False], 0.25) == (0.5, 0.5)


def test_ties_count_one_half_and_match_sklearn_on_random_data():
    assert metrics.roc_auc(metrics.roc_curve([0.5, 0.5], [True, False])) == 0.5
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(5, 400))
        same = rng.random(n) < rng.uniform(0.1, 0.9)
        same[:2] = [True, False]
        d = np.round(np.where(same, rng.normal(0.3, 0.15, n), rng.normal(0.7, 0.15, n)), 2)  # many ties
        roc = metrics.roc_curve(d, same)
        assert abs(metrics.roc_auc(roc) - roc_auc_score(same, -d)) <= 1e-12
        fpr, tpr, _ = sk_roc_curve(same, -d, drop_intermediate=False)
        np.testing.assert_array_equal(roc.fpr, fpr)
        np.testing.assert_array_equal(roc.tpr, tpr)
        eer, _ = metrics.equal_error_rate(roc)
        i = int(np.nanargmin(np.abs(1 - tpr - fpr)))
        assert min(fpr[i], 1 - tpr[i]) - 1e-12 <= eer <= max(fpr[i], 1 - tpr[i]) + 1e-12


def test_recommended_threshold_is_below_the_first_false_accept_too_many():
    negatives = np.r_[np.linspace(0.45, 1.0, 999), 0.4]  # 1000 different-person distances
    d = np.r_[negatives, 0.2, 0.3]
    same = np.r_[np.zeros(1000, bool), True, True]
    rec = metrics.threshold_for_far(d, same, 0.01)  # 10 false accepts allowed
    assert np.sum(negatives <= rec) <= 10 < np.sum(negatives <= rec + 0.001)
    # a different-person distance exactly on a 3-decimal value: the threshold stays strictly below it
    exact = np.r_[np.full(5, 0.3), 0.4, np.full(994, 0.9)]
    rec = metrics.threshold_for_far(np.r_[exact, 0.1], np.r_[np.zeros(1000, bool), True], 0.005)
    assert rec == 0.399
    assert metrics.threshold_for_far([0.1, 0.2], [True, True], 1e-3) is None  # no different-person pair
    assert metrics.threshold_for_far([0.0005, 0.2], [False, True], 0.1) is None  # nothing positive works


def test_far_notes():
    assert metrics.far_note(1e-3, 500).startswith("not measurable")
    assert metrics.far_note(1e-3, 4500).startswith("rough: FAR 0.001 allows only 4 false accept(s)")
    assert metrics.far_note(1e-3, 10000) is None


def _synthetic(people=4, per_person=3, dim=16, seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    rows = np.repeat(centres, per_person, axis=0) + 0.35 * rng.normal(size=(people * per_person, dim))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32), np.repeat(np.arange(people), per_person), [f"p{i}" for i in range(people)]


def test_leave_one_out_mean_excludes_the_photo_and_singletons_are_distractors():
    embeddings, labels, names = _synthetic()
    labels = labels.copy()
    labels[-1] = 4  # a fifth person with one photo
    names = names + ["single"]
    d = metrics.person_distances_loo(embeddings, labels, 5, "mean")
    for i in range(len(labels)):
        own = [j for j in range(len(labels)) if labels[j] == labels[i] and j != i]
        if own:
            mean = embeddings[own].astype(np.float64).sum(axis=0)
            assert d[i, labels[i]] == pytest.approx(1 - embeddings[i] @ (mean / np.linalg.norm(mean)), abs=1e-6)
        else:
            assert d[i, labels[i]] == np.inf
    ident = metrics.identify_leave_one_out(embeddings, labels, 5, "nearest", 0.5)
    assert 4 * 3 - 1 not in ident.probes and ident.probes.size == 11  # the single photo is never a probe
    assert ident.confusion[4].sum() == 0


def test_one_person_has_no_recommendation_and_apply_refuses(tmp_path):
    embeddings, labels, names = _synthetic(people=1, per_person=4)
    report = ev.evaluate_embeddings(embeddings, labels, names, 0.5, model="sface")
    assert report.negatives == 0 and report.auc is None and report.recommended_threshold is None
    assert report.identification["mean"].stranger_unknown is None and report.warnings
    with pytest.raises(FacecamError, match="no recommended threshold"):
        ev.apply_recommendation(report, tmp_path / "settings.json")
    assert "recommended threshold: none" in report_text.format_report(report)


def test_apply_refuses_a_threshold_the_pairs_cannot_measure(tmp_path):
    embeddings, labels, names = _synthetic(people=2, per_person=2)  # 2 same-person pairs, 4 different-person
    report = ev.evaluate_embeddings(embeddings, labels, names, 0.5, model="sface")
    assert report.recommended_threshold is not None and not report.recommendation_measurable
    settings = tmp_path / "settings.json"
    with pytest.raises(ev.NotMeasurableError, match="not applied: .* rests on 4 different-person pairs"):
        ev.apply_recommendation(report, settings)
    assert not settings.exists()
    assert ev.apply_recommendation(report, settings, force=True)["threshold"]["new"] == report.recommended_threshold
    assert ev.evaluate_embeddings(embeddings, labels, names, 0.5, target_far=0.25).recommendation_measurable


def test_apply_keeps_other_settings_and_refuses_a_damaged_file(tmp_path):
    embeddings, labels, names = _synthetic()
    report = ev.evaluate_embeddings(embeddings, labels, names, 0.5, target_far=0.1, model="sface")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"thresholds": {"vgg-face": 0.6}, "other": [1, 2]}))
    changes = ev.apply_recommendation(report, settings)
    saved = json.loads(settings.read_text())
    assert saved["thresholds"] == {"vgg-face": 0.6, "sface": report.recommended_threshold}
    assert saved["match_mode"] == {"sface": report.match_mode_recommended} and saved["other"] == [1, 2]
    assert changes["threshold"] == {"old": SFACE_DEFAULT, "new": report.recommended_threshold}
    settings.write_text("{not json")
    with pytest.raises(FacecamError, match="cannot be read"):
        ev.apply_recommendation(report, settings)
    assert settings.read_text() == "{not json"


def test_better_mode_rank1_then_open_set():
    embeddings, labels, names = _synthetic()
    a = metrics.identify_leave_one_out(embeddings, labels, 4, "nearest", 0.5)
    b = metrics.identify_leave_one_out(embeddings, labels, 4, "mean", 0.5)
    worse = replace(b, correct=a.correct - 1, rank1=(a.correct - 1) / 12)
    assert ev.better_mode({"nearest": a, "mean": worse}, {"nearest": 0.1, "mean": 0.9}, "mean")[0] == "nearest"
    tied = replace(b, correct=a.correct, rank1=a.rank1)
    assert ev.better_mode({"nearest": a, "mean": tied}, {"nearest": 0.5, "mean": 0.9}, "nearest")[0] == "mean"
    assert ev.better_mode({"nearest": a, "mean": tied}, {"nearest": 0.9, "mean": 0.9}, "nearest")[0] == "nearest"


def test_plot_report_on_synthetic_data(tmp_path):
    embeddings, labels, names = _synthetic(people=6, per_person=5)
    report = ev.evaluate_embeddings(embeddings, labels, names, 0.5, target_far=0.05, model="sface", root="demo")
    path = report_text.plot_report(report, tmp_path / "r.png")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[1] > image.shape[0] > 300
    with pytest.raises(FacecamError, match="cannot write the figure"):
        report_text.plot_report(report, tmp_path / "missing" / "r.png")


def test_importing_evaluate_loads_no_plotting_or_model_library():
    code = ("import sys, facecam.evaluate, facecam.cli; facecam.cli.build_parser(); "
            "print(sorted(m for m in ('matplotlib', 'tensorflow', 'keras', 'mtcnn', 'PyQt5', 'sklearn') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def small_data_set(root: Path) -> Path:
    """Three LFW people, two photos each: a data set's folder (no .facecam), too few pairs to apply a threshold."""
    for person in ("Tony_Blair", "George_W_Bush", "Colin_Powell"):
        (root / person).mkdir(parents=True)
        for photo in sorted((LFW10 / person).glob("*.jpg"))[:2]:
            shutil.copy(photo, root / person)
    return root


def test_evaluate_writes_nothing_into_a_data_set_folder(cli, model_dir, tmp_path):
    root = small_data_set(tmp_path / "dataset")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    code, out, err = cli("evaluate", root, "--json", *sface_args(model_dir))
    assert code == 0, err
    assert json.loads(out)["indexing"] == {"embedded": 6, "reused": 0}
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before       # no .facecam in the data set
    code, out, err = cli("evaluate", root, "--json", *sface_args(model_dir))
    assert code == 0 and json.loads(out)["indexing"] == {"embedded": 0, "reused": 6}, err   # cached elsewhere


def test_a_refused_apply_does_not_end_by_telling_to_use_apply(cli, model_dir, tmp_path):
    root = small_data_set(tmp_path / "few")
    code, out, err = cli("evaluate", root, *sface_args(model_dir), "--apply")   # too few pairs: refused
    assert code == 1 and err.splitlines()[-1].startswith("facecam: error: ") and "--force" in err
    assert "--apply" not in out and out.rstrip().endswith("add 3-5 varied photos of them before raising it.")
    code, out, err = cli("evaluate", root, *sface_args(model_dir))                # not asked: how to save it
    assert code == 0 and out.rstrip().endswith("before raising it. Use --apply to save it."), err
