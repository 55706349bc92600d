#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""QoS 2 exactly-once: the inbound handshake with re-sent PUBLISH/PUBREL, the
outbound handshake resumed after reconnect (PUBREL re-sent), packet id reuse."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402


class QoS2(BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.sub = self.raw(connect='q2sub')
        self.sub.subscribe_ok([('q2/#', 2)])

    def expect_delivered_once(self, payload):
        p = self.sub.receive_publish()
        self.assertEqual((p.payload, p.qos), (payload, 2))
        self.sub.expect_silence(0.4)

    def test_inbound_flow_exactly_once_despite_dup(self):
        c = self.raw(connect='q2pub')
        c.send(r.publish('q2/in', 'once', qos=2, mid=5))
        self.assertEqual(c.expect(r.PUBREC).mid, 5)
        c.send(r.publish('q2/in', 'once', qos=2, mid=5, dup=True))  # re-sent before PUBREL
        p = c.expect(r.PUBREC)
        self.assertEqual((p.mid, p.flags), (5, 0))
        c.send(r.pubrel(5))
        p = c.expect(r.PUBCOMP)
        self.assertEqual((p.mid, p.flags), (5, 0))
        self.expect_delivered_once(b'once')
        # A PUBREL for an id no longer in use still gets its PUBCOMP (MQTT-4.3.3-2).
        c.send(r.pubrel(5))
        self.assertEqual(c.expect(r.PUBCOMP).mid, 5)
        self.sub.expect_silence(0.2)

    def test_packet_id_reuse_after_completion(self):
        c = self.raw(connect='q2reuse')
        for payload in ('first', 'second', 'third'):
            c.publish_ok('q2/reuse', payload, qos=2, mid=9)
            self.expect_delivered_once(payload.encode())
        # the same id for QoS 1 after a completed QoS 2 flow
        c.publish_ok('q2/reuse', 'qos1', qos=1, mid=9)
        p = self.sub.receive_publish()
        self.assertEqual((p.payload, p.qos), (b'qos1', 1))

    def test_inbound_resumed_after_reconnect(self):
        c = self.raw(connect='q2resume', clean=False)
        c.send(r.publish('q2/resume', 'across reconnect', qos=2, mid=77))
        self.assertEqual(c.expect(r.PUBREC).mid, 77)
        c.close()
        c = self.raw()
        self.assertTrue(c.connect_ok('q2resume', clean=False))
        c.send(r.publish('q2/resume', 'across reconnect', qos=2, mid=77, dup=True))
        self.assertEqual(c.expect(r.PUBREC).mid, 77)
        c.send(r.pubrel(77))
        self.assertEqual(c.expect(r.PUBCOMP).mid, 77)
        self.expect_delivered_once(b'across reconnect')

    def test_outbound_pubrel_resent_after_reconnect(self):
        s = self.raw(connect='q2out', clean=False)
        s.subscribe_ok([('q2/out', 2)])
        self.raw(connect='q2outpub').publish_ok('q2/out', 'to be completed', qos=2)
        p = s.receive_publish(ack=False)
        self.assertEqual(p.qos, 2)
        mid = p.mid
        s.send(r.pubrec(mid))
        rel = s.expect(r.PUBREL)
        self.assertEqual((rel.mid, rel.flags), (mid, 2))
        s.close()  # no PUBCOMP
        s = self.raw()
        self.assertTrue(s.connect_ok('q2out', clean=False))
        rel = s.expect(r.PUBREL)  # MQTT-4.4.0-1: the PUBREL again, not the PUBLISH
        self.assertEqual((rel.mid, rel.flags), (mid, 2))
        s.send(r.pubcomp(mid))
        s.expect_silence(0.5)
        # the session goes on: a new message arrives normally
        self.raw(connect='q2outpub2').publish_ok('q2/out', 'next', qos=2)
        self.assertEqual(s.receive_publish().payload, b'next')

    def test_outbound_publish_resent_if_no_pubrec(self):
        s = self.raw(connect='q2norec', clean=False)
        s.subscribe_ok([('q2/norec', 2)])
        self.raw(connect='q2norecpub').publish_ok('q2/norec', 'again', qos=2)
        first = s.receive_publish(ack=False)
        s.close()
        s = self.raw()
        self.assertTrue(s.connect_ok('q2norec', clean=False))
        p = s.receive_publish()
        self.assertEqual((p.payload, p.mid, p.dup, p.qos), (b'again', first.mid, True, 2))
        s.expect_silence(0.4)

    def test_outbound_ids_distinct_while_inflight(self):
        pub = self.raw(connect='q2many')
        for i in range(10):
            pub.publish_ok('q2/many', str(i), qos=2, mid=i + 1)
        got = [self.sub.expect(r.PUBLISH) for _ in range(10)]  # none acknowledged yet
        mids = [p.mid for p in got]
        self.assertNotIn(0, mids)
        self.assertEqual(len(set(mids)), 10)
        self.assertEqual([p.payload for p in got], [str(i).encode() for i in range(10)])
        for p in got:
            self.sub.send(r.pubrec(p.mid))
            self.assertEqual(self.sub.expect(r.PUBREL).mid, p.mid)
            self.sub.send(r.pubcomp(p.mid))
        self.sub.expect_silence(0.3)


if __name__ == '__main__':
    main()
