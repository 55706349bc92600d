#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Access control with a mosquitto acl_file: per-user and anonymous topic lines, %c/%u
patterns, denials; denied PUBLISH acknowledged and dropped; messages a client may not
read never delivered, retained ones included; SUBSCRIBE filters with nothing readable
refused with 0x80 (tern; mosquitto 2.0 grants them and delivers nothing); wills;
SIGHUP reloads the ACL for connected clients and their existing subscriptions."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from authfix import mosquitto_passwd, wait_connack  # noqa: E402
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402

FAIL = 0x80

ACL = '''# anonymous clients
topic read public/#
topic write public/anon

user alice
topic readwrite a/#
topic deny a/secret
topic write will/alice

user bob
topic write a/#
topic write b/#
topic read b/+/ok

user admin
topic readwrite #

pattern readwrite dev/%c/#
pattern read home/%u/#
pattern deny dev/%c/locked
'''

USERS = {'alice': 'a-pw', 'bob': 'b-pw', 'admin': 'adm-pw'}


def topics(packets):
    return sorted(p.topic for p in packets)


class Acl(BrokerTestCase):
    START_BROKER = False

    def setUp(self):
        super().setUp()
        self.broker = self.start_broker(['allow_anonymous true', 'password_file {dir}/passwd',
                                         'acl_file {dir}/acl'],
                                        files={'passwd': '', 'acl': ACL})
        for i, (user, pw) in enumerate(USERS.items()):
            mosquitto_passwd(*(['-c'] if i == 0 else []), '-b', self.broker.path('passwd'),
                             user, pw)
        os.chmod(self.broker.path('passwd'), 0o644)
        self.broker.reload()
        wait_connack(self, 0, client_id='probe', username='admin', password='adm-pw')

    def user(self, name, client_id=None, **kw):
        return self.raw(connect=client_id or name, username=name, password=USERS[name], **kw)

    def granted(self, want_tern, got, readable):
        """SUBACK codes: tern refuses filters with nothing readable; mosquitto 2.0.11
        grants every filter. Both grant the readable ones (indexes in readable)."""
        for i in readable:
            self.assertEqual(got[i], want_tern[i])
        if is_tern():
            self.assertEqual(got, want_tern)
        else:
            not_checked('SUBACK 0x80 for a filter with nothing readable (mosquitto grants it)')

    def test_subscribe_refused_when_nothing_readable(self):
        alice = self.user('alice')
        got = alice.subscribe_ok([('a/secret', 1), ('a/#', 1), ('b/#', 0), ('a/ok', 2),
                                  ('public/#', 0)])
        self.granted([FAIL, 1, FAIL, 2, FAIL], got, readable=[1, 3])
        anon = self.raw(connect='anon1')
        got = anon.subscribe_ok([('public/#', 1), ('a/#', 1), ('dev/anon1/#', 0),
                                 ('dev/other/#', 0), ('home/+/x', 0)])
        self.granted([1, FAIL, 0, FAIL, FAIL], got, readable=[0, 2])

    def test_publish_denied_is_acknowledged_and_dropped(self):
        admin = self.user('admin')
        self.assertEqual(admin.subscribe_ok([('#', 2)]), [2])
        bob = self.user('bob')
        for qos, mid in ((0, 1), (1, 2), (2, 3)):
            bob.publish_ok('c/denied', 'x', qos=qos, mid=mid)  # not writable: acked anyway
            bob.publish_ok('b/1', 'ok%d' % qos, qos=qos, mid=mid + 10)
        alice = self.user('alice')
        alice.publish_ok('a/secret', 'x', qos=1, mid=4)
        alice.publish_ok('b/1', 'x', qos=1, mid=5)
        alice.publish_ok('a/1', 'fine', qos=1, mid=6)
        self.assertTrue(bob.is_open() and alice.is_open())
        got = admin.receive_until_quiet()
        self.assertEqual([(p.topic, p.payload) for p in got],
                         [('b/1', b'ok0'), ('b/1', b'ok1'), ('b/1', b'ok2'), ('a/1', b'fine')])

    def test_unreadable_messages_never_delivered(self):
        alice = self.user('alice')
        # '#' and 'a/+' are partly readable; 'a/1' wholly.
        got = alice.subscribe_ok([('#', 1), ('a/+', 0), ('a/1', 2)])
        self.assertEqual(got, [1, 0, 2])
        admin = self.user('admin')
        for i, t in enumerate(['a/1', 'a/secret', 'b/1', 'public/x', 'a/2', 'a/secret/deeper']):
            admin.publish_ok(t, 'm', qos=2, mid=i + 1)
        got = alice.receive_until_quiet()
        self.assertEqual(topics(got), ['a/1', 'a/2', 'a/secret/deeper'])
        self.assertEqual(max(p.qos for p in got if p.topic == 'a/1'), 2)
        # Anonymous: only public/#.
        anon = self.raw(connect='anon2')
        anon.subscribe_ok([('#', 0)])
        admin.publish_ok('public/y', 'p', mid=20)
        admin.publish_ok('a/1', 'p', mid=21)
        self.assertEqual(topics(anon.receive_until_quiet()), ['public/y'])

    def test_retained_messages_filtered_on_subscribe(self):
        admin = self.user('admin')
        for i, t in enumerate(['a/1', 'a/secret', 'b/1', 'public/x', 'dev/d7/t',
                               'dev/d7/locked']):
            admin.publish_ok(t, 'retained', qos=1, retain=True, mid=i + 1)
        alice = self.user('alice')
        alice.subscribe_ok([('#', 1)])
        got = alice.receive_until_quiet()
        self.assertEqual(topics(got), ['a/1'])
        self.assertTrue(all(p.retain for p in got))
        anon = self.raw(connect='d7')
        anon.subscribe_ok([('#', 0)])
        self.assertEqual(topics(anon.receive_until_quiet()), ['dev/d7/t', 'public/x'])

    def test_patterns(self):
        dev = self.raw(connect='d9')
        self.assertEqual(dev.subscribe_ok([('dev/d9/#', 1)]), [1])
        dev.publish_ok('dev/d9/status', 'up', qos=1, mid=2)
        dev.publish_ok('dev/d8/status', 'spoof', qos=1, mid=3)  # another device's: dropped
        dev.publish_ok('dev/d9/locked', 'no', qos=1, mid=4)     # denied pattern
        got = dev.receive_until_quiet()
        self.assertEqual([(p.topic, p.payload) for p in got], [('dev/d9/status', b'up')])
        # %u: home/alice/# readable by alice only; anonymous clients never match %u.
        alice = self.user('alice', 'alice-home')
        alice.subscribe_ok([('home/#', 0)])
        anon = self.raw(connect='anon-home')
        anon.subscribe_ok([('home/#', 0), ('#', 0)])
        admin = self.user('admin')
        admin.publish_ok('home/alice/t', 'x', mid=5)
        admin.publish_ok('home/bob/t', 'x', mid=6)
        self.assertEqual(topics(alice.receive_until_quiet()), ['home/alice/t'])
        self.assertEqual(anon.receive_until_quiet(), [])
        # A client id with a wildcard gets nothing from patterns.
        bad = self.raw(connect='d+')
        bad.subscribe_ok([('#', 0)])
        bad.publish_ok('dev/d+x/t', 'x', mid=7)
        admin.publish_ok('dev/d+/t', 'x', mid=8)
        self.assertEqual(bad.receive_until_quiet(), [])

    def test_persistent_session_follows_its_user(self):
        c = self.raw(connect='shared-id', clean=False, username='alice', password='a-pw')
        self.assertEqual(c.subscribe_ok([('#', 1)]), [1])
        c.send(r.disconnect())
        c.expect_closed()
        admin = self.user('admin')
        # Queued for the offline session only what alice may read.
        admin.publish_ok('a/1', 'q', qos=1, mid=1)
        admin.publish_ok('a/secret', 'q', qos=1, mid=2)
        admin.publish_ok('b/1', 'q', qos=1, mid=3)
        c = self.raw(connect='shared-id', clean=False, username='alice', password='a-pw')
        self.assertEqual(topics(c.receive_until_quiet()), ['a/1'])
        c.send(r.disconnect())
        c.expect_closed()
        # The same session taken by admin: its kept subscription now reads everything.
        c = self.raw(connect='shared-id', clean=False, username='admin', password='adm-pw')
        admin.publish_ok('a/secret', 'now', qos=1, mid=4)
        admin.publish_ok('b/1', 'now', qos=1, mid=5)
        self.assertEqual(topics(c.receive_until_quiet()), ['a/secret', 'b/1'])
        # And back to anonymous: public/# only.
        c.send(r.disconnect())
        c.expect_closed()
        c = self.raw(connect='shared-id', clean=False)
        admin.publish_ok('b/1', 'anon', qos=1, mid=6)
        admin.publish_ok('public/1', 'anon', qos=1, mid=7)
        self.assertEqual(topics(c.receive_until_quiet()), ['public/1'])

    def test_wills(self):
        admin = self.user('admin')
        admin.subscribe_ok([('#', 1)])
        # alice may write will/alice but not will/other.
        for topic in ('will/alice', 'will/other'):
            c = self.raw(connect='alice-' + topic[5:], username='alice', password='a-pw',
                         will_topic=topic, will_payload=b'gone', will_qos=1)
            c.abort()
        self.assertEqual(topics(admin.receive_until_quiet(1.0)), ['will/alice'])

    def test_sys_topics_not_writable(self):
        admin = self.user('admin')
        admin.subscribe_ok([('$SYS/test/#', 0)])
        admin.publish_ok('$SYS/test/x', 'fake', qos=1, mid=3)
        self.assertEqual(admin.receive_until_quiet(), [])

    def test_reload_applies_to_connected_clients(self):
        alice = self.user('alice')
        # a/# is wholly readable for alice now: delivered without per-message checks.
        self.assertEqual(alice.subscribe_ok([('a/x/#', 1), ('c/#', 1)]),
                         [1, FAIL] if is_tern() else [1, 1])
        admin = self.user('admin')
        admin.publish_ok('a/x/secret', 'before', qos=1, mid=1)
        self.assertEqual(topics(alice.receive_until_quiet()), ['a/x/secret'])
        self.broker.write_file('acl', ACL.replace('topic deny a/secret',
                                                  'topic deny a/x/secret\ntopic read c/#'))
        self.broker.reload()
        # The new rules reach the existing subscription: c/# readable for a new one...
        deadline = time.monotonic() + 10
        probe = self.user('alice', 'alice-probe')
        while time.monotonic() < deadline:
            if probe.subscribe_ok([('c/#', 0)], mid=9) == [0]:
                break
            time.sleep(0.05)
        else:
            self.fail('reloaded ACL not applied')
        # No wait: every worker applies a new ACL before it routes its next message.
        admin.publish_ok('a/x/secret', 'after', qos=1, mid=2)
        admin.publish_ok('a/x/ok', 'after', qos=1, mid=3)
        self.assertEqual(topics(alice.receive_until_quiet()), ['a/x/ok'])
        self.assertTrue(alice.is_open())
        # A filter refused before the reload can be subscribed now.
        self.assertEqual(alice.subscribe_ok([('c/#', 1)], mid=4), [1])
        admin.publish_ok('c/1', 'x', qos=1, mid=5)
        self.assertEqual(topics(alice.receive_until_quiet()), ['c/1'])

    def test_reload_bad_acl_keeps_old(self):
        self.broker.write_file('acl', 'topic reed x\n')
        self.broker.reload()
        if not is_tern():
            not_checked('an ACL file with errors keeps the old one (mosquitto applies none)')
            return
        deadline = time.monotonic() + 10
        while 'acl:1: access must be' not in self.broker.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn('acl:1: access must be', self.broker.log())
        alice = self.user('alice')
        self.assertEqual(alice.subscribe_ok([('a/1', 1), ('x', 0)]), [1, FAIL])


if __name__ == '__main__':
    main()
