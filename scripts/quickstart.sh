#!/usr/bin/env bash
# Install clipray (with the offline model stack), bring it up on the embedded defaults
# (a local Ray head, SQLite and an S3 server under ~/.clipray), check the machine, and
# analyse a generated sample video.
#   CLIPRAY_VENV   virtualenv to use (default .venv; created if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
venv="${CLIPRAY_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[ml]"

"$venv/bin/clipray" up
"$venv/bin/clipray" doctor || true  # WARN/FAIL lines say what to fix; the sample still runs

# A generated sample: two 10-second shots (a hard cut at 10 s) with a tone.
sample="$("$venv/bin/python" -c 'from clipray.config import get_settings; print(get_settings().home_dir)')/samples/sample.mp4"
mkdir -p "$(dirname "$sample")"
[ -f "$sample" ] || ffmpeg -nostdin -v error -y \
  -f lavfi -i "testsrc2=duration=10:size=640x360:rate=30" \
  -f lavfi -i "smptebars=duration=10:size=640x360:rate=30" \
  -f lavfi -i "sine=frequency=440:duration=20" \
  -filter_complex "[0:v][1:v]concat=n=2:v=1:a=0[v]" -map "[v]" -map 2:a \
  -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$sample"
"$venv/bin/clipray" analyze "$sample"
echo
echo "clipray is up. Next: $venv/bin/clipray analyze YOUR_VIDEO   (stop with: $venv/bin/clipray down)"
