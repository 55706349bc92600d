/* SPDX-License-Identifier: MIT */
/*
 * Worker lifecycle, the cross-worker inbox and the periodic sweeps
 * (connect timeout, keepalive, session expiry, $SYS).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>
#include <urcu/compiler.h>
#include <urcu/wfcqueue.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/outbox.h"
#include "broker/registry.h"
#include "broker/route.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/share.h"
#include "broker/sys.h"
#include "broker/transport.h"
#include "broker/worker.h"

#define SWEEP_INTERVAL_MS 250
#define PROTO_LOG_BURST	  5 /* protocol error lines per second per worker */

struct tern_worker *tern_worker_create(struct tern_broker *b, unsigned id)
{
	struct tern_worker *w = tern_aligned_alloc(64, sizeof(*w));

	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	memset(w, 0, sizeof(*w));
	if (tern_outbox_init(&w->outbox, b->n_workers) < 0) {
		tern_free(w);
		errno = ENOMEM;
		return NULL;
	}
	w->id = id;
	w->broker = b;
	w->match_gen = id; /* residue id mod TERN_MAX_WORKERS: unique to this worker (route.c) */
	__cds_wfcq_init(&w->inbox_head, &w->inbox_tail);
	w->proto_log.interval_ms = 1000;
	w->proto_log.burst = PROTO_LOG_BURST;
	CDS_INIT_LIST_HEAD(&w->conns);
	CDS_INIT_LIST_HEAD(&w->sessions);
	tern_deadline_heap_init(&w->deadlines);
	CDS_INIT_LIST_HEAD(&w->arrivals);
	CDS_INIT_LIST_HEAD(&w->resumed);
	CDS_INIT_LIST_HEAD(&w->claim_retries);
	return w;
}

uint64_t tern_worker_clock(struct tern_worker *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	w->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	return w->now_ms;
}

int tern_worker_post(struct tern_worker *to, enum tern_inbox_kind kind, void *ptr, uint64_t gen)
{
	struct tern_inbox_item *item = tern_malloc(sizeof(*item));

	if (!item)
		return -ENOMEM;
	item->kind = kind;
	item->embedded = false;
	item->gen = gen;
	if (kind == TERN_INBOX_PUBLISH)
		item->msg = ptr;
	else
		item->session = ptr;
	tern_worker_post_item(to, item);
	return 0;
}

int tern_worker_post_share(struct tern_worker *to, struct tern_share_group *g, uint64_t uid,
			   struct tern_msg *msg, uint8_t hops)
{
	struct tern_inbox_item *item = tern_calloc(1, sizeof(*item));

	if (!item)
		return -ENOMEM;
	item->kind = TERN_INBOX_SHARE;
	item->msg = msg;
	item->share = g;
	item->uid = uid;
	item->hops = hops;
	tern_worker_post_item(to, item);
	return 0;
}

void tern_worker_post_item(struct tern_worker *to, struct tern_inbox_item *item)
{
	cds_wfcq_node_init(&item->node);
	/* false: the queue was empty, so the worker may be asleep. */
	if (!cds_wfcq_enqueue(&to->inbox_head, &to->inbox_tail, &item->node) && to->ops &&
	    to->ops->wake)
		to->ops->wake(to->dp_worker);
}

static void handle_item(struct tern_worker *w, struct tern_inbox_item *item)
{
	switch (item->kind) {
	case TERN_INBOX_PUBLISH:
		TERN_STAT_ADD(w, inbox_msgs, 1);
		tern_route_deliver_local(w, item->msg, item->gen);
		tern_msg_unref(item->msg);
		break;
	case TERN_INBOX_TAKEOVER:
		tern_registry_on_takeover(w, item->session);
		break;
	case TERN_INBOX_DEPART:
		tern_registry_on_depart(w, item->session);
		break;
	case TERN_INBOX_ADOPT:
		tern_registry_on_adopt(w, item->session);
		break;
	case TERN_INBOX_SHARE:
		TERN_STAT_ADD(w, inbox_msgs, 1);
		tern_share_on_deliver(w, item->share, item->uid, item->msg, item->hops);
		tern_msg_unref(item->msg);
		tern_share_unref(item->share);
		break;
	case TERN_INBOX_BATCH:
		tern_outbox_on_batch(w, item);
		break;
	}
}

