/* SPDX-License-Identifier: MIT */
/*
 * Scripted tests of the userspace TCP layer: each injects the peer's
 * segments and expects the stack's answers, on a virtual clock. Every test
 * ends by checking that every mbuf went back to the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/cksum.h"
#include "dataplane/net/syncookie.h"
#include "dataplane/net/tcp.h"
#include "dataplane/net/tcp_timer.h"
#include "tests/tcp/tcp_script.h"

#define PEER 1000u

static struct dp_tcp_config base_cfg(void)
{
	struct dp_tcp_config cfg;

	dp_tcp_config_defaults(&cfg);
	cfg.max_conns = 64;
	cfg.syn_backlog = 4;
	cfg.max_retries = 3;
	cfg.syn_retries = 2;
	cfg.secret_seed = 42;
	return cfg;
}

static void finish(struct tscript *t)
{
	ts_expect_none(t);
	assert_int_equal(ts_free(t), 0);
}

static const struct tseg full_syn = {
    .wnd = 65535, .mss = 1460, .has_ws = true, .ws = 7, .sack_ok = true, .ts = true, .tsval = 5000};
static const struct tseg plain_syn = {.wnd = 65535, .mss = 1000};

/* A stack with cfg and one connection that completed the handshake with syn's options. */
static struct tscript *established(const struct dp_tcp_config *cfg, const struct tseg *syn,
				   uint32_t *iss)
{
	struct tscript *t = ts_new(cfg, false, false);

	*iss = ts_handshake(t, PEER, syn);
	return t;
}

static void handshake_negotiates_options(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o, d;
	unsigned int i;

	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .mss = 1460, .has_ws = true, .ws = 7,
	       .sack_ok = true, .ts = true, .tsval = 5000);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.flags, F_SYN | F_ACK);
	assert_int_equal(o.ack, PEER + 1);
	assert_int_equal(o.mss, 1460);
	assert_int_equal(o.ws, 3); /* 256 KiB receive buffer needs a shift of 3 */
	assert_true(o.sack_ok);
	assert_true(o.ts);
	assert_int_equal(o.tsecr, 5000);
	assert_int_equal(o.tsval, 1000); /* the virtual clock starts at 1 s */
	ts_expect_none(t);
	assert_int_equal(t->accepted, 0);
	/* Window 1000 scaled by 7 is 128000 bytes. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1, .wnd = 1000, .ts = true,
	       .tsval = 5001, .tsecr = o.tsval);
	assert_int_equal(t->accepted, 1);
	assert_int_equal(st->conn_accepted, 1);
	assert_int_equal(st->conn_active, 1);
	ts_expect_none(t);
	/* Ten segments of 1460 - 12 (the timestamp option) bytes: the initial window. */
	assert_int_equal(ts_app_send(t, 20000, 1), 0);
	for (i = 0; i < 10; i++) {
		ts_expect(t, &d, F_ACK | (i == 13 ? F_PSH : 0), o.seq + 1 + i * 1448, PEER + 1);
		assert_int_equal(d.len, 1448);
		assert_true(d.ts);
		assert_int_equal(d.tsecr, 5001);
		assert_int_equal(d.mss, -1);
		assert_true(d.payload_indirect);
		assert_int_equal(d.data[0], (uint8_t)(1 + (i * 1448) % 1000));
	}
	ts_expect_none(t);
	/* An ACK of everything sent lets the rest go. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1 + 14480, .wnd = 1000,
	       .ts = true, .tsval = 5002, .tsecr = 1000);
	for (i = 0; i < 3; i++) {
		assert_true(ts_pop(t, &d));
		assert_int_equal(d.seq, o.seq + 1 + 14480 + i * 1448);
	}
	assert_true(ts_pop(t, &d));
	assert_int_equal(d.len, 20000 - 13 * 1448);
	assert_int_equal(d.flags, F_ACK | F_PSH);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1 + 20000, .wnd = 1000,
	       .ts = true, .tsval = 5003, .tsecr = 1000);
	assert_int_equal(dp_tcp_send_space(t->conn), cfg.snd_buf);
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, o.seq + 1 + 20000, PEER + 1);
	assert_int_equal(t->closed, 0); /* abort calls no callback */
	finish(t);
}

static void handshake_without_options(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	struct tout o;
	uint32_t iss;

	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 8192);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.flags, F_SYN | F_ACK);
	assert_int_equal(o.mss, 1460);
	assert_int_equal(o.ws, -1);
	assert_false(o.sack_ok);
	assert_false(o.ts);
	assert_int_equal(o.wnd, 65535);
	iss = o.seq + 1;
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 8192);
	assert_int_equal(t->accepted, 1);
	/* No MSS option: 536 bytes per segment (RFC 9293 3.7.1); window not scaled. */
	assert_int_equal(ts_app_send(t, 2000, 0), 0);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 536);
	assert_false(o.ts);
	assert_int_equal(o.wnd, 65535);
	ts_expect(t, &o, F_ACK, iss + 536, PEER + 1);
	ts_expect(t, &o, F_ACK, iss + 1072, PEER + 1);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 1608, PEER + 1);
	assert_int_equal(o.len, 392);
	finish(t);

	/* IPv6 without an MSS option: 1220 bytes (RFC 8200 minimum MTU less headers). */
	t = ts_new(&cfg, true, false);
	iss = ts_handshake(t, PEER, &(struct tseg){.wnd = 65535});
	assert_int_equal(ts_app_send(t, 1500, 0), 0);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 1220);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 1220, PEER + 1);
	assert_int_equal(o.len, 280);
	finish(t);
}

static void ipv6_cookies_and_closed_ports(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o;

	cfg.syn_backlog = 1;
	t = ts_new(&cfg, true, false);
	st = dp_tcp_stack_stats(t->s);
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .dport = 1884);
	ts_expect(t, NULL, F_RST | F_ACK, 0, PEER + 1);
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = 50001);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.mss, 1440);
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = 50002, .mss = 1440,
	       .ts = true, .tsval = 9);
	assert_true(ts_pop(t, &o));
	assert_int_equal(st->syncookies_sent, 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1, .wnd = 65535, .sport = 50002,
	       .ts = true, .tsval = 10, .tsecr = o.tsval);
	assert_int_equal(st->syncookies_ok, 1);
	assert_int_equal(t->accepted, 1);
	t->peer_port = 50002;
	assert_int_equal(ts_app_send(t, 3000, 0), 0);
	ts_expect(t, &o, F_ACK, o.seq + 1, PEER + 1);
	assert_int_equal(o.len, 1440 - 12);
	while (ts_pop(t, &o))
		;
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, o.seq + o.len, PEER + 1);
	finish(t);
}

static void data_and_delayed_ack(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	uint8_t buf[3000];
	struct tout o;
	uint32_t iss, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	iss = ts_handshake(t, PEER, &full_syn);
	INJECT(t, .flags = F_ACK | F_PSH, .seq = PEER + 1, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5002, .data = buf, .len = 100);
	assert_int_equal(t->rx_len, 100);
	assert_memory_equal(t->rx, buf, 100);
	ts_expect_none(t); /* the ACK is delayed */
	ts_advance(t, cfg.delack_us - 1000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, &o, F_ACK, iss, PEER + 101);
	assert_int_equal(o.tsecr, 5002);
	assert_int_equal(st->acks_delayed, 1);
	/* Every second full-sized segment is acknowledged at once. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 101, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5003, .data = buf + 100, .len = 1448);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1549, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5004, .data = buf + 1548, .len = 1448);
	ts_expect(t, &o, F_ACK, iss, PEER + 2997);
	assert_int_equal(t->rx_len, 2996);
	assert_memory_equal(t->rx, buf, 2996);
	assert_int_equal(st->bytes_in, 2996);
	/* Our data: by reference, freed when acknowledged. */
	assert_int_equal(ts_app_send(t, 3000, 9), 0);
	ts_expect(t, &o, F_ACK, iss, PEER + 2997);
	assert_true(o.payload_indirect);
	assert_int_equal(o.data[0], 9);
	assert_int_equal(o.data[1447], (uint8_t)(9 + 447));
	ts_expect(t, &o, F_ACK, iss + 1448, PEER + 2997);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 2896, PEER + 2997);
	assert_int_equal(o.len, 104);
	assert_int_equal(dp_tcp_send_space(t->conn), cfg.snd_buf - 3000);
	INJECT(t, .flags = F_ACK, .seq = PEER + 2997, .ack = iss + 3000, .wnd = 1000, .ts = true,
	       .tsval = 5005, .tsecr = 1000);
	assert_int_equal(dp_tcp_send_space(t->conn), cfg.snd_buf);
	ts_expect_none(t);
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, iss + 3000, PEER + 2997);
	finish(t);
}

static void receive_window_follows_the_application(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint8_t buf[1500];
	struct tscript *t;
	struct tout o;
	uint32_t iss, p = PEER + 1, i;

	memset(buf, 'w', sizeof(buf));
	cfg.rcv_buf = 8000; /* no window scaling needed */
	t = established(&cfg, &plain_syn, &iss);
	t->hold = true;
	/* Two full segments held: the window shrinks by what the application keeps. */
	for (i = 0; i < 2; i++, p += 1500)
		INJECT(t, .flags = F_ACK, .seq = p, .ack = iss, .wnd = 65535, .data = buf,
		       .len = 1500);
	ts_expect(t, &o, F_ACK, iss, p);
	assert_int_equal(o.wnd, 5000);
	for (i = 0; i < 3; i++, p += 1500)
		INJECT(t, .flags = F_ACK, .seq = p, .ack = iss, .wnd = 65535, .data = buf,
		       .len = 1500);
	INJECT(t, .flags = F_ACK, .seq = p, .ack = iss, .wnd = 65535, .data = buf, .len = 500);
	p += 500;
	ts_expect(t, &o, F_ACK, iss, p - 2000);
	assert_int_equal(o.wnd, 2000);
	ts_advance(t, cfg.delack_us);
	ts_expect(t, &o, F_ACK, iss, p);
	assert_int_equal(o.wnd, 0);
	/* A zero-window probe is not accepted. */
	INJECT(t, .flags = F_ACK, .seq = p, .ack = iss, .wnd = 65535, .data = buf, .len = 1);
	ts_expect(t, &o, F_ACK, iss, p);
	assert_int_equal(o.wnd, 0);
	assert_int_equal(t->rx_len, 8000);
	/* Freeing less than a segment's worth announces nothing (silly window avoidance)... */
	dp_tcp_recv_held(t->conn, 7500);
	ts_expect_none(t);
	/* ... a worthwhile step is announced at once, then the full window. */
	dp_tcp_recv_held(t->conn, 6000);
	ts_expect(t, &o, F_ACK, iss, p);
	assert_int_equal(o.wnd, 2000);
	dp_tcp_recv_held(t->conn, 0);
	ts_expect(t, &o, F_ACK, iss, p);
	assert_int_equal(o.wnd, 8000);
	/* Without holding, the window stays open. */
	t->hold = false;
	INJECT(t, .flags = F_ACK, .seq = p, .ack = iss, .wnd = 65535, .data = buf, .len = 1500);
	INJECT(t, .flags = F_ACK, .seq = p + 1500, .ack = iss, .wnd = 65535, .data = buf,
	       .len = 1500);
	ts_expect(t, &o, F_ACK, iss, p + 3000);
	assert_int_equal(o.wnd, 8000);
	finish(t);
}

