#!/usr/bin/env bash
# Build the web studio (studio/, TypeScript + React + Vite) into src/clipray/web/dist, where
# the ingress serves it at / and the package ships it. Skipped when the build is newer than
# every source file; `--force` builds anyway. Needs Node.js >= 20.19 and npm
# (scripts/system-deps.sh nodejs installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

dist=src/clipray/web/dist
force="${1:-}"
if [ "$force" != "--force" ] && [ -f "$dist/index.html" ]; then
  newer=$(find studio -path studio/node_modules -prune -o -type f -newer "$dist/index.html" -print -quit)
  if [ -z "$newer" ]; then
    echo "studio: build is up to date ($dist)"
    exit 0
  fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "studio: node and npm are needed to build the web studio: bash scripts/system-deps.sh nodejs" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "studio: Node.js >= 20.19 is needed (Vite 8), found $(node --version)" >&2
  exit 1
fi

cd studio
# npm ci installs exactly the lockfile; skipped when node_modules already matches it.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
echo "studio: built into $dist"
