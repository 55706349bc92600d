#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Persistent sessions (clean session 0): subscriptions kept, QoS 1/2 queued while
offline (QoS 0 not), the max_queued_messages bound, clean session 1 discarding,
and redelivery of unacknowledged messages with DUP after reconnect."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402


class Session(BrokerTestCase):
    BROKER_CONFIG = ['max_queued_messages 5']

    def setUp(self):
        super().setUp()
        self.pub = self.raw(connect='publisher')

    def persistent(self, client_id, filters=None, present=None):
        """Connect with clean session 0 (subscribing to filters); check session present."""
        c = self.raw()
        sp = c.connect_ok(client_id, clean=False)
        if present is not None:
            self.assertEqual(sp, present, 'session present flag')
        if filters:
            c.subscribe_ok(filters)
        return c

    def go_offline(self, c):
        c.send(r.disconnect())
        c.expect_closed()

    def test_subscriptions_kept(self):
        c = self.persistent('keep', [('s/keep', 1)], present=False)
        self.go_offline(c)
        c = self.persistent('keep', present=True)
        self.pub.publish_ok('s/keep', 'still subscribed', 1)
        p = c.receive_publish()
        self.assertEqual((p.topic, p.payload, p.qos), ('s/keep', b'still subscribed', 1))

    def test_offline_queue_qos1_qos2_not_qos0(self):
        c = self.persistent('off', [('s/off/#', 2)], present=False)
        self.go_offline(c)
        self.pub.publish_ok('s/off/0', 'q0', 0)
        self.pub.publish_ok('s/off/1', 'q1', 1, mid=1)
        self.pub.publish_ok('s/off/2', 'q2', 2, mid=2)
        self.pub.publish_ok('s/off/1', 'q1 again', 1, mid=3)
        c = self.persistent('off', present=True)
        got = [c.receive_publish() for _ in range(3)]
        self.assertEqual([(p.topic, p.payload, p.qos) for p in got],
                         [('s/off/1', b'q1', 1), ('s/off/2', b'q2', 2),
                          ('s/off/1', b'q1 again', 1)])
        c.expect_silence(0.5)  # the QoS 0 message was not queued (MQTT-3.1.2-5)

    def test_clean_session_discards(self):
        c = self.persistent('cs', [('s/cs', 1)], present=False)
        self.go_offline(c)
        self.pub.publish_ok('s/cs', 'queued for the old session', 1)
        c = self.raw()
        self.assertFalse(c.connect_ok('cs', clean=True))  # MQTT-3.2.2-1
        self.pub.publish_ok('s/cs', 'no subscription any more', 1)
        c.expect_silence(0.5)
        self.go_offline(c)
        # The clean session ended with its connection: nothing is left for clean=0.
        c = self.persistent('cs', present=False)
        self.pub.publish_ok('s/cs', 'still nothing', 1)
        c.expect_silence(0.5)

    def test_max_queued_messages(self):
        c = self.persistent('mq', [('s/mq', 1)], present=False)
        self.go_offline(c)
        for i in range(20):
            self.pub.publish_ok('s/mq', str(i), 1, mid=i + 1)
        c = self.persistent('mq', present=True)
        got = [int(p.payload) for p in c.receive_until_quiet()]
        self.assertTrue(1 <= len(got) <= 5, 'received %r with max_queued_messages 5' % got)
        self.assertEqual(got, sorted(set(got)), 'queued messages out of order')

    def test_inflight_redelivered_with_dup(self):
        for qos in (1, 2):
            with self.subTest(qos=qos):
                cid = 'dup%d' % qos
                c = self.persistent(cid, [('s/dup', qos)])
                self.pub.publish_ok('s/dup', 'unacked %d' % qos, qos, mid=40 + qos)
                first = c.receive_publish(ack=False)
                self.assertFalse(first.dup)
                c.close()  # neither PUBACK nor PUBREC
                c = self.persistent(cid, present=True)
                again = c.receive_publish(ack=False)  # MQTT-4.4.0-1
                self.assertEqual((again.topic, again.payload, again.qos, again.mid, again.dup),
                                 (first.topic, first.payload, qos, first.mid, True))
                if qos == 1:
                    c.send(r.puback(again.mid))
                else:
                    c.send(r.pubrec(again.mid))
                    self.assertEqual(c.expect(r.PUBREL).mid, again.mid)
                    c.send(r.pubcomp(again.mid))
                self.go_offline(c)
                # acknowledged now: a further reconnect gets nothing
                c = self.persistent(cid, present=True)
                c.expect_silence(0.5)
                self.go_offline(c)

    def test_session_survives_abnormal_loss(self):
        c = self.persistent('lost', [('s/lost', 1)])
        c.abort()
        self.pub.publish_ok('s/lost', 'while lost', 1)
        c = self.persistent('lost', present=True)
        self.assertEqual(c.receive_publish().payload, b'while lost')


if __name__ == '__main__':
    main()
