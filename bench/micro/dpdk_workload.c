/* SPDX-License-Identifier: MIT */
/*
 * A fixed workload for the dpdk dataplane without a NIC: one dpdk worker (its
 * userspace stack, dataplane/dpdk/tcp_glue.c and the real engine) driven turn
 * by turn on a virtual clock, with MQTT clients simulated as TCP peers that
 * exchange Ethernet frames with it: ARP, handshake, CONNECT, SUBSCRIBE, then a
 * fixed number of publishes fanned out, every segment acknowledged so send
 * queues drain. A turn is what the worker's poll loop does after
 * rte_eth_rx_burst: frames into dp_net_iface_input, tern_worker_poll,
 * dp_dpdk_tcp_turn, dp_net_iface_flush; bench/callgrind.sh counts only the
 * measured_turn function (valgrind --toggle-collect). The peers' frame
 * building, checksums and MQTT parsing run outside it, as does freeing the
 * transmitted frames (a PMD's TX completion). EAL runs without hugepages,
 * PCI or shared config; nothing touches the network.
 */
#define _LGPL_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <urcu-qsbr.h>

#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/transport.h"
#include "broker/worker.h"
#include "dataplane/dpdk/tcp_glue.h"
#include "dataplane/dpdk/worker.h"
#include "dataplane/net/iface.h"

#define PAYLOAD_LEN    64
#define PEER_MSS       1460
#define PEER_WINDOW    65535 /* no window scaling offered: the stack sees it as is */
#define PORT_BASE      20000
#define MQTT_PORT      1883
#define TURN_US	       100  /* virtual time per turn */
#define IDLE_TURN_US   1000 /* per turn without traffic: lets delayed ACK timers fire */
#define MAX_IDLE_TURNS 400  /* without progress before the run is declared stuck */
#define POOL_SIZE      65535
#define MAX_TX	       8192 /* frames transmitted in one turn, at most */

/* A simulated client: its end of one TCP connection and its MQTT byte streams. */
struct peer {
	uint16_t port; /* ours (host order) */
	bool syn_sent, established, subscribed;
	uint32_t snd_nxt; /* next sequence number we send */
	uint32_t snd_una; /* oldest of ours the stack has not acknowledged */
	uint32_t rcv_nxt; /* next sequence number we expect */
	uint32_t snd_wnd; /* the stack's window, from its last segment */
	bool need_ack;

	uint8_t *out; /* MQTT bytes to send */
	size_t out_len, out_off, out_cap;
	uint8_t *rx; /* MQTT bytes received, not parsed yet */
	size_t rx_len, rx_cap;
	uint64_t publishes_rx;
	/* Publisher: the whole run, pre-encoded; a batch joins out each turn. */
	uint8_t *script;
	size_t script_len, script_cap, script_off, pkt_len;
};

struct scenario {
	const char *name;
	const char *what;
	unsigned subs;
	uint8_t qos; /* of the PUBLISHes and the subscriptions */
	size_t msgs;
	size_t batch; /* publishes per turn */
};

/* The same traffic as engine_workload's scenarios of these names, for the comparison. */
static const struct scenario scenarios[] = {
    {"fanout-q0", "1 publisher -> 100 subscribers, QoS 0, 64 B", 100, 0, 2000, 32},
    {"fanout-q1", "1 publisher -> 100 subscribers, QoS 1 both ways, 64 B", 100, 1, 1000, 16},
    {"fanout-1-1", "1 publisher -> 1 subscriber, QoS 0, 64 B", 1, 0, 20000, 32},
};

static const struct rte_ether_addr our_mac = {{0x02, 0, 0, 0, 0, 0x02}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x01}};
static const uint8_t our_ip[4] = {198, 18, 0, 2}, peer_ip[4] = {198, 18, 0, 1};

