/* SPDX-License-Identifier: MIT */
/*
 * ARP (RFC 826) for Ethernet and IPv4: answer requests for our addresses,
 * learn senders into the IPv4 neighbour cache, send requests to resolve and
 * gratuitous ARP at start. Owner lcore only.
 */
#ifndef DP_NET_ARP_H
#define DP_NET_ARP_H

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/net/addr.h"

struct dp_net_iface;

/*
 * One ARP frame (data at the Ethernet header). Validates it, learns the
 * sender, answers a request for one of our addresses in place. Takes
 * ownership of m. Owner lcore.
 */
void dp_arp_input(struct dp_net_iface *ifc, struct rte_mbuf *m);

/*
 * Ask who has target: broadcast, or to unicast when refreshing a known MAC.
 * Source is our address on target's prefix. Returns 0 or -errno (-ENOMEM: no
 * mbuf; -EADDRNOTAVAIL: no IPv4 address). Owner lcore.
 */
int dp_arp_request(struct dp_net_iface *ifc, const struct dp_ip_addr *target,
		   const struct rte_ether_addr *unicast);

/* Broadcast a gratuitous ARP request for our address a. Returns 0 or -ENOMEM. */
int dp_arp_announce(struct dp_net_iface *ifc, const struct dp_ip_addr *a);

#endif
