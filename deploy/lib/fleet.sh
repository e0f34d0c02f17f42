# shellcheck shell=bash
# The fleet's process bookkeeping (sourced by deploy/fleet, deploy/mayhem, deploy/demo).
#
# A run dir holds everything of one fleet:
#   fleet.env            settings written by `up` (bash, sourced by every later command)
#   pids/NAME.pid        "PID STARTTIME MARKER" — MARKER is an argument only that process has
#   logs/NAME.log        stdout, stderr and --log-file of NAME
#   ledgers/NAME.db      each worker's SQLite ledger
#   data/                the broker's --data-dir (with cells: data/cell-K, one per cell)
#   cells                the cell map (with cells): "NAME ENDPOINT [PUBLIC_KEY_FILE]" per line,
#                        key files relative to the run dir (keys/cell-K.pub)
#   metrics/NAME         HOST:PORT of NAME's --metrics-bind (kept across restarts)
#   prometheus-targets.json  the same as a Prometheus file_sd target list
# A pid file is trusted only while /proc/PID has the same start time (field 22 of
# /proc/PID/stat) and its command line holds MARKER; otherwise it is stale and removed, and
# nothing is signalled. So the fleet only ever signals processes it started.
# Needs common.sh; callers set RUN (absolute) and call fleet_paths first.

fleet_paths() {
  PIDS=$RUN/pids
  LOGS=$RUN/logs
  LEDGERS=$RUN/ledgers
  DATA=$RUN/data
  METRICS=$RUN/metrics
  ENV_FILE=$RUN/fleet.env
}

fleet_load_env() {
  [ -f "$ENV_FILE" ] || return 1
  # shellcheck disable=SC1090
  source "$ENV_FILE"
}

# ---- processes -------------------------------------------------------------------------------

proc_start_time() {  # PID -> clock ticks since boot when it started
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # drop "pid (comm) ", comm may hold spaces
  set -- $stat                 # now field 3 of stat is $1, field 22 is $20
  echo "${20}"
}

