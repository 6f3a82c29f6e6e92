#!/usr/bin/env bash
# Launch latency of /bin/true, side by side on this machine:
#   bare /bin/true; bubblewrap (a bwrap-style mount sandbox); the published NativeAOT `sandbox2 run`
#   (hyperfine, whole-process spawn -> exit); and the Sandbox2 library in one process (LibraryBench:
#   100 sandboxes one after another, median and p90 of RunAsync).
# Usage: bench/launch/run.sh            (RUNS=50 hyperfine runs per command, LIB_RUNS=100 library runs)
# Installs hyperfine and bubblewrap with apt-get if they are missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-50}
LIB_RUNS=${LIB_RUNS:-100}
OUT=artifacts/bench/launch
mkdir -p "$OUT"

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "run.sh: please install ${missing[*]} (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== publishing the NativeAOT CLI" >&2
dotnet publish src/Sandbox2.Cli -c Release --nologo -v quiet >&2
SANDBOX2=$PWD/artifacts/publish/Sandbox2.Cli/release/sandbox2
"$SANDBOX2" run -- /bin/true || { echo "run.sh: '$SANDBOX2 run -- /bin/true' failed" >&2; exit 1; }

BWRAP="bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin --proc /proc --dev /dev /bin/true"

echo "== hyperfine: $RUNS runs each (spawn -> exit, no shell)" >&2
hyperfine -N --warmup 5 --runs "$RUNS" --style basic \
    --export-json "$OUT/hyperfine.json" --export-markdown "$OUT/hyperfine.md" \
    -n "bare /bin/true" "/bin/true" \
    -n "bwrap /bin/true" "$BWRAP" \
    -n "sandbox2 run -- /bin/true (NativeAOT)" "$SANDBOX2 run -- /bin/true" >&2

echo "== library: $LIB_RUNS sandboxes of /bin/true in one process" >&2
# Built first and run directly: under `dotnet run` the idle build processes around it made the medians noisier.
dotnet build bench/launch/LibraryBench -c Release --nologo -v quiet >&2
dotnet build-server shutdown >/dev/null 2>&1 || true
sleep 2
artifacts/bin/LibraryBench/release/Sandbox2.LaunchBench "$LIB_RUNS" "$OUT/library.json" >&2

python3 - "$OUT/hyperfine.json" "$OUT/library.json" <<'PY'
import json, sys
rows = [(r["command"], r["median"] * 1000, r["mean"] * 1000, r["stddev"] * 1000) for r in json.load(open(sys.argv[1]))["results"]]
lib = json.load(open(sys.argv[2]))
bwrap = next(m for c, m, _, _ in rows if c.startswith("bwrap"))
print(f"{'command':45} {'median ms':>10} {'vs bwrap':>9}   notes")
for c, median, mean, sd in rows:
    print(f"{c:45} {median:10.2f} {median / bwrap:8.2f}x   mean {mean:.2f} +- {sd:.2f} ms")
print(f"{'library, RunAsync of /bin/true (in-process)':45} {lib['medianMs']:10.2f} {lib['medianMs'] / bwrap:8.2f}x   "
      f"p90 {lib['p90Ms']:.2f} ms, min {lib['minMs']:.2f}, max {lib['maxMs']:.2f}, first (cold) {lib['firstMs']:.2f} ms, n={lib['runs']}")
print(f"{'library, same without a cgroup (rlimits only)':45} {lib['noCgroupMedianMs']:10.2f} {lib['noCgroupMedianMs'] / bwrap:8.2f}x   "
      f"cgroup ({lib['cgroup'] or 'none'}) costs {lib['cgroupCostMs']:.3f} ms median; its own work alone {lib['cgroupOpsMedianMs']:.3f} ms")
PY
