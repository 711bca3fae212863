#!/usr/bin/env bash
# Installs every Debian package Switchboard needs. Idempotent: when all are present it only
# runs dpkg-query (well under a second). Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libcaf-dev            # actors, supervision, clustering (CAF 0.17)
  libboost1.81-dev      # Beast/Asio (1.81, not the default 1.74)
  libboost-url1.81-dev  # Boost.URL: request targets of the HTTP API (http/)
  librocksdb-dev        # embedded durable store
  libsimdjson-dev       # JSON parsing
  libsodium-dev         # password hashing, random tokens
  doctest-dev           # unit tests
  python3               # docs_codes_test: every answered error code documented and tested
  etcd-server etcd-client  # cluster membership, ownership, fencing; tests start their own etcd on private ports
  clang libclang-rt-14-dev  # fuzz/: libFuzzer harnesses (scripts/fuzz.sh)
  chromium nodejs       # browser tests: headless chromium driven by playwright-core (node)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

# npm drives the browser tests' install (playwright-core). Debian ships it as its own package;
# other Node.js builds (e.g. NodeSource's nodejs) bundle it and conflict with Debian's npm.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
