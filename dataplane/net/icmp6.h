/* SPDX-License-Identifier: MIT */
/*
 * ICMPv6: checksum, dispatch of neighbour discovery to nd.c, and echo
 * replies. Router advertisements, redirects and errors are counted and
 * dropped (addresses and gateway come from the config). Owner lcore only.
 */
#ifndef DP_NET_ICMP6_H
#define DP_NET_ICMP6_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

struct dp_net_iface;

#define DP_ICMP6_ECHO_REQUEST 128
#define DP_ICMP6_ECHO_REPLY   129
#define DP_ICMP6_NS	      135
#define DP_ICMP6_NA	      136

/*
 * One ICMPv6 message: m's data starts at a validated IPv6 header, the
 * message at off, the Ethernet header in the headroom; mcast says the
 * destination was a multicast group. Takes ownership of m. Owner lcore.
 */
void dp_icmp6_input(struct dp_net_iface *ifc, struct rte_mbuf *m, uint32_t off, bool mcast);

#endif
