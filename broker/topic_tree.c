/* SPDX-License-Identifier: MIT */
/*
 * The subscription tree: filters in a trie of levels (broker/topic_trie.c),
 * subscriptions at the filter's node, grouped by owning worker.
 *
 * Design: a node points (RCU) to an immutable group table: the bitmask of
 * workers with subscriptions there plus one array pointer per set bit, in bit
 * order. A publish walk ORs the masks of the nodes it matches and reads only
 * its own worker's array. An array's published entries never change: adding
 * appends into spare capacity and then publishes the new count (release), so
 * a reader that loaded the count sees only complete entries; replacing or
 * removing an entry, or growing, builds a new array (copy-on-write) that
 * replaces the old pointer in the table. The table itself is rebuilt only when
 * the set of workers at the node changes, or when a handover must change two
 * groups' arrays at once for readers. Everything replaced is freed by
 * call_rcu. Writers hold tree->lock; they build every allocation of an update
 * before publishing anything, so a failed update leaves the tree unchanged.
 */
#define _LGPL_SOURCE /* inline rcu_dereference on the match path */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/compiler.h>

#include "broker/alloc.h"
#include "broker/topic.h"
#include "broker/topic_tree.h"
#include "broker/topic_trie.h"

#define ARR_MIN_CAP 4u
/*
 * until_gen of an entry removed in place because memory for the copy ran out
 * (a real entry ends at a generation >= 1): readers skip it, writers ignore
 * it, and the next copy of its array leaves it out.
 */
#define TOMBSTONE_GEN 0

/* One worker's subscriptions at a node. s[0..n) is immutable once n covers it. */
struct sub_arr {
	struct rcu_head rcu;
	uint32_t n;   /* writer stores with release, readers load with acquire */
	uint32_t cap; /* writer only */
	struct tern_sub s[];
};

/* Immutable but for the arr[] pointers, which the writer swaps (RCU). */
struct groups {
	struct rcu_head rcu;
	uint64_t mask;
	struct sub_arr *arr[]; /* one per bit of mask, lowest bit first */
};

struct tnode {
	struct tern_topic_trie_node tn; /* first: the trie allocates tnodes */
	struct groups *groups;		/* RCU; NULL when the node has no subscription */
};

struct tern_topic_tree {
	struct tern_topic_trie trie;
	pthread_mutex_t lock; /* serialises writers */
	unsigned n_workers;
	size_t count; /* subscriptions; writer stores, anyone loads (relaxed) */
};

/* One worker's part of an update, prepared before anything is published. */
struct edit {
	unsigned worker;
	struct sub_arr *old; /* the array the node has now, or NULL */
	struct sub_arr *new; /* what it gets: NULL (no group), old (append), or a fresh copy */
	struct tern_sub sub; /* the entry appended in place when new == old */
};

static inline struct tnode *tnode_of(const struct tern_topic_trie_node *tn)
{
	return caa_container_of(tn, struct tnode, tn);
}

static inline unsigned slot(uint64_t mask, unsigned worker)
{
	return (unsigned)__builtin_popcountll(mask & ((UINT64_C(1) << worker) - 1));
}

static bool tnode_empty(const struct tern_topic_trie_node *tn)
{
	return tnode_of(tn)->groups == NULL;
}

static void tnode_fini(struct tern_topic_trie_node *tn)
{
	struct groups *g = tnode_of(tn)->groups;

	if (!g)
		return;
	for (unsigned i = 0; i < (unsigned)__builtin_popcountll(g->mask); i++)
		tern_free(g->arr[i]);
	tern_free(g);
}

static void free_rcu_arr(struct rcu_head *head)
{
	tern_free(caa_container_of(head, struct sub_arr, rcu));
}

static void free_rcu_groups(struct rcu_head *head)
{
	tern_free(caa_container_of(head, struct groups, rcu));
}

struct tern_topic_tree *tern_topic_tree_create(unsigned n_workers)
{
	struct tern_topic_tree *tree;

	if (n_workers == 0 || n_workers > TERN_MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	tree = tern_calloc(1, sizeof(*tree));
	if (!tree)
		return NULL;
	if (tern_topic_trie_init(&tree->trie, sizeof(struct tnode), tnode_empty) < 0) {
		tern_free(tree);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&tree->lock, NULL);
	tree->n_workers = n_workers;
	return tree;
}

void tern_topic_tree_destroy(struct tern_topic_tree *tree)
{
	if (!tree)
		return;
	tern_topic_trie_fini(&tree->trie, tnode_fini);
	pthread_mutex_destroy(&tree->lock);
	tern_free(tree);
}

static struct sub_arr *worker_arr(const struct tnode *n, unsigned worker)
{
	const struct groups *g = n->groups;

