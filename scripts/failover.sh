#!/usr/bin/env bash
# Moves the primary role to the standby that is furthest ahead.
#
#   scripts/failover.sh --secret-file FILE --old HOST:PORT \
#       --candidate HOST:PORT [--candidate HOST:PORT ...] [--old-pid PID] [--sluice BIN]
#
# Addresses are the nodes' consumer servers ([server] listen). Steps, each
# printed:
#   1. ask every candidate for its status; keep the standbys that answer;
#      choose the one whose logs end furthest ahead (summed over
#      destinations; ties: the first given)
#   2. fence the old primary: when it answers, demote it to a standby of
#      the chosen node; when it does not, and --old-pid is given, stop that
#      process (SIGKILL) and check it is gone; when it does not answer and
#      no pid is given, it is taken to be down
#   3. promote the chosen node with an epoch above every epoch seen
#   4. repoint the other candidates to the chosen node (demote)
#   5. print the new primary's status
# Exits 0 when the new primary is in place; non-zero, saying why, when it
# cannot do this safely (no candidate answers, the old primary answers but
# cannot be demoted, the chosen node refuses the promotion).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE_BIN:-$here/../build/client/sluice}"
secret=""
old=""
old_pid=""
candidates=()
while [ $# -gt 0 ]; do
  case "$1" in
    --secret-file) secret="$2"; shift 2 ;;
    --old) old="$2"; shift 2 ;;
    --old-pid) old_pid="$2"; shift 2 ;;
    --candidate) candidates+=("$2"); shift 2 ;;
    --sluice) sluice="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "failover: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$secret" ] || [ -z "$old" ] || [ ${#candidates[@]} -eq 0 ]; then
  echo "failover: --secret-file, --old and at least one --candidate are required (see --help)" >&2
  exit 2
fi
[ -x "$sluice" ] || { echo "failover: no sluice binary at $sluice (build first, or --sluice)" >&2; exit 2; }
command -v jq >/dev/null || { echo "failover: jq is needed (apt-get install jq)" >&2; exit 2; }

step() { printf '==> %s\n' "$*"; }
status_json() { "$sluice" status --broker "$1" --secret-file "$secret" --json 2>/dev/null; }

# 1. Candidates.
best=""; best_end=-1; best_ha=""; max_epoch=0
declare -A ha_of
for c in "${candidates[@]}"; do
  if ! s=$(status_json "$c"); then
    step "candidate $c: no answer, skipped"
    continue
  fi
  role=$(jq -r .role <<<"$s")
  epoch=$(jq -r .epoch <<<"$s")
  end=$(jq '[.destinations[].committed_end] | add // 0' <<<"$s")
  ha=$(jq -r .ha_listen <<<"$s")
  step "candidate $c: $role, epoch $epoch, log end $end, ha $ha"
  [ "$epoch" -gt "$max_epoch" ] && max_epoch=$epoch
  if [ "$role" != "standby" ]; then
    step "candidate $c is not a standby, skipped"
    continue
  fi
  if [ -z "$ha" ]; then
    step "candidate $c has no [ha] listen, so no standby could follow it; skipped"
    continue
  fi
  ha_of[$c]=$ha
  if [ "$end" -gt "$best_end" ]; then best="$c"; best_end=$end; best_ha=$ha; fi
done
if [ -z "$best" ]; then
  echo "failover: no candidate standby answered; nothing was changed" >&2
  exit 1
fi
step "chosen: $best (log end $best_end)"

# 2. Fence the old primary.
if s=$(status_json "$old"); then
  epoch=$(jq -r .epoch <<<"$s")
  [ "$epoch" -gt "$max_epoch" ] && max_epoch=$epoch
  step "old primary $old answers (epoch $epoch): demoting it to a standby of $best_ha"
  if ! "$sluice" demote --broker "$old" --primary "$best_ha" --secret-file "$secret"; then
    echo "failover: the old primary $old answers but could not be demoted; stop it (or pass --old-pid) and run again. Nothing was promoted." >&2
    exit 1
  fi
elif [ -n "$old_pid" ]; then
  step "old primary $old does not answer: stopping pid $old_pid"
  kill -KILL "$old_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$old_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$old_pid" 2>/dev/null; then
    echo "failover: pid $old_pid did not stop; nothing was promoted" >&2
    exit 1
  fi
else
  step "old primary $old does not answer: taken to be down"
fi

# 3. Promote.
new_epoch=$((max_epoch + 1))
step "promoting $best to epoch $new_epoch"
if ! "$sluice" promote --broker "$best" --secret-file "$secret" --epoch "$new_epoch"; then
  echo "failover: $best refused the promotion; the old primary is fenced, no node is primary now: promote a standby by hand (sluice promote)" >&2
  exit 1
fi

# 4. Repoint the other standbys.
for c in "${candidates[@]}"; do
  [ "$c" = "$best" ] && continue
  [ -n "${ha_of[$c]:-}" ] || continue
  step "repointing $c to $best_ha"
  "$sluice" demote --broker "$c" --primary "$best_ha" --secret-file "$secret" ||
    step "WARNING: $c could not be repointed; run: sluice demote --broker $c --primary $best_ha"
done

# 5. The result.
step "new primary:"
"$sluice" status --broker "$best" --secret-file "$secret"
