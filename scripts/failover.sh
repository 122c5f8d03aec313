#!/usr/bin/env bash
# Moves the primary role to the standby that is furthest ahead, and never
# while the old primary may still be alive.
#
#   scripts/failover.sh --secret-file FILE --old HOST:PORT \
#       --candidate HOST:PORT [--candidate HOST:PORT ...] \
#       [--old-pid PID | --fence-cmd 'CMD' | --force] \
#       [--probe-timeout SECONDS] [--sluice BIN]
#
# Addresses are the nodes' consumer servers ([server] listen). Steps, each
# printed:
#   1. ask every candidate for its status; keep the standbys that answer;
#      choose the one whose logs end furthest ahead (summed over
#      destinations; ties: the first given)
#   2. fence the old primary. When it answers, demote it to a standby of
#      the chosen node. When it does not answer, it may be frozen (SIGSTOP,
#      a VM pause, a partition) rather than dead, and would come back as a
#      second primary; so one of these is needed, else nothing is promoted:
#        --old-pid PID    (old primary on this host) SIGKILL that process,
#                         which must be a sluiced, and check it is gone
#        --fence-cmd CMD  run CMD with bash (a STONITH: power the host off,
#                         cut it off the network, kill it over ssh); it must
#                         exit 0 within 60 s and the old primary must not
#                         answer afterwards
#        --force          promote anyway: the operator knows the old primary
#                         is down for good (two primaries if it is not)
#      --old-pid and --fence-cmd also fence an old primary that answers but
#      refuses to be demoted. The step prints which path it took: "fence:
#      demoted", "fence: killed pid", "fence: fence command", "fence: none".
#   3. promote the chosen node with an epoch above every epoch seen
#   4. repoint the other candidates to the chosen node (demote)
#   5. print the new primary's status
# --probe-timeout bounds each status request (default: sluice's own, 30 s);
# a frozen node accepts connections but never answers.
# Exits 0 when the new primary is in place; non-zero, saying why and what to
# do, when it cannot do this safely (no candidate answers; the old primary
# does not answer and no fence was given, or the fence failed; the old
# primary answers but cannot be demoted or fenced; the chosen node refuses
# the promotion). Usage errors exit 2.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE_BIN:-$here/../build/client/sluice}"
secret=""
old=""
old_pid=""
fence_cmd=""
force=0
probe_timeout=""
fence_timeout=60
candidates=()
usage_error() { echo "failover: $* (see --help)" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --secret-file|--old|--old-pid|--fence-cmd|--candidate|--probe-timeout|--sluice)
      [ $# -ge 2 ] || usage_error "$1 needs a value" ;;&
    --secret-file) secret="$2"; shift 2 ;;
    --old) old="$2"; shift 2 ;;
    --old-pid) old_pid="$2"; shift 2 ;;
    --fence-cmd) fence_cmd="$2"; shift 2 ;;
    --force) force=1; shift ;;
    --candidate) candidates+=("$2"); shift 2 ;;
    --probe-timeout) probe_timeout="$2"; shift 2 ;;
    --sluice) sluice="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