static struct rte_mempool *pool;
/* As with a NIC: the port checks received checksums and fills those of transmitted frames. */
static bool cksum_offload;
static bool verbose;
static struct rte_mbuf *tx_frames[MAX_TX];
static unsigned n_tx;
static struct peer *peers; /* [0] the publisher, then the subscribers */
static unsigned n_peers;
static uint64_t clock_us = 1000000;

static void die(const char *what)
{
	fprintf(stderr, "dpdk_workload: %s\n", what);
	exit(2);
}

static void buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			die("out of memory");
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* The port's TX queue: keeps the frames for the peers to read after the turn. */
static uint16_t capture_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t k = 0;

	(void)ctx;
	while (k < n && n_tx < MAX_TX)
		tx_frames[n_tx++] = pkts[k++];
	return k;
}

/* ---- the measured loop turn (never inlined: callgrind finds it by name) ---- */

/* dp_dpdk_worker_main's turn after the RX burst (no neighbour timers: the peer never expires). */
static inline __attribute__((always_inline)) void loop_turn(struct dp_dpdk_worker *w,
							    struct rte_mbuf **in, unsigned n)
{
	dp_net_iface_set_time(&w->ifc, clock_us);
	for (unsigned i = 0; i < n; i++)
		dp_net_iface_input(&w->ifc, in[i]);
	tern_worker_poll(w->tw);
	dp_dpdk_tcp_turn(w, clock_us);
	dp_net_iface_flush(&w->ifc);
	tern_worker_quiescent(w->tw);
}

static __attribute__((noinline)) void measured_turn(struct dp_dpdk_worker *w, struct rte_mbuf **in,
						    unsigned n)
{
	loop_turn(w, in, n);
}

/* The same turn outside the counted function (handshakes, subscriptions). */
static void run_turn(struct dp_dpdk_worker *w, bool measured, struct rte_mbuf **in, unsigned n)
{
	if (measured)
		measured_turn(w, in, n);
	else
		loop_turn(w, in, n);
}

/* ---- the peers (not measured) ---- */

static struct rte_mbuf *frame_alloc(size_t l3_len, uint16_t ether_type)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;

	if (!m)
		die("pool empty");
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)(sizeof(*eth) + l3_len));
	if (!eth)
		die("frame too long");
	eth->dst_addr = our_mac;
	eth->src_addr = peer_mac;
	eth->ether_type = rte_cpu_to_be_16(ether_type);
	return m;
}

/* One TCP segment from p: flags, options (SYN: MSS only), payload. */
static struct rte_mbuf *tcp_frame(struct peer *p, uint8_t flags, const uint8_t *data, size_t len)
{
	size_t opt = (flags & RTE_TCP_SYN_FLAG) ? 4 : 0;
	size_t l4 = sizeof(struct rte_tcp_hdr) + opt + len;
	struct rte_mbuf *m = frame_alloc(sizeof(struct rte_ipv4_hdr) + l4, RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip =
	    rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint8_t *o = (uint8_t *)(th + 1);

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + l4));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	memcpy(&ip->src_addr, peer_ip, 4);
	memcpy(&ip->dst_addr, our_ip, 4);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memset(th, 0, sizeof(*th));
	th->src_port = rte_cpu_to_be_16(p->port);
	th->dst_port = rte_cpu_to_be_16(MQTT_PORT);
	th->sent_seq = rte_cpu_to_be_32(p->snd_nxt);
	th->recv_ack = rte_cpu_to_be_32((flags & RTE_TCP_ACK_FLAG) ? p->rcv_nxt : 0);
	th->data_off = (uint8_t)(((sizeof(*th) + opt) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(PEER_WINDOW);
	if (opt) {
		o[0] = 2; /* MSS */
		o[1] = 4;
		o[2] = PEER_MSS >> 8;
		o[3] = PEER_MSS & 0xff;
	}
	if (len)
		memcpy(o + opt, data, len);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	if (cksum_offload)
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	p->snd_nxt += (uint32_t)len + ((flags & RTE_TCP_SYN_FLAG) ? 1 : 0);
	p->need_ack = false;
	return m;
}

/*
 * What every peer sends now: a SYN, data within the stack's window (each
 * segment acknowledges all received), or a bare ACK. Appends to in[].
 */
static unsigned peers_send(struct rte_mbuf **in, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_peers && n < max; i++) {
		struct peer *p = &peers[i];

		if (!p->syn_sent) {
			in[n++] = tcp_frame(p, RTE_TCP_SYN_FLAG, NULL, 0);
			p->syn_sent = true;
			continue;
		}
		if (!p->established)
			continue;
		while (p->out_off < p->out_len && n < max) {
			uint32_t in_flight = p->snd_nxt - p->snd_una;
			size_t k = p->out_len - p->out_off;

			if (in_flight >= p->snd_wnd)
				break;
			if (k > PEER_MSS)
				k = PEER_MSS;
			if (k > p->snd_wnd - in_flight)
				k = p->snd_wnd - in_flight;
			in[n++] = tcp_frame(p, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG,
					    p->out + p->out_off, k);
			p->out_off += k;
		}
		if (p->out_off == p->out_len)
			p->out_off = p->out_len = 0;
		if (p->need_ack && n < max)
			in[n++] = tcp_frame(p, RTE_TCP_ACK_FLAG, NULL, 0);
	}
	return n;
}

