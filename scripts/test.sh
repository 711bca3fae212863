#!/usr/bin/env bash
# Builds and runs every Switchboard test:
#   1. RelWithDebInfo build with warnings as errors; every CTest test (labels unit,
#      fault, e2e, browser; the browser tests install playwright-core with npm and drive
#      Debian's headless chromium, screenshots in build/test/artifacts/).
#   2. A second build dir with AddressSanitizer + UndefinedBehaviorSanitizer; the unit
#      tests again (fault and e2e tests kill processes and are not meaningful under ASan).
#   3. The libFuzzer harnesses of fuzz/ (clang, ASan+UBSan), 30 s each (scripts/fuzz.sh).
# Output ends with CTest's summary of the main run. Exit status is non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
jobs="$(nproc)"
# ccache keys on paths relative to the checkout, so any clone of it (CI's) reuses objects.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1

asan="$root/build/asan"
echo "== build: ASan+UBSan ($asan)"
cmake -S "$root" -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_SANITIZE=ON -DSB_WERROR=ON >/dev/null
cmake --build "$asan" -j "$jobs" --target unit_tests
echo "== tests: unit under ASan+UBSan"
asan_rc=0
(cd "$asan" && ctest -L unit --output-on-failure -j "$jobs") || asan_rc=$?

echo "== fuzz: each harness 30 s"
fuzz_rc=0
"$root/scripts/fuzz.sh" 30 || fuzz_rc=$?

main="$root/build/test"
echo "== build: RelWithDebInfo, -Werror ($main)"
cmake -S "$root" -B "$main" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_WERROR=ON >/dev/null
cmake --build "$main" -j "$jobs"
echo "== tests: all (unit, fault, e2e, browser)"
main_rc=0
(cd "$main" && ctest --output-on-failure) || main_rc=$?

if [ "$asan_rc" -ne 0 ]; then
  echo "FAILED: unit tests under ASan+UBSan (see above)"
fi
if [ "$fuzz_rc" -ne 0 ]; then
  echo "FAILED: a fuzz harness (see above; inputs in build/fuzz/artifacts/)"
fi
exit $(( main_rc != 0 || asan_rc != 0 || fuzz_rc != 0 ))
