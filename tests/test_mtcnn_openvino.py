"""MTCNN on OpenVINO (facecam.mtcnn_openvino): the same faces as mtcnn on TensorFlow, on real photos; converted
once, then built from the cache without importing TensorFlow or mtcnn."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from conftest import LFW10, PEOPLE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rgb(path):
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("openvino")


@pytest.fixture(scope="module")
def converted(cache):
    """Built into an empty cache: converts the three networks and saves them."""
    from facecam.detector import MtcnnDetector

    found = MtcnnDetector(cache_dir=cache, runtime="openvino")
    assert found.converted and found.runtime == "openvino"
    return found


@pytest.fixture(scope="module")
def reference():
    from facecam.detector import MtcnnDetector

    return MtcnnDetector(runtime="tensorflow")


def sorted_faces(faces):
    order = np.lexsort((faces.boxes[:, 1], faces.boxes[:, 0]))
    return faces.boxes[order], faces.landmarks[order], faces.scores[order]


PHOTOS = [*sorted(PEOPLE.glob("*.jpg")), *sorted(LFW10.glob("*/*.jpg"))[::9]]


def test_same_faces_as_tensorflow_on_real_photos(converted, cache, reference):
    from facecam.detector import MtcnnDetector

    cached = MtcnnDetector(cache_dir=cache, runtime="openvino")
    assert not cached.converted
    total, worst = 0, 0.0
    for photo in PHOTOS:
        image = rgb(photo)
        for min_face in (20, 40):
            theirs = reference.detect(image, min_face)
            for ours in (converted.detect(image, min_face), cached.detect(image, min_face)):
                assert len(ours) == len(theirs), (photo, min_face)
                for a, b in zip(sorted_faces(ours), sorted_faces(theirs)):
                    worst = max(worst, float(np.abs(a - b).max(initial=0.0)))
            total += len(theirs)
    assert total >= 30
    assert worst < 0.01, worst      # measured 0.0011 px (boxes, landmarks) and scores within 1e-4


def test_image_operations_match_tensorflows():
    from facecam.mtcnn_openvino import crop_and_resize, resize_area
    from facecam.tensorflow_setup import quiet_tensorflow

    tf = quiet_tensorflow()
    image = (rgb(PEOPLE / "two_people.jpg")[:301, :257] - 127.5) / 128
    for scale in (0.6, 0.4254, 0.1234):
        size = (np.asarray(image.shape[:2]) * scale).astype(np.int32)
        theirs = tf.image.resize(image[None], size, method="area").numpy()[0]
        assert np.abs(resize_area(image, *size) - theirs).max() < 1e-4    # float32 sums in another order
    boxes = np.asarray([[0.1, 0.2, 0.5, 0.6], [-0.1, 0.7, 0.3, 1.2], [0.25, 0.25, 0.26, 0.3]])
    for size in (24, 48):
        theirs = tf.image.crop_and_resize(image[None], boxes, np.zeros(3, np.int32), (size, size)).numpy()
        assert np.abs(crop_and_resize(image, boxes, size) - theirs).max() < 1e-5
        assert (theirs[1, :, -1] == 0).all()    # outside the image: 0, as TensorFlow fills it


def test_the_cached_networks_are_owner_only_and_load_without_tensorflow(converted, cache):
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 6 and all(name.startswith("mtcnn-") for name in files)
    assert all(stat.S_IMODE((cache / name).stat().st_mode) == 0o600 for name in files)
    code = ("import sys; from facecam.detector import MtcnnDetector; from facecam.images import read_image; "
            "from facecam.types import bgr_to_rgb; "
            f"d = MtcnnDetector(cache_dir={str(cache)!r}); faces = d.detect(bgr_to_rgb(read_image({str(PEOPLE / 'two_people.jpg')!r}))); "
            "print(d.runtime, d.converted, len(faces), 'tensorflow' in sys.modules, 'mtcnn' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.stdout.split() == ["openvino", "False", "2", "False", "False", "False"], result.stderr


def test_a_damaged_cache_is_converted_again(converted, reference, tmp_path):
    from facecam.detector import MtcnnDetector, mtcnn_weight_paths
    from facecam.mtcnn_openvino import ir_paths, weights_fingerprint

    fingerprint = weights_fingerprint(mtcnn_weight_paths())
    for path in ir_paths(tmp_path, fingerprint).values():
        path.write_text("<net>damaged")
        path.with_suffix(".bin").write_bytes(b"\0" * 10)
    rebuilt = MtcnnDetector(cache_dir=tmp_path, runtime="openvino")
    assert rebuilt.converted
    image = rgb(PEOPLE / "two_people.jpg")
    assert len(rebuilt.detect(image)) == len(reference.detect(image)) == 2
    assert MtcnnDetector(cache_dir=tmp_path, runtime="openvino").converted is False
