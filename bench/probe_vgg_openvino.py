"""Where VGG-Face's time goes on OpenVINO, and whether int8 could go faster within the exactness target.

    .venv/bin/python bench/probe_vgg_openvino.py [--vgg-weights PATH] [--int8]

Prints OpenVINO's per-layer times (``PERF_COUNT``) for one bf16 call at batch 1, the per-face time at
batch 1, 4 and 8 and in throughput mode, and with ``--int8`` the cosine to TensorFlow fp32 of three
int8 quantizations made by NNCF (calibrated on the 12 real faces mirrored, plus 4 of them). NNCF is
not a facecam dependency: for ``--int8`` install it apart, without touching the venv's numpy::

    .venv/bin/python -m pip install --target /tmp/nncf --no-deps nncf==3.4.0 networkx==3.6.1 \
        pydot==4.0.1 tabulate==0.10.0 ninja==1.13.2 safetensors==0.8.0
    PYTHONPATH=/tmp/nncf .venv/bin/python bench/probe_vgg_openvino.py --int8
 Without ``--vgg-weights`` a He-scaled random file of the
published layout is written to a temporary folder (the speed is the real file's).
"""

from __future__ import annotations

import argparse
import os
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
from facecam.embedders.vgg_openvino import IR_STEM  # noqa: E402
from facecam.embedders.vggface import VggFaceEmbedder, preprocess  # noqa: E402
from vgg_fixtures import real_face_crops, write_vggface_weights  # noqa: E402


def unit_rows(a: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def per_face_ms(request, inputs: np.ndarray, batch: int, repeat: int = 6) -> float:
    for _ in range(2):
        request.infer({0: inputs[:batch]})
    start = time.perf_counter()
    for _ in range(repeat):
        request.infer({0: inputs[:batch]})
    return (time.perf_counter() - start) / repeat / batch * 1000


def embeddings(compiled, inputs: np.ndarray) -> np.ndarray:
    request = compiled.create_infer_request()
    return unit_rows(np.concatenate([request.infer({0: inputs[i:i + 1]})[0] for i in range(len(inputs))]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--int8", action="store_true")
    args = parser.parse_args()
    import openvino

    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.vgg_weights or write_vggface_weights(Path(tmp) / "vgg_face_weights.h5", seed=2015)
        reference_model = VggFaceEmbedder(weights, runtime="tensorflow")
        _, crops = real_face_crops(MtcnnDetector(), reference_model.align_spec)
        reference = reference_model.embed(crops)
        fingerprint_model = VggFaceEmbedder(weights, runtime="openvino-bf16", cache_dir=Path(tmp))
        fingerprint_model.embed(crops[:1])                       # converts and caches the IR
        del reference_model, fingerprint_model
        core = openvino.Core()
        model = core.read_model(next(Path(tmp).glob(f"{IR_STEM}-*.xml")))
        inputs = preprocess(crops).astype(np.float32)
        bf16 = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16"}
        compiled = core.compile_model(model, "CPU", {**bf16, "PERF_COUNT": True})
        request = compiled.create_infer_request()
        for batch in (1, 4, 8):
            print(f"bf16 latency mode, batch {batch}: {per_face_ms(request, inputs, batch):.1f} ms per face")
        request.infer({0: inputs[:1]})
        print("\nper layer, one bf16 call at batch 1 (ms):")
        for info in request.profiling_info:
            ms = info.real_time.total_seconds() * 1000
            if ms >= 0.5:
                print(f"  {info.node_name:<24} {info.exec_type:<28} {ms:6.2f}")
        throughput = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "bf16"})
        queue = openvino.AsyncInferQueue(throughput, throughput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        start, n = time.perf_counter(), 16
        for i in range(n):
            queue.start_async({0: inputs[i % len(inputs):i % len(inputs) + 1]})
        queue.wait_all()
        print(f"\nbf16 throughput mode ({throughput.get_property('NUM_STREAMS')} streams): "
              f"{(time.perf_counter() - start) / n * 1000:.1f} ms per face (includes warm-up)")
        print(f"bf16 cosine to TF fp32: {np.min(np.sum(embeddings(compiled, inputs) * reference, 1)):.6f}")
        if args.int8:
            probe_int8(core, model, inputs, crops, reference)
    return 0


def probe_int8(core, model, inputs: np.ndarray, crops: np.ndarray, reference: np.ndarray) -> None:
    import nncf  # not a dependency: see the module docstring

    convolutions = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    mirrored = preprocess(crops[:, :, ::-1]).astype(np.float32)
    calibration = nncf.Dataset([mirrored[i:i + 1] for i in range(len(mirrored))]
                               + [inputs[i:i + 1] for i in range(0, len(inputs), 3)])
    variants = {"every layer int8": [],
                "int8 but conv1_1, fc6, fc7": [convolutions[0], *convolutions[-2:]],
                "only conv1_2 .. conv3_3 int8": [convolutions[0], *convolutions[7:]]}
    print("\nint8 (NNCF quantize; bf16 elsewhere): min cosine to TF fp32, ms per face at batch 1")
    for name, ignored in variants.items():
        quantized = nncf.quantize(model, calibration, subset_size=16, preset=nncf.QuantizationPreset.PERFORMANCE,
                                  ignored_scope=nncf.IgnoredScope(names=ignored))
        compiled = core.compile_model(quantized, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16"})
        cosine = np.min(np.sum(embeddings(compiled, inputs) * reference, 1))
        print(f"  {name:<32} {cosine:.6f}  {per_face_ms(compiled.create_infer_request(), inputs, 1):.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
