/* SPDX-License-Identifier: MIT */
/*
 * Shared subscription groups: the broker-wide table (a mutex-guarded hash;
 * joins and leaves only), each group's RCU member array, the owner's round
 * robin pick and the cross-worker hand-off of a picked delivery. The design
 * note is in share.h.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/msg.h"
#include "broker/outbox.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/share.h"
#include "broker/topic.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

#define SHARE_PREFIX  "$share/"
#define SHARE_BUCKETS 1024
/* A delivery bounced between workers while its member moves: give up after this. */
#define MAX_HOPS 4

struct member {
	struct tern_session *session;
	uint64_t uid;
	uint8_t options;
	uint32_t sub_id;
};

/* Immutable once published; replaced whole by a join or leave. */
struct members {
	struct rcu_head rcu;
	uint32_t n;
	struct member m[];
};

struct tern_share_group {
	struct tern_share_group *next; /* hash chain; under shares->lock */
	struct rcu_head rcu;
	struct tern_broker *broker;
	uint32_t refs;		 /* atomic: 1 for the tree entry, 1 per held delivery or item */
	unsigned owner;		 /* worker whose tree group holds the entry and picks */
	struct members *members; /* RCU: written under shares->lock */
	uint32_t cursor;	 /* round robin; owner worker only */
	size_t filter_off;	 /* FILTER inside key */
	size_t key_len;		 /* "GROUP/FILTER", hashed and compared */
	char key[];
};

struct tern_shares {
	pthread_mutex_t lock;
	struct tern_share_group *bucket[SHARE_BUCKETS];
};

int tern_share_parse(const uint8_t *f, size_t len, const uint8_t **filter, size_t *filter_len)
{
	const size_t plen = sizeof(SHARE_PREFIX) - 1;
	const uint8_t *name, *slash;

	if (len < plen || memcmp(f, SHARE_PREFIX, plen) != 0)
		return 0;
	name = f + plen;
	slash = memchr(name, '/', len - plen);
	if (!slash || slash == name)
		return -EINVAL;
	for (const uint8_t *p = name; p < slash; p++)
		if (*p == '+' || *p == '#')
			return -EINVAL;
	*filter = slash + 1;
	*filter_len = len - (size_t)(*filter - f);
	if (*filter_len == 0 || !tern_topic_filter_valid(*filter, *filter_len))
		return -EINVAL;
	return 1;
}

int tern_share_init(struct tern_broker *b)
{
	b->shares = tern_calloc(1, sizeof(*b->shares));
	if (!b->shares)
		return -ENOMEM;
	pthread_mutex_init(&b->shares->lock, NULL);
	return 0;
}

static void free_members_rcu(struct rcu_head *head)
{
	tern_free(caa_container_of(head, struct members, rcu));
}

static void free_group_rcu(struct rcu_head *head)
{
	struct tern_share_group *g = caa_container_of(head, struct tern_share_group, rcu);

	tern_free(g->members);
	tern_free(g);
}

void tern_share_fini(struct tern_broker *b)
{
	if (!b->shares)
		return;
	/* Workers are gone: whatever groups are left go without a grace period. */
	for (size_t i = 0; i < SHARE_BUCKETS; i++) {
		struct tern_share_group *g = b->shares->bucket[i];

		while (g) {
			struct tern_share_group *next = g->next;

			tern_free(g->members);
			tern_free(g);
			g = next;
		}
	}
	pthread_mutex_destroy(&b->shares->lock);
	tern_free(b->shares);
	b->shares = NULL;
}

void tern_share_ref(struct tern_share_group *g)
{
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
}

void tern_share_unref(struct tern_share_group *g)
{
	if (g && __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) == 0)
		call_rcu(&g->rcu, free_group_rcu);
}

static size_t bucket_of(const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % SHARE_BUCKETS;
}

