/* SPDX-License-Identifier: MIT */
/*
 * Input side: header and checksum validation, option parsing, the
 * listener path (passive open, SYN backlog, SYN cookies, RST to closed
 * ports) and segment arrival in the synchronized states, following the
 * order of RFC 9293 3.10.7.4 with the RST/SYN/ACK checks of RFC 5961, PAWS
 * of RFC 7323, delayed ACKs, and fast retransmit with NewReno recovery
 * (RFC 6582), or SACK recovery through tcp_sack.c's hooks.
 */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dataplane/net/cksum.h"
#include "dataplane/net/tcp_stream.h"

#define DEFAULT_MSS4 536
#define DEFAULT_MSS6 1220
/* A peer MSS below this (0 included) is raised to it, so a segment always carries data. */
#define MIN_PEER_MSS 64

/* Parse options; malformed ones end parsing, keeping what was read (never reads past hlen). */
static void parse_opts(struct dp_tcp_seg *g, const uint8_t *opt, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = opt[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		olen = opt[i + 1];
		if (olen < 2 || i + olen > len)
			break;
		switch (kind) {
		case 2:
			if (olen == 4) {
				g->has_mss = true;
				g->mss = (uint16_t)(opt[i + 2] << 8 | opt[i + 3]);
			}
			break;
		case 3:
			if (olen == 3) {
				g->has_ws = true;
				g->ws =
				    opt[i + 2] > DP_TCP_MAX_WSCALE ? DP_TCP_MAX_WSCALE : opt[i + 2];
			}
			break;
		case 4:
			if (olen == 2)
				g->sack_ok = true;
			break;
		case 5:
			/* SACK blocks (RFC 2018 3): kept raw, tcp_sack.c validates them. */
			if (olen >= 10 && (olen - 2) % 8 == 0) {
				g->nsack = (uint8_t)((olen - 2) / 8);
				for (unsigned int b = 0; b < g->nsack; b++) {
					uint32_t v[2];

					memcpy(v, opt + i + 2 + b * 8, 8);
					g->sack[b][0] = rte_be_to_cpu_32(v[0]);
					g->sack[b][1] = rte_be_to_cpu_32(v[1]);
				}
			}
			break;
		case 8:
			if (olen == 10) {
				uint32_t v, e;

				memcpy(&v, opt + i + 2, 4);
				memcpy(&e, opt + i + 6, 4);
				g->has_ts = true;
				g->tsval = rte_be_to_cpu_32(v);
				g->tsecr = rte_be_to_cpu_32(e);
			}
			break;
		default:
			break;
		}
		i += olen;
	}
}

static uint16_t our_mss(const struct dp_tcp_stack *s, const struct dp_flow *f)
{
	return f->local.family == AF_INET ? s->cfg.mss4 : s->cfg.mss6;
}

/* Payload bytes per segment from the peer's MSS, ours and the option overhead. */
static void set_snd_mss(struct dp_tcp_conn *c, uint16_t peer_mss)
{
	uint16_t mine = our_mss(c->stack, &c->flow);
	uint16_t mss = peer_mss < mine ? peer_mss : mine;

	if (mss < MIN_PEER_MSS)
		mss = MIN_PEER_MSS;

	/* Both directions lose the timestamp option's bytes from each segment. */
	if (c->ts_ok) {
		mss -= TCP_TS_OPT_LEN;
		mine -= TCP_TS_OPT_LEN;
	}
	c->snd_mss = mss;
	c->rcv_mss = mine;
}

/* Connection in ESTABLISHED made by accepted(); false when c is gone (refused or aborted). */
static bool establish(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;
	void *app;

	c->state = DP_TCP_ESTABLISHED;
	c->retries = 0;
	c->recover = c->snd_una;
	c->cc->init(c);
	s->stats.conn_accepted++;
	app = s->ops.accepted(s->ctx, c);
	if (dp_tcp_conn_dead(c))
		return false;
	if (app == NULL) {
		dp_tcp_send_rst_conn(c);
		dp_tcp_conn_release(c);
		return false;
	}
	c->app = app;
	return true;
}

