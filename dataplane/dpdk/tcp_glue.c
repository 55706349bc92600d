/* SPDX-License-Identifier: MIT */
/*
 * TCP <-> engine glue of one DPDK worker (see tcp_glue.h).
 *
 * The engine may ask to write or close a connection from inside any call
 * (tern_conn_input from a recv callback, tern_worker_poll), so those requests
 * only put the connection on the turn's dirty list; the end of the turn does
 * the work. Output goes from the engine's queue into one mbuf chain per
 * flush: header bytes (fixed header, packet id, properties of a delivery,
 * control packets, message ranges under ZC_MIN_BYTES) are copied; message
 * bytes (payload, forwarded properties, a 3.1.1 topic with its payload) are
 * referenced where the port allows it (dp_dpdk_shared.zerocopy):
 * external-buffer mbufs pointing into the shared message, whose shared info
 * holds one message reference per flush and sits in the data room of a pool
 * mbuf (the carrier). The last of those mbufs to be freed, on any lcore (TX
 * through worker 0's ring frees on worker 0), drops the reference and frees
 * the carrier. The TCP layer then sends and retransmits by attaching to the
 * chain, never copying.
 *
 * Input the engine paused stays queued as received chains until it resumes,
 * and is reported to TCP as held (dp_tcp_recv_held), so the receive window
 * shrinks by it: a client that floods a paused connection is stopped by TCP
 * instead of filling the pool. A small segment is copied into the tailroom of
 * the last held mbuf rather than chained, so one-byte segments cannot pin one
 * pool mbuf each.
 *
 * TLS listeners (dp_dpdk_shared.tls): each connection gets a memory-BIO
 * session (dataplane/sock/tls.h). Received segments go into the session
 * (dp_tls_feed) as they arrive unless the engine paused (then they are held
 * as ciphertext, as above); the handshake runs on them and decrypted records
 * go to tern_conn_input until the session wants more or the engine pauses.
 * Output is encrypted a record at a time from the engine's queue (copied:
 * records are encrypted copies, so zero copy never applies) and the
 * ciphertext handed to TCP in pieces that fit its send space; a new record is
 * made only once the previous one's ciphertext is all with TCP, so at most
 * one record (16 KiB) per connection waits in the session beyond snd_buf.
 * A failed handshake closes that connection only (its alert is sent first).
 *
 * A connection whose engine side is closed (conn->tc NULL) lives on in the
 * stack until TCP's closed() callback, which puts it on the dead list; dead
 * connections are freed at the end of the turn, after the dirty list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "broker/alloc.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/msg.h"
#include "broker/outq.h"
#include "broker/transport.h"
#include "dataplane/dpdk/tcp_glue.h"
#include "dataplane/dpdk/worker.h"
#include "dataplane/net/tcp.h"
#include "dataplane/sock/tls.h"

#define OUT_SEG_MAX 64
/*
 * Message ranges shorter than this are copied: referencing costs two mbufs
 * (carrier and external buffer), copying packs many small ones into one.
 */
#define ZC_MIN_BYTES 1024
/* Bytes one external-buffer mbuf covers (mbuf lengths are 16-bit). */
#define ZC_MBUF_MAX 32768
/* Held input segments up to this long are copied behind the last held one. */
#define HELD_COPY_MAX 512
/*
 * The worker's pool is shared by output queued in TCP (held until acknowledged)
 * and by everything received. Output leaves this share of it free (for the
 * ACKs that give the rest back, new clients, TCP's own headers); beyond it
 * only connections with less than SMALL_QUEUE_BYTES queued may add output, so
 * subscribers that stopped reading cannot silence everyone else. A flush step
 * takes at most FLUSH_STEP_BYTES, so one connection overshoots by little.
 */
#define POOL_RESERVE_SHARE 4 /* 1/4 of the pool */
#define SMALL_QUEUE_BYTES  (16u * 1024)
#define FLUSH_STEP_BYTES   (64u * 1024)

/* TLS failures logged per interval, per worker: a scanner must not flood the log. */
#define TLS_LOG_INTERVAL_MS 10000
#define TLS_LOG_BURST	    5

