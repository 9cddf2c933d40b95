#!/usr/bin/env bash
# System packages clipray needs, installed only when missing (Debian/Ubuntu, apt-get).
#   ffmpeg      decoding, rendering, captions (Debian's build has libass)
#   fonts-symbola  the captions' emoji (an outline font libass draws; it cannot draw a
#               colour bitmap font; without it the render leaves the emoji out)
#   postgresql  server binaries for the PostgreSQL tests (pass "postgresql" as an argument)
#   espeak-ng   speech for `clipray demo`'s sample video (pass "espeak-ng")
#   nodejs      node and npm, to build the web studio (pass "nodejs"; Vite 8 needs node
#               >= 20.19: Debian 13's package, or NodeSource's on older releases)
#   chromium    the browser of the studio's browser tests (pass "chromium")
set -euo pipefail

need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
{ command -v fc-list >/dev/null 2>&1 && fc-list : family | grep -qi "symbola"; } \
  || need+=(fonts-symbola)
for extra in "$@"; do
  case "$extra" in
    postgresql) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql) ;;
    nodejs) { command -v node && command -v npm; } >/dev/null 2>&1 || need+=(nodejs npm) ;;
    *) command -v "$extra" >/dev/null 2>&1 || need+=("$extra") ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
