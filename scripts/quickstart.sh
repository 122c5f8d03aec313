#!/usr/bin/env bash
# A new user's first command: installs what is missing, builds sluice, and
# runs the main job on a local default, saying what it does at each step:
# a MariaDB sandbox on 127.0.0.1:3307, a primary sluiced reading its binlog
# as a replica (conf/quickstart.toml) and a standby replicating the
# primary's log in sync mode (conf/quickstart-standby.toml), a stream of
# sample changes, a consumer reading them over the network (`sluice tail`,
# and kcat over the Kafka port),
# `sluice status` showing the standby in sync, and the change records
# stored, as JSON lines; finally `sluice apply` copies the destination into
# database shop_copy on the same sandbox, and CHECKSUM TABLE of shop and
# shop_copy must agree (the script fails when they do not).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SLUICE_ROOT"

sluice_install
sluice_build build

data=build/quickstart
rm -rf "$data/data" "$data/data-b" "$data/mariadb"  # a fresh sandbox and logs each run
chmod 600 conf/quickstart.secret conf/quickstart-apply.password  # git keeps no file modes; sluiced warns about readable secrets
./scripts/mariadb-sandbox.sh start "$SLUICE_ROOT/$data/mariadb" 3307
sql() { mariadb --no-defaults -uroot -h127.0.0.1 -P3307 "$@"; }
page() { curl -s "127.0.0.1:$1" || true; }  # an admin page; "" while the listener is not up yet
sluiced_pid=""
standby_pid=""
apply_pid=""
cleanup() {
  [ -n "$apply_pid" ] && kill -TERM "$apply_pid" 2>/dev/null && wait "$apply_pid" || true
  [ -n "$standby_pid" ] && kill -TERM "$standby_pid" 2>/dev/null && wait "$standby_pid" || true
  [ -n "$sluiced_pid" ] && kill -TERM "$sluiced_pid" 2>/dev/null && wait "$sluiced_pid" || true
  ./scripts/mariadb-sandbox.sh stop "$SLUICE_ROOT/$data/mariadb"
}
trap cleanup EXIT

sluice_log "creating shop.orders in the sandbox, with 200 orders from before sluiced starts"
# The table is created inside `USE shop` (unqualified): `sluice apply --rename`
# below replays that DDL in shop_copy, where a name qualified in its text
# would still point at shop.
sql -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop"
sql shop -e "CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(20), total DECIMAL(10,2),
                                  placed DATETIME(3));
             INSERT INTO orders SELECT 10000 + seq, 'imported', seq * 0.5, NOW(3) FROM seq_1_to_200"

sluice_log "starting the primary: sluiced --config conf/quickstart.toml (logs in $data/sluiced.log)"
./build/broker/sluiced --config conf/quickstart.toml >"$data/sluiced.log" 2>&1 &
sluiced_pid=$!
sluice_log "starting the standby: sluiced --config conf/quickstart-standby.toml (logs in $data/standby.log)"
./build/broker/sluiced --config conf/quickstart-standby.toml >"$data/standby.log" 2>&1 &
standby_pid=$!

sluice_log "waiting for the initial snapshot of the 200 orders (conf/quickstart.toml: snapshot = \"initial\")"
for _ in $(seq 1 120); do
  [ "$(page 7402/metrics | sed -n 's/^sluice_snapshot_done{.*table="shop.orders"} //p')" = "1" ] && break
  sleep 0.5
done
sluice_log "writing sample changes: 1000 orders placed, 300 paid, 100 cancelled"
sql shop -e "INSERT INTO orders SELECT seq, 'placed', seq * 1.25, NOW(3) FROM seq_1_to_1000;
             UPDATE orders SET status = 'paid' WHERE id <= 300;
             DELETE FROM orders WHERE id > 900 AND id <= 1000;"
want=1400  # records: 1000 inserts, 300 updates, 100 deletes
for _ in $(seq 1 120); do
  got=$(page 7402/status | sed -n 's/.*"records_committed":\([0-9]*\).*/\1/p')
  [ "${got:-0}" -ge "$want" ] && break
  sleep 0.5
done
for _ in $(seq 1 60); do  # the standby has it all and the primary's consumers see it
  [ "$(page 7402/metrics | sed -n 's/^sluice_log_high_watermark{dest="shop"} //p')" = \
    "$(page 7412/metrics | sed -n 's/^sluice_log_committed_end{dest="shop"} //p')" ] && break
  sleep 0.5
