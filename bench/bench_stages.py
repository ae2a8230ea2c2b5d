"""Per-stage timings on this machine: MTCNN, YuNet, VGG-Face (batch 1 and 4), SFace, matching (warm, and the
cold first match after a gallery refresh).

    .venv/bin/python bench/bench_stages.py [--repeat 20] [--vgg-weights PATH]

VGG-Face runs on a weights file of the published layout with random values
(written once to a temporary folder, ~580 MB; the runtime's converted model
goes there too) unless --vgg-weights names the
real one: the speed is the same. SFace uses the official OpenCV Zoo file
built into facecam (facecam/data/models). Matching uses random unit vectors, 10 photos a person.
"warm" match rows time repeated matches against one gallery matrix; "first match after a refresh"
rows time what the live pipeline pays on the first round after known_faces changed: the gallery
is refreshed as the app does it (``GallerySearch.attach``: incremental person means, the search
index updated when the gallery is large), then one face is matched against the new matrix,
nothing cached yet. Each sample is a new refresh (one person's 10 photos replaced). Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facecam.align import align_faces  # noqa: E402
from facecam.detector import MtcnnDetector  # noqa: E402
from facecam.matcher import GalleryMatrix, match_embeddings  # noqa: E402
from facecam.search import GallerySearch  # noqa: E402

PHOTO = ROOT / "tests" / "data" / "people" / "two_people.jpg"
# Gallery sizes whose cold first match is timed too (100,000 x 4096-d: see bench_scale.py, "Search at scale").
COLD_SIZES = ((10_000, 4096), (10_000, 128), (100_000, 128))


def timed(fn, repeat: int, warmup: int = 2) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, min(samples) * 1000


def first_match_after_refresh(vectors: np.ndarray, names: list[str], mode: str, repeat: int,
                              rng: np.random.Generator) -> tuple[float, float, float]:
    """Median and best ms of the first match after a refresh, and the median ms of the refresh itself."""
    dim = vectors.shape[1]
    photos = [(f"/known_faces/{name}/{i}.jpg", name, f"{i:064x}") for i, name in enumerate(names)]
    embeddings = {sha: vectors[i] for i, (_, _, sha) in enumerate(photos)}
    search = GallerySearch(dim)
    search.attach(GalleryMatrix.from_pairs(names, vectors), photos, embeddings.__getitem__)  # the start-up index
    firsts, refreshes = [], []
    for n in range(repeat):
        person = names[(n * 10) % len(names)]   # a refresh: this person's 10 photos replaced by 10 new ones
        fresh = rng.standard_normal((10, dim), dtype=np.float32)
        fresh /= np.linalg.norm(fresh, axis=1, keepdims=True)
        kept = [p for p in photos if p[1] != person]
        added = [(f"/known_faces/{person}/new{n}-{i}.jpg", person, f"n{n:031x}{i:032x}") for i in range(10)]
        embeddings.update({sha: fresh[i] for i, (_, _, sha) in enumerate(added)})
        photos = kept + added
        matrix = GalleryMatrix.from_pairs([p for _, p, _ in photos], np.stack([embeddings[s] for _, _, s in photos]))
        index = {name: i for i, name in enumerate(matrix.names)}
        rows = [photos[i] for i in np.argsort([index[p] for _, p, _ in photos], kind="stable")]  # the matrix's order
        start = time.perf_counter()
        refreshed = search.attach(matrix, rows, embeddings.__getitem__)
        refreshes.append(time.perf_counter() - start)
        start = time.perf_counter()
        match_embeddings(fresh[:1], refreshed, 0.5, mode)
        firsts.append(time.perf_counter() - start)
    return statistics.median(firsts) * 1000, min(firsts) * 1000, statistics.median(refreshes) * 1000


def sface_path() -> Path:
    from facecam.models import BUILTIN_DIR

    return BUILTIN_DIR / "face_recognition_sface_2021dec.onnx"  # built into facecam


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--vgg-runtime", default=None, help="VGG-Face runtime (default: auto); "
                        "bench/bench_vgg_runtimes.py compares them all")
    args = parser.parse_args()

    rows = []
    bgr = cv2.imread(str(PHOTO))
    frame = cv2.cvtColor(cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    detector = MtcnnDetector()
    faces = detector.detect(frame).largest_first()
    assert len(faces) == 2, f"expected 2 faces in the benchmark frame, got {len(faces)}"
    med, best = timed(lambda: detector.detect(frame), args.repeat)
    rows.append(("MTCNN detect, 640x480 frame (2 faces)", med, best))
    from facecam.detector import DetectorOptions

    live = MtcnnDetector(DetectorOptions(min_face_size=40))
    med, best = timed(lambda: live.detect(frame), args.repeat)
    rows.append(("MTCNN detect, 640x480, min_face_size 40 (live setting)", med, best))
    from facecam.detector import build_detector

    yunet = build_detector("yunet", allow_download=False)
    assert len(yunet.detect(frame)) == 2, "YuNet should find the same 2 faces"
    med, best = timed(lambda: yunet.detect(frame), args.repeat)
    rows.append(("YuNet detect, 640x480 frame (2 faces)", med, best))

    from facecam.embedders.sface import SFaceEmbedder

    sface = SFaceEmbedder(sface_path())
    crops = align_faces(frame, faces[:1], sface.align_spec)
    med, best = timed(lambda: sface.embed(crops), args.repeat * 5)
    rows.append(("SFace embed, per face (batch 1)", med, best))
    crops4 = np.repeat(crops, 4, axis=0)
    med, best = timed(lambda: sface.embed(crops4), args.repeat * 2)
    rows.append(("SFace embed, per face (batch 4)", med / 4, best / 4))
    med, best = timed(lambda: align_faces(frame, faces[:1], sface.align_spec), args.repeat * 5)
    rows.append(("align one face, 112x112 (numpy)", med, best))

    from facecam.embedders.vggface import VggFaceEmbedder

    with tempfile.TemporaryDirectory() as tmp:
        weights = args.vgg_weights
        if weights is None:
            from vgg_fixtures import write_vggface_weights

            weights = write_vggface_weights(Path(tmp) / "vgg_face_weights.h5")
        start = time.perf_counter()
        vgg = VggFaceEmbedder(weights, runtime=args.vgg_runtime, cache_dir=Path(tmp) / "openvino")
        rows.append((f"VGG-Face build + load weights (once, {vgg.runtime}, nothing cached)",
                     (time.perf_counter() - start) * 1000, float("nan")))
    crops = align_faces(frame, faces[:1], vgg.align_spec)
    med, best = timed(lambda: vgg.embed(crops), args.repeat)
    rows.append((f"VGG-Face embed, per face (batch 1, {vgg.runtime})", med, best))
    crops4 = np.repeat(crops, 4, axis=0)
    med, best = timed(lambda: vgg.embed(crops4), max(3, args.repeat // 2))
    rows.append((f"VGG-Face embed, per face (batch 4, {vgg.runtime})", med / 4, best / 4))
    med, best = timed(lambda: align_faces(frame, faces[:1], vgg.align_spec), args.repeat * 5)
    rows.append(("align one face, 224x224 (numpy)", med, best))
    assert vgg.runtime != "tensorflow" or vgg.trace_count == 1, f"VGG-Face retraced: {vgg.trace_count} traces"

    rng = np.random.default_rng(0)
    for size, dim in ((10_000, 4096), (100_000, 4096), (10_000, 128), (100_000, 128)):
        vectors = rng.standard_normal((size, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        gallery = GalleryMatrix.from_pairs([f"p{i % (size // 10)}" for i in range(size)], vectors)
        query = vectors[:1]
        for mode in ("nearest", "mean"):
            med, best = timed(lambda: match_embeddings(query, gallery, 0.5, mode), max(5, args.repeat // 2))
            rows.append((f"match 1 face vs {size:,} embeddings ({dim}-d, {mode})", med, best))
        if (size, dim) in COLD_SIZES:
            names = [f"p{i // 10}" for i in range(size)]
            for mode in ("nearest", "mean"):
                med, best, refresh = first_match_after_refresh(vectors, names, mode, max(3, args.repeat // 4), rng)
                rows.append((f"first match after a refresh, 1 face vs {size:,} ({dim}-d, {mode}; "
                             f"the refresh itself {refresh:.0f} ms)", med, best))
        vectors = gallery = None  # free before the next size

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
          f"OpenCV {cv2.__version__}, TensorFlow {__import__('tensorflow').__version__}")
    print(f"Date: {time.strftime('%Y-%m-%d')}; command: .venv/bin/python bench/bench_stages.py --repeat {args.repeat}\n")
    print("| stage | median ms | best ms |")
    print("|---|---:|---:|")
    for name, med, best in rows:
        print(f"| {name} | {med:.1f} | {'' if best != best else f'{best:.1f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
