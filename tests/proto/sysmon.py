# SPDX-License-Identifier: MIT
"""A raw client following $SYS: the latest value of each topic, bounded waits on them."""

import re
import time

WORKER_CONNECTED = re.compile(r'^\$SYS/broker/workers/(\d+)/clients/connected$')


class SysMonitor:
    """A raw client subscribed to $SYS/#, keeping the latest value of each topic."""

    def __init__(self, client):
        self.c = client
        self.values = {}
        self.c.subscribe_ok([('$SYS/#', 0)])

    def poll(self, duration):
        end = time.monotonic() + duration
        while True:
            p = self.c.recv(max(0.0, end - time.monotonic()))
            if p is None:
                return
            self.values[p.topic] = p.payload.decode()

    def get(self, name):
        return self.values.get('$SYS/broker/' + name)

    def num(self, name):
        v = self.get(name)
        return None if v is None else int(v.split()[0])

    def wait_for(self, what, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if pred():
                    return
            except (TypeError, ValueError):
                pass
            self.poll(0.2)
        raise AssertionError('$SYS: %s not seen in %.1fs; last values %r' %
                             (what, timeout, self.values))

    def per_worker_connected(self):
        """{worker id: connected clients} from tern's $SYS/broker/workers/N/clients/connected."""
        return {int(m.group(1)): int(v) for t, v in self.values.items()
                for m in [WORKER_CONNECTED.match(t)] if m}
