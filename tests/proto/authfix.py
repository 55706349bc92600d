# SPDX-License-Identifier: MIT
"""Helpers for the authentication and ACL tests (13-auth, 14-acl): password file
tools (tern-passwd, Debian's mosquitto_passwd) and CONNACK probes."""

import os
import subprocess
import time

import rawmqtt as r

MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd'
HERE = os.path.dirname(os.path.abspath(__file__))


def tern_passwd_bin():
    """tern-passwd: $TERN_PASSWD, else next to $TERN_BIN, else build/broker/ of this tree."""
    cands = [os.environ.get('TERN_PASSWD')]
    if os.environ.get('TERN_BIN'):
        cands.append(os.path.join(os.path.dirname(os.environ['TERN_BIN']), 'tern-passwd'))
    cands.append(os.path.join(HERE, '..', '..', 'build', 'broker', 'tern-passwd'))
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    raise RuntimeError('tern-passwd not found: set TERN_PASSWD=/path/to/tern-passwd')


def run(argv, **kw):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, **kw)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def mosquitto_passwd(*args):
    rc, out, err = run([MOSQUITTO_PASSWD] + list(args))
    if rc != 0:
        raise AssertionError('mosquitto_passwd %s: %s%s' % (args, out, err))


def tern_passwd(*args, expect_rc=0):
    rc, out, err = run([tern_passwd_bin()] + list(args))
    if rc != expect_rc:
        raise AssertionError('tern-passwd %s exited %d: %s%s' % (args, rc, out, err))
    return out + err


def connack(test, broker=None, port=None, host='127.0.0.1', **kw):
    """CONNECT with the given fields; returns the CONNACK code. A refused
    connection must then be closed by the broker."""
    c = test.raw(broker, host=host, port=port)
    c.send(r.connect(**kw))
    sp, rc = c.expect(r.CONNACK).connack
    if rc != 0:
        test.assertFalse(sp)
        c.expect_closed()
    else:
        c.send(r.disconnect())
    return rc


def wait_connack(test, want, broker=None, timeout=10.0, **kw):
    """Probe until CONNECT gets CONNACK want (after a SIGHUP reload); fails past timeout."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = connack(test, broker, **kw)
        if got == want:
            return
        time.sleep(0.05)
    test.fail('CONNACK %s, expected %d after reload' % (got, want))
