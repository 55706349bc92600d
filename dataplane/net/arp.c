/* SPDX-License-Identifier: MIT */
/*
 * ARP input, replies, requests and gratuitous announcements.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/net/arp.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/neigh.h"

#define ARP_FRAME_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr))

static bool arp_header_valid(const struct rte_arp_hdr *a)
{
	return a->arp_hardware == rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) &&
	       a->arp_protocol == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
	       a->arp_hlen == RTE_ETHER_ADDR_LEN && a->arp_plen == 4 &&
	       (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
		a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY));
}

void dp_arp_input(struct dp_net_iface *ifc, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *a;
	struct dp_ip_addr sip = {.family = AF_INET}, tip = {.family = AF_INET};
	bool for_us;

	if (rte_pktmbuf_data_len(m) < ARP_FRAME_LEN) {
		dp_net_drop(ifc, m, DP_NET_DROP_ARP_MALFORMED);
		return;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	a = (struct rte_arp_hdr *)(eth + 1);
	/* A group sender MAC would let one frame poison the cache for everyone. */
	if (!arp_header_valid(a) || !rte_is_unicast_ether_addr(&a->arp_data.arp_sha)) {
		dp_net_drop(ifc, m, DP_NET_DROP_ARP_MALFORMED);
		return;
	}
	sip.v4 = a->arp_data.arp_sip;
	tip.v4 = a->arp_data.arp_tip;
	for_us = dp_net_iface_is_local(ifc, &tip);
	/*
	 * Sender 0.0.0.0 is an address probe (RFC 5227): nothing to learn. Nor
	 * from a broadcast or other impossible sender: packets queued for it
	 * would go out to a broadcast address.
	 */
	if (!dp_net_iface_bad_source4(ifc, sip.v4))
		dp_neigh_update(ifc, &ifc->neigh4, &sip, &a->arp_data.arp_sha, for_us);
	if (ifc->learn_only) {
		rte_pktmbuf_free(m);
		return;
	}
	if (!for_us) {
		dp_net_drop(ifc, m, DP_NET_DROP_ARP_NOT_OURS);
		return;
	}
	if (a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Answer in place: the request becomes the reply. */
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	rte_ether_addr_copy(&a->arp_data.arp_sha, &a->arp_data.arp_tha);
	rte_ether_addr_copy(&ifc->mac, &a->arp_data.arp_sha);
	a->arp_data.arp_tip = sip.v4;
	a->arp_data.arp_sip = tip.v4;
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	m->ol_flags = 0;
	dp_net_count(ifc, DP_NET_ARP_REPLIES);
	dp_net_iface_xmit(ifc, m);
}

static int arp_send(struct dp_net_iface *ifc, uint32_t sip, uint32_t tip,
		    const struct rte_ether_addr *unicast)
{
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *a;
	struct rte_mbuf *m;

	m = rte_pktmbuf_alloc(ifc->pool);
	if (!m) {
		dp_net_count(ifc, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, ARP_FRAME_LEN);
	if (!eth) {
		dp_net_drop(ifc, m, DP_NET_DROP_NOMEM);
		return -ENOMEM;
	}
	a = (struct rte_arp_hdr *)(eth + 1);
	if (unicast)
		rte_ether_addr_copy(unicast, &eth->dst_addr);
	else
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&ifc->mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = sip;
	memset(&a->arp_data.arp_tha, 0, sizeof(a->arp_data.arp_tha));
	a->arp_data.arp_tip = tip;
	dp_net_count(ifc, DP_NET_ARP_REQUESTS);
	dp_net_iface_xmit(ifc, m);
	return 0;
}

int dp_arp_request(struct dp_net_iface *ifc, const struct dp_ip_addr *target,
		   const struct rte_ether_addr *unicast)
{
	struct dp_ip_addr src;

	if (dp_net_iface_source_for(ifc, target, &src) < 0)
		return -EADDRNOTAVAIL;
	return arp_send(ifc, src.v4, target->v4, unicast);
}

int dp_arp_announce(struct dp_net_iface *ifc, const struct dp_ip_addr *a)
{
	return arp_send(ifc, a->v4, a->v4, NULL);
}