static void passive_open(struct dp_tcp_stack *s, const struct dp_flow *f,
			 const struct dp_tcp_seg *g)
{
	struct dp_tcp_conn *c = NULL;

	if (s->syn_rcvd < s->cfg.syn_backlog)
		c = dp_tcp_conn_new(s, f);
	if (c == NULL) {
		uint16_t mss;
		struct dp_syncookie_opts o = {.wscale = g->has_ws ? (int8_t)g->ws : -1,
					      .sack_ok = g->sack_ok};
		struct dp_tcp_hdr_fields e = {
		    .ack = g->seq + 1,
		    .flags = TCP_SYN | TCP_ACK,
		    .wscale = g->has_ws ? (int8_t)s->rcv_wscale : -1,
		    .sack_ok = g->sack_ok && g->has_ts,
		    .ts = g->has_ts,
		    .tsecr = g->tsval,
		};

		if (!s->cfg.syncookies) {
			s->stats.drop_backlog++;
			return;
		}
		/* Without timestamps the cookie cannot carry window scale or SACK: offer neither.
		 */
		if (!g->has_ts)
			e.wscale = -1;
		e.seq = dp_syncookie_make(&s->cookie_key, f, g->seq, g->has_mss ? g->mss : 0,
					  s->now_us, &mss);
		e.mss = our_mss(s, f);
		e.tsval = dp_syncookie_ts_encode(dp_tcp_now_ms(s), &o);
		e.wnd = s->cfg.rcv_buf > 65535 ? 65535 : (uint16_t)s->cfg.rcv_buf;
		s->stats.syncookies_sent++;
		s->last_cookie_us = s->now_us;
		dp_tcp_emit(s, f, &e, NULL);
		return;
	}
	s->syn_rcvd++;
	c->state = DP_TCP_SYN_RCVD;
	c->irs = g->seq;
	c->rcv_nxt = g->seq + 1;
	c->iss = dp_tcp_isn(s, f);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wnd = g->wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = c->iss;
	c->ts_ok = g->has_ts;
	c->ts_recent = g->tsval;
	c->ws_ok = g->has_ws;
	c->snd_wscale = g->has_ws ? g->ws : 0;
	c->rcv_wscale = g->has_ws ? s->rcv_wscale : 0;
	c->sack_ok = g->sack_ok;
	set_snd_mss(c, g->has_mss ? g->mss
				  : (f->local.family == AF_INET ? DEFAULT_MSS4 : DEFAULT_MSS6));
	/* The SYN-ACK is timed by timestamps, else by the clock (Karn: not if retransmitted). */
	c->rtt_start_us = s->now_us;
	dp_tcp_send_synack(c);
	dp_tcp_rtx_arm(c);
}

/* An ACK for no connection: a returning SYN cookie, or junk answered with RST. */
static struct dp_tcp_conn *cookie_open(struct dp_tcp_stack *s, const struct dp_flow *f,
				       const struct dp_tcp_seg *g)
{
	struct dp_syncookie_opts o = {.wscale = -1};
	struct dp_tcp_conn *c;
	uint16_t mss;

	/* Only while cookies are in use, so a stray ACK cannot guess its way in at other times. */
	if (!s->cfg.syncookies || s->stats.syncookies_sent == 0 ||
	    s->now_us - s->last_cookie_us > 2 * DP_SYNCOOKIE_PERIOD_US)
		return NULL;
	if (dp_syncookie_check(&s->cookie_key, f, g->seq - 1, g->ack - 1, s->now_us, &mss) != 0) {
		s->stats.syncookies_bad++;
		return NULL;
	}
	c = dp_tcp_conn_new(s, f);
	if (c == NULL) {
		s->stats.drop_backlog++;
		return NULL;
	}
	s->stats.syncookies_ok++;
	c->irs = g->seq - 1;
	c->rcv_nxt = g->seq;
	c->iss = g->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = g->ack;
	c->ts_ok = g->has_ts && g->tsecr != 0;
	if (c->ts_ok) {
		dp_syncookie_ts_decode(g->tsecr, &o);
		c->ts_recent = g->tsval;
	}
	c->ws_ok = o.wscale >= 0;
	c->snd_wscale = c->ws_ok ? (uint8_t)o.wscale : 0;
	c->rcv_wscale = c->ws_ok ? s->rcv_wscale : 0;
	c->sack_ok = o.sack_ok;
	set_snd_mss(c, mss);
	/* The SYN-ACK advertised an unscaled window no larger than 65535. */
	c->rcv_adv = c->rcv_nxt + (s->cfg.rcv_buf > 65535 ? 65535 : s->cfg.rcv_buf);
	c->snd_wnd = (uint32_t)g->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = g->ack;
	c->state = DP_TCP_ESTABLISHED;
	return c;
}

