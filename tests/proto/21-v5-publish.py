#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""MQTT 5.0 publishing: properties forwarded unchanged and in order, message
expiry (live, queued and retained), topic aliases both ways, the client's
Receive Maximum and Maximum Packet Size honoured, and 3.1.1 subscribers
getting plain packets from 5.0 publishers."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt5 as m  # noqa: E402
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402

FORWARDED = [
    (m.PAYLOAD_FORMAT, 1),
    (m.CONTENT_TYPE, 'text/plain'),
    (m.RESPONSE_TOPIC, 'reply/here'),
    (m.CORRELATION_DATA, b'\x00\x01\xff'),
    (m.USER_PROPERTY, ('k', 'v1')),
    (m.USER_PROPERTY, ('k', 'v2')),
    (m.USER_PROPERTY, ('a', '\u00e9')),
]


class V5Publish(BrokerTestCase):
    def v5(self, client_id, **kw):
        c = m.Client5('127.0.0.1', self.broker.port)
        self.addCleanup(c.close)
        c.connect5_ok(client_id, **kw)
        return c

    def test_properties_forwarded_in_order(self):
        sub = self.v5('fsub')
        sub.subscribe5_ok([('fw/#', 1)])
        old = self.raw(connect='f311')
        old.subscribe_ok([('fw/#', 1)])
        pub = self.v5('fpub')
        pub.send(m.publish('fw/1', 'body', qos=1, mid=5, properties=FORWARDED))
        self.assertEqual(pub.expect5(m.PUBACK).mid, 5)
        p = sub.receive5()
        self.assertEqual((p.topic, p.payload, p.qos), ('fw/1', b'body', 1))
        mine = [(k, v) for k, v in p.properties if k not in (m.TOPIC_ALIAS, m.SUBSCRIPTION_ID)]
        self.assertEqual(mine, FORWARDED)
        q = old.receive_publish()
        self.assertEqual((q.topic, q.payload), ('fw/1', b'body'))

    def test_message_expiry_counts_down_in_queue(self):
        sub = self.v5('exq', properties=[(m.SESSION_EXPIRY, 60)])
        sub.subscribe5_ok([('ex/q', 1)])
        sub.send(m.disconnect())
        sub.expect_closed()
        pub = self.v5('expub')
        pub.send(m.publish('ex/q', 'short', qos=1, mid=1, properties=[(m.MESSAGE_EXPIRY, 1)]))
        pub.expect5(m.PUBACK)
        pub.send(m.publish('ex/q', 'long', qos=1, mid=2, properties=[(m.MESSAGE_EXPIRY, 30)]))
        pub.expect5(m.PUBACK)
        time.sleep(2.2)
        again = self.v5('exq', clean=False, properties=[(m.SESSION_EXPIRY, 60)])
        p = again.receive5()
        self.assertEqual(p.payload, b'long', 'the expired message was delivered')
        left = p.prop(m.MESSAGE_EXPIRY)
        self.assertIsNotNone(left)
        self.assertLessEqual(left, 28)
        self.assertGreaterEqual(left, 20)
        again.expect_silence(0.5)

    def test_retained_message_expires(self):
        pub = self.v5('exr')
        pub.send(m.publish('ex/r', 'gone soon', qos=1, mid=1, retain=True,
                           properties=[(m.MESSAGE_EXPIRY, 1)]))
        pub.expect5(m.PUBACK)
        early = self.v5('exr1')
        early.subscribe5_ok([('ex/r', 0)])
        self.assertEqual(early.receive5().payload, b'gone soon')
        time.sleep(2.2)
        late = self.v5('exr2')
        late.subscribe5_ok([('ex/r', 0)])
        late.expect_silence(0.5)

    def test_inbound_topic_alias(self):
        sub = self.v5('tasub')
        sub.subscribe5_ok([('ta/#', 0)])
        pub = self.v5('tapub')
        pub.send(m.publish('ta/long/topic', 'one', properties=[(m.TOPIC_ALIAS, 1)]))
        pub.send(m.publish('', 'two', properties=[(m.TOPIC_ALIAS, 1)]))
        pub.send(m.publish('ta/other', 'three', properties=[(m.TOPIC_ALIAS, 1)]))
        pub.send(m.publish('', 'four', properties=[(m.TOPIC_ALIAS, 1)]))
        got = [sub.receive5() for _ in range(4)]
        self.assertEqual([(p.topic, p.payload) for p in got],
                         [('ta/long/topic', b'one'), ('ta/long/topic', b'two'),
                          ('ta/other', b'three'), ('ta/other', b'four')])

    def test_inbound_topic_alias_invalid(self):
        c = self.v5('tabad')
        c.send(m.publish('ta/x', 'x', properties=[(m.TOPIC_ALIAS, 0)]))
        if is_tern():
            c.expect_disconnect(m.TOPIC_ALIAS_INVALID)
        else:
            not_checked('0x94 for topic alias 0 (mosquitto 2.0.11 says 0x81)')
            c.expect_disconnect(m.MALFORMED)
        c = self.v5('tabig')
        c.send(m.publish('ta/x', 'x', properties=[(m.TOPIC_ALIAS, 65535)]))
        c.expect_disconnect(m.TOPIC_ALIAS_INVALID)

    def test_inbound_unknown_alias_is_protocol_error(self):
        c = self.v5('taunk')
        c.send(m.publish('', 'x', properties=[(m.TOPIC_ALIAS, 2)]))
        c.expect_disconnect(m.PROTOCOL_ERROR)

    def test_outbound_topic_alias(self):
        sub = self.v5('oasub', properties=[(m.TOPIC_ALIAS_MAXIMUM, 4)])
        sub.subscribe5_ok([('oa/#', 0)])
        pub = self.v5('oapub')
        for i in range(3):
            pub.send(m.publish('oa/telemetry/device-42', 'v%d' % i))
        got = [sub.receive5() for _ in range(3)]
        self.assertEqual([p.payload for p in got], [b'v0', b'v1', b'v2'])
        if not is_tern():
            not_checked('outbound topic aliases (mosquitto 2.0.11 never assigns them)')
            return
        alias = got[0].prop(m.TOPIC_ALIAS)
        self.assertIsNotNone(alias, 'first delivery carries no alias')
        self.assertEqual(got[0].topic, 'oa/telemetry/device-42')
        self.assertTrue(1 <= alias <= 4)
        for p in got[1:]:
            self.assertEqual((p.topic, p.prop(m.TOPIC_ALIAS)), ('', alias))
        # A subscriber that allows no aliases always gets the topic.
        plain = self.v5('oaplain')
        plain.subscribe5_ok([('oa/#', 0)])
        pub.send(m.publish('oa/telemetry/device-42', 'again'))
        p = plain.receive5()
        self.assertEqual((p.topic, p.prop(m.TOPIC_ALIAS)), ('oa/telemetry/device-42', None))

    def test_client_maximum_packet_size(self):
        small = self.v5('mpsmall', properties=[(m.MAXIMUM_PACKET_SIZE, 100)])
        small.subscribe5_ok([('mp/#', 1)])
        big = self.v5('mpbig')
        big.subscribe5_ok([('mp/#', 1)])
        pub = self.v5('mppub')
        pub.send(m.publish('mp/t', b'x' * 200, qos=1, mid=1))
        pub.expect5(m.PUBACK)
        pub.send(m.publish('mp/t', b'ok', qos=1, mid=2))
        pub.expect5(m.PUBACK)
        self.assertEqual(big.receive5().payload, b'x' * 200)
        self.assertEqual(big.receive5().payload, b'ok')
        self.assertEqual(small.receive5().payload, b'ok')
        small.expect_silence(0.3)

    def test_client_receive_maximum(self):
        sub = self.v5('rmsub', properties=[(m.RECEIVE_MAXIMUM, 2)])
        sub.subscribe5_ok([('rm/#', 1)])
        pub = self.v5('rmpub')
        for i in range(5):
            pub.send(m.publish('rm/t', 'm%d' % i, qos=1, mid=i + 1))
            pub.expect5(m.PUBACK)
        first = [sub.receive5(ack=False) for _ in range(2)]
        sub.expect_silence(0.5)
        sub.send(m.ack(m.PUBACK, first[0].mid))
        third = sub.receive5(ack=False)
        self.assertEqual([p.payload for p in first + [third]], [b'm0', b'm1', b'm2'])
        if not is_tern():
            not_checked('one new message per PUBACK (mosquitto 2.0.11 sends two)')
            return
        sub.expect_silence(0.3)

    def test_puback_no_matching_subscribers(self):
        pub = self.v5('nomatch')
        pub.send(m.publish('nobody/here', 'x', qos=1, mid=9))
        ack = pub.expect5(m.PUBACK)
        self.assertEqual(ack.mid, 9)
        self.assertIn(ack.reason, (m.SUCCESS, m.NO_MATCHING_SUBSCRIBERS))
        if is_tern():
            self.assertEqual(ack.reason, m.NO_MATCHING_SUBSCRIBERS)

    def test_subscription_identifier_from_client_is_protocol_error(self):
        c = self.v5('subidpub')
        c.send(m.publish('x/y', 'z', properties=[(m.SUBSCRIPTION_ID, 3)]))
        if not is_tern():
            not_checked('a subscription identifier from a client (mosquitto 2.0.11 '
                        'accepts it)')
            return
        p = c.recv5()
        if p is not None:
            self.assertEqual((p.type, p.reason), (r.DISCONNECT, m.PROTOCOL_ERROR))
        c.expect_closed()


if __name__ == '__main__':
    main()
