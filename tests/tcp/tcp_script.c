/* SPDX-License-Identifier: MIT */
/*
 * The TCP test script engine: EAL initialised in-process without hugepages
 * or PCI, segments built with real checksums, transmissions captured.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dataplane/net/cksum.h"
#include "tests/tcp/tcp_script.h"

#define POOL_SIZE 8191

static struct rte_mempool *pool;

int ts_global_init(void)
{
	char prefix[64];
	char *argv[] = {"test_tcp",	     "--no-huge", "--no-pci", "-m", "256",
			"--no-shconf",	     prefix,	  "-l",	      "0",  "--no-telemetry",
			"--log-level=error", NULL};

	snprintf(prefix, sizeof(prefix), "--file-prefix=tern_nettcp_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
		return -1;
	pool = rte_pktmbuf_pool_create("tcp_test", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	return pool == NULL ? -1 : 0;
}

int ts_global_fini(void)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_mempool_free(pool);
	pool = NULL;
	rte_eal_cleanup();
	/* --no-shconf leaves the directory empty; it is ours (the prefix carries our pid). */
	rmdir(dir);
	return 0;
}

struct rte_mempool *ts_pool(void)
{
	return pool;
}

static int cap_output(void *ctx, struct rte_mbuf *m, const struct dp_flow *flow)
{
	struct tscript *t = ctx;

	assert_true(dp_ip_addr_equal(&flow->remote, &t->peer));
	assert_true(dp_ip_addr_equal(&flow->local, &t->me));
	if (t->output_rc != 0 || t->nout == TS_MAX_OUT) {
		rte_pktmbuf_free(m);
		return t->output_rc != 0 ? t->output_rc : -ENOBUFS;
	}
	t->out[t->nout++] = m;
	return 0;
}

static void *app_accepted(void *ctx, struct dp_tcp_conn *c)
{
	struct tscript *t = ctx;

	t->accepted++;
	if (t->refuse)
		return NULL;
	t->conn = c;
	return t;
}

static void app_recv(void *app, struct rte_mbuf *m)
{
	struct tscript *t = app;

	t->recv_calls++;
	assert_true(t->rx_len + m->pkt_len <= TS_RX_MAX);
	{
		/* rte_pktmbuf_read copies only when the bytes span segments. */
		const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, t->rx + t->rx_len);

		if (p != t->rx + t->rx_len)
			memcpy(t->rx + t->rx_len, p, m->pkt_len);
	}
	t->rx_len += m->pkt_len;
	rte_pktmbuf_free(m);
	if (t->hold)
		dp_tcp_recv_held(t->conn, (uint32_t)t->rx_len);
}

static void app_writable(void *app)
{
	struct tscript *t = app;

	t->writable++;
}

static void app_closed(void *app, bool reset)
{
	struct tscript *t = app;

	t->closed++;
	t->closed_reset = reset;
	t->conn = NULL;
}

static void app_peer_closed(void *app)
{
	struct tscript *t = app;

	t->peer_closed++;
}

struct tscript *ts_new(const struct dp_tcp_config *cfg, bool v6, bool peer_closed_op)
{
	struct tscript *t = calloc(1, sizeof(*t));
	struct dp_tcp_ops ops = {
	    .ip_output = cap_output,
	    .accepted = app_accepted,
	    .recv = app_recv,
	    .writable = app_writable,
	    .closed = app_closed,
	    .peer_closed = peer_closed_op ? app_peer_closed : NULL,
	};

	assert_non_null(t);
	t->rx = malloc(TS_RX_MAX);
	assert_non_null(t->rx);
	t->pool = pool;
	t->cfg = *cfg;
	t->now_us = 1000000;
	t->port = 1883;
	t->peer_port = 40000;
	if (v6) {
		t->me.family = AF_INET6;
		t->peer.family = AF_INET6;
		inet_pton(AF_INET6, "2001:2::1", t->me.v6);
		inet_pton(AF_INET6, "2001:2::2", t->peer.v6);
	} else {
		t->me.family = AF_INET;
		t->peer.family = AF_INET;
		inet_pton(AF_INET, "198.18.0.1", &t->me.v4);
		inet_pton(AF_INET, "198.18.0.2", &t->peer.v4);
	}
	t->pool_avail = rte_mempool_avail_count(pool);
	t->s = dp_tcp_stack_create(cfg, &ops, t, pool);
	assert_non_null(t->s);
	dp_tcp_timers_run(t->s, t->now_us);
	assert_int_equal(dp_tcp_listen(t->s, &t->me, htons(t->port)), 0);
	return t;
}

int ts_free(struct tscript *t)
{
	unsigned int i;
	int missing;

	for (i = t->next_out; i < t->nout; i++)
		rte_pktmbuf_free(t->out[i]);
	dp_tcp_stack_free(t->s);
	missing = (int)t->pool_avail - (int)rte_mempool_avail_count(pool);
	free(t->rx);
	free(t);
	return missing;
}

