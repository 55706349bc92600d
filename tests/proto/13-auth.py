#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Authentication: allow_anonymous, password_file in mosquitto_passwd's format made by
either tool and read by either broker, the CONNACK codes mosquitto 2.0.11 gives,
tern-passwd's options, per_listener_settings, and SIGHUP reloads that keep clients
connected. Run against mosquitto with TERN_TEST_BROKER=mosquitto (and TERN_PASSWD)
to see that tern answers as it does."""

import os
import pty
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawmqtt as r  # noqa: E402
from authfix import (connack, mosquitto_passwd, run, tern_passwd, tern_passwd_bin,  # noqa: E402
                     wait_connack)
from brokerfix import BrokerTestCase, is_tern, main, not_checked  # noqa: E402

NOT_AUTHORIZED = 5


class Auth(BrokerTestCase):
    START_BROKER = False

    def passwd_broker(self, extra=(), anonymous=False):
        """A broker whose password file (passwd) has alice/secret ($7$, mosquitto_passwd),
        bob/hunter2 ($6$) and carol/'pässwörd with spaces' (-I 1000)."""
        b = self.start_broker(['allow_anonymous %s' % ('true' if anonymous else 'false'),
                               'password_file {dir}/passwd'] + list(extra),
                              files={'passwd': ''})
        mosquitto_passwd('-c', '-b', b.path('passwd'), 'alice', 'secret')
        mosquitto_passwd('-H', 'sha512', '-b', b.path('passwd'), 'bob', 'hunter2')
        mosquitto_passwd('-I', '1000', '-b', b.path('passwd'), 'carol', 'pässwörd with spaces')
        os.chmod(b.path('passwd'), 0o644)
        b.reload()
        wait_connack(self, 0, b, client_id='probe', username='alice', password='secret')
        return b

    def test_anonymous_refused_without_password_file(self):
        b = self.start_broker(['allow_anonymous false'])
        self.assertEqual(connack(self, b, client_id='anon'), NOT_AUTHORIZED)
        # No password file to check a user against: refused too, as mosquitto does.
        self.assertEqual(connack(self, b, client_id='u', username='alice', password='x'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='u', username='alice'), NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, host='::1', client_id='anon6'), NOT_AUTHORIZED)

    def test_mosquitto_passwd_entries(self):
        b = self.passwd_broker()
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='secret'), 0)
        self.assertEqual(connack(self, b, client_id='b', username='bob', password='hunter2'), 0)
        self.assertEqual(connack(self, b, client_id='c', username='carol',
                                 password='pässwörd with spaces'), 0)
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='Secret'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='a', username='alice', password=''),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='a', username='alice'), NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='b', username='bob', password='secret'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='m', username='mallory', password='secret'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='anon'), NOT_AUTHORIZED)
        # MQTT 3.1 clients too, and over IPv6.
        self.assertEqual(connack(self, b, client_id='a31', username='alice', password='secret',
                                 proto_name='MQIsdp', level=3), 0)
        self.assertEqual(connack(self, b, host='::1', client_id='a6', username='alice',
                                 password='secret'), 0)

    def test_anonymous_allowed_with_password_file(self):
        b = self.passwd_broker(anonymous=True)
        self.assertEqual(connack(self, b, client_id='anon'), 0)
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='secret'), 0)
        # A user name must still verify.
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='nope'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='m', username='mallory', password='x'),
                         NOT_AUTHORIZED)

    def test_mosquitto_clients(self):
        """The worked example of the README: mosquitto_sub/pub with -u/-P."""
        b = self.passwd_broker()
        host = b.host('127.0.0.1')  # tern's own address on the dpdk dataplane
        sub = subprocess.Popen(['mosquitto_sub', '-h', host, '-p', str(b.port), '-u',
                                'alice', '-P', 'secret', '-t', 'sensors/#', '-v', '-C', '1',
                                '-W', '10'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(sub.kill)
        deadline = time.monotonic() + 10
        got = ''
        while time.monotonic() < deadline and sub.poll() is None:
            rc, out, err = run(['mosquitto_pub', '-h', host, '-p', str(b.port), '-u',
                                'bob', '-P', 'hunter2', '-t', 'sensors/t1', '-m', '21.5'])
            self.assertEqual(rc, 0, err)
            try:
                got = sub.communicate(timeout=0.3)[0].decode()
            except subprocess.TimeoutExpired:
                continue
        self.assertEqual(got, 'sensors/t1 21.5\n')
        rc, out, err = run(['mosquitto_pub', '-h', host, '-p', str(b.port), '-u', 'bob',
                            '-P', 'wrong', '-t', 't', '-m', 'x'])
        self.assertNotEqual(rc, 0)
        self.assertIn('not authorised', err)

    def test_tern_passwd_files(self):
        """A file made and edited by tern-passwd works in the broker under test (run this
        with TERN_TEST_BROKER=mosquitto for mosquitto 2.0.11)."""
        b = self.start_broker(['allow_anonymous false', 'password_file {dir}/passwd'],
                              files={'passwd': ''})
        pw = b.path('passwd')
        tern_passwd('-c', '-b', pw, 'dora', 'first')
        tern_passwd('-b', pw, 'eli', 'e-pass')
        tern_passwd('-b', '-I', '2000', pw, 'finn', 'f p ä')
        tern_passwd('-b', pw, 'dora', 'second')  # replaces dora's line
        tern_passwd('-b', pw, 'gone', 'x')
        tern_passwd('-D', pw, 'gone')
        self.assertIn('not in', tern_passwd('-D', pw, 'gone', expect_rc=1))
        tern_passwd('-b', pw, 'bad:name', 'x', expect_rc=1)
        with open(pw) as f:
            lines = f.read().splitlines()
        self.assertEqual([l.split(':')[0] for l in lines], ['dora', 'eli', 'finn'])
        self.assertTrue(all(l.split(':', 1)[1].startswith('$7$') for l in lines))
        self.assertTrue(lines[2].split(':', 1)[1].startswith('$7$2000$'))
        # Interactive: the password is typed twice on a terminal.
        self.interactive(pw, 'hana', 'typed secret')
        # -U: a plain-text file (user:password) hashed in place.
        with open(b.path('plain'), 'w') as f:
            f.write('# plain\nivy:ivy-pass\n')
        tern_passwd('-U', b.path('plain'))
        with open(b.path('plain')) as f:
            upgraded = f.read()
        self.assertTrue(upgraded.startswith('# plain\nivy:$7$101$'), upgraded)
        with open(pw, 'a') as f:
            f.write(upgraded.splitlines()[1] + '\n')
        os.chmod(pw, 0o644)
        b.reload()
        wait_connack(self, 0, b, client_id='i', username='ivy', password='ivy-pass')
        self.assertEqual(connack(self, b, client_id='d', username='dora', password='second'), 0)
        self.assertEqual(connack(self, b, client_id='d', username='dora', password='first'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='e', username='eli', password='e-pass'), 0)
        self.assertEqual(connack(self, b, client_id='f', username='finn', password='f p ä'), 0)
        self.assertEqual(connack(self, b, client_id='h', username='hana',
                                 password='typed secret'), 0)
        self.assertEqual(connack(self, b, client_id='g', username='gone', password='x'),
                         NOT_AUTHORIZED)

    def test_tern_passwd_file_in_real_mosquitto(self):
        """Interop, whichever broker is under test: Debian's mosquitto 2.0.11 accepts the
        users of a file made by tern-passwd, and refuses wrong passwords."""
        b = self.start_broker(['allow_anonymous false', 'password_file {dir}/passwd'],
                              files={'passwd': ''}, kind='mosquitto')
        tern_passwd('-c', '-b', b.path('passwd'), 'tom', 'tom-pass')
        tern_passwd('-b', '-I', '5000', b.path('passwd'), 'una', 'ü n a')
        os.chmod(b.path('passwd'), 0o644)
        b.reload()
        wait_connack(self, 0, b, client_id='t', username='tom', password='tom-pass')
        self.assertEqual(connack(self, b, client_id='u', username='una', password='ü n a'), 0)
        self.assertEqual(connack(self, b, client_id='u', username='una', password='una'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='t', username='tom', password='x'),
                         NOT_AUTHORIZED)

    def interactive(self, path, user, password):
        master, slave = pty.openpty()
        p = subprocess.Popen([tern_passwd_bin(), path, user], stdin=slave, stdout=slave,
                             stderr=subprocess.PIPE, start_new_session=True)
        os.close(slave)
        self.addCleanup(os.close, master)
        for prompt in (b'Password: ', b'Reenter password: '):
            seen = b''
            deadline = time.monotonic() + 10
            while not seen.endswith(prompt) and time.monotonic() < deadline:
                seen += os.read(p.stderr.fileno(), 1)
            self.assertTrue(seen.endswith(prompt), seen)
            os.write(master, password.encode() + b'\n')
        self.assertEqual(p.wait(10), 0)
        p.stderr.close()

    def test_reload_keeps_connections(self):
        b = self.passwd_broker()
        keep = self.raw(b, connect='keeper', username='bob', password='hunter2')
        # alice gets a new password, dan is added, carol removed.
        mosquitto_passwd('-b', b.path('passwd'), 'alice', 'changed')
        mosquitto_passwd('-b', b.path('passwd'), 'dan', 'dan-pass')
        mosquitto_passwd('-D', b.path('passwd'), 'carol')
        os.chmod(b.path('passwd'), 0o644)
        b.reload()
        wait_connack(self, 0, b, client_id='d', username='dan', password='dan-pass')
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='changed'), 0)
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='secret'),
                         NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, client_id='c', username='carol',
                                 password='pässwörd with spaces'), NOT_AUTHORIZED)
        # The connection made before the reload is still served.
        keep.send(r.pingreq())
        keep.expect(r.PINGRESP)
        self.assertEqual(keep.subscribe_ok([('k/#', 1)]), [1])

    def test_reload_bad_file_keeps_old(self):
        b = self.passwd_broker()
        keep = self.raw(b, connect='keeper', username='bob', password='hunter2')
        b.write_file('passwd', 'alice:plain-text-password\n')
        b.reload()
        if not is_tern():
            not_checked('a password file with errors keeps the old one (mosquitto drops the '
                        'bad lines)')
            return
        deadline = time.monotonic() + 10
        while 'passwd:1: password is not hashed' not in b.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn('passwd:1: password is not hashed', b.log())
        self.assertEqual(connack(self, b, client_id='a', username='alice', password='secret'), 0)
        self.assertEqual(connack(self, b, client_id='a', username='alice',
                                 password='plain-text-password'), NOT_AUTHORIZED)
        keep.send(r.pingreq())
        keep.expect(r.PINGRESP)

    def test_startup_with_bad_file_fails(self):
        if not is_tern():
            not_checked('startup refused with FILE:LINE for a bad password or ACL file')
            return
        from brokerfix import Broker
        for name, text, why in (
                ('passwd', 'ok:$7$101$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/QAapNX4'
                 'FpHxjSbaHTI4ekJbXtvRWAGSadZU2Wzh1O7wmBpTd0ssIA==\nbroken\n',
                 'passwd:2: expected user:hash'),
                ('acl', 'topic read a\nuser\n', 'acl:2: \'user\' needs a user name')):
            key = 'password_file' if name == 'passwd' else 'acl_file'
            b = Broker(['%s {dir}/%s' % (key, name)], files={name: text})
            self.addCleanup(b.close)
            with self.assertRaises(RuntimeError):
                b.start()
            self.assertIn(b.path(name) + why[len(name):], b.log())
        b = Broker(['password_file {dir}/missing'])
        self.addCleanup(b.close)
        with self.assertRaises(RuntimeError):
            b.start()
        self.assertIn(b.path('missing') + ': No such file or directory', b.log())

    def test_per_listener_settings(self):
        conf = ['per_listener_settings true',
                'listener {port} 127.0.0.1', 'allow_anonymous true',
                'listener {port2} 127.0.0.1', 'allow_anonymous false',
                'password_file {dir}/passwd']
        b = self.start_broker(conf, files={'passwd': ''})
        mosquitto_passwd('-c', '-b', b.path('passwd'), 'alice', 'secret')
        os.chmod(b.path('passwd'), 0o644)
        b.reload()
        wait_connack(self, 0, b, port=b.port2, client_id='a', username='alice',
                     password='secret')
        self.assertEqual(connack(self, b, port=b.port, client_id='anon'), 0)
        self.assertEqual(connack(self, b, port=b.port2, client_id='anon'), NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, port=b.port2, client_id='a', username='alice',
                                 password='nope'), NOT_AUTHORIZED)
        # The first listener has no password file: any user name is let in as anonymous.
        self.assertEqual(connack(self, b, port=b.port, client_id='a', username='alice',
                                 password='nope'), 0)

    def test_global_settings_last_line_wins(self):
        """Without per_listener_settings, security lines are global wherever they stand."""
        conf = ['listener {port} 127.0.0.1', 'allow_anonymous true',
                'listener {port2} 127.0.0.1', 'allow_anonymous false']
        b = self.start_broker(conf)
        self.assertEqual(connack(self, b, port=b.port, client_id='a1'), NOT_AUTHORIZED)
        self.assertEqual(connack(self, b, port=b.port2, client_id='a2'), NOT_AUTHORIZED)


if __name__ == '__main__':
    main()
