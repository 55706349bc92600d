/* SPDX-License-Identifier: MIT */
/*
 * IPv4 input validation and dispatch, and IPv4 output for TCP (policy in
 * ipv4.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dataplane/net/cksum.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/ipv4.h"

#define IPV4_MIN_HDR 20

static bool cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, unsigned hlen)
{
	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

	if (f == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return true;
	if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return false;
	return rte_raw_cksum(ip, hlen) == 0xffff;
}

void dp_ipv4_input(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip;
	struct dp_ip_addr src = {.family = AF_INET}, dst = {.family = AF_INET};
	unsigned hlen, total;

	if (!ifc->learn_only)
		dp_net_count(ifc, DP_NET_RX_IPV4);
	if (rte_pktmbuf_data_len(m) < IPV4_MIN_HDR) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_SHORT);
		return;
	}
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	if ((ip->version_ihl >> 4) != 4) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_VERSION);
		return;
	}
	hlen = (ip->version_ihl & 0xf) * 4u;
	if (hlen < IPV4_MIN_HDR || hlen > rte_pktmbuf_data_len(m)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_HDR_LEN);
		return;
	}
	total = rte_be_to_cpu_16(ip->total_length);
	if (total < hlen || total > rte_pktmbuf_pkt_len(m)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_TOTAL_LEN);
		return;
	}
	if (!cksum_ok(m, ip, hlen)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_CKSUM);
		return;
	}
	if (ip->time_to_live == 0) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_TTL);
		return;
	}
	/* MF set or a non-zero offset: a fragment, and we do not reassemble. */
	if (ip->fragment_offset &
	    rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_FRAG);
		return;
	}
	if (dp_net_iface_bad_source4(ifc, ip->src_addr)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_SRC);
		return;
	}
	dst.v4 = ip->dst_addr;
	if (!dp_net_iface_is_local(ifc, &dst)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_NOT_OURS);
		return;
	}
	src.v4 = ip->src_addr;
	/* Ethernet pads short frames: the IP length is the truth. */
	if (rte_pktmbuf_pkt_len(m) > total)
		rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - total);
	if (hlen > IPV4_MIN_HDR)
		dp_net_count(ifc, DP_NET_IP_OPTIONS);

	switch (ip->next_proto_id) {
	case IPPROTO_TCP:
		dp_net_iface_tcp_deliver(ifc, m, (uint16_t)hlen, &src, &dst);
		return;
	case IPPROTO_ICMP:
		dp_icmp_input(ifc, m);
		return;
	default:
		dp_net_drop(ifc, m, DP_NET_DROP_IP_PROTO);
		return;
	}
}

/* The TCP checksum over the pseudo-header and the (possibly chained) segment. */
static uint16_t l4_cksum(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t l4_len)
{
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0);

	sum += dp_cksum_mbuf(m, sizeof(*ip), l4_len);
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

int dp_ipv4_output_tcp(struct dp_net_iface *ifc, struct rte_mbuf *m, const struct dp_flow *flow,
		       const struct dp_ip_addr *nh)
{
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint32_t l4_len = rte_pktmbuf_pkt_len(m);

	if (rte_pktmbuf_data_len(m) < sizeof(*th) || l4_len + sizeof(*ip) > UINT16_MAX) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -EINVAL;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (!ip) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(l4_len + sizeof(*ip)));
	/* With DF the ID only has to be unique enough for duplicate detection (RFC 6864). */
	ip->packet_id = rte_cpu_to_be_16(ifc->ip_id++);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = DP_NET_TTL;
	ip->next_proto_id = IPPROTO_TCP;
	ip->hdr_checksum = 0;
	ip->src_addr = flow->local.v4;
	ip->dst_addr = flow->remote.v4;
	th = (struct rte_tcp_hdr *)(ip + 1);
	th->cksum = 0;
	m->l3_len = sizeof(*ip);
	m->l4_len = (th->data_off >> 4) * 4;
	if (ifc->tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (ifc->tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
		th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		th->cksum = l4_cksum(m, ip, l4_len);
	}
	return dp_net_eth_output(ifc, m, nh, RTE_ETHER_TYPE_IPV4);
}