static void deliver(struct dp_tcp_conn *c, struct rte_mbuf *m)
{
	struct dp_tcp_stack *s = c->stack;

	c->rcv_nxt += m->pkt_len;
	c->unacked += m->pkt_len;
	if (c->app_closed || c->app == NULL) {
		s->stats.drop_after_close++;
		rte_pktmbuf_free(m);
		return;
	}
	s->stats.bytes_in += m->pkt_len;
	s->ops.recv(c->app, m);
}

/* The peer's FIN is next in sequence. Returns false when c is gone. */
static bool fin_arrived(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	c->rcv_nxt++;
	c->ack_now = true;
	c->ofo_fin = false;
	switch (c->state) {
	case DP_TCP_SYN_RCVD:
	case DP_TCP_ESTABLISHED:
		c->state = DP_TCP_CLOSE_WAIT;
		if (s->ops.peer_closed != NULL && c->app != NULL) {
			s->ops.peer_closed(c->app);
			return !dp_tcp_conn_dead(c);
		}
		dp_tcp_close(c);
		return !dp_tcp_conn_dead(c);
	case DP_TCP_FIN_WAIT_1:
		if (c->fin_acked) {
			dp_tcp_send_ack(c);
			dp_tcp_enter_time_wait(c);
		} else {
			c->state = DP_TCP_CLOSING;
		}
		return !dp_tcp_conn_dead(c);
	case DP_TCP_FIN_WAIT_2:
		dp_tcp_send_ack(c);
		dp_tcp_enter_time_wait(c);
		return !dp_tcp_conn_dead(c);
	default:
		return true;
	}
}

/* Hand over in-order data and whatever out-of-order ranges it makes contiguous. */
static bool receive_data(struct dp_tcp_conn *c, uint32_t seq, struct rte_mbuf *m, bool fin)
{
	struct dp_tcp_stack *s = c->stack;
	uint32_t end = seq + (m != NULL ? m->pkt_len : 0);

	if (fin && seq != c->rcv_nxt) {
		c->ofo_fin = true;
		c->ofo_fin_seq = end;
	}
	if (m != NULL && seq != c->rcv_nxt) {
		if (dp_tcp_ofo_insert(c, seq, m) != 0)
			s->stats.drop_ofo_full++;
		else
			dp_tcp_sack_note_ofo(c, seq);
		/* RFC 5681 4.2: an out-of-order segment is acknowledged at once (a duplicate ACK).
		 */
		c->ack_now = true;
		return true;
	}
	if (m != NULL) {
		bool filled = c->ofo_n > 0;

		deliver(c, m);
		while (!dp_tcp_conn_dead(c) && (m = dp_tcp_ofo_pull(c)) != NULL)
			deliver(c, m);
		if (dp_tcp_conn_dead(c))
			return false;
		if (filled || c->unacked >= 2u * c->rcv_mss)
			c->ack_now = true;
		else if (!dp_timer_armed(&c->delack))
			dp_timer_arm(&s->wheel, &c->delack, s->now_us + s->cfg.delack_us);
	}
	if ((fin && end == c->rcv_nxt) || (c->ofo_fin && c->ofo_fin_seq == c->rcv_nxt))
		return fin_arrived(c);
	return true;
}

