/* SPDX-License-Identifier: MIT */
/*
 * Routing a published message: the retained store, the subscription tree
 * lookup, local delivery, and a message reference for each other worker with
 * matches (batched per worker and loop turn, outbox.h).
 */
#ifndef TERN_ROUTE_H
#define TERN_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

struct tern_msg;
struct tern_worker;

/*
 * Publish msg (the caller keeps its reference): store it if it is retained,
 * deliver to w's matching sessions, post it to every other worker with
 * matching subscriptions. Returns whether any subscription matched (5.0's
 * "no matching subscribers" acknowledgement). Worker thread, RCU online.
 */
bool tern_route_publish(struct tern_worker *w, struct tern_msg *msg);

/*
 * Deliver msg to w's own matching sessions only (an inbox PUBLISH), as the
 * tree was at generation gen (see registry.h).
 */
void tern_route_deliver_local(struct tern_worker *w, struct tern_msg *msg, uint64_t gen);

#endif
