#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Retained messages: stored, replaced, deleted, sent on subscribe with RETAIN=1,
live copies with RETAIN=0, wildcard and $-topic matching, QoS = min(msg, sub)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402


class Retain(BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.pub = self.raw(connect='retainer')

    def retain(self, topic, payload, qos=1):
        self.pub.publish_ok(topic, payload, qos, retain=True, mid=1)
        if qos == 0:
            # No ack for QoS 0: a PINGRESP after it shows the broker has handled it
            # before another connection subscribes (a race on a busy machine).
            self.pub.send(r.pingreq())
            self.pub.expect(r.PINGRESP)

    def subscribe(self, client_id, filters):
        s = self.raw(connect=client_id)
        s.subscribe_ok(filters)
        return s

    def retained_on_subscribe(self, filters, n):
        """Subscribe fresh and return the n retained messages sent, then expect no more."""
        s = self.subscribe('peek', filters)
        got = [s.receive_publish() for _ in range(n)]
        s.expect_silence(0.3)
        s.close()
        return got

    def test_stored_and_sent_with_retain_flag(self):
        self.retain('r/a', 'kept')
        (p,) = self.retained_on_subscribe([('r/a', 1)], 1)
        self.assertEqual((p.topic, p.payload, p.retain, p.qos), ('r/a', b'kept', True, 1))

    def test_live_delivery_has_retain_0(self):
        s = self.subscribe('live', [('r/live', 1)])
        self.retain('r/live', 'now')
        p = s.receive_publish()
        self.assertEqual((p.payload, p.retain), (b'now', False))  # MQTT-3.3.1-9

    def test_replace(self):
        self.retain('r/x', 'one')
        self.retain('r/x', 'two')
        (p,) = self.retained_on_subscribe([('r/x', 0)], 1)
        self.assertEqual((p.payload, p.retain), (b'two', True))

    def test_delete_with_empty_payload(self):
        self.retain('r/gone', 'here')
        self.retain('r/gone', '', qos=0)  # MQTT-3.3.1-10
        self.retained_on_subscribe([('r/gone', 0)], 0)
        # ...and it is gone for wildcard subscribers too; the empty message is not stored.
        self.retained_on_subscribe([('r/#', 0)], 0)

    def test_non_retained_publish_does_not_replace(self):
        self.retain('r/keep', 'retained')
        self.pub.publish_ok('r/keep', 'plain', 1, retain=False)
        (p,) = self.retained_on_subscribe([('r/keep', 0)], 1)
        self.assertEqual(p.payload, b'retained')

    def test_wildcard_subscribe_gets_all_matching(self):
        topics = ['w/a', 'w/b/c', 'w/b/d', 'other/a', 'w']
        for t in topics:
            self.retain(t, 'v ' + t)
        got = self.retained_on_subscribe([('w/#', 0)], 3 + 1)  # 'w' matches w/# too
        self.assertEqual(sorted(p.topic for p in got), ['w', 'w/a', 'w/b/c', 'w/b/d'])
        self.assertTrue(all(p.retain and p.payload == b'v ' + p.topic.encode() for p in got))
        got = self.retained_on_subscribe([('+/a', 0), ('w/b/+', 0)], 4)
        self.assertEqual(sorted(p.topic for p in got), ['other/a', 'w/a', 'w/b/c', 'w/b/d'])

    def test_dollar_topics_excluded_from_wildcards(self):
        self.retain('$r/x', 'dollar')
        self.retain('n/x', 'normal')
        got = self.retained_on_subscribe([('#', 0)], 1)
        self.assertEqual(got[0].topic, 'n/x')
        got = self.retained_on_subscribe([('+/x', 0)], 1)
        self.assertEqual(got[0].topic, 'n/x')
        (p,) = self.retained_on_subscribe([('$r/#', 0)], 1)
        self.assertEqual((p.topic, p.payload), ('$r/x', b'dollar'))

    def test_retained_qos_is_min_of_message_and_subscription(self):
        self.retain('q/0', 'zero', qos=0)
        self.retain('q/1', 'one', qos=1)
        self.retain('q/2', 'two', qos=2)
        for sub_qos in (0, 1, 2):
            with self.subTest(sub_qos=sub_qos):
                got = self.retained_on_subscribe([('q/+', sub_qos)], 3)
                qos = {p.topic: p.qos for p in got}
                self.assertEqual(qos, {'q/%d' % m: min(m, sub_qos) for m in (0, 1, 2)})

    def test_resubscribe_sends_retained_again(self):
        """MQTT-3.8.4-3: a repeated SUBSCRIBE re-sends the retained messages."""
        self.retain('again', 'r')
        s = self.subscribe('again-sub', [('again', 1)])
        self.assertEqual(s.receive_publish().payload, b'r')
        s.subscribe_ok([('again', 1)], mid=2)
        p = s.receive_publish()
        self.assertEqual((p.payload, p.retain), (b'r', True))


if __name__ == '__main__':
    main()
