#!/usr/bin/env bash
# Install clipray (with the offline model stack and the web studio's build), bring it up on
# the embedded defaults (a local Ray head, SQLite and an S3 server under ~/.clipray), check
# the machine, run the main job on a sample video made on the fly (the clips land in
# ./clipray-demo), and serve the API and the web studio at http://127.0.0.1:8000/.
#   CLIPRAY_VENV   virtualenv to use (default .venv; created if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh espeak-ng nodejs
bash scripts/build-studio.sh  # the web studio, served at / by `clipray serve`
venv="${CLIPRAY_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[ml]"

"$venv/bin/clipray" up
"$venv/bin/clipray" doctor || true  # WARN/FAIL lines say what to fix; the sample still runs

# The main job on a sample made on the fly (espeak-ng speech over generated scenes).
"$venv/bin/clipray" demo --out clipray-demo
# The API and the web studio, deployed on the local Ray head; the command returns.
"$venv/bin/clipray" serve --detach
echo
echo "clips in ./clipray-demo; the web studio at http://127.0.0.1:8000/ (sign up there)."
echo "Next: $venv/bin/clipray run YOUR_VIDEO   (stop everything: $venv/bin/clipray down)"
