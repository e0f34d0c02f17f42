#!/usr/bin/env bash
# ctest chaos.takeover_drill: a data dir moves between two hosts (issue 14, fencing). Two broker
# "hosts" in network namespaces share one data dir, standing in for a volume that moves, and
# clients reach "the broker" at a service address (a /32 routed to whichever host serves it, as
# a Kubernetes Service or a floating IP would be):
#   1. host A's broker serves the data dir; host B's broker, started on the same dir, must refuse
#      to start (the dir is locked) without ever binding its socket, and leave the epoch alone;
#   2. a real mandrill-worker (slow restarts, so it holds leases) and mandrill_lease_probe (holds
#      one lease and never settles it) work off host A; the publisher's messages are confirmed;
#   3. host A's broker is SIGKILLed, the service address moves to host B, host B's broker starts
#      on the dir: it must announce epoch A+1 exactly;
#   4. the probe acks its old-epoch lease: the new broker must answer LEASE_LOST (and count it in
#      broker.stale_epoch_leases); the worker must see the new epoch in WELCOME;
#   5. every confirmed message is processed: deploy/lib/verdict.py on the ledgers says LOST 0.
# Needs root and netns (prints SKIP otherwise). Everything it starts is killed by pid and every
# namespace deleted on exit, however it exits (trap), and by the reaper if it is SIGKILLed.
#   takeover_drill_test.sh --bin DIR --run-dir DIR [--timeout-scale N]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
source "$ROOT/deploy/lib/netns.sh"
MDR_PROG=takeover
source "$ROOT/deploy/lib/common.sh"

if ! why=$(netns_supported); then
  echo "takeover: SKIP takeover drill: $why"
  exit 0
fi
PROBE="$BIN/mandrill_lease_probe"
[ -x "$PROBE" ] || fail "$PROBE is not built"

# A fresh run dir; namespaces a killed earlier run recorded go first.
NETNS_RECORD="$RUN/netns.txt"
netns_remove_recorded "$NETNS_RECORD"
rm -rf "$RUN/takeover"
T="$RUN/takeover"
DATA="$T/data" LEDGERS="$T/ledgers" LOGS="$T/logs"
mkdir -p "$DATA" "$LEDGERS" "$LOGS"
start_reaper
# lib.sh's reaper deletes the recorded namespaces; this one kills what the drill started (by pid
# and start time, recorded in $T/pids.txt) if the drill itself is SIGKILLed (a ctest timeout).
PID_RECORD="$T/pids.txt"
: >"$PID_RECORD"
me_start=$(awk '{print $22}' /proc/$$/stat)
setsid bash -c '
  me=$1 start=$2 record=$3
  while [ "$(awk "{print \$22}" /proc/$me/stat 2>/dev/null)" = "$start" ]; do sleep 1; done
  while read -r pid st; do
    [ "$(awk "{print \$22}" /proc/$pid/stat 2>/dev/null)" = "$st" ] && kill -KILL "$pid" 2>/dev/null
  done <"$record"
' takeover-reaper $$ "$me_start" "$PID_RECORD" </dev/null >/dev/null 2>&1 &

PIDS=()  # every process this drill started, killed by pid on exit
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  netns_teardown
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_setup "tk$$" || fail "could not build the namespaces"
# Host A = NS_H1 (10.231.1.2), host B = NS_H2 (10.231.2.2), clients in the hub NS_B.
HOST_A=$NS_H1 HOST_B=$NS_H2 CLIENTS=$NS_B
VIP=10.231.9.9
PORT=$(( 20000 + RANDOM % 10000 ))
SERVICE="tcp://$VIP:$PORT"
serve_vip_from() {  # NS VIA: the service address lives on NS, the hub routes it via VIA
  ip -n "$1" addr add "$VIP/32" dev lo
  ip -n "$CLIENTS" route replace "$VIP/32" via "$2"
}
serve_vip_from "$HOST_A" 10.231.1.2

# run_in NS LOG PROGRAM ARGS...: starts PROGRAM in NS (output to LOG); its pid is in $LAST_PID.
run_in() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  echo "$LAST_PID $(awk '{print $22}' /proc/$LAST_PID/stat 2>/dev/null)" >>"$PID_RECORD"
}
in_log() { grep -q -- "$2" "$1" 2>/dev/null; }
wait_log() {  # SECONDS LOG NEEDLE
  wait_until $(( $1 * SCALE )) in_log "$2" "$3"
}
alive() { kill -0 "$1" 2>/dev/null; }
stats_json() { ip netns exec "$CLIENTS" "$BIN/mandrill-ctl" --broker "$SERVICE" stats --json 2>/dev/null; }
counter() { stats_json | json_get "d['counters'].get('$1', -1)"; }
queue_settled() {  # nothing of queue 'restarts' is ready, leased or deferred
  stats_json | json_get "int(all(q['ready'] == 0 and q['in_flight'] == 0 and q['deferred'] == 0 for q in d['queues'] if q['name'] == 'restarts'))" 2>/dev/null | grep -q 1
}
worker_registered() { stats_json | json_get "int(any(w['name'] == 'worker-1' for w in d['workers']))" 2>/dev/null | grep -q 1; }
leases_at_least() { [ "$(counter broker.leases 2>/dev/null || echo 0)" -ge "$1" ]; }

