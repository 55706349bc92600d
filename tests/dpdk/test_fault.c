/* SPDX-License-Identifier: MIT */
/*
 * Fault layer tests: the same seed gives the same faults, the rates are
 * close to what was asked, reordering and duplication really happen, and no
 * frame is leaked or freed twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>

#include "dataplane/net/fault.h"
#include "tests/dpdk/eal_test.h"

#define FRAMES 10000
#define BURST  32

static struct rte_mempool *pool;

/* Runs FRAMES numbered frames through f; writes the sequence numbers that came out. */
static unsigned run(struct dp_fault *f, uint32_t *seen, unsigned cap)
{
	struct rte_mbuf *in[BURST], *out[2 * BURST + 1];
	unsigned n_seen = 0;

	for (uint32_t next = 0; next < FRAMES + 2 * BURST;) {
		uint16_t n = 0, k;

		while (n < BURST && next < FRAMES) {
			in[n] = rte_pktmbuf_alloc(pool);
			assert_non_null(in[n]);
			memcpy(rte_pktmbuf_append(in[n], sizeof(next)), &next, sizeof(next));
			n++;
			next++;
		}
		if (n == 0)
			next += BURST; /* empty calls flush a held frame */
		k = dp_fault_apply(f, in, n, out);
		for (uint16_t i = 0; i < k; i++) {
			assert_true(n_seen < cap);
			memcpy(&seen[n_seen++], rte_pktmbuf_mtod(out[i], void *), sizeof(uint32_t));
			rte_pktmbuf_free(out[i]);
		}
	}
	return n_seen;
}

static void test_no_faults_in_order(void **state)
{
	static uint32_t seen[2 * FRAMES];
	struct dp_fault f;
	struct dp_fault_config cfg = {.seed = 1};

	(void)state;
	assert_int_equal(dp_fault_init(&f, &cfg, pool), 0);
	assert_int_equal(run(&f, seen, 2 * FRAMES), FRAMES);
	for (uint32_t i = 0; i < FRAMES; i++)
		assert_int_equal(seen[i], i);
	dp_fault_fini(&f);
	assert_int_equal(rte_mempool_avail_count(pool), EAL_TEST_POOL_SIZE);
}

static void test_rates_and_replay(void **state)
{
	static uint32_t a[2 * FRAMES], b[2 * FRAMES];
	static uint8_t count[FRAMES];
	struct dp_fault f;
	struct dp_fault_config cfg = {
	    .seed = 42, .drop_ppm = 50000, .dup_ppm = 20000, .reorder_ppm = 30000};
	unsigned na, nb, out_of_order = 0, dups = 0, lost = 0;

	(void)state;
	assert_int_equal(dp_fault_init(&f, &cfg, pool), 0);
	na = run(&f, a, 2 * FRAMES);
	/* About 5% dropped, 2% duplicated, 3% held back: wide bounds, fixed seed. */
	assert_in_range(f.dropped, 350, 650);
	assert_in_range(f.duplicated, 100, 300);
	assert_in_range(f.reordered, 150, 450);
	assert_int_equal(na, FRAMES - f.dropped + f.duplicated);
	for (unsigned i = 0; i < na; i++) {
		count[a[i]]++;
		if (i > 0 && a[i] < a[i - 1])
			out_of_order++;
	}
	for (unsigned i = 0; i < FRAMES; i++) {
		if (count[i] == 0)
			lost++;
		if (count[i] == 2)
			dups++;
		assert_true(count[i] <= 2);
	}
	assert_int_equal(lost, f.dropped);
	assert_int_equal(dups, f.duplicated);
	assert_true(out_of_order >= f.reordered / 2);
	dp_fault_fini(&f);

	assert_int_equal(dp_fault_init(&f, &cfg, pool), 0);
	nb = run(&f, b, 2 * FRAMES);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(a[0]));
	dp_fault_fini(&f);

	cfg.seed = 43;
	assert_int_equal(dp_fault_init(&f, &cfg, pool), 0);
	nb = run(&f, b, 2 * FRAMES);
	assert_true(na != nb || memcmp(a, b, na * sizeof(a[0])) != 0);
	dp_fault_fini(&f);
	assert_int_equal(rte_mempool_avail_count(pool), EAL_TEST_POOL_SIZE);
}

static void test_drop_all_and_bad_config(void **state)
{
	static uint32_t seen[2 * FRAMES];
	struct dp_fault f;
	struct dp_fault_config cfg = {.seed = 7, .drop_ppm = DP_FAULT_PPM};

	(void)state;
	assert_int_equal(dp_fault_init(&f, &cfg, pool), 0);
	assert_int_equal(run(&f, seen, 2 * FRAMES), 0);
	assert_int_equal(f.dropped, FRAMES);
	cfg.drop_ppm = DP_FAULT_PPM + 1;
	assert_int_equal(dp_fault_init(&f, &cfg, pool), -EINVAL);
	cfg.drop_ppm = 0;
	cfg.dup_ppm = 1;
	assert_int_equal(dp_fault_init(&f, &cfg, NULL), -EINVAL);
	assert_int_equal(rte_mempool_avail_count(pool), EAL_TEST_POOL_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_faults_in_order),
	    cmocka_unit_test(test_rates_and_replay),
	    cmocka_unit_test(test_drop_all_and_bad_config),
	};

	pool = eal_test_setup("fault_test");
	return cmocka_run_group_tests_name("dpdk_fault", tests, NULL, NULL);
}
