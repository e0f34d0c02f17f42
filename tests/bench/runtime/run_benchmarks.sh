#!/usr/bin/env bash
# Runs the runtime benchmarks (C++, Release build) and their asyncio equivalents and prints them
# side by side with the machine's core count.
# Usage: tests/bench/runtime/run_benchmarks.sh [build-dir]   (default: build-bench, configured
#        and built here as Release without sanitizers if it does not exist)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build-bench}
find_bench() { find "$build" -name runtime_bench -type f -perm -u+x 2>/dev/null | head -n 1; }
bench=$( [ -d "$build" ] && find_bench || true)
if [ -z "$bench" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMANDRILL_SANITIZE= >/dev/null
  cmake --build "$build" --target runtime_bench -j"$(nproc)" >/dev/null
  bench=$(find_bench)
fi
cpp=$("$bench")
py=$(python3 "$here/asyncio_bench.py")
echo "nproc: $(nproc)   C++: $bench   Python: $(python3 --version)"
python3 - "$cpp" "$py" <<'PY'
import sys
cpp = dict(l.split() for l in sys.argv[1].splitlines())
py = dict(l.split() for l in sys.argv[2].splitlines())
rows = [  # name, unit, higher is better, target
    ("spawn_steady_ns_per_task", "ns/task", False, "<= 200 ns"),
    ("spawn_burst_ns_per_task", "ns/task", False, ""),
    ("post_callbacks_per_s", "cb/s", True, ">= 5,000,000/s"),
    ("wake_p50_us", "us", False, ""),
    ("wake_p99_us", "us", False, "<= 50 us"),
    ("timers_insert_ns", "ns/timer", False, ""),
    ("timers_insert_fire_ns", "ns/timer", False, ""),
]
print(f"{'benchmark':28} {'C++':>14} {'asyncio':>14} {'x asyncio':>10}  target (and >= 20x asyncio)")
for name, unit, higher, target in rows:
    c, p = float(cpp[name]), float(py[name])
    ratio = c / p if higher else p / c
    print(f"{name:28} {c:>14,.1f} {p:>14,.1f} {ratio:>9.1f}x  {target}")
PY