	if (!g || !(g->mask & (UINT64_C(1) << worker)))
		return NULL;
	return g->arr[slot(g->mask, worker)];
}

static bool tombstone(const struct tern_sub *s)
{
	return __atomic_load_n(&s->until_gen, __ATOMIC_RELAXED) == TOMBSTONE_GEN;
}

static int arr_find(const struct sub_arr *a, const void *subscriber)
{
	if (!a)
		return -1;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->s[i].subscriber == subscriber && !tombstone(&a->s[i]))
			return (int)i;
	return -1;
}

static struct sub_arr *arr_alloc(uint32_t cap)
{
	struct sub_arr *a = tern_malloc(sizeof(*a) + (size_t)cap * sizeof(struct tern_sub));

	if (a) {
		a->n = 0;
		a->cap = cap;
	}
	return a;
}

/* Prepare e to add sub to its worker's array: in place if allowed and there is room. */
static int edit_append(struct edit *e, struct tern_sub sub, bool in_place)
{
	struct sub_arr *a = e->old;

	e->sub = sub;
	if (in_place && a && a->n < a->cap) {
		e->new = a;
		return 0;
	}
	e->new = arr_alloc(!a ? ARR_MIN_CAP : a->n < a->cap ? a->cap : a->cap * 2);
	if (!e->new)
		return -ENOMEM;
	if (a)
		memcpy(e->new->s, a->s, a->n * sizeof(a->s[0]));
	e->new->n = a ? a->n : 0;
	e->new->s[e->new->n++] = sub;
	return 0;
}

/*
 * Prepare e to drop entry i from its worker's array, and any tombstones with
 * it (the group goes with its last live entry).
 */
static int edit_remove(struct edit *e, uint32_t i)
{
	struct sub_arr *a = e->old;
	uint32_t n = 0;

	for (uint32_t k = 0; k < a->n; k++)
		n += k != i && !tombstone(&a->s[k]);
	if (n == 0) {
		e->new = NULL;
		return 0;
	}
	/* Halve the capacity only well below it, so add/remove at the edge does not thrash. */
	e->new = arr_alloc(n <= a->cap / 4 && a->cap > ARR_MIN_CAP ? a->cap / 2 : a->cap);
	if (!e->new)
		return -ENOMEM;
	e->new->n = 0;
	for (uint32_t k = 0; k < a->n; k++)
		if (k != i && !tombstone(&a->s[k]))
			e->new->s[e->new->n++] = a->s[k];
	return 0;
}

/* Prepare e to replace entry i with sub (entries are immutable once readers see them). */
static int edit_replace(struct edit *e, uint32_t i, struct tern_sub sub)
{
	struct sub_arr *a = e->old;

	e->new = arr_alloc(a->cap);
	if (!e->new)
		return -ENOMEM;
	memcpy(e->new->s, a->s, a->n * sizeof(a->s[0]));
	e->new->n = a->n;
	e->new->s[i] = sub;
	return 0;
}

/* Prepare e to change the options and subscription identifier of entry i. */
static int edit_options(struct edit *e, uint32_t i, uint8_t options, uint32_t sub_id)
{
	struct tern_sub sub = e->old->s[i];

	sub.options = options;
	sub.sub_id = sub_id;
	return edit_replace(e, i, sub);
}

static void edits_abort(struct edit *e, unsigned ne)
{
	for (unsigned i = 0; i < ne; i++)
		if (e[i].new != e[i].old)
			tern_free(e[i].new);
}

static struct sub_arr *edited(const struct edit *e, unsigned ne, unsigned worker,
			      struct sub_arr *keep)
{
	for (unsigned i = 0; i < ne; i++)
		if (e[i].worker == worker)
			return e[i].new;
	return keep;
}

/*
 * Publish the prepared edits at node n, with one pointer swap of a new table
 * when the worker set changes or `atomic` asks that readers see all edits or
 * none. Fails (-ENOMEM, nothing published, edits freed) only when that table
 * cannot be allocated.
 */
