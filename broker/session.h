/* SPDX-License-Identifier: MIT */
/*
 * MQTT session state of one client id: subscriptions, outbound QoS 1/2
 * messages in flight and queued, inbound QoS 2 packet ids awaiting PUBREL.
 * A session is homed on one worker and touched only by that worker's thread;
 * it moves between workers only through the takeover handshake (registry.h).
 */
#ifndef TERN_SESSION_H
#define TERN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/list.h>
#include <urcu/rculfhash.h>
#include <urcu-qsbr.h>

#include "broker/deadline.h"
#include "broker/subindex.h"
#include "broker/via.h"
#include "broker/worker.h"

struct tern_arrival;
struct tern_conn;
struct tern_msg;
struct tern_share_group;
struct tern_worker;

/* Session expiry interval meaning "never" (MQTT 5.0 0xFFFFFFFF). */
#define TERN_SESSION_NEVER_EXPIRES UINT32_MAX

/*
 * Per-publish de-duplication of overlapping subscriptions (route.c). Written
 * only by the worker matching for the session: its home, or for a session in
 * transit the worker it is moving to, which uses its arrival's copy instead.
 */
struct tern_match_scratch {
	uint64_t gen;
	uint32_t idx; /* the session's entry in the worker's matched array for gen */
};

enum tern_inflight_state {
	TERN_INFLIGHT_WAIT_PUBACK,  /* QoS 1 PUBLISH sent */
	TERN_INFLIGHT_WAIT_PUBREC,  /* QoS 2 PUBLISH sent */
	TERN_INFLIGHT_WAIT_PUBCOMP, /* QoS 2 PUBREL sent; message released */
};

struct tern_inflight {
	struct tern_msg *msg; /* NULL in WAIT_PUBCOMP */
	uint16_t packet_id;
	uint8_t qos;
	uint8_t state;
	bool retain;
	struct tern_via ids;
};

/* A QoS 1/2 message waiting for an inflight slot or for the client to come back. */
struct tern_queued {
	struct tern_msg *msg;
	uint8_t qos;
	bool retain;
	struct tern_via ids;
};

/*
 * Laid out to fit jemalloc's 256-byte size class together with a client id of
 * up to 23 bytes (MQTT 3.1.1's guaranteed length): at 10,000 idle connections
 * every byte here counts (README "Memory per connection"). State that only a
 * takeover needs lives in its arrival record (registry.c), allocated before
 * the claim is made.
 */
struct tern_session {
	/* Registry (guarded by broker->registry_lock, lookups under RCU). */
	struct cds_lfht_node registry_node;
	/*
	 * worker_node is owned by the home worker and never read by RCU readers;
	 * once tern_session_destroy unlinked it, the same bytes carry the
	 * grace-period callback that frees the session.
	 */
	union {
		struct cds_list_head worker_node; /* in worker->sessions */
		struct rcu_head rcu;
	};
	uint64_t uid; /* unique for the broker's life: who published a message */
	/* Worker ids (config: at most 64 workers). */
	uint16_t home;	 /* worker that owns it; changed only by the adopting worker */
	uint16_t dest;	 /* during a takeover: the worker it moves to */
	bool in_transit; /* a takeover is moving it; no one may destroy it */
	/* Owned by the home worker. */
	bool clean;		 /* ends with its connection (3.1.1 clean session, 5.0 expiry 0) */
	uint8_t listener;	 /* of the last connection: its security domain (auth.h) */
	uint16_t client_id_len;	 /* client_id[] holds this many bytes and a NUL */
	uint16_t next_packet_id; /* home worker */
	uint32_t expiry_s; /* seconds it outlives its connection, or TERN_SESSION_NEVER_EXPIRES */
	/*
	 * In transit: the arrival record (registry.c), which also holds the
	 * takeover handshake's inbox item. Written by worker dest before it posts
	 * TAKEOVER and when it adopts; read by dest, and by the old home between
	 * TAKEOVER and DEPART.
	 */
	struct tern_arrival *arrival;

	struct tern_conn *conn; /* NULL while offline */
	char *username; /* of the last connection (ACL checks while offline too); NULL: anon */
	uint64_t offline_since_ms;
	/* A 5.0 will waiting for its delay while the session is offline (or NULL). */
	struct tern_msg *will;
	uint64_t will_at_ms;
	/* In the home worker's deadlines while offline with a will or an expiry */
	struct tern_deadline deadline;

	struct tern_session_sub *subs; /* dense; subindex maps filter -> position */
	uint32_t n_subs, cap_subs;
	struct tern_subindex subindex;

	struct tern_inflight *inflight; /* in send order; grows up to max_inflight */
	uint32_t n_inflight, alloc_inflight;

	struct tern_queued *queue; /* ring buffer */
	uint32_t q_head, q_len, q_cap;
	uint32_t n_qos2_in;
	uint64_t q_bytes;

	uint16_t *qos2_in; /* inbound QoS 2 packet ids between PUBREC and PUBREL */
	uint32_t cap_qos2_in;
	uint32_t max_inflight;

	struct tern_match_scratch match; /* home worker's (see above) */
	char client_id[];		 /* immutable; read by registry lookups under RCU */
};

