# SPDX-License-Identifier: MIT
"""Hand-encoded MQTT 3.1/3.1.1 packets and a raw socket client for exact checks:
every byte on the wire is chosen by the test, every wait is bounded."""

import select
import socket
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = range(1, 8)
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = range(8, 15)
NAMES = {1: 'CONNECT', 2: 'CONNACK', 3: 'PUBLISH', 4: 'PUBACK', 5: 'PUBREC', 6: 'PUBREL',
         7: 'PUBCOMP', 8: 'SUBSCRIBE', 9: 'SUBACK', 10: 'UNSUBSCRIBE', 11: 'UNSUBACK',
         12: 'PINGREQ', 13: 'PINGRESP', 14: 'DISCONNECT'}

TIMEOUT = 5.0


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s):
    """A length-prefixed MQTT string; bytes are sent as given (for invalid UTF-8 tests)."""
    b = s.encode('utf-8') if isinstance(s, str) else bytes(s)
    return struct.pack('!H', len(b)) + b


def packet(ptype, flags, body=b''):
    return bytes([ptype << 4 | flags]) + varint(len(body)) + body


def connect(client_id='', clean=True, keepalive=60, will_topic=None, will_payload=b'',
            will_qos=0, will_retain=False, username=None, password=None,
            proto_name='MQTT', level=4, flags=None):
    """CONNECT; flags overrides the computed connect-flags byte (for invalid combinations)."""
    f = 0x02 if clean else 0
    payload = string(client_id)
    if will_topic is not None:
        f |= 0x04 | will_qos << 3 | (0x20 if will_retain else 0)
        payload += string(will_topic) + string(will_payload)
    if username is not None:
        f |= 0x80
        payload += string(username)
    if password is not None:
        f |= 0x40
        payload += string(password)
    if flags is not None:
        f = flags
    var = string(proto_name) + bytes([level, f]) + struct.pack('!H', keepalive)
    return packet(CONNECT, 0, var + payload)


def connect31(client_id='', **kw):
    """An MQTT 3.1 CONNECT (protocol name MQIsdp, level 3)."""
    return connect(client_id, proto_name='MQIsdp', level=3, **kw)


def subscribe(mid, filters, flags=2):
    """filters: [(topic_filter, qos), ...]."""
    body = struct.pack('!H', mid) + b''.join(string(t) + bytes([q]) for t, q in filters)
    return packet(SUBSCRIBE, flags, body)


def unsubscribe(mid, filters, flags=2):
    return packet(UNSUBSCRIBE, flags, struct.pack('!H', mid) + b''.join(map(string, filters)))


def publish(topic, payload=b'', qos=0, retain=False, dup=False, mid=None):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (0x08 if dup else 0) | qos << 1 | (0x01 if retain else 0)
    var = string(topic)
    if qos:
        var += struct.pack('!H', mid if mid is not None else 1)
    return packet(PUBLISH, flags, var + payload)


def ack(ptype, mid):
    return packet(ptype, 2 if ptype == PUBREL else 0, struct.pack('!H', mid))


def puback(mid):
    return ack(PUBACK, mid)


def pubrec(mid):
    return ack(PUBREC, mid)


def pubrel(mid):
    return ack(PUBREL, mid)


def pubcomp(mid):
    return ack(PUBCOMP, mid)


def pingreq():
    return packet(PINGREQ, 0)


def disconnect():
    return packet(DISCONNECT, 0)


class PublishFlags:
    """QoS, RETAIN and DUP from a packet's fixed header flags (self.flags)."""

    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def retain(self):
        return bool(self.flags & 1)

    @property
    def dup(self):
        return bool(self.flags & 8)


class Packet(PublishFlags):
    """One decoded packet: type, flags, body, with accessors per packet type."""

    def __init__(self, ptype, flags, body):
        self.type, self.flags, self.body = ptype, flags, body

    def __repr__(self):
        return '<%s flags=%#x body=%r>' % (NAMES.get(self.type, self.type), self.flags,
                                           self.body[:64])

    @property
    def mid(self):
        """Packet identifier of an ack/SUBACK/UNSUBACK or of a QoS>0 PUBLISH."""
        if self.type == PUBLISH:
            n = struct.unpack_from('!H', self.body)[0]
            return struct.unpack_from('!H', self.body, 2 + n)[0]
        return struct.unpack_from('!H', self.body)[0]

    @property
    def topic(self):
        n = struct.unpack_from('!H', self.body)[0]
        return self.body[2:2 + n].decode('utf-8')

    @property
    def payload(self):
        n = struct.unpack_from('!H', self.body)[0]
        return self.body[2 + n + (2 if self.qos else 0):]

    @property
    def connack(self):
        """(session_present, return_code)."""
        return bool(self.body[0] & 1), self.body[1]

    @property
    def granted(self):
        """SUBACK return codes."""
        return list(self.body[2:])


