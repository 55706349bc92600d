/* SPDX-License-Identifier: MIT */
/*
 * Session state: subscriptions, the outbound QoS 1/2 window (inflight slots in
 * send order, so a reconnect resends in the original order), the bounded
 * queue behind it, and inbound QoS 2 ids. Home worker only.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/session.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

#define INFLIGHT_INITIAL 8
#define QUEUE_INITIAL	 16

struct tern_session *tern_session_create(struct tern_worker *w, const char *client_id, size_t len)
{
	struct tern_session *s = tern_calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->client_id = tern_strndup(client_id, len);
	if (!s->client_id) {
		tern_free(s);
		return NULL;
	}
	s->client_id_len = len;
	s->home = w->id;
	s->clean = true; /* nothing to resume yet */
	s->offline_since_ms = w->now_ms;
	s->max_inflight = w->broker->cfg.max_inflight_messages
			      ? w->broker->cfg.max_inflight_messages
			      : UINT16_MAX;
	cds_lfht_node_init(&s->registry_node);
	cds_list_add(&s->worker_node, &w->sessions);
	__atomic_add_fetch(&w->broker->sessions, 1, __ATOMIC_RELAXED);
	return s;
}

static void free_session_rcu(struct rcu_head *head)
{
	struct tern_session *s = caa_container_of(head, struct tern_session, rcu);

	tern_free(s->client_id);
	tern_free(s);
}

static void drop_subs(struct tern_worker *w, struct tern_session *s)
{
	size_t i;

	tern_session_drop_group(w, s, w->id);
	for (i = 0; i < s->n_subs; i++)
		tern_free(s->subs[i].filter);
	s->n_subs = 0;
	tern_subindex_clear(&s->subindex);
}

static void drop_messages(struct tern_worker *w, struct tern_session *s)
{
	size_t i;

	for (i = 0; i < s->n_inflight; i++) {
		if (s->inflight[i].msg)
			tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(s->inflight[i].msg));
		tern_msg_unref(s->inflight[i].msg);
	}
	s->n_inflight = 0;
	for (i = 0; i < s->q_len; i++)
		tern_msg_unref(s->queue[(s->q_head + i) % s->q_cap].msg);
	s->q_head = s->q_len = 0;
	tern_memlimit_add(w, -(int64_t)s->q_bytes);
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
	tern_free(s->subs);
	tern_free(s->inflight);
	tern_free(s->queue);
	tern_free(s->qos2_in);
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