enum conn_flag {
	CONN_DIRTY = 1u << 0,	  /* on the dirty list */
	CONN_CLOSING = 1u << 1,	  /* the engine called ops->close */
	CONN_PAUSED = 1u << 2,	  /* the engine paused input */
	CONN_INPUT_OFF = 1u << 3, /* tern_conn_input refused: drop further input */
	CONN_DEAD = 1u << 4,	  /* TCP is done with it; freed at the end of the turn */
	CONN_TLS_UP = 1u << 5,	  /* TLS: the handshake completed */
	CONN_RESUME = 1u << 6,	  /* TLS: resumed; the session may hold decrypted input */
	CONN_STARVED = 1u << 7,	  /* output waits for the pool (pool_wait): dirty again next turn */
};

struct glue_conn {
	struct dp_dpdk_worker *w;
	struct dp_tcp_conn *tcp; /* NULL once TCP called closed() */
	struct tern_conn *tc;	 /* NULL once tern_conn_closed was called */
	uint8_t flags;
	struct rte_mbuf *held;	    /* input received while paused, a chain */
	struct rte_mbuf *held_tail; /* its last mbuf */
	uint32_t held_bytes;	    /* its length, as last reported to dp_tcp_recv_held */
	struct dp_tls *tls;	    /* TLS listener's session; NULL for plain TCP */
	struct rte_mbuf *tls_out;   /* ciphertext TCP refused (-EAGAIN): goes first */
	struct glue_conn *dirty_next;
	struct glue_conn *dead_next;
	struct glue_conn *prev, *next; /* every live connection of the worker */
};

struct dp_dpdk_tcp {
	struct dp_tcp_stack *stack;
	struct glue_conn *conns;
	struct glue_conn *dirty;
	struct glue_conn *dead;
	unsigned tx_budget; /* pool mbufs output may still take this turn (see above) */
	struct tern_outq_seg seg[OUT_SEG_MAX];
	/* With a TLS listener only: */
	struct iovec iov[OUT_SEG_MAX];
	uint8_t *tls_plain; /* DP_TLS_RECORD_MAX: decrypted input */
	uint8_t *tls_stage; /* DP_TLS_RECORD_MAX: dp_tls_write's record stage */
	struct tern_log_ratelimit tls_rl;
	uint64_t now_ms; /* of the turn, for tls_rl */
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
	c->held = c->held_tail = NULL;
	c->held_bytes = 0; /* dp_tcp_close, which follows, forgets what TCP was told */
	tern_conn_closed(tc, peer_closed);
}

static void free_conn(struct glue_conn *c)
{
	dp_tls_free(c->tls);
	rte_pktmbuf_free(c->tls_out);
	tern_free(c);
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
	/*
	 * Held input is fed at the end of the turn, outside the engine's call; a
	 * TLS session may hold decrypted records that no segment will announce.
	 */
	if (c->tls)
		c->flags |= CONN_RESUME;
	if (c->held || c->tls)
		mark_dirty(c);
}

static int op_identity(void *tctx, const char **name)
{
	struct glue_conn *c = tctx;

	return c->tls ? dp_tls_identity(c->tls, name) : 0;
}

static const struct tern_transport_ops transport_ops = {
    .want_write = op_want_write,
    .close = op_close,
    .pause_input = op_pause_input,
    .wake = NULL, /* polling loop */
    .identity = op_identity,
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
	unsigned listener = listener_of(w->sh->cfg, dp_tcp_conn_flow(tcp));
	struct glue_conn *c;
	char peer[INET6_ADDRSTRLEN + 8];

	c = tern_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	c->tcp = tcp;
	if (w->sh->tls[listener]) {
		c->tls = dp_tls_new_mem(w->sh->tls[listener]);
		if (!c->tls) {
			tern_free(c);
			return NULL;
		}
	}
	format_peer(dp_tcp_conn_flow(tcp), peer, sizeof(peer));
	/* First: the engine's connect timeout covers a handshake that stalls. */
	c->tc = engine_accept(w->tw, c, peer, listener);
	if (!c->tc) {
		free_conn(c);
		return NULL; /* the stack resets it */
	}
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	return c;
}

static void unlink_conn(struct glue_conn *c);

