/* SPDX-License-Identifier: MIT */
/*
 * Hashed timer wheel: each timer hangs in slot (expire_tick mod SLOTS) of an
 * intrusive doubly linked list; a run visits each slot between the last tick
 * and now once (all slots at most) and fires the entries that are due.
 */
#include <string.h>

#include "dataplane/net/tcp_timer.h"

#define SLOT_MASK (DP_TIMER_SLOTS - 1)

static void slot_mark(struct dp_timer_wheel *w, uint64_t idx, bool busy)
{
	uint64_t bit = 1ull << (idx & 63);

	if (busy)
		w->busy[idx >> 6] |= bit;
	else
		w->busy[idx >> 6] &= ~bit;
}

void dp_timer_wheel_init(struct dp_timer_wheel *w, uint64_t now_us)
{
	memset(w, 0, sizeof(*w));
	w->tick = now_us / DP_TIMER_TICK_US;
}

static void unlink_timer(struct dp_timer_wheel *w, struct dp_timer *t)
{
	uint64_t idx = t->expire_tick & SLOT_MASK;

	*t->pprev = t->next;
	if (t->next != NULL)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
	w->armed--;
	if (w->slot[idx] == NULL)
		slot_mark(w, idx, false);
}

static void push(struct dp_timer **head, struct dp_timer *t)
{
	t->next = *head;
	if (t->next != NULL)
		t->next->pprev = &t->next;
	*head = t;
	t->pprev = head;
}

void dp_timer_cancel(struct dp_timer_wheel *w, struct dp_timer *t)
{
	if (t->pprev == NULL)
		return;
	if (t->due) {
		/* Collected by a running dp_timer_wheel_run: just take it off that list. */
		*t->pprev = t->next;
		if (t->next != NULL)
			t->next->pprev = t->pprev;
		t->next = NULL;
		t->pprev = NULL;
		t->due = false;
		return;
	}
	unlink_timer(w, t);
}

void dp_timer_arm(struct dp_timer_wheel *w, struct dp_timer *t, uint64_t expire_us)
{
	/* Round up so a timer never fires before its time. */
	uint64_t tick = (expire_us + DP_TIMER_TICK_US - 1) / DP_TIMER_TICK_US;
	uint64_t idx;

	dp_timer_cancel(w, t);
	if (tick <= w->tick)
		tick = w->tick + 1;
	t->expire_tick = tick;
	idx = tick & SLOT_MASK;
	push(&w->slot[idx], t);
	w->armed++;
	slot_mark(w, idx, true);
}

unsigned int dp_timer_wheel_run(struct dp_timer_wheel *w, uint64_t now_us, dp_timer_fn fn,
				void *arg)
{
	uint64_t now_tick = now_us / DP_TIMER_TICK_US;
	unsigned int fired = 0;
	uint64_t steps, i;

	if (now_tick <= w->tick)
		return 0;
	steps = now_tick - w->tick;
	if (steps > DP_TIMER_SLOTS)
		steps = DP_TIMER_SLOTS;
	/*
	 * Collect first, fire afterwards: a callback re-arming its timer for a
	 * slot not yet visited must not fire twice in one run. Collected timers
	 * stay cancellable, since a callback may free another timer's owner.
	 */
	w->due = NULL;
	for (i = 1; i <= steps && w->armed > 0; i++) {
		uint64_t idx = (w->tick + i) & SLOT_MASK;
		struct dp_timer *t = w->slot[idx];

		while (t != NULL) {
			struct dp_timer *next = t->next;

			if (t->expire_tick <= now_tick) {
				unlink_timer(w, t);
				push(&w->due, t);
				t->due = true;
			}
			t = next;
		}
	}
	w->tick = now_tick;
	while (w->due != NULL) {
		struct dp_timer *t = w->due;

		w->due = t->next;
		if (w->due != NULL)
			w->due->pprev = &w->due;
		t->next = NULL;
		t->pprev = NULL;
		t->due = false;
		fired++;
		fn(t, arg);
	}
	return fired;
}

uint64_t dp_timer_wheel_next(const struct dp_timer_wheel *w, uint64_t now_us)
{
	uint64_t start = (w->tick + 1) & SLOT_MASK;
	uint64_t d, target_us;

	if (w->armed == 0)
		return DP_TIMER_NONE;
	for (d = 0; d < DP_TIMER_SLOTS;) {
		uint64_t idx = (start + d) & SLOT_MASK;
		uint64_t word = w->busy[idx >> 6] >> (idx & 63);

		if (word != 0) {
			d += (uint64_t)__builtin_ctzll(word);
			if (d >= DP_TIMER_SLOTS)
				break;
			target_us = (w->tick + 1 + d) * DP_TIMER_TICK_US;
			return target_us > now_us ? target_us - now_us : 0;
		}
		d += 64 - (idx & 63);
	}
	return DP_TIMER_NONE;
}
