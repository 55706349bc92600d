#!/bin/bash
# SPDX-License-Identifier: MIT
# The user's reference scenario (docs/DESIGN.md), with the unmodified mosquitto clients:
# mosquitto_sub -t test/topic -v prints "test/topic hello world" after mosquitto_pub sends it,
# over 127.0.0.1 and over ::1, while tshark captures the loopback; the decoded MQTT sequence
# per address family must be the walkthrough's, and the broker must close every connection
# with a FIN. Broker: $TERN_BIN, or mosquitto with TERN_TEST_BROKER=mosquitto.
set -euo pipefail

MOSQUITTO=/usr/sbin/mosquitto
TIMEOUT=10 # seconds, for every wait below
# tshark loads its dissectors before it captures: measured 12 s on a busy 2-core machine.
TSHARK_START_TIMEOUT=60

fail() {
	echo "FAIL: $*" >&2
	for f in broker.log tshark.err live.txt; do
		[ -s "$work/$f" ] && { echo "----- $f -----" >&2; tail -n 60 "$work/$f" >&2; }
	done
	exit 1
}

if [ "${TERN_TEST_BROKER:-}" = mosquitto ]; then
	broker=("$MOSQUITTO")
	kind=mosquitto
elif [ -n "${TERN_BIN:-}" ]; then
	[ -x "$TERN_BIN" ] || { echo "FAIL: TERN_BIN=$TERN_BIN is not executable" >&2; exit 1; }
	broker=("$TERN_BIN")
	kind=tern
else
	echo "FAIL: set TERN_BIN=/path/to/tern, or TERN_TEST_BROKER=mosquitto" >&2
	exit 1
fi
for tool in tshark mosquitto_sub mosquitto_pub; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/tern-interop.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# A port free on both loopback addresses.
port=$(/usr/bin/python3 -c '
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket(socket.AF_INET6)
    try:
        b.bind(("::1", p)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()')

{
	echo "listener $port 127.0.0.1"
	echo "listener $port ::1"
	[ "$kind" = mosquitto ] && echo "allow_anonymous true"
} >"$work/broker.conf"

"${broker[@]}" -c "$work/broker.conf" >"$work/broker.log" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")

# Ready when both addresses accept (checked before the capture starts, so these
# probe connections are not part of it).
wait_until() { # wait_until DESCRIPTION COMMAND...
	local what=$1
	shift
	local end=$((SECONDS + ${WAIT_TIMEOUT:-$TIMEOUT}))
	until "$@"; do
		[ $SECONDS -lt $end ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}
accepts() { (exec 3<>"/dev/tcp/$1/$port") 2>/dev/null; }
broker_alive() { kill -0 "$broker_pid" 2>/dev/null || fail "broker exited"; }
alive_and_accepts() { broker_alive && accepts "$1"; }
wait_until "broker on 127.0.0.1:$port" alive_and_accepts 127.0.0.1
wait_until "broker on [::1]:$port" alive_and_accepts ::1

# Capture filter on the port; -P -l also prints each dissected packet as it comes, which
# tells when the subscription is in place without adding packets of our own.
tshark -i lo -f "tcp port $port" -d "tcp.port==$port,mqtt" -w "$work/capture.pcapng" -P -l \
	>"$work/live.txt" 2>"$work/tshark.err" &
tshark_pid=$!
pids+=("$tshark_pid")
# "Capturing on" comes when dumpcap is launched, before packets are taken: a client
# started then can lose its first packets to the capture. "Capture started" is the
# moment dumpcap reports it is taking packets.
WAIT_TIMEOUT=$TSHARK_START_TIMEOUT wait_until "tshark to capture" grep -q 'Capture started' "$work/tshark.err"

count() { grep -c "$1" "$work/live.txt" || true; }
more_than() { [ "$(count "$1")" -gt "$2" ]; } # more_than PATTERN N: live lines matching
exited() { ! kill -0 "$1" 2>/dev/null; }

for host in 127.0.0.1 ::1; do
	acks=$(count 'Subscribe Ack')
	mosquitto_sub -h "$host" -p "$port" -t 'test/topic' -v -C 1 >"$work/sub.out" 2>"$work/sub.err" &
	sub_pid=$!
	pids+=("$sub_pid")
	wait_until "SUBACK to mosquitto_sub over $host" more_than 'Subscribe Ack' "$acks"
	mosquitto_pub -h "$host" -p "$port" -t 'test/topic' -m 'hello world' ||
		fail "mosquitto_pub over $host exited with $?"
	wait_until "mosquitto_sub over $host to exit" exited "$sub_pid"
	wait "$sub_pid" || fail "mosquitto_sub over $host exited with $?: $(cat "$work/sub.err")"
	[ "$(cat "$work/sub.out")" = "test/topic hello world" ] ||
		fail "mosquitto_sub over $host printed '$(cat "$work/sub.out")'"
	[ "$(wc -l <"$work/sub.out")" = 1 ] || fail "mosquitto_sub over $host printed more than one line"
	echo "ok: $host: mosquitto_sub printed 'test/topic hello world'"
done

# Both connections per family end with the broker's FIN; wait for the capture to see them.
fins_from_broker() {
	tshark -r "$work/capture.pcapng" -Y "tcp.flags.fin==1 && tcp.srcport==$port" \
		-T fields -e tcp.stream 2>/dev/null | sort -u | wc -l
}
wait_until "the broker's FINs in the live capture" more_than " $port → [0-9]* \[FIN" 3
kill -INT "$tshark_pid"
wait_until "tshark to stop" exited "$tshark_pid"

name_of() {
	case $1 in
	1) echo 'Connect Command' ;;
	2) echo 'Connect Ack' ;;
	3) echo 'Publish Message' ;;
	8) echo 'Subscribe Request' ;;
	9) echo 'Subscribe Ack' ;;
	14) echo 'Disconnect Req' ;;
	*) echo "type $1" ;;
	esac
}

