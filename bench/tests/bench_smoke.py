# SPDX-License-Identifier: MIT
"""Functional test of tern-bench (suite bench-smoke): run every mode for about 2 s
against a live broker started on a free port and check the JSON report: delivered ==
published x subscribers at QoS 1 with zero loss, sane percentiles, a fixed rate held,
MQTT 5 topic aliases on the wire, loss at QoS 1 failing the run, and the conn mode's
memory figures. Not a timing test: no number is compared with a speed.

The shared mode and --mqtt 5 also run against Debian's mosquitto 2.0, whose
outbound topic aliases tern-bench's numbers are compared with. Environment:
TERN_BIN, TERN_BENCH, TERN_PROTO_DIR (tests/proto, for brokerfix).
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.environ.get('TERN_PROTO_DIR', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'proto')))

import brokerfix  # noqa: E402

BENCH = os.environ.get('TERN_BENCH', '')
# Generous queues, as bench/compare.sh configures both brokers: QoS 1 must not drop.
GENEROUS = ['max_inflight_messages 1000', 'max_queued_messages 100000']


def start(kind, config=GENEROUS):
    b = brokerfix.Broker(config)
    if kind == 'mosquitto':
        b.kind = 'mosquitto'
        os.chmod(b.dir.name, 0o755)  # mosquitto runs as its own user when started as root
    return b.start()


class BenchSmoke(unittest.TestCase):

    def setUp(self):
        if not os.access(BENCH, os.X_OK):
            self.fail('TERN_BENCH=%r is not an executable' % BENCH)
        self.brokers = []

    def tearDown(self):
        for b in self.brokers:
            alive = b.alive()
            b.close()
            self.assertTrue(alive, 'the broker died during the run')

    def broker(self, kind='tern', config=GENEROUS):
        b = start(kind, config)
        self.brokers.append(b)
        return b

    def bench(self, b, *args, host='127.0.0.1', expect_rc=0):
        argv = [BENCH] + list(args) + ['-h', host, '-p', str(b.port), '--json',
                                       '--broker-pid', str(b.proc.pid), '--no-progress']
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120, check=False)
        out = p.stdout.decode()
        if p.returncode != expect_rc:
            self.fail('%s exited %d (want %d)\nstdout:\n%s\nstderr:\n%s\nbroker log:\n%s' %
                      (' '.join(argv), p.returncode, expect_rc, out, p.stderr.decode(),
                       b.log()))
        return json.loads(out)

    def check_traffic(self, r, fanout):
        """Exact counts at QoS >= 1 and percentiles in order."""
        self.assertTrue(r['ok'], r['verdict'])
        tot = r['total']
        self.assertGreater(tot['published'], 0)
        self.assertEqual(tot['expected'], tot['published'] * fanout)
        self.assertEqual(tot['delivered'], tot['expected'])
        self.assertEqual(tot['lost'], 0)
        self.assertEqual(tot['duplicates'], 0)
        self.assertEqual(len(r['per_publisher']), r['publishers'])
        for p in r['per_publisher']:
            self.assertEqual(p['lost'], 0)
            self.assertEqual(p['delivered'], p['published'] * fanout)
        self.assertEqual(len(r['runs']), r['reps'])
        for run in r['runs']:
            self.assertGreater(run['published'], 0)
            self.assertEqual(run['expected'], run['published'] * fanout)
            self.assertEqual(run['delivered'], run['expected'])
            lat = run['latency_us']
            self.assertEqual(lat['count'], run['delivered'])
            self.assertGreater(lat['p50'], 0)
            self.assertTrue(lat['p50'] <= lat['p90'] <= lat['p99'] <= lat['p999'] <= lat['max'],
                            lat)
            self.assertLess(lat['max'], 60e6)  # under a minute: send times are sane
            self.assertAlmostEqual(run['delivered_rate'],
                                   run['delivered'] / r['duration'], delta=1)
            self.assertGreaterEqual(run['broker_cpu_pct'], 0)
            self.assertGreater(run['broker_rss_kb'], 0)
            self.assertGreater(run['bench_cpu_pct'], 0)
            self.assertGreater(run['bench_ns_per_delivery'], 0)
        m = r['median']
        self.assertGreater(m['delivered_rate'], 0)

    def test_fanout_qos1_reps(self):
        b = self.broker()
        r = self.bench(b, 'fanout', '-S', '10', '-q', '1', '-d', '1', '-R', '2',
                       '--warmup', '0.3')
        self.assertEqual(r['subscribers'], 10)
        self.check_traffic(r, 10)

    def test_fanin_qos1_ipv6(self):
        b = self.broker()
        r = self.bench(b, 'fanin', '-P', '10', '-q', '1', '-d', '2', '--warmup', '0.3',
                       host='::1')
        self.check_traffic(r, 1)

    def test_pairs_qos1_and_qos2(self):
        b = self.broker()
        for qos in ('1', '2'):
            r = self.bench(b, 'pairs', '-P', '10', '-q', qos, '-d', '1', '--warmup', '0.3',
                           '-s', '1024')
            self.check_traffic(r, 1)
            self.assertEqual(r['payload'], 1024)

    def test_fixed_rate(self):
        b = self.broker()
        r = self.bench(b, 'fanout', '-S', '5', '-q', '1', '-r', '500', '-d', '2',
                       '--warmup', '0.3')
        self.check_traffic(r, 5)
        # 500 msgs/s for 0.3 s warm-up + 2 s: the schedule allows at most 1150 (+1 for the
        # message due at the start); a loop held up by a loaded machine may send fewer.
        total = r['total']['published']
        self.assertLessEqual(total, 1151)
        self.assertGreaterEqual(total, 0.8 * 1150)

    def test_rx_timestamps_and_busy_poll(self):
        b = self.broker()
        r = self.bench(b, 'fanout', '-S', '5', '-q', '1', '-r', '500', '-d', '1',
                       '--warmup', '0.3', '--rx-timestamps', '--busy-poll', '100')
        self.check_traffic(r, 5)
        for run in r['runs']:
            lat, arr = run['latency_us'], run['arrival_latency_us']
            first, last = run['first_arrival_us'], run['last_arrival_us']
            self.assertEqual(arr['count'], run['delivered'])
            # Each delivery arrives at its socket before it is read, so every quantile too.
            self.assertGreater(arr['p50'], 0)
            for q in ('p50', 'p90', 'p99', 'max'):
                self.assertLessEqual(arr[q], lat[q], (arr, lat))
            # QoS 1, one publisher: every message reached all 5, first before last.
            self.assertEqual(first['count'], run['published'])
            self.assertEqual(last['count'], run['published'])
            self.assertLessEqual(first['p50'], last['p50'])
            self.assertLessEqual(last['max'], arr['max'])
        self.assertIn('median_arrival_latency_us', r)

    def test_qos0_max_rate_threads(self):
        b = self.broker()
        r = self.bench(b, 'fanout', '-S', '20', '-d', '1', '--warmup', '0.3', '-T', '2',
                       '--cpu', '0,1')
        self.assertTrue(r['ok'], r['verdict'])
        self.assertEqual(r['threads'], 2)
        # QoS 0 may lose on a slow path, but with generous queues on loopback it does not
        self.assertEqual(r['total']['delivered'], r['total']['expected'])
        self.assertAlmostEqual(r['wire']['rx_bytes_per_msg'], r['wire']['tx_bytes_per_msg'],
                               delta=0.5)

    def test_conn(self):
        b = self.broker()
        r = self.bench(b, 'conn', '-c', '500', '-d', '0.3', '-R', '2')
        self.assertTrue(r['ok'], r['verdict'])
        self.assertEqual(len(r['cycles']), 2)
        for c in r['cycles']:
            self.assertGreater(c['connect_rate'], 0)
            self.assertGreater(c['rss_before_kb'], 0)
            self.assertGreater(c['rss_connected_kb'], 0)
            self.assertGreater(c['rss_after_kb'], 0)

    def test_default_window_fits_default_broker(self):
        # tern's default session queue (1,000 + 20 in flight): the default QoS 1 window
        # (500 deliveries) must not make it drop, even with 10 publishers into one session.
        b = self.broker(config=[])
        r = self.bench(b, 'fanin', '-P', '10', '-q', '1', '-d', '1', '--warmup', '0.3')
        self.assertEqual(r['window'], 500)
        self.check_traffic(r, 1)

    def test_loss_at_qos1_fails_the_run(self):
        # A tiny session queue makes the broker drop QoS 1 messages: tern-bench must say so.
        b = self.broker(config=['max_inflight_messages 1', 'max_queued_messages 5'])
        r = self.bench(b, 'fanin', '-P', '10', '-q', '1', '-d', '1', '--warmup', '0.2',
                       '--drain', '2', '-w', '16384', expect_rc=1)
        self.assertFalse(r['ok'])
        self.assertGreater(r['total']['lost'], 0)
        self.assertIn('lost', r['verdict'])
        self.assertEqual(r['total']['lost'],
                         r['total']['expected'] - r['total']['delivered'])

    def test_refused_connection_fails_cleanly(self):
        b = self.broker()
        port = b.port
        b.stop()
        p = subprocess.run([BENCH, 'fanout', '-p', str(port), '-d', '1', '--json',
                            '--no-progress'], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, check=False)
        self.assertEqual(p.returncode, 1)
        r = json.loads(p.stdout.decode())
        self.assertFalse(r['ok'])
        self.assertIn('refused', r['verdict'].lower())
        self.brokers.remove(b)
        b.close()

    def test_bad_usage(self):
        for args in (['nosuchmode'], ['fanout', '-q', '3'], ['fanout', '-s', '8'],
                     ['fanout', '--mqtt', '4.5'], ['fanout', '-P', '2']):
            p = subprocess.run([BENCH] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10, check=False)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr, args)

    # Shared groups and MQTT 5 on both brokers.

    def shared(self, kind):
        b = self.broker(kind)
        r = self.bench(b, 'shared', '-P', '4', '-S', '3', '-q', '1', '-d', '1',
                       '--warmup', '0.3')
        # each message reaches exactly one member of the group
        self.check_traffic(r, 1)

    def test_shared_on_tern(self):
        self.shared('tern')

    def test_shared_on_mosquitto(self):
        self.shared('mosquitto')

    def mqtt5_topic_aliases(self, kind):
        b = self.broker(kind)
        r = self.bench(b, 'fanout', '-S', '5', '-q', '1', '--mqtt', '5', '-t', '3',
                       '-d', '1', '--warmup', '0.3')
        self.assertEqual(r['mqtt'], '5.0')
        self.check_traffic(r, 5)
        w = r['wire']
        self.assertGreater(w['broker_topic_alias_max'], 0)
        # after the first PUBLISH per topic only the alias travels: 1 type byte, 1 length
        # byte, 2 empty topic length, 2 packet id, 1 property length, 3 alias, 64 payload
        self.assertGreaterEqual(w['tx_bytes_per_msg'], 74.0)
        self.assertLess(w['tx_bytes_per_msg'], 74.5)
        return w

    def test_mqtt5_topic_aliases_on_tern(self):
        w = self.mqtt5_topic_aliases('tern')
        # tern assigns aliases toward subscribers too: they receive the alias alone
        self.assertGreater(w['rx_alias_only_msgs'], 0)
        self.assertLess(w['rx_bytes_per_msg'], 74.5)

    def test_mqtt5_topic_aliases_on_mosquitto(self):
        w = self.mqtt5_topic_aliases('mosquitto')
        self.assertEqual(w['rx_alias_only_msgs'], 0)  # mosquitto 2.0.11 never assigns one


if __name__ == '__main__':
    unittest.main(verbosity=2)
