/* SPDX-License-Identifier: MIT */
/*
 * A seeded fault layer between the port and the stack: drops, reorders and
 * duplicates frames with given probabilities, one instance per direction per
 * lcore. Tests use it where other machines would use netem; a seed replays
 * the same faults for the same traffic. Owner lcore only.
 */
#ifndef DP_NET_FAULT_H
#define DP_NET_FAULT_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#define DP_FAULT_PPM 1000000u /* probabilities are in parts per million */

struct dp_fault_config {
	uint64_t seed;
	uint32_t drop_ppm;    /* frame freed */
	uint32_t dup_ppm;     /* a deep copy follows the frame */
	uint32_t reorder_ppm; /* frame held back and sent after the next one */
};

/* Owner lcore reads and writes every field. */
struct dp_fault {
	struct dp_fault_config cfg;
	struct rte_mempool *pool; /* for duplicates */
	uint64_t state;
	struct rte_mbuf *held;
	unsigned held_calls;
	uint64_t dropped, duplicated, reordered;
};

/*
 * Set f up. Returns 0, or -EINVAL when a probability is over DP_FAULT_PPM or
 * pool is NULL while dup_ppm is not 0.
 */
int dp_fault_init(struct dp_fault *f, const struct dp_fault_config *cfg, struct rte_mempool *pool);

/* Free a held frame. */
void dp_fault_fini(struct dp_fault *f);

/*
 * Pass n frames through: the survivors, duplicates and a released held frame
 * land in out (room for 2 * n + 1). Takes ownership of every input frame.
 * A held frame waits for the next frame, or at most one more call. Returns
 * the number written to out. Owner lcore.
 */
uint16_t dp_fault_apply(struct dp_fault *f, struct rte_mbuf **in, uint16_t n,
			struct rte_mbuf **out);

#endif
