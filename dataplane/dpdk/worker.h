/* SPDX-License-Identifier: MIT */
/*
 * One DPDK worker lcore: its queues, pool, stack instance (dataplane/net),
 * rings for frames other lcores hand to it, and its broker worker. Shared
 * between dpdk.c (setup, teardown) and worker.c (the poll loop).
 */
#ifndef DP_DPDK_WORKER_H
#define DP_DPDK_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "broker/config.h"
#include "dataplane/net/fault.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/tcp.h"

#define DP_DPDK_MAX_WORKERS 64
#define DP_DPDK_BURST	    32

struct dp_tls_ctx;
struct tern_config;
struct tern_worker;
struct dp_dpdk_worker;
struct dp_dpdk_tcp;

/*
 * Shared by all workers. Written by the main lcore before launch and read by
 * workers after; `stop` is the only field written while they run.
 */
struct dp_dpdk_shared {
	const struct tern_config *cfg; /* the broker's, valid while the workers run */
	uint16_t port;
	unsigned n_workers;
	bool multi_queue;	  /* one queue pair per worker, RSS */
	struct rte_ring *tx_ring; /* single-queue port: frames for worker 0 to send (MP/SC) */
	struct dp_dpdk_worker *workers[DP_DPDK_MAX_WORKERS];
	/*
	 * Message bytes go out by reference (external-buffer mbufs pointing into
	 * the broker's heap): only where the port's driver copies frames in
	 * software, since heap memory has no DMA mapping for a NIC.
	 */
	bool zerocopy;
	/*
	 * The TLS context of each configured listener (index as in cfg->listeners),
	 * NULL for a plain one; n_tls of them are set. Created and freed by the
	 * main lcore (dpdk.c), used read-only by the workers' sessions.
	 */
	struct dp_tls_ctx *tls[TERN_CONFIG_MAX_LISTENERS];
	unsigned n_tls;
	bool fault; /* fault layer enabled */
	struct dp_fault_config fault_cfg;
	volatile bool stop;
};

/*
 * How one worker's engine output reached mbufs (tcp_glue.c). The worker lcore
 * writes all but msg_unrefs, which the external buffers' free callback adds to
 * atomically on whichever lcore frees the last mbuf of a delivery. Readers on
 * other threads load them relaxed.
 */
struct dp_dpdk_tx_stats {
	uint64_t bytes_copied;	   /* engine output bytes copied into mbufs */
	uint64_t bytes_referenced; /* message bytes sent by reference, not copied */
	uint64_t msg_refs;	   /* message references taken by external buffers */
	uint64_t msg_unrefs;	   /* and dropped again when their mbufs were freed */
};

/*
 * Counters of one worker's TCP glue (tcp_glue.c): written by the worker lcore
 * only, read relaxed by other threads (stats.c).
 */
struct dp_dpdk_glue_stats {
	uint64_t tls_handshakes;	 /* TLS handshakes completed */
	uint64_t tls_handshake_failures; /* failed, or the peer left during one */
	uint64_t held_chain_fail;	 /* held input that could not be chained: reset */
	uint64_t pool_waits;		 /* connection-turns whose output waited for pool mbufs */
};

/* Owned by its lcore once launched; the main lcore reads it only after the stop. */
struct dp_dpdk_worker {
	unsigned id; /* broker worker index, 0.. */
	unsigned lcore;
	struct dp_dpdk_shared *sh;
	bool own_rxq; /* polls an RX queue (every worker with RSS; worker 0 otherwise) */
	bool own_txq;
	uint16_t queue;
	struct rte_mempool *pool;
	struct rte_ring *inbox; /* frames of flows this worker owns, from worker 0 (SP/SC) */
	struct rte_ring *learn; /* ARP/ND copies to learn neighbours from (MP/SC) */
	struct dp_fault rx_fault, tx_fault;
	struct tern_worker *tw;
	struct dp_dpdk_tcp *tcp; /* the TCP stack and its connections (tcp_glue.c) */
	volatile int started;	 /* 1 bound to the broker, -errno failed */
	uint64_t handed_off;	 /* frames passed to another worker's inbox */
	uint64_t drop_handoff;	 /* frames dropped because that inbox was full */
	struct dp_dpdk_tx_stats tx;
	struct dp_dpdk_glue_stats glue;
	/* The TCP layer's counters as of the last dp_dpdk_stats_snapshot, for readers. */
	struct dp_tcp_stats tcp_stats;
	struct dp_net_iface ifc;
} __rte_cache_aligned;

/*
 * The stack's tx function (ctx is the worker): through the TX fault layer to
 * the worker's TX queue, or to worker 0's TX ring without one. Owner lcore.
 */
uint16_t dp_dpdk_worker_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n);

/* The lcore entry point (rte_eal_remote_launch); arg is the worker. */
int dp_dpdk_worker_main(void *arg);

/*
 * The owning worker of a received frame: by Toeplitz hash of a TCP flow's
 * addresses and ports, as RSS would; 0 for everything else.
 */
unsigned dp_dpdk_flow_owner(const struct rte_mbuf *m, unsigned n_workers);

#endif
