/* SPDX-License-Identifier: MIT */
/*
 * The neighbour cache: lookup, resolution with a bounded queue, expiry and
 * eviction (design note in neigh.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_jhash.h>
#include <rte_mbuf.h>

#include "dataplane/net/arp.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/neigh.h"
#include "dataplane/net/nd.h"

static uint32_t bucket_of(const struct dp_neigh_table *t, const struct dp_ip_addr *ip)
{
	if (t->family == AF_INET)
		return rte_jhash_1word(ip->v4, 0) % DP_NEIGH_BUCKETS;
	return rte_jhash(ip->v6, sizeof(ip->v6), 0) % DP_NEIGH_BUCKETS;
}

void dp_neigh_init(struct dp_neigh_table *t, uint8_t family, uint64_t reachable_us)
{
	memset(t, 0, sizeof(*t));
	t->family = family;
	t->reachable_us = reachable_us ? reachable_us : DP_NEIGH_REACHABLE_US_DEFAULT;
	for (unsigned i = 0; i < DP_NEIGH_BUCKETS; i++)
		t->buckets[i] = -1;
	for (unsigned i = 0; i < DP_NEIGH_MAX; i++)
		t->entries[i].next = i + 1 < DP_NEIGH_MAX ? (int32_t)(i + 1) : -1;
	t->free_head = 0;
}

static void drop_pending(struct dp_net_iface *ifc, struct dp_neigh_entry *e)
{
	for (unsigned i = 0; i < e->n_pending; i++) {
		if (ifc)
			dp_net_drop(ifc, e->pending[i], DP_NET_DROP_NEIGH_UNRESOLVED);
		else
			rte_pktmbuf_free(e->pending[i]);
	}
	e->n_pending = 0;
}

void dp_neigh_fini(struct dp_neigh_table *t)
{
	for (unsigned i = 0; i < DP_NEIGH_MAX; i++)
		if (t->entries[i].state != DP_NEIGH_FREE)
			drop_pending(NULL, &t->entries[i]);
	dp_neigh_init(t, t->family, t->reachable_us);
}

struct dp_neigh_entry *dp_neigh_lookup(struct dp_neigh_table *t, const struct dp_ip_addr *ip)
{
	for (int32_t i = t->buckets[bucket_of(t, ip)]; i >= 0; i = t->entries[i].next)
		if (dp_ip_addr_equal(&t->entries[i].ip, ip))
			return &t->entries[i];
	return NULL;
}

static void entry_remove(struct dp_net_iface *ifc, struct dp_neigh_table *t,
			 struct dp_neigh_entry *e)
{
	int32_t idx = (int32_t)(e - t->entries);
	int32_t *link = &t->buckets[bucket_of(t, &e->ip)];

	while (*link != idx)
		link = &t->entries[*link].next;
	*link = e->next;
	drop_pending(ifc, e);
	e->state = DP_NEIGH_FREE;
	e->next = t->free_head;
	t->free_head = idx;
	t->count--;
}

static struct dp_neigh_entry *entry_add(struct dp_net_iface *ifc, struct dp_neigh_table *t,
					const struct dp_ip_addr *ip)
{
	struct dp_neigh_entry *e;
	uint32_t b;

	if (t->free_head < 0) {
		/* Full: evict whatever the clock hand points at; a live neighbour re-resolves. */
		e = &t->entries[t->clock++ % DP_NEIGH_MAX];
		entry_remove(ifc, t, e);
	}
	e = &t->entries[t->free_head];
	t->free_head = e->next;
	memset(e, 0, sizeof(*e));
	e->ip = *ip;
	b = bucket_of(t, ip);
	e->next = t->buckets[b];
	t->buckets[b] = (int32_t)(e - t->entries);
	t->count++;
	return e;
}

static void solicit(struct dp_net_iface *ifc, struct dp_neigh_table *t, struct dp_neigh_entry *e)
{
	/* An expired MAC is probed directly (RFC 4861 7.3.3); an unknown one by broadcast. */
	const struct rte_ether_addr *unicast = e->state == DP_NEIGH_PROBING ? &e->mac : NULL;

	e->probes++;
	e->next_probe_us = ifc->now_us + DP_NEIGH_RETRY_US;
	if (t->family == AF_INET)
		dp_arp_request(ifc, &e->ip, unicast);
	else
		dp_nd_solicit(ifc, &e->ip, unicast);
}

