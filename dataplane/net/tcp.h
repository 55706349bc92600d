/* SPDX-License-Identifier: MIT */
/*
 * The TCP layer of the userspace stack (RFC 9293, server side): one
 * dp_tcp_stack per lcore, fed segments by the IP layer and driven by the
 * lcore loop's clock. This header is the contract with the IP layer and the
 * lcore loop; everything else is private to dataplane/net/tcp*.
 *
 * Design note
 * -----------
 * Files: tcp_stream.c (stack, connection and listener tables, life cycle),
 * tcp_in.c (segment arrival, RFC 9293 3.10.7), tcp_out.c (segment
 * building, segmentation, retransmission, RST), tcp_ofo.c (out-of-order
 * ranges), tcp_sack.c (SACK blocks sent and SACK-driven loss recovery),
 * tcp_cc.c (congestion control behind a small ops table),
 * tcp_timer.c (the wheel), syncookie.c (cookies and SipHash), cksum.c.
 *
 * States: SYN-RECEIVED, ESTABLISHED, CLOSE-WAIT, LAST-ACK, FIN-WAIT-1,
 * FIN-WAIT-2, CLOSING, TIME-WAIT. Listeners are not connections: a SYN to a
 * listener creates a SYN-RECEIVED connection while the SYN backlog (per
 * stack) has room, else answers with a SYN cookie and keeps nothing. No
 * active open (tern is a server). accepted() runs on entering ESTABLISHED.
 * A peer FIN calls peer_closed() if set, else the stack closes its side
 * itself (FIN after queued data); closed() runs once, when our FIN is
 * acknowledged and the peer's FIN received (TIME-WAIT or CLOSED), or with
 * reset true on RST, retry limit or timeout. TIME-WAIT lasts time_wait_us
 * and holds no application state; a new SYN above its sequence reuses it.
 *
 * Buffer ownership: dp_tcp_input() owns the segment; its payload (header
 * cut off) goes to recv() as a chain, in order, or waits in at most
 * DP_TCP_OFO_RANGES out-of-order ranges, each a chain of the received mbufs
 * (no copy; overlaps trimmed, neighbours merged). dp_tcp_send() appends the
 * caller's chain to the connection's send queue (one long chain linked by
 * mbuf next); transmitting a segment allocates a header mbuf from the pool
 * and chains indirect mbufs attached (rte_pktmbuf_attach) to the queued
 * segments it covers, adjusted to the byte range, so neither the first
 * transmission nor a retransmission copies payload. ACKs free queue segments
 * that are wholly acknowledged; the ip_output() consumer frees the
 * transmitted chain, which only drops references.
 *
 * Timers: a hashed wheel per stack, 1 ms ticks, 4096 slots (4.096 s per
 * revolution; longer timers wait for their round). Each connection embeds
 * two timers: rtx (SYN-ACK and data retransmission, zero-window probe,
 * FIN-WAIT-2 and TIME-WAIT expiry, depending on state) and delack.
 * RTO per RFC 6298 (initial 1 s, minimum rto_min_us, default 200 ms
 * like Linux rather than the RFC's 1 s, doubling backoff up to rto_max_us,
 * abort after max_retries), RTT from timestamps, else one timed segment
 * with Karn's rule.
 *
 * A jump of the clock by more than one revolution fires each due timer
 * once, at the new time (a timer re-armed from its callback counts from there).
 *
 * Input order (RFC 9293 3.10.7.4): PAWS (RFC 7323 5), sequence
 * acceptability, RST (RFC 5961 3: exact -> reset, in window -> challenge
 * ACK, else dropped), SYN (challenge ACK), ACK (RFC 5961 5: beyond snd_max
 * or older than snd_una - max window -> ACK back, dropped), then data and
 * FIN. Challenge ACKs are limited per stack per second. Delayed ACK: every
 * second full-sized segment, at once for out-of-order data, hole fills and
 * FIN, else after delack_us. Congestion: cwnd and ssthresh in bytes, slow
 * start with byte counting, avoidance of one SMSS per cwnd acknowledged,
 * fast retransmit on the third duplicate ACK and NewReno recovery with
 * partial ACKs (RFC 6582); tcp_cc.c's ops table is the seam for CUBIC.
 * SACK, when both offered it: our ACKs carry up to 3 blocks beside the
 * timestamps (4 without), the latest segment's range first (RFC 2018);
 * the peer's blocks feed a scoreboard and, once they show a hole lost
 * (or on the third duplicate ACK), recovery resends holes only, within
 * cwnd less the pipe (RFC 6675, simplified: see tcp_sack.c).
 * No Nagle (MQTT wants latency); sender SWS avoidance holds a window-limited
 * runt while data is in flight. A retransmission never reaches past the
 * peer's current window (a receiver drops a segment ending beyond it); an
 * RTO that finds the window shut probes it instead (persist; a probe is
 * always a queued byte, so persist ends when the peer has taken the whole
 * queue), answered probes never abort, and the update that opens the window
 * resends from snd_una at once, with the RTO's backoff dropped; an update
 * that opens it while the RTO backs off resends the head at once too. The
 * receive window is rcv_buf less the out-of-order bytes and what the
 * application says it still holds (dp_tcp_recv_held); its right edge never
 * moves left, and moves right only by min(rcv_buf / 2, MSS) or more
 * (receiver SWS avoidance).
 *
 * Cookies: see syncookie.h (MSS index, 24-bit SipHash, 64 s period;
 * window scale and SACK-permitted in the low TSval bits). A returning ACK
 * is checked as a cookie only within two periods of the last cookie sent.
 *
 * Not implemented: active open; sending D-SACK or acting on received ones
 * (RFC 2883, they are counted); tail loss probes and
 * RACK (RFC 8985); urgent data (URG is ignored, the bytes are delivered inline);
 * keepalive (MQTT has its own); rate limiting of RSTs to closed ports;
 * TS.Recent invalidation after 24 days idle; ECN; PMTU discovery (MSS
 * comes from mss4/mss6).
 */
