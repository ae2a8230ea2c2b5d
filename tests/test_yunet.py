"""YuNet, the light detector: the faces and landmarks MTCNN finds, on real photos; SFace + YuNet through the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import LFW10, PEOPLE, lfw_people, lfw_photos
from test_recognition import ENROLLED_PER_PERSON, make_gallery


@pytest.fixture(scope="module")
def yunet():
    from facecam.detector import build_detector

    return build_detector("yunet")


def rgb(path):
    from facecam.images import read_image
    from facecam.types import bgr_to_rgb

    return bgr_to_rgb(read_image(path))


PHOTOS = sorted(LFW10.glob("*/*_000[1-3].jpg")) + sorted(PEOPLE.glob("*.jpg"))


def test_yunet_is_built_from_the_built_in_file_and_needs_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from facecam.detector import build_detector; d = build_detector('yunet'); "
            "print(d.name, d.model_path.name, 'tensorflow' in sys.modules, 'mtcnn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=LFW10.parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["yunet", "face_detection_yunet_2023mar.onnx", "False", "False"]
    assert result.stderr == ""  # not even OpenCV's graph-engine warning


def test_yunet_finds_the_faces_mtcnn_finds_with_landmarks_a_few_pixels_apart(yunet, detector):
    """Every face MTCNN finds whole (not cut by the photo's edge) is found, the largest first in both,
    boxes clipped, and the five landmarks (in facecam's order: the person's right eye first, on the
    viewer's left) a few pixels from MTCNN's."""
    from facecam.tracker import iou_matrix

    errors = []  # per face: mean landmark distance / MTCNN's box width
    for path in PHOTOS:
        image = rgb(path)
        height, width = image.shape[:2]
        ours, reference = yunet.detect(image).largest_first(), detector.detect(image).largest_first()
        boxes = reference.boxes
        whole = (boxes[:, 0] > 1) & (boxes[:, 1] > 1) & (boxes[:, 0] + boxes[:, 2] < width - 1) \
            & (boxes[:, 1] + boxes[:, 3] < height - 1)
        overlap = iou_matrix(reference.boxes, ours.boxes) if len(ours) else np.zeros((len(reference), 1))
        assert (overlap[whole].max(axis=1) > 0.5).all(), (path.name, reference.boxes, ours.boxes)
        assert overlap[0, 0] > 0.5, path.name  # the same face is the largest
        x, y, w, h = ours.boxes.T
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= width + 1e-3).all() and (y + h <= height + 1e-3).all()
        assert (ours.scores >= yunet.DEFAULT_CONFIDENCE).all() and (ours.scores <= 1).all()
        for i in np.flatnonzero(whole):
            j = int(overlap[i].argmax())
            distance = np.linalg.norm(ours.landmarks[j] - reference.landmarks[i], axis=1)
            errors.append(distance.mean() / reference.boxes[i, 2])
            assert ours.landmarks[j, 0, 0] < ours.landmarks[j, 1, 0], path.name  # right eye on the viewer's left
            assert ours.landmarks[j, 3, 0] < ours.landmarks[j, 4, 0], path.name  # and so is the right mouth corner
    assert len(errors) >= 35
    assert np.median(errors) < 0.06 and max(errors) < 0.15, sorted(errors)[-5:]


def test_yunet_finds_a_face_larger_than_its_network_sees_and_respects_min_face_size(yunet):
    portrait = rgb(PEOPLE / "biden2.jpg")  # 1200x1200, the face about 450x620 pixels
    faces = yunet.detect(portrait)
    assert len(faces) == 1 and faces.boxes[0, 2] > 400
    assert len(yunet.detect(rgb(LFW10 / "Tony_Blair" / "Tony_Blair_0001.jpg"), min_face_size=200)) == 0
    blank = np.full((240, 320, 3), 128, np.uint8)
    assert len(yunet.detect(blank)) == 0


def test_gallery_cache_is_keyed_by_detector(sface, yunet, detector):
    from facecam.recognizer import Recognizer

    with_mtcnn, with_yunet = Recognizer(detector, sface, 0.6), Recognizer(yunet, sface, 0.6)
    assert with_mtcnn.photo_version != with_yunet.photo_version
    assert "yunet" in with_yunet.photo_version and "mtcnn" in with_mtcnn.photo_version


def test_sface_and_yunet_name_lfw_probes_through_the_cli(cli, tmp_path):
    root = tmp_path / "known_faces"
    probes = make_gallery(root, lfw_people())
    code, stdout, stderr = cli("identify", "--json", "--model", "sface", "--detector", "yunet",
                               "--model-dir", tmp_path / "no-models", "--known-faces", root, *probes)
    assert code == 0, stderr
    rows = [json.loads(line) for line in stdout.splitlines()]
    correct = [row for row in rows if row["faces"] and
               row["faces"][0]["name"] == row["image"].rsplit("/", 1)[1].rsplit("_", 1)[0]]
    assert len(rows) == 70 and len(correct) >= 67, [(r["image"], r["faces"][:1]) for r in rows if r not in correct]
    assert not (tmp_path / "no-models").exists()  # everything came from the built-in files
    # the same known_faces indexed with MTCNN afterwards is embedded afresh, not read from YuNet's cache,
    # and each detector keeps its own cache: back to YuNet, nothing is embedded again
    for detector, embedded in (("mtcnn", len(lfw_people()) * ENROLLED_PER_PERSON), ("yunet", 0)):
        code, stdout, stderr = cli("index", "--json", "--model", "sface", "--detector", detector, "--known-faces", root)
        assert code == 0, stderr
        assert json.loads(stdout)["embedded"] == embedded, detector
    assert sorted(p.name for p in (root / ".facecam").glob("*.npz")) == ["sface-yunet.npz", "sface.npz"]


def test_strangers_stay_unknown_with_yunet(cli, tmp_path):
    people = lfw_people()
    root = tmp_path / "known_faces"
    make_gallery(root, people[:5])
    probes = [p for person in people[5:] for p in lfw_photos(person)[ENROLLED_PER_PERSON:]]
    code, stdout, stderr = cli("identify", "--json", "--model", "sface", "--detector", "yunet",
                               "--known-faces", root, *probes)
    assert code == 0, stderr
    names = [json.loads(line)["faces"][0]["name"] for line in stdout.splitlines()]
    assert names.count(None) >= 0.95 * len(probes), names


def test_two_people_in_one_photo_with_yunet(cli, tmp_path):
    root = tmp_path / "known_faces"
    (root / "Barack Obama").mkdir(parents=True)
    (root / "Joe Biden").mkdir(parents=True)
    shutil.copy(PEOPLE / "obama_small.jpg", root / "Barack Obama")
    shutil.copy(PEOPLE / "biden2.jpg", root / "Joe Biden")
    code, stdout, stderr = cli("identify", "--json", "--model", "sface", "--detector", "yunet",
                               "--known-faces", root, PEOPLE / "two_people.jpg")
    assert code == 0, stderr
    faces = sorted(json.loads(stdout)["faces"], key=lambda f: f["box"][0])
    assert [f["name"] for f in faces] == ["Barack Obama", "Joe Biden"]
