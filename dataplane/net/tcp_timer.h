/* SPDX-License-Identifier: MIT */
/*
 * A hashed timer wheel (Varghese and Lauck, scheme 6) for one lcore: 1 ms
 * ticks, 4096 slots, O(1) arm and cancel, and a bitmap of busy slots so the
 * time to the next timer is found without walking empty slots. Timers further
 * than one revolution stay in their slot and are skipped until their round.
 */
#ifndef DP_NET_TCP_TIMER_H
#define DP_NET_TCP_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define DP_TIMER_TICK_US 1000u
#define DP_TIMER_SLOTS	 4096u
/* Returned by dp_timer_wheel_next() when no timer is armed. */
#define DP_TIMER_NONE UINT64_MAX

/* One timer, embedded in its owner. Zero-initialised means not armed. */
struct dp_timer {
	struct dp_timer *next;
	struct dp_timer **pprev; /* NULL when not armed */
	uint64_t expire_tick;
	bool due;     /* collected by a run, about to fire; still cancellable */
	uint8_t kind; /* the owner's tag: which of its timers this is */
};

/* Callback for an expired timer; it may re-arm t or free its owner. */
typedef void (*dp_timer_fn)(struct dp_timer *t, void *arg);

/* The wheel. Written and read by its owning lcore only. */
struct dp_timer_wheel {
	uint64_t tick; /* last tick processed */
	uint64_t armed;
	struct dp_timer *due; /* timers collected by the current run */
	uint64_t busy[DP_TIMER_SLOTS / 64];
	struct dp_timer *slot[DP_TIMER_SLOTS];
};

/* Empty wheel whose clock starts at now_us. Owning lcore only. */
void dp_timer_wheel_init(struct dp_timer_wheel *w, uint64_t now_us);

/*
 * Arm t to fire at the first tick at or after expire_us (never earlier),
 * re-arming it if it already is. A time in the past fires on the next run.
 * Owning lcore only.
 */
void dp_timer_arm(struct dp_timer_wheel *w, struct dp_timer *t, uint64_t expire_us);

/* Disarm t; harmless when it is not armed. Owning lcore only. */
void dp_timer_cancel(struct dp_timer_wheel *w, struct dp_timer *t);

static inline bool dp_timer_armed(const struct dp_timer *t)
{
	return t->pprev != NULL;
}

/*
 * Advance the wheel to now_us and call fn(t, arg) for every timer due by then,
 * each disarmed before its call. Returns the number fired. Owning lcore only.
 */
unsigned int dp_timer_wheel_run(struct dp_timer_wheel *w, uint64_t now_us, dp_timer_fn fn,
				void *arg);

/*
 * Microseconds from now_us until the next busy slot: never later than the
 * next timer (a slot may hold only timers of a later revolution, then the
 * caller just wakes early). DP_TIMER_NONE when nothing is armed. Owning lcore only.
 */
uint64_t dp_timer_wheel_next(const struct dp_timer_wheel *w, uint64_t now_us);

#endif
