#!/usr/bin/env bash
# `cpack -G DEB` on this build: two packages, mandrill (executables, systemd units, /etc/mandrill
# defaults as conffiles, manual pages, docs; Depends computed by dpkg-shlibdeps) and
# libmandrill-dev (the SDK), checked with dpkg-deb and lintian and unpacked into a throwaway
# root, where the unpacked broker runs.
#   package_test.sh --build BUILD_DIR
set -euo pipefail
build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 --build DIR" >&2; exit 64 ;;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out") >"$tmp/cpack.log" 2>&1 ||
  fail "cpack: $(tail -20 "$tmp/cpack.log")"
runtime=$(ls "$tmp"/out/mandrill_*.deb 2>/dev/null | head -1)
dev=$(ls "$tmp"/out/libmandrill-dev_*.deb 2>/dev/null | head -1)
[ -n "$runtime" ] && [ -n "$dev" ] || fail "expected mandrill_*.deb and libmandrill-dev_*.deb, got: $(ls "$tmp/out")"

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$runtime" Package)" = mandrill ] || fail "runtime package is named $(field "$runtime" Package)"
[ "$(field "$dev" Package)" = libmandrill-dev ] || fail "dev package is named $(field "$dev" Package)"
depends=$(field "$runtime" Depends)
for lib in libzmq5 libspdlog1.10 libc6; do
  grep -q "$lib" <<<"$depends" || fail "mandrill's Depends lacks $lib: $depends"
done
grep -q "mandrill (= " <<<"$(field "$dev" Depends)" || fail "libmandrill-dev does not depend on mandrill"

dpkg-deb -c "$runtime" | awk '{print $NF}' >"$tmp/runtime.files"
dpkg-deb -c "$dev" | awk '{print $NF}' >"$tmp/dev.files"
for f in bin/mandrill-broker bin/mandrill-worker bin/mandrill-publish bin/mandrill-ctl \
         systemd/system/mandrill-broker.service 'systemd/system/mandrill-worker@.service' \
         mandrill/broker.env mandrill/worker.env doc/mandrill/operations.md; do
  grep -q -- "$f\$" "$tmp/runtime.files" || fail "mandrill lacks */$f"
done
for f in include/mandrill/worker/worker_main.h include/mandrill/publisher/publish_client.h \
         libmandrill_worker_core.a cmake/Mandrill/MandrillConfig.cmake; do
  grep -q -- "$f\$" "$tmp/dev.files" || fail "libmandrill-dev lacks */$f"
done
grep -q "bin/mandrill-broker\$" "$tmp/dev.files" && fail "libmandrill-dev also ships the executables"
# systemd reads units from lib/systemd/system, never from a multiarch lib dir.
grep -q -- "/lib/systemd/system/mandrill-broker.service\$" "$tmp/runtime.files" &&
  ! grep -q -- "-linux-gnu/systemd/" "$tmp/runtime.files" ||
  fail "the units are not in lib/systemd/system: $(grep systemd "$tmp/runtime.files")"
dpkg-deb --ctrl-tarfile "$runtime" | tar -xO ./conffiles >"$tmp/conffiles" ||
  fail "mandrill has no conffiles"
grep -q "mandrill/broker.env\$" "$tmp/conffiles" || fail "broker.env is not a conffile: $(cat "$tmp/conffiles")"

for f in man1/mandrill-broker.1.gz man1/mandrill-ctl.1.gz doc/mandrill/copyright doc/mandrill/changelog.gz; do
  grep -q -- "$f\$" "$tmp/runtime.files" || fail "mandrill lacks */$f"
done
# Debian's own checker: no errors, no warnings (lintian warns when run as root; that line is
# not about the packages).
if command -v lintian >/dev/null; then
  lintian --fail-on error,warning "$runtime" "$dev" >"$tmp/lintian.log" 2>&1 ||
    fail "lintian: $(grep -v 'root privileges' "$tmp/lintian.log")"
else
  fail "lintian is not installed (deploy/install-deps installs it)"
fi

# The units start the executables where the package put them.
mkdir "$tmp/root"
dpkg-deb -x "$runtime" "$tmp/root"
dpkg-deb -x "$dev" "$tmp/root"
unit=$(find "$tmp/root" -name mandrill-broker.service)
bin=$(sed -n 's|^ExecStart=\([^ ]*\) .*|\1|p' "$unit")
[ -x "$tmp/root$bin" ] || fail "the unit's ExecStart $bin is not in the package"
"$tmp/root$bin" --version >/dev/null 2>&1 || "$tmp/root$bin" --help >/dev/null ||
  fail "the packaged broker does not run"
echo "packages: $(basename "$runtime") ($(wc -l <"$tmp/runtime.files") entries; Depends: $depends), $(basename "$dev") ($(wc -l <"$tmp/dev.files") entries)"
