/* SPDX-License-Identifier: MIT */
/* Token buckets with a one-second burst (design note in ratelimit.h). */
#include "broker/ratelimit.h"

/* Past a second the bucket is full whatever the debt was, bounded by cost < 2^40. */
#define REFILL_CAP_MS (UINT64_C(1) << 20)

void tern_ratelimit_init(struct tern_ratelimit *rl, uint64_t rate, uint64_t now_ms)
{
	rl->credit = (int64_t)(rate * 1000u);
	rl->last_ms = now_ms;
}

bool tern_ratelimit_take(struct tern_ratelimit *rl, uint64_t rate, uint64_t cost, uint64_t now_ms)
{
	int64_t full = (int64_t)(rate * 1000u);

	if (rate == 0)
		return true;
	if (now_ms > rl->last_ms) {
		uint64_t elapsed = now_ms - rl->last_ms;

		if (elapsed > REFILL_CAP_MS)
			elapsed = REFILL_CAP_MS;
		rl->credit += (int64_t)(elapsed * rate);
		if (rl->credit > full)
			rl->credit = full;
		rl->last_ms = now_ms;
	}
	/* A full bucket grants even a take larger than the burst, leaving a debt. */
	if (rl->credit < (int64_t)(cost * 1000u) && rl->credit < full)
		return false;
	rl->credit -= (int64_t)(cost * 1000u);
	return true;
}
