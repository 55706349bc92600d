/* SPDX-License-Identifier: MIT */
/* Token bucket tests: burst of one second's worth, steady refill, debt, unlimited, clock edge
 * cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker/ratelimit.h"

/* Grants in a row at one instant. */
static unsigned burst(struct tern_ratelimit *rl, uint64_t rate, uint64_t cost, uint64_t now)
{
	unsigned n = 0;

	while (n < 1000000 && tern_ratelimit_take(rl, rate, cost, now))
		n++;
	return n;
}

static void test_burst_is_one_second(void **state)
{
	struct tern_ratelimit rl;

	(void)state;
	tern_ratelimit_init(&rl, 10, 5000);
	assert_int_equal(burst(&rl, 10, 1, 5000), 10);
	/* Refused takes take nothing: still refused, still no debt. */
	assert_false(tern_ratelimit_take(&rl, 10, 1, 5000));
	assert_int_equal(rl.credit, 0);
}

static void test_steady_refill(void **state)
{
	struct tern_ratelimit rl;
	unsigned granted = 0;

	(void)state;
	tern_ratelimit_init(&rl, 100, 0);
	assert_int_equal(burst(&rl, 100, 1, 0), 100);
	/* 10 s offered at one take per millisecond: 100 a second get through. */
	for (uint64_t t = 1; t <= 10000; t++)
		granted += tern_ratelimit_take(&rl, 100, 1, t);
	assert_int_equal(granted, 1000);
	/* 10 ms refill exactly one unit at 100/s. */
	assert_false(tern_ratelimit_take(&rl, 100, 1, 10009));
	assert_true(tern_ratelimit_take(&rl, 100, 1, 10010));
}

static void test_full_after_idle(void **state)
{
	struct tern_ratelimit rl;

	(void)state;
	tern_ratelimit_init(&rl, 50, 0);
	assert_int_equal(burst(&rl, 50, 1, 0), 50);
	/* A long idle time refills one burst, never more. */
	assert_int_equal(burst(&rl, 50, 1, 3600 * 1000), 50);
}

static void test_bytes_debt(void **state)
{
	struct tern_ratelimit rl;

	(void)state;
	/* 1000 bytes/s: a 5000-byte packet passes on a full bucket, then 5 s of debt. */
	tern_ratelimit_init(&rl, 1000, 0);
	assert_true(tern_ratelimit_take(&rl, 1000, 5000, 0));
	assert_false(tern_ratelimit_take(&rl, 1000, 1, 3999));
	assert_false(tern_ratelimit_take(&rl, 1000, 1, 4000)); /* back to zero: still none */
	assert_true(tern_ratelimit_take(&rl, 1000, 1, 4001));
	/* Many small packets: exactly the rate over a long window, plus one burst. */
	{
		struct tern_ratelimit b;
		uint64_t bytes = 0;

		tern_ratelimit_init(&b, 1000, 0);
		for (uint64_t t = 0; t < 20000; t++)
			for (int k = 0; k < 4; k++)
				if (tern_ratelimit_take(&b, 1000, 100, t))
					bytes += 100;
		assert_true(bytes >= 20000 && bytes <= 21000 + 100);
	}
}

static void test_unlimited_and_clock(void **state)
{
	struct tern_ratelimit rl;

	(void)state;
	tern_ratelimit_init(&rl, 0, 0);
	assert_int_equal(burst(&rl, 0, 1u << 30, 0), 1000000);
	tern_ratelimit_init(&rl, 2, 1000);
	assert_int_equal(burst(&rl, 2, 1, 1000), 2);
	/* A clock going backwards neither refills nor breaks the next refill. */
	assert_false(tern_ratelimit_take(&rl, 2, 1, 10));
	assert_false(tern_ratelimit_take(&rl, 2, 1, 1499));
	assert_true(tern_ratelimit_take(&rl, 2, 1, 1500));
	/* The largest rate does not overflow. */
	tern_ratelimit_init(&rl, TERN_RATELIMIT_MAX_RATE, 0);
	assert_true(tern_ratelimit_take(&rl, TERN_RATELIMIT_MAX_RATE, (UINT64_C(1) << 40) - 1,
					UINT64_MAX / 2));
	assert_true(rl.credit > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_is_one_second), cmocka_unit_test(test_steady_refill),
	    cmocka_unit_test(test_full_after_idle),	cmocka_unit_test(test_bytes_debt),
	    cmocka_unit_test(test_unlimited_and_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
