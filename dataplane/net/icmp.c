/* SPDX-License-Identifier: MIT */
/*
 * ICMPv4 echo: the request is turned into the reply in the same mbuf.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/cksum.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/iface.h"

void dp_icmp_input(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	unsigned hlen = (ip->version_ihl & 0xf) * 4u;
	uint32_t len = rte_pktmbuf_pkt_len(m) - hlen, addr;
	struct rte_icmp_hdr *ic;
	uint16_t sum;

	if (len < sizeof(*ic) || rte_pktmbuf_data_len(m) < hlen + sizeof(*ic)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ICMP_MALFORMED);
		return;
	}
	if (dp_cksum_mbuf(m, hlen, len) != 0xffff) {
		dp_net_drop(ifc, m, DP_NET_DROP_ICMP_CKSUM);
		return;
	}
	ic = (struct rte_icmp_hdr *)((uint8_t *)ip + hlen);
	if (ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ic->icmp_code != 0) {
		dp_net_drop(ifc, m, DP_NET_DROP_ICMP_TYPE);
		return;
	}
	if (ifc->learn_only) {
		rte_pktmbuf_free(m);
		return;
	}
	if (hlen > sizeof(*ip)) {
		/* Options are not echoed: slide the Ethernet and fixed IP headers over them. */
		uint8_t *frame = (uint8_t *)ip - sizeof(struct rte_ether_hdr);

		memmove(frame + hlen - sizeof(*ip), frame,
			sizeof(struct rte_ether_hdr) + sizeof(*ip));
		ip = (struct rte_ipv4_hdr *)rte_pktmbuf_adj(m, hlen - sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + len));
	}
	/* Only the type changes: patch the checksum incrementally (RFC 1624). */
	ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	sum = (uint16_t)~rte_be_to_cpu_16(ic->icmp_cksum);
	{
		uint32_t s = (uint32_t)sum + (uint16_t) ~(RTE_IP_ICMP_ECHO_REQUEST << 8) +
			     (RTE_IP_ICMP_ECHO_REPLY << 8);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		ic->icmp_cksum = rte_cpu_to_be_16((uint16_t)~s);
	}
	addr = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = addr;
	ip->time_to_live = DP_NET_TTL;
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	dp_net_iface_reply(ifc, m, DP_NET_ICMP_ECHO_REPLIES);
}
