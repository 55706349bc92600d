#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Mutated input, seeded: thousands of short connections send valid packets with random
byte flips, insertions, deletions and tails (wills, retained messages and persistent
sessions included). The broker must survive, and a healthy QoS 1 pair connected the whole
time must lose nothing. 08-malformed.py checks each defined case; this explores the rest."""

import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402

SEED = 7
DURATION = 12.0  # seconds of mutated connections
HEALTHY_EVERY = 200  # connections between two healthy messages

SEEDS = [
    r.subscribe(1, [('m/#', 1), ('+/b', 2)]),
    r.publish('m/b', b'hello', qos=1, mid=5),
    r.publish('m/c', b'x' * 300, qos=2, mid=6, retain=True),
    r.unsubscribe(2, ['m/#']),
    r.pingreq(),
    r.disconnect(),
]


def mutate(rnd, data):
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.random()
        if op < 0.5 and b:
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif op < 0.7:
            b.insert(rnd.randrange(len(b) + 1), rnd.randrange(256))
        elif op < 0.85 and b:
            del b[rnd.randrange(len(b))]
        else:
            b += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
    return bytes(b)


class Mutations(BrokerTestCase):
    def one_connection(self, rnd, i):
        connect = r.connect('mut-%d' % (i % 50), clean=rnd.random() < 0.5,
                            will_topic='m/will', will_payload=b'gone')
        data = connect if rnd.random() < 0.7 else mutate(rnd, connect)
        for _ in range(rnd.randint(1, 6)):
            seed = rnd.choice(SEEDS)
            data += mutate(rnd, seed) if rnd.random() < 0.6 else seed
        read_reply = rnd.random() < 0.5
        try:
            with socket.create_connection(('127.0.0.1', self.broker.port), timeout=1) as s:
                s.sendall(data)
                if read_reply:
                    s.recv(4096)
        except OSError:
            pass  # the broker may close first: that is the point

    def test_mutated_packets(self):
        rnd = random.Random(SEED)
        sub = self.paho('healthy-sub')
        sub.subscribe('healthy/t', 1)
        pub = self.paho('healthy-pub', host='::1')
        deadline = time.monotonic() + DURATION
        sent = 0
        i = 0
        while time.monotonic() < deadline:
            self.one_connection(rnd, i)
            i += 1
            if i % HEALTHY_EVERY == 0:
                pub.publish('healthy/t', 'msg %d' % sent, qos=1)
                sent += 1
            self.assertTrue(self.broker.alive(), 'broker died after %d connections' % i)
        for k in range(sent):
            sub.expect('healthy/t', 'msg %d' % k, timeout=5)
        print('%d mutated connections, %d healthy messages all delivered' % (i, sent))
        self.assertGreater(i, 1000)


if __name__ == '__main__':
    main()
