#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Session takeover with `workers 2`: a client id reconnecting (on whichever worker
SO_REUSEPORT picks) closes the old connection and takes the persistent session,
subscriptions and in-flight QoS 1 messages with it; nothing is lost."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

N_MESSAGES = 200
N_TAKEOVERS = 5
N_FILLERS = 16


class Takeover(BrokerTestCase):
    BROKER_CONFIG = ['workers 2', 'sys_interval 1']

    def setUp(self):
        super().setUp()
        # Many connections over both address families, so that SO_REUSEPORT has put
        # connections on both workers and later connections land on either.
        hosts = ('127.0.0.1', '::1')
        self.fillers = [self.raw(host=hosts[i % 2], connect='filler-%d' % i)
                        for i in range(N_FILLERS)]
        if is_tern():
            mon = SysMonitor(self.raw(connect='takeover-monitor'))
            mon.wait_for('connections on at least two workers', lambda: sum(
                1 for n in mon.per_worker_connected().values() if n > 0) >= 2)
        else:
            not_checked('connections spread over two workers (mosquitto is single-threaded)')

    def take_over(self, old, client_id, clean=False, host='127.0.0.1', drain=None):
        """Connect client_id again; the old connection must be closed (MQTT-3.1.4-2).
        PUBLISHes the old one still receives are passed to drain. Returns (new, sp)."""
        new = self.raw(host=host)
        new.send(r.connect(client_id, clean=clean))
        for p in old.expect_closed(allow_packets=True):
            self.assertEqual(p.type, r.PUBLISH, 'old connection got %r' % p)
            if drain:
                drain(old, p)
        sp, rc = new.expect(r.CONNACK).connack
        self.assertEqual(rc, 0)
        return new, sp

    def test_takeover_keeps_session_and_loses_nothing(self):
        cid = 'taken-over'
        conn = self.raw(connect=cid, clean=False)
        conn.subscribe_ok([('to/x', 1)])
        got = []  # (payload int, dup) in arrival order over all connections

        def on_publish(c, p):
            self.assertEqual((p.topic, p.qos), ('to/x', 1))
            got.append((int(p.payload), p.dup))
            c.send(r.puback(p.mid), may_fail=True)

        errors = []

        def publisher():
            try:
                pub = self.raw(host='::1', connect='to-publisher')
                for i in range(N_MESSAGES):
                    pub.publish_ok('to/x', str(i), qos=1, mid=i % 60000 + 1)
                    time.sleep(0.007)
            except Exception as e:  # reported by the main thread
                errors.append(e)

        t = threading.Thread(target=publisher)
        t.start()
        try:
            hosts = ('127.0.0.1', '::1')
            for k in range(N_TAKEOVERS):
                end = time.monotonic() + 0.15
                while time.monotonic() < end:
                    p = conn.recv(max(0.0, end - time.monotonic()))
                    if p is not None:
                        on_publish(conn, p)
                conn, sp = self.take_over(conn, cid, host=hosts[k % 2], drain=on_publish)
                self.assertTrue(sp, 'takeover %d: session present 0' % k)
            # the takeovers happened while messages were flowing
            self.assertGreater(len(got), 0)
            self.assertTrue(t.is_alive(), 'the publisher finished before the takeovers')
        finally:
            t.join(30)
        self.assertEqual(errors, [])
        deadline = time.monotonic() + 10
        while len({i for i, _ in got}) < N_MESSAGES and time.monotonic() < deadline:
            p = conn.recv(max(0.0, deadline - time.monotonic()))
            if p is None:
                break
            on_publish(conn, p)
        seen = {i for i, _ in got}
        self.assertEqual(sorted(set(range(N_MESSAGES)) - seen), [], 'messages lost')
        firsts, dupes = [], []
        for i, dup in got:
            if i in firsts:
                dupes.append((i, dup))
            else:
                firsts.append(i)
        self.assertEqual(firsts, sorted(firsts), 'messages out of order')
        self.assertTrue(all(dup for _, dup in dupes), 'a repeat without DUP: %r' % dupes)
        conn.expect_silence(0.3)

    def test_repeated_takeovers_keep_subscription(self):
        cid = 'hopper'
        conn = self.raw(connect=cid, clean=False)
        conn.subscribe_ok([('hop/+', 1)])
        pub = self.raw(connect='hop-publisher')
        hosts = ('::1', '127.0.0.1')
        for k in range(10):
            conn, sp = self.take_over(conn, cid, host=hosts[k % 2])
            self.assertTrue(sp)
            pub.publish_ok('hop/%d' % k, 'after takeover %d' % k, 1)
            p = conn.receive_publish()
            if k > 0 and p.dup and p.topic == 'hop/%d' % (k - 1):
                # The previous message's PUBACK left just before this takeover and
                # reached the broker after it (a lost segment resent, say): the
                # session still held it unacknowledged, so it comes again with DUP
                # (MQTT-4.4.0-1). Then the new message.
                p = conn.receive_publish()
            self.assertEqual((p.topic, p.payload), ('hop/%d' % k, b'after takeover %d' % k))

    def test_clean_session_takeover_drops_old_session(self):
        cid = 'cleaned'
        old = self.raw(connect=cid, clean=False)
        old.subscribe_ok([('cl/x', 1)])
        new, sp = self.take_over(old, cid, clean=True, host='::1')
        self.assertFalse(sp)  # MQTT-3.2.2-1
        self.raw(connect='cl-publisher').publish_ok('cl/x', 'nobody listens', 1)
        new.expect_silence(0.5)
        # and the session is gone for good once the clean connection ends
        new.send(r.disconnect())
        new.expect_closed()
        again = self.raw()
        self.assertFalse(again.connect_ok(cid, clean=False))


if __name__ == '__main__':
    main()
