#!/usr/bin/env bash
# deploy/k8s/cell-map and deploy/k8s/deletion-cost, without a cluster: the map's shape for
# other counts, --draining and refused arguments; the cost buckets of a worker's /metrics text.
# `ok` cannot fail, so `A && ok || bad` is an if-else here:
# shellcheck disable=SC2015
set -uo pipefail
dir=${1:?usage: scripts_test.sh DEPLOY_K8S_DIR}
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# section KEY: the cell lines under data.KEY of a cell-map output on stdin
section() { awk -v key="  $1: |" '$0 == key {on = 1; next} /^  [^ ]/ {on = 0} on && NF' ; }

out=$("$dir/cell-map" --cells 5 --namespace prod --draining 2)
[ "$(section cells <<<"$out" | wc -l)" -eq 5 ] && ok || bad "--cells 5: not 5 cells"
[ "$(section publish <<<"$out" | wc -l)" -eq 3 ] && ok || bad "--draining 2: publish does not hold 3 cells"
section publish <<<"$out" | grep -q mandrill-broker-3 && bad "--draining 2: cell 3 still in publish" || ok
section cells <<<"$out" | grep -q '^    mandrill-broker-4 tcp://mandrill-broker-4.mandrill-broker.prod.svc.cluster.local:5555 /run/mandrill/keys/broker.pub$' &&
  ok || bad "cell 4's line: $(section cells <<<"$out" | tail -1)"
[ "$("$dir/cell-map" --no-keys | section cells | awk '{print NF}' | sort -u)" = 2 ] && ok || bad "--no-keys: lines keep a key column"
for args in "--cells 0" "--cells 3 --draining 3" "--namespace Bad_NS" "--bogus"; do
  # shellcheck disable=SC2086
  "$dir/cell-map" $args >/dev/null 2>&1
  [ $? -eq 64 ] && ok || bad "cell-map $args: not refused with 64"
done

metrics() { printf '# TYPE mandrill_worker_messages_in_flight gauge\nmandrill_worker_messages_in_flight{worker="w-1"} %s\nmandrill_worker_messages_in_flight_other 99\n' "$1"; }
for pair in 0:0 1:1 3:2 4:3 16:5 100:7; do
  got=$(metrics "${pair%%:*}" | sh "$dir/deletion-cost" --bucket)
  [ "$got" = "${pair#*:}" ] && ok || bad "deletion-cost: ${pair%%:*} in flight gave cost $got, expected ${pair#*:}"
done

echo "k8s-scripts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
