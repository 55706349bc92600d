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

tern="${1:?usage: ping.sh TERN_BINARY [WORKERS [QPAIRS]]}"
workers="${2:-1}"
qpairs="${3:-1}"
fault="${4:-}"
if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: the dpdk integration test needs root (namespaces, af_packet)" >&2
	exit 1
fi

id="$$"
ns_dp="netl3-tern-dp-$id"
ns_cl="netl3-tern-cl-$id"
if_dp="netl3d$id" # interface names have at most 15 bytes
if_cl="netl3c$id"
tmp="$(mktemp -d /tmp/netl3-tern.XXXXXX)"
pid=""

cleanup() {
	local rc=$?
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	# Deleting a namespace deletes the veth end inside it, and with it its peer.
	ip netns del "$ns_dp" 2>/dev/null || true
	ip netns del "$ns_cl" 2>/dev/null || true
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	# Stopped first, so the log ends with the counters of each worker.
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=""
	fi
	echo "--- tern log ---" >&2
	cat "$tmp/tern.log" >&2 || true
	exit 1
}

ip netns add "$ns_dp"
ip netns add "$ns_cl"
ip link add "$if_dp" netns "$ns_dp" type veth peer name "$if_cl" netns "$ns_cl"
# The kernel on tern's side must stay silent: no addresses, no IPv6.
ip netns exec "$ns_dp" sysctl -qw "net.ipv6.conf.$if_dp.disable_ipv6=1"
ip -n "$ns_dp" link set "$if_dp" up
ip -n "$ns_cl" addr add 198.18.0.1/24 dev "$if_cl"
ip -n "$ns_cl" addr add 2001:2::1/64 dev "$if_cl" nodad
ip -n "$ns_cl" link set "$if_cl" up
# veth leaves TCP/ICMP checksums to "hardware" unless told; af_packet would see them unfilled.
ip netns exec "$ns_cl" ethtool -K "$if_cl" tx off >/dev/null

# lcore 0 is the control lcore; workers share the last CPU when there are few.
ncpu="$(nproc)"
lcores="0@0"
for i in $(seq 1 "$workers"); do
	lcores="$lcores,$i@$((i < ncpu ? i : ncpu - 1))"
done

cat >"$tmp/tern.conf" <<CONF
dataplane dpdk
dpdk_eal --lcores=$lcores --no-huge -m 512 --no-pci --no-shconf --file-prefix=netl3-tern-$id --vdev=net_af_packet0,iface=$if_dp,qpairs=$qpairs
dpdk_port 0
dpdk_address 198.18.0.2/24
dpdk_address 2001:2::2/64
dpdk_gateway 198.18.0.254
sys_interval 0
CONF
[ -z "$fault" ] || echo "dpdk_fault $fault" >>"$tmp/tern.conf"

ip netns exec "$ns_dp" "$tern" -c "$tmp/tern.conf" >"$tmp/tern.log" 2>&1 &
pid=$!

# EAL start-up takes a moment; the first answered ping ends the wait.
ok=""
for _ in $(seq 40); do
	kill -0 "$pid" 2>/dev/null || fail "tern exited during start-up"
	if ip netns exec "$ns_cl" ping -q -c 1 -W 1 198.18.0.2 >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.5
done
[ -n "$ok" ] || fail "no IPv4 echo reply within 20 s"

if [ -n "$fault" ]; then
	for dst in 198.18.0.2 2001:2::2; do
		got="$(ip netns exec "$ns_cl" ping -c 40 -i 0.05 -W 1 "$dst" 2>/dev/null |
			sed -n 's/.* \([0-9]*\) received.*/\1/p')" || true
		[ "${got:-0}" -ge 10 ] && [ "${got:-0}" -lt 40 ] ||
			fail "through the fault layer $dst answered ${got:-0} of 40 pings; want some lost, most not"
	done
	kill -TERM "$pid"
	wait "$pid" || fail "tern failed on SIGTERM"
	pid=""
	dropped="$(sed -n 's/.* fault_dropped=\([0-9]*\).*/\1/p' "$tmp/tern.log" | head -1)"
	[ "${dropped:-0}" -gt 0 ] || fail "fault layer dropped nothing"
	echo "ok: ping through the fault layer ($fault), $dropped frames dropped"
	exit 0
fi

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
counter() {
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$tmp/tern.log" | head -1
}
[ "$(counter icmp_echo_replies)" -ge 11 ] || fail "icmp_echo_replies: $(counter icmp_echo_replies)"
[ "$(counter icmp6_echo_replies)" -ge 5 ] || fail "icmp6_echo_replies: $(counter icmp6_echo_replies)"
[ "$(counter arp_replies)" -ge 1 ] || fail "arp_replies: $(counter arp_replies)"
[ "$(counter nd_adverts)" -ge 1 ] || fail "nd_adverts: $(counter nd_adverts)"
n="$(grep -c "dpdk: worker [0-9]*:" "$tmp/tern.log")"
[ "$n" -eq "$workers" ] || fail "$n workers logged counters, want $workers"
grep -q "$workers worker(s)" "$tmp/tern.log" || fail "port set up without $workers workers"
echo "ok: IPv4 and IPv6 echo through the dpdk dataplane, $workers worker(s), $qpairs queue pair(s)"
grep "dpdk: port" "$tmp/tern.log"
grep "dpdk: worker" "$tmp/tern.log"