static int edits_commit(struct tnode *n, struct edit *e, unsigned ne, bool atomic)
{
	struct groups *g = n->groups, *ng = NULL;
	uint64_t mask = g ? g->mask : 0, nmask = mask;

	for (unsigned i = 0; i < ne; i++) {
		uint64_t bit = UINT64_C(1) << e[i].worker;

		nmask = e[i].new ? nmask | bit : nmask & ~bit;
	}
	if ((nmask != mask || atomic) && nmask) {
		ng = tern_malloc(sizeof(*ng) +
				 (size_t)__builtin_popcountll(nmask) * sizeof(ng->arr[0]));
		if (!ng) {
			edits_abort(e, ne);
			return -ENOMEM;
		}
		ng->mask = nmask;
		for (uint64_t m = nmask; m; m &= m - 1) {
			unsigned w = (unsigned)__builtin_ctzll(m);
			struct sub_arr *keep = (mask >> w) & 1 ? g->arr[slot(mask, w)] : NULL;

			ng->arr[slot(nmask, w)] = edited(e, ne, w, keep);
		}
	}
	for (unsigned i = 0; i < ne; i++) {
		struct sub_arr *a = e[i].new;

		if (a && a == e[i].old) {
			a->s[a->n] = e[i].sub;
			__atomic_store_n(&a->n, a->n + 1, __ATOMIC_RELEASE);
		}
	}
	if (nmask != mask || atomic) {
		rcu_assign_pointer(n->groups, ng);
		if (g)
			call_rcu(&g->rcu, free_rcu_groups);
	} else {
		for (unsigned i = 0; i < ne; i++)
			if (e[i].new != e[i].old)
				rcu_assign_pointer(g->arr[slot(mask, e[i].worker)], e[i].new);
	}
	for (unsigned i = 0; i < ne; i++)
		if (e[i].old && e[i].new != e[i].old)
			call_rcu(&e[i].old->rcu, free_rcu_arr);
	return 0;
}

static void count_add(struct tern_topic_tree *tree, long d)
{
	__atomic_store_n(&tree->count, tree->count + (size_t)d, __ATOMIC_RELAXED);
}

int tern_topic_tree_add(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			unsigned worker, void *subscriber, uint8_t options, uint32_t sub_id,
			bool *replaced)
{
	struct tern_topic_trie_node *tn;
	struct edit e = {.worker = worker};
	struct tnode *n;
	int i, rc;

	if (worker >= tree->n_workers || !subscriber || !tern_topic_filter_valid(filter, len))
		return -EINVAL;
	pthread_mutex_lock(&tree->lock);
	tn = tern_topic_trie_insert(&tree->trie, filter, len);
	if (!tn) {
		rc = -ENOMEM;
		goto out;
	}
	n = tnode_of(tn);
	e.old = worker_arr(n, worker);
	i = arr_find(e.old, subscriber);
	if (i >= 0 && e.old->s[i].options == options && e.old->s[i].sub_id == sub_id) {
		rc = 0;
	} else if (i >= 0) {
		rc = edit_options(&e, (uint32_t)i, options, sub_id);
		if (!rc)
			rc = edits_commit(n, &e, 1, false);
	} else {
		rc = edit_append(&e,
				 (struct tern_sub){.subscriber = subscriber,
						   .options = options,
						   .sub_id = sub_id,
						   .since_gen = 0,
						   .until_gen = UINT64_MAX},
				 true);
		if (!rc)
			rc = edits_commit(n, &e, 1, false);
		if (!rc)
			count_add(tree, 1);
		else
			tern_topic_trie_prune(&tree->trie, tn);
	}
	if (!rc && replaced)
		*replaced = i >= 0;
out:
	pthread_mutex_unlock(&tree->lock);
	return rc;
}

/* The node of filter and subscriber's entry in worker's group there, or NULL. */
static struct tnode *find_sub(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			      unsigned worker, const void *subscriber, struct edit *e, int *idx)
{
	struct tern_topic_trie_node *tn;

	if (worker >= tree->n_workers || len == 0)
		return NULL;
	tn = tern_topic_trie_find(&tree->trie, filter, len);
	if (!tn)
		return NULL;
	e->worker = worker;
	e->old = worker_arr(tnode_of(tn), worker);
	*idx = arr_find(e->old, subscriber);
	return *idx >= 0 ? tnode_of(tn) : NULL;
}

int tern_topic_tree_remove(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			   unsigned worker, void *subscriber)
{
	struct edit e;
	struct tnode *n;
	int i, rc = -ENOENT;

	pthread_mutex_lock(&tree->lock);
	n = find_sub(tree, filter, len, worker, subscriber, &e, &i);
	if (n) {
		rc = edit_remove(&e, (uint32_t)i);
		if (!rc)
			rc = edits_commit(n, &e, 1, false);
		if (rc == -ENOMEM) {
			/*
			 * The subscriber is about to be freed: it must leave the tree
			 * even without memory for a copy. One word written in place
			 * hides the entry from walks that start now; walks already past
			 * it end before the caller's grace period frees the subscriber.
			 */
			__atomic_store_n(&e.old->s[i].until_gen, TOMBSTONE_GEN, __ATOMIC_RELEASE);
			rc = 0;
		} else if (!rc) {
			tern_topic_trie_prune(&tree->trie, &n->tn);
		}
		count_add(tree, -1);
	}
	pthread_mutex_unlock(&tree->lock);
	return rc;
}