static void out_of_order_then_fill(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	uint8_t buf[4000];
	uint32_t iss, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	iss = ts_handshake(t, PEER, &plain_syn);
	/* B, then C, out of order: duplicate ACKs, nothing delivered. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 101, .ack = iss, .wnd = 65535, .data = buf + 100,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 201, .ack = iss, .wnd = 65535, .data = buf + 200,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	/* Overlapping both queued ranges. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 151, .ack = iss, .wnd = 65535, .data = buf + 150,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	/* Past the end of C: merged. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 251, .ack = iss, .wnd = 65535, .data = buf + 250,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	assert_int_equal(t->recv_calls, 0);
	/* A fills the hole: everything in order, acknowledged at once. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .data = buf,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, PEER + 351);
	assert_int_equal(t->rx_len, 350);
	assert_memory_equal(t->rx, buf, 350);
	/* Partly old data: only the new part is delivered. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 301, .ack = iss, .wnd = 65535, .data = buf + 300,
	       .len = 100);
	assert_int_equal(t->rx_len, 400);
	assert_memory_equal(t->rx, buf, 400);
	/* Entirely old data: a duplicate ACK, nothing delivered. */
	ts_advance(t, cfg.delack_us);
	ts_expect(t, NULL, F_ACK, iss, PEER + 401);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .data = buf,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, PEER + 401);
	assert_int_equal(t->rx_len, 400);
	/* Nine separate holes: the ninth range does not fit and is dropped. */
	for (i = 0; i < DP_TCP_OFO_RANGES + 1; i++) {
		INJECT(t, .flags = F_ACK, .seq = PEER + 401 + 20 + i * 20, .ack = iss, .wnd = 65535,
		       .data = buf + 420 + i * 20, .len = 10);
		ts_expect(t, NULL, F_ACK, iss, PEER + 401);
	}
	assert_int_equal(st->drop_ofo_full, 1);
	finish(t);

	/* One-byte segments merge into one range, but the mbufs they pin are bounded. */
	t = ts_new(&cfg, false, false);
	st = dp_tcp_stack_stats(t->s);
	iss = ts_handshake(t, PEER, &plain_syn);
	for (i = 0; i < DP_TCP_OFO_MAX_MBUFS + 10; i++) {
		INJECT(t, .flags = F_ACK, .seq = PEER + 101 + i, .ack = iss, .wnd = 65535,
		       .data = buf + 100 + i, .len = 1);
		ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	}
	assert_int_equal(st->drop_ofo_full, 10);
	/* Filling the hole releases what was queued, in order. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .data = buf,
	       .len = 100);
	assert_int_equal(t->rx_len, 100 + DP_TCP_OFO_MAX_MBUFS);
	assert_memory_equal(t->rx, buf, 100 + DP_TCP_OFO_MAX_MBUFS);
	ts_expect(t, NULL, F_ACK, iss, PEER + 101 + DP_TCP_OFO_MAX_MBUFS);
	finish(t);
}

static void rto_backoff_and_retry_limit(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;
	uint64_t rto = 200000, next;
	uint32_t iss, i;

	iss = ts_handshake(t, PEER, &full_syn);
	assert_int_equal(ts_app_send(t, 100, 3), 0);
	ts_expect(t, &o, F_ACK | F_PSH, iss, PEER + 1);
	/* The handshake measured ~0 ms, so RTO is the 200 ms floor. */
	next = dp_tcp_timers_run(t->s, t->now_us);
	assert_true(next <= rto && next > rto - 2000);
	for (i = 0; i < cfg.max_retries; i++) {
		ts_advance(t, rto - 1000);
		ts_expect_none(t);
		ts_advance(t, 1000);
		ts_expect(t, &o, F_ACK | F_PSH, iss, PEER + 1);
		assert_int_equal(o.len, 100);
		assert_int_equal(o.data[0], 3);
		assert_int_equal(st->retransmits, i + 1);
		rto *= 2;
	}
	assert_int_equal(st->rto_timeouts, cfg.max_retries);
	ts_advance(t, rto);
	ts_expect(t, NULL, F_RST | F_ACK, iss + 100, PEER + 1);
	assert_int_equal(t->closed, 1);
	assert_true(t->closed_reset);
	assert_int_equal(st->conn_timeout, 1);
	assert_int_equal(st->conn_active, 0);
	assert_int_equal(dp_tcp_timers_run(t->s, t->now_us), DP_TCP_TIMER_NONE);
	finish(t);
}

/*
 * A retransmission resends only what was sent: queued bytes the window had
 * held back stay for dp_tcp_output(). Sending them from the RTO path went
 * past the peer's window and past snd_max, so the peer's ACK of them was
 * refused as acknowledging unsent data (drop_bad_ack), with the data it
 * carried, every time: the connection stalled until the retry limit.
 */
static void retransmission_stays_within_what_was_sent(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tseg syn = plain_syn;
	struct tout o;
	uint32_t iss;

	syn.wnd = 300;
	iss = ts_handshake(t, PEER, &syn);
	assert_int_equal(ts_app_send(t, 900, 1), 0);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 300);
	ts_expect_none(t);
	ts_advance(t, 200000);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(st->rto_timeouts, 1);
	/* The peer acknowledges what the retransmission carried, with data of its own. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + o.len, .wnd = 300, .data = "abc",
	       .len = 3);
	assert_int_equal(st->drop_bad_ack, 0);
	assert_int_equal(t->rx_len, 3);
	assert_int_equal(o.len, 300);
	/* The rest goes out as the window allows. */
	ts_expect(t, &o, F_ACK, iss + 300, PEER + 4);
	assert_int_equal(o.len, 300);
	INJECT(t, .flags = F_ACK, .seq = PEER + 4, .ack = iss + 600, .wnd = 300);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 600, PEER + 4);
	assert_int_equal(o.len, 300);
	INJECT(t, .flags = F_ACK, .seq = PEER + 4, .ack = iss + 900, .wnd = 300);
	finish(t);
}

static void rto_from_measured_rtt(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	struct tout o;
	uint32_t iss;

	/* Karn-timed SYN-ACK (no timestamps): 300 ms, so RTO = 300 + 4 * 150 = 900 ms. */
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .mss = 1000);
	assert_true(ts_pop(t, &o));
	iss = o.seq + 1;
	ts_advance(t, 300000);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535);
	assert_int_equal(ts_app_send(t, 10, 0), 0);
	ts_expect(t, NULL, F_ACK | F_PSH, iss, PEER + 1);
	ts_advance(t, 899000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, NULL, F_ACK | F_PSH, iss, PEER + 1);
	/* Karn: the ACK of a retransmitted segment gives no sample; the backed-off RTO stays. */
	ts_advance(t, 100000);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 10, .wnd = 65535);
	assert_int_equal(ts_app_send(t, 10, 0), 0);
	ts_expect(t, NULL, F_ACK | F_PSH, iss + 10, PEER + 1);
	ts_advance(t, 1799000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, NULL, F_ACK | F_PSH, iss + 10, PEER + 1);
	finish(t);

	/* Timestamps: the echo of our TSval measures 500 ms: RTO = 500 + 4 * 250 = 1.5 s. */
	t = ts_new(&cfg, false, false);
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .mss = 1000, .ts = true, .tsval = 10);
	assert_true(ts_pop(t, &o));
	iss = o.seq + 1;
	ts_advance(t, 500000);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .ts = true,
	       .tsval = 11, .tsecr = o.tsval);
	assert_int_equal(ts_app_send(t, 10, 0), 0);
	ts_expect(t, NULL, F_ACK | F_PSH, iss, PEER + 1);
	ts_advance(t, 1499000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, NULL, F_ACK | F_PSH, iss, PEER + 1);
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, iss + 10, PEER + 1);
	finish(t);
}

/* Pop one flight and acknowledge it segment by segment; returns its segment count. */
static unsigned int ack_flight(struct tscript *t, uint32_t iss, uint32_t *sent)
{
	uint32_t ends[128];
	unsigned int n = 0, i;
	struct tout o;

	while (ts_pop(t, &o)) {
		assert_true(n < 128);
		*sent += o.len;
		ends[n++] = *sent;
	}
	for (i = 0; i < n; i++)
		INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + ends[i], .wnd = 65535);
	return n;
}

static void congestion_avoidance_is_linear(void **state)
{
	static const unsigned int after_loss[] = {2, 4, 8, 16, 17, 18};
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	struct tout o;
	uint32_t iss, sent = 0;
	unsigned int round;

	cfg.init_cwnd_segs = 2;
	t = ts_new(&cfg, false, false);
	iss = ts_handshake(t, PEER, &plain_syn);
	assert_int_equal(ts_app_send(t, 200000, 0), 0);
	/* Slow start: one SMSS per ACK doubles each flight. */
	for (round = 0; round < 4; round++)
		assert_int_equal(ack_flight(t, iss, &sent), 2u << round);
	/* The next flight of 32 is lost: RTO sets ssthresh to 16000 and cwnd to one segment. */
	while (ts_pop(t, &o))
		sent += o.len;
	assert_int_equal(sent, 62000);
	ts_advance(t, 200000);
	ts_expect(t, &o, F_ACK, iss + 30000, PEER + 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + sent, .wnd = 65535);
	/* Slow start up to ssthresh, then one segment more per flight. */
	for (round = 0; round < sizeof(after_loss) / sizeof(after_loss[0]); round++)
		assert_int_equal(ack_flight(t, iss, &sent), after_loss[round]);
	assert_int_equal(ts_pending(t), 19);
	while (ts_pop(t, &o))
		sent += o.len;
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, iss + sent, PEER + 1);
	finish(t);
}

static void fast_retransmit_and_newreno(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;
	uint32_t iss, i;

	iss = ts_handshake(t, PEER, &plain_syn);
	assert_int_equal(ts_app_send(t, 10000, 0), 0);
	for (i = 0; i < 10; i++) {
		assert_true(ts_pop(t, &o));
		assert_int_equal(o.seq, iss + i * 1000);
	}
	/* Segment 2 lost: one good ACK, then three duplicates. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	ts_expect(t, &o, F_ACK, iss + 1000, PEER + 1);
	assert_int_equal(o.len, 1000);
	assert_int_equal(st->fast_retransmits, 1);
	/* More duplicates only inflate cwnd; no new data is queued. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	ts_expect_none(t);
	/* Partial ACK (segment 6 lost too): its hole is retransmitted at once (RFC 6582). */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 5000, .wnd = 65535);
	ts_expect(t, &o, F_ACK, iss + 5000, PEER + 1);
	assert_int_equal(o.len, 1000);
	assert_int_equal(st->fast_retransmits, 2);
	/* Full ACK: recovery ends, cwnd = min(ssthresh, FlightSize + SMSS) = one segment. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 10000, .wnd = 65535);
	ts_expect_none(t);
	assert_int_equal(ts_app_send(t, 3000, 0), 0);
	ts_expect(t, &o, F_ACK, iss + 10000, PEER + 1);
	ts_expect_none(t);
	assert_int_equal(st->rto_timeouts, 0);
	/* Slow start again: one ACK, two segments. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 11000, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss + 11000, PEER + 1);
	ts_expect(t, NULL, F_ACK | F_PSH, iss + 12000, PEER + 1);
	finish(t);
}

static void zero_window_probes(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;

	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 0);
	assert_int_equal(ts_app_send(t, 500, 5), 0);
	ts_expect_none(t);
	ts_advance(t, 199000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 1);
	assert_int_equal(o.data[0], 5);
	assert_int_equal(st->zero_window_probes, 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 0);
	ts_expect_none(t);
	/* Backoff: the next probe 400 ms later. */
	ts_advance(t, 399000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 1);
	assert_int_equal(st->zero_window_probes, 2);
	/* The window opens: everything from the oldest byte goes out. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535);
	ts_expect(t, &o, F_ACK | F_PSH, iss, PEER + 1);
	assert_int_equal(o.len, 500);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 500, .wnd = 65535);
	ts_advance(t, 10000000);
	ts_expect_none(t);
	assert_int_equal(t->closed, 0);
	finish(t);
}

/* Pop a flight of n segments of 1000 bytes from iss + from; the last carries PSH when push. */
static void expect_flight(struct tscript *t, uint32_t iss, uint32_t from, unsigned int n, bool push)
{
	struct tout o;
	unsigned int i;

	for (i = 0; i < n; i++) {
		ts_expect(t, &o, F_ACK | (push && i == n - 1 ? F_PSH : 0), iss + from + i * 1000,
			  PEER + 1);
		assert_int_equal(o.len, 1000);
	}
	ts_expect_none(t);
}

