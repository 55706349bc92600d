/* SPDX-License-Identifier: MIT */
/*
 * The stack object and the life of a connection: the per-lcore flow table
 * (chained hash over preallocated connections), listeners, deferred frees,
 * the application calls (send, close, abort) and the per-connection timers.
 * The design note is in tcp.h.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "dataplane/net/tcp_stream.h"

enum { TIMER_RTX = 1, TIMER_DELACK = 2 };

void dp_tcp_config_defaults(struct dp_tcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 65536;
	cfg->syn_backlog = 1024;
	cfg->mss4 = 1460;
	cfg->mss6 = 1440;
	cfg->rcv_buf = 256 * 1024;
	cfg->snd_buf = 256 * 1024;
	cfg->init_cwnd_segs = 10;
	cfg->rto_init_us = 1000000;
	cfg->rto_min_us = 200000;
	cfg->rto_max_us = 60000000;
	cfg->max_retries = 8;
	cfg->syn_retries = 5;
	cfg->delack_us = 40000;
	cfg->time_wait_us = 60000000;
	cfg->fin_wait2_us = 60000000;
	cfg->challenge_ack_limit = 1000;
	cfg->syncookies = true;
}

static bool config_valid(const struct dp_tcp_config *cfg)
{
	return cfg->max_conns > 0 && cfg->max_conns <= (1u << 24) && cfg->mss4 >= 88 &&
	       cfg->mss6 >= 88 && cfg->rcv_buf >= cfg->mss4 && cfg->rcv_buf <= (1u << 30) &&
	       cfg->snd_buf > 0 && cfg->init_cwnd_segs > 0 && cfg->rto_min_us > 0 &&
	       cfg->rto_min_us <= cfg->rto_init_us && cfg->rto_init_us <= cfg->rto_max_us &&
	       cfg->max_retries > 0 && cfg->delack_us > 0 && cfg->time_wait_us > 0 &&
	       cfg->fin_wait2_us > 0;
}

static uint64_t seeded(uint64_t *state)
{
	/* splitmix64: deterministic secrets from a test seed. */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct dp_tcp_stack *dp_tcp_stack_create(const struct dp_tcp_config *cfg,
					 const struct dp_tcp_ops *ops, void *ctx,
					 struct rte_mempool *pool)
{
	struct dp_tcp_stack *s;
	uint32_t nb = 1, i;
	uint64_t st;

	if (cfg == NULL || ops == NULL || pool == NULL || !config_valid(cfg) ||
	    ops->ip_output == NULL || ops->accepted == NULL || ops->recv == NULL ||
	    ops->closed == NULL || rte_pktmbuf_data_room_size(pool) < RTE_PKTMBUF_HEADROOM + 60 ||
	    RTE_PKTMBUF_HEADROOM < DP_TCP_HEADROOM) {
		errno = EINVAL;
		return NULL;
	}
	s = rte_zmalloc("dp_tcp_stack", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL)
		goto err_nomem;
	while (nb < cfg->max_conns)
		nb <<= 1;
	s->buckets = rte_zmalloc("dp_tcp_buckets", sizeof(*s->buckets) * nb, RTE_CACHE_LINE_SIZE);
	if (s->buckets == NULL)
		goto err_free;
	s->conns =
	    rte_zmalloc("dp_tcp_conns", sizeof(*s->conns) * cfg->max_conns, RTE_CACHE_LINE_SIZE);
	if (s->conns == NULL)
		goto err_free;
	s->bucket_mask = nb - 1;
	s->cfg = *cfg;
	s->ops = *ops;
	s->ctx = ctx;
	s->pool = pool;
	for (i = cfg->max_conns; i > 0; i--) {
		s->conns[i - 1].hnext = s->free_list;
		s->free_list = &s->conns[i - 1];
	}
	st = cfg->secret_seed;
	if (st == 0)
		st = rte_rand();
	s->isn_key.k0 = seeded(&st);
	s->isn_key.k1 = seeded(&st);
	s->cookie_key.k0 = seeded(&st);
	s->cookie_key.k1 = seeded(&st);
	s->hash_seed = (uint32_t)seeded(&st);
	while (s->rcv_wscale < DP_TCP_MAX_WSCALE && (cfg->rcv_buf >> s->rcv_wscale) > 65535)
		s->rcv_wscale++;
	dp_timer_wheel_init(&s->wheel, 0);
	return s;

err_free:
	rte_free(s->conns);
	rte_free(s->buckets);
	rte_free(s);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

static void conn_drop_buffers(struct dp_tcp_conn *c)
{
	dp_tcp_sndq_free(c);
	dp_tcp_ofo_free(c);
}

void dp_tcp_stack_free(struct dp_tcp_stack *s)
{
	uint32_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->cfg.max_conns; i++)
		conn_drop_buffers(&s->conns[i]);
	rte_free(s->conns);
	rte_free(s->buckets);
	rte_free(s);
}

