/* SPDX-License-Identifier: MIT */
/*
 * Selective acknowledgments: the SACK blocks our ACKs carry (RFC 2018) and
 * loss recovery driven by the blocks the peer sends (RFC 6675, simplified).
 *
 * Design note
 * -----------
 * Receiver. The out-of-order queue (tcp_ofo.c) already holds the ranges to
 * report; here we only remember one byte of each range recently reported,
 * newest first, so the first block names the range the latest segment went
 * to and the next ones repeat the most recently reported (RFC 2018 4). The
 * rest of the slots go to the other ranges, highest first. A range that
 * became contiguous with rcv_nxt left the queue, so it is never reported.
 *
 * Sender. The scoreboard is up to DP_TCP_SACK_SB_RANGES sorted, disjoint
 * ranges inside (snd_una, snd_max]. A block is taken only when it lies
 * inside max(ACK, snd_una) .. snd_max, is not empty and does not start at
 * the ACK (that byte would be acknowledged); a block below the ACK is a
 * D-SACK (RFC 2883: the peer got a duplicate), counted and not used; anything
 * else is counted and ignored, so hostile blocks cost a comparison. Blocks merge with the ranges
 * they touch; when one range too many results, the highest is forgotten,
 * which only makes the sender more conservative (it may resend SACKed
 * bytes, never skip unacknowledged ones). Each range counts the ACKs that
 * SACKed new bytes of it: the segments that arrived, since receivers
 * acknowledge out-of-order segments at once. Tiny MQTT segments would never
 * reach a byte threshold of MSS multiples, so both count.
 *
 * Simplifications of RFC 6675: the unsent gaps between ranges ("holes")
 * are judged whole: a hole is lost when the ranges above it hold
 * DupThresh segments or more than (DupThresh - 1) * SMSS bytes (IsLost,
 * which is the same for every byte of one hole). The pipe is the bytes
 * above the highest SACKed byte, plus the holes not lost, plus the holes'
 * bytes below HighRxt (retransmitted). NextSeg takes the first lost hole
 * above HighRxt (rule 1); new data next, which dp_tcp_output() sends within
 * dp_tcp_sack_output_wnd() (rule 2); then the first hole not lost when no
 * new data can go (rule 3); rule 4 (rescue retransmission) is left out. A
 * retransmission timeout clears the scoreboard and recovery (RFC 2018 8:
 * the receiver may renege) and the go-back-N of tcp_out.c resumes.
 */
#include <string.h>

#include "dataplane/net/tcp_stream.h"

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Index of the out-of-order range holding seq, or -1. */
static int ofo_range_of(const struct dp_tcp_conn *c, uint32_t seq)
{
	for (unsigned int i = 0; i < c->ofo_n; i++)
		if (SEQ_GEQ(seq, c->ofo[i].seq) && SEQ_LT(seq, c->ofo[i].seq + c->ofo[i].len))
			return (int)i;
	return -1;
}

void dp_tcp_sack_note_ofo(struct dp_tcp_conn *c, uint32_t seq)
{
	struct dp_tcp_sack *k = &c->sack;
	uint32_t keep[DP_TCP_SACK_BLOCKS_MAX];
	unsigned int n = 0;
	int r;

	if (!c->sack_ok)
		return;
	r = ofo_range_of(c, seq);
	if (r < 0)
		return;
	keep[n++] = seq;
	/* Older reports of other ranges still queued follow; ones of this range or gone drop out.
	 */
	for (unsigned int i = 0; i < k->n_recent && n < DP_TCP_SACK_BLOCKS_MAX; i++) {
		int q = ofo_range_of(c, k->recent[i]);

		if (q >= 0 && q != r)
			keep[n++] = k->recent[i];
	}
	memcpy(k->recent, keep, n * sizeof(keep[0]));
	k->n_recent = (uint8_t)n;
}

/*
 * Report ofo range q unless rcv_nxt has reached it. An ACK can leave while the ranges that
 * in-order data just reached are still queued (the application sends from within delivery,
 * before dp_tcp_ofo_pull runs); those bytes are in order now, not a block above the ACK
 * (RFC 2018 section 3).
 */
static bool fill_one(const struct dp_tcp_conn *c, unsigned int q, uint32_t block[2])
{
	if (SEQ_LEQ(c->ofo[q].seq, c->rcv_nxt))
		return false;
	block[0] = c->ofo[q].seq;
	block[1] = c->ofo[q].seq + c->ofo[q].len;
	return true;
}

unsigned int dp_tcp_sack_fill(struct dp_tcp_conn *c, uint32_t blocks[][2], unsigned int max)
{
	bool used[DP_TCP_OFO_RANGES] = {false};
	unsigned int n = 0;

	if (!c->sack_ok || c->ofo_n == 0)
		return 0;
	for (unsigned int i = 0; i < c->sack.n_recent && n < max; i++) {
		int q = ofo_range_of(c, c->sack.recent[i]);

		if (q < 0 || used[q])
			continue;
		used[q] = true;
		if (fill_one(c, (unsigned int)q, blocks[n]))
			n++;
	}
	for (unsigned int i = c->ofo_n; i-- > 0 && n < max;) {
		if (!used[i] && fill_one(c, i, blocks[n]))
			n++;
	}
	c->stack->stats.sack_blocks_out += n;
	return n;
}

