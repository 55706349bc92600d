/* SPDX-License-Identifier: MIT */
/*
 * Session state: subscriptions, the outbound QoS 1/2 window (inflight slots in
 * send order, so a reconnect resends in the original order), the bounded
 * queue behind it, and inbound QoS 2 ids. Home worker only.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "broker/alias.h"
#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/props.h"
#include "broker/route.h"
#include "broker/session.h"
#include "broker/share.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

/* With a 23-byte client id it fits jemalloc's 256-byte class (README "Memory per connection"). */
_Static_assert(offsetof(struct tern_session, client_id) + 24 <= 256,
	       "struct tern_session outgrew jemalloc's 256-byte class");

#define INFLIGHT_INITIAL 8
#define QUEUE_INITIAL	 16

struct tern_session *tern_session_create(struct tern_worker *w, const char *client_id, size_t len)
{
	struct tern_session *s;

	/* The codec bounds a client id to a 16-bit length; anything else is a caller bug. */
	if (len > UINT16_MAX) {
		errno = EINVAL;
		return NULL;
	}
	/* The id inline: one allocation, and no pointer to keep. */
	s = tern_calloc(1, offsetof(struct tern_session, client_id) + len + 1);
	if (!s)
		return NULL;
	memcpy(s->client_id, client_id, len);
	s->client_id_len = (uint16_t)len;
	s->uid = __atomic_add_fetch(&w->broker->next_session_uid, 1, __ATOMIC_RELAXED);
	s->home = (uint16_t)w->id;
	s->clean = true; /* nothing to resume yet */
	s->offline_since_ms = w->now_ms;
	s->max_inflight = w->broker->cfg.max_inflight_messages
			      ? w->broker->cfg.max_inflight_messages
			      : UINT16_MAX;
	cds_lfht_node_init(&s->registry_node);
	tern_deadline_init(&s->deadline);
	cds_list_add(&s->worker_node, &w->sessions);
	/* Unattached, it expires at the next sweep, as any offline session without expiry. */
	tern_session_schedule(w, s);
	__atomic_add_fetch(&w->broker->sessions, 1, __ATOMIC_RELAXED);
	return s;
}

static void free_session_rcu(struct rcu_head *head)
{
	struct tern_session *s = caa_container_of(head, struct tern_session, rcu);

	tern_free(s->username);
	tern_free(s);
}

static bool sub_is_shared(const struct tern_session_sub *sub)
{
	const uint8_t *filter;
	size_t len;

	return tern_share_parse((const uint8_t *)sub->filter, sub->len, &filter, &len) == 1;
}

static void drop_subs(struct tern_worker *w, struct tern_session *s)
{
	size_t i;

	tern_session_drop_group(w, s, w->id);
	for (i = 0; i < s->n_subs; i++) {
		if (sub_is_shared(&s->subs[i]))
			tern_share_leave(w, s, (const uint8_t *)s->subs[i].filter, s->subs[i].len);
		tern_free(s->subs[i].filter);
	}
	s->n_subs = 0;
	tern_subindex_clear(&s->subindex);
}

/*
 * A message the session holds is going away unsent or unacknowledged: one
 * that came through a shared subscription goes back to its group for another
 * member [MQTT-4.8.2-6]; the reference on it is released either way.
 */
static void release(struct tern_worker *w, struct tern_msg *msg, struct tern_via *via)
{
	if (msg)
		tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(msg));
	if (via->share && msg)
		tern_share_requeue(w, via->share, msg);
	else
		tern_share_unref(via->share);
	via->share = NULL;
	tern_msg_unref(msg);
}

/* Keep a delivery's group while the session stores it. */
static void hold(struct tern_via *dst, const struct tern_via *src)
{
	dst->n = 0;
	dst->share = NULL;
	if (!src)
		return;
	*dst = *src;
	if (dst->share)
		tern_share_ref(dst->share);
}

static void drop_messages(struct tern_worker *w, struct tern_session *s)
{
	size_t i;

	for (i = 0; i < s->n_inflight; i++)
		release(w, s->inflight[i].msg, &s->inflight[i].ids);
	s->n_inflight = 0;
	for (i = 0; i < s->q_len; i++) {
		struct tern_queued *q = &s->queue[(s->q_head + i) % s->q_cap];

		release(w, q->msg, &q->ids);
	}
	s->q_head = s->q_len = 0;
	s->q_bytes = 0;
	s->n_qos2_in = 0;
}