static void peer_queue(struct peer *p, const void *b, size_t n)
{
	buf_append(&p->out, &p->out_len, &p->out_cap, b, n);
}

/* MQTT bytes from the broker: count PUBLISHes, acknowledge QoS 1, note the SUBACK. */
static void peer_mqtt(struct peer *p, const uint8_t *data, size_t len)
{
	struct tern_packet pkt;
	size_t off = 0;

	buf_append(&p->rx, &p->rx_len, &p->rx_cap, data, len);
	for (;;) {
		ssize_t r =
		    tern_codec_decode(p->rx + off, p->rx_len - off, TERN_PROTO_V311, 0, &pkt);

		if (r == -EAGAIN)
			break;
		if (r < 0)
			die("the broker sent a malformed packet");
		off += (size_t)r;
		if (pkt.type == TERN_PKT_PUBLISH) {
			if (pkt.publish.payload.len != PAYLOAD_LEN)
				die("PUBLISH with the wrong payload length");
			p->publishes_rx++;
			if (pkt.publish.qos == 1) {
				uint8_t ack[4];
				size_t al = tern_codec_encode_ack(ack, sizeof(ack), TERN_PKT_PUBACK,
								  pkt.publish.packet_id);

				peer_queue(p, ack, al);
			}
		} else if (pkt.type == TERN_PKT_SUBACK) {
			p->subscribed = true;
		} else if (pkt.type == TERN_PKT_CONNACK && pkt.connack.rc != 0) {
			die("CONNACK refused");
		}
	}
	memmove(p->rx, p->rx + off, p->rx_len - off);
	p->rx_len -= off;
}

/* The answer to the stack's ARP request for the peers' address; NULL for anything else. */
static struct rte_mbuf *peer_arp(const uint8_t *f, size_t len)
{
	const struct rte_arp_hdr *a =
	    (const struct rte_arp_hdr *)(f + sizeof(struct rte_ether_hdr));
	struct rte_arp_hdr *r;
	struct rte_mbuf *m;

	if (len < sizeof(struct rte_ether_hdr) + sizeof(*a) ||
	    a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
	    memcmp(&a->arp_data.arp_tip, peer_ip, 4) != 0)
		return NULL;
	m = frame_alloc(sizeof(*r), RTE_ETHER_TYPE_ARP);
	r = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, sizeof(struct rte_ether_hdr));
	*r = *a;
	r->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	r->arp_data.arp_sha = peer_mac;
	memcpy(&r->arp_data.arp_sip, peer_ip, 4);
	r->arp_data.arp_tha = a->arp_data.arp_sha;
	r->arp_data.arp_tip = a->arp_data.arp_sip;
	return m;
}

