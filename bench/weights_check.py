"""The numbers behind facecam.gallery.INDISTINCT_MEDIAN_DISTANCE: how far apart photos of different people are
for a working model, an untrained but alive one, and a weights file that cannot tell faces apart.

    .venv/bin/python bench/weights_check.py

* SFace (the real OpenCV Zoo model, built into facecam) on tests/data/lfw10;
* VGG-Face, the published layout filled with He-scaled random values (tests/vgg_fixtures.py, values="random");
* VGG-Face, the same layout with kernels 1e-4 times smaller (values="tiny"): every face embeds alike.

Each line: the median cosine distance between photos of different people, as the gallery's check computes it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import packaged_model_file  # noqa: E402
from vgg_fixtures import write_vggface_weights  # noqa: E402

from facecam.detector import MtcnnDetector  # noqa: E402
from facecam.gallery import Gallery, median_distinct_distance  # noqa: E402
from facecam.registry import MODELS  # noqa: E402
from facecam.recognizer import Recognizer  # noqa: E402

LFW10 = ROOT / "tests" / "data" / "lfw10"


def median_for(recognizer, root: Path) -> float:
    gallery = Gallery.for_recognizer(root, recognizer, cache_dir=root / ".bench-cache")
    try:
        gallery.refresh(recognizer.embed_photo)
    except Exception as error:  # noqa: BLE001 - the tiny file is refused: report the median all the same
        print(f"  (refused: {type(error).__name__})")
    matrix = gallery.matrix()
    return median_distinct_distance(matrix.embeddings, matrix.labels)


def subset(folder: Path, people: int, photos: int) -> Path:
    for person in sorted(p for p in LFW10.iterdir() if p.is_dir())[:people]:
        (folder / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.jpg"))[:photos]:
            shutil.copy(photo, folder / person.name)
    return folder


def main() -> None:
    from facecam.embedders.sface import SFaceEmbedder
    from facecam.embedders.vggface import VggFaceEmbedder

    detector = MtcnnDetector()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sface = Recognizer(detector, SFaceEmbedder(packaged_model_file("face_recognition_sface_2021dec.onnx")),
                           MODELS["sface"].threshold)
        print(f"sface, lfw10 (10 people x 10 photos): {median_for(sface, subset(tmp / 'all', 10, 10)):.4f}")
        small = subset(tmp / "small", 4, 3)
        for values in ("random", "tiny"):
            weights = write_vggface_weights(tmp / f"vgg_{values}.h5", values=values, seed=2015)
            vgg = Recognizer(detector, VggFaceEmbedder(weights), MODELS["vgg-face"].threshold)
            shutil.rmtree(small / ".bench-cache", ignore_errors=True)
            print(f"vgg-face {values}, 4 people x 3 photos: {median_for(vgg, small):.2g}")
            weights.unlink()


if __name__ == "__main__":
    main()
