#!/usr/bin/env bash
# A judge in two sandboxes: compile SOURCE.c with gcc in one, run the binary on INPUT in another under judge limits,
# and print the verdict from the result JSON (status, reasonCode, oom) and the usage.
#   usage: examples/judge/judge.sh SOURCE.c INPUT EXPECTED [SANDBOX2]     (JUDGE_WALL=SEC: the wall limit, default 2)
# Verdicts: AC / WA (exit 0, output compared), CE (gcc failed), TLE (reasonCode WALL_TIME or CPU_LIMIT), MLE (oom),
# OLE (OUTPUT_LIMIT), RE (other SIGNALED or non-zero exit), SV (VIOLATION), IE (setup or internal error).
set -euo pipefail
src=$1 input=$2 expected=$3
sandbox2=${4:-$(cd "$(dirname "$0")/../.." && pwd)/artifacts/bin/Sandbox2.Cli/release/sandbox2}
work=$(mktemp -d /tmp/sandbox2-judge.XXXXXX)
chmod 0777 "$work" # the sandbox runs as an unprivileged host uid when the judge is root
trap 'rm -rf "$work"' EXIT
cp "$src" "$work/sol.c"

verdict() { # result.json -> one line
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
u = r["usage"]
code = r["reasonCode"]
v = {"TIMEOUT": "TLE", "VIOLATION": "SV", "OK": "OK"}.get(r["status"], "IE")
if r["oom"]: v = "MLE"
elif code in ("CPU_LIMIT", "WALL_TIME"): v = "TLE"  # CPU_LIMIT is also SIGNALED (SIGXCPU) when RLIMIT_CPU fires first
elif code == "OUTPUT_LIMIT": v = "OLE"
elif r["status"] == "SIGNALED": v = "RE"
elif r["status"] == "OK" and r["exitCode"] != 0: v = "RE"
print(f'{v} status={r["status"]} reasonCode={code} cpu={u["cpuTimeMs"]:.0f}ms wall={u["wallTimeMs"]:.0f}ms '
      f'mem={u["memoryPeakKb"]}KiB tasks={u["processes"]} cgroup={r["isolation"]["cgroup"]}')
PY
}

# 1. Compile: gcc runs cc1, as and collect2/ld, so it needs exec, vfork and wait4 beyond the default policy
#    (`--policy @subprocess` once it exists); generous limits, nothing of the host writable but the work directory.
if ! "$sandbox2" run --ro-bind /usr --ro-bind /etc/alternatives --bind "$work:/work" --cwd /work --env TMPDIR=/tmp \
        --allow execve,wait4,vfork,prlimit64 --time-limit 30 --memory-limit 1G --process-limit 32 \
        --result "$work/compile.json" -- /usr/bin/gcc -O2 -o /work/sol /work/sol.c >"$work/compile.out" 2>&1; then
    echo "CE $(verdict "$work/compile.json")"
    sed 's/^/  gcc: /' "$work/compile.out" | head -20
    exit 0
fi

# 2. Run: judge limits (1 s CPU of all processes, 2 s wall, 64 MiB for the whole sandbox, 1 task, 1 MiB of output).
set +e
"$sandbox2" run --time-limit "${JUDGE_WALL:-2}" --cpu-limit 1 --memory-limit 64M --process-limit 1 --output-limit 1M \
    --result "$work/run.json" -- "$work/sol" <"$input" >"$work/out" 2>/dev/null
set -e
line=$(verdict "$work/run.json")
if [[ $line == OK* ]]; then
    if diff -q "$work/out" "$expected" >/dev/null; then line="AC${line#OK}"; else line="WA${line#OK}"; fi
fi
echo "$line"
