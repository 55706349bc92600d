/* SPDX-License-Identifier: MIT */
/*
 * IPv6 neighbour discovery (RFC 4861), the part a host on one link needs:
 * answer neighbour solicitations for our addresses (sent to the address or
 * to its solicited-node group), learn from solicitations and advertisements,
 * solicit to resolve, announce our addresses at start. No router discovery,
 * no DAD of our own (addresses come from the config). Owner lcore only.
 */
#ifndef DP_NET_ND_H
#define DP_NET_ND_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/net/addr.h"

struct dp_net_iface;

/*
 * A neighbour solicitation at off (checksum already verified). Validates it
 * (RFC 4861 7.1.1), learns the sender's link-layer address when the target is
 * ours, and answers with a solicited advertisement. Takes ownership of m.
 */
void dp_nd_input_ns(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off);

/*
 * A neighbour advertisement at off (checksum verified; mcast: sent to a
 * group). Validates it (RFC 4861 7.1.2) and updates an existing cache entry
 * with its target link-layer address. Takes ownership of m.
 */
void dp_nd_input_na(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off, bool mcast);

/*
 * Solicit target's link-layer address: to its solicited-node group, or to
 * unicast when re-checking a known MAC. Returns 0 or -errno (-ENOMEM,
 * -EADDRNOTAVAIL: no IPv6 source).
 */
int dp_nd_solicit(struct dp_net_iface *ifc, const struct dp_ip_addr *target,
		  const struct rte_ether_addr *unicast);

/* Advertise our address a to all nodes (override set, unsolicited). 0 or -ENOMEM. */
int dp_nd_announce(struct dp_net_iface *ifc, const struct dp_ip_addr *a);

#endif
