#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MQTT over the dpdk dataplane through a lossy network: tern on net_af_packet
# with its seeded fault layer dropping, duplicating and reordering 5% of the
# frames each way; a paho publisher and subscriber (the kernel's TCP) in the
# other namespace; COUNT QoS 1 messages must arrive exactly once and in order
# over IPv4, then over IPv6 (tests/dpdk/qos1_stream.py). Root only.
# Usage: mqtt_fault.sh TERN_BINARY [SEED [COUNT]] (defaults 4 and 10000).
set -euo pipefail

tern="${1:?usage: mqtt_fault.sh TERN_BINARY [SEED [COUNT]]}"
seed="${2:-4}"
count="${3:-10000}"
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=tests/dpdk/netns.sh
. "$here/netns.sh"

# Per host; with correct recovery a run takes seconds, so this only bounds a stall.
per_host_s=120
# QoS 1 messages in flight each way (tern to the subscriber, the publisher to
# tern): a wider window than the default 20 keeps the stream moving while one
# segment waits for its retransmission. Nothing is queued past a bound, so
# any message missing is the network path's fault, never the queue policy's.
inflight=100

# paho wakes its network thread through a socket pair on 127.0.0.1.
ip -n "$ns_cl" link set lo up
netns_start_tern 1 1 "listener 1883" "max_inflight_messages $inflight" \
	"max_queued_messages 0" "dpdk_fault $seed 50000 50000 50000"
for host in 198.18.0.2 2001:2::2; do
	if ! ip netns exec "$ns_cl" timeout $((per_host_s + 30)) /usr/bin/python3 \
		"$here/qos1_stream.py" "$host" "$count" "$per_host_s" "$inflight" >"$tmp/stream" 2>&1; then
		fail "seed $seed: $(cat "$tmp/stream")"
	fi
	cat "$tmp/stream"
done
netns_stop_tern

for c in fault_dropped fault_duplicated fault_reordered; do
	[ "$(netns_counter "$c")" -gt 0 ] || fail "the fault layer counted no $c"
done
# The recovery work it took, for whoever reads the log.
sed -n 's/.*tcp: \(seg_in=.*\)/tcp: \1/p' "$tmp/tern.log" | head -1
echo "ok: $count QoS 1 messages over IPv4 and IPv6 through 5% drop, duplication and reordering each way (seed $seed)"
