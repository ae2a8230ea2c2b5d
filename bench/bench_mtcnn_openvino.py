"""Probe: MTCNN's three networks on OpenVINO (fp32) instead of TensorFlow graphs; same faces? faster?

    nice -n 19 .venv/bin/python bench/bench_mtcnn_openvino.py [--rounds 3] [--repeat 10]

Builds facecam's MtcnnDetector twice: as shipped (each network a traced TensorFlow graph), and
with each network converted by ``openvino.convert_model`` (from the same traced function) and
compiled for the CPU in fp32 (latency hint), mtcnn's own Python (pyramid, NMS, crops) unchanged.
Reports the largest box and landmark difference on real photos (photo setting, faces of 20 px
and up, and the live setting, 40 px), and per-frame detect time on two 640x480 frames (two faces,
and a room of eight faces ~55 px from tests/clips.py) at the live setting, the two interleaved in
each round (minimum / median over rounds), with the load. Also how long the networks themselves
take in a frame (the rest is mtcnn's Python). Not used by facecam (see BENCHMARKS.md for why).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facecam.detector import _STAGE_INPUTS, DetectorOptions, MtcnnDetector  # noqa: E402
from facecam.images import read_image  # noqa: E402
from facecam.types import bgr_to_rgb  # noqa: E402

PEOPLE = ROOT / "tests" / "data" / "people"
LFW10 = ROOT / "tests" / "data" / "lfw10"


class OpenVinoStage:
    """An MTCNN network on OpenVINO, called as mtcnn calls its model: a batch in, TensorFlow tensors out in the
    model's output order (mtcnn's code calls ``.numpy()`` on them)."""

    def __init__(self, traced, key: str):
        import openvino as ov
        import tensorflow as tf

        self.tf = tf
        model = ov.convert_model(traced.get_concrete_function())
        self.compiled = ov.Core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                               "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()
        sample = np.random.default_rng(0).random([2] + [s or 24 for s in _STAGE_INPUTS[key][1:]], dtype=np.float32)
        reference = [t.numpy() for t in traced(tf.constant(sample))]
        outputs = [np.asarray(v) for v in self.request.infer({0: sample}).values()]
        # the converted model's outputs, in the Keras model's order (matched by shape and value)
        self.order = [next(j for j, out in enumerate(outputs) if out.shape == ref.shape and np.allclose(out, ref, atol=1e-4))
                      for ref in reference]

    def __call__(self, batch):
        outputs = list(self.request.infer({0: np.ascontiguousarray(np.asarray(batch), np.float32)}).values())
        return tuple(self.tf.constant(np.array(outputs[j])) for j in self.order)


def openvino_detector(options: DetectorOptions) -> MtcnnDetector:
    detector = MtcnnDetector(options)
    for stage, key in zip(detector._mtcnn.stages, ("pnet", "rnet", "onet")):
        stage._model = OpenVinoStage(stage._model, key)
    return detector


def room_frame() -> np.ndarray:
    """One RGB frame (at 1 s) of bench_room's clip: eight faces about 55 px."""
    import cv2

    from clips import room_people, room_scene, write_room_clip

    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "room.avi"
        people, photos = room_people(MtcnnDetector(DetectorOptions(min_face_size=40)))
        write_room_clip(clip, room_scene(people, photos), seconds=1.2)
        capture = cv2.VideoCapture(str(clip))
        for _ in range(31):
            ok, bgr = capture.read()
        capture.release()
    return bgr_to_rgb(bgr)


def largest_difference(a, b) -> float:
    if len(a) != len(b):
        return float("inf")
    if not len(a):
        return 0.0
    order = lambda f: np.lexsort((f.boxes[:, 1], f.boxes[:, 0]))  # noqa: E731
    return float(max(np.abs(a.boxes[order(a)] - b.boxes[order(b)]).max(),
                     np.abs(a.landmarks[order(a)] - b.landmarks[order(b)]).max()))


def network_share(detector: MtcnnDetector, image: np.ndarray, repeat: int) -> tuple[float, float]:
    """(ms per frame in the three networks, ms per frame in all)."""
    spent = [0.0]
    stages = detector._mtcnn.stages
    originals = [stage._model for stage in stages]

    def timed(model):
        def call(batch):
            start = time.perf_counter()
            result = model(batch)
            _ = [r.numpy() for r in result]
            spent[0] += time.perf_counter() - start
            return result
        return call

    for stage, model in zip(stages, originals):
        stage._model = timed(model)
    start = time.perf_counter()
    for _ in range(repeat):
        detector.detect(image)
    total = time.perf_counter() - start
    for stage, model in zip(stages, originals):
        stage._model = model
    return spent[0] / repeat * 1000, total / repeat * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    live = DetectorOptions(min_face_size=40)
    started = time.perf_counter()
    tf_detector = MtcnnDetector(live)
    tf_build = time.perf_counter() - started
    started = time.perf_counter()
    ov_detector = openvino_detector(live)
    ov_build = time.perf_counter() - started
    print(f"build: TensorFlow graphs {tf_build:.1f} s; OpenVINO (TensorFlow graphs + convert + compile) {ov_build:.1f} s")

    photos = [PEOPLE / "two_people.jpg", PEOPLE / "obama-480p.jpg", LFW10 / "Vladimir_Putin" / "Vladimir_Putin_0007.jpg",
              *sorted(PEOPLE.glob("*.jpg"))[:6]]
    worst, counts = 0.0, 0
    for photo in dict.fromkeys(photos):
        image = bgr_to_rgb(read_image(photo))
        for min_face in (20, 40):
            ours, theirs = tf_detector.detect(image, min_face), ov_detector.detect(image, min_face)
            worst = max(worst, largest_difference(ours, theirs))
            counts += len(ours)
    room = room_frame()
    worst = max(worst, largest_difference(tf_detector.detect(room), ov_detector.detect(room)))
    print(f"same faces: largest box/landmark difference {worst:.4f} px over {counts + len(tf_detector.detect(room))} "
          "faces (photo and live settings, tests/data photos and the room frame)")

    import cv2

    frames = {"640x480, 2 faces": bgr_to_rgb(cv2.resize(read_image(PEOPLE / "two_people.jpg"), (640, 480))),
              "640x480, room of 8 faces (~55 px)": room}
    print("\n| frame (live setting, 40 px) | TensorFlow graphs ms (min / median) | OpenVINO fp32 ms | "
          "networks' share (TF / OV ms) | load |")
    print("|---|---:|---:|---:|---|")
    for name, image in frames.items():
        for detector in (tf_detector, ov_detector):
            for _ in range(3):
                detector.detect(image)
        samples: dict[str, list[float]] = {"tf": [], "ov": []}
        for _ in range(args.rounds):
            for key, detector in (("tf", tf_detector), ("ov", ov_detector)):
                start = time.perf_counter()
                for _ in range(args.repeat):
                    detector.detect(image)
                samples[key].append((time.perf_counter() - start) / args.repeat * 1000)
        shares = [network_share(d, image, args.repeat) for d in (tf_detector, ov_detector)]
        print(f"| {name} | {min(samples['tf']):.1f} / {statistics.median(samples['tf']):.1f} | "
              f"{min(samples['ov']):.1f} / {statistics.median(samples['ov']):.1f} | "
              f"{shares[0][0]:.0f} of {shares[0][1]:.0f} / {shares[1][0]:.0f} of {shares[1][1]:.0f} | "
              f"{os.getloadavg()[0]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
