# SPDX-License-Identifier: MIT
"""Broker fixture for the protocol tests: start tern (env TERN_BIN) or, with
TERN_TEST_BROKER=mosquitto, Debian's mosquitto 2.0 as the reference broker, on a
free port on 127.0.0.1 and ::1; stop it by PID; show its log when a test fails.

Every test module does `from brokerfix import BrokerTestCase, main` and runs
standalone: `/usr/bin/python3 tests/proto/01-connect.py` exits 0 on pass.

With TERN_TEST_DATAPLANE=dpdk (set by tests/proto/dpdk.sh, which runs the test as
root in a network namespace of its own) tern runs on `dataplane dpdk` instead:
see DpdkSite below.
"""

import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import rawmqtt

MOSQUITTO = '/usr/sbin/mosquitto'
TIMEOUT = 5.0  # default bound for every wait on the broker
# How long the broker may take to exit on SIGTERM; an ASan build checks for leaks first.
STOP_TIMEOUT = 15.0

# Lines that start a report of AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer.
SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                     'SUMMARY: AddressSanitizer', 'SUMMARY: UndefinedBehaviorSanitizer')

# Config keys mosquitto does not know; they are dropped when it is the broker under test.
TERN_ONLY_KEYS = ('workers', 'connect_timeout', 'dataplane', 'max_output_bytes',
                  'max_connection_rate', 'max_publish_rate', 'max_publish_bytes_rate',
                  'max_subscriptions')


DPDK = os.environ.get('TERN_TEST_DATAPLANE') == 'dpdk'


def require_dpdk(test_file):
    """Fail (never skip) a tests/dpdk test run outside tests/proto/dpdk.sh."""
    if not DPDK:
        raise RuntimeError('%s runs only on the dpdk dataplane (tests/proto/dpdk.sh)' %
                           os.path.basename(test_file))


# EAL start-up and the first ARP exchange take longer than a kernel listen().
READY_TIMEOUT = 30.0 if DPDK else 10.0


