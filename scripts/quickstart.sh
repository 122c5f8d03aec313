#!/usr/bin/env bash
# A new user's first command: installs what is missing, builds sluice, and
# runs what exists today on a local default, saying what it does.
#
# Today that is the commit log: it writes 200,000 change records through
# bench/commit_log_bench (and prints its speed next to raw RocksDB's), then
# inspects the log it left with `sluice log info` and `sluice log dump`.
# (The daemon sluiced, reading from MySQL/MariaDB, comes with issues 3-4.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SLUICE_ROOT"

sluice_install
sluice_build build

data="${SLUICE_QUICKSTART_DIR:-$SLUICE_ROOT/build/quickstart}"
sluice_log "writing 200,000 change records to a commit log, in transactions of 1, 10 and 1000"
./build/bench/commit_log_bench --records 200000 --dir "$data/bench" --keep "$data/shop"

sluice_log "the log it kept: ./build/client/sluice log info --path $data/shop"
./build/client/sluice log info --path "$data/shop"

sluice_log "its first 3 records as JSON lines: ./build/client/sluice log dump --path $data/shop --max 3"
./build/client/sluice log dump --path "$data/shop" --max 3

sluice_log "done. Next: ./scripts/test.sh runs every test; docs/architecture.md explains the parts."