/* New offline session for client id (copied), homed on worker. NULL + errno. Worker thread. */
struct tern_session *tern_session_create(struct tern_worker *w, const char *client_id, size_t len);

/*
 * Remove the session's subscriptions from the tree, drop its messages, unlink
 * it from the worker, and free it after a grace period. The caller removed it
 * from the registry. Home worker only.
 */
void tern_session_destroy(struct tern_worker *w, struct tern_session *s);

/* Forget subscriptions, queued and inflight messages (clean session start). Home worker only. */
void tern_session_reset(struct tern_worker *w, struct tern_session *s);

/*
 * Record a subscription (replacing an existing one for the same filter) in the
 * session and the tree; options is the SUBSCRIBE options byte (granted QoS in
 * bits 0-1), sub_id its 5.0 subscription identifier (0 = none). *existed (may
 * be NULL) tells whether it replaced one. Returns 0, -ENOMEM, or -EDQUOT for a
 * new filter when the session holds max_subscriptions already (counted). Home
 * worker only.
 */
int tern_session_subscribe(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
			   size_t len, uint8_t options, uint32_t sub_id, bool *existed);
/* Returns 0 or -ENOENT. Home worker only. */
int tern_session_unsubscribe(struct tern_worker *w, struct tern_session *s, const uint8_t *filter,
			     size_t len);

/*
 * Deliver msg at QoS qos (already the minimum of message and subscription)
 * with the given RETAIN flag and subscription identifiers (NULL for none):
 * straight to the connection's output when possible, else queued within the
 * limits, else dropped and counted. QoS 0 is not queued for offline sessions;
 * an expired message is dropped. Home worker only.
 */
void tern_session_deliver(struct tern_worker *w, struct tern_session *s, struct tern_msg *msg,
			  uint8_t qos, bool retain, const struct tern_via *ids);

/* Acknowledgements from the client. Return 0, or -ENOENT for an unknown packet id. */
int tern_session_puback(struct tern_worker *w, struct tern_session *s, uint16_t packet_id);
int tern_session_pubrec(struct tern_worker *w, struct tern_session *s, uint16_t packet_id);
int tern_session_pubcomp(struct tern_worker *w, struct tern_session *s, uint16_t packet_id);

/* Inbound QoS 2: true if packet_id was already received (a DUP); records it otherwise. */
bool tern_session_qos2_seen(struct tern_session *s, uint16_t packet_id, int *err);
/* Inbound QoS 2: PUBREL received; forget the id. False when it was not pending. */
bool tern_session_qos2_release(struct tern_session *s, uint16_t packet_id);

/*
 * A connection took the session: resend inflight messages (DUP=1) and PUBRELs,
 * then move queued messages into free inflight slots. Home worker only.
 */
void tern_session_resume(struct tern_worker *w, struct tern_session *s);

/* The connection went away; the session stays (offline). Home worker only. */
void tern_session_detach(struct tern_worker *w, struct tern_session *s);

/*
 * Queue s in its home worker's deadline heap at its next due time (a delayed
 * will or its expiry) while it is offline; take it out while it is connected
 * or has neither. Call after changing s->conn, s->will, s->expiry_s or
 * s->offline_since_ms. Cannot fail: without memory for the heap the worker
 * falls back to sweeping every session. Home worker only.
 */
void tern_session_schedule(struct tern_worker *w, struct tern_session *s);

/* Queue s at at_ms whatever its state (a retry). Same contract as _schedule. */
void tern_session_schedule_at(struct tern_worker *w, struct tern_session *s, uint64_t at_ms);

/* Take s out of its home worker's deadline heap (it leaves or ends). Home worker only. */
void tern_session_unschedule(struct tern_worker *w, struct tern_session *s);

/*
 * Hold a will (reference taken) until the session has been offline for delay
 * seconds; a reconnect cancels it (tern_session_cancel_will), the end of the
 * session publishes it early (tern_session_destroy). Home worker only.
 */
void tern_session_delay_will(struct tern_worker *w, struct tern_session *s, struct tern_msg *will,
			     uint32_t delay);
/* Drop a delayed will without publishing it. Home worker only. */
void tern_session_cancel_will(struct tern_session *s);
/* Publish the delayed will now (its delay elapsed). Home worker only. */
void tern_session_publish_will(struct tern_worker *w, struct tern_session *s);

/*
 * Takeover across workers (registry.h): give every subscription an entry in
 * worker `to`'s group valid from tree generation gen, and end the validity of
 * its entry in `from`'s group at gen. Call with the registry lock held, before
 * publishing gen. Returns 0, or -ENOMEM when some could not be handed over
 * (the others were). Home worker only.
 */
int tern_session_handover_subs(struct tern_worker *w, struct tern_session *s, unsigned from,
			       unsigned to, uint64_t gen);

/*
 * Give every subscription an entry in w's own group again (after a handover
 * that ran out of memory). Returns 0 or -ENOMEM (counted). Home worker only.
 */
int tern_session_resubscribe_all(struct tern_worker *w, struct tern_session *s);

/* Remove the session's entries from worker `group`'s group (end of a handover). */
void tern_session_drop_group(struct tern_worker *w, struct tern_session *s, unsigned group);

#endif
