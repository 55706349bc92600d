/* SPDX-License-Identifier: MIT */
/*
 * A worker: the per-core half of the engine. It owns its connections, the
 * sessions homed on it, its counters and an inbox that other workers post to
 * (a wait-free queue plus a dataplane wake-up). Everything here is touched
 * only by the worker's own thread, except the inbox (any thread enqueues) and
 * the counters (read, relaxed, by the $SYS publisher).
 */
#ifndef TERN_WORKER_H
#define TERN_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/list.h>
#include <urcu/wfcqueue.h>

#include "broker/deadline.h"
#include "broker/log.h"
#include "broker/outbox.h"
#include "broker/via.h"

struct tern_broker;
struct tern_match_scratch;
struct tern_msg;
struct tern_session;
struct tern_transport_ops;

/* Counters of one worker. Written by the owner only (TERN_STAT_ADD), read relaxed by anyone. */
struct tern_worker_stats {
	uint64_t clients_connected; /* gauge */
	uint64_t connections_accepted;
	uint64_t connections_refused;	   /* max_connections (global or listener's) */
	uint64_t connections_rate_limited; /* listener's max_connection_rate */
	uint64_t clients_limited;	   /* closed by tern_conn_over_limit */
	uint64_t queued_bytes;		   /* memlimit.h; may wrap below 0, only the sum counts */
	uint64_t publish_dropped_memory;   /* deliveries dropped over memory_limit */
	uint64_t retained_dropped_memory;  /* retained messages not stored over memory_limit */
	uint64_t subscriptions_refused;	   /* filters over max_subscriptions (SUBACK 0x80) */
	uint64_t msgs_received;
	uint64_t msgs_sent;
	uint64_t bytes_received;
	uint64_t bytes_sent;
	uint64_t publish_dropped; /* QoS 0 over the output bound, QoS 1/2 over the queue limits */
	uint64_t publish_too_large;
	uint64_t publish_denied; /* PUBLISH the ACL does not allow (dropped, acknowledged) */
	uint64_t protocol_errors;
	uint64_t keepalive_timeouts;
	uint64_t takeovers;
	/* Inbox items handled, of every kind: a batch of deliveries counts once. */
	uint64_t inbox_items;
	/* PUBLISH and SHARE deliveries handled from the inbox, batched or single. */
	uint64_t inbox_msgs;
	/* Outbox batches (TERN_INBOX_BATCH items) handled. */
	uint64_t inbox_batches;
};

#define TERN_STAT_ADD(w, field, n)                                                                 \
	__atomic_store_n(&(w)->stats.field, (w)->stats.field + (n), __ATOMIC_RELAXED)
#define TERN_STAT_SUB(w, field, n)                                                                 \
	__atomic_store_n(&(w)->stats.field, (w)->stats.field - (n), __ATOMIC_RELAXED)
#define TERN_STAT_READ(w, field) __atomic_load_n(&(w)->stats.field, __ATOMIC_RELAXED)

/* A session matched by the publish being routed, and where its merged QoS is kept. */
/* One session matched by a publish: what its overlapping subscriptions add up to. */
struct tern_match {
	struct tern_session *session;	/* NULL for a shared subscription group */
	struct tern_share_group *share; /* the group, whose owner picks a member */
	uint8_t qos;			/* highest granted QoS among the matches */
	bool retain_as_published;	/* some match asked for Retain As Published */
	struct tern_via ids;		/* their 5.0 subscription identifiers */
};

/* "ADDR:PORT" of any IPv4 or IPv6 peer, NUL included (INET6_ADDRSTRLEN + 6, rounded up). */
#define TERN_WORKER_PEER_NAME_MAX 64

enum tern_inbox_kind {
	TERN_INBOX_PUBLISH,  /* deliver msg to this worker's matching subscribers */
	TERN_INBOX_TAKEOVER, /* give session away to session->dest (we are its home) */
	TERN_INBOX_DEPART,   /* the takeover's grace period passed: finish handing over */
	TERN_INBOX_ADOPT,    /* session arrives here, its subscriptions already moved */
	TERN_INBOX_SHARE,    /* a shared subscription delivery for member uid of group */
	TERN_INBOX_BATCH,    /* PUBLISH and SHARE deliveries of one sender's turn (outbox.h) */
};

/*
 * One cross-worker work item; allocated by the sender, freed by the receiver,
 * unless `embedded`: then its owner keeps it (the takeover handshake in its
 * arrival record, registry.c) and the receiver only reads it.
 */
