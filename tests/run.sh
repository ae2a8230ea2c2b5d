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
# Debian packages, installed only when missing (as root; sudo otherwise): mosquitto, a real MQTT broker for the
# notification tests (started here, stopped on exit); Xvfb and the Qt xcb libraries the README's first run lists,
# for the first-run screenshot (tests/test_first_run_window.py: a real X window; the rest of the suite is offscreen).
QT_XCB_PACKAGES="libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0
    libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-cursor0"
MISSING=()
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then MISSING+=(mosquitto); fi
if ! command -v Xvfb >/dev/null; then MISSING+=(xvfb); fi
if command -v dpkg-query >/dev/null; then     # (elsewhere the libraries are the system's business)
    for package in $QT_XCB_PACKAGES; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || MISSING+=("$package")
    done
fi
if [ ${#MISSING[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${MISSING[@]}" >/dev/null \
        || { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -q >/dev/null \
             && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${MISSING[@]}" >/dev/null; }
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
MQTT_DIR=$(mktemp -d)
FACECAM_TEST_MQTT_PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$FACECAM_TEST_MQTT_PORT" > "$MQTT_DIR/mosquitto.conf"
"$MOSQUITTO" -c "$MQTT_DIR/mosquitto.conf" >"$MQTT_DIR/log" 2>&1 &
MQTT_PID=$!
trap 'kill "$MQTT_PID" 2>/dev/null; wait "$MQTT_PID" 2>/dev/null; rm -rf "$MQTT_DIR"' EXIT
export FACECAM_TEST_MQTT_PORT
export QT_QPA_PLATFORM=offscreen
export TF_CPP_MIN_LOG_LEVEL=2
export MPLBACKEND=Agg
.venv/bin/lint-imports --config .importlinter
.venv/bin/ruff check --quiet facecam tests bench docs main.py
# Two pytest-xdist workers (the machine has 2 cores; much of the suite waits in real time), whole files
# each, longest first (tests/conftest.py LONGEST_FILES); "-n 0" after it runs serially.
.venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"
