/* SPDX-License-Identifier: MIT */
/*
 * The retained message store: a trie of topic name levels (broker/topic_trie.c)
 * whose nodes point (RCU) to the retained message of that topic.
 *
 * The subscription tree matches a name against stored filters; here a filter
 * is matched against stored names, so the wildcards are in the query: '+'
 * enumerates a node's children (their RCU list) and '#' takes a whole subtree.
 * A replaced or deleted message keeps the store's reference until a grace
 * period has passed, since a reader may be about to tern_msg_ref it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu-qsbr.h>
#include <urcu/compiler.h>
#include <urcu/rculist.h>

#include "broker/alloc.h"
#include "broker/msg.h"
#include "broker/retain.h"
#include "broker/topic_trie.h"

struct rnode {
	struct tern_topic_trie_node tn; /* first: the trie allocates rnodes */
	struct tern_msg *msg;		/* RCU; the store holds one reference */
};

struct tern_retain {
	struct tern_topic_trie trie;
	pthread_mutex_t lock; /* serialises writers */
	size_t count;	      /* retained messages; writer stores, anyone loads (relaxed) */
	size_t bytes;	      /* their wire bytes, for memory_limit; same rules */
};

/* A message reference to drop after a grace period (struct tern_msg has no rcu_head). */
struct deferred_unref {
	struct rcu_head rcu;
	struct tern_msg *msg;
};

static inline struct rnode *rnode_of(const struct tern_topic_trie_node *tn)
{
	return caa_container_of(tn, struct rnode, tn);
}

static bool rnode_empty(const struct tern_topic_trie_node *tn)
{
	return rnode_of(tn)->msg == NULL;
}

static void rnode_fini(struct tern_topic_trie_node *tn)
{
	tern_msg_unref(rnode_of(tn)->msg);
}

static void unref_rcu(struct rcu_head *head)
{
	struct deferred_unref *d = caa_container_of(head, struct deferred_unref, rcu);

	tern_msg_unref(d->msg);
	tern_free(d);
}

struct tern_retain *tern_retain_create(void)
{
	struct tern_retain *store = tern_calloc(1, sizeof(*store));

	if (!store)
		return NULL;
	if (tern_topic_trie_init(&store->trie, sizeof(struct rnode), rnode_empty) < 0) {
		tern_free(store);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&store->lock, NULL);
	return store;
}

void tern_retain_destroy(struct tern_retain *store)
{
	if (!store)
		return;
	tern_topic_trie_fini(&store->trie, rnode_fini);
	pthread_mutex_destroy(&store->lock);
	tern_free(store);
}

/* Writer (store->lock held). */
static void add_bytes(struct tern_retain *store, int64_t delta)
{
	__atomic_store_n(&store->bytes, store->bytes + (size_t)delta, __ATOMIC_RELAXED);
}

size_t tern_retain_bytes(const struct tern_retain *store)
{
	return __atomic_load_n(&store->bytes, __ATOMIC_RELAXED);
}

int tern_retain_set(struct tern_retain *store, struct tern_msg *msg)
{
	/* Allocated up front so that replacing or deleting cannot fail half-way. */
	struct deferred_unref *d = tern_malloc(sizeof(*d));
	struct tern_topic_trie_node *tn;
	struct tern_msg *old = NULL;
	int rc = 0;

	if (msg->topic_len == 0) {
		tern_free(d);
		return -EINVAL;
	}
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&store->lock);
	if (msg->payload_len == 0) {
		tn = tern_topic_trie_find(&store->trie, tern_msg_topic(msg), msg->topic_len);
		if (tn && rnode_of(tn)->msg) {
			old = rnode_of(tn)->msg;
			rcu_assign_pointer(rnode_of(tn)->msg, NULL);
			__atomic_store_n(&store->count, store->count - 1, __ATOMIC_RELAXED);
			add_bytes(store, -(int64_t)tern_msg_wire_len(old));
			tern_topic_trie_prune(&store->trie, tn);
		}
	} else {
		tn = tern_topic_trie_insert(&store->trie, tern_msg_topic(msg), msg->topic_len);
		if (!tn) {
			rc = -ENOMEM;
		} else {
			old = rnode_of(tn)->msg;
			rcu_assign_pointer(rnode_of(tn)->msg, tern_msg_ref(msg));
			if (!old)
				__atomic_store_n(&store->count, store->count + 1, __ATOMIC_RELAXED);
			add_bytes(store, (int64_t)tern_msg_wire_len(msg) -
					     (old ? (int64_t)tern_msg_wire_len(old) : 0));
		}
	}
	if (old) {
		d->msg = old;
		call_rcu(&d->rcu, unref_rcu);
		d = NULL;
	}
	pthread_mutex_unlock(&store->lock);
	tern_free(d);
	return rc;
}

struct rwalk {
	const struct tern_topic_trie *trie;
	const uint8_t *end;
	tern_retain_fn fn;
	void *ctx;
};

static void report(struct rwalk *w, const struct tern_topic_trie_node *tn)
{
	struct tern_msg *m = rcu_dereference(rnode_of(tn)->msg);

	if (m)
		w->fn(w->ctx, m);
}

/* Leading wildcards skip the '$' topics at the first level (MQTT 3.1.1 section 4.7.2). */
static inline bool dollar(const struct tern_topic_trie_node *tn)
{
	return tn->len > 0 && tn->level[0] == '$';
}

static void report_subtree(struct rwalk *w, const struct tern_topic_trie_node *tn, bool first)
{
	const struct tern_topic_trie_node *c;

	report(w, tn);
	cds_list_for_each_entry_rcu(c, &tn->children, sibling)
	{
		if (!(first && dollar(c)))
			report_subtree(w, c, false);
	}
}

static void match_level(struct rwalk *w, const struct tern_topic_trie_node *tn, const uint8_t *p,
			bool first);

static void step(struct rwalk *w, const struct tern_topic_trie_node *c, const uint8_t *e)
{
	if (e == w->end)
		report(w, c);
	else
		match_level(w, c, e + 1, false);
}

static void match_level(struct rwalk *w, const struct tern_topic_trie_node *tn, const uint8_t *p,
			bool first)
{
	const uint8_t *e = tern_topic_trie_level_end(p, w->end);
	size_t len = (size_t)(e - p);
	const struct tern_topic_trie_node *c;

	if (len == 1 && *p == '#') {
		/* "a/#" matches "a" too: the node itself is part of the subtree. */
		report_subtree(w, tn, first);
	} else if (len == 1 && *p == '+') {
		cds_list_for_each_entry_rcu(c, &tn->children, sibling)
		{
			if (!(first && dollar(c)))
				step(w, c, e);
		}
	} else {
		c = tern_topic_trie_literal(w->trie, tn, p, len);
		if (c)
			step(w, c, e);
	}
}

void tern_retain_match(struct tern_retain *store, const uint8_t *filter, size_t len,
		       tern_retain_fn fn, void *ctx)
{
	struct rwalk w = {.trie = &store->trie, .end = filter + len, .fn = fn, .ctx = ctx};

	if (len == 0)
		return;
	match_level(&w, store->trie.root, filter, true);
}

size_t tern_retain_count(const struct tern_retain *store)
{
	return __atomic_load_n(&store->count, __ATOMIC_RELAXED);
}

size_t tern_retain_node_count(const struct tern_retain *store)
{
	return tern_topic_trie_nodes(&store->trie);
}