void tern_session_reset(struct tern_worker *w, struct tern_session *s)
{
	drop_subs(w, s);
	drop_messages(w, s);
}

void tern_session_destroy(struct tern_worker *w, struct tern_session *s)
{
	tern_session_reset(w, s);
	tern_session_cancel_will(s);
	tern_free(s->subs);
	tern_free(s->inflight);
	tern_free(s->queue);
	tern_free(s->qos2_in);
	tern_session_unschedule(w, s);
	cds_list_del(&s->worker_node);
	__atomic_sub_fetch(&w->broker->sessions, 1, __ATOMIC_RELAXED);
	/* Registry lookups on other workers may still see the node until a grace period. */
	call_rcu(&s->rcu, free_session_rcu);
}

static struct tern_session_sub *find_sub(struct tern_session *s, const uint8_t *filter, size_t len)
{
	int pos = tern_subindex_find(&s->subindex, s->subs, filter, len);

	return pos < 0 ? NULL : &s->subs[pos];
}

/* A new record for filter at the end of s->subs, not yet counted; NULL on ENOMEM. */
static struct tern_session_sub *new_sub(struct tern_session *s, const uint8_t *filter, size_t len)
{
	struct tern_session_sub *sub;

	if (s->n_subs == s->cap_subs) {
		size_t cap = s->cap_subs ? (size_t)s->cap_subs * 2 : 4;
		struct tern_session_sub *p;

		if (cap > UINT32_MAX) /* positions are 32-bit (subindex.h) */
			return NULL;
		p = tern_realloc(s->subs, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->subs = p;
		s->cap_subs = cap;
	}
	sub = &s->subs[s->n_subs];
	sub->filter = tern_strndup((const char *)filter, len);
	if (!sub->filter)
		return NULL;
	sub->len = (uint16_t)len;
	if (tern_subindex_insert(&s->subindex, s->subs, (uint32_t)s->n_subs) < 0) {
		tern_free(sub->filter);
		return NULL;
	}
	return sub;
}

/* Put a subscription where it lives: the tree, or its shared subscription group. */
static int place_sub(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
		     size_t len, uint8_t options, uint32_t sub_id)
{
	const uint8_t *inner;
	size_t inner_len;
	bool member;

	if (tern_share_parse(filter, len, &inner, &inner_len) == 1)
		return tern_share_join(w, s, filter, len, options, sub_id, &member);
	return tern_topic_tree_add(w->broker->tree, filter, len, w->id, s, options, sub_id, NULL);
}

int tern_session_subscribe(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
			   size_t len, uint8_t options, uint32_t sub_id, bool *existed)
{
	struct tern_session_sub *sub = find_sub(s, filter, len);
	uint32_t max = w->broker->cfg.max_subscriptions;
	bool known = sub != NULL;
	int ret;

	if (existed)
		*existed = known;
	if (!known && max && s->n_subs >= max) {
		TERN_STAT_ADD(w, subscriptions_refused, 1);
		return -EDQUOT;
	}
	if (!known && !(sub = new_sub(s, filter, len)))
		return -ENOMEM;
	ret = place_sub(w, s, filter, len, options, sub_id);
	if (ret < 0) {
		if (!known) {
			tern_subindex_remove(&s->subindex, s->subs, (uint32_t)s->n_subs);
			tern_free(sub->filter);
		}
		return ret;
	}
	sub->options = options;
	sub->sub_id = sub_id;
	if (!known)
		s->n_subs++;
	return 0;
}

int tern_session_unsubscribe(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
			     size_t len)
{
	int pos = tern_subindex_find(&s->subindex, s->subs, filter, len);
	size_t last;

	if (pos < 0)
		return -ENOENT;
	if (sub_is_shared(&s->subs[pos]))
		tern_share_leave(w, s, filter, len);
	else
		tern_topic_tree_remove(w->broker->tree, filter, len, w->id, s);
	tern_subindex_remove(&s->subindex, s->subs, (uint32_t)pos);
	tern_free(s->subs[pos].filter);
	last = --s->n_subs;
	if ((size_t)pos != last) {
		/* Keep the array dense: the last entry fills the hole. */
		s->subs[pos] = s->subs[last];
		tern_subindex_moved(&s->subindex, s->subs, (uint32_t)last, (uint32_t)pos);
	}
	return 0;
}

int tern_session_handover_subs(struct tern_worker *w, struct tern_session *s, unsigned from,
			       unsigned to, uint64_t gen)
{
	int ret = 0;
	size_t i;

	/* Shared memberships name the session, not a worker: they move with it. */
	for (i = 0; i < s->n_subs; i++)
		if (!sub_is_shared(&s->subs[i]) &&
		    tern_topic_tree_handover(w->broker->tree, (const uint8_t *)s->subs[i].filter,
					     s->subs[i].len, s, from, to, gen) == -ENOMEM)
			ret = -ENOMEM;
	return ret;
}

int tern_session_resubscribe_all(struct tern_worker *w, struct tern_session *s)
{
	int ret = 0;
	size_t i;

	/* Entries that were handed over only keep their options; missing ones are added. */
	for (i = 0; i < s->n_subs; i++)
		if (!sub_is_shared(&s->subs[i]) &&
		    tern_topic_tree_add(w->broker->tree, (const uint8_t *)s->subs[i].filter,
					s->subs[i].len, w->id, s, s->subs[i].options,
					s->subs[i].sub_id, NULL) < 0) {
			TERN_STAT_ADD(w, subscriptions_refused, 1);
			ret = -ENOMEM;
		}
	return ret;
}

void tern_session_drop_group(struct tern_worker *w, struct tern_session *s, unsigned group)
{
	size_t i;

	for (i = 0; i < s->n_subs; i++)
		if (!sub_is_shared(&s->subs[i]))
			tern_topic_tree_remove(w->broker->tree, (const uint8_t *)s->subs[i].filter,
					       s->subs[i].len, group, s);
}

/* The connection to write to, or NULL when the session cannot send now. */
static struct tern_conn *live_conn(struct tern_worker *w, struct tern_session *s)
{
	/* A session in transit to w is matched here before it arrives: treat it as offline. */
	if (s->home != w->id || !s->conn || s->conn->state != TERN_CONN_ACTIVE)
		return NULL;
	return s->conn;
}

static struct tern_inflight *find_inflight(struct tern_session *s, uint16_t packet_id)
{
	uint32_t i;

