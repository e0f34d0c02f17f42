# shellcheck shell=bash
# Shared helpers for the deploy/ scripts (sourced, not run). Bash 5, set -euo pipefail.
# Sets MDR_ROOT (the project root) and gives: say/die, now_ms, free_port, wait_until,
# resolve_bin (build Release when the default bin dir is missing) and sanitizer detection.

MDR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MDR_PROG=${MDR_PROG:-$(basename "$0")}
MDR_BINARIES=(mandrill-broker mandrill-worker mandrill-publish mandrill-ctl)

say() { printf '%s: %s\n' "$MDR_PROG" "$*" >&2; }
die() { say "$*"; exit 1; }
usage_error() { say "$* (see --help)"; exit 64; }

now_ms() { date +%s%3N; }

# An unused loopback TCP port, at random below the kernel's ephemeral range (32768-60999): a port
# from bind(0) can become the local end of an outgoing connection while the broker restarts,
# which then fails to bind it again.
free_port() {
  python3 -c '
import random, socket
for _ in range(1000):
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free loopback port in 20000-32767")
'
}

# port_free PORT: nothing listens on (or holds) 127.0.0.1:PORT.
port_free() {
  python3 -c '
import socket, sys
s = socket.socket()
# As the servers bind: a port left in TIME_WAIT by a restarted process is still free to them.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except (OSError, ValueError):
    sys.exit(1)
finally:
    s.close()
' "$1"
}

# wait_until SECONDS CMD... : run CMD every 0.1 s until it succeeds; 1 if SECONDS pass first.
wait_until() {
  local limit=$1; shift
  local deadline=$(( $(now_ms) + ${limit%.*} * 1000 ))
  while ! "$@"; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# duration_secs D: whole seconds (rounded up) of a duration flag value: 250ms, 30s, 5m, 1h, or
# a bare number of milliseconds (the project's convention).
duration_secs() {
  local d=$1 ms
  case "$d" in
    *ms) ms=${d%ms} ;;
    *s) ms=$(( ${d%s} * 1000 )) ;;
    *m) ms=$(( ${d%m} * 60000 )) ;;
    *h) ms=$(( ${d%h} * 3600000 )) ;;
    *) ms=$d ;;
  esac
  [[ $ms =~ ^[0-9]+$ ]] || { say "not a duration: '$d' (use e.g. 250ms, 30s, 5m)"; return 1; }
  echo $(( (ms + 999) / 1000 ))
}

# Seconds as "1m02s" / "3.4s".
human_secs() {
  local s=$1
  if [ "$s" -ge 3600 ]; then printf '%dh%02dm' $((s / 3600)) $((s % 3600 / 60))
  elif [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60))
  else printf '%ds' "$s"; fi
}

# The default binaries: build/release/bin, built (Release, only the four programs) if missing.
default_bin() { echo "$MDR_ROOT/build/release/bin"; }

# Configure and build the four programs in build/release; the compiler's output goes to
# build/release/build.log and is shown only if the build fails.
build_release() {
  local build="$MDR_ROOT/build/release" log
  "$MDR_ROOT/deploy/install-deps"
  mkdir -p "$build"
  log="$build/build.log"
  say "building Release in $build (the first time takes a few minutes; log: $log) ..."
  if ! { cmake -S "$MDR_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
         cmake --build "$build" -j "$(nproc)" --target "${MDR_BINARIES[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "the build failed (full log: $log)"
  fi
}

bin_complete() {
  local dir=$1 b
  for b in "${MDR_BINARIES[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

# resolve_bin DIR: absolute path of a directory holding all four binaries. The default
# directory is built when incomplete; an explicit --bin that is incomplete is an error.
resolve_bin() {
  local dir=${1:-}
  if [ -z "$dir" ]; then
    dir=$(default_bin)
    bin_complete "$dir" || build_release
  fi
  bin_complete "$dir" || die "no mandrill binaries in '$dir' (build first, or pass --bin DIR)"
  (cd "$dir" && pwd)
}

# Sanitized binaries run several times slower: 4 under ASan/TSan, 1 otherwise.
timeout_scale_for() {
  local bin=$1
  if ldd "$bin/mandrill-broker" 2>/dev/null | grep -Eq 'lib(asan|tsan|ubsan)'; then echo 4
  else echo 1; fi
}

# json_get 'EXPR' < json : evaluate a python expression over `d` (the parsed document).
json_get() {
  python3 -c 'import json,sys
d=json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
