/* SPDX-License-Identifier: MIT */
/*
 * TCP <-> engine glue of one DPDK worker (see tcp_glue.h).
 *
 * The engine may ask to write or close a connection from inside any call
 * (tern_conn_input from a recv callback, tern_worker_poll), so those requests
 * only put the connection on the turn's dirty list; the end of the turn does
 * the work. Output is copied from the engine's queue into mbufs once per
 * connection (the TCP layer then sends and retransmits without copying).
 * Input the engine paused stays queued as received chains until it resumes.
 * A connection whose engine side is closed (conn->tc NULL) lives on in the
 * stack until TCP's closed() callback, which puts it on the dead list; dead
 * connections are freed at the end of the turn, after the dirty list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <rte_mbuf.h>

#include "broker/alloc.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/outq.h"
#include "broker/transport.h"
#include "dataplane/dpdk/tcp_glue.h"
#include "dataplane/dpdk/worker.h"
#include "dataplane/net/tcp.h"

#define OUT_IOV_MAX 64

enum conn_flag {
	CONN_DIRTY = 1u << 0,	  /* on the dirty list */
	CONN_CLOSING = 1u << 1,	  /* the engine called ops->close */
	CONN_PAUSED = 1u << 2,	  /* the engine paused input */
	CONN_INPUT_OFF = 1u << 3, /* tern_conn_input refused: drop further input */
	CONN_DEAD = 1u << 4,	  /* TCP is done with it; freed at the end of the turn */
};

struct glue_conn {
	struct dp_dpdk_worker *w;
	struct dp_tcp_conn *tcp; /* NULL once TCP called closed() */
	struct tern_conn *tc;	 /* NULL once tern_conn_closed was called */
	uint8_t flags;
	struct rte_mbuf *held; /* input received while paused, a chain */
	struct glue_conn *dirty_next;
	struct glue_conn *dead_next;
	struct glue_conn *prev, *next; /* every live connection of the worker */
};

struct dp_dpdk_tcp {
	struct dp_tcp_stack *stack;
	struct glue_conn *conns;
	struct glue_conn *dirty;
	struct glue_conn *dead;
	struct iovec iov[OUT_IOV_MAX];
};

static void mark_dirty(struct glue_conn *c)
{
	struct dp_dpdk_tcp *t = c->w->tcp;

	if (c->flags & (CONN_DIRTY | CONN_DEAD))
		return;
	c->flags |= CONN_DIRTY;
	c->dirty_next = t->dirty;
	t->dirty = c;
}

/* The engine is done with c: tell it once, and keep c only for TCP. */
static void detach_engine(struct glue_conn *c, bool peer_closed)
{
	struct tern_conn *tc = c->tc;

	if (!tc)
		return;
	c->tc = NULL;
	rte_pktmbuf_free(c->held);
	c->held = NULL;
	tern_conn_closed(tc, peer_closed);
}

/* ---- transport ops (engine -> dataplane) ---- */

static void op_want_write(void *tctx)
{
	struct glue_conn *c = tctx;

	if (c->tc && !(c->flags & CONN_CLOSING))
		mark_dirty(c);
}

static void op_close(void *tctx)
{
	struct glue_conn *c = tctx;

	if (!c->tc || (c->flags & CONN_CLOSING))
		return;
	c->flags |= CONN_CLOSING;
	mark_dirty(c);
}

static void op_pause_input(void *tctx, bool paused)
{
	struct glue_conn *c = tctx;

	if (paused) {
		c->flags |= CONN_PAUSED;
		return;
	}
	c->flags &= (uint8_t)~CONN_PAUSED;
	/* Held input is fed at the end of the turn, outside the engine's call. */
	if (c->held)
		mark_dirty(c);
}

static const struct tern_transport_ops transport_ops = {
    .want_write = op_want_write,
    .close = op_close,
    .pause_input = op_pause_input,
    .wake = NULL, /* polling loop */
};

const struct tern_transport_ops *dp_dpdk_tcp_transport_ops(void)
{
	return &transport_ops;
}

/* ---- TCP callbacks (stack -> dataplane) ---- */

static int cb_ip_output(void *ctx, struct rte_mbuf *m, const struct dp_flow *flow)
{
	struct dp_dpdk_worker *w = ctx;

	return dp_net_ip_output(&w->ifc, m, flow);
}

