/* SPDX-License-Identifier: MIT */
/*
 * Indexed binary min-heap of embedded deadline nodes. Each node records its
 * position so that moving or cancelling it needs no search. The array grows
 * by doubling and gives memory back when it falls to a quarter full, so a
 * worker returns to its idle footprint after a wave of disconnects expires.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/alloc.h"
#include "broker/deadline.h"

#define HEAP_MIN_CAP 16u

static inline void place(struct tern_deadline_heap *h, uint32_t i, struct tern_deadline *d)
{
	h->v[i] = d;
	d->idx = i;
}

static void sift_up(struct tern_deadline_heap *h, uint32_t i)
{
	struct tern_deadline *d = h->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (h->v[parent]->at_ms <= d->at_ms)
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, d);
}

static void sift_down(struct tern_deadline_heap *h, uint32_t i)
{
	struct tern_deadline *d = h->v[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->at_ms < h->v[c]->at_ms)
			c++;
		if (d->at_ms <= h->v[c]->at_ms)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, d);
}

/* Best effort: a failed shrink keeps the bigger array, which is still correct. */
static void maybe_shrink(struct tern_deadline_heap *h)
{
	struct tern_deadline **v;
	uint32_t cap = h->cap / 2;

	if (h->n == 0) {
		tern_free(h->v);
		h->v = NULL;
		h->cap = 0;
		return;
	}
	if (h->cap <= HEAP_MIN_CAP || h->n > h->cap / 4)
		return;
	v = tern_realloc(h->v, cap * sizeof(*v));
	if (v) {
		h->v = v;
		h->cap = cap;
	}
}

void tern_deadline_heap_init(struct tern_deadline_heap *h)
{
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
}

void tern_deadline_heap_fini(struct tern_deadline_heap *h)
{
	tern_free(h->v);
	tern_deadline_heap_init(h);
}

int tern_deadline_set(struct tern_deadline_heap *h, struct tern_deadline *d, uint64_t at_ms)
{
	if (tern_deadline_queued(d)) {
		uint64_t old = d->at_ms;

		d->at_ms = at_ms;
		if (at_ms < old)
			sift_up(h, d->idx);
		else
			sift_down(h, d->idx);
		return 0;
	}
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? 2 * h->cap : HEAP_MIN_CAP;
		struct tern_deadline **v;

		if (cap <= h->cap)
			return -ENOMEM; /* 2^32 entries: the index would overflow */
		v = tern_realloc(h->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	d->at_ms = at_ms;
	h->v[h->n] = d;
	d->idx = h->n++;
	sift_up(h, d->idx);
	return 0;
}

void tern_deadline_cancel(struct tern_deadline_heap *h, struct tern_deadline *d)
{
	uint32_t i = d->idx;
	struct tern_deadline *last;

	if (!tern_deadline_queued(d))
		return;
	d->idx = TERN_DEADLINE_NONE;
	last = h->v[--h->n];
	if (last != d) {
		/* The last node fills the hole, then moves whichever way its key says. */
		place(h, i, last);
		if (i > 0 && h->v[(i - 1) / 2]->at_ms > last->at_ms)
			sift_up(h, i);
		else
			sift_down(h, i);
	}
	maybe_shrink(h);
}

struct tern_deadline *tern_deadline_peek(const struct tern_deadline_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

struct tern_deadline *tern_deadline_pop_due(struct tern_deadline_heap *h, uint64_t now_ms)
{
	struct tern_deadline *d = tern_deadline_peek(h);

	if (!d || d->at_ms > now_ms)
		return NULL;
	tern_deadline_cancel(h, d);
	return d;
}
