#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Keepalive: a silent client is closed after 1.5 x keepalive (and its will is
published); any control packet, PINGREQ or other, keeps a client alive."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, keepalive_limit, main  # noqa: E402

KEEPALIVE = 2


class Keepalive(BrokerTestCase):
    def test_silent_closed_and_will_sent_while_active_survive(self):
        watch = self.raw(connect='watch')
        watch.subscribe_ok([('ka/#', 0)])
        silent = self.raw(connect='silent', keepalive=KEEPALIVE, will_topic='ka/will',
                          will_payload='silent died')
        pinger = self.raw(connect='pinger', keepalive=KEEPALIVE)
        talker = self.raw(connect='talker', keepalive=KEEPALIVE)
        t0 = time.monotonic()
        limit = keepalive_limit(KEEPALIVE)
        early = 1.25 * KEEPALIVE  # the server must allow 1.5 x keepalive (MQTT-3.1.2-24)
        checked_early = False
        next_beat = t0 + 1.0
        while silent.is_open():
            now = time.monotonic()
            self.assertLess(now - t0, limit, 'silent client not closed after %.1fs' % limit)
            if now >= t0 + early and not checked_early:
                self.assertTrue(silent.is_open(), 'closed before 1.5 x keepalive')
                checked_early = True
            if now >= next_beat:
                pinger.send(r.pingreq())
                pinger.expect(r.PINGRESP, timeout=1.0)
                talker.send(r.publish('ka/talk', 'beat'))
                next_beat += 1.0
            time.sleep(0.05)
        self.assertTrue(checked_early)
        closed_after = time.monotonic() - t0
        self.assertGreaterEqual(closed_after, early)
        p = watch.receive_publish(timeout=2.0)
        while p.topic == 'ka/talk':
            p = watch.receive_publish(timeout=2.0)
        self.assertEqual((p.topic, p.payload), ('ka/will', b'silent died'))
        # The broker has run its keepalive check past 1.5 x keepalive for the other two.
        self.assertGreater(closed_after, 1.5 * KEEPALIVE)
        for c in (pinger, talker):
            self.assertTrue(c.is_open())
            c.send(r.pingreq())
            c.expect(r.PINGRESP)

    def test_keepalive_zero_never_expires(self):
        c = self.raw(connect='forever', keepalive=0)
        probe = self.raw(connect='probe', keepalive=1)
        probe.expect_closed(timeout=keepalive_limit(1))  # the broker's check has run
        self.assertTrue(c.is_open())
        c.send(r.pingreq())
        c.expect(r.PINGRESP)


if __name__ == '__main__':
    main()
