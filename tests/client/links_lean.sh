#!/bin/sh
# Usage: links_lean.sh PROGRAM: fails when PROGRAM needs, at run time, a
# library the consumer library must not pull in (RocksDB, MariaDB
# Connector/C, libuv: the broker's).
set -e
deps=$(ldd "$1")
echo "$deps"
if echo "$deps" | grep -E 'librocksdb|libmariadb|libuv'; then
  echo "FAIL: $1 (sluice_client only) needs the libraries above" >&2
  exit 1
fi
echo "ok: sluice_client pulls in none of RocksDB, Connector/C, libuv"