#ifndef DP_NET_TCP_H
#define DP_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/addr.h"

struct rte_mbuf;
struct rte_mempool;

struct dp_tcp_stack; /* one per lcore; owner-lcore only, no locks */
struct dp_tcp_conn;

/* Returned by dp_tcp_timers_run() when no timer is armed. */
#define DP_TCP_TIMER_NONE UINT64_MAX
/* Out-of-order ranges kept per connection; a segment needing one more is dropped. */
#define DP_TCP_OFO_RANGES 8
/*
 * mbufs the out-of-order queue of one connection may hold: tiny segments
 * would otherwise pin one pool buffer per byte of the window.
 */
#define DP_TCP_OFO_MAX_MBUFS 256
/* Headroom left in every segment handed to ip_output(). */
#define DP_TCP_HEADROOM 128

/*
 * Callbacks into the lcore loop. Called on the stack's lcore from inside
 * dp_tcp_input(), dp_tcp_timers_run(), dp_tcp_send() or dp_tcp_close(). A
 * callback may call dp_tcp_send(), dp_tcp_close() and dp_tcp_abort() on
 * the connection it is about; the stack defers freeing until it unwinds.
 */
struct dp_tcp_ops {
	/*
	 * Transmit one segment. m's data starts at the TCP header (checksum
	 * field left for the IP layer; m->l4_len is the TCP header length);
	 * the IP layer prepends IP and Ethernet headers (>= DP_TCP_HEADROOM
	 * headroom), fills the TCP checksum in software or sets tx offload
	 * flags, resolves the neighbour and sends or queues. Takes ownership of
	 * m always. Returns 0 or -errno (dropped; TCP treats it as loss).
	 */
	int (*ip_output)(void *ctx, struct rte_mbuf *m, const struct dp_flow *flow);
	/* Passive open completed: return the application's context for c, or NULL to reset c. */
	void *(*accepted)(void *ctx, struct dp_tcp_conn *c);
	/* In-order payload bytes; m is a chain the application now owns and must free. */
	void (*recv)(void *app, struct rte_mbuf *m);
	/* Send space opened up after dp_tcp_send() had returned -EAGAIN. */
	void (*writable)(void *app);
	/*
	 * The connection is gone (after FIN exchange, RST, retry limit or
	 * timeout). reset true when it was aborted. Called once; c must not be
	 * used afterwards. Not called for dp_tcp_abort() nor for a connection
	 * accepted() refused.
	 */
	void (*closed)(void *app, bool reset);
	/*
	 * Optional (may be NULL): the peer sent FIN; no more recv() follows.
	 * The application calls dp_tcp_close() when done sending. When NULL the
	 * stack calls dp_tcp_close() itself.
	 */
	void (*peer_closed)(void *app);
};

