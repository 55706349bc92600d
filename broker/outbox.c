/* SPDX-License-Identifier: MIT */
/* Per-destination batches of cross-worker deliveries (design note in outbox.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <urcu/compiler.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/msg.h"
#include "broker/outbox.h"
#include "broker/route.h"
#include "broker/share.h"
#include "broker/worker.h"

/*
 * Spare batches a lane keeps for reuse. Beyond it, batches handed back after
 * a burst are freed, so a burst does not pin its memory for good.
 */
#define LANE_SPARE 16

/* One delivery in a batch: an inbox PUBLISH (share NULL) or SHARE. */
struct entry {
	struct tern_msg *msg;		/* one reference owned by the batch */
	struct tern_share_group *share; /* SHARE: one group reference owned by the batch */
	uint64_t key;			/* PUBLISH: tree generation; SHARE: member uid */
	uint8_t hops;			/* SHARE: hand-offs so far */
};

/*
 * Written by the sender until posted, then read by the receiver until handed
 * back; the inbox queue and the lane's stack order those hand-overs.
 */
struct tern_outbox_batch {
	struct tern_inbox_item item;	/* kind TERN_INBOX_BATCH, embedded */
	struct tern_outbox_lane *lane;	/* the sender's lane it belongs to */
	struct tern_outbox_batch *next; /* in lane->returned or lane->spare */
	uint32_t n;
	struct entry e[TERN_OUTBOX_BATCH];
};

/* The sender's side of one (sender, receiver) pair. */
struct tern_outbox_lane {
	/*
	 * Handled batches, a lock-free stack: the receiver pushes one at a time,
	 * the sender takes them all at once (so no ABA). Alone on its line.
	 */
	struct tern_outbox_batch *returned __attribute__((aligned(64)));
	/* The sender's only. */
	struct tern_outbox_batch *cur __attribute__((aligned(64))); /* NULL, or >= 1 entry */
	struct tern_outbox_batch *spare;
	unsigned n_spare;
};

int tern_outbox_init(struct tern_outbox *o, unsigned n_workers)
{
	o->lane = tern_aligned_alloc(64, n_workers * sizeof(*o->lane));
	if (!o->lane)
		return -ENOMEM;
	memset(o->lane, 0, n_workers * sizeof(*o->lane));
	o->n_lanes = n_workers;
	o->pending = 0;
	return 0;
}

static void release(struct tern_outbox_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		tern_msg_unref(b->e[i].msg);
		tern_share_unref(b->e[i].share);
	}
	b->n = 0;
}

/* Move the batches the receiver handed back to the spares; free what is past LANE_SPARE. */
static void reclaim(struct tern_outbox_lane *l)
{
	/* Acquire: the receiver's last reads of each batch happen before we reuse it. */
	struct tern_outbox_batch *b = __atomic_exchange_n(&l->returned, NULL, __ATOMIC_ACQUIRE);

	while (b) {
		struct tern_outbox_batch *next = b->next;

		if (l->n_spare >= LANE_SPARE) {
			tern_free(b);
		} else {
			b->next = l->spare;
			l->spare = b;
			l->n_spare++;
		}
		b = next;
	}
}

void tern_outbox_fini(struct tern_outbox *o)
{
	if (!o->lane)
		return;
	for (unsigned i = 0; i < o->n_lanes; i++) {
		struct tern_outbox_lane *l = &o->lane[i];

		if (l->cur) {
			release(l->cur);
			tern_free(l->cur);
		}
		reclaim(l);
		while (l->spare) {
			struct tern_outbox_batch *b = l->spare;

			l->spare = b->next;
			tern_free(b);
		}
	}
	tern_free(o->lane);
	o->lane = NULL;
	o->pending = 0;
}

static void post_lane(struct tern_worker *w, unsigned to)
{
	struct tern_outbox_lane *l = &w->outbox.lane[to];

	w->outbox.pending &= ~(UINT64_C(1) << to);
	tern_worker_post_item(w->broker->workers[to], &l->cur->item);
	l->cur = NULL;
}