/* Tell TCP how much received input waits here, so its window leaves room only for the rest. */
static void report_held(struct glue_conn *c)
{
	if (c->tcp)
		dp_tcp_recv_held(c->tcp, c->held_bytes);
}

/* Onto the dead list, where the end of the turn frees it. */
static void bury(struct glue_conn *c)
{
	struct dp_dpdk_tcp *t = c->w->tcp;

	c->tcp = NULL;
	c->flags |= CONN_DEAD;
	unlink_conn(c);
	c->dead_next = t->dead;
	t->dead = c;
}

/*
 * Lost input (held bytes we could not keep): the stream has a hole, so the
 * connection cannot go on. The engine hears of an unexpected loss; TCP resets.
 */
static void abort_conn(struct glue_conn *c)
{
	struct dp_tcp_conn *tcp = c->tcp;

	detach_engine(c, true);
	if (tcp) {
		dp_tcp_abort(tcp); /* no closed() follows */
		bury(c);
	}
}

/* A small direct mbuf's bytes fit behind the last held one: copy them there instead. */
static bool held_copy(struct glue_conn *c, struct rte_mbuf *m)
{
	struct rte_mbuf *t = c->held_tail;

	if (m->nb_segs != 1 || m->data_len > HELD_COPY_MAX || !RTE_MBUF_DIRECT(t) ||
	    rte_mbuf_refcnt_read(t) != 1 || rte_pktmbuf_tailroom(t) < m->data_len)
		return false;
	memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len), rte_pktmbuf_mtod(m, uint8_t *),
	       m->data_len);
	t->data_len = (uint16_t)(t->data_len + m->data_len);
	c->held->pkt_len += m->data_len;
	rte_pktmbuf_free(m);
	return true;
}

/*
 * Keep chain m (input the engine cannot take now) behind what is held, and
 * report the new total to TCP. Returns 0, or -EOVERFLOW when it cannot be
 * chained (counted; m freed, the connection aborted).
 */
static int hold(struct glue_conn *c, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);

	if (!c->held) {
		c->held = m;
		c->held_tail = rte_pktmbuf_lastseg(m);
	} else if (!held_copy(c, m)) {
		if (rte_pktmbuf_chain(c->held, m) < 0) {
			c->w->glue.held_chain_fail++;
			rte_pktmbuf_free(m);
			abort_conn(c);
			return -EOVERFLOW;
		}
		c->held_tail = rte_pktmbuf_lastseg(m);
	}
	c->held_bytes += len;
	report_held(c);
	return 0;
}

/* Take the held chain back (to feed it); TCP hears the new total after the feed. */
static struct rte_mbuf *unhold(struct glue_conn *c)
{
	struct rte_mbuf *m = c->held;

	c->held = c->held_tail = NULL;
	c->held_bytes = 0;
	return m;
}

/* Rate-limited (dp_tls_log_failure). */
static void tls_log_failure(struct glue_conn *c, const char *what, const char *reason)
{
	struct dp_dpdk_tcp *t = c->w->tcp;
	char peer[INET6_ADDRSTRLEN + 8] = "?";

	if (c->tcp)
		format_peer(dp_tcp_conn_flow(c->tcp), peer, sizeof(peer));
	dp_tls_log_failure(&t->tls_rl, t->now_ms, what, peer, reason);
}

/*
 * The TLS session failed or the peer closed it: the engine hears of an
 * unexpected loss now; the end of the turn sends what the session still has
 * (an alert, close_notify) and closes TCP (handle_dirty).
 */
static void tls_end(struct glue_conn *c)
{
	c->flags |= CONN_INPUT_OFF;
	detach_engine(c, true);
	mark_dirty(c);
}

/*
 * Run the session on the ciphertext it has: the handshake, then decrypted
 * records to the engine until the session wants more input or the engine
 * pauses or refuses (the session keeps the rest). Whatever it wants to send
 * goes out at the end of the turn.
 */