/* Tunables of one stack; fill with dp_tcp_config_defaults() then adjust. */
struct dp_tcp_config {
	uint32_t max_conns;	      /* connections of all states, TIME-WAIT included */
	uint32_t syn_backlog;	      /* SYN-RECEIVED connections before cookies */
	uint16_t mss4;		      /* MSS we advertise over IPv4 (MTU - 40) */
	uint16_t mss6;		      /* MSS we advertise over IPv6 (MTU - 60) */
	uint32_t rcv_buf;	      /* receive window we offer, bytes */
	uint32_t snd_buf;	      /* bytes queued per connection before -EAGAIN */
	uint32_t init_cwnd_segs;      /* initial congestion window, segments (RFC 6928) */
	uint64_t rto_init_us;	      /* RFC 6298 2.1 */
	uint64_t rto_min_us;	      /* RFC 6298 2.4 says 1 s; Linux uses 200 ms */
	uint64_t rto_max_us;	      /* cap of the backoff */
	uint32_t max_retries;	      /* RTOs (or unanswered zero-window probes) before abort */
	uint32_t syn_retries;	      /* SYN-ACK retransmissions before dropping SYN-RECEIVED */
	uint64_t delack_us;	      /* delayed ACK timeout (RFC 9293 says < 500 ms) */
	uint64_t time_wait_us;	      /* TIME-WAIT duration (2 MSL) */
	uint64_t fin_wait2_us;	      /* FIN-WAIT-2 without a peer FIN before giving up */
	uint32_t challenge_ack_limit; /* challenge ACKs per second per stack (RFC 5961 7) */
	bool syncookies;	      /* answer SYNs with cookies when the backlog is full */
	uint64_t secret_seed;	      /* 0: random; else deterministic secrets (tests) */
};

/*
 * Counters of one stack. Written by the owning lcore only; another thread
 * may read them for export and see slightly stale values (plain uint64_t).
 */
struct dp_tcp_stats {
	uint64_t seg_in;	   /* segments handed to dp_tcp_input() */
	uint64_t seg_out;	   /* segments handed to ip_output() */
	uint64_t bytes_in;	   /* payload bytes delivered to recv() */
	uint64_t bytes_out;	   /* payload bytes transmitted, retransmissions included */
	uint64_t retransmits;	   /* segments retransmitted (RTO, fast, probe) */
	uint64_t rto_timeouts;	   /* retransmission timer expiries */
	uint64_t fast_retransmits; /* fast retransmits on three duplicate ACKs, and partial ACKs */
	uint64_t zero_window_probes;
	uint64_t acks_delayed; /* ACKs sent from the delayed ACK timer */
	uint64_t rst_in;       /* acceptable RSTs that reset a connection */
	uint64_t rst_out;
	uint64_t challenge_acks;
	uint64_t syncookies_sent;
	uint64_t syncookies_ok;
	uint64_t syncookies_bad;
	uint64_t conn_accepted; /* connections that reached ESTABLISHED */
	uint64_t conn_closed;	/* orderly closes */
	uint64_t conn_reset;	/* by RST received */
	uint64_t conn_timeout;	/* retry limit, FIN-WAIT-2 or SYN-RECEIVED timeout */
	uint64_t conn_active;	/* gauge: connections in the table */
	uint64_t tx_errors;	/* ip_output() or allocation failures */
	uint64_t drop_cksum;
	uint64_t drop_malformed;   /* short segment, bad data offset */
	uint64_t drop_no_listener; /* answered with RST */
	uint64_t drop_out_of_window;
	uint64_t drop_paws;
	uint64_t drop_bad_ack;
	uint64_t drop_ofo_full;
	uint64_t drop_backlog;	    /* SYN dropped: backlog full and no cookies, or table full */
	uint64_t drop_rst_ignored;  /* RST outside the receive window */
	uint64_t drop_after_close;  /* payload received after dp_tcp_close() */
	uint64_t sack_blocks_out;   /* SACK blocks sent in our ACKs */
	uint64_t sack_blocks_in;    /* SACK blocks received and taken into the scoreboard */
	uint64_t sack_blocks_bad;   /* SACK blocks received and ignored (outside the window) */
	uint64_t sack_blocks_dsack; /* D-SACK blocks received (RFC 2883), not used */
	uint64_t sack_recoveries;   /* loss recoveries driven by the SACK scoreboard */
	uint64_t sack_retransmits;  /* segments retransmitted from the SACK scoreboard */
};

/* One counter of struct dp_tcp_stats, for exporters ($SYS, telemetry). */
struct dp_tcp_stat_desc {
	const char *name; /* snake_case, stable: used as the exported key */
	size_t offset;	  /* of its uint64_t in struct dp_tcp_stats */
	const char *help; /* one line for documentation and telemetry */
};

