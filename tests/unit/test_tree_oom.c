/* SPDX-License-Identifier: MIT */
/*
 * The subscription tree out of memory: removal must still take the entry out
 * of every later walk (the session is freed right after), re-adding and the
 * next removal must work, and nothing may leak. The test supplies the
 * allocation wrapper (broker/alloc.h) itself, so it can make it fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/topic_tree.h"
#include "tests/unit/rcu_test.h"

static bool failing;	/* every allocation fails while set */
static unsigned failed; /* allocations refused */
static long live;	/* allocations not yet freed */

static void *counted(void *p)
{
	if (p)
		__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
	else
		errno = ENOMEM;
	return p;
}

static bool refuse(void)
{
	if (!__atomic_load_n(&failing, __ATOMIC_RELAXED))
		return false;
	__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
	errno = ENOMEM;
	return true;
}

void *tern_malloc(size_t size)
{
	return refuse() ? NULL : counted(malloc(size));
}

void *tern_calloc(size_t n, size_t size)
{
	return refuse() ? NULL : counted(calloc(n, size));
}

void *tern_realloc(void *p, size_t size)
{
	void *q;

	if (refuse())
		return NULL;
	q = realloc(p, size);
	if (q && !p)
		__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
	return q;
}

void *tern_aligned_alloc(size_t align, size_t size)
{
	return refuse() ? NULL : counted(aligned_alloc(align, (size + align - 1) / align * align));
}

void tern_free(void *p)
{
	if (p)
		__atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
	free(p);
}

char *tern_strndup(const char *s, size_t n)
{
	return refuse() ? NULL : counted(strndup(s, n));
}

char *tern_strdup(const char *s)
{
	return refuse() ? NULL : counted(strdup(s));
}

size_t tern_alloc_allocated(void)
{
	return 0;
}

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
	return tern_topic_tree_add(t, (const uint8_t *)"x/+", 3, w, who, 1, NULL);
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
	assert_int_equal(tern_topic_tree_add(t, (const uint8_t *)"z/+", 3, 0, &a, 1, NULL),
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