/* Drop what lies at or below lo (cumulatively acknowledged) from the scoreboard. */
static void prune(struct dp_tcp_sack *k, uint32_t lo)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < k->n; i++) {
		struct dp_tcp_sack_range r = k->sb[i];

		if (SEQ_LEQ(r.end, lo))
			continue;
		if (SEQ_LT(r.seq, lo))
			r.seq = lo;
		k->sb[j++] = r;
	}
	k->n = (uint8_t)j;
}

/* Merge [l, r) into the scoreboard; returns the bytes it SACKed that were not SACKed before. */
static uint32_t add_range(struct dp_tcp_sack *k, uint32_t l, uint32_t r)
{
	struct dp_tcp_sack_range out[DP_TCP_SACK_SB_RANGES + 1];
	struct dp_tcp_sack_range nr = {.seq = l, .end = r};
	uint32_t covered = 0, fresh;
	unsigned int n = 0, i = 0;

	/* Ranges wholly below (not touching) the new one stay as they are. */
	for (; i < k->n && SEQ_LT(k->sb[i].end, l); i++)
		out[n++] = k->sb[i];
	/* Ranges that overlap or touch it merge into it. */
	for (; i < k->n && SEQ_LEQ(k->sb[i].seq, r); i++) {
		const struct dp_tcp_sack_range *o = &k->sb[i];
		uint32_t lo = SEQ_GT(o->seq, l) ? o->seq : l;
		uint32_t hi = SEQ_LT(o->end, r) ? o->end : r;

		if (SEQ_LT(lo, hi))
			covered += hi - lo;
		if (SEQ_LT(o->seq, nr.seq))
			nr.seq = o->seq;
		if (SEQ_GT(o->end, nr.end))
			nr.end = o->end;
		nr.segs += o->segs;
	}
	fresh = (r - l) - covered;
	if (fresh > 0)
		nr.segs++;
	out[n++] = nr;
	for (; i < k->n; i++)
		out[n++] = k->sb[i];
	if (n > DP_TCP_SACK_SB_RANGES)
		n = DP_TCP_SACK_SB_RANGES; /* forget the highest */
	memcpy(k->sb, out, n * sizeof(out[0]));
	k->n = (uint8_t)n;
	return fresh;
}

bool dp_tcp_sack_update(struct dp_tcp_conn *c, const struct dp_tcp_seg *g)
{
	struct dp_tcp_stats *st = &c->stack->stats;
	uint32_t lo = SEQ_GT(g->ack, c->snd_una) ? g->ack : c->snd_una;
	uint32_t span = c->snd_max - lo;
	bool fresh = false;

	if (!c->sack_ok)
		return false;
	prune(&c->sack, lo);
	for (unsigned int i = 0; i < g->nsack; i++) {
		uint32_t l = g->sack[i][0], r = g->sack[i][1];

		/* RFC 2883 D-SACK: a duplicate the peer received below its ACK; not a hole. */
		if (SEQ_LT(l, r) && SEQ_LEQ(r, g->ack) && SEQ_GEQ(l, c->snd_una - c->max_snd_wnd)) {
			st->sack_blocks_dsack++;
			continue;
		}
		/* Offsets from lo, unsigned: a block wrapped around or outside fails one test. */
		if (l == g->ack || l - lo >= r - lo || r - lo > span) {
			st->sack_blocks_bad++;
			continue;
		}
		st->sack_blocks_in++;
		if (add_range(&c->sack, l, r) > 0)
			fresh = true;
	}
	return fresh;
}

/* The scoreboard's totals from range i up: SACKed bytes and segments above hole i. */
static void above(const struct dp_tcp_sack *k, unsigned int i, uint32_t *bytes, uint32_t *segs)
{
	*bytes = 0;
	*segs = 0;
	for (; i < k->n; i++) {
		*bytes += k->sb[i].end - k->sb[i].seq;
		*segs += k->sb[i].segs;
	}
}

static bool lost(uint32_t bytes, uint32_t segs, uint32_t mss)
{
	return segs >= DP_TCP_SACK_DUPTHRESH || bytes > (DP_TCP_SACK_DUPTHRESH - 1) * mss;
}

bool dp_tcp_sack_head_lost(const struct dp_tcp_conn *c)
{
	uint32_t bytes, segs;

	if (!c->sack_ok || c->sack.n == 0 || c->sack.sb[0].seq == c->snd_una)
		return false;
	above(&c->sack, 0, &bytes, &segs);
	return lost(bytes, segs, c->snd_mss);
}

