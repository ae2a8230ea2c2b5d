#!/usr/bin/env bash
# The whole test suite, on a fresh machine: creates .venv, installs what the tests need, runs pytest.
# Usage: bash tests/run.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
export QT_QPA_PLATFORM=offscreen
export TF_CPP_MIN_LOG_LEVEL=2
export MPLBACKEND=Agg
.venv/bin/lint-imports --config .importlinter
exec .venv/bin/python -m pytest -q "$@"
