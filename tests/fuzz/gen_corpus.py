#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ from
the packets the protocol tests send (tests/proto/rawmqtt.py), the sample config
(deploy/tern.conf) and the configs the tests use. Deterministic; the seeds are
committed, so run this only to change them:
    /usr/bin/python3 tests/fuzz/gen_corpus.py
Seeds are named seed-*. Beside them: inputs merged from fuzzing runs (libFuzzer
-merge=1, named by their SHA-1) and crash reproducers (regress-*), see tests/README.md;
this script leaves those alone."""

import glob
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'proto'))
import rawmqtt as r  # noqa: E402


def write(target, seeds):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, 'seed-*')):
        os.unlink(old)
    for name, data in seeds:
        digest = hashlib.sha1(data).hexdigest()[:10]
        with open(os.path.join(d, 'seed-%s-%s' % (name, digest)), 'wb') as f:
            f.write(data)
    print('%s: %d seeds' % (target, len(seeds)))


# ---- codec: byte 0 level/max_packet selector, byte 1 split seed, then a packet stream

def codec_seeds():
    c311 = r.connect('c1', will_topic='w/t', will_payload=b'bye', will_qos=1, will_retain=True,
                     username='u', password='p', keepalive=30)
    c31 = r.connect31('c31', clean=False)
    streams = {
        'connect': c311,
        'connect-empty': r.connect(''),
        'connect-bad-level': r.connect('x', level=9),
        'connect31': c31,
        'session': c311 + r.subscribe(1, [('a/+', 1), ('#', 2), ('$SYS/#', 0)]) +
        r.publish('a/b', b'hello', qos=1, mid=7) + r.puback(7) + r.pubrec(8) + r.pubrel(8) +
        r.pubcomp(8) + r.unsubscribe(2, ['a/+', '#']) + r.pingreq() + r.disconnect(),
        'publish-qos2-retain': r.publish('t', b'x' * 40, qos=2, retain=True, mid=65535),
        'publish-empty': r.publish('a', b''),
        'server-side': r.packet(r.CONNACK, 0, b'\x01\x00') + r.packet(r.SUBACK, 0, b'\x00\x01\x00\x01\x02\x80') +
        r.packet(r.UNSUBACK, 0, b'\x00\x02') + r.packet(r.PINGRESP, 0),
        'bad-flags': r.packet(r.SUBSCRIBE, 0, b'\x00\x01\x00\x01a\x00'),
        'long-length': b'\x30\xff\xff\xff\x7f',
        'utf8-bad': r.publish(b'\xc3\x28', b'x'),
    }
    seeds = []
    for i, (name, s) in enumerate(sorted(streams.items())):
        sel = [0x02, 0x01, 0x06, 0x0a][i % 4]  # levels 4, 3, 4 and 4 with max_packet 64/1024
        seeds.append((name, bytes([sel, 7 * i + 1]) + s))
    return seeds


# ---- config: whole files

def config_seeds():
    with open(os.path.join(ROOT, 'deploy', 'tern.conf'), 'rb') as f:
        sample = f.read()
    files = {
        'sample': sample,
        'limits': b'max_output_bytes 65536\nsys_interval 1\nmax_inflight_messages 2\n'
                  b'max_queued_messages 3\nmax_queued_bytes 1000\nmessage_size_limit 100\n'
                  b'max_connections 3\nretain_available false\n',
        'listeners': b'listener 1883\nlistener 1884 127.0.0.1\nlistener 1885 ::1\nworkers 2\n',
        'expiry': b'persistent_client_expiration 2\npersistent_client_expiration 1w\n'
                  b'persistent_client_expiration 3m\n',
        'log': b'log_type error\nlog_type warning notice\nlog_type all\n',
        'misc': b'\xef\xbb\xbf# bom\nallow_anonymous false\nmax_keepalive 10\n'
                b'connect_timeout 1\nmax_packet_size 1000\ndataplane sock\n',
        'bad': b'max_connections -1\nunknown_key 1\n',
    }
    return sorted(files.items())


# ---- session: config bits, then ops: slot | kind << 2 (see fuzz_session.c)

RAW, RAW_LONG, CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH, ACKS, ACK, PING, PEER_CLOSE, READ, \
    STALL, TURN, OPEN, REPEAT, SYS = range(16)


def op(slot, kind, *args):
    return bytes([slot | kind << 2]) + bytes(args)


def raw(slot, data):
    out = b''
    for i in range(0, len(data), 200):  # long packets cross several RAW ops: a split point
        chunk = data[i:i + 200]
        out += op(slot, RAW, len(chunk)) + chunk
    return out


def session_seeds():
    # CONNECT arg p: id c(p&3), clean 4, will 8, will qos p>>4&3, will retain 64, keepalive 1 128
    #         arg q: v3.1 1, username 2, password 4, empty id 8, will topic q>>4
    # SUBSCRIBE p: filter p&15, qos p>>4&3; PUBLISH p: topic p&15, qos p>>4&3, retain 64, dup 128
    sub_pub = (op(0, CONNECT, 0x04, 0) + op(0, SUBSCRIBE, 0x13, 1) + op(1, CONNECT, 0x05, 0) +
               op(1, PUBLISH, 0x11, 10, 1) + op(0, TURN) + op(0, ACKS) + op(1, ACKS) +
               op(1, PUBLISH, 0x21, 5, 2) + op(0, TURN) + op(0, ACKS) + op(0, TURN) + op(0, ACKS) +
               op(1, ACKS) + op(0, TURN) + op(0, PING, 0) + op(1, PING, 1) + op(0, TURN))
    retain = (op(0, CONNECT, 0x04, 0) + op(0, PUBLISH, 0x51, 8, 1) + op(0, PUBLISH, 0x42, 0, 0) +
              op(1, CONNECT, 0x05, 0) + op(1, SUBSCRIBE, 0x14, 1) + op(1, SUBSCRIBE, 0x23, 2) +
              op(0, TURN) + op(1, ACKS) + op(0, TURN) + op(1, UNSUBSCRIBE, 0x04, 3) + op(0, TURN))
    will = (op(0, CONNECT, 0x04, 0) + op(0, SUBSCRIBE, 0x13, 1) +
            op(1, CONNECT, 0x05 | 0x08 | 0x10 | 0x40, 0x10) + op(0, TURN) + op(1, PEER_CLOSE) +
            op(0, TURN) + op(0, ACKS) + op(2, CONNECT, 0x06, 0) + op(2, SUBSCRIBE, 0x13, 1) +
            op(0, TURN))
    # persistent session c2 subscribes, goes away, gets queued QoS 1/2, comes back; then a
    # second connection with the same id takes it over
    persistent = (op(0, CONNECT, 0x02, 0) + op(0, SUBSCRIBE, 0x20, 1) + op(0, PEER_CLOSE) +
                  op(1, CONNECT, 0x05, 0) + op(1, PUBLISH, 0x10, 3, 1) + op(1, PUBLISH, 0x20, 3, 2) +
                  op(1, TURN) + op(1, ACKS) + op(0, CONNECT, 0x02, 0) + op(0, TURN) +
                  op(0, ACKS) + op(0, TURN) + op(0, ACKS) + op(2, CONNECT, 0x02, 0) +
                  op(0, TURN) + op(2, ACKS) + op(2, TURN))
    takeover = (op(0, CONNECT, 0x08 | 0x10 | 0x01, 0x20) + op(0, SUBSCRIBE, 0x10, 1) +
                op(1, CONNECT, 0x01, 0) + op(0, TURN) + op(1, SUBSCRIBE, 0x10, 2) +
                op(2, CONNECT, 0x06, 0) + op(2, PUBLISH, 0x10, 4, 3) + op(0, TURN) + op(1, ACKS) +
                op(1, TURN))
    # a reader that stalls under small limits: input pausing and drops (config bit 0)
    stall = (op(0, CONNECT, 0x04, 0) + op(0, SUBSCRIBE, 0x04, 1) + op(0, STALL, 1) +
             op(1, CONNECT, 0x05, 0) + b''.join(op(1, PUBLISH, 0x10, 100, i) for i in range(12)) +
             op(1, TURN) + b''.join(op(0, PING, 0) for _ in range(8)) + op(0, READ, 50) +
             op(0, TURN) + op(0, STALL, 0) + op(0, TURN) + op(0, ACKS) + op(0, TURN))
    raw_mix = (raw(0, r.connect31('raw31', clean=False)) +
               raw(0, r.subscribe(1, [('a/#', 2), ('+', 1)])) +
               raw(1, r.connect('rawpub', will_topic='a/w', will_payload=b'x')) +
               raw(1, r.publish('a/b', b'p' * 300, qos=2, mid=9)) + op(1, TURN) +
               raw(1, r.pubrel(9)) + op(0, TURN) + op(0, ACKS) + op(0, TURN) + op(0, ACKS) +
               raw(1, r.packet(r.PUBLISH, 6, b'')) + op(0, TURN))
    auto_id = (op(0, CONNECT, 0x04, 0x08) + op(0, SUBSCRIBE, 0x07, 1) +
               op(1, CONNECT, 0x00, 0x08) + op(0, PUBLISH, 0x06, 2, 0) + op(0, TURN))
    # a client that floods PINGREQ and QoS 1 PUBLISH without reading: its input is paused,
    # then resumes once it reads; meanwhile $SYS goes to a '$SYS/#' subscriber
    flood = (op(0, CONNECT, 0x04, 0) + op(1, CONNECT, 0x05, 0) + op(1, SUBSCRIBE, 0x07, 1) +
             op(0, STALL, 1) + op(0, REPEAT, 16, 2) + r.pingreq() +
             op(0, REPEAT, 14, 8) + r.publish('a', b'x', qos=1, mid=5) + op(0, TURN) +
             op(0, SYS) + op(0, TURN) + op(0, STALL, 0) + op(0, TURN) + op(0, TURN) +
             op(0, PING, 0) + op(0, TURN) + op(1, ACKS) + op(0, TURN))
    seeds = [('flood', b'\x00' + flood), ('flood-small', b'\x01' + flood),
             ('sub-pub', b'\x00' + sub_pub), ('retain', b'\x00' + retain),
             ('retain-off', b'\x04' + retain), ('will', b'\x00' + will),
             ('persistent', b'\x00' + persistent), ('persistent-small', b'\x01' + persistent),
             ('takeover', b'\x00' + takeover), ('stall-small', b'\x01' + stall),
             ('raw', b'\x00' + raw_mix), ('raw-limits', b'\x02' + raw_mix),
             ('auto-id', b'\x00' + auto_id), ('max-conn', b'\x08' + takeover + will),
             ('no-anon', b'\x10' + sub_pub)]
    return seeds


# ---- password file and ACL: files as written by mosquitto_passwd and by hand

def passwd_seeds():
    # mosquitto_passwd entries (salt 12 bytes, hash 64, base64), a $6$ one, errors
    seven = (b'u:$7$101$6+LZSgxVIRyp5RrPCvUA9A==$'
             b'OvtqY1HsBvDH0Yr5Zs7zxhxrJoiKqC8VxyFPQUdtVI1+3QLCbaN8fYaqNfD1eMXWftQlHtl5e0Hq0V+e9L2d5g==')
    six = (b'v:$6$3Fq0nS3qN0M6qJZf$'
           b'bmQiQfW4A0t2m0TgnVr9mO0j9HjdJZz1y5y8d+0H6QJxk1O0m0D2l3X6kYQ3bZxJp2Yk4oG8bF1C8e4d7f2aQw==')
    files = {
        'seven': seven + b'\n',
        'six-and-comments': b'# users\n\n' + six + b'\n  # indented\n' + seven + b'\n',
        'spaces': b'u : ' + seven[2:] + b' \n',
        'bad-hash': b'u:$7$0$abc$def\n',
        'dup': seven + b'\n' + seven + b'\n',
        'no-colon': b'justaname\n',
    }
    return sorted(files.items())


def acl_seeds():
    files = {
        'mosquitto-example': b'topic read $SYS/#\n\nuser alice\ntopic readwrite alice/#\n'
                             b'topic deny alice/secret\n\nuser bob\ntopic read a/+\n'
                             b'topic write a/b\n\npattern readwrite %c/status\n'
                             b'pattern read %u/#\n',
        'anonymous': b'topic a/#\ntopic deny a/b/#\n',
        'patterns': b'pattern write dev/%c/#\npattern deny dev/%c/secret\nuser a+b\ntopic #\n',
        'bad': b'topic sometimes a/b\nuser\nbogus line\n',
    }
    return sorted(files.items())


# ---- net: byte 0 configuration bits, then operations (fuzz_net.c's comment and enum kind)

N_TCP, N_ADVANCE, N_RAW, N_IP, N_ARP, N_ND, N_PING, N_ANSWER, N_APP = range(9)
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
O_MSS, O_WS, O_SACK, O_TS, O_BLOCKS = 1, 2, 4, 8, 0x80


def tcp(slot, flags, seq_delta=0, ack_delta=0, ln=0, opts=O_TS, isn=False, wnd=0xff, dup=False,
        mss=0, blocks=()):
    """A segment from slot: seq relative to what the stack acknowledged (or the slot's ISN),
    ack relative to what the stack sent (dup: to the slot's own last ACK); deltas are one
    signed byte. blocks: SACK blocks as fuzz_net.c's (mode, delta, length) bytes."""
    out = bytes([N_TCP, slot, flags, 4 if isn else 0, seq_delta & 0xff, 4 if dup else 0,
                 ack_delta & 0xff,
                 wnd, opts, ln])
    if opts & O_MSS:
        out += bytes([mss])
    if opts & O_WS:
        out += bytes([7])
    if blocks:
        out += bytes([(len(blocks) - 1) & 3])
        for mode, delta, length in blocks:
            out += bytes([mode, delta & 0xff, length])
    return out


def advance(b):
    return bytes([N_ADVANCE, b])


def app(action, arg=0, idx=0):
    return bytes([N_APP, idx, action, arg])


def session_ops(slot):
    syn = tcp(slot, SYN, isn=True, opts=O_MSS | O_WS | O_SACK | O_TS)
    return (syn + tcp(slot, ACK) + tcp(slot, ACK | PSH, ln=100) + advance(0x5a) +
            tcp(slot, ACK, seq_delta=100, ln=50) + tcp(slot, ACK, ln=120) +
            app(0, 40) + tcp(slot, ACK) + app(0, 200) + advance(0x8f) + tcp(slot, ACK) +
            tcp(slot, FIN | ACK) + advance(0x5a) + tcp(slot, ACK) + advance(0xf9))


def net_seeds():
    return [
        ('handshake-v4', bytes([0]) + session_ops(0)),
        ('handshake-v6', bytes([0]) + session_ops(1)),
        ('plain-v4', bytes([0]) + tcp(2, SYN, isn=True, opts=0) + bytes([N_ANSWER]) +
         tcp(2, ACK, opts=0) +
         tcp(2, ACK, ln=200, opts=0) + tcp(2, ACK, seq_delta=-50, ln=100, opts=0) +
         app(1) + tcp(2, ACK, opts=0) + tcp(2, FIN | ACK, opts=0) + advance(0xf9)),
        ('cookies', bytes([1]) + tcp(0, SYN, isn=True) + tcp(8, SYN, isn=True) +
         tcp(1, SYN, isn=True) + tcp(8, ACK) + tcp(0, ACK) + tcp(8, ACK | PSH, ln=10) +
         tcp(8, RST)),
        ('rst-in-window', bytes([0]) + tcp(0, SYN, isn=True) + tcp(0, ACK) +
         tcp(0, RST, seq_delta=5) + tcp(0, RST)),
        ('ping', bytes([0]) + bytes([N_PING, 0, 32, 0, N_PING, 1, 32, 0, N_PING, 3, 8, 0])),
        ('arp-nd', bytes([0x40]) + bytes([N_ARP, 0, 1, 0, N_ARP, 1, 0, 2, N_ND, 0, 0, 1,
                                          N_ND, 1, 2, 3]) +
         tcp(0, SYN, isn=True) + tcp(1, SYN, isn=True) + bytes([N_ANSWER]) + advance(0x8f)),
        ('fast-retransmit', bytes([0]) + tcp(0, SYN, isn=True, opts=O_MSS | O_SACK | O_TS) +
         tcp(0, ACK) + app(0, 200) + tcp(0, ACK, dup=True) + tcp(0, ACK, dup=True) +
         tcp(0, ACK, dup=True) + tcp(0, ACK, dup=True) + tcp(0, ACK) + advance(0x9f)),
        # 536-byte MSS, 10 segments out; blocks (from the highest byte sent, 64-byte units)
        # SACK the upper half piece by piece: SACK recovery resends the holes below.
        ('sack-recovery', bytes([0]) +
         tcp(0, SYN, isn=True, opts=O_MSS | O_SACK | O_TS, mss=1) + tcp(0, ACK) + app(0, 255) +
         tcp(0, ACK, dup=True, opts=O_TS | O_BLOCKS, blocks=[(0x0b, -40, 9)]) +
         tcp(0, ACK, dup=True, opts=O_TS | O_BLOCKS, blocks=[(0x0b, -24, 8), (0x0b, -40, 9)]) +
         tcp(0, ACK, dup=True, opts=O_TS | O_BLOCKS, blocks=[(0x0b, -8, 8), (0x0b, -24, 8),
                                                             (0x0b, -40, 9)]) +
         tcp(0, ACK, dup=True, opts=O_TS | O_BLOCKS, blocks=[(0x0b, -80, 60)]) +
         tcp(0, ACK) + advance(0x9f)),
        ('far-peer', bytes([0]) + tcp(4, SYN, isn=True) + tcp(5, SYN, isn=True) +
         tcp(4, ACK) + tcp(5, ACK) + app(0, 255) + advance(0x9f)),
    ]


def main():
    write('codec', codec_seeds())
    write('config', config_seeds())
    write('session', session_seeds())
    write('net', net_seeds())
    write('passwd', passwd_seeds())
    write('acl', acl_seeds())


if __name__ == '__main__':
    main()
