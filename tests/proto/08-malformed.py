#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Malformed input: each bad packet closes THAT connection, and a healthy
subscriber/publisher pair connected the whole time keeps working, including
while a slow client trickles a packet one byte at a time."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402

MAX_PACKET = 1000


class Malformed(BrokerTestCase):
    BROKER_CONFIG = ['max_packet_size %d' % MAX_PACKET]

    def setUp(self):
        super().setUp()
        self.healthy_sub = self.paho('healthy-sub')
        self.healthy_sub.subscribe('healthy/#', 1)
        self.healthy_pub = self.paho('healthy-pub', host='::1')
        self.seq = 0
        self.assert_healthy()

    def assert_healthy(self, timeout=5.0):
        self.seq += 1
        tag = 'msg %d' % self.seq
        self.healthy_pub.publish('healthy/t', tag, qos=1)
        self.healthy_sub.expect('healthy/t', tag, timeout=timeout)

    def assert_bad(self, *packets, connected=True):
        """On a fresh connection (after a good CONNECT if connected) send packets: the
        broker must close without replying, and the healthy pair must keep working."""
        c = self.raw(connect='bad-client' if connected else None)
        for p in packets:
            c.send(p, may_fail=True)
        c.expect_closed()
        self.assert_healthy()

    def test_reserved_packet_types(self):
        for ptype in (0, 15):
            for connected in (False, True):
                with self.subTest(ptype=ptype, connected=connected):
                    self.assert_bad(r.packet(ptype, 0), connected=connected)

    def test_wrong_fixed_header_flags(self):
        cases = {
            'SUBSCRIBE flags 0': r.subscribe(1, [('a', 0)], flags=0),
            'UNSUBSCRIBE flags 0': r.unsubscribe(1, ['a'], flags=0),
            'PUBREL flags 0': r.packet(r.PUBREL, 0, b'\x00\x01'),
            'CONNECT flags 1': r.packet(r.CONNECT, 1, r.connect('x')[2:]),
        }
        # MQTT-2.2.2-2 covers these too, but mosquitto 2.0.11 ignores their flags.
        spec_only = {
            'PINGREQ flags 1': r.packet(r.PINGREQ, 1),
            'PUBACK flags 2': r.packet(r.PUBACK, 2, b'\x00\x01'),
            'PUBREC flags 1': r.packet(r.PUBREC, 1, b'\x00\x01'),
            'PUBCOMP flags 8': r.packet(r.PUBCOMP, 8, b'\x00\x01'),
        }
        if is_tern():
            cases.update(spec_only)
        else:
            not_checked('close on reserved flags of ' + ', '.join(spec_only))
        for name, pkt in cases.items():
            with self.subTest(name):
                self.assert_bad(pkt, connected=not name.startswith('CONNECT'))

    def test_remaining_length_five_bytes(self):
        self.assert_bad(b'\x30\xff\xff\xff\xff\x7f' + b'\x00' * 16)

    def test_truncated_remaining_length_then_eof(self):
        c = self.raw(connect='trunc')
        c.send(b'\x30\xff\xff')
        c.half_close()
        c.expect_closed()
        self.assert_healthy()

    def test_truncated_body_then_eof(self):
        c = self.raw(connect='trunc-body')
        c.send(r.publish('healthy/t', 'x' * 100)[:40])
        c.half_close()
        c.expect_closed()
        self.healthy_sub.expect_none(0.3)  # the partial PUBLISH was not delivered
        self.assert_healthy()

    def test_bad_topic_names(self):
        cases = {
            'invalid UTF-8': b'healthy/\xff\xfe',
            'overlong UTF-8': b'healthy/\xc0\xaf',
            'UTF-16 surrogate': b'healthy/\xed\xa0\x80',
            'U+0000': b'healthy/a\x00b',
            'wildcard +': b'healthy/+',
            'wildcard #': b'healthy/#',
            'empty': b'',
        }
        for name, topic in cases.items():
            for qos in (0, 1):
                with self.subTest(name, qos=qos):
                    self.assert_bad(r.publish(topic, 'bad', qos=qos, mid=1))
        self.healthy_sub.expect_none(0.2)  # none of the bad PUBLISHes was delivered

    def test_publish_qos3(self):
        body = r.string('healthy/t') + b'\x00\x01bad'
        self.assert_bad(r.packet(r.PUBLISH, 0x06, body))

    def test_publish_packet_id_zero(self):
        for qos in (1, 2):
            with self.subTest(qos=qos):
                self.assert_bad(r.publish('healthy/t', 'id zero', qos=qos, mid=0))

    def test_subscribe_without_filters(self):
        self.assert_bad(r.packet(r.SUBSCRIBE, 2, b'\x00\x01'))  # MQTT-3.8.3-3

    def test_subscribe_bad_requested_qos(self):
        self.assert_bad(r.subscribe(1, [('a', 3)]))  # MQTT-3.8.3-4

    def test_subscribe_invalid_utf8_filter(self):
        self.assert_bad(r.subscribe(1, [(b'a/\xff', 0)]))

    def test_unsubscribe_without_filters(self):
        self.assert_bad(r.packet(r.UNSUBSCRIBE, 2, b'\x00\x01'))  # MQTT-3.10.3-2

    def test_oversize_packet(self):
        pkt = r.publish('healthy/t', 'x' * (MAX_PACKET + 100), qos=1, mid=1)
        self.assert_bad(pkt)
        self.healthy_sub.expect_none(0.2)
        # a packet under the limit on a new connection is fine
        c = self.raw(connect='small')
        c.publish_ok('healthy/t', 'y' * (MAX_PACKET - 100), 1)
        self.healthy_sub.expect('healthy/t', 'y' * (MAX_PACKET - 100))

    def test_invalid_utf8_client_id(self):
        self.assert_bad(r.connect(b'id\xff'), connected=False)

    def test_garbage_bytes(self):
        self.assert_bad(b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', connected=False)
        rng = random.Random(1)
        for connected in (False, True):
            with self.subTest(connected=connected):
                garbage = bytes(rng.randrange(256) for _ in range(64))
                c = self.raw(connect='garbage' if connected else None)
                c.send(garbage, may_fail=True)
                # random bytes may happen to start a valid but incomplete packet: close
                # our side too, the broker must then close without replying.
                c.half_close()
                c.expect_closed()
                self.assert_healthy()

    def test_one_megabyte_of_random_bytes(self):
        data = random.Random(2).randbytes(1 << 20)
        for connected in (False, True):
            with self.subTest(connected=connected):
                c = self.raw(connect='random' if connected else None)
                c.send(data, may_fail=True)
                c.half_close()
                c.expect_closed(allow_packets=True)
                self.assert_healthy()

    def test_slow_client_does_not_block_others(self):
        """CONNECT then a PUBLISH one byte per 50 ms; the healthy pair keeps working with
        low latency meanwhile, and the slow PUBLISH arrives once complete."""
        slow = self.raw()
        data = r.connect('slow') + r.publish('healthy/slow', 'trickled', qos=1, mid=3)
        deadline = None
        for i, byte in enumerate(data):
            slow.send(bytes([byte]))
            time.sleep(0.05)
            if i % 10 == 9:
                t0 = time.monotonic()
                self.assert_healthy(timeout=1.0)
                self.assertLess(time.monotonic() - t0, 1.0)
            if i == len(r.connect('slow')) - 1:
                self.assertEqual(slow.expect(r.CONNACK).connack, (False, 0))
                deadline = time.monotonic()
        self.assertIsNotNone(deadline)
        self.assertEqual(slow.expect(r.PUBACK).mid, 3)
        self.healthy_sub.expect('healthy/slow', 'trickled')
        self.assert_healthy()


if __name__ == '__main__':
    main()
