/* SPDX-License-Identifier: MIT */
/*
 * Shared subscriptions ($share/GROUP/FILTER, MQTT 5.0 section 4.8.2; also for
 * 3.1.1 clients): each message matching FILTER goes to one member of GROUP.
 *
 * Design: a group is one entry in the subscription tree, in the tree group of
 * its owner worker (the worker of its first member), whose subscriber is the
 * group itself. Only the owner's walk sees it, so each publish picks once: the
 * owner takes the next member round robin from an RCU-published member array
 * and delivers locally, or posts the delivery to the member's home worker.
 * Members join and leave under one broker-wide mutex (SUBSCRIBE and session
 * end are rare next to publishes). A group is freed after its last member
 * left, its tree entry is gone, no inbox item refers to it and a grace period
 * passed. Messages a member had in flight when its session ended go back to
 * the group for another member.
 */
#ifndef TERN_SHARE_H
#define TERN_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tern_broker;
struct tern_msg;
struct tern_session;
struct tern_share_group;
struct tern_sub;
struct tern_worker;

/* The internal tree options bit that marks an entry as a share group (never on the wire). */
#define TERN_SUBOPT_SHARED 0x40

/*
 * Split a "$share/GROUP/FILTER" filter. Returns 1 and sets filter (inside f)
 * for a valid shared subscription, 0 for a filter that is not one, -EINVAL
 * for a malformed one (empty or wildcard group name, no filter)
 * [MQTT-4.8.2-1], [MQTT-4.8.2-2]. Thread-safe.
 */
int tern_share_parse(const uint8_t *f, size_t len, const uint8_t **filter, size_t *filter_len);

/* Set up and tear down the broker's group table. Main thread. */
int tern_share_init(struct tern_broker *b);
void tern_share_fini(struct tern_broker *b);

/*
 * Session s (homed on w) joins the group of shared filter f (validated by
 * tern_share_parse), with its options byte and subscription identifier, or
 * updates them. *existed tells whether it was a member. Returns 0, -ENOMEM.
 * Home worker only.
 */
int tern_share_join(struct tern_worker *w, struct tern_session *s, const uint8_t *f, size_t len,
		    uint8_t options, uint32_t sub_id, bool *existed);

/* Session s leaves the group of f. Returns 0 or -ENOENT. Home worker only. */
int tern_share_leave(struct tern_worker *w, struct tern_session *s, const uint8_t *f, size_t len);

/*
 * A tree walk on w (the owner) matched group entry sub: pick a member and
 * deliver msg to it, here or through its home worker's inbox. Call after the
 * walk (not from inside the match callback). Worker thread, RCU online.
 */
void tern_share_deliver(struct tern_worker *w, struct tern_share_group *g, struct tern_msg *msg);

/*
 * Give msg back to group g for another member (its member's session ended
 * with the message unacknowledged). Takes over one group reference. Any worker.
 */
void tern_share_requeue(struct tern_worker *w, struct tern_share_group *g, struct tern_msg *msg);

/* A delivery posted to w for member uid of g (inbox SHARE item): deliver or pass on. */
void tern_share_on_deliver(struct tern_worker *w, struct tern_share_group *g, uint64_t uid,
			   struct tern_msg *msg, uint8_t hops);

/* Take and drop a reference on g (deliveries that keep the group to requeue). */
void tern_share_ref(struct tern_share_group *g);
void tern_share_unref(struct tern_share_group *g);

#endif
