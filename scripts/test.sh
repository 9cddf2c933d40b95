#!/usr/bin/env bash
# Install clipray with its model stack and test tools, then run the whole test suite.
#   CLIPRAY_VENV   virtualenv to use (default .venv; created if missing)
#   extra arguments go to pytest, e.g. scripts/test.sh tests/storage -x, or
#   scripts/test.sh -m unit for the pure tests alone (seconds, no services)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh postgresql espeak-ng nodejs chromium
bash scripts/build-studio.sh  # the browser tests (tests/web) walk the built studio
venv="${CLIPRAY_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# torch 2.13.0 and torchvision 0.28.0 are pinned in the ml extra and installed in the
# same resolve, so no other torch (and no CUDA wheel) can be pulled in.
"$venv/bin/python" -m pip install -q -e ".[ml,dev,live]"

export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
# Collecting no tests (pytest's exit 5) is a failure like any other.
exec "$venv/bin/python" -m pytest "$@"