/*
 * The peers' host asks for the broker's MAC first, as a kernel does before its
 * first SYN; the stack learns the peers' MAC from it, so the SYN-ACKs of 101
 * simultaneous SYNs need no resolution (its queue per neighbour is short).
 */
static struct rte_mbuf *peer_arp_request(void)
{
	struct rte_mbuf *m = frame_alloc(sizeof(struct rte_arp_hdr), RTE_ETHER_TYPE_ARP);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);

	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	a->arp_data.arp_sha = peer_mac;
	memcpy(&a->arp_data.arp_sip, peer_ip, 4);
	memset(&a->arp_data.arp_tha, 0, sizeof(a->arp_data.arp_tha));
	memcpy(&a->arp_data.arp_tip, our_ip, 4);
	return m;
}

/* One frame the stack sent: to its peer's TCP state and MQTT stream. */
static struct rte_mbuf *peer_receive(struct rte_mbuf *m)
{
	static uint8_t buf[RTE_ETHER_MAX_JUMBO_FRAME_LEN];
	size_t len = rte_pktmbuf_pkt_len(m), hl, doff, plen;
	const uint8_t *f;
	const struct rte_ether_hdr *eth;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	struct peer *p;
	uint32_t seq, ack;
	unsigned idx;

	/* Points into m when its data is contiguous, else copies the chain into buf. */
	f = len <= sizeof(buf) ? rte_pktmbuf_read(m, 0, (uint32_t)len, buf) : NULL;
	if (!f)
		die("unreadable frame");
	eth = (const struct rte_ether_hdr *)f;
	ip = (const struct rte_ipv4_hdr *)(eth + 1);
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return peer_arp(f, len);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ip->next_proto_id != IPPROTO_TCP)
		return NULL; /* gratuitous ARP and the like */
	hl = (ip->version_ihl & 0xf) * 4u;
	th = (const struct rte_tcp_hdr *)((const uint8_t *)ip + hl);
	doff = (th->data_off >> 4) * 4u;
	plen = rte_be_to_cpu_16(ip->total_length) - hl - doff;
	idx = rte_be_to_cpu_16(th->dst_port) - PORT_BASE;
	if (idx >= n_peers)
		die("a segment to an unknown port");
	p = &peers[idx];
	seq = rte_be_to_cpu_32(th->sent_seq);
	ack = rte_be_to_cpu_32(th->recv_ack);
	if (th->tcp_flags & RTE_TCP_RST_FLAG)
		die("the stack reset a connection");
	if (th->tcp_flags & RTE_TCP_SYN_FLAG) {
		if (p->established)
			return NULL; /* a retransmitted SYN-ACK; our ACK went out already */
		p->rcv_nxt = seq + 1;
		p->snd_una = ack;
		p->snd_wnd = rte_be_to_cpu_16(th->rx_win);
		p->established = true;
		p->need_ack = true;
		return NULL;
	}
	if ((th->tcp_flags & RTE_TCP_ACK_FLAG) && (int32_t)(ack - p->snd_una) > 0)
		p->snd_una = ack;
	p->snd_wnd = rte_be_to_cpu_16(th->rx_win); /* unscaled: we offered no scaling */
	if (plen) {
		const uint8_t *data = (const uint8_t *)th + doff;
		int32_t skip = (int32_t)(p->rcv_nxt - seq);

		if (skip < 0)
			die("a gap in the stack's byte stream (nothing is lost here)");
		if ((size_t)skip < plen) {
			peer_mqtt(p, data + skip, plen - (size_t)skip);
			p->rcv_nxt += (uint32_t)(plen - (size_t)skip);
		}
		p->need_ack = true;
	}
	if (th->tcp_flags & RTE_TCP_FIN_FLAG)
		die("the stack closed a connection");
	return NULL;
}

/*
 * Hand the turn's transmitted frames to the peers and free them; answers
 * (ARP replies) join in[]. Returns the frames moved.
 */
