/* SPDX-License-Identifier: MIT */
/*
 * tern-bench latency histogram: HDR-style log-linear buckets over uint64 values
 * (nanoseconds here) with a fixed relative error of at most 1/128, constant-time
 * recording, mergeable across threads, and exact min, max and mean.
 */
#ifndef TB_HIST_H
#define TB_HIST_H

#include <stdint.h>

/* Sub-buckets per power of two: 2^7 gives a relative bucket width below 0.8%. */
#define TB_HIST_SUB_BITS 7
#define TB_HIST_SUB	 (1u << TB_HIST_SUB_BITS)
/* Largest value with its own bucket: 2^40 ns is about 18 minutes; larger values clamp. */
#define TB_HIST_MAX_BITS 40
#define TB_HIST_BUCKETS	 (2 * TB_HIST_SUB + (TB_HIST_MAX_BITS - TB_HIST_SUB_BITS - 1) * TB_HIST_SUB)

/* One histogram; owned by one thread while recording, merged by one thread afterwards. */
struct tb_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint64_t sum; /* for the mean; 2^64 ns is 584 years of summed latency */
	uint64_t buckets[TB_HIST_BUCKETS];
};

/*
 * tb_hist_reset - empty the histogram. Never fails. Not thread-safe.
 */
void tb_hist_reset(struct tb_hist *h);

/*
 * tb_hist_record - count one value (values above 2^40 fall into the top bucket; min
 * and max stay exact). Never fails. Owning thread only.
 */
void tb_hist_record(struct tb_hist *h, uint64_t v);

/*
 * tb_hist_merge - add every count of src into dst. Never fails. The caller makes sure
 * no thread records into either histogram meanwhile.
 */
void tb_hist_merge(struct tb_hist *dst, const struct tb_hist *src);

/*
 * tb_hist_percentile - the value at quantile q (0.0 <= q <= 1.0): the highest value
 * equivalent to the bucket that holds the ceil(q * count)-th smallest value, clamped to
 * [min, max]; q = 1.0 gives the exact max, q = 0.0 the exact min. Returns 0 for an
 * empty histogram. Read-only; safe while no thread records.
 */
uint64_t tb_hist_percentile(const struct tb_hist *h, double q);

/*
 * tb_hist_mean - the exact mean of the recorded values, 0 for an empty histogram.
 */
double tb_hist_mean(const struct tb_hist *h);

/*
 * tb_hist_bucket_index / tb_hist_bucket_high - the bucket that holds v, and the highest
 * value that falls into bucket i. Exposed for the unit test of the bucket layout.
 */
unsigned tb_hist_bucket_index(uint64_t v);
uint64_t tb_hist_bucket_high(unsigned i);

#endif
