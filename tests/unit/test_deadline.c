/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the per-worker deadline heap (broker/deadline.c): ordering,
 * moves and cancels checked against a brute-force model under a fixed-seed
 * random workload, memory given back when the heap drains, and -ENOMEM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/deadline.h"
#include "tests/unit/failalloc.h"

/* Every node sits where its index says and no child is earlier than its parent. */
static void check_heap(const struct tern_deadline_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++) {
		assert_int_equal(h->v[i]->idx, i);
		if (i > 0)
			assert_true(h->v[(i - 1) / 2]->at_ms <= h->v[i]->at_ms);
	}
}

static void test_order(void **state)
{
	struct tern_deadline_heap h;
	struct tern_deadline d[5];
	const uint64_t at[5] = {50, 10, 40, 10, 30};
	uint64_t last = 0;

	(void)state;
	tern_deadline_heap_init(&h);
	assert_null(tern_deadline_peek(&h));
	assert_null(tern_deadline_pop_due(&h, UINT64_MAX));
	for (int i = 0; i < 5; i++) {
		tern_deadline_init(&d[i]);
		assert_false(tern_deadline_queued(&d[i]));
		assert_int_equal(tern_deadline_set(&h, &d[i], at[i]), 0);
		assert_true(tern_deadline_queued(&d[i]));
	}
	assert_int_equal(tern_deadline_count(&h), 5);
	/* Nothing is due before the earliest deadline; then each comes out once, in order. */
	assert_null(tern_deadline_pop_due(&h, 9));
	assert_int_equal(tern_deadline_peek(&h)->at_ms, 10);
	for (int k = 0; k < 5; k++) {
		struct tern_deadline *x = tern_deadline_pop_due(&h, 100);

		assert_non_null(x);
		assert_false(tern_deadline_queued(x));
		assert_true(x->at_ms >= last);
		last = x->at_ms;
	}
	assert_null(tern_deadline_pop_due(&h, UINT64_MAX));
	assert_int_equal(h.cap, 0); /* drained: the array is gone */
	tern_deadline_heap_fini(&h);
}

static void test_move_and_cancel(void **state)
{
	struct tern_deadline_heap h;
	struct tern_deadline a, b, c;

	(void)state;
	tern_deadline_heap_init(&h);
	tern_deadline_init(&a);
	tern_deadline_init(&b);
	tern_deadline_init(&c);
	assert_int_equal(tern_deadline_set(&h, &a, 100), 0);
	assert_int_equal(tern_deadline_set(&h, &b, 200), 0);
	assert_int_equal(tern_deadline_set(&h, &c, 300), 0);
	/* A reconnect pushes a deadline later, a shorter will delay pulls one earlier. */
	assert_int_equal(tern_deadline_set(&h, &a, 400), 0);
	assert_int_equal(tern_deadline_set(&h, &c, 50), 0);
	assert_int_equal(tern_deadline_count(&h), 3);
	check_heap(&h);
	assert_ptr_equal(tern_deadline_pop_due(&h, 1000), &c);
	tern_deadline_cancel(&h, &b);
	assert_false(tern_deadline_queued(&b));
	tern_deadline_cancel(&h, &b); /* not queued: nothing happens */
	assert_int_equal(tern_deadline_count(&h), 1);
	assert_null(tern_deadline_pop_due(&h, 399));
	assert_ptr_equal(tern_deadline_pop_due(&h, 400), &a);
	tern_deadline_heap_fini(&h);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random sets, moves, cancels and pops against a model that scans every node. */
static void test_random_against_model(void **state)
{
	enum { N = 2000, OPS = 200000 };
	static struct tern_deadline d[N];
	static bool in[N];
	struct tern_deadline_heap h;
	uint64_t now = 0;
	uint32_t count = 0;

	(void)state;
	tern_deadline_heap_init(&h);
	for (int i = 0; i < N; i++)
		tern_deadline_init(&d[i]);
	for (int op = 0; op < OPS; op++) {
		uint32_t i = (uint32_t)(rnd() % N);

		switch (rnd() % 4) {
		case 0:
		case 1:
			count += !in[i];
			in[i] = true;
			assert_int_equal(tern_deadline_set(&h, &d[i], now + rnd() % 5000), 0);
			break;
		case 2:
			count -= in[i];
			in[i] = false;
			tern_deadline_cancel(&h, &d[i]);
			break;
		default: {
			uint64_t min = UINT64_MAX;
			struct tern_deadline *x;

			now += rnd() % 200;
			for (int k = 0; k < N; k++)
				if (in[k] && d[k].at_ms < min)
					min = d[k].at_ms;
			x = tern_deadline_pop_due(&h, now);
			if (min > now) {
				assert_null(x);
			} else {
				assert_non_null(x);
				assert_int_equal(x->at_ms, min);
				in[x - d] = false;
				count--;
			}
		}
		}
		assert_int_equal(tern_deadline_count(&h), count);
		if (op % 1000 == 0)
			check_heap(&h);
	}
	check_heap(&h);
	for (int i = 0; i < N; i++)
		tern_deadline_cancel(&h, &d[i]);
	assert_int_equal(tern_deadline_count(&h), 0);
	assert_int_equal(live, 0); /* the array went back when the heap drained */
	tern_deadline_heap_fini(&h);
}

static void test_enomem(void **state)
{
	struct tern_deadline_heap h;
	struct tern_deadline d[17];

	(void)state;
	tern_deadline_heap_init(&h);
	for (int i = 0; i < 17; i++)
		tern_deadline_init(&d[i]);
	failing = true;
	assert_int_equal(tern_deadline_set(&h, &d[0], 1), -ENOMEM);
	failing = false;
	assert_false(tern_deadline_queued(&d[0]));
	for (int i = 0; i < 16; i++)
		assert_int_equal(tern_deadline_set(&h, &d[i], (uint64_t)(100 - i)), 0);
	/* Full at 16: growing fails, the node stays out and the heap intact. */
	failing = true;
	assert_int_equal(tern_deadline_set(&h, &d[16], 0), -ENOMEM);
	/* Moving a queued node needs no memory. */
	assert_int_equal(tern_deadline_set(&h, &d[0], 0), 0);
	failing = false;
	assert_false(tern_deadline_queued(&d[16]));
	assert_int_equal(tern_deadline_count(&h), 16);
	check_heap(&h);
	assert_ptr_equal(tern_deadline_pop_due(&h, 0), &d[0]);
	tern_deadline_heap_fini(&h);
	assert_int_equal(live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_move_and_cancel),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_enomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
