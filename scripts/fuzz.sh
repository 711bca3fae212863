#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang (ASan+UBSan) and runs each one:
#   scripts/fuzz.sh              each harness 30 s (CI runs this from scripts/test.sh)
#   scripts/fuzz.sh 600          each harness 600 s
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0   each harness 10 M executions, no time cap
#   FUZZ_ONLY=frame scripts/fuzz.sh        one harness
# Seeds: fuzz/corpus/<name>/ (committed); what a run finds grows build/fuzz/corpus/<name>/.
# A crash or a failed property stops with the input saved in build/fuzz/artifacts/ and a
# non-zero exit; replay it with build/fuzz/<name>_fuzz build/fuzz/artifacts/<file>.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
seconds="${1:-30}"
runs="${FUZZ_RUNS:--1}"
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
out="$root/build/fuzz"
cmake -S "$root/fuzz" -B "$out" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$out" -j "$(nproc)"
mkdir -p "$out/artifacts"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
rc=0
for name in frame http_request body target codec; do
  if [ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$name" ]; then continue; fi
  work="$out/corpus/$name"
  mkdir -p "$work"
  flags=(-seed=1 -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
         -max_len=8192 -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-")
  if [ -f "$root/fuzz/$name.dict" ]; then flags+=(-dict="$root/fuzz/$name.dict"); fi
  log="$out/$name.log"
  echo "== fuzz: $name (${seconds}s, runs $runs)"
  if "$out/${name}_fuzz" "${flags[@]}" "$work" "$root/fuzz/corpus/$name" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | tr '\n' ' '; echo
  else
    echo "FAILED: $name (log $log)"; tail -40 "$log"; rc=1
  fi
done
exit $rc