static void retransmission_fits_a_shrunk_window(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;

	assert_int_equal(ts_app_send(t, 3000, 7), 0);
	expect_flight(t, iss, 0, 3, true);
	/*
	 * A reader that stopped reading: the peer took the first segment, dropped
	 * the others and has 500 bytes of window left.
	 */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 500);
	ts_expect_none(t);
	ts_advance(t, 200000);
	/* The peer would drop a whole segment again as ending beyond its window. */
	ts_expect(t, &o, F_ACK, iss + 1000, PEER + 1);
	assert_int_equal(o.len, 500);
	assert_int_equal(o.data[0], 7);
	assert_int_equal(st->rto_timeouts, 1);
	ts_expect_none(t);
	/* Accepted; the window grows and the rest follows within it. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1500, .wnd = 1500);
	ts_expect(t, &o, F_ACK, iss + 1500, PEER + 1);
	assert_int_equal(o.len, 1000);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 2500, PEER + 1);
	assert_int_equal(o.len, 500);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 1500);
	ts_advance(t, 10000000);
	assert_int_equal(st->rto_timeouts, 1);
	assert_int_equal(t->closed, 0);
	finish(t);
}

static void zero_window_with_data_in_flight(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	uint64_t gap = 400000;
	struct tout o;
	unsigned int i;

	assert_int_equal(ts_app_send(t, 5000, 9), 0);
	expect_flight(t, iss, 0, 5, true);
	/* The reader stopped: the peer took two segments and shut its window on the other three. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 2000, .wnd = 0);
	ts_expect_none(t);
	/* The RTO finds the window shut: it probes it rather than resend what would be dropped. */
	ts_advance(t, 200000);
	ts_expect(t, &o, F_ACK, iss + 2000, PEER + 1);
	assert_int_equal(o.len, 1);
	assert_int_equal(o.data[0], 9);
	assert_int_equal(st->rto_timeouts, 1);
	assert_int_equal(st->zero_window_probes, 1);
	/*
	 * 6 s more without reading, each probe answered with a shut window: the
	 * probes back off, and answered ones never reach max_retries (3).
	 */
	for (i = 0; i < 4; i++, gap *= 2) {
		INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 2000, .wnd = 0);
		ts_expect_none(t);
		ts_advance(t, gap - 1000);
		ts_expect_none(t);
		ts_advance(t, 1000);
		ts_expect(t, &o, F_ACK, iss + 2000, PEER + 1);
		assert_int_equal(o.len, 1);
	}
	assert_int_equal(st->zero_window_probes, 5);
	assert_int_equal(t->closed, 0);
	/* The reader reads and its window update resends from the oldest byte at once. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 2000, .wnd = 4000);
	expect_flight(t, iss, 2000, 1, false);
	/* The RTO is the measured one again, not the probes' 6.4 s. */
	ts_advance(t, 199000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	expect_flight(t, iss, 2000, 1, false);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 4000);
	expect_flight(t, iss, 3000, 2, true);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 5000, .wnd = 4000);
	ts_advance(t, 10000000);
	assert_int_equal(t->closed, 0);
	finish(t);
}

static void window_update_resends_a_refused_retransmission(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	assert_int_equal(ts_app_send(t, 3000, 0), 0);
	expect_flight(t, iss, 0, 3, true);
	/* The peer's buffer is full: it takes one segment and drops what follows. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 2000);
	ts_advance(t, 200000);
	expect_flight(t, iss, 1000, 1, false);
	ts_advance(t, 400000);
	expect_flight(t, iss, 1000, 1, false);
	assert_int_equal(st->rto_timeouts, 2);
	/* Its answer to a refused retransmission: the same window, nothing to resend. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 2000);
	ts_expect_none(t);
	/* The reader reads: the window update brings the head at once, not 800 ms later. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 8000);
	expect_flight(t, iss, 1000, 1, false);
	assert_int_equal(st->rto_timeouts, 2);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 2000, .wnd = 8000);
	expect_flight(t, iss, 2000, 1, true);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 8000);
	ts_advance(t, 10000000);
	assert_int_equal(st->rto_timeouts, 2);
	assert_int_equal(t->closed, 0);
	finish(t);
}

/*
 * fuzz_net's "sent byte at seq ... is 0xbc, queued 0x5b": the peer takes
 * everything in flight, the probe included, and keeps its window shut. With
 * nothing queued the persist timer used to probe anyway, with a byte the
 * application never queued: snd_max moved one past the data, the peer could
 * acknowledge that byte, and every byte queued after it went out one sequence
 * number late.
 */
static void zero_window_acked_in_full_stops_probing(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;

	assert_int_equal(ts_app_send(t, 3000, 9), 0);
	expect_flight(t, iss, 0, 3, true);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 0);
	ts_advance(t, 200000);
	ts_expect(t, &o, F_ACK, iss + 1000, PEER + 1);
	assert_int_equal(o.len, 1);
	assert_int_equal(st->zero_window_probes, 1);
	/* The peer had buffered all of it after all; its window stays shut. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 0);
	ts_expect_none(t);
	/* Nothing queued: nothing to probe with, however long the window stays shut. */
	ts_advance(t, 60000000);
	ts_expect_none(t);
	assert_int_equal(st->zero_window_probes, 1);
	/* Nor is there a byte at iss + 3000 the peer could acknowledge. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3001, .wnd = 0);
	ts_expect(t, NULL, F_ACK, iss + 3000, PEER + 1);
	ts_expect_none(t);
	assert_int_equal(st->challenge_acks, 1);
	/* What the application queues next starts at iss + 3000. */
	assert_int_equal(ts_app_send(t, 500, 0x40), 0);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 4000);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 3000, PEER + 1);
	assert_int_equal(o.len, 500);
	assert_int_equal(o.data[0], 0x40);
	assert_int_equal(o.data[499], (uint8_t)(0x40 + 499));
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3500, .wnd = 4000);
	ts_advance(t, 10000000);
	ts_expect_none(t);
	assert_int_equal(t->closed, 0);
	finish(t);
}

/* The same through the idle sender's persist: the probe was the only byte queued. */
static void zero_window_probe_acked_stops_probing(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;

	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 0);
	assert_int_equal(ts_app_send(t, 1, 5), 0);
	ts_advance(t, 200000);
	ts_expect(t, &o, F_ACK | F_PSH, iss, PEER + 1);
	assert_int_equal(o.len, 1);
	assert_int_equal(o.data[0], 5);
	/* The peer took the probe's byte and has no room for more. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1, .wnd = 0);
	ts_advance(t, 60000000);
	ts_expect_none(t);
	assert_int_equal(st->zero_window_probes, 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 2, .wnd = 0);
	ts_expect(t, NULL, F_ACK, iss + 1, PEER + 1);
	assert_int_equal(st->challenge_acks, 1);
	assert_int_equal(ts_app_send(t, 500, 0x40), 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1, .wnd = 4000);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 1, PEER + 1);
	assert_int_equal(o.len, 500);
	assert_int_equal(o.data[0], 0x40);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 501, .wnd = 4000);
	ts_advance(t, 10000000);
	ts_expect_none(t);
	assert_int_equal(t->closed, 0);
	finish(t);
}

static void fin_from_peer(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	uint32_t iss;

	/* Without peer_closed, the stack closes its side itself. */
	iss = ts_handshake(t, PEER, &plain_syn);
	INJECT(t, .flags = F_ACK | F_FIN, .seq = PEER + 1, .ack = iss, .wnd = 65535);
	ts_expect(t, NULL, F_ACK | F_FIN, iss, PEER + 2);
	assert_int_equal(t->closed, 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 2, .ack = iss + 1, .wnd = 65535);
	assert_int_equal(t->closed, 1);
	assert_false(t->closed_reset);
	assert_int_equal(st->conn_closed, 1);
	assert_int_equal(st->conn_active, 0);
	/* Gone: the next segment meets a closed port (listener, but not a SYN or cookie). */
	INJECT(t, .flags = F_ACK, .seq = PEER + 2, .ack = iss + 1, .wnd = 65535);
	ts_expect(t, NULL, F_RST, iss + 1, 0);
	finish(t);

	/* With peer_closed, the application decides; its data goes out before FIN. */
	t = ts_new(&cfg, false, true);
	iss = ts_handshake(t, PEER, &plain_syn);
	INJECT(t, .flags = F_ACK | F_FIN, .seq = PEER + 1, .ack = iss, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss, PEER + 2);
	assert_int_equal(t->peer_closed, 1);
	assert_int_equal(ts_app_send(t, 10, 0), 0);
	ts_expect(t, NULL, F_ACK | F_PSH, iss, PEER + 2);
	dp_tcp_close(t->conn);
	ts_expect(t, NULL, F_ACK | F_FIN, iss + 10, PEER + 2);
	/* Our FIN lost: it is retransmitted with the data's RTO. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 2, .ack = iss + 10, .wnd = 65535);
	ts_advance(t, 200000);
	ts_expect(t, NULL, F_ACK | F_FIN, iss + 10, PEER + 2);
	INJECT(t, .flags = F_ACK, .seq = PEER + 2, .ack = iss + 11, .wnd = 65535);
	assert_int_equal(t->closed, 1);
	assert_false(t->closed_reset);
	finish(t);
}

static void fin_from_us_and_time_wait(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	assert_int_equal(ts_app_send(t, 100, 0), 0);
	ts_expect(t, NULL, F_ACK | F_PSH, iss, PEER + 1);
	dp_tcp_close(t->conn);
	ts_expect(t, NULL, F_ACK | F_FIN, iss + 100, PEER + 1);
	assert_int_equal(ts_app_send(t, 1, 0), -EPIPE);
	/* FIN-WAIT-2 once everything is acknowledged. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 101, .wnd = 65535);
	ts_expect_none(t);
	assert_int_equal(t->closed, 0);
	/* Data after our close is acknowledged, not delivered. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 101, .wnd = 65535, .data = "xy",
	       .len = 2);
	assert_int_equal(t->recv_calls, 0);
	assert_int_equal(st->drop_after_close, 1);
	INJECT(t, .flags = F_ACK | F_FIN, .seq = PEER + 3, .ack = iss + 101, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss + 101, PEER + 4);
	assert_int_equal(t->closed, 1);
	assert_false(t->closed_reset);
	/* TIME-WAIT: a retransmitted FIN is acknowledged again. */
	ts_advance(t, 30000000);
	INJECT(t, .flags = F_ACK | F_FIN, .seq = PEER + 3, .ack = iss + 101, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss + 101, PEER + 4);
	assert_int_equal(st->conn_active, 1);
	/* ... and restarts the 2 MSL timer. */
	ts_advance(t, cfg.time_wait_us - 1000);
	assert_int_equal(st->conn_active, 1);
	ts_advance(t, 1000);
	assert_int_equal(st->conn_active, 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 4, .ack = iss + 101, .wnd = 65535);
	ts_expect(t, NULL, F_RST, iss + 101, 0);
	assert_int_equal(t->closed, 1);
	finish(t);
}

