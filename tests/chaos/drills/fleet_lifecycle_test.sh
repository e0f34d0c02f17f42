#!/usr/bin/env bash
# ctest chaos.fleet_lifecycle: deploy/fleet up 2 / up again (idempotent) / scale 3 / scale 1 /
# restart / status with stale pid files / down, against this build's binaries; checks the
# processes at each step and that nothing of the run dir is left, and that a process the fleet
# did not start (named by a forged pid file) is never signalled.
#   fleet_lifecycle_test.sh --bin DIR --run-dir DIR [--timeout-scale N]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
start_reaper

fleet() { timeout -k 10 $(( 60 * SCALE )) "$ROOT/deploy/fleet" --run-dir "$RUN" --bin "$BIN" "$@"; }
bystander=""
cleanup() {
  local rc=$?
  fleet down >/dev/null 2>&1 || true
  [ -n "$bystander" ] && kill "$bystander" 2>/dev/null
  exit $rc
}
trap cleanup EXIT

alive() { local n; n=$(fleet status 2>/dev/null | awk '$3=="yes"{print $1}' | tr '\n' ' '); echo "${n% }"; }
running() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) && [[ ${s##*) } != [ZX]* ]]; }  # zombies are gone
pid_of() { cut -d' ' -f1 "$RUN/pids/$1.pid"; }
expect_alive() {
  local got; got=$(alive)
  [ "$got" = "$1" ] || fail "after $2: expected running '$1', got '$got'"
  echo "ok: $2 -> $got"
}
workers_listed() {
  "$BIN/mandrill-ctl" --broker "$FLEET_ADMIN_EP" "${ADMIN_KEYS[@]}" stats --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))'
}

rm -rf "$RUN"/{pids,logs,ledgers,data,keys,fleet.env}
fleet up --workers 2 --grace 5s --restart-ms 1:5
eval "$(fleet env)"
# The fleet speaks CURVE (issue 12): clients need their keys, and a client without any gets
# no answer.
[ -n "$FLEET_KEYS" ] && [ -f "$FLEET_KEYS/auth" ] || fail "up made no CURVE keys"
ADMIN_KEYS=(--key "$FLEET_KEYS/admin.key" --broker-key "$FLEET_KEYS/broker.pub")
PUB_KEYS=(--key "$FLEET_KEYS/publisher.key" --broker-key "$FLEET_KEYS/broker.pub")
if "$BIN/mandrill-ctl" --broker "$FLEET_ADMIN_EP" --timeout 1s stats >/dev/null 2>&1; then
  fail "a mandrill-ctl without keys was answered"
fi
echo "ok: a client without keys gets no answer"
expect_alive "broker worker-1 worker-2" "up --workers 2"
[ "$(workers_listed)" = 2 ] || fail "the broker lists $(workers_listed) workers, not 2"
first_broker=$(pid_of broker)

fleet up --workers 2
[ "$(pid_of broker)" = "$first_broker" ] || fail "a second 'up' restarted the broker"
expect_alive "broker worker-1 worker-2" "up again (idempotent)"

fleet scale 3
expect_alive "broker worker-1 worker-2 worker-3" "scale 3"

# The fleet does real work: 200 messages, all acked.
"$BIN/mandrill-publish" --broker "$FLEET_ADMIN_EP" "${PUB_KEYS[@]}" --queue restarts --count 200 --give-up 30s >/dev/null
for _ in $(seq $(( 100 * SCALE ))); do
  acked=$("$BIN/mandrill-ctl" --broker "$FLEET_ADMIN_EP" "${ADMIN_KEYS[@]}" stats --json |
    python3 -c 'import json,sys; print(sum(q["acked"] for q in json.load(sys.stdin)["queues"]))')
  [ "$acked" -ge 200 ] && break
  sleep 0.2
done
[ "$acked" -ge 200 ] || fail "only $acked of 200 messages acked"
echo "ok: 200 messages published and acked"

w3=$(pid_of worker-3)
fleet scale 1 2>&1 | tee "$RUN/scale.txt"
expect_alive "broker worker-1" "scale 1"
grep -q SIGKILL "$RUN/scale.txt" && fail "scale 1 had to SIGKILL a worker instead of draining it"
running "$w3" && fail "worker-3 (pid $w3) still runs"

w1=$(pid_of worker-1)
fleet restart worker-1
[ "$(pid_of worker-1)" != "$w1" ] || fail "restart kept the old worker-1"
expect_alive "broker worker-1" "restart worker-1"

# A pid file naming a process the fleet did not start, and one naming no process at all:
# status reports both stale and removes them; down never signals the bystander.
sleep 600 &
bystander=$!
echo "$bystander $(awk '{print $22}' /proc/$bystander/stat) $RUN/logs/worker-7.log" >"$RUN/pids/worker-7.pid"
echo "4194000 12345 $RUN/logs/worker-8.log" >"$RUN/pids/worker-8.pid"
fleet status >"$RUN/status.txt" || fail "status failed with the broker up"
grep -q "^worker-7 .* no .*stale" "$RUN/status.txt" || fail "status did not report worker-7's pid file as stale: $(cat "$RUN/status.txt")"
[ ! -e "$RUN/pids/worker-7.pid" ] && [ ! -e "$RUN/pids/worker-8.pid" ] || fail "stale pid files were kept"
echo "$bystander $(awk '{print $22}' /proc/$bystander/stat) $RUN/logs/worker-7.log" >"$RUN/pids/worker-7.pid"

fleet down
report_sanitizers
running "$bystander" || fail "down signalled a process it did not start (pid $bystander)"
left=$(leftovers)
[ -z "$left" ] || fail "processes left after down: $left"
ls "$RUN"/pids/*.pid >/dev/null 2>&1 && fail "pid files left after down: $(ls "$RUN/pids")"
fleet status >/dev/null 2>&1 && fail "status says the fleet is up after down"
fleet down   # idempotent
echo "PASS: fleet up / scale / restart / down left nothing behind"
