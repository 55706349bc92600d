/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the subscription tree: add/replace/remove/handover, per-worker
 * groups and worker masks, '$' rules, pruning and memory, a cross-check of
 * every match against tern_topic_matches, and readers racing a writer that
 * hands a subscriber over between workers under the broker's generation rule.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/topic.h"
#include "broker/topic_tree.h"
#include "tests/unit/rcu_test.h"

#define COLL_MAX 256

struct coll {
	size_t n;
	const void *subs[COLL_MAX];
	uint8_t opts[COLL_MAX];
	uint64_t since[COLL_MAX];
	uint64_t until[COLL_MAX];
};

static void collect(void *ctx, const struct tern_sub *s)
{
	struct coll *c = ctx;

	if (c->n < COLL_MAX) {
		c->subs[c->n] = s->subscriber;
		c->opts[c->n] = s->options;
		c->since[c->n] = s->since_gen;
		c->until[c->n] = s->until_gen;
	}
	c->n++;
}

static size_t times(const struct coll *c, const void *sub)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n && i < COLL_MAX; i++)
		k += c->subs[i] == sub;
	return k;
}

static int add(struct tern_topic_tree *t, const char *f, unsigned w, void *sub, uint8_t opt,
	       bool *replaced)
{
	return tern_topic_tree_add(t, (const uint8_t *)f, strlen(f), w, sub, opt, 0, replaced);
}

static int del(struct tern_topic_tree *t, const char *f, unsigned w, void *sub)
{
	return tern_topic_tree_remove(t, (const uint8_t *)f, strlen(f), w, sub);
}

static uint64_t match(struct tern_topic_tree *t, const char *topic, unsigned w, struct coll *c)
{
	memset(c, 0, sizeof(*c));
	return tern_topic_tree_match(t, (const uint8_t *)topic, strlen(topic), w, collect, c);
}

