#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one protocol test against tern on the dpdk dataplane (suite proto-dpdk):
# the test runs in a network namespace of its own, and brokerfix.py gives each
# broker it starts a namespace with one end of a veth pair for net_af_packet
# (see DpdkSite there). Root only: anyone else fails, never skips. On every exit
# path the brokers are killed by PID and the namespaces removed by name.
# Usage: dpdk.sh PYTHON TEST.py [UNITTEST_ARGS...] (e.g. -k NAME to run only some tests)
set -euo pipefail

python="${1:?usage: dpdk.sh PYTHON TEST.py}"
test_py="${2:?usage: dpdk.sh PYTHON TEST.py}"
if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: the proto-dpdk tests need root (namespaces, af_packet)" >&2
	exit 1
fi

prefix="tern-dpdkproto-$$"
ns_cl="$prefix-cl"
tmp="$(mktemp -d /tmp/tern-proto-dpdk.XXXXXX)"
child=""

cleanup() {
	local rc=$? ns pid
	[ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true
	[ -z "$child" ] || wait "$child" 2>/dev/null || true
	# Brokers a killed test left behind: by the PIDs it recorded.
	if [ -f "$tmp/pids" ]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done <"$tmp/pids"
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case "$ns" in "$prefix"-*) ip netns del "$ns" 2>/dev/null || true ;; esac
	done
	# EAL leaves its (empty) runtime folder behind even with --no-shconf.
	rm -rf -- "/var/run/dpdk/$prefix"-*
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT INT TERM

# What an earlier run killed with SIGKILL (meson's timeout) could not remove:
# namespaces of this script whose PID is gone, and EAL's folders.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	case "$ns" in
	tern-dpdkproto-*-*)
		old="${ns#tern-dpdkproto-}"
		old="${old%%-*}"
		if ! kill -0 "$old" 2>/dev/null; then
			ip netns del "$ns" 2>/dev/null || true
			rm -rf -- "/var/run/dpdk/tern-dpdkproto-$old"-*
		fi
		;;
	esac
done

ip netns add "$ns_cl"
ip -n "$ns_cl" link set lo up
: >"$tmp/pids"
# In the background so that a TERM from meson runs the trap at once.
ip netns exec "$ns_cl" env TERN_TEST_DATAPLANE=dpdk TERN_DPDK_NS_PREFIX="$prefix" \
	TERN_DPDK_PIDFILE="$tmp/pids" "$python" "$test_py" "${@:3}" &
child=$!
rc=0
wait "$child" || rc=$?
child=""
exit "$rc"
