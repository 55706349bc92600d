/* SPDX-License-Identifier: MIT */
/*
 * One epoll worker of the kernel-socket dataplane: its listening sockets, its
 * connections, and the loop that feeds them to the engine and writes their
 * output queues at the end of each turn.
 */
#ifndef DP_SOCK_WORKER_H
#define DP_SOCK_WORKER_H

#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "broker/log.h"
#include "dataplane/sock/sock.h"

struct tern_worker;
struct dp_sock_conn;
struct dp_sock_tls_conn;
struct dp_tls_ctx;
struct dp_sock_uring;

#define DP_SOCK_RBUF_SIZE  (64 * 1024)
#define DP_SOCK_IOV_MAX	   1024
#define DP_SOCK_MAX_EVENTS 256
#define DP_SOCK_MAX_LSOCKS 64

/* What an epoll event points at: the first byte of each registered object. */
enum dp_sock_ep_kind {
	DP_SOCK_EP_LISTEN = 1,
	DP_SOCK_EP_WAKE = 2,
	DP_SOCK_EP_CONN = 3,
};

struct dp_sock_lsock {
	uint8_t kind; /* DP_SOCK_EP_LISTEN */
	int fd;
	uint64_t resume_ms;	/* accepting paused (EMFILE) until then; 0 = not paused */
	unsigned listener;	/* configured listener index, passed to tern_conn_accept */
	struct dp_tls_ctx *tls; /* the listener's TLS context (owned by dp_sock); NULL = plain */
};

/*
 * Set up by dp_sock_start before the thread runs (fields marked "setup"), then
 * owned by the worker thread, except `stats` (read by any thread) and
 * `wake_pending` (any thread).
 */
struct dp_sock_worker {
	/* setup */
	struct tern_worker *tw;
	unsigned id;
	const int *stop; /* atomic flag, set once by dp_sock_stop */
	sem_t *ready;	 /* posted once tern_worker_start returned (start_err) */
	int start_err;
	bool use_uring; /* config sock_io_uring: try io_uring for the turn's sends */
	struct dp_sock_lsock lsocks[DP_SOCK_MAX_LSOCKS];
	unsigned n_lsocks;
	int epfd;
	int evfd;
	uint8_t wake_kind; /* DP_SOCK_EP_WAKE; its address is the eventfd's epoll data */
	int wake_pending;  /* atomic: an eventfd write is on its way */

	/* worker thread */
	uint8_t *rbuf;
	struct iovec *iov;
	struct dp_sock_conn *conns; /* every open connection */
	struct dp_sock_conn *dirty; /* to flush or close at the end of the turn */
	struct dp_sock_conn *dead;  /* closed this turn, freed at its end */
	unsigned n_paused;
	uint64_t now_ms;
	struct tern_log_ratelimit rl; /* accept errors */
	uint8_t *tls_stage;	      /* one TLS record's plaintext; only with TLS listeners */
	struct dp_sock_tls_conn *tls_ready; /* TLS input buffered in OpenSSL, read next turn */
	struct tern_log_ratelimit tls_rl;   /* TLS handshake and record errors */
	struct dp_sock_uring *uring;	    /* batched sends; NULL: one sendmsg each */
	unsigned turn_reads;		    /* reads handed to the engine this turn */

	struct dp_sock_stats stats;
};

/*
 * Allocate the worker's buffers, epoll and eventfd, and register its listening
 * sockets (already in lsocks). Returns 0 or -errno; on error
 * dp_sock_worker_destroy still cleans up. Any thread, before the worker runs.
 */
int dp_sock_worker_init(struct dp_sock_worker *w);

/* Thread body (arg: the worker). Returns when *stop is set, with every connection closed. */
void *dp_sock_worker_main(void *arg);

/* Interrupt the worker's epoll_wait. Any thread. */
void dp_sock_worker_wake(struct dp_sock_worker *w);

/* Close what is left (listeners, epoll, eventfd) and free buffers; after the thread ended. */
void dp_sock_worker_destroy(struct dp_sock_worker *w);

#endif
