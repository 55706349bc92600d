/* SPDX-License-Identifier: MIT */
/*
 * The subscription tree out of memory: removal must still take the entry out
 * of every later walk (the session is freed right after), re-adding and the
 * next removal must work, and nothing may leak (allocator: failalloc.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "broker/topic_tree.h"
#include "tests/unit/failalloc.h"
#include "tests/unit/rcu_test.h"

struct seen {
	const void *who[8];
	unsigned n;
};

static void collect(void *ctx, const struct tern_sub *sub)
{
	struct seen *s = ctx;

	if (s->n < 8)
		s->who[s->n] = sub->subscriber;
	s->n++;
}

/* Subscribers reported to worker w for topic x/y, in array order. */
static struct seen walk(struct tern_topic_tree *t, unsigned w, uint64_t *mask)
{
	struct seen s = {0};

	*mask = tern_topic_tree_match(t, (const uint8_t *)"x/y", 3, w, collect, &s);
	return s;
}

static int add(struct tern_topic_tree *t, unsigned w, void *who)
{
	return tern_topic_tree_add(t, (const uint8_t *)"x/+", 3, w, who, 1, 0, NULL);
}

static int del(struct tern_topic_tree *t, unsigned w, void *who)
{
	return tern_topic_tree_remove(t, (const uint8_t *)"x/+", 3, w, who);
}

static void test_remove_without_memory(void **state)
{
	int a, b, c; /* subscriber identities */
	struct tern_topic_tree *t;
	struct seen s;
	uint64_t mask;
	long before = live;

	(void)state;
	t = tern_topic_tree_create(2);
	assert_non_null(t);
	assert_int_equal(add(t, 0, &a), 0);
	assert_int_equal(add(t, 0, &b), 0);
	assert_int_equal(add(t, 1, &c), 0);
	assert_int_equal(tern_topic_tree_count(t), 3);

	/* Out of memory: removals still succeed and the entries vanish from walks. */
	failing = true;
	assert_int_equal(del(t, 0, &a), 0);
	assert_int_equal(del(t, 1, &c), 0); /* a worker's last entry: the group table changes */
	/* (A new node needs memory; an append may still fit in place.) */
	assert_int_equal(tern_topic_tree_add(t, (const uint8_t *)"z/+", 3, 0, &a, 1, 0, NULL),
			 -ENOMEM);
	failing = false;
	assert_true(failed >= 3);
	assert_int_equal(tern_topic_tree_count(t), 1);
	s = walk(t, 0, &mask);
	assert_int_equal(s.n, 1);
	assert_ptr_equal(s.who[0], &b);
	s = walk(t, 1, &mask);
	assert_int_equal(s.n, 0);
	/* Removed is removed: a second removal finds nothing. */
	assert_int_equal(del(t, 0, &a), -ENOENT);
	assert_int_equal(del(t, 1, &c), -ENOENT);

	/* With memory back, the same subscribers can come back (a new session at the same address).
	 */
	assert_int_equal(add(t, 0, &a), 0);
	assert_int_equal(add(t, 1, &c), 0);
	s = walk(t, 0, &mask);
	assert_int_equal(s.n, 2);
	assert_int_equal(mask, 3);
	s = walk(t, 1, &mask);
	assert_int_equal(s.n, 1);
	assert_ptr_equal(s.who[0], &c);

	/* The next removals purge the marked entries: everything is freed in the end. */
	assert_int_equal(del(t, 0, &b), 0);
	assert_int_equal(del(t, 0, &a), 0);
	assert_int_equal(del(t, 1, &c), 0);
	assert_int_equal(tern_topic_tree_count(t), 0);
	s = walk(t, 0, &mask);
	assert_int_equal(s.n + mask, 0);
	tern_topic_tree_destroy(t);
	drain_rcu();
	assert_int_equal(live, before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_remove_without_memory),
	};

	return cmocka_run_group_tests(tests, rcu_group_setup, rcu_group_teardown);
}
