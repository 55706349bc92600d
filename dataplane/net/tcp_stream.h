/* SPDX-License-Identifier: MIT */
/*
 * Private to dataplane/net/tcp*: the connection and stack structures, the
 * parsed segment, sequence arithmetic and the functions the TCP files call
 * in one another. Nothing outside the TCP layer includes this header.
 */
#ifndef DP_NET_TCP_STREAM_H
#define DP_NET_TCP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/net/syncookie.h"
#include "dataplane/net/tcp.h"
#include "dataplane/net/tcp_sack.h"
#include "dataplane/net/tcp_timer.h"

#define DP_TCP_MAX_LISTENERS 16
#define DP_TCP_MAX_WSCALE    14

/* TCP header flags. */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

#define TCP_HDR_LEN    20
#define TCP_TS_OPT_LEN 12 /* NOP NOP TS: what every segment carries once timestamps are on */

/* Sequence number comparisons modulo 2^32 (RFC 9293 3.4). */
#define SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)  SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

enum dp_tcp_state {
	DP_TCP_CLOSED = 0, /* released, waiting for the deferred free */
	DP_TCP_SYN_RCVD,
	DP_TCP_ESTABLISHED,
	DP_TCP_CLOSE_WAIT,
	DP_TCP_LAST_ACK,
	DP_TCP_FIN_WAIT_1,
	DP_TCP_FIN_WAIT_2,
	DP_TCP_CLOSING,
	DP_TCP_TIME_WAIT,
};

/* A received segment's header fields, host byte order, options parsed. */
struct dp_tcp_seg {
	uint32_t seq;
	uint32_t ack;
	uint32_t len; /* payload bytes */
	uint16_t wnd; /* raw, unscaled */
	uint16_t hlen;
	uint8_t flags;
	bool has_mss;
	bool has_ws;
	bool sack_ok;
	bool has_ts;
	uint8_t ws;
	uint16_t mss;
	uint32_t tsval;
	uint32_t tsecr;
	uint8_t nsack; /* SACK blocks (left, right edge) as received, not yet validated */
	uint32_t sack[DP_TCP_SACK_BLOCKS_MAX][2];
};

/* One contiguous out-of-order byte range: a chain of received mbufs. */
struct dp_tcp_ofo_range {
	uint32_t seq;
	uint32_t len;
	struct rte_mbuf *m;
};

struct dp_tcp_conn;

/* Congestion control seam: NewReno today, CUBIC would be a second table. */
struct dp_tcp_cc_ops {
	const char *name;
	void (*init)(struct dp_tcp_conn *c);
	/* New data acknowledged outside loss recovery. */
	void (*on_ack)(struct dp_tcp_conn *c, uint32_t acked);
	/* Loss detected by duplicate ACKs: set ssthresh (recovery itself is NewReno's, in
	 * tcp_in.c). */
	void (*on_fast_loss)(struct dp_tcp_conn *c);
	/* Retransmission timeout: set ssthresh and cwnd. */
	void (*on_rto)(struct dp_tcp_conn *c);
};

extern const struct dp_tcp_cc_ops dp_tcp_cc_newreno;

/* One connection. Owned by its stack's lcore; nothing else reads it. */
struct dp_tcp_conn {
	struct dp_tcp_conn *hnext; /* hash chain, free list or deferred-free list */
	struct dp_tcp_stack *stack;
	void *app; /* non-NULL once accepted() returned it, until closed() */
	struct dp_flow flow;
	uint32_t hash;
	uint8_t state;
	uint8_t snd_wscale;
	uint8_t rcv_wscale;
	bool ts_ok;
	bool ws_ok; /* both sides scale windows */
	bool sack_ok;
	bool app_closed; /* dp_tcp_close(): FIN queued, no more recv() */
	bool fin_sent;	 /* our FIN has been transmitted at least once */
	bool fin_acked;
	bool want_writable;
	bool in_recovery; /* NewReno fast recovery */
	bool persist;	  /* zero-window probing (only with bytes queued) */
	bool rtt_timing;  /* one segment timed (no timestamps) */
	bool ack_now;	  /* send an ACK before input returns */
	bool ofo_fin;	  /* a FIN arrived out of order at ofo_fin_seq */
	bool in_table;
	uint16_t snd_mss; /* payload bytes per segment, options excluded */
	uint16_t rcv_mss; /* what we advertised: delayed-ACK unit */

