/* SPDX-License-Identifier: MIT */
/*
 * The poll loop of one DPDK worker lcore.
 *
 * A turn: receive a burst (own RX queue, or worker 0's single queue) through
 * the RX fault layer; on a single-queue port worker 0 hands TCP frames owned
 * by another worker to that worker's inbox ring; ARP and ND frames are copied
 * to every other worker's learn ring so all neighbour caches fill from
 * one reply. Then the inbox and learn rings, neighbour timers, the broker
 * worker's own work, and a flush of staged frames through the TX fault layer
 * to the TX queue (or, without one, to worker 0's TX ring). After many idle
 * turns the loop sleeps briefly, so an idle broker does not hold a core at
 * 100%; the first frame ends the backoff.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_tcp.h>
#include <rte_thash.h>

#include "broker/log.h"
#include "broker/transport.h"
#include "dataplane/dpdk/stats.h"
#include "dataplane/dpdk/worker.h"
#ifdef TERN_DPDK_TCP
#include "dataplane/dpdk/tcp_glue.h"
#endif

#define IDLE_TURNS_BEFORE_SLEEP 1024
#define IDLE_SLEEP_NS		50000
/* How often the TCP counters are copied where $SYS and telemetry read them. */
#define STATS_SNAPSHOT_US 100000

/* The Toeplitz key most NICs default to, so a software hash matches theirs. */
static const uint8_t rss_key[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

unsigned dp_dpdk_flow_owner(const struct rte_mbuf *m, unsigned n_workers)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	uint32_t len = rte_pktmbuf_data_len(m), hash;
	union rte_thash_tuple t;

	if (n_workers <= 1 || len < sizeof(*eth))
		return 0;
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		const struct rte_tcp_hdr *th;
		uint32_t hl;

		if (len < sizeof(*eth) + sizeof(*ip) || ip->next_proto_id != IPPROTO_TCP)
			return 0;
		hl = (ip->version_ihl & 0xf) * 4u;
		if (len < sizeof(*eth) + hl + 4)
			return 0;
		th = (const struct rte_tcp_hdr *)((const uint8_t *)ip + hl);
		t.v4.src_addr = rte_be_to_cpu_32(ip->src_addr);
		t.v4.dst_addr = rte_be_to_cpu_32(ip->dst_addr);
		t.v4.sport = rte_be_to_cpu_16(th->src_port);
		t.v4.dport = rte_be_to_cpu_16(th->dst_port);
		hash = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, rss_key);
	} else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);
		const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(ip + 1);

		/* With extension headers the frame stays on worker 0; the stack sorts it. */
		if (len < sizeof(*eth) + sizeof(*ip) + 4 || ip->proto != IPPROTO_TCP)
			return 0;
		rte_thash_load_v6_addrs(ip, &t);
		t.v6.sport = rte_be_to_cpu_16(th->src_port);
		t.v6.dport = rte_be_to_cpu_16(th->dst_port);
		hash = rte_softrss((uint32_t *)&t, RTE_THASH_V6_L4_LEN, rss_key);
	} else {
		return 0;
	}
	return hash % n_workers;
}

uint16_t dp_dpdk_worker_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct dp_dpdk_worker *w = ctx;
	struct rte_mbuf *faulted[2 * DP_NET_TX_BURST + 1], **out = pkts;
	uint16_t k = n, sent;

	if (w->sh->fault) {
		/* The fault layer owns the frames now: whatever it passes on is ours to send. */
		k = dp_fault_apply(&w->tx_fault, pkts, n, faulted);
		out = faulted;
	}
	if (w->own_txq)
		sent = rte_eth_tx_burst(w->sh->port, w->queue, out, k);
	else
		sent = (uint16_t)rte_ring_mp_enqueue_burst(w->sh->tx_ring, (void **)out, k, NULL);
	if (!w->sh->fault)
		return sent;
	/* The stack counts the refused ones of its own array; here they are ours to free. */
	for (uint16_t i = sent; i < k; i++) {
		rte_pktmbuf_free(out[i]);
		w->ifc.counters[DP_NET_DROP_TX_FULL]++;
	}
	return n;
}

static void handoff_learn(struct dp_dpdk_worker *w, const struct rte_mbuf *m)
{
	for (unsigned i = 0; i < w->sh->n_workers; i++) {
		struct dp_dpdk_worker *o = w->sh->workers[i];
		struct rte_mbuf *c;

		if (o == w)
			continue;
		/* A deep copy: the stack adjusts and rewrites frames in place. */
		c = rte_pktmbuf_copy(m, w->pool, 0, UINT32_MAX);
		if (!c || rte_ring_mp_enqueue(o->learn, c) != 0) {
			rte_pktmbuf_free(c);
			w->drop_handoff++;
		}
	}
}

