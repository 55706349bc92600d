/* SPDX-License-Identifier: MIT */
/*
 * Congestion control (RFC 5681), cwnd and ssthresh in bytes: slow start
 * with appropriate byte counting (RFC 3465, L = 1 SMSS per ACK) and
 * congestion avoidance of one SMSS per cwnd of acknowledged bytes. Loss
 * recovery (fast retransmit, NewReno partial ACKs) lives in tcp_in.c and
 * calls on_fast_loss / on_rto here, so a CUBIC table can replace this one.
 */
#include "dataplane/net/tcp_stream.h"

static uint32_t flight_size(const struct dp_tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

static void newreno_init(struct dp_tcp_conn *c)
{
	c->cwnd = c->stack->cfg.init_cwnd_segs * c->snd_mss;
	c->ssthresh = UINT32_MAX;
	c->cc_acc = 0;
}

static void newreno_on_ack(struct dp_tcp_conn *c, uint32_t acked)
{
	if (c->cwnd < c->ssthresh) {
		c->cwnd += acked < c->snd_mss ? acked : c->snd_mss;
		return;
	}
	c->cc_acc += acked;
	if (c->cc_acc >= c->cwnd) {
		c->cc_acc -= c->cwnd;
		c->cwnd += c->snd_mss;
	}
}

static void set_ssthresh(struct dp_tcp_conn *c)
{
	/* RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 * SMSS). */
	uint32_t half = flight_size(c) / 2;
	uint32_t floor = 2u * c->snd_mss;

	c->ssthresh = half > floor ? half : floor;
	c->cc_acc = 0;
}

static void newreno_on_rto(struct dp_tcp_conn *c)
{
	set_ssthresh(c);
	c->cwnd = c->snd_mss;
}

const struct dp_tcp_cc_ops dp_tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_fast_loss = set_ssthresh,
    .on_rto = newreno_on_rto,
};
