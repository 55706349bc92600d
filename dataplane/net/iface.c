/* SPDX-License-Identifier: MIT */
/*
 * The per-lcore interface: addresses, Ethernet input dispatch and output,
 * TX staging, neighbour timers, the IP output entry point of TCP, counters.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/arp.h"
#include "dataplane/net/icmp6.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/ipv4.h"
#include "dataplane/net/ipv6.h"
#include "dataplane/net/nd.h"

static const char *const counter_names[DP_NET_COUNTER_MAX] = {
    [DP_NET_RX_PACKETS] = "rx_packets",
    [DP_NET_RX_BYTES] = "rx_bytes",
    [DP_NET_TX_PACKETS] = "tx_packets",
    [DP_NET_TX_BYTES] = "tx_bytes",
    [DP_NET_RX_ARP] = "rx_arp",
    [DP_NET_RX_IPV4] = "rx_ipv4",
    [DP_NET_RX_IPV6] = "rx_ipv6",
    [DP_NET_RX_TCP] = "rx_tcp",
    [DP_NET_ARP_REPLIES] = "arp_replies",
    [DP_NET_ARP_REQUESTS] = "arp_requests",
    [DP_NET_ND_ADVERTS] = "nd_adverts",
    [DP_NET_ND_SOLICITS] = "nd_solicits",
    [DP_NET_ICMP_ECHO_REPLIES] = "icmp_echo_replies",
    [DP_NET_ICMP6_ECHO_REPLIES] = "icmp6_echo_replies",
    [DP_NET_IP_OPTIONS] = "ip_options",
    [DP_NET_IP6_EXT_SKIPPED] = "ip6_ext_skipped",
    [DP_NET_NEIGH_RESOLVED] = "neigh_resolved",
    [DP_NET_NEIGH_LEARNED] = "neigh_learned",
    [DP_NET_DROP_ETH_SHORT] = "drop_eth_short",
    [DP_NET_DROP_ETH_NOT_OURS] = "drop_eth_not_ours",
    [DP_NET_DROP_ETH_TYPE] = "drop_eth_type",
    [DP_NET_DROP_ARP_MALFORMED] = "drop_arp_malformed",
    [DP_NET_DROP_ARP_NOT_OURS] = "drop_arp_not_ours",
    [DP_NET_DROP_IP_SHORT] = "drop_ip_short",
    [DP_NET_DROP_IP_VERSION] = "drop_ip_version",
    [DP_NET_DROP_IP_HDR_LEN] = "drop_ip_hdr_len",
    [DP_NET_DROP_IP_TOTAL_LEN] = "drop_ip_total_len",
    [DP_NET_DROP_IP_CKSUM] = "drop_ip_cksum",
    [DP_NET_DROP_IP_TTL] = "drop_ip_ttl",
    [DP_NET_DROP_IP_FRAG] = "drop_ip_frag",
    [DP_NET_DROP_IP_SRC] = "drop_ip_src",
    [DP_NET_DROP_IP_NOT_OURS] = "drop_ip_not_ours",
    [DP_NET_DROP_IP_PROTO] = "drop_ip_proto",
    [DP_NET_DROP_IP6_EXT] = "drop_ip6_ext",
    [DP_NET_DROP_IP6_FRAG] = "drop_ip6_frag",
    [DP_NET_DROP_ICMP_MALFORMED] = "drop_icmp_malformed",
    [DP_NET_DROP_ICMP_CKSUM] = "drop_icmp_cksum",
    [DP_NET_DROP_ICMP_TYPE] = "drop_icmp_type",
    [DP_NET_DROP_ND_MALFORMED] = "drop_nd_malformed",
    [DP_NET_DROP_ND_NOT_OURS] = "drop_nd_not_ours",
    [DP_NET_DROP_TCP_NO_STACK] = "drop_tcp_no_stack",
    [DP_NET_DROP_NEIGH_QUEUE] = "drop_neigh_queue",
    [DP_NET_DROP_NEIGH_UNRESOLVED] = "drop_neigh_unresolved",
    [DP_NET_DROP_NO_ROUTE] = "drop_no_route",
    [DP_NET_DROP_NOMEM] = "drop_nomem",
    [DP_NET_DROP_TX_FULL] = "drop_tx_full",
};

const char *dp_net_counter_name(enum dp_net_counter c)
{
	return (unsigned)c < DP_NET_COUNTER_MAX ? counter_names[c] : "unknown";
}

int dp_net_iface_init(struct dp_net_iface *ifc, const struct dp_net_iface_config *cfg)
{
	struct dp_ip_addr ll = {.family = AF_INET6, .v6 = {0xfe, 0x80}};
	const uint8_t *mac = cfg->mac.addr_bytes;

	if (!cfg->pool || !cfg->tx)
		return -EINVAL;
	memset(ifc, 0, sizeof(*ifc));
	ifc->mac = cfg->mac;
	ifc->pool = cfg->pool;
	ifc->tx = cfg->tx;
	ifc->tx_ctx = cfg->tx_ctx;
	ifc->tx_offloads = cfg->tx_offloads;
	dp_neigh_init(&ifc->neigh4, AF_INET, cfg->neigh_reachable_us);
	dp_neigh_init(&ifc->neigh6, AF_INET6, cfg->neigh_reachable_us);
	/* The link-local address from the MAC (RFC 4291 appendix A), for ND with routers. */
	ll.v6[8] = mac[0] ^ 0x02;
	ll.v6[9] = mac[1];
	ll.v6[10] = mac[2];
	ll.v6[11] = 0xff;
	ll.v6[12] = 0xfe;
	ll.v6[13] = mac[3];
	ll.v6[14] = mac[4];
	ll.v6[15] = mac[5];
	return dp_net_iface_add_addr(ifc, &ll, 64);
}

