/* SPDX-License-Identifier: MIT */
/*
 * Start and stop of the kernel-socket dataplane: every listening socket is
 * opened before any thread starts, so a configuration that cannot bind fails
 * startup with a logged reason and nothing left behind.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/sys.h"
#include "broker/transport.h"
#include "dataplane/sock/listen.h"
#include "dataplane/sock/sock.h"
#include "dataplane/sock/tls.h"
#include "dataplane/sock/worker.h"

struct dp_sock {
	struct tern_broker *b;
	unsigned n_workers;
	unsigned n_started; /* threads created */
	int stop;	    /* atomic; read by every worker each turn */
	sem_t ready;
	struct dp_listen_addr addrs[DP_SOCK_MAX_LSOCKS];
	struct dp_tls_ctx *addr_tls[DP_SOCK_MAX_LSOCKS]; /* the TLS context of addrs[i], or NULL */
	unsigned n_addrs;
	struct dp_tls_ctx *tls[TERN_CONFIG_MAX_LISTENERS]; /* one per TLS listener, owned */
	unsigned n_tls;
	struct dp_sock_worker **workers;
	pthread_t *threads;
};

static int resolve_all(struct dp_sock *s, const struct tern_config *cfg)
{
	struct tern_listener_config def = {.port = TERN_DEFAULT_PORT, .addr = ""};
	const struct tern_listener_config *lcs = cfg->n_listeners ? cfg->listeners : &def;
	unsigned n = cfg->n_listeners ? cfg->n_listeners : 1;

	for (unsigned i = 0; i < n; i++) {
		size_t got;
		int r = dp_listen_resolve(&lcs[i], &s->addrs[s->n_addrs],
					  DP_SOCK_MAX_LSOCKS - s->n_addrs, &got);

		if (r < 0)
			return r;
		for (size_t k = 0; k < got; k++)
			s->addrs[s->n_addrs + k].listener = i;
		if (tern_listener_is_tls(&lcs[i])) {
			/* One context per listener, shared by its addresses and every worker. */
			struct dp_tls_ctx *ctx = dp_tls_ctx_create(&lcs[i]);

			if (!ctx)
				return -errno;
			s->tls[s->n_tls++] = ctx;
			for (size_t a = 0; a < got; a++)
				s->addr_tls[s->n_addrs + a] = ctx;
		}
		s->n_addrs += (unsigned)got;
	}
	return 0;
}

/* Address by address, worker 0 first: it settles the port (0) and the family (no IPv6). */
static int open_listeners(struct dp_sock *s)
{
	for (unsigned a = 0; a < s->n_addrs; a++) {
		char name[DP_LISTEN_PEER_MAX];
		int r = dp_listen_check_free(&s->addrs[a]);

		if (r < 0)
			return r;
		for (unsigned i = 0; i < s->n_workers; i++) {
			struct dp_sock_worker *w = s->workers[i];
			int fd = dp_listen_open(&s->addrs[a]);

			if (fd < 0)
				return fd;
			w->lsocks[w->n_lsocks].fd = fd;
			w->lsocks[w->n_lsocks].listener = s->addrs[a].listener;
			w->lsocks[w->n_lsocks].tls = s->addr_tls[a];
			w->n_lsocks++;
		}
		dp_listen_describe(&s->addrs[a], name);
		tern_log(TERN_LOG_NOTICE, "Opening %s%s (%u workers).", name,
			 s->addr_tls[a] ? " for TLS" : "", s->n_workers);
	}
	return 0;
}

static void stop_threads(struct dp_sock *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < s->n_started; i++)
		dp_sock_worker_wake(s->workers[i]);
	for (unsigned i = 0; i < s->n_started; i++)
		pthread_join(s->threads[i], NULL);
	s->n_started = 0;
}

static void destroy(struct dp_sock *s)
{
	if (s->workers) {
		for (unsigned i = 0; i < s->n_workers; i++) {
			if (!s->workers[i])
				continue;
			dp_sock_worker_destroy(s->workers[i]);
			tern_free(s->workers[i]);
		}
	}
	for (unsigned i = 0; i < s->n_tls; i++)
		dp_tls_ctx_free(s->tls[i]);
	tern_free(s->workers);
	tern_free(s->threads);
	sem_destroy(&s->ready);
	tern_free(s);
}

/* Threads inherit the creator's mask: start them with every signal blocked. */
static int start_threads(struct dp_sock *s)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < s->n_workers; i++) {
		err = pthread_create(&s->threads[i], NULL, dp_sock_worker_main, s->workers[i]);
		if (err)
			break;
		s->n_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Every started thread posts once, whether its engine worker started or not. */
	for (unsigned i = 0; i < s->n_started; i++)
		while (sem_wait(&s->ready) < 0 && errno == EINTR)
			;
	if (err) {
		tern_log(TERN_LOG_ERR, "cannot start worker thread: %s", strerror(err));
		return -err;
	}
	for (unsigned i = 0; i < s->n_started; i++) {
		if (s->workers[i]->start_err) {
			tern_log(TERN_LOG_ERR, "worker %u failed to start: %s", i,
				 strerror(-s->workers[i]->start_err));
			return s->workers[i]->start_err;
		}
	}
	return 0;
}

