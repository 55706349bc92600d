/* SPDX-License-Identifier: MIT */
/*
 * IPv6 input validation, extension header walk and dispatch, and IPv6
 * output for TCP (policy in ipv6.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dataplane/net/cksum.h"
#include "dataplane/net/icmp6.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/ipv6.h"

#define IPV6_HDR_LEN 40
#define IPV6_MAX_EXT 8 /* extension headers walked before we give up */
#define NH_HOPOPTS   0
#define NH_ROUTING   43
#define NH_FRAGMENT  44
#define NH_NONE	     59
#define NH_DSTOPTS   60
#define OPT_PAD1     0
#define OPT_PADN     1

static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};

void dp_ipv6_solicited_node(const struct dp_ip_addr *a, struct dp_ip_addr *group)
{
	static const uint8_t prefix[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};

	memset(group, 0, sizeof(*group));
	group->family = AF_INET6;
	memcpy(group->v6, prefix, sizeof(prefix));
	memcpy(group->v6 + 13, a->v6 + 13, 3);
}

void dp_ipv6_mcast_mac(const struct dp_ip_addr *g, struct rte_ether_addr *mac)
{
	mac->addr_bytes[0] = 0x33;
	mac->addr_bytes[1] = 0x33;
	memcpy(&mac->addr_bytes[2], g->v6 + 12, 4);
}

uint16_t dp_ipv6_l4_sum(const struct rte_mbuf *m, const struct rte_ipv6_hdr *ip, uint32_t off,
			uint32_t len, uint8_t proto)
{
	uint32_t sum, len_be = rte_cpu_to_be_32(len), proto_be = rte_cpu_to_be_32(proto);

	if ((uint64_t)off + len > rte_pktmbuf_pkt_len(m))
		return 0;
	sum = __rte_raw_cksum(ip->src_addr, 32, 0);
	sum = __rte_raw_cksum(&len_be, 4, sum);
	sum = __rte_raw_cksum(&proto_be, 4, sum);
	sum += dp_cksum_mbuf(m, off, len);
	return __rte_raw_cksum_reduce(sum);
}

static bool accept_dst(const struct dp_net_iface *ifc, const struct dp_ip_addr *dst, bool *mcast)
{
	*mcast = dst->v6[0] == 0xff;
	if (!*mcast)
		return dp_net_iface_is_local(ifc, dst);
	if (memcmp(dst->v6, all_nodes, 16) == 0)
		return true;
	for (unsigned i = 0; i < ifc->n_addrs; i++) {
		struct dp_ip_addr g;

		if (ifc->addrs[i].addr.family != AF_INET6)
			continue;
		dp_ipv6_solicited_node(&ifc->addrs[i].addr, &g);
		if (dp_ip_addr_equal(&g, dst))
			return true;
	}
	return false;
}

/* RFC 8200 4.2: the two high bits of an unknown option's type say whether to skip it. */
static bool options_ok(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t p = 2;

	while (p < len) {
		const uint8_t *t = rte_pktmbuf_mtod_offset(m, const uint8_t *, off + p);

		if (*t == OPT_PAD1) {
			p++;
			continue;
		}
		if (p + 2 > len)
			return false;
		if (*t != OPT_PADN && (*t >> 6) != 0)
			return false;
		p += 2u + t[1];
	}
	return p == len;
}

/*
 * Walk the extension headers from the fixed header's next header on. Returns
 * the upper-layer protocol with *off at its header, or the drop reason as a
 * negative counter.
 */
static int walk_ext(struct dp_net_iface *ifc, struct rte_mbuf *m, uint8_t nh, uint32_t *off)
{
	uint32_t end = rte_pktmbuf_data_len(m);

	for (unsigned n = 0; n < IPV6_MAX_EXT; n++) {
		const uint8_t *h;
		uint32_t len;

		switch (nh) {
		case NH_HOPOPTS:
			if (n != 0)
				return -DP_NET_DROP_IP6_EXT;
			break;
		case NH_DSTOPTS:
		case NH_ROUTING:
			break;
		case NH_FRAGMENT:
			return -DP_NET_DROP_IP6_FRAG;
		case NH_NONE:
			return -DP_NET_DROP_IP_PROTO;
		default:
			return nh;
		}
		/* Extension headers must sit in the first segment; PMDs receive small
		 * frames whole. */
		if (*off + 8 > end)
			return -DP_NET_DROP_IP6_EXT;
		h = rte_pktmbuf_mtod_offset(m, const uint8_t *, *off);
		len = (h[1] + 1u) * 8u;
		if (*off + len > end)
			return -DP_NET_DROP_IP6_EXT;
		if (nh == NH_ROUTING ? h[3] != 0 : !options_ok(m, *off, len))
			return -DP_NET_DROP_IP6_EXT;
		dp_net_count(ifc, DP_NET_IP6_EXT_SKIPPED);
		nh = h[0];
		*off += len;
	}
	return -DP_NET_DROP_IP6_EXT;
}