/* The group of key "GROUP/FILTER" and the link pointing to it; under the lock. */
static struct tern_share_group **find(struct tern_shares *t, const uint8_t *key, size_t len)
{
	struct tern_share_group **link = &t->bucket[bucket_of(key, len)];

	for (; *link; link = &(*link)->next)
		if ((*link)->key_len == len && memcmp((*link)->key, key, len) == 0)
			break;
	return link;
}

static int member_index(const struct members *ms, uint64_t uid)
{
	for (uint32_t i = 0; ms && i < ms->n; i++)
		if (ms->m[i].uid == uid)
			return (int)i;
	return -1;
}

/* Publish a new member array: m replaces entry i, is appended (i < 0), or entry i goes (m NULL). */
static int members_edit(struct tern_share_group *g, int i, const struct member *m)
{
	struct members *old = g->members;
	uint32_t n = old ? old->n : 0;
	uint32_t new_n = m ? (i < 0 ? n + 1 : n) : n - 1;
	struct members *ms = tern_malloc(sizeof(*ms) + (size_t)new_n * sizeof(ms->m[0]));
	uint32_t k = 0;

	if (!ms)
		return -ENOMEM;
	for (uint32_t j = 0; j < n; j++) {
		if ((int)j == i) {
			if (m)
				ms->m[k++] = *m;
			continue;
		}
		ms->m[k++] = old->m[j];
	}
	if (m && i < 0)
		ms->m[k++] = *m;
	ms->n = k;
	rcu_assign_pointer(g->members, ms);
	if (old)
		call_rcu(&old->rcu, free_members_rcu);
	return 0;
}

static struct tern_share_group *group_create(struct tern_worker *w, const uint8_t *key, size_t len,
					     size_t filter_off)
{
	struct tern_share_group *g = tern_calloc(1, sizeof(*g) + len + 1);

	if (!g)
		return NULL;
	g->broker = w->broker;
	g->refs = 1;
	g->owner = w->id;
	g->filter_off = filter_off;
	g->key_len = len;
	memcpy(g->key, key, len);
	return g;
}