# Bound to the service address, which is on the serving host only (host B is refused before it
# binds: the lock comes first). --insecure: no CURVE in these private namespaces.
broker_args=(--bind "$SERVICE" --insecure --data-dir "$DATA" --storage journal --heartbeat-ms 500
             --lease-ms 30000)

# ---- 1. host A serves; host B is refused while A holds the dir ---------------------------------
run_in "$HOST_A" "$LOGS/broker-a.log" "$BIN/mandrill-broker" "${broker_args[@]}"
BROKER_A=$LAST_PID
wait_log 15 "$LOGS/broker-a.log" "listening on" || fail "host A's broker did not start: $(tail -3 "$LOGS/broker-a.log")"
EPOCH_A=$(sed -n 's/.*listening on .* (epoch \([0-9]*\),.*/\1/p' "$LOGS/broker-a.log" | tail -1)
[ -n "$EPOCH_A" ] || fail "host A's broker did not log its epoch"
say "host A ($HOST_A) serves $DATA at epoch $EPOCH_A"
epoch_file_before=$(cat "$DATA/EPOCH")

run_in "$HOST_B" "$LOGS/broker-b-refused.log" "$BIN/mandrill-broker" "${broker_args[@]}"
refused=$LAST_PID
wait_until $(( 15 * SCALE )) bash -c "! kill -0 $refused 2>/dev/null" ||
  fail "host B's broker is running on a data dir host A holds"
set +e; wait "$refused"; refused_rc=$?; set -e
[ $refused_rc -ne 0 ] || fail "host B's refused broker exited 0"
in_log "$LOGS/broker-b-refused.log" "in use" || fail "host B's broker did not say the dir is in use: $(tail -3 "$LOGS/broker-b-refused.log")"
! in_log "$LOGS/broker-b-refused.log" "listening on" || fail "the refused broker bound its socket"
[ "$(cat "$DATA/EPOCH")" = "$epoch_file_before" ] || fail "the refused broker changed the epoch file"
say "host B ($HOST_B) refused while A holds the dir (exit $refused_rc): $(grep -o 'data dir in use.*\|in use.*' "$LOGS/broker-b-refused.log" | head -1)"

# ---- 2. a worker and the probe hold leases; confirmed messages ----------------------------------
run_in "$CLIENTS" "$LOGS/worker-1.stderr" "$BIN/mandrill-worker" --broker "$SERVICE" --queue restarts \
  --concurrency 3 --restart-ms 2000:3000 --ledger "$LEDGERS/worker-1.db" --name worker-1 \
  --heartbeat-ms 500 --reconnect-max 500ms --grace 10s --log-file "$LOGS/worker-1.log"
WORKER=$LAST_PID
wait_until $(( 15 * SCALE )) worker_registered || fail "the worker did not register: $(tail -3 "$LOGS/worker-1.stderr")"
run_in "$CLIENTS" "$LOGS/probe.log" "$PROBE" --broker "$SERVICE" --queue restarts --timeout-s $(( 90 * SCALE ))
PROBE_PID=$LAST_PID
wait_log 15 "$LOGS/probe.log" "welcomed by broker" || fail "the probe was not welcomed: $(cat "$LOGS/probe.log")"

MESSAGES=20
CONFIRMED="$T/confirmed.txt"
: >"$CONFIRMED"
ip netns exec "$CLIENTS" "$BIN/mandrill-publish" --broker "$SERVICE" --queue restarts --count $MESSAGES \
  --id-prefix takeover --confirmed-out "$CONFIRMED" --give-up 20s --log-level warn \
  >"$LOGS/publisher.log" 2>&1 || fail "the publisher failed: $(tail -3 "$LOGS/publisher.log")"
[ "$(wc -l <"$CONFIRMED")" -eq $MESSAGES ] || fail "$(wc -l <"$CONFIRMED") of $MESSAGES confirmed"
wait_log 10 "$LOGS/probe.log" "holding lease" || fail "the probe holds no lease: $(cat "$LOGS/probe.log")"
wait_until $(( 10 * SCALE )) leases_at_least 3 || fail "the worker holds no leases (broker.leases $(counter broker.leases))"
held=$(counter broker.leases)
say "confirmed $MESSAGES; $held leases out at epoch $EPOCH_A ($(grep -o 'holding lease.*' "$LOGS/probe.log"))"

