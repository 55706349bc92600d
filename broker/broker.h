/* SPDX-License-Identifier: MIT */
/*
 * The broker: configuration, the workers and the state they share (the
 * subscription tree, the retained store, the client id registry). Created by
 * main before any worker thread starts and destroyed after they all stopped.
 */
#ifndef TERN_BROKER_H
#define TERN_BROKER_H

#include <pthread.h>
#include <stdint.h>

#include <urcu/rculfhash.h>

#include "broker/config.h"
#include "broker/ratelimit.h"

struct tern_auth;
struct tern_worker;
struct tern_topic_tree;
struct tern_retain;
struct tern_shares;

struct tern_broker {
	struct tern_config cfg; /* read-only after start except the fields SIGHUP reloads */
	unsigned n_workers;
	struct tern_worker **workers;
	struct tern_topic_tree *tree;
	struct tern_retain *retain;

	/* Client id registry: lock-free lookups, claims serialised by registry_lock. */
	struct cds_lfht *registry;
	pthread_mutex_t registry_lock;

	/*
	 * Subscription handover generation (registry.h): bumped under
	 * registry_lock after a takeover's tree edits; read before every walk.
	 */
	uint64_t tree_gen;
	uint64_t start_ms;	    /* monotonic start time, for uptime */
	int64_t connections;	    /* atomic: open connections, for max_connections */
	uint64_t clients_connected; /* atomic: connections past CONNACK */
	uint64_t clients_maximum;   /* atomic: highest clients_connected seen */
	uint64_t sessions;	    /* atomic: sessions existing (connected + offline) */
	uint64_t next_session_uid;  /* atomic: identity of the next session created */
	struct tern_shares *shares; /* shared subscription groups (share.h) */

	/*
	 * Security snapshot (auth.h): published by the main thread with
	 * rcu_assign_pointer (tern_broker_load_auth), read by workers with
	 * rcu_dereference (security.h). auth_gen: last generation given out.
	 */
	struct tern_auth *auth;
	uint64_t auth_gen;

	/*
	 * Per listener (index into cfg.listeners; 0 for the default listener):
	 * open connections (atomic, for its max_connections) and its new
	 * connection rate bucket, shared by every worker's accepts under accept_lock.
	 */
	int64_t listener_conns[TERN_CONFIG_MAX_LISTENERS];
	struct tern_ratelimit accept_rate[TERN_CONFIG_MAX_LISTENERS];
	pthread_mutex_t accept_lock;

	/* The dataplane's $SYS topics (sys.h): set by the main thread before the workers run. */
	void (*sys_source)(void *ctx, struct tern_worker *w,
			   void (*emit)(struct tern_worker *w, const char *topic, uint64_t value));
	void *sys_source_ctx;
};

/*
 * Create the broker for cfg (copied): n_workers = cfg->workers or the online
 * core count, capped at TERN_MAX_WORKERS. NULL + errno on failure. Main thread.
 */
struct tern_broker *tern_broker_create(const struct tern_config *cfg);

/* Free everything. All worker threads must have finished. NULL is ignored. */
void tern_broker_destroy(struct tern_broker *b);

/* Listener's max_connection_rate (0 = unlimited); the default listener's for an unknown index. */
uint32_t tern_broker_listener_rate(const struct tern_broker *b, unsigned listener);
/* Listener's own max_connections (-1 = unlimited). Thread-safe (config is read-only). */
int64_t tern_broker_listener_max(const struct tern_broker *b, unsigned listener);

/* Apply the reloadable parts of a new config (the log types; the rest needs a restart). Any thread.
 */
void tern_broker_reload(struct tern_broker *b, const struct tern_config *cfg);

/*
 * Read the password and ACL files cfg names into a new security snapshot and
 * publish it; the old one is freed after a grace period. Connections stay up;
 * each worker applies the new ACL to its sessions before it next routes. On
 * error (a bad file: "FILE:LINE: reason" in err; per_listener_settings with a
 * listener count other than the running one's) returns -EINVAL or -errno and
 * keeps the current snapshot. Main thread (registered with liburcu QSBR); not
 * concurrently with itself.
 */
int tern_broker_load_auth(struct tern_broker *b, const struct tern_config *cfg, char *err,
			  size_t errlen);

#endif