static void tls_pump(struct glue_conn *c)
{
	struct dp_dpdk_tcp *t = c->w->tcp;

	mark_dirty(c);
	if (!(c->flags & CONN_TLS_UP)) {
		int r = dp_tls_handshake(c->tls);

		if (r == -EAGAIN)
			return;
		if (r < 0) {
			c->w->glue.tls_handshake_failures++;
			tls_log_failure(c, "handshake", dp_tls_error(c->tls));
			tls_end(c);
			return;
		}
		c->flags |= CONN_TLS_UP;
		c->w->glue.tls_handshakes++;
	}
	while (c->tc && !(c->flags & (CONN_PAUSED | CONN_INPUT_OFF | CONN_CLOSING))) {
		long r = dp_tls_read(c->tls, t->tls_plain, DP_TLS_RECORD_MAX);

		if (r > 0) {
			if (tern_conn_input(c->tc, t->tls_plain, (size_t)r) < 0)
				c->flags |= CONN_INPUT_OFF;
			continue;
		}
		if (r == -EAGAIN)
			return; /* a memory BIO never blocks a write: it wants input */
		if (r == -EPROTO)
			tls_log_failure(c, "input", dp_tls_error(c->tls));
		tls_end(c); /* -ECONNRESET: close_notify, as a FIN */
		return;
	}
}

/*
 * Feed a chain to the engine (through the TLS session on a TLS listener)
 * until it pauses or refuses; hold what is left.
 */
