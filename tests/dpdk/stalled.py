# SPDX-License-Identifier: MIT
"""Subscribers that stop reading must not take the dpdk dataplane's mbuf pool with them
(run by tests/proto/dpdk.sh): 64 subscribers with a tiny receive buffer stop reading while
a publisher fans 1 KiB messages out to them. Every byte tern's TCP keeps for a resend holds
pool mbufs, and 64 full send buffers are more than one worker's pool. Meanwhile the
publisher's input, a new client's handshake and PINGREQ must still get through (frames are
received into the same pool), and once the subscribers read again each gets its messages in
order (QoS 0: some may be dropped on the way) and then a last one published after they
caught up."""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'proto'))

import brokerfix  # noqa: E402
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

SUBS = 64
PAYLOAD = 1024
MESSAGES = 2000  # 2 MB to each subscriber: far more than its send buffer (256 KiB)
RCVBUF = 4096
TOPIC = 'stall/t'


class Stalled(BrokerTestCase):
    # One worker: every connection shares its pool. The engine's own queue per subscriber
    # is bounded as usual (max_queued_messages 1000).
    BROKER_CONFIG = ['workers 1', 'sys_interval 1']

    def setUp(self):
        brokerfix.require_dpdk(__file__)
        super().setUp()

    def test_stalled_subscribers_leave_the_pool_to_everyone_else(self):
        subs = [self.raw(connect='stall%d' % i, rcvbuf=RCVBUF) for i in range(SUBS)]
        for s in subs:
            s.subscribe_ok([(TOPIC, 0)])
        pub = self.raw(connect='publisher')
        filler = b'x' * (PAYLOAD - 4)
        start = time.monotonic()
        for i in range(MESSAGES):
            # Blocks (and times out, failing the test) if tern stops receiving.
            pub.send(r.publish(TOPIC, struct.pack('!I', i) + filler))
        # The publisher is still served: its PINGREQ is answered behind all it sent.
        pub.send(r.pingreq())
        pub.expect(r.PINGRESP)
        sys.stderr.write('\n  %d x %d B fanned out to %d stalled subscribers in %.1fs\n' %
                         (MESSAGES, PAYLOAD, SUBS, time.monotonic() - start))
        # A new client: handshake, CONNECT and PINGREQ all need receive mbufs.
        other = self.raw(connect='newcomer')
        other.send(r.pingreq())
        other.expect(r.PINGRESP)

        # The subscribers read again, all at once, until none has had anything for a
        # second: what reaches each comes in order.
        last, got = [-1] * SUBS, [0] * SUBS
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            for i, s in enumerate(subs):
                while (p := s.recv(0.001)) is not None:
                    self.assertEqual(p.type, r.PUBLISH)
                    seq = struct.unpack('!I', p.payload[:4])[0]
                    self.assertGreater(seq, last[i], 'subscriber %d: out of order' % i)
                    last[i], got[i] = seq, got[i] + 1
                    quiet_since = time.monotonic()
        self.assertTrue(all(got), 'a subscriber got nothing: %s' % got)
        # And each gets what is published after it caught up.
        pub.publish_ok(TOPIC, 'last', 1)
        for i, s in enumerate(subs):
            while True:
                p = s.recv()
                self.assertIsNotNone(p, 'subscriber %d: no last message' % i)
                if p.payload == b'last':
                    break
        sys.stderr.write('  messages each subscriber got after reading again: min %d, max %d\n'
                         % (min(got), max(got)))
        # The stalled subscribers' send queues did reach the pool's reserve: output waited.
        mon = SysMonitor(self.raw(connect='sys-watch'))
        mon.wait_for('glue/pool_waits > 0 (else the pool never ran low: nothing was tested)',
                     lambda: mon.num('dpdk/total/glue/pool_waits') > 0)


if __name__ == '__main__':
    main()
