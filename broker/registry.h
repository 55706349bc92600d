/* SPDX-License-Identifier: MIT */
/*
 * The client id registry and the session takeover handshake across workers.
 *
 * Design: every session is in one shared lock-free hash table keyed by client
 * id. Claims (CONNECT), removals and adoptions serialise on one mutex; this is
 * the connect path, never the per-message path.
 *
 * A session is homed on one worker. When its client id connects on worker A
 * while it lives on worker B, A marks it in transit and posts TAKEOVER to B.
 * B closes the old connection and hands the subscriptions over in the tree
 * under a new tree generation G: each gets an entry in A's group valid from G
 * and its entry in B's group is valid before G. Every publish reads the
 * generation before its tree walk and carries it to the other workers, so
 * each message is delivered by exactly one of B and A: B for older messages
 * (into the session's queue, which B still owns), A for the rest, which A
 * stashes until the session arrives. After one RCU grace period no walk
 * older than G is in progress and their inbox items are already queued ahead
 * of B's DEPART item; B then removes its entries and posts ADOPT to A. A
 * second claim while a session is in transit waits and retries.
 */
#ifndef TERN_REGISTRY_H
#define TERN_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tern_broker;
struct tern_conn;
struct tern_msg;
struct tern_session;
struct tern_via;
struct tern_worker;

enum tern_claim {
	TERN_CLAIM_NEW,	   /* no session existed: a new one, homed here, was registered */
	TERN_CLAIM_LOCAL,  /* the session exists and is homed here */
	TERN_CLAIM_REMOTE, /* homed elsewhere: TAKEOVER posted; ADOPT will follow */
	TERN_CLAIM_BUSY,   /* in transit for another claim: retry later */
};

/* Create/destroy the registry table of b. Main thread. */
int tern_registry_init(struct tern_broker *b);
void tern_registry_fini(struct tern_broker *b);

/*
 * Claim client id for connection c on worker w; *out gets the session (for
 * NEW, LOCAL, REMOTE). For REMOTE, c->arrival records the wait. Returns the
 * claim kind, or -ENOMEM. Worker thread, RCU online.
 */
int tern_registry_claim(struct tern_worker *w, struct tern_conn *c, const char *id, size_t len,
			struct tern_session **out);

/*
 * Unregister a session homed on w so it can be destroyed. Returns 0, or
 * -EBUSY if a takeover has claimed it (it must then be handed over instead).
 */
int tern_registry_remove(struct tern_worker *w, struct tern_session *s);

/* Inbox handlers on the old home (TAKEOVER, DEPART) and the new one (ADOPT). */
void tern_registry_on_takeover(struct tern_worker *w, struct tern_session *s);
void tern_registry_on_depart(struct tern_worker *w, struct tern_session *s);
void tern_registry_on_adopt(struct tern_worker *w, struct tern_session *s);

/*
 * Keep a delivery for session s, matched on w before s arrived here; it is
 * delivered on adoption. Owning worker of the arrival.
 */
void tern_registry_stash(struct tern_worker *w, struct tern_session *s, struct tern_msg *msg,
			 uint8_t qos, bool retain, const struct tern_via *ids);

/*
 * The de-duplication scratch of session s in transit to w (its home worker
 * still uses the session's own), or NULL if w does not expect s.
 */
struct tern_match_scratch *tern_registry_arrival_scratch(struct tern_worker *w,
							 struct tern_session *s);

/* The connection waiting for a session went away; the session still arrives. */
void tern_registry_abandon(struct tern_conn *c);

/*
 * Release the arrivals left on w at shutdown: their stashed messages and
 * waiting connections. Each record is freed with its session
 * (tern_registry_transit_abort). Owning worker or main after it stopped.
 */
void tern_registry_arrivals_free(struct tern_worker *w);

/*
 * Every worker stopped and their inboxes were drained: a takeover of s in
 * flight will never finish. Clear in_transit and free its arrival record, so
 * that s can be destroyed. Main thread, after the workers stopped.
 */
void tern_registry_transit_abort(struct tern_session *s);

#endif
