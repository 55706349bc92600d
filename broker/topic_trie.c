/* SPDX-License-Identifier: MIT */
/*
 * The trie of topic levels under the subscription tree and the retained store.
 *
 * Design: a node's literal children are not kept in the node but in ONE
 * lock-free hash table (urcu rculfhash) for the whole trie, keyed by (parent
 * node address, level bytes). A level with 100k device ids below it costs one
 * hash lookup, like a level with one child, and a node with no children costs
 * no table at all. The '+' and '#' children, which a publish walk tries at
 * every level, hang off direct pointers instead so that they cost no lookup.
 * Every child is also on its parent's RCU list, for readers that must
 * enumerate children (the retained store answering a wildcard filter) and for
 * fini. Writers are serialised by the owner of the trie; readers never lock.
 *
 * Most nodes have only a few literal children, and hashing the level plus a
 * table lookup cost far more than comparing a few lengths and words: while a
 * node has at most KIDS_MAX literal children, it also points to an immutable
 * array of them (length, first 8 bytes, node) that readers scan instead. The
 * writer rebuilds it (copy-on-write, call_rcu) when the children change; the
 * hash stays complete, so a node without an array (many children, or an
 * allocation that failed) is looked up there.
 *
 * The writer grows the table itself, synchronously, by cds_lfht_resize:
 * whenever the literal nodes outnumber HT_LOAD_MAX per bucket, the bucket
 * count is multiplied by HT_GROW. liburcu's own lazy resizing
 * (CDS_LFHT_AUTO_RESIZE) runs on a background thread that the inserting
 * writer starves on a loaded machine; the table then stayed near its initial
 * 1024 buckets while 10^6 nodes arrived, every add and lookup walked chains of
 * hundreds of nodes, and a tree of 10^6 subscriptions took minutes to build.
 * A grow needs no grace period (cds_lfht_resize puts the caller offline and
 * links new bucket nodes), so it cannot deadlock with workers waiting for the
 * writer lock. The table never shrinks: a shrink waits for a grace period,
 * which a writer holding the lock that online workers wait on must not do;
 * the bucket array (8 bytes a bucket) stays at its high-water mark while the
 * nodes themselves are freed.
 */
#define _LGPL_SOURCE /* inline rcu_dereference on the match path */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/compiler.h>
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>

#include "broker/alloc.h"
#include "broker/topic_trie.h"

#define HT_INIT_BUCKETS 1024
#define HT_LOAD_MAX	2 /* literal nodes per bucket before the table grows */
#define HT_GROW		4 /* growth factor: a few resizes on the way to 10^6 */
#define KIDS_MAX	8

struct kid {
	uint64_t head; /* the level's first 8 bytes, zero-padded */
	uint32_t len;
	struct tern_topic_trie_node *node;
};

struct tern_topic_trie_kids {
	struct rcu_head rcu;
	uint32_t n;
	struct kid k[];
};

static inline uint64_t level_head(const uint8_t *s, size_t len)
{
	uint64_t h = 0;

	memcpy(&h, s, len < 8 ? len : 8);
	return h;
}

static void kids_free_rcu(struct rcu_head *head)
{
	tern_free(caa_container_of(head, struct tern_topic_trie_kids, rcu));
}

/*
 * Publish a fresh array of parent's literal children (NULL past KIDS_MAX or
 * when out of memory: readers then use the hash). Writer only.
 */
static void kids_rebuild(struct tern_topic_trie_node *parent, uint32_t n_literal)
{
	struct tern_topic_trie_kids *old = parent->kids, *k = NULL;
	struct tern_topic_trie_node *c;

	if (n_literal && n_literal <= KIDS_MAX)
		k = tern_malloc(sizeof(*k) + n_literal * sizeof(k->k[0]));
	if (k) {
		k->n = 0;
		cds_list_for_each_entry(c, &parent->children, sibling)
		{
			if (c == parent->plus || c == parent->hash)
				continue;
			k->k[k->n++] = (struct kid){level_head(c->level, c->len), c->len, c};
		}
	}
	rcu_assign_pointer(parent->kids, k);
	if (old)
		call_rcu(&old->rcu, kids_free_rcu);
}