# The walkthrough's sequence. mosquitto_pub sends DISCONNECT right behind its PUBLISH, so
# its Disconnect Req may be captured before the broker's copy to the subscriber: both
# orders are the reference; each connection's own sequence is checked exactly below.
expected_a="Connect Command>
Connect Ack<
Subscribe Request>
Subscribe Ack<
Connect Command>
Connect Ack<
Publish Message>
Publish Message<
Disconnect Req>
Disconnect Req>"
expected_b="Connect Command>
Connect Ack<
Subscribe Request>
Subscribe Ack<
Connect Command>
Connect Ack<
Publish Message>
Disconnect Req>
Publish Message<
Disconnect Req>"
expected_sub="Connect Command> Connect Ack< Subscribe Request> Subscribe Ack< Publish Message< Disconnect Req>"
expected_pub="Connect Command> Connect Ack< Publish Message> Disconnect Req>"

for ip in ip ipv6; do
	# One line "STREAM|TYPE DIRECTION" per MQTT message, in frame order: several messages
	# in one TCP segment come out as comma-separated types of one frame.
	# '>' = to the broker, '<' = from it.
	msgs=$(tshark -r "$work/capture.pcapng" -d "tcp.port==$port,mqtt" -Y "mqtt && $ip" \
		-T fields -E occurrence=a -E aggregator=, -e tcp.stream -e tcp.dstport \
		-e mqtt.msgtype 2>/dev/null |
		while IFS=$'\t' read -r stream dport types; do
			dir='<'
			[ "$dport" = "$port" ] && dir='>'
			IFS=, read -ra list <<<"$types"
			for t in "${list[@]}"; do echo "$stream|$(name_of "$t")$dir"; done
		done)
	got=$(cut -d'|' -f2 <<<"$msgs")
	if [ "$got" != "$expected_a" ] && [ "$got" != "$expected_b" ]; then
		echo "expected ($ip):" >&2
		echo "$expected_a" >&2
		echo "got:" >&2
		echo "$got" >&2
		fail "MQTT packet sequence over $ip"
	fi
	sub_stream=$(head -n 1 <<<"$msgs" | cut -d'|' -f1)
	per_stream() { grep "^$1|" <<<"$msgs" | cut -d'|' -f2 | paste -sd' '; }
	[ "$(per_stream "$sub_stream")" = "$expected_sub" ] ||
		fail "subscriber connection over $ip: $(per_stream "$sub_stream")"
	pub_stream=$(grep -v "^$sub_stream|" <<<"$msgs" | head -n 1 | cut -d'|' -f1)
	[ "$(per_stream "$pub_stream")" = "$expected_pub" ] ||
		fail "publisher connection over $ip: $(per_stream "$pub_stream")"
	# Every TCP connection of this family ends with a FIN sent by the broker.
	streams=$(tshark -r "$work/capture.pcapng" -Y "tcp && $ip" -T fields -e tcp.stream 2>/dev/null |
		sort -u | tr '\n' ' ')
	finned=$(tshark -r "$work/capture.pcapng" -Y "$ip && tcp.flags.fin==1 && tcp.srcport==$port" \
		-T fields -e tcp.stream 2>/dev/null | sort -u | tr '\n' ' ')
	if [ -z "$streams" ] || [ "$streams" != "$finned" ]; then
		fail "over $ip, connections $streams but broker FINs on $finned"
	fi
	[ "$(echo "$streams" | wc -w)" = 2 ] || fail "over $ip, expected 2 connections, got: $streams"
	echo "ok: $ip: MQTT sequence as in the reference, broker closed both connections with FIN"
done
[ "$(fins_from_broker)" = 4 ] || fail "expected broker FINs on 4 connections"
broker_alive
# A clean exit on SIGTERM, and no sanitizer report (leaks are reported then in an ASan build).
kill -TERM "$broker_pid"
status=0
wait "$broker_pid" || status=$?
[ "$status" = 0 ] || fail "broker exited with status $status on SIGTERM"
if grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/broker.log" >&2; then
	fail "sanitizer report in the broker log"
fi
echo "PASS: reference scenario against $kind"
