/* SPDX-License-Identifier: MIT */
/* Client id registry and the cross-worker session takeover handshake (design note in registry.h).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/msg.h"
#include "broker/registry.h"
#include "broker/session.h"
#include "broker/worker.h"

struct id_key {
	const char *id;
	size_t len;
};

/* FNV-1a: client ids are short; this is the connect path, not the message path. */
static unsigned long hash_id(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)id[i];
		h *= 1099511628211ull;
	}
	return (unsigned long)h;
}

static int match_id(struct cds_lfht_node *node, const void *key)
{
	const struct tern_session *s = caa_container_of(node, struct tern_session, registry_node);
	const struct id_key *k = key;

	return s->client_id_len == k->len && memcmp(s->client_id, k->id, k->len) == 0;
}

int tern_registry_init(struct tern_broker *b)
{
	b->registry = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	return b->registry ? 0 : -ENOMEM;
}

void tern_registry_fini(struct tern_broker *b)
{
	if (b->registry)
		cds_lfht_destroy(b->registry, NULL);
	b->registry = NULL;
}

static struct tern_session *lookup(struct tern_broker *b, const char *id, size_t len)
{
	struct id_key key = {id, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(b->registry, hash_id(id, len), match_id, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct tern_session, registry_node) : NULL;
}

/*
 * A session on its way to this worker, and what was matched for it meanwhile.
 * It also carries the takeover handshake's own inbox item and grace-period
 * callback: it is allocated before the claim is made, so once a claim is made
 * no step can fail for lack of memory and leave the client id locked in
 * transit. Kept here rather than in every session, which would pay for them
 * while idle. One handshake at a time: a second claim waits until ADOPT.
 * Freed on adoption, or with its session when the broker stops mid-takeover.
 */
struct tern_arrival {
	struct cds_list_head node; /* in worker->arrivals; empty once released */
	struct tern_session *session;
	struct tern_conn *conn; /* NULL once the waiting connection went away */
	struct tern_queued *stash;
	size_t n_stash, cap_stash;
	struct tern_match_scratch match; /* ours: the old home still matches the session */
	/* Written by the old home (TAKEOVER), read by the arrival's worker after ADOPT. */
	bool handover_incomplete; /* some subscriptions could not be handed over: re-add */
	struct tern_inbox_item handshake;
	struct rcu_head depart_rcu;
	struct tern_worker *depart_home;
};

/* The session's one handshake item; its previous step was handled before this one is posted. */
static void post_handshake(struct tern_worker *to, struct tern_session *s,
			   enum tern_inbox_kind kind)
{
	struct tern_inbox_item *item = &s->arrival->handshake;

	item->kind = kind;
	item->embedded = true;
	item->gen = 0;
	item->session = s;
	tern_worker_post_item(to, item);
}

int tern_registry_claim(struct tern_worker *w, struct tern_conn *c, const char *id, size_t len,
			struct tern_session **out)
{
	struct tern_broker *b = w->broker;
	struct tern_arrival *arrival;
	struct tern_session *s;
	int kind;

	/* Allocated up front: once TAKEOVER is posted, matches may be stashed here. */
	arrival = tern_calloc(1, sizeof(*arrival));
	if (!arrival)
		return -ENOMEM;
	pthread_mutex_lock(&b->registry_lock);
	s = lookup(b, id, len);
	if (!s) {
		s = tern_session_create(w, id, len);
		if (!s) {
			pthread_mutex_unlock(&b->registry_lock);
			tern_free(arrival);
			return -ENOMEM;
		}
		cds_lfht_add(b->registry, hash_id(id, len), &s->registry_node);
		kind = TERN_CLAIM_NEW;
	} else if (s->in_transit) {
		kind = TERN_CLAIM_BUSY;
	} else if (s->home == w->id) {
		kind = TERN_CLAIM_LOCAL;
	} else {
		s->in_transit = true;
		s->dest = (uint16_t)w->id;
		kind = TERN_CLAIM_REMOTE;
	}
	pthread_mutex_unlock(&b->registry_lock);

