# SPDX-License-Identifier: MIT
"""Input back-pressure on the dpdk dataplane (run by tests/proto/dpdk.sh): a client
floods QoS 1 publishes while reading its PUBACKs slowly, so the engine pauses its input
again and again (its output is over max_output_bytes). The TCP glue reports the input
it holds meanwhile to TCP (dp_tcp_recv_held): tern's advertised window (the client
socket's tcpi_snd_wnd) closes while the connection is paused, instead of staying open
while held input fills the broker's pool, and opens again when the engine resumes.
Every publish is acknowledged, in order. Plain over IPv4 and IPv6, and TLS (held bytes
are ciphertext there).

The client keeps reading all along: a client whose own window stays shut meets a known
limit of tern's TCP (README, "DPDK dataplane") that is not what this test is about."""

import importlib
import os
import select
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'proto'))

import brokerfix  # noqa: E402
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402

# tern's receive buffer (dp_tcp_config_defaults) and MSS.
RCV_BUF = 256 * 1024
MSS = 1460
# struct tcp_info: tcpi_snd_wnd (Linux 6.2+), the window the peer last advertised.
TCPI_SND_WND = 228
BATCH = 256           # publishes per send()
READ_BYTES = 2048     # the slow reader: at most this much ...
READ_EVERY = 0.01     # ... this often
TIMEOUT = 60.0
SNDBUF = 65536        # the client's: autotuned, its queue would take megabytes
CYCLES = 1            # times the window must be seen shut and open again


def snd_wnd(sock):
    """The window tern last advertised on sock's connection."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    if len(raw) < TCPI_SND_WND + 4:
        raise RuntimeError('this kernel has no tcpi_snd_wnd (Linux 6.2 or later needed)')
    return struct.unpack_from('I', raw, TCPI_SND_WND)[0]


class Acks:
    """PUBACKs parsed off the stream, checked to come in order."""

    def __init__(self, test):
        self.test, self.buf, self.n = test, b'', 0

    def add(self, data):
        if data == b'':
            self.test.fail('the broker closed the connection after %d PUBACKs' % self.n)
        self.buf += data
        while len(self.buf) >= 4:
            self.test.assertEqual(self.buf[:2], b'\x40\x02', 'not a PUBACK: %r' % self.buf[:8])
            self.test.assertEqual(int.from_bytes(self.buf[2:4], 'big'), self.n % 65535 + 1)
            self.n += 1
            self.buf = self.buf[4:]


class Backpressure(BrokerTestCase):
    START_BROKER = False

    def check(self, sock, tcp):
        """Flood sock (tcp: its TCP socket, for the window) until tern's window was seen
        shut and open again, then read every PUBACK."""
        sock.setblocking(False)
        acks = Acks(self)
        sent, pending, last_read = 0, b'', 0.0
        closed = reopened = 0
        min_wnd = None
        deadline = time.monotonic() + TIMEOUT
        while reopened < CYCLES and time.monotonic() < deadline:
            if not pending:
                pending = b''.join(r.publish('f', b'', qos=1, mid=(sent + i) % 65535 + 1)
                                   for i in range(BATCH))
            try:
                k = sock.send(pending)
                pending = pending[k:]
                if not pending:
                    sent += BATCH
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                select.select([], [sock], [], READ_EVERY / 4)
            now = time.monotonic()
            if now - last_read >= READ_EVERY:
                last_read = now
                try:
                    acks.add(sock.recv(READ_BYTES))
                except (BlockingIOError, ssl.SSLWantReadError):
                    pass
                wnd = snd_wnd(tcp)
                min_wnd = wnd if min_wnd is None else min(min_wnd, wnd)
                if wnd < 2 * MSS and closed == reopened:
                    closed += 1
                elif wnd >= RCV_BUF // 4 and closed > reopened:
                    reopened += 1
        sys.stderr.write('flood: %d publishes in %.1f s, window shut %d times and open again '
                         '%d times (smallest %s)\n' % (sent, time.monotonic() + TIMEOUT - deadline,
                                                       closed, reopened, min_wnd))
        self.assertGreater(closed, 0, 'tern never shut its window (smallest %s)' % min_wnd)
        self.assertEqual(reopened, CYCLES, 'tern shut its window and left it shut')
        # The rest, as fast as they come: every publish acknowledged, in order.
        t0 = time.monotonic()
        while (acks.n < sent or pending) and time.monotonic() < deadline + TIMEOUT:
            select.select([sock], [sock] if pending else [], [], 0.1)
            if pending:
                try:
                    pending = pending[sock.send(pending):]
                    if not pending:
                        sent += BATCH
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    pass
            try:
                acks.add(sock.recv(65536))
            except (BlockingIOError, ssl.SSLWantReadError):
                pass
        self.assertEqual(acks.n, sent)
        sys.stderr.write('the rest acknowledged in %.1f s\n' % (time.monotonic() - t0))

    def client(self, host, port, wrap=None):
        """A connected client (wrapped by wrap, e.g. in TLS); returns (socket, socket)."""
        tcp = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        self.addCleanup(tcp.close)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
        tcp.settimeout(10)
        tcp.connect((host, port))
        s = wrap(tcp) if wrap else tcp
        self.addCleanup(s.close)
        tcp = s  # an SSLSocket took over the descriptor
        s.sendall(r.connect('flood-' + host))
        self.assertEqual(s.recv(4), b'\x20\x02\x00\x00')
        return s, tcp

    def test_window_closes_and_reopens(self):
        brokerfix.require_dpdk(__file__)
        # A tiny output bound: the flood's PUBACKs pause its input soon.
        self.broker = self.start_broker(['max_output_bytes 1024'])
        for host in ('127.0.0.1', '::1'):
            self.check(*self.client(host, self.broker.port))
            # The broker is still fine: a new client gets through.
            self.raw(host=host, connect='after-' + host)

    def test_window_closes_and_reopens_tls(self):
        brokerfix.require_dpdk(__file__)
        tls15 = importlib.import_module('15-tls')
        tls15.setUpModule()
        self.addCleanup(tls15.tearDownModule)
        b = tls15.TlsBroker(tls15.server_keys(), ['max_output_bytes 1024'])
        self.brokers.append(b)
        self.addCleanup(self.stop_broker, b)
        self.broker = b.start()
        ctx = tls15.client_context()
        self.check(*self.client('127.0.0.1', b.tls_port,
                                lambda s: ctx.wrap_socket(s, server_hostname='localhost')))


if __name__ == '__main__':
    main()
