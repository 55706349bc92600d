/* SPDX-License-Identifier: MIT */
/* The broker object: creation and teardown of the shared state and the workers. */
#define _LGPL_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/auth.h"
#include "broker/broker.h"
#include "broker/log.h"
#include "broker/registry.h"
#include "broker/share.h"
#include "broker/retain.h"
#include "broker/topic_tree.h"
#include "broker/transport.h"
#include "broker/worker.h"

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > TERN_MAX_WORKERS ? TERN_MAX_WORKERS : (unsigned)n;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct tern_broker *tern_broker_create(const struct tern_config *cfg)
{
	struct tern_broker *b = tern_calloc(1, sizeof(*b));
	unsigned i;

	if (!b)
		return NULL;
	b->cfg = *cfg;
	b->n_workers = cfg->workers ? cfg->workers : default_workers();
	if (b->n_workers > TERN_MAX_WORKERS)
		b->n_workers = TERN_MAX_WORKERS;
	b->start_ms = monotonic_ms();
	pthread_mutex_init(&b->registry_lock, NULL);
	pthread_mutex_init(&b->accept_lock, NULL);
	for (i = 0; i < TERN_CONFIG_MAX_LISTENERS; i++)
		tern_ratelimit_init(&b->accept_rate[i], tern_broker_listener_rate(b, i),
				    b->start_ms);

	b->tree = tern_topic_tree_create(b->n_workers);
	if (!b->tree)
		goto err;
	b->retain = tern_retain_create();
	if (!b->retain)
		goto err;
	if (tern_registry_init(b) < 0)
		goto err;
	if (tern_share_init(b) < 0)
		goto err;
	b->workers = tern_calloc(b->n_workers, sizeof(*b->workers));
	if (!b->workers)
		goto err;
	for (i = 0; i < b->n_workers; i++) {
		b->workers[i] = tern_worker_create(b, i);
		if (!b->workers[i])
			goto err;
	}
	return b;
err:
	tern_broker_destroy(b);
	errno = ENOMEM;
	return NULL;
}

void tern_broker_destroy(struct tern_broker *b)
{
	unsigned i;

	if (!b)
		return;
	if (b->workers) {
		for (i = 0; i < b->n_workers; i++)
			tern_worker_destroy(b->workers[i]);
		tern_free(b->workers);
	}
	tern_registry_fini(b);
	tern_share_fini(b);
	tern_auth_free(b->auth); /* no reader is left */
	if (b->retain)
		tern_retain_destroy(b->retain);
	if (b->tree)
		tern_topic_tree_destroy(b->tree);
	pthread_mutex_destroy(&b->registry_lock);
	pthread_mutex_destroy(&b->accept_lock);
	tern_free(b);
}

void tern_broker_reload(struct tern_broker *b, const struct tern_config *cfg)
{
	/*
	 * Only what workers never cache is reloaded; listeners, workers and
	 * limits need a restart (documented in deploy/tern.conf).
	 */
	__atomic_store_n(&b->cfg.log_mask, cfg->log_mask, __ATOMIC_RELAXED);
	tern_log_set_mask(cfg->log_mask);
}

int tern_broker_load_auth(struct tern_broker *b, const struct tern_config *cfg, char *err,
			  size_t errlen)
{
	struct tern_auth *a, *old;

	/* Connections know their listener by index: the indexes must mean the same listeners. */
	if (cfg->per_listener_settings && b->auth && cfg->n_listeners != b->cfg.n_listeners) {
		snprintf(err, errlen,
			 "per_listener_settings: the listeners changed; restart to apply");
		return -EINVAL;
	}
	a = tern_auth_load(cfg, b->auth_gen + 1, err, errlen);
	if (!a)
		return -errno;
	b->auth_gen++;
	old = rcu_xchg_pointer(&b->auth, a);
	tern_auth_retire(old);
	return 0;
}

uint32_t tern_broker_listener_rate(const struct tern_broker *b, unsigned listener)
{
	if (listener < b->cfg.n_listeners)
		return b->cfg.listeners[listener].max_connection_rate;
	return b->cfg.max_connection_rate; /* the default listener */
}

int64_t tern_broker_listener_max(const struct tern_broker *b, unsigned listener)
{
	return listener < b->cfg.n_listeners ? b->cfg.listeners[listener].max_connections : -1;
}

unsigned tern_broker_worker_count(const struct tern_broker *b)
{
	return b->n_workers;
}

struct tern_worker *tern_broker_worker(struct tern_broker *b, unsigned i)
{
	return b->workers[i];
}
