#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest; then the
# same tests again in an ASan+UBSan build and in a ThreadSanitizer build.
# Re-running is quick: nothing is reinstalled and the builds are incremental.
#
#   SLUICE_SANITIZERS=0 ./scripts/test.sh   skip the sanitizer builds
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SLUICE_ROOT"

sluice_install
sluice_build build

status=0
sluice_log "running the tests (build/)"
ctest --test-dir build --output-on-failure -j2 --timeout 600 || status=1

if [ "${SLUICE_SANITIZERS:-1}" != 0 ]; then
  sluice_build build-asan -DSLUICE_ASAN=ON -DSLUICE_BUILD_BENCH=OFF
  sluice_log "running the tests under ASan+UBSan (build-asan/)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2 --timeout 900 || status=1

  sluice_build build-tsan -DSLUICE_TSAN=ON -DSLUICE_BUILD_BENCH=OFF
  sluice_log "running the tests under ThreadSanitizer (build-tsan/)"
  ctest --test-dir build-tsan --output-on-failure -j2 --timeout 900 || status=1
fi
if [ $status -eq 0 ]; then sluice_log "all test runs passed"; else sluice_log "SOME TESTS FAILED"; fi
exit $status