static void fin_wait_2_times_out(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	dp_tcp_close(t->conn);
	ts_expect(t, NULL, F_ACK | F_FIN, iss, PEER + 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1, .wnd = 65535);
	ts_advance(t, cfg.fin_wait2_us);
	assert_int_equal(t->closed, 1);
	assert_int_equal(st->conn_timeout, 1);
	assert_int_equal(st->conn_active, 0);
	finish(t);
}

static void simultaneous_close(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	dp_tcp_close(t->conn);
	ts_expect(t, NULL, F_ACK | F_FIN, iss, PEER + 1);
	/* The peer's FIN crosses ours: CLOSING. */
	INJECT(t, .flags = F_ACK | F_FIN, .seq = PEER + 1, .ack = iss, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss + 1, PEER + 2);
	assert_int_equal(t->closed, 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 2, .ack = iss + 1, .wnd = 65535);
	ts_expect_none(t);
	assert_int_equal(t->closed, 1);
	assert_int_equal(st->conn_active, 1); /* TIME-WAIT */
	ts_advance(t, cfg.time_wait_us);
	assert_int_equal(st->conn_active, 0);
	assert_int_equal(st->conn_closed, 1);
	finish(t);
}

static void rst_rules(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	uint32_t iss;

	cfg.challenge_ack_limit = 3;
	t = ts_new(&cfg, false, false);
	st = dp_tcp_stack_stats(t->s);
	iss = ts_handshake(t, PEER, &plain_syn);
	/* In the window but not exact: challenge ACK (RFC 5961 3.2), connection kept. */
	INJECT(t, .flags = F_RST, .seq = PEER + 1000, .wnd = 0);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	assert_int_equal(t->closed, 0);
	assert_int_equal(st->challenge_acks, 1);
	/* Out of the window: silently dropped. */
	INJECT(t, .flags = F_RST, .seq = PEER + 1 + 10000000, .wnd = 0);
	ts_expect_none(t);
	assert_int_equal(st->drop_rst_ignored, 1);
	assert_int_equal(st->drop_out_of_window, 0);
	/* A SYN on an established connection: challenge ACK (RFC 5961 4.2). */
	INJECT(t, .flags = F_SYN, .seq = PEER + 500, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	/* An ACK for data never sent: ACK back, dropped (RFC 5961 5.2). */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 5000, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	assert_int_equal(st->drop_bad_ack, 1);
	/* Challenge ACKs are rate limited per second. */
	INJECT(t, .flags = F_RST, .seq = PEER + 1000, .wnd = 0);
	ts_expect_none(t);
	assert_int_equal(st->challenge_acks, 3);
	ts_advance(t, 1000000);
	INJECT(t, .flags = F_RST, .seq = PEER + 1000, .wnd = 0);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	/* Exactly rcv_nxt: reset. */
	INJECT(t, .flags = F_RST, .seq = PEER + 1, .wnd = 0);
	ts_expect_none(t);
	assert_int_equal(t->closed, 1);
	assert_true(t->closed_reset);
	assert_int_equal(st->conn_reset, 1);
	assert_int_equal(st->conn_active, 0);
	finish(t);
}

static void closed_port_gets_rst(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;

	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .dport = 1884);
	ts_expect(t, &o, F_RST | F_ACK, 0, PEER + 1);
	assert_int_equal(o.dport, 40000);
	INJECT(t, .flags = F_ACK, .seq = PEER, .ack = 777, .wnd = 65535, .dport = 1884);
	ts_expect(t, NULL, F_RST, 777, 0);
	INJECT(t, .flags = F_ACK | F_PSH, .seq = PEER, .wnd = 65535, .dport = 1884, .data = "abc",
	       .len = 3);
	ts_expect(t, NULL, F_RST, 0, 0);
	/* Never an RST for an RST. */
	INJECT(t, .flags = F_RST, .seq = PEER, .wnd = 0, .dport = 1884);
	ts_expect_none(t);
	assert_int_equal(st->drop_no_listener, 4);
	assert_int_equal(st->rst_out, 3);
	finish(t);
}

static void syn_flood_uses_cookies(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o, r;
	uint16_t port;
	uint32_t total = 0, ciss;

	cfg.syn_backlog = 2;
	t = ts_new(&cfg, false, false);
	st = dp_tcp_stack_stats(t->s);
	for (port = 50001; port <= 50002; port++) {
		INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = port);
		assert_true(ts_pop(t, &o));
		assert_int_equal(o.flags, F_SYN | F_ACK);
		assert_int_equal(o.dport, port);
	}
	assert_int_equal(st->syncookies_sent, 0);
	assert_int_equal(st->conn_active, 2);
	/* Backlog full: a cookie, and no state. */
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = 50003, .mss = 1400,
	       .has_ws = true, .ws = 5, .sack_ok = true, .ts = true, .tsval = 7000);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.flags, F_SYN | F_ACK);
	assert_int_equal(o.ack, PEER + 1);
	assert_int_equal(o.ws, 3);
	assert_true(o.ts);
	assert_true(o.sack_ok);
	assert_int_equal(o.tsecr, 7000);
	assert_int_equal(st->syncookies_sent, 1);
	assert_int_equal(st->conn_active, 2);
	/* The cookie comes back: established, with window scale 5 recovered from TSecr. */
	ciss = o.seq + 1;
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = ciss, .wnd = 1000, .sport = 50003,
	       .ts = true, .tsval = 7001, .tsecr = o.tsval);
	assert_int_equal(st->syncookies_ok, 1);
	assert_int_equal(t->accepted, 1);
	assert_int_equal(st->conn_active, 3);
	t->peer_port = 50003;
	assert_int_equal(ts_app_send(t, 5000, 0), 0);
	while (ts_pop(t, &o)) {
		assert_int_equal(o.dport, 50003);
		assert_true(o.len <= 1400 - 12);
		total += o.len;
	}
	/* 1000 << 5 = 32000 bytes of window: all 5000 leave (unscaled, 1000 would not). */
	assert_int_equal(total, 5000);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = ciss + 5000, .wnd = 1000, .sport = 50003,
	       .ts = true, .tsval = 7002, .tsecr = 1000);
	ts_expect_none(t);
	/* A forged cookie: RST. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = 0x12345678, .wnd = 1000, .sport = 50004);
	ts_expect(t, NULL, F_RST, 0x12345678, 0);
	assert_int_equal(st->syncookies_bad, 1);
	/* A cookie without timestamps: no window scale, MSS 536 without an MSS option. */
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = 50005);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.ws, -1);
	assert_false(o.ts);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1, .wnd = 100, .sport = 50005);
	assert_int_equal(st->syncookies_ok, 2);
	t->peer_port = 50005;
	assert_int_equal(ts_app_send(t, 600, 0), 0);
	ts_expect(t, &r, F_ACK, o.seq + 1, PEER + 1);
	assert_int_equal(r.len, 100); /* window 100, unscaled */
	ts_expect_none(t);
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, o.seq + 101, PEER + 1);
	/* Too late: cookies live two periods at most. */
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = 50006);
	assert_true(ts_pop(t, &o));
	for (port = 0; port < 2 * DP_SYNCOOKIE_PERIOD_US / 1000000 + 1; port++)
		ts_advance(t, 1000000);
	/* Meanwhile the two stateful SYN-RECEIVED attempts retransmitted twice and gave up. */
	for (port = 0; port < 4; port++) {
		assert_true(ts_pop(t, &r));
		assert_int_equal(r.flags, F_SYN | F_ACK);
		assert_true(r.dport == 50001 || r.dport == 50002);
	}
	ts_expect_none(t);
	assert_int_equal(st->conn_active, 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1, .wnd = 100, .sport = 50006);
	ts_expect(t, NULL, F_RST, o.seq + 1, 0);
	/* No cookie sent for two periods: not even checked. */
	assert_int_equal(st->syncookies_bad, 1);
	assert_int_equal(st->syncookies_ok, 2);
	finish(t);
}

static void syn_received_times_out(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o, r;

	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535);
	assert_true(ts_pop(t, &o));
	/* A retransmitted SYN gets the SYN-ACK again. */
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535);
	ts_expect(t, &r, F_SYN | F_ACK, o.seq, PEER + 1);
	/* Retransmitted after 1 s, then 2 s later; after syn_retries the attempt is dropped. */
	ts_advance(t, cfg.rto_init_us - 1000);
	ts_expect_none(t);
	ts_advance(t, 1000);
	ts_expect(t, NULL, F_SYN | F_ACK, o.seq, PEER + 1);
	ts_advance(t, cfg.rto_init_us * 2);
	ts_expect(t, NULL, F_SYN | F_ACK, o.seq, PEER + 1);
	assert_int_equal(st->conn_active, 1);
	ts_advance(t, cfg.rto_init_us * 4);
	ts_expect_none(t);
	assert_int_equal(st->conn_timeout, 1);
	assert_int_equal(st->conn_active, 0);
	assert_int_equal(t->accepted, 0);
	finish(t);
}

/*
 * Our SYN-ACK was lost and the peer retransmitted its SYN: the SYN-ACK that
 * answers must echo the new SYN's timestamp (RFC 7323 4.3: the SYN covers
 * Last.ACK.sent). Echoing the first SYN's would give the peer a first RTT
 * sample a whole SYN timeout long (about 1 s), and so an RTO of seconds
 * for the start of the connection.
 */
static void retransmitted_syn_updates_ts_recent(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	struct tseg syn = full_syn;
	struct tout o, r;

	syn.flags = F_SYN;
	syn.seq = PEER;
	ts_inject(t, &syn);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.tsecr, full_syn.tsval);
	ts_advance(t, 900000);
	syn.tsval = full_syn.tsval + 900;
	ts_inject(t, &syn);
	ts_expect(t, &r, F_SYN | F_ACK, o.seq, PEER + 1);
	assert_true(r.ts);
	assert_int_equal(r.tsecr, full_syn.tsval + 900);
	/* Our own retransmission (no newer SYN) echoes the same. */
	ts_advance(t, cfg.rto_init_us);
	ts_expect(t, &r, F_SYN | F_ACK, o.seq, PEER + 1);
	assert_int_equal(r.tsecr, full_syn.tsval + 900);
	/* An older SYN (PAWS) changes nothing. */
	syn.tsval = full_syn.tsval + 100;
	ts_inject(t, &syn);
	while (ts_pop(t, &r))
		assert_int_equal(r.tsecr, full_syn.tsval + 900);
	finish(t);
}

static void paws_drops_old_timestamps(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &full_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 4000, .data = "old", .len = 3);
	ts_expect(t, NULL, F_ACK, iss, PEER + 1);
	assert_int_equal(t->recv_calls, 0);
	assert_int_equal(st->drop_paws, 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 6000, .data = "new", .len = 3);
	assert_int_equal(t->rx_len, 3);
	finish(t);
}

static void bad_checksum_dropped(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .data = "hello",
	       .len = 5, .bad_cksum = true);
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = 41000, .bad_cksum = true);
	ts_expect_none(t);
	assert_int_equal(t->recv_calls, 0);
	assert_int_equal(st->drop_cksum, 2);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .data = "hello",
	       .len = 5);
	assert_int_equal(t->rx_len, 5);
	finish(t);
}

