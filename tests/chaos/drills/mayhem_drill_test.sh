#!/usr/bin/env bash
# ctest chaos.mayhem_drill / chaos.mayhem_partition: a seeded deploy/mayhem drill of about a
# minute against this build's binaries; passes on "LOST 0" with exit 0. Broker kills are
# included when the broker has a journal (mayhem's --broker-kills auto says which).
#   mayhem_drill_test.sh --bin DIR --run-dir DIR [--timeout-scale N] [--partition]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
start_reaper

args=(--seed 4242 --bin "$BIN" --run-dir "$RUN" --timeout-scale "$SCALE" --grace 5s)
if [[ " ${EXTRA[*]:-} " == *" --partition "* ]]; then
  # 3,000 at 100/s: the cut (lease 5 s + 3 s) starts at +9 s and ends at +17 s.
  args+=(--partition --messages 3000 --rate 100 --workers 4)
else
  # 5,000 at 100/s: ~50 s of publishing with an event every ~2.5 s, then the drain.
  args+=(--messages 5000 --rate 100 --interval-ms 2500 --workers 3 --min-workers 2 --max-workers 5)
fi

out="$RUN.out"
set +e
timeout -k 20 250 "$ROOT/deploy/mayhem" "${args[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

report_sanitizers
left=$(leftovers)
[ -z "$left" ] || fail "processes left behind by the drill: $left"
if [ -f "$RUN/netns.txt" ]; then
  fail "network namespaces left behind: $(tr '\n' ' ' <"$RUN/netns.txt")"
fi
grep -q '^mayhem: SKIP partition drill' "$out" && exit 0
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "the drill did not finish within 250 s"
verdict=$(grep '^mayhem: LOST ' "$out" | tail -1)
[ -n "$verdict" ] || fail "no verdict line (exit $rc)"
[[ $verdict == "mayhem: LOST 0 "* ]] || fail "messages were lost: $verdict"
[ $rc -eq 0 ] || fail "the drill was inconclusive (exit $rc): $(grep INCONCLUSIVE "$out" | tr '\n' ' ')"
echo "PASS: $verdict"
