#!/usr/bin/env bash
# Install clipray (with the offline model stack) and bring it up on the embedded defaults:
# a local Ray head, SQLite and an S3 server under ~/.clipray; then check the machine.
#   CLIPRAY_VENV   virtualenv to use (default .venv; created if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
venv="${CLIPRAY_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[ml]"

"$venv/bin/clipray" up
"$venv/bin/clipray" doctor
echo
echo "clipray is up. Next: $venv/bin/clipray status   (stop it with: $venv/bin/clipray down)"