static void rx_offload_flags_and_chains(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	uint8_t buf[600];
	uint32_t iss, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3);
	iss = ts_handshake(t, PEER, &full_syn);
	/* The NIC vouched for the checksum: not checked again. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5002, .data = buf, .len = 100, .bad_cksum = true,
	       .ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD);
	assert_int_equal(t->rx_len, 100);
	/* The NIC found it bad: dropped even though it is right. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 101, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5003, .data = buf + 100, .len = 100,
	       .ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD);
	assert_int_equal(t->rx_len, 100);
	assert_int_equal(st->drop_cksum, 1);
	/* Header split across two segments (inside the timestamp option), and payload split too. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 101, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5004, .data = buf + 100, .len = 200, .split_at = 26);
	INJECT(t, .flags = F_ACK, .seq = PEER + 301, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5005, .data = buf + 300, .len = 300, .split_at = 32 + 150);
	assert_int_equal(t->rx_len, 600);
	assert_memory_equal(t->rx, buf, 600);
	ts_advance(t, cfg.delack_us);
	ts_expect(t, NULL, F_ACK, iss, PEER + 601);
	/* Out of order as a chain, then trimmed against old data as a chain. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 701, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5006, .data = buf, .len = 100, .split_at = 40);
	ts_expect(t, NULL, F_ACK, iss, PEER + 601);
	INJECT(t, .flags = F_ACK, .seq = PEER + 501, .ack = iss, .wnd = 1000, .ts = true,
	       .tsval = 5007, .data = buf, .len = 250, .split_at = 60);
	assert_int_equal(t->rx_len, 800);
	assert_memory_equal(t->rx + 600, buf + 100, 150);
	assert_memory_equal(t->rx + 750, buf + 50, 50);
	ts_expect(t, NULL, F_ACK, iss, PEER + 801);
	finish(t);
}

static void shared_payload_two_connections(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	struct rte_mbuf *payload, *c1, *c2;
	struct dp_tcp_conn *a, *b;
	struct tout o;
	uint32_t iss_a, iss_b;

	iss_a = ts_handshake(t, PEER, &plain_syn);
	a = t->conn;
	t->peer_port = 40001;
	iss_b = ts_handshake(t, PEER, &plain_syn);
	b = t->conn;
	/* One payload, referenced by one clone per subscriber (what a PUBLISH fan-out does). */
	payload = rte_pktmbuf_alloc(ts_pool());
	memset(rte_pktmbuf_append(payload, 1500), 0x77, 1500);
	c1 = rte_pktmbuf_clone(payload, ts_pool());
	c2 = rte_pktmbuf_clone(payload, ts_pool());
	assert_int_equal(dp_tcp_send(a, c1), 0);
	assert_int_equal(dp_tcp_send(b, c2), 0);
	/* The owner, two queued clones, and each transmitted segment's attachment (freed on capture
	 * pop). */
	assert_true(rte_mbuf_refcnt_read(payload) >= 3);
	for (int i = 0; i < 4; i++) {
		assert_true(ts_pop(t, &o));
		assert_true(o.payload_indirect);
		assert_int_equal(o.data[0], 0x77);
	}
	assert_int_equal(rte_mbuf_refcnt_read(payload), 3);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss_b + 1500, .wnd = 65535);
	assert_int_equal(rte_mbuf_refcnt_read(payload), 2);
	t->peer_port = 40000;
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss_a + 1000, .wnd = 65535);
	assert_int_equal(rte_mbuf_refcnt_read(payload), 2);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss_a + 1500, .wnd = 65535);
	assert_int_equal(rte_mbuf_refcnt_read(payload), 1);
	rte_pktmbuf_free(payload);
	finish(t);
}

static void hostile_options_never_crash(void **state)
{
	static const uint8_t zero_len[] = {2, 0, 1, 1};
	static const uint8_t overlong[] = {3, 40, 7, 1};
	static const uint8_t truncated_ts[] = {1, 1, 8, 10, 0, 0, 0, 1};
	static const uint8_t lone_kind[] = {1, 1, 1, 2};
	static const uint8_t bad_mss_len[] = {2, 3, 5,	 1,
					      3, 3, 200, 1}; /* wscale 200: clamped to 14 */
	const struct {
		const uint8_t *o;
		size_t n;
	} cases[] = {{zero_len, sizeof(zero_len)},
		     {overlong, sizeof(overlong)},
		     {truncated_ts, sizeof(truncated_ts)},
		     {lone_kind, sizeof(lone_kind)},
		     {bad_mss_len, sizeof(bad_mss_len)}};
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o;
	uint8_t blob[40];
	unsigned int i, j;
	uint32_t rng = 12345;

	cfg.syn_backlog = 64;
	t = ts_new(&cfg, false, false);
	st = dp_tcp_stack_stats(t->s);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .sport = (uint16_t)(42000 + i),
		       .raw_opts = cases[i].o, .raw_opts_len = cases[i].n);
		assert_true(ts_pop(t, &o));
		assert_int_equal(o.flags, F_SYN | F_ACK);
		assert_false(o.ts);
	}
	/* The wscale 200 case: scaling on, shift clamped (RFC 7323 2.3). */
	assert_int_equal(o.ws, 3);
	/* Seeded random option blobs on every kind of segment. */
	for (i = 0; i < 3000; i++) {
		size_t n = 0;

		for (j = 0; j < sizeof(blob); j++) {
			rng = rng * 1103515245u + 12345u;
			blob[j] = (uint8_t)(rng >> 16);
			if (j % 3 == 0)
				blob[j] &= 0x0f; /* keep kinds near the known ones */
		}
		rng = rng * 1103515245u + 12345u;
		n = (rng >> 16) % 41;
		INJECT(t, .flags = (uint8_t)((rng >> 8) & 0x1f), .seq = rng, .ack = rng * 7,
		       .wnd = 1000, .sport = (uint16_t)(43000 + i % 50), .raw_opts = blob,
		       .raw_opts_len = n & ~3u);
		while (ts_pop(t, &o))
			;
	}
	assert_true(st->seg_in >= 3005);
	/* Malformed headers: data offset below 5 or beyond the segment. */
	{
		struct rte_mbuf *m = rte_pktmbuf_alloc(ts_pool());
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 20);
		uint64_t before = st->drop_malformed;

		memset(p, 0, 20);
		p[1] = 1;
		p[3] = 1;
		p[12] = 4 << 4;
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		dp_tcp_input(t->s, m, &t->peer, &t->me);
		m = rte_pktmbuf_alloc(ts_pool());
		p = (uint8_t *)rte_pktmbuf_append(m, 20);
		memset(p, 0, 20);
		p[1] = 1;
		p[3] = 1;
		p[12] = 15 << 4;
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		dp_tcp_input(t->s, m, &t->peer, &t->me);
		m = rte_pktmbuf_alloc(ts_pool());
		p = (uint8_t *)rte_pktmbuf_append(m, 10);
		memset(p, 0, 10);
		dp_tcp_input(t->s, m, &t->peer, &t->me);
		assert_int_equal(st->drop_malformed, before + 3);
	}
	ts_advance(t, 600000000);
	while (ts_pop(t, &o))
		;
	finish(t);
}

static uint32_t next_rand(uint32_t *r)
{
	*r = *r * 1103515245u + 12345u;
	return *r >> 8;
}

static void hostile_segments_on_live_connections(void **state)
{
	static const uint8_t flag_set[] = {
	    F_ACK, F_ACK | F_PSH, F_ACK | F_FIN,	 F_RST, F_RST | F_ACK,
	    F_SYN, F_SYN | F_ACK, F_ACK | F_FIN | F_PSH, 0,	F_FIN};
	struct dp_tcp_config cfg = base_cfg();
	struct dp_tcp_stats sum = {0};
	uint8_t buf[3000];
	uint32_t r = 777, round;

	memset(buf, 0x42, sizeof(buf));
	cfg.max_retries = 4;
	for (round = 0; round < 40; round++) {
		uint32_t iss;
		struct tscript *t = established(&cfg, round % 2 ? &full_syn : &plain_syn, &iss);
		uint32_t rcv = PEER + 1, i;
		const struct dp_tcp_stats *st;
		struct tout o;

		/*
		 * Segments near the right sequence numbers, with any flags, lengths and
		 * timestamps, mixed with application sends, closes and clock jumps.
		 */
		for (i = 0; i < 300; i++) {
			uint32_t k = next_rand(&r);
			/* Often exactly at rcv_nxt, as the stack's last ACK told. */
			int32_t dseq = k % 4 == 0 ? 0 : (int32_t)(next_rand(&r) % 4000) - 2000;
			int32_t dack = (int32_t)(next_rand(&r) % 6000) - 1000;
			size_t len = k % 3 == 0 ? next_rand(&r) % 1800 : 0; /* one mbuf */

			INJECT(t, .flags = flag_set[k % sizeof(flag_set)],
			       .seq = rcv + (uint32_t)dseq, .ack = iss + (uint32_t)dack,
			       .wnd = (uint16_t)next_rand(&r), .data = buf, .len = len,
			       .ts = (k & 64) != 0, .tsval = 5000 + i - (k & 128 ? 100 : 0),
			       .tsecr = 1000, .split_at = (uint16_t)(k & 256 ? 30 : 0));
			if (t->conn != NULL && k % 7 == 0)
				ts_app_send(t, next_rand(&r) % 5000 + 1, 0);
			if (t->conn != NULL && k % 97 == 0)
				dp_tcp_close(t->conn);
			if (k % 11 == 0)
				ts_advance(t, next_rand(&r) % 3000000);
			while (ts_pop(t, &o))
				if (o.flags & F_ACK)
					rcv = o.ack;
		}
		if (t->conn != NULL)
			dp_tcp_abort(t->conn);
		for (i = 0; i < 200; i++)
			ts_advance(t, 1000000);
		while (ts_pop(t, &o))
			;
		st = dp_tcp_stack_stats(t->s);
		assert_int_equal(st->conn_active, 0);
		sum.bytes_in += st->bytes_in;
		sum.challenge_acks += st->challenge_acks;
		sum.conn_reset += st->conn_reset;
		sum.retransmits += st->retransmits;
		sum.drop_paws += st->drop_paws;
		sum.drop_out_of_window += st->drop_out_of_window;
		sum.conn_closed += st->conn_closed;
		finish(t);
	}
	/* The mix reached the paths it is meant to stress. */
	printf("fuzz: in %" PRIu64 " B, %" PRIu64 " challenge ACKs, %" PRIu64 " resets, %" PRIu64
	       " retransmits, %" PRIu64 " PAWS, %" PRIu64 " out of window, %" PRIu64 " closed\n",
	       sum.bytes_in, sum.challenge_acks, sum.conn_reset, sum.retransmits, sum.drop_paws,
	       sum.drop_out_of_window, sum.conn_closed);
	assert_true(sum.bytes_in > 0 && sum.challenge_acks > 0 && sum.conn_reset > 0 &&
		    sum.retransmits > 0 && sum.drop_paws > 0 && sum.drop_out_of_window > 0);
}

