#!/usr/bin/env bash
# A local MariaDB for trying sluice: installs into DIR (default
# build/quickstart/mariadb), runs on 127.0.0.1:PORT (default 3307) with the
# row-based binlog, creates the replication user repl/replpw, and stops by
# the pid it wrote.
#
#   scripts/mariadb-sandbox.sh start [DIR] [PORT]
#   scripts/mariadb-sandbox.sh stop  [DIR]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cmd="${1:-}"
dir="${2:-$SLUICE_ROOT/build/quickstart/mariadb}"
port="${3:-3307}"

case "$cmd" in
  start)
    if [ -f "$dir/mariadbd.pid" ] && kill -0 "$(cat "$dir/mariadbd.pid")" 2>/dev/null; then
      sluice_log "MariaDB sandbox already running (pid $(cat "$dir/mariadbd.pid"))"
      exit 0
    fi
    mkdir -p "$dir/tmp"
    user_flag=()
    [ "$(id -u)" -eq 0 ] && user_flag=(--user=root)
    if [ ! -d "$dir/data/mysql" ]; then
      sluice_log "installing MariaDB into $dir"
      mariadb-install-db --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" \
        --auth-root-authentication-method=normal --skip-test-db "${user_flag[@]}" >"$dir/install.log" 2>&1
    fi
    sluice_log "starting MariaDB on 127.0.0.1:$port (row-based binlog)"
    /usr/sbin/mariadbd --no-defaults "${user_flag[@]}" --datadir="$dir/data" --tmpdir="$dir/tmp" \
      --socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" \
      --log-error="$dir/error.log" --server-id=1 --log-bin="$dir/data/binlog" --binlog-format=ROW \
      --binlog-row-metadata=FULL --skip-name-resolve --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
    for _ in $(seq 1 120); do
      mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" -e "SELECT 1" >/dev/null 2>&1 && break
      sleep 0.5
    done
    mariadb --no-defaults -uroot -h127.0.0.1 -P"$port" -e "
      DELETE FROM mysql.global_priv WHERE User='';
      CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'replpw';
      GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'repl'@'%';
      FLUSH PRIVILEGES;" || { tail -20 "$dir/error.log"; exit 1; }
    ;;
  stop)
    if [ -f "$dir/mariadbd.pid" ]; then
      pid=$(cat "$dir/mariadbd.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      sluice_log "MariaDB sandbox stopped"
    fi
    ;;
  *)
    echo "usage: $0 start|stop [DIR] [PORT]" >&2
    exit 2
    ;;
esac
