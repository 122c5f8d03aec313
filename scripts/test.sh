#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest; then the
# same tests again in an ASan+UBSan build and in a ThreadSanitizer build.
# Re-running is quick: nothing is reinstalled and the builds are incremental.
#
# Last, the decoders' libFuzzer targets (clang, ASan+UBSan) each run for a
# bounded time from their seed corpus; any crash or sanitizer report fails.
#
#   SLUICE_SANITIZERS=0 ./scripts/test.sh   skip the sanitizer and fuzz builds
#   SLUICE_FUZZ_SECONDS=N                   seconds for the binlog event fuzzer
#                                           (default 40; the others get half)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SLUICE_ROOT"

sluice_install

status=0
# Formatting (.clang-format, Google style at 100 columns): every C++ file,
# as clang-format 14 (Debian's) writes it. `clang-format -i FILE` fixes one.
sluice_log "checking the format (clang-format --dry-run -Werror)"
if ! git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror; then
  sluice_log "format check FAILED: run clang-format -i on the files above"
  status=1
fi
# The main build is Release (-O3): GCC's warnings at -O3 differ from -O2's
# (a false -Wrestrict once broke a user's Release build), so one of our
# configurations is the one users who want speed build.
sluice_build build -DCMAKE_BUILD_TYPE=Release

sluice_log "running the tests (build/)"
ctest --test-dir build --output-on-failure -j2 --timeout 600 || status=1

# Clang's thread-safety analysis (GUARDED_BY, REQUIRES: base/thread_annotations.h)
# over our sources, with build/'s flags; gcc ignores the annotations.
if [ "${SLUICE_SANITIZERS:-1}" != 0 ]; then
  sluice_log "thread-safety analysis (clang -Wthread-safety)"
  ./scripts/thread_safety.sh build || status=1
  # clang-tidy's allow-list (.clang-tidy) on the sources the last ten
  # commits changed; SLUICE_TIDY_ALL=1 for every file.
  sluice_log "clang-tidy (.clang-tidy allow-list)"
  ./scripts/clang_tidy.sh build || status=1
fi

# The sanitizer and fuzz builds compile at -O1 -g1 (line tables: reports
# still name file:line): half the compile time of -O2 -g, which made these
# builds most of CI's time.
san_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
           "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
if [ "${SLUICE_SANITIZERS:-1}" != 0 ]; then
  sluice_build build-asan -DSLUICE_ASAN=ON -DSLUICE_BUILD_BENCH=OFF "${san_flags[@]}" \
    "-DSLUICE_SKIP_TEST_LABELS=mariadb_daemon"
  sluice_log "running the tests under ASan+UBSan (build-asan/)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2 --timeout 900 -LE "^mariadb_daemon$" || status=1

  sluice_build build-tsan -DSLUICE_TSAN=ON -DSLUICE_BUILD_BENCH=OFF "${san_flags[@]}" \
    "-DSLUICE_SKIP_TEST_LABELS=mariadb;mariadb_daemon"
  sluice_log "running the tests under ThreadSanitizer (build-tsan/)"
  ctest --test-dir build-tsan --output-on-failure -j2 --timeout 900 -LE "^mariadb$|^mariadb_daemon$" || status=1
fi
if [ "${SLUICE_SANITIZERS:-1}" != 0 ]; then
  fuzz_targets=(binlog_event_fuzz json_binary_fuzz log_batch_fuzz frame_fuzz ha_frame_fuzz
    gtid_state_fuzz snapshot_value_fuzz kafka_request_fuzz record_view_fuzz)
  CC=clang CXX=clang++ sluice_build build-fuzz -DSLUICE_FUZZ=ON -DSLUICE_ASAN=ON \
    -DSLUICE_BUILD_BENCH=OFF "${san_flags[@]}" -- --target "${fuzz_targets[@]}"
  for t in "${fuzz_targets[@]}"; do
    corpus=$(mktemp -d)
    cp tests/fuzz/corpus/"${t%_fuzz}"/* "$corpus"/ 2>/dev/null || true
    seconds=${SLUICE_FUZZ_SECONDS:-40}
    [ "$t" != binlog_event_fuzz ] && seconds=$(( (seconds + 1) / 2 ))
    sluice_log "fuzzing $t for $seconds s"
    if ! ./build-fuzz/tests/"$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -print_final_stats=1 "$corpus" > "build-fuzz/$t.log" 2>&1; then
      tail -50 "build-fuzz/$t.log"
      sluice_log "$t FAILED (reproducer in build-fuzz/, crash-* files)"
      status=1
    else
      grep -E "stat::number_of_executed_units" "build-fuzz/$t.log" || true
    fi
    rm -rf "$corpus"
  done
fi
if [ $status -eq 0 ]; then sluice_log "all test runs passed"; else sluice_log "SOME TESTS FAILED"; fi
exit $status
