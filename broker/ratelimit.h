/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for the broker's rate limits (new connections per listener,
 * PUBLISH messages and bytes per client): a burst of one second's worth, then
 * `rate` units a second. The rate is not stored in the bucket (it comes from
 * the config), so a bucket is 16 bytes and lives inline in each connection.
 *
 * Credit is kept in thousandths of a unit, refilled by elapsed milliseconds
 * times rate, so integer arithmetic is exact at any rate. A take is granted
 * when the credit covers it; one larger than a whole second's worth passes on
 * a full bucket and leaves a debt repaid before the next grant, so no client
 * is locked out for ever by one big packet, and over any window the units
 * granted stay within rate x seconds plus one burst and one take.
 */
#ifndef TERN_RATELIMIT_H
#define TERN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Largest rate accepted (units a second): keeps every product below 2^63. */
#define TERN_RATELIMIT_MAX_RATE (UINT64_C(1) << 40)

/* Who reads and writes a bucket is its owner's business: a connection's are its worker's. */
struct tern_ratelimit {
	int64_t credit;	  /* thousandths of a unit; may be negative (debt) */
	uint64_t last_ms; /* time of the last refill */
};

/* A full bucket at now_ms. rate 0 means unlimited (the bucket is never consulted). */
void tern_ratelimit_init(struct tern_ratelimit *rl, uint64_t rate, uint64_t now_ms);

/*
 * Refill for the time passed since the last call, then grant cost units when
 * the credit covers them or the bucket is full (true), or refuse (false,
 * nothing taken). rate 0 always grants.
 * rate must be at most TERN_RATELIMIT_MAX_RATE and cost below 2^40. A clock
 * that goes backwards refills nothing. Not thread-safe: one owner per bucket.
 */
bool tern_ratelimit_take(struct tern_ratelimit *rl, uint64_t rate, uint64_t cost, uint64_t now_ms);

#endif
