#!/usr/bin/env bash
# Cells (issue 14): aggregate throughput and CPU per message with 1, 2 and 3 cells on this host,
# through the real executables. For each cell count: N brokers (journal, --fsync FSYNC), one
# mandrill-publish --cells publishing M messages of 100 bytes, WORKERS mandrill-worker --cells
# (noop handler) consuming them; timed from the first publish to the last ack (every cell's
# queue empty, acked = M). Prints msgs/s end to end, the publisher's own rate, and the CPU per
# message of all brokers together and of the whole fleet (brokers + publisher + workers: user +
# sys from /proc), and nproc. On a host with fewer cores than processes the cells share them, so
# what this shows on a laptop is the per-message cost of a cell, not the scaling across hosts
# (docs/broker.md, Cells, turns these figures into a capacity model).
#   tests/bench/e2e/cells.sh                 # from the project root, after a Release build
# Env: BIN (build/release/bin), M (messages, 200000), CELLS ("1 2 3"), WORKERS (2),
#      CONCURRENCY (64), FSYNC (interval:1000), WINDOW (1000), BATCH (100).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BIN=${BIN:-$root/build/release/bin}
M=${M:-200000}
CELLS=${CELLS:-"1 2 3"}
WORKERS=${WORKERS:-2}
CONCURRENCY=${CONCURRENCY:-64}
FSYNC=${FSYNC:-interval:1000}
WINDOW=${WINDOW:-1000}
BATCH=${BATCH:-100}
for b in mandrill-broker mandrill-publish mandrill-worker mandrill-ctl; do
  [ -x "$BIN/$b" ] || { echo "cells: $BIN/$b missing (cmake --build build/release)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/mandrill-cells-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() {  # PID: utime+stime in clock ticks (0 once gone)
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
acked_total() {  # sum of acked over the cells; empty if one did not answer
  local sum=0 a
  for ep in "${endpoints[@]}"; do
    a=$("$BIN/mandrill-ctl" --broker "$ep" --timeout 2s stats 2>/dev/null |
        awk '$1=="bench"{print $7}') || return 1
    sum=$((sum + ${a:-0}))
  done
  echo "$sum"
}

hz=$(getconf CLK_TCK)
printf 'cells bench: nproc %s, %s messages of 100 B, %s workers x concurrency %s, --fsync %s, window %s, %s/frame\n' \
  "$(nproc)" "$M" "$WORKERS" "$CONCURRENCY" "$FSYNC" "$WINDOW" "$BATCH"
printf '%-6s %12s %14s %18s %18s\n' cells "msgs/s e2e" "publish msgs/s" "brokers us/msg" "fleet us/msg"
for n in $CELLS; do
  run="$work/$n"
  mkdir -p "$run"
  endpoints=()
  brokers=()
  : > "$run/cells"
  for k in $(seq 1 "$n"); do
    port=$(free_port)
    ep="tcp://127.0.0.1:$port"
    endpoints+=("$ep")
    echo "cell-$k $ep" >> "$run/cells"
    "$BIN/mandrill-broker" --bind "$ep" --data-dir "$run/data-$k" --fsync "$FSYNC" \
      --log-level warn > "$run/cell-$k.log" 2>&1 &
    brokers+=($!)
    pids+=($!)
  done
  for ep in "${endpoints[@]}"; do
    for _ in $(seq 1 100); do acked_total > /dev/null && break; sleep 0.1; done
  done
  workers=()
  for w in $(seq 1 "$WORKERS"); do
    "$BIN/mandrill-worker" --cells "$run/cells" --queue bench --handler noop \
      --concurrency "$CONCURRENCY" --name "w$w" --log-level warn > "$run/w$w.log" 2>&1 &
    workers+=($!)
    pids+=($!)
  done
  before=0
  for p in "${brokers[@]}" "${workers[@]}"; do before=$((before + $(cpu_ticks "$p"))); done
  broker_before=0
  for p in "${brokers[@]}"; do broker_before=$((broker_before + $(cpu_ticks "$p"))); done
  start=$(date +%s%N)
  "$BIN/mandrill-publish" --cells "$run/cells" --queue bench --count "$M" --payload-bytes 100 \
    --window "$WINDOW" --batch "$BATCH" --json-summary > "$run/publish.json" 2> "$run/publish.log" &
  pub=$!
  pids+=($pub)
  pub_ticks=0
  while kill -0 "$pub" 2>/dev/null; do
    t=$(cpu_ticks "$pub"); [ "$t" -gt 0 ] && pub_ticks=$t
    sleep 0.05
  done
  wait "$pub" || { echo "cells: publisher failed:" >&2; tail -3 "$run/publish.log" >&2; exit 1; }
  for _ in $(seq 1 1200); do
    [ "$(acked_total || echo 0)" -ge "$M" ] && break
    sleep 0.05
  done
  end=$(date +%s%N)
  [ "$(acked_total || echo 0)" -ge "$M" ] || { echo "cells: not every message was acked" >&2; exit 1; }
  after=0
  for p in "${brokers[@]}" "${workers[@]}"; do after=$((after + $(cpu_ticks "$p"))); done
  broker_after=0
  for p in "${brokers[@]}"; do broker_after=$((broker_after + $(cpu_ticks "$p"))); done
  pub_rate=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["rate"]))' "$run/publish.json")
  python3 - "$n" "$M" "$start" "$end" "$pub_rate" "$hz" "$broker_before" "$broker_after" \
    "$before" "$after" "$pub_ticks" <<'EOF'
import sys
n, m, start, end, pub_rate, hz, bb, ba, b, a, pt = sys.argv[1:]
m = int(m); hz = int(hz)
secs = (int(end) - int(start)) / 1e9
brokers_us = (int(ba) - int(bb)) / hz / m * 1e6
fleet_us = ((int(a) - int(b)) + int(pt)) / hz / m * 1e6
print(f"{n:<6} {m / secs:12,.0f} {int(pub_rate):14,} {brokers_us:18.2f} {fleet_us:18.2f}")
EOF
  for p in "${workers[@]}" "${brokers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${workers[@]}" "${brokers[@]}"; do wait "$p" 2>/dev/null || true; done
done
