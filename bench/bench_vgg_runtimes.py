"""VGG-Face per runtime: build (cold and from the converted-model cache), first embed, warm ms/face at
batch 1 and 4, and the cosine to the TensorFlow fp32 reference on real face crops.

    .venv/bin/python bench/bench_vgg_runtimes.py [--repeat 10] [--rounds 3] [--vgg-weights PATH]

The crops are the 12 real faces of the exactness test (tests/data, detected and aligned by facecam).
Without --vgg-weights a He-scaled random file of the published layout is written to a temporary folder
(~580 MB; the speed is the real file's, and He scaling keeps different faces' fc7s apart so the cosine
means something). The machine may be shared: every figure is the minimum and the median over
``--rounds`` rounds, the runtimes interleaved within each round (each of ``--repeat`` calls for the warm figures; one fresh build per round for the
cold ones), and ``uptime`` is printed before and after. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facecam.detector import MtcnnDetector  # noqa: E402
from facecam.embedders.vggface import VggFaceEmbedder  # noqa: E402
from vgg_fixtures import real_face_crops  # noqa: E402

RUNTIMES = ("tensorflow", "openvino-f32", "openvino-bf16")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def per_call_ms(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def summary(samples: list[float]) -> str:
    return f"{min(samples):.0f} / {statistics.median(samples):.0f}"


def measure_round(runtime: str, weights: Path, crops: np.ndarray, reference, args, cache: Path, row: dict) -> None:
    """One round for one runtime: a build with nothing cached, one from the cache, the first embed, warm figures."""
    for cached in (False, True):
        if not cached:
            for file in cache.glob("*"):
                file.unlink()
        start = time.perf_counter()
        vgg = VggFaceEmbedder(weights, runtime=runtime, cache_dir=cache)
        built = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        vgg.embed(crops[:1])
        first = (time.perf_counter() - start) * 1000
        if runtime == "tensorflow" and cached:
            break                                      # nothing to cache: the same build twice
        row["build_cached" if cached else "build_cold"].append(built)
        if cached or runtime == "tensorflow":
            row["first"].append(first)
        if not cached and runtime != "tensorflow":
            del vgg
    vgg.embed(crops[:4])                               # warm both shapes
    row["b1"].append(per_call_ms(lambda: [vgg.embed(crops[i][None]) for i in range(args.repeat)], 1)
                     / args.repeat)
    row["b4"].append(per_call_ms(lambda: vgg.embed(crops[:4]), max(2, args.repeat // 2)) / 4)
    row["cosine"] = float(np.min(np.sum(vgg.embed(crops) * reference, axis=1)))
    row["description"] = vgg.runtime_description


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    args = parser.parse_args()
    print(f"before: {uptime()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.vgg_weights
        if weights is None:
            from vgg_fixtures import write_vggface_weights

            weights = write_vggface_weights(Path(tmp) / "vgg_face_weights.h5", seed=2015)
        detector = MtcnnDetector()
        reference_model = VggFaceEmbedder(weights, runtime="tensorflow")
        _, crops = real_face_crops(detector, reference_model.align_spec)
        reference = reference_model.embed(crops)
        del reference_model
        runtimes = args.runtimes.split(",")
        rows = {name: {"build_cold": [], "build_cached": [], "first": [], "b1": [], "b4": []} for name in runtimes}
        for round_ in range(args.rounds):                 # runtimes interleaved: each round sees the same load
            for runtime in runtimes:
                measure_round(runtime, weights, crops, reference, args, Path(tmp) / "openvino", rows[runtime])
            print(f"round {round_ + 1}: done ({uptime()})", flush=True)
    import openvino
    import tensorflow

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"TensorFlow {tensorflow.__version__}, OpenVINO {openvino.__version__}")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; command: .venv/bin/python "
          f"bench/bench_vgg_runtimes.py --repeat {args.repeat} --rounds {args.rounds}")
    print(f"after: {uptime()}\n")
    print("| runtime (min / median over rounds, ms) | build, nothing cached | build, converted model cached | first embed "
          "after build | per face, batch 1 | per face, batch 4 | min cosine to TF fp32 (12 real faces) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for runtime, row in rows.items():
        cached = summary(row["build_cached"]) if row["build_cached"] else "(same)"
        print(f"| {runtime} ({row['description']}) | {summary(row['build_cold'])} | {cached} | "
              f"{summary(row['first'])} | {summary(row['b1'])} | {summary(row['b4'])} | {row['cosine']:.6f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