/* RFC 6675 SetPipe, judged per hole (see the design note). */
static uint32_t pipe_bytes(const struct dp_tcp_conn *c)
{
	const struct dp_tcp_sack *k = &c->sack;
	uint32_t bytes, segs, pipe = 0, prev = c->snd_una;

	above(k, 0, &bytes, &segs);
	for (unsigned int i = 0; i < k->n; i++) {
		uint32_t hi = k->sb[i].seq;

		if (SEQ_LT(prev, hi)) {
			if (!lost(bytes, segs, c->snd_mss))
				pipe += hi - prev;
			if (SEQ_GT(k->high_rxt, prev))
				pipe += (SEQ_LT(k->high_rxt, hi) ? k->high_rxt : hi) - prev;
		}
		bytes -= k->sb[i].end - k->sb[i].seq;
		segs -= k->sb[i].segs;
		prev = k->sb[i].end;
	}
	if (SEQ_LT(prev, c->snd_max))
		pipe += c->snd_max - prev;
	return pipe;
}

/*
 * RFC 6675 NextSeg rules 1 and 3: the first hole above HighRxt, *seq and
 * *len (at most one SMSS); *is_lost says which rule. False when none.
 */
static bool next_hole(const struct dp_tcp_conn *c, uint32_t *seq, uint32_t *len, bool *is_lost)
{
	const struct dp_tcp_sack *k = &c->sack;
	uint32_t bytes, segs, prev = c->snd_una;

	above(k, 0, &bytes, &segs);
	for (unsigned int i = 0; i < k->n; i++) {
		uint32_t lo = SEQ_GT(k->high_rxt, prev) ? k->high_rxt : prev;
		uint32_t hi = k->sb[i].seq;

		if (SEQ_LT(lo, hi)) {
			*seq = lo;
			*len = min_u32(hi - lo, c->snd_mss);
			*is_lost = lost(bytes, segs, c->snd_mss);
			return true;
		}
		bytes -= k->sb[i].end - k->sb[i].seq;
		segs -= k->sb[i].segs;
		prev = k->sb[i].end;
	}
	return false;
}

/* Could dp_tcp_output() send new data (or the FIN) now, windows aside from cwnd? */
static bool new_data_ready(const struct dp_tcp_conn *c)
{
	uint32_t sent = c->snd_max - c->snd_una;

	if (SEQ_GEQ(c->snd_max, c->snd_una + c->snd_wnd))
		return false;
	return c->sndq_len > sent || (c->app_closed && !c->fin_sent);
}

/* Shortens *len to end at the peer's right window edge; false when seq is at or past it. */
static bool clamp_to_peer_wnd(const struct dp_tcp_conn *c, uint32_t seq, uint32_t *len)
{
	uint32_t edge = c->snd_una + c->snd_wnd;

	if (!SEQ_LT(seq, edge))
		return false;
	*len = min_u32(*len, edge - seq);
	return true;
}

static int resend(struct dp_tcp_conn *c, uint32_t seq, uint32_t len)
{
	int rc = dp_tcp_retransmit_range(c, seq, len);

	if (rc == 0) {
		c->stack->stats.sack_retransmits++;
		c->sack.high_rxt = seq + len;
	}
	return rc;
}

void dp_tcp_sack_recover(struct dp_tcp_conn *c)
{
	struct dp_tcp_sack *k = &c->sack;
	uint32_t seq, len, pipe;
	bool is_lost;

	if (!k->recovery)
		return;
	if (SEQ_LT(k->high_rxt, c->snd_una))
		k->high_rxt = c->snd_una;
	/* Each pass moves HighRxt up by a segment, so this ends. */
	for (;;) {
		pipe = pipe_bytes(c);
		if (!next_hole(c, &seq, &len, &is_lost))
			return;
		if (c->cwnd <= pipe || c->cwnd - pipe < len)
			return;
		if (!is_lost && new_data_ready(c))
			return;
		/* Like new data, a resend past the peer's window waits (the head always may). */
		if (seq != c->snd_una && !clamp_to_peer_wnd(c, seq, &len))
			return;
		if (resend(c, seq, len) != 0)
			return;
	}
}

bool dp_tcp_sack_enter(struct dp_tcp_conn *c)
{
	struct dp_tcp_sack *k = &c->sack;

	if (!c->sack_ok || k->n == 0)
		return false;
	k->recovery = true;
	k->high_rxt = c->snd_una;
	c->cwnd = c->ssthresh;
	c->stack->stats.sack_recoveries++;
	/* RFC 6675 5 (4.3): the first hole goes at once, whatever the pipe says. */
	if (SEQ_LT(c->snd_una, k->sb[0].seq))
		resend(c, c->snd_una, min_u32(k->sb[0].seq - c->snd_una, c->snd_mss));
	return true;
}

uint32_t dp_tcp_sack_output_wnd(const struct dp_tcp_conn *c)
{
	uint32_t pipe = pipe_bytes(c);
	uint32_t room = c->cwnd > pipe ? c->cwnd - pipe : 0;
	uint32_t wnd = (c->snd_nxt - c->snd_una) + room;

	return wnd < c->snd_wnd ? wnd : c->snd_wnd;
}

void dp_tcp_sack_exit(struct dp_tcp_conn *c)
{
	c->sack.recovery = false;
}

void dp_tcp_sack_reset(struct dp_tcp_conn *c)
{
	c->sack.recovery = false;
	c->sack.n = 0;
}
