#!/usr/bin/env bash
# The C++ SDK from outside the tree: `cmake --install` this build into a temp root, build
# tests/sdk/example (its own worker with a `digest` handler, and a publisher) against it with
# find_package(Mandrill), and run both against the installed mandrill-broker on a free loopback
# port: every message confirmed, every one digested and acked, a poison message nacked and
# redelivered, and the worker's SIGTERM drain exits 0.
#   out_of_tree_test.sh --build BUILD_DIR --prefix INSTALL_PREFIX [--timeout-scale N]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="" prefix="" scale=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --timeout-scale) scale=$2; shift 2 ;;
    *) echo "usage: $0 --build DIR --prefix PREFIX [--timeout-scale N]" >&2; exit 64 ;;
  esac
done
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do [ -f "$f" ] && tail -20 "$f" >&2; done; exit 1; }
# until SECONDS CMD...: CMD succeeds within SECONDS (scaled), else false.
until_ok() {
  local end=$((SECONDS + $1 * scale)); shift
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}

DESTDIR="$tmp/root" cmake --install "$build" >/dev/null
root="$tmp/root$prefix"
for f in bin/mandrill-broker include/mandrill/worker/worker_main.h \
         include/mandrill/publisher/publish_client.h; do
  [ -e "$root/$f" ] || fail "not installed: $prefix/$f"
done
# lib/ or, for prefix /usr on Debian, lib/x86_64-linux-gnu/
[ -n "$(find "$root" -path '*/cmake/Mandrill/MandrillConfig.cmake')" ] ||
  fail "not installed: the CMake package (cmake/Mandrill/MandrillConfig.cmake)"
# Nothing private: the SDK ships the public headers and what they include, not the broker's.
[ ! -e "$root/include/mandrill/broker" ] || fail "broker headers were installed"

cmake -S "$here/example" -B "$tmp/example" -DCMAKE_PREFIX_PATH="$root" >"$tmp/configure.log" 2>&1 ||
  fail "configure against the installed SDK: $(tail -5 "$tmp/configure.log")"
cmake --build "$tmp/example" -j "$(nproc)" >"$tmp/build.log" 2>&1 ||
  fail "build against the installed SDK: $(grep -m5 error "$tmp/build.log")"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ep="tcp://127.0.0.1:$port"
ctl() { "$root/bin/mandrill-ctl" --broker "$ep" --timeout 2s "$@"; }
"$root/bin/mandrill-broker" --bind "$ep" --data-dir "$tmp/data" --max-deliveries 3 \
  --log-file "$tmp/broker.log" &
pids+=($!)
until_ok 30 ctl stats >/dev/null 2>&1 || fail "the broker did not answer on $ep"

out=$("$tmp/example/digest-publish" "$ep" digests 200) || fail "digest-publish: $out"
[ "$out" = "confirmed 200 of 200" ] || fail "digest-publish said: $out"

# The handler's own setting, and its factory's refusal of a key it does not know (exit 64).
code=0
"$tmp/example/digest-worker" --broker "$ep" --handler digest --handler-arg colour=red \
  >"$tmp/refused.log" 2>&1 || code=$?
[ "$code" = 64 ] && grep -q "unknown --handler-arg colour" "$tmp/refused.log" ||
  fail "an unknown --handler-arg was not refused with 64 (exit $code): $(cat "$tmp/refused.log")"
"$tmp/example/digest-worker" --broker "$ep" --queue digests --handler digest \
  --handler-arg out="$tmp/digests.txt" --concurrency 16 --retry-initial 50ms --log-file "$tmp/worker.log" &
worker=$!
pids+=($worker)
digested() { [ -f "$tmp/digests.txt" ] && [ "$(cut -d' ' -f1 "$tmp/digests.txt" | sort -u | wc -l)" -ge "$1" ]; }
until_ok 60 digested 200 || fail "the SDK worker digested $(wc -l <"$tmp/digests.txt" 2>/dev/null || echo 0) of 200"

# A handler's exception is a nack with backoff: the poison message comes back (attempt 2, 3),
# then goes to the dead-letter queue after --max-deliveries 3.
out=$("$tmp/example/digest-publish" "$ep" poison-q 1 poison) || fail "publish to poison-q: $out"
kill -TERM "$worker"
wait "$worker" || fail "the SDK worker's drain exited $?"
"$tmp/example/digest-worker" --broker "$ep" --queue poison-q \
  --handler digest --handler-arg out="$tmp/poison.txt" --retry-initial 20ms --log-file "$tmp/worker2.log" &
worker=$!
pids+=($worker)
dead() { ctl stats --json | python3 -c '
import json, sys
q = {q["name"]: q for q in json.load(sys.stdin)["queues"]}
sys.exit(0 if q.get("poison-q", {}).get("dead", 0) == 1 else 1)'; }
# The handler throws before it writes anything, so only the DLQ shows the three attempts.
until_ok 60 dead || fail "the poison message is not dead-lettered: $(ctl stats --json)"
ctl dlq list poison-q | grep -q "poison payload" || fail "the dead letter lacks the handler's error: $(ctl dlq list poison-q)"
kill -TERM "$worker"
wait "$worker" || fail "the second SDK worker's drain exited $?"

acked=$(ctl stats --json | python3 -c '
import json, sys
print(sum(q.get("acked", 0) for q in json.load(sys.stdin)["queues"] if q["name"] == "digests"))')
[ "$acked" = 200 ] || fail "the broker counted $acked acks on digests, not 200"
echo "sdk out-of-tree: installed under $prefix, built the example, an unknown --handler-arg refused (64), 200 confirmed, 200 digested and acked, poison dead-lettered after 3 attempts"
