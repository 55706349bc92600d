/* SPDX-License-Identifier: MIT */
/*
 * How a delivery reached a session (subscription identifiers, shared group),
 * shared by the session's queues and the worker's per-publish match records.
 */
#ifndef TERN_VIA_H
#define TERN_VIA_H

#include <stdint.h>

struct tern_share_group;

/* Most 5.0 subscription identifiers one delivery carries (overlapping subscriptions). */
#define TERN_SUB_IDS_MAX 4

/*
 * How a delivery reached the session, kept with it while it waits: its 5.0
 * subscription identifiers, and the shared subscription group it came
 * through (NULL if none), which gets it back if the session ends first. A
 * stored delivery holds a reference on the group.
 */
struct tern_via {
	uint8_t n;
	uint32_t id[TERN_SUB_IDS_MAX];
	struct tern_share_group *share;
};

#endif
