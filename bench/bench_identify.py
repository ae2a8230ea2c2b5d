"""Wall and CPU time of a one-photo ``facecam identify`` per detector, from process start to exit.

    .venv/bin/python bench/bench_identify.py [--repeat 5] [--model sface]

Each run is a fresh ``python -m facecam identify --model M --detector D --known-faces K PHOTO``
process (what a user or a script pays), with the SFace model built into facecam and a known_faces of
3 LFW photos each of 3 people (tests/data/lfw10); the "defaults" row gives neither --model nor
--detector (a first run: VGG-Face not downloaded, so the built-in SFace; MTCNN). The user cache is a
fresh folder: "first" is the run that indexes known_faces (empty cache: 9 photos detected and
embedded) and, for MTCNN on OpenVINO, converts its networks once; "warm" runs read both caches. CPU
is the process's user + system time (what the figure would be on an idle machine, roughly, where the
wall time is inflated by other jobs). Also says whether TensorFlow was imported (``-X importtime``).
Prints a Markdown table and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
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


def identify(model: str | None, detector: str | None, known: Path, env: dict,
             importtime: bool = False) -> tuple[float, float, str, str]:
    """(wall s, CPU s, stdout, stderr) of one fresh process; ``None``: that option not given (the default)."""
    options = [*(["--model", model] if model else []), *(["--detector", detector] if detector else [])]
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "facecam", "identify",
               *options, "--known-faces", str(known), str(PROBE)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=known.parent)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise SystemExit(f"identify failed: {result.stderr.strip()}")
    return elapsed, cpu, result.stdout.strip(), result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default="sface")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "FACECAM_")) and k != "XDG_CACHE_HOME"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env.update(PYTHONPATH=str(ROOT), FACECAM_CONFIG_DIR=str(Path(tmp) / "config"),
                   FACECAM_MODEL_DIR=str(Path(tmp) / "models"), XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        for label, model, detector in (("yunet + " + args.model, args.model, "yunet"),
                                       ("mtcnn + " + args.model, args.model, "mtcnn"),
                                       ("defaults (SFace fallback, MTCNN)", None, None)):
            known = Path(tmp) / label.split()[0] / "known_faces"
            for person in PEOPLE:
                (known / person).mkdir(parents=True)
                for photo in sorted((LFW10 / person).glob("*.jpg"))[:3]:
                    shutil.copy(photo, known / person)
            first, first_cpu, answer, _ = identify(model, detector, known, env)
            warm = [identify(model, detector, known, env)[:2] for _ in range(args.repeat)]
            imports = identify(model, detector, known, env, importtime=True)[3]
            uses_tf = any(line.rstrip().endswith("| tensorflow") for line in imports.splitlines())
            walls, cpus = [w for w, _ in warm], [c for _, c in warm]
            rows.append((label, first, first_cpu, statistics.median(walls), min(walls), statistics.median(cpus),
                         uses_tf, answer.split(": ", 1)[1]))
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}/{os.getloadavg()[2]:.1f}")
    print("\n| detector + model | first run: wall / CPU | warm wall median | warm wall best | warm CPU median "
          "| imports TensorFlow (warm) | answer |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for label, first, first_cpu, median, best, cpu, uses_tf, answer in rows:
        print(f"| {label} | {first:.2f} s / {first_cpu:.2f} s | {median:.2f} s | {best:.2f} s | {cpu:.2f} s | "
              f"{'yes' if uses_tf else 'no'} | {answer} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