done
sluice_log "the primary's status (GET 127.0.0.1:7402/status):"
curl -s 127.0.0.1:7402/status
sluice_log "the pair: ./build/client/sluice status --broker 127.0.0.1:7400 --secret-file conf/quickstart.secret"
./build/client/sluice status --broker 127.0.0.1:7400 --secret-file conf/quickstart.secret
sluice_log "the standby: ./build/client/sluice status --broker 127.0.0.1:7410 --secret-file conf/quickstart.secret"
./build/client/sluice status --broker 127.0.0.1:7410 --secret-file conf/quickstart.secret
sluice_log "a consumer over the network: ./build/client/sluice offsets --broker 127.0.0.1:7400 --dest shop"
./build/client/sluice offsets --broker 127.0.0.1:7400 --dest shop
sluice_log "the log starts with the initial snapshot (conf/quickstart.toml: snapshot = \"initial\"):"
sluice_log "its start and the first rows that existed before sluiced: ./build/client/sluice tail --broker 127.0.0.1:7400 --dest shop --count 6"
./build/client/sluice tail --broker 127.0.0.1:7400 --dest shop --count 6
sluice_log "how the snapshot went: ./build/client/sluice status ... shows it per table (above); /metrics:"
page 7402/metrics | grep '^sluice_snapshot_rows_total' || true
sluice_log "a long poll: sluice tail --from latest --follow --count 2 waits, and two new orders wake it"
./build/client/sluice tail --broker 127.0.0.1:7400 --dest shop --from latest --follow --count 2 &
tail_pid=$!
sleep 1
sql shop -e "INSERT INTO orders VALUES (5001, 'placed', 9.99, NOW(3)), (5002, 'placed', 19.99, NOW(3))"
wait "$tail_pid"
sluice_log "the same destination through Kafka's protocol, with Kafka's own client (docs/kafka.md):"
sluice_log "  kcat -C -b 127.0.0.1:9092 -t shop -o -2 -e -f 'offset %o key %k headers %h\\n%s\\n'"
kcat -C -b 127.0.0.1:9092 -t shop -o -2 -e -q -f 'offset %o key %k headers %h\n%s\n'
sluice_log "the same records read from the standby: ./build/client/sluice tail --broker 127.0.0.1:7410 --dest shop --from 1000 --count 2"
./build/client/sluice tail --broker 127.0.0.1:7410 --dest shop --from 1000 --count 2

sluice_log "replaying the destination into shop_copy on the same server (logs in $data/apply.log):"
sluice_log "  ./build/client/sluice apply --broker 127.0.0.1:7400,127.0.0.1:7410 --dest shop --user apply --password-file conf/quickstart-apply.password --target mysql://root:@127.0.0.1:3307 --include 'shop\\.orders' --rename shop=shop_copy"
sluice_log "  (--include: the log's CREATE DATABASE shop is not for the copy)"
sql -e "DROP DATABASE IF EXISTS shop_copy; DROP DATABASE IF EXISTS sluice_apply; CREATE DATABASE shop_copy"
./build/client/sluice apply --broker 127.0.0.1:7400,127.0.0.1:7410 --dest shop --user apply \
  --password-file conf/quickstart-apply.password --target mysql://root:@127.0.0.1:3307 \
  --include 'shop\.orders' --rename shop=shop_copy 2>"$data/apply.log" &
apply_pid=$!
# apply stores the next offset to apply in the target (sluice_apply.offsets):
# it is done when that is the primary's high watermark.
hw=$(page 7402/metrics | sed -n 's/^sluice_log_high_watermark{dest="shop"} //p')
applied=""
for _ in $(seq 1 120); do
  applied=$(sql -N -e "SELECT next_offset FROM sluice_apply.offsets WHERE dest = 'shop'" 2>/dev/null || true)
  [ -n "$hw" ] && [ "$applied" = "$hw" ] && break
  kill -0 "$apply_pid" 2>/dev/null || { cat "$data/apply.log"; sluice_log "sluice apply stopped"; exit 1; }
  sleep 0.5
done
kill -TERM "$apply_pid"; wait "$apply_pid"; apply_pid=""
tail -1 "$data/apply.log"
sluice_log "applied up to offset ${applied:-none} of $hw; CHECKSUM TABLE, source and copy side by side:"
src=$(sql -N -e "CHECKSUM TABLE shop.orders" | awk '{print $2}')
dst=$(sql -N -e "CHECKSUM TABLE shop_copy.orders" | awk '{print $2}')
printf '  %-12s %-14s %-14s\n' table shop shop_copy
printf '  %-12s %-14s %-14s\n' orders "$src" "$dst"
if [ -z "$src" ] || [ "$src" != "$dst" ]; then
  sluice_log "the copy differs from the source"
  exit 1
fi
sluice_log "the copy equals the source"

sluice_log "stopping both (SIGTERM: each drains and exits 0)"
kill -TERM "$standby_pid"; wait "$standby_pid"; standby_pid=""
kill -TERM "$sluiced_pid"; wait "$sluiced_pid"; sluiced_pid=""

sluice_log "the log: ./build/client/sluice log info --path $data/data/shop"
./build/client/sluice log info --path "$data/data/shop"
sluice_log "the snapshot's end mark and one of the updates: ./build/client/sluice log dump --path $data/data/shop | grep ..."
./build/client/sluice log dump --path "$data/data/shop" >"$data/dump.jsonl"
grep -m1 '"phase":"end"' "$data/dump.jsonl"
grep -m1 '"op":"update"' "$data/dump.jsonl"

sluice_log "the standby's copy: ./build/client/sluice log info --path $data/data-b/shop"
./build/client/sluice log info --path "$data/data-b/shop"

sluice_log "done. Next: ./scripts/test.sh runs every test; docs/operations.md shows a failover."