int tern_topic_tree_handover(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			     void *subscriber, unsigned from, unsigned to, uint64_t gen)
{
	struct tern_sub ending, starting;
	struct edit e[2];
	struct tnode *n;
	int i, j, rc = -ENOENT;

	if (from == to || to >= tree->n_workers)
		return -EINVAL;
	pthread_mutex_lock(&tree->lock);
	n = find_sub(tree, filter, len, from, subscriber, &e[0], &i);
	if (!n)
		goto out;
	ending = starting = e[0].old->s[i];
	ending.until_gen = gen;
	starting.since_gen = gen;
	starting.until_gen = UINT64_MAX;
	e[1].worker = to;
	e[1].old = worker_arr(n, to);
	j = arr_find(e[1].old, subscriber);
	rc = edit_replace(&e[0], (uint32_t)i, ending);
	if (rc)
		goto out;
	rc = j < 0 ? edit_append(&e[1], starting, false)
		   : edit_replace(&e[1], (uint32_t)j, starting);
	if (rc) {
		edits_abort(e, 1);
		goto out;
	}
	/* Both entries change in one table swap: a reader sees the handover whole or not at all. */
	rc = edits_commit(n, e, 2, true);
	if (!rc && j < 0)
		count_add(tree, 1);
out:
	pthread_mutex_unlock(&tree->lock);
	return rc;
}

struct walk {
	const struct tern_topic_trie *trie;
	const uint8_t *end;
	unsigned worker;
	uint64_t bit;
	uint64_t mask;
	tern_topic_match_fn fn;
	void *ctx;
};

static void visit(struct walk *w, const struct tern_topic_trie_node *tn)
{
	const struct groups *g = rcu_dereference(tnode_of(tn)->groups);
	const struct sub_arr *a;
	uint32_t cnt;

	if (!g)
		return;
	w->mask |= g->mask;
	if (!(g->mask & w->bit))
		return;
	/* The lowest worker of the node (always so with one worker) needs no popcount. */
	a = rcu_dereference(g->arr[g->mask & (w->bit - 1) ? slot(g->mask, w->worker) : 0]);
	cnt = __atomic_load_n(&a->n, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < cnt; i++)
		if (!tombstone(&a->s[i]))
			w->fn(w->ctx, &a->s[i]);
}

static void walk_level(struct walk *w, const struct tern_topic_trie_node *tn, const uint8_t *p,
		       bool first);

/* c matched the level ending at e: report it if the topic ends here, else go on. */
static void descend(struct walk *w, const struct tern_topic_trie_node *c, const uint8_t *e)
{
	if (e == w->end) {
		const struct tern_topic_trie_node *h = rcu_dereference(c->hash);

		visit(w, c);
		/* "a/#" also matches "a". */
		if (h)
			visit(w, h);
	} else {
		walk_level(w, c, e + 1, false);
	}
}

static void walk_level(struct walk *w, const struct tern_topic_trie_node *tn, const uint8_t *p,
		       bool first)
{
	const uint8_t *e = tern_topic_trie_level_end(p, w->end);
	const struct tern_topic_trie_node *c;

	/* A leading wildcard does not match a '$' topic (MQTT 3.1.1 section 4.7.2). */
	if (!(first && p < w->end && *p == '$')) {
		c = rcu_dereference(tn->hash);
		if (c)
			visit(w, c);
		c = rcu_dereference(tn->plus);
		if (c)
			descend(w, c, e);
	}
	c = tern_topic_trie_literal(w->trie, tn, p, (size_t)(e - p));
	if (c)
		descend(w, c, e);
}

uint64_t tern_topic_tree_match(struct tern_topic_tree *tree, const uint8_t *topic, size_t len,
			       unsigned worker, tern_topic_match_fn fn, void *ctx)
{
	struct walk w;

	if (len == 0 || worker >= tree->n_workers)
		return 0;
	w = (struct walk){
	    .trie = &tree->trie,
	    .end = topic + len,
	    .worker = worker,
	    .bit = UINT64_C(1) << worker,
	    .fn = fn,
	    .ctx = ctx,
	};
	walk_level(&w, tree->trie.root, topic, true);
	return w.mask;
}

size_t tern_topic_tree_count(const struct tern_topic_tree *tree)
{
	return __atomic_load_n(&tree->count, __ATOMIC_RELAXED);
}

size_t tern_topic_tree_node_count(const struct tern_topic_tree *tree)
{
	return tern_topic_trie_nodes(&tree->trie);
}

size_t tern_topic_tree_buckets(const struct tern_topic_tree *tree)
{
	return tern_topic_trie_buckets(&tree->trie);
}