class RawClient:
    """A TCP connection speaking hand-encoded MQTT. All reads are bounded."""

    def __init__(self, host, port, timeout=TIMEOUT, rcvbuf=None):
        """rcvbuf: SO_RCVBUF set before connecting (it bounds the TCP window), e.g. to
        make a client that stops reading fill up quickly."""
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        if rcvbuf is None:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        else:
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        assert self.sock.family == family
        self.buf = b''
        self.eof = False
        self.pending = []  # packets read ahead while waiting for an ack

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def abort(self):
        """Drop the connection without DISCONNECT and without lingering (RST)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.close()

    def half_close(self):
        """Send FIN (we have nothing more to say); the broker may already have reset."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def send(self, data, may_fail=False):
        """Send all of data; with may_fail, a broker that already closed is not an error."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            if not may_fail:
                raise

    def _fill(self, deadline):
        """Read more bytes into buf; False on timeout. Sets eof on close/reset."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b''
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _parse(self):
        """One packet from buf, or None if incomplete."""
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7f) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            if i > 4:
                raise AssertionError('broker sent a bad remaining length: %r' % self.buf[:8])
        if len(self.buf) < i + length:
            return None
        p = Packet(self.buf[0] >> 4, self.buf[0] & 0x0f, self.buf[i:i + length])
        self.buf = self.buf[i + length:]
        return p

    def recv(self, timeout=TIMEOUT):
        """The next packet, or None if none arrived in time or the connection closed."""
        if self.pending:
            return self.pending.pop(0)
        return self._recv_wire(timeout)

    def _recv_wire(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            p = self._parse()
            if p is not None:
                return p
            if not self._fill(deadline):
                return None

    def expect(self, ptype, timeout=TIMEOUT, stash=()):
        """The next packet, which must be of type ptype; packets of the types in stash
        that come first are kept for later recv() calls (e.g. PUBLISHes sent while a
        QoS 2 handshake is in progress)."""
        if stash:
            deadline = time.monotonic() + timeout
            while True:
                p = self._recv_wire(max(0.0, deadline - time.monotonic()))
                if p is None or p.type not in stash or p.type == ptype:
                    break
                self.pending.append(p)
        else:
            p = self.recv(timeout)
        if p is None:
            raise AssertionError('expected %s, got %s' % (
                NAMES[ptype], 'connection closed' if self.eof else 'nothing in %.1fs' % timeout))
        if p.type != ptype:
            raise AssertionError('expected %s, got %r' % (NAMES[ptype], p))
        return p

    def expect_closed(self, timeout=TIMEOUT, allow_packets=False):
        """The broker must close the connection within timeout. Returns packets it sent
        first; unless allow_packets, any packet before the close is a failure."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            p = self.pending.pop(0) if self.pending else self._parse()
            if p is not None:
                got.append(p)
                if not allow_packets:
                    raise AssertionError('expected close, got %r' % p)
                continue
            if self.eof:
                return got
            if not self._fill(deadline) and not self.eof:
                raise AssertionError('connection still open after %.1fs (received %r)' %
                                     (timeout, got))

    def expect_silence(self, duration):
        """Nothing may arrive for duration seconds and the connection must stay open."""
        p = self.recv(duration)
        if p is not None:
            raise AssertionError('expected nothing, got %r' % p)
        assert not self.pending
        if self.eof:
            raise AssertionError('connection closed, expected it to stay open')

    def is_open(self):
        """True unless the broker has closed the connection (non-blocking check)."""
        if self.eof:
            return False
        self._fill(time.monotonic() + 0.001)
        return not self.eof

    def connect_ok(self, client_id='', v31=False, **kw):
        """CONNECT and expect CONNACK 0; returns session_present."""
        self.send(connect31(client_id, **kw) if v31 else connect(client_id, **kw))
        sp, rc = self.expect(CONNACK).connack
        if rc != 0:
            raise AssertionError('CONNACK return code %d' % rc)
        return sp

    def subscribe_ok(self, filters, mid=1):
        """SUBSCRIBE and return the granted QoS list from the SUBACK."""
        self.send(subscribe(mid, filters))
        p = self.expect(SUBACK)
        if p.mid != mid:
            raise AssertionError('SUBACK for mid %d, expected %d' % (p.mid, mid))
        return p.granted

    def publish_ok(self, topic, payload, qos=0, retain=False, mid=1):
        """PUBLISH and complete the QoS 1/2 handshake as the sender."""
        self.send(publish(topic, payload, qos, retain, mid=mid))
        keep = (PUBLISH,)  # deliveries to this client's own subscriptions, for later
        if qos == 1:
            assert self.expect(PUBACK, stash=keep).mid == mid
        elif qos == 2:
            assert self.expect(PUBREC, stash=keep).mid == mid
            self.send(pubrel(mid))
            assert self.expect(PUBCOMP, stash=keep).mid == mid

    def receive_publish(self, timeout=TIMEOUT, ack=True):
        """Next PUBLISH; with ack, complete its QoS 1/2 handshake as the receiver."""
        p = self.expect(PUBLISH, timeout)
        if ack:
            self._acknowledge(p)
        return p

    def _acknowledge(self, p):
        if p.qos == 1:
            self.send(puback(p.mid))
        elif p.qos == 2:
            self.send(pubrec(p.mid))
            assert self.expect(PUBREL, stash=(PUBLISH,)).mid == p.mid
            self.send(pubcomp(p.mid))

    def receive_until_quiet(self, quiet=0.5):
        """Every PUBLISH until none arrives for quiet seconds, each acknowledged as
        receive_publish does; any other packet is a test failure."""
        got = []
        while True:
            p = self.recv(quiet)
            if p is None:
                return got
            assert p.type == PUBLISH, 'expected PUBLISH, got %r' % (p,)
            self._acknowledge(p)
            got.append(p)