void dp_net_iface_fini(struct dp_net_iface *ifc)
{
	for (uint16_t i = 0; i < ifc->n_tx; i++)
		rte_pktmbuf_free(ifc->tx_stage[i]);
	ifc->n_tx = 0;
	dp_neigh_fini(&ifc->neigh4);
	dp_neigh_fini(&ifc->neigh6);
}

static bool is_link_local(const struct dp_ip_addr *a)
{
	return a->family == AF_INET6 && a->v6[0] == 0xfe && (a->v6[1] & 0xc0) == 0x80;
}

static bool bad_unicast(const struct dp_ip_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_INET) {
		uint32_t h = rte_be_to_cpu_32(a->v4);
		return h == 0 || h == UINT32_MAX || (h >> 28) == 0xe;
	}
	return a->v6[0] == 0xff || memcmp(a->v6, zero, 16) == 0;
}

int dp_net_iface_add_addr(struct dp_net_iface *ifc, const struct dp_ip_addr *a, uint8_t prefix_len)
{
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    prefix_len > (a->family == AF_INET ? 32 : 128) || prefix_len == 0 || bad_unicast(a))
		return -EINVAL;
	if (dp_net_iface_is_local(ifc, a))
		return -EEXIST;
	if (ifc->n_addrs == DP_NET_MAX_ADDRS)
		return -ENOSPC;
	ifc->addrs[ifc->n_addrs].addr = *a;
	ifc->addrs[ifc->n_addrs].prefix_len = prefix_len;
	ifc->n_addrs++;
	return 0;
}

int dp_net_iface_set_gateway(struct dp_net_iface *ifc, const struct dp_ip_addr *gw)
{
	if (gw->family == AF_INET && !bad_unicast(gw))
		ifc->gw4 = *gw;
	else if (gw->family == AF_INET6 && !bad_unicast(gw))
		ifc->gw6 = *gw;
	else
		return -EINVAL;
	return 0;
}

void dp_net_iface_set_tcp(struct dp_net_iface *ifc, dp_net_tcp_input_fn fn, void *ctx)
{
	ifc->tcp_input = fn;
	ifc->tcp_ctx = ctx;
}

bool dp_net_iface_is_local(const struct dp_net_iface *ifc, const struct dp_ip_addr *a)
{
	for (unsigned i = 0; i < ifc->n_addrs; i++)
		if (dp_ip_addr_equal(&ifc->addrs[i].addr, a))
			return true;
	return false;
}

bool dp_net_iface_bad_source4(const struct dp_net_iface *ifc, uint32_t a_be)
{
	uint32_t h = rte_be_to_cpu_32(a_be);
	struct dp_ip_addr a = {.family = AF_INET, .v4 = a_be};

	if (h == 0 || (h >> 28) >= 0xe || (h >> 24) == 127 || dp_net_iface_is_local(ifc, &a))
		return true;
	for (unsigned i = 0; i < ifc->n_addrs; i++) {
		const struct dp_net_addr_entry *e = &ifc->addrs[i];
		uint32_t mask;

		/* /31 and /32 have no broadcast address (RFC 3021). */
		if (e->addr.family != AF_INET || e->prefix_len > 30)
			continue;
		mask = UINT32_MAX << (32 - e->prefix_len);
		if ((h & mask) == (rte_be_to_cpu_32(e->addr.v4) & mask) && (h | mask) == UINT32_MAX)
			return true;
	}
	return false;
}

