# SPDX-License-Identifier: MIT
# Shared part of the dpdk integration tests (source it): two network
# namespaces joined by a veth pair, tern in one on net_af_packet (--no-huge),
# the kernel's clients in the other; 198.18.0.0/24 and 2001:2::/64 (RFC 2544
# and RFC 5180 benchmarking ranges). Root only: anyone else fails, never
# skips. netns_cleanup (installed as the EXIT trap) stops tern by PID and
# removes the namespaces, links and files on every exit path.
# Uses: $tern (binary). Sets: ns_dp ns_cl if_dp if_cl tmp pid id.

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: the dpdk integration tests need root (namespaces, af_packet)" >&2
	exit 1
fi

id="$$"
ns_dp="netl3-tern-dp-$id"
ns_cl="netl3-tern-cl-$id"
if_dp="netl3d$id" # interface names have at most 15 bytes
if_cl="netl3c$id"
tmp="$(mktemp -d /tmp/netl3-tern.XXXXXX)"
pid=""

netns_stop_tern() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	pid=""
}

netns_cleanup() {
	local rc=$?
	netns_stop_tern
	# Deleting a namespace deletes the veth end inside it, and with it its peer.
	ip netns del "$ns_dp" 2>/dev/null || true
	ip netns del "$ns_cl" 2>/dev/null || true
	rm -rf "$tmp"
	exit "$rc"
}
trap netns_cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	# Stopped first, so the log ends with the counters of each worker.
	netns_stop_tern
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

# netns_start_tern WORKERS QPAIRS [EXTRA_CONFIG_LINE...]: start tern on the veth,
# wait until it answers ping.
netns_start_tern() {
	local workers="$1" qpairs="$2" ncpu lcores i line
	shift 2
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
	for line in "$@"; do
		echo "$line" >>"$tmp/tern.conf"
	done
	ip netns exec "$ns_dp" "$tern" -c "$tmp/tern.conf" >"$tmp/tern.log" 2>&1 &
	pid=$!
	# EAL start-up takes a moment; the first answered ping ends the wait.
	for _ in $(seq 40); do
		kill -0 "$pid" 2>/dev/null || fail "tern exited during start-up"
		if ip netns exec "$ns_cl" ping -q -c 1 -W 1 198.18.0.2 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	fail "no IPv4 echo reply within 20 s"
}

# netns_counter NAME: the first worker's value of counter NAME in tern's exit log.
netns_counter() {
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$tmp/tern.log" | head -1
}