static void send_to(struct dp_net_iface *ifc, struct dp_neigh_entry *e, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	rte_ether_addr_copy(&e->mac, &eth->dst_addr);
	dp_net_iface_xmit(ifc, m);
}

int dp_neigh_output(struct dp_net_iface *ifc, struct dp_neigh_table *t, struct rte_mbuf *m,
		    const struct dp_ip_addr *ip)
{
	struct dp_neigh_entry *e = dp_neigh_lookup(t, ip);

	if (!e) {
		e = entry_add(ifc, t, ip);
		e->state = DP_NEIGH_INCOMPLETE;
		e->pending[e->n_pending++] = m;
		solicit(ifc, t, e);
		return 0;
	}
	if (e->state == DP_NEIGH_INCOMPLETE) {
		if (e->n_pending == DP_NEIGH_PENDING_MAX) {
			dp_net_drop(ifc, m, DP_NET_DROP_NEIGH_QUEUE);
			return -ENOBUFS;
		}
		e->pending[e->n_pending++] = m;
		return 0;
	}
	if (e->state == DP_NEIGH_REACHABLE && ifc->now_us >= e->expires_us) {
		e->state = DP_NEIGH_PROBING;
		e->probes = 0;
		solicit(ifc, t, e);
	}
	send_to(ifc, e, m);
	return 0;
}

/* e is at mac, confirmed now: REACHABLE, and whatever waited goes out in order. */
static void make_reachable(struct dp_net_iface *ifc, struct dp_neigh_table *t,
			   struct dp_neigh_entry *e, const struct rte_ether_addr *mac)
{
	rte_ether_addr_copy(mac, &e->mac);
	e->state = DP_NEIGH_REACHABLE;
	e->probes = 0;
	e->expires_us = ifc->now_us + t->reachable_us;
	for (unsigned i = 0; i < e->n_pending; i++)
		send_to(ifc, e, e->pending[i]);
	e->n_pending = 0;
}

void dp_neigh_update(struct dp_net_iface *ifc, struct dp_neigh_table *t,
		     const struct dp_ip_addr *ip, const struct rte_ether_addr *mac, bool create)
{
	struct dp_neigh_entry *e = dp_neigh_lookup(t, ip);

	if (!e) {
		if (!create)
			return;
		e = entry_add(ifc, t, ip);
	}
	if (e->state == DP_NEIGH_INCOMPLETE)
		dp_net_count(ifc, DP_NET_NEIGH_RESOLVED);
	make_reachable(ifc, t, e, mac);
}

void dp_neigh_confirm(struct dp_net_iface *ifc, struct dp_neigh_table *t,
		      const struct dp_ip_addr *ip, const struct rte_ether_addr *mac, bool fill)
{
	struct dp_neigh_entry *e;

	if (t->count == 0 || !rte_is_unicast_ether_addr(mac))
		return;
	e = dp_neigh_lookup(t, ip);
	if (!e)
		return;
	if (e->state == DP_NEIGH_INCOMPLETE) {
		if (!fill)
			return;
		dp_net_count(ifc, DP_NET_NEIGH_LEARNED);
	} else if (!rte_is_same_ether_addr(&e->mac, mac)) {
		return;
	}
	make_reachable(ifc, t, e, mac);
}

uint64_t dp_neigh_timers(struct dp_net_iface *ifc, struct dp_neigh_table *t)
{
	uint64_t next = DP_NEIGH_RETRY_US;

	if (t->count == 0)
		return next;
	for (unsigned i = 0; i < DP_NEIGH_MAX; i++) {
		struct dp_neigh_entry *e = &t->entries[i];

		if (e->state != DP_NEIGH_INCOMPLETE && e->state != DP_NEIGH_PROBING)
			continue;
		if (ifc->now_us < e->next_probe_us) {
			if (e->next_probe_us - ifc->now_us < next)
				next = e->next_probe_us - ifc->now_us;
			continue;
		}
		if (e->probes >= DP_NEIGH_MAX_PROBES) {
			entry_remove(ifc, t, e);
			continue;
		}
		solicit(ifc, t, e);
	}
	return next;
}
