/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of bench/seqwin: in-order streams, gaps filled late, duplicates inside
 * and far behind the window, progress accounting, and a random shuffle checked against
 * an exact set of seen numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench/seqwin.h"

static void test_in_order(void **state)
{
	(void)state;
	struct tb_seqwin w = {0};
	uint64_t prog, total = 0;
	for (uint32_t s = 0; s < 5000; s++) {
		assert_int_equal(tb_seqwin_receive(&w, s, &prog), TB_SEQ_NEW);
		total += prog;
	}
	assert_int_equal(total, 5000);
	assert_int_equal(tb_seqwin_receive(&w, 4999, &prog), TB_SEQ_DUP);
	assert_int_equal(prog, 0);
}

static void test_gap_then_late(void **state)
{
	(void)state;
	struct tb_seqwin w = {0};
	uint64_t prog;
	assert_int_equal(tb_seqwin_receive(&w, 0, &prog), TB_SEQ_NEW);
	/* 1..9 skipped: progress covers them (a lost QoS 0 message must not block the window) */
	assert_int_equal(tb_seqwin_receive(&w, 10, &prog), TB_SEQ_NEW);
	assert_int_equal(prog, 10);
	assert_int_equal(tb_seqwin_receive(&w, 5, &prog), TB_SEQ_LATE);
	assert_int_equal(prog, 0);
	assert_int_equal(tb_seqwin_receive(&w, 5, &prog), TB_SEQ_DUP);
	assert_int_equal(tb_seqwin_receive(&w, 10, &prog), TB_SEQ_DUP);
	assert_int_equal(tb_seqwin_receive(&w, 0, &prog), TB_SEQ_DUP);
	/* a jump past the whole window forgets it: older numbers count as late */
	assert_int_equal(tb_seqwin_receive(&w, 10 + 3 * TB_SEQWIN_BITS, &prog), TB_SEQ_NEW);
	assert_int_equal(prog, 3 * TB_SEQWIN_BITS);
	assert_int_equal(tb_seqwin_receive(&w, 11, &prog), TB_SEQ_LATE);
	/* inside the window after the jump, skipped numbers read as not seen */
	assert_int_equal(tb_seqwin_receive(&w, 10 + 3 * TB_SEQWIN_BITS - 1, &prog), TB_SEQ_LATE);
	assert_int_equal(tb_seqwin_receive(&w, 10 + 3 * TB_SEQWIN_BITS - 1, &prog), TB_SEQ_DUP);
}

static void test_ring_reuse(void **state)
{
	(void)state;
	/* Numbers s and s + TB_SEQWIN_BITS share a bit: the second must read as new, not dup. */
	struct tb_seqwin w = {0};
	uint64_t prog;
	assert_int_equal(tb_seqwin_receive(&w, 3, &prog), TB_SEQ_NEW);
	assert_int_equal(tb_seqwin_receive(&w, 3 + TB_SEQWIN_BITS - 1, &prog), TB_SEQ_NEW);
	assert_int_equal(tb_seqwin_receive(&w, 3 + TB_SEQWIN_BITS + 1, &prog), TB_SEQ_NEW);
	/* 3 + BITS was skipped over, its bit (shared with 3) cleared */
	assert_int_equal(tb_seqwin_receive(&w, 3 + TB_SEQWIN_BITS, &prog), TB_SEQ_LATE);
}

static void test_shuffled_against_exact(void **state)
{
	(void)state;
	/* Local shuffles (displacement < 64) with 1 in 10 repeated: exact answers expected. */
	enum { N = 20000 };
	uint32_t *order = malloc(2 * N * sizeof(uint32_t));
	uint8_t *seen = calloc(N, 1);
	assert_non_null(order);
	assert_non_null(seen);
	size_t n = 0;
	for (uint32_t s = 0; s < N; s++) {
		order[n++] = s;
		if (s % 10 == 3)
			order[n++] = s;
	}
	uint64_t rng = 7;
	for (size_t i = 0; i + 1 < n; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		size_t j = i + (rng >> 33) % 64;
		if (j < n) {
			uint32_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
	}
	struct tb_seqwin w = {0};
	uint32_t highest = 0;
	uint64_t prog, total = 0, dups = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = order[i];
		enum tb_seq_kind k = tb_seqwin_receive(&w, s, &prog);
		total += prog;
		if (seen[s]) {
			assert_int_equal(k, TB_SEQ_DUP);
			dups++;
		} else if (i > 0 && s < highest) {
			assert_int_equal(k, TB_SEQ_LATE);
		} else {
			assert_int_equal(k, TB_SEQ_NEW);
		}
		seen[s] = 1;
		if (s + 1 > highest)
			highest = s + 1;
	}
	assert_int_equal(dups, N / 10);
	assert_int_equal(total, N); /* progress ends at the highest number + 1 */
	free(order);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_order),
	    cmocka_unit_test(test_gap_then_late),
	    cmocka_unit_test(test_ring_reuse),
	    cmocka_unit_test(test_shuffled_against_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
