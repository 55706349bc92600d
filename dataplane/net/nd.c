/* SPDX-License-Identifier: MIT */
/*
 * Neighbour solicitation and advertisement: validation, learning, replies.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/icmp6.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/ipv6.h"
#include "dataplane/net/nd.h"

#define ND_MSG_LEN   24 /* type, code, checksum, flags/reserved, target */
#define ND_OPT_SLLA  1
#define ND_OPT_TLLA  2
#define ND_OPT_LEN   8
#define ND_HOP_LIMIT 255
#define NA_FLAG_S    0x40
#define NA_FLAG_O    0x20

struct nd_msg {
	uint8_t type;
	uint8_t code;
	uint16_t cksum;
	uint8_t flags;
	uint8_t reserved[3];
	uint8_t target[16];
	uint8_t opt_type;
	uint8_t opt_len;
	uint8_t opt_mac[RTE_ETHER_ADDR_LEN];
};
_Static_assert(sizeof(struct nd_msg) == 32, "ND message with one link-layer option");

/*
 * Common checks of NS and NA; finds the link-layer option of want_opt type.
 * Returns false when the message is malformed.
 */
static bool nd_parse(const struct rte_mbuf *m, uint32_t off, uint8_t want_opt,
		     const struct rte_ether_addr **lla)
{
	const struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);
	uint32_t end = rte_pktmbuf_pkt_len(m), p;
	const uint8_t *msg;

	*lla = NULL;
	if (ip->hop_limits != ND_HOP_LIMIT || end - off < ND_MSG_LEN ||
	    end > rte_pktmbuf_data_len(m))
		return false;
	msg = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
	if (msg[1] != 0 || msg[8] == 0xff) /* code 0; target not multicast */
		return false;
	for (p = off + ND_MSG_LEN; p < end;) {
		const uint8_t *o = rte_pktmbuf_mtod_offset(m, const uint8_t *, p);
		uint32_t olen;

		if (p + 2 > end || o[1] == 0)
			return false;
		olen = o[1] * 8u;
		if (p + olen > end)
			return false;
		if (o[0] == want_opt && olen == ND_OPT_LEN)
			*lla = (const struct rte_ether_addr *)(o + 2);
		p += olen;
	}
	return true;
}

static int nd_send(struct dp_net_iface *ifc, uint8_t type, uint8_t flags, const uint8_t *src,
		   const uint8_t *dst, const struct rte_ether_addr *eth_dst, const uint8_t *target)
{
	struct rte_ether_hdr *eth;
	struct rte_ipv6_hdr *ip;
	struct nd_msg *msg;
	struct rte_mbuf *m;
	uint16_t sum;

	m = rte_pktmbuf_alloc(ifc->pool);
	if (!m) {
		dp_net_count(ifc, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
							 sizeof(*eth) + sizeof(*ip) + sizeof(*msg));
	if (!eth) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	ip = (struct rte_ipv6_hdr *)(eth + 1);
	msg = (struct nd_msg *)(ip + 1);
	rte_ether_addr_copy(eth_dst, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(sizeof(*msg));
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = ND_HOP_LIMIT;
	memcpy(ip->src_addr, src, 16);
	memcpy(ip->dst_addr, dst, 16);
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	msg->flags = flags;
	memcpy(msg->target, target, 16);
	msg->opt_type = type == DP_ICMP6_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	msg->opt_len = 1;
	memcpy(msg->opt_mac, ifc->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	sum = (uint16_t)~dp_ipv6_l4_sum(m, ip, sizeof(*eth) + sizeof(*ip), sizeof(*msg),
					IPPROTO_ICMPV6);
	msg->cksum = sum;
	dp_net_count(ifc, type == DP_ICMP6_NS ? DP_NET_ND_SOLICITS : DP_NET_ND_ADVERTS);
	dp_net_iface_xmit(ifc, m);
	return 0;
}

void dp_nd_input_ns(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off)
{
	static const uint8_t unspecified[16];
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	const struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv6_hdr *);
	const struct rte_ether_hdr *eth;
	const struct rte_ether_addr *slla, *reply_mac;
	struct dp_ip_addr target = {.family = AF_INET6}, src = {.family = AF_INET6}, group;
	struct rte_ether_addr all_nodes_mac;
	bool dad;

	if (!nd_parse(m, off, ND_OPT_SLLA, &slla)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ND_MALFORMED);
		return;
	}
	memcpy(target.v6, rte_pktmbuf_mtod_offset(m, const uint8_t *, off + 8), 16);
	memcpy(src.v6, ip->src_addr, 16);
	dad = memcmp(src.v6, unspecified, 16) == 0;
	/* RFC 4861 7.1.1: a DAD probe goes to the solicited-node group and has no SLLA. */
	dp_ipv6_solicited_node(&target, &group);
	if (dad && (slla || memcmp(ip->dst_addr, group.v6, 16) != 0)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ND_MALFORMED);
		return;
	}
	if (!dp_net_iface_is_local(ifc, &target)) {
		if (ifc->learn_only)
			rte_pktmbuf_free(m);
		else
			dp_net_drop(ifc, m, DP_NET_DROP_ND_NOT_OURS);
		return;
	}
	if (slla && rte_is_unicast_ether_addr(slla))
		dp_neigh_update(ifc, &ifc->neigh6, &src, slla, true);
	if (ifc->learn_only) {
		rte_pktmbuf_free(m);
		return;
	}
	/* A unicast NS (reachability probe) may omit the SLLA: answer the frame's sender. */
	eth = rte_pktmbuf_mtod_offset(m, const struct rte_ether_hdr *, -(int)sizeof(*eth));
	reply_mac = slla ? slla : &eth->src_addr;
	if (dad) {
		struct dp_ip_addr an = {.family = AF_INET6};

		memcpy(an.v6, all_nodes, 16);
		dp_ipv6_mcast_mac(&an, &all_nodes_mac);
		nd_send(ifc, DP_ICMP6_NA, NA_FLAG_O, target.v6, all_nodes, &all_nodes_mac,
			target.v6);
	} else {
		nd_send(ifc, DP_ICMP6_NA, NA_FLAG_S | NA_FLAG_O, target.v6, src.v6, reply_mac,
			target.v6);
	}
	rte_pktmbuf_free(m);
}

