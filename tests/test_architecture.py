"""Boundaries: nothing heavy loads at import; Qt only in facecam.gui (import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_any_module_but_the_window_loads_no_model_library():
    """Every module of facecam outside facecam.gui (new ones included, found by walking the package)."""
    code = ("import pkgutil, importlib, sys, facecam\n"
            "names = [m.name for m in pkgutil.walk_packages(facecam.__path__, 'facecam.')\n"
            "         if not m.name.startswith(('facecam.gui', 'facecam.__main__'))]\n"
            "for name in names: importlib.import_module(name)\n"
            "heavy = ('tensorflow', 'keras', 'mtcnn', 'openvino', 'PyQt5', 'h5py', 'matplotlib', 'psycopg')\n"
            "print(len(names), sorted(m for m in heavy if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    count, loaded = result.stdout.strip().split(" ", 1)
    assert int(count) >= 40 and loaded == "[]"


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint, "--config", str(ROOT / ".importlinter")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