struct tern_inbox_item {
	struct cds_wfcq_node node;
	enum tern_inbox_kind kind;
	bool embedded;
	uint64_t gen; /* PUBLISH: tree generation read before the sender's walk */
	union {
		struct tern_msg *msg;	      /* PUBLISH: one reference owned by the item */
		struct tern_session *session; /* TAKEOVER, DEPART, ADOPT */
	};
	/* SHARE: msg as above, a group reference, the member (0: pick any), hops so far. */
	struct tern_share_group *share;
	uint64_t uid;
	uint8_t hops;
};

struct tern_worker {
	/* Inbox first and alone on its lines: other threads write it. */
	struct cds_wfcq_tail inbox_tail __attribute__((aligned(64)));
	struct __cds_wfcq_head inbox_head __attribute__((aligned(64)));

	unsigned id __attribute__((aligned(64)));
	struct tern_broker *broker;
	const struct tern_transport_ops *ops;
	void *dp_worker;

	struct cds_list_head conns;	    /* every struct tern_conn on this worker */
	struct cds_list_head sessions;	    /* every session homed here */
	struct cds_list_head arrivals;	    /* sessions in transit to this worker (registry.c) */
	struct cds_list_head resumed;	    /* connections with held-back input to parse (conn.c) */
	unsigned retry_claims;		    /* connections waiting to retry a busy client id */
	struct cds_list_head claim_retries; /* those connections (conn->retry_node) */
	uint64_t now_ms;		    /* monotonic clock, updated each poll/input */
	uint64_t next_sweep_ms;		    /* next keepalive/connect-timeout/expiry sweep */
	uint64_t next_sys_ms;		    /* next $SYS publication (worker 0) */
	uint64_t match_gen; /* de-duplicates overlapping subscriptions per publish; ==id mod 64 */

	/* Offline sessions by next due delayed will or expiry (session.c) */
	struct tern_deadline_heap deadlines;
	bool deadlines_lost; /* a session could not be queued (no memory): sweep them all */

	struct tern_match *matched; /* scratch: sessions matched by one publish */
	size_t n_matched, cap_matched;
	uint64_t next_auto_id; /* for generated client ids */
	uint64_t auth_gen;     /* security snapshot its sessions were classified for (security.h) */
	struct tern_log_ratelimit proto_log;	   /* protocol error lines */
	char peer_name[TERN_WORKER_PEER_NAME_MAX]; /* tern_conn_peer's buffer */
	bool mem_over; /* over memory_limit at the last refresh (memlimit.h) */
	/* Deliveries for other workers, all posted by the end of the loop turn. */
	struct tern_outbox outbox;

	struct tern_worker_stats stats __attribute__((aligned(64)));
};

/* Allocate worker id of broker b (not started). NULL + errno. Main thread. */
struct tern_worker *tern_worker_create(struct tern_broker *b, unsigned id);
/* Free a worker whose thread finished (or never started). Main thread; NULL ok. */
void tern_worker_destroy(struct tern_worker *w);

/*
 * Post an item to worker `to` and wake it if its inbox was empty. Any worker
 * thread. The receiver owns and frees the item. Returns 0 or -ENOMEM.
 * Deliveries go through the outbox (outbox.h), which uses this and
 * tern_worker_post_share only when it has no batch to put them in.
 */
int tern_worker_post(struct tern_worker *to, enum tern_inbox_kind kind, void *ptr, uint64_t gen);

/*
 * Post a SHARE item: msg (a reference the item owns) for member uid of group
 * g (a reference the item owns). Same contract as tern_worker_post.
 */
int tern_worker_post_share(struct tern_worker *to, struct tern_share_group *g, uint64_t uid,
			   struct tern_msg *msg, uint8_t hops);

/*
 * Post a caller-owned item (item->embedded set; kind and payload filled in):
 * cannot fail. The item must not be posted again before the receiver handled
 * it. Any worker thread or the call_rcu thread.
 */
void tern_worker_post_item(struct tern_worker *to, struct tern_inbox_item *item);

/* Refresh and return w->now_ms (monotonic milliseconds). Owning thread. */
uint64_t tern_worker_clock(struct tern_worker *w);

/* Log a protocol error for conn `who`, at most a few lines a second per worker. Owning thread. */
void tern_worker_log_protocol_error(struct tern_worker *w, const char *who, const char *why);

#endif
