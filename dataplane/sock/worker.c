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
#include "dataplane/sock/tls.h"
#include "dataplane/sock/uring.h"
#include "dataplane/sock/worker.h"

/*
 * Reads per connection per turn. Everything a turn reads is decoded and queued
 * before any of it is written, so the turn's working set is up to this many
 * buffers per readable connection: with 100 publishers of 1 KiB messages, 4
 * reads a turn made 17 MB of fresh messages per turn (page faults, cold copies
 * into the sockets) and cost 4x the CPU per message of 1 read.
 */
#define READS_PER_TURN	   1
#define ACCEPTS_PER_TURN   64 /* per listening socket */
#define CLOSE_DRAIN_READS  4
#define ACCEPT_PAUSE_MS	   100
#define ERR_LOG_INTERVAL   10000
#define ERR_LOG_BURST	   5
#define TLS_READS_PER_TURN 16 /* records, per connection: 256 KiB at most, as plain reads */
#define BATCH_FANOUT	   4  /* flush_batch: connections to write per read this turn, at least */

enum conn_flag {
	CONN_DIRTY = 1u << 0,	  /* on the worker's dirty list */
	CONN_CLOSING = 1u << 1,	  /* the engine called ops->close */
	CONN_DEAD = 1u << 2,	  /* tern_conn_closed called; freed at the end of the turn */
	CONN_POLLOUT = 1u << 3,	  /* EPOLLOUT armed */
	CONN_INPUT_OFF = 1u << 4, /* the engine refused more input */
	CONN_PAUSED = 1u << 5,	  /* the engine paused input until output drains */
	CONN_TLS = 1u << 6,	  /* a struct dp_sock_tls_conn */
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

/*
 * A connection of a TLS listener: plain connections stay the smaller struct and
 * never reach the TLS code (one flag test per read and flush).
 */
struct dp_sock_tls_conn {
	struct dp_sock_conn c;
	struct dp_tls *tls;
	struct dp_sock_tls_conn *ready_next; /* on w->tls_ready */
	bool on_ready;
	bool established;	       /* handshake complete */
	bool write_wants_read;	       /* a record waits for input before it can go */
	bool read_wants_write;	       /* reading waits for room to send */
	char peer[DP_LISTEN_PEER_MAX]; /* for failure logs: getpeername fails after a reset */
};

static struct dp_sock_tls_conn *tls_of(struct dp_sock_conn *c)
{
	return (struct dp_sock_tls_conn *)c;
}

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
static void tls_ready_add(struct dp_sock_worker *w, struct dp_sock_tls_conn *t);

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
	/* Records OpenSSL already read from the socket raise no epoll event. */
	if (!paused && (c->flags & CONN_TLS) && dp_tls_has_pending(tls_of(c)->tls))
		tls_ready_add(c->w, tls_of(c));
}