class DpdkSite:
    """Where one tern broker runs on the dpdk dataplane: a network namespace
    (NS_PREFIX-bK) holding one end of a veth pair, which tern drives through
    net_af_packet (the kernel there has no address and no IPv6, so it stays silent);
    the other end stays in the test's namespace with 198.18.K.1/24 and
    2001:2:18:K::1/64, and tern answers on .2 of each. Brokers side by side get
    different sites, so they never share a link; a stopped broker's site is reused
    by the next one (a namespace costs more to make than a broker to start). dpdk.sh
    removes the namespaces and kills brokers a killed test left behind, by the PIDs
    in TERN_DPDK_PIDFILE and the namespace prefix."""

    numbers = itertools.count(1)
    free = []  # sites of stopped brokers

    @classmethod
    def take(cls):
        return cls.free.pop() if cls.free else cls()

    def __init__(self):
        self.k = next(DpdkSite.numbers)
        if self.k > 500:
            raise RuntimeError('more than 500 dpdk brokers in one test')
        prefix = os.environ['TERN_DPDK_NS_PREFIX']
        self.ns = '%s-b%d' % (prefix, self.k)
        self.file_prefix = '%s-%d' % (prefix, self.k)
        self.peer = 'tpd%d' % self.k  # in the test's namespace; at most 15 bytes
        octets = (18 + self.k // 256, self.k % 256)
        self.v4 = '198.%d.%d.2' % octets
        self.v6 = '2001:2:%d:%d::2' % octets
        self.up = False

    def create(self):
        def ip(*args):
            subprocess.run(('ip',) + args, check=True, stdout=subprocess.DEVNULL)
        ip('netns', 'add', self.ns)
        self.up = True
        ip('link', 'add', 'tern0', 'netns', self.ns, 'type', 'veth', 'peer', 'name', self.peer)
        ip('netns', 'exec', self.ns, 'sysctl', '-qw', 'net.ipv6.conf.tern0.disable_ipv6=1')
        ip('-n', self.ns, 'link', 'set', 'tern0', 'up')
        ip('addr', 'add', self.v4[:-1] + '1/24', 'dev', self.peer)
        ip('addr', 'add', self.v6[:-1] + '1/64', 'dev', self.peer, 'nodad')
        ip('link', 'set', self.peer, 'up')
        # veth leaves TCP checksums to "hardware"; af_packet would hand tern unfilled ones.
        subprocess.run(['ethtool', '-K', self.peer, 'tx', 'off'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def release(self):
        """The broker on this site stopped: keep the link for the next one."""
        if self.up:
            DpdkSite.free.append(self)

    def config_lines(self, user_lines):
        """tern's dpdk lines: one worker lcore per configured worker (default 1)."""
        workers = 1
        for l in user_lines:
            words = l.split()
            if len(words) == 2 and words[0] == 'workers':
                workers = int(words[1])
        ncpu = os.cpu_count() or 1
        lcores = ','.join(['0@0'] + ['%d@%d' % (i, min(i, ncpu - 1))
                                     for i in range(1, workers + 1)])
        return ['dataplane dpdk',
                'dpdk_eal --lcores=%s --no-huge -m 256 --no-pci --no-shconf --file-prefix=%s '
                '--vdev=net_af_packet0,iface=tern0,qpairs=%d' % (lcores, self.file_prefix,
                                                                 workers),
                'dpdk_port 0',
                'dpdk_address %s/24' % self.v4,
                'dpdk_address %s/64' % self.v6]

    def host(self, host):
        """tern's address for a loopback one the tests name (others unchanged)."""
        return {'127.0.0.1': self.v4, '::1': self.v6, 'localhost': self.v4}.get(host, host)


# port -> DpdkSite of the running dpdk broker listening on it (see dpdk_address()).
DPDK_PORTS = {}


def dpdk_address(address):
    """A connect() address with a loopback host on a dpdk broker's port turned into
    that broker's address on its veth; anything else unchanged."""
    if isinstance(address, tuple) and len(address) >= 2 and address[1] in DPDK_PORTS:
        return (DPDK_PORTS[address[1]].host(address[0]),) + tuple(address[1:])
    return address


if DPDK:
    # The tests name 127.0.0.1 and ::1 everywhere (raw sockets, paho, mqtt5); every
    # one of them connects through socket.socket, so the redirect is made there once
    # rather than in each test.
    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect = lambda self, a: _connect(self, dpdk_address(a))
    socket.socket.connect_ex = lambda self, a: _connect_ex(self, dpdk_address(a))


def broker_kind():
    """'tern' or 'mosquitto'; raises (failing the test run) when neither is configured."""
    if os.environ.get('TERN_TEST_BROKER') == 'mosquitto':
        return 'mosquitto'
    tern = os.environ.get('TERN_BIN')
    if tern:
        if not os.access(tern, os.X_OK):
            raise RuntimeError('TERN_BIN=%r is not an executable file' % tern)
        return 'tern'
    raise RuntimeError('no broker under test: set TERN_BIN=/path/to/tern, '
                       'or TERN_TEST_BROKER=mosquitto to test against ' + MOSQUITTO)


def is_tern():
    return broker_kind() == 'tern'


def not_checked(what):
    """Say loudly that part of a test does not apply to the broker under test."""
    sys.stderr.write('\n  NOT CHECKED on %s: %s\n' % (broker_kind(), what))


def keepalive_limit(keepalive):
    """Seconds within which the broker must close a connection silent for 1.5 x keepalive."""
    if is_tern():
        return 1.5 * keepalive + 1.0
    # mosquitto 2.0.11 scans keepalives every few seconds: measured 5.7-6.0 s for
    # keepalive 1 and 2, 12 s for keepalive 5.
    not_checked('keepalive expiry within 1.5 x keepalive + 1 s (mosquitto gets +7 s)')
    return 1.5 * keepalive + 7.0


def binary_has_asan(path):
    """True when the program at path is built with AddressSanitizer (gcc or clang)."""
    with open(path, 'rb') as f:
        return b'__asan_init' in f.read()


def rss_env():
    """Environment for a broker whose RSS a test bounds: with an ASan build, a 16 MiB
    quarantine (default 256 MiB) so that freed memory ASan holds back to catch
    use-after-free does not count as the broker's. Nothing changes for other builds."""
    if broker_kind() != 'tern' or not binary_has_asan(os.environ['TERN_BIN']):
        return None
    opts = os.environ.get('ASAN_OPTIONS', '')
    return {'ASAN_OPTIONS': (opts + ':' if opts else '') + 'quarantine_size_mb=16'}


def free_port():
    """A TCP port free on both 127.0.0.1 and ::1 (best effort; start() retries on a clash)."""
    for _ in range(50):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.bind(('127.0.0.1', 0))
        port = s4.getsockname()[1]
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s6.bind(('::1', port))
            return port
        except OSError:
            continue
        finally:
            s4.close()
            s6.close()
    raise RuntimeError('no free port')


def dpdk_listener(line, site):
    """A config line with a `listener PORT 127.0.0.1|::1` moved to tern's veth address."""
    words = line.split()
    if len(words) == 3 and words[0] == 'listener':
        return 'listener %s %s' % (words[1], site.host(words[2]))
    return line


class Broker:
    """One broker process with its own config file, port and log.

    Config lines may use {dir} (the broker's temporary folder, where side files
    are written), {port} and {port2} (free ports). A config with its own
    `listener` lines replaces the default pair (127.0.0.1 and ::1 on {port});
    the broker is ready when every listener accepts connections.
    files: {name: text or bytes} written into {dir} before the start (readable
    by mosquitto, which runs as its own user when started as root).
    kind: 'tern' or 'mosquitto' regardless of TERN_TEST_BROKER (interop checks).
    env: variables added to the broker's environment."""

    def __init__(self, config_lines=(), files=None, kind=None, env=None):
        self.kind = kind or broker_kind()
        self.config_lines = list(config_lines)
        self.files = dict(files or {})
        self.env = env
        self.proc = None
        self.port = None
        self.port2 = None
        self.dir = tempfile.TemporaryDirectory(prefix='tern-proto-')
        if self.kind == 'mosquitto':
            # started as root it runs as user mosquitto: let it re-read its config on SIGHUP
            os.chmod(self.dir.name, 0o755)
        self.log_path = os.path.join(self.dir.name, 'broker.log')
        self.conf_path = os.path.join(self.dir.name, 'broker.conf')
        self.exit_status = None
        self.site = DpdkSite.take() if DPDK and self.kind == 'tern' else None

    def host(self, host):
        """The address to reach this broker on, for a loopback one a test names: the
        same one, or with the dpdk dataplane tern's address on its veth."""
        return self.site.host(host) if self.site else host

    def path(self, name):
        """Absolute path of side file name in the broker's folder."""
        return os.path.join(self.dir.name, name)

    def write_file(self, name, data):
        """Write (or replace, atomically) side file name; readable by the broker."""
        tmp = self.path(name + '.tmp')
        with open(tmp, 'wb') as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path(name))

    def expand(self, line):
        return line.format(dir=self.dir.name, port=self.port, port2=self.port2)

    def own_listeners(self):
        return any(l.split()[0] == 'listener' for l in self.config_lines if l.split())

    def endpoints(self):
        """(host, port) of every listener, for the readiness check."""
        if not self.own_listeners():
            return [('127.0.0.1', self.port), ('::1', self.port)]
        out = []
        for line in self.config_lines:
            words = self.expand(line).split()
            if words and words[0] == 'listener':
                out.append((words[2] if len(words) > 2 else '127.0.0.1', int(words[1])))
        return out

    def config_text(self, port):
        lines = [] if self.own_listeners() else \
            ['listener %d 127.0.0.1' % port, 'listener %d ::1' % port]
        user = [self.expand(l) for l in self.config_lines]
        if self.site:
            lines = [] if self.own_listeners() else \
                ['listener %d %s' % (port, self.site.v4), 'listener %d %s' % (port, self.site.v6)]
            user = self.site.config_lines(user) + [dpdk_listener(l, self.site) for l in user]
        if self.kind == 'mosquitto':
            user = [l for l in user if l.split()[0] not in TERN_ONLY_KEYS]
            if not any(l.split()[0] == 'allow_anonymous' for l in user):
                user.append('allow_anonymous true')
            if not any(l.split()[0] == 'log_type' for l in user):
                user += ['log_type error', 'log_type warning', 'log_type notice',
                         'log_type information', 'log_type subscribe']
            user.append('log_dest stderr')
        return '\n'.join(lines + user) + '\n'

    def argv(self):
        if self.kind == 'mosquitto':
            return [MOSQUITTO, '-c', self.conf_path]
        if self.site:  # ip execs tern: the PID stays tern's
            return ['ip', 'netns', 'exec', self.site.ns, os.environ['TERN_BIN'], '-c',
                    self.conf_path]
        return [os.environ['TERN_BIN'], '-c', self.conf_path]

    def start(self):
        last = ''
        for name, data in self.files.items():
            self.write_file(name, data)
        for _ in range(3):  # a port grabbed by someone else between free_port() and bind
            self.port = free_port()
            self.port2 = free_port()
            while self.port2 == self.port or {self.port, self.port2} & DPDK_PORTS.keys():
                self.port, self.port2 = free_port(), free_port()
            with open(self.conf_path, 'w') as f:
                f.write(self.config_text(self.port))
            with open(self.log_path, 'ab') as log:
                env = dict(os.environ, **self.env) if self.env else None
                if self.site:
                    if not self.site.up:
                        self.site.create()
                    DPDK_PORTS[self.port] = DPDK_PORTS[self.port2] = self.site
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT, env=env)
                if self.site:
                    with open(os.environ['TERN_DPDK_PIDFILE'], 'a') as f:
                        f.write('%d\n' % self.proc.pid)
            if self.wait_ready():
                return self
            last = self.log()
            self.stop()
            if 'in use' not in last:
                break
        raise RuntimeError('broker did not start:\n%s\nconfig:\n%s' %
                           (last, self.config_text(self.port)))

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        pending = set(self.endpoints())
        # A SYN tern missed while starting is retried by the kernel only after 1 s.
        probe_timeout = 0.1 if self.site else 0.5
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            for host, port in list(pending):
                try:
                    socket.create_connection((host, port), timeout=probe_timeout).close()
                    pending.discard((host, port))
                except OSError:
                    pass
            if pending:
                time.sleep(0.02)
        return not pending

    def rss_bytes(self):
        """Resident set size of the broker process (VmRSS in /proc/PID/status)."""
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
        raise RuntimeError('no VmRSS for broker PID %d' % self.proc.pid)

    def rewrite_config(self, config_lines):
        """Replace the config file (same listeners) without restarting; see reload()."""
        self.config_lines = list(config_lines)
        with open(self.conf_path, 'w') as f:
            f.write(self.config_text(self.port))

    def reload(self):
        """SIGHUP: the broker re-reads its config file."""
        self.proc.send_signal(signal.SIGHUP)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_status = self.proc.returncode
        self.proc = None
        if self.site:
            DPDK_PORTS.pop(self.port, None)
            DPDK_PORTS.pop(self.port2, None)

    def sanitizer_report(self):
        """The first line of a sanitizer report in the broker's log, or None."""
        try:
            with open(self.log_path, 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
        except OSError:
            return None
        for line in text.splitlines():
            if any(m in line for m in SANITIZER_MARKERS):
                return line
        return None

    def log(self):
        try:
            with open(self.log_path, 'rb') as f:
                data = f.read()
        except OSError:
            return ''
        if len(data) > 20000:
            data = b'...\n' + data[-20000:]
        return data.decode('utf-8', 'replace')

    def close(self):
        self.stop()
        if self.site:
            self.site.release()
            self.site = None
        self.dir.cleanup()


class BrokerTestCase(unittest.TestCase):
    """A fresh broker per test (BROKER_CONFIG lines); tests that need another
    config call start_broker(). After each test the broker must still be alive
    (no input may crash it); on failure its log is printed."""

    BROKER_CONFIG = []
    START_BROKER = True

    def setUp(self):
        self.brokers = []
        if self.START_BROKER:
            self.broker = self.start_broker(self.BROKER_CONFIG)

    def start_broker(self, config_lines=(), files=None, kind=None, env=None):
        b = Broker(config_lines, files, kind, env)
        self.brokers.append(b)
        self.addCleanup(self.stop_broker, b)
        return b.start()

    def stop_broker(self, b):
        crashed = b.proc is not None and not b.alive()
        if crashed:
            b.exit_status = b.proc.returncode
        b.stop()
        if crashed:
            self.fail('broker died during the test (exit status %s)' % b.exit_status)
        # A clean SIGTERM exit is part of every test: an ASan build reports leaks then.
        if b.exit_status != 0:
            self.fail('broker exited with status %s on SIGTERM' % b.exit_status)
        report = b.sanitizer_report()
        if report:
            self.fail('sanitizer report in the broker log: %s' % report)

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for b in getattr(self, 'brokers', []):
                sys.stderr.write('\n----- %s log (%s, port %s, exit %s) -----\n%s'
                                 '----- end of broker log -----\n' %
                                 (b.kind, self.id(), b.port, b.exit_status, b.log()))
        for b in getattr(self, 'brokers', []):
            b.close()
        return out

    # Clients closed automatically at the end of the test.

    def raw(self, broker=None, host='127.0.0.1', connect=None, rcvbuf=None, port=None, **kw):
        """A RawClient on the broker; with connect=CLIENT_ID also CONNECT and expect CONNACK 0.
        rcvbuf: SO_RCVBUF set before connecting. port: another of the broker's ports."""
        broker = broker or self.broker
        c = rawmqtt.RawClient(host, port or broker.port, rcvbuf=rcvbuf)
        self.addCleanup(c.close)
        if connect is not None:
            c.connect_ok(connect, **kw)
        return c

    def try_connect(self, host, client_id):
        """CONNECT on a new connection: the client when CONNACK 0 came, None when the broker
        closed it first (refused)."""
        try:
            c = self.raw(host=host)
        except ConnectionResetError:
            # Refused with a RST on the handshake's last ACK (the dpdk dataplane's TCP) and
            # seen before connect() returned: closed first as well.
            return None
        c.send(rawmqtt.connect(client_id), may_fail=True)
        p = c.recv()
        if p is None:
            c.expect_closed(0)
            return None
        self.assertEqual((p.type, p.connack), (rawmqtt.CONNACK, (False, 0)))
        return c

    def assert_closes(self, *packets, broker=None, host='127.0.0.1', timeout=TIMEOUT):
        """Send packets on a fresh connection; the broker must close it without replying."""
        c = self.raw(broker, host)
        for p in packets:
            c.send(p, may_fail=True)
        c.expect_closed(timeout)

    def assert_refused(self, connect_packet, rc, broker=None, host='127.0.0.1'):
        """Send a CONNECT; the broker must answer CONNACK rc (session present 0), then close."""
        c = self.raw(broker, host)
        c.send(connect_packet)
        sp, got = c.expect(rawmqtt.CONNACK).connack
        self.assertEqual((sp, got), (False, rc))
        c.expect_closed()

    def paho(self, client_id='', broker=None, connect=True, **kw):
        import pahoclient
        broker = broker or self.broker
        c = pahoclient.Client(broker, client_id, **kw)
        self.addCleanup(c.close)
        if connect:
            c.connect()
        return c


def main():
    try:
        broker_kind()  # fail at once, clearly, when no broker is configured
    except RuntimeError as e:
        sys.stderr.write('FAIL: %s\n' % e)
        sys.exit(1)
    unittest.main(verbosity=2)
