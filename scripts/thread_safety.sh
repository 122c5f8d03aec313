#!/usr/bin/env bash
# Clang's thread-safety analysis over the project's own sources: each file
# of base/ proto/ storage/ broker/ ha/ client/ and tests/ is
# compiled with -fsyntax-only -Wthread-safety -Werror=thread-safety, with
# the flags of BUILD_DIR's compile_commands.json (default build/, any
# compiler). GUARDED_BY, REQUIRES, ACQUIRE and friends (base/thread_annotations.h)
# are checked this way; gcc ignores them. Exit status 1 on any finding.
#
#   ./scripts/thread_safety.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json: build first" >&2; exit 2; }
python3 - "$build/compile_commands.json" "$(pwd)" <<'PY'
import json, os, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
db, root = json.load(open(sys.argv[1])), sys.argv[2]
dirs = ("base/", "proto/", "storage/", "broker/", "ha/", "client/", "tests/")
jobs, seen = [], set()
for e in db:
    f = os.path.relpath(os.path.join(e["directory"], e["file"]), root)
    if not f.endswith(".cc") or not f.startswith(dirs) or f in seen:
        continue
    seen.add(f)
    args = shlex.split(e["command"]) if "command" in e else list(e["arguments"])
    keep, skip = [], False
    for i, a in enumerate(args[1:], 1):
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-W") or a.startswith("-fsanitize") \
                or a == os.path.join(e["directory"], e["file"]) or a == e["file"]:
            continue
        keep.append(a)
    cmd = ["clang++", "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety",
           "-Wno-unknown-warning-option"] + keep + [os.path.join(root, f)]
    jobs.append((f, cmd, e["directory"]))
def run(job):
    f, cmd, cwd = job
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return f, p.returncode, p.stderr
bad = 0
with ThreadPoolExecutor(max_workers=2) as ex:
    for f, rc, err in ex.map(run, jobs):
        if rc != 0:
            bad += 1
            sys.stdout.write(err)
print(f"thread-safety analysis: {len(jobs)} files, {bad} with findings")
sys.exit(1 if bad else 0)
PY