static unsigned peers_receive(struct rte_mbuf **in, unsigned *n_in, unsigned max)
{
	unsigned moved = n_tx;

	for (unsigned i = 0; i < n_tx; i++) {
		struct rte_mbuf *r = peer_receive(tx_frames[i]);

		rte_pktmbuf_free(tx_frames[i]);
		if (r && *n_in < max)
			in[(*n_in)++] = r;
		else if (r)
			rte_pktmbuf_free(r);
	}
	n_tx = 0;
	return moved;
}

/* ---- the run ---- */

struct run {
	const struct scenario *sc;
	struct tern_broker *b;
	const struct tern_config *cfg;
	uint64_t turns;
	int rc;
};

static uint64_t delivered(void)
{
	uint64_t n = 0;

	for (unsigned i = 1; i < n_peers; i++)
		n += peers[i].publishes_rx;
	return n;
}

static bool all_subscribed(void)
{
	for (unsigned i = 1; i < n_peers; i++)
		if (!peers[i].subscribed)
			return false;
	return peers[0].established;
}

static bool quiet(void)
{
	for (unsigned i = 0; i < n_peers; i++)
		if (peers[i].out_len > peers[i].out_off || peers[i].need_ack ||
		    peers[i].snd_una != peers[i].snd_nxt)
			return false;
	return true;
}

/*
 * One turn: the peers' frames in bursts of DP_DPDK_BURST (one loop turn
 * each, as rte_eth_rx_burst hands them), then the peers read what went out.
 * Returns the frames moved both ways.
 */
static unsigned turn(struct dp_dpdk_worker *w, bool measured)
{
	static struct rte_mbuf *in[MAX_TX];
	unsigned n, moved = 0, off = 0;

	n = peers_send(in, MAX_TX);
	do {
		unsigned k = n - off < DP_DPDK_BURST ? n - off : DP_DPDK_BURST;

		run_turn(w, measured, in + off, k);
		off += k;
	} while (off < n);
	moved += n;
	n = 0;
	moved += peers_receive(in, &n, MAX_TX);
	/* ARP replies go in at once, in a turn of their own. */
	if (n) {
		run_turn(w, measured, in, n);
		n = 0;
		moved += peers_receive(in, &n, MAX_TX);
	}
	clock_us += moved ? TURN_US : IDLE_TURN_US;
	return moved;
}

static void setup_peers(const struct scenario *sc)
{
	char id[32];
	uint8_t buf[512], payload[PAYLOAD_LEN];
	const char *topic = "bench/fanout";

	n_peers = sc->subs + 1;
	peers = calloc(n_peers, sizeof(*peers));
	if (!peers)
		die("out of memory");
	memset(payload, 'x', sizeof(payload));
	for (unsigned i = 0; i < n_peers; i++) {
		struct peer *p = &peers[i];
		struct tern_connect cp = {
		    .proto_level = TERN_PROTO_V311,
		    .clean_session = true,
		    .client_id = {(const uint8_t *)id, 0},
		};
		size_t n;

		p->port = (uint16_t)(PORT_BASE + i);
		p->snd_nxt = 1000000u * (i + 1);
		snprintf(id, sizeof(id), i ? "sub-%u" : "pub-%u", i);
		cp.client_id.len = strlen(id);
		n = tern_codec_encode_connect(buf, sizeof(buf), &cp, NULL);
		if (!n)
			die("cannot encode CONNECT");
		peer_queue(p, buf, n);
		if (i) {
			struct tern_bytes f = {(const uint8_t *)topic, strlen(topic)};
			uint8_t q = sc->qos;

			n = tern_codec_encode_sub_list(buf, sizeof(buf), TERN_PKT_SUBSCRIBE, 1, &f,
						       &q, 1);
			if (!n)
				die("cannot encode SUBSCRIBE");
			peer_queue(p, buf, n);
		}
	}
	for (size_t i = 0; i < sc->msgs; i++) {
		struct tern_publish pub = {
		    .qos = sc->qos,
		    .topic = {(const uint8_t *)topic, strlen(topic)},
		    .payload = {payload, sizeof(payload)},
		    .packet_id = sc->qos ? (uint16_t)(i % 65535 + 1) : 0,
		};
		size_t n = tern_codec_encode_publish(buf, sizeof(buf), &pub);

		if (!n)
			die("cannot encode PUBLISH");
		peers[0].pkt_len = n;
		buf_append(&peers[0].script, &peers[0].script_len, &peers[0].script_cap, buf, n);
	}
}

