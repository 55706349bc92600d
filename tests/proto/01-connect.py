#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""CONNECT handling: accepted versions, refusals with CONNACK codes, and the
malformed CONNECTs after which MQTT 3.1.1 requires the server to just close."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from pahoclient import MQTTv31, MQTTv311  # noqa: E402


class Connect(BrokerTestCase):
    def test_connack_accepted_v311(self):
        for host in ('127.0.0.1', '::1'):
            c = self.raw(host=host)
            c.send(r.connect('c1'))
            p = c.expect(r.CONNACK)
            self.assertEqual(p.flags, 0)
            self.assertEqual(p.body, b'\x00\x00')  # session present 0, accepted
            c.expect_silence(0.2)

    def test_v31_and_v311_round_trip(self):
        """paho over MQIsdp/3 and MQTT/4 talk to each other through the broker."""
        sub = self.paho('sub31', proto=MQTTv31)
        pub = self.paho('pub311', proto=MQTTv311, host='::1')
        self.assertEqual(sub.subscribe('t/v', 1), [1])
        pub.publish('t/v', 'from 3.1.1', qos=1)
        sub.expect('t/v', 'from 3.1.1', qos=1)

    def test_v31_raw(self):
        c = self.raw()
        self.assertFalse(c.connect_ok('raw31', v31=True))

    def test_unacceptable_protocol_level(self):
        for level in (2, 6, 255):
            with self.subTest(level=level):
                self.assert_refused(r.connect('c', level=level), 1)

    def test_bad_protocol_name(self):
        for name in ('MQTX', 'mqtt', 'MQTT\0'):
            with self.subTest(name=name):
                self.assert_closes(r.connect('c', proto_name=name, level=4))

    def test_reserved_connect_flag(self):
        self.assert_closes(r.connect('c', flags=0x03))

    def test_empty_client_id(self):
        c = self.raw()
        self.assertFalse(c.connect_ok('', clean=True))  # MQTT-3.1.3-6
        self.assert_refused(r.connect('', clean=False), 2)  # MQTT-3.1.3-8
        self.assert_refused(r.connect31(''), 2)  # 3.1: ids are 1..23 characters

    def test_invalid_will_flags(self):
        cases = {
            'will QoS 3': 0x02 | 0x04 | 0x18,
            'will retain without will': 0x02 | 0x20,  # MQTT-3.1.2-15
            'will QoS without will': 0x02 | 0x08,  # MQTT-3.1.2-13
        }
        for name, flags in cases.items():
            with self.subTest(name):
                pkt = r.connect('c', flags=flags)
                if flags & 0x04:  # a will topic and message must follow the client id
                    pkt = r.packet(r.CONNECT, 0, pkt[2:] + r.string('w') + r.string('m'))
                self.assert_closes(pkt)

    def test_password_without_username(self):
        self.assert_closes(r.connect('c', password='secret'))  # MQTT-3.1.2-22

    def test_second_connect(self):
        c = self.raw(connect='twice')
        c.send(r.connect('twice'))
        c.expect_closed()  # MQTT-3.1.0-2

    def test_packet_before_connect(self):
        for pkt in (r.subscribe(1, [('a', 0)]), r.publish('a', 'x'), r.pingreq()):
            with self.subTest(pkt=pkt):
                self.assert_closes(pkt)

    def test_anonymous_refused(self):
        b = self.start_broker(['allow_anonymous false'])
        self.assert_refused(r.connect('anon'), 5, broker=b)

    def test_max_keepalive(self):
        b = self.start_broker(['max_keepalive 10'])
        c = self.raw(broker=b)
        self.assertFalse(c.connect_ok('ka-ok', keepalive=10))
        if is_tern():
            # broker/config.h: v3 clients asking for more than max_keepalive (or for 0)
            # are refused, as later mosquitto versions do: CONNACK 2 (identifier rejected).
            self.assert_refused(r.connect('ka-big', keepalive=11), 2, broker=b)
            with self.subTest('keepalive 0 with max_keepalive set (broker/config.h: refused)'):
                self.assert_refused(r.connect('ka-zero', keepalive=0), 2, broker=b)
        else:
            # mosquitto 2.0.11 applies max_keepalive to MQTT v5 clients only (mosquitto.conf(5)).
            c = self.raw(broker=b)
            self.assertFalse(c.connect_ok('ka-big', keepalive=11))
            not_checked('refusal (CONNACK 2) of a v3 keepalive above max_keepalive')

    def test_connect_timeout(self):
        if not is_tern():
            not_checked('connect_timeout (mosquitto has no such option)')
            return
        b = self.start_broker(['connect_timeout 1'])
        silent = self.raw(broker=b)
        t0 = time.monotonic()
        silent.expect_closed(timeout=3.0)
        self.assertGreater(time.monotonic() - t0, 0.5)
        # A client that does send CONNECT in time is not affected.
        c = self.raw(broker=b, connect='in-time')
        c.expect_silence(1.5)
        c.send(r.pingreq())
        c.expect(r.PINGRESP)


if __name__ == '__main__':
    main()