static int op_identity(void *tctx, const char **name)
{
	struct dp_sock_conn *c = tctx;

	if (!(c->flags & CONN_TLS) || !tls_of(c)->tls)
		return 0;
	return dp_tls_identity(tls_of(c)->tls, name);
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
    .identity = op_identity,
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
	if (c->flags & CONN_TLS) {
		if (tls_of(c)->write_wants_read)
			ev.events |= EPOLLIN;
		/* While input is paused a read waits anyway; EPOLLOUT would only spin. */
		if (tls_of(c)->read_wants_write && !(c->flags & (CONN_INPUT_OFF | CONN_PAUSED)))
			ev.events |= EPOLLOUT;
	}
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
static int tls_flush(struct dp_sock_worker *w, struct dp_sock_conn *c);

static int conn_flush(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct tern_outq *q = tern_conn_outq(c->tc);

	if (c->flags & CONN_TLS)
		return tls_flush(w, c);
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

static void tls_release(struct dp_sock_worker *w, struct dp_sock_conn *c);

/* The transport is gone under us (EOF, reset, error): tell the engine. */
static void close_peer(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	if (c->flags & CONN_TLS)
		tls_release(w, c);
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
		if (c->flags & CONN_TLS)
			dp_tls_shutdown(tls_of(c)->tls);
		shutdown(c->fd, SHUT_WR);
		/*
		 * Unread input makes close() send RST, which discards what is still
		 * queued for the peer: read what has already arrived.
		 */
		for (int i = 0; i < CLOSE_DRAIN_READS; i++)
			if (read(c->fd, w->rbuf, DP_SOCK_RBUF_SIZE) <= 0)
				break;
	}
	if (c->flags & CONN_TLS)
		tls_release(w, c);
	close(c->fd);
	c->fd = -1;
	c->flags |= CONN_DEAD;
	conn_unlink(w, c);
	stat_add(&w->stats.closed, 1);
	tern_conn_closed(c->tc, false);
}

/*
 * Hand n bytes of w->rbuf to the engine. False when the connection stops
 * reading for now: closing, input refused, or paused until its output drains.
 */
static bool deliver_input(struct dp_sock_worker *w, struct dp_sock_conn *c, size_t n)
{
	stat_add(&w->stats.reads, 1);
	stat_add(&w->stats.read_bytes, (uint64_t)n);
	w->turn_reads++;
	if (tern_conn_input(c->tc, w->rbuf, n) < 0) {
		if (!(c->flags & CONN_CLOSING))
			input_off(w, c);
		return false;
	}
	return !(c->flags & (CONN_CLOSING | CONN_PAUSED));
}

static void conn_read(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	for (int i = 0; i < READS_PER_TURN; i++) {
		ssize_t r = read(c->fd, w->rbuf, DP_SOCK_RBUF_SIZE);

		if (r > 0) {
			if (!deliver_input(w, c, (size_t)r))
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

/*
 * TLS connections: the same turn structure, with OpenSSL between the socket
 * and the engine. The handshake runs on the connection's first events, under
 * the engine's connect timeout (tern_conn_accept came first); a failed one
 * closes that connection only. Reads go until OpenSSL wants more input;
 * records it already holds are read next turn (w->tls_ready). A read that
 * needs to send, or a write that needs input, arms the other epoll event.
 */

static void tls_ready_add(struct dp_sock_worker *w, struct dp_sock_tls_conn *t)
{
	if (t->on_ready)
		return;
	t->on_ready = true;
	t->ready_next = w->tls_ready;
	w->tls_ready = t;
}

static void tls_release(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct dp_sock_tls_conn *t = tls_of(c);

	if (t->on_ready) {
		for (struct dp_sock_tls_conn **pp = &w->tls_ready; *pp; pp = &(*pp)->ready_next) {
			if (*pp == t) {
				*pp = t->ready_next;
				break;
			}
		}
		t->on_ready = false;
	}
	dp_tls_free(t->tls);
	t->tls = NULL;
}

/* Rate-limited: a scanner or a fleet with the wrong CA must not flood the log. */
static void tls_log_failure(struct dp_sock_worker *w, struct dp_sock_conn *c, const char *what,
			    const char *reason)
{
	dp_tls_log_failure(&w->tls_rl, w->now_ms, what, tls_of(c)->peer, reason);
}

static void tls_set_read_wants_write(struct dp_sock_worker *w, struct dp_sock_tls_conn *t, bool on)
{
	if (t->read_wants_write == on)
		return;
	t->read_wants_write = on;
	apply_events(w, &t->c);
}

/* True once the handshake is complete; false while it waits or after it failed (closed). */
static bool tls_handshake(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct dp_sock_tls_conn *t = tls_of(c);
	int r;

	if (t->established)
		return true;
	r = dp_tls_handshake(t->tls);
	if (r == 0) {
		t->established = true;
		stat_add(&w->stats.tls_handshakes, 1);
		tls_set_read_wants_write(w, t, false);
		return true;
	}
	if (r == -EAGAIN) {
		tls_set_read_wants_write(w, t, dp_tls_want(t->tls) == DP_TLS_WANT_WRITE);
		return false;
	}
	stat_add(&w->stats.tls_handshake_failures, 1);
	tls_log_failure(w, c, "handshake", dp_tls_error(t->tls));
	close_peer(w, c);
	return false;
}

static void tls_read(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct dp_sock_tls_conn *t = tls_of(c);

	if (!tls_handshake(w, c))
		return;
	for (int i = 0; i < TLS_READS_PER_TURN; i++) {
		long r = dp_tls_read(t->tls, w->rbuf, DP_SOCK_RBUF_SIZE);

		if (r > 0) {
			tls_set_read_wants_write(w, t, false);
			/* Paused: op_pause_input looks for held records on resume. */
			if (!deliver_input(w, c, (size_t)r))
				return;
			continue;
		}
		if (r == -EAGAIN) {
			tls_set_read_wants_write(w, t, dp_tls_want(t->tls) == DP_TLS_WANT_WRITE);
			return;
		}
		if (r == -EPROTO)
			tls_log_failure(w, c, "input", dp_tls_error(t->tls));
		close_peer(w, c);
		return;
	}
	/* Budget spent: what OpenSSL holds already raises no epoll event. */
	if (dp_tls_has_pending(t->tls))
		tls_ready_add(w, t);
}

/* Connections whose OpenSSL buffers hold input: read them as if an event came. */
static void tls_run_ready(struct dp_sock_worker *w)
{
	struct dp_sock_tls_conn *t = w->tls_ready;

	w->tls_ready = NULL;
	while (t) {
		struct dp_sock_tls_conn *next = t->ready_next;

		t->on_ready = false;
		t->ready_next = NULL;
		if (!(t->c.flags & (CONN_CLOSING | CONN_DEAD | CONN_INPUT_OFF | CONN_PAUSED)))
			tls_read(w, &t->c);
		t = next;
	}
}

/* conn_flush for TLS: one record of coalesced queue bytes per write (tls.h). */
static int tls_flush(struct dp_sock_worker *w, struct dp_sock_conn *c)
{
	struct dp_sock_tls_conn *t = tls_of(c);
	struct tern_outq *q = tern_conn_outq(c->tc);

	while (!tern_outq_empty(q)) {
		size_t n = tern_outq_iov(q, w->iov, DP_SOCK_IOV_MAX);
		long r = dp_tls_write(t->tls, w->iov, n, w->tls_stage);

		stat_add(&w->stats.writev_calls, 1);
		if (r > 0) {
			tern_outq_consume(q, (size_t)r);
			stat_add(&w->stats.written_bytes, (uint64_t)r);
			tern_conn_wrote(c->tc, (size_t)r);
			continue;
		}
		if (r == -EAGAIN && dp_tls_want(t->tls) == DP_TLS_WANT_READ) {
			/* Nothing to do until input arrives: no EPOLLOUT, but EPOLLIN even if
			 * paused. */
			if (!t->write_wants_read) {
				t->write_wants_read = true;
				apply_events(w, c);
			}
			return 0;
		}
		if (r == -EAGAIN) {
			stat_add(&w->stats.eagain, 1);
			return -EAGAIN;
		}
		if (r == -EPROTO)
			tls_log_failure(w, c, "output", dp_tls_error(t->tls));
		return -ECONNRESET;
	}
	return 0;
}

static void tls_event(struct dp_sock_worker *w, struct dp_sock_conn *c, uint32_t events)
{
	struct dp_sock_tls_conn *t = tls_of(c);
	bool input_on = !(c->flags & (CONN_INPUT_OFF | CONN_PAUSED));

	if (!input_on && (events & (EPOLLHUP | EPOLLERR))) {
		close_peer(w, c);
		return;
	}
	if (events & EPOLLOUT)
		mark_dirty(c);
	if (t->write_wants_read && (events & EPOLLIN)) {
		t->write_wants_read = false;
		apply_events(w, c);
		mark_dirty(c);
	}
	if (input_on && ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
			 ((events & EPOLLOUT) && t->read_wants_write)))
		tls_read(w, c);
}

static void conn_event(struct dp_sock_worker *w, struct dp_sock_conn *c, uint32_t events)
{
	/* A closing connection is finished at the end of the turn; its input is ignored. */
	if (c->flags & (CONN_CLOSING | CONN_DEAD))
		return;
	if (c->flags & CONN_TLS) {
		tls_event(w, c, events);
		return;
	}
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

static void accept_one(struct dp_sock_worker *w, struct dp_sock_lsock *ls, int fd,
		       const struct sockaddr *sa)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char peer[DP_LISTEN_PEER_MAX];
	struct dp_sock_conn *c;
	int one = 1;

	/* Small MQTT packets must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = tern_calloc(1, ls->tls ? sizeof(struct dp_sock_tls_conn) : sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->kind = DP_SOCK_EP_CONN;
	c->fd = fd;
	c->w = w;
	if (ls->tls) {
		c->flags |= CONN_TLS;
		tls_of(c)->tls = dp_tls_new_fd(ls->tls, fd);
	}
	ev.data.ptr = c;
	if ((ls->tls && !tls_of(c)->tls) || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		if (ls->tls)
			dp_tls_free(tls_of(c)->tls);
		close(fd);
		tern_free(c);
		return;
	}
	dp_listen_format(sa, peer);
	if (ls->tls)
		memcpy(tls_of(c)->peer, peer, sizeof(peer));
	/* Before the handshake: the engine's connect timeout bounds it too. */
	c->tc = tern_conn_accept(w->tw, c, peer, ls->listener);
	if (!c->tc) {
		if (ls->tls) {
			dp_tls_free(tls_of(c)->tls);
			tls_of(c)->tls = NULL;
		}
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

/* A batched send completed: account for it as conn_flush does for sendmsg. */
static void batch_done(void *arg, void *ctx, int res)
{
	struct dp_sock_worker *w = arg;
	struct dp_sock_conn *c = ctx;

	stat_add(&w->stats.writev_calls, 1);
	/* Errors, EAGAIN and short writes: conn_flush meets them again and handles them. */
	if (res <= 0 || (c->flags & CONN_DEAD))
		return;
	tern_outq_consume(tern_conn_outq(c->tc), (size_t)res);
	stat_add(&w->stats.written_bytes, (uint64_t)res);
	tern_conn_wrote(c->tc, (size_t)res);
}

/*
 * Before flush_dirty writes the connections one by one: send the output of
 * all plain ones with short queues in one io_uring submission. What remains
 * (a long queue, a full socket, an error) is left for conn_flush, which then
 * usually finds the queue empty and makes no system call at all.
 */
static void flush_batch(struct dp_sock_worker *w)
{
	struct dp_sock_conn *c;
	unsigned n = 0;
	int r = 0;

	for (c = w->dirty; c; c = c->dirty_next)
		if (!(c->flags & (CONN_DEAD | CONN_CLOSING | CONN_TLS)))
			n++;
	/*
	 * Batch fan-out turns only: few inputs (or none: other workers' deliveries)
	 * made output for many connections. In turns with as many inputs as
	 * outputs (100 publisher/subscriber pairs at max rate) batching brought
	 * the broker into its one-message-per-send regime more often (9 of 18
	 * runs against 3 of 18, bench/notes-latency.md). One connection: a plain
	 * sendmsg is one system call too.
	 */
	if (n < 2 || n < BATCH_FANOUT * w->turn_reads)
		return;
	for (c = w->dirty; c && r >= 0; c = c->dirty_next) {
		struct tern_outq *q;
		struct iovec *iov;
		size_t k, want;

		if (c->flags & (CONN_DEAD | CONN_CLOSING | CONN_TLS))
			continue;
		q = tern_conn_outq(c->tc);
		if (tern_outq_empty(q))
			continue;
		iov = dp_sock_uring_iov(w->uring);
		if (!iov) {
			r = dp_sock_uring_submit(w->uring, batch_done, w);
			iov = dp_sock_uring_iov(w->uring);
			if (r < 0 || !iov)
				break;
		}
		k = tern_outq_iov(q, iov, DP_SOCK_URING_IOV);
		want = 0;
		for (size_t i = 0; i < k; i++)
			want += iov[i].iov_len;
		/*
		 * A queue longer than one batched send goes whole by one sendmsg
		 * (DP_SOCK_IOV_MAX pieces): splitting it cost 10% of max-rate fan-out.
		 */
		if (want == tern_outq_bytes(q))
			dp_sock_uring_queue(w->uring, c->fd, k, c);
	}
	if (r >= 0)
		r = dp_sock_uring_submit(w->uring, batch_done, w);
	if (r < 0) {
		tern_log(TERN_LOG_WARNING, "io_uring send failed (%s): sending with sendmsg",
			 strerror(-r));
		dp_sock_uring_free(w->uring);
		w->uring = NULL;
	}
}

/* End of turn: write (or close) every connection the turn made dirty. */
static void flush_dirty(struct dp_sock_worker *w)
{
	struct dp_sock_conn *c;

	if (w->uring)
		flush_batch(w);

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
		w->turn_reads = 0;
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
		if (w->tls_ready)
			tls_run_ready(w);
		timeout = tern_worker_poll(w->tw);
		flush_dirty(w);
		if (tern_worker_has_work(w->tw) || w->tls_ready)
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
	if (w->use_uring) {
		/* In the worker's thread: the ring allows this submitter only. */
		w->uring = dp_sock_uring_new();
		if (!w->uring)
			tern_log(TERN_LOG_NOTICE,
				 "worker %u: io_uring unavailable (%s): sending with sendmsg",
				 w->id, strerror(errno));
	}
	run_loop(w);
	shutdown_worker(w);
	dp_sock_uring_free(w->uring);
	w->uring = NULL;
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
	w->tls_rl.interval_ms = ERR_LOG_INTERVAL;
	w->tls_rl.burst = ERR_LOG_BURST;
	w->rbuf = tern_malloc(DP_SOCK_RBUF_SIZE);
	w->iov = tern_calloc(DP_SOCK_IOV_MAX, sizeof(*w->iov));
	if (!w->rbuf || !w->iov)
		return -ENOMEM;
	for (unsigned i = 0; i < w->n_lsocks && !w->tls_stage; i++) {
		if (!w->lsocks[i].tls)
			continue;
		w->tls_stage = tern_malloc(DP_TLS_RECORD_MAX);
		if (!w->tls_stage)
			return -ENOMEM;
	}
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
	tern_free(w->tls_stage);
	w->rbuf = NULL;
	w->iov = NULL;
	w->tls_stage = NULL;
}
