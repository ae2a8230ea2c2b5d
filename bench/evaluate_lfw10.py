"""Make docs/evaluate-lfw10.png: ``facecam evaluate`` with SFace on the shared LFW subset (10 people x 10 photos).

    .venv/bin/python bench/evaluate_lfw10.py [--data ../shared/facedata/lfw10] [--out docs/evaluate-lfw10.png]

SFace is the official OpenCV Zoo file built into facecam (facecam/data/models), copied into a
temporary model folder; the threshold in use is pinned to facecam's default (facecam/registry.py) whatever
your saved settings say, so the figure is reproducible. The data folder is only read: when it is read-only, evaluate keeps its
embedding cache in the user cache folder. Prints the human report, then the JSON one on the last line.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facecam import registry  # noqa: E402
from facecam.cli import main  # noqa: E402

SFACE_FILE = "face_recognition_sface_2021dec.onnx"


def sface_file() -> Path:
    from facecam.models import BUILTIN_DIR

    return BUILTIN_DIR / SFACE_FILE


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "facedata" / "lfw10")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluate-lfw10.png")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as models:
        shutil.copy(sface_file(), models)
        common = ["evaluate", str(args.data), "--model", "sface", "--model-dir", models,
                  "--threshold", str(registry.model("sface").threshold)]
        code = main(common + ["--plot", str(args.out)])
        if code == 0:
            json_out = io.StringIO()
            code = main(common + ["--json"], stdout=json_out)
            print(json_out.getvalue().strip())
    return code


if __name__ == "__main__":
    sys.exit(run())