static void feed(struct glue_conn *c, struct rte_mbuf *m)
{
	while (m) {
		struct rte_mbuf *next = m->next;

		if (!c->tc || (c->flags & (CONN_INPUT_OFF | CONN_CLOSING))) {
			rte_pktmbuf_free(m);
			return;
		}
		if (c->flags & CONN_PAUSED) {
			hold(c, m);
			return;
		}
		/* One segment at a time: free each as soon as the engine has parsed it. */
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		if (c->tls) {
			/* At most one segment waits in the session while the engine is paused. */
			if (dp_tls_feed(c->tls, rte_pktmbuf_mtod(m, uint8_t *), m->data_len) < 0)
				tls_end(c);
			else
				tls_pump(c);
		} else if (tern_conn_input(c->tc, rte_pktmbuf_mtod(m, uint8_t *), m->data_len) <
			   0) {
			c->flags |= CONN_INPUT_OFF;
		}
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

	(void)reset;
	/* Still attached: the peer or a timeout ended it, the engine did not ask. */
	detach_engine(c, true);
	bury(c);
}

static void cb_peer_closed(void *app)
{
	struct glue_conn *c = app;

	/* As the sock dataplane on EOF: the engine hears of it now; our FIN follows. */
	if (c->held) {
		c->flags &= (uint8_t)~CONN_PAUSED;
		feed(c, unhold(c));
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

/*
 * One message referenced by external-buffer mbufs of one flush, stored in its
 * carrier's data room. shinfo's refcnt counts the mbufs attached (the TCP
 * layer's indirect mbufs included) plus one the builder holds while it may
 * attach more.
 */
struct zc_ref {
	struct rte_mbuf_ext_shared_info shinfo;
	struct tern_msg *msg; /* the reference it holds */
	struct rte_mbuf *carrier;
	struct dp_dpdk_tx_stats *stats; /* of the worker that built it */
};

_Static_assert(sizeof(struct zc_ref) <= RTE_MBUF_DEFAULT_DATAROOM, "zc_ref fits a carrier");

/* shinfo's free callback: the last mbuf is gone. Any lcore. */
static void zc_free(void *addr, void *opaque)
{
	struct zc_ref *r = opaque;
	struct tern_msg *msg = r->msg;
	struct rte_mbuf *carrier = r->carrier;

	(void)addr;
	__atomic_fetch_add(&r->stats->msg_unrefs, 1, __ATOMIC_RELAXED);
	/* r lives in the carrier: everything is read out of it before it goes. */
	rte_pktmbuf_free(carrier);
	tern_msg_unref(msg);
}

/* A chain being built for one dp_tcp_send. */
struct out_chain {
	struct rte_mbuf *head, *tail;
	struct zc_ref *ref; /* the builder's reference, to the last message referenced */
	size_t copied, referenced;
};

static void out_ref_drop(struct out_chain *o)
{
	if (o->ref && rte_mbuf_ext_refcnt_update(&o->ref->shinfo, -1) == 0)
		zc_free(NULL, o->ref);
	o->ref = NULL;
}

static int out_link(struct out_chain *o, struct rte_mbuf *m)
{
	if (!o->head) {
		o->head = m;
	} else {
		if (o->head->nb_segs == RTE_MBUF_MAX_NB_SEGS)
			return -EOVERFLOW;
		o->tail->next = m;
		o->head->nb_segs++;
		o->head->pkt_len += m->data_len;
	}
	o->tail = m;
	return 0;
}

/* Copy len bytes to the chain, filling its last mbuf first. */
static int out_copy(struct rte_mempool *pool, struct out_chain *o, const uint8_t *p, size_t len)
{
	o->copied += len;
	while (len) {
		struct rte_mbuf *t = o->tail;
		size_t room = t && !RTE_MBUF_HAS_EXTBUF(t) ? rte_pktmbuf_tailroom(t) : 0, k;

		if (room == 0) {
			t = rte_pktmbuf_alloc(pool);
			if (!t)
				return -ENOMEM;
			/* The TCP layer prepends its own header mbuf: no headroom needed. */
			t->data_off = 0;
			if (out_link(o, t) < 0) {
				rte_pktmbuf_free(t);
				return -EOVERFLOW;
			}
			room = rte_pktmbuf_tailroom(t);
		}
		k = len < room ? len : room;
		memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len), p, k);
		t->data_len = (uint16_t)(t->data_len + k);
		o->head->pkt_len += (uint32_t)k;
		p += k;
		len -= k;
	}
	return 0;
}

/* Reference len bytes of msg at p: external-buffer mbufs sharing one zc_ref. */
static int out_ref(struct dp_dpdk_worker *w, struct out_chain *o, struct tern_msg *msg,
		   const uint8_t *p, size_t len)
{
	if (!o->ref || o->ref->msg != msg) {
		struct rte_mbuf *carrier = rte_pktmbuf_alloc(w->pool);
		struct zc_ref *r;

		if (!carrier)
			return -ENOMEM;
		out_ref_drop(o);
		r = rte_pktmbuf_mtod(carrier, struct zc_ref *);
		r->shinfo.free_cb = zc_free;
		r->shinfo.fcb_opaque = r;
		rte_mbuf_ext_refcnt_set(&r->shinfo, 1);
		r->msg = tern_msg_ref(msg);
		r->carrier = carrier;
		r->stats = &w->tx;
		w->tx.msg_refs++;
		o->ref = r;
	}
	o->referenced += len;
	while (len) {
		size_t k = len < ZC_MBUF_MAX ? len : ZC_MBUF_MAX;
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

		if (!m)
			return -ENOMEM;
		rte_mbuf_ext_refcnt_update(&o->ref->shinfo, 1);
		/*
		 * No IOVA: zero copy is on only for drivers that read through
		 * buf_addr. The message is immutable, so pointing into it is safe.
		 */
		rte_pktmbuf_attach_extbuf(m, (void *)(uintptr_t)p, RTE_BAD_IOVA, (uint16_t)k,
					  &o->ref->shinfo);
		m->data_len = (uint16_t)k;
		m->pkt_len = (uint32_t)k;
		if (out_link(o, m) < 0) {
			rte_pktmbuf_free(m);
			return -EOVERFLOW;
		}
		p += k;
		len -= k;
	}
	return 0;
}

/*
 * Whether a queued piece goes by reference: a message range long enough to
 * be worth an mbuf of its own, or the rest of a large payload an earlier
 * flush cut (so that no payload byte is ever copied). The payload is the
 * last range of every delivery layout.
 */
static bool by_reference(const struct tern_outq_seg *s)
{
	const struct tern_msg *m = s->msg;
	const uint8_t *payload = tern_msg_payload(m);

	return s->len >= ZC_MIN_BYTES || (m->payload_len >= ZC_MIN_BYTES && s->base > payload &&
					  s->base + s->len == payload + m->payload_len);
}

/*
 * Up to n bytes of the engine's queue as one mbuf chain (NULL when the pool
 * ran dry); *copied and *referenced say how its bytes got there.
 */
static struct rte_mbuf *build_out(struct dp_dpdk_worker *w, struct tern_outq *q, size_t n,
				  size_t *copied, size_t *referenced)
{
	struct dp_dpdk_tcp *t = w->tcp;
	struct out_chain o = {0};
	size_t nseg = tern_outq_segs(q, t->seg, OUT_SEG_MAX), left = n;
	int rc = 0;

	for (size_t i = 0; i < nseg && left && rc == 0; i++) {
		const struct tern_outq_seg *s = &t->seg[i];
		size_t len = s->len < left ? s->len : left;

		left -= len;
		if (w->sh->zerocopy && s->msg && by_reference(s))
			rc = out_ref(w, &o, s->msg, s->base, len);
		else
			rc = out_copy(w->pool, &o, s->base, len);
	}
	out_ref_drop(&o);
	if (rc < 0) {
		rte_pktmbuf_free(o.head);
		return NULL;
	}
	*copied = o.copied;
	*referenced = o.referenced;
	return o.head;
}

/*
 * c's output waits for pool mbufs: it tries again next turn (dp_dpdk_tcp_turn),
 * as the ACKs that give mbufs back tell no connection.
 */
static void pool_wait(struct glue_conn *c)
{
	c->flags |= CONN_STARVED;
	c->w->glue.pool_waits++;
}

/*
 * Whether c may queue more output now (else pool_wait). Asked only with send
 * space: a full send queue waits for writable() as usual.
 */
static bool pool_allows(struct glue_conn *c)
{
	if (c->w->tcp->tx_budget > 0 || dp_tcp_send_queued(c->tcp) < SMALL_QUEUE_BYTES)
		return true;
	pool_wait(c);
	return false;
}

static void pool_took(struct dp_dpdk_tcp *t, const struct rte_mbuf *m)
{
	t->tx_budget = m->nb_segs < t->tx_budget ? t->tx_budget - m->nb_segs : 0;
}

/* Send what the window, send space and pool take; returns bytes handed to TCP. */
static size_t flush_out(struct glue_conn *c)
{
	struct tern_outq *q = tern_conn_outq(c->tc);
	size_t total = 0;

	while (!tern_outq_empty(q)) {
		size_t space = dp_tcp_send_space(c->tcp), n = tern_outq_bytes(q);
		size_t copied, referenced;
		struct rte_mbuf *m;

		/*
		 * The stack promises writable() only after a send it refused: with no
		 * space, offer one byte, so the refusal arms it (or it is taken).
		 */
		if (n > space)
			n = space ? space : 1;
		if (n > FLUSH_STEP_BYTES)
			n = FLUSH_STEP_BYTES;
		if (space && !pool_allows(c))
			break;
		m = build_out(c->w, q, n, &copied, &referenced);
		if (!m) {
			pool_wait(c);
			break;
		}
		n = rte_pktmbuf_pkt_len(m);
		if (dp_tcp_send(c->tcp, m) < 0) {
			rte_pktmbuf_free(m);
			break;
		}
		pool_took(c->w->tcp, m);
		c->w->tx.bytes_copied += copied;
		c->w->tx.bytes_referenced += referenced;
		tern_outq_consume(q, n);
		total += n;
		tern_conn_wrote(c->tc, n);
		if (!c->tc || !c->tcp)
			break;
	}
	return total;
}

/*
 * Up to n bytes of the session's ciphertext as a chain of pool mbufs (NULL
 * when it has none or the pool is dry; what is not taken stays in it).
 */
static struct rte_mbuf *tls_take(struct glue_conn *c, size_t n)
{
	struct out_chain o = {0};

	while (n && dp_tls_drain_pending(c->tls)) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(c->w->pool);
		size_t k;

		if (!m)
			break;
		/* As out_copy: the TCP layer prepends its own header mbuf. */
		m->data_off = 0;
		k = rte_pktmbuf_tailroom(m);
		k = dp_tls_drain(c->tls, rte_pktmbuf_mtod(m, uint8_t *), n < k ? n : k);
		m->data_len = (uint16_t)k;
		m->pkt_len = (uint32_t)k;
		/* n is at most the send space, far from RTE_MBUF_MAX_NB_SEGS mbufs. */
		if (k == 0 || out_link(&o, m) < 0) {
			rte_pktmbuf_free(m);
			break;
		}
		n -= k;
	}
	return o.head;
}