static bool addr_is_any(const struct dp_ip_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_INET)
		return a->v4 == 0;
	return memcmp(a->v6, zero, 16) == 0;
}

int dp_tcp_listen(struct dp_tcp_stack *s, const struct dp_ip_addr *local, uint16_t port_be)
{
	struct dp_tcp_listener *l;
	unsigned int i;

	if (local == NULL || (local->family != AF_INET && local->family != AF_INET6) ||
	    port_be == 0)
		return -EINVAL;
	for (i = 0; i < s->n_listeners; i++) {
		l = &s->listeners[i];
		if (l->port == port_be && dp_ip_addr_equal(&l->addr, local))
			return -EEXIST;
	}
	if (s->n_listeners == DP_TCP_MAX_LISTENERS)
		return -ENOSPC;
	l = &s->listeners[s->n_listeners++];
	memset(l, 0, sizeof(*l));
	l->addr.family = local->family;
	if (local->family == AF_INET)
		l->addr.v4 = local->v4;
	else
		memcpy(l->addr.v6, local->v6, 16);
	l->port = port_be;
	return 0;
}

bool dp_tcp_listener_match(const struct dp_tcp_stack *s, const struct dp_flow *f)
{
	unsigned int i;

	for (i = 0; i < s->n_listeners; i++) {
		const struct dp_tcp_listener *l = &s->listeners[i];

		if (l->port != f->local_port || l->addr.family != f->local.family)
			continue;
		if (addr_is_any(&l->addr) || dp_ip_addr_equal(&l->addr, &f->local))
			return true;
	}
	return false;
}

static uint32_t flow_hash(const struct dp_tcp_stack *s, const struct dp_flow *f)
{
	uint32_t ports = (uint32_t)f->local_port << 16 | f->remote_port;
	uint32_t h = rte_hash_crc_4byte(ports, s->hash_seed);

	if (f->remote.family == AF_INET) {
		h = rte_hash_crc_4byte(f->remote.v4, h);
		return rte_hash_crc_4byte(f->local.v4, h);
	}
	/* Copied to aligned words: rte_hash_crc() reads 8 bytes at a time and v6 sits at offset 4.
	 */
	uint64_t w[4];

	memcpy(w, f->remote.v6, 16);
	memcpy(w + 2, f->local.v6, 16);
	h = rte_hash_crc_8byte(w[0], h);
	h = rte_hash_crc_8byte(w[1], h);
	h = rte_hash_crc_8byte(w[2], h);
	return rte_hash_crc_8byte(w[3], h);
}

struct dp_tcp_conn *dp_tcp_conn_lookup(struct dp_tcp_stack *s, const struct dp_flow *f)
{
	uint32_t h = flow_hash(s, f);
	struct dp_tcp_conn *c;

	for (c = s->buckets[h & s->bucket_mask]; c != NULL; c = c->hnext)
		if (c->hash == h && dp_flow_equal(&c->flow, f))
			return c;
	return NULL;
}

struct dp_tcp_conn *dp_tcp_conn_new(struct dp_tcp_stack *s, const struct dp_flow *f)
{
	struct dp_tcp_conn *c = s->free_list;
	uint32_t h;

	if (c == NULL)
		return NULL;
	s->free_list = c->hnext;
	memset(c, 0, sizeof(*c));
	c->stack = s;
	c->flow = *f;
	c->hash = h = flow_hash(s, f);
	c->hnext = s->buckets[h & s->bucket_mask];
	s->buckets[h & s->bucket_mask] = c;
	c->in_table = true;
	c->rtx.kind = TIMER_RTX;
	c->delack.kind = TIMER_DELACK;
	c->cc = &dp_tcp_cc_newreno;
	c->rto_us = s->cfg.rto_init_us;
	s->stats.conn_active++;
	return c;
}

static void conn_unhash(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;
	struct dp_tcp_conn **pp = &s->buckets[c->hash & s->bucket_mask];

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp == c)
		*pp = c->hnext;
	c->hnext = NULL;
	c->in_table = false;
}

void dp_tcp_conn_release(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	if (dp_tcp_conn_dead(c))
		return;
	if (c->state == DP_TCP_SYN_RCVD)
		s->syn_rcvd--;
	dp_timer_cancel(&s->wheel, &c->rtx);
	dp_timer_cancel(&s->wheel, &c->delack);
	conn_drop_buffers(c);
	conn_unhash(c);
	c->state = DP_TCP_CLOSED;
	c->app = NULL;
	s->stats.conn_active--;
	/* A caller up the stack may still hold c: free it when the outermost call returns. */
	c->hnext = s->dead;
	s->dead = c;
	if (s->depth == 0)
		dp_tcp_leave(s);
}

