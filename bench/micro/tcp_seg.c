/* SPDX-License-Identifier: MIT */
/*
 * The fixture of bm_tcp_seg (see tcp_seg.h): a real dataplane/net interface
 * and TCP stack, a peer that exists only as the frames built here, and a
 * port that keeps what is transmitted until the benchmark drains it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "bench/micro/tcp_seg.h"
#include "dataplane/net/cksum.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/tcp.h"

#define POOL_SIZE   16383
#define TX_CAP	    (4 * SEG_FIX_BATCH)
#define TURN_US	    50
#define PEER_PORT   40000
#define LISTEN_PORT 1883
#define PEER_ISN    1000000u
#define PEER_WS	    7
#define HDRS_LEN    (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr))

struct seg_fix {
	struct dp_net_iface ifc;
	struct dp_tcp_stack *s;
	struct dp_tcp_conn *c;
	struct dp_ip_addr me, peer;
	bool rx_offload;
	uint32_t snd_buf; /* the stack's configured send buffer */
	uint64_t now_us;
	uint32_t peer_nxt;  /* next sequence number the peer sends */
	uint32_t our_nxt;   /* the stack's next sequence number: ISN + 1 + bytes sent */
	uint32_t peer_ack;  /* how far the built ACKs acknowledge */
	uint64_t app_bytes; /* delivered to recv() */
	struct rte_mbuf *tx[TX_CAP];
	unsigned n_tx;
};

static struct rte_mempool *pool;
static const struct rte_ether_addr our_mac = {{0x02, 0, 0, 0, 0, 0x02}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x01}};

int seg_fix_eal_init(const char *argv0)
{
	char prefix[64], name[32];
	char *args[] = {(char *)argv0,	  "--no-huge",	   "--no-pci", "-m", "256", "--no-shconf",
			"--no-telemetry", "--log-level=2", "-l",       "0",  prefix};
	cpu_set_t cpus;
	bool have_cpus;

	snprintf(prefix, sizeof(prefix), "--file-prefix=tern-bmseg-%d", (int)getpid());
	/* EAL pins us to lcore 0; on a shared box let the scheduler move us as before. */
	have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
	if (rte_eal_init((int)(sizeof(args) / sizeof(args[0])), args) < 0) {
		fprintf(stderr, "bm_tcp_seg: rte_eal_init: %s (EAL needs root)\n",
			rte_strerror(rte_errno));
		return -1;
	}
	if (have_cpus)
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	snprintf(name, sizeof(name), "bmseg%d", (int)getpid());
	pool = rte_pktmbuf_pool_create(name, POOL_SIZE, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (!pool) {
		fprintf(stderr, "bm_tcp_seg: mbuf pool: %s\n", rte_strerror(rte_errno));
		rte_eal_cleanup();
		return -1;
	}
	return 0;
}

void seg_fix_eal_fini(void)
{
	rte_mempool_free(pool);
	pool = NULL;
	rte_eal_cleanup();
}

/* The port: keep frames for seg_fix_tx_drain; past TX_CAP free them at once. */
static uint16_t port_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct seg_fix *f = ctx;

	for (uint16_t i = 0; i < n; i++) {
		if (f->n_tx < TX_CAP)
			f->tx[f->n_tx++] = pkts[i];
		else
			rte_pktmbuf_free(pkts[i]);
	}
	return n;
}

static void tcp_input(void *ctx, struct rte_mbuf *m, const struct dp_ip_addr *src,
		      const struct dp_ip_addr *dst)
{
	dp_tcp_input(ctx, m, src, dst);
}

static void *app_accepted(void *ctx, struct dp_tcp_conn *c)
{
	struct seg_fix *f = ctx;

	f->c = c;
	return f;
}

/* The application consumes everything at once, so the receive window stays open. */
static void app_recv(void *app, struct rte_mbuf *m)
{
	struct seg_fix *f = app;

	f->app_bytes += m->pkt_len;
	rte_pktmbuf_free(m);
}

static void app_writable(void *app)
{
	(void)app;
}

static void app_closed(void *app, bool reset)
{
	struct seg_fix *f = app;

	(void)reset;
	f->c = NULL;
}

/*
 * One segment from the peer: Ethernet, IPv4 and TCP headers with valid
 * checksums, opts (a multiple of 4 bytes) and payload bytes of a pattern.
 */
