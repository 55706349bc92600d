# SPDX-License-Identifier: MIT
"""QoS 1 stream check for the dpdk fault test (mqtt_fault.sh): one paho
subscriber and one paho publisher (the kernel's TCP) on HOST:1883; the
publisher sends COUNT numbered QoS 1 messages, and every one must reach the
subscriber exactly once and in order. Both connections must stay up the
whole time: with a stable connection MQTT has no reason to redeliver, so a
DUP flag, a repeat, a gap, a reordering or a disconnect is a failure.

Usage: /usr/bin/python3 qos1_stream.py HOST COUNT TIMEOUT_S INFLIGHT
(INFLIGHT: the publisher's window of unacknowledged QoS 1 messages).
Prints one summary line; exits 0 on success, 1 with the reason otherwise.
"""

import os
import sys
import threading
import time

import paho.mqtt.client as mqtt


class Side:
    """One client and what happened to it, filled in by paho's network thread."""

    def __init__(self, name):
        self.client = mqtt.Client(client_id='%s-%d' % (name, os.getpid()), clean_session=True,
                                  protocol=mqtt.MQTTv311)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.disconnects = 0
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_subscribe = lambda c, u, mid, granted: self.subscribed.set()

    def on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            self.connected.set()

    def on_disconnect(self, client, userdata, rc):
        # rc 0 is our own disconnect() at the end; anything else was the network's.
        if rc != 0:
            self.disconnects += 1


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def main():
    host, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    inflight = int(sys.argv[4])
    topic = 'fault/%s/qos1' % host
    start = time.monotonic()
    deadline = start + timeout
    got = []
    dups = []
    done = threading.Event()
    acked = [0]

    sub = Side('fault-sub')

    def on_message(client, userdata, msg):
        got.append(msg.payload)
        if msg.dup:
            dups.append(msg.payload)
        if len(got) >= count:
            done.set()

    sub.client.on_message = on_message
    sub.client.connect(host, 1883, keepalive=60)
    sub.client.loop_start()
    if not sub.connected.wait(max(deadline - time.monotonic(), 0)):
        fail('%s: subscriber not connected' % host)
    sub.client.subscribe(topic, qos=1)
    if not sub.subscribed.wait(max(deadline - time.monotonic(), 0)):
        fail('%s: no SUBACK' % host)

    pub = Side('fault-pub')
    all_acked = threading.Event()

    def on_publish(client, userdata, mid):
        acked[0] += 1
        if acked[0] >= count:
            all_acked.set()

    pub.client.on_publish = on_publish
    pub.client.max_inflight_messages_set(inflight)
    pub.client.connect(host, 1883, keepalive=60)
    pub.client.loop_start()
    if not pub.connected.wait(max(deadline - time.monotonic(), 0)):
        fail('%s: publisher not connected' % host)
    t_pub = time.monotonic()
    for i in range(count):
        rc = pub.client.publish(topic, b'%d' % i, qos=1).rc
        if rc != mqtt.MQTT_ERR_SUCCESS:
            fail('%s: publish %d refused by paho: %d' % (host, i, rc))
    acked_in_time = all_acked.wait(max(deadline - time.monotonic(), 0))
    t_acked = time.monotonic()
    done.wait(max(deadline - time.monotonic(), 0))
    t_done = time.monotonic()
    pub.client.disconnect()
    sub.client.disconnect()
    pub.client.loop_stop()
    sub.client.loop_stop()

    want = [b'%d' % i for i in range(count)]
    lost_conn = pub.disconnects + sub.disconnects
    if lost_conn > 0:
        fail('%s: %d unexpected disconnect(s)' % (host, lost_conn))
    if not acked_in_time:
        fail('%s: %d of %d publishes acknowledged in %.0f s' % (host, acked[0], count, timeout))
    if dups:
        fail('%s: %d message(s) redelivered with DUP, first %r' % (host, len(dups), dups[0]))
    if got != want:
        seen = set()
        repeats = [p for p in got if p in seen or seen.add(p)]
        missing = [p for p in want if p not in seen]
        first_bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), len(got))
        fail('%s: got %d of %d messages: %d missing (first %r), %d repeated, first '
             'difference at index %d' % (host, len(got), count, len(missing),
                                         missing[0] if missing else None, len(repeats),
                                         first_bad))
    print('ok: %s: %d QoS 1 messages exactly once and in order; all acknowledged after '
          '%.1f s, all received after %.1f s' % (host, count, t_acked - t_pub, t_done - t_pub))


if __name__ == '__main__':
    main()