	/* Send side (RFC 9293 3.3.1); snd_max is the highest sequence sent. */
	uint32_t iss;
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t snd_max;
	uint32_t snd_wl1;
	uint32_t snd_wl2;
	uint32_t snd_wnd;
	uint32_t max_snd_wnd;
	uint32_t fin_seq; /* valid when app_closed: sequence of our FIN */
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t cc_acc; /* bytes acknowledged toward the next cwnd step in avoidance */
	uint32_t recover;
	uint32_t dupacks;
	const struct dp_tcp_cc_ops *cc;

	/* Send queue: one chain (linked by next) of the bytes from snd_una on. */
	struct rte_mbuf *sndq_head;
	struct rte_mbuf *sndq_tail;
	uint32_t sndq_off; /* bytes of sndq_head already acknowledged */
	uint32_t sndq_len; /* unacknowledged and unsent data bytes */
	/* Where the last transmission started reading, so sending stays O(segment), not O(queue).
	 */
	struct rte_mbuf *sndq_cur;
	uint32_t sndq_cur_seq; /* sequence number of sndq_cur's first byte */

	/* Round trip (RFC 6298), microseconds. */
	uint32_t srtt_us; /* 0: no sample yet */
	uint32_t rttvar_us;
	uint64_t rto_us;
	uint32_t retries;
	uint32_t rtt_seq;
	uint64_t rtt_start_us;

	/* Receive side. */
	uint32_t irs;
	uint32_t rcv_nxt;
	uint32_t rcv_adv; /* right edge of the window last advertised */
	uint32_t ts_recent;
	uint32_t last_ack_sent;
	uint32_t unacked;  /* bytes received since our last ACK */
	uint32_t app_held; /* delivered bytes the application still holds (dp_tcp_recv_held) */
	uint32_t ofo_fin_seq;
	uint32_t ofo_bytes;
	uint8_t ofo_n;
	struct dp_tcp_ofo_range ofo[DP_TCP_OFO_RANGES];

	struct dp_tcp_sack sack; /* tcp_sack.c's, both directions */

	struct dp_timer rtx;
	struct dp_timer delack;
};

struct dp_tcp_listener {
	struct dp_ip_addr addr; /* zero address: any of that family */
	uint16_t port;		/* network byte order */
};

/* One stack. Owned by its lcore; stats may be read by others (see tcp.h). */
struct dp_tcp_stack {
	struct dp_tcp_config cfg;
	struct dp_tcp_ops ops;
	void *ctx;
	struct rte_mempool *pool;
	uint64_t now_us;
	uint32_t hash_seed;
	struct dp_siphash_key isn_key;
	struct dp_siphash_key cookie_key;
	struct dp_tcp_conn **buckets;
	uint32_t bucket_mask;
	struct dp_tcp_conn *conns; /* cfg.max_conns, preallocated */
	struct dp_tcp_conn *free_list;
	struct dp_tcp_conn *dead; /* released while a call was in progress */
	uint32_t depth;		  /* nesting of public calls, for deferred frees */
	uint32_t syn_rcvd;
	uint8_t rcv_wscale;
	unsigned int n_listeners;
	struct dp_tcp_listener listeners[DP_TCP_MAX_LISTENERS];
	uint64_t last_cookie_us; /* when the last SYN cookie was sent */
	uint64_t chack_second;
	uint32_t chack_count;
	struct dp_tcp_stats stats;
	struct dp_timer_wheel wheel;
};