int tern_session_subscribe(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
			   size_t len, uint8_t qos)
{
	struct tern_session_sub *sub = find_sub(s, filter, len);
	uint32_t max = w->broker->cfg.max_subscriptions;
	int ret;

	if (!sub) {
		if (max && s->n_subs >= max) {
			TERN_STAT_ADD(w, subscriptions_refused, 1);
			return -EDQUOT;
		}
		if (s->n_subs == s->cap_subs) {
			size_t cap = s->cap_subs ? s->cap_subs * 2 : 4;
			struct tern_session_sub *p = tern_realloc(s->subs, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			s->subs = p;
			s->cap_subs = cap;
		}
		sub = &s->subs[s->n_subs];
		sub->filter = tern_strndup((const char *)filter, len);
		if (!sub->filter)
			return -ENOMEM;
		sub->len = (uint16_t)len;
		if (tern_subindex_insert(&s->subindex, s->subs, (uint32_t)s->n_subs) < 0) {
			tern_free(sub->filter);
			return -ENOMEM;
		}
		ret = tern_topic_tree_add(w->broker->tree, filter, len, w->id, s, qos, NULL);
		if (ret < 0) {
			tern_subindex_remove(&s->subindex, s->subs, (uint32_t)s->n_subs);
			tern_free(sub->filter);
			return ret;
		}
		s->n_subs++;
	} else {
		ret = tern_topic_tree_add(w->broker->tree, filter, len, w->id, s, qos, NULL);
		if (ret < 0)
			return ret;
	}
	sub->qos = qos;
	return 0;
}

int tern_session_unsubscribe(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
			     size_t len)
{
	int pos = tern_subindex_find(&s->subindex, s->subs, filter, len);
	size_t last;

	if (pos < 0)
		return -ENOENT;
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

	for (i = 0; i < s->n_subs; i++)
		if (tern_topic_tree_handover(w->broker->tree, (const uint8_t *)s->subs[i].filter,
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
		if (tern_topic_tree_add(w->broker->tree, (const uint8_t *)s->subs[i].filter,
					s->subs[i].len, w->id, s, s->subs[i].qos, NULL) < 0) {
			TERN_STAT_ADD(w, subscriptions_refused, 1);
			ret = -ENOMEM;
		}
	return ret;
}

void tern_session_drop_group(struct tern_worker *w, struct tern_session *s, unsigned group)
{
	size_t i;

	for (i = 0; i < s->n_subs; i++)
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

/* Put msg in a new inflight slot and queue its PUBLISH. Returns 0 or -ENOMEM. */
static int send_inflight(struct tern_worker *w, struct tern_session *s, struct tern_conn *c,
			 struct tern_msg *msg, uint8_t qos, bool retain)
{
	struct tern_inflight *slot;

	if (s->n_inflight == s->alloc_inflight && grow_inflight(s) < 0)
		return -ENOMEM;
	slot = &s->inflight[s->n_inflight];
	slot->packet_id = next_packet_id(s);
	if (tern_outq_push_publish(&c->outq, msg, qos, false, retain, slot->packet_id) < 0)
		return -ENOMEM;
	slot->msg = tern_msg_ref(msg);
	slot->qos = qos;
	slot->retain = retain;
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
		   bool retain)
{
	struct tern_queued *q;

	if (queue_full(&w->broker->cfg, s, tern_msg_wire_len(msg)))
		return -ENOSPC;
	if (s->q_len == s->q_cap) {
		size_t cap = s->q_cap ? s->q_cap * 2 : QUEUE_INITIAL;
		struct tern_queued *p = tern_malloc(cap * sizeof(*p));
		size_t i;

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

		if (send_inflight(w, s, c, q->msg, q->qos, q->retain) < 0)
			return;
		s->q_bytes -= tern_msg_wire_len(q->msg);
		tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(q->msg));
		tern_msg_unref(q->msg);
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
	}
}

void tern_session_deliver(struct tern_worker *w, struct tern_session *s, struct tern_msg *msg,
			  uint8_t qos, bool retain)
{
	struct tern_conn *c = live_conn(w, s);

	if (qos == 0 && !c)
		return; /* QoS 0 is not kept for offline sessions */
	if (!tern_memlimit_deliver_ok(w, msg))
		return;
	if (qos == 0) {
		/*
		 * Past the bound, or while the connection's input is paused until the
		 * output drains to half: adding more would keep it from ever draining.
		 */
		if (c->input_paused ||
		    tern_outq_bytes(&c->outq) > w->broker->cfg.max_output_bytes ||
		    tern_outq_push_publish(&c->outq, msg, 0, false, retain, 0) < 0) {
			TERN_STAT_ADD(w, publish_dropped, 1);
			return;
		}
		TERN_STAT_ADD(w, msgs_sent, 1);
		tern_conn_want_write(c);
		return;
	}
	/* Order matters: a new message never overtakes queued ones. */
	if (c && s->q_len == 0 && s->n_inflight < s->max_inflight &&
	    send_inflight(w, s, c, msg, qos, retain) == 0)
		return;
	if (enqueue(w, s, msg, qos, retain) < 0)
		TERN_STAT_ADD(w, publish_dropped, 1);
}

static void remove_inflight(struct tern_worker *w, struct tern_session *s,
			    struct tern_inflight *slot)
{
	size_t i = (size_t)(slot - s->inflight);

	if (slot->msg)
		tern_memlimit_add(w, -(int64_t)tern_msg_wire_len(slot->msg));
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
		size_t cap = s->cap_qos2_in ? s->cap_qos2_in * 2 : 4;
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

void tern_session_qos2_release(struct tern_session *s, uint16_t packet_id)
{
	size_t i;

	for (i = 0; i < s->n_qos2_in; i++) {
		if (s->qos2_in[i] == packet_id) {
			s->qos2_in[i] = s->qos2_in[--s->n_qos2_in];
			return;
		}
	}
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
			tern_outq_push_publish(&c->outq, slot->msg, slot->qos, true, slot->retain,
					       slot->packet_id);
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
}