static void format_peer(const struct dp_flow *f, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(f->remote.family,
		  f->remote.family == AF_INET ? (const void *)&f->remote.v4
					      : (const void *)f->remote.v6,
		  a, sizeof(a));
	if (f->remote.family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, ntohs(f->remote_port));
	else
		snprintf(buf, len, "%s:%u", a, ntohs(f->remote_port));
}

/*
 * The index in the config's listeners of the one that took this connection
 * (the first with its port whose address is any or the local one; 0 for the
 * default listener).
 */
static unsigned listener_of(const struct tern_config *cfg, const struct dp_flow *f)
{
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct tern_listener_config *l = &cfg->listeners[i];
		struct dp_ip_addr a;

		if (l->port != ntohs(f->local_port))
			continue;
		if (l->addr[0] == '\0')
			return i;
		memset(&a, 0, sizeof(a));
		a.family = f->local.family;
		if (inet_pton(a.family, l->addr, a.family == AF_INET ? (void *)&a.v4 : a.v6) == 1 &&
		    dp_ip_addr_equal(&a, &f->local))
			return i;
	}
	return 0;
}

/* The engine learns which configured listener accepted (its security and limits). */
static struct tern_conn *engine_accept(struct tern_worker *tw, void *tctx, const char *peer,
				       unsigned listener)
{
	return tern_conn_accept(tw, tctx, peer, listener);
}

static void *cb_accepted(void *ctx, struct dp_tcp_conn *tcp)
{
	struct dp_dpdk_worker *w = ctx;
	struct dp_dpdk_tcp *t = w->tcp;
	struct glue_conn *c;
	char peer[INET6_ADDRSTRLEN + 8];

	c = tern_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	c->tcp = tcp;
	format_peer(dp_tcp_conn_flow(tcp), peer, sizeof(peer));
	c->tc = engine_accept(w->tw, c, peer, listener_of(w->sh->cfg, dp_tcp_conn_flow(tcp)));
	if (!c->tc) {
		tern_free(c);
		return NULL; /* the stack resets it */
	}
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	return c;
}

/* Feed a chain to the engine until it pauses or refuses; keep what is left. */
static void feed(struct glue_conn *c, struct rte_mbuf *m)
{
	while (m) {
		struct rte_mbuf *next = m->next;

		if (!c->tc || (c->flags & (CONN_INPUT_OFF | CONN_CLOSING))) {
			rte_pktmbuf_free(m);
			return;
		}
		if (c->flags & CONN_PAUSED) {
			if (c->held)
				rte_pktmbuf_chain(c->held, m);
			else
				c->held = m;
			return;
		}
		/* One segment at a time: free each as soon as the engine has parsed it. */
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		if (tern_conn_input(c->tc, rte_pktmbuf_mtod(m, uint8_t *), m->data_len) < 0)
			c->flags |= CONN_INPUT_OFF;
		rte_pktmbuf_free(m);
		m = next;
	}
}

static void cb_recv(void *app, struct rte_mbuf *m)
{
	feed(app, m);
}

static void cb_writable(void *app)
{
	op_want_write(app);
}

