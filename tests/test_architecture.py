"""Boundaries: nothing heavy loads at import; Qt only in facecam.gui (import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_core_loads_no_model_library():
    code = ("import sys, facecam, facecam.cli, facecam.pipeline, facecam.watch, facecam.evaluate, facecam.evaluate_metrics, facecam.evaluate_report, facecam.evaluate_command, facecam.console, facecam.gallery, facecam.detector, "
            "facecam.embedders, facecam.embedders.sface, facecam.embedders.vggface, facecam.recognizer; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'mtcnn', 'PyQt5', 'h5py', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint, "--config", str(ROOT / ".importlinter")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