int tern_share_join(struct tern_worker *w, struct tern_session *s, const uint8_t *f, size_t len,
		    uint8_t options, uint32_t sub_id, bool *existed)
{
	struct tern_shares *t = w->broker->shares;
	const size_t plen = sizeof(SHARE_PREFIX) - 1;
	const uint8_t *key = f + plen, *filter;
	size_t key_len = len - plen, filter_len;
	struct member m = {s, s->uid, options, sub_id};
	struct tern_share_group **link, *g;
	int i, rc;

	if (tern_share_parse(f, len, &filter, &filter_len) != 1)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	link = find(t, key, key_len);
	g = *link;
	if (!g) {
		g = group_create(w, key, key_len, (size_t)(filter - key));
		if (!g) {
			rc = -ENOMEM;
			goto out;
		}
		rc = tern_topic_tree_add(w->broker->tree, filter, filter_len, g->owner, g,
					 TERN_SUBOPT_SHARED, 0, NULL);
		if (rc < 0) {
			tern_free(g);
			goto out;
		}
		*link = g;
	}
	i = member_index(g->members, s->uid);
	*existed = i >= 0;
	rc = members_edit(g, i, &m);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int tern_share_leave(struct tern_worker *w, struct tern_session *s, const uint8_t *f, size_t len)
{
	struct tern_shares *t = w->broker->shares;
	const size_t plen = sizeof(SHARE_PREFIX) - 1;
	struct tern_share_group **link, *g;
	struct members *old;
	bool last = false;
	int i, rc = -ENOENT;

	if (len <= plen)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	link = find(t, f + plen, len - plen);
	g = *link;
	if (!g || (i = member_index(g->members, s->uid)) < 0)
		goto out;
	if (g->members->n > 1) {
		rc = members_edit(g, i, NULL);
		goto out;
	}
	/* The last member: the group goes, once nothing refers to it any more. */
	tern_topic_tree_remove(w->broker->tree, (const uint8_t *)g->key + g->filter_off,
			       g->key_len - g->filter_off, g->owner, g);
	*link = g->next;
	old = g->members;
	rcu_assign_pointer(g->members, NULL);
	call_rcu(&old->rcu, free_members_rcu);
	last = true;
	rc = 0;
out:
	pthread_mutex_unlock(&t->lock);
	if (last)
		tern_share_unref(g); /* the tree entry's reference */
	return rc;
}

/*
 * Deliver to member m here, keeping the group with a stored QoS 1/2 delivery.
 * False when the member may not read the topic (a partly readable filter).
 */
static bool deliver_to(struct tern_worker *w, struct tern_share_group *g, const struct member *m,
		       struct tern_msg *msg)
{
	uint8_t granted = m->options & TERN_SUBOPT_QOS_MASK;
	uint8_t qos = msg->qos < granted ? msg->qos : granted;
	bool retain = (m->options & TERN_SUBOPT_RETAIN_AS_PUBLISHED) && msg->retain;
	struct tern_via via = {.share = g};

	if ((m->options & TERN_SUB_ACL_CHECK) &&
	    !tern_security_may_read(w->broker, m->session, tern_msg_topic(msg), msg->topic_len))
		return false;
	if (m->sub_id)
		via.id[via.n++] = m->sub_id;
	tern_session_deliver(w, m->session, msg, qos, retain, &via);
	return true;
}

/* Whether member m's session can take a delivery on w now. */
static bool served_here(const struct tern_worker *w, const struct member *m)
{
	return m->session->home == w->id && !m->session->in_transit;
}

static void post(struct tern_worker *w, unsigned to, struct tern_share_group *g, uint64_t uid,
		 struct tern_msg *msg, uint8_t hops)
{
	tern_share_ref(g);
	if (tern_outbox_share(w, to, g, uid, tern_msg_ref(msg), hops) < 0) {
		tern_msg_unref(msg);
		tern_share_unref(g);
		TERN_STAT_ADD(w, publish_dropped, 1);
	}
}

static void pick_and_deliver(struct tern_worker *w, struct tern_share_group *g,
			     struct tern_msg *msg, uint8_t hops)
{
	struct members *ms = rcu_dereference(g->members);
	const struct member *m;

	if (!ms || ms->n == 0 || hops > MAX_HOPS) {
		TERN_STAT_ADD(w, publish_dropped, 1);
		return;
	}
	m = &ms->m[g->cursor++ % ms->n];
	if (!served_here(w, m))
		post(w, m->session->home, g, m->uid, msg, hops);
	else if (!deliver_to(w, g, m, msg)) /* this member may not read it: the next one */
		pick_and_deliver(w, g, msg, (uint8_t)(hops + 1));
}

void tern_share_deliver(struct tern_worker *w, struct tern_share_group *g, struct tern_msg *msg)
{
	pick_and_deliver(w, g, msg, 0);
}

void tern_share_requeue(struct tern_worker *w, struct tern_share_group *g, struct tern_msg *msg)
{
	/* uid 0 is no session's: the owner picks afresh. */
	if (w->id == g->owner)
		pick_and_deliver(w, g, msg, 1);
	else
		post(w, g->owner, g, 0, msg, 1);
	tern_share_unref(g);
}

void tern_share_on_deliver(struct tern_worker *w, struct tern_share_group *g, uint64_t uid,
			   struct tern_msg *msg, uint8_t hops)
{
	struct members *ms = rcu_dereference(g->members);
	int i = member_index(ms, uid);

	if (i >= 0 && served_here(w, &ms->m[i]) && deliver_to(w, g, &ms->m[i], msg))
		return;
	if (w->id == g->owner)
		pick_and_deliver(w, g, msg, (uint8_t)(hops + 1));
	else
		post(w, g->owner, g, 0, msg, (uint8_t)(hops + 1));
}
