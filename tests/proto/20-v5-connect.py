#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""MQTT 5.0 connection: CONNACK properties, assigned client ids, server keep
alive, session expiry (also changed on DISCONNECT), authentication methods we
do not offer, and server-sent DISCONNECT reason codes."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt5 as m  # noqa: E402
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, keepalive_limit, main, not_checked  # noqa: E402


class V5Connect(BrokerTestCase):
    BROKER_CONFIG = ['max_keepalive 100', 'max_inflight_messages 20']

    def v5(self, broker=None):
        broker = broker or self.broker
        c = m.Client5('127.0.0.1', broker.port)
        self.addCleanup(c.close)
        return c

    def test_connack_properties(self):
        ca = self.v5().connect5('', keepalive=200,
                                properties=[(m.TOPIC_ALIAS_MAXIMUM, 10), (m.RECEIVE_MAXIMUM, 5)])
        self.assertEqual(ca.reason, m.SUCCESS)
        self.assertFalse(ca.session_present)
        assigned = ca.prop(m.ASSIGNED_CLIENT_ID)
        self.assertTrue(assigned, 'no assigned client identifier for an empty id')
        self.assertEqual(ca.prop(m.SERVER_KEEPALIVE), 100)
        self.assertEqual(ca.prop(m.RECEIVE_MAXIMUM), 20)
        self.assertGreater(ca.prop(m.TOPIC_ALIAS_MAXIMUM, 0), 0)
        # A client id of our own gets no assigned id and no keepalive override.
        ca = self.v5().connect5('mine', keepalive=30)
        self.assertIsNone(ca.prop(m.ASSIGNED_CLIENT_ID))
        self.assertIsNone(ca.prop(m.SERVER_KEEPALIVE))

    def test_limits_advertised(self):
        b = self.start_broker(['max_packet_size 2000', 'retain_available false'])
        ca = self.v5(b).connect5('lim')
        self.assertEqual(ca.prop(m.MAXIMUM_PACKET_SIZE), 2000)
        self.assertEqual(ca.prop(m.RETAIN_AVAILABLE), 0)

    def test_user_properties_in_connect_accepted(self):
        c = self.v5()
        c.connect5_ok('up', properties=[(m.USER_PROPERTY, ('a', '1')),
                                        (m.USER_PROPERTY, ('a', '2'))])
        c.send(r.pingreq())
        c.expect(r.PINGRESP)

    def test_unknown_auth_method_refused(self):
        c = self.v5()
        ca = c.connect5('auth', properties=[(m.AUTH_METHOD, 'SCRAM-SHA-1')])
        self.assertEqual(ca.reason, m.BAD_AUTH_METHOD)
        c.expect_closed()

    def test_session_expiry_keeps_session(self):
        sub = self.v5()
        sub.connect5_ok('keeper', clean=True, properties=[(m.SESSION_EXPIRY, 60)])
        self.assertEqual(sub.subscribe5_ok([('se/t', 1)]), [1])
        sub.send(m.disconnect())
        sub.expect_closed()
        pub = self.v5()
        pub.connect5_ok('pub')
        pub.send(m.publish('se/t', 'kept', qos=1, mid=3))
        self.assertEqual(pub.expect5(m.PUBACK).mid, 3)
        again = self.v5()
        ca = again.connect5_ok('keeper', clean=False, properties=[(m.SESSION_EXPIRY, 60)])
        self.assertTrue(ca.session_present)
        p = again.receive5()
        self.assertEqual((p.topic, p.payload), ('se/t', b'kept'))

    def test_session_expiry_zero_ends_session(self):
        c = self.v5()
        c.connect5_ok('brief', clean=True)
        c.subscribe5_ok([('se/z', 1)])
        c.send(m.disconnect())
        c.expect_closed()
        again = self.v5()
        self.assertFalse(again.connect5_ok('brief', clean=False).session_present)

    def test_session_expires(self):
        c = self.v5()
        c.connect5_ok('short', properties=[(m.SESSION_EXPIRY, 1)])
        c.subscribe5_ok([('se/s', 1)])
        c.abort()
        time.sleep(2.5)
        again = self.v5()
        self.assertFalse(again.connect5_ok('short', clean=False,
                                           properties=[(m.SESSION_EXPIRY, 1)]).session_present)

    def test_disconnect_changes_session_expiry(self):
        c = self.v5()
        c.connect5_ok('change', properties=[(m.SESSION_EXPIRY, 60)])
        c.subscribe5_ok([('se/c', 1)])
        c.send(m.disconnect(m.SUCCESS, [(m.SESSION_EXPIRY, 0)]))
        c.expect_closed()
        again = self.v5()
        self.assertFalse(again.connect5_ok('change', clean=False).session_present)

    def test_disconnect_cannot_add_session_expiry(self):
        # MQTT-3.14.2-2: from 0 at CONNECT to non-zero at DISCONNECT is a Protocol Error.
        c = self.v5()
        c.connect5_ok('noadd')
        c.send(m.disconnect(m.SUCCESS, [(m.SESSION_EXPIRY, 30)]))
        c.expect_disconnect(m.PROTOCOL_ERROR)

    def test_malformed_gets_disconnect_0x81(self):
        c = self.v5()
        c.connect5_ok('bad')
        c.send(r.packet(r.PUBLISH, 0, b'\x00\x01a\x03\x26\x00'))  # truncated user property
        c.expect_disconnect(m.MALFORMED)

    def test_protocol_error_gets_disconnect_0x82(self):
        c = self.v5()
        c.connect5_ok('twice')
        c.send(m.connect('twice'))
        if not is_tern():
            not_checked('DISCONNECT 0x82 before closing (mosquitto 2.0.11 just closes)')
            c.expect_closed()
            return
        c.expect_disconnect(m.PROTOCOL_ERROR)

    def test_bad_connect_properties_refused(self):
        c = self.v5()
        c.send(m.connect('rm0', properties=[(m.RECEIVE_MAXIMUM, 0)]))
        p = c.recv5()
        if p is not None:
            self.assertEqual(p.type, r.CONNACK)
            self.assertEqual(p.reason, m.PROTOCOL_ERROR)
        c.expect_closed()

    def test_packet_too_large(self):
        b = self.start_broker(['max_packet_size 100'])
        c = self.v5(b)
        c.connect5_ok('big')
        c.send(m.publish('big/t', b'x' * 200))
        c.expect_disconnect(m.PACKET_TOO_LARGE)

    def test_receive_maximum_exceeded(self):
        c = self.v5()
        ca = c.connect5_ok('flood')
        limit = ca.prop(m.RECEIVE_MAXIMUM, 65535)
        # QoS 2 messages stay unacknowledged until their PUBREL, which never comes.
        for mid in range(1, limit + 2):
            c.send(m.publish('rm/t', 'x', qos=2, mid=mid), may_fail=True)
        if not is_tern():
            not_checked('DISCONNECT 0x93 past our Receive Maximum (mosquitto 2.0.11 '
                        'does not enforce it)')
            return
        got = []
        while True:
            p = c.recv5()
            self.assertIsNotNone(p, 'no DISCONNECT after %d QoS 2 messages' % (limit + 1))
            if p.type == r.DISCONNECT:
                self.assertEqual(p.reason, m.RECEIVE_MAXIMUM_EXCEEDED)
                break
            self.assertEqual(p.type, r.PUBREC)
            got.append(p.mid)
        self.assertEqual(len(got), limit)
        c.expect_closed()

    def test_takeover_disconnect_0x8e(self):
        old = self.v5()
        old.connect5_ok('twin')
        new = self.v5()
        new.connect5_ok('twin')
        if not is_tern():
            not_checked('DISCONNECT 0x8E to the session taken over (mosquitto 2.0.11 just closes)')
            old.expect_closed(allow_packets=True)
            return
        old.expect_disconnect(m.SESSION_TAKEN_OVER)

    def test_keepalive_timeout_disconnect_0x8d(self):
        c = self.v5()
        c.connect5_ok('sleepy', keepalive=1)
        if not is_tern():
            not_checked('DISCONNECT 0x8D on keepalive timeout (mosquitto 2.0.11 just closes)')
            c.expect_closed(timeout=keepalive_limit(1), allow_packets=True)
            return
        c.expect_disconnect(m.KEEPALIVE_TIMEOUT, timeout=keepalive_limit(1))

    def test_v311_unaffected(self):
        c = self.raw(connect='old311')
        self.assertEqual(c.subscribe_ok([('x/#', 1)]), [1])


if __name__ == '__main__':
    main()
