/* SPDX-License-Identifier: MIT */
/*
 * tern-bench's load engine: opens the publisher, subscriber or idle connections of a
 * run over non-blocking sockets on one epoll loop per thread, drives traffic at a fixed
 * or maximum rate with a bounded in-flight window, checks every delivered payload
 * (send timestamp, publisher id, sequence number) and gathers the results. It speaks
 * MQTT through bench/mqtt_wire only; it never links the broker engine.
 */
#ifndef TB_LOADGEN_H
#define TB_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "bench/hist.h"

#define TB_MAX_REPS    100
#define TB_MAX_THREADS 64
/* Payload prefix: send time (ns, CLOCK_MONOTONIC), publisher id, sequence number. */
#define TB_PAYLOAD_HDR 16

enum tb_mode {
	TB_MODE_FANOUT, /* 1 publisher -> N subscribers of the same topics */
	TB_MODE_FANIN,	/* N publishers -> subscribers of one wildcard filter */
	TB_MODE_PAIRS,	/* N publisher/subscriber pairs, one topic each */
	TB_MODE_SHARED, /* N publishers -> subscribers of one $share group */
	TB_MODE_CONN,	/* connection rate and broker memory per idle connection */
};

/* What to run; filled by the CLI, read-only during a run. */
struct tb_opts {
	enum tb_mode mode;
	struct sockaddr_storage addr; /* broker address, IPv4 or IPv6 */
	socklen_t addr_len;
	int version;	     /* TB_MQTT_V311 or TB_MQTT_V5 */
	uint8_t qos;	     /* of every PUBLISH and SUBSCRIBE */
	unsigned payload;    /* bytes, >= TB_PAYLOAD_HDR */
	unsigned topics;     /* distinct topics (see the mode) */
	unsigned publishers; /* fanout: 1 by default; pairs: the number of pairs */
	unsigned subscribers;
	unsigned connections; /* conn mode */
	unsigned conn_window; /* conn mode: handshakes in progress at most */
	double rate;	      /* total msgs/s over all publishers; 0 = as fast as allowed */
	unsigned window;      /* deliveries in flight at most, over all publishers */
	double duration;      /* seconds per repetition */
	double warmup;	      /* seconds before the first repetition */
	double drain;	      /* seconds at most to wait for stragglers after the last one */
	unsigned reps;
	unsigned threads;
	int cpus[TB_MAX_THREADS]; /* thread i runs on cpus[i % ncpus] */
	unsigned ncpus;
	pid_t broker_pid; /* 0: no broker CPU/RSS sampling */
	uint16_t keepalive;
	char prefix[64]; /* topic prefix, unique per run so parallel runs do not mix */
	bool progress;	 /* live line on stderr each second */
	/*
	 * Also measure latency to the kernel's arrival of each delivery at the subscriber's
	 * socket (software receive timestamp): that minus the conventional figure is the
	 * load generator's own read lag. The conventional read-time latency is unchanged.
	 */
	bool rx_timestamps;
	/*
	 * Poll epoll without sleeping for this many ns after the last event (0: off): the
	 * deliveries of a fan-out burst then find the thread awake. On loopback the
	 * sender's CPU pays for waking a sleeping reader, so this also takes that cost
	 * off the broker's CPU figure.
	 */
	uint64_t busy_poll_ns;
};

/* One repetition (a measurement window of opts.duration seconds). */
struct tb_rep_result {
	uint64_t published; /* PUBLISHes sent with a send time in this window */
	uint64_t expected;  /* published x subscribers that should get each */
	uint64_t delivered; /* first receipts of those */
	uint64_t duplicates;
	uint64_t reordered;
	double published_rate; /* msgs/s */
	double delivered_rate;
	struct tb_hist latency; /* ns, from the payload's send time to read() */
	/*
	 * rx_timestamps only (else empty), ns from the send time: arrival = the kernel
	 * queued the delivery at the subscriber's socket; first / last = the earliest and
	 * the latest arrival of each message over all its subscribers (one publisher and
	 * one thread only: a message's receipts are seen by one thread).
	 */
	struct tb_hist arrival, first_arrival, last_arrival;
	double broker_cpu_pct;	/* of one core, -1 without --broker-pid */
	uint64_t broker_rss_kb; /* at the end of the window, 0 without --broker-pid */
	double bench_cpu_pct;	/* all tern-bench threads, of one core */
	double bench_max_thread_pct;
};

/* Per publisher, over the whole run (warm-up included). */
struct tb_pub_result {
	uint64_t published;
	uint64_t expected;
	uint64_t delivered; /* first receipts */
	uint64_t duplicates;
	uint64_t reordered;
	uint64_t lost; /* expected - delivered */
};

/* conn mode: one connect, hold, disconnect cycle per repetition. */
struct tb_conn_result {
	double connect_s;    /* first connect() to the last CONNACK */
	double connect_rate; /* connections/s */
	uint64_t rss_before_kb;
	uint64_t rss_connected_kb; /* after all connected and opts.duration idle */
	uint64_t rss_after_kb;	   /* 1 s after all disconnected */
	double bytes_per_conn;	   /* (connected - before) / connections */
	double bench_cpu_pct;
};

/* Everything a run measured; owned by the caller, filled by tb_loadgen_run. */
struct tb_result {
	unsigned nreps;
	struct tb_rep_result reps[TB_MAX_REPS];
	unsigned npubs;
	struct tb_pub_result *pubs; /* npubs entries; free with tb_result_free */
	struct tb_conn_result conn[TB_MAX_REPS];
	uint64_t lost; /* sum over publishers */
	uint64_t duplicates;
	uint64_t reordered;
	uint64_t rx_msgs;	     /* PUBLISHes received by subscribers, all phases */
	uint64_t rx_bytes;	     /* bytes read by subscribers, all phases */
	uint64_t rx_alias_only;	     /* v5: PUBLISHes received with an empty topic (alias) */
	uint64_t tx_msgs;	     /* PUBLISHes sent */
	uint64_t tx_bytes;	     /* bytes written by publishers */
	uint16_t broker_alias_max;   /* v5: Topic Alias Maximum in the broker's CONNACK */
	uint16_t broker_receive_max; /* v5: Receive Maximum in the broker's CONNACK */
	bool bench_saturated;	     /* a tern-bench thread used >= 90% of a core in a window */
	double drain_s;		     /* seconds spent waiting for stragglers */
	char error[256];	     /* why the run failed, when tb_loadgen_run returns < 0 */
};

/*
 * tb_loadgen_run - run the benchmark described by o and fill res.
 * Returns 0, or a negative errno with res->error saying why: -ECONNREFUSED and other
 * socket errors (a connection failed or was closed by the broker), -EPROTO (the broker
 * sent a malformed or unexpected packet, or refused CONNECT/SUBSCRIBE), -ETIMEDOUT
 * (connections or subscriptions not ready within 60 s), -ENOMEM, -EMFILE (raise
 * RLIMIT_NOFILE). Loss is not an error here; the caller judges res.
 * Starts opts.threads threads and joins them before returning; not reentrant.
 */
int tb_loadgen_run(const struct tb_opts *o, struct tb_result *res);

/*
 * tb_result_free - free what tb_loadgen_run allocated in res. Accepts a zeroed res.
 */
void tb_result_free(struct tb_result *res);

#endif