/* Why a run got stuck: the stack's non-zero counters. */
static void dump_counters(const struct dp_dpdk_worker *w)
{
	for (int c = 0; c < DP_NET_COUNTER_MAX; c++)
		if (w->ifc.counters[c])
			fprintf(stderr, "dpdk_workload: %s=%llu\n",
				dp_net_counter_name((enum dp_net_counter)c),
				(unsigned long long)w->ifc.counters[c]);
}

static void free_peers(void)
{
	for (unsigned i = 0; i < n_peers; i++) {
		free(peers[i].out);
		free(peers[i].rx);
		free(peers[i].script);
	}
	free(peers);
	peers = NULL;
	n_peers = 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker_main(void *arg)
{
	struct run *r = arg;
	const struct scenario *sc = r->sc;
	struct dp_dpdk_shared sh = {.cfg = r->cfg, .n_workers = 1};
	struct dp_dpdk_worker *w;
	struct dp_net_iface_config icfg = {
	    .mac = our_mac,
	    .tx = capture_tx,
	};
	struct dp_ip_addr a = {.family = AF_INET};
	uint64_t expected = sc->msgs * sc->subs, got;
	size_t idle = 0;
	double t0, t1;

	w = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*w));
	if (!w)
		die("out of memory");
	memset(w, 0, sizeof(*w));
	w->sh = &sh;
	w->pool = pool;
	w->tw = tern_broker_worker(r->b, 0);
	sh.workers[0] = w;
	icfg.pool = pool;
	if (cksum_offload)
		icfg.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	memcpy(&a.v4, our_ip, 4);
	if (dp_net_iface_init(&w->ifc, &icfg) < 0 || dp_net_iface_add_addr(&w->ifc, &a, 24) < 0)
		die("cannot set up the interface");
	if (tern_worker_start(w->tw, dp_dpdk_tcp_transport_ops(), w) < 0)
		die("tern_worker_start failed");
	if (dp_dpdk_tcp_start(w) < 0)
		die("dp_dpdk_tcp_start failed");

	/* ARP, handshakes, CONNECT and SUBSCRIBE, unmeasured, until every SUBACK is in. */
	{
		struct rte_mbuf *arp = peer_arp_request();
		unsigned n = 0;

		loop_turn(w, &arp, 1);
		peers_receive(&arp, &n, 0);
	}
	while (!all_subscribed() || !quiet()) {
		if (turn(w, false))
			idle = 0;
		else if (++idle > MAX_IDLE_TURNS) {
			dump_counters(w);
			die("stuck before the publishes (handshake, CONNECT or SUBSCRIBE)");
		}
	}

	t0 = now_s();
	idle = 0;
	while ((got = delivered()) < expected || peers[0].script_off < peers[0].script_len ||
	       !quiet()) {
		struct peer *pub = &peers[0];

		/* The publisher's next batch joins its stream once the last one is sent. */
		if (pub->out_len == pub->out_off && pub->script_off < pub->script_len) {
			size_t n = sc->batch * pub->pkt_len;

			if (n > pub->script_len - pub->script_off)
				n = pub->script_len - pub->script_off;
			pub->out_off = pub->out_len = 0;
			peer_queue(pub, pub->script + pub->script_off, n);
			pub->script_off += n;
		}
		r->turns++;
		if (turn(w, true)) {
			idle = 0;
		} else if (++idle > MAX_IDLE_TURNS) {
			dump_counters(w);
			break;
		}
	}
	t1 = now_s();
	got = delivered();

	printf("scenario=%s%s workers=1 published=%zu delivered=%llu expected=%llu turns=%llu "
	       "seconds=%.3f delivered_per_s=%.0f\n",
	       sc->name, cksum_offload ? "+offload" : "", sc->msgs, (unsigned long long)got,
	       (unsigned long long)expected, (unsigned long long)r->turns, t1 - t0,
	       (double)got / (t1 - t0));
	fflush(stdout);
	if (got != expected) {
		fprintf(stderr, "dpdk_workload: delivered %llu, expected %llu\n",
			(unsigned long long)got, (unsigned long long)expected);
		r->rc = 1;
	}
	dp_dpdk_tcp_stop(w);
	dp_net_iface_flush(&w->ifc);
	for (unsigned i = 0; i < n_tx; i++)
		rte_pktmbuf_free(tx_frames[i]);
	n_tx = 0;
	dp_net_iface_fini(&w->ifc);
	tern_worker_finish(w->tw);
	free(w);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dpdk_workload SCENARIO [--cksum-offload]\n"
		"       dpdk_workload --list\n"
		"--cksum-offload: the port checks and fills IPv4 and TCP checksums, as a NIC does\n"
		"-v: log notices, and the TCP stack's counters at the end\n"
		"scenarios:\n");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(stderr, "  %-10s %s\n", scenarios[i].name, scenarios[i].what);
	exit(2);
}

