# SPDX-License-Identifier: MIT
"""Hand-encoded MQTT 5.0 packets with properties, and a raw client that reads
them back: the 5.0 counterpart of rawmqtt.py (same socket handling, same
bounded waits). Properties are lists of (id, value) pairs so that order and
repeats (user properties, subscription identifiers) are exact."""

import struct

import rawmqtt
from rawmqtt import (CONNACK, CONNECT, DISCONNECT, PUBACK, PUBCOMP, PUBLISH,  # noqa: F401
                     PUBREC, PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE, packet,
                     string, varint)

AUTH = 15

# Property identifiers (MQTT 5.0 section 2.2.2.2) and their data types.
PAYLOAD_FORMAT = 0x01
MESSAGE_EXPIRY = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_ID = 0x0B
SESSION_EXPIRY = 0x11
ASSIGNED_CLIENT_ID = 0x12
SERVER_KEEPALIVE = 0x13
AUTH_METHOD = 0x15
AUTH_DATA = 0x16
REQUEST_PROBLEM_INFO = 0x17
WILL_DELAY = 0x18
REQUEST_RESPONSE_INFO = 0x19
RESPONSE_INFO = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUB_AVAILABLE = 0x28
SUB_ID_AVAILABLE = 0x29
SHARED_SUB_AVAILABLE = 0x2A

BYTE, U16, U32, VARINT, UTF8, BINARY, PAIR = range(7)
TYPES = {
    PAYLOAD_FORMAT: BYTE, MESSAGE_EXPIRY: U32, CONTENT_TYPE: UTF8, RESPONSE_TOPIC: UTF8,
    CORRELATION_DATA: BINARY, SUBSCRIPTION_ID: VARINT, SESSION_EXPIRY: U32,
    ASSIGNED_CLIENT_ID: UTF8, SERVER_KEEPALIVE: U16, AUTH_METHOD: UTF8, AUTH_DATA: BINARY,
    REQUEST_PROBLEM_INFO: BYTE, WILL_DELAY: U32, REQUEST_RESPONSE_INFO: BYTE,
    RESPONSE_INFO: UTF8, SERVER_REFERENCE: UTF8, REASON_STRING: UTF8, RECEIVE_MAXIMUM: U16,
    TOPIC_ALIAS_MAXIMUM: U16, TOPIC_ALIAS: U16, MAXIMUM_QOS: BYTE, RETAIN_AVAILABLE: BYTE,
    USER_PROPERTY: PAIR, MAXIMUM_PACKET_SIZE: U32, WILDCARD_SUB_AVAILABLE: BYTE,
    SUB_ID_AVAILABLE: BYTE, SHARED_SUB_AVAILABLE: BYTE,
}

# Reason codes used by the tests.
SUCCESS = 0x00
NO_MATCHING_SUBSCRIBERS = 0x10
NO_SUBSCRIPTION_EXISTED = 0x11
DISCONNECT_WITH_WILL = 0x04
MALFORMED = 0x81
PROTOCOL_ERROR = 0x82
BAD_AUTH_METHOD = 0x8C
KEEPALIVE_TIMEOUT = 0x8D
SESSION_TAKEN_OVER = 0x8E
RECEIVE_MAXIMUM_EXCEEDED = 0x93
TOPIC_ALIAS_INVALID = 0x94
PACKET_TOO_LARGE = 0x95


def _value(pid, v):
    t = TYPES[pid]
    if t == BYTE:
        return bytes([v])
    if t == U16:
        return struct.pack('!H', v)
    if t == U32:
        return struct.pack('!I', v)
    if t == VARINT:
        return varint(v)
    if t in (UTF8, BINARY):
        return string(v)
    return string(v[0]) + string(v[1])


def props(pairs=()):
    """A property block (length included) from (id, value) pairs, in order."""
    body = b''.join(varint(pid) + _value(pid, v) for pid, v in pairs)
    return varint(len(body)) + body


def connect(client_id='', clean=True, keepalive=60, properties=(), will_topic=None,
            will_payload=b'', will_qos=0, will_retain=False, will_properties=(),
            username=None, password=None):
    f = 0x02 if clean else 0
    payload = string(client_id)
    if will_topic is not None:
        f |= 0x04 | will_qos << 3 | (0x20 if will_retain else 0)
        payload += props(will_properties) + string(will_topic) + string(will_payload)
    if username is not None:
        f |= 0x80
        payload += string(username)
    if password is not None:
        f |= 0x40
        payload += string(password)
    var = string('MQTT') + bytes([5, f]) + struct.pack('!H', keepalive) + props(properties)
    return packet(CONNECT, 0, var + payload)


def publish(topic, payload=b'', qos=0, retain=False, dup=False, mid=None, properties=()):
    flags = qos << 1 | (1 if retain else 0) | (8 if dup else 0)
    body = string(topic)
    if qos:
        body += struct.pack('!H', mid if mid is not None else 1)
    body += props(properties)
    return packet(PUBLISH, flags, body + (payload.encode() if isinstance(payload, str)
                                          else payload))


def subscribe(mid, filters, properties=()):
    """filters: (filter, options byte) pairs."""
    body = struct.pack('!H', mid) + props(properties)
    body += b''.join(string(f) + bytes([o]) for f, o in filters)
    return packet(SUBSCRIBE, 2, body)


def unsubscribe(mid, filters, properties=()):
    body = struct.pack('!H', mid) + props(properties)
    return packet(UNSUBSCRIBE, 2, body + b''.join(string(f) for f in filters))


def ack(ptype, mid, reason=None, properties=None):
    body = struct.pack('!H', mid)
    if reason is not None:
        body += bytes([reason])
        if properties is not None:
            body += props(properties)
    return packet(ptype, 2 if ptype == PUBREL else 0, body)