	if (kind != TERN_CLAIM_REMOTE) {
		tern_free(arrival);
		*out = s;
		return kind;
	}
	arrival->session = s;
	arrival->conn = c;
	cds_list_add_tail(&arrival->node, &w->arrivals);
	c->arrival = arrival;
	s->arrival = arrival;
	/* From here on nothing allocates: the handshake cannot strand the id in transit. */
	post_handshake(b->workers[s->home], s, TERN_INBOX_TAKEOVER);
	*out = s;
	return kind;
}

int tern_registry_remove(struct tern_worker *w, struct tern_session *s)
{
	struct tern_broker *b = w->broker;
	int ret = 0;

	pthread_mutex_lock(&b->registry_lock);
	if (s->in_transit)
		ret = -EBUSY;
	else
		cds_lfht_del(b->registry, &s->registry_node);
	pthread_mutex_unlock(&b->registry_lock);
	return ret;
}

static void depart_after_grace(struct rcu_head *head)
{
	struct tern_arrival *a = caa_container_of(head, struct tern_arrival, depart_rcu);

	/* Every walk older than the handover is done and its items are queued ahead. */
	post_handshake(a->depart_home, a->session, TERN_INBOX_DEPART);
}

void tern_registry_on_takeover(struct tern_worker *w, struct tern_session *s)
{
	struct tern_broker *b = w->broker;
	uint64_t gen;

	if (s->conn) {
		TERN_STAT_ADD(w, takeovers, 1);
		tern_conn_close(s->conn, TERN_CLOSE_TAKEN_OVER);
	}
	/* Handover edits and the generation bump are one step for every reader. */
	pthread_mutex_lock(&b->registry_lock);
	gen = b->tree_gen + 1;
	/* Out of memory: the new home re-adds what is missing when it adopts the session. */
	if (tern_session_handover_subs(w, s, w->id, s->dest, gen) < 0)
		s->arrival->handover_incomplete = true;
	__atomic_store_n(&b->tree_gen, gen, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->registry_lock);

	s->arrival->depart_home = w;
	call_rcu(&s->arrival->depart_rcu, depart_after_grace);
}

void tern_registry_on_depart(struct tern_worker *w, struct tern_session *s)
{
	unsigned dest = s->dest;

	/* Last touches here: from now on the session belongs to dest. */
	tern_session_drop_group(w, s, w->id);
	tern_session_unschedule(w, s);
	cds_list_del(&s->worker_node);
	post_handshake(w->broker->workers[dest], s, TERN_INBOX_ADOPT);
}

/* O(1): a takeover storm puts thousands of sessions in transit to one worker at once. */
static struct tern_arrival *find_arrival(struct tern_worker *w, const struct tern_session *s)
{
	return s->in_transit && s->dest == w->id ? s->arrival : NULL;
}

struct tern_match_scratch *tern_registry_arrival_scratch(struct tern_worker *w,
							 struct tern_session *s)
{
	struct tern_arrival *a = find_arrival(w, s);

	return a ? &a->match : NULL;
}

/*
 * Drop what an arrival holds and take it off its worker's list. The record
 * itself stays while its handshake item may still be queued somewhere.
 */
static void release_arrival(struct tern_arrival *a)
{
	size_t i;

	for (i = 0; i < a->n_stash; i++)
		tern_msg_unref(a->stash[i].msg);
	tern_free(a->stash);
	a->stash = NULL;
	a->n_stash = a->cap_stash = 0;
	if (a->conn)
		a->conn->arrival = NULL;
	a->conn = NULL;
	cds_list_del_init(&a->node);
}

static void free_arrival(struct tern_arrival *a)
{
	release_arrival(a);
	tern_free(a);
}

void tern_registry_stash(struct tern_worker *w, struct tern_session *s, struct tern_msg *msg,
			 uint8_t qos, bool retain, const struct tern_via *ids)
{
	struct tern_arrival *a = find_arrival(w, s);

	if (a && a->n_stash == a->cap_stash) {
		size_t cap = a->cap_stash ? a->cap_stash * 2 : 16;
		struct tern_queued *p = tern_realloc(a->stash, cap * sizeof(*p));

		if (!p)
			a = NULL;
		else {
			a->stash = p;
			a->cap_stash = cap;
		}
	}
	if (!a) {
		TERN_STAT_ADD(w, publish_dropped, 1);
		return;
	}
	a->stash[a->n_stash].msg = tern_msg_ref(msg);
	a->stash[a->n_stash].qos = qos;
	a->stash[a->n_stash].retain = retain;
	a->stash[a->n_stash].ids = ids ? *ids : (struct tern_via){0};
	a->stash[a->n_stash].ids.share = NULL; /* shared deliveries never wait here */
	a->n_stash++;
}

void tern_registry_abandon(struct tern_conn *c)
{
	if (c->arrival)
		c->arrival->conn = NULL;
	c->arrival = NULL;
}

void tern_registry_arrivals_free(struct tern_worker *w)
{
	/* The records go with their sessions (tern_registry_transit_abort). */
	while (!cds_list_empty(&w->arrivals))
		release_arrival(cds_list_first_entry(&w->arrivals, struct tern_arrival, node));
}

void tern_registry_transit_abort(struct tern_session *s)
{
	s->in_transit = false;
	if (s->arrival)
		free_arrival(s->arrival);
	s->arrival = NULL;
}

void tern_registry_on_adopt(struct tern_worker *w, struct tern_session *s)
{
	struct tern_arrival *a = find_arrival(w, s);
	struct tern_conn *c = a ? a->conn : NULL;
	bool keep_stash;
	size_t i;

	s->arrival = NULL;
	pthread_mutex_lock(&w->broker->registry_lock);
	s->home = (uint16_t)w->id;
	s->in_transit = false;
	pthread_mutex_unlock(&w->broker->registry_lock);
	cds_list_add(&s->worker_node, &w->sessions);
	s->offline_since_ms = w->now_ms;
	tern_session_schedule(w, s);
	if (a && a->handover_incomplete) {
		if (tern_session_resubscribe_all(w, s) < 0)
			tern_log(TERN_LOG_ERR,
				 "out of memory: client %s lost subscriptions moving here",
				 s->client_id);
	}

	if (c) {
		c->arrival = NULL;
		/* Matched under the old subscriptions: worthless if the session starts clean. */
		keep_stash = !c->clean_session && !s->clean;
		tern_connect_complete(c, s);
	} else {
		keep_stash = !s->clean;
	}
	for (i = 0; a && keep_stash && i < a->n_stash; i++)
		tern_session_deliver(w, s, a->stash[i].msg, a->stash[i].qos, a->stash[i].retain,
				     &a->stash[i].ids);
	if (a)
		free_arrival(a);
	if (c) {
		tern_conn_process_buffered(c);
	} else if (s->clean && tern_registry_remove(w, s) == 0) {
		/* Nobody came for a clean session: it ends here. */
		tern_session_destroy(w, s);
	}
}
