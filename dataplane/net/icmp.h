/* SPDX-License-Identifier: MIT */
/*
 * ICMP for IPv4: answer echo requests; every other type is counted and
 * dropped (the stack sends no errors of its own). Owner lcore only.
 */
#ifndef DP_NET_ICMP_H
#define DP_NET_ICMP_H

#include <rte_mbuf.h>

struct dp_net_iface;

/*
 * One ICMP packet addressed to us; m's data starts at a validated IPv4
 * header, the Ethernet header still in the headroom. An echo request is
 * answered in place (IP options dropped from the reply) to the MAC it came
 * from. Takes ownership of m. Owner lcore.
 */
void dp_icmp_input(struct dp_net_iface *ifc, struct rte_mbuf *m);

#endif
