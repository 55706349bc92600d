# SPDX-License-Identifier: MIT
"""The dpdk dataplane's per-lcore counters in $SYS and in DPDK telemetry: tern with
two worker lcores on net_af_packet (brokerfix.DpdkSite; run by tests/proto/dpdk.sh),
MQTT traffic makes the TCP counters grow, frames with a bad IPv4 header checksum
and a bad TCP checksum, sent raw onto the veth, bump exactly the drop counters
named for them, and the telemetry socket reports the same counters."""

import json
import os
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'proto'))

import brokerfix  # noqa: E402
import rawmqtt  # noqa: E402
from brokerfix import BrokerTestCase, main  # noqa: E402
from sysmon import SysMonitor  # noqa: E402

LCORES = (1, 2)  # brokerfix gives worker i lcore i


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(':'))


class Counters(BrokerTestCase):
    BROKER_CONFIG = ['workers 2', 'sys_interval 1']

    def setUp(self):
        brokerfix.require_dpdk(__file__)
        super().setUp()
        self.mon = SysMonitor(self.raw(connect='sys-watch'))

    def total(self, name):
        return self.mon.num('dpdk/total/' + name)

    def lcore(self, lc, name):
        return self.mon.num('dpdk/lcore/%d/%s' % (lc, name))

    def raw_frame(self, proto, payload, bad_ip_sum):
        """An IPv4 frame from the kernel's side of the veth to tern."""
        site = self.broker.site
        out = subprocess.run(['ip', 'neigh', 'show', site.v4, 'dev', site.peer],
                             check=True, capture_output=True, text=True).stdout.split()
        dst = mac_bytes(out[out.index('lladdr') + 1])
        with open('/sys/class/net/%s/address' % site.peer) as f:
            src = mac_bytes(f.read().strip())
        saddr = socket.inet_aton(site.v4[:-1] + '1')
        daddr = socket.inet_aton(site.v4)
        hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 7, 0, 64, proto, 0,
                          saddr, daddr)
        csum = checksum(hdr) ^ (0x5555 if bad_ip_sum else 0)
        hdr = hdr[:10] + struct.pack('!H', csum) + hdr[12:]
        return dst + src + b'\x08\x00' + hdr + payload

    def send_frames(self, frame, count):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            s.bind((self.broker.site.peer, 0))
            for _ in range(count):
                s.send(frame)
        finally:
            s.close()

    def telemetry(self, command):
        path = '/var/run/dpdk/%s/dpdk_telemetry.v2' % self.broker.site.file_prefix
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.settimeout(5)
            s.connect(path)
            json.loads(s.recv(16384).decode())  # the greeting: version, pid, max length
            s.send(command.encode())
            return json.loads(s.recv(65536).decode())[command.split(',')[0]]
        finally:
            s.close()

    def test_counters_in_sys_and_telemetry(self):
        m = self.mon
        m.wait_for('dpdk totals', lambda: self.total('tcp/seg_in') > 0)
        for lc in LCORES:
            for name in ('net/rx_packets', 'net/drop_ip_cksum', 'tcp/seg_in',
                         'tcp/retransmits', 'tcp/drop_cksum', 'fault/dropped'):
                self.assertIsNotNone(self.lcore(lc, name), 'lcore %d %s' % (lc, name))
        self.assertIsNone(self.lcore(3, 'net/rx_packets'), 'only two worker lcores')
        # Totals are the sum of the lcores (of one publication: wait for a quiet one).
        m.wait_for('total rx_packets = sum over lcores', lambda: self.total(
            'net/rx_packets') == sum(self.lcore(lc, 'net/rx_packets') for lc in LCORES))

        seg_in = self.total('tcp/seg_in')
        bytes_in = self.total('tcp/bytes_in')
        pub = self.raw(connect='pub')
        for i in range(20):
            pub.send(rawmqtt.publish('load/%d' % i, b'x' * 1000))
        m.wait_for('tcp seg_in and bytes_in growing',
                   lambda: self.total('tcp/seg_in') >= seg_in + 20 and
                   self.total('tcp/bytes_in') >= bytes_in + 20 * 1000, timeout=10)

        ip_before = self.total('net/drop_ip_cksum')
        tcp_before = self.total('tcp/drop_cksum')
        self.assertEqual(ip_before, 0)
        self.assertEqual(tcp_before, 0)
        # 3 UDP datagrams whose IPv4 header checksum is wrong.
        self.send_frames(self.raw_frame(17, b'\0' * 16, bad_ip_sum=True), 3)
        # 2 SYNs to the broker's port with a zero (wrong) TCP checksum, good IP header.
        syn = struct.pack('!HHIIBBHHH', 40000, self.broker.port, 1, 0, 5 << 4, 0x02, 65535,
                          0, 0)
        self.send_frames(self.raw_frame(6, syn, bad_ip_sum=False), 2)
        m.wait_for('drop_ip_cksum +3 and tcp drop_cksum +2',
                   lambda: self.total('net/drop_ip_cksum') == 3 and
                   self.total('tcp/drop_cksum') == 2, timeout=10)
        self.assertEqual(sum(self.lcore(lc, 'net/drop_ip_cksum') for lc in LCORES), 3)

        # DPDK telemetry: the same counters.
        self.assertEqual(self.telemetry('/tern/net/workers')['workers'], 2)
        total = self.telemetry('/tern/net/total')
        self.assertEqual(total['drop_ip_cksum'], 3)
        self.assertEqual(total['tcp_drop_cksum'], 2)
        self.assertGreaterEqual(total['tcp_seg_in'], seg_in + 20)
        self.assertIn('fault_dropped', total)
        per = [self.telemetry('/tern/net/stats,%d' % i) for i in range(2)]
        self.assertEqual([p['lcore'] for p in per], list(LCORES))
        self.assertEqual(sum(p['drop_ip_cksum'] for p in per), 3)
        # Read after the total: never less (frames keep coming: $SYS, ACKs).
        self.assertGreaterEqual(sum(p['rx_packets'] for p in per), total['rx_packets'])


if __name__ == '__main__':
    main()
