#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Per-client publish rates (tern keys max_publish_rate and max_publish_bytes_rate): a
client within its rate is served, one over it is disconnected (MQTT 3.1.1) with its will
published and the close counted in $SYS/broker/clients/limited; others are unaffected."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

RATE = 20


class RateLimit(BrokerTestCase):
    START_BROKER = False

    def setUp(self):
        super().setUp()
        if not is_tern():
            not_checked('max_publish_rate / max_publish_bytes_rate (tern keys)')
            self.skip_all = True
        else:
            self.skip_all = False

    def test_message_rate(self):
        if self.skip_all:
            return
        self.broker = self.start_broker(['sys_interval 1', 'max_publish_rate %d' % RATE])
        mon = SysMonitor(self.raw(connect='sys-monitor'))
        sub = self.raw(connect='sub')
        sub.subscribe_ok([('rl/#', 1)])
        # Within the rate: 3 s at 10 a second, every message acknowledged and delivered.
        polite = self.raw(connect='polite')
        for i in range(30):
            polite.publish_ok('rl/polite', b'%d' % i, 1, mid=i + 1)
            time.sleep(0.1)
        got = sub.receive_until_quiet()
        self.assertEqual([p.payload for p in got], [b'%d' % i for i in range(30)])
        # Over it: a burst of 3 x RATE at once; the burst of one second passes, then close.
        greedy = self.raw()
        greedy.connect_ok('greedy', will_topic='rl/will', will_payload=b'greedy gone')
        greedy.send(b''.join(r.publish('rl/greedy', b'%d' % i, 0) for i in range(3 * RATE)),
                    may_fail=True)
        greedy.expect_closed(allow_packets=True)
        got = sub.receive_until_quiet()
        delivered = [p for p in got if p.topic == 'rl/greedy']
        self.assertGreaterEqual(len(delivered), RATE - 1)
        self.assertLessEqual(len(delivered), RATE + 1)
        self.assertIn(b'greedy gone', [p.payload for p in got if p.topic == 'rl/will'])
        # The polite client and the subscriber were not touched.
        polite.publish_ok('rl/polite', b'after', 1, mid=99)
        self.assertEqual(sub.receive_publish().payload, b'after')
        mon.wait_for('clients/limited == 1', lambda: mon.num('clients/limited') == 1,
                     timeout=10)

    def test_byte_rate(self):
        if self.skip_all:
            return
        self.broker = self.start_broker(['sys_interval 1', 'max_publish_bytes_rate 10000'])
        sub = self.raw(connect='sub')
        sub.subscribe_ok([('rb/#', 0)])
        # One packet bigger than a second's worth passes on a full bucket ...
        big = self.raw(connect='big')
        big.publish_ok('rb/big', b'x' * 15000, 1)
        self.assertEqual(len(sub.receive_publish().payload), 15000)
        # ... and leaves a debt: the next one within the second closes the connection.
        big.send(r.publish('rb/big', b'y', 1, mid=2), may_fail=True)
        big.expect_closed()
        # 4000-byte packets: two fit in the 10000-byte burst, the third is over.
        c = self.raw(connect='steady')
        c.send(b''.join(r.publish('rb/s', b'z' * 4000, 0) for _ in range(5)), may_fail=True)
        c.expect_closed()
        self.assertEqual(len(sub.receive_until_quiet()), 2)
        # Within the byte rate over time: 2000 bytes every 0.25 s (8000 a second) is fine.
        ok = self.raw(connect='ok')
        for i in range(12):
            ok.publish_ok('rb/ok', b'w' * 2000, 1, mid=i + 1)
            time.sleep(0.25)
        self.assertEqual(len(sub.receive_until_quiet()), 12)
        mon = SysMonitor(self.raw(connect='sys-monitor'))
        mon.wait_for('clients/limited == 2', lambda: mon.num('clients/limited') == 2,
                     timeout=10)


if __name__ == '__main__':
    main()
