/* SPDX-License-Identifier: MIT */
/*
 * The epoll loop of one kernel-socket worker.
 *
 * A turn: wait (RCU offline), handle events (accept, read into the worker's
 * buffer and hand the bytes to the engine), run the engine's own work
 * (tern_worker_poll), then write every connection whose output queue got data
 * during the turn, many packets per sendmsg. The engine may ask to write or to
 * close any connection of this worker from inside any call, so those requests
 * only put the connection on the turn's dirty list; the work happens at the
 * end of the turn. Connections closed during a turn are freed at its end, so a
 * later event of the same epoll batch or a dirty-list entry never sees freed
 * memory. Level-triggered epoll: a connection that still has input after its
 * read budget comes back next turn, so one client cannot starve the others.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/alloc.h"
#include "broker/log.h"
#include "broker/outq.h"
#include "broker/transport.h"
#include "dataplane/sock/listen.h"
#include "dataplane/sock/worker.h"

#define READS_PER_TURN	  4  /* per connection */
#define ACCEPTS_PER_TURN  64 /* per listening socket */
#define CLOSE_DRAIN_READS 4
#define ACCEPT_PAUSE_MS	  100
#define ERR_LOG_INTERVAL  10000
#define ERR_LOG_BURST	  5

enum conn_flag {
	CONN_DIRTY = 1u << 0,	  /* on the worker's dirty list */
	CONN_CLOSING = 1u << 1,	  /* the engine called ops->close */
	CONN_DEAD = 1u << 2,	  /* tern_conn_closed called; freed at the end of the turn */
	CONN_POLLOUT = 1u << 3,	  /* EPOLLOUT armed */
	CONN_INPUT_OFF = 1u << 4, /* the engine refused more input */
	CONN_PAUSED = 1u << 5,	  /* the engine paused input until output drains */
};

struct dp_sock_conn {
	uint8_t kind; /* DP_SOCK_EP_CONN */
	uint8_t flags;
	int fd;
	struct dp_sock_worker *w;
	struct tern_conn *tc;
	struct dp_sock_conn *dirty_next;
	struct dp_sock_conn *prev, *next; /* w->conns; `next` links w->dead once dead */
};

