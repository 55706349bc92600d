/* SPDX-License-Identifier: MIT */
/*
 * The client id registry and the session takeover handshake across workers.
 *
 * Design: every session is in one shared lock-free hash table keyed by client
 * id. Claims (CONNECT), removals and adoptions serialise on one mutex; this is
 * the connect path, never the per-message path. A session is homed on one
 * worker; when a client id connects on another worker, the claimer marks the
 * session in transit and posts TAKEOVER to its home, which closes the old
 * connection, moves the subscriptions in the tree to the claimer's group and
 * posts ADOPT back. Messages the claimer matches between the move and the
 * adoption go to the session's queue as for an offline session (the home
 * worker stopped touching it before publishing the move), so nothing is lost
 * or duplicated. A second claim while a session is in transit waits and retries.
 */
#ifndef TERN_REGISTRY_H
#define TERN_REGISTRY_H

#include <stddef.h>

struct tern_broker;
struct tern_conn;
struct tern_session;
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
 * Claim client id for a connection on worker w; *out gets the session (for
 * NEW, LOCAL, REMOTE). Returns the claim kind, or -ENOMEM. Worker thread, RCU online.
 */
int tern_registry_claim(struct tern_worker *w, const char *id, size_t len,
			struct tern_session **out);

/*
 * Unregister a session homed on w so it can be destroyed. Returns 0, or
 * -EBUSY if a takeover has claimed it (it must then be handed over instead).
 */
int tern_registry_remove(struct tern_worker *w, struct tern_session *s);

/* Inbox handlers: TAKEOVER (we are home: hand the session to s->dest) and ADOPT. */
void tern_registry_on_takeover(struct tern_worker *w, struct tern_session *s);
void tern_registry_on_adopt(struct tern_worker *w, struct tern_session *s);

#endif
