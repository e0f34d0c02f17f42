#!/usr/bin/env bash
# ctest chaos.mayhem_cells: a seeded deploy/mayhem --cells 3 drill of under a minute and a half
# against this build's binaries: 4,000 messages at 100/s while cells are SIGKILLed (each down
# 2.5-5 s, longer than the publisher's 2 s --cell-failover, never all at once) and workers are
# killed. Passes on "LOST 0" with exit 0 (which includes the publisher's longest stall staying
# below --cell-failover + 3 s), at least one cell kill and at least one message the publisher
# moved to another cell. Prints SKIP (ctest: skipped) while mandrill-worker has no --cells.
#   mayhem_cells_test.sh --bin DIR --run-dir DIR [--timeout-scale N]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
start_reaper

if ! "$BIN/mandrill-worker" --help 2>/dev/null | grep -q -- '--cells'; then
  echo "SKIP cells drill: $BIN/mandrill-worker has no --cells option yet"
  exit 0
fi

# Seed 4343: 5 cell kills (cell-1 three times, cell-2, cell-3), 6 worker SIGKILLs, 1 SIGTERM.
args=(--seed 4343 --bin "$BIN" --run-dir "$RUN" --timeout-scale "$SCALE" --grace 5s --cells 3
      --messages 4000 --rate 100 --interval-ms 2000 --workers 3 --min-workers 3 --max-workers 4
      --cell-failover 2s --stall-margin 3s)

out="$RUN.out"
set +e
timeout -k 20 200 "$ROOT/deploy/mayhem" "${args[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

report_sanitizers
left=$(leftovers)
[ -z "$left" ] || fail "processes left behind by the drill: $left"
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "the drill did not finish within 200 s"
verdict=$(grep '^mayhem: LOST ' "$out" | tail -1)
[ -n "$verdict" ] || fail "no verdict line (exit $rc)"
[[ $verdict == "mayhem: LOST 0 "* ]] || fail "messages were lost: $verdict"
[ $rc -eq 0 ] || fail "the drill was inconclusive (exit $rc): $(grep INCONCLUSIVE "$out" | tr '\n' ' ')"
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' <<<"$verdict"; }
[ "$(field CELL_KILLS)" -ge 1 ] 2>/dev/null || fail "no cell was killed: $verdict"
[ "$(field MOVED)" -ge 1 ] 2>/dev/null || fail "no message moved to another cell while one was down: $verdict"
echo "PASS: $verdict"