/* Every counter of struct dp_tcp_stats, in declaration order. Read-only. */
extern const struct dp_tcp_stat_desc dp_tcp_stat_descs[];
extern const size_t dp_tcp_stat_count;

/* Sane defaults: 65536 connections, backlog 1024, MSS 1460/1440, 256 KiB windows. */
void dp_tcp_config_defaults(struct dp_tcp_config *cfg);

/*
 * A stack for the calling lcore. ops (copied) and ctx are passed to every
 * callback; pool gives header and indirect mbufs (its data room must hold
 * DP_TCP_HEADROOM + 60 bytes). Returns NULL with errno EINVAL (bad config or
 * ops without ip_output/accepted/recv/closed) or ENOMEM.
 */
struct dp_tcp_stack *dp_tcp_stack_create(const struct dp_tcp_config *cfg,
					 const struct dp_tcp_ops *ops, void *ctx,
					 struct rte_mempool *pool);

/* Free s and every connection in it without callbacks or segments. NULL is fine. Owner lcore. */
void dp_tcp_stack_free(struct dp_tcp_stack *s);

/*
 * Accept connections to port_be (network byte order) on local (family set;
 * the zero address means any address of that family). Returns 0, -EEXIST
 * (already listening), -EINVAL (bad family or port 0) or -ENOSPC (listener
 * table full). Owner lcore.
 */
int dp_tcp_listen(struct dp_tcp_stack *s, const struct dp_ip_addr *local, uint16_t port_be);

/*
 * One received segment; m's data starts at the TCP header and pkt_len is
 * the TCP length (IP padding already trimmed). Verifies the checksum unless
 * m->ol_flags says RX L4 checksum good. Takes ownership of m. Bad segments
 * are dropped and counted. Owner lcore.
 */
void dp_tcp_input(struct dp_tcp_stack *s, struct rte_mbuf *m, const struct dp_ip_addr *src,
		  const struct dp_ip_addr *dst);

/*
 * Set the stack's clock to now_us (never moving it back) and run due
 * timers. Returns microseconds until the next timer (a lower bound), or
 * DP_TCP_TIMER_NONE. Call once per loop turn: input uses this clock. Owner lcore.
 */
uint64_t dp_tcp_timers_run(struct dp_tcp_stack *s, uint64_t now_us);

/* Bytes dp_tcp_send() accepts now (0 when closing or closed). Owner lcore. */
size_t dp_tcp_send_space(const struct dp_tcp_conn *c);

/* Bytes in the send queue: sent and not yet acknowledged, or not sent yet. Owner lcore. */
size_t dp_tcp_send_queued(const struct dp_tcp_conn *c);

/*
 * Queue a chain for sending without copying and transmit what the windows
 * allow; the stack keeps references until acknowledged. Returns 0 (m taken),
 * -EAGAIN (over the send space; writable() follows), -EMSGSIZE (larger than
 * snd_buf: it can never fit, split it), -EPIPE (after dp_tcp_close() or the
 * peer is gone) or -EINVAL (empty chain); on error nothing is taken. Owner lcore.
 */
int dp_tcp_send(struct dp_tcp_conn *c, struct rte_mbuf *m);

/*
 * Receive flow control: bytes recv() delivered that the application still
 * holds unprocessed (its input buffer), absolute, not a delta. The window
 * offered is rcv_buf less these and the out-of-order bytes; 0 stops the
 * peer. When a nearly closed window can open by a worthwhile step a window
 * update is sent at once. Never calling it means the application consumes
 * everything at once. Owner lcore; may be called from recv().
 */
void dp_tcp_recv_held(struct dp_tcp_conn *c, uint32_t bytes);

/*
 * FIN after the queued data. Afterwards no recv() or writable() is called
 * and payload that still arrives is acknowledged and dropped; closed()
 * follows when the close completes. Harmless when already closing. Owner lcore.
 */
void dp_tcp_close(struct dp_tcp_conn *c);

/* RST now and free c; no callback follows. Owner lcore. */
void dp_tcp_abort(struct dp_tcp_conn *c);

/* The connection's addresses and ports (local = ours). Owner lcore. */
const struct dp_flow *dp_tcp_conn_flow(const struct dp_tcp_conn *c);

/* The stack's counters, for export. Any thread (see struct dp_tcp_stats). */
const struct dp_tcp_stats *dp_tcp_stack_stats(const struct dp_tcp_stack *s);

#endif