	for (i = 0; i < s->n_inflight; i++)
		if (s->inflight[i].packet_id == packet_id)
			return &s->inflight[i];
	return NULL;
}

static uint16_t next_packet_id(struct tern_session *s)
{
	do {
		if (++s->next_packet_id == 0)
			s->next_packet_id = 1;
	} while (find_inflight(s, s->next_packet_id));
	return s->next_packet_id;
}

/* Slots are allocated on demand: most sessions never have more than a few in flight. */
static int grow_inflight(struct tern_session *s)
{
	uint32_t cap = s->alloc_inflight ? 2u * s->alloc_inflight : INFLIGHT_INITIAL;
	struct tern_inflight *p;

	if (cap > s->max_inflight)
		cap = s->max_inflight;
	p = tern_realloc(s->inflight, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->inflight = p;
	s->alloc_inflight = cap;
	return 0;
}

/*
 * The properties of this one 5.0 delivery into x (backed by buf): the time
 * left of its expiry, a topic alias when the client takes them, and its
 * subscription identifiers. *pick is the alias to commit once queued.
 */
static void delivery_props(struct tern_worker *w, struct tern_conn *c, const struct tern_msg *msg,
			   const struct tern_via *ids, uint8_t *buf, struct tern_outq_pub5 *x,
			   struct tern_alias_pick *pick)
{
	struct tern_props_writer pw;

	tern_props_writer_init(&pw, buf, TERN_OUTQ_PUB5_PROPS_MAX);
	if (msg->expiry_ms) /* whole seconds left, rounded up [MQTT-3.3.2-6] */
		tern_props_put_int(&pw, TERN_PROP_MESSAGE_EXPIRY,
				   (uint32_t)((msg->expiry_ms - w->now_ms + 999) / 1000));
	if (c->aliases_out) {
		*pick = tern_alias_out_pick(c->aliases_out, tern_msg_topic(msg), msg->topic_len);
		tern_props_put_int(&pw, TERN_PROP_TOPIC_ALIAS, pick->alias);
		x->omit_topic = pick->known;
	}
	for (uint8_t i = 0; ids && i < ids->n; i++)
		tern_props_put_int(&pw, TERN_PROP_SUBSCRIPTION_ID, ids->id[i]);
	/* Sized for the most a delivery adds: 5 + 3 + 4 x 5 bytes. */
	x->props = buf;
	x->props_len = pw.overflow ? 0 : pw.len;
	x->max_packet = c->peer_max_packet;
}

/*
 * Queue a PUBLISH in the connection's protocol version. -E2BIG: larger than
 * the 5.0 client's Maximum Packet Size, so it must never be sent.
 */
static int push_delivery(struct tern_worker *w, struct tern_conn *c, struct tern_msg *msg,
			 uint8_t qos, bool dup, bool retain, uint16_t packet_id,
			 const struct tern_via *ids)
{
	uint8_t buf[TERN_OUTQ_PUB5_PROPS_MAX];
	struct tern_outq_pub5 x = {0};
	struct tern_alias_pick pick = {0};
	int ret;

	if (!tern_conn_v5(c))
		return tern_outq_push_publish(&c->outq, msg, qos, dup, retain, packet_id);
	delivery_props(w, c, msg, ids, buf, &x, &pick);
	ret = tern_outq_push_publish5(&c->outq, msg, qos, dup, retain, packet_id, &x);
	if (ret == 0 && pick.alias)
		tern_alias_out_commit(c->aliases_out, pick, tern_msg_topic(msg), msg->topic_len);
	return ret;
}

/*
 * Put msg in a new inflight slot and queue its PUBLISH. Returns 0 (also when
 * the client's packet size limit discards it, counted, as if it were sent
 * [MQTT-3.1.2-25]) or -ENOMEM.
 */
static int send_inflight(struct tern_worker *w, struct tern_session *s, struct tern_conn *c,
			 struct tern_msg *msg, uint8_t qos, bool retain, const struct tern_via *ids)
{
	struct tern_inflight *slot;
	int ret;

	if (s->n_inflight == s->alloc_inflight && grow_inflight(s) < 0)
		return -ENOMEM;
	slot = &s->inflight[s->n_inflight];
	slot->packet_id = next_packet_id(s);
	ret = push_delivery(w, c, msg, qos, false, retain, slot->packet_id, ids);
	if (ret == -E2BIG) {
		TERN_STAT_ADD(w, publish_dropped, 1);
		return 0;
	}
	if (ret < 0)
		return -ENOMEM;
	slot->msg = tern_msg_ref(msg);
	slot->qos = qos;
	slot->retain = retain;
	hold(&slot->ids, ids);
	slot->state = qos == 1 ? TERN_INFLIGHT_WAIT_PUBACK : TERN_INFLIGHT_WAIT_PUBREC;
	s->n_inflight++;
	tern_memlimit_add(w, (int64_t)tern_msg_wire_len(msg));
	TERN_STAT_ADD(w, msgs_sent, 1);
	tern_conn_want_write(c);
	return 0;
}

static bool queue_full(const struct tern_config *cfg, const struct tern_session *s, size_t size)
{
	return (cfg->max_queued_messages && s->q_len >= cfg->max_queued_messages) ||
	       (cfg->max_queued_bytes && s->q_bytes + size > cfg->max_queued_bytes);
}

static int enqueue(struct tern_worker *w, struct tern_session *s, struct tern_msg *msg, uint8_t qos,
		   bool retain, const struct tern_via *ids)
{
	struct tern_queued *q;

	if (queue_full(&w->broker->cfg, s, tern_msg_wire_len(msg)))
		return -ENOSPC;
	if (s->q_len == s->q_cap) {
		size_t cap = s->q_cap ? (size_t)s->q_cap * 2 : QUEUE_INITIAL;
		struct tern_queued *p;
		size_t i;

		if (cap > UINT32_MAX) /* the ring's indexes are 32-bit: full */
			return -ENOSPC;
		p = tern_malloc(cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		for (i = 0; i < s->q_len; i++)
			p[i] = s->queue[(s->q_head + i) % s->q_cap];
		tern_free(s->queue);
		s->queue = p;
		s->q_cap = cap;
		s->q_head = 0;
	}
	q = &s->queue[(s->q_head + s->q_len) % s->q_cap];
	q->msg = tern_msg_ref(msg);
	q->qos = qos;
	q->retain = retain;
	hold(&q->ids, ids);
	s->q_len++;
	s->q_bytes += tern_msg_wire_len(msg);
	tern_memlimit_add(w, (int64_t)tern_msg_wire_len(msg));
	return 0;
}

/* Move queued messages into free inflight slots while connected. */
static void pump(struct tern_worker *w, struct tern_session *s)
{
	struct tern_conn *c = live_conn(w, s);

	while (c && s->q_len && s->n_inflight < s->max_inflight) {
		struct tern_queued *q = &s->queue[s->q_head];

		/* An expired message not yet on its way is deleted [MQTT-3.3.2-5]. */
		if (tern_msg_expired(q->msg, w->now_ms))
			TERN_STAT_ADD(w, publish_dropped, 1);
		else if (send_inflight(w, s, c, q->msg, q->qos, q->retain, &q->ids) < 0)
			return;
		s->q_bytes -= tern_msg_wire_len(q->msg);
		tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(q->msg));
		tern_share_unref(q->ids.share); /* the inflight slot holds its own */
		tern_msg_unref(q->msg);
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
	}
}

void tern_session_deliver(struct tern_worker *w, struct tern_session *s, struct tern_msg *msg,
			  uint8_t qos, bool retain, const struct tern_via *ids)
{
	struct tern_conn *c = live_conn(w, s);

	if (tern_msg_expired(msg, w->now_ms)) {
		TERN_STAT_ADD(w, publish_dropped, 1);
		return;
	}
	if (qos == 0 && !c)
		return; /* QoS 0 is not kept for offline sessions */
	if (!tern_memlimit_deliver_ok(w, msg))
		return;
	if (qos == 0) {
		if (!c)
			return; /* QoS 0 is not kept for offline sessions */
		/*
		 * Past the bound, or while the connection's input is paused until the
		 * output drains to half: adding more would keep it from ever draining.
		 */
		if (c->input_paused ||
		    tern_outq_bytes(&c->outq) > w->broker->cfg.max_output_bytes ||
		    push_delivery(w, c, msg, 0, false, retain, 0, ids) < 0) {
			TERN_STAT_ADD(w, publish_dropped, 1);
			return;
		}
		TERN_STAT_ADD(w, msgs_sent, 1);
		tern_conn_want_write(c);
		return;
	}
	/* Order matters: a new message never overtakes queued ones. */
	if (c && s->q_len == 0 && s->n_inflight < s->max_inflight &&
	    send_inflight(w, s, c, msg, qos, retain, ids) == 0)
		return;
	if (enqueue(w, s, msg, qos, retain, ids) < 0)
		TERN_STAT_ADD(w, publish_dropped, 1);
}

static void remove_inflight(struct tern_worker *w, struct tern_session *s,
			    struct tern_inflight *slot)
{
	size_t i = (size_t)(slot - s->inflight);

	if (slot->msg)
		tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(slot->msg));
	tern_share_unref(slot->ids.share);
	tern_msg_unref(slot->msg);
	memmove(slot, slot + 1, (s->n_inflight - i - 1) * sizeof(*slot));
	s->n_inflight--;
}

int tern_session_puback(struct tern_worker *w, struct tern_session *s, uint16_t packet_id)
{
	struct tern_inflight *slot = find_inflight(s, packet_id);

	if (!slot || slot->state != TERN_INFLIGHT_WAIT_PUBACK)
		return -ENOENT;
	remove_inflight(w, s, slot);
	pump(w, s);
	return 0;
}

int tern_session_pubrec(struct tern_worker *w, struct tern_session *s, uint16_t packet_id)
{
	struct tern_inflight *slot = find_inflight(s, packet_id);

	if (!slot || slot->state == TERN_INFLIGHT_WAIT_PUBACK)
		return -ENOENT;
	/* After PUBREC the message is owned by the receiver: release it now. */
	tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(slot->msg));
	tern_msg_unref(slot->msg);
	slot->msg = NULL;
	tern_share_unref(slot->ids.share);
	slot->ids.share = NULL;
	slot->state = TERN_INFLIGHT_WAIT_PUBCOMP;
	return 0;
}

