#!/usr/bin/env bash
# Issue 14's timing check, N runs in a row (default 20): Sandbox2's `starve` testcase (512 processes and a SIGPROF
# storm, every CPU busy) under a 5 s wall-time limit through the CLI. Prints, per run, when the verdict was taken
# (the result's reason), the sandbox's wall time and the whole command's; then the worst of each.
# Usage: bench/starve-loop.sh [N]   (after `dotnet build Sandbox2.slnx -c Release`, which builds the testcases)
# STACK_TRACE=1 adds --stack-trace: the sandbox's init then traces the main thread (every SIGPROF to it goes through
# init) and the timeout's trace is asked of init, as the library does by default.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
cli=artifacts/bin/Sandbox2.Cli/release/Sandbox2.Cli
prog=$PWD/artifacts/testcases/s2_starve
out=$(mktemp)
trap 'rm -f "$out"' EXIT
worst_verdict=0 worst_wall=0 worst_total=0
for i in $(seq 1 "$n"); do
  start=$(date +%s.%N)
  set +e
  "$cli" run ${STACK_TRACE:+--stack-trace} --allow fork,clone,kill,pipe,pipe2,clock_nanosleep,nanosleep,rt_sigaction,rt_sigreturn \
    --time-limit 5 --process-limit 4096 --result "$out" -- "$prog" >/dev/null 2>&1
  rc=$?
  set -e
  total=$(echo "$(date +%s.%N) - $start" | bc)
  status=$(grep -o '"status": "[A-Z_]*"' "$out" | cut -d'"' -f4)
  verdict=$(grep -o 'exceeded after [0-9.]* s' "$out" | awk '{print $3}')
  wall=$(grep -o '"wallTimeMs": [0-9.]*' "$out" | awk '{printf "%.3f", $2 / 1000}')
  printf 'run %2d: rc=%s status=%s verdict=%ss sandbox-wall=%ss command=%.3fs\n' "$i" "$rc" "$status" "${verdict:-?}" "${wall:-?}" "$total"
  worst_verdict=$(echo "if (${verdict:-99} > $worst_verdict) ${verdict:-99} else $worst_verdict" | bc)
  worst_wall=$(echo "if (${wall:-99} > $worst_wall) ${wall:-99} else $worst_wall" | bc)
  worst_total=$(echo "if ($total > $worst_total) $total else $worst_total" | bc)
done
echo "worst of $n: verdict ${worst_verdict}s, sandbox wall ${worst_wall}s, command ${worst_total}s (limit 5 s; Sandbox2 allows 10 s)"