void dp_tcp_enter(struct dp_tcp_stack *s)
{
	s->depth++;
}

void dp_tcp_leave(struct dp_tcp_stack *s)
{
	if (s->depth > 0)
		s->depth--;
	if (s->depth != 0)
		return;
	while (s->dead != NULL) {
		struct dp_tcp_conn *c = s->dead;

		s->dead = c->hnext;
		c->hnext = s->free_list;
		s->free_list = c;
	}
}

void dp_tcp_notify_closed(struct dp_tcp_conn *c, bool reset)
{
	void *app = c->app;

	if (app == NULL)
		return;
	c->app = NULL;
	c->stack->ops.closed(app, reset);
}

void dp_tcp_enter_time_wait(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	c->state = DP_TCP_TIME_WAIT;
	dp_timer_cancel(&s->wheel, &c->delack);
	conn_drop_buffers(c);
	c->persist = false;
	s->stats.conn_closed++;
	dp_timer_arm(&s->wheel, &c->rtx, s->now_us + s->cfg.time_wait_us);
	dp_tcp_notify_closed(c, false);
}

uint32_t dp_tcp_isn(struct dp_tcp_stack *s, const struct dp_flow *f)
{
	/* RFC 6528: a 4 us clock plus a keyed hash of the connection identifiers. */
	return (uint32_t)(s->now_us / 4) + (uint32_t)dp_flow_siphash(&s->isn_key, f, 0);
}

bool dp_tcp_challenge_allowed(struct dp_tcp_stack *s)
{
	uint64_t sec = s->now_us / 1000000u;

	if (sec != s->chack_second) {
		s->chack_second = sec;
		s->chack_count = 0;
	}
	if (s->chack_count >= s->cfg.challenge_ack_limit)
		return false;
	s->chack_count++;
	return true;
}

static void timer_fired(struct dp_timer *t, void *arg)
{
	struct dp_tcp_stack *s = arg;
	struct dp_tcp_conn *c;

	if (t->kind == TIMER_DELACK) {
		c = container_of(t, struct dp_tcp_conn, delack);
		if (c->unacked > 0 || c->ack_now) {
			s->stats.acks_delayed++;
			dp_tcp_send_ack(c);
		}
		return;
	}
	c = container_of(t, struct dp_tcp_conn, rtx);
	dp_tcp_rtx_timeout(c);
}

uint64_t dp_tcp_timers_run(struct dp_tcp_stack *s, uint64_t now_us)
{
	uint64_t next;

	if (now_us > s->now_us)
		s->now_us = now_us;
	dp_tcp_enter(s);
	dp_timer_wheel_run(&s->wheel, s->now_us, timer_fired, s);
	dp_tcp_leave(s);
	next = dp_timer_wheel_next(&s->wheel, s->now_us);
	return next == DP_TIMER_NONE ? DP_TCP_TIMER_NONE : next;
}

static bool can_send(const struct dp_tcp_conn *c)
{
	return !c->app_closed && (c->state == DP_TCP_ESTABLISHED || c->state == DP_TCP_CLOSE_WAIT);
}

size_t dp_tcp_send_space(const struct dp_tcp_conn *c)
{
	uint32_t cap = c->stack->cfg.snd_buf;

	if (!can_send(c) || c->sndq_len >= cap)
		return 0;
	return cap - c->sndq_len;
}

size_t dp_tcp_send_queued(const struct dp_tcp_conn *c)
{
	return c->sndq_len;
}

int dp_tcp_send(struct dp_tcp_conn *c, struct rte_mbuf *m)
{
	struct dp_tcp_stack *s = c->stack;
	struct rte_mbuf *last;

	if (m == NULL || m->pkt_len == 0)
		return -EINVAL;
	if (!can_send(c))
		return -EPIPE;
	if (m->pkt_len > c->stack->cfg.snd_buf)
		return -EMSGSIZE;
	if (m->pkt_len > dp_tcp_send_space(c)) {
		c->want_writable = true;
		return -EAGAIN;
	}
	last = rte_pktmbuf_lastseg(m);
	if (c->sndq_head == NULL) {
		c->sndq_head = m;
		c->sndq_off = 0;
	} else {
		c->sndq_tail->next = m;
	}
	c->sndq_tail = last;
	c->sndq_len += m->pkt_len;
	dp_tcp_enter(s);
	dp_tcp_output(c);
	dp_tcp_leave(s);
	return 0;
}

