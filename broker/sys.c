/* SPDX-License-Identifier: MIT */
/*
 * $SYS topics with mosquitto's names, plus $SYS/broker/workers/N/... for
 * tern's per-worker counters. Published retained, through the normal route,
 * by worker 0; other workers' counters are read with relaxed loads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/retain.h"
#include "broker/route.h"
#include "broker/sys.h"
#include "broker/topic_tree.h"
#include "broker/worker.h"

static void publish(struct tern_worker *w, const char *topic, const char *value)
{
	struct tern_msg *msg = tern_msg_create((const uint8_t *)topic, (uint16_t)strlen(topic),
					       (const uint8_t *)value, strlen(value), 0, true);

	if (!msg)
		return;
	tern_route_publish(w, msg);
	tern_msg_unref(msg);
}

static void publish_u64(struct tern_worker *w, const char *topic, uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	publish(w, topic, buf);
}

/* Sum of one counter over all workers. */
#define SUM(b, field)                                                                              \
	({                                                                                         \
		uint64_t sum_ = 0;                                                                 \
		for (unsigned i_ = 0; i_ < (b)->n_workers; i_++)                                   \
			sum_ += TERN_STAT_READ((b)->workers[i_], field);                           \
		sum_;                                                                              \
	})

static void publish_worker(struct tern_worker *w, const struct tern_worker *x)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
	    {"clients/connected", offsetof(struct tern_worker_stats, clients_connected)},
	    {"connections/accepted", offsetof(struct tern_worker_stats, connections_accepted)},
	    {"connections/refused", offsetof(struct tern_worker_stats, connections_refused)},
	    {"messages/received", offsetof(struct tern_worker_stats, msgs_received)},
	    {"messages/sent", offsetof(struct tern_worker_stats, msgs_sent)},
	    {"bytes/received", offsetof(struct tern_worker_stats, bytes_received)},
	    {"bytes/sent", offsetof(struct tern_worker_stats, bytes_sent)},
	    {"publish/dropped", offsetof(struct tern_worker_stats, publish_dropped)},
	    {"publish/too_large", offsetof(struct tern_worker_stats, publish_too_large)},
	    {"publish/denied", offsetof(struct tern_worker_stats, publish_denied)},
	    {"protocol/errors", offsetof(struct tern_worker_stats, protocol_errors)},
	    {"keepalive/timeouts", offsetof(struct tern_worker_stats, keepalive_timeouts)},
	    {"takeovers", offsetof(struct tern_worker_stats, takeovers)},
	    {"inbox/items", offsetof(struct tern_worker_stats, inbox_items)},
	    {"inbox/messages", offsetof(struct tern_worker_stats, inbox_msgs)},
	    {"inbox/batches", offsetof(struct tern_worker_stats, inbox_batches)},
	    {"connections/rate_limited",
	     offsetof(struct tern_worker_stats, connections_rate_limited)},
	    {"clients/limited", offsetof(struct tern_worker_stats, clients_limited)},
	    {"publish/dropped_memory", offsetof(struct tern_worker_stats, publish_dropped_memory)},
	    {"retained/dropped_memory",
	     offsetof(struct tern_worker_stats, retained_dropped_memory)},
	    {"subscriptions/refused", offsetof(struct tern_worker_stats, subscriptions_refused)},
	};
	char topic[96];
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const uint64_t *p = (const uint64_t *)((const char *)&x->stats + fields[i].offset);

		snprintf(topic, sizeof(topic), "$SYS/broker/workers/%u/%s", x->id, fields[i].name);
		publish_u64(w, topic, __atomic_load_n(p, __ATOMIC_RELAXED));
	}
}

/* Every drop or refusal of the overload limits, summed over workers (also per worker above). */
static void publish_limits(struct tern_worker *w)
{
	struct tern_broker *b = w->broker;

	publish_u64(w, "$SYS/broker/connections/refused", SUM(b, connections_refused));
	publish_u64(w, "$SYS/broker/connections/rate_limited", SUM(b, connections_rate_limited));
	publish_u64(w, "$SYS/broker/clients/limited", SUM(b, clients_limited));
	publish_u64(w, "$SYS/broker/publish/messages/dropped_memory",
		    SUM(b, publish_dropped_memory));
	publish_u64(w, "$SYS/broker/retained messages/dropped_memory",
		    SUM(b, retained_dropped_memory));
	publish_u64(w, "$SYS/broker/subscriptions/refused", SUM(b, subscriptions_refused));
	publish_u64(w, "$SYS/broker/memory/queued", tern_memlimit_queued(b));
	publish_u64(w, "$SYS/broker/memory/limit", b->cfg.memory_limit);
}

void tern_sys_publish(struct tern_worker *w)
{
	struct tern_broker *b = w->broker;
	uint64_t connected = __atomic_load_n(&b->clients_connected, __ATOMIC_RELAXED);
	uint64_t sessions = __atomic_load_n(&b->sessions, __ATOMIC_RELAXED);
	char buf[64];
	unsigned i;

	publish(w, "$SYS/broker/version", "tern version " TERN_VERSION);
	snprintf(buf, sizeof(buf), "%" PRIu64 " seconds", (w->now_ms - b->start_ms) / 1000u);
	publish(w, "$SYS/broker/uptime", buf);
	publish_u64(w, "$SYS/broker/clients/connected", connected);
	publish_u64(w, "$SYS/broker/clients/active", connected);
	publish_u64(w, "$SYS/broker/clients/total", sessions > connected ? sessions : connected);
	publish_u64(w, "$SYS/broker/clients/disconnected",
		    sessions > connected ? sessions - connected : 0);
	publish_u64(w, "$SYS/broker/clients/maximum",
		    __atomic_load_n(&b->clients_maximum, __ATOMIC_RELAXED));
	publish_u64(w, "$SYS/broker/messages/received", SUM(b, msgs_received));
	publish_u64(w, "$SYS/broker/messages/sent", SUM(b, msgs_sent));
	publish_u64(w, "$SYS/broker/publish/messages/received", SUM(b, msgs_received));
	publish_u64(w, "$SYS/broker/publish/messages/sent", SUM(b, msgs_sent));
	publish_u64(w, "$SYS/broker/publish/messages/dropped", SUM(b, publish_dropped));
	publish_u64(w, "$SYS/broker/bytes/received", SUM(b, bytes_received));
	publish_u64(w, "$SYS/broker/bytes/sent", SUM(b, bytes_sent));
	publish_u64(w, "$SYS/broker/protocol/errors", SUM(b, protocol_errors));
	publish_u64(w, "$SYS/broker/subscriptions/count", tern_topic_tree_count(b->tree));
	publish_u64(w, "$SYS/broker/retained messages/count", tern_retain_count(b->retain));
	publish_u64(w, "$SYS/broker/heap/current", tern_alloc_allocated());
	publish_u64(w, "$SYS/broker/workers/count", b->n_workers);
	publish_limits(w);
	for (i = 0; i < b->n_workers; i++)
		publish_worker(w, b->workers[i]);
	if (b->sys_source)
		b->sys_source(b->sys_source_ctx, w, publish_u64);
}

void tern_sys_set_source(struct tern_broker *b, tern_sys_source_fn fn, void *ctx)
{
	b->sys_source = fn;
	b->sys_source_ctx = ctx;
}