int tern_session_pubcomp(struct tern_worker *w, struct tern_session *s, uint16_t packet_id)
{
	struct tern_inflight *slot = find_inflight(s, packet_id);

	if (!slot || slot->state != TERN_INFLIGHT_WAIT_PUBCOMP)
		return -ENOENT;
	remove_inflight(w, s, slot);
	pump(w, s);
	return 0;
}

bool tern_session_qos2_seen(struct tern_session *s, uint16_t packet_id, int *err)
{
	size_t i;

	*err = 0;
	for (i = 0; i < s->n_qos2_in; i++)
		if (s->qos2_in[i] == packet_id)
			return true;
	if (s->n_qos2_in == s->cap_qos2_in) {
		size_t cap = s->cap_qos2_in ? (size_t)s->cap_qos2_in * 2 : 4;
		uint16_t *p = tern_realloc(s->qos2_in, cap * sizeof(*p));

		if (!p) {
			*err = -ENOMEM;
			return false;
		}
		s->qos2_in = p;
		s->cap_qos2_in = cap;
	}
	s->qos2_in[s->n_qos2_in++] = packet_id;
	return false;
}

bool tern_session_qos2_release(struct tern_session *s, uint16_t packet_id)
{
	size_t i;

	for (i = 0; i < s->n_qos2_in; i++) {
		if (s->qos2_in[i] == packet_id) {
			s->qos2_in[i] = s->qos2_in[--s->n_qos2_in];
			return true;
		}
	}
	return false;
}