void dp_tcp_recv_held(struct dp_tcp_conn *c, uint32_t bytes)
{
	struct dp_tcp_stack *s = c->stack;
	uint32_t cur, space;

	if (dp_tcp_conn_dead(c))
		return;
	c->app_held = bytes;
	if (c->state != DP_TCP_ESTABLISHED && c->state != DP_TCP_FIN_WAIT_1 &&
	    c->state != DP_TCP_FIN_WAIT_2)
		return;
	/* A window update when a (nearly) closed window opens by a worthwhile step. */
	cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	space = dp_tcp_rcv_space(c);
	if (cur < s->cfg.rcv_buf / 2 && space > cur && space - cur >= dp_tcp_rcv_sws_step(c)) {
		dp_tcp_enter(s);
		dp_tcp_send_ack(c);
		dp_tcp_leave(s);
	}
}

void dp_tcp_close(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	if (dp_tcp_conn_dead(c) || c->app_closed)
		return;
	c->app_closed = true;
	c->want_writable = false;
	/* Nothing is read any more: what arrives is acknowledged and dropped, so the window
	 * reopens. */
	c->app_held = 0;
	c->fin_seq = c->snd_una + c->sndq_len;
	if (c->state == DP_TCP_ESTABLISHED)
		c->state = DP_TCP_FIN_WAIT_1;
	else if (c->state == DP_TCP_CLOSE_WAIT)
		c->state = DP_TCP_LAST_ACK;
	else
		return;
	dp_tcp_enter(s);
	dp_tcp_output(c);
	dp_tcp_leave(s);
}

void dp_tcp_abort(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	if (dp_tcp_conn_dead(c))
		return;
	dp_tcp_enter(s);
	if (c->state != DP_TCP_TIME_WAIT)
		dp_tcp_send_rst_conn(c);
	c->app = NULL;
	dp_tcp_conn_release(c);
	dp_tcp_leave(s);
}

const struct dp_flow *dp_tcp_conn_flow(const struct dp_tcp_conn *c)
{
	return &c->flow;
}

#define STAT(field, text)                                                                          \
	{                                                                                          \
#field, offsetof(struct dp_tcp_stats, field), text                                 \
	}

const struct dp_tcp_stat_desc dp_tcp_stat_descs[] = {
    STAT(seg_in, "TCP segments received"),
    STAT(seg_out, "TCP segments sent"),
    STAT(bytes_in, "payload bytes delivered to the application"),
    STAT(bytes_out, "payload bytes sent, retransmissions included"),
    STAT(retransmits, "segments retransmitted"),
    STAT(rto_timeouts, "retransmission timer expiries"),
    STAT(fast_retransmits, "fast retransmits and NewReno partial-ACK retransmits"),
    STAT(zero_window_probes, "zero-window probes sent"),
    STAT(acks_delayed, "ACKs sent by the delayed-ACK timer"),
    STAT(rst_in, "RSTs that reset a connection"),
    STAT(rst_out, "RSTs sent"),
    STAT(challenge_acks, "challenge ACKs sent (RFC 5961)"),
    STAT(syncookies_sent, "SYN-ACKs with a SYN cookie (backlog full)"),
    STAT(syncookies_ok, "connections opened from a valid cookie"),
    STAT(syncookies_bad, "ACKs whose cookie did not validate"),
    STAT(conn_accepted, "connections established"),
    STAT(conn_closed, "connections closed by FIN exchange"),
    STAT(conn_reset, "connections reset by the peer"),
    STAT(conn_timeout, "connections dropped by retry limit or timeout"),
    STAT(conn_active, "connections in the table now, TIME-WAIT included"),
    STAT(tx_errors, "segments the IP layer refused or that found no mbuf"),
    STAT(drop_cksum, "segments dropped: bad checksum"),
    STAT(drop_malformed, "segments dropped: too short or bad data offset"),
    STAT(drop_no_listener, "segments for no connection and no listener"),
    STAT(drop_out_of_window, "segments outside the receive window"),
    STAT(drop_paws, "segments dropped by PAWS (old timestamp)"),
    STAT(drop_bad_ack, "segments dropped: ACK outside the acceptable range"),
    STAT(drop_ofo_full, "out-of-order segments dropped: queue full"),
    STAT(drop_backlog, "SYNs or cookie ACKs dropped: backlog or table full"),
    STAT(drop_rst_ignored, "RSTs outside the receive window"),
    STAT(drop_after_close, "payload received after the application closed"),
    STAT(sack_blocks_out, "SACK blocks sent"),
    STAT(sack_blocks_in, "SACK blocks received and used"),
    STAT(sack_blocks_bad, "SACK blocks received and ignored: outside the window"),
    STAT(sack_blocks_dsack, "D-SACK blocks received: the peer got a duplicate"),
    STAT(sack_recoveries, "loss recoveries driven by SACK"),
    STAT(sack_retransmits, "segments retransmitted from the SACK scoreboard"),
};

const size_t dp_tcp_stat_count = sizeof(dp_tcp_stat_descs) / sizeof(dp_tcp_stat_descs[0]);

const struct dp_tcp_stats *dp_tcp_stack_stats(const struct dp_tcp_stack *s)
{
	return &s->stats;
}