static void stat_add(uint64_t *counter, uint64_t n)
{
	/* Single writer: a relaxed store lets other threads read without tearing. */
	__atomic_store_n(counter, *counter + n, __ATOMIC_RELAXED);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void mark_dirty(struct dp_sock_conn *c)
{
	if (c->flags & CONN_DIRTY)
		return;
	c->flags |= CONN_DIRTY;
	c->dirty_next = c->w->dirty;
	c->w->dirty = c;
}

static void op_want_write(void *tctx)
{
	struct dp_sock_conn *c = tctx;

	if (c->flags & (CONN_CLOSING | CONN_DEAD))
		return;
	mark_dirty(c);
}

static void op_close(void *tctx)
{
	struct dp_sock_conn *c = tctx;

	if (c->flags & (CONN_CLOSING | CONN_DEAD))
		return;
	c->flags |= CONN_CLOSING;
	mark_dirty(c);
}

static void apply_events(struct dp_sock_worker *w, struct dp_sock_conn *c);

static void op_pause_input(void *tctx, bool paused)
{
	struct dp_sock_conn *c = tctx;

	if (c->flags & (CONN_CLOSING | CONN_DEAD) || paused == !!(c->flags & CONN_PAUSED))
		return;
	if (paused)
		c->flags |= CONN_PAUSED;
	else
		c->flags &= (uint8_t)~CONN_PAUSED;
	apply_events(c->w, c);
}

static void op_wake(void *dp_worker)
{
	dp_sock_worker_wake(dp_worker);
}

static const struct tern_transport_ops sock_ops = {
    .want_write = op_want_write,
    .close = op_close,
    .pause_input = op_pause_input,
    .wake = op_wake,
};

void dp_sock_worker_wake(struct dp_sock_worker *w)
{
	uint64_t one = 1;
	ssize_t r;

	/* Many producers per turn (fan-out) cost one write: the first one does it. */
	if (__atomic_exchange_n(&w->wake_pending, 1, __ATOMIC_SEQ_CST))
		return;
	do {
		r = write(w->evfd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
}

static void wake_drain(struct dp_sock_worker *w)
{
	uint64_t v;

	/* Clear before reading: a producer that set it after this writes again. */
	__atomic_store_n(&w->wake_pending, 0, __ATOMIC_SEQ_CST);
	while (read(w->evfd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/* Tell epoll what the connection's flags say it waits for. */
static void apply_events(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	ev.events = (c->flags & (CONN_INPUT_OFF | CONN_PAUSED) ? 0 : EPOLLIN) |
		    (c->flags & CONN_POLLOUT ? EPOLLOUT : 0);
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void set_events(struct dp_sock_worker *w, struct dp_sock_conn *c, bool pollout)
{
	if (pollout == !!(c->flags & CONN_POLLOUT))
		return;
	if (pollout)
		c->flags |= CONN_POLLOUT;
	else
		c->flags &= (uint8_t)~CONN_POLLOUT;
	apply_events(w, c);
}

static void input_off(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	c->flags |= CONN_INPUT_OFF;
	apply_events(w, c);
}

static void conn_unlink(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = w->dead;
	w->dead = c;
}

/*
 * Write the output queue until it is empty or the socket is full.
 * Returns 0 when drained, -EAGAIN when full, another -errno when the socket failed.
 */
static int conn_flush(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct tern_outq *q = tern_conn_outq(c->tc);

	while (!tern_outq_empty(q)) {
		struct msghdr mh = {.msg_iov = w->iov};
		size_t want = 0;
		ssize_t r;

		mh.msg_iovlen = tern_outq_iov(q, w->iov, DP_SOCK_IOV_MAX);
		for (size_t i = 0; i < mh.msg_iovlen; i++)
			want += w->iov[i].iov_len;
		/* sendmsg rather than writev: MSG_NOSIGNAL instead of SIGPIPE. */
		r = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		stat_add(&w->stats.writev_calls, 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				stat_add(&w->stats.eagain, 1);
				return -EAGAIN;
			}
			return -errno;
		}
		tern_outq_consume(q, (size_t)r);
		stat_add(&w->stats.written_bytes, (uint64_t)r);
		tern_conn_wrote(c->tc, (size_t)r);
		if ((size_t)r < want) {
			/* A short write on a non-blocking socket: its buffer is full. */
			stat_add(&w->stats.eagain, 1);
			return -EAGAIN;
		}
	}
	return 0;
}

/* The transport is gone under us (EOF, reset, error): tell the engine. */
static void close_peer(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->flags |= CONN_DEAD;
	conn_unlink(w, c);
	stat_add(&w->stats.closed, 1);
	tern_conn_closed(c->tc, true);
}

/* The engine asked to close (or we are stopping): flush what fits, FIN, close. */
static void close_local(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	int r = conn_flush(w, c);

	if (r == 0 || r == -EAGAIN) {
		shutdown(c->fd, SHUT_WR);
		/*
		 * Unread input makes close() send RST, which discards what is still
		 * queued for the peer: read what has already arrived.
		 */
		for (int i = 0; i < CLOSE_DRAIN_READS; i++)
			if (read(c->fd, w->rbuf, DP_SOCK_RBUF_SIZE) <= 0)
				break;
	}
	close(c->fd);
	c->fd = -1;
	c->flags |= CONN_DEAD;
	conn_unlink(w, c);
	stat_add(&w->stats.closed, 1);
	tern_conn_closed(c->tc, false);
}

static void conn_read(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	for (int i = 0; i < READS_PER_TURN; i++) {
		ssize_t r = read(c->fd, w->rbuf, DP_SOCK_RBUF_SIZE);

		if (r > 0) {
			stat_add(&w->stats.reads, 1);
			stat_add(&w->stats.read_bytes, (uint64_t)r);
			if (tern_conn_input(c->tc, w->rbuf, (size_t)r) < 0) {
				if (!(c->flags & CONN_CLOSING))
					input_off(w, c);
				return;
			}
			if (c->flags & (CONN_CLOSING | CONN_PAUSED))
				return;
			/* Less than a buffer: the socket is very likely empty now. */
			if (r < DP_SOCK_RBUF_SIZE)
				return;
			continue;
		}
		if (r < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close_peer(w, c);
		return;
	}
}

static void conn_event(struct dp_sock_worker *w, struct dp_sock_conn *c, uint32_t events)
{
	/* A closing connection is finished at the end of the turn; its input is ignored. */
	if (c->flags & (CONN_CLOSING | CONN_DEAD))
		return;
	if (c->flags & (CONN_INPUT_OFF | CONN_PAUSED)) {
		/* Not reading (waiting for the engine's close, or paused); the peer went first. */
		if (events & (EPOLLHUP | EPOLLERR))
			close_peer(w, c);
		else if (events & EPOLLOUT)
			mark_dirty(c);
		return;
	}
	if (events & EPOLLOUT)
		mark_dirty(c);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(w, c);
}

static void accept_pause(struct dp_sock_worker *w, struct dp_sock_lsock *ls)
{
	struct epoll_event ev = {.events = 0, .data.ptr = ls};

	/* Out of descriptors: retrying at once would spin on the same error. */
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, ls->fd, &ev);
	ls->resume_ms = w->now_ms + ACCEPT_PAUSE_MS;
	w->n_paused++;
}

static void accept_resume_due(struct dp_sock_worker *w)
{
	for (unsigned i = 0; i < w->n_lsocks && w->n_paused; i++) {
		struct dp_sock_lsock *ls = &w->lsocks[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ls};

		if (ls->resume_ms == 0 || ls->resume_ms > w->now_ms)
			continue;
		ls->resume_ms = 0;
		w->n_paused--;
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, ls->fd, &ev);
	}
}

static void accept_error(struct dp_sock_worker *w, struct dp_sock_lsock *ls, int err)
{
	uint64_t suppressed = 0;

	stat_add(&w->stats.accept_errors, 1);
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
		accept_pause(w, ls);
	if (!tern_log_ratelimit_allow(&w->rl, w->now_ms, &suppressed))
		return;
	if (suppressed)
		tern_log(TERN_LOG_WARNING, "accept failed: %s (%llu more since the last report)",
			 strerror(err), (unsigned long long)suppressed);
	else
		tern_log(TERN_LOG_WARNING, "accept failed: %s", strerror(err));
}

static void accept_one(struct dp_sock_worker *w, const struct dp_sock_lsock *ls, int fd,
		       const struct sockaddr *sa)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char peer[DP_LISTEN_PEER_MAX];
	struct dp_sock_conn *c;
	int one = 1;

	/* Small MQTT packets must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = tern_calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->kind = DP_SOCK_EP_CONN;
	c->fd = fd;
	c->w = w;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		tern_free(c);
		return;
	}
	dp_listen_format(sa, peer);
	c->tc = tern_conn_accept(w->tw, c, peer, ls->listener);
	if (!c->tc) {
		close(fd);
		/* Freed with the turn's dead ones in case the engine touched it anyway. */
		c->fd = -1;
		c->flags |= CONN_DEAD;
		c->next = w->dead;
		w->dead = c;
		return;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	stat_add(&w->stats.accepted, 1);
}

static void listen_event(struct dp_sock_worker *w, struct dp_sock_lsock *ls)
{
	for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd =
		    accept4(ls->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* The connection died in the queue: try the next one. */
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
			    errno == EPERM)
				continue;
			accept_error(w, ls, errno);
			return;
		}
		accept_one(w, ls, fd, (const struct sockaddr *)&ss);
	}
}

/* End of turn: write (or close) every connection the turn made dirty. */
static void flush_dirty(struct dp_sock_worker *w)
{
	struct dp_sock_conn *c;

	while ((c = w->dirty)) {
		int r;

		w->dirty = c->dirty_next;
		if (c->flags & CONN_DEAD) {
			c->flags &= (uint8_t)~CONN_DIRTY;
			continue;
		}
		if (c->flags & CONN_CLOSING) {
			c->flags &= (uint8_t)~CONN_DIRTY;
			close_local(w, c);
			continue;
		}
		/* Still marked dirty while writing: a refill from tern_conn_wrote needs no entry.
		 */
		r = conn_flush(w, c);
		c->flags &= (uint8_t)~CONN_DIRTY;
		if (c->flags & CONN_CLOSING)
			close_local(w, c);
		else if (r == 0)
			set_events(w, c, false);
		else if (r == -EAGAIN)
			set_events(w, c, true);
		else
			close_peer(w, c);
	}
}

static void free_dead(struct dp_sock_worker *w)
{
	while (w->dead) {
		struct dp_sock_conn *c = w->dead;

		w->dead = c->next;
		tern_free(c);
	}
}

static int wait_timeout(struct dp_sock_worker *w, int timeout)
{
	for (unsigned i = 0; i < w->n_lsocks && w->n_paused; i++) {
		uint64_t at = w->lsocks[i].resume_ms;

		if (at == 0)
			continue;
		if (at <= w->now_ms)
			return 0;
		if (at - w->now_ms < (uint64_t)timeout)
			timeout = (int)(at - w->now_ms);
	}
	return timeout;
}

static void run_loop(struct dp_sock_worker *w)
{
	struct epoll_event events[DP_SOCK_MAX_EVENTS];
	int timeout = 0;

	while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
		int n;

		if (w->n_paused)
			timeout = wait_timeout(w, timeout);
		tern_worker_offline(w->tw);
		n = epoll_wait(w->epfd, events, DP_SOCK_MAX_EVENTS, timeout);
		tern_worker_online(w->tw);
		w->now_ms = now_ms();
		if (n < 0) {
			if (errno != EINTR)
				tern_log(TERN_LOG_ERR, "epoll_wait: %s", strerror(errno));
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			uint8_t *kind = events[i].data.ptr;

			if (*kind == DP_SOCK_EP_CONN)
				conn_event(w, (struct dp_sock_conn *)kind, events[i].events);
			else if (*kind == DP_SOCK_EP_LISTEN)
				listen_event(w, (struct dp_sock_lsock *)kind);
			else
				wake_drain(w);
		}
		if (w->n_paused)
			accept_resume_due(w);
		timeout = tern_worker_poll(w->tw);
		flush_dirty(w);
		if (tern_worker_has_work(w->tw))
			timeout = 0;
		free_dead(w);
		tern_worker_quiescent(w->tw);
	}
}

static void close_listeners(struct dp_sock_worker *w)
{
	for (unsigned i = 0; i < w->n_lsocks; i++) {
		if (w->lsocks[i].fd >= 0)
			close(w->lsocks[i].fd);
		w->lsocks[i].fd = -1;
	}
}

static void shutdown_worker(struct dp_sock_worker *w)
{
	close_listeners(w);
	/* Engine callbacks during these closes only mark connections still in the list. */
	while (w->conns)
		close_local(w, w->conns);
	w->dirty = NULL;
	free_dead(w);
	tern_worker_quiescent(w->tw);
}

void *dp_sock_worker_main(void *arg)
{
	struct dp_sock_worker *w = arg;
	char name[16];
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	snprintf(name, sizeof(name), "w%u", w->id);
	tern_log_set_thread_name(name);
	snprintf(name, sizeof(name), "tern-w%u", w->id);
	pthread_setname_np(pthread_self(), name);

	w->start_err = tern_worker_start(w->tw, &sock_ops, w);
	sem_post(w->ready);
	if (w->start_err)
		return NULL;
	w->now_ms = now_ms();
	run_loop(w);
	shutdown_worker(w);
	tern_worker_finish(w->tw);
	return NULL;
}

int dp_sock_worker_init(struct dp_sock_worker *w)
{
	struct epoll_event ev = {.events = EPOLLIN};

	w->epfd = -1;
	w->evfd = -1;
	w->wake_kind = DP_SOCK_EP_WAKE;
	w->rl.interval_ms = ERR_LOG_INTERVAL;
	w->rl.burst = ERR_LOG_BURST;
	w->rbuf = tern_malloc(DP_SOCK_RBUF_SIZE);
	w->iov = tern_calloc(DP_SOCK_IOV_MAX, sizeof(*w->iov));
	if (!w->rbuf || !w->iov)
		return -ENOMEM;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->evfd < 0)
		return -errno;
	ev.data.ptr = &w->wake_kind;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
		return -errno;
	for (unsigned i = 0; i < w->n_lsocks; i++) {
		w->lsocks[i].kind = DP_SOCK_EP_LISTEN;
		ev.data.ptr = &w->lsocks[i];
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lsocks[i].fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

void dp_sock_worker_destroy(struct dp_sock_worker *w)
{
	close_listeners(w);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	w->epfd = -1;
	w->evfd = -1;
	tern_free(w->rbuf);
	tern_free(w->iov);
	w->rbuf = NULL;
	w->iov = NULL;
}