if [ -z "$secret" ] || [ -z "$old" ] || [ ${#candidates[@]} -eq 0 ]; then
  usage_error "--secret-file, --old and at least one --candidate are required"
fi
fences=$(( (${#old_pid} > 0) + (${#fence_cmd} > 0) + force ))
[ "$fences" -le 1 ] || usage_error "give at most one of --old-pid, --fence-cmd, --force"
if [ -n "$old_pid" ] && ! [[ "$old_pid" =~ ^[1-9][0-9]*$ ]]; then
  usage_error "--old-pid must be a process id, not '$old_pid'"
fi
if [ -n "$probe_timeout" ]; then
  [[ "$probe_timeout" =~ ^[1-9][0-9]*$ ]] || usage_error "--probe-timeout is whole seconds, not '$probe_timeout'"
  command -v timeout >/dev/null || usage_error "--probe-timeout needs timeout(1) (coreutils)"
fi
[ -x "$sluice" ] || { echo "failover: no sluice binary at $sluice (build first, or --sluice)" >&2; exit 2; }
command -v jq >/dev/null || { echo "failover: jq is needed (apt-get install jq)" >&2; exit 2; }

step() { printf '==> %s\n' "$*"; }
status_json() {
  if [ -n "$probe_timeout" ]; then
    timeout "$probe_timeout" "$sluice" status --broker "$1" --secret-file "$secret" --json 2>/dev/null
  else
    "$sluice" status --broker "$1" --secret-file "$secret" --json 2>/dev/null
  fi
}
refuse() {
  echo "failover: $*" >&2
  exit 1
}

# True while pid $1 is a live process. A zombie (killed, not yet reaped by
# its parent, as when a test started it) is dead: it holds no socket and
# no lock, and it can never run again.
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  if stat=$(cat "/proc/$1/stat" 2>/dev/null); then
    stat=${stat##*) }
    case "${stat%% *}" in Z|X) return 1 ;; esac
  fi
  return 0
}

# Fences the old primary by --old-pid or --fence-cmd; returns non-zero,
# having said why, when that did not work. The old primary must not answer
# afterwards: a fence that leaves it answering fenced something else.
fence_old() {
  if [ -n "$old_pid" ]; then
    step "fence: killed pid: stopping the old primary, pid $old_pid, with SIGKILL (it dies even when frozen)"
    if pid_alive "$old_pid"; then
      local comm=""
      comm=$(cat "/proc/$old_pid/comm" 2>/dev/null) || true
      if [ -n "$comm" ] && [ "$comm" != "sluiced" ]; then
        echo "failover: pid $old_pid is '$comm', not sluiced: is it the old primary's pid on this host? Nothing was killed." >&2
        return 1
      fi
      kill -KILL "$old_pid" 2>/dev/null || true
      for _ in $(seq 1 100); do pid_alive "$old_pid" || break; sleep 0.1; done
      if pid_alive "$old_pid"; then
        echo "failover: pid $old_pid is still alive 10 s after SIGKILL" >&2
        return 1
      fi
      step "pid $old_pid is gone"
    else
      step "pid $old_pid was already gone"
    fi
  else
    step "fence: fence command: $fence_cmd"
    local rc=0
    if command -v timeout >/dev/null; then
      timeout "$fence_timeout" bash -c "$fence_cmd" || rc=$?
    else
      bash -c "$fence_cmd" || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
      echo "failover: the fence command exited $rc$([ "$rc" -eq 124 ] && echo " (timed out after ${fence_timeout} s)"): the old primary may still be alive" >&2
      return 1
    fi
  fi
  if status_json "$old" >/dev/null; then
    echo "failover: the old primary $old still answers after the fence" >&2
    return 1
  fi
  step "old primary $old does not answer after the fence"
}

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
  refuse "no candidate standby answered; nothing was changed"
fi
step "chosen: $best (log end $best_end)"

# 2. Fence the old primary.
if s=$(status_json "$old"); then
  epoch=$(jq -r .epoch <<<"$s")
  [ "$epoch" -gt "$max_epoch" ] && max_epoch=$epoch
  step "fence: demoted: the old primary $old answers (epoch $epoch): demoting it to a standby of $best_ha"
  if ! "$sluice" demote --broker "$old" --primary "$best_ha" --secret-file "$secret"; then
    if [ -z "$old_pid" ] && [ -z "$fence_cmd" ]; then
      refuse "the old primary $old answers but could not be demoted; nothing was promoted. Stop it and run again with --old-pid PID (on its host) or --fence-cmd CMD."
    fi
    step "the old primary could not be demoted: fencing it"
    fence_old || refuse "the old primary $old could not be fenced; nothing was promoted. Stop it by hand, then run again."
  fi
elif [ -n "$old_pid" ] || [ -n "$fence_cmd" ]; then
  step "the old primary $old does not answer: it may be down or frozen, fencing it"
  fence_old || refuse "the old primary $old could not be fenced; nothing was promoted. Make sure it is stopped (or cut off from consumers, standbys and the source), then run again with --old-pid, --fence-cmd or --force."
elif [ "$force" -eq 1 ]; then
  step "fence: none (--force): the old primary $old does not answer and is taken to be down on the operator's word"
  step "WARNING: if it is only frozen or cut off it will act as a second primary when it comes back; demote it (sluice demote) before anything reaches it"
else
  refuse "the old primary $old does not answer: it may be down, or frozen or cut off and about to come back as a second primary (it would keep ingesting and accept acks at the old epoch). Nothing was promoted. Run again with one of:
  --old-pid PID    the old primary's sluiced runs on this host: it is killed (SIGKILL) and checked gone
  --fence-cmd CMD  a command that stops it for certain (power off its host, kill it over ssh); it must exit 0
  --force          you know it is down for good (a stopped host, a killed process) and take responsibility"
fi

# 3. Promote.
new_epoch=$((max_epoch + 1))
step "promoting $best to epoch $new_epoch"
if ! "$sluice" promote --broker "$best" --secret-file "$secret" --epoch "$new_epoch"; then
  refuse "$best refused the promotion; the old primary is fenced, no node is primary now: promote a standby by hand (sluice promote)"
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
