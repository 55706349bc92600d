/* SPDX-License-Identifier: MIT */
/*
 * Output side: building segments (header, options, payload by reference),
 * sending what the send and congestion windows allow, retransmission on
 * timeout and for fast recovery, zero-window probes, ACKs and RSTs, and the
 * RTT estimator of RFC 6298. Payload is never copied: each segment is a
 * header mbuf chained to indirect mbufs attached to the send queue.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dataplane/net/tcp_stream.h"

static uint8_t *put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
	uint32_t v = rte_cpu_to_be_32(tsval), e = rte_cpu_to_be_32(tsecr);

	*p++ = 8;
	*p++ = 10;
	memcpy(p, &v, 4);
	memcpy(p + 4, &e, 4);
	return p + 8;
}

static size_t opts_len(const struct dp_tcp_hdr_fields *e)
{
	size_t n = 0;

	if (e->mss != 0)
		n += 4;
	if (e->ts || e->sack_ok)
		n += e->ts ? 12 : 4;
	if (e->wscale >= 0)
		n += 4;
	if (e->nsack > 0)
		n += 4 + 8u * e->nsack;
	return n;
}

static void put_opts(uint8_t *p, const struct dp_tcp_hdr_fields *e)
{
	if (e->mss != 0) {
		uint16_t mss = rte_cpu_to_be_16(e->mss);

		*p++ = 2;
		*p++ = 4;
		memcpy(p, &mss, 2);
		p += 2;
	}
	if (e->ts && e->sack_ok) {
		*p++ = 4;
		*p++ = 2;
		p = put_ts(p, e->tsval, e->tsecr);
	} else if (e->ts) {
		*p++ = 1;
		*p++ = 1;
		p = put_ts(p, e->tsval, e->tsecr);
	} else if (e->sack_ok) {
		*p++ = 1;
		*p++ = 1;
		*p++ = 4;
		*p++ = 2;
	}
	if (e->wscale >= 0) {
		*p++ = 1;
		*p++ = 3;
		*p++ = 3;
		*p++ = (uint8_t)e->wscale;
	}
	if (e->nsack > 0) {
		*p++ = 1;
		*p++ = 1;
		*p++ = 5;
		*p++ = (uint8_t)(2 + 8 * e->nsack);
		for (unsigned int i = 0; i < e->nsack; i++) {
			uint32_t v[2] = {rte_cpu_to_be_32(e->sack[i][0]),
					 rte_cpu_to_be_32(e->sack[i][1])};

			memcpy(p, v, 8);
			p += 8;
		}
	}
}

int dp_tcp_emit(struct dp_tcp_stack *s, const struct dp_flow *f, const struct dp_tcp_hdr_fields *e,
		struct rte_mbuf *payload)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
	size_t hlen = TCP_HDR_LEN + opts_len(e);
	struct rte_tcp_hdr *th;
	uint32_t plen = payload != NULL ? payload->pkt_len : 0;
	int rc;

	if (unlikely(m == NULL)) {
		rte_pktmbuf_free(payload);
		s->stats.tx_errors++;
		return -ENOMEM;
	}
	th = (struct rte_tcp_hdr *)rte_pktmbuf_append(m, (uint16_t)hlen);
	th->src_port = f->local_port;
	th->dst_port = f->remote_port;
	th->sent_seq = rte_cpu_to_be_32(e->seq);
	th->recv_ack = rte_cpu_to_be_32(e->ack);
	th->data_off = (uint8_t)((hlen / 4) << 4);
	th->tcp_flags = e->flags;
	th->rx_win = rte_cpu_to_be_16(e->wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	put_opts((uint8_t *)(th + 1), e);
	m->l4_len = hlen;
	if (payload != NULL) {
		m->next = payload;
		m->pkt_len += payload->pkt_len;
		m->nb_segs += payload->nb_segs;
	}
	s->stats.seg_out++;
	s->stats.bytes_out += plen;
	rc = s->ops.ip_output(s->ctx, m, f);
	if (rc != 0)
		s->stats.tx_errors++;
	return rc;
}

uint32_t dp_tcp_rcv_space(const struct dp_tcp_conn *c)
{
	uint32_t buf = c->stack->cfg.rcv_buf;
	uint64_t used = (uint64_t)c->ofo_bytes + c->app_held;

	return used < buf ? buf - (uint32_t)used : 0;
}

uint32_t dp_tcp_rcv_sws_step(const struct dp_tcp_conn *c)
{
	uint32_t half = c->stack->cfg.rcv_buf / 2;

	return c->rcv_mss < half ? c->rcv_mss : half;
}

uint16_t dp_tcp_rcv_window(struct dp_tcp_conn *c, bool syn)
{
	uint32_t avail = dp_tcp_rcv_space(c);
	uint8_t shift = syn ? 0 : c->rcv_wscale;
	uint32_t raw = (avail + (1u << shift) - 1) >> shift;

	if (raw > 65535)
		raw = 65535;
	if (!syn) {
		uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
		uint64_t offer = (uint64_t)raw << shift;

		/*
		 * RFC 9293 3.8.6.2.2: never move the right edge left (the peer may
		 * already use it), and move it right only by a worthwhile step
		 * (receiver silly window avoidance).
		 */
		if (offer <= cur || offer - cur < dp_tcp_rcv_sws_step(c))
			raw = (cur + (1u << shift) - 1) >> shift;
	}
	if (syn || SEQ_GT(c->rcv_nxt + (raw << shift), c->rcv_adv))
		c->rcv_adv = c->rcv_nxt + (raw << shift);
	return (uint16_t)raw;
}

