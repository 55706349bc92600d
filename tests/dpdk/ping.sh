#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Integration test of the dpdk dataplane without a NIC: two network
# namespaces joined by a veth pair; tern runs in one on net_af_packet
# (--no-huge), the kernel in the other pings it over IPv4 and IPv6, so ARP
# and neighbour discovery must resolve both ways. Root only: anyone else gets
# a failure, not a skip. Namespaces, links, files and tern (by PID) are
# removed on every exit path.
# Usage: ping.sh TERN_BINARY [WORKERS [QPAIRS [FAULT]]]: WORKERS worker lcores
# (default 1) on an af_packet port with QPAIRS queue pairs (default 1); FAULT
# "SEED DROP DUP REORDER" turns tern's fault layer on (dpdk_fault): then some
# pings must be lost and the rest answered.
set -euo pipefail

tern="${1:?usage: ping.sh TERN_BINARY [WORKERS [QPAIRS [FAULT]]]}"
workers="${2:-1}"
qpairs="${3:-1}"
fault="${4:-}"
# shellcheck source=tests/dpdk/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

if [ -n "$fault" ]; then
	netns_start_tern "$workers" "$qpairs" "dpdk_fault $fault"
	for dst in 198.18.0.2 2001:2::2; do
		got="$(ip netns exec "$ns_cl" ping -c 40 -i 0.05 -W 1 "$dst" 2>/dev/null |
			sed -n 's/.* \([0-9]*\) received.*/\1/p')" || true
		[ "${got:-0}" -ge 10 ] && [ "${got:-0}" -lt 40 ] ||
			fail "through the fault layer $dst answered ${got:-0} of 40 pings; want some lost, most not"
	done
	netns_stop_tern
	dropped="$(netns_counter fault_dropped)"
	[ "${dropped:-0}" -gt 0 ] || fail "fault layer dropped nothing"
	echo "ok: ping through the fault layer ($fault), $dropped frames dropped"
	exit 0
fi
netns_start_tern "$workers" "$qpairs"

# The kernel may have learned tern's MAC from its gratuitous ARP at start-up;
# forget it, so the pings below need an ARP reply and an NA from tern.
ip -n "$ns_cl" neigh flush dev "$if_cl"
ip -n "$ns_cl" -6 neigh flush dev "$if_cl"
ip netns exec "$ns_cl" ping -q -c 5 -i 0.2 -W 2 198.18.0.2 >"$tmp/ping4" ||
	fail "IPv4 ping lost packets: $(cat "$tmp/ping4")"
ip netns exec "$ns_cl" ping -q -c 5 -i 0.2 -W 2 -s 1400 198.18.0.2 >"$tmp/ping4big" ||
	fail "IPv4 ping with 1400-byte payload failed: $(cat "$tmp/ping4big")"
ip netns exec "$ns_cl" ping -6 -q -c 5 -i 0.2 -W 2 2001:2::2 >"$tmp/ping6" ||
	fail "IPv6 ping lost packets: $(cat "$tmp/ping6")"

# The kernel learned tern's MAC through ARP and ND.
mac="$(ip netns exec "$ns_dp" cat "/sys/class/net/$if_dp/address")"
ip -n "$ns_cl" neigh show 198.18.0.2 | grep -qi "lladdr $mac" ||
	fail "ARP: kernel has no entry for 198.18.0.2 at $mac: $(ip -n "$ns_cl" neigh)"
ip -n "$ns_cl" -6 neigh show 2001:2::2 | grep -qi "lladdr $mac" ||
	fail "ND: kernel has no entry for 2001:2::2 at $mac: $(ip -n "$ns_cl" -6 neigh)"

# The same counters in DPDK telemetry, read live over its socket.
echo_replies="$(ip netns exec "$ns_dp" /usr/bin/python3 - "/var/run/dpdk/netl3-tern-$id/dpdk_telemetry.v2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
json.loads(s.recv(16384))  # the greeting
s.send(b"/tern/net/workers")
n = json.loads(s.recv(16384))["/tern/net/workers"]["workers"]
total = 0
for i in range(n):
    s.send(b"/tern/net/stats,%d" % i)
    total += json.loads(s.recv(65536))["/tern/net/stats"]["icmp_echo_replies"]
print(total)
PY
)" || fail "telemetry query failed"
[ "$echo_replies" -ge 11 ] || fail "telemetry: icmp_echo_replies $echo_replies, want >= 11"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || fail "tern exited with status $status on SIGTERM"

# tern logs each worker's counters at exit.
[ "$(netns_counter icmp_echo_replies)" -ge 11 ] || fail "icmp_echo_replies: $(netns_counter icmp_echo_replies)"
[ "$(netns_counter icmp6_echo_replies)" -ge 5 ] || fail "icmp6_echo_replies: $(netns_counter icmp6_echo_replies)"
[ "$(netns_counter arp_replies)" -ge 1 ] || fail "arp_replies: $(netns_counter arp_replies)"
[ "$(netns_counter nd_adverts)" -ge 1 ] || fail "nd_adverts: $(netns_counter nd_adverts)"
n="$(grep -c "dpdk: worker [0-9]*:" "$tmp/tern.log")"
[ "$n" -eq "$workers" ] || fail "$n workers logged counters, want $workers"
grep -q "$workers worker(s)" "$tmp/tern.log" || fail "port set up without $workers workers"
echo "ok: IPv4 and IPv6 echo through the dpdk dataplane, $workers worker(s), $qpairs queue pair(s)"
grep "dpdk: port" "$tmp/tern.log"
grep "dpdk: worker" "$tmp/tern.log"
