# SPDX-License-Identifier: MIT
"""The dpdk dataplane has no TLS: a TLS listener in its config is refused at start
with a clear error, never served as plain TCP (run by tests/proto/dpdk.sh)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'proto'))

import brokerfix  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402


class TlsRefused(BrokerTestCase):
    START_BROKER = False

    def test_tls_listener_refused(self):
        if not brokerfix.DPDK:
            raise RuntimeError('tls.py runs only on the dpdk dataplane (tests/proto/dpdk.sh)')
        b = brokerfix.Broker(['listener {port} 127.0.0.1', 'listener {port2} 127.0.0.1',
                              'certfile {dir}/server.crt', 'keyfile {dir}/server.key'],
                             files={'server.crt': 'not read', 'server.key': 'not read'})
        self.addCleanup(b.close)
        with self.assertRaises(RuntimeError) as ctx:
            b.start()
        self.assertIn('listener %d: TLS is not implemented on the dpdk dataplane' % b.port2,
                      str(ctx.exception))
        self.assertNotEqual(b.exit_status, 0)


if __name__ == '__main__':
    main()
