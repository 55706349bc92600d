#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Many subscriptions per client: 50,000 filters on one session (each SUBSCRIBE,
re-SUBSCRIBE and UNSUBSCRIBE is an O(1) lookup in tern; the time is printed), and
max_subscriptions (tern key): filters beyond it get SUBACK 0x80 and are counted."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

FILTERS = 50000
PER_PACKET = 500


class Subscriptions(BrokerTestCase):
    START_BROKER = False

    def subscribe_all(self, c, filters, qos, first_mid):
        mid = first_mid
        for i in range(0, len(filters), PER_PACKET):
            chunk = filters[i:i + PER_PACKET]
            granted = c.subscribe_ok([(f, qos) for f in chunk], mid=mid)
            self.assertEqual(granted, [qos] * len(chunk))
            mid += 1
        return mid

    def test_fifty_thousand_filters(self):
        self.broker = self.start_broker(['max_queued_messages 0'])
        c = self.raw(connect='many')
        filters = ['f/%d' % i for i in range(FILTERS)]
        t0 = time.monotonic()
        mid = self.subscribe_all(c, filters, 0, 1)
        t_sub = time.monotonic() - t0
        pub = self.raw(connect='pub')
        for k in (0, 12345, FILTERS - 1):
            pub.publish_ok('f/%d' % k, b'%d' % k, 0)
            self.assertEqual(c.receive_publish().payload, b'%d' % k)
        # Subscribing again replaces: one delivery each, now at QoS 1.
        t0 = time.monotonic()
        mid = self.subscribe_all(c, filters, 1, mid)
        t_resub = time.monotonic() - t0
        pub.publish_ok('f/777', b'again', 1)
        p = c.receive_publish()
        self.assertEqual((p.payload, p.qos), (b'again', 1))
        c.expect_silence(0.3)
        # Unsubscribe all but the last, in reverse order.
        t0 = time.monotonic()
        for i in range(FILTERS - 1, 0, -PER_PACKET):
            chunk = filters[max(1, i - PER_PACKET + 1):i + 1]
            c.send(r.unsubscribe(mid, chunk))
            self.assertEqual(c.expect(r.UNSUBACK).mid, mid)
            mid = mid % 65535 + 1
        t_unsub = time.monotonic() - t0
        for k in (12345, FILTERS - 1):
            pub.publish_ok('f/%d' % k, b'gone', 0)
        pub.publish_ok('f/0', b'kept', 0)
        self.assertEqual(c.receive_publish().payload, b'kept')
        c.expect_silence(0.3)
        sys.stderr.write('\n  %s, %d filters on one client: subscribe %.2f s, re-subscribe %.2f s, '
                         'unsubscribe %.2f s\n' % (self.broker.kind, FILTERS, t_sub, t_resub,
                                                   t_unsub))

    def test_max_subscriptions(self):
        if not is_tern():
            not_checked('max_subscriptions (a tern key)')
            return
        self.broker = self.start_broker(['max_subscriptions 3', 'sys_interval 1'])
        c = self.raw(connect='limited')
        self.assertEqual(c.subscribe_ok([('a', 0), ('b', 1), ('c', 2), ('d', 0), ('e', 1)]),
                         [0, 1, 2, 0x80, 0x80])
        # Re-subscribing a held filter is not a new one.
        self.assertEqual(c.subscribe_ok([('b', 2), ('f', 0)], mid=2), [2, 0x80])
        c.send(r.unsubscribe(3, ['a']))
        c.expect(r.UNSUBACK)
        self.assertEqual(c.subscribe_ok([('f', 0)], mid=4), [0])
        pub = self.raw(connect='pub')
        for t in ('a', 'd', 'e', 'f'):
            pub.publish_ok(t, t, 0)
        self.assertEqual(c.receive_publish().topic, 'f')
        c.expect_silence(0.3)
        mon = SysMonitor(pub)
        mon.wait_for('subscriptions/refused == 3',
                     lambda: mon.num('subscriptions/refused') == 3, timeout=10)


if __name__ == '__main__':
    main()
