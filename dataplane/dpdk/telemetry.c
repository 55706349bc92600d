/* SPDX-License-Identifier: MIT */
/*
 * DPDK telemetry commands for the stack's counters. The telemetry API of
 * DPDK 22.11 passes no context to a callback, so the one published set of
 * workers is a process-wide pointer under a mutex: the telemetry thread reads
 * under it, and the main lcore withdraws it under it before freeing the
 * workers. Counters are read while workers write them (single writer, aligned
 * 64-bit words: a reader sees an old or a new value, never a torn one).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <rte_telemetry.h>

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

static void fill_stats(const struct dp_dpdk_shared *sh, const struct dp_dpdk_worker *w,
		       struct rte_tel_data *d)
{
	for (unsigned c = 0; c < DP_NET_COUNTER_MAX; c++)
		rte_tel_data_add_dict_u64(d, dp_net_counter_name(c), read_u64(&w->ifc.counters[c]));
	rte_tel_data_add_dict_u64(d, "handed_off", read_u64(&w->handed_off));
	rte_tel_data_add_dict_u64(d, "drop_handoff", read_u64(&w->drop_handoff));
	rte_tel_data_add_dict_u64(d, "fault_dropped",
				  read_u64(&w->rx_fault.dropped) + read_u64(&w->tx_fault.dropped));
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
		registered = rc == 0;
	}
	pthread_mutex_unlock(&published_lock);
	return rc;
}
