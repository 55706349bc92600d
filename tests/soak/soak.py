#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bounded soak test: hundreds of clients connect, subscribe, publish and drop at random
(graceful DISCONNECT, abrupt close, garbage, reused client ids that take each other over)
while QoS 1 canary pairs run through it. Each canary publisher sends numbered QoS 1
messages on its own topic with a persistent session and reconnects now and then,
resending what was not acknowledged; its subscriber is a clean session that never leaves,
or a persistent session that drops and comes back. At the end every message a publisher
got a PUBACK for must have reached its subscriber, and a message may arrive twice only
where QoS 1 allows it (a copy with DUP set, or one the publisher itself resent). The
broker must stay up, exit 0 on SIGTERM and write no sanitizer report.

    TERN_BIN=build/broker/tern /usr/bin/python3 tests/soak/soak.py [--seconds N] [--clients N]

--seconds (env TERN_SOAK_SECONDS, default 120) is the chaos phase; hours are fine.
"""

import argparse
import asyncio
import collections
import os
import random
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'proto'))
import rawmqtt as r  # noqa: E402
from brokerfix import Broker, broker_kind  # noqa: E402

CANARY_PAIRS = 6  # even: half the subscribers persistent, half clean and always connected
CANARY_RATE = 25.0  # messages a second per canary publisher
CANARY_WINDOW = 10  # unacknowledged messages a canary publisher allows itself
CHAOS_IDS = 300  # client id pool of the chaos clients: fewer than clients, so ids collide
IO_TIMEOUT = 10.0
DRAIN_TIMEOUT = 60.0


class Stats:
    def __init__(self):
        self.c = collections.Counter()

    def add(self, key, n=1):
        self.c[key] += n


class Session:
    """One MQTT connection over asyncio streams; a reader task answers the broker's
    PUBLISH/PUBREC/PUBREL as a correct client and hands packets to on_packet."""

    def __init__(self, stats, on_packet=None):
        self.stats = stats
        self.on_packet = on_packet
        self.reader = self.writer = None
        self.task = None
        self.waiters = {}  # (type, packet id) -> future
        self.connack = None
        self.closed = asyncio.Event()

    async def open(self, port, connect_packet):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection('127.0.0.1', port), IO_TIMEOUT)
        self.stats.add('connections')
        self.connack = asyncio.get_running_loop().create_future()
        self.send(connect_packet)
        self.task = asyncio.create_task(self.read_loop())
        sp, rc = await asyncio.wait_for(self.connack, IO_TIMEOUT)
        if rc != 0:
            raise ConnectionError('CONNACK %d' % rc)
        return sp

    def send(self, data):
        if self.writer is None or self.writer.is_closing():
            raise ConnectionError('closed')
        self.writer.write(data)

    async def read_packet(self):
        h = await self.reader.readexactly(1)
        n = mult = 0
        for _ in range(4):
            b = (await self.reader.readexactly(1))[0]
            n += (b & 0x7F) << mult
            mult += 7
            if not b & 0x80:
                break
        body = await self.reader.readexactly(n) if n else b''
        return r.Packet(h[0] >> 4, h[0] & 0x0F, body)

    async def read_loop(self):
        try:
            while True:
                p = await self.read_packet()
                self.stats.add('packets_in')
                if p.type == r.CONNACK:
                    if not self.connack.done():
                        self.connack.set_result(p.connack)
                    continue
                if p.type == r.PUBLISH:
                    self.stats.add('publish_in')
                    deliver = True
                    if self.on_packet:
                        deliver = self.on_packet(self, p)
                    if deliver is False:
                        continue  # the callback dropped the connection instead of acking
                    if p.qos == 1:
                        self.send(r.puback(p.mid))
                    elif p.qos == 2:
                        self.send(r.pubrec(p.mid))
                elif p.type == r.PUBREL:
                    self.send(r.pubcomp(p.mid))
                elif p.type == r.PUBREC:
                    self.send(r.pubrel(p.mid))
                    self.resolve((r.PUBREC, p.mid))
                elif p.type in (r.PUBACK, r.PUBCOMP, r.SUBACK, r.UNSUBACK, r.PINGRESP):
                    mid = p.mid if p.type != r.PINGRESP else 0
                    self.resolve((p.type, mid))
                    if self.on_packet:
                        self.on_packet(self, p)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            for f in self.waiters.values():
                if not f.done():
                    f.set_exception(ConnectionError('closed'))
                    f.exception()  # retrieved: nobody may be waiting for it any more
            if self.connack and not self.connack.done():
                self.connack.set_exception(ConnectionError('closed before CONNACK'))
                self.connack.exception()

    def resolve(self, key):
        f = self.waiters.pop(key, None)
        if f and not f.done():
            f.set_result(True)

    def expect(self, key):
        """A future for the reply identified by key; register it before sending."""
        f = asyncio.get_running_loop().create_future()
        if self.closed.is_set():
            f.set_exception(ConnectionError('closed'))
            f.exception()  # may never be awaited; awaiting it still raises
        self.waiters[key] = f
        return f

    async def request(self, data, key):
        f = self.expect(key)
        self.send(data)
        await asyncio.wait_for(f, IO_TIMEOUT)

    def keep_alive(self, interval):
        """PINGREQ every interval seconds until the connection closes."""
        async def ping():
            try:
                while not self.closed.is_set():
                    await asyncio.sleep(interval)
                    self.send(r.pingreq())
            except (ConnectionError, OSError):
                pass
        self.pinger = asyncio.create_task(ping())

    def abort(self):
        if self.writer:
            self.writer.transport.abort()

    async def disconnect(self):
        try:
            self.send(r.disconnect())
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        self.writer.close()

    async def wait_closed(self):
        if self.task:
            await self.closed.wait()


class Canary:
    """A QoS 1 publisher and its subscriber on topic soak/canary/<i>."""

    def __init__(self, i, port, stats):
        self.i, self.port, self.stats = i, port, stats
        self.topic = 'soak/canary/%d' % i
        self.persistent_sub = i % 2 == 1
        self.acked = set()  # sequence numbers the publisher got a PUBACK for
        self.resent = set()  # sequence numbers the publisher sent more than once
        self.sent = 0
        self.received = collections.Counter()
        self.problems = []
        self.sub_ready = asyncio.Event()

    # subscriber

    def on_sub_packet(self, sess, p):
        if p.type != r.PUBLISH:
            return True
        if p.topic != self.topic or p.qos != 1:
            self.problems.append('unexpected %s qos %d on %s' % (p.topic, p.qos, self.topic))
            return True
        seq = struct.unpack('!I', p.payload[:4])[0]
        if self.received[seq] and not p.dup and seq not in self.resent:
            self.problems.append('seq %d again without DUP and never resent' % seq)
        # A persistent subscriber sometimes drops the connection instead of acknowledging:
        # the broker must deliver the message again after the reconnect.
        if self.persistent_sub and random.random() < 0.01:
            sess.abort()
            self.stats.add('canary_unacked_drops')
            self.received[seq] += 1
            return False
        self.received[seq] += 1
        return True

    async def subscriber(self, stop):
        cid = 'canary-sub-%d' % self.i
        first = True
        while True:
            sess = Session(self.stats, self.on_sub_packet)
            try:
                clean = not self.persistent_sub
                sp = await sess.open(self.port, r.connect(cid, clean=clean, keepalive=30))
                sess.keep_alive(10.0)
                if first or clean:
                    await sess.request(r.subscribe(1, [(self.topic, 1)]), (r.SUBACK, 1))
                elif not sp:
                    self.problems.append('%s: persistent session lost (session present 0)' % cid)
                first = False
                self.sub_ready.set()
                if not self.persistent_sub:
                    if await wait_or(stop, None, sess.closed) and stop.is_set():
                        return sess
                    # messages published until it is back are lost to a clean session
                    self.problems.append('%s: the broker closed a clean subscriber' % cid)
                    continue
                # stay a while, then leave abruptly or politely, and come back later
                await wait_or(stop, random.uniform(2.0, 10.0), sess.closed)
                if stop.is_set():
                    return sess
                if sess.closed.is_set():  # dropped by on_sub_packet
                    pass
                elif random.random() < 0.5:
                    sess.abort()
                    self.stats.add('canary_sub_aborts')
                else:
                    await sess.disconnect()
                    self.stats.add('canary_sub_disconnects')
                await sess.wait_closed()
                await asyncio.sleep(random.uniform(0.2, 2.0))
            except (ConnectionError, OSError, asyncio.TimeoutError):
                sess.abort()
                self.stats.add('canary_sub_errors')
                if not first:
                    await asyncio.sleep(0.2)
                first = first and not self.sub_ready.is_set()

    # publisher

    async def publisher(self, stop):
        cid = 'canary-pub-%d' % self.i
        unacked = collections.OrderedDict()  # packet id -> seq
        await self.sub_ready.wait()
        first = True
        while True:
            sess = Session(self.stats)
            window = asyncio.Semaphore(CANARY_WINDOW)
            try:
                await sess.open(self.port, r.connect(cid, clean=False, keepalive=30))
                sess.keep_alive(10.0)
                first = False
                acks = {}
                for mid, seq in list(unacked.items()):  # resend in order, with DUP
                    self.resent.add(seq)
                    acks[mid] = sess.expect((r.PUBACK, mid))
                    sess.send(r.publish(self.topic, payload(seq), qos=1, dup=True, mid=mid))
                    self.stats.add('canary_resent')
                # wait for the resent ones before new ones, so the window stays exact
                for mid, f in acks.items():
                    await asyncio.wait_for(f, IO_TIMEOUT)
                    self.acked.add(unacked.pop(mid))
                reconnect_at = time.monotonic() + random.uniform(5.0, 20.0)
                pending = set()
                while not stop.is_set() and time.monotonic() < reconnect_at:
                    await window.acquire()
                    seq = self.sent
                    self.sent += 1
                    mid = seq % 65535 + 1
                    unacked[mid] = seq
                    pending.add(asyncio.create_task(self.one(sess, mid, seq, unacked, window)))
                    await asyncio.sleep(1.0 / CANARY_RATE)
                    pending = {t for t in pending if not t.done()}
                if pending:
                    await asyncio.wait(pending, timeout=IO_TIMEOUT)
                if stop.is_set() and not unacked:
                    await sess.disconnect()
                    return
                if random.random() < 0.5:
                    sess.abort()
                else:
                    await sess.disconnect()
                self.stats.add('canary_pub_reconnects')
                await sess.wait_closed()
            except (ConnectionError, OSError, asyncio.TimeoutError):
                sess.abort()
                self.stats.add('canary_pub_errors')
                await asyncio.sleep(0.2)

    async def one(self, sess, mid, seq, unacked, window):
        try:
            await sess.request(r.publish(self.topic, payload(seq), qos=1, mid=mid),
                               (r.PUBACK, mid))
            if unacked.pop(mid, None) is not None:
                self.acked.add(seq)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            pass  # resent after the reconnect
        finally:
            window.release()


def payload(seq):
    return struct.pack('!I', seq) + b'canary'


async def wait_or(stop, seconds, *events):
    """Sleep up to seconds; True early if stop (or any event) is set."""
    waits = [asyncio.create_task(e.wait()) for e in (stop,) + events]
    done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for w in waits:
        w.cancel()
    return stop.is_set() or any(e.is_set() for e in events)


# Narrow filters; the wide ones (every chaos message to one client) are rare, so that the
# clients, not the broker, are never the bottleneck.
CHAOS_FILTERS = ['soak/chaos/%d/+', 'soak/chaos/%d/b', 'soak/+/%d/a', 'soak/chaos/%d/a',
                 '$SYS/broker/clients/+']
WIDE_FILTERS = ['soak/chaos/#', '#', 'soak/chaos/+/a']


async def chaos_client(n, port, stats, stop):
    rnd = random.Random(n)
    while not stop.is_set():
        sess = Session(stats)
        cid = 'chaos-%d' % rnd.randrange(CHAOS_IDS)
        will = rnd.random() < 0.2
        try:
            await sess.open(port, r.connect(
                cid, clean=rnd.random() < 0.7, keepalive=rnd.choice([5, 30, 60]),
                will_topic='soak/chaos/%d/will' % n if will else None, will_payload=b'bye',
                will_qos=rnd.randrange(3) if will else 0))
            filters = [(f % rnd.randrange(20) if '%d' in f else f, rnd.randrange(3))
                       for f in rnd.sample(CHAOS_FILTERS, rnd.randint(1, 3))]
            if rnd.random() < 0.02:
                filters.append((rnd.choice(WIDE_FILTERS), rnd.randrange(3)))
            await sess.request(r.subscribe(1, filters), (r.SUBACK, 1))
            stats.add('subscribes')
            mid = 1
            until = time.monotonic() + rnd.expovariate(1 / 3.0)
            while time.monotonic() < until and not stop.is_set() and not sess.closed.is_set():
                act = rnd.random()
                if act < 0.75:
                    qos = rnd.choice([0, 0, 1, 2])
                    mid = mid % 65535 + 1
                    topic = 'soak/chaos/%d/%s' % (rnd.randrange(20), rnd.choice('ab'))
                    sess.send(r.publish(topic, os.urandom(rnd.randrange(200)), qos=qos,
                                        retain=rnd.random() < 0.05, mid=mid))
                    stats.add('publish_out_qos%d' % qos)
                elif act < 0.85:
                    sess.send(r.pingreq())
                elif act < 0.95:
                    sess.send(r.unsubscribe(2, [filters[0][0]]))
                else:
                    sess.send(r.subscribe(3, [('soak/chaos/%d/a' % rnd.randrange(20), 1)]))
                await asyncio.sleep(rnd.expovariate(4.0))
            end = rnd.random()
            if end < 0.4:
                await sess.disconnect()
                stats.add('chaos_disconnects')
            elif end < 0.85:
                sess.abort()
                stats.add('chaos_aborts')
            else:
                # malformed input: the broker must close this one and no other
                sess.send(rnd.choice([os.urandom(rnd.randrange(1, 64)), b'\x00\x00',
                                      r.packet(r.PUBLISH, 6, b''), r.connect('again'),
                                      b'\x30\xff\xff\xff\xff']))
                stats.add('chaos_garbage')
                await wait_or(stop, 1.0, sess.closed)
                sess.abort()
        except (ConnectionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            # mostly ConnectionError: a client with the same id took this one over first
            stats.add('chaos_error_%s' % type(e).__name__)
            sess.abort()
        await sess.wait_closed()
        await asyncio.sleep(rnd.uniform(0, 0.5))


async def soak(port, seconds, clients, stats):
    stop = asyncio.Event()
    canaries = [Canary(i, port, stats) for i in range(CANARY_PAIRS)]
    sub_stop = asyncio.Event()
    subs = [asyncio.create_task(c.subscriber(sub_stop)) for c in canaries]
    pubs = [asyncio.create_task(c.publisher(stop)) for c in canaries]
    chaos = [asyncio.create_task(chaos_client(n, port, stats, stop)) for n in range(clients)]
    t0 = time.monotonic()
    next_report = t0 + 30
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(1.0)
        if time.monotonic() >= next_report:
            next_report += 30
            print('  %4.0fs: %d connections, %d canary messages acked' %
                  (time.monotonic() - t0, stats.c['connections'],
                   sum(len(c.acked) for c in canaries)), flush=True)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*chaos), DRAIN_TIMEOUT)
    await asyncio.wait_for(asyncio.gather(*pubs), DRAIN_TIMEOUT)
    # every acknowledged canary must arrive; persistent subscribers may be offline just now
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        if all(c.acked <= set(c.received) for c in canaries):
            break
        await asyncio.sleep(0.2)
    sub_stop.set()
    sessions = await asyncio.wait_for(asyncio.gather(*subs), DRAIN_TIMEOUT)
    for s in sessions:
        if s is not None and not s.closed.is_set():
            await s.disconnect()
    return canaries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seconds', type=float,
                    default=float(os.environ.get('TERN_SOAK_SECONDS', '120')))
    ap.add_argument('--clients', type=int, default=int(os.environ.get('TERN_SOAK_CLIENTS',
                                                                      '300')))
    args = ap.parse_args()
    try:
        broker_kind()
    except RuntimeError as e:
        print('FAIL: %s' % e)
        return 1
    random.seed(1)
    broker = Broker(['workers 2', 'max_queued_messages 5000', 'sys_interval 5'])
    broker.start()
    stats = Stats()
    failures = []
    t0 = time.monotonic()
    try:
        canaries = asyncio.run(soak(broker.port, args.seconds, args.clients, stats))
    except Exception as e:  # a hang or crash of the harness is a failure too
        canaries = []
        failures.append('soak harness: %r' % e)
    elapsed = time.monotonic() - t0
    if not broker.alive():
        failures.append('broker died (exit status %s)' % broker.proc.returncode)
    broker.stop()
    if broker.exit_status != 0:
        failures.append('broker exited with status %s on SIGTERM' % broker.exit_status)
    report = broker.sanitizer_report()
    if report:
        failures.append('sanitizer report: %s' % report)

    print('soak: %.0f s with %d chaos clients and %d canary pairs' %
          (elapsed, args.clients, len(canaries)))
    for k in sorted(stats.c):
        print('  %-24s %d' % (k, stats.c[k]))
    for c in canaries:
        got = set(c.received)
        missing = sorted(c.acked - got)
        dups = sum(n - 1 for n in c.received.values() if n > 1)
        print('  canary %d (%s subscriber): %d sent, %d acked, %d received, %d duplicates '
              '(allowed), %d missing' % (c.i, 'persistent' if c.persistent_sub else 'clean',
                                          c.sent, len(c.acked), len(got), dups, len(missing)))
        if missing:
            failures.append('canary %d lost %d acknowledged messages: %s' %
                            (c.i, len(missing), missing[:20]))
        if not c.acked:
            failures.append('canary %d: nothing acknowledged' % c.i)
        failures.extend('canary %d: %s' % (c.i, b) for b in c.problems[:20])
    if stats.c['connections'] < args.clients:
        failures.append('only %d connections made' % stats.c['connections'])
    if failures:
        print('FAIL:\n  ' + '\n  '.join(failures))
        print('----- broker log (tail) -----\n' + broker.log()[-8000:])
        broker.close()
        return 1
    broker.close()
    print('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