proc_alive() {  # PID: exists and is not a zombie
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

proc_has_arg() {  # PID ARG: ARG is one of the process's argv
  local arg
  while IFS= read -r -d '' arg; do
    [ "$arg" = "$2" ] && return 0
  done <"/proc/$1/cmdline" 2>/dev/null
  return 1
}

proc_uptime_secs() {  # PID
  local start up hz
  start=$(proc_start_time "$1") || return 1
  hz=$(getconf CLK_TCK)
  read -r up _ </proc/uptime
  echo $(( ${up%.*} - start / hz ))
}

pid_file() { echo "$PIDS/$1.pid"; }

# fleet_pid NAME: print NAME's pid if it runs and is ours; a stale pid file is removed.
fleet_pid() {
  local f pid start marker
  f=$(pid_file "$1")
  [ -f "$f" ] || return 1
  read -r pid start marker <"$f" || true
  if [[ ${pid:-} =~ ^[0-9]+$ ]] && proc_alive "$pid" &&
     [ "$(proc_start_time "$pid" 2>/dev/null)" = "$start" ] && proc_has_arg "$pid" "$marker"; then
    echo "$pid"
    return 0
  fi
  rm -f "$f"
  return 1
}

fleet_running() { fleet_pid "$1" >/dev/null; }

# spawn NAME MARKER NETNS CMD...: start CMD in its own session (in network namespace NETNS
# unless empty), stdin /dev/null, output appended to logs/NAME.log, and write its pid file.
spawn() {
  local name=$1 marker=$2 netns=$3; shift 3
  local tmp="$PIDS/.$name.$$.$RANDOM" prefix=() pid="" start
  mkdir -p "$PIDS" "$LOGS"
  rm -f "$tmp"
  [ -n "$netns" ] && prefix=(ip netns exec "$netns")
  # The shell reports its own pid and then becomes the program: pid, start time stay. The
  # subshell detaches it from the caller (no job of ours: init reaps it, bash reports nothing).
  ( "${prefix[@]}" setsid sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$tmp" "$@" \
      </dev/null >>"$LOGS/$name.log" 2>&1 9>&- & )
  local deadline=$(( $(now_ms) + 5000 ))
  while [ ! -s "$tmp" ]; do
    if [ "$(now_ms)" -ge "$deadline" ]; then say "$name did not start (see $LOGS/$name.log)"; return 1; fi
    sleep 0.02
  done
  pid=$(<"$tmp"); rm -f "$tmp"
  start=$(proc_start_time "$pid") || { say "$name exited at once (see $LOGS/$name.log)"; return 1; }
  echo "$pid $start $marker" >"$(pid_file "$name")"
}

# signal_proc NAME SIGNAL: signal NAME if it is ours and alive.
signal_proc() {
  local pid
  pid=$(fleet_pid "$1") || return 1
  kill "-$2" "$pid" 2>/dev/null
}

# stop_procs DEADLINE_SECS NAME...: SIGTERM them all, wait, SIGKILL what is left at the deadline.
stop_procs() {
  local deadline_s=$1; shift
  local name pid names=() pids=()
  for name in "$@"; do
    pid=$(fleet_pid "$name") || continue
    kill -TERM "$pid" 2>/dev/null || true
    names+=("$name"); pids+=("$pid")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  local deadline=$(( $(now_ms) + deadline_s * 1000 )) i left
  while :; do
    left=0
    for i in "${!pids[@]}"; do proc_alive "${pids[$i]}" && left=1; done
    [ $left -eq 0 ] && break
    if [ "$(now_ms)" -ge "$deadline" ]; then
      for i in "${!pids[@]}"; do
        if fleet_running "${names[$i]}"; then
          say "${names[$i]} (pid ${pids[$i]}) still running ${deadline_s}s after SIGTERM: SIGKILL"
          kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
      done
      wait_until 10 all_gone "${pids[@]}" || say "some processes survived SIGKILL: ${pids[*]}"
      break
    fi
    sleep 0.05
  done
  for name in "${names[@]}"; do rm -f "$(pid_file "$name")"; done
}

all_gone() { local p; for p in "$@"; do proc_alive "$p" && return 1; done; return 0; }

# kill_proc NAME: SIGKILL and wait until it is gone (a crash, as far as the fleet is concerned).
kill_proc() {
  local pid
  pid=$(fleet_pid "$1") || return 1
  kill -KILL "$pid" 2>/dev/null || true
  wait_until 10 all_gone "$pid" || say "$1 (pid $pid) survived SIGKILL"
  rm -f "$(pid_file "$1")"
}

# All names with a pid file (live or not yet checked), broker last, workers by number.
fleet_names() {
  local f names=()
  shopt -s nullglob
  for f in "$PIDS"/*.pid; do names+=("$(basename "$f" .pid)"); done
  shopt -u nullglob
  [ ${#names[@]} -eq 0 ] && return 0
  printf '%s\n' "${names[@]}" | sort -t- -k1,1 -k2,2n
}

worker_names() {  # running workers, by number
  local n
  for n in $(fleet_names); do
    [[ $n == worker-* ]] && fleet_running "$n" && echo "$n"
  done
  return 0
}

# ---- the broker and workers ------------------------------------------------------------------

# make_fleet_keys BIN DIR QUEUE [BROKER_NAME...]: a key pair per role and per broker (default:
# one named broker; with cells cell-1..cell-N; kept across restarts of the fleet) and the brokers'
# auth file (every cell reads the same one): workers may consume QUEUE, the publisher publish to
# it, admin everything.
make_fleet_keys() {
  local bin=$1 dir=$2 queue=$3 name
  shift 3
  [ $# -gt 0 ] || set -- broker
  mkdir -p "$dir" && chmod 700 "$dir"
  for name in "$@" worker publisher admin; do
    [ -f "$dir/$name.key" ] && continue
    "$bin/mandrill-ctl" keygen "$name" --dir "$dir" >/dev/null || return 1
  done
  {
    echo "# written by deploy/fleet up: ROLE NAME PUBLIC_KEY [QUEUE_PATTERN ...]"
    echo "worker fleet-workers $(cat "$dir/worker.pub") $queue"
    echo "publisher fleet-publisher $(cat "$dir/publisher.pub") $queue"
    echo "admin fleet-admin $(cat "$dir/admin.pub")"
  } >"$dir/auth"
}

# client_key_args ROLE: the --key/--broker-key arguments of a client of this fleet (none when the
# fleet runs without CURVE), one per line for mapfile. With cells there is no --broker-key: the
# cell map names each cell's public key.
client_key_args() {
  [ -n "${FLEET_KEYS:-}" ] || return 0
  if cells_on; then printf '%s\n' --key "$FLEET_KEYS/$1.key"; return 0; fi
  printf '%s\n' --key "$FLEET_KEYS/$1.key" --broker-key "$FLEET_KEYS/broker.pub"
}

# client_target_args: how a client of this fleet names its brokers, one argument per line:
# --broker ENDPOINT, or --cells RUN/cells when the fleet runs cells.
client_target_args() {
  if cells_on; then printf '%s\n' --cells "$FLEET_CELL_MAP"; else printf '%s\n' --broker "$FLEET_ADMIN_EP"; fi
}

# ---- cells -----------------------------------------------------------------------------------
# With `up --cells N` the fleet runs N brokers, cell-1..cell-N, instead of one named broker; each
# has its own port (FLEET_CELL_PORTS, in order), data dir, log, pid file, metrics port and key
# pair. Without cells FLEET_CELLS is 0 (or unset, in a fleet.env of an older fleet).

cells_on() { [ "${FLEET_CELLS:-0}" -gt 0 ]; }

broker_names() {  # the brokers of this fleet: "broker", or cell-1..cell-N
  if cells_on; then local i; for ((i = 1; i <= FLEET_CELLS; i++)); do echo "cell-$i"; done
  else echo broker; fi
}

is_broker_name() {  # NAME: one of this fleet's brokers
  if cells_on; then [[ $1 =~ ^cell-([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le "$FLEET_CELLS" ]
  else [ "$1" = broker ]; fi
}

cell_port() {  # cell-K: its port
  local ports=($FLEET_CELL_PORTS) k=${1#cell-}
  echo "${ports[$((k - 1))]}"
}

broker_endpoint() {  # NAME: the endpoint clients and admin tools reach it on
  if [ "$1" = broker ]; then echo "$FLEET_ADMIN_EP"; else echo "tcp://127.0.0.1:$(cell_port "$1")"; fi
}

broker_data_dir() {  # NAME
  if [ "$1" = broker ]; then echo "$DATA"; else echo "$DATA/$1"; fi
}

# write_cell_map: RUN/cells from the fleet's settings (key files relative to the run dir).
write_cell_map() {
  local n tmp="$FLEET_CELL_MAP.tmp"
  {
    echo "# written by deploy/fleet up: NAME ENDPOINT [PUBLIC_KEY_FILE] (shared/cells/cell_map.h)"
    for n in $(broker_names); do
      if [ -n "${FLEET_KEYS:-}" ]; then echo "$n $(broker_endpoint "$n") keys/$n.pub"
      else echo "$n $(broker_endpoint "$n")"; fi
    done
  } >"$tmp"
  mv "$tmp" "$FLEET_CELL_MAP"
}

# ctl_at NAME ARGS...: mandrill-ctl against one of the fleet's brokers (inside its namespace when
# partitioned).
ctl_at() {
  local name=$1; shift
  local prefix=() keys=()
  [ -n "${FLEET_BROKER_NETNS:-}" ] && prefix=(ip netns exec "$FLEET_BROKER_NETNS")
  if [ -n "${FLEET_KEYS:-}" ]; then
    keys=(--key "$FLEET_KEYS/admin.key" --broker-key "$FLEET_KEYS/$name.pub")
  fi
  "${prefix[@]}" "$FLEET_BIN/mandrill-ctl" --broker "$(broker_endpoint "$name")" "${keys[@]}" --timeout "${CTL_TIMEOUT:-$(( 2 * ${FLEET_TIMEOUT_SCALE:-1} ))s}" "$@"
}

# ctl ARGS...: mandrill-ctl against the broker (with cells: against cell-1; use ctl_at for others).
ctl() { ctl_at "$(broker_names | head -1)" "$@"; }

# stats_json_of NAME: that broker's stats as JSON on stdout; 1 if it did not answer. The output
# decides, not the exit status: a TSan build's mandrill-ctl exits 66 after a good answer if it
# reported anything.
stats_json_of() {
  local out
  out=$(ctl_at "$1" stats --json 2>/dev/null) || true
  [[ $out == "{"* ]] || return 1
  printf '%s\n' "$out"
}

# stats_json: the broker's stats as JSON; 1 if it did not answer. With cells, the cells' stats
# merged into one document of the same shape: queues summed by name, counters
# summed, workers listed once per cell they are connected to (each with "cell"), plus
# "cells_up" and "cells_down" (names; a cell whose process is not running is down without
# being asked); 1 only if no cell answered.
stats_json() {
  cells_on || { stats_json_of broker; return; }
  local dir n
  dir=$(mktemp -d "${TMPDIR:-/tmp}/fleet-stats.XXXXXX")
  # One after the other: on a busy host that is quicker than forking them all at once.
  for n in $(broker_names); do
    fleet_running "$n" || continue   # down: not worth a ctl timeout
    stats_json_of "$n" >"$dir/$n.json" || rm -f "$dir/$n.json"
  done
  python3 - "$dir" $(broker_names) <<'PY'
import json, os, sys
root, names = sys.argv[1], sys.argv[2:]
merged = {"broker_id": "cells", "uptime_ms": 0, "workers": [], "queues": [], "counters": {},
          "cells_up": [], "cells_down": [], "cells": {}}
queues = {}
for name in names:
    try:
        with open(os.path.join(root, name + ".json")) as f:
            d = json.load(f)
    except (OSError, ValueError):
        merged["cells_down"].append(name)
        continue
    merged["cells_up"].append(name)
    merged["cells"][name] = d
    merged["uptime_ms"] = max(merged["uptime_ms"], d.get("uptime_ms", 0))
    for w in d.get("workers", []):
        merged["workers"].append(dict(w, cell=name))
    for q in d.get("queues", []):
        t = queues.setdefault(q["name"], {"name": q["name"]})
        for k, v in q.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                t[k] = t.get(k, 0) + v
    for k, v in d.get("counters", {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            merged["counters"][k] = merged["counters"].get(k, 0) + v
merged["queues"] = [queues[k] for k in sorted(queues)]
for name in names:
    try:
        os.remove(os.path.join(root, name + ".json"))
    except OSError:
        pass
os.rmdir(root)
if not merged["cells_up"]:
    sys.exit(1)
print(json.dumps(merged))
PY
}

broker_answers_at() { CTL_TIMEOUT=1s stats_json_of "$1" >/dev/null; }  # NAME
broker_answers() { broker_answers_at "$(broker_names | head -1)"; }

any_broker_running() { local n; for n in $(broker_names); do fleet_running "$n" && return 0; done; return 1; }

# start_broker [NAME]: start the broker, or cell NAME, unless it runs; wait until it answers.
start_broker() {
  local name=${1:-broker}
  fleet_running "$name" && return 0
  local data bind key
  data=$(broker_data_dir "$name")
  if [ "$name" = broker ]; then bind=$FLEET_BIND; else bind="tcp://127.0.0.1:$(cell_port "$name")"; fi
  mkdir -p "$data"
  local args=(--bind "$bind" --data-dir "$data" --log-file "$LOGS/$name.log"
              --lease-ms "$FLEET_LEASE_MS" --max-deliveries "$FLEET_MAX_DELIVERIES"
              --heartbeat-ms "$FLEET_HEARTBEAT_MS" --storage "$FLEET_STORAGE" --fsync "$FLEET_FSYNC"
              "${FLEET_BROKER_EXTRA[@]}")
  [ -n "${FLEET_KEYS:-}" ] && args+=(--curve-key "$FLEET_KEYS/$name.key" --auth-file "$FLEET_KEYS/auth")
  local m; mapfile -t m < <(metrics_args "$name" "${FLEET_BROKER_NETNS:-}")
  args+=("${m[@]}")
  spawn "$name" "$LOGS/$name.log" "${FLEET_BROKER_NETNS:-}" "$FLEET_BIN/mandrill-broker" "${args[@]}" ||
    return 1
  if ! wait_until $(( 20 * FLEET_TIMEOUT_SCALE )) broker_answers_at "$name"; then
    fleet_running "$name" || { say "$name exited at start; last log lines:"; tail -5 "$LOGS/$name.log" >&2; return 1; }
    say "$name started but does not answer mandrill-ctl yet (see $LOGS/$name.log)"
    return 1
  fi
}

# start_brokers: every broker of the fleet that is not running, one after the other (each picks
# its metrics port and rewrites the Prometheus targets).
start_brokers() {
  local n
  for n in $(broker_names); do start_broker "$n" || return 1; done
}

# ---- metrics ---------------------------------------------------------------------------------

# metrics_args NAME NETNS: --metrics-bind on a loopback port of NAME's own, chosen free the first
# time and kept (so a restarted process is scraped where it was). Nothing with --metrics off, or
# inside a network namespace (its loopback is not this host's).
metrics_args() {
  [ "${FLEET_METRICS:-on}" = on ] && [ -z "$2" ] || return 0
  mkdir -p "$METRICS"
  if [ ! -s "$METRICS/$1" ] || ! port_free "$(cut -d: -f2 "$METRICS/$1")"; then
    echo "127.0.0.1:$(free_port)" >"$METRICS/$1"
  fi
  printf '%s\n' --metrics-bind "$(cat "$METRICS/$1")"
  write_prometheus_targets
}

metrics_addr() { cat "$METRICS/$1" 2>/dev/null || echo -; }  # NAME

# The targets as Prometheus file_sd JSON: one group per job, labelled with the fleet's name.
write_prometheus_targets() {
  python3 - "$METRICS" "$RUN/prometheus-targets.json" <<'PY'
import json, os, sys
root, out = sys.argv[1], sys.argv[2]
groups = {"mandrill-broker": [], "mandrill-worker": []}
for name in sorted(os.listdir(root)):
    with open(os.path.join(root, name)) as f:
        addr = f.read().strip()
    broker = name == "broker" or name.startswith("cell-")
    groups["mandrill-broker" if broker else "mandrill-worker"].append(addr)
doc = [{"targets": t, "labels": {"job": job}} for job, t in groups.items() if t]
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2)
os.replace(tmp, out)
PY
}

worker_number() { echo "${1#worker-}"; }

# The namespace and broker endpoint of a worker: hosts are dealt round-robin by number.
worker_host() {
  local n hosts=(${FLEET_WORKER_HOSTS:-})
  n=$(worker_number "$1")
  if [ ${#hosts[@]} -eq 0 ]; then echo " $FLEET_ADMIN_EP"; return; fi
  local h=${hosts[$(( (n - 1) % ${#hosts[@]} ))]}
  echo "${h%%=*} ${h#*=}"
}

worker_registered() {  # NAME: the broker lists a worker of that name
  stats_json | json_get "int(any(w['name']=='$1' for w in d['workers']))" 2>/dev/null | grep -q 1
}

# start_worker NAME [nowait]
start_worker() {
  local name=$1 netns endpoint
  fleet_running "$name" && return 0
  read -r netns endpoint <<<"$(worker_host "$name")"
  [ -z "$endpoint" ] && { endpoint=$netns; netns=""; }
  mkdir -p "$LEDGERS"
  local n; n=$(worker_number "$name")
  local target=(--broker "$endpoint")
  cells_on && target=(--cells "$FLEET_CELL_MAP")   # a worker consumes from every cell
  local args=("${target[@]}" --queue "$FLEET_QUEUE" --concurrency "$FLEET_CONCURRENCY"
              --ledger "$LEDGERS/$name.db" --name "$name" --restart-ms "$FLEET_RESTART_MS"
              --fail-rate "$FLEET_FAIL_RATE" --grace "$FLEET_GRACE" --heartbeat-ms "$FLEET_HEARTBEAT_MS"
              --log-file "$LOGS/$name.log")
  [ -n "${FLEET_SEED:-}" ] && args+=(--seed $(( FLEET_SEED * 1000 + n )))
  local keys; mapfile -t keys < <(client_key_args worker)
  args+=("${keys[@]}" "${FLEET_WORKER_EXTRA[@]}")
  local m; mapfile -t m < <(metrics_args "$name" "$netns")
  args+=("${m[@]}")
  spawn "$name" "$LOGS/$name.log" "$netns" "$FLEET_BIN/mandrill-worker" "${args[@]}" || return 1
  [ "${2:-}" = nowait ] || [ "${FLEET_NOWAIT:-0}" = 1 ] && return 0
  if ! wait_until $(( 15 * FLEET_TIMEOUT_SCALE )) worker_registered "$name"; then
    fleet_running "$name" || { say "$name exited at start; last log lines:"; tail -5 "$LOGS/$name.log" >&2; return 1; }
    say "$name runs but the broker does not list it yet (see $LOGS/$name.log)"
  fi
}

# Seconds to wait for a SIGTERMed worker: its grace, plus time to hand back what is left.
grace_secs() { duration_secs "$FLEET_GRACE"; }
worker_stop_deadline() { echo $(( $(grace_secs) + 10 * FLEET_TIMEOUT_SCALE )); }
broker_stop_deadline() { echo $(( 15 * FLEET_TIMEOUT_SCALE )); }

# Lowest worker numbers not running, COUNT of them.
free_worker_names() {
  local want=$1 n=1 got=0
  while [ $got -lt "$want" ]; do
    if ! fleet_running "worker-$n"; then echo "worker-$n"; got=$((got + 1)); fi
    n=$((n + 1))
  done
}

# scale_to N: start workers, or drain-stop the highest-numbered ones, until N run.
scale_to() {
  local want=$1 have names
  mapfile -t names < <(worker_names)
  have=${#names[@]}
  if [ "$have" -lt "$want" ]; then
    local name
    local added; mapfile -t added < <(free_worker_names $((want - have)))
    for name in "${added[@]}"; do start_worker "$name" nowait || return 1; done
    [ "${FLEET_NOWAIT:-0}" = 1 ] && return 0
    for name in "${added[@]}"; do
      wait_until $(( 15 * FLEET_TIMEOUT_SCALE )) worker_registered "$name" ||
        say "$name runs but the broker does not list it yet (see $LOGS/$name.log)"
    done
  elif [ "$have" -gt "$want" ]; then
    local victims=("${names[@]:$want}") v
    stop_procs "$(worker_stop_deadline)" "${victims[@]}"
    # Scaled away, not restarting: no longer a scrape target.
    for v in "${victims[@]}"; do rm -f "$METRICS/$v"; done
    [ -d "$METRICS" ] && write_prometheus_targets
  fi
}