static bool prefix_match(const struct dp_net_addr_entry *e, const struct dp_ip_addr *a)
{
	const uint8_t *x, *y;
	unsigned bits = e->prefix_len, full;

	if (e->addr.family != a->family)
		return false;
	x = a->family == AF_INET ? (const uint8_t *)&e->addr.v4 : e->addr.v6;
	y = a->family == AF_INET ? (const uint8_t *)&a->v4 : a->v6;
	full = bits / 8;
	if (memcmp(x, y, full) != 0)
		return false;
	if (bits % 8 == 0)
		return true;
	return ((x[full] ^ y[full]) & (0xff << (8 - bits % 8))) == 0;
}

bool dp_net_iface_on_link(const struct dp_net_iface *ifc, const struct dp_ip_addr *a)
{
	if (is_link_local(a))
		return true;
	for (unsigned i = 0; i < ifc->n_addrs; i++)
		if (prefix_match(&ifc->addrs[i], a))
			return true;
	return false;
}

int dp_net_iface_next_hop(const struct dp_net_iface *ifc, const struct dp_ip_addr *dst,
			  struct dp_ip_addr *nh)
{
	const struct dp_ip_addr *gw = dst->family == AF_INET ? &ifc->gw4 : &ifc->gw6;

	if (dp_net_iface_on_link(ifc, dst)) {
		*nh = *dst;
		return 0;
	}
	if (gw->family != dst->family)
		return -ENETUNREACH;
	*nh = *gw;
	return 0;
}

void dp_net_iface_heard_from(struct dp_net_iface *ifc, const struct dp_ip_addr *src,
			     const struct rte_ether_addr *mac)
{
	struct dp_ip_addr nh;

	if (dp_net_iface_next_hop(ifc, src, &nh) < 0)
		return;
	/* Frames from off link come through a router: they may confirm it, never name it. */
	dp_neigh_confirm(ifc, src->family == AF_INET ? &ifc->neigh4 : &ifc->neigh6, &nh, mac,
			 dp_ip_addr_equal(&nh, src));
}

void dp_net_iface_tcp_deliver(struct dp_net_iface *ifc, struct rte_mbuf *m, uint16_t l3_len,
			      const struct dp_ip_addr *src, const struct dp_ip_addr *dst)
{
	struct rte_ether_addr from;

	if (!ifc->tcp_input) {
		dp_net_drop(ifc, m, DP_NET_DROP_TCP_NO_STACK);
		return;
	}
	dp_net_count(ifc, DP_NET_RX_TCP);
	/* Copied out first: TCP owns m once it has it. */
	from = rte_pktmbuf_mtod_offset(m, const struct rte_ether_hdr *,
				       -(int)sizeof(struct rte_ether_hdr))
		   ->src_addr;
	rte_pktmbuf_adj(m, l3_len);
	ifc->tcp_input(ifc->tcp_ctx, m, src, dst);
	/* After the input: a SYN's answer may be waiting for this very neighbour. */
	dp_net_iface_heard_from(ifc, src, &from);
}

int dp_net_iface_source_for(const struct dp_net_iface *ifc, const struct dp_ip_addr *dst,
			    struct dp_ip_addr *src)
{
	const struct dp_ip_addr *first = NULL;
	bool want_ll = is_link_local(dst);

	for (unsigned i = 0; i < ifc->n_addrs; i++) {
		const struct dp_net_addr_entry *e = &ifc->addrs[i];

		if (e->addr.family != dst->family)
			continue;
		if (want_ll ? is_link_local(&e->addr) : prefix_match(e, dst)) {
			*src = e->addr;
			return 0;
		}
		if (!first || (is_link_local(first) && !is_link_local(&e->addr)))
			first = &e->addr;
	}
	if (!first)
		return -ENOENT;
	*src = *first;
	return 0;
}

static bool eth_dst_ours(const struct dp_net_iface *ifc, const struct rte_ether_addr *d)
{
	/* 33:33:... is IPv6 multicast; the IPv6 layer decides which groups are ours. */
	return rte_is_same_ether_addr(d, &ifc->mac) || rte_is_broadcast_ether_addr(d) ||
	       (d->addr_bytes[0] == 0x33 && d->addr_bytes[1] == 0x33);
}

void dp_net_iface_input(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth;

	if (!ifc->learn_only) {
		dp_net_count(ifc, DP_NET_RX_PACKETS);
		ifc->counters[DP_NET_RX_BYTES] += rte_pktmbuf_pkt_len(m);
	}
	if (rte_pktmbuf_data_len(m) < sizeof(*eth)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ETH_SHORT);
		return;
	}
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (!eth_dst_ours(ifc, &eth->dst_addr)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ETH_NOT_OURS);
		return;
	}
	switch (rte_be_to_cpu_16(eth->ether_type)) {
	case RTE_ETHER_TYPE_ARP:
		if (!ifc->learn_only)
			dp_net_count(ifc, DP_NET_RX_ARP);
		dp_arp_input(ifc, m);
		return;
	case RTE_ETHER_TYPE_IPV4:
		rte_pktmbuf_adj(m, sizeof(*eth));
		dp_ipv4_input(ifc, m);
		return;
	case RTE_ETHER_TYPE_IPV6:
		rte_pktmbuf_adj(m, sizeof(*eth));
		dp_ipv6_input(ifc, m);
		return;
	default:
		dp_net_drop(ifc, m, DP_NET_DROP_ETH_TYPE);
		return;
	}
}

