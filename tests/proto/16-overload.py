#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Overload limits on connections: max_connections per listener (mosquitto's scoping:
after a listener line) and for all listeners (tern: before any listener line), and
max_connection_rate per listener. Refused connections are closed without CONNACK and
counted in $SYS; connected clients keep being served."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brokerfix  # noqa: E402
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from sysmon import SysMonitor  # noqa: E402


class HeadBroker(brokerfix.Broker):
    """A broker whose config starts with head lines, before the fixture's listener lines."""

    def __init__(self, head, config_lines=()):
        super().__init__(config_lines)
        self.head = list(head)

    def config_text(self, port):
        return '\n'.join(self.head) + '\n' + super().config_text(port)


def fill(test, hosts, n, prefix):
    """n clients connected, alternating over hosts; a refusal below n is retried for a
    while, as the fixture's readiness probes hold slots until the broker sees them close."""
    got = []
    deadline = time.monotonic() + 3.0
    while len(got) < n:
        c = test.try_connect(hosts[len(got) % len(hosts)], '%s%d' % (prefix, len(got)))
        if c is None:
            test.assertLess(time.monotonic(), deadline, 'refused below max_connections')
            time.sleep(0.1)
        else:
            got.append(c)
    return got


def still_served(test, clients):
    for c in clients:
        c.send(r.pingreq())
        c.expect(r.PINGRESP)


class Overload(BrokerTestCase):
    START_BROKER = False

    def test_max_connections_per_listener(self):
        # The fixture's listeners are 127.0.0.1 then ::1: the limit is ::1's only.
        self.broker = self.start_broker(['sys_interval 1', 'max_connections 2'])
        accepted = fill(self, ['::1'], 2, 'v6-')
        extra = self.try_connect('::1', 'v6-extra')
        if is_tern():
            self.assertIsNone(extra)
        else:
            # mosquitto 2.0.11 counts the fixture's probe out twice (see 11-limits.py)
            not_checked('exactly max_connections on the listener (a third accepted: %s)'
                        % (extra is not None))
            if extra is not None:
                accepted.append(extra)
            self.assertIsNone(self.try_connect('::1', 'v6-extra2'))
        v4 = [self.try_connect('127.0.0.1', 'v4-%d' % i) for i in range(5)]
        self.assertNotIn(None, v4, 'the other listener must not be limited')
        still_served(self, accepted + v4)
        if not is_tern():
            return
        mon = SysMonitor(v4[0])
        mon.wait_for('connections/refused >= 1',
                     lambda: mon.num('connections/refused') >= 1, timeout=15)

    def test_max_connections_global(self):
        if not is_tern():
            not_checked('max_connections before any listener line limits all listeners '
                        '(mosquitto: the default listener)')
            return
        b = HeadBroker(['max_connections 3', 'sys_interval 1'])
        self.brokers.append(b)
        self.addCleanup(self.stop_broker, b)
        self.broker = b.start()
        got = fill(self, ['127.0.0.1', '::1'], 3, 'g')
        # Three open over both listeners: a fourth is refused on either.
        self.assertIsNone(self.try_connect('::1', 'g3'))
        self.assertIsNone(self.try_connect('127.0.0.1', 'g4'))
        still_served(self, got)
        got[2].send(r.disconnect())
        got[2].expect_closed()
        deadline = time.monotonic() + 3.0
        while self.try_connect('::1', 'again') is None:
            self.assertLess(time.monotonic(), deadline, 'freed slot not reusable')
            time.sleep(0.1)

    def test_default_max_packet_size(self):
        # tern bounds one packet at 1 MiB unless configured (mosquitto: no bound).
        self.broker = self.start_broker([])
        sub = self.raw(connect='sub')
        sub.subscribe_ok([('big/#', 0)])
        pub = self.raw(connect='pub')
        pub.publish_ok('big/ok', b'p' * (512 * 1024), 0)
        self.assertEqual(len(sub.receive_publish().payload), 512 * 1024)
        if not is_tern():
            not_checked('default max_packet_size of 1 MiB')
            return
        # The header alone announces 2 MiB: closed before the broker buffers it.
        hog = self.raw(connect='hog')
        hog.send(r.publish('big/hog', b'h' * (2 * 1024 * 1024))[:64 * 1024], may_fail=True)
        hog.expect_closed()
        pub.publish_ok('big/ok', b'still', 0)
        self.assertEqual(sub.receive_publish().payload, b'still')

    def test_connection_rate(self):
        if not is_tern():
            not_checked('max_connection_rate (a tern key)')
            return
        rate = 5
        self.broker = self.start_broker(['sys_interval 1', 'max_connection_rate %d' % rate])
        steady = self.raw(connect='steady')  # on 127.0.0.1: not limited
        steady.subscribe_ok([('rate/t', 1)])
        mon = SysMonitor(self.raw(connect='sys-monitor'))
        start = time.monotonic()
        accepted, refused = [], 0
        for i in range(40):
            c = self.try_connect('::1', 'burst-%d' % i)
            if c is None:
                refused += 1
            else:
                accepted.append(c)
            if i % 10 == 0:  # the unlimited listener's clients are served throughout
                steady.send(r.pingreq())
                steady.expect(r.PINGRESP)
        elapsed = time.monotonic() - start
        # One second's burst (less the fixture's probe) plus the refill while we ran.
        self.assertGreaterEqual(len(accepted), rate - 1)
        self.assertLessEqual(len(accepted), rate + rate * elapsed + 1)
        self.assertGreater(refused, 0)
        still_served(self, accepted)
        accepted[0].publish_ok('rate/t', 'served', 1)
        self.assertEqual(steady.receive_publish().payload, b'served')
        mon.wait_for('connections/rate_limited == %d' % refused,
                     lambda: mon.num('connections/rate_limited') == refused, timeout=10)
        # The bucket refills: after a second a new connection is accepted again.
        time.sleep(1.1)
        self.assertIsNotNone(self.try_connect('::1', 'after-refill'))


if __name__ == '__main__':
    main()
