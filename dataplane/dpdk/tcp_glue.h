/* SPDX-License-Identifier: MIT */
/*
 * The glue between the userspace TCP layer (dataplane/net/tcp.h) and the
 * broker engine (broker/transport.h) on one DPDK worker: a TCP stack per
 * worker listening on the config's listeners, accepted connections handed to
 * tern_conn_accept, received bytes to tern_conn_input, the engine's output
 * queue turned into mbuf chains for dp_tcp_send at the end of each turn
 * (header bytes copied, message payloads referenced where the port allows:
 * see tcp_glue.c and dp_dpdk_shared.zerocopy). Connections of a TLS listener
 * run a memory-BIO session (dataplane/sock/tls.h) between TCP and the engine,
 * their output always copied. Input the engine paused is held and reported to
 * TCP (dp_tcp_recv_held), so the receive window closes on it.
 * Built only together with the TCP layer (meson checks for tcp.h).
 */
#ifndef DP_DPDK_TCP_GLUE_H
#define DP_DPDK_TCP_GLUE_H

#include <stdint.h>

struct dp_dpdk_worker;
struct dp_tcp_stats;
struct tern_transport_ops;

/* The transport ops the worker passes to tern_worker_start. */
const struct tern_transport_ops *dp_dpdk_tcp_transport_ops(void);

/*
 * Create the worker's TCP stack, listen on every listener of the config (the
 * default 1883 on any address when it has none) and route the stack's TCP
 * input to it. Worker lcore, after tern_worker_start. Returns 0 or -errno.
 */
int dp_dpdk_tcp_start(struct dp_dpdk_worker *w);

/*
 * Once per loop turn, after input: TCP timers at now_us, then the output of
 * every connection the engine wrote to, closes, resumed input, and frees of
 * connections that ended. Worker lcore.
 */
void dp_dpdk_tcp_turn(struct dp_dpdk_worker *w, uint64_t now_us);

/*
 * Stopping: close every connection through the engine (tern_conn_closed),
 * reset it, free the stack. Worker lcore, before tern_worker_finish.
 */
void dp_dpdk_tcp_stop(struct dp_dpdk_worker *w);

/* The worker's TCP counters, NULL before dp_dpdk_tcp_start or after the stop. Worker lcore. */
const struct dp_tcp_stats *dp_dpdk_tcp_stats(const struct dp_dpdk_worker *w);

#endif