def disconnect(reason=None, properties=None):
    body = b''
    if reason is not None:
        body = bytes([reason])
        if properties is not None:
            body += props(properties)
    return packet(DISCONNECT, 0, body)


def options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    return qos | (4 if no_local else 0) | (8 if retain_as_published else 0) | \
        retain_handling << 4


def parse_props(buf, off):
    """(list of (id, value) pairs, offset after the block)."""
    n, used = _get_varint(buf, off)
    off += used
    end = off + n
    out = []
    while off < end:
        pid, used = _get_varint(buf, off)
        off += used
        t = TYPES[pid]
        if t == BYTE:
            v, off = buf[off], off + 1
        elif t == U16:
            v, off = struct.unpack_from('!H', buf, off)[0], off + 2
        elif t == U32:
            v, off = struct.unpack_from('!I', buf, off)[0], off + 4
        elif t == VARINT:
            v, used = _get_varint(buf, off)
            off += used
        elif t in (UTF8, BINARY):
            v, off = _get_bytes(buf, off)
            if t == UTF8:
                v = v.decode('utf-8')
        else:
            k, off = _get_bytes(buf, off)
            val, off = _get_bytes(buf, off)
            v = (k.decode('utf-8'), val.decode('utf-8'))
        out.append((pid, v))
    if off != end:
        raise AssertionError('property block overran its length')
    return out, end


def _get_varint(buf, off):
    value, shift, i = 0, 0, 0
    while True:
        b = buf[off + i]
        value |= (b & 0x7F) << shift
        shift += 7
        i += 1
        if not b & 0x80:
            return value, i


def _get_bytes(buf, off):
    n = struct.unpack_from('!H', buf, off)[0]
    return bytes(buf[off + 2:off + 2 + n]), off + 2 + n


class Packet5(rawmqtt.PublishFlags):
    """A decoded 5.0 packet: type, flags, reason, properties (list of pairs) and the
    type's own fields (mid, topic, payload, codes, session_present)."""

    def __init__(self, raw):
        self.type, self.flags, body = raw.type, raw.flags, raw.body
        self.raw = raw
        self.reason = 0
        self.properties = []
        self.mid = None
        t = self.type
        if t == CONNACK:
            self.session_present = bool(body[0] & 1)
            self.reason = body[1]
            self.properties, _ = parse_props(body, 2)
        elif t == PUBLISH:
            n = struct.unpack_from('!H', body)[0]
            self.topic = body[2:2 + n].decode('utf-8')
            off = 2 + n
            if self.qos:
                self.mid = struct.unpack_from('!H', body, off)[0]
                off += 2
            self.properties, off = parse_props(body, off)
            self.payload = bytes(body[off:])
        elif t in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            self.mid = struct.unpack_from('!H', body)[0]
            if len(body) > 2:
                self.reason = body[2]
            if len(body) > 3:
                self.properties, _ = parse_props(body, 3)
        elif t in (SUBACK, UNSUBACK):
            self.mid = struct.unpack_from('!H', body)[0]
            self.properties, off = parse_props(body, 2)
            self.codes = list(body[off:])
        elif t in (DISCONNECT, AUTH):
            if body:
                self.reason = body[0]
            if len(body) > 1:
                self.properties, _ = parse_props(body, 1)

    def prop(self, pid, default=None):
        """The first value of property pid."""
        for k, v in self.properties:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self.properties if k == pid]

    def __repr__(self):
        return '<%s reason=%#x props=%r %r>' % (rawmqtt.NAMES.get(self.type, self.type),
                                                 self.reason, self.properties, self.raw)


class Client5(rawmqtt.RawClient):
    """A raw client speaking 5.0: recv5/expect5 return Packet5."""

    def recv5(self, timeout=rawmqtt.TIMEOUT):
        p = self.recv(timeout)
        return Packet5(p) if p is not None else None

    def expect5(self, ptype, timeout=rawmqtt.TIMEOUT):
        return Packet5(self.expect(ptype, timeout))

    def connect5(self, client_id='', **kw):
        """CONNECT and return the CONNACK (any reason)."""
        self.send(connect(client_id, **kw))
        return self.expect5(CONNACK)

    def connect5_ok(self, client_id='', **kw):
        ca = self.connect5(client_id, **kw)
        if ca.reason != SUCCESS:
            raise AssertionError('CONNACK reason %#x' % ca.reason)
        return ca

    def subscribe5_ok(self, filters, mid=1, properties=()):
        self.send(subscribe(mid, filters, properties))
        p = self.expect5(SUBACK)
        assert p.mid == mid, p
        return p.codes

    def expect_disconnect(self, reason, timeout=rawmqtt.TIMEOUT):
        """The broker must send DISCONNECT with reason, then close."""
        p = self.recv5(timeout)
        if p is None or p.type != DISCONNECT:
            raise AssertionError('expected DISCONNECT %#x, got %r' % (
                reason, p if p is not None else 'close' if self.eof else 'nothing'))
        if p.reason != reason:
            raise AssertionError('DISCONNECT reason %#x, expected %#x (%r)' %
                                 (p.reason, reason, p))
        self.expect_closed(timeout)
        return p

    def receive5(self, timeout=rawmqtt.TIMEOUT, ack=True):
        """Next PUBLISH as Packet5; QoS 1 acknowledged with PUBACK when ack."""
        p = self.expect5(PUBLISH, timeout)
        if ack and p.qos == 1:
            self.send(ack_packet(PUBACK, p.mid))
        elif ack and p.qos == 2:
            self.send(ack_packet(PUBREC, p.mid))
            assert self.expect5(PUBREL).mid == p.mid
            self.send(ack_packet(PUBCOMP, p.mid))
        return p


ack_packet = ack
