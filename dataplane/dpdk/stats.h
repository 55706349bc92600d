/* SPDX-License-Identifier: MIT */
/*
 * Every counter of one DPDK worker lcore as (group, name, value): the stack's
 * frame counters (group "net", with the hand-off counters), the TCP layer's
 * (group "tcp", a snapshot the worker refreshes), the TCP glue's (groups
 * "tls" and "glue") and the fault layer's (group "fault"). One list for both
 * exporters: $SYS and DPDK telemetry.
 */
#ifndef DP_DPDK_STATS_H
#define DP_DPDK_STATS_H

#include <stdint.h>

struct dp_dpdk_shared;
struct dp_dpdk_worker;
struct tern_worker;

/* Room for every counter of a worker; dp_dpdk_stats_read never returns more. */
#define DP_DPDK_STATS_MAX 128

struct dp_dpdk_stat {
	const char *group; /* "net", "tcp" or "fault" */
	const char *name;  /* stable snake_case name within the group */
	uint64_t value;
};

/*
 * Fill out with w's counters, always the same ones in the same order, and
 * return how many (at most DP_DPDK_STATS_MAX). Any thread while w runs:
 * counters are read with relaxed loads (each a value the owner wrote).
 */
unsigned dp_dpdk_stats_read(const struct dp_dpdk_worker *w, struct dp_dpdk_stat *out);

/*
 * Copy the TCP layer's counters into w (tcp_stats), where other threads may
 * read them: the TCP stack itself goes away before the worker does. Owner
 * lcore; cheap enough for a few times a second.
 */
void dp_dpdk_stats_snapshot(struct dp_dpdk_worker *w);

/*
 * The dataplane's $SYS source (broker/sys.h, ctx the shared state):
 * $SYS/broker/dpdk/lcore/L/GROUP/NAME for each worker on lcore L and
 * $SYS/broker/dpdk/total/GROUP/NAME summed over them; with a TLS listener
 * also the sock dataplane's $SYS/broker/tls/... and
 * $SYS/broker/workers/N/tls/... topics. Worker 0's thread.
 */
void dp_dpdk_stats_sys(void *ctx, struct tern_worker *tw,
		       void (*emit)(struct tern_worker *tw, const char *topic, uint64_t value));

#endif