void tern_session_resume(struct tern_worker *w, struct tern_session *s)
{
	struct tern_conn *c = live_conn(w, s);
	uint8_t pkt[4];
	uint32_t i;

	if (!c)
		return;
	for (i = 0; i < s->n_inflight; i++) {
		struct tern_inflight *slot = &s->inflight[i];

		if (slot->state == TERN_INFLIGHT_WAIT_PUBCOMP) {
			size_t n = tern_codec_encode_ack(pkt, sizeof(pkt), TERN_PKT_PUBREL,
							 slot->packet_id);
			tern_outq_push_bytes(&c->outq, pkt, n);
		} else {
			push_delivery(w, c, slot->msg, slot->qos, true, slot->retain,
				      slot->packet_id, &slot->ids);
		}
	}
	if (s->n_inflight)
		tern_conn_want_write(c);
	pump(w, s);
}

void tern_session_detach(struct tern_worker *w, struct tern_session *s)
{
	s->conn = NULL;
	s->offline_since_ms = w->now_ms;
	tern_session_schedule(w, s);
}

void tern_session_schedule_at(struct tern_worker *w, struct tern_session *s, uint64_t at_ms)
{
	if (tern_deadline_set(&w->deadlines, &s->deadline, at_ms) < 0)
		w->deadlines_lost = true;
}

