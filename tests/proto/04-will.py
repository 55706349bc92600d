#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Will messages: published on abnormal loss and on keepalive expiry, not after
DISCONNECT; will retain and will QoS honoured."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from brokerfix import BrokerTestCase, keepalive_limit, main  # noqa: E402


class Will(BrokerTestCase):
    def setUp(self):
        super().setUp()
        self.watch = self.raw(connect='watcher')
        self.watch.subscribe_ok([('will/#', 2)])

    def will_client(self, client_id, topic='will/x', payload='gone', **kw):
        return self.raw(connect=client_id, will_topic=topic, will_payload=payload, **kw)

    def test_sent_on_abnormal_loss(self):
        for close in ('close', 'abort'):  # FIN and RST
            with self.subTest(close=close):
                c = self.will_client('w-' + close, payload=close)
                getattr(c, close)()
                p = self.watch.receive_publish()
                self.assertEqual((p.topic, p.payload, p.retain), ('will/x', close.encode(), False))

    def test_v31_will(self):
        c = self.will_client('w31', payload='v31', v31=True)
        c.close()
        self.assertEqual(self.watch.receive_publish().payload, b'v31')

    def test_not_sent_after_disconnect(self):
        c = self.will_client('polite', topic='will/polite', payload='must not appear')
        c.send(r.disconnect())
        c.expect_closed()
        # A second client lost abnormally afterwards: its will is the next message,
        # so the broker has handled the first client's DISCONNECT without a will.
        self.will_client('rude', topic='will/rude', payload='sentinel').close()
        p = self.watch.receive_publish()
        self.assertEqual((p.topic, p.payload), ('will/rude', b'sentinel'))
        self.watch.expect_silence(0.3)

    def test_will_retain(self):
        self.will_client('wr', topic='will/ret', payload='last words', will_retain=True).close()
        p = self.watch.receive_publish()
        self.assertEqual((p.payload, p.retain), (b'last words', False))  # live copy
        late = self.raw(connect='late')
        late.subscribe_ok([('will/ret', 1)])
        p = late.receive_publish()
        self.assertEqual((p.payload, p.retain), (b'last words', True))

    def test_will_qos(self):
        sub1 = self.raw(connect='sub1')
        sub1.subscribe_ok([('will/q', 1)])
        for qos in (0, 1, 2):
            with self.subTest(will_qos=qos):
                self.will_client('wq%d' % qos, topic='will/q', payload=str(qos),
                                 will_qos=qos).close()
                p = self.watch.receive_publish()  # subscribed with QoS 2
                self.assertEqual((p.payload, p.qos), (str(qos).encode(), qos))
                p = sub1.receive_publish()  # subscribed with QoS 1
                self.assertEqual((p.payload, p.qos), (str(qos).encode(), min(qos, 1)))

    def test_sent_on_keepalive_timeout(self):
        c = self.will_client('sleepy', topic='will/ka', payload='timed out', keepalive=1)
        t0 = time.monotonic()
        p = self.watch.receive_publish(timeout=keepalive_limit(1))
        self.assertEqual((p.topic, p.payload), ('will/ka', b'timed out'))
        self.assertGreater(time.monotonic() - t0, 1.2)  # not before 1.5 x keepalive
        c.expect_closed()


if __name__ == '__main__':
    main()
