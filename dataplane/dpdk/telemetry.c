/* SPDX-License-Identifier: MIT */
/*
 * DPDK telemetry commands for the stack's counters. The telemetry API of
 * DPDK 22.11 passes no context to a callback, so the one published set of
 * workers is a process-wide pointer under a mutex: the telemetry thread reads
 * under it, and the main lcore withdraws it under it before freeing the
 * workers. Counters come from stats.c, which reads them while workers write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dataplane/dpdk/stats.h"
#include "dataplane/dpdk/telemetry.h"

static pthread_mutex_t published_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dp_dpdk_shared *published;
static bool registered;

static int cmd_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -ENODEV;

	pthread_mutex_lock(&published_lock);
	if (published) {
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "workers", published->n_workers);
		rte_tel_data_add_dict_u64(d, "multi_queue", published->multi_queue);
		rc = 0;
	}
	pthread_mutex_unlock(&published_lock);
	return rc;
}

static uint64_t read_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* One counter under its telemetry key: the net group's names bare, others prefixed. */
static void add_stat(struct rte_tel_data *d, const struct dp_dpdk_stat *st)
{
	char key[RTE_TEL_MAX_STRING_LEN];

	if (strcmp(st->group, "net") == 0)
		snprintf(key, sizeof(key), "%s", st->name);
	else
		snprintf(key, sizeof(key), "%s_%s", st->group, st->name);
	rte_tel_data_add_dict_u64(d, key, st->value);
}

typedef void (*fill_fn)(const struct dp_dpdk_shared *sh, const struct dp_dpdk_worker *w,
			struct rte_tel_data *d);

/* A per-worker command: params is the worker id; fill runs under the lock. */
static int worker_cmd(const char *params, struct rte_tel_data *d, fill_fn fill)
{
	unsigned long id;
	char *end;
	int rc = -EINVAL;

	if (!params || !*params)
		return -EINVAL;
	id = strtoul(params, &end, 10);
	if (*end)
		return -EINVAL;
	pthread_mutex_lock(&published_lock);
	if (published && id < published->n_workers) {
		rte_tel_data_start_dict(d);
		fill(published, published->workers[id], d);
		rc = 0;
	}
	pthread_mutex_unlock(&published_lock);
	return rc;
}

static int cmd_total(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_dpdk_stat st[DP_DPDK_STATS_MAX], sum[DP_DPDK_STATS_MAX];
	unsigned n = 0;
	int rc = -ENODEV;

	pthread_mutex_lock(&published_lock);
	if (published) {
		for (unsigned i = 0; i < published->n_workers; i++) {
			n = dp_dpdk_stats_read(published->workers[i], st);
			for (unsigned k = 0; k < n; k++) {
				if (i == 0)
					sum[k] = st[k];
				else
					sum[k].value += st[k].value;
			}
		}
		rte_tel_data_start_dict(d);
		for (unsigned k = 0; k < n; k++)
			add_stat(d, &sum[k]);
		rc = 0;
	}
	pthread_mutex_unlock(&published_lock);
	return rc;
}

static void fill_stats(const struct dp_dpdk_shared *sh, const struct dp_dpdk_worker *w,
		       struct rte_tel_data *d)
{
	struct dp_dpdk_stat st[DP_DPDK_STATS_MAX];
	unsigned n = dp_dpdk_stats_read(w, st);

	rte_tel_data_add_dict_u64(d, "lcore", w->lcore);
	for (unsigned k = 0; k < n; k++)
		add_stat(d, &st[k]);
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return worker_cmd(params, d, fill_stats);
}

/*
 * How one worker's output reached mbufs (struct dp_dpdk_tx_stats) and its
 * pool's mbufs in use (approximate while the worker runs: the count reads
 * per-lcore caches unlocked).
 */
static void fill_tx(const struct dp_dpdk_shared *sh, const struct dp_dpdk_worker *w,
		    struct rte_tel_data *d)
{
	rte_tel_data_add_dict_u64(d, "zerocopy", sh->zerocopy);
	rte_tel_data_add_dict_u64(d, "bytes_copied", read_u64(&w->tx.bytes_copied));
	rte_tel_data_add_dict_u64(d, "bytes_referenced", read_u64(&w->tx.bytes_referenced));
	rte_tel_data_add_dict_u64(d, "msg_refs", read_u64(&w->tx.msg_refs));
	rte_tel_data_add_dict_u64(d, "msg_unrefs", read_u64(&w->tx.msg_unrefs));
	rte_tel_data_add_dict_u64(d, "pool_in_use", rte_mempool_in_use_count(w->pool));
}

static int cmd_tx(const char *cmd, const char *params, struct rte_tel_data *d)
{
	return worker_cmd(params, d, fill_tx);
}

int dp_dpdk_telemetry_publish(struct dp_dpdk_shared *sh)
{
	int rc = 0;

	pthread_mutex_lock(&published_lock);
	published = sh;
	if (sh && !registered) {
		rc = rte_telemetry_register_cmd("/tern/net/workers", cmd_workers,
						"Number of dpdk workers. No parameters");
		if (rc == 0)
			rc = rte_telemetry_register_cmd(
			    "/tern/net/stats", cmd_stats,
			    "Counters of one dpdk worker's network stack. Parameter: worker id");
		if (rc == 0)
			rc = rte_telemetry_register_cmd(
			    "/tern/net/tx", cmd_tx,
			    "Output bytes copied and referenced, message references, mbufs in use "
			    "of one dpdk worker. Parameter: worker id");
		if (rc == 0)
			rc = rte_telemetry_register_cmd("/tern/net/total", cmd_total,
							"Counters of the network stack summed over "
							"the dpdk workers. No parameters");
		registered = rc == 0;
	}
	pthread_mutex_unlock(&published_lock);
	return rc;
}
