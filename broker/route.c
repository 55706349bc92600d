/* SPDX-License-Identifier: MIT */
/*
 * Routing: one tree walk per worker with matching subscribers. The publishing
 * worker walks for its own group and learns the set of other workers with
 * matches; each of those gets a message reference through the outbox (one
 * inbox item per worker and loop turn, outbox.h) and walks for its own group.
 * Overlapping subscriptions of a session are merged into one delivery at the
 * highest granted QoS [MQTT-3.3.5-1]. Each walk uses the tree generation read
 * before the first one, so a session being handed over between workers gets
 * each message from exactly one of them (registry.h).
 */
#include <errno.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/outbox.h"
#include "broker/registry.h"
#include "broker/retain.h"
#include "broker/route.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/share.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

struct match {
	struct tern_worker *w;
	const struct tern_msg *msg;
	uint64_t gen;
	uint64_t origin; /* the publishing session's uid */
};

/* Add one subscription identifier to a delivery's set, once each. */
static void add_sub_id(struct tern_via *ids, uint32_t id)
{
	if (!id)
		return;
	for (uint8_t i = 0; i < ids->n; i++)
		if (ids->id[i] == id)
			return;
	/* Past the limit the rest are not sent: see TERN_SUB_IDS_MAX. */
	if (ids->n < TERN_SUB_IDS_MAX)
		ids->id[ids->n++] = id;
}

/* Room for one more match; false (counted as a drop) when out of memory. */
static bool matched_room(struct tern_worker *w)
{
	size_t cap;
	struct tern_match *p;

	if (w->n_matched < w->cap_matched)
		return true;
	cap = w->cap_matched ? w->cap_matched * 2 : 64;
	p = tern_realloc(w->matched, cap * sizeof(*p));
	if (!p) {
		TERN_STAT_ADD(w, publish_dropped, 1);
		return false;
	}
	w->matched = p;
	w->cap_matched = cap;
	return true;
}

/* A shared subscription group: its owner (this walk's worker) picks after the walk. */
static void add_shared(struct tern_worker *w, struct tern_share_group *g)
{
	if (!matched_room(w))
		return;
	w->matched[w->n_matched++] = (struct tern_match){.session = NULL, .share = g};
}

static void on_match(void *ctx, const struct tern_sub *sub)
{
	const struct match *m = ctx;
	struct tern_worker *w = m->w;
	struct tern_session *s = sub->subscriber;
	uint8_t qos = sub->options & TERN_SUBOPT_QOS_MASK;
	bool rap = sub->options & TERN_SUBOPT_RETAIN_AS_PUBLISHED;
	struct tern_match_scratch *scratch;
	struct tern_match *hit;

	if (sub->options & TERN_SUBOPT_SHARED) {
		add_shared(w, sub->subscriber);
		return;
	}
	if (m->gen < sub->since_gen || m->gen >= sub->until_gen)
		return; /* the other side of a handover delivers this one */
	/* No Local: not back to the session that published it [MQTT-3.8.3-3]. */
	if ((sub->options & TERN_SUBOPT_NO_LOCAL) && s->uid == m->origin)
		return;
	/* Only partly readable subscriptions are checked (security.h); no ACL, no flag. */
	if (__builtin_expect(sub->options & TERN_SUB_ACL_CHECK, 0) &&
	    !tern_security_may_read(w->broker, s, tern_msg_topic(m->msg), m->msg->topic_len))
		return;
	/* In transit here: the old home may be matching it too, so keep our own scratch. */
	scratch = s->home == w->id ? &s->match : tern_registry_arrival_scratch(w, s);
	if (!scratch)
		return;
	if (scratch->gen == w->match_gen) {
		/* Overlapping subscriptions: one delivery at the highest QoS [MQTT-3.3.4-2]. */
		hit = &w->matched[scratch->idx];
		if (qos > hit->qos)
			hit->qos = qos;
		hit->retain_as_published |= rap;
		add_sub_id(&hit->ids, sub->sub_id);
		return;
	}
	if (!matched_room(w))
		return;
	scratch->gen = w->match_gen;
	scratch->idx = (uint32_t)w->n_matched;
	hit = &w->matched[w->n_matched++];
	hit->session = s;
	hit->share = NULL;
	hit->qos = qos;
	hit->retain_as_published = rap;
	hit->ids = (struct tern_via){0};
	add_sub_id(&hit->ids, sub->sub_id);
}

static uint64_t deliver_local(struct tern_worker *w, struct tern_msg *msg, uint64_t gen)
{
	struct match m = {w, msg, gen, msg->origin};
	uint64_t mask;
	size_t i;

	/* Step by the worker count bound so generations never collide across workers. */
	w->match_gen += TERN_MAX_WORKERS;
	w->n_matched = 0;
	mask = tern_topic_tree_match(w->broker->tree, tern_msg_topic(msg), msg->topic_len, w->id,
				     on_match, &m);
	for (i = 0; i < w->n_matched; i++) {
		const struct tern_match *hit = &w->matched[i];
		struct tern_session *s = hit->session;

		if (hit->share) {
			tern_share_deliver(w, hit->share, msg);
			continue;
		}
		uint8_t qos = msg->qos < hit->qos ? msg->qos : hit->qos;
		/* RETAIN 0 unless asked to keep it [MQTT-3.3.1-12], [MQTT-3.3.1-13]. */
		bool retain = hit->retain_as_published && msg->retain;
		const struct tern_via *ids = hit->ids.n ? &hit->ids : NULL;

		if (s->home != w->id)
			tern_registry_stash(w, s, msg, qos, retain, ids); /* on its way here */
		else
			tern_session_deliver(w, s, msg, qos, retain, ids);
	}
	return mask;
}

void tern_route_deliver_local(struct tern_worker *w, struct tern_msg *msg, uint64_t gen)
{
	deliver_local(w, msg, gen);
}

bool tern_route_publish(struct tern_worker *w, struct tern_msg *msg)
{
	struct tern_broker *b = w->broker;
	uint64_t gen = __atomic_load_n(&b->tree_gen, __ATOMIC_ACQUIRE);
	uint64_t matched, others;

	/*
	 * A reloaded ACL reaches this worker's subscriptions before it routes
	 * (other workers apply it in their poll, before their inbox).
	 */
	tern_security_poll(w);
	/* The expiry clock starts when the broker takes the message [MQTT-3.3.2-5]. */
	if (msg->expiry_interval && !msg->expiry_ms)
		msg->expiry_ms = w->now_ms + (uint64_t)msg->expiry_interval * 1000u;
	if (msg->retain && tern_memlimit_retain_ok(w, msg) && tern_retain_set(b->retain, msg) < 0)
		TERN_STAT_ADD(w, publish_dropped, 1);
	matched = deliver_local(w, msg, gen);
	others = matched & ~(1ull << w->id);
	while (others) {
		unsigned i = (unsigned)__builtin_ctzll(others);

		others &= others - 1;
		if (tern_outbox_publish(w, i, tern_msg_ref(msg), gen) < 0) {
			tern_msg_unref(msg);
			TERN_STAT_ADD(w, publish_dropped, 1);
		}
	}
	return matched != 0;
}
