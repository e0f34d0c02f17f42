# shellcheck shell=bash
# Helpers for the chaos tests: argument parsing, a reaper that cleans up even when the test
# itself is killed (ctest's timeout SIGKILLs the test, and fleet processes live in their own
# sessions, so nothing else would stop them), and the "nothing left behind" check.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BIN="" RUN="" SCALE=1 EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --run-dir) RUN=$2; shift 2 ;;
    --timeout-scale) SCALE=$2; shift 2 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done
[ -n "$BIN" ] && [ -n "$RUN" ] || { echo "usage: $0 --bin DIR --run-dir DIR [--timeout-scale N]" >&2; exit 64; }
for b in mandrill-broker mandrill-worker mandrill-publish mandrill-ctl; do
  [ -x "$BIN/$b" ] || { echo "FAIL: $BIN/$b is not built" >&2; exit 1; }
done
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }

# Processes of this run dir: every fleet process has a path under RUN/logs or RUN/mayhem in argv.
leftovers() {
  local pid
  for pid in $(pgrep -f -- "$RUN/(logs|mayhem)/" || true); do
    [ "$pid" = $$ ] || echo "$pid: $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)"
  done
}

# Stop whatever an earlier, killed run of this test left in RUN (by pid file, verified).
"$ROOT/deploy/fleet" --run-dir "$RUN" down >/dev/null 2>&1 || true

# The reaper: a detached watcher that, once this test process is gone (however it went), stops
# what is left in RUN by pid file (deploy/fleet down) and deletes the network namespaces a
# partition drill recorded in RUN/netns.txt. It exits right after.
start_reaper() {
  local me=$$ start
  start=$(awk '{print $22}' /proc/$me/stat)
  setsid bash -c '
    fleet=$1 run=$2 me=$3 start=$4
    while [ "$(awk "{print \$22}" /proc/$me/stat 2>/dev/null)" = "$start" ]; do sleep 1; done
    "$fleet" --run-dir "$run" down >/dev/null 2>&1 || true
    if [ -f "$run/netns.txt" ]; then
      while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$run/netns.txt"
      rm -f "$run/netns.txt"
    fi
  ' reaper "$ROOT/deploy/fleet" "$RUN" "$me" "$start" </dev/null >/dev/null 2>&1 &
}

# Sanitizer reports in the run's logs are printed (a drill is a good place to find races), but
# do not fail the drill: the unit and integration suites own those.
report_sanitizers() {
  local hits
  hits=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$RUN"/logs/*.log 2>/dev/null || true)
  [ -z "$hits" ] && return 0
  echo "NOTE: sanitizer reports in: $hits" >&2
  grep -h -m3 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' $hits >&2 || true
}