/* A spare batch, one handed back, or a new one; NULL when out of memory. */
static struct tern_outbox_batch *take_batch(struct tern_outbox_lane *l)
{
	struct tern_outbox_batch *b;

	if (!l->spare)
		reclaim(l);
	b = l->spare;
	if (b) {
		l->spare = b->next;
		l->n_spare--;
		return b;
	}
	b = tern_malloc(sizeof(*b));
	if (!b)
		return NULL;
	b->item.kind = TERN_INBOX_BATCH;
	b->item.embedded = true; /* handed back, not freed, by the receiver */
	b->lane = l;
	return b;
}

/*
 * The next entry of the lane to worker `to`, or NULL (out of memory) with the
 * lane's batch posted, so what the caller posts instead comes after it.
 */
static struct entry *reserve(struct tern_worker *w, unsigned to)
{
	struct tern_outbox_lane *l = &w->outbox.lane[to];
	struct tern_outbox_batch *b = l->cur;

	if (__builtin_expect(b && b->n < TERN_OUTBOX_BATCH, 1))
		return &b->e[b->n++];
	if (b)
		post_lane(w, to); /* full: no need to wait for the end of the turn */
	b = take_batch(l);
	if (!b)
		return NULL;
	b->n = 1;
	l->cur = b;
	w->outbox.pending |= UINT64_C(1) << to;
	return &b->e[0];
}

int tern_outbox_publish(struct tern_worker *from, unsigned to, struct tern_msg *msg, uint64_t gen)
{
	struct entry *e = reserve(from, to);

	if (__builtin_expect(!e, 0))
		return tern_worker_post(from->broker->workers[to], TERN_INBOX_PUBLISH, msg, gen);
	e->msg = msg;
	e->share = NULL;
	e->key = gen;
	return 0;
}

int tern_outbox_share(struct tern_worker *from, unsigned to, struct tern_share_group *g,
		      uint64_t uid, struct tern_msg *msg, uint8_t hops)
{
	struct entry *e = reserve(from, to);

	if (__builtin_expect(!e, 0))
		return tern_worker_post_share(from->broker->workers[to], g, uid, msg, hops);
	e->msg = msg;
	e->share = g;
	e->key = uid;
	e->hops = hops;
	return 0;
}

void tern_outbox_flush(struct tern_worker *w)
{
	while (w->outbox.pending)
		post_lane(w, (unsigned)__builtin_ctzll(w->outbox.pending));
}

/* Push b on its lane's returned stack; release pairs with reclaim's acquire. */
static void hand_back(struct tern_outbox_batch *b)
{
	struct tern_outbox_lane *l = b->lane;
	struct tern_outbox_batch *head = __atomic_load_n(&l->returned, __ATOMIC_RELAXED);

	do
		b->next = head;
	while (!__atomic_compare_exchange_n(&l->returned, &head, b, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

void tern_outbox_on_batch(struct tern_worker *w, struct tern_inbox_item *item)
{
	struct tern_outbox_batch *b = caa_container_of(item, struct tern_outbox_batch, item);

	TERN_STAT_ADD(w, inbox_batches, 1);
	TERN_STAT_ADD(w, inbox_msgs, b->n);
	for (uint32_t i = 0; i < b->n; i++) {
		const struct entry *e = &b->e[i];

		if (!e->share) {
			tern_route_deliver_local(w, e->msg, e->key);
		} else {
			tern_share_on_deliver(w, e->share, e->key, e->msg, e->hops);
			tern_share_unref(e->share);
		}
		tern_msg_unref(e->msg);
	}
	hand_back(b);
}

void tern_outbox_discard(struct tern_inbox_item *item)
{
	struct tern_outbox_batch *b = caa_container_of(item, struct tern_outbox_batch, item);

	release(b);
	tern_free(b);
}