/*
 * Hand TCP the session's ciphertext, as much as its send space takes (a
 * chain it refused first). Returns true when none is left waiting.
 */
static bool tls_push(struct glue_conn *c)
{
	while (c->tcp && (c->tls_out || dp_tls_drain_pending(c->tls))) {
		struct rte_mbuf *m = c->tls_out;
		int rc;

		if (!m) {
			size_t space = dp_tcp_send_space(c->tcp);

			if (space && !pool_allows(c))
				return false;
			/* With no space, one byte, so the refusal arms writable() (see flush_out).
			 */
			m = tls_take(c, space ? space : 1);
			if (!m) {
				pool_wait(c);
				return false;
			}
		}
		c->tls_out = NULL;
		rc = dp_tcp_send(c->tcp, m);
		if (rc == -EAGAIN) {
			c->tls_out = m;
			return false;
		}
		if (rc < 0) {
			rte_pktmbuf_free(m); /* closing: nothing more goes out */
			return false;
		}
		c->w->tx.bytes_copied += rte_pktmbuf_pkt_len(m);
		pool_took(c->w->tcp, m);
	}
	return true;
}

/*
 * flush_out for TLS: a record of the engine's queue is encrypted only once
 * the ciphertext before it is all with TCP, so the send window holds output
 * back as on the plaintext path.
 */
