/* SPDX-License-Identifier: MIT */
/*
 * A worker's outbox: the PUBLISH and SHARE deliveries it routes to other
 * workers, gathered per destination into batches that travel as one inbox
 * item each.
 *
 * Design: for each destination worker the sender keeps a lane: the batch
 * being filled (a fixed array of entries), a few spare batches and a
 * lock-free stack on which the receiver hands batches back once handled. A
 * batch is posted when it is full and, at the latest, by tern_outbox_flush,
 * which the worker calls before every RCU quiescent state and before going
 * offline. So a message never waits past its sender's loop turn, and every
 * item a tree walk produced is in its receiver's inbox before the grace
 * period that follows the walk ends: the takeover handshake relies on that
 * (registry.h). Entries keep the order they were added in, and a lane's
 * batches are posted in order, so one publisher's messages reach each
 * subscriber in order. In steady state nothing is allocated: batches go round
 * between the two workers. When no batch can be had (out of memory), the
 * delivery falls back to an inbox item of its own, posted after what the lane
 * holds so order is kept; only when that fails too is the caller told.
 */
#ifndef TERN_OUTBOX_H
#define TERN_OUTBOX_H

#include <stdint.h>

struct tern_inbox_item;
struct tern_msg;
struct tern_outbox_batch;
struct tern_outbox_lane;
struct tern_share_group;
struct tern_worker;

/* Entries per batch: a busy turn costs one inbox item per this many deliveries. */
#define TERN_OUTBOX_BATCH 64

/* A worker's lanes, one per worker of the broker (its own unused). Owner thread only. */
struct tern_outbox {
	struct tern_outbox_lane *lane;
	unsigned n_lanes;
	uint64_t pending; /* lanes whose batch has entries not yet posted */
};

/* Set up o for a broker of n_workers workers. Returns 0 or -ENOMEM. Main thread. */
int tern_outbox_init(struct tern_outbox *o, unsigned n_workers);

/*
 * Release everything o holds: unposted entries (their references), spare and
 * handed-back batches. Main thread, once no worker thread runs any more.
 */
void tern_outbox_fini(struct tern_outbox *o);

/*
 * Queue msg for worker `to`'s matching subscribers, as the tree was at
 * generation gen (an inbox PUBLISH); the reference on msg passes to the
 * outbox. Returns 0, or -ENOMEM when neither a batch nor a single item could
 * be allocated (the caller keeps its reference). Owning thread of from, RCU
 * online (or the main thread in tern_worker_destroy: tern_outbox_fini then
 * drops what it queued).
 */
int tern_outbox_publish(struct tern_worker *from, unsigned to, struct tern_msg *msg, uint64_t gen);

/*
 * Queue a delivery of msg for member uid of shared group g, hops so far (an
 * inbox SHARE) for worker `to`; the references on msg and g pass to the
 * outbox. Returns 0, or -ENOMEM (the caller keeps both). Same contract as
 * tern_outbox_publish.
 */
int tern_outbox_share(struct tern_worker *from, unsigned to, struct tern_share_group *g,
		      uint64_t uid, struct tern_msg *msg, uint8_t hops);

/*
 * Post every batch w has filled. Cannot fail, allocates nothing. Owning
 * thread; tern_worker_quiescent, _offline and _finish call it before telling
 * RCU, and tern_worker_poll before its inbox, so the receivers start on the
 * turn's input while w writes.
 */
void tern_outbox_flush(struct tern_worker *w);

/*
 * Handle an inbox item of kind TERN_INBOX_BATCH posted to w: deliver each
 * entry in order, then hand the batch back to its sender. Owning thread of w,
 * while every worker is running (the sender's lanes must still exist).
 */
void tern_outbox_on_batch(struct tern_worker *w, struct tern_inbox_item *item);

/*
 * Drop an unhandled TERN_INBOX_BATCH item at shutdown: release its entries'
 * references and free it. Any thread registered with RCU.
 */
void tern_outbox_discard(struct tern_inbox_item *item);

#endif
