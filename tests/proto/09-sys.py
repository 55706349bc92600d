#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""$SYS topics (mosquitto names) published every sys_interval, with values that
follow what clients do; for tern also the per-worker counters."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

REQUIRED = [
    'version', 'uptime', 'clients/connected', 'clients/total', 'clients/maximum',
    'messages/received', 'messages/sent', 'publish/messages/dropped', 'subscriptions/count',
    'retained messages/count', 'bytes/received', 'bytes/sent',
]


class Sys(BrokerTestCase):
    BROKER_CONFIG = ['sys_interval 1']

    def setUp(self):
        super().setUp()
        self.mon = SysMonitor(self.raw(connect='sys-monitor'))

    def test_required_topics_and_formats(self):
        self.mon.wait_for('all of ' + ', '.join(REQUIRED),
                          lambda: all(self.mon.get(n) is not None for n in REQUIRED))
        self.assertTrue(self.mon.get('version').strip())
        self.assertRegex(self.mon.get('uptime'), r'^\d+( seconds)?$')
        for name in REQUIRED[2:]:
            self.assertRegex(self.mon.get(name), r'^\d+$', name)
        # The monitor itself, once a publication follows its CONNECT (a slow start, as
        # on the dpdk dataplane, can leave an earlier retained 0 to be read first).
        self.mon.wait_for('clients/connected >= 1',
                          lambda: self.mon.num('clients/connected') >= 1, timeout=3)
        self.assertGreaterEqual(self.mon.num('clients/maximum'),
                                self.mon.num('clients/connected'))
        self.assertGreaterEqual(self.mon.num('subscriptions/count'), 1)
        up = self.mon.num('uptime')
        self.mon.wait_for('uptime increasing', lambda: self.mon.num('uptime') > up)

    def test_connected_count_follows_clients(self):
        self.mon.wait_for('clients/connected', lambda: self.mon.num('clients/connected') >= 1)
        base = self.mon.num('clients/connected')
        clients = [self.raw(connect='counted-%d' % i) for i in range(3)]
        self.mon.wait_for('connected = %d' % (base + 3),
                          lambda: self.mon.num('clients/connected') == base + 3)
        self.assertGreaterEqual(self.mon.num('clients/maximum'), base + 3)
        self.assertGreaterEqual(self.mon.num('clients/total'), base + 3)
        clients[0].close()
        clients[1].abort()
        self.mon.wait_for('connected = %d' % (base + 1),
                          lambda: self.mon.num('clients/connected') == base + 1)
        self.assertGreaterEqual(self.mon.num('clients/maximum'), base + 3)

    def test_counters_follow_traffic(self):
        self.mon.wait_for('counters', lambda: all(
            self.mon.num(n) is not None for n in
            ('messages/received', 'subscriptions/count', 'retained messages/count',
             'bytes/received')))
        before = {n: self.mon.num(n) for n in
                  ('messages/received', 'subscriptions/count', 'retained messages/count',
                   'bytes/received')}
        c = self.raw(connect='traffic')
        c.subscribe_ok([('s/a', 1), ('s/b', 0)])
        for i in range(5):
            c.publish_ok('t/a', 'x' * 100, 1, mid=i + 1)
        c.publish_ok('t/retained', 'kept', 1, retain=True, mid=9)
        checks = {
            'messages/received': 6,
            'subscriptions/count': 2,
            'retained messages/count': 1,
            'bytes/received': 600,
        }
        for name, delta in checks.items():
            self.mon.wait_for('%s >= %d' % (name, before[name] + delta),
                              lambda: self.mon.num(name) >= before[name] + delta)

    def test_per_worker_counters(self):
        if not is_tern():
            not_checked('tern-only $SYS/broker/workers/N/... counters')
            return
        clients = [self.raw(connect='w-%d' % i) for i in range(8)]

        def workers_sum_to_total():
            per = self.mon.per_worker_connected()
            return per and sum(per.values()) == self.mon.num('clients/connected') == 9

        self.mon.wait_for('workers/+/clients/connected summing to clients/connected',
                          workers_sum_to_total)
        self.assertEqual(len(clients), 8)


if __name__ == '__main__':
    main()