/* Take everything queued so far in one splice, then handle it in order. */
static void drain_inbox(struct tern_worker *w, bool shutting_down)
{
	struct __cds_wfcq_head head;
	struct cds_wfcq_tail tail;
	struct cds_wfcq_node *node, *next;

	if (cds_wfcq_empty(&w->inbox_head, &w->inbox_tail))
		return;
	__cds_wfcq_init(&head, &tail);
	__cds_wfcq_splice_blocking(&head, &tail, &w->inbox_head, &w->inbox_tail);
	__cds_wfcq_for_each_blocking_safe(&head, &tail, node, next)
	{
		struct tern_inbox_item *item = caa_container_of(node, struct tern_inbox_item, node);
		/* Read first: handling an embedded item may pass it on to another worker. */
		bool embedded = item->embedded;

		TERN_STAT_ADD(w, inbox_items, 1);
		if (!shutting_down) {
			handle_item(w, item);
		} else if (item->kind == TERN_INBOX_PUBLISH) {
			tern_msg_unref(item->msg);
		} else if (item->kind == TERN_INBOX_SHARE) {
			tern_msg_unref(item->msg);
			tern_share_unref(item->share);
		} else if (item->kind == TERN_INBOX_BATCH) {
			/* Not handed back: its sender may be gone already. */
			tern_outbox_discard(item);
		} else if (item->kind == TERN_INBOX_ADOPT) {
			/* Arrived too late to be served: the session dies with the broker. */
			item->session->home = (uint16_t)w->id;
			cds_list_add(&item->session->worker_node, &w->sessions);
		}
		/* A late TAKEOVER or DEPART: its session is freed with this worker's. */
		if (!embedded)
			tern_free(item);
	}
}

static void sweep_conns(struct tern_worker *w)
{
	const struct tern_config *cfg = &w->broker->cfg;
	struct tern_conn *c, *tmp;
	uint64_t now = w->now_ms;

	cds_list_for_each_entry_safe(c, tmp, &w->conns, worker_node)
	{
		if (c->state == TERN_CONN_ACTIVE) {
			if (c->keepalive &&
			    now - tern_conn_last_seen_ms(c) > (uint64_t)c->keepalive * 1500u) {
				TERN_STAT_ADD(w, keepalive_timeouts, 1);
				tern_conn_close(c, TERN_CLOSE_KEEPALIVE);
			}
		} else if (c->state != TERN_CONN_CLOSING && cfg->connect_timeout &&
			   now - c->accepted_ms > (uint64_t)cfg->connect_timeout * 1000u) {
			/* Also bounds a CONNECT stuck waiting for its session. */
			tern_conn_close(c, TERN_CLOSE_CONNECT_TIMEOUT);
		}
	}
}

/* One offline session: publish its will if due, end it if expired. */
static void sweep_session(struct tern_worker *w, struct tern_session *s)
{
	if (s->conn)
		return;
	if (s->will && w->now_ms >= s->will_at_ms)
		tern_session_publish_will(w, s);
	if (s->expiry_s == TERN_SESSION_NEVER_EXPIRES ||
	    w->now_ms - s->offline_since_ms <= (uint64_t)s->expiry_s * 1000u) {
		tern_session_schedule(w, s);
		return;
	}
	if (tern_registry_remove(w, s) == 0) {
		tern_log(TERN_LOG_NOTICE, "Expiring client %s due to timeout.", s->client_id);
		/* The end of the session cuts a will delay short [MQTT-3.1.3-9]. */
		tern_session_publish_will(w, s);
		tern_session_destroy(w, s);
		return;
	}
	/* Claimed by a connection right now: look again at the next sweep, as before. */
	tern_session_schedule_at(w, s, w->now_ms + SWEEP_INTERVAL_MS);
}

/*
 * Offline sessions whose delayed will or expiry is due, taken from the
 * worker's deadline heap: the cost follows the due work, not the number of
 * sessions. Only after a session could not be queued (out of memory) does it
 * walk them all, as a fallback that keeps every deadline.
 */
static void sweep_sessions(struct tern_worker *w)
{
	struct tern_deadline *d;

	if (w->deadlines_lost) {
		struct tern_session *s, *tmp;

		w->deadlines_lost = false;
		cds_list_for_each_entry_safe(s, tmp, &w->sessions, worker_node) sweep_session(w, s);
	}
	while ((d = tern_deadline_pop_due(&w->deadlines, w->now_ms)))
		sweep_session(w, caa_container_of(d, struct tern_session, deadline));
}

/* Only the waiting connections, not every connection: a storm must not cost O(n) a turn. */
static void retry_claims(struct tern_worker *w)
{
	struct cds_list_head batch;
	struct tern_conn *c;

	/* A retry that is busy again goes back on w->claim_retries for the next turn. */
	CDS_INIT_LIST_HEAD(&batch);
	cds_list_splice(&w->claim_retries, &batch);
	CDS_INIT_LIST_HEAD(&w->claim_retries);
	while (!cds_list_empty(&batch)) {
		c = cds_list_first_entry(&batch, struct tern_conn, retry_node);
		tern_connect_retry(c);
	}
}

