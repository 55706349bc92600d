#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""MQTT 5.0 wills: DISCONNECT 0x04 sends the will, a normal DISCONNECT does
not, the will delay interval (cancelled by a reconnect, cut short by the end
of the session), and will properties forwarded."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt5 as m  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402


class V5Will(BrokerTestCase):
    def v5(self, client_id, **kw):
        c = m.Client5('127.0.0.1', self.broker.port)
        self.addCleanup(c.close)
        c.connect5_ok(client_id, **kw)
        return c

    def watcher(self, name='wwatch'):
        w = self.v5(name)
        w.subscribe5_ok([('will/#', 0)])
        return w

    def test_disconnect_with_will(self):
        w = self.watcher()
        c = self.v5('dww', will_topic='will/dww', will_payload='bye',
                    will_properties=[(m.CONTENT_TYPE, 'text/plain'),
                                     (m.USER_PROPERTY, ('why', 'asked'))])
        c.send(m.disconnect(m.DISCONNECT_WITH_WILL))
        c.expect_closed()
        p = w.receive5()
        self.assertEqual((p.topic, p.payload), ('will/dww', b'bye'))
        self.assertEqual(p.prop(m.CONTENT_TYPE), 'text/plain')
        self.assertEqual(p.all(m.USER_PROPERTY), [('why', 'asked')])

    def test_normal_disconnect_no_will(self):
        w = self.watcher()
        c = self.v5('dnw', will_topic='will/dnw', will_payload='bye')
        c.send(m.disconnect())
        c.expect_closed()
        w.expect_silence(0.5)

    def test_will_delay_cancelled_by_reconnect(self):
        w = self.watcher()
        props = [(m.SESSION_EXPIRY, 30)]
        c = self.v5('wd', properties=props, will_topic='will/wd', will_payload='late',
                    will_properties=[(m.WILL_DELAY, 2)])
        c.abort()
        time.sleep(0.5)
        self.v5('wd', clean=False, properties=props)
        w.expect_silence(2.5)

    def test_will_delay_elapses(self):
        w = self.watcher()
        c = self.v5('wde', properties=[(m.SESSION_EXPIRY, 30)], will_topic='will/wde',
                    will_payload='late', will_properties=[(m.WILL_DELAY, 1)])
        t0 = time.monotonic()
        c.abort()
        w.expect_silence(0.6)
        p = w.receive5(timeout=3.0)
        self.assertEqual(p.payload, b'late')
        self.assertGreater(time.monotonic() - t0, 0.9)

    def test_will_sent_at_session_end_if_earlier(self):
        w = self.watcher()
        c = self.v5('wse', properties=[(m.SESSION_EXPIRY, 1)], will_topic='will/wse',
                    will_payload='session over', will_properties=[(m.WILL_DELAY, 60)])
        c.abort()
        p = w.receive5(timeout=4.0)
        self.assertEqual(p.payload, b'session over')


if __name__ == '__main__':
    main()