static void send_space_and_writable(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	uint32_t iss;

	cfg.snd_buf = 4000;
	t = ts_new(&cfg, false, false);
	iss = ts_handshake(t, PEER, &plain_syn);
	assert_int_equal(dp_tcp_send_space(t->conn), 4000);
	assert_int_equal(ts_app_send(t, 3000, 0), 0);
	assert_int_equal(dp_tcp_send_space(t->conn), 1000);
	assert_int_equal(ts_app_send(t, 2000, 0), -EAGAIN);
	assert_int_equal(ts_app_send(t, 4001, 0), -EMSGSIZE);
	assert_int_equal(dp_tcp_send(t->conn, NULL), -EINVAL);
	while (ts_pending(t) > 0)
		ts_expect(t, NULL, ts_pending(t) == 1 ? F_ACK | F_PSH : F_ACK,
			  iss + (3 - ts_pending(t)) * 1000, PEER + 1);
	assert_int_equal(t->writable, 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 2000, .wnd = 65535);
	assert_int_equal(t->writable, 1);
	assert_int_equal(dp_tcp_send_space(t->conn), 3000);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 65535);
	assert_int_equal(t->writable, 1);
	finish(t);
}

static void refused_accept_resets(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);
	struct tout o;

	t->refuse = true;
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535);
	assert_true(ts_pop(t, &o));
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = o.seq + 1, .wnd = 65535);
	ts_expect(t, NULL, F_RST | F_ACK, o.seq + 1, PEER + 1);
	assert_int_equal(t->accepted, 1);
	assert_int_equal(t->closed, 0);
	assert_int_equal(st->conn_active, 0);
	finish(t);
}

static void tiny_peer_mss_is_raised(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	struct tout o;
	uint32_t iss;

	/* MSS 1 would mean 1-byte segments (or none at all with timestamps): 64 instead. */
	iss = ts_handshake(t, PEER, &(struct tseg){.wnd = 65535, .mss = 1});
	assert_int_equal(ts_app_send(t, 200, 0), 0);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 64);
	ts_expect(t, &o, F_ACK, iss + 64, PEER + 1);
	ts_expect(t, &o, F_ACK, iss + 128, PEER + 1);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 192, PEER + 1);
	assert_int_equal(o.len, 8);
	finish(t);
}

static void stray_ack_without_recent_cookies(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	const struct dp_tcp_stats *st = dp_tcp_stack_stats(t->s);

	/* No cookie was ever sent: an ACK is junk without even a cookie check. */
	INJECT(t, .flags = F_ACK, .seq = PEER, .ack = 4242, .wnd = 100);
	ts_expect(t, NULL, F_RST, 4242, 0);
	assert_int_equal(st->syncookies_bad, 0);
	assert_int_equal(st->conn_active, 0);
	finish(t);
}

static void time_wait_reused_by_new_syn(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	uint32_t iss;
	struct tscript *t = established(&cfg, &plain_syn, &iss);

	dp_tcp_close(t->conn);
	ts_expect(t, NULL, F_ACK | F_FIN, iss, PEER + 1);
	INJECT(t, .flags = F_ACK | F_FIN, .seq = PEER + 1, .ack = iss + 1, .wnd = 65535);
	ts_expect(t, NULL, F_ACK, iss + 1, PEER + 2);
	/* A new SYN above the old sequence space opens a new connection at once. */
	iss = ts_handshake(t, PEER + 100000, &plain_syn);
	assert_int_equal(t->accepted, 2);
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, iss, PEER + 100001);
	finish(t);
}

static void sequence_wraps(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t = ts_new(&cfg, false, false);
	uint8_t buf[300];
	uint32_t iss, peer = 0xffffff00u, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	iss = ts_handshake(t, peer, &plain_syn);
	INJECT(t, .flags = F_ACK, .seq = peer + 201, .ack = iss, .wnd = 65535, .data = buf + 200,
	       .len = 100);
	ts_expect(t, NULL, F_ACK, iss, peer + 1);
	INJECT(t, .flags = F_ACK, .seq = peer + 1, .ack = iss, .wnd = 65535, .data = buf,
	       .len = 200);
	ts_expect(t, NULL, F_ACK, iss, peer + 301);
	assert_int_equal(t->rx_len, 300);
	assert_memory_equal(t->rx, buf, 300);
	finish(t);
}

static int count_fired;
static struct dp_timer *pair[2];
static struct dp_timer_wheel *wheel_under_test;

/* Whichever of the pair fires first cancels the other, as freeing its owner would. */
static void on_timer(struct dp_timer *tm, void *arg)
{
	count_fired++;
	if (pair[0] == tm)
		dp_timer_cancel(wheel_under_test, pair[1]);
	else if (pair[1] == tm)
		dp_timer_cancel(wheel_under_test, pair[0]);
}

static void timer_wheel(void **state)
{
	struct dp_timer_wheel *w = calloc(1, sizeof(*w));
	struct dp_timer a = {0}, b = {0}, c = {0};

	assert_non_null(w);
	wheel_under_test = w;
	dp_timer_wheel_init(w, 1000000);
	assert_int_equal(dp_timer_wheel_next(w, 1000000), DP_TIMER_NONE);
	dp_timer_arm(w, &a, 1000000 + 5000);
	dp_timer_arm(w, &b, 1000000 + 5000000); /* more than one revolution away */
	dp_timer_arm(w, &c, 1000000 + 10000000);
	assert_int_equal(dp_timer_wheel_next(w, 1000000), 5000);
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 4999, on_timer, NULL), 0);
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 5000, on_timer, NULL), 1);
	assert_false(dp_timer_armed(&a));
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 4999000, on_timer, NULL), 0);
	assert_true(dp_timer_wheel_next(w, 1000000 + 4999000) <= 1000);
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 5000000, on_timer, NULL), 1);
	dp_timer_cancel(w, &c);
	assert_int_equal(dp_timer_wheel_next(w, 1000000 + 5000000), DP_TIMER_NONE);
	/* A callback cancelling another due timer: it does not fire. */
	dp_timer_arm(w, &a, 1000000 + 6000000);
	dp_timer_arm(w, &b, 1000000 + 6000000);
	pair[0] = &a;
	pair[1] = &b;
	count_fired = 0;
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 7000000, on_timer, NULL), 1);
	assert_int_equal(count_fired, 1);
	/* A jump of minutes visits every slot once and fires what is due. */
	pair[0] = pair[1] = NULL;
	dp_timer_arm(w, &a, 1000000 + 8000000);
	dp_timer_arm(w, &c, 1000000 + 900000000);
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 600000000, on_timer, NULL), 1);
	assert_true(dp_timer_armed(&c));
	assert_int_equal(dp_timer_wheel_run(w, 1000000 + 900000000, on_timer, NULL), 1);
	free(w);
}

static void syncookie_roundtrip(void **state)
{
	struct dp_siphash_key k = {1, 2};
	struct dp_flow f = {0};
	struct dp_syncookie_opts o = {.wscale = 9, .sack_ok = true}, back;
	uint16_t mss, got;
	uint32_t c;

	f.local.family = f.remote.family = AF_INET;
	f.local.v4 = 0x01020304;
	f.remote.v4 = 0x05060708;
	f.local_port = 1;
	f.remote_port = 2;
	c = dp_syncookie_make(&k, &f, 777, 1460, 5000000, &mss);
	assert_int_equal(mss, 1460);
	assert_int_equal(dp_syncookie_check(&k, &f, 777, c, 5000000 + DP_SYNCOOKIE_PERIOD_US, &got),
			 0);
	assert_int_equal(got, 1460);
	assert_int_equal(
	    dp_syncookie_check(&k, &f, 777, c, 5000000 + 2 * DP_SYNCOOKIE_PERIOD_US, &got),
	    -EINVAL);
	assert_int_equal(dp_syncookie_check(&k, &f, 778, c, 5000000, &got), -EINVAL);
	assert_int_equal(dp_syncookie_check(&k, &f, 777, c ^ 1, 5000000, &got), -EINVAL);
	f.remote_port = 3;
	assert_int_equal(dp_syncookie_check(&k, &f, 777, c, 5000000, &got), -EINVAL);
	dp_syncookie_ts_decode(dp_syncookie_ts_encode(123456, &o), &back);
	assert_int_equal(back.wscale, 9);
	assert_true(back.sack_ok);
	o.wscale = -1;
	o.sack_ok = false;
	dp_syncookie_ts_decode(dp_syncookie_ts_encode(123456, &o), &back);
	assert_int_equal(back.wscale, -1);
	assert_false(back.sack_ok);
	dp_syncookie_make(&k, &f, 777, 100, 0, &mss);
	assert_int_equal(mss, 536);
}

/* The L4 bytes of buf as an mbuf chain split at an odd offset, to cross segments mid-word. */
static struct rte_mbuf *chain_of(const uint8_t *l4, uint16_t len, uint16_t split)
{
	struct rte_mbuf *a = rte_pktmbuf_alloc(ts_pool()), *b = rte_pktmbuf_alloc(ts_pool());

	memcpy(rte_pktmbuf_append(a, split), l4, split);
	memcpy(rte_pktmbuf_append(b, (uint16_t)(len - split)), l4 + split, len - split);
	assert_int_equal(rte_pktmbuf_chain(a, b), 0);
	return a;
}

static void checksums_match_dpdk(void **state)
{
	uint8_t pkt[60 + 141];
	struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)pkt;
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)pkt;
	struct dp_ip_addr src = {0}, dst = {0};
	const uint16_t l4len = 141; /* odd */
	struct rte_mbuf *m;
	uint16_t ours, ref;
	uint8_t *l4;
	size_t i;

	for (i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 31 + 7);
	/* IPv4: header checksum, pseudo-header sum (offload) and the full L4 sum. */
	l4 = pkt + 20;
	ip4->version_ihl = 0x45;
	ip4->total_length = htons(20 + l4len);
	ip4->next_proto_id = IPPROTO_TCP;
	ip4->hdr_checksum = 0;
	l4[16] = l4[17] = 0;
	assert_int_equal(dp_cksum_ipv4_hdr(ip4, 20), rte_ipv4_cksum(ip4));
	src.family = dst.family = AF_INET;
	src.v4 = ip4->src_addr;
	dst.v4 = ip4->dst_addr;
	assert_int_equal(dp_cksum_pseudo(&src, &dst, IPPROTO_TCP, l4len),
			 rte_ipv4_phdr_cksum(ip4, 0));
	ref = rte_ipv4_udptcp_cksum(ip4, l4);
	m = chain_of(l4, l4len, 33);
	assert_int_equal(dp_cksum_l4(m, 0, l4len, &src, &dst, IPPROTO_TCP, &ours), 0);
	assert_int_equal(ours, ref);
	rte_pktmbuf_free(m);
	memcpy(l4 + 16, &ref, 2);
	m = chain_of(l4, l4len, 77);
	assert_true(dp_cksum_l4_valid(m, 0, l4len, &src, &dst, IPPROTO_TCP));
	assert_false(dp_cksum_l4_valid(m, 0, l4len, &src, &dst, IPPROTO_UDP));
	assert_false(dp_cksum_l4_valid(m, 1, l4len, &src, &dst, IPPROTO_TCP)); /* past the end */
	rte_pktmbuf_free(m);
	/* IPv6. */
	l4 = pkt + 40;
	ip6->vtc_flow = htonl(6u << 28);
	ip6->payload_len = htons(l4len);
	ip6->proto = IPPROTO_TCP;
	l4[16] = l4[17] = 0;
	src.family = dst.family = AF_INET6;
	memcpy(src.v6, ip6->src_addr, 16);
	memcpy(dst.v6, ip6->dst_addr, 16);
	assert_int_equal(dp_cksum_pseudo(&src, &dst, IPPROTO_TCP, l4len),
			 rte_ipv6_phdr_cksum(ip6, 0));
	ref = rte_ipv6_udptcp_cksum(ip6, l4);
	m = chain_of(l4, l4len, 41);
	assert_int_equal(dp_cksum_l4(m, 0, l4len, &src, &dst, IPPROTO_TCP, &ours), 0);
	assert_int_equal(ours, ref);
	rte_pktmbuf_free(m);
}

