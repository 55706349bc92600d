/* SPDX-License-Identifier: MIT */
/*
 * The seeded fault layer (see fault.h): xorshift64* decides each frame's fate.
 */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dataplane/net/fault.h"

static uint32_t next_ppm(struct dp_fault *f)
{
	uint64_t x = f->state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->state = x;
	return (uint32_t)((x * 2685821657736338717ULL) >> 32) % DP_FAULT_PPM;
}

int dp_fault_init(struct dp_fault *f, const struct dp_fault_config *cfg, struct rte_mempool *pool)
{
	if (cfg->drop_ppm > DP_FAULT_PPM || cfg->dup_ppm > DP_FAULT_PPM ||
	    cfg->reorder_ppm > DP_FAULT_PPM || (cfg->dup_ppm && !pool))
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	f->pool = pool;
	/* xorshift must not start at zero. */
	f->state = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ULL;
	return 0;
}

void dp_fault_fini(struct dp_fault *f)
{
	rte_pktmbuf_free(f->held);
	f->held = NULL;
}

uint16_t dp_fault_apply(struct dp_fault *f, struct rte_mbuf **in, uint16_t n, struct rte_mbuf **out)
{
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];

		if (next_ppm(f) < f->cfg.drop_ppm) {
			f->dropped++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (!f->held && next_ppm(f) < f->cfg.reorder_ppm) {
			f->reordered++;
			f->held = m;
			f->held_calls = 0;
			continue;
		}
		out[k++] = m;
		/* A deep copy: the stack rewrites frames in place (echo, ARP replies). */
		if (next_ppm(f) < f->cfg.dup_ppm) {
			struct rte_mbuf *c = rte_pktmbuf_copy(m, f->pool, 0, UINT32_MAX);

			if (c) {
				f->duplicated++;
				out[k++] = c;
			}
		}
		if (f->held) {
			out[k++] = f->held;
			f->held = NULL;
		}
	}
	if (f->held && f->held_calls++ > 0) {
		out[k++] = f->held;
		f->held = NULL;
	}
	return k;
}
