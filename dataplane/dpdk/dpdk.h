/* SPDX-License-Identifier: MIT */
/*
 * The DPDK dataplane: EAL from the config's dpdk_eal, one port, one worker
 * per EAL worker lcore (the main lcore keeps signals and control, like the
 * sock dataplane's main thread), each with its own RX/TX queue pair when the
 * port has enough queues (RSS over TCP/IPv4 and TCP/IPv6), else one lcore
 * receives and hands flows to their owners by the same hash. Each worker runs
 * the userspace stack of dataplane/net and its broker worker.
 */
#ifndef DP_DPDK_H
#define DP_DPDK_H

#include <stdint.h>

struct tern_broker;
struct tern_config;
struct dp_dpdk;

/*
 * Initialise EAL with cfg->dpdk_eal and check cfg->dpdk_port, before the
 * broker is created (it needs dp_dpdk_worker_count workers). Call once per
 * process, from the main thread. Returns NULL with errno set and the reason
 * logged: EINVAL (EAL refused the arguments, fewer than two lcores, bad address, a
 * TLS listener's bad certificate, key or cipher list), ENOENT/EACCES (a TLS
 * listener's file cannot be read), ENODEV (no such port), ENOMEM. TLS listeners
 * get their contexts here (dataplane/sock/tls.h), before EAL starts.
 */
struct dp_dpdk *dp_dpdk_init(const struct tern_config *cfg);

/* Worker lcores, one broker worker each. */
unsigned dp_dpdk_worker_count(const struct dp_dpdk *d);

/*
 * Configure and start the port, create pools and rings, and launch one
 * worker per worker lcore bound to broker worker i; waits until each has
 * bound itself. Returns 0 or -errno (logged); d stays valid for
 * dp_dpdk_stop either way.
 */
int dp_dpdk_start(struct dp_dpdk *d, struct tern_broker *b);

/*
 * Stop the workers, print their counters at notice level, stop the port,
 * free everything and clean up EAL. NULL is ignored. Main thread, once.
 */
void dp_dpdk_stop(struct dp_dpdk *d);

#endif
