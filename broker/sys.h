/* SPDX-License-Identifier: MIT */
/* $SYS topics: broker statistics published as retained messages every sys_interval. */
#ifndef TERN_SYS_H
#define TERN_SYS_H

#include <stdint.h>

struct tern_broker;
struct tern_worker;

/* Publish the $SYS tree now (sums every worker's counters). Worker 0's thread. */
void tern_sys_publish(struct tern_worker *w);

/* Publish topic (a full "$SYS/..." name) with value as decimal text, retained. */
typedef void (*tern_sys_emit_fn)(struct tern_worker *w, const char *topic, uint64_t value);

/*
 * A dataplane's own $SYS topics (the engine knows nothing of its counters):
 * called at the end of every $SYS publication on worker 0's thread, it calls
 * emit(w, topic, value) once per topic.
 */
typedef void (*tern_sys_source_fn)(void *ctx, struct tern_worker *w, tern_sys_emit_fn emit);

/*
 * Make fn (with ctx) b's dataplane source of $SYS topics; NULL removes it.
 * Main thread, before the workers start or after they stopped; ctx must stay
 * valid while they run. No errors.
 */
void tern_sys_set_source(struct tern_broker *b, tern_sys_source_fn fn, void *ctx);

#endif
