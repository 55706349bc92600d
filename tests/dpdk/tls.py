# SPDX-License-Identifier: MIT
"""TLS listeners on the dpdk dataplane (run by tests/proto/dpdk.sh): mosquitto_sub and
mosquitto_pub with --cafile, and with a client certificate under require_certificate,
from the kernel side of tern's veth over IPv4 and IPv6; a handshake with the wrong CA
fails, is counted in $SYS (the sock dataplane's names and the dpdk lcore groups) and
leaves a plain connection alone; TLS output is copied, never sent by reference; and
the configurations still refused are refused at start with a clear error.

tests/proto/15-tls.py runs the whole TLS suite over dpdk too (suite proto-dpdk); this
file borrows its certificates and helpers."""

import importlib
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'proto'))

import brokerfix  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

tls15 = importlib.import_module('15-tls')
path = tls15.path
BIG = 300000  # payload bytes: sent by reference to a plain subscriber


def setUpModule():
    brokerfix.require_dpdk(__file__)
    tls15.setUpModule()


def tearDownModule():
    tls15.tearDownModule()


class DpdkTls(BrokerTestCase):
    START_BROKER = False

    # 15-tls's fixture methods, on this test case.
    start_tls = tls15.Tls.start_tls
    tls_raw = tls15.Tls.tls_raw
    sub_pub = tls15.Tls.sub_pub
    peer = tls15.Tls.peer
    wait_log = tls15.Tls.wait_log

    def test_mosquitto_clients_cafile_v4_v6(self):
        self.start_tls()
        for host in ('127.0.0.1', '::1'):
            rc, out, err, pub = self.sub_pub(host, topic='dpdk/tls/' + host)
            self.assertEqual(pub.returncode, 0, pub.stderr)
            self.assertEqual((rc, out), (0, 'dpdk/tls/%s hello world\n' % host), err)

    def test_mosquitto_clients_client_certificate_v4_v6(self):
        self.start_tls(['cafile ' + path('ca.crt'), 'require_certificate true'])
        cert = ['--cert', path('client.crt'), '--key', path('client.key')]
        for host in ('127.0.0.1', '::1'):
            rc, out, err, pub = self.sub_pub(host, cert, cert, topic='dpdk/mtls')
            self.assertEqual(pub.returncode, 0, pub.stderr)
            self.assertEqual((rc, out), (0, 'dpdk/mtls hello world\n'), err)
            # Without a certificate: no session.
            pub = tls15.run(['mosquitto_pub', '-t', 't', '-m', 'x', '-p',
                             str(self.broker.tls_port), '-h', self.broker.host(host),
                             '--cafile', path('ca.crt')])
            self.assertNotEqual(pub.returncode, 0)

    def test_wrong_ca_leaves_plain_connection_alone(self):
        self.start_tls(config_lines=['sys_interval 1'])
        plain = self.raw(connect='plain-beside-tls')
        self.assertEqual(plain.subscribe_ok([('dpdk/plain', 1)]), [1])
        for host in ('127.0.0.1', '::1'):
            pub = tls15.run(['mosquitto_pub', '-t', 't', '-m', 'x', '-p',
                             str(self.broker.tls_port), '-h', self.broker.host(host),
                             '--cafile', path('other-ca.crt')])
            self.assertNotEqual(pub.returncode, 0)
        self.wait_log('TLS handshake with %s:' % self.peer('127.0.0.1'))
        self.wait_log('TLS handshake with [%s]:' % self.peer('::1'))
        # The plain connection saw nothing of it and still works both ways.
        plain.expect_silence(0.3)
        plain.publish_ok('dpdk/plain', b'still here', qos=1, mid=7)
        p = plain.receive_publish()
        self.assertEqual((p.topic, p.payload), ('dpdk/plain', b'still here'))
        # Counted, under the sock dataplane's names and the lcore groups.
        mon = SysMonitor(self.raw(connect='sys-monitor'))
        mon.wait_for('tls/handshake_failures 2', lambda: (
            mon.num('tls/handshake_failures'), mon.num('tls/handshakes'),
            mon.num('dpdk/total/tls/handshake_failures')) == (2, 0, 2))
        self.assertEqual(sum(int(v) for t, v in mon.values.items()
                             if re.match(r'^\$SYS/broker/workers/\d+/tls/handshake_failures$', t)),
                         2)
        good = self.tls_raw('::1')
        good.connect_ok('good-after-wrong-ca')
        mon.wait_for('tls/handshakes 1', lambda: (mon.num('tls/handshakes'),
                                                  mon.num('dpdk/total/tls/handshakes')) == (1, 1))

    def test_tls_output_is_copied(self):
        # Records are encrypted copies: a TLS subscriber's payload is never referenced
        # (the worker's tx counters at stop), while a plain one's is on the same port.
        b = self.start_tls(config_lines=['max_packet_size 0'])
        payload = bytes(i % 251 for i in range(BIG))
        sub = self.tls_raw()
        sub.connect_ok('tls-big-sub')
        self.assertEqual(sub.subscribe_ok([('big/tls', 0)]), [0])
        pub = self.raw(connect='big-pub')
        pub.publish_ok('big/tls', payload, qos=1, mid=1)
        p = sub.receive_publish()
        self.assertTrue(p.payload == payload, 'payload differs')
        self.stop_broker(b)
        copied, referenced = tx_totals(b.log())
        self.assertGreaterEqual(copied, BIG)
        self.assertEqual(referenced, 0)

        b = self.start_tls(config_lines=['max_packet_size 0'])
        sub = self.raw(connect='plain-big-sub')
        self.assertEqual(sub.subscribe_ok([('big/plain', 0)]), [0])
        pub = self.raw(connect='big-pub')
        pub.publish_ok('big/plain', payload, qos=1, mid=1)
        self.assertTrue(sub.receive_publish().payload == payload, 'payload differs')
        self.stop_broker(b)
        self.assertGreaterEqual(tx_totals(b.log())[1], BIG)

    def test_refused_configs(self):
        # A TLS listener with a file that cannot be read: refused before EAL starts.
        b = tls15.TlsBroker(['certfile ' + path('missing.crt'), 'keyfile ' + path('server.key')])
        self.addCleanup(b.close)
        with self.assertRaises(RuntimeError) as ctx:
            b.start()
        self.assertIn("listener %d: cannot read certfile '%s'" % (b.tls_port, path('missing.crt')),
                      str(ctx.exception))
        self.assertNotEqual(b.exit_status, 0)
        # A TLS listener on a host name: the dpdk dataplane has no resolver.
        b = brokerfix.Broker(['listener {port} 127.0.0.1', 'listener {port2} ip6-localhost',
                              'certfile ' + path('server.crt'), 'keyfile ' + path('server.key')])
        self.addCleanup(b.close)
        with self.assertRaises(RuntimeError) as ctx:
            b.start()
        self.assertIn("dpdk: cannot listen on 'ip6-localhost' port %d" % b.port2,
                      str(ctx.exception))
        self.assertNotEqual(b.exit_status, 0)


def tx_totals(log):
    """(bytes_copied, bytes_referenced) summed over the workers' lines at stop."""
    copied = referenced = 0
    found = False
    for m in re.finditer(r'tx: bytes_copied=(\d+) bytes_referenced=(\d+)', log):
        copied += int(m.group(1))
        referenced += int(m.group(2))
        found = True
    if not found:
        raise AssertionError('no tx counters in the broker log')
    return copied, referenced


if __name__ == '__main__':
    main()