static struct rte_mbuf *build_seg(struct seg_fix *f, uint8_t flags, uint32_t seq, uint32_t ack,
				  const uint8_t *opts, uint16_t olen, uint16_t payload, bool frame)
{
	uint16_t tcp_len = (uint16_t)(sizeof(struct rte_tcp_hdr) + olen + payload);
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint16_t ck;

	if (!m)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)(HDRS_LEN + tcp_len));
	if (!eth) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	eth->dst_addr = our_mac;
	eth->src_addr = peer_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + tcp_len));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = f->peer.v4;
	ip->dst_addr = f->me.v4;
	ip->hdr_checksum = dp_cksum_ipv4_hdr(ip, sizeof(*ip));
	th = (struct rte_tcp_hdr *)(ip + 1);
	memset(th, 0, sizeof(*th));
	th->src_port = rte_cpu_to_be_16(PEER_PORT);
	th->dst_port = rte_cpu_to_be_16(LISTEN_PORT);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)(((sizeof(*th) + olen) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(65535);
	if (olen > 0) /* opts may be NULL then: memcpy wants a pointer even for 0 bytes */
		memcpy(th + 1, opts, olen);
	memset((uint8_t *)(th + 1) + olen, 'p', payload);
	if (dp_cksum_l4(m, HDRS_LEN, tcp_len, &f->peer, &f->me, IPPROTO_TCP, &ck) < 0) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	th->cksum = ck;
	if (f->rx_offload)
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	if (!frame)
		rte_pktmbuf_adj(m, HDRS_LEN);
	return m;
}

/* The stack's SYN-ACK among the transmitted frames: its ISN, or -1. */
static int64_t find_syn_ack(struct seg_fix *f)
{
	for (unsigned i = 0; i < f->n_tx; i++) {
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(f->tx[i], void *);
		const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
		const struct rte_tcp_hdr *th = (const void *)(ip + 1);

		if (f->tx[i]->data_len < HDRS_LEN + sizeof(*th) ||
		    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
		    ip->next_proto_id != IPPROTO_TCP)
			continue;
		if (th->tcp_flags == (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG))
			return rte_be_to_cpu_32(th->sent_seq);
	}
	return -1;
}

static int handshake(struct seg_fix *f)
{
	/* MSS 1460, NOP, window scale 7 (RFC 9293, RFC 7323). */
	static const uint8_t syn_opts[] = {2, 4, 1460 >> 8, 1460 & 0xff, 1, 3, 3, PEER_WS};
	struct rte_mbuf *m;
	int64_t isn;

	m = build_seg(f, RTE_TCP_SYN_FLAG, PEER_ISN, 0, syn_opts, sizeof(syn_opts), 0, true);
	if (!m)
		return -ENOMEM;
	seg_fix_input_frame(f, m);
	seg_fix_turn(f);
	isn = find_syn_ack(f);
	seg_fix_tx_drain(f);
	if (isn < 0) {
		fprintf(stderr, "bm_tcp_seg: no SYN-ACK from the stack\n");
		return -EPROTO;
	}
	f->peer_nxt = PEER_ISN + 1;
	f->our_nxt = (uint32_t)isn + 1;
	f->peer_ack = f->our_nxt;
	m = build_seg(f, RTE_TCP_ACK_FLAG, f->peer_nxt, f->peer_ack, NULL, 0, 0, true);
	if (!m)
		return -ENOMEM;
	seg_fix_input_frame(f, m);
	seg_fix_turn(f);
	seg_fix_tx_drain(f);
	if (!f->c) {
		fprintf(stderr, "bm_tcp_seg: the handshake did not complete\n");
		return -EPROTO;
	}
	return 0;
}

struct seg_fix *seg_fix_create(bool rx_offload, bool tx_offload)
{
	struct seg_fix *f = calloc(1, sizeof(*f));
	struct dp_net_iface_config icfg = {.mac = our_mac, .pool = pool, .tx = port_tx};
	struct dp_tcp_config tcfg;
	struct dp_tcp_ops ops = {
	    .ip_output = dp_net_ip_output,
	    .accepted = app_accepted,
	    .recv = app_recv,
	    .writable = app_writable,
	    .closed = app_closed,
	};

	if (!f)
		return NULL;
	f->rx_offload = rx_offload;
	f->now_us = 1000000;
	f->me.family = f->peer.family = AF_INET;
	inet_pton(AF_INET, "198.18.0.2", &f->me.v4);
	inet_pton(AF_INET, "198.18.0.1", &f->peer.v4);
	icfg.tx_ctx = f;
	if (tx_offload)
		icfg.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if (dp_net_iface_init(&f->ifc, &icfg) < 0 || dp_net_iface_add_addr(&f->ifc, &f->me, 24) < 0)
		goto err_iface;
	dp_tcp_config_defaults(&tcfg);
	tcfg.max_conns = 16;
	/* Neither the congestion window nor the send buffer may limit a batch. */
	tcfg.init_cwnd_segs = 4 * SEG_FIX_BATCH;
	tcfg.snd_buf = 4u * SEG_FIX_BATCH * 1460;
	tcfg.secret_seed = 1;
	f->snd_buf = tcfg.snd_buf;
	f->s = dp_tcp_stack_create(&tcfg, &ops, &f->ifc, pool);
	if (!f->s)
		goto err_iface;
	if (dp_tcp_listen(f->s, &f->me, rte_cpu_to_be_16(LISTEN_PORT)) < 0)
		goto err_stack;
	dp_net_iface_set_tcp(&f->ifc, tcp_input, f->s);
	dp_net_iface_set_time(&f->ifc, f->now_us);
	dp_tcp_timers_run(f->s, f->now_us);
	if (handshake(f) < 0)
		goto err_stack;
	return f;

err_stack:
	seg_fix_tx_drain(f);
	dp_tcp_stack_free(f->s);
err_iface:
	dp_net_iface_fini(&f->ifc);
	free(f);
	fprintf(stderr, "bm_tcp_seg: cannot set up the stack and its connection\n");
	return NULL;
}

void seg_fix_free(struct seg_fix *f)
{
	if (!f)
		return;
	dp_net_iface_flush(&f->ifc);
	seg_fix_tx_drain(f);
	dp_tcp_stack_free(f->s);
	dp_net_iface_fini(&f->ifc);
	free(f);
}

int seg_fix_build_data(struct seg_fix *f, struct rte_mbuf **out, unsigned n, uint16_t payload,
		       bool frame)
{
	uint32_t seq = f->peer_nxt;

	for (unsigned i = 0; i < n; i++) {
		out[i] = build_seg(f, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG, seq, f->peer_ack, NULL,
				   0, payload, frame);
		if (!out[i]) {
			rte_pktmbuf_free_bulk(out, i);
			return -ENOMEM;
		}
		seq += payload;
	}
	f->peer_nxt = seq;
	return 0;
}

int seg_fix_build_acks(struct seg_fix *f, struct rte_mbuf **out, unsigned n, uint32_t bytes_per_ack)
{
	uint32_t ack = f->peer_ack;

	if ((uint64_t)n * bytes_per_ack > seg_fix_unacked(f))
		return -ERANGE;
	for (unsigned i = 0; i < n; i++) {
		ack += bytes_per_ack;
		out[i] = build_seg(f, RTE_TCP_ACK_FLAG, f->peer_nxt, ack, NULL, 0, 0, false);
		if (!out[i]) {
			rte_pktmbuf_free_bulk(out, i);
			return -ENOMEM;
		}
	}
	f->peer_ack = ack;
	return 0;
}

int seg_fix_build_payload(struct seg_fix *f, struct rte_mbuf **out, unsigned n, uint16_t len)
{
	(void)f;
	if (rte_pktmbuf_alloc_bulk(pool, out, n) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		memset(rte_pktmbuf_append(out[i], len), 'q', len);
	return 0;
}

void seg_fix_input_tcp(struct seg_fix *f, struct rte_mbuf *m)
{
	dp_tcp_input(f->s, m, &f->peer, &f->me);
}

void seg_fix_input_frame(struct seg_fix *f, struct rte_mbuf *m)
{
	dp_net_iface_input(&f->ifc, m);
}

int seg_fix_send(struct seg_fix *f, struct rte_mbuf *m)
{
	uint32_t len = m->pkt_len;
	int rc;

	if (!f->c)
		return -EPIPE;
	rc = dp_tcp_send(f->c, m);
	if (rc == 0)
		f->our_nxt += len;
	return rc;
}

void seg_fix_turn(struct seg_fix *f)
{
	f->now_us += TURN_US;
	dp_net_iface_set_time(&f->ifc, f->now_us);
	dp_tcp_timers_run(f->s, f->now_us);
	dp_net_iface_flush(&f->ifc);
}

unsigned seg_fix_tx_drain(struct seg_fix *f)
{
	unsigned n = f->n_tx;

	rte_pktmbuf_free_bulk(f->tx, n);
	f->n_tx = 0;
	return n;
}

uint32_t seg_fix_unacked(const struct seg_fix *f)
{
	return f->our_nxt - f->peer_ack;
}

uint32_t seg_fix_queued(const struct seg_fix *f)
{
	return f->c ? (uint32_t)(f->snd_buf - dp_tcp_send_space(f->c)) : 0;
}

void seg_fix_free_mbuf(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

const struct dp_tcp_stats *seg_fix_stats(const struct seg_fix *f)
{
	return dp_tcp_stack_stats(f->s);
}

uint64_t seg_fix_app_bytes(const struct seg_fix *f)
{
	return f->app_bytes;
}