struct level_key {
	const struct tern_topic_trie_node *parent;
	const uint8_t *s;
	size_t len;
};

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* A word-at-a-time mix (murmur3's round, 64-bit words); levels are short. */
static unsigned long level_hash(const struct tern_topic_trie_node *parent, const uint8_t *s,
				size_t len)
{
	uint64_t h = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ULL;
	uint64_t w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h ^= rotl64(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
		h = rotl64(h, 27) * 5 + 0x52dce729;
	}
	w = 0;
	memcpy(&w, s, len);
	h ^= rotl64(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
	return (unsigned long)fmix64(h ^ len);
}

static int level_match(struct cds_lfht_node *hn, const void *key)
{
	const struct tern_topic_trie_node *n =
	    caa_container_of(hn, struct tern_topic_trie_node, hnode);
	const struct level_key *k = key;

	return n->parent == k->parent && n->len == k->len && memcmp(n->level, k->s, k->len) == 0;
}

static inline bool is_wild(const uint8_t *s, size_t len, uint8_t c)
{
	return len == 1 && s[0] == c;
}

static struct tern_topic_trie_node *node_new(struct tern_topic_trie *t,
					     struct tern_topic_trie_node *parent, const uint8_t *s,
					     size_t len)
{
	struct tern_topic_trie_node *n = tern_calloc(1, t->node_size + len);
	uint8_t *level;

	if (!n)
		return NULL;
	level = (uint8_t *)n + t->node_size;
	memcpy(level, s, len);
	n->level = level;
	n->len = (uint16_t)len;
	n->parent = parent;
	cds_lfht_node_init(&n->hnode);
	CDS_INIT_LIST_HEAD(&n->children);
	__atomic_store_n(&t->n_nodes, t->n_nodes + 1, __ATOMIC_RELAXED);
	return n;
}

int tern_topic_trie_init(struct tern_topic_trie *t, size_t node_size,
			 tern_topic_trie_empty_fn empty)
{
	memset(t, 0, sizeof(*t));
	t->node_size = node_size;
	t->empty = empty;
	t->ht = cds_lfht_new(HT_INIT_BUCKETS, HT_INIT_BUCKETS, 0, 0, NULL);
	t->n_buckets = HT_INIT_BUCKETS;
	if (!t->ht)
		return -ENOMEM;
	t->root = node_new(t, NULL, (const uint8_t *)"", 0);
	if (!t->root) {
		cds_lfht_destroy(t->ht, NULL);
		t->ht = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Free every node; cds_lfht_del wants the caller to be an online RCU reader. */
static void free_nodes(struct tern_topic_trie *t, tern_topic_trie_fini_fn fini, bool online)
{
	struct tern_topic_trie_node *n = t->root;

	/* Post-order without recursion: descend to a leaf, free it, climb to its parent. */
	while (n) {
		struct tern_topic_trie_node *parent;

		if (!cds_list_empty(&n->children)) {
			n = cds_list_first_entry(&n->children, struct tern_topic_trie_node,
						 sibling);
			continue;
		}
		parent = n->parent;
		if (fini)
			fini(n);
		tern_free(n->kids);
		if (parent) {
			cds_list_del(&n->sibling);
			if (n != parent->plus && n != parent->hash)
				cds_lfht_del(t->ht, &n->hnode);
		}
		tern_free(n);
		n = parent;
	}
	t->root = NULL;
	t->n_nodes = 0;
	/*
	 * cds_lfht_destroy waits for a queued resize, whose grace period would
	 * wait for this thread if it stayed online.
	 */
	if (online)
		rcu_thread_offline();
	cds_lfht_destroy(t->ht, NULL);
	if (online)
		rcu_thread_online();
	t->ht = NULL;
}

struct fini_job {
	struct tern_topic_trie *t;
	tern_topic_trie_fini_fn fini;
};

static void *fini_thread(void *arg)
{
	struct fini_job *job = arg;

	rcu_register_thread();
	free_nodes(job->t, job->fini, true);
	rcu_unregister_thread();
	return NULL;
}

void tern_topic_trie_fini(struct tern_topic_trie *t, tern_topic_trie_fini_fn fini)
{
	struct fini_job job = {.t = t, .fini = fini};
	pthread_t tid;

	if (!t->root)
		return;
	if (rcu_read_ongoing()) {
		free_nodes(t, fini, true);
		return;
	}
	/*
	 * The hash table's deletions must run in an RCU reader, or a shrink it
	 * starts could free bucket memory under them; this thread is not one
	 * (unregistered or offline, we cannot tell which), so borrow one.
	 */
	if (pthread_create(&tid, NULL, fini_thread, &job) == 0) {
		pthread_join(tid, NULL);
		return;
	}
	/* No thread to borrow: only a shrink racing with shutdown could hurt here. */
	free_nodes(t, fini, false);
}

/* Kept out of line: its iterator and key would make every scan pay for a big frame. */
static __attribute__((noinline)) struct tern_topic_trie_node *
literal_hashed(const struct tern_topic_trie *t, const struct tern_topic_trie_node *parent,
	       const uint8_t *s, size_t len)
{
	struct level_key key = {.parent = parent, .s = s, .len = len};
	struct cds_lfht_iter iter;
	struct cds_lfht_node *hn;

	cds_lfht_lookup(t->ht, level_hash(parent, s, len), level_match, &key, &iter);
	hn = cds_lfht_iter_get_node(&iter);
	return hn ? caa_container_of(hn, struct tern_topic_trie_node, hnode) : NULL;
}

struct tern_topic_trie_node *tern_topic_trie_literal(const struct tern_topic_trie *t,
						     const struct tern_topic_trie_node *parent,
						     const uint8_t *s, size_t len)
{
	const struct tern_topic_trie_kids *k;
	uint64_t head;

	if (!CMM_LOAD_SHARED(parent->n_literal))
		return NULL;
	k = rcu_dereference(parent->kids);
	if (!k)
		return literal_hashed(t, parent, s, len);
	head = level_head(s, len);
	for (uint32_t i = 0; i < k->n; i++)
		if (k->k[i].head == head && k->k[i].len == len &&
		    (len <= 8 || memcmp(k->k[i].node->level + 8, s + 8, len - 8) == 0))
			return k->k[i].node;
	return NULL;
}

struct tern_topic_trie_node *tern_topic_trie_child(const struct tern_topic_trie *t,
						   const struct tern_topic_trie_node *parent,
						   const uint8_t *s, size_t len)
{
	if (is_wild(s, len, '+'))
		return rcu_dereference(parent->plus);
	if (is_wild(s, len, '#'))
		return rcu_dereference(parent->hash);
	return tern_topic_trie_literal(t, parent, s, len);
}

struct tern_topic_trie_node *tern_topic_trie_find(const struct tern_topic_trie *t, const uint8_t *s,
						  size_t len)
{
	const uint8_t *end = s + len;
	struct tern_topic_trie_node *n = t->root;

	for (;;) {
		const uint8_t *e = tern_topic_trie_level_end(s, end);

		n = tern_topic_trie_child(t, n, s, (size_t)(e - s));
		if (!n || e == end)
			return n;
		s = e + 1;
	}
}

/* Keep chains short: grow the table once the literal nodes outrun its buckets. */
static void ht_maybe_grow(struct tern_topic_trie *t)
{
	if (t->n_hashed <= (size_t)HT_LOAD_MAX * t->n_buckets)
		return;
	t->n_buckets *= HT_GROW;
	cds_lfht_resize(t->ht, t->n_buckets);
	__atomic_store_n(&t->n_resizes, t->n_resizes + 1, __ATOMIC_RELAXED);
}

static struct tern_topic_trie_node *link_child(struct tern_topic_trie *t,
					       struct tern_topic_trie_node *parent,
					       const uint8_t *s, size_t len)
{
	struct tern_topic_trie_node *c = node_new(t, parent, s, len);
	bool literal = false;

	if (!c)
		return NULL;
	if (is_wild(s, len, '+')) {
		rcu_assign_pointer(parent->plus, c);
	} else if (is_wild(s, len, '#')) {
		rcu_assign_pointer(parent->hash, c);
	} else {
		cds_lfht_add(t->ht, level_hash(parent, s, len), &c->hnode);
		t->n_hashed++;
		literal = true;
	}
	cds_list_add_tail_rcu(&c->sibling, &parent->children);
	parent->n_children++;
	if (literal) {
		/* Readers peeking n_literal must find the node once they see the count. */
		kids_rebuild(parent, parent->n_literal + 1);
		CMM_STORE_SHARED(parent->n_literal, parent->n_literal + 1);
		ht_maybe_grow(t);
	}
	return c;
}

struct tern_topic_trie_node *tern_topic_trie_insert(struct tern_topic_trie *t, const uint8_t *s,
						    size_t len)
{
	const uint8_t *end = s + len;
	struct tern_topic_trie_node *n = t->root;

	for (;;) {
		const uint8_t *e = tern_topic_trie_level_end(s, end);
		size_t l = (size_t)(e - s);
		struct tern_topic_trie_node *c = tern_topic_trie_child(t, n, s, l);

		if (!c)
			c = link_child(t, n, s, l);
		if (!c) {
			tern_topic_trie_prune(t, n);
			errno = ENOMEM;
			return NULL;
		}
		n = c;
		if (e == end)
			return n;
		s = e + 1;
	}
}

static void node_free_rcu(struct rcu_head *head)
{
	tern_free(caa_container_of(head, struct tern_topic_trie_node, rcu));
}

void tern_topic_trie_prune(struct tern_topic_trie *t, struct tern_topic_trie_node *n)
{
	while (n != t->root && n->n_children == 0 && t->empty(n)) {
		struct tern_topic_trie_node *parent = n->parent;
		bool literal = false;

		if (n == parent->plus) {
			rcu_assign_pointer(parent->plus, NULL);
		} else if (n == parent->hash) {
			rcu_assign_pointer(parent->hash, NULL);
		} else {
			cds_lfht_del(t->ht, &n->hnode);
			t->n_hashed--;
			literal = true;
		}
		cds_list_del_rcu(&n->sibling);
		if (literal) {
			kids_rebuild(parent, parent->n_literal - 1);
			CMM_STORE_SHARED(parent->n_literal, parent->n_literal - 1);
		}
		parent->n_children--;
		__atomic_store_n(&t->n_nodes, t->n_nodes - 1, __ATOMIC_RELAXED);
		call_rcu(&n->rcu, node_free_rcu);
		n = parent;
	}
}
