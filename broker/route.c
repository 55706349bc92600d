/* SPDX-License-Identifier: MIT */
/*
 * Routing: one tree walk per worker with matching subscribers. The publishing
 * worker walks for its own group and learns the set of other workers with
 * matches; each of those gets one inbox item (a message reference) and walks
 * for its own group. Overlapping subscriptions of a session are merged into
 * one delivery at the highest granted QoS [MQTT-3.3.5-1]. Each walk uses the
 * tree generation read before the first one, so a session being handed over
 * between workers gets each message from exactly one of them (registry.h).
 */
#include <errno.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/registry.h"
#include "broker/retain.h"
#include "broker/route.h"
#include "broker/session.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

struct match {
	struct tern_worker *w;
	uint64_t gen;
};

static void on_match(void *ctx, const struct tern_sub *sub)
{
	const struct match *m = ctx;
	struct tern_worker *w = m->w;
	struct tern_session *s = sub->subscriber;
	uint8_t qos = sub->options & 0x3;

	struct tern_match_scratch *scratch;

	if (m->gen < sub->since_gen || m->gen >= sub->until_gen)
		return; /* the other side of a handover delivers this one */
	/* In transit here: the old home may be matching it too, so keep our own scratch. */
	scratch = s->home == w->id ? &s->match : tern_registry_arrival_scratch(w, s);
	if (!scratch)
		return;
	if (scratch->gen == w->match_gen) {
		if (qos > scratch->qos)
			scratch->qos = qos;
		return;
	}
	if (w->n_matched == w->cap_matched) {
		size_t cap = w->cap_matched ? w->cap_matched * 2 : 64;
		struct tern_match *p = tern_realloc(w->matched, cap * sizeof(*p));

		if (!p) {
			TERN_STAT_ADD(w, publish_dropped, 1);
			return;
		}
		w->matched = p;
		w->cap_matched = cap;
	}
	scratch->gen = w->match_gen;
	scratch->qos = qos;
	w->matched[w->n_matched++] = (struct tern_match){s, scratch};
}

static uint64_t deliver_local(struct tern_worker *w, struct tern_msg *msg, uint64_t gen)
{
	struct match m = {w, gen};
	uint64_t mask;
	size_t i;

	/* Step by the worker count bound so generations never collide across workers. */
	w->match_gen += TERN_MAX_WORKERS;
	w->n_matched = 0;
	mask = tern_topic_tree_match(w->broker->tree, tern_msg_topic(msg), msg->topic_len, w->id,
				     on_match, &m);
	for (i = 0; i < w->n_matched; i++) {
		struct tern_session *s = w->matched[i].session;
		uint8_t granted = w->matched[i].scratch->qos;
		uint8_t qos = msg->qos < granted ? msg->qos : granted;

		if (s->home != w->id)
			tern_registry_stash(w, s, msg, qos); /* on its way here */
		else
			tern_session_deliver(w, s, msg, qos, false); /* RETAIN 0 [MQTT-3.3.1-9] */
	}
	return mask;
}

void tern_route_deliver_local(struct tern_worker *w, struct tern_msg *msg, uint64_t gen)
{
	deliver_local(w, msg, gen);
}

void tern_route_publish(struct tern_worker *w, struct tern_msg *msg)
{
	struct tern_broker *b = w->broker;
	uint64_t gen = __atomic_load_n(&b->tree_gen, __ATOMIC_ACQUIRE);
	uint64_t others;

	if (msg->retain && tern_memlimit_retain_ok(w, msg) && tern_retain_set(b->retain, msg) < 0)
		TERN_STAT_ADD(w, publish_dropped, 1);
	others = deliver_local(w, msg, gen) & ~(1ull << w->id);
	while (others) {
		unsigned i = (unsigned)__builtin_ctzll(others);

		others &= others - 1;
		if (tern_worker_post(b->workers[i], TERN_INBOX_PUBLISH, tern_msg_ref(msg), gen) <
		    0) {
			tern_msg_unref(msg);
			TERN_STAT_ADD(w, publish_dropped, 1);
		}
	}
}