/* tcp_stream.c */
struct dp_tcp_conn *dp_tcp_conn_lookup(struct dp_tcp_stack *s, const struct dp_flow *f);
struct dp_tcp_conn *dp_tcp_conn_new(struct dp_tcp_stack *s, const struct dp_flow *f);
void dp_tcp_conn_release(struct dp_tcp_conn *c);
bool dp_tcp_listener_match(const struct dp_tcp_stack *s, const struct dp_flow *f);
void dp_tcp_enter(struct dp_tcp_stack *s);
void dp_tcp_leave(struct dp_tcp_stack *s);
void dp_tcp_notify_closed(struct dp_tcp_conn *c, bool reset);
void dp_tcp_enter_time_wait(struct dp_tcp_conn *c);
uint32_t dp_tcp_isn(struct dp_tcp_stack *s, const struct dp_flow *f);
bool dp_tcp_challenge_allowed(struct dp_tcp_stack *s);

static inline uint32_t dp_tcp_now_ms(const struct dp_tcp_stack *s)
{
	return (uint32_t)(s->now_us / 1000u);
}

static inline bool dp_tcp_conn_dead(const struct dp_tcp_conn *c)
{
	return c->state == DP_TCP_CLOSED;
}

/* tcp_out.c */
/* Fields of one segment to emit, connection or not. */
struct dp_tcp_hdr_fields {
	uint32_t seq;
	uint32_t ack;
	uint16_t wnd;
	uint8_t flags;
	uint16_t mss;  /* 0: no MSS option */
	int8_t wscale; /* -1: no window scale option */
	bool sack_ok;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
	uint8_t nsack; /* SACK blocks to send (not on SYNs) */
	uint32_t sack[DP_TCP_SACK_BLOCKS_MAX][2];
};
int dp_tcp_emit(struct dp_tcp_stack *s, const struct dp_flow *f, const struct dp_tcp_hdr_fields *e,
		struct rte_mbuf *payload);
unsigned int dp_tcp_output(struct dp_tcp_conn *c);
int dp_tcp_send_ack(struct dp_tcp_conn *c);
int dp_tcp_send_synack(struct dp_tcp_conn *c);
int dp_tcp_send_challenge_ack(struct dp_tcp_conn *c);
void dp_tcp_send_rst_conn(struct dp_tcp_conn *c);
void dp_tcp_send_rst_reply(struct dp_tcp_stack *s, const struct dp_flow *f,
			   const struct dp_tcp_seg *g);
int dp_tcp_retransmit_head(struct dp_tcp_conn *c);
int dp_tcp_retransmit_range(struct dp_tcp_conn *c, uint32_t seq, uint32_t len);
void dp_tcp_sndq_drop(struct dp_tcp_conn *c, uint32_t bytes);
void dp_tcp_sndq_free(struct dp_tcp_conn *c);
void dp_tcp_rtx_arm(struct dp_tcp_conn *c);
void dp_tcp_rtx_timeout(struct dp_tcp_conn *c);
void dp_tcp_rtt_sample(struct dp_tcp_conn *c, uint64_t rtt_us);
/* RTO from SRTT and RTTVAR again (rto_init_us without a sample), dropping any backoff. */
void dp_tcp_rto_reset(struct dp_tcp_conn *c);
uint16_t dp_tcp_rcv_window(struct dp_tcp_conn *c, bool syn);
uint32_t dp_tcp_rcv_space(const struct dp_tcp_conn *c);
uint32_t dp_tcp_rcv_sws_step(const struct dp_tcp_conn *c);

/* tcp_ofo.c */
int dp_tcp_ofo_insert(struct dp_tcp_conn *c, uint32_t seq, struct rte_mbuf *m);
struct rte_mbuf *dp_tcp_ofo_pull(struct dp_tcp_conn *c);
void dp_tcp_ofo_free(struct dp_tcp_conn *c);
struct rte_mbuf *dp_tcp_mbuf_trim_front(struct rte_mbuf *m, uint32_t n);
struct rte_mbuf *dp_tcp_mbuf_trim_back(struct rte_mbuf *m, uint32_t n);

#endif
