/* SPDX-License-Identifier: MIT */
/*
 * The kernel-socket dataplane: one epoll worker thread per broker worker, each
 * with its own SO_REUSEPORT listening sockets, so a connection lives on the
 * worker that accepted it. Talks to the engine only through broker/transport.h.
 */
#ifndef DP_SOCK_H
#define DP_SOCK_H

#include <stdint.h>

struct tern_broker;
struct tern_config;
struct dp_sock;

/*
 * Counters of one worker. Each is written by its worker only (relaxed atomic
 * stores) and may be read by any thread with dp_sock_stats().
 */
struct dp_sock_stats {
	uint64_t accepted;	/* connections handed to the engine */
	uint64_t accept_errors; /* accept() failures other than EAGAIN (EMFILE...) */
	uint64_t read_bytes;
	uint64_t reads; /* read() calls that returned data (TLS: records' plaintext reads) */
	uint64_t written_bytes; /* TLS listeners: plaintext bytes */
	uint64_t writev_calls;
	uint64_t eagain; /* writes that found the socket buffer full (EAGAIN or short write) */
	uint64_t closed; /* connections closed, by either side */
	uint64_t tls_handshakes;	 /* TLS handshakes completed */
	uint64_t tls_handshake_failures; /* TLS handshakes failed or abandoned by the peer */
};

/*
 * Open every listening socket of cfg (the default 1883 on all addresses when
 * it has none) for every worker, then start one epoll thread per broker worker
 * (tern_broker_worker_count) and wait until each has bound itself to its
 * engine worker. A listener port of 0 takes a port the kernel chooses (see
 * dp_sock_listener_port). Call from the main thread, which keeps the signals:
 * worker threads block them all.
 *
 * Returns NULL with errno set and nothing left open or running on failure:
 * EADDRINUSE (port taken), EADDRNOTAVAIL, EACCES, EINVAL (unresolvable
 * address or no workers), ENOMEM, or the error of tern_worker_start. The
 * reason is logged.
 */
struct dp_sock *dp_sock_start(struct tern_broker *b, const struct tern_config *cfg);

/*
 * Stop: each worker closes its listeners, then closes every connection through
 * the engine (best-effort flush, FIN, tern_conn_closed(c, false)), calls
 * tern_worker_finish and exits. Joins the threads, waits for pending RCU
 * callbacks (rcu_barrier: they may wake a worker) and frees s. NULL is
 * ignored. Call from the thread that called dp_sock_start, once, outside any
 * RCU read-side critical section.
 */
void dp_sock_stop(struct dp_sock *s);

/* Number of worker threads. Thread-safe. */
unsigned dp_sock_worker_count(const struct dp_sock *s);

/*
 * Copy worker i's counters into *out. Returns 0 or -EINVAL if i is out of
 * range. Any thread, while s is running; each counter is read atomically, the
 * set is not a snapshot.
 */
int dp_sock_stats(const struct dp_sock *s, unsigned i, struct dp_sock_stats *out);

/*
 * Number of bound addresses (one per configured listener, more when an
 * address name resolved to several), and the port of address i in config
 * order (0 if i is out of range). Thread-safe.
 */
unsigned dp_sock_listener_count(const struct dp_sock *s);
uint16_t dp_sock_listener_port(const struct dp_sock *s, unsigned i);

#endif
