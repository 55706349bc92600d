/* SPDX-License-Identifier: MIT */
/*
 * Routing: one tree walk per worker with matching subscribers. The publishing
 * worker walks for its own group and learns the set of other workers with
 * matches; each of those gets one inbox item (a message reference) and walks
 * for its own group. Overlapping subscriptions of a session are merged into
 * one delivery at the highest granted QoS [MQTT-3.3.5-1].
 */
#include <errno.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/msg.h"
#include "broker/retain.h"
#include "broker/route.h"
#include "broker/session.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

static void on_match(void *ctx, const struct tern_sub *sub)
{
	struct tern_worker *w = ctx;
	struct tern_session *s = sub->subscriber;
	uint8_t qos = sub->options & 0x3;

	if (s->match_gen == w->match_gen) {
		if (qos > s->match_qos)
			s->match_qos = qos;
		return;
	}
	if (w->n_matched == w->cap_matched) {
		size_t cap = w->cap_matched ? w->cap_matched * 2 : 64;
		struct tern_session **p = tern_realloc(w->matched, cap * sizeof(*p));

		if (!p) {
			TERN_STAT_ADD(w, publish_dropped, 1);
			return;
		}
		w->matched = p;
		w->cap_matched = cap;
	}
	s->match_gen = w->match_gen;
	s->match_qos = qos;
	w->matched[w->n_matched++] = s;
}

static uint64_t deliver_local(struct tern_worker *w, struct tern_msg *msg)
{
	uint64_t mask;
	size_t i;

	w->match_gen++;
	w->n_matched = 0;
	mask = tern_topic_tree_match(w->broker->tree, tern_msg_topic(msg), msg->topic_len, w->id,
				     on_match, w);
	for (i = 0; i < w->n_matched; i++) {
		struct tern_session *s = w->matched[i];
		uint8_t qos = msg->qos < s->match_qos ? msg->qos : s->match_qos;

		/* Live deliveries carry RETAIN 0 [MQTT-3.3.1-9]. */
		tern_session_deliver(w, s, msg, qos, false);
	}
	return mask;
}

void tern_route_deliver_local(struct tern_worker *w, struct tern_msg *msg)
{
	deliver_local(w, msg);
}

void tern_route_publish(struct tern_worker *w, struct tern_msg *msg)
{
	struct tern_broker *b = w->broker;
	uint64_t others;

	if (msg->retain && tern_retain_set(b->retain, msg) < 0)
		TERN_STAT_ADD(w, publish_dropped, 1);
	others = deliver_local(w, msg) & ~(1ull << w->id);
	while (others) {
		unsigned i = (unsigned)__builtin_ctzll(others);

		others &= others - 1;
		if (tern_worker_post(b->workers[i], TERN_INBOX_PUBLISH, tern_msg_ref(msg)) < 0) {
			tern_msg_unref(msg);
			TERN_STAT_ADD(w, publish_dropped, 1);
		}
	}
}
