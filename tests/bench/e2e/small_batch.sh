#!/usr/bin/env bash
# Small windows and low credit (issue 16): e2e_bench in the shapes of the side-by-side peers
# harness (../shared/peers), for --fsync always, interval:1000 and --storage memory, as one
# table of msgs/s, broker CPU per message (all its threads, the timed part only), broker peak
# RSS, journal syncs and reactor passes per message; then the floor: a bare DEALER<->ROUTER
# ping-pong over loopback.
#   tests/bench/e2e/small_batch.sh            # from the project root, after a Release build
# Env: BIN (build/release/bin), N (messages per run, 50000), REPS (runs per cell, median; 1),
#      SHAPES / MODES (subsets, by the names below).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BIN=${BIN:-$root/build/release/bin}
N=${N:-50000}
REPS=${REPS:-1}
SHAPES=${SHAPES:-"credit1 credit64 consume1 w1000x1 w1000x100"}
MODES=${MODES:-"always interval memory"}
for b in e2e_bench zmq_pingpong mandrill-broker; do
  [ -x "$BIN/$b" ] || { echo "small_batch: $BIN/$b missing (cmake --build build/release)" >&2; exit 1; }
done

shape_flags() {
  case $1 in
    credit1) echo "--credit 1 --window 64 --batch 1" ;;
    credit64) echo "--credit 64 --window 64 --batch 1" ;;
    consume1) echo "--credit 1 --window 64 --batch 1 --consume-only on" ;;
    w1000x1) echo "--credit 256 --window 1000 --batch 1" ;;
    w1000x100) echo "--credit 256 --window 1000 --batch 100" ;;
  esac
}
shape_name() {
  case $1 in
    credit1) echo "credit 1, window 64, 1/frame" ;;
    credit64) echo "credit 64, window 64, 1/frame" ;;
    consume1) echo "consume-only, credit 1" ;;
    w1000x1) echo "window 1000, credit 256, 1/frame" ;;
    w1000x100) echo "window 1000, credit 256, 100/frame" ;;
  esac
}
mode_flags() {
  case $1 in
    always) echo "--storage journal --fsync always" ;;
    interval) echo "--storage journal --fsync interval:1000" ;;
    memory) echo "--storage memory" ;;
  esac
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "small_batch: nproc=$(nproc) N=$N REPS=$REPS $(date -u +%FT%TZ)"
printf '| %-34s | %-8s | %9s | %11s | %9s | %8s | %10s |\n' shape storage "msgs/s" "CPU us/msg" \
  "RSS MB" syncs "passes/msg"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" ---------- ----------: \
  -------------: -----------: ----------: ------------:
for shape in $SHAPES; do
  for mode in $MODES; do
    rates=() cpus=() rss=() syncs=() passes=()
    for ((r = 0; r < REPS; r++)); do
      # shellcheck disable=SC2046
      out=$("$BIN/e2e_bench" --messages "$N" $(shape_flags "$shape") \
        --broker-flags "$(mode_flags "$mode")" 2>&1) || { echo "$out" >&2; exit 1; }
      rates+=("$(sed -nE 's/.*\]: ([0-9]+) messages\/s.*/\1/p' <<<"$out")")
      cpus+=("$(sed -nE 's/.*= ([0-9.]+) us per message.*/\1/p' <<<"$out")")
      rss+=("$(sed -nE 's/.*peak RSS ([0-9.]+) MB.*/\1/p' <<<"$out")")
      syncs+=("$(sed -nE 's/.*journal syncs (-?[0-9]+).*/\1/p' <<<"$out")")
      passes+=("$(sed -nE 's/.*; ([0-9.]+) reactor passes per message.*/\1/p' <<<"$out")")
    done
    s=$(printf '%s\n' "${syncs[@]}" | median)
    [ "$mode" = memory ] && s="-"
    printf '| %-34s | %-8s | %9s | %11s | %9s | %8s | %10s |\n' "$(shape_name "$shape")" "$mode" \
      "$(printf '%s\n' "${rates[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" \
      "$(printf '%s\n' "${rss[@]}" | median)" "$s" "$(printf '%s\n' "${passes[@]}" | median)"
  done
done
echo
echo "floor: a bare libzmq ROUTER echoing 2 DEALER clients (one request in flight each), loopback:"
"$BIN/zmq_pingpong" --clients 2 --round-trips "$N" | sed 's/^/  /'