int main(int argc, char **argv)
{
	char prefix[64];
	char *eal_args[] = {argv[0],	   "--no-huge",	     "--no-pci",      "-m", "512",
			    "--no-shconf", "--no-telemetry", "--log-level=2", "-l", "0",
			    prefix};
	struct tern_config cfg;
	struct run r = {0};
	pthread_t tid;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
			printf("%s\n", scenarios[i].name);
		return 0;
	}
	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--cksum-offload") == 0)
			cksum_offload = true;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else
			usage();
	}
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(argv[1], scenarios[i].name) == 0)
			r.sc = &scenarios[i];
	if (!r.sc)
		usage();

	snprintf(prefix, sizeof(prefix), "--file-prefix=tern-cgdp-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "dpdk_workload: rte_eal_init: %s (root needed)\n",
			rte_strerror(rte_errno));
		return 2;
	}
	pool = rte_pktmbuf_pool_create("cgdp", POOL_SIZE, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (!pool)
		die("cannot create the mbuf pool");

	tern_config_defaults(&cfg);
	cfg.workers = 1;
	cfg.sys_interval = 0;
	cfg.connect_timeout = 0;
	cfg.max_queued_messages = 0; /* generous limits: nothing may be dropped */
	cfg.max_queued_bytes = 0;
	cfg.max_output_bytes = UINT64_MAX / 2;
	/* -v: the engine's notices too, and the stack's counters at the end (dp_dpdk_tcp_stop). */
	cfg.log_mask = verbose ? TERN_LOG_ERR | TERN_LOG_WARNING | TERN_LOG_NOTICE : TERN_LOG_ERR;
	tern_log_set_mask(cfg.log_mask);
	r.cfg = &cfg;

	rcu_register_thread();
	rcu_thread_offline();
	r.b = tern_broker_create(&cfg);
	if (!r.b)
		die("cannot create the broker");
	setup_peers(r.sc);
	/* The worker runs on its own thread, as an lcore does, registered with RCU there. */
	if (pthread_create(&tid, NULL, worker_main, &r) != 0)
		die("pthread_create failed");
	pthread_join(tid, NULL);
	free_peers();
	rcu_thread_online();
	tern_broker_destroy(r.b);
	rcu_thread_offline();
	rcu_barrier();
	rcu_unregister_thread();
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return r.rc;
}