void dp_nd_input_na(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off, bool mcast)
{
	const struct rte_ether_addr *tlla;
	const struct rte_ether_hdr *eth;
	struct dp_ip_addr target = {.family = AF_INET6};
	const uint8_t *msg;

	if (!nd_parse(m, off, ND_OPT_TLLA, &tlla)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ND_MALFORMED);
		return;
	}
	msg = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
	if (mcast && (msg[4] & NA_FLAG_S)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ND_MALFORMED);
		return;
	}
	memcpy(target.v6, msg + 8, 16);
	if (dp_net_iface_is_local(ifc, &target)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (tlla && rte_is_unicast_ether_addr(tlla)) {
		dp_neigh_update(ifc, &ifc->neigh6, &target, tlla, false);
	} else if (!tlla && (msg[4] & NA_FLAG_S)) {
		/*
		 * Linux answers a unicast NS (our reachability probe) without the
		 * TLLA; RFC 4861 7.2.5: a solicited NA still confirms the MAC we
		 * have, here the one the frame came from. It names none to learn.
		 */
		eth = rte_pktmbuf_mtod_offset(m, const struct rte_ether_hdr *, -(int)sizeof(*eth));
		dp_neigh_confirm(ifc, &ifc->neigh6, &target, &eth->src_addr, false);
	}
	rte_pktmbuf_free(m);
}

int dp_nd_solicit(struct dp_net_iface *ifc, const struct dp_ip_addr *target,
		  const struct rte_ether_addr *unicast)
{
	struct dp_ip_addr src, group;
	struct rte_ether_addr mac;

	if (dp_net_iface_source_for(ifc, target, &src) < 0)
		return -EADDRNOTAVAIL;
	if (unicast)
		return nd_send(ifc, DP_ICMP6_NS, 0, src.v6, target->v6, unicast, target->v6);
	dp_ipv6_solicited_node(target, &group);
	dp_ipv6_mcast_mac(&group, &mac);
	return nd_send(ifc, DP_ICMP6_NS, 0, src.v6, group.v6, &mac, target->v6);
}

int dp_nd_announce(struct dp_net_iface *ifc, const struct dp_ip_addr *a)
{
	struct dp_ip_addr an = {.family = AF_INET6, .v6 = {0xff, 0x02, [15] = 1}};
	struct rte_ether_addr mac;

	dp_ipv6_mcast_mac(&an, &mac);
	return nd_send(ifc, DP_ICMP6_NA, NA_FLAG_O, a->v6, an.v6, &mac, a->v6);
}
