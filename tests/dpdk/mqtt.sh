#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MQTT over the dpdk dataplane: tern on net_af_packet in one namespace,
# mosquitto_pub and mosquitto_sub (the kernel's TCP) in another, over IPv4
# and IPv6: a retained message, live QoS 0 and QoS 1 delivery in order, and a
# 300 KB payload byte for byte (many segments, window updates). Root only.
# Usage: mqtt.sh TERN_BINARY [WORKERS [QPAIRS [FAULT]]]; FAULT "SEED DROP DUP
# REORDER" runs it all through tern's seeded fault layer (dpdk_fault).
set -euo pipefail

tern="${1:?usage: mqtt.sh TERN_BINARY [WORKERS [QPAIRS [FAULT]]]}"
workers="${2:-1}"
qpairs="${3:-1}"
fault="${4:-}"
# shellcheck source=tests/dpdk/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

if [ -n "$fault" ]; then
	netns_start_tern "$workers" "$qpairs" "listener 1883" "dpdk_fault $fault"
else
	netns_start_tern "$workers" "$qpairs" "listener 1883"
fi

cl() {
	ip netns exec "$ns_cl" timeout 45 "$@"
}

head -c 300000 /dev/urandom >"$tmp/big"
for host in 198.18.0.2 2001:2::2; do
	topic="netl3/$host"
	cl mosquitto_pub -h "$host" -t "$topic/retained" -m "kept on $host" -r -q 1 ||
		fail "$host: retained publish failed"
	got="$(cl mosquitto_sub -h "$host" -t "$topic/retained" -C 1 -W 10)" ||
		fail "$host: no retained message"
	[ "$got" = "kept on $host" ] || fail "$host: retained message '$got'"

	# Live delivery: the subscriber is up before the publisher starts (its
	# retained marker arrives first), then 50 QoS 1 and 50 QoS 0 messages.
	cl mosquitto_pub -h "$host" -t "$topic/live" -m start -r -q 1
	cl mosquitto_sub -h "$host" -t "$topic/live" -q 1 -C 101 -W 40 >"$tmp/live" &
	sub=$!
	for _ in $(seq 50); do
		[ -s "$tmp/live" ] && break
		sleep 0.1
	done
	[ -s "$tmp/live" ] || fail "$host: subscriber got nothing"
	# One publisher connection per QoS, one message per line (-l).
	for i in $(seq 1 50); do echo "q1-$i"; done |
		cl mosquitto_pub -h "$host" -t "$topic/live" -l -q 1 || fail "$host: QoS 1 publishes failed"
	for i in $(seq 1 50); do echo "q0-$i"; done |
		cl mosquitto_pub -h "$host" -t "$topic/live" -l -q 0 || fail "$host: QoS 0 publishes failed"
	wait "$sub" || fail "$host: subscriber ended early: $(wc -l <"$tmp/live") messages"
	{
		echo start
		for i in $(seq 1 50); do echo "q1-$i"; done
		for i in $(seq 1 50); do echo "q0-$i"; done
	} >"$tmp/want"
	if [ -n "$fault" ]; then
		# MQTT orders messages per QoS only: while a loss holds QoS 1 messages
		# back in the in-flight window, later QoS 0 ones may overtake them.
		for q in start q1- q0-; do
			cmp -s <(grep "^$q" "$tmp/want") <(grep "^$q" "$tmp/live") ||
				fail "$host: $q messages missing or out of order: $(diff <(grep "^$q" "$tmp/want") <(grep "^$q" "$tmp/live") | head -5)"
		done
	else
		cmp -s "$tmp/want" "$tmp/live" || fail "$host: messages missing or out of order: $(diff "$tmp/want" "$tmp/live" | head -5)"
	fi

	cl mosquitto_pub -h "$host" -t "$topic/big" -f "$tmp/big" -r -q 1 ||
		fail "$host: 300 KB publish failed"
	cl mosquitto_sub -h "$host" -t "$topic/big" -C 1 -W 25 -N >"$tmp/big.got" ||
		fail "$host: 300 KB message not received"
	cmp -s "$tmp/big" "$tmp/big.got" ||
		fail "$host: 300 KB payload differs ($(stat -c %s "$tmp/big.got") bytes)"
done

netns_stop_tern
[ "$(netns_counter rx_tcp)" -gt 0 ] || fail "no TCP counted"
[ -z "$fault" ] || [ "$(netns_counter fault_dropped)" -gt 0 ] || fail "fault layer dropped nothing"
echo "ok: MQTT over the dpdk dataplane, IPv4 and IPv6, $workers worker(s), $qpairs queue pair(s)${fault:+, faults $fault}"