/*
 * $SYS source (broker/sys.h) while TLS listeners exist: TLS handshakes, done
 * and failed, summed and per worker. Worker 0's thread, while s runs.
 */
static void sys_tls(void *ctx, struct tern_worker *tw,
		    void (*emit)(struct tern_worker *tw, const char *topic, uint64_t value))
{
	const struct dp_sock *s = ctx;
	uint64_t done = 0, failed = 0;
	char topic[96];

	for (unsigned i = 0; i < s->n_workers; i++) {
		struct dp_sock_stats st;

		dp_sock_stats(s, i, &st);
		done += st.tls_handshakes;
		failed += st.tls_handshake_failures;
		snprintf(topic, sizeof(topic), "$SYS/broker/workers/%u/tls/handshakes", i);
		emit(tw, topic, st.tls_handshakes);
		snprintf(topic, sizeof(topic), "$SYS/broker/workers/%u/tls/handshake_failures", i);
		emit(tw, topic, st.tls_handshake_failures);
	}
	emit(tw, "$SYS/broker/tls/handshakes", done);
	emit(tw, "$SYS/broker/tls/handshake_failures", failed);
}

struct dp_sock *dp_sock_start(struct tern_broker *b, const struct tern_config *cfg)
{
	struct dp_sock *s;
	int err;

	s = tern_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->b = b;
	sem_init(&s->ready, 0, 0);
	s->n_workers = tern_broker_worker_count(b);
	if (s->n_workers == 0) {
		err = -EINVAL;
		goto err;
	}
	s->workers = tern_calloc(s->n_workers, sizeof(*s->workers));
	s->threads = tern_calloc(s->n_workers, sizeof(*s->threads));
	if (!s->workers || !s->threads) {
		err = -ENOMEM;
		goto err;
	}
	for (unsigned i = 0; i < s->n_workers; i++) {
		struct dp_sock_worker *w = tern_calloc(1, sizeof(*w));

		if (!w) {
			err = -ENOMEM;
			goto err;
		}
		w->epfd = -1;
		w->evfd = -1;
		s->workers[i] = w;
		w->tw = tern_broker_worker(b, i);
		w->id = i;
		w->stop = &s->stop;
		w->ready = &s->ready;
		w->use_uring = cfg->sock_io_uring;
	}
	err = resolve_all(s, cfg);
	if (err < 0)
		goto err;
	err = open_listeners(s);
	if (err < 0)
		goto err;
	for (unsigned i = 0; i < s->n_workers; i++) {
		err = dp_sock_worker_init(s->workers[i]);
		if (err < 0) {
			tern_log(TERN_LOG_ERR, "worker %u setup failed: %s", i, strerror(-err));
			goto err;
		}
	}
	/* Before the threads: worker 0 may publish $SYS as soon as it runs. */
	if (s->n_tls)
		tern_sys_set_source(b, sys_tls, s);
	err = start_threads(s);
	if (err < 0)
		goto err_stop;
	return s;

err_stop:
	stop_threads(s);
	tern_sys_set_source(b, NULL, NULL);
err:
	destroy(s);
	errno = -err;
	return NULL;
}

void dp_sock_stop(struct dp_sock *s)
{
	if (!s)
		return;
	stop_threads(s);
	/* RCU callbacks still pending (a takeover's hand-over) wake their worker: let them run
	 * while the workers exist. */
	rcu_barrier();
	tern_sys_set_source(s->b, NULL, NULL);
	destroy(s);
}

unsigned dp_sock_worker_count(const struct dp_sock *s)
{
	return s->n_workers;
}

int dp_sock_stats(const struct dp_sock *s, unsigned i, struct dp_sock_stats *out)
{
	const struct dp_sock_stats *st;

	if (i >= s->n_workers)
		return -EINVAL;
	st = &s->workers[i]->stats;
	out->accepted = __atomic_load_n(&st->accepted, __ATOMIC_RELAXED);
	out->accept_errors = __atomic_load_n(&st->accept_errors, __ATOMIC_RELAXED);
	out->read_bytes = __atomic_load_n(&st->read_bytes, __ATOMIC_RELAXED);
	out->reads = __atomic_load_n(&st->reads, __ATOMIC_RELAXED);
	out->written_bytes = __atomic_load_n(&st->written_bytes, __ATOMIC_RELAXED);
	out->writev_calls = __atomic_load_n(&st->writev_calls, __ATOMIC_RELAXED);
	out->eagain = __atomic_load_n(&st->eagain, __ATOMIC_RELAXED);
	out->closed = __atomic_load_n(&st->closed, __ATOMIC_RELAXED);
	out->tls_handshakes = __atomic_load_n(&st->tls_handshakes, __ATOMIC_RELAXED);
	out->tls_handshake_failures =
	    __atomic_load_n(&st->tls_handshake_failures, __ATOMIC_RELAXED);
	return 0;
}

unsigned dp_sock_listener_count(const struct dp_sock *s)
{
	return s->n_addrs;
}

uint16_t dp_sock_listener_port(const struct dp_sock *s, unsigned i)
{
	return i < s->n_addrs ? dp_listen_port(&s->addrs[i]) : 0;
}
