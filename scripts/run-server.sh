#!/usr/bin/env bash
# Builds Switchboard (Release) and starts one node on its embedded default: RocksDB in
# ./data. Extra arguments go to the server, e.g. scripts/run-server.sh --node-id=3.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
build="$root/build/release"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target switchboard
exec "$build/server/switchboard" "$@"