# ---- 3. host A's broker dies; the volume and the service address move to host B ----------------
kill_ms=$(now_ms)
kill -KILL "$BROKER_A"
wait "$BROKER_A" 2>/dev/null || true
ip -n "$HOST_A" addr del "$VIP/32" dev lo
serve_vip_from "$HOST_B" 10.231.2.2
run_in "$HOST_B" "$LOGS/broker-b.log" "$BIN/mandrill-broker" "${broker_args[@]}"
BROKER_B=$LAST_PID
wait_log 15 "$LOGS/broker-b.log" "listening on" || fail "host B's broker did not take over: $(tail -3 "$LOGS/broker-b.log")"
up_ms=$(now_ms)
EPOCH_B=$(sed -n 's/.*listening on .* (epoch \([0-9]*\),.*/\1/p' "$LOGS/broker-b.log" | tail -1)
say "SIGKILLed host A's broker; host B took over in $(( up_ms - kill_ms )) ms at epoch $EPOCH_B"
[ "$EPOCH_B" = $(( EPOCH_A + 1 )) ] || fail "epoch $EPOCH_A -> $EPOCH_B, not +1"
printf 'start_ms\tend_ms\tkind\ttarget\tin_flight\tcredit\n%s\t%s\tbroker-sigkill\tbroker-a\t%s\t%s\n' \
  "$kill_ms" "$up_ms" "$held" 4 >"$T/events.tsv"

# ---- 4. the old-epoch lease is fenced ------------------------------------------------------------
set +e
wait_until $(( 60 * SCALE )) bash -c "! kill -0 $PROBE_PID 2>/dev/null"
wait "$PROBE_PID"; probe_rc=$?
set -e
grep '^probe:' "$LOGS/probe.log" | sed 's/^/  /' >&2
[ $probe_rc -eq 0 ] || fail "the probe's old lease was not answered LEASE_LOST by a higher epoch (exit $probe_rc)"
stale=$(counter broker.stale_epoch_leases)
[ "$stale" -ge 1 ] || fail "broker.stale_epoch_leases is $stale"
# (Its log file is flushed at warnings and at exit: the WELCOME lines are read once it stopped.)
wait_log 15 "$LOGS/worker-1.log" "broker restarted" || fail "the worker did not notice the takeover: $(tail -5 "$LOGS/worker-1.log")"

# ---- 5. everything confirmed is processed: the verdict --------------------------------------------
wait_until $(( 60 * SCALE )) queue_settled || fail "the queue did not drain after the takeover"
lease_lost=$(counter broker.lease_lost)
kill -TERM "$WORKER"
wait_until $(( 20 * SCALE )) bash -c "! kill -0 $WORKER 2>/dev/null" || fail "the worker did not stop on SIGTERM"
in_log "$LOGS/worker-1.log" "welcomed by broker .* epoch $EPOCH_B " || fail "the worker's log shows no WELCOME of epoch $EPOCH_B"
say "worker-1: $(grep -o 'welcomed by broker .* epoch [0-9]*' "$LOGS/worker-1.log" | tr '\n' ';' | sed 's/;$//; s/;/, then /')"
say "worker-1: $(grep -o 'Totals.*\|lease lost [0-9]*' "$LOGS/worker-1.log" | tail -1)"
ip netns exec "$CLIENTS" "$BIN/mandrill-ctl" --broker "$SERVICE" dlq list restarts --json >"$T/dlq.json" 2>/dev/null || : >"$T/dlq.json"
kill -TERM "$BROKER_B"
wait_until $(( 20 * SCALE )) bash -c "! kill -0 $BROKER_B 2>/dev/null" || fail "host B's broker did not stop on SIGTERM"

set +e
python3 "$ROOT/deploy/lib/verdict.py" --confirmed "$CONFIRMED" --ledgers "$LEDGERS" --dlq "$T/dlq.json" \
  --events "$T/events.tsv" --window-ms $(( 5000 * SCALE )) --seconds $(( ($(now_ms) - kill_ms) / 1000 )) \
  --out "$T/lost.txt" >"$T/verdict.txt"
verdict_rc=$?
set -e
sed 's/^mayhem: /takeover: /' "$T/verdict.txt"
verdict=$(grep '^mayhem: LOST ' "$T/verdict.txt" | tail -1 | sed 's/^mayhem: //')
[ -n "$verdict" ] || fail "no verdict (verdict.py exit $verdict_rc)"
say "epoch $EPOCH_A -> $EPOCH_B; stale-epoch leases answered LEASE_LOST: $stale (broker.lease_lost $lease_lost)"
[[ $verdict == "LOST 0"* ]] && [ $verdict_rc -eq 0 ] || fail "$verdict"
echo "PASS: takeover: $verdict"