static void tls_flush(struct glue_conn *c)
{
	struct dp_dpdk_tcp *t = c->w->tcp;

	while (tls_push(c) && c->tc && (c->flags & CONN_TLS_UP)) {
		struct tern_outq *q = tern_conn_outq(c->tc);
		size_t n;
		long r;

		if (tern_outq_empty(q))
			return;
		n = tern_outq_iov(q, t->iov, OUT_SEG_MAX);
		r = dp_tls_write(c->tls, t->iov, n, t->tls_stage);
		if (r > 0) {
			tern_outq_consume(q, (size_t)r);
			tern_conn_wrote(c->tc, (size_t)r);
			continue;
		}
		if (r == -EAGAIN)
			return; /* it wants input first: the next input marks c dirty */
		if (r == -EPROTO)
			tls_log_failure(c, "output", dp_tls_error(c->tls));
		tls_end(c);
		return;
	}
}

static void handle_dirty(struct glue_conn *c)
{
	c->flags &= (uint8_t)~CONN_DIRTY;
	if (c->flags & CONN_DEAD || !c->tcp)
		return;
	if (!c->tc) {
		/* Only a TLS session that ended (tls_end) gets here: its last records, then FIN. */
		if (c->tls)
			tls_push(c);
		dp_tcp_close(c->tcp);
		return;
	}
	if (!(c->flags & CONN_PAUSED) && (c->held || (c->flags & CONN_RESUME))) {
		c->flags &= (uint8_t)~CONN_RESUME;
		if (c->held)
			feed(c, unhold(c));
		else
			tls_pump(c);
		report_held(c);
		/* A TLS session that ended marked c dirty again: the branch above, later this turn.
		 */
		if (!c->tc || !c->tcp)
			return;
	}
	if (c->tls)
		tls_flush(c);
	else
		flush_out(c);
	if (c->tc && c->tcp && (c->flags & CONN_CLOSING)) {
		/* What did not fit is dropped, as the sock dataplane does at close. */
		struct dp_tcp_conn *tcp = c->tcp;

		if (c->tls) {
			dp_tls_shutdown(c->tls);
			tls_push(c);
		}
		detach_engine(c, false);
		dp_tcp_close(tcp);
	}
}