void tern_session_schedule(struct tern_worker *w, struct tern_session *s)
{
	uint64_t at = UINT64_MAX;

	if (!s->conn) {
		if (s->will)
			at = s->will_at_ms;
		/* The sweep ends it once more than expiry_s seconds have passed. */
		if (s->expiry_s != TERN_SESSION_NEVER_EXPIRES &&
		    s->offline_since_ms + (uint64_t)s->expiry_s * 1000u + 1 < at)
			at = s->offline_since_ms + (uint64_t)s->expiry_s * 1000u + 1;
	}
	if (at == UINT64_MAX)
		tern_session_unschedule(w, s);
	else
		tern_session_schedule_at(w, s, at);
}

void tern_session_unschedule(struct tern_worker *w, struct tern_session *s)
{
	tern_deadline_cancel(&w->deadlines, &s->deadline);
}

void tern_session_delay_will(struct tern_worker *w, struct tern_session *s, struct tern_msg *will,
			     uint32_t delay)
{
	tern_session_cancel_will(s);
	s->will = tern_msg_ref(will);
	s->will_at_ms = w->now_ms + (uint64_t)delay * 1000u;
	tern_session_schedule(w, s);
}

void tern_session_cancel_will(struct tern_session *s)
{
	tern_msg_unref(s->will);
	s->will = NULL;
}

void tern_session_publish_will(struct tern_worker *w, struct tern_session *s)
{
	struct tern_msg *will = s->will;

	if (!will)
		return;
	s->will = NULL;
	tern_route_publish(w, will);
	tern_msg_unref(will);
	tern_session_schedule(w, s);
}