int tern_worker_start(struct tern_worker *w, const struct tern_transport_ops *ops, void *dp_worker)
{
	char name[16];

	w->ops = ops;
	w->dp_worker = dp_worker;
	rcu_register_thread();
	snprintf(name, sizeof(name), "w%u", w->id);
	tern_log_set_thread_name(name);
	tern_worker_clock(w);
	w->next_sweep_ms = w->now_ms + SWEEP_INTERVAL_MS;
	w->next_sys_ms = w->now_ms + 1000u;
	return 0;
}

int tern_worker_poll(struct tern_worker *w)
{
	const struct tern_config *cfg = &w->broker->cfg;
	uint64_t now = tern_worker_clock(w);
	uint64_t next;

	tern_security_poll(w);
	tern_memlimit_refresh(w);
	/* What the turn's input routed: other workers start on it while this one writes. */
	tern_outbox_flush(w);
	drain_inbox(w, false);
	while (!cds_list_empty(&w->resumed))
		tern_conn_resume(cds_list_first_entry(&w->resumed, struct tern_conn, resume_node));
	if (w->retry_claims)
		retry_claims(w);
	if (now >= w->next_sweep_ms) {
		sweep_conns(w);
		sweep_sessions(w);
		w->next_sweep_ms = now + SWEEP_INTERVAL_MS;
	}
	if (w->id == 0 && cfg->sys_interval && now >= w->next_sys_ms) {
		tern_sys_publish(w);
		w->next_sys_ms = now + (uint64_t)cfg->sys_interval * 1000u;
	}
	if (w->retry_claims)
		return 1;
	next = w->next_sweep_ms;
	if (w->id == 0 && cfg->sys_interval && w->next_sys_ms < next)
		next = w->next_sys_ms;
	return next > now ? (int)(next - now) : 0;
}

bool tern_worker_has_work(const struct tern_worker *w)
{
	/* Same test as cds_list_empty, which takes no const list. */
	return w->resumed.next != &w->resumed || w->retry_claims;
}

/* Posting before telling RCU is what the takeover handshake's grace period relies on (outbox.h). */
void tern_worker_quiescent(struct tern_worker *w)
{
	tern_outbox_flush(w);
	rcu_quiescent_state();
}

void tern_worker_offline(struct tern_worker *w)
{
	tern_outbox_flush(w);
	rcu_thread_offline();
}

void tern_worker_online(struct tern_worker *w)
{
	rcu_thread_online();
}

void tern_worker_finish(struct tern_worker *w)
{
	struct tern_session *s, *tmp;

	drain_inbox(w, true);
	tern_registry_arrivals_free(w);
	/*
	 * Other workers may still run: a session in transit may still be looked
	 * up or matched by them. tern_worker_destroy frees it once all stopped.
	 */
	cds_list_for_each_entry_safe(s, tmp, &w->sessions, worker_node)
	{
		if (tern_registry_remove(w, s) == 0)
			tern_session_destroy(w, s);
	}
	/* Messages given back to shared groups just now; finished receivers drop them. */
	tern_outbox_flush(w);
	rcu_unregister_thread();
}

void tern_worker_destroy(struct tern_worker *w)
{
	if (!w)
		return;
	/* Items posted after this worker finished: free them (RCU-registered main thread). */
	drain_inbox(w, true);
	tern_registry_arrivals_free(w);
	while (!cds_list_empty(&w->sessions)) {
		struct tern_session *s =
		    cds_list_first_entry(&w->sessions, struct tern_session, worker_node);

		tern_registry_transit_abort(s);
		tern_registry_remove(w, s);
		tern_session_destroy(w, s);
	}
	tern_outbox_fini(&w->outbox);
	tern_deadline_heap_fini(&w->deadlines);
	tern_free(w->matched);
	tern_free(w);
}

void tern_worker_log_protocol_error(struct tern_worker *w, const char *who, const char *why)
{
	uint64_t suppressed = 0;

	/* A hostile client can trigger this at line rate: a fixed budget per second. */
	if (!tern_log_ratelimit_allow(&w->proto_log, w->now_ms, &suppressed))
		return;
	if (suppressed)
		tern_log(TERN_LOG_NOTICE, "%llu protocol error lines suppressed",
			 (unsigned long long)suppressed);
	tern_log(TERN_LOG_NOTICE, "Client %s disconnected due to protocol error: %s.", who, why);
}
