/* SPDX-License-Identifier: MIT */
/*
 * A per-worker queue of deadlines (delayed wills, session expiry): an indexed
 * binary min-heap of nodes embedded in the objects that own them, so a sweep
 * costs O(due * log n) instead of a walk over every object, and a deadline can
 * be moved or cancelled in O(log n) when its owner reconnects or ends.
 */
#ifndef TERN_DEADLINE_H
#define TERN_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#define TERN_DEADLINE_NONE UINT32_MAX /* idx of a node that is not queued */

/* Embedded in its owner. Written only by the heap's owner (one worker). */
struct tern_deadline {
	uint64_t at_ms; /* when it is due; valid while queued */
	uint32_t idx;	/* position in the heap, or TERN_DEADLINE_NONE */
};

/* One worker's heap: v[0] is the earliest deadline. Owner only, never shared. */
struct tern_deadline_heap {
	struct tern_deadline **v;
	uint32_t n;
	uint32_t cap;
};

/* Mark a node as not queued. Call once before the first tern_deadline_set. */
static inline void tern_deadline_init(struct tern_deadline *d)
{
	d->at_ms = 0;
	d->idx = TERN_DEADLINE_NONE;
}

/* Whether d is in a heap now. */
static inline bool tern_deadline_queued(const struct tern_deadline *d)
{
	return d->idx != TERN_DEADLINE_NONE;
}

/* An empty heap; allocates nothing. */
void tern_deadline_heap_init(struct tern_deadline_heap *h);

/* Free the heap's array; the nodes still queued are left marked queued. Owner only. */
void tern_deadline_heap_fini(struct tern_deadline_heap *h);

/* Number of queued deadlines. */
static inline uint32_t tern_deadline_count(const struct tern_deadline_heap *h)
{
	return h->n;
}

/*
 * Queue d at at_ms, or move it there if it is queued already. Returns 0, or
 * -ENOMEM when the heap must grow and cannot (d then stays as it was).
 * Owner only.
 */
int tern_deadline_set(struct tern_deadline_heap *h, struct tern_deadline *d, uint64_t at_ms);

/* Take d out of the heap; nothing happens if it is not queued. Owner only. */
void tern_deadline_cancel(struct tern_deadline_heap *h, struct tern_deadline *d);

/* The earliest queued deadline, or NULL when none; it stays queued. Owner only. */
struct tern_deadline *tern_deadline_peek(const struct tern_deadline_heap *h);

/*
 * Remove and return the earliest deadline if it is due (at_ms <= now_ms),
 * else NULL; call in a loop to take every due one, earliest first. Owner only.
 */
struct tern_deadline *tern_deadline_pop_due(struct tern_deadline_heap *h, uint64_t now_ms);

#endif