/* Emit a segment of c carrying our ACK, timestamps and window. */
static int conn_emit(struct dp_tcp_conn *c, uint32_t seq, uint8_t flags, struct rte_mbuf *payload)
{
	struct dp_tcp_stack *s = c->stack;
	struct dp_tcp_hdr_fields e = {
	    .seq = seq,
	    .ack = c->rcv_nxt,
	    .flags = flags,
	    .wscale = -1,
	    .ts = c->ts_ok,
	    .tsval = dp_tcp_now_ms(s),
	    .tsecr = c->ts_recent,
	};

	e.wnd = (flags & TCP_RST) ? 0 : dp_tcp_rcv_window(c, false);
	if ((flags & (TCP_ACK | TCP_RST)) == TCP_ACK)
		e.nsack = (uint8_t)dp_tcp_sack_fill(
		    c, e.sack, c->ts_ok ? DP_TCP_SACK_BLOCKS_TS : DP_TCP_SACK_BLOCKS_MAX);
	if (flags & TCP_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->unacked = 0;
		c->ack_now = false;
		dp_timer_cancel(&s->wheel, &c->delack);
	}
	return dp_tcp_emit(s, &c->flow, &e, payload);
}

/*
 * Indirect mbufs for len bytes at off bytes past snd_una, attached to the
 * send queue's segments: no copy. NULL when the pool is empty.
 */
static struct rte_mbuf *payload_ref(struct dp_tcp_conn *c, uint32_t off, uint32_t len)
{
	struct rte_mempool *pool = c->stack->pool;
	struct rte_mbuf *seg = c->sndq_head, *head = NULL, *tail = NULL;
	uint32_t seq = c->snd_una + off;
	uint32_t seg_seq = c->snd_una - c->sndq_off;
	uint32_t pos;

	if (c->sndq_cur != NULL && SEQ_LEQ(c->sndq_cur_seq, seq)) {
		seg = c->sndq_cur;
		seg_seq = c->sndq_cur_seq;
	}
	pos = seq - seg_seq;
	while (seg != NULL && pos >= seg->data_len) {
		pos -= seg->data_len;
		seg_seq += seg->data_len;
		seg = seg->next;
	}
	c->sndq_cur = seg;
	c->sndq_cur_seq = seg_seq;
	while (len > 0 && seg != NULL) {
		uint32_t piece = seg->data_len - pos;
		struct rte_mbuf *mi;

		if (piece > len)
			piece = len;
		mi = rte_pktmbuf_alloc(pool);
		if (unlikely(mi == NULL))
			goto err;
		rte_pktmbuf_attach(mi, seg);
		/* Keep only the flags that say how the buffer is held, none of the sender's
		 * offloads. */
		mi->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
		mi->data_off += pos;
		mi->data_len = (uint16_t)piece;
		mi->pkt_len = piece;
		if (head == NULL) {
			head = mi;
		} else {
			tail->next = mi;
			head->pkt_len += piece;
			head->nb_segs++;
		}
		tail = mi;
		len -= piece;
		pos = 0;
		seg = seg->next;
	}
	return head;

err:
	rte_pktmbuf_free(head);
	return NULL;
}

