/* SPDX-License-Identifier: MIT */
/*
 * memory_limit: accounting of all data queued in the broker and the decision
 * to drop new data past the limit.
 *
 * Counted, in wire bytes: connection output queues (conn.c), queued and
 * in-flight QoS 1/2 messages (session.c), buffered partial input (conn.c),
 * and the retained store (retain.c keeps its own total). A payload shared by
 * several queues counts once per queue: a conservative bound, never an
 * undercount. Each worker adds and subtracts on its own counter only (a
 * session that moved to another worker is subtracted there, so one worker's
 * counter may wrap below zero; the unsigned sum is still exact). Once per loop
 * turn a worker sums every counter and caches whether the limit is passed,
 * so the hot path reads one bool of its own; the limit may be overshot by
 * what one turn queues.
 */
#ifndef TERN_MEMLIMIT_H
#define TERN_MEMLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/worker.h"

struct tern_broker;
struct tern_msg;

/* Account delta bytes of queued data on worker w. Owning worker thread. */
static inline void tern_memlimit_add(struct tern_worker *w, int64_t delta)
{
	TERN_STAT_ADD(w, queued_bytes, (uint64_t)delta);
}

/* True while the broker was over memory_limit at w's last refresh. Owning worker thread. */
static inline bool tern_memlimit_over(const struct tern_worker *w)
{
	return w->mem_over;
}

/* Bytes queued in the whole broker now (relaxed sums). Any thread. */
uint64_t tern_memlimit_queued(struct tern_broker *b);

/* Recompute w->mem_over (nothing to do without a memory_limit). Owning worker, once a turn. */
void tern_memlimit_refresh(struct tern_worker *w);

/*
 * May msg be queued for a subscriber? False (counted as a memory drop) while
 * over the limit, except for the broker's own $SYS messages, which are tiny
 * and must keep flowing so the overload can be seen. Owning worker thread.
 */
bool tern_memlimit_deliver_ok(struct tern_worker *w, const struct tern_msg *msg);

/* May msg be stored as retained? Deletions (empty payload) always may. As above otherwise. */
bool tern_memlimit_retain_ok(struct tern_worker *w, const struct tern_msg *msg);

#endif
