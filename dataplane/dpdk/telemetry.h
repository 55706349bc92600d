/* SPDX-License-Identifier: MIT */
/*
 * The stack's per-worker counters in DPDK telemetry: /tern/net/workers gives
 * the worker count, /tern/net/stats,N worker N's counters (its lcore, then
 * those of stats.h: group "net" under their own names, the others as
 * tcp_NAME and fault_NAME), /tern/net/total the same summed over workers,
 * /tern/net/tx,N how worker N's output reached mbufs (copied or referenced
 * bytes, message references taken and dropped) and its pool's mbufs in use.
 */
#ifndef DP_DPDK_TELEMETRY_H
#define DP_DPDK_TELEMETRY_H

#include "dataplane/dpdk/worker.h"

/*
 * Publish sh's workers (NULL: withdraw them; after it returns no callback
 * reads the old ones). Registers the commands on first use. Main lcore only.
 * Returns 0 or -errno from rte_telemetry_register_cmd.
 */
int dp_dpdk_telemetry_publish(struct dp_dpdk_shared *sh);

#endif