/* The SACK blocks of o, in order: n pairs of edges relative to base. */
static void expect_sack(const struct tout *o, uint32_t base, unsigned int n, ...)
{
	va_list ap;
	unsigned int i;

	assert_int_equal(o->nsack, n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		uint32_t l = va_arg(ap, uint32_t), r = va_arg(ap, uint32_t);

		assert_int_equal(o->sack[i][0], base + l);
		assert_int_equal(o->sack[i][1], base + r);
	}
	va_end(ap);
}

/* One peer segment of data at PEER + 1 + off (len bytes of buf), acknowledging iss. */
static void peer_data(struct tscript *t, uint32_t iss, const uint8_t *buf, uint32_t off,
		      uint32_t len, bool ts)
{
	INJECT(t, .flags = F_ACK, .seq = PEER + 1 + off, .ack = iss, .wnd = 65535,
	       .data = buf + off, .len = len, .ts = ts, .tsval = 6000, .tsecr = 1000);
}

/*
 * RFC 2018 receiver: each out-of-order segment is acknowledged at once
 * with SACK blocks, the range it went to first, then the most recently
 * reported ones, as many as fit beside the timestamp option; ranges leave
 * the option as the holes below them fill.
 */
static void sack_blocks_for_out_of_order_data(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	static const struct tseg sack_no_ts = {.wnd = 65535, .mss = 1000, .sack_ok = true};
	uint8_t buf[2000];
	struct tout o;
	uint32_t iss, i;
	const uint32_t base = PEER + 1;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	t = established(&cfg, &full_syn, &iss);
	st = dp_tcp_stack_stats(t->s);
	peer_data(t, iss, buf, 100, 100, true);
	ts_expect(t, &o, F_ACK, iss, base);
	assert_true(o.ts);
	expect_sack(&o, base, 1, 100, 200);
	peer_data(t, iss, buf, 300, 100, true);
	ts_expect(t, &o, F_ACK, iss, base);
	expect_sack(&o, base, 2, 300, 400, 100, 200);
	peer_data(t, iss, buf, 500, 100, true);
	ts_expect(t, &o, F_ACK, iss, base);
	expect_sack(&o, base, 3, 500, 600, 300, 400, 100, 200);
	/* A fourth range: three blocks fit beside the timestamps, the oldest report drops. */
	peer_data(t, iss, buf, 700, 100, true);
	ts_expect(t, &o, F_ACK, iss, base);
	expect_sack(&o, base, 3, 700, 800, 500, 600, 300, 400);
	/* A duplicate of a queued range is reported first again. */
	peer_data(t, iss, buf, 100, 100, true);
	ts_expect(t, &o, F_ACK, iss, base);
	expect_sack(&o, base, 3, 100, 200, 700, 800, 500, 600);
	/* A segment joining two ranges: one block for both. */
	peer_data(t, iss, buf, 200, 100, true);
	ts_expect(t, &o, F_ACK, iss, base);
	expect_sack(&o, base, 3, 100, 400, 700, 800, 500, 600);
	ts_expect_none(t);
	assert_int_equal(t->rx_len, 0);
	/* The first hole fills: [100, 400) is delivered and leaves the option. */
	peer_data(t, iss, buf, 0, 100, true);
	ts_expect(t, &o, F_ACK, iss, base + 400);
	expect_sack(&o, base, 2, 700, 800, 500, 600);
	peer_data(t, iss, buf, 400, 100, true);
	ts_expect(t, &o, F_ACK, iss, base + 600);
	expect_sack(&o, base, 1, 700, 800);
	peer_data(t, iss, buf, 600, 100, true);
	ts_expect(t, &o, F_ACK, iss, base + 800);
	assert_int_equal(o.nsack, 0);
	assert_int_equal(t->rx_len, 800);
	assert_memory_equal(t->rx, buf, 800);
	assert_int_equal(st->sack_blocks_out, 1 + 2 + 3 + 3 + 3 + 3 + 2 + 1);
	finish(t);

	/* Without timestamps four blocks fit. */
	t = established(&cfg, &sack_no_ts, &iss);
	for (i = 0; i < 5; i++) {
		peer_data(t, iss, buf, 100 + i * 200, 100, false);
		ts_expect(t, &o, F_ACK, iss, base);
		assert_false(o.ts);
		assert_int_equal(o.nsack, i + 1 < 4 ? i + 1 : 4);
		assert_int_equal(o.sack[0][0], base + 100 + i * 200);
	}
	expect_sack(&o, base, 4, 900, 1000, 700, 800, 500, 600, 300, 400);
	/* Our data segments carry the blocks too. */
	assert_int_equal(ts_app_send(t, 10, 1), 0);
	ts_expect(t, &o, F_ACK | F_PSH, iss, base);
	assert_int_equal(o.len, 10);
	expect_sack(&o, base, 4, 900, 1000, 700, 800, 500, 600, 300, 400);
	/* An RST carries none. */
	dp_tcp_abort(t->conn);
	ts_expect(t, &o, F_RST | F_ACK, iss + 10, base);
	assert_int_equal(o.nsack, 0);
	finish(t);
}

/* A peer that did not offer SACK-permitted gets no blocks, and its blocks are not used. */
static void no_sack_without_negotiation(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	uint8_t buf[400] = {0};
	struct tout o;
	uint32_t iss, i;

	t = ts_new(&cfg, false, false);
	st = dp_tcp_stack_stats(t->s);
	INJECT(t, .flags = F_SYN, .seq = PEER, .wnd = 65535, .mss = 1460, .ts = true,
	       .tsval = 5000);
	assert_true(ts_pop(t, &o));
	assert_false(o.sack_ok);
	iss = o.seq + 1;
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .ts = true,
	       .tsval = 5001, .tsecr = o.tsval);
	peer_data(t, iss, buf, 100, 100, true);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.nsack, 0);
	/* Sender: three ACKs with blocks that would say "lost" count as plain duplicates. */
	assert_int_equal(ts_app_send(t, 4 * 1448, 2), 0);
	for (i = 0; i < 4; i++)
		assert_true(ts_pop(t, &o));
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .ts = true,
	       .tsval = 5002, .tsecr = 1000, .nsack = 1, .sack = {{iss + 1448, iss + 4 * 1448}});
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .ts = true,
	       .tsval = 5002, .tsecr = 1000, .nsack = 1, .sack = {{iss + 1448, iss + 4 * 1448}});
	ts_expect_none(t);
	assert_int_equal(st->fast_retransmits, 0);
	assert_int_equal(st->sack_blocks_in, 0);
	assert_int_equal(st->sack_blocks_bad, 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .ts = true,
	       .tsval = 5002, .tsecr = 1000, .nsack = 1, .sack = {{iss + 1448, iss + 4 * 1448}});
	/* NewReno: the third duplicate resends the head. */
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(o.len, 1448);
	assert_int_equal(st->fast_retransmits, 1);
	assert_int_equal(st->sack_recoveries, 0);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 4 * 1448, .wnd = 65535, .ts = true,
	       .tsval = 5003, .tsecr = 1000);
	ts_expect_none(t);
	finish(t);
}

/* An ACK of iss + ack with the given SACK blocks (edges relative to iss). */
static void sack_ack(struct tscript *t, uint32_t iss, uint32_t ack, unsigned int n,
		     const uint32_t (*blocks)[2])
{
	struct tseg g = {.flags = F_ACK, .seq = PEER + 1, .ack = iss + ack, .wnd = 65535};

	g.nsack = n;
	for (unsigned int i = 0; i < n; i++) {
		g.sack[i][0] = iss + blocks[i][0];
		g.sack[i][1] = iss + blocks[i][1];
	}
	ts_inject(t, &g);
}

#define SACK_ACK(t, iss, ack, ...)                                                                 \
	sack_ack((t), (iss), (ack), sizeof((const uint32_t[][2]){__VA_ARGS__}) / 8,                \
		 (const uint32_t[][2]){__VA_ARGS__})

static const struct tseg sack_syn = {.wnd = 65535, .mss = 1000, .sack_ok = true};

/* A SACK connection (MSS 1000) with segs full segments of fill in flight, sent in order. */
static struct tscript *sack_in_flight(const struct dp_tcp_config *cfg, uint32_t *iss, uint32_t segs,
				      uint8_t fill)
{
	struct tscript *t = established(cfg, &sack_syn, iss);
	struct tout o;

	assert_int_equal(ts_app_send(t, segs * 1000, fill), 0);
	for (uint32_t i = 0; i < segs; i++) {
		assert_true(ts_pop(t, &o));
		assert_int_equal(o.seq, *iss + i * 1000);
		assert_int_equal(o.len, 1000);
	}
	return t;
}

/*
 * RFC 6675 sender: three duplicate ACKs with blocks enter recovery at
 * cwnd = ssthresh; the first hole goes at once; later holes go when the
 * blocks above them mark them lost and the pipe has room; SACKed bytes are
 * never sent again.
 */
static void sack_sender_retransmits_only_holes(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o;
	uint32_t iss, i;

	t = sack_in_flight(&cfg, &iss, 10, 0);
	st = dp_tcp_stack_stats(t->s);
	/* Segments 2 and 5 lost. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	ts_expect_none(t);
	SACK_ACK(t, iss, 1000, {2000, 3000});
	SACK_ACK(t, iss, 1000, {2000, 4000});
	ts_expect_none(t);
	assert_int_equal(st->fast_retransmits, 0);
	/* Third duplicate: ssthresh 4500, the first hole at once, nothing more (pipe 6000). */
	SACK_ACK(t, iss, 1000, {5000, 6000}, {2000, 4000});
	ts_expect(t, &o, F_ACK, iss + 1000, PEER + 1);
	assert_int_equal(o.len, 1000);
	assert_int_equal(o.data[0], 0);
	ts_expect_none(t);
	assert_int_equal(st->fast_retransmits, 1);
	assert_int_equal(st->sack_recoveries, 1);
	assert_int_equal(st->sack_retransmits, 1);
	/* Two segments above the second hole: not yet lost. */
	SACK_ACK(t, iss, 1000, {5000, 7000}, {2000, 4000});
	ts_expect_none(t);
	/* The third: lost, and the pipe (3000) leaves room under cwnd 4500. */
	SACK_ACK(t, iss, 1000, {5000, 8000}, {2000, 4000});
	ts_expect(t, &o, F_ACK, iss + 4000, PEER + 1);
	assert_int_equal(o.len, 1000);
	ts_expect_none(t);
	SACK_ACK(t, iss, 1000, {5000, 10000}, {2000, 4000});
	ts_expect_none(t);
	/* Partial ACK: nothing left to resend; new data goes within cwnd - pipe. */
	SACK_ACK(t, iss, 4000, {5000, 10000});
	ts_expect_none(t);
	assert_int_equal(ts_app_send(t, 5000, 0), 0);
	for (i = 0; i < 3; i++) {
		ts_expect(t, &o, F_ACK, iss + 10000 + i * 1000, PEER + 1);
		assert_int_equal(o.len, 1000);
	}
	ts_expect_none(t);
	/* The full ACK ends recovery. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 13000, .wnd = 65535);
	ts_expect(t, &o, F_ACK, iss + 13000, PEER + 1);
	ts_expect_none(t);
	assert_int_equal(st->sack_retransmits, 2);
	assert_int_equal(st->retransmits, 2);
	assert_int_equal(st->rto_timeouts, 0);
	assert_int_equal(st->sack_blocks_bad, 0);
	/* cwnd min(ssthresh, FlightSize + SMSS): one segment went. */
	dp_tcp_abort(t->conn);
	ts_expect(t, NULL, F_RST | F_ACK, iss + 14000, PEER + 1);
	finish(t);
}

