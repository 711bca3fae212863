#!/usr/bin/env bash
# Runs the browser tests (CTest label `browser`):
#   run.sh <switchboard binary> <artifacts dir> <deps dir>
# Installs playwright-core from package-lock.json into <deps dir> with `npm ci` (only when
# the lock file changed since the last install; the npm registry is the only network it
# needs), then runs run.mjs with Debian's /usr/bin/chromium. Every step has a timeout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
server="$1"
artifacts="$2"
deps="$3"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "browser tests: '$tool' missing (run scripts/setup.sh)"; exit 1; }
done
chromium="${SB_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "browser tests: $chromium missing (run scripts/setup.sh)"; exit 1; }

mkdir -p "$deps" "$artifacts"
if ! cmp -s "$here/package-lock.json" "$deps/package-lock.json" \
   || [ ! -f "$deps/node_modules/playwright-core/package.json" ]; then
  echo "browser tests: npm ci (playwright-core) in $deps"
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  (cd "$deps" && timeout 300 npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
fi

SB_SERVER="$server" SB_ARTIFACTS="$artifacts" SB_NODE_MODULES="$deps/node_modules" \
  SB_CHROMIUM="$chromium" timeout --kill-after=10 300 node "$here/run.mjs"
