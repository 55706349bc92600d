/* SPDX-License-Identifier: MIT */
/*
 * Private to dataplane/net/tcp*: selective acknowledgments (RFC 2018) and
 * SACK-based loss recovery (RFC 6675, simplified; see tcp_sack.c). The
 * per-connection state is one embedded struct dp_tcp_sack, so the TCP files
 * call small hooks and never touch its fields.
 */
#ifndef DP_NET_TCP_SACK_H
#define DP_NET_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

/* Blocks in one SACK option: 4 fit in 40 option bytes, 3 beside the timestamp option. */
#define DP_TCP_SACK_BLOCKS_MAX 4
#define DP_TCP_SACK_BLOCKS_TS  3
/* Ranges the sender's scoreboard keeps; the highest is forgotten when one more arrives. */
#define DP_TCP_SACK_SB_RANGES 8
/* RFC 5681 / RFC 6675 DupThresh. */
#define DP_TCP_SACK_DUPTHRESH 3

struct dp_tcp_conn;
struct dp_tcp_seg;

/* One SACKed byte range [seq, end) of the scoreboard. */
struct dp_tcp_sack_range {
	uint32_t seq;
	uint32_t end;
	uint32_t segs; /* ACKs that SACKed new bytes of it: the segments that arrived, roughly */
};

/* SACK state of one connection. Owned by the connection's lcore, like the rest of it. */
struct dp_tcp_sack {
	/* Receiver: a byte of each range most recently reported, newest first (RFC 2018 4). */
	uint32_t recent[DP_TCP_SACK_BLOCKS_MAX];
	uint8_t n_recent;
	/* Sender: the scoreboard, sorted, disjoint, within (snd_una, snd_max]. */
	uint8_t n;
	bool recovery;	   /* the current loss recovery is SACK-driven (else NewReno's) */
	uint32_t high_rxt; /* RFC 6675 HighRxt: holes below it were retransmitted */
	struct dp_tcp_sack_range sb[DP_TCP_SACK_SB_RANGES];
};

/*
 * Receiver: an out-of-order segment starting at seq was queued (or was a
 * duplicate of queued bytes), so the next SACK option reports its range
 * first. Owner lcore; c->sack_ok or not (a no-op without SACK).
 */
void dp_tcp_sack_note_ofo(struct dp_tcp_conn *c, uint32_t seq);

/*
 * Receiver: fill blocks (left, right edge pairs, host order) for an ACK of
 * c, most recent first, at most max; returns how many (0 without SACK or
 * out-of-order data). Counts them in stats.sack_blocks_out. Owner lcore.
 */
unsigned int dp_tcp_sack_fill(struct dp_tcp_conn *c, uint32_t blocks[][2], unsigned int max);

/*
 * Sender: fold the SACK blocks of an acceptable ACK g (ack within
 * snd_una - max window .. snd_max) into the scoreboard, before snd_una
 * moves. Blocks not inside max(ack, snd_una) .. snd_max or empty are
 * ignored and counted (stats.sack_blocks_bad), D-SACK blocks below the ACK
 * too (stats.sack_blocks_dsack). Returns true when a block
 * SACKed bytes not SACKed before (RFC 6675: a duplicate ACK even if it
 * carries data or a window change). Owner lcore.
 */
bool dp_tcp_sack_update(struct dp_tcp_conn *c, const struct dp_tcp_seg *g);

/*
 * Sender, outside recovery: has loss been detected by SACK alone (the
 * SACKed bytes above snd_una reach DupThresh segments or DupThresh * SMSS)?
 */
bool dp_tcp_sack_head_lost(const struct dp_tcp_conn *c);

/*
 * Sender: loss recovery was just entered (ssthresh set, recover =
 * snd_max). With a scoreboard to work from, take it over: cwnd = ssthresh,
 * retransmit the first hole (dp_tcp_sack_recover() sends the rest); returns
 * true. Returns false (nothing done) when NewReno must handle it. Owner lcore.
 */
bool dp_tcp_sack_enter(struct dp_tcp_conn *c);

/*
 * Sender, in SACK recovery, after an ACK was processed (snd_una and the
 * peer's window already updated): retransmit lost holes within that window,
 * then non-lost ones when no new data can go, while cwnd exceeds the pipe
 * (RFC 6675 5 (C)). Owner lcore.
 */
void dp_tcp_sack_recover(struct dp_tcp_conn *c);

/*
 * Sender, in SACK recovery: the window dp_tcp_output() may fill from
 * snd_una: new data only as far as cwnd exceeds the pipe, and never past
 * the peer's window. Owner lcore.
 */
uint32_t dp_tcp_sack_output_wnd(const struct dp_tcp_conn *c);

/* Sender: recovery over (full ACK). Keeps the scoreboard above snd_una. */
void dp_tcp_sack_exit(struct dp_tcp_conn *c);

/*
 * Sender: forget the scoreboard (retransmission timeout: the receiver may
 * have reneged, RFC 2018 8) and leave SACK recovery.
 */
void dp_tcp_sack_reset(struct dp_tcp_conn *c);

#endif
