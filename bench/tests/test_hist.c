/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of bench/hist: the bucket layout and the percentiles of known
 * distributions (constant, uniform, exponential, bimodal) against exact sorted values.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench/hist.h"

/* Relative error the layout promises: one sub-bucket of 128 per power of two. */
#define REL_ERR (1.0 / TB_HIST_SUB)

static struct tb_hist *new_hist(void)
{
	struct tb_hist *h = malloc(sizeof(*h));
	assert_non_null(h);
	tb_hist_reset(h);
	return h;
}

/* Deterministic generator (xorshift64*), so every run checks the same values. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The exact value at quantile q of sorted v[n], with the histogram's rank rule. */
static uint64_t exact(const uint64_t *v, size_t n, double q)
{
	double r = q * (double)n;
	size_t rank = (size_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	return v[rank - 1];
}

static void check_quantiles(const struct tb_hist *h, uint64_t *v, size_t n)
{
	static const double qs[] = {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999};
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t want = exact(v, n, qs[i]);
		uint64_t got = tb_hist_percentile(h, qs[i]);
		/* Never below the true value, and at most one bucket width above. */
		assert_true(got >= want);
		assert_true((double)(got - want) <= REL_ERR * (double)want + 1.0);
	}
	assert_int_equal(tb_hist_percentile(h, 1.0), v[n - 1]);
	assert_int_equal(tb_hist_percentile(h, 0.0), v[0]);
	assert_int_equal(h->count, n);
}

static void test_layout(void **state)
{
	(void)state;
	unsigned prev = 0;
	for (uint64_t v = 0; v < (1ull << 41); v = v < 4096 ? v + 1 : v + v / 97 + 1) {
		unsigned i = tb_hist_bucket_index(v);
		assert_true(i < TB_HIST_BUCKETS);
		assert_true(i >= prev); /* monotonic */
		prev = i;
		if (v < (1ull << TB_HIST_MAX_BITS)) {
			uint64_t hi = tb_hist_bucket_high(i);
			assert_true(hi >= v);
			assert_true((double)(hi - v) <= REL_ERR * (double)v);
			/* the next value above the bucket's top is in the next bucket */
			if (i + 1 < TB_HIST_BUCKETS)
				assert_int_equal(tb_hist_bucket_index(hi + 1), i + 1);
		}
	}
	/* values past 2^40 share the top bucket */
	assert_int_equal(tb_hist_bucket_index(UINT64_MAX), TB_HIST_BUCKETS - 1);
	assert_int_equal(tb_hist_bucket_index((1ull << TB_HIST_MAX_BITS) - 1), TB_HIST_BUCKETS - 1);
}

static void test_empty_and_constant(void **state)
{
	(void)state;
	struct tb_hist *h = new_hist();
	assert_int_equal(tb_hist_percentile(h, 0.5), 0);
	assert_true(tb_hist_mean(h) == 0.0);
	for (int i = 0; i < 1000; i++)
		tb_hist_record(h, 123456);
	/* one value: every quantile is exactly it (clamped to min and max) */
	assert_int_equal(tb_hist_percentile(h, 0.5), 123456);
	assert_int_equal(tb_hist_percentile(h, 0.999), 123456);
	assert_true(tb_hist_mean(h) == 123456.0);
	free(h);
}

static void test_uniform(void **state)
{
	(void)state;
	size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	struct tb_hist *h = new_hist();
	for (size_t i = 0; i < n; i++) {
		v[i] = i + 1; /* 1 .. 100000 ns */
		tb_hist_record(h, v[i]);
	}
	/* p50 of 1..100000 is 50000 and p99 is 99000, each within 0.8% above */
	assert_true(tb_hist_percentile(h, 0.5) >= 50000 && tb_hist_percentile(h, 0.5) <= 50400);
	assert_true(tb_hist_percentile(h, 0.99) >= 99000 && tb_hist_percentile(h, 0.99) <= 99800);
	assert_true(fabs(tb_hist_mean(h) - 50000.5) < 1e-6);
	check_quantiles(h, v, n);
	free(v);
	free(h);
}

static void test_exponential_and_bimodal(void **state)
{
	(void)state;
	size_t n = 200000;
	uint64_t *v = malloc(n * sizeof(*v));
	struct tb_hist *h = new_hist();
	uint64_t s = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++) {
		double u = ((double)(rng_next(&s) >> 11) + 0.5) / 9007199254740992.0;
		v[i] = (uint64_t)(-log(u) * 50000.0); /* mean 50 us */
		tb_hist_record(h, v[i]);
	}
	check_quantiles(h, v, n);
	/* p50 of an exponential is mean * ln 2 */
	double p50 = (double)tb_hist_percentile(h, 0.5);
	assert_true(fabs(p50 - 50000.0 * log(2.0)) < 0.02 * 50000.0 * log(2.0));

	tb_hist_reset(h);
	for (size_t i = 0; i < n; i++) {
		/* 99% near 20 us, 1% near 5 ms: p99 sits at the edge, p99.9 in the slow mode */
		uint64_t r = rng_next(&s);
		v[i] = r % 100 == 0 ? 5000000 + r % 100000 : 20000 + r % 1000;
		tb_hist_record(h, v[i]);
	}
	check_quantiles(h, v, n);
	assert_true(tb_hist_percentile(h, 0.5) < 21200);
	assert_true(tb_hist_percentile(h, 0.999) > 5000000);
	free(v);
	free(h);
}

static void test_merge(void **state)
{
	(void)state;
	struct tb_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
	uint64_t s = 42;
	for (int i = 0; i < 50000; i++) {
		uint64_t x = rng_next(&s) % 10000000;
		tb_hist_record(i % 2 ? a : b, x);
		tb_hist_record(all, x);
	}
	tb_hist_merge(a, b);
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	assert_int_equal(a->sum, all->sum);
	assert_memory_equal(a->buckets, all->buckets, sizeof(a->buckets));
	/* merging an empty histogram changes nothing, merging into one copies */
	tb_hist_reset(b);
	tb_hist_merge(a, b);
	assert_int_equal(a->count, all->count);
	tb_hist_merge(b, all);
	assert_int_equal(b->min, all->min);
	assert_int_equal(tb_hist_percentile(b, 0.99), tb_hist_percentile(all, 0.99));
	free(a);
	free(b);
	free(all);
}

static void test_huge_values(void **state)
{
	(void)state;
	struct tb_hist *h = new_hist();
	tb_hist_record(h, 1);
	tb_hist_record(h, 1ull << 50);
	assert_int_equal(tb_hist_percentile(h, 1.0), 1ull << 50);
	assert_int_equal(tb_hist_percentile(h, 0.99), 1ull << 50); /* clamped to max */
	assert_int_equal(tb_hist_percentile(h, 0.5), 1);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),  cmocka_unit_test(test_empty_and_constant),
	    cmocka_unit_test(test_uniform), cmocka_unit_test(test_exponential_and_bimodal),
	    cmocka_unit_test(test_merge),   cmocka_unit_test(test_huge_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