void ts_inject(struct tscript *t, const struct tseg *g)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t opts[64];
	size_t olen = 0, hlen;
	struct rte_tcp_hdr *th;
	uint16_t ck;

	assert_non_null(m);
	if (g->raw_opts != NULL) {
		assert_true(g->raw_opts_len <= 40);
		memcpy(opts, g->raw_opts, g->raw_opts_len);
		olen = g->raw_opts_len;
	} else {
		if (g->mss != 0) {
			opts[olen++] = 2;
			opts[olen++] = 4;
			opts[olen++] = (uint8_t)(g->mss >> 8);
			opts[olen++] = (uint8_t)g->mss;
		}
		if (g->ts) {
			uint32_t v = htonl(g->tsval), e = htonl(g->tsecr);

			opts[olen++] = 1;
			opts[olen++] = 1;
			opts[olen++] = 8;
			opts[olen++] = 10;
			memcpy(opts + olen, &v, 4);
			memcpy(opts + olen + 4, &e, 4);
			olen += 8;
		}
		if (g->has_ws) {
			opts[olen++] = 1;
			opts[olen++] = 3;
			opts[olen++] = 3;
			opts[olen++] = g->ws;
		}
		if (g->sack_ok) {
			opts[olen++] = 1;
			opts[olen++] = 1;
			opts[olen++] = 4;
			opts[olen++] = 2;
		}
		if (g->nsack > 0) {
			assert_true(g->nsack <= 4);
			opts[olen++] = 1;
			opts[olen++] = 1;
			opts[olen++] = 5;
			opts[olen++] = (uint8_t)(2 + 8 * g->nsack);
			for (unsigned int b = 0; b < g->nsack; b++) {
				uint32_t v[2] = {htonl(g->sack[b][0]), htonl(g->sack[b][1])};

				memcpy(opts + olen, v, 8);
				olen += 8;
			}
		}
		assert_true(olen <= 40);
	}
	while (olen % 4)
		opts[olen++] = 0;
	hlen = 20 + olen;
	th = (struct rte_tcp_hdr *)rte_pktmbuf_append(m, (uint16_t)(hlen + g->len));
	assert_non_null(th);
	memset(th, 0, hlen);
	th->src_port = htons(g->sport != 0 ? g->sport : t->peer_port);
	th->dst_port = htons(g->dport != 0 ? g->dport : t->port);
	th->sent_seq = htonl(g->seq);
	th->recv_ack = htonl(g->ack);
	th->data_off = (uint8_t)((hlen / 4) << 4);
	th->tcp_flags = g->flags;
	th->rx_win = htons(g->wnd);
	memcpy(th + 1, opts, olen);
	if (g->len > 0)
		memcpy((uint8_t *)th + hlen, g->data, g->len);
	assert_int_equal(dp_cksum_l4(m, 0, m->pkt_len, &t->peer, &t->me, IPPROTO_TCP, &ck), 0);
	th->cksum = g->bad_cksum ? (uint16_t)(ck ^ 0x5a5a) : ck;
	m->ol_flags |= g->ol_flags;
	if (g->split_at > 0 && g->split_at < m->pkt_len) {
		/* Move the tail into a second segment, as a NIC's scattered RX would. */
		struct rte_mbuf *m2 = rte_pktmbuf_alloc(pool);
		uint16_t tail = (uint16_t)(m->pkt_len - g->split_at);

		assert_non_null(m2);
		memcpy(rte_pktmbuf_append(m2, tail),
		       rte_pktmbuf_mtod_offset(m, void *, g->split_at), tail);
		assert_int_equal(rte_pktmbuf_trim(m, tail), 0);
		assert_int_equal(rte_pktmbuf_chain(m, m2), 0);
	}
	dp_tcp_input(t->s, m, &t->peer, &t->me);
}

static void parse_opts(struct tout *o, const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] != 0) {
		if (p[i] == 1) {
			i++;
			continue;
		}
		assert_true(i + 1 < len && p[i + 1] >= 2 && i + p[i + 1] <= len);
		if (p[i] == 2)
			o->mss = p[i + 2] << 8 | p[i + 3];
		else if (p[i] == 3)
			o->ws = p[i + 2];
		else if (p[i] == 4)
			o->sack_ok = true;
		else if (p[i] == 5) {
			assert_true(p[i + 1] >= 10 && (p[i + 1] - 2) % 8 == 0);
			o->nsack = (p[i + 1] - 2u) / 8u;
			assert_true(o->nsack <= 4);
			for (unsigned int b = 0; b < o->nsack; b++) {
				uint32_t v[2];

				memcpy(v, p + i + 2 + b * 8, 8);
				o->sack[b][0] = ntohl(v[0]);
				o->sack[b][1] = ntohl(v[1]);
			}
		} else if (p[i] == 8) {
			uint32_t v, e;

			memcpy(&v, p + i + 2, 4);
			memcpy(&e, p + i + 6, 4);
			o->ts = true;
			o->tsval = ntohl(v);
			o->tsecr = ntohl(e);
		}
		i += p[i + 1];
	}
}