/* RFC 9293 3.10.7.4 first check: is any of the segment inside the receive window? */
static bool seq_acceptable(const struct dp_tcp_conn *c, const struct dp_tcp_seg *g)
{
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t seglen =
	    g->len + ((g->flags & TCP_SYN) ? 1u : 0u) + ((g->flags & TCP_FIN) ? 1u : 0u);
	uint32_t first = g->seq, last = g->seq + seglen - 1;

	if (seglen == 0) {
		if (wnd == 0)
			return first == c->rcv_nxt;
		return SEQ_GEQ(first, c->rcv_nxt) && SEQ_LT(first, c->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return false;
	return (SEQ_GEQ(first, c->rcv_nxt) && SEQ_LT(first, c->rcv_nxt + wnd)) ||
	       (SEQ_GEQ(last, c->rcv_nxt) && SEQ_LT(last, c->rcv_nxt + wnd));
}

static void new_ack(struct dp_tcp_conn *c, const struct dp_tcp_seg *g)
{
	struct dp_tcp_stack *s = c->stack;
	uint32_t acked = g->ack - c->snd_una;
	uint32_t data = acked < c->sndq_len ? acked : c->sndq_len;

	if (c->ts_ok && g->has_ts && g->tsecr != 0)
		dp_tcp_rtt_sample(c, (uint64_t)(uint32_t)(dp_tcp_now_ms(s) - g->tsecr) * 1000u);
	else if (c->rtt_timing && SEQ_GT(g->ack, c->rtt_seq)) {
		c->rtt_timing = false;
		dp_tcp_rtt_sample(c, s->now_us - c->rtt_start_us);
	}
	dp_tcp_sndq_drop(c, data);
	if (c->fin_sent && SEQ_GT(g->ack, c->fin_seq))
		c->fin_acked = true;
	c->snd_una = g->ack;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
	if (c->in_recovery) {
		if (SEQ_GEQ(g->ack, c->recover)) {
			/* Full ACK (RFC 6582 3.2 step 3): deflate to min(ssthresh, FlightSize +
			 * SMSS). */
			uint32_t flight = c->snd_max - c->snd_una + c->snd_mss;

			c->cwnd = c->ssthresh < flight ? c->ssthresh : flight;
			c->in_recovery = false;
			c->dupacks = 0;
			dp_tcp_sack_exit(c);
		} else if (!c->sack.recovery) {
			/*
			 * Partial ACK: resend the next hole, deflate by what was acknowledged.
			 * (SACK recovery does not deflate; process_ack() lets the pipe decide.)
			 */
			s->stats.fast_retransmits++;
			dp_tcp_retransmit_head(c);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			if (acked >= c->snd_mss)
				c->cwnd += c->snd_mss;
			if (c->cwnd < c->snd_mss)
				c->cwnd = c->snd_mss;
		}
	} else {
		c->dupacks = 0;
		c->cc->on_ack(c, acked);
	}
	if (c->persist && c->sndq_len == 0) {
		/*
		 * The peer took every queued byte (the probe's the last of them, or data
		 * that was in flight when its window shut): nothing is left to probe
		 * with. Staying in persist would probe with a byte the application
		 * never queued, advancing snd_max past the data and shifting every later
		 * byte of the stream by one.
		 */
		c->persist = false;
	}
	if (c->snd_una == c->snd_max && !c->persist)
		dp_timer_cancel(&s->wheel, &c->rtx);
	else if (!c->persist)
		dp_tcp_rtx_arm(c);
}

static void dup_ack(struct dp_tcp_conn *c)
{
	struct dp_tcp_stack *s = c->stack;

	c->dupacks++;
	if (c->in_recovery && c->sack.recovery)
		return; /* process_ack() resends, once the window is current */
	if (c->in_recovery) {
		/* RFC 6582 3.2 step 4: inflate for each segment that left the network. */
		c->cwnd += c->snd_mss;
		return;
	}
	/* RFC 6675 5 (2): SACKed segments above snd_una also say it is lost. */
	if (c->dupacks < 3 && !dp_tcp_sack_head_lost(c))
		return;
	/* Step 2: a new loss episode only once the ACK covers the previous recovery point. */
	if (SEQ_LT(c->snd_una, c->recover))
		return;
	c->cc->on_fast_loss(c);
	c->recover = c->snd_max;
	c->in_recovery = true;
	s->stats.fast_retransmits++;
	if (dp_tcp_sack_enter(c))
		return;
	dp_tcp_retransmit_head(c);
	c->cwnd = c->ssthresh + 3u * c->snd_mss;
}

/* ACK field processing in a synchronized state. Returns false to stop processing. */
static bool process_ack(struct dp_tcp_conn *c, const struct dp_tcp_seg *g)
{
	struct dp_tcp_stack *s = c->stack;
	uint32_t wnd = (uint32_t)g->wnd << c->snd_wscale;
	bool sacked;

	if (SEQ_GT(g->ack, c->snd_max)) {
		s->stats.drop_bad_ack++;
		dp_tcp_send_challenge_ack(c);
		return false;
	}
	/* RFC 5961 5.2: also too old an ACK is dropped with an ACK back. */
	if (SEQ_LT(g->ack, c->snd_una - c->max_snd_wnd)) {
		s->stats.drop_bad_ack++;
		dp_tcp_send_challenge_ack(c);
		return false;
	}
	sacked = dp_tcp_sack_update(c, g);
	if (SEQ_GT(g->ack, c->snd_una)) {
		new_ack(c, g);
		/* RFC 6675 5: newly SACKed data counts as a duplicate ACK, cumulative or not. */
		if (sacked && !c->in_recovery)
			dup_ack(c);
	} else if (sacked && g->ack == c->snd_una) {
		dup_ack(c);
	} else if (g->ack == c->snd_una && g->len == 0 && !(g->flags & (TCP_SYN | TCP_FIN)) &&
		   wnd == c->snd_wnd && c->snd_una != c->snd_max && !c->persist && c->snd_wnd > 0) {
		dup_ack(c);
	}
	if (SEQ_LT(c->snd_wl1, g->seq) || (c->snd_wl1 == g->seq && SEQ_LEQ(c->snd_wl2, g->ack))) {
		uint32_t old_wnd = c->snd_wnd;

		c->snd_wnd = wnd;
		c->snd_wl1 = g->seq;
		c->snd_wl2 = g->ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
		if (c->persist && wnd > 0) {
			/*
			 * Window open again: resend from the oldest byte, the probe's
			 * included. The probes' backoff said nothing about the path, so the
			 * RTO drops it.
			 */
			c->persist = false;
			c->retries = 0;
			c->snd_nxt = c->snd_una;
			dp_tcp_rto_reset(c);
			dp_timer_cancel(&s->wheel, &c->rtx);
		} else if (c->persist && !c->app_closed) {
			/*
			 * RFC 9293 3.8.6.1: a peer that answers the probes may keep its
			 * window shut indefinitely; only unanswered probes count toward
			 * max_retries. Not once the application closed: nobody would
			 * read what is left, and a peer could hold the connection forever.
			 */
			c->retries = 0;
		} else if (!c->persist && c->retries > 0 && wnd > old_wnd && g->ack == c->snd_una &&
			   c->snd_una != c->snd_max && g->len == 0) {
			/*
			 * A window update while the RTO backs off: the peer read and has
			 * room now, and still lacks snd_una, so the retransmission it last
			 * got was refused (beyond its window or its buffer full). Resend
			 * the head at once rather than at the backed-off timeout.
			 */
			c->snd_nxt = c->snd_una + (uint32_t)dp_tcp_retransmit_head(c);
			dp_tcp_rtx_arm(c);
		}
	}
	/* After the window update: a hole past the peer's new right edge waits. */
	dp_tcp_sack_recover(c);
	if (c->want_writable && c->app != NULL && !c->app_closed && dp_tcp_send_space(c) > 0) {
		c->want_writable = false;
		if (s->ops.writable != NULL)
			s->ops.writable(c->app);
		if (dp_tcp_conn_dead(c))
			return false;
	}
	if (!c->fin_acked)
		return true;
	switch (c->state) {
	case DP_TCP_FIN_WAIT_1:
		c->state = DP_TCP_FIN_WAIT_2;
		dp_timer_arm(&s->wheel, &c->rtx, s->now_us + s->cfg.fin_wait2_us);
		return true;
	case DP_TCP_CLOSING:
		dp_tcp_enter_time_wait(c);
		return false;
	case DP_TCP_LAST_ACK:
		s->stats.conn_closed++;
		dp_tcp_notify_closed(c, false);
		dp_tcp_conn_release(c);
		return false;
	default:
		return true;
	}
}

/* SYN-RECEIVED: the ACK that completes the handshake. */
static bool process_synrcvd_ack(struct dp_tcp_conn *c, const struct dp_tcp_seg *g)
{
	struct dp_tcp_stack *s = c->stack;

	if (!(SEQ_GT(g->ack, c->snd_una) && SEQ_LEQ(g->ack, c->snd_max))) {
		dp_tcp_send_rst_reply(s, &c->flow, g);
		return false;
	}
	if (c->ts_ok && g->has_ts && g->tsecr != 0)
		dp_tcp_rtt_sample(c, (uint64_t)(uint32_t)(dp_tcp_now_ms(s) - g->tsecr) * 1000u);
	else if (c->retries == 0)
		dp_tcp_rtt_sample(c, s->now_us - c->rtt_start_us);
	s->syn_rcvd--;
	c->snd_una = g->ack;
	c->snd_wnd = (uint32_t)g->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = g->ack;
	dp_timer_cancel(&s->wheel, &c->rtx);
	c->state = DP_TCP_ESTABLISHED;
	return establish(c);
}

/* Segment arrival for an existing connection; m is the payload (header removed) or NULL. */
static void conn_input(struct dp_tcp_conn *c, struct dp_tcp_seg *g, struct rte_mbuf *m)
{
	struct dp_tcp_stack *s = c->stack;
	bool fin;

	/* RFC 7323 5.3: PAWS, before anything else looks at the segment. */
	if (c->ts_ok && g->has_ts && !(g->flags & TCP_RST) && SEQ_LT(g->tsval, c->ts_recent)) {
		s->stats.drop_paws++;
		dp_tcp_send_ack(c);
		goto drop;
	}
	if (!seq_acceptable(c, g)) {
		if (c->state == DP_TCP_TIME_WAIT && (g->flags & TCP_FIN))
			dp_timer_arm(&s->wheel, &c->rtx, s->now_us + s->cfg.time_wait_us);
		if (c->state == DP_TCP_SYN_RCVD && (g->flags & TCP_SYN) && !(g->flags & TCP_ACK) &&
		    g->seq == c->irs) {
			/*
			 * The peer lost our SYN-ACK and retransmitted its SYN. Echo the new
			 * SYN's timestamp (RFC 7323 4.3: it covers Last.ACK.sent; PAWS
			 * passed): the first one's would give the peer an RTT sample as
			 * long as its SYN timeout, and an RTO of seconds after it.
			 */
			if (c->ts_ok && g->has_ts)
				c->ts_recent = g->tsval;
			dp_tcp_send_synack(c);
			goto drop;
		}
		if (g->flags & TCP_RST) {
			s->stats.drop_rst_ignored++;
			goto drop;
		}
		s->stats.drop_out_of_window++;
		dp_tcp_send_ack(c);
		goto drop;
	}
	/* RFC 5961 3.2: only an RST at exactly rcv_nxt resets; others in the window get a
	 * challenge. */
	if (g->flags & TCP_RST) {
		if (g->seq != c->rcv_nxt) {
			dp_tcp_send_challenge_ack(c);
			goto drop;
		}
		s->stats.rst_in++;
		if (c->state != DP_TCP_SYN_RCVD && c->state != DP_TCP_TIME_WAIT)
			s->stats.conn_reset++;
		dp_tcp_notify_closed(c, true);
		dp_tcp_conn_release(c);
		goto drop;
	}
	/* RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK, never a reset. */
	if (g->flags & TCP_SYN) {
		dp_tcp_send_challenge_ack(c);
		goto drop;
	}
	if (!(g->flags & TCP_ACK))
		goto drop;
	/* Timestamps to echo: RFC 7323 4.3, the segment covers last_ack_sent. */
	if (c->ts_ok && g->has_ts && SEQ_LEQ(g->seq, c->last_ack_sent))
		c->ts_recent = g->tsval;
	/* Trim to the window: drop what was already received and what lies past the right edge. */
	fin = (g->flags & TCP_FIN) != 0;
	if (SEQ_LT(g->seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - g->seq;

		/* A FIN before rcv_nxt was received already. */
		if (fin && SEQ_LT(g->seq + g->len, c->rcv_nxt))
			fin = false;
		if (m != NULL)
			m = d >= g->len ? (rte_pktmbuf_free(m), NULL)
					: dp_tcp_mbuf_trim_front(m, d);
		g->len = d >= g->len ? 0 : g->len - d;
		g->seq = c->rcv_nxt;
	}
	if (m != NULL && SEQ_GT(g->seq + g->len, c->rcv_adv)) {
		uint32_t over = g->seq + g->len - c->rcv_adv;

		m = over >= g->len ? (rte_pktmbuf_free(m), NULL) : dp_tcp_mbuf_trim_back(m, over);
		g->len = over >= g->len ? 0 : g->len - over;
		fin = false;
	}
	if (g->len == 0 && m != NULL) {
		rte_pktmbuf_free(m);
		m = NULL;
	}
	if (c->state == DP_TCP_SYN_RCVD) {
		if (!process_synrcvd_ack(c, g))
			goto drop;
	} else if (!process_ack(c, g)) {
		goto drop;
	}
	switch (c->state) {
	case DP_TCP_ESTABLISHED:
	case DP_TCP_FIN_WAIT_1:
	case DP_TCP_FIN_WAIT_2:
		if (!receive_data(c, g->seq, m, fin))
			return;
		m = NULL;
		break;
	case DP_TCP_TIME_WAIT:
		if (fin) {
			c->ack_now = true;
			dp_timer_arm(&s->wheel, &c->rtx, s->now_us + s->cfg.time_wait_us);
		}
		break;
	default:
		break;
	}
	rte_pktmbuf_free(m);
	m = NULL;
	if (dp_tcp_conn_dead(c))
		return;
	if (dp_tcp_output(c) == 0 && c->ack_now && !dp_tcp_conn_dead(c))
		dp_tcp_send_ack(c);
	return;

drop:
	rte_pktmbuf_free(m);
}

static void listener_input(struct dp_tcp_stack *s, const struct dp_flow *f, struct dp_tcp_seg *g,
			   struct rte_mbuf *m)
{
	struct dp_tcp_conn *c;

	if (!dp_tcp_listener_match(s, f)) {
		s->stats.drop_no_listener++;
		dp_tcp_send_rst_reply(s, f, g); /* never for an RST */
		goto drop;
	}
	if (g->flags & TCP_RST)
		goto drop;
	if ((g->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		/* Data on a SYN is not acknowledged; the peer sends it again. */
		passive_open(s, f, g);
		goto drop;
	}
	if ((g->flags & (TCP_SYN | TCP_ACK)) != TCP_ACK) {
		if (g->flags & TCP_ACK)
			dp_tcp_send_rst_reply(s, f, g);
		goto drop;
	}
	c = cookie_open(s, f, g);
	if (c == NULL) {
		dp_tcp_send_rst_reply(s, f, g);
		goto drop;
	}
	if (!establish(c))
		goto drop;
	conn_input(c, g, m);
	return;

drop:
	rte_pktmbuf_free(m);
}

void dp_tcp_input(struct dp_tcp_stack *s, struct rte_mbuf *m, const struct dp_ip_addr *src,
		  const struct dp_ip_addr *dst)
{
	uint8_t hbuf[60];
	const struct rte_tcp_hdr *th;
	struct dp_tcp_seg g;
	struct dp_flow f;
	struct dp_tcp_conn *c;
	uint64_t ck;

	s->stats.seg_in++;
	dp_tcp_enter(s);
	if (unlikely(m->pkt_len < TCP_HDR_LEN || src->family != dst->family ||
		     (src->family != AF_INET && src->family != AF_INET6))) {
		s->stats.drop_malformed++;
		goto drop;
	}
	th = rte_pktmbuf_read(m, 0, TCP_HDR_LEN, hbuf);
	memset(&g, 0, sizeof(g));
	g.hlen = (uint16_t)((th->data_off >> 4) * 4);
	if (unlikely(g.hlen < TCP_HDR_LEN || g.hlen > m->pkt_len || th->src_port == 0 ||
		     th->dst_port == 0)) {
		s->stats.drop_malformed++;
		goto drop;
	}
	ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
	    (ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	     !dp_cksum_l4_valid(m, 0, m->pkt_len, src, dst, IPPROTO_TCP))) {
		s->stats.drop_cksum++;
		goto drop;
	}
	/* The whole header, options included, contiguous (copied only if it spans segments). */
	th = rte_pktmbuf_read(m, 0, g.hlen, hbuf);
	g.seq = rte_be_to_cpu_32(th->sent_seq);
	g.ack = rte_be_to_cpu_32(th->recv_ack);
	g.wnd = rte_be_to_cpu_16(th->rx_win);
	g.flags = th->tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
	g.len = m->pkt_len - g.hlen;
	parse_opts(&g, (const uint8_t *)th + TCP_HDR_LEN, g.hlen - TCP_HDR_LEN);

	memset(&f, 0, sizeof(f));
	f.local = *dst;
	f.remote = *src;
	f.local_port = th->dst_port;
	f.remote_port = th->src_port;
	m = dp_tcp_mbuf_trim_front(m, g.hlen);
	c = dp_tcp_conn_lookup(s, &f);
	if (c != NULL && c->state == DP_TCP_TIME_WAIT &&
	    (g.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN && SEQ_GT(g.seq, c->rcv_nxt)) {
		/* RFC 9293 3.10.7.4 / RFC 6191: a new incarnation may reuse a TIME-WAIT pair. */
		dp_tcp_conn_release(c);
		c = NULL;
	}
	if (c != NULL)
		conn_input(c, &g, m);
	else
		listener_input(s, &f, &g, m);
	dp_tcp_leave(s);
	return;

drop:
	rte_pktmbuf_free(m);
	dp_tcp_leave(s);
}
