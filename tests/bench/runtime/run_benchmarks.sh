#!/usr/bin/env bash
# Runs the runtime benchmarks (C++, Release build) and their asyncio equivalents RUNS times each
# (default 5, alternating C++ and Python so both see the same machine load) and prints the median
# of each figure side by side with its spread and the machine's core count.
# Usage: tests/bench/runtime/run_benchmarks.sh [build-dir] [benchmark...]
#        (build-dir default: build-bench, configured and built here as Release without
#        sanitizers if it does not exist; benchmarks: spawn post wake timers, default all)
#        RUNS=N sets the number of runs. BASELINE=/path/to/an/older/runtime_bench adds its
#        medians as a "before" column (run in the same rotation).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build-bench}
shift || true
runs=${RUNS:-5}
baseline=${BASELINE:-}
find_bench() { find "$build" -name runtime_bench -type f -perm -u+x 2>/dev/null | head -n 1; }
bench=$( [ -d "$build" ] && find_bench || true)
if [ -z "$bench" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMANDRILL_SANITIZE= >/dev/null
  cmake --build "$build" --target runtime_bench -j"$(nproc)" >/dev/null
  bench=$(find_bench)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((i = 1; i <= runs; i++)); do
  if [ -n "$baseline" ]; then "$baseline" "$@" >"$out/base.$i"; fi
  "$bench" "$@" >"$out/cpp.$i"
  python3 "$here/asyncio_bench.py" "$@" >"$out/py.$i"
done
echo "nproc: $(nproc)   runs: $runs (median [min-max])   load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "C++: $bench   Python: $(python3 --version)${baseline:+   before: $baseline}"
python3 - "$out" "$runs" <<'PY'
import statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
import os
def load(prefix):
    vals = {}
    for i in range(1, runs + 1):
        if not os.path.exists(f"{out}/{prefix}.{i}"):
            return vals
        for line in open(f"{out}/{prefix}.{i}"):
            k, v = line.split()
            vals.setdefault(k, []).append(float(v))
    return vals
cpp, py, base = load("cpp"), load("py"), load("base")
rows = [  # name, higher is better, target
    ("spawn_steady_ns_per_task", False, "<= 200 ns"),
    ("spawn_steady_cpu_ns_per_task", False, ""),
    ("spawn_burst_ns_per_task", False, ""),
    ("spawn_burst_cpu_ns_per_task", False, ""),
    ("spawn_burst_cold_ns_per_task", False, "(first round)"),
    ("post_callbacks_per_s", True, ">= 5,000,000/s"),
    ("wake_p50_us", False, ""),
    ("wake_p99_us", False, "<= 50 us"),
    ("wake_floor_p50_us", False, "bare epoll_wait + eventfd (kernel floor)"),
    ("wake_floor_p99_us", False, "bare epoll_wait + eventfd (kernel floor)"),
    ("timers_insert_ns", False, ""),
    ("timers_insert_fire_ns", False, ""),
    ("timers_insert_fire_cpu_ns", False, ""),
]
def fmt(v):
    return f"{statistics.median(v):,.1f} [{min(v):,.0f}-{max(v):,.0f}]"
before = f" {'C++ before':>28}" if base else ""
print(f"{'benchmark':30}{before} {'C++':>28} {'asyncio':>30} {'x asyncio':>9}  "
      "target (and >= 20x asyncio)")
for name, higher, target in rows:
    if name not in cpp:
        continue
    b = f" {fmt(base[name]) if name in base else '-':>28}" if base else ""
    if name not in py:  # a C++-only reference figure
        print(f"{name:30}{b} {fmt(cpp[name]):>28} {'-':>30} {'':>9}  {target}")
        continue
    c, p = statistics.median(cpp[name]), statistics.median(py[name])
    ratio = c / p if higher else p / c
    print(f"{name:30}{b} {fmt(cpp[name]):>28} {fmt(py[name]):>30} {ratio:>8.1f}x  {target}")
PY
