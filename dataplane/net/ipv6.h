/* SPDX-License-Identifier: MIT */
/*
 * IPv6 input (header validation, extension headers, dispatch to ICMPv6 and
 * TCP) and output for TCP. Owner lcore only.
 *
 * Policy: hop-by-hop (first only), destination options and routing headers
 * with no segments left are skipped, their options checked as RFC 8200 4.2
 * says (an unknown option whose type says "discard" drops the packet);
 * a routing header with segments left, a fragment header (no reassembly) and
 * any other extension header are dropped and counted. Hop limit 0 is
 * dropped. Accepted destinations: our unicast addresses; for ICMPv6 also
 * all-nodes (ff02::1) and the solicited-node group of each of our addresses.
 */
#ifndef DP_NET_IPV6_H
#define DP_NET_IPV6_H

#include <stdint.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/addr.h"

struct dp_net_iface;

/*
 * One IPv6 packet; m's data starts at the IPv6 header, the Ethernet header
 * still in the headroom. Takes ownership of m. Owner lcore.
 */
void dp_ipv6_input(struct dp_net_iface *ifc, struct rte_mbuf *m);

/* Like dp_ipv4_output_tcp for IPv6 (no extension headers). */
int dp_ipv6_output_tcp(struct dp_net_iface *ifc, struct rte_mbuf *m, const struct dp_flow *flow,
		       const struct dp_ip_addr *nh);

/*
 * One's complement sum (folded, not complemented) of the IPv6 pseudo-header
 * for proto and the len bytes of m from off on. A received packet is intact
 * when this is 0xffff; to send, store the complement with the field zeroed.
 */
uint16_t dp_ipv6_l4_sum(const struct rte_mbuf *m, const struct rte_ipv6_hdr *ip, uint32_t off,
			uint32_t len, uint8_t proto);

/* The solicited-node multicast group of a (ff02::1:ffXX:XXXX). */
void dp_ipv6_solicited_node(const struct dp_ip_addr *a, struct dp_ip_addr *group);

/* The Ethernet multicast address of IPv6 group g (33:33 + its last 32 bits). */
void dp_ipv6_mcast_mac(const struct dp_ip_addr *g, struct rte_ether_addr *mac);

#endif
