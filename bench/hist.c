/* SPDX-License-Identifier: MIT */
/*
 * Log-linear histogram for tern-bench latencies.
 *
 * Design: values below 2 * SUB (256) get a bucket each. Above that, every power of two
 * [2^m, 2^(m+1)) is cut into SUB equal sub-buckets of width 2^(m - SUB_BITS), so a
 * bucket is never wider than 1/SUB of the values it holds: the percentiles are exact to
 * within 0.8%, like HdrHistogram with two significant digits. Recording is a clz, a
 * shift and an increment; a histogram is 35 KB and merging is element-wise addition.
 */
#include <stdint.h>
#include <string.h>

#include "bench/hist.h"

unsigned tb_hist_bucket_index(uint64_t v)
{
	if (v < 2 * TB_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb >= TB_HIST_MAX_BITS)
		return TB_HIST_BUCKETS - 1;
	unsigned shift = msb - TB_HIST_SUB_BITS; /* >= 1 here */
	unsigned sub = (unsigned)(v >> shift) - TB_HIST_SUB;
	return 2 * TB_HIST_SUB + (shift - 1) * TB_HIST_SUB + sub;
}

uint64_t tb_hist_bucket_high(unsigned i)
{
	if (i < 2 * TB_HIST_SUB)
		return i;
	unsigned shift = (i - 2 * TB_HIST_SUB) / TB_HIST_SUB + 1;
	uint64_t sub = (i - 2 * TB_HIST_SUB) % TB_HIST_SUB + TB_HIST_SUB;
	return ((sub + 1) << shift) - 1;
}

void tb_hist_reset(struct tb_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void tb_hist_record(struct tb_hist *h, uint64_t v)
{
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->buckets[tb_hist_bucket_index(v)]++;
}

void tb_hist_merge(struct tb_hist *dst, const struct tb_hist *src)
{
	if (src->count == 0)
		return;
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	for (unsigned i = 0; i < TB_HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

uint64_t tb_hist_percentile(const struct tb_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q <= 0.0)
		return h->min;
	if (q >= 1.0)
		return h->max;
	/* The rank of the value asked for, 1-based: ceil(q * count). */
	double r = q * (double)h->count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < TB_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			if (i == TB_HIST_BUCKETS - 1)
				return h->max; /* the top bucket holds everything above 2^40 */
			uint64_t v = tb_hist_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double tb_hist_mean(const struct tb_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
