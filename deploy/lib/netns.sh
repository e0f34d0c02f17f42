# shellcheck shell=bash
# Three "hosts" on one machine for partition drills: network namespaces joined by veth links.
#
#   broker host  NS_B   10.231.1.1 (link to host 1), 10.231.2.1 (link to host 2), lo
#   worker host1 NS_H1  10.231.1.2   --veth--  NS_B
#   worker host2 NS_H2  10.231.2.2   --veth--  NS_B
# Cutting host N sets both ends of its link down (no RST, no FIN: packets just stop, as when a
# switch port or cable dies); restoring sets them up again. Needs root and iproute2.
# The veth ends are created inside the namespaces, so names never clash with the host's.

netns_supported() {  # prints why not, returns 1, when partition drills cannot run here
  if [ "$(id -u)" -ne 0 ]; then echo "not root (network namespaces need CAP_NET_ADMIN)"; return 1; fi
  if ! command -v ip >/dev/null; then echo "iproute2 ('ip') is not installed"; return 1; fi
  local probe="mdr-probe-$$"
  if ! ip netns add "$probe" 2>/dev/null; then echo "cannot create a network namespace (ip netns add failed)"; return 1; fi
  if ! ip link add "mdrp$$a" netns "$probe" type veth peer name "mdrp$$b" netns "$probe" 2>/dev/null; then
    ip netns del "$probe" 2>/dev/null || true
    echo "cannot create veth links (no veth support in this kernel?)"; return 1
  fi
  ip netns del "$probe" 2>/dev/null || true
}

# netns_setup TAG: create the three namespaces (names mdr-TAG-b, -h1, -h2). Their names go to
# $NETNS_RECORD (if set) first, so a cleaner can remove them even if this shell is SIGKILLed.
netns_setup() {
  local tag=$1
  NS_B="mdr-$tag-b"; NS_H1="mdr-$tag-h1"; NS_H2="mdr-$tag-h2"
  NETNS_CREATED=()
  local ns
  [ -n "${NETNS_RECORD:-}" ] && printf '%s\n' "$NS_B" "$NS_H1" "$NS_H2" >"$NETNS_RECORD"
  for ns in "$NS_B" "$NS_H1" "$NS_H2"; do
    ip netns add "$ns" || return 1
    NETNS_CREATED+=("$ns")
    ip -n "$ns" link set lo up
  done
  local h ns_h
  for h in 1 2; do
    ns_h=$NS_H1; [ $h -eq 2 ] && ns_h=$NS_H2
    ip link add "vb$h" netns "$NS_B" type veth peer name "vh$h" netns "$ns_h" || return 1
    ip -n "$NS_B" addr add "10.231.$h.1/24" dev "vb$h"
    ip -n "$ns_h" addr add "10.231.$h.2/24" dev "vh$h"
    ip -n "$NS_B" link set "vb$h" up
    ip -n "$ns_h" link set "vh$h" up
  done
}

netns_host_ns() { if [ "$1" -eq 1 ]; then echo "$NS_H1"; else echo "$NS_H2"; fi; }
netns_broker_ip() { echo "10.231.$1.1"; }

netns_cut() {  # HOST
  ip -n "$NS_B" link set "vb$1" down
  ip -n "$(netns_host_ns "$1")" link set "vh$1" down
}

netns_restore() {  # HOST
  ip -n "$NS_B" link set "vb$1" up
  ip -n "$(netns_host_ns "$1")" link set "vh$1" up
}

# Deleting a namespace removes its veth ends; processes must be stopped before (callers do).
netns_teardown() {
  local ns
  for ns in "${NETNS_CREATED[@]:-}"; do
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
  done
  NETNS_CREATED=()
  [ -n "${NETNS_RECORD:-}" ] && rm -f "$NETNS_RECORD"
  return 0
}

# netns_remove_recorded FILE: delete namespaces a killed drill recorded, then the record.
netns_remove_recorded() {
  [ -f "$1" ] || return 0
  local ns
  while read -r ns; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true; done <"$1"
  rm -f "$1"
}