/*
 * A hole above the peer's right window edge waits like new data would
 * (the peer shrank its window while its out-of-order queue held our data),
 * and goes once the window opens again.
 */
static void sack_resend_waits_for_peer_window(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o;
	uint32_t iss;

	t = sack_in_flight(&cfg, &iss, 10, 0);
	st = dp_tcp_stack_stats(t->s);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	SACK_ACK(t, iss, 1000, {2000, 3000});
	SACK_ACK(t, iss, 1000, {2000, 4000});
	SACK_ACK(t, iss, 1000, {5000, 6000}, {2000, 4000});
	ts_expect(t, &o, F_ACK, iss + 1000, PEER + 1);
	ts_expect_none(t);
	/* Hole 4000-5000 is lost and the pipe has room, but the window ends at 4000. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 3000, .nsack = 2,
	       .sack = {{iss + 5000, iss + 8000}, {iss + 2000, iss + 4000}});
	ts_expect_none(t);
	assert_int_equal(st->sack_retransmits, 1);
	/* The edge at 4500: half the hole. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 3500, .nsack = 2,
	       .sack = {{iss + 5000, iss + 9000}, {iss + 2000, iss + 4000}});
	ts_expect(t, &o, F_ACK, iss + 4000, PEER + 1);
	assert_int_equal(o.len, 500);
	ts_expect_none(t);
	/* Open again: the rest of the hole. */
	SACK_ACK(t, iss, 1000, {5000, 10000}, {2000, 4000});
	ts_expect(t, &o, F_ACK, iss + 4500, PEER + 1);
	assert_int_equal(o.len, 500);
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 10000, .wnd = 65535);
	assert_int_equal(st->sack_retransmits, 3);
	assert_int_equal(st->rto_timeouts, 0);
	finish(t);
}

/*
 * Loss found by SACKed bytes alone: the peer's ACKs carry data (MQTT
 * acknowledgments ride on them), so none is a classic duplicate, and one
 * block SACKing more than 2 SMSS above the hole enters recovery.
 */
static void sack_loss_from_data_acks(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	uint8_t buf[100] = {0};
	struct tout o;
	uint32_t iss;

	t = sack_in_flight(&cfg, &iss, 5, 9);
	st = dp_tcp_stack_stats(t->s);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss, .wnd = 65535, .data = buf, .len = 4,
	       .nsack = 1, .sack = {{iss + 1000, iss + 2000}});
	ts_expect_none(t); /* one block of one segment: not yet; its data's ACK waits */
	INJECT(t, .flags = F_ACK, .seq = PEER + 5, .ack = iss, .wnd = 65535, .data = buf, .len = 4,
	       .nsack = 1, .sack = {{iss + 1000, iss + 4000}});
	/* The ACK field is processed before the segment's data (RFC 9293 3.10.7.4). */
	ts_expect(t, &o, F_ACK, iss, PEER + 5);
	assert_int_equal(o.len, 1000);
	assert_int_equal(o.data[0], 9);
	assert_int_equal(st->sack_recoveries, 1);
	/* The unSACKed tail above is not lost: it stays in the pipe. */
	ts_expect_none(t);
	INJECT(t, .flags = F_ACK, .seq = PEER + 9, .ack = iss + 5000, .wnd = 65535);
	assert_int_equal(st->retransmits, 1);
	assert_int_equal(st->rto_timeouts, 0);
	finish(t);
}

/*
 * Hostile blocks: beyond snd_max, below snd_una, reversed, wrapped, starting
 * at the ACK, or more ranges than the scoreboard holds. The bad ones are
 * counted and ignored, the rest only ever cause resends of unacknowledged
 * bytes, and the stream completes.
 */
static void hostile_sack_blocks(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o;
	uint32_t iss, i, sent = 0;

	cfg.init_cwnd_segs = 30;
	t = sack_in_flight(&cfg, &iss, 30, 5);
	st = dp_tcp_stack_stats(t->s);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	SACK_ACK(t, iss, 1000, {30000, 31000}, {0, 1000}, {5000, 3000}, {2000, 2000});
	assert_int_equal(st->sack_blocks_bad, 3);
	assert_int_equal(st->sack_blocks_dsack, 1); /* {0, 1000}: below the ACK */
	SACK_ACK(t, iss, 1000, {0x80000000u, 2000}, {1000, 2000}, {2000, 0x7fffffffu}, {500, 1500});
	assert_int_equal(st->sack_blocks_bad, 7);
	assert_int_equal(st->sack_blocks_in, 0);
	ts_expect_none(t);
	/* An old ACK below snd_una with blocks: the blocks are judged against snd_una. */
	SACK_ACK(t, iss, 500, {100, 900}, {29000, 30001});
	assert_int_equal(st->sack_blocks_bad, 9);
	assert_int_equal(st->sack_blocks_dsack, 1);
	/* Overlapping blocks merge; every other segment SACKed: 14 ranges for 8 slots. */
	SACK_ACK(t, iss, 1000, {2000, 3500}, {3000, 4000}, {2500, 3200});
	assert_int_equal(st->sack_blocks_in, 3);
	for (i = 0; i < 14; i++)
		SACK_ACK(t, iss, 1000, {4000 + i * 2000 + 1000, 4000 + i * 2000 + 2000});
	/* Recovery was entered and holes resent; none of them SACKed. */
	while (ts_pop(t, &o)) {
		uint32_t off = o.seq - iss;

		assert_true(o.len > 0 && o.len <= 1000);
		assert_true(off >= 1000 && off + o.len <= 30000);
		assert_false(off >= 2000 && off < 4000);
		assert_true(off < 4000 || (off - 4000) % 2000 < 1000);
		assert_int_equal(o.data[0], (uint8_t)(5 + off % 1000));
		sent++;
	}
	assert_true(sent > 0);
	assert_int_equal(st->sack_recoveries, 1);
	/* Everything acknowledged: the connection goes on normally. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 30000, .wnd = 65535);
	ts_expect_none(t);
	assert_int_equal(ts_app_send(t, 100, 1), 0);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 30000, PEER + 1);
	assert_int_equal(st->rto_timeouts, 0);
	finish(t);
}

/*
 * A peer that reneges (SACKed bytes never acknowledged): the retransmission
 * timeout forgets the scoreboard and resends from snd_una, SACKed bytes
 * included (RFC 2018 8).
 */
static void sack_reneging_peer_recovers_by_rto(void **state)
{
	struct dp_tcp_config cfg = base_cfg();
	struct tscript *t;
	const struct dp_tcp_stats *st;
	struct tout o;
	uint32_t iss;

	t = sack_in_flight(&cfg, &iss, 3, 0);
	st = dp_tcp_stack_stats(t->s);
	SACK_ACK(t, iss, 0, {1000, 3000});
	ts_expect_none(t);
	ts_advance(t, 200000);
	ts_expect(t, &o, F_ACK, iss, PEER + 1);
	assert_int_equal(st->rto_timeouts, 1);
	/* ACK of the first segment only: the SACKed bytes go again, no longer skipped. */
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 1000, .wnd = 65535);
	ts_expect(t, &o, F_ACK, iss + 1000, PEER + 1);
	ts_expect(t, &o, F_ACK | F_PSH, iss + 2000, PEER + 1);
	INJECT(t, .flags = F_ACK, .seq = PEER + 1, .ack = iss + 3000, .wnd = 65535);
	ts_expect_none(t);
	finish(t);
}

static void stat_descriptions_cover_the_struct(void **state)
{
	size_t i, j;

	/* Every uint64_t of the struct is described once, at its own offset. */
	assert_int_equal(dp_tcp_stat_count * sizeof(uint64_t), sizeof(struct dp_tcp_stats));
	for (i = 0; i < dp_tcp_stat_count; i++) {
		assert_int_equal(dp_tcp_stat_descs[i].offset, i * sizeof(uint64_t));
		assert_non_null(dp_tcp_stat_descs[i].help);
		for (j = 0; j < i; j++)
			assert_string_not_equal(dp_tcp_stat_descs[i].name,
						dp_tcp_stat_descs[j].name);
	}
}

static int group_setup(void **state)
{
	return ts_global_init();
}

static int group_teardown(void **state)
{
	return ts_global_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(timer_wheel),
	    cmocka_unit_test(stat_descriptions_cover_the_struct),
	    cmocka_unit_test(checksums_match_dpdk),
	    cmocka_unit_test(syncookie_roundtrip),
	    cmocka_unit_test(handshake_negotiates_options),
	    cmocka_unit_test(handshake_without_options),
	    cmocka_unit_test(ipv6_cookies_and_closed_ports),
	    cmocka_unit_test(data_and_delayed_ack),
	    cmocka_unit_test(receive_window_follows_the_application),
	    cmocka_unit_test(out_of_order_then_fill),
	    cmocka_unit_test(sequence_wraps),
	    cmocka_unit_test(rto_backoff_and_retry_limit),
	    cmocka_unit_test(rto_from_measured_rtt),
	    cmocka_unit_test(retransmission_stays_within_what_was_sent),
	    cmocka_unit_test(congestion_avoidance_is_linear),
	    cmocka_unit_test(fast_retransmit_and_newreno),
	    cmocka_unit_test(zero_window_probes),
	    cmocka_unit_test(retransmission_fits_a_shrunk_window),
	    cmocka_unit_test(zero_window_with_data_in_flight),
	    cmocka_unit_test(window_update_resends_a_refused_retransmission),
	    cmocka_unit_test(zero_window_acked_in_full_stops_probing),
	    cmocka_unit_test(zero_window_probe_acked_stops_probing),
	    cmocka_unit_test(fin_from_peer),
	    cmocka_unit_test(fin_from_us_and_time_wait),
	    cmocka_unit_test(fin_wait_2_times_out),
	    cmocka_unit_test(simultaneous_close),
	    cmocka_unit_test(rst_rules),
	    cmocka_unit_test(closed_port_gets_rst),
	    cmocka_unit_test(syn_flood_uses_cookies),
	    cmocka_unit_test(syn_received_times_out),
	    cmocka_unit_test(retransmitted_syn_updates_ts_recent),
	    cmocka_unit_test(paws_drops_old_timestamps),
	    cmocka_unit_test(bad_checksum_dropped),
	    cmocka_unit_test(hostile_options_never_crash),
	    cmocka_unit_test(rx_offload_flags_and_chains),
	    cmocka_unit_test(hostile_segments_on_live_connections),
	    cmocka_unit_test(shared_payload_two_connections),
	    cmocka_unit_test(send_space_and_writable),
	    cmocka_unit_test(refused_accept_resets),
	    cmocka_unit_test(time_wait_reused_by_new_syn),
	    cmocka_unit_test(tiny_peer_mss_is_raised),
	    cmocka_unit_test(stray_ack_without_recent_cookies),
	    cmocka_unit_test(sack_blocks_for_out_of_order_data),
	    cmocka_unit_test(no_sack_without_negotiation),
	    cmocka_unit_test(sack_sender_retransmits_only_holes),
	    cmocka_unit_test(sack_resend_waits_for_peer_window),
	    cmocka_unit_test(sack_loss_from_data_acks),
	    cmocka_unit_test(hostile_sack_blocks),
	    cmocka_unit_test(sack_reneging_peer_recovers_by_rto),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
