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


# ---------------------------------------------------------------- the layers and the store chooser (issue 18)

def _layers() -> list[list[str]]:
    """The layers of the ``layers`` contract in .importlinter, top first, as full module names."""
    import configparser
    import re

    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    section = parser["importlinter:contract:layers"]
    assert section["containers"].split() == ["facecam"]
    return [[f"facecam.{name.strip()}" for name in re.split(r"[|:]", line) if name.strip()]
            for line in section["layers"].strip().splitlines()]


def test_every_module_of_facecam_lies_in_one_layer_and_no_import_goes_in_a_circle():
    """The layers contract covers the whole package: a new module must be given a layer. Only a package's
    ``__init__`` may stay out, and only while it imports nothing but its own modules or the bottom layer.
    And no import circle anywhere (the layers' "|" groups forbid them between layers; this, inside one)."""
    import grimp

    layers = _layers()
    graph = grimp.build_graph("facecam", include_external_packages=False)

    def layer_of(module: str) -> int | None:
        found = [i for i, layer in enumerate(layers) for name in layer
                 if module == name or module.startswith(name + ".")]
        assert len(found) <= 1, f"{module} is in two layers"
        return found[0] if found else None

    bottom = set(layers[-1])
    outside = []
    for module in sorted(graph.modules):
        if layer_of(module) is not None:
            continue
        imported = graph.find_modules_directly_imported_by(module)
        if not all(i.startswith(module + ".") or i in bottom for i in imported):
            outside.append(module)
    assert outside == [], f"modules in no layer of .importlinter's layers contract: {outside}"
    circles = sorted((importer, imported) for importer in graph.modules
                     for imported in graph.find_modules_directly_imported_by(importer)
                     if graph.chain_exists(importer=imported, imported=importer))
    assert circles == []


def test_only_the_store_chooser_opens_the_database_and_no_caller_probes_a_store():
    """facecam.stores is the one place a PostgresStore is constructed; callers use what the protocols declare
    (``store.flushed``, ``store.warnings``), never ``getattr(store, ...)``."""
    import re

    constructing, probing = [], []
    for path in sorted((ROOT / "facecam").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        if re.search(r"\bPostgresStore\(", text) and name != "facecam/stores.py":
            constructing.append(name)
        probing += [f"{name}: {m.group(0)}" for m in re.finditer(r"getattr\([^,]*store[^,]*,[^)]*\)", text)]
    assert constructing == [] and probing == []