void dp_dpdk_tcp_turn(struct dp_dpdk_worker *w, uint64_t now_us)
{
	struct dp_dpdk_tcp *t = w->tcp;
	struct glue_conn *starved = NULL;

	t->now_ms = now_us / 1000;
	dp_tcp_timers_run(t->stack, now_us);
	if (t->dirty) {
		unsigned avail = rte_mempool_avail_count(w->pool);
		unsigned reserve = w->pool->size / POOL_RESERVE_SHARE;

		t->tx_budget = avail > reserve ? avail - reserve : 0;
	}
	while (t->dirty) {
		struct glue_conn *c = t->dirty;

		t->dirty = c->dirty_next;
		handle_dirty(c);
		if (c->flags & CONN_STARVED) {
			/* Kept marked, so no mark_dirty this turn reuses dirty_next. */
			c->flags |= CONN_DIRTY;
			c->dirty_next = starved;
			starved = c;
		}
	}
	/*
	 * The ACKs that give mbufs back to the pool tell no connection that found
	 * it empty: those try again next turn, or their output would wait for the
	 * engine's next write to them.
	 */
	while (starved) {
		struct glue_conn *c = starved;

		starved = c->dirty_next;
		c->flags &= (uint8_t) ~(CONN_STARVED | CONN_DIRTY);
		mark_dirty(c);
	}
	while (t->dead) {
		struct glue_conn *c = t->dead;

		t->dead = c->dead_next;
		free_conn(c);
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
	if (w->sh->n_tls) {
		t->tls_plain = tern_malloc(DP_TLS_RECORD_MAX);
		t->tls_stage = tern_malloc(DP_TLS_RECORD_MAX);
		if (!t->tls_plain || !t->tls_stage) {
			tern_free(t->tls_plain);
			tern_free(t->tls_stage);
			tern_free(t);
			return -ENOMEM;
		}
		t->tls_rl.interval_ms = TLS_LOG_INTERVAL_MS;
		t->tls_rl.burst = TLS_LOG_BURST;
	}
	dp_tcp_config_defaults(&tc);
	t->stack = dp_tcp_stack_create(&tc, &tcp_ops, w, w->pool);
	if (!t->stack) {
		rc = -errno;
		tern_free(t->tls_plain);
		tern_free(t->tls_stage);
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
	tern_log(
	    TERN_LOG_NOTICE,
	    "dpdk: worker %u tcp: seg_in=%" PRIu64 " seg_out=%" PRIu64 " retransmits=%" PRIu64
	    " rto_timeouts=%" PRIu64 " fast_retransmits=%" PRIu64 " conn_accepted=%" PRIu64
	    " conn_reset=%" PRIu64 " conn_timeout=%" PRIu64 " tx_errors=%" PRIu64
	    " drop_cksum=%" PRIu64 " drop_malformed=%" PRIu64 " drop_out_of_window=%" PRIu64
	    " drop_paws=%" PRIu64 " drop_bad_ack=%" PRIu64 " drop_ofo_full=%" PRIu64
	    " sack_blocks_out=%" PRIu64 " sack_blocks_in=%" PRIu64 " sack_blocks_bad=%" PRIu64
	    " sack_blocks_dsack=%" PRIu64 " sack_recoveries=%" PRIu64 " sack_retransmits=%" PRIu64,
	    id, st->seg_in, st->seg_out, st->retransmits, st->rto_timeouts, st->fast_retransmits,
	    st->conn_accepted, st->conn_reset, st->conn_timeout, st->tx_errors, st->drop_cksum,
	    st->drop_malformed, st->drop_out_of_window, st->drop_paws, st->drop_bad_ack,
	    st->drop_ofo_full, st->sack_blocks_out, st->sack_blocks_in, st->sack_blocks_bad,
	    st->sack_blocks_dsack, st->sack_recoveries, st->sack_retransmits);
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
		free_conn(c);
	}
	while (t->dead) {
		struct glue_conn *c = t->dead;

		t->dead = c->dead_next;
		free_conn(c);
	}
	dp_tcp_stack_free(t->stack);
	tern_free(t->tls_plain);
	tern_free(t->tls_stage);
	tern_free(t);
	w->tcp = NULL;
	/* After the stack freed its send queues; mbufs still in TX rings may owe unrefs. */
	tern_log(TERN_LOG_NOTICE,
		 "dpdk: worker %u tx: bytes_copied=%" PRIu64 " bytes_referenced=%" PRIu64
		 " msg_refs=%" PRIu64 " msg_unrefs=%" PRIu64,
		 w->id, w->tx.bytes_copied, w->tx.bytes_referenced, w->tx.msg_refs,
		 __atomic_load_n(&w->tx.msg_unrefs, __ATOMIC_RELAXED));
}

const struct dp_tcp_stats *dp_dpdk_tcp_stats(const struct dp_dpdk_worker *w)
{
	return w->tcp ? dp_tcp_stack_stats(w->tcp->stack) : NULL;
}