bool dp_net_frame_teaches_neighbours(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv6_hdr *ip;
	uint8_t type;

	if (rte_pktmbuf_data_len(m) < sizeof(*eth))
		return false;
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return true;
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) ||
	    rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(*ip) + 1)
		return false;
	ip = (const struct rte_ipv6_hdr *)(eth + 1);
	type = *(const uint8_t *)(ip + 1);
	return ip->proto == IPPROTO_ICMPV6 && (type == DP_ICMP6_NS || type == DP_ICMP6_NA);
}

void dp_net_iface_learn(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	ifc->learn_only = true;
	dp_net_iface_input(ifc, m);
	ifc->learn_only = false;
}

void dp_net_iface_announce(struct dp_net_iface *ifc)
{
	for (unsigned i = 0; i < ifc->n_addrs; i++) {
		const struct dp_ip_addr *a = &ifc->addrs[i].addr;

		if (a->family == AF_INET)
			dp_arp_announce(ifc, a);
		else
			dp_nd_announce(ifc, a);
	}
}

uint64_t dp_net_iface_timers(struct dp_net_iface *ifc)
{
	uint64_t a = dp_neigh_timers(ifc, &ifc->neigh4);
	uint64_t b = dp_neigh_timers(ifc, &ifc->neigh6);

	return a < b ? a : b;
}

void dp_net_iface_xmit(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	ifc->tx_stage[ifc->n_tx++] = m;
	if (ifc->n_tx == DP_NET_TX_BURST)
		dp_net_iface_flush(ifc);
}

void dp_net_iface_reply(struct dp_net_iface *ifc, struct rte_mbuf *m, enum dp_net_counter c)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));

	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	m->ol_flags = 0;
	dp_net_count(ifc, c);
	dp_net_iface_xmit(ifc, m);
}

void dp_net_iface_flush(struct dp_net_iface *ifc)
{
	uint64_t bytes[DP_NET_TX_BURST];
	uint16_t n = ifc->n_tx, sent;

	if (n == 0)
		return;
	/* Lengths first: the port may free a frame as soon as it has it. */
	for (uint16_t i = 0; i < n; i++)
		bytes[i] = rte_pktmbuf_pkt_len(ifc->tx_stage[i]);
	ifc->n_tx = 0;
	sent = ifc->tx(ifc->tx_ctx, ifc->tx_stage, n);
	for (uint16_t i = 0; i < n; i++) {
		if (i < sent) {
			ifc->counters[DP_NET_TX_PACKETS]++;
			ifc->counters[DP_NET_TX_BYTES] += bytes[i];
		} else {
			dp_net_drop(ifc, ifc->tx_stage[i], DP_NET_DROP_TX_FULL);
		}
	}
}

int dp_net_eth_output(struct dp_net_iface *ifc, struct rte_mbuf *m,
		      const struct dp_ip_addr *next_hop, uint16_t ether_type)
{
	struct rte_ether_hdr *eth;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (!eth) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	m->l2_len = sizeof(*eth);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(ether_type);
	return dp_neigh_output(ifc, next_hop->family == AF_INET ? &ifc->neigh4 : &ifc->neigh6, m,
			       next_hop);
}

int dp_net_ip_output(void *ctx, struct rte_mbuf *m, const struct dp_flow *flow)
{
	struct dp_net_iface *ifc = ctx;
	struct dp_ip_addr nh;
	int rc;

	if ((flow->local.family != AF_INET && flow->local.family != AF_INET6) ||
	    flow->remote.family != flow->local.family) {
		dp_net_drop(ifc, m, DP_NET_DROP_NO_ROUTE);
		return -EAFNOSUPPORT;
	}
	if (!dp_net_iface_is_local(ifc, &flow->local)) {
		dp_net_drop(ifc, m, DP_NET_DROP_NO_ROUTE);
		return -EADDRNOTAVAIL;
	}
	rc = dp_net_iface_next_hop(ifc, &flow->remote, &nh);
	if (rc < 0) {
		dp_net_drop(ifc, m, DP_NET_DROP_NO_ROUTE);
		return rc;
	}
	if (flow->local.family == AF_INET)
		return dp_ipv4_output_tcp(ifc, m, flow, &nh);
	return dp_ipv6_output_tcp(ifc, m, flow, &nh);
}
