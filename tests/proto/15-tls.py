#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""TLS listeners: mosquitto_sub/pub with --cafile (and --cert/--key) over 127.0.0.1
and ::1, paho with tls_set, TLS 1.2 and 1.3 and tls_version, require_certificate,
a client that trusts another CA, use_identity_as_username, a plain listener beside
the TLS one, large and many messages through a slow TLS reader, and garbage or a
stalled handshake on the TLS port closing only that connection.

The test makes its own CA, server and client certificates with the openssl command
in a temporary directory (removed at the end).

Over the dpdk dataplane (suite proto-dpdk) the TLS listeners move to tern's veth
addresses like every other listener (brokerfix.DpdkSite), the mosquitto clients are
pointed there, and the server certificate names those addresses too."""

import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brokerfix  # noqa: E402
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

TIMEOUT = 10.0
# dpdk: the server certificate names the addresses of this many brokerfix.DpdkSite's.
DPDK_SITES = 32
CERTS = None  # directory with the generated files, set up once for the module


def openssl(*args):
    subprocess.run(('openssl',) + args, cwd=CERTS, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_key_csr(name, subject):
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
            '-keyout', name + '.key', '-out', name + '.csr', '-subj', subject)


def sign(name, ca, ext=None):
    args = ['x509', '-req', '-in', name + '.csr', '-CA', ca + '.crt', '-CAkey', ca + '.key',
            '-CAcreateserial', '-out', name + '.crt', '-days', '2']
    if ext:
        with open(os.path.join(CERTS, name + '.ext'), 'w') as f:
            f.write(ext + '\n')
        args += ['-extfile', name + '.ext']
    openssl(*args)


def make_ca(name, cn):
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
            '-keyout', name + '.key', '-out', name + '.crt', '-days', '2', '-subj', '/CN=' + cn)


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix='tern-tls-test-')
    make_ca('ca', 'tern test CA')
    make_ca('other-ca', 'some other CA')
    make_key_csr('server', '/CN=localhost')
    san = 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
    if brokerfix.DPDK:
        # The mosquitto clients name tern's veth address: the sites this test may use.
        # Same numbering as brokerfix.DpdkSite; stopped brokers' sites are reused.
        for k in range(1, DPDK_SITES + 1):
            octets = (18 + k // 256, k % 256)
            san += ',IP:198.%d.%d.2,IP:2001:2:%d:%d::2' % (octets + octets)
    sign('server', 'ca', san)
    make_key_csr('client', '/O=tern tests/CN=sensor-7')
    sign('client', 'ca')
    make_key_csr('nocn', '/O=tern tests/OU=no common name')
    sign('nocn', 'ca')
    make_key_csr('rogue', '/CN=rogue')
    sign('rogue', 'other-ca')
    # mosquitto started as root reads its files as user mosquitto.
    os.chmod(CERTS, 0o755)
    for f in os.listdir(CERTS):
        os.chmod(os.path.join(CERTS, f), 0o644)


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


def path(name):
    return os.path.join(CERTS, name)


def server_keys(extra=()):
    return ['certfile ' + path('server.crt'), 'keyfile ' + path('server.key')] + list(extra)


def listening(port, table):
    """True when a socket listens on port in /proc/net/tcp or tcp6 (state 0A)."""
    with open(table) as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1].endswith(':%04X' % port) and fields[3] == '0A':
                return True
    return False


class TlsBroker(brokerfix.Broker):
    """The fixture's broker with the plain listeners on `port` plus TLS listeners on
    `tls_port` (127.0.0.1 and ::1), each followed by tls_lines."""

    def __init__(self, tls_lines, config_lines=()):
        super().__init__(config_lines)
        self.tls_lines = list(tls_lines)
        self.tls_port = None

    def config_text(self, port):
        taken = {port} | brokerfix.DPDK_PORTS.keys()
        if self.tls_port is None or self.tls_port in taken:
            self.tls_port = brokerfix.free_port()
            while self.tls_port in taken:
                self.tls_port = brokerfix.free_port()
        if self.site:
            if self.site.k > DPDK_SITES:
                raise RuntimeError('dpdk site %d: not in the server certificate' % self.site.k)
            brokerfix.DPDK_PORTS[self.tls_port] = self.site  # tests connect to ('::1', port)
        tls = []
        for host in ('127.0.0.1', '::1'):
            tls += ['listener %d %s' % (self.tls_port, self.host(host))] + self.tls_lines
        return super().config_text(port) + '\n'.join(tls) + '\n'

    def stop(self):
        super().stop()
        if self.site:
            brokerfix.DPDK_PORTS.pop(self.tls_port, None)

    def wait_ready(self, timeout=brokerfix.READY_TIMEOUT):
        # The fixture probes the plain port, which may open before the TLS one. A TCP
        # probe of the TLS port would count as a failed handshake: look at the
        # kernel's table of listening sockets instead. tern on dpdk listens on every
        # port before its stack takes the first segment, and the kernel has no table.
        deadline = time.monotonic() + timeout
        if not super().wait_ready(timeout):
            return False
        if self.site:
            return True
        while time.monotonic() < deadline:
            if listening(self.tls_port, '/proc/net/tcp') and \
                    listening(self.tls_port, '/proc/net/tcp6'):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def start(self):
        for _ in range(3):  # the TLS port may be taken between free_port() and bind
            try:
                return super().start()
            except RuntimeError as e:
                if 'in use' not in str(e):
                    raise
                self.tls_port = None
        return super().start()


def client_context(ca='ca.crt', cert=None, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(path(ca))
    # An end of stream without close_notify must raise, not read as b''.
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    if cert:
        ctx.load_cert_chain(path(cert + '.crt'), path(cert + '.key'))
    if version == '1.2':
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == '1.3':
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class TlsRaw(r.RawClient):
    """rawmqtt's client over TLS: same bounded reads, OpenSSL's buffer checked first."""

    def __init__(self, host, port, ctx, rcvbuf=None):
        super().__init__(host, port, timeout=TIMEOUT, rcvbuf=rcvbuf)
        name = 'localhost' if host in ('127.0.0.1', '::1') else host
        self.sock = ctx.wrap_socket(self.sock, server_hostname=name, suppress_ragged_eofs=False)

    def _fill(self, deadline):
        if self.eof:
            return False
        if not self.sock.pending():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b''
        except socket.timeout:
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True


def run(argv, timeout=TIMEOUT):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


class Tls(BrokerTestCase):
    START_BROKER = False

    def start_tls(self, tls_lines=(), config_lines=()):
        b = TlsBroker(server_keys(tls_lines), config_lines)
        self.brokers.append(b)
        self.addCleanup(self.stop_broker, b)
        self.broker = b.start()
        return b

    def tls_raw(self, host='127.0.0.1', **kw):
        rcvbuf = kw.pop('rcvbuf', None)
        c = TlsRaw(host, self.broker.tls_port, client_context(**kw), rcvbuf=rcvbuf)
        self.addCleanup(c.close)
        return c

    def assert_handshake_fails(self, host='127.0.0.1', **kw):
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            c = self.tls_raw(host, **kw)
            # TLS 1.3: the server's verdict on our certificate comes after our Finished.
            c.send(r.connect('refused'), may_fail=True)
            if c.recv(TIMEOUT) is None:
                raise ConnectionError('closed')

    def peer(self, host):
        """The address tern logs for a test's connection to a loopback host: the same,
        or over dpdk the test's end of the broker's veth."""
        site = self.broker.site
        if not site:
            return host
        return {'127.0.0.1': site.v4[:-1] + '1', '::1': site.v6[:-1] + '1'}[host]

    def wait_log(self, text, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.broker.log():
                return
            time.sleep(0.05)
        raise AssertionError('broker log has no %r' % text)

    def sub_pub(self, host, extra_sub=(), extra_pub=(), topic='tls/topic'):
        """mosquitto_sub and mosquitto_pub over TLS; returns (sub result, pub result)."""
        tls = ['--cafile', path('ca.crt'), '-p', str(self.broker.tls_port), '-h',
               self.broker.host(host)]
        sub = subprocess.Popen(['mosquitto_sub', '-t', topic, '-v', '-C', '1', '-W', '10'] +
                               tls + list(extra_sub),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())
        # The subscription exists once the broker logged the subscriber's CONNECT and
        # a probe message through the same TLS listener arrives; simpler: retry the
        # publish until the subscriber got one (it exits after the first).
        pub = None
        deadline = time.monotonic() + TIMEOUT
        while sub.poll() is None and time.monotonic() < deadline:
            pub = run(['mosquitto_pub', '-t', topic, '-m', 'hello world'] + tls +
                      list(extra_pub))
            if pub.returncode != 0:
                break
            try:
                sub.wait(0.3)
            except subprocess.TimeoutExpired:
                pass
        out, err = sub.communicate(timeout=TIMEOUT)
        return sub.returncode, out.decode(), err.decode(), pub

    # 1. The reference clients with --cafile, over IPv4 and IPv6 loopback.

    def test_mosquitto_clients_cafile(self):
        self.start_tls()
        for host in ('127.0.0.1', '::1'):
            rc, out, err, pub = self.sub_pub(host)
            self.assertEqual(pub.returncode, 0, pub.stderr)
            self.assertEqual((rc, out), (0, 'tls/topic hello world\n'), err)

    def test_mosquitto_clients_wrong_ca(self):
        self.start_tls(config_lines=['sys_interval 1'])
        pub = run(['mosquitto_pub', '-t', 't', '-m', 'x', '-p', str(self.broker.tls_port),
                   '-h', self.broker.host('127.0.0.1'), '--cafile', path('other-ca.crt')])
        self.assertNotEqual(pub.returncode, 0)
        if is_tern():
            self.wait_log('TLS handshake with %s:' % self.peer('127.0.0.1'))
        # The broker closed only that connection: TLS clients still get through.
        c = self.tls_raw()
        c.connect_ok('after-wrong-ca')
        if not is_tern():
            not_checked("tern's $SYS/broker/tls/... handshake counters")
            return
        # Both counted in $SYS, in the total and on some worker.
        mon = SysMonitor(self.raw(connect='sys-monitor'))
        mon.wait_for('tls/handshake_failures 1, tls/handshakes 1', lambda: (
            mon.num('tls/handshake_failures'), mon.num('tls/handshakes')) == (1, 1))
        self.assertEqual(sum(int(v) for t, v in mon.values.items()
                             if t.startswith('$SYS/broker/workers/') and
                             t.endswith('/tls/handshake_failures')), 1)

    # 2. Mutual TLS.

    def test_require_certificate(self):
        self.start_tls(['cafile ' + path('ca.crt'), 'require_certificate true'])
        rc, out, err, pub = self.sub_pub(
            '127.0.0.1', ['--cert', path('client.crt'), '--key', path('client.key')],
            ['--cert', path('client.crt'), '--key', path('client.key')])
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual((rc, out), (0, 'tls/topic hello world\n'), err)
        # No certificate, or one from another CA: no MQTT session.
        pub = run(['mosquitto_pub', '-t', 't', '-m', 'x', '-p', str(self.broker.tls_port),
                   '-h', self.broker.host('127.0.0.1'), '--cafile', path('ca.crt')])
        self.assertNotEqual(pub.returncode, 0)
        self.assert_handshake_fails()
        self.assert_handshake_fails(cert='rogue')
        self.assert_handshake_fails('::1', cert='rogue')
        if is_tern():
            self.wait_log('TLS handshake with %s:' % self.peer('127.0.0.1'))
            self.wait_log('TLS handshake with [%s]:' % self.peer('::1')
                          if self.broker.site else 'TLS handshake with ::1:')
        c = self.tls_raw('::1', cert='client')
        c.connect_ok('with-cert')

    # 3. Protocol versions.

    def test_tls12_and_tls13(self):
        self.start_tls()
        for version, name in (('1.2', 'TLSv1.2'), ('1.3', 'TLSv1.3')):
            c = self.tls_raw(version=version)
            self.assertEqual(c.sock.version(), name)
            c.connect_ok('v' + version)
            self.assertEqual(c.subscribe_ok([('v/' + version, 1)]), [1])
            c.publish_ok('v/' + version, b'over ' + name.encode(), qos=1, mid=2)
            p = c.receive_publish()
            self.assertEqual((p.topic, p.payload), ('v/' + version, b'over ' + name.encode()))
            # The broker ends with close_notify: a clean TLS end of stream (b''), not
            # the SSLEOFError of a connection that was just cut.
            c.send(r.disconnect())
            self.assertEqual(c.sock.recv(16), b'')

    def test_tls_version_is_a_minimum(self):
        self.start_tls(['tls_version tlsv1.3'])
        self.assert_handshake_fails(version='1.2')
        c = self.tls_raw(version='1.3')
        self.assertEqual(c.sock.version(), 'TLSv1.3')
        c.connect_ok('tls13')
        pub = run(['mosquitto_pub', '-t', 't', '-m', 'x', '-p', str(self.broker.tls_port),
                   '-h', self.broker.host('127.0.0.1'), '--cafile', path('ca.crt'),
                   '--tls-version', 'tlsv1.3'])
        self.assertEqual(pub.returncode, 0, pub.stderr)

    def test_tls_version_tlsv12_takes_tls13(self):
        # tlsv1.2 (the default) still takes TLS 1.3 clients: it is the lowest version.
        self.start_tls(['tls_version tlsv1.2'])
        self.assertEqual(self.tls_raw(version='1.3').sock.version(), 'TLSv1.3')
        self.assertEqual(self.tls_raw(version='1.2').sock.version(), 'TLSv1.2')

    def test_ciphers(self):
        self.start_tls(['ciphers ECDHE-ECDSA-AES256-GCM-SHA384',
                        'ciphers_tls1.3 TLS_CHACHA20_POLY1305_SHA256'])
        c = self.tls_raw(version='1.2')
        self.assertEqual(c.sock.cipher()[0], 'ECDHE-ECDSA-AES256-GCM-SHA384')
        c.connect_ok('tls12-cipher')
        c = self.tls_raw(version='1.3')
        self.assertEqual(c.sock.cipher()[0], 'TLS_CHACHA20_POLY1305_SHA256')
        c.connect_ok('tls13-suite')
        # A TLS 1.2 client offering only ciphers outside the list gets no session.
        ctx = client_context(version='1.2')
        ctx.set_ciphers('ECDHE-ECDSA-AES128-GCM-SHA256')
        with self.assertRaises(ssl.SSLError):
            TlsRaw('127.0.0.1', self.broker.tls_port, ctx).close()

    def test_capath(self):
        hashed = os.path.join(CERTS, 'hashed')
        if not os.path.isdir(hashed):
            os.mkdir(hashed)
            shutil.copy(path('ca.crt'), hashed)
            subprocess.run(['openssl', 'rehash', hashed], check=True)
            os.chmod(hashed, 0o755)
        self.start_tls(['capath ' + hashed, 'require_certificate true'])
        self.tls_raw(cert='client').connect_ok('via-capath')
        self.assert_handshake_fails(cert='rogue')

    # 4. use_identity_as_username.

    def test_use_identity_as_username(self):
        self.start_tls(['cafile ' + path('ca.crt'), 'require_certificate true',
                        'use_identity_as_username true'])
        c = self.tls_raw(cert='client')
        c.connect_ok('ident-1', username='mallory', password=b'ignored')
        if is_tern():
            self.wait_log("Client ident-1 from %s:" % self.peer('127.0.0.1'))
            self.wait_log("has the user name 'sensor-7' from its certificate.")
            self.assertNotIn("'mallory'", self.broker.log())
        else:
            self.wait_log("as ident-1 (p2, c1, k60, u'sensor-7')")
        # A certificate without a CN gives no user name: CONNACK 4, as mosquitto.
        c = self.tls_raw(cert='nocn')
        c.send(r.connect('ident-2'))
        self.assertEqual(c.expect(r.CONNACK).connack, (False, 4))
        c.expect_closed()

    # 5. paho with tls_set, a plain listener beside the TLS one.

    def test_paho_tls_and_plain_listener(self):
        self.start_tls()
        import pahoclient
        sub = pahoclient.Client(self.broker, 'paho-tls-sub')
        sub.c.tls_set(ca_certs=path('ca.crt'), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.addCleanup(sub.close)
        sub.broker = types.SimpleNamespace(port=self.broker.tls_port)
        sub.connect()
        self.assertEqual(sub.subscribe('mix/#', 1), [1])
        plain = self.paho('paho-plain')  # the fixture's plain listener
        for i in range(200):
            plain.publish('mix/%d' % i, b'plain %d' % i, qos=1, wait=False)
        plain.publish('mix/end', b'end', qos=1)
        for i in range(200):
            sub.expect('mix/%d' % i, b'plain %d' % i, qos=1)
        sub.expect('mix/end', b'end')
        raw = self.raw(connect='plain-raw')  # and a raw plain client
        raw.publish_ok('mix/raw', b'raw', qos=1)
        sub.expect('mix/raw', b'raw')

    # 6. Big and many messages through a TLS reader that stops reading for a while.

    def test_large_messages_slow_tls_reader(self):
        # A whole MiB of payload: above the default max_packet_size (1 MiB packets).
        self.start_tls(config_lines=['max_packet_size 0'])
        slow = self.tls_raw(rcvbuf=4096)
        slow.connect_ok('slow-tls')
        self.assertEqual(slow.subscribe_ok([('big/#', 1)]), [1])
        pub = self.tls_raw('::1')
        pub.connect_ok('big-pub')
        sizes = [1 << 20, 100000, 16384, 16383, 16385, 1, 0, 65536] + [7] * 300
        expected = []
        for i, n in enumerate(sizes):
            payload = bytes((i + k) % 251 for k in range(n))
            pub.send(r.publish('big/%d' % i, payload, qos=1, mid=i % 65535 + 1))
            expected.append(('big/%d' % i, payload))
        for i in range(len(sizes)):
            self.assertEqual(pub.expect(r.PUBACK).mid, i % 65535 + 1)
        time.sleep(1.0)  # the broker's writes to `slow` hit a full socket meanwhile
        got = []
        for _ in expected:
            p = slow.receive_publish(TIMEOUT)
            got.append((p.topic, p.payload))
        self.assertEqual([t for t, _ in got], [t for t, _ in expected])
        self.assertTrue(got == expected, 'payloads differ')

    def test_many_small_records_in_one_burst(self):
        # Each send() on a TLS socket is one record: hundreds arrive together, more
        # than the broker reads in one turn; the rest wait inside OpenSSL where no
        # epoll event announces them, and must still be handled without more input.
        self.start_tls()
        sub = self.tls_raw()
        sub.connect_ok('burst-sub')
        self.assertEqual(sub.subscribe_ok([('burst/#', 0)]), [0])
        pub = self.tls_raw('::1')
        pub.connect_ok('burst-pub')
        n = 500
        pub.sock.setblocking(True)
        for i in range(n):
            pub.sock.sendall(r.publish('burst/t', b'%d' % i))
        got = [int(p.payload) for p in sub.receive_until_quiet(2.0)]
        self.assertEqual(got, list(range(n)))

    # 7. Garbage and stalled handshakes close only their own connection.

    def test_garbage_and_stalls_close_only_that_connection(self):
        self.start_tls(config_lines=['connect_timeout 2'])
        sub = self.tls_raw()
        sub.connect_ok('pair-sub')
        self.assertEqual(sub.subscribe_ok([('pair/#', 1)]), [1])
        pub = self.tls_raw('::1')
        pub.connect_ok('pair-pub')
        stop = threading.Event()
        errors = []
        sent = [0]

        def publisher():
            try:
                while not stop.is_set():
                    sent[0] += 1
                    pub.publish_ok('pair/n', b'%d' % sent[0], qos=1, mid=sent[0] % 65535 + 1)
                    time.sleep(0.01)
            except Exception as e:  # reported by the main thread
                errors.append(e)

        t = threading.Thread(target=publisher)
        t.start()
        try:
            port = self.broker.tls_port
            garbage = []
            for data in (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', bytes(range(256)) * 4,
                         r.connect('plain-on-tls')):
                g = r.RawClient('127.0.0.1', port)
                self.addCleanup(g.close)
                g.send(data, may_fail=True)
                garbage.append(g)
            # A TLS record header promising a ClientHello that never comes, and silence.
            hello = r.RawClient('127.0.0.1', port)
            self.addCleanup(hello.close)
            hello.send(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')
            silent = r.RawClient('::1', port)
            self.addCleanup(silent.close)
            for g in garbage:
                g.expect_closed(TIMEOUT, allow_packets=True)  # a TLS alert may come first
            if is_tern():
                started = time.monotonic()
                hello.expect_closed(2 + 3, allow_packets=True)
                silent.expect_closed(2 + 3, allow_packets=True)
                self.assertLess(time.monotonic() - started, 5)
                self.wait_log('TLS handshake with %s:' % self.peer('127.0.0.1'))
            else:
                not_checked('a stalled TLS handshake is closed within connect_timeout')
            # The pair kept going all along, in order.
            n0 = sent[0]
            deadline = time.monotonic() + TIMEOUT
            while sent[0] < n0 + 20 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            t.join(TIMEOUT)
        self.assertEqual(errors, [])
        self.assertGreater(sent[0], 20)
        got = [int(p.payload) for p in sub.receive_until_quiet(1.0)]
        self.assertEqual(got, list(range(1, sent[0] + 1)))

    # 8. Startup checks.

    def test_bad_files_stop_startup(self):
        if not is_tern():
            not_checked('tern-specific startup messages')
            return
        cases = [
            (server_keys()[:1] + ['keyfile ' + path('client.key')],
             'keyfile does not match certfile'),
            (['certfile ' + path('missing.crt'), 'keyfile ' + path('server.key')],
             "cannot read certfile '%s': No such file or directory" % path('missing.crt')),
            (['certfile ' + path('server.key'), 'keyfile ' + path('server.key')],
             'cannot load certfile'),
            (server_keys(['cafile ' + path('ca.crt'), 'ciphers NO-SUCH-CIPHER']),
             'no usable cipher in ciphers'),
        ]
        for lines, message in cases:
            b = TlsBroker(lines)
            self.addCleanup(b.close)
            with self.assertRaises(RuntimeError) as ctx:
                b.start()
            self.assertIn(message, str(ctx.exception))
            self.assertIn('listener %d:' % b.tls_port, str(ctx.exception))
        b = TlsBroker(['keyfile ' + path('server.key')])
        self.addCleanup(b.close)
        with self.assertRaises(RuntimeError) as ctx:
            b.start()
        with open(b.conf_path) as f:
            line = next(i for i, l in enumerate(f, 1)
                        if l.startswith('listener %d ' % b.tls_port))
        self.assertRegex(str(ctx.exception), r'broker\.conf:%d: listener \d+: keyfile needs '
                         r'certfile \(a TLS listener\)' % line)


if __name__ == '__main__':
    main()
