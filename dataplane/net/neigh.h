/* SPDX-License-Identifier: MIT */
/*
 * The neighbour cache shared by ARP (IPv4) and neighbour discovery (IPv6):
 * IP address -> MAC, with expiry, bounded retries and a bounded queue of
 * packets waiting for resolution per neighbour. One table per family per
 * lcore; owner lcore only.
 *
 * Design: a fixed array of entries chained from hash buckets (no allocation
 * on the data path). An entry is INCOMPLETE (no MAC yet: packets wait, a
 * solicitation goes out every DP_NEIGH_RETRY_US up to DP_NEIGH_MAX_PROBES
 * times, then the entry and its packets are dropped) or has a MAC. A MAC older
 * than the reachable time is still used, but the first use after expiry
 * sends unicast probes while the packets still go to that MAC; without an
 * answer the entry is removed. When the table is full the entry under a
 * rotating clock hand is evicted.
 *
 * Traffic confirms too (RFC 4861 7.3.1, RFC 1122 2.3.2.1): a TCP segment to
 * us from the MAC an entry holds restarts its reachable time and ends its
 * probing, so a neighbour we are talking to never lapses into re-resolution
 * (which would queue a window's worth of segments behind the 8 slots and
 * drop the rest). Trust: an on-link host can forge a frame as easily as an
 * ARP reply, so a segment is believed as much as ARP, with two limits: it
 * never replaces a MAC that ARP/ND gave (a forger cannot move a resolved
 * neighbour) and never creates an entry (a flood of forged sources cannot
 * churn the table). It may complete an INCOMPLETE one for an on-link sender
 * (the SYN that made us answer it), and the ARP/ND reply still overrides.
 */
#ifndef DP_NET_NEIGH_H
#define DP_NET_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/net/addr.h"

#define DP_NEIGH_MAX		      256 /* entries per table */
#define DP_NEIGH_BUCKETS	      256
#define DP_NEIGH_PENDING_MAX	      8 /* packets queued per unresolved neighbour */
#define DP_NEIGH_MAX_PROBES	      3
#define DP_NEIGH_RETRY_US	      1000000
#define DP_NEIGH_REACHABLE_US_DEFAULT 60000000

struct dp_net_iface;

enum dp_neigh_state {
	DP_NEIGH_FREE = 0,
	DP_NEIGH_INCOMPLETE, /* no MAC yet; packets wait */
	DP_NEIGH_REACHABLE,  /* MAC confirmed within the reachable time */
	DP_NEIGH_PROBING,    /* MAC expired but still used while probes go out */
};

struct dp_neigh_entry {
	struct dp_ip_addr ip;
	struct rte_ether_addr mac;
	uint8_t state; /* enum dp_neigh_state */
	uint8_t probes;
	uint8_t n_pending;
	int32_t next; /* next entry in the bucket or free list; -1 ends */
	uint64_t expires_us;
	uint64_t next_probe_us;
	struct rte_mbuf *pending[DP_NEIGH_PENDING_MAX];
};

/* Owner lcore only. */
struct dp_neigh_table {
	uint8_t family;
	unsigned count;
	unsigned clock;
	int32_t free_head;
	uint64_t reachable_us;
	int32_t buckets[DP_NEIGH_BUCKETS];
	struct dp_neigh_entry entries[DP_NEIGH_MAX];
};

/* Empty table t for family (AF_INET or AF_INET6). */
void dp_neigh_init(struct dp_neigh_table *t, uint8_t family, uint64_t reachable_us);

/* Free every queued packet and forget every entry. */
void dp_neigh_fini(struct dp_neigh_table *t);

/* The entry for ip, or NULL. Owner lcore. */
struct dp_neigh_entry *dp_neigh_lookup(struct dp_neigh_table *t, const struct dp_ip_addr *ip);

/*
 * Send m (data at a complete Ethernet header whose destination is filled in
 * here) to neighbour ip: at once when its MAC is known, else queue it and
 * solicit. Takes ownership of m. Returns 0, or -ENOBUFS when the queue is
 * full (m is dropped and counted). Owner lcore.
 */
int dp_neigh_output(struct dp_net_iface *ifc, struct dp_neigh_table *t, struct rte_mbuf *m,
		    const struct dp_ip_addr *ip);

/*
 * ip is at mac (from an ARP or NA). Updates an existing entry (and sends its
 * queued packets); creates one only when create is true (we were the target,
 * RFC 826 / RFC 4861 7.2.3). Owner lcore.
 */
void dp_neigh_update(struct dp_net_iface *ifc, struct dp_neigh_table *t,
		     const struct dp_ip_addr *ip, const struct rte_ether_addr *mac, bool create);

/*
 * A frame from mac carried ip's traffic to us (a TCP segment; ip is the
 * sender's next hop: itself on link, else the gateway). An entry with a MAC
 * equal to mac becomes REACHABLE for another reachable time (probing stops);
 * an entry with another MAC, or none, is left alone. When fill is true an
 * INCOMPLETE entry takes mac, becomes REACHABLE and sends its queue (counted
 * as neigh_learned); callers pass fill only for a sender on link. A
 * group mac is ignored. Owner lcore.
 */
void dp_neigh_confirm(struct dp_net_iface *ifc, struct dp_neigh_table *t,
		      const struct dp_ip_addr *ip, const struct rte_ether_addr *mac, bool fill);

/* Retries and expiry at ifc->now_us; returns microseconds until the next due event. */
uint64_t dp_neigh_timers(struct dp_net_iface *ifc, struct dp_neigh_table *t);

#endif
