/* SPDX-License-Identifier: MIT */
/*
 * One worker's counters as a flat list for $SYS and telemetry. Workers write
 * their counters with plain increments (single writer, aligned 64-bit words);
 * readers here use relaxed loads, so a reader sees an old or a new value,
 * never a torn one. The TCP counters are read from the worker's snapshot, not
 * from the stack, which its lcore frees while others may still be reading.
 */
#include <inttypes.h>
#include <stdio.h>

#include "dataplane/dpdk/stats.h"
#include "dataplane/dpdk/tcp_glue.h"
#include "dataplane/dpdk/worker.h"
#include "dataplane/net/tcp.h"

/* Each exported counter is a uint64_t; dp_dpdk_stats_read must fit DP_DPDK_STATS_MAX. */
_Static_assert(DP_NET_COUNTER_MAX + 9 + sizeof(struct dp_tcp_stats) / sizeof(uint64_t) <=
		   DP_DPDK_STATS_MAX,
	       "DP_DPDK_STATS_MAX too small");

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

unsigned dp_dpdk_stats_read(const struct dp_dpdk_worker *w, struct dp_dpdk_stat *out)
{
	unsigned n = 0;

	for (unsigned c = 0; c < DP_NET_COUNTER_MAX; c++)
		out[n++] =
		    (struct dp_dpdk_stat){"net", dp_net_counter_name(c), load(&w->ifc.counters[c])};
	out[n++] = (struct dp_dpdk_stat){"net", "handed_off", load(&w->handed_off)};
	out[n++] = (struct dp_dpdk_stat){"net", "drop_handoff", load(&w->drop_handoff)};
	for (size_t i = 0; i < dp_tcp_stat_count; i++) {
		const uint64_t *p =
		    (const uint64_t *)((const char *)&w->tcp_stats + dp_tcp_stat_descs[i].offset);

		out[n++] = (struct dp_dpdk_stat){"tcp", dp_tcp_stat_descs[i].name, load(p)};
	}
	out[n++] = (struct dp_dpdk_stat){"tls", "handshakes", load(&w->glue.tls_handshakes)};
	out[n++] = (struct dp_dpdk_stat){"tls", "handshake_failures",
					 load(&w->glue.tls_handshake_failures)};
	out[n++] = (struct dp_dpdk_stat){"glue", "held_chain_fail", load(&w->glue.held_chain_fail)};
	out[n++] = (struct dp_dpdk_stat){"glue", "pool_waits", load(&w->glue.pool_waits)};
	out[n++] = (struct dp_dpdk_stat){"fault", "dropped",
					 load(&w->rx_fault.dropped) + load(&w->tx_fault.dropped)};
	out[n++] = (struct dp_dpdk_stat){
	    "fault", "duplicated", load(&w->rx_fault.duplicated) + load(&w->tx_fault.duplicated)};
	out[n++] = (struct dp_dpdk_stat){
	    "fault", "reordered", load(&w->rx_fault.reordered) + load(&w->tx_fault.reordered)};
	return n;
}

void dp_dpdk_stats_snapshot(struct dp_dpdk_worker *w)
{
#ifdef TERN_DPDK_TCP
	const struct dp_tcp_stats *st = dp_dpdk_tcp_stats(w);

	if (!st)
		return;
	for (size_t i = 0; i < dp_tcp_stat_count; i++) {
		size_t off = dp_tcp_stat_descs[i].offset;

		__atomic_store_n((uint64_t *)((char *)&w->tcp_stats + off),
				 *(const uint64_t *)((const char *)st + off), __ATOMIC_RELAXED);
	}
#else
	(void)w;
#endif
}

/*
 * The TLS counters again under the sock dataplane's names, so that a monitor
 * reads the same topics on either dataplane (published while a TLS listener
 * exists, as there): summed and per broker worker.
 */
static void sys_tls(const struct dp_dpdk_shared *sh, struct tern_worker *tw,
		    void (*emit)(struct tern_worker *tw, const char *topic, uint64_t value))
{
	uint64_t done = 0, failed = 0;
	char topic[96];

	for (unsigned i = 0; i < sh->n_workers; i++) {
		const struct dp_dpdk_worker *w = sh->workers[i];
		uint64_t ok = load(&w->glue.tls_handshakes);
		uint64_t bad = load(&w->glue.tls_handshake_failures);

		done += ok;
		failed += bad;
		snprintf(topic, sizeof(topic), "$SYS/broker/workers/%u/tls/handshakes", w->id);
		emit(tw, topic, ok);
		snprintf(topic, sizeof(topic), "$SYS/broker/workers/%u/tls/handshake_failures",
			 w->id);
		emit(tw, topic, bad);
	}
	emit(tw, "$SYS/broker/tls/handshakes", done);
	emit(tw, "$SYS/broker/tls/handshake_failures", failed);
}

void dp_dpdk_stats_sys(void *ctx, struct tern_worker *tw,
		       void (*emit)(struct tern_worker *tw, const char *topic, uint64_t value))
{
	const struct dp_dpdk_shared *sh = ctx;
	struct dp_dpdk_stat one[DP_DPDK_STATS_MAX], total[DP_DPDK_STATS_MAX];
	char topic[128];
	unsigned n = 0;

	for (unsigned i = 0; i < sh->n_workers; i++) {
		const struct dp_dpdk_worker *w = sh->workers[i];

		n = dp_dpdk_stats_read(w, one);
		for (unsigned k = 0; k < n; k++) {
			snprintf(topic, sizeof(topic), "$SYS/broker/dpdk/lcore/%u/%s/%s", w->lcore,
				 one[k].group, one[k].name);
			emit(tw, topic, one[k].value);
			if (i == 0)
				total[k] = one[k];
			else
				total[k].value += one[k].value;
		}
	}
	for (unsigned k = 0; k < n; k++) {
		snprintf(topic, sizeof(topic), "$SYS/broker/dpdk/total/%s/%s", total[k].group,
			 total[k].name);
		emit(tw, topic, total[k].value);
	}
	if (sh->n_tls)
		sys_tls(sh, tw, emit);
}
