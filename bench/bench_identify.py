"""Wall time of a one-photo ``facecam identify`` per detector, from process start to exit.

    .venv/bin/python bench/bench_identify.py [--repeat 5] [--model sface]

Each run is a fresh ``python -m facecam identify --model M --detector D --known-faces K PHOTO``
process (what a user or a script pays), with the SFace model built into facecam and a known_faces of
3 LFW photos each of 3 people (tests/data/lfw10). "first" is the run that indexes known_faces (empty
cache: 9 photos detected and embedded); "warm" runs read the cache. Also says whether TensorFlow was
imported (``-X importtime``). Prints a Markdown table and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LFW10 = ROOT / "tests" / "data" / "lfw10"
PEOPLE = ("Tony_Blair", "George_W_Bush", "Hugo_Chavez")
PROBE = LFW10 / "Hugo_Chavez" / "Hugo_Chavez_0007.jpg"


def identify(model: str, detector: str, known: Path, env: dict, importtime: bool = False) -> tuple[float, str, str]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "facecam", "identify",
               "--model", model, "--detector", detector, "--known-faces", str(known), str(PROBE)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=known.parent)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"identify failed: {result.stderr.strip()}")
    return elapsed, result.stdout.strip(), result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default="sface")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "FACECAM_"))}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env.update(PYTHONPATH=str(ROOT), FACECAM_CONFIG_DIR=str(Path(tmp) / "config"),
                   FACECAM_MODEL_DIR=str(Path(tmp) / "models"))
        for detector in ("yunet", "mtcnn"):
            known = Path(tmp) / detector / "known_faces"
            for person in PEOPLE:
                (known / person).mkdir(parents=True)
                for photo in sorted((LFW10 / person).glob("*.jpg"))[:3]:
                    shutil.copy(photo, known / person)
            first, answer, _ = identify(args.model, detector, known, env)
            warm = [identify(args.model, detector, known, env)[0] for _ in range(args.repeat)]
            _, _, imports = identify(args.model, detector, known, env, importtime=True)
            uses_tf = any(line.rstrip().endswith("| tensorflow") for line in imports.splitlines())
            rows.append((detector, first, statistics.median(warm), min(warm), uses_tf, answer.split(": ", 1)[1]))
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}/{os.getloadavg()[2]:.1f}")
    print(f"\n| detector + {args.model} | first run (indexes 9 photos) | warm median | warm best | imports TensorFlow | answer |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for detector, first, median, best, uses_tf, answer in rows:
        print(f"| {detector} | {first:.2f} s | {median:.2f} s | {best:.2f} s | {'yes' if uses_tf else 'no'} | {answer} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
