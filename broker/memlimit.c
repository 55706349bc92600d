/* SPDX-License-Identifier: MIT */
/* memory_limit: lazily summed per-worker counters (design note in memlimit.h). */
#include <string.h>

#include "broker/broker.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/retain.h"

#define SYS_PREFIX "$SYS/"

uint64_t tern_memlimit_queued(struct tern_broker *b)
{
	uint64_t sum = tern_retain_bytes(b->retain);

	for (unsigned i = 0; i < b->n_workers; i++)
		sum += TERN_STAT_READ(b->workers[i], queued_bytes);
	/* A sum read while bytes move between workers may briefly wrap: treat as 0. */
	return (int64_t)sum < 0 ? 0 : sum;
}

void tern_memlimit_refresh(struct tern_worker *w)
{
	uint64_t limit = w->broker->cfg.memory_limit;

	w->mem_over = limit && tern_memlimit_queued(w->broker) > limit;
}

static bool is_sys(const struct tern_msg *msg)
{
	return msg->topic_len >= sizeof(SYS_PREFIX) - 1 &&
	       memcmp(tern_msg_topic(msg), SYS_PREFIX, sizeof(SYS_PREFIX) - 1) == 0;
}

bool tern_memlimit_deliver_ok(struct tern_worker *w, const struct tern_msg *msg)
{
	if (!w->mem_over || is_sys(msg))
		return true;
	TERN_STAT_ADD(w, publish_dropped, 1);
	TERN_STAT_ADD(w, publish_dropped_memory, 1);
	return false;
}

bool tern_memlimit_retain_ok(struct tern_worker *w, const struct tern_msg *msg)
{
	if (!w->mem_over || msg->payload_len == 0 || is_sys(msg))
		return true;
	TERN_STAT_ADD(w, retained_dropped_memory, 1);
	return false;
}
