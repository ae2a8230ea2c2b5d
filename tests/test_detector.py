"""MTCNN on real photos, and its weights never read from the working directory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import LFW10, PEOPLE


def rgb(path):
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_two_faces_with_eyes_named_from_the_persons_view(detector):
    faces = detector.detect(rgb(PEOPLE / "two_people.jpg")).largest_first()
    assert len(faces) == 2
    for box, landmarks in zip(faces.boxes, faces.landmarks):
        x, y, w, h = box
        assert w > 100 and h > 100
        # the person's right eye is on the viewer's left, above the nose, inside the box
        assert landmarks[0, 0] < landmarks[2, 0] < landmarks[1, 0]
        assert landmarks[0, 1] < landmarks[2, 1] < landmarks[3, 1]
        assert np.all(landmarks[:, 0] > x) and np.all(landmarks[:, 0] < x + w)


def test_boxes_are_clipped_to_the_image(detector):
    image = rgb(PEOPLE / "obama_small.jpg")
    shifted = image[:, image.shape[1] // 3:]  # cut the face at the left edge
    faces = detector.detect(np.ascontiguousarray(shifted))
    h, w = shifted.shape[:2]
    for x, y, bw, bh in faces.boxes:
        assert x >= 0 and y >= 0 and x + bw <= w + 1e-3 and y + bh <= h + 1e-3


def test_min_face_size_and_confidence_are_applied():
    from facecam.detector import DetectorOptions, MtcnnDetector

    image = rgb(LFW10 / "Vladimir_Putin" / "Vladimir_Putin_0007.jpg")
    loose = MtcnnDetector(DetectorOptions(min_face_size=20, min_confidence=0.9)).detect(image)
    strict = MtcnnDetector(DetectorOptions(min_face_size=90, min_confidence=0.99)).detect(image)
    assert len(loose) > len(strict) >= 1
    assert np.all(strict.boxes[:, 2] >= 60) and np.all(strict.scores >= 0.99)


def test_blank_and_tiny_images_have_no_faces(detector):
    assert len(detector.detect(np.zeros((480, 640, 3), np.uint8))) == 0
    assert len(detector.detect(np.zeros((5, 5, 3), np.uint8))) == 0


def test_options_are_validated():
    from facecam.detector import DetectorOptions

    with pytest.raises(ValueError, match="min_confidence: expected a value in \\[0, 1\\], got 1.5"):
        DetectorOptions(min_confidence=1.5)


def test_planted_mtcnn_weights_in_the_working_directory_are_never_unpickled(tmp_path):
    """mtcnn 1.0 would joblib.load ./pnet.lz4 before its own file: code execution from a planted file."""
    marker = tmp_path / "PWNED"
    script = textwrap.dedent(f"""
        import joblib, os
        class Exploit:
            def __reduce__(self):
                return (open, ({str(marker)!r}, "w"))
        for name in ("pnet.lz4", "rnet.lz4", "onet.lz4"):
            joblib.dump(Exploit(), name, compress="lz4")
    """)
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    assert (tmp_path / "pnet.lz4").exists()
    # Sanity: the planted file does run code when loaded the way mtcnn would on its own.
    probe = subprocess.run([sys.executable, "-c", "import joblib; joblib.load('pnet.lz4')"], cwd=tmp_path)
    assert marker.exists(), "the planted file should be a working exploit, else this test proves nothing"
    marker.unlink()
    run = textwrap.dedent("""
        import numpy as np, cv2
        from facecam.detector import MtcnnDetector
        image = cv2.cvtColor(cv2.imread(%r), cv2.COLOR_BGR2RGB)
        print(len(MtcnnDetector().detect(image)))
    """ % str(PEOPLE / "two_people.jpg"))
    result = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True,
                            env={**__import__("os").environ, "PYTHONPATH": str(LFW10.parents[2])})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "2"
    assert not marker.exists(), "facecam unpickled a weights file from the working directory"
    del probe


def test_compiled_networks_match_mtcnn_and_never_retrace():
    """facecam's TensorFlow runtime runs mtcnn's networks as traced graphs: same faces as the package's own
    eager calls."""
    from mtcnn import MTCNN
    from mtcnn.stages import StageONet, StagePNet, StageRNet

    from facecam.detector import MtcnnDetector, faces_from_mtcnn, mtcnn_weight_paths

    detector = MtcnnDetector(runtime="tensorflow")

    paths = mtcnn_weight_paths()
    plain = MTCNN(stages=[StagePNet(weights=str(paths["pnet"])), StageRNet(weights=str(paths["rnet"])),
                          StageONet(weights=str(paths["onet"]))])
    for photo in (PEOPLE / "two_people.jpg", LFW10 / "Vladimir_Putin" / "Vladimir_Putin_0007.jpg",
                  PEOPLE / "obama-480p.jpg"):
        image = rgb(photo)
        ours = detector.detect(image)
        rows = plain.detect_faces(image, output_type="numpy", box_format="xyxy", min_face_size=20,
                                  threshold_onet=0.8)
        theirs = faces_from_mtcnn(np.asarray(rows, np.float64), 1.0, image.shape[1::-1], 0.9)
        assert len(ours) == len(theirs) >= 1
        order = lambda f: np.lexsort((f.boxes[:, 1], f.boxes[:, 0]))  # noqa: E731
        assert np.allclose(ours.boxes[order(ours)], theirs.boxes[order(theirs)], atol=0.05)
        assert np.allclose(ours.landmarks[order(ours)], theirs.landmarks[order(theirs)], atol=0.05)
    for stage in detector._mtcnn.stages:
        assert stage._model.experimental_get_tracing_count() == 1, stage.name
