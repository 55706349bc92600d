/* SPDX-License-Identifier: MIT */
/*
 * ICMPv6 dispatch and echo; the echo reply reuses the request's mbuf.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/icmp6.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/ipv6.h"
#include "dataplane/net/nd.h"

#define ICMP6_HDR_LEN 4 /* type, code, checksum */

static void echo_reply(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off)
{
	struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	uint32_t len = rte_pktmbuf_pkt_len(m) - off;
	uint8_t addr[16], *ic;

	if (off > sizeof(*ip)) {
		/* Extension headers are not echoed: slide Ethernet and IPv6 headers over them. */
		uint8_t *frame = (uint8_t *)ip - sizeof(struct rte_ether_hdr);

		memmove(frame + off - sizeof(*ip), frame,
			sizeof(struct rte_ether_hdr) + sizeof(*ip));
		ip = (struct rte_ipv6_hdr *)rte_pktmbuf_adj(m, (uint16_t)(off - sizeof(*ip)));
		ip->proto = IPPROTO_ICMPV6;
		ip->payload_len = rte_cpu_to_be_16((uint16_t)len);
	}
	memcpy(addr, ip->src_addr, 16);
	memcpy(ip->src_addr, ip->dst_addr, 16);
	memcpy(ip->dst_addr, addr, 16);
	ip->hop_limits = DP_NET_TTL;
	ic = (uint8_t *)(ip + 1);
	ic[0] = DP_ICMP6_ECHO_REPLY;
	ic[2] = ic[3] = 0;
	{
		uint16_t sum = (uint16_t)~dp_ipv6_l4_sum(m, ip, sizeof(*ip), len, IPPROTO_ICMPV6);

		memcpy(ic + 2, &sum, 2);
	}
	dp_net_iface_reply(ifc, m, DP_NET_ICMP6_ECHO_REPLIES);
}

void dp_icmp6_input(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off, bool mcast)
{
	const struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);
	uint32_t len = rte_pktmbuf_pkt_len(m) - off;
	const uint8_t *ic;

	if (len < ICMP6_HDR_LEN || off + ICMP6_HDR_LEN > rte_pktmbuf_data_len(m)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ICMP_MALFORMED);
		return;
	}
	if (dp_ipv6_l4_sum(m, ip, off, len, IPPROTO_ICMPV6) != 0xffff) {
		dp_net_drop(ifc, m, DP_NET_DROP_ICMP_CKSUM);
		return;
	}
	ic = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
	switch (ic[0]) {
	case DP_ICMP6_NS:
		dp_nd_input_ns(ifc, m, off);
		return;
	case DP_ICMP6_NA:
		dp_nd_input_na(ifc, m, off, mcast);
		return;
	case DP_ICMP6_ECHO_REQUEST:
		/* Echo to a group would need a source choice per group: not answered. */
		if (ic[1] != 0 || mcast || ifc->learn_only) {
			dp_net_drop(ifc, m, DP_NET_DROP_ICMP_TYPE);
			return;
		}
		echo_reply(ifc, m, off);
		return;
	default:
		dp_net_drop(ifc, m, DP_NET_DROP_ICMP_TYPE);
		return;
	}
}