void dp_ipv6_input(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	struct dp_ip_addr src = {.family = AF_INET6}, dst = {.family = AF_INET6};
	struct rte_ipv6_hdr *ip;
	uint32_t total, off = IPV6_HDR_LEN;
	bool mcast;
	int proto;

	if (!ifc->learn_only)
		dp_net_count(ifc, DP_NET_RX_IPV6);
	if (rte_pktmbuf_data_len(m) < IPV6_HDR_LEN) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_SHORT);
		return;
	}
	ip = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_VERSION);
		return;
	}
	total = IPV6_HDR_LEN + rte_be_to_cpu_16(ip->payload_len);
	if (total > rte_pktmbuf_pkt_len(m)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_TOTAL_LEN);
		return;
	}
	if (ip->hop_limits == 0) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_TTL);
		return;
	}
	memcpy(src.v6, ip->src_addr, 16);
	memcpy(dst.v6, ip->dst_addr, 16);
	if (src.v6[0] == 0xff || dp_net_iface_is_local(ifc, &src)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_SRC);
		return;
	}
	if (!accept_dst(ifc, &dst, &mcast)) {
		dp_net_drop(ifc, m, DP_NET_DROP_IP_NOT_OURS);
		return;
	}
	if (rte_pktmbuf_pkt_len(m) > total)
		rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - total);
	proto = walk_ext(ifc, m, ip->proto, &off);
	if (proto < 0) {
		dp_net_drop(ifc, m, (enum dp_net_counter) - proto);
		return;
	}
	switch (proto) {
	case IPPROTO_TCP: {
		static const uint8_t unspecified[16];

		if (mcast) {
			dp_net_drop(ifc, m, DP_NET_DROP_IP_NOT_OURS);
			return;
		}
		if (memcmp(src.v6, unspecified, 16) == 0) {
			dp_net_drop(ifc, m, DP_NET_DROP_IP_SRC);
			return;
		}
		dp_net_iface_tcp_deliver(ifc, m, (uint16_t)off, &src, &dst);
		return;
	}
	case IPPROTO_ICMPV6:
		dp_icmp6_input(ifc, m, off, mcast);
		return;
	default:
		dp_net_drop(ifc, m, DP_NET_DROP_IP_PROTO);
		return;
	}
}

int dp_ipv6_output_tcp(struct dp_net_iface *ifc, struct rte_mbuf *m, const struct dp_flow *flow,
		       const struct dp_ip_addr *nh)
{
	struct rte_ipv6_hdr *ip;
	struct rte_tcp_hdr *th;
	uint32_t l4_len = rte_pktmbuf_pkt_len(m);

	if (rte_pktmbuf_data_len(m) < sizeof(*th) || l4_len > UINT16_MAX) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -EINVAL;
	}
	ip = (struct rte_ipv6_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (!ip) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)l4_len);
	ip->proto = IPPROTO_TCP;
	ip->hop_limits = DP_NET_TTL;
	memcpy(ip->src_addr, flow->local.v6, 16);
	memcpy(ip->dst_addr, flow->remote.v6, 16);
	th = (struct rte_tcp_hdr *)(ip + 1);
	th->cksum = 0;
	m->l3_len = sizeof(*ip);
	m->l4_len = (th->data_off >> 4) * 4;
	if (ifc->tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
		th->cksum = rte_ipv6_phdr_cksum(ip, m->ol_flags);
	} else {
		th->cksum = (uint16_t)~dp_ipv6_l4_sum(m, ip, sizeof(*ip), l4_len, IPPROTO_TCP);
	}
	return dp_net_eth_output(ifc, m, nh, RTE_ETHER_TYPE_IPV6);
}
