/* SPDX-License-Identifier: MIT */
/*
 * Subscription index tests: random subscribe/unsubscribe sequences (dense
 * array, remove = move the last entry into the hole, as the session does)
 * checked against a brute-force search after every step.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/alloc.h"
#include "broker/subindex.h"

#define UNIVERSE 3000 /* distinct filters the random walk draws from */

struct model {
	struct tern_session_sub *subs;
	uint32_t n;
	struct tern_subindex ix;
};

static void name(unsigned k, char *buf, size_t size)
{
	/* Shared prefixes and equal lengths: collisions of hash buckets are likely. */
	snprintf(buf, size, "sensors/%u/+/t%u", k % 97, k);
}

static int brute(const struct model *m, const char *f)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->subs[i].len == strlen(f) && memcmp(m->subs[i].filter, f, strlen(f)) == 0)
			return (int)i;
	return -ENOENT;
}

static void add(struct model *m, const char *f)
{
	m->subs[m->n].filter = tern_strdup(f);
	m->subs[m->n].len = (uint16_t)strlen(f);
	assert_int_equal(tern_subindex_insert(&m->ix, m->subs, m->n), 0);
	m->n++;
}

static void del(struct model *m, int pos)
{
	uint32_t last;

	tern_subindex_remove(&m->ix, m->subs, (uint32_t)pos);
	tern_free(m->subs[pos].filter);
	last = --m->n;
	if ((uint32_t)pos != last) {
		m->subs[pos] = m->subs[last];
		tern_subindex_moved(&m->ix, m->subs, last, (uint32_t)pos);
	}
}

static void check_all(const struct model *m)
{
	char f[64];

	for (unsigned k = 0; k < UNIVERSE; k++) {
		name(k, f, sizeof(f));
		assert_int_equal(tern_subindex_find(&m->ix, m->subs, (const uint8_t *)f, strlen(f)),
				 brute(m, f));
	}
	assert_int_equal(m->ix.used, m->n);
}

static void test_random_walk(void **state)
{
	struct model m = {0};
	char f[64];

	(void)state;
	m.subs = calloc(UNIVERSE, sizeof(*m.subs));
	assert_non_null(m.subs);
	srand(12345);
	for (int step = 0; step < 40000; step++) {
		unsigned k = (unsigned)rand() % UNIVERSE;
		int pos;

		name(k, f, sizeof(f));
		pos = tern_subindex_find(&m.ix, m.subs, (const uint8_t *)f, strlen(f));
		assert_int_equal(pos, brute(&m, f));
		/* Grow to about two thirds of the universe, then shrink, then grow again. */
		if (pos < 0 && (step / 10000) % 2 == 0)
			add(&m, f);
		else if (pos >= 0 && ((step / 10000) % 2 == 1 || rand() % 3 == 0))
			del(&m, pos);
		if (step % 2000 == 0)
			check_all(&m);
	}
	check_all(&m);
	while (m.n)
		del(&m, (int)(m.n / 2));
	check_all(&m);
	tern_subindex_clear(&m.ix);
	assert_null(m.ix.slots);
	assert_int_equal(tern_subindex_find(&m.ix, m.subs, (const uint8_t *)"x", 1), -ENOENT);
	free(m.subs);
}

static void test_empty_and_prefixes(void **state)
{
	struct model m = {0};

	(void)state;
	m.subs = calloc(8, sizeof(*m.subs));
	assert_non_null(m.subs);
	assert_int_equal(tern_subindex_find(&m.ix, m.subs, (const uint8_t *)"a", 1), -ENOENT);
	add(&m, "a/b");
	add(&m, "a/b/c");
	add(&m, "#");
	/* A prefix or an extension of a filter is another filter. */
	assert_int_equal(tern_subindex_find(&m.ix, m.subs, (const uint8_t *)"a/", 2), -ENOENT);
	assert_int_equal(tern_subindex_find(&m.ix, m.subs, (const uint8_t *)"a/b/c", 5), 1);
	del(&m, 0); /* "#" moves to position 0 */
	assert_int_equal(tern_subindex_find(&m.ix, m.subs, (const uint8_t *)"#", 1), 0);
	assert_int_equal(tern_subindex_find(&m.ix, m.subs, (const uint8_t *)"a/b", 3), -ENOENT);
	while (m.n)
		del(&m, 0);
	tern_subindex_clear(&m.ix);
	free(m.subs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_walk),
	    cmocka_unit_test(test_empty_and_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
