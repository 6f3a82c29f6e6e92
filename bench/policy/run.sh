#!/bin/sh
# bench/policy/run.sh [ROUNDS] [ITERATIONS]: compile-time benchmark, then ns per allowed syscall
# (bare / our tree filter / the same rules linear; cacheable getppid and argument-checked getpid(0)),
# with one filter and with the filter stacked 10x (cost per filter run = (t - bare) / 10).
# Rounds are interleaved; the median per mode is printed.
set -e
ROUNDS=${1:-5}
ITER=${2:-2000000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/artifacts/bench-policy
mkdir -p "$OUT"
gcc -O2 -Wall -Wextra -o "$OUT/syscall_cost" "$HERE/syscall_cost.c"
dotnet build "$HERE/PolicyBench" -c Release -v q -nologo >/dev/null
BENCH=$ROOT/artifacts/bin/PolicyBench/release/PolicyBench
"$BENCH" compile 300
"$BENCH" filters "$OUT"
MODES="bare:none:110 allow:allow:110 tree-getppid:tree:110 tree-getpid0:tree:39 linear-getppid:linear:110 linear-getpid0:linear:39 docker-getppid:docker:110 docker-personality0:docker:135"
for stack in 1 10; do
  : > "$OUT/results-$stack.txt"
  r=0
  while [ $r -lt "$ROUNDS" ]; do
    for m in $MODES; do
      name=${m%%:*}; rest=${m#*:}; filter=${rest%%:*}; nr=${rest#*:}
      f=none; [ "$filter" != none ] && f="$OUT/$filter.bpf"
      echo "$name $("$OUT/syscall_cost" "$f" "$nr" "$ITER" "$stack")" >> "$OUT/results-$stack.txt"
    done
    r=$((r + 1))
  done
  echo "stack=$stack ($ROUNDS rounds x $ITER calls), ns per syscall: median [min-max]"
  for m in $MODES; do
    name=${m%%:*}
    grep "^$name " "$OUT/results-$stack.txt" | awk '{print $2}' | sort -n | awk -v n="$name" '{v[NR]=$1} END {printf "  %-16s %8.1f [%.1f-%.1f]\n", n, v[int((NR+1)/2)], v[1], v[NR]}'
  done
done
