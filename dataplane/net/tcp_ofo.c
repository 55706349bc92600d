/* SPDX-License-Identifier: MIT */
/*
 * Out-of-order receive queue (TLDK tcp_ofo.h in spirit): at most
 * DP_TCP_OFO_RANGES disjoint, sorted byte ranges per connection, each a chain
 * of the received mbufs. A new segment drops the ranges it covers, is
 * trimmed against its neighbours and merged with any it touches, so the
 * queue never holds a byte twice and never copies. Also the mbuf chain
 * trimming both directions share.
 */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dataplane/net/tcp_stream.h"

struct rte_mbuf *dp_tcp_mbuf_trim_front(struct rte_mbuf *m, uint32_t n)
{
	uint32_t total;
	uint16_t nb;

	if (n >= m->pkt_len) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	total = m->pkt_len - n;
	nb = m->nb_segs;
	while (n > 0 && n >= m->data_len) {
		struct rte_mbuf *next = m->next;

		n -= m->data_len;
		m->next = NULL;
		rte_pktmbuf_free_seg(m);
		m = next;
		nb--;
	}
	m->data_off += n;
	m->data_len -= n;
	m->pkt_len = total;
	m->nb_segs = nb;
	return m;
}

struct rte_mbuf *dp_tcp_mbuf_trim_back(struct rte_mbuf *m, uint32_t n)
{
	struct rte_mbuf *seg = m;
	uint32_t keep, acc = 0;
	uint16_t nb = 1;

	if (n >= m->pkt_len) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	keep = m->pkt_len - n;
	while (acc + seg->data_len < keep) {
		acc += seg->data_len;
		seg = seg->next;
		nb++;
	}
	seg->data_len = keep - acc;
	/* rte_pktmbuf_free walks next pointers only, so a headless tail is fine. */
	rte_pktmbuf_free(seg->next);
	seg->next = NULL;
	m->pkt_len = keep;
	m->nb_segs = nb;
	return m;
}

static void range_remove(struct dp_tcp_conn *c, unsigned int i)
{
	memmove(&c->ofo[i], &c->ofo[i + 1], (c->ofo_n - i - 1) * sizeof(c->ofo[0]));
	c->ofo_n--;
}

int dp_tcp_ofo_insert(struct dp_tcp_conn *c, uint32_t seq, struct rte_mbuf *m)
{
	uint32_t end = seq + m->pkt_len;
	unsigned int i, pos, held = 0;
	struct dp_tcp_ofo_range *left, *right;

	for (i = 0; i < c->ofo_n; i++)
		held += c->ofo[i].m->nb_segs;
	if (held + m->nb_segs > DP_TCP_OFO_MAX_MBUFS) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}

	for (i = 0; i < c->ofo_n; i++) {
		struct dp_tcp_ofo_range *r = &c->ofo[i];

		if (SEQ_GEQ(seq, r->seq) && SEQ_LEQ(end, r->seq + r->len)) {
			/* Nothing new: a duplicate of queued bytes. */
			rte_pktmbuf_free(m);
			return 0;
		}
		if (SEQ_LEQ(seq, r->seq) && SEQ_GEQ(end, r->seq + r->len)) {
			c->ofo_bytes -= r->len;
			rte_pktmbuf_free(r->m);
			range_remove(c, i);
			i--;
		}
	}
	for (pos = 0; pos < c->ofo_n && SEQ_LT(c->ofo[pos].seq, seq); pos++)
		;
	left = pos > 0 ? &c->ofo[pos - 1] : NULL;
	right = pos < c->ofo_n ? &c->ofo[pos] : NULL;
	if (left != NULL && SEQ_GT(left->seq + left->len, seq)) {
		uint32_t d = left->seq + left->len - seq;

		m = dp_tcp_mbuf_trim_front(m, d);
		seq += d;
	}
	if (right != NULL && SEQ_GT(end, right->seq))
		m = dp_tcp_mbuf_trim_back(m, end - right->seq);
	/* Both neighbours overlap less than the segment holds (checked above), so m is not empty.
	 */
	end = seq + m->pkt_len;
	if (left != NULL && left->seq + left->len == seq && rte_pktmbuf_chain(left->m, m) == 0) {
		c->ofo_bytes += end - seq;
		left->len += end - seq;
		if (right != NULL && left->seq + left->len == right->seq &&
		    rte_pktmbuf_chain(left->m, right->m) == 0) {
			left->len += right->len;
			range_remove(c, pos);
		}
		return 0;
	}
	if (right != NULL && end == right->seq && rte_pktmbuf_chain(m, right->m) == 0) {
		c->ofo_bytes += end - seq;
		right->m = m;
		right->len += end - seq;
		right->seq = seq;
		return 0;
	}
	if (c->ofo_n == DP_TCP_OFO_RANGES) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memmove(&c->ofo[pos + 1], &c->ofo[pos], (c->ofo_n - pos) * sizeof(c->ofo[0]));
	c->ofo[pos].seq = seq;
	c->ofo[pos].len = end - seq;
	c->ofo[pos].m = m;
	c->ofo_n++;
	c->ofo_bytes += end - seq;
	return 0;
}

struct rte_mbuf *dp_tcp_ofo_pull(struct dp_tcp_conn *c)
{
	while (c->ofo_n > 0 && SEQ_LEQ(c->ofo[0].seq, c->rcv_nxt)) {
		struct dp_tcp_ofo_range r = c->ofo[0];
		uint32_t d = c->rcv_nxt - r.seq;

		range_remove(c, 0);
		c->ofo_bytes -= r.len;
		if (d >= r.len) {
			rte_pktmbuf_free(r.m);
			continue;
		}
		return d > 0 ? dp_tcp_mbuf_trim_front(r.m, d) : r.m;
	}
	return NULL;
}

void dp_tcp_ofo_free(struct dp_tcp_conn *c)
{
	unsigned int i;

	for (i = 0; i < c->ofo_n; i++)
		rte_pktmbuf_free(c->ofo[i].m);
	c->ofo_n = 0;
	c->ofo_bytes = 0;
}