/* One data and/or FIN segment at seq; seq - snd_una + len must lie in the queue. */
static int xmit(struct dp_tcp_conn *c, uint32_t seq, uint32_t len, bool fin)
{
	struct dp_tcp_stack *s = c->stack;
	struct rte_mbuf *payload = NULL;
	uint8_t flags = TCP_ACK;

	if (len > 0) {
		payload = payload_ref(c, seq - c->snd_una, len);
		if (unlikely(payload == NULL)) {
			s->stats.tx_errors++;
			return -ENOMEM;
		}
		if (seq + len == c->snd_una + c->sndq_len)
			flags |= TCP_PSH;
	}
	if (fin)
		flags |= TCP_FIN;
	if (SEQ_LT(seq, c->snd_max))
		s->stats.retransmits++;
	return conn_emit(c, seq, flags, payload);
}

void dp_tcp_rtx_arm(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	dp_timer_arm(&s->wheel, &c->rtx, s->now_us + c->rto_us);
}

static bool output_state(const struct dp_tcp_conn *c)
{
	switch (c->state) {
	case DP_TCP_ESTABLISHED:
	case DP_TCP_CLOSE_WAIT:
	case DP_TCP_FIN_WAIT_1:
	case DP_TCP_CLOSING:
	case DP_TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/* How far past snd_una new data may go: the peer's window and cwnd. */
static uint32_t send_wnd(const struct dp_tcp_conn *c)
{
	return c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
}

unsigned int dp_tcp_output(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;
	unsigned int sent = 0;

	if (!output_state(c))
		return 0;
	for (;;) {
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t avail = off < c->sndq_len ? c->sndq_len - off : 0;
		uint32_t wnd = c->sack.recovery ? dp_tcp_sack_output_wnd(c) : send_wnd(c);
		uint32_t usable =
		    SEQ_LT(c->snd_nxt, c->snd_una + wnd) ? c->snd_una + wnd - c->snd_nxt : 0;
		uint32_t len = avail;
		bool fin;

		if (len > usable)
			len = usable;
		if (len > c->snd_mss)
			len = c->snd_mss;
		fin = c->app_closed && c->snd_nxt + len == c->fin_seq;
		if (len == 0 && !fin)
			break;
		/* Sender SWS avoidance: no window-limited runt while an ACK is on its way. */
		if (len < c->snd_mss && len < avail && c->snd_nxt != c->snd_una)
			break;
		xmit(c, c->snd_nxt, len, fin);
		if (SEQ_GEQ(c->snd_nxt, c->snd_max) && !c->ts_ok && !c->rtt_timing && len > 0) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start_us = s->now_us;
		}
		c->snd_nxt += len + (fin ? 1u : 0u);
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (fin)
			c->fin_sent = true;
		sent++;
		if (!dp_timer_armed(&c->rtx))
			dp_tcp_rtx_arm(c);
		if (fin)
			break;
	}
	if (c->snd_wnd == 0 && c->snd_una == c->snd_max && c->sndq_len > 0 && !c->persist) {
		c->persist = true;
		c->retries = 0;
		dp_tcp_rtx_arm(c);
	}
	return sent;
}

int dp_tcp_send_ack(struct dp_tcp_conn *c)
{
	return conn_emit(c, c->snd_nxt, TCP_ACK, NULL);
}

int dp_tcp_send_challenge_ack(struct dp_tcp_conn *c)
{
	if (!dp_tcp_challenge_allowed(c->stack))
		return -EBUSY;
	c->stack->stats.challenge_acks++;
	return dp_tcp_send_ack(c);
}

int dp_tcp_send_synack(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;
	struct dp_tcp_hdr_fields e = {
	    .seq = c->iss,
	    .ack = c->rcv_nxt,
	    .flags = TCP_SYN | TCP_ACK,
	    .mss = c->flow.local.family == AF_INET ? s->cfg.mss4 : s->cfg.mss6,
	    .wscale = c->ws_ok ? (int8_t)c->rcv_wscale : -1,
	    .sack_ok = c->sack_ok,
	    .ts = c->ts_ok,
	    .tsval = dp_tcp_now_ms(s),
	    .tsecr = c->ts_recent,
	};

	e.wnd = dp_tcp_rcv_window(c, true);
	c->last_ack_sent = c->rcv_nxt;
	return dp_tcp_emit(s, &c->flow, &e, NULL);
}

void dp_tcp_send_rst_conn(struct dp_tcp_conn *c)
{
	c->stack->stats.rst_out++;
	conn_emit(c, c->snd_max, TCP_RST | TCP_ACK, NULL);
}

void dp_tcp_send_rst_reply(struct dp_tcp_stack *s, const struct dp_flow *f,
			   const struct dp_tcp_seg *g)
{
	struct dp_tcp_hdr_fields e = {.wscale = -1};

	if (g->flags & TCP_RST)
		return;
	if (g->flags & TCP_ACK) {
		e.seq = g->ack;
		e.flags = TCP_RST;
	} else {
		e.ack = g->seq + g->len + ((g->flags & TCP_SYN) ? 1u : 0u) +
			((g->flags & TCP_FIN) ? 1u : 0u);
		e.flags = TCP_RST | TCP_ACK;
	}
	s->stats.rst_out++;
	dp_tcp_emit(s, f, &e, NULL);
}

int dp_tcp_retransmit_head(struct dp_tcp_conn *c)
{
	uint32_t len = c->sndq_len < c->snd_mss ? c->sndq_len : c->snd_mss;
	uint32_t sent = c->snd_max - c->snd_una;
	bool fin;

	/*
	 * Only bytes already sent: queued ones the window held back are new data
	 * for dp_tcp_output(). Past snd_max they would overrun the peer's window
	 * and its ACK of them would be refused as acknowledging unsent data.
	 */
	if (len > sent)
		len = sent;
	/*
	 * Nor past the peer's window as it stands now: a receiver drops a whole
	 * segment that ends beyond its window (Linux does while its receive queue
	 * holds data), so a full-sized retransmission into a window that shrank
	 * under it would be refused at every RTO. A shut window is probed instead
	 * (dp_tcp_rtx_timeout() enters persist).
	 */
	if (len > c->snd_wnd)
		len = c->snd_wnd;
	fin = c->fin_sent && c->snd_una + len == c->fin_seq;

	if (len == 0 && !fin)
		return 0;
	/* Karn: a retransmitted segment gives no RTT sample. */
	c->rtt_timing = false;
	xmit(c, c->snd_una, len, fin);
	return (int)(len + (fin ? 1u : 0u));
}

int dp_tcp_retransmit_range(struct dp_tcp_conn *c, uint32_t seq, uint32_t len)
{
	/* Karn: a retransmitted segment gives no RTT sample. */
	c->rtt_timing = false;
	return xmit(c, seq, len, false);
}

void dp_tcp_sndq_drop(struct dp_tcp_conn *c, uint32_t bytes)
{
	c->sndq_len -= bytes;
	while (c->sndq_head != NULL) {
		struct rte_mbuf *seg = c->sndq_head;
		uint32_t left = seg->data_len - c->sndq_off;

		if (bytes < left) {
			c->sndq_off += bytes;
			return;
		}
		bytes -= left;
		c->sndq_head = seg->next;
		c->sndq_off = 0;
		if (c->sndq_cur == seg)
			c->sndq_cur = NULL;
		seg->next = NULL;
		rte_pktmbuf_free_seg(seg);
	}
	c->sndq_tail = NULL;
}

void dp_tcp_sndq_free(struct dp_tcp_conn *c)
{
	/* The queue is one chain linked by next; rte_pktmbuf_free walks exactly that. */
	rte_pktmbuf_free(c->sndq_head);
	c->sndq_head = NULL;
	c->sndq_cur = NULL;
	c->sndq_tail = NULL;
	c->sndq_len = 0;
	c->sndq_off = 0;
}

void dp_tcp_rtt_sample(struct dp_tcp_conn *c, uint64_t rtt_us)
{
	const struct dp_tcp_config *cfg = &c->stack->cfg;

	if (rtt_us == 0)
		rtt_us = 1;
	if (rtt_us > cfg->rto_max_us)
		rtt_us = cfg->rto_max_us;
	if (c->srtt_us == 0) {
		c->srtt_us = (uint32_t)rtt_us;
		c->rttvar_us = (uint32_t)(rtt_us / 2);
	} else {
		uint64_t delta = c->srtt_us > rtt_us ? c->srtt_us - rtt_us : rtt_us - c->srtt_us;

		c->rttvar_us = (uint32_t)((3u * (uint64_t)c->rttvar_us + delta) / 4u);
		c->srtt_us = (uint32_t)((7u * (uint64_t)c->srtt_us + rtt_us) / 8u);
	}
	dp_tcp_rto_reset(c);
}

void dp_tcp_rto_reset(struct dp_tcp_conn *c)
{
	const struct dp_tcp_config *cfg = &c->stack->cfg;
	uint64_t var4;

	if (c->srtt_us == 0) {
		c->rto_us = cfg->rto_init_us;
		return;
	}
	var4 = 4u * (uint64_t)c->rttvar_us;
	if (var4 < DP_TIMER_TICK_US)
		var4 = DP_TIMER_TICK_US; /* G, the clock granularity */
	c->rto_us = c->srtt_us + var4;
	if (c->rto_us < cfg->rto_min_us)
		c->rto_us = cfg->rto_min_us;
	if (c->rto_us > cfg->rto_max_us)
		c->rto_us = cfg->rto_max_us;
}

static void backoff(struct dp_tcp_conn *c)
{
	uint64_t max = c->stack->cfg.rto_max_us;

	c->rto_us = c->rto_us * 2 > max ? max : c->rto_us * 2;
}

static void abort_timeout(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	s->stats.conn_timeout++;
	dp_tcp_send_rst_conn(c);
	dp_tcp_notify_closed(c, true);
	dp_tcp_conn_release(c);
}

static void probe(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	/* RFC 9293 3.8.6.1: one octet of new data past the closed window. */
	s->stats.zero_window_probes++;
	xmit(c, c->snd_una, 1, false);
	if (SEQ_LT(c->snd_max, c->snd_una + 1))
		c->snd_max = c->snd_una + 1;
	c->snd_nxt = c->snd_max;
}

void dp_tcp_rtx_timeout(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;
	int n;

	switch (c->state) {
	case DP_TCP_CLOSED:
		return;
	case DP_TCP_SYN_RCVD:
		if (++c->retries > s->cfg.syn_retries) {
			s->stats.conn_timeout++;
			dp_tcp_conn_release(c);
			return;
		}
		s->stats.retransmits++;
		backoff(c);
		dp_tcp_send_synack(c);
		dp_tcp_rtx_arm(c);
		return;
	case DP_TCP_TIME_WAIT:
		dp_tcp_conn_release(c);
		return;
	case DP_TCP_FIN_WAIT_2:
		s->stats.conn_timeout++;
		dp_tcp_notify_closed(c, false);
		dp_tcp_conn_release(c);
		return;
	default:
		break;
	}
	if (c->persist) {
		if (++c->retries > s->cfg.max_retries) {
			abort_timeout(c);
			return;
		}
		probe(c);
		backoff(c);
		dp_tcp_rtx_arm(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return;
	if (++c->retries > s->cfg.max_retries) {
		abort_timeout(c);
		return;
	}
	s->stats.rto_timeouts++;
	c->cc->on_rto(c);
	c->in_recovery = false;
	c->dupacks = 0;
	c->recover = c->snd_max;
	dp_tcp_sack_reset(c);
	backoff(c);
	if (c->snd_wnd == 0 && c->sndq_len > 0) {
		/*
		 * The peer shut its window on data in flight (a reader that stopped
		 * reading): it drops whatever we resend, so probe the window like an idle
		 * sender would (RFC 9293 3.8.6.1), and resend from snd_una as soon as an
		 * ACK opens it (process_ack) instead of at the next, backed-off, RTO.
		 */
		c->persist = true;
		probe(c);
	} else {
		/* Go back N: resend from snd_una, one segment now (cwnd is one SMSS). */
		n = dp_tcp_retransmit_head(c);
		c->snd_nxt = c->snd_una + (uint32_t)n;
	}
	dp_tcp_rtx_arm(c);
}