static void test_add_replace(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(2);
	int s1, s2;
	bool replaced = true;
	struct coll c;

	(void)state;
	assert_non_null(t);
	assert_int_equal(add(t, "a/b", 0, &s1, 0, &replaced), 0);
	assert_false(replaced);
	assert_int_equal(tern_topic_tree_count(t), 1);
	assert_int_equal(add(t, "a/b", 0, &s1, 2, &replaced), 0);
	assert_true(replaced);
	assert_int_equal(add(t, "a/b", 0, &s1, 2, &replaced), 0);
	assert_true(replaced);
	assert_int_equal(tern_topic_tree_count(t), 1);
	assert_int_equal(add(t, "a/b", 0, &s2, 1, NULL), 0);
	assert_int_equal(tern_topic_tree_count(t), 2);

	assert_int_equal(match(t, "a/b", 0, &c), 1u);
	assert_int_equal(c.n, 2);
	assert_int_equal(times(&c, &s1), 1);
	assert_int_equal(times(&c, &s2), 1);
	for (size_t i = 0; i < c.n; i++) {
		assert_int_equal(c.opts[i], c.subs[i] == &s1 ? 2 : 1);
		/* A fresh subscription serves every generation. */
		assert_true(c.since[i] == 0);
		assert_true(c.until[i] == UINT64_MAX);
	}
	assert_int_equal(match(t, "a/c", 0, &c), 0u);
	assert_int_equal(c.n, 0);
	assert_int_equal(match(t, "a", 0, &c), 0u);
	assert_int_equal(match(t, "a/b/c", 0, &c), 0u);

	/* Bad arguments. */
	assert_int_equal(add(t, "a/b", 2, &s1, 0, NULL), -EINVAL);
	assert_int_equal(add(t, "a/#/b", 0, &s1, 0, NULL), -EINVAL);
	assert_int_equal(add(t, "a+", 0, &s1, 0, NULL), -EINVAL);
	assert_int_equal(add(t, "", 0, &s1, 0, NULL), -EINVAL);
	assert_int_equal(add(t, "a", 0, NULL, 0, NULL), -EINVAL);
	assert_int_equal(tern_topic_tree_count(t), 2);
	assert_null(tern_topic_tree_create(0));
	assert_null(tern_topic_tree_create(TERN_MAX_WORKERS + 1));

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_remove(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(2);
	int s1, s2;
	struct coll c;

	(void)state;
	assert_int_equal(add(t, "a/+", 0, &s1, 0, NULL), 0);
	assert_int_equal(add(t, "a/+", 0, &s2, 0, NULL), 0);
	assert_int_equal(add(t, "a/+", 1, &s2, 0, NULL), 0);
	assert_int_equal(tern_topic_tree_count(t), 3);

	assert_int_equal(del(t, "a/+", 0, &c), -ENOENT);  /* unknown subscriber */
	assert_int_equal(del(t, "a/b", 0, &s1), -ENOENT); /* a literal is not the wildcard */
	assert_int_equal(del(t, "a/+", 1, &s1), -ENOENT); /* other worker's group */
	assert_int_equal(del(t, "x", 0, &s1), -ENOENT);
	assert_int_equal(del(t, "a/+", 7, &s1), -ENOENT);

	assert_int_equal(del(t, "a/+", 0, &s1), 0);
	assert_int_equal(del(t, "a/+", 0, &s1), -ENOENT);
	assert_int_equal(tern_topic_tree_count(t), 2);
	assert_int_equal(match(t, "a/x", 0, &c), 3u);
	assert_int_equal(c.n, 1);
	assert_ptr_equal(c.subs[0], &s2);

	assert_int_equal(del(t, "a/+", 0, &s2), 0);
	assert_int_equal(match(t, "a/x", 0, &c), 2u);
	assert_int_equal(c.n, 0);
	assert_int_equal(match(t, "a/x", 1, &c), 2u);
	assert_int_equal(c.n, 1);
	assert_int_equal(del(t, "a/+", 1, &s2), 0);
	assert_int_equal(match(t, "a/x", 1, &c), 0u);
	assert_int_equal(tern_topic_tree_count(t), 0);
	assert_int_equal(tern_topic_tree_node_count(t), 1);

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_worker_groups(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(64);
	int s[4];
	struct coll c;

	(void)state;
	assert_int_equal(add(t, "a/b", 0, &s[0], 0, NULL), 0);
	assert_int_equal(add(t, "a/+", 2, &s[1], 1, NULL), 0);
	assert_int_equal(add(t, "#", 3, &s[2], 0, NULL), 0);
	assert_int_equal(add(t, "a/b/#", 63, &s[3], 0, NULL), 0);
	const uint64_t all = 1u | 4u | 8u | (UINT64_C(1) << 63);

	/* Each worker sees only its own group, and every worker learns the full set. */
	assert_true(match(t, "a/b", 0, &c) == all);
	assert_int_equal(c.n, 1);
	assert_ptr_equal(c.subs[0], &s[0]);
	assert_true(match(t, "a/b", 2, &c) == all);
	assert_int_equal(c.n, 1);
	assert_ptr_equal(c.subs[0], &s[1]);
	assert_int_equal(c.opts[0], 1);
	assert_true(match(t, "a/b", 63, &c) == all);
	assert_int_equal(c.n, 1);
	assert_ptr_equal(c.subs[0], &s[3]);
	assert_true(match(t, "a/b", 1, &c) == all);
	assert_int_equal(c.n, 0);

	assert_true(match(t, "a/c", 1, &c) == (4u | 8u));
	assert_true(match(t, "z", 3, &c) == 8u);
	assert_int_equal(c.n, 1);
	assert_true(match(t, "a/b/c/d", 63, &c) == (8u | (UINT64_C(1) << 63)));
	assert_int_equal(c.n, 1);
	/* Out-of-range worker: nothing. */
	assert_true(match(t, "a/b", 64, &c) == 0);
	assert_int_equal(c.n, 0);

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_overlapping(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(1);
	static const char *const filters[] = {"a/b", "a/+",   "+/b", "+/+",   "#",
					      "a/#", "a/b/#", "+/#", "a/b/c", "b/#"};
	int s, other;
	struct coll c;

	(void)state;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		assert_int_equal(add(t, filters[i], 0, &s, (uint8_t)(i % 3), NULL), 0);
	assert_int_equal(add(t, "a/b", 0, &other, 0, NULL), 0);
	/* One report per matching filter: all but "a/b/c" and "b/#". */
	assert_int_equal(match(t, "a/b", 0, &c), 1u);
	assert_int_equal(times(&c, &s), 8);
	assert_int_equal(times(&c, &other), 1);
	/* "a" is matched by "#", "a/#" ("#" covers the parent level) and "+/#". */
	match(t, "a", 0, &c);
	assert_int_equal(times(&c, &s), 3);
	match(t, "a/b/c", 0, &c);
	assert_int_equal(times(&c, &s), 5); /* #, a/#, a/b/#, +/#, a/b/c */

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_empty_levels(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(1);
	int a, b, d, e;
	struct coll c;

	(void)state;
	assert_int_equal(add(t, "/finance", 0, &a, 0, NULL), 0);
	assert_int_equal(add(t, "+/+", 0, &b, 0, NULL), 0);
	assert_int_equal(add(t, "/+", 0, &d, 0, NULL), 0);
	assert_int_equal(add(t, "+", 0, &e, 0, NULL), 0);
	match(t, "/finance", 0, &c);
	assert_int_equal(c.n, 3);
	assert_int_equal(times(&c, &e), 0);
	match(t, "/", 0, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(times(&c, &b), 1);
	assert_int_equal(times(&c, &d), 1);
	match(t, "finance", 0, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(times(&c, &e), 1);

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_dollar(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(2);
	int hash, plus, sys, sysplus, mon, inner;
	struct coll c;

	(void)state;
	assert_int_equal(add(t, "#", 0, &hash, 0, NULL), 0);
	assert_int_equal(add(t, "+/monitor/Clients", 1, &plus, 0, NULL), 0);
	assert_int_equal(add(t, "$SYS/#", 0, &sys, 0, NULL), 0);
	assert_int_equal(add(t, "$SYS/+/Clients", 0, &sysplus, 0, NULL), 0);
	assert_int_equal(add(t, "$SYS/monitor/+", 0, &mon, 0, NULL), 0);
	assert_int_equal(add(t, "x/+", 0, &inner, 0, NULL), 0);

	/* Neither a leading '#' nor a leading '+' reaches a '$' topic, nor its worker. */
	assert_true(match(t, "$SYS/monitor/Clients", 0, &c) == 1u);
	assert_int_equal(c.n, 3);
	assert_int_equal(times(&c, &hash), 0);
	assert_int_equal(times(&c, &sys), 1);
	assert_int_equal(times(&c, &sysplus), 1);
	assert_int_equal(times(&c, &mon), 1);
	assert_true(match(t, "$SYS", 0, &c) == 1u);
	assert_int_equal(c.n, 1);
	assert_int_equal(times(&c, &sys), 1);
	/* The same filters on an ordinary topic. */
	assert_true(match(t, "a/monitor/Clients", 0, &c) == 3u);
	assert_int_equal(c.n, 1);
	assert_int_equal(times(&c, &hash), 1);
	/* '$' deeper than the first level is ordinary. */
	match(t, "x/$y", 0, &c);
	assert_int_equal(times(&c, &inner), 1);
	assert_int_equal(times(&c, &hash), 1);

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static int ho(struct tern_topic_tree *t, const char *f, void *sub, unsigned from, unsigned to,
	      uint64_t gen)
{
	return tern_topic_tree_handover(t, (const uint8_t *)f, strlen(f), sub, from, to, gen);
}

/* Index of sub in c (which must hold it exactly once). */
static size_t at(const struct coll *c, const void *sub)
{
	assert_int_equal(times(c, sub), 1);
	for (size_t i = 0; i < c->n; i++)
		if (c->subs[i] == sub)
			return i;
	return SIZE_MAX;
}

/* Assert that sub is in worker w's group of topic once, with these options and generations. */
static void expect_entry(struct tern_topic_tree *t, const char *topic, unsigned w, const void *sub,
			 uint8_t opts, uint64_t since, uint64_t until)
{
	struct coll c;
	size_t i;

	match(t, topic, w, &c);
	i = at(&c, sub);
	assert_int_equal(c.opts[i], opts);
	assert_true(c.since[i] == since);
	assert_true(c.until[i] == until);
}

static void test_handover(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(4);
	int s1, s2;
	bool replaced = false;
	struct coll c;

	(void)state;
	assert_int_equal(add(t, "a/#", 0, &s1, 2, NULL), 0);
	assert_int_equal(add(t, "a/#", 0, &s2, 1, NULL), 0);
	assert_int_equal(ho(t, "a/#", &s1, 0, 3, 5), 0);
	/* The old entry stays (ending at 5) until removed, so the count grows. */
	assert_int_equal(tern_topic_tree_count(t), 3);
	assert_true(match(t, "a/x", 3, &c) == 9u);
	assert_int_equal(c.n, 1);
	expect_entry(t, "a/x", 3, &s1, 2, 5, UINT64_MAX); /* options travel */
	assert_true(match(t, "a/x", 0, &c) == 9u);
	assert_int_equal(c.n, 2);
	expect_entry(t, "a/x", 0, &s1, 2, 0, 5);
	expect_entry(t, "a/x", 0, &s2, 1, 0, UINT64_MAX); /* neighbours untouched */

	/* Removing the old entry, as the engine does after a grace period: net count unchanged. */
	assert_int_equal(del(t, "a/#", 0, &s1), 0);
	assert_int_equal(tern_topic_tree_count(t), 2);
	assert_true(match(t, "a/x", 0, &c) == 9u);
	assert_int_equal(c.n, 1);
	assert_ptr_equal(c.subs[0], &s2);
	expect_entry(t, "a/x", 3, &s1, 2, 5, UINT64_MAX);

	/* Handing over the last of a group and removing it takes the group out of the mask. */
	assert_int_equal(ho(t, "a/#", &s2, 0, 3, 7), 0);
	assert_true(match(t, "a", 3, &c) == 9u);
	assert_int_equal(del(t, "a/#", 0, &s2), 0);
	assert_true(match(t, "a", 3, &c) == 8u);
	assert_int_equal(c.n, 2);
	assert_true(match(t, "a", 0, &c) == 8u);
	assert_int_equal(c.n, 0);
	assert_int_equal(tern_topic_tree_count(t), 2);

	/* Back again: the new `from` entry keeps its since_gen and ends at the new generation. */
	assert_int_equal(ho(t, "a/#", &s1, 3, 1, 9), 0);
	expect_entry(t, "a/x", 3, &s1, 2, 5, 9);
	expect_entry(t, "a/x", 1, &s1, 2, 9, UINT64_MAX);
	assert_int_equal(tern_topic_tree_count(t), 3);
	assert_int_equal(del(t, "a/#", 3, &s1), 0);
	assert_int_equal(tern_topic_tree_count(t), 2);

	/* A later add with other options keeps the handed-over generations. */
	assert_int_equal(add(t, "a/#", 1, &s1, 0, &replaced), 0);
	assert_true(replaced);
	expect_entry(t, "a/x", 1, &s1, 0, 9, UINT64_MAX);
	assert_int_equal(tern_topic_tree_count(t), 2);

	assert_int_equal(del(t, "a/#", 1, &s1), 0);
	assert_int_equal(del(t, "a/#", 3, &s2), 0);
	assert_int_equal(tern_topic_tree_count(t), 0);
	assert_int_equal(tern_topic_tree_node_count(t), 1);
	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_handover_errors(void **state)
{
	struct tern_topic_tree *t = tern_topic_tree_create(4);
	int s1, s2, s3;
	struct coll c;

	(void)state;
	assert_int_equal(add(t, "a/#", 0, &s1, 1, NULL), 0);
	assert_int_equal(add(t, "a/+", 2, &s2, 0, NULL), 0);

	assert_int_equal(ho(t, "a/#", &s1, 0, 0, 3), -EINVAL); /* from == to */
	assert_int_equal(ho(t, "a/#", &s3, 1, 1, 3), -EINVAL); /* from == to, whoever */
	assert_int_equal(ho(t, "a/#", &s1, 0, 4, 3), -EINVAL); /* to out of range */
	assert_int_equal(ho(t, "a/#", &s1, 0, 64, 3), -EINVAL);
	assert_int_equal(ho(t, "a/#", &s3, 0, 1, 3), -ENOENT); /* unknown subscriber */
	assert_int_equal(ho(t, "a/#", &s1, 1, 2, 3), -ENOENT); /* not in `from`'s group */
	assert_int_equal(ho(t, "a/#", &s2, 2, 1, 3), -ENOENT); /* other filter's subscriber */
	assert_int_equal(ho(t, "a/+", &s1, 0, 1, 3), -ENOENT); /* a filter it does not hold */
	assert_int_equal(ho(t, "b", &s1, 0, 1, 3), -ENOENT);   /* no such node */
	assert_int_equal(ho(t, "a/#", &s1, 4, 1, 3), -ENOENT); /* from out of range */
	assert_int_equal(ho(t, "a/#/b", &s1, 0, 1, 3), -ENOENT);
	assert_int_equal(ho(t, "", &s1, 0, 1, 3), -ENOENT);

	/* Failures changed nothing. */
	assert_int_equal(tern_topic_tree_count(t), 2);
	assert_true(match(t, "a/x", 1, &c) == 5u);
	assert_int_equal(c.n, 0);
	expect_entry(t, "a/x", 0, &s1, 1, 0, UINT64_MAX);
	expect_entry(t, "a/x", 2, &s2, 0, 0, UINT64_MAX);

	/* A `to` group that already holds the subscriber: its entry is replaced, not doubled. */
	assert_int_equal(add(t, "a/#", 3, &s1, 2, NULL), 0);
	assert_int_equal(tern_topic_tree_count(t), 3);
	assert_int_equal(ho(t, "a/#", &s1, 0, 3, 11), 0);
	assert_int_equal(tern_topic_tree_count(t), 3);
	expect_entry(t, "a/x", 3, &s1, 1, 11, UINT64_MAX); /* options of the `from` entry */
	expect_entry(t, "a/x", 0, &s1, 1, 0, 11);
	assert_int_equal(del(t, "a/#", 0, &s1), 0);
	assert_int_equal(tern_topic_tree_count(t), 2);
	assert_true(match(t, "a/x", 3, &c) == 12u);
	assert_int_equal(c.n, 1);

	/* The handed-over entry may be handed over again. */
	assert_int_equal(ho(t, "a/#", &s1, 3, 0, 12), 0);
	expect_entry(t, "a/x", 0, &s1, 1, 12, UINT64_MAX);
	expect_entry(t, "a/x", 3, &s1, 1, 11, 12);
	assert_int_equal(tern_topic_tree_count(t), 3);

	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_many_children(void **state)
{
	enum { N = 100000 };
	struct tern_topic_tree *t = tern_topic_tree_create(4);
	static int subs[N];
	char topic[64];
	struct coll c;
	size_t peak;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(topic, sizeof(topic), "dev/%d/telemetry", i);
		assert_int_equal(add(t, topic, (unsigned)i % 4, &subs[i], 0, NULL), 0);
	}
	assert_int_equal(tern_topic_tree_count(t), N);
	assert_int_equal(tern_topic_tree_node_count(t), 1 + 1 + 2 * N);
	/* The hash of literal levels grew with them: at most 2 nodes a bucket. */
	peak = tern_topic_tree_buckets(t);
	assert_true(peak >= 1024 && 2 * peak >= tern_topic_tree_node_count(t));
	for (int i = 0; i < N; i += 7) {
		snprintf(topic, sizeof(topic), "dev/%d/telemetry", i);
		assert_true(match(t, topic, (unsigned)i % 4, &c) == UINT64_C(1) << (i % 4));
		assert_int_equal(c.n, 1);
		assert_ptr_equal(c.subs[0], &subs[i]);
	}
	assert_true(match(t, "dev/100000/telemetry", 0, &c) == 0);
	assert_true(match(t, "dev/1", 0, &c) == 0);
	for (int i = 0; i < N; i++) {
		snprintf(topic, sizeof(topic), "dev/%d/telemetry", i);
		assert_int_equal(del(t, topic, (unsigned)i % 4, &subs[i]), 0);
	}
	assert_int_equal(tern_topic_tree_count(t), 0);
	assert_int_equal(tern_topic_tree_node_count(t), 1);
	/* It never shrinks (a shrink would wait for a grace period under the writer lock). */
	assert_int_equal(tern_topic_tree_buckets(t), peak);
	tern_topic_tree_destroy(t);
	drain_rcu();
}

/*
 * A node scans a small array of its literal children up to a few of them and
 * hashes beyond: grow a level's children one by one past that bound and shrink
 * it again, checking every lookup at each size. The names share their first 8
 * bytes or differ only in length, so a match needs the whole name compared.
 */
static void test_children_small_and_hashed(void **state)
{
	enum { N = 14 };
	static const char *const names[N] = {"x",
					     "xx",
					     "",
					     "sensor-group-01",
					     "sensor-group-02",
					     "sensor-g",
					     "sensor-gr",
					     "sensor-group-1",
					     "abcdefgh",
					     "abcdefghi",
					     "abcdefgg",
					     "y",
					     "sensor-group-10",
					     "z"};
	static const int del_order[N] = {3, 0, 13, 7, 9, 1, 12, 2, 5, 11, 4, 8, 10, 6};
	struct tern_topic_tree *t = tern_topic_tree_create(1);
	bool in[N] = {false};
	static int subs[N];
	char topic[64];
	struct coll c;

	(void)state;
	for (int step = 0; step < 2 * N; step++) {
		int k = step < N ? step : del_order[step - N];

		snprintf(topic, sizeof(topic), "top/%s/end", names[k]);
		if (step < N)
			assert_int_equal(add(t, topic, 0, &subs[k], 0, NULL), 0);
		else
			assert_int_equal(del(t, topic, 0, &subs[k]), 0);
		in[k] = step < N;
		for (int i = 0; i < N; i++) {
			snprintf(topic, sizeof(topic), "top/%s/end", names[i]);
			assert_true(match(t, topic, 0, &c) == (in[i] ? 1u : 0u));
			assert_int_equal(c.n, in[i] ? 1 : 0);
			if (in[i])
				assert_ptr_equal(c.subs[0], &subs[i]);
		}
		assert_true(match(t, "top/sensor-group-03/end", 0, &c) == 0);
		assert_true(match(t, "top/abcdefgx/end", 0, &c) == 0);
	}
	assert_int_equal(tern_topic_tree_node_count(t), 1);
	tern_topic_tree_destroy(t);
	drain_rcu();
}

struct tally {
	const int *base;
	unsigned *seen;
	size_t n;
	size_t bad;
};

static void tally(void *p, const struct tern_sub *s)
{
	struct tally *t = p;
	const int *sp = s->subscriber;

	if (sp >= t->base && sp < t->base + t->n)
		t->seen[sp - t->base]++;
	else
		t->bad++;
}

/* Many subscribers on one node: arrays grow, shrink, and keep every entry exactly once. */
static void test_big_group(void **state)
{
	enum { N = 3000 };
	struct tern_topic_tree *t = tern_topic_tree_create(2);
	static int subs[N];
	static unsigned seen[N];

	(void)state;
	for (int i = 0; i < N; i++)
		assert_int_equal(add(t, "big/+", (unsigned)i % 2, &subs[i], 0, NULL), 0);
	for (int i = 0; i < N; i += 3)
		assert_int_equal(del(t, "big/+", (unsigned)i % 2, &subs[i]), 0);
	assert_int_equal(tern_topic_tree_count(t), N - N / 3);
	for (unsigned w = 0; w < 2; w++) {
		struct tally ty = {.base = subs, .seen = seen, .n = N};

		memset(seen, 0, sizeof(seen));
		assert_true(tern_topic_tree_match(t, (const uint8_t *)"big/x", 5, w, tally, &ty) ==
			    3u);
		assert_int_equal(ty.bad, 0);
		for (int i = 0; i < N; i++)
			assert_int_equal(seen[i], (i % 3 != 0 && (unsigned)i % 2 == w) ? 1 : 0);
	}
	for (int i = 0; i < N; i++)
		if (i % 3)
			assert_int_equal(del(t, "big/+", (unsigned)i % 2, &subs[i]), 0);
	assert_int_equal(tern_topic_tree_count(t), 0);
	assert_int_equal(tern_topic_tree_node_count(t), 1);
	tern_topic_tree_destroy(t);
	drain_rcu();
}

static void test_prune_and_memory(void **state)
{
	enum { N = 10000 };
	static int subs[N];
	char f[64];
	size_t before, peak, after;
	struct tern_topic_tree *t;

	(void)state;
	drain_rcu();
	before = tern_alloc_allocated();
	t = tern_topic_tree_create(4);
	assert_non_null(t);
	for (int i = 0; i < N; i++) {
		snprintf(f, sizeof(f), "p/%d/%s/%d", i % 100, i % 2 ? "+" : "x", i);
		assert_int_equal(add(t, f, (unsigned)i % 4, &subs[i], 0, NULL), 0);
		assert_int_equal(add(t, "p/#", (unsigned)i % 4, &subs[i], 0, NULL), 0);
	}
	assert_int_equal(tern_topic_tree_count(t), 2 * N);
	assert_true(tern_topic_tree_node_count(t) > N);
	peak = tern_alloc_allocated();
	for (int i = N - 1; i >= 0; i--) {
		snprintf(f, sizeof(f), "p/%d/%s/%d", i % 100, i % 2 ? "+" : "x", i);
		assert_int_equal(del(t, f, (unsigned)i % 4, &subs[i]), 0);
		assert_int_equal(del(t, "p/#", (unsigned)i % 4, &subs[i]), 0);
	}
	assert_int_equal(tern_topic_tree_count(t), 0);
	/* Every emptied node was pruned: only the root is left. */
	assert_int_equal(tern_topic_tree_node_count(t), 1);
	/* The tree is still usable after pruning. */
	assert_int_equal(add(t, "p/1", 0, &subs[0], 0, NULL), 0);
	assert_int_equal(tern_topic_tree_node_count(t), 3);
	tern_topic_tree_destroy(t);
	drain_rcu();
	after = tern_alloc_allocated();
	if (before == 0 || peak <= before) {
		/* No jemalloc stats, or another allocator in front of it (sanitizers). */
		print_message("jemalloc stats unavailable: memory check skipped\n");
		return;
	}
	/* Thread caches hold some freed bytes; a leak of the nodes would be megabytes. */
	assert_true(peak > before + 1024u * 1024);
	assert_true(after < before + 256u * 1024);
}

/* Every filter over a small alphabet against every topic: the tree agrees with tern_topic_matches.
 */
static void test_cross_check(void **state)
{
	static const char *const lv[] = {"a", "b", "", "$s", "+"};
	static char filters[512][16];
	static char topics[512][16];
	size_t nf = 0, nt = 0;
	struct tern_topic_tree *t = tern_topic_tree_create(3);
	struct coll c;

	(void)state;
	/* Filters: 1..3 levels from lv, and optionally a final '#'. */
	for (int depth = 1; depth <= 3; depth++) {
		int combos = 1;

		for (int d = 0; d < depth; d++)
			combos *= 6;
		for (int k = 0; k < combos; k++) {
			char *p = filters[nf];
			int x = k;

			p[0] = '\0';
			for (int d = 0; d < depth; d++, x /= 6) {
				if (x % 6 == 5 && d != depth - 1)
					goto skip;
				if (d)
					strcat(p, "/");
				strcat(p, x % 6 == 5 ? "#" : lv[x % 6]);
			}
			assert_true(tern_topic_filter_valid((const uint8_t *)p, strlen(p)) ||
				    strlen(p) == 0);
			if (strlen(p))
				nf++;
		skip:;
		}
	}
	/* Topics: 1..4 levels without '+'. */
	for (int depth = 1; depth <= 4; depth++) {
		int combos = 1;

		for (int d = 0; d < depth; d++)
			combos *= 4;
		for (int k = 0; k < combos; k++, nt++) {
			int x = k;

			topics[nt][0] = '\0';
			for (int d = 0; d < depth; d++, x /= 4) {
				if (d)
					strcat(topics[nt], "/");
				strcat(topics[nt], lv[x % 4]);
			}
		}
	}
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < nf; i++)
			assert_int_equal(add(t, filters[i], (unsigned)i % 3, filters[i], 0, NULL),
					 0);
		/* Second round: odd filters removed again, the tree must forget exactly them. */
		for (size_t i = 1; round == 1 && i < nf; i += 2)
			assert_int_equal(del(t, filters[i], (unsigned)i % 3, filters[i]), 0);
		for (size_t ti = 0; ti < nt; ti++) {
			const char *tp = topics[ti];

			if (strlen(tp) == 0)
				continue;
			for (unsigned w = 0; w < 3; w++) {
				uint64_t want_mask = 0;
				size_t want_n = 0;
				uint64_t got = match(t, tp, w, &c);

				for (size_t i = 0; i < nf; i++) {
					bool m = tern_topic_matches(
					    (const uint8_t *)filters[i], strlen(filters[i]),
					    (const uint8_t *)tp, strlen(tp));
					bool present = round == 0 || i % 2 == 0;

					if (!m || !present)
						continue;
					want_mask |= UINT64_C(1) << (i % 3);
					if (i % 3 == w) {
						want_n++;
						if (times(&c, filters[i]) != 1)
							fail_msg("topic '%s' filter '%s' worker %u "
								 "seen %zu",
								 tp, filters[i], w,
								 times(&c, filters[i]));
					}
				}
				assert_int_equal(c.n, want_n);
				assert_true(got == want_mask);
			}
		}
		for (size_t i = 0; i < nf; i++)
			if (round == 0 || i % 2 == 0)
				assert_int_equal(del(t, filters[i], (unsigned)i % 3, filters[i]),
						 0);
		assert_int_equal(tern_topic_tree_node_count(t), 1);
	}
	assert_int_equal(tern_topic_tree_count(t), 0);
	assert_int_equal(tern_topic_tree_node_count(t), 1);
	tern_topic_tree_destroy(t);
	drain_rcu();
}

/* ---- readers racing a writer ---- */

#define CW	   4	/* workers */
#define CSTABLE	   64	/* subscriptions never removed: "c/<k>/x" on worker k % CW */
#define CCHURN	   2000 /* subscribers the writer adds, hands over and removes */
#define CROUNDS	   8
#define MOVER_OPTS 2

struct race {
	struct tern_topic_tree *t;
	int stable[CSTABLE];
	int churn[CCHURN];
	int mover;	      /* on "$m/#", handed over between workers 0 and 1 all the time */
	uint64_t gen;	      /* the broker's tree generation: writer stores (release) */
	bool done;	      /* atomic */
	unsigned long errors; /* atomic */
	unsigned long reads;  /* atomic */
	unsigned long both;   /* atomic: reads that found the mover in both groups */
};

struct reader_ctx {
	const struct race *r;
	unsigned k;
	uint64_t gen;
	unsigned stable_seen;
	unsigned mover_seen;
	unsigned mover_valid; /* mover entries with since_gen <= gen < until_gen */
	unsigned bad;
};

static void race_check(void *p, const struct tern_sub *s)
{
	struct reader_ctx *rc = p;
	const struct race *r = rc->r;
	const int *sp = s->subscriber;

	if (sp == &r->stable[rc->k]) {
		rc->stable_seen++;
	} else if (sp == &r->mover) {
		rc->mover_seen++;
		/* The route.c check. */
		if (rc->gen >= s->since_gen && rc->gen < s->until_gen)
			rc->mover_valid++;
		if (s->options != MOVER_OPTS)
			rc->bad++;
	} else if (!(sp >= r->churn && sp < r->churn + CCHURN)) {
		rc->bad++;
	}
}

struct reader_arg {
	struct race *r;
	unsigned id;
};

/*
 * Walk "$m/x" once per group of the mover's two workers with one generation g
 * read before (as a publish does, and carries to the other workers): exactly
 * one of the entries must be valid for g, or a message is lost or doubled.
 */
static bool mover_ok(struct race *r)
{
	uint64_t g = __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE);
	unsigned valid = 0, seen = 0;

	for (unsigned w = 0; w < 2; w++) {
		struct reader_ctx rc = {.r = r, .k = CSTABLE, .gen = g};
		uint64_t mask;

		mask = tern_topic_tree_match(r->t, (const uint8_t *)"$m/x", 4, w, race_check, &rc);
		/* At most one entry per group, and a group with one is in the mask. */
		if (rc.bad || rc.stable_seen || rc.mover_seen > 1 || !mask || (mask & ~3u) ||
		    (rc.mover_seen && !(mask & (UINT64_C(1) << w))))
			return false;
		valid += rc.mover_valid;
		seen += rc.mover_seen;
	}
	if (seen == 2)
		__atomic_fetch_add(&r->both, 1, __ATOMIC_RELAXED);
	return valid == 1;
}

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct race *r = a->r;
	unsigned long n = 0;
	unsigned k = a->id;
	char topic[32];

	rcu_register_thread();
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		struct reader_ctx rc = {.r = r, .k = k};
		uint64_t mask;

		snprintf(topic, sizeof(topic), "c/%u/x", k);
		mask = tern_topic_tree_match(r->t, (const uint8_t *)topic, strlen(topic), k % CW,
					     race_check, &rc);
		if (rc.stable_seen != 1 || rc.mover_seen || rc.bad ||
		    !(mask & (UINT64_C(1) << (k % CW))))
			__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		if (!mover_ok(r))
			__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		/* Only here may the writer's grace period end: both walks of one g are one read
		 * side. */
		rcu_quiescent_state();
		k = (k + CW) % CSTABLE;
		n++;
	}
	__atomic_fetch_add(&r->reads, n, __ATOMIC_RELAXED);
	rcu_unregister_thread();
	return NULL;
}

static void churn_filter(char *buf, size_t size, unsigned i)
{
	switch (i % 5) {
	case 0:
		snprintf(buf, size, "c/%u/x", i % CSTABLE);
		break;
	case 1:
		snprintf(buf, size, "c/+/x");
		break;
	case 2:
		snprintf(buf, size, "c/%u/#", i % CSTABLE);
		break;
	case 3:
		snprintf(buf, size, "#");
		break;
	default:
		snprintf(buf, size, "c/%u/x/%u", i % CSTABLE, i); /* never matched; builds nodes */
		break;
	}
}

static void race_fail(struct race *r, int rc)
{
	if (rc != 0)
		__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
}

/*
 * The engine's takeover (broker/registry.h): hand over at the next generation,
 * publish that generation, and once a grace period has ended every walk that
 * read an older one, remove the old entry.
 */
static void mover_handover(struct race *r, unsigned *at)
{
	uint64_t g = r->gen + 1; /* only this thread stores r->gen */

	race_fail(r, ho(r->t, "$m/#", &r->mover, *at, *at ^ 1, g));
	__atomic_store_n(&r->gen, g, __ATOMIC_RELEASE);
	synchronize_rcu();
	race_fail(r, del(r->t, "$m/#", *at, &r->mover));
	*at ^= 1;
}

static void *writer(void *p)
{
	struct race *r = p;
	unsigned mover_at = 0;
	char f[48];

	rcu_register_thread();
	for (unsigned round = 0; round < CROUNDS; round++) {
		for (unsigned i = 0; i < CCHURN; i++) {
			churn_filter(f, sizeof(f), i);
			race_fail(r,
				  add(r->t, f, i % CW, &r->churn[i], (uint8_t)(round % 3), NULL));
			if (i % 16 == 0)
				rcu_quiescent_state();
		}
		/* Even subscribers go to the next worker; the mover flips now and then. */
		for (unsigned i = 0; i < CCHURN; i += 2) {
			churn_filter(f, sizeof(f), i);
			race_fail(r, ho(r->t, f, &r->churn[i], i % CW, (i + 1) % CW, r->gen + 1));
			race_fail(r, del(r->t, f, i % CW, &r->churn[i]));
			/* Each waits a grace period: milliseconds on few CPUs. */
			if (i % 32 == 0)
				mover_handover(r, &mover_at);
			if (i % 16 == 0)
				rcu_quiescent_state();
		}
		for (unsigned i = 0; i < CCHURN; i++) {
			churn_filter(f, sizeof(f), i);
			race_fail(r, del(r->t, f, i % 2 ? i % CW : (i + 1) % CW, &r->churn[i]));
			if (i % 16 == 0)
				rcu_quiescent_state();
		}
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_concurrent(void **state)
{
	enum { READERS = 3 };
	static struct race r;
	struct reader_arg args[READERS];
	pthread_t rt[READERS], wt;
	struct coll c;
	char f[32];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.t = tern_topic_tree_create(CW);
	assert_non_null(r.t);
	for (unsigned k = 0; k < CSTABLE; k++) {
		snprintf(f, sizeof(f), "c/%u/x", k);
		assert_int_equal(add(r.t, f, k % CW, &r.stable[k], 1, NULL), 0);
	}
	assert_int_equal(add(r.t, "$m/#", 0, &r.mover, MOVER_OPTS, NULL), 0);
	for (unsigned i = 0; i < READERS; i++) {
		args[i] = (struct reader_arg){.r = &r, .id = i};
		assert_int_equal(pthread_create(&rt[i], NULL, reader, &args[i]), 0);
	}
	assert_int_equal(pthread_create(&wt, NULL, writer, &r), 0);
	/* Offline while blocked, or grace periods (and so memory reclaim) would wait for us. */
	rcu_thread_offline();
	pthread_join(wt, NULL);
	__atomic_store_n(&r.done, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	rcu_thread_online();

	print_message("concurrent: %lu reads (%lu saw both mover entries) during %u writes, %lu "
		      "handovers\n",
		      r.reads, r.both, CROUNDS * CCHURN * 3, (unsigned long)r.gen);
	assert_int_equal(r.errors, 0);
	assert_true(r.reads > 0);
	assert_int_equal(r.gen, CROUNDS * ((CCHURN + 31) / 32));
	assert_int_equal(tern_topic_tree_count(r.t), CSTABLE + 1);
	/* An even number of handovers: the mover is back on worker 0, valid from the last one. */
	expect_entry(r.t, "$m/x", 0, &r.mover, MOVER_OPTS, r.gen, UINT64_MAX);
	assert_true(match(r.t, "$m/x", 1, &c) == 1u);
	assert_int_equal(c.n, 0);
	/* Only the stable paths are left: root, "c", 64 x ("<k>", "x"), "$m", "#". */
	assert_int_equal(tern_topic_tree_node_count(r.t), 1 + 1 + 2 * CSTABLE + 2);
	tern_topic_tree_destroy(r.t);
	drain_rcu();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_replace),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_worker_groups),
	    cmocka_unit_test(test_overlapping),
	    cmocka_unit_test(test_empty_levels),
	    cmocka_unit_test(test_dollar),
	    cmocka_unit_test(test_handover),
	    cmocka_unit_test(test_handover_errors),
	    cmocka_unit_test(test_many_children),
	    cmocka_unit_test(test_big_group),
	    cmocka_unit_test(test_prune_and_memory),
	    cmocka_unit_test(test_cross_check),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_children_small_and_hashed),
	};

	return cmocka_run_group_tests(tests, rcu_group_setup, rcu_group_teardown);
}
