#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Zero-copy fan-out over the dpdk dataplane: a 300 KB payload to 1, then to
# 8 subscribers (IPv4, then IPv6). Live telemetry (/tern/net/tx) must show the
# payload sent by reference once per subscriber while the bytes copied stay a
# few header bytes per subscriber, whatever the payload; after everyone has
# disconnected, every message reference the dataplane took is dropped and
# every worker's pool is back to its mbufs in use before the clients came.
# Root only. Usage: zerocopy.sh TERN_BINARY [WORKERS [QPAIRS]]
set -euo pipefail

tern="${1:?usage: zerocopy.sh TERN_BINARY [WORKERS [QPAIRS]]}"
workers="${2:-1}"
qpairs="${3:-1}"
# shellcheck source=tests/dpdk/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

payload=300000
# Header bytes one subscriber may cost at most: CONNACK, SUBACK, the small
# retained marker and the big PUBLISH's own header. Far below one payload.
per_sub_max=256

# veth would mark tern's frames checksum-verified; make the client's kernel check them.
ip netns exec "$ns_cl" ethtool -K "$if_cl" rx off >/dev/null
netns_start_tern "$workers" "$qpairs" "listener 1883"

cl() {
	ip netns exec "$ns_cl" timeout 45 "$@"
}

# tx: "copied referenced refs unrefs in_use zerocopy", summed over workers
# (zerocopy: 1 when the port sends by reference).
tx() {
	ip netns exec "$ns_dp" /usr/bin/python3 - "/var/run/dpdk/netl3-tern-$id/dpdk_telemetry.v2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
json.loads(s.recv(16384))  # the greeting
s.send(b"/tern/net/workers")
n = json.loads(s.recv(16384))["/tern/net/workers"]["workers"]
keys = ["bytes_copied", "bytes_referenced", "msg_refs", "msg_unrefs", "pool_in_use", "zerocopy"]
tot = dict.fromkeys(keys, 0)
for i in range(n):
    s.send(b"/tern/net/tx,%d" % i)
    d = json.loads(s.recv(65536))["/tern/net/tx"]
    for k in keys[:-1]:
        tot[k] += d[k]
    tot["zerocopy"] = d["zerocopy"]  # the port's, the same for all
print(" ".join(str(tot[k]) for k in keys))
PY
}

# Quiet: every reference dropped and the pools back to base (TCP needs a
# moment for the last ACKs and FINs).
wait_quiet() {
	local base="$1" now
	for _ in $(seq 50); do
		read -r _ _ refs unrefs in_use _ <<<"$(tx)"
		[ "$refs" = "$unrefs" ] && [ "$in_use" = "$base" ] && return 0
		sleep 0.2
	done
	now="$(tx)"
	fail "not quiet: copied referenced refs unrefs in_use zerocopy = $now (pool base $base)"
}

head -c "$payload" /dev/urandom >"$tmp/big"
read -r _ _ _ _ base zc <<<"$(tx)" || fail "telemetry query failed"
[ "$zc" = 1 ] || fail "zero-copy is off on net_af_packet"

# The big PUBLISH's header bytes before its payload (fixed header 4, topic
# 2 + 9, packet id 2) are odd in number, so every TCP segment's chain has
# odd-length mbufs: the software checksum must get them right.
# round N HOST: N subscribers get the marker, then the big message; prints
# the bytes copied and referenced meanwhile.
round() {
	local n="$1" host="$2" k before after
	cl mosquitto_pub -h "$host" -t zc/ready -m ready -r -q 1 || fail "$host: marker publish failed"
	before="$(tx)"
	for k in $(seq "$n"); do
		cl mosquitto_sub -h "$host" -i "zc-$k" -t zc/ready -t zc/bigodd -q 1 -C 2 -W 30 -N \
			>"$tmp/got.$k" &
		eval "sub$k=$!"
	done
	# Each has subscribed once its retained marker arrived.
	for k in $(seq "$n"); do
		for _ in $(seq 100); do
			[ -s "$tmp/got.$k" ] && break
			sleep 0.1
		done
		[ -s "$tmp/got.$k" ] || fail "$host: subscriber $k got no marker"
	done
	cl mosquitto_pub -h "$host" -t zc/bigodd -f "$tmp/big" -q 1 || fail "$host: big publish failed"
	for k in $(seq "$n"); do
		eval "wait \$sub$k" || fail "$host: subscriber $k of $n ended early"
		cmp -s <(printf ready; cat "$tmp/big") "$tmp/got.$k" ||
			fail "$host: subscriber $k of $n: payload differs ($(stat -c %s "$tmp/got.$k") bytes)"
	done
	wait_quiet "$base"
	after="$(tx)"
	read -r c0 r0 _ <<<"$before"
	read -r c1 r1 _ <<<"$after"
	echo "$((c1 - c0)) $((r1 - r0))"
}

read -r copied1 ref1 <<<"$(round 1 198.18.0.2)"
read -r copied8 ref8 <<<"$(round 8 2001:2::2)"
echo "1 subscriber: copied $copied1 referenced $ref1; 8 subscribers: copied $copied8 referenced $ref8"
[ "$ref1" -ge "$payload" ] || fail "1 subscriber: only $ref1 bytes referenced"
[ "$ref8" -ge $((8 * payload)) ] || fail "8 subscribers: only $ref8 bytes referenced"
[ "$copied1" -le "$per_sub_max" ] || fail "1 subscriber: $copied1 bytes copied"
[ "$copied8" -le $((8 * per_sub_max)) ] || fail "8 subscribers: $copied8 bytes copied"

netns_stop_tern
grep -q "tx: bytes_copied=" "$tmp/tern.log" || fail "no tx counters in the log"
refs="$(netns_counter msg_refs)"
[ "$refs" -gt 0 ] && [ "$refs" = "$(netns_counter msg_unrefs)" ] ||
	fail "message references taken $refs, dropped $(netns_counter msg_unrefs)"
echo "ok: zero-copy fan-out, $workers worker(s), $qpairs queue pair(s)"