bool ts_pop(struct tscript *t, struct tout *o)
{
	uint8_t hbuf[60];
	const struct rte_tcp_hdr *th;
	struct rte_mbuf *m, *seg;
	size_t hlen;

	if (t->next_out == t->nout)
		return false;
	m = t->out[t->next_out++];
	if (t->next_out == t->nout)
		t->next_out = t->nout = 0;
	memset(o, 0, sizeof(*o));
	o->mss = o->ws = -1;
	th = rte_pktmbuf_read(m, 0, 20, hbuf);
	hlen = (size_t)(th->data_off >> 4) * 4;
	assert_true(hlen >= 20 && hlen <= m->data_len);
	assert_int_equal(m->l4_len, hlen);
	/* The checksum is the IP layer's to fill. */
	assert_int_equal(th->cksum, 0);
	assert_true(rte_pktmbuf_headroom(m) >= DP_TCP_HEADROOM);
	o->flags = th->tcp_flags;
	o->seq = ntohl(th->sent_seq);
	o->ack = ntohl(th->recv_ack);
	o->wnd = ntohs(th->rx_win);
	o->dport = ntohs(th->dst_port);
	parse_opts(o, (const uint8_t *)th + 20, hlen - 20);
	o->len = m->pkt_len - (uint32_t)hlen;
	assert_true(o->len <= sizeof(o->data));
	if (o->len > 0) {
		const void *p = rte_pktmbuf_read(m, (uint32_t)hlen, o->len, o->data);

		if (p != o->data)
			memcpy(o->data, p, o->len);
	}
	o->payload_indirect = m->next != NULL;
	for (seg = m->next; seg != NULL; seg = seg->next)
		if (RTE_MBUF_DIRECT(seg))
			o->payload_indirect = false;
	rte_pktmbuf_free(m);
	return true;
}

unsigned int ts_pending(const struct tscript *t)
{
	return t->nout - t->next_out;
}

void ts_advance(struct tscript *t, uint64_t us)
{
	t->now_us += us;
	dp_tcp_timers_run(t->s, t->now_us);
}

void ts_expect(struct tscript *t, struct tout *o, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tout local;

	if (o == NULL)
		o = &local;
	if (!ts_pop(t, o))
		fail_msg("expected a segment with flags 0x%02x seq %u, got none", flags, seq);
	if (o->flags != flags || o->seq != seq || ((flags & F_ACK) && o->ack != ack))
		fail_msg("expected flags 0x%02x seq %u ack %u, got flags 0x%02x seq %u ack %u len "
			 "%u to port %u",
			 flags, seq, ack, o->flags, o->seq, o->ack, o->len, o->dport);
}

void ts_expect_none(struct tscript *t)
{
	struct tout o;

	if (ts_pop(t, &o))
		fail_msg("expected no segment, got flags 0x%02x seq %u ack %u len %u", o.flags,
			 o.seq, o.ack, o.len);
}

int ts_app_send(struct tscript *t, size_t len, uint8_t fill)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	int rc;

	/* Build a chain of 1000-byte segments, as an application would. */
	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		size_t n = len > 1000 ? 1000 : len;
		uint8_t *p;

		assert_non_null(m);
		p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(fill + i);
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		tail = m;
		len -= n;
	}
	(void)tail;
	rc = dp_tcp_send(t->conn, head);
	if (rc != 0)
		rte_pktmbuf_free(head);
	return rc;
}

uint32_t ts_handshake(struct tscript *t, uint32_t peer_isn, const struct tseg *syn)
{
	struct tseg g = *syn;
	unsigned int accepted = t->accepted;
	struct tout o;

	g.flags = F_SYN;
	g.seq = peer_isn;
	if (g.wnd == 0)
		g.wnd = 65535;
	ts_inject(t, &g);
	assert_true(ts_pop(t, &o));
	assert_int_equal(o.flags, F_SYN | F_ACK);
	assert_int_equal(o.ack, peer_isn + 1);
	g = *syn;
	g.flags = F_ACK;
	g.seq = peer_isn + 1;
	g.ack = o.seq + 1;
	g.mss = 0;
	g.has_ws = false;
	g.sack_ok = false;
	g.tsval = syn->tsval + 1;
	g.tsecr = o.tsval;
	if (g.wnd == 0)
		g.wnd = 65535;
	ts_inject(t, &g);
	assert_int_equal(t->accepted, accepted + 1);
	ts_expect_none(t);
	return o.seq + 1;
}
