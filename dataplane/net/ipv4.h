/* SPDX-License-Identifier: MIT */
/*
 * IPv4 input (header validation and dispatch to ICMP and TCP) and output
 * (header, checksums, routing to the neighbour or gateway). Owner lcore only.
 *
 * Policy: fragments are dropped and counted (no reassembly; we send with
 * DF); options are tolerated: skipped, never acted on, counted in
 * ip_options; TTL 0 is dropped (no host sends it); packets from
 * multicast, broadcast, loopback, unspecified or our own addresses are
 * dropped; only our unicast addresses are accepted as destination.
 */
#ifndef DP_NET_IPV4_H
#define DP_NET_IPV4_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "dataplane/net/addr.h"

struct dp_net_iface;

/*
 * One IPv4 packet; m's data starts at the IP header and the Ethernet header
 * is still in the headroom just before it (replies reuse it). Takes
 * ownership of m. Owner lcore.
 */
void dp_ipv4_input(struct dp_net_iface *ifc, struct rte_mbuf *m);

/*
 * Prepend an IPv4 header (DF set, TTL DP_NET_TTL) from flow->local to
 * flow->remote over m (data at the TCP header), fill the TCP checksum and
 * send to the neighbour nh. Takes ownership of m. Returns what
 * dp_net_ip_output documents.
 */
int dp_ipv4_output_tcp(struct dp_net_iface *ifc, struct rte_mbuf *m, const struct dp_flow *flow,
		       const struct dp_ip_addr *nh);

#endif