static void unlink_conn(struct glue_conn *c)
{
	struct dp_dpdk_tcp *t = c->w->tcp;

	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void cb_closed(void *app, bool reset)
{
	struct glue_conn *c = app;
	struct dp_dpdk_tcp *t = c->w->tcp;

	/* Still attached: the peer or a timeout ended it, the engine did not ask. */
	detach_engine(c, true);
	c->tcp = NULL;
	c->flags |= CONN_DEAD;
	unlink_conn(c);
	c->dead_next = t->dead;
	t->dead = c;
}

static void cb_peer_closed(void *app)
{
	struct glue_conn *c = app;

	/* As the sock dataplane on EOF: the engine hears of it now; our FIN follows. */
	if (c->held) {
		struct rte_mbuf *m = c->held;

		c->held = NULL;
		c->flags &= (uint8_t)~CONN_PAUSED;
		feed(c, m);
	}
	detach_engine(c, true);
	if (c->tcp)
		dp_tcp_close(c->tcp);
}

static const struct dp_tcp_ops tcp_ops = {
    .ip_output = cb_ip_output,
    .accepted = cb_accepted,
    .recv = cb_recv,
    .writable = cb_writable,
    .closed = cb_closed,
    .peer_closed = cb_peer_closed,
};

/* ---- the turn ---- */

/* Copy up to n bytes of the engine's queue into one mbuf chain. */
static struct rte_mbuf *copy_out(struct dp_dpdk_worker *w, struct tern_outq *q, size_t n)
{
	struct dp_dpdk_tcp *t = w->tcp;
	struct rte_mbuf *head = NULL, *m = NULL;
	size_t niov = tern_outq_iov(q, t->iov, OUT_IOV_MAX), left = n;

	for (size_t i = 0; i < niov && left; i++) {
		const uint8_t *p = t->iov[i].iov_base;
		size_t len = t->iov[i].iov_len < left ? t->iov[i].iov_len : left;

		left -= len;
		while (len) {
			size_t room = m ? rte_pktmbuf_tailroom(m) : 0, k;

			if (room == 0) {
				m = rte_pktmbuf_alloc(w->pool);
				if (!m)
					goto fail;
				/* The TCP layer prepends its own header mbuf: no headroom needed.
				 */
				m->data_off = 0;
				if (!head)
					head = m;
				else if (rte_pktmbuf_chain(head, m) < 0) {
					rte_pktmbuf_free(m);
					goto fail;
				}
				room = rte_pktmbuf_tailroom(m);
			}
			k = len < room ? len : room;
			/* Appending to the head fills its last segment and keeps the totals. */
			memcpy(rte_pktmbuf_append(head, (uint16_t)k), p, k);
			p += k;
			len -= k;
		}
	}
	return head;
fail:
	rte_pktmbuf_free(head);
	return NULL;
}

/* Send what the window and send space take; returns bytes handed to TCP. */
static size_t flush_out(struct glue_conn *c)
{
	struct tern_outq *q = tern_conn_outq(c->tc);
	size_t total = 0;

	while (!tern_outq_empty(q)) {
		size_t space = dp_tcp_send_space(c->tcp), n = tern_outq_bytes(q);
		struct rte_mbuf *m;

		/*
		 * The stack promises writable() only after a send it refused: with no
		 * space, offer one byte, so the refusal arms it (or it is taken).
		 */
		if (n > space)
			n = space ? space : 1;
		m = copy_out(c->w, q, n);
		if (!m)
			break; /* pool empty: the next turn tries again */
		n = rte_pktmbuf_pkt_len(m);
		if (dp_tcp_send(c->tcp, m) < 0) {
			rte_pktmbuf_free(m);
			break;
		}
		tern_outq_consume(q, n);
		total += n;
		tern_conn_wrote(c->tc, n);
		if (!c->tc || !c->tcp)
			break;
	}
	return total;
}

static void handle_dirty(struct glue_conn *c)
{
	c->flags &= (uint8_t)~CONN_DIRTY;
	if (c->flags & CONN_DEAD || !c->tc || !c->tcp)
		return;
	if (c->held && !(c->flags & CONN_PAUSED)) {
		struct rte_mbuf *m = c->held;

		c->held = NULL;
		feed(c, m);
		if (!c->tc || !c->tcp)
			return;
	}
	flush_out(c);
	if (c->tc && c->tcp && (c->flags & CONN_CLOSING)) {
		/* What did not fit is dropped, as the sock dataplane does at close. */
		struct dp_tcp_conn *tcp = c->tcp;

		detach_engine(c, false);
		dp_tcp_close(tcp);
	}
}

void dp_dpdk_tcp_turn(struct dp_dpdk_worker *w, uint64_t now_us)
{
	struct dp_dpdk_tcp *t = w->tcp;

	dp_tcp_timers_run(t->stack, now_us);
	while (t->dirty) {
		struct glue_conn *c = t->dirty;

		t->dirty = c->dirty_next;
		handle_dirty(c);
	}
	while (t->dead) {
		struct glue_conn *c = t->dead;

		t->dead = c->dead_next;
		tern_free(c);
	}
}

static void tcp_input(void *ctx, struct rte_mbuf *m, const struct dp_ip_addr *src,
		      const struct dp_ip_addr *dst)
{
	dp_tcp_input(ctx, m, src, dst);
}

static int listen_on(struct dp_dpdk_tcp *t, const struct tern_listener_config *l)
{
	struct dp_ip_addr a;
	uint16_t port = htons(l->port);
	int rc;

	memset(&a, 0, sizeof(a));
	if (l->addr[0] == '\0') {
		a.family = AF_INET;
		rc = dp_tcp_listen(t->stack, &a, port);
		if (rc < 0 && rc != -EEXIST)
			return rc;
		a.family = AF_INET6;
		rc = dp_tcp_listen(t->stack, &a, port);
		return rc == -EEXIST ? 0 : rc;
	}
	if (inet_pton(AF_INET, l->addr, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, l->addr, a.v6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL; /* host names are for the sock dataplane's resolver */
	rc = dp_tcp_listen(t->stack, &a, port);
	return rc == -EEXIST ? 0 : rc;
}

int dp_dpdk_tcp_start(struct dp_dpdk_worker *w)
{
	const struct tern_config *cfg = w->sh->cfg;
	struct tern_listener_config def = {.port = TERN_DEFAULT_PORT};
	struct dp_tcp_config tc;
	struct dp_dpdk_tcp *t;
	int rc;

	t = tern_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	dp_tcp_config_defaults(&tc);
	t->stack = dp_tcp_stack_create(&tc, &tcp_ops, w, w->pool);
	if (!t->stack) {
		rc = -errno;
		tern_free(t);
		return rc;
	}
	w->tcp = t;
	for (unsigned i = 0; i < (cfg->n_listeners ? cfg->n_listeners : 1); i++) {
		const struct tern_listener_config *l = cfg->n_listeners ? &cfg->listeners[i] : &def;

		rc = listen_on(t, l);
		if (rc < 0) {
			tern_log(TERN_LOG_ERR, "dpdk: cannot listen on '%s' port %u: %s", l->addr,
				 l->port, strerror(-rc));
			dp_dpdk_tcp_stop(w);
			return rc;
		}
	}
	dp_net_iface_set_tcp(&w->ifc, tcp_input, t->stack);
	return 0;
}

static void log_stats(unsigned id, const struct dp_tcp_stats *st)
{
	tern_log(TERN_LOG_NOTICE,
		 "dpdk: worker %u tcp: seg_in=%" PRIu64 " seg_out=%" PRIu64 " retransmits=%" PRIu64
		 " rto_timeouts=%" PRIu64 " fast_retransmits=%" PRIu64 " conn_accepted=%" PRIu64
		 " conn_reset=%" PRIu64 " conn_timeout=%" PRIu64 " tx_errors=%" PRIu64
		 " drop_cksum=%" PRIu64 " drop_malformed=%" PRIu64 " drop_out_of_window=%" PRIu64
		 " drop_paws=%" PRIu64 " drop_bad_ack=%" PRIu64 " drop_ofo_full=%" PRIu64,
		 id, st->seg_in, st->seg_out, st->retransmits, st->rto_timeouts,
		 st->fast_retransmits, st->conn_accepted, st->conn_reset, st->conn_timeout,
		 st->tx_errors, st->drop_cksum, st->drop_malformed, st->drop_out_of_window,
		 st->drop_paws, st->drop_bad_ack, st->drop_ofo_full);
}

void dp_dpdk_tcp_stop(struct dp_dpdk_worker *w)
{
	struct dp_dpdk_tcp *t = w->tcp;

	if (!t)
		return;
	dp_net_iface_set_tcp(&w->ifc, NULL, NULL);
	log_stats(w->id, dp_tcp_stack_stats(t->stack));
	while (t->conns) {
		struct glue_conn *c = t->conns;

		unlink_conn(c);
		detach_engine(c, false);
		if (c->tcp)
			dp_tcp_abort(c->tcp);
		tern_free(c);
	}
	while (t->dead) {
		struct glue_conn *c = t->dead;

		t->dead = c->dead_next;
		tern_free(c);
	}
	dp_tcp_stack_free(t->stack);
	tern_free(t);
	w->tcp = NULL;
}

const struct dp_tcp_stats *dp_dpdk_tcp_stats(const struct dp_dpdk_worker *w)
{
	return w->tcp ? dp_tcp_stack_stats(w->tcp->stack) : NULL;
}