static unsigned rx_turn(struct dp_dpdk_worker *w)
{
	struct rte_mbuf *pkts[DP_DPDK_BURST], *faulted[2 * DP_DPDK_BURST + 1], **in = pkts;
	uint16_t n;

	n = rte_eth_rx_burst(w->sh->port, w->queue, pkts, DP_DPDK_BURST);
	if (n && w->sh->fault) {
		n = dp_fault_apply(&w->rx_fault, pkts, n, faulted);
		in = faulted;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];

		if (w->sh->n_workers > 1) {
			if (!w->sh->multi_queue) {
				unsigned owner = dp_dpdk_flow_owner(m, w->sh->n_workers);

				if (owner != w->id) {
					if (rte_ring_sp_enqueue(w->sh->workers[owner]->inbox, m) ==
					    0) {
						w->handed_off++;
					} else {
						rte_pktmbuf_free(m);
						w->drop_handoff++;
					}
					continue;
				}
			}
			if (dp_net_frame_teaches_neighbours(m))
				handoff_learn(w, m);
		}
		dp_net_iface_input(&w->ifc, m);
	}
	return n;
}

static unsigned ring_turn(struct dp_dpdk_worker *w)
{
	void *pkts[DP_DPDK_BURST];
	unsigned n, k;

	n = rte_ring_sc_dequeue_burst(w->inbox, pkts, DP_DPDK_BURST, NULL);
	for (unsigned i = 0; i < n; i++)
		dp_net_iface_input(&w->ifc, pkts[i]);
	k = rte_ring_sc_dequeue_burst(w->learn, pkts, DP_DPDK_BURST, NULL);
	for (unsigned i = 0; i < k; i++)
		dp_net_iface_learn(&w->ifc, pkts[i]);
	if (w->id == 0 && w->sh->tx_ring) {
		unsigned t = rte_ring_sc_dequeue_burst(w->sh->tx_ring, pkts, DP_DPDK_BURST, NULL);
		uint16_t sent = t ? rte_eth_tx_burst(w->sh->port, w->queue,
						     (struct rte_mbuf **)pkts, (uint16_t)t)
				  : 0;

		for (unsigned i = sent; i < t; i++) {
			rte_pktmbuf_free(pkts[i]);
			w->ifc.counters[DP_NET_DROP_TX_FULL]++;
		}
		n += t;
	}
	return n + k;
}

#ifndef TERN_DPDK_TCP
/*
 * The engine calls these only for connections it got from tern_conn_accept,
 * which this dataplane does not call until the TCP layer is glued in: reaching
 * one is a bug, logged, never silently ignored.
 */
static void op_unreachable(void *tctx)
{
	tern_log(TERN_LOG_ERR, "dpdk: connection callback without a TCP connection (%p)", tctx);
}

static void op_pause_unreachable(void *tctx, bool paused)
{
	(void)paused;
	op_unreachable(tctx);
}

static const struct tern_transport_ops ops = {
    .want_write = op_unreachable,
    .close = op_unreachable,
    .pause_input = op_pause_unreachable,
    .wake = NULL, /* polling: the loop sees its inbox every turn */
};
#endif

static uint64_t now_us(void)
{
	return rte_get_timer_cycles() / (rte_get_timer_hz() / 1000000u);
}

int dp_dpdk_worker_main(void *arg)
{
	struct dp_dpdk_worker *w = arg;
	uint64_t next_timer_us = 0, next_stats_us = 0, now;
	unsigned idle = 0;
	int rc;

#ifdef TERN_DPDK_TCP
	rc = tern_worker_start(w->tw, dp_dpdk_tcp_transport_ops(), w);
	if (rc == 0) {
		rc = dp_dpdk_tcp_start(w);
		if (rc < 0)
			tern_worker_finish(w->tw);
	}
#else
	rc = tern_worker_start(w->tw, &ops, w);
#endif
	if (rc < 0) {
		__atomic_store_n(&w->started, rc, __ATOMIC_RELEASE);
		return rc;
	}
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	dp_net_iface_set_time(&w->ifc, now_us());
	if (w->own_rxq)
		dp_net_iface_announce(&w->ifc);
	while (!__atomic_load_n(&w->sh->stop, __ATOMIC_ACQUIRE)) {
		unsigned work = 0;

		now = now_us();
		dp_net_iface_set_time(&w->ifc, now);
		if (w->own_rxq)
			work += rx_turn(w);
		work += ring_turn(w);
		if (now >= next_timer_us)
			next_timer_us = now + dp_net_iface_timers(&w->ifc);
		/* No wake-ups in a polling loop: the engine's inbox is looked at every turn. */
		tern_worker_poll(w->tw);
#ifdef TERN_DPDK_TCP
		dp_dpdk_tcp_turn(w, now);
#endif
		if (now >= next_stats_us) {
			dp_dpdk_stats_snapshot(w);
			next_stats_us = now + STATS_SNAPSHOT_US;
		}
		dp_net_iface_flush(&w->ifc);
		tern_worker_quiescent(w->tw);
		if (work) {
			idle = 0;
		} else if (++idle >= IDLE_TURNS_BEFORE_SLEEP) {
			struct timespec ts = {0, IDLE_SLEEP_NS};

			tern_worker_offline(w->tw);
			nanosleep(&ts, NULL);
			tern_worker_online(w->tw);
		}
	}
#ifdef TERN_DPDK_TCP
	dp_dpdk_stats_snapshot(w);
	dp_dpdk_tcp_stop(w);
#endif
	dp_net_iface_flush(&w->ifc);
	tern_worker_finish(w->tw);
	return 0;
}
