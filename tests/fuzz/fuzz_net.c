/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the userspace TCP/IP stack's input path: one
 * interface (dataplane/net/iface.h) with its TCP stack listening on 1883,
 * fed a sequence of operations on a virtual clock. Operations inject raw
 * frames, IP packets around fuzzed payloads, ARP, ND, pings and TCP segments
 * whose sequence and acknowledgment numbers are taken relative to what the
 * stack itself sent (so handshakes complete and established, out-of-order,
 * window, PAWS, RST and FIN paths are reached), advance the clock (RTO,
 * TIME-WAIT, neighbour expiry) and act as the application (send, close,
 * abort, hold). Every frame the stack transmits is checked: well-formed
 * Ethernet/ARP/IPv4/IPv6/TCP/ICMP, valid checksums (dp_cksum_*), our own
 * source, and a destination the input gave it a reason to send to. Every
 * payload byte is a function of its sequence number, so recv() checks that
 * the stream arrives in order, complete and uncorrupted. At the end the
 * application closes everything, the peers fall silent, the clock runs
 * until every connection is gone, and every mbuf must be back in the pool.
 *
 * Input: byte 0 chooses the configuration (bit 0 SYN backlog 1, so cookies
 * answer; bit 1 small receive and send buffers; bit 2 ops->peer_closed set;
 * bit 3 the application holds what it received; bit 4 the port refuses
 * every third frame; bit 5 max_conns 4; bit 6 the peers' addresses are
 * not taught first). Then operations: an op byte (kind modulo N_KINDS)
 * followed by the kind's argument bytes (missing ones read as 0).
 * K_TCP's opts byte: bit 0 MSS, 1 window scale, 2 SACK-permitted, 3
 * timestamps (4: an old one), 7 SACK blocks, 5 raw option bytes, 6 IP
 * header variants (put_ip's mode from the ack mode byte).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/net/cksum.h"
#include "dataplane/net/iface.h"
#include "dataplane/net/tcp.h"
/*
 * Read only, in accepted(): the connection's initial receive sequence, so
 * recv() knows which sequence number its first byte must carry.
 */
#include "dataplane/net/tcp_stream.h"

#define POOL_SIZE	 4095
#define N_SLOTS		 16 /* peers: family x address kind x port */
#define N_APPS		 32
#define N_PENDING	 8	   /* neighbour resolutions the stack asked for */
#define KNOWN_MAX	 (1 << 16) /* bytes of input remembered for destination checks */
#define FRAME_MAX	 2000	   /* what one pool buffer holds, headroom aside */
#define TEARDOWN_STEP_US 30000000ull
#define TEARDOWN_STEPS	 400
#define LISTEN_PORT	 1883

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_net: check failed: %s: ", #cond);                    \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

enum kind {
	K_TCP, /* slot, flags, seq mode, seq delta, ack mode, ack delta, wnd, opts, len [, opt args]
		*/
	K_ADVANCE, /* byte: clock step (0: timers only) */
	K_RAW,	   /* len (2 bytes), mode byte, bytes */
	K_IP,	   /* slot, proto, mode, len, bytes */
	K_ARP,	   /* op, slot, mode */
	K_ND,	   /* type, slot, mode */
	K_PING,	   /* slot, len, mode */
	K_ANSWER,  /* answer every ARP/NS the stack sent */
	K_APP,	   /* app index, action, arg */
	N_KINDS,
};

struct input {
	const uint8_t *p;
	size_t left;
};

/* One remote endpoint as the harness sees it, and what the stack last told it. */
struct slot {
	struct dp_ip_addr addr;
	uint8_t mac[6]; /* link-layer source of its frames (the gateway's when off link) */
	uint16_t port;
	uint32_t isn;	    /* base of the SYNs it sends */
	uint32_t stack_nxt; /* highest sequence the stack sent it, plus one */
	uint32_t stack_ack; /* the stack's last acknowledgment to it */
	uint32_t stack_tsval;
	uint32_t tsval;	   /* its own timestamp clock */
	uint32_t peer_ack; /* the last acknowledgment it sent (duplicate ACKs repeat it) */
};

/* The application's side of one accepted connection. */
struct app {
	struct dp_tcp_conn *c;
	bool used;
	bool closing;	  /* dp_tcp_close() called */
	bool peer_closed; /* peer_closed() seen: no recv() may follow */
	uint32_t rx_seq;  /* sequence number the next received byte carries */
	uint32_t tx_seq;  /* sequence number the next byte sent will occupy */
	uint32_t held;
};

struct pending {
	struct dp_ip_addr addr;
};

/* The harness; one input at a time, reset by run_input(). */
struct harness {
	struct rte_mempool *pool;
	struct dp_net_iface ifc;
	struct dp_tcp_stack *s;
	uint64_t now_us;
	bool hold;
	bool refuse;
	unsigned tx_calls;
	struct slot slots[N_SLOTS];
	struct app apps[N_APPS];
	struct pending pending[N_PENDING];
	unsigned n_pending;
	uint8_t known[KNOWN_MAX];
	size_t known_len;
	bool known_full;
	uint8_t buf[16384];
};

static struct harness *h;

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t peer_macs[4][6] = {
    {0x02, 0, 0, 0, 0, 0x01}, /* main peer */
    {0x02, 0, 0, 0, 0, 0x03}, /* second on-link peer */
    {0x02, 0, 0, 0, 0, 0xfe}, /* the gateway (for far peers) */
    {0x02, 0, 0, 0, 0, 0x04}, /* hostile (v4) / link-local (v6) peer */
};
static const char *const v4_addrs[4] = {"198.18.0.1", "198.18.0.3", "198.19.5.5", "198.18.0.255"};
static const char *const v6_addrs[4] = {"2001:2::1", "2001:2::3", "2001:3::5", "fe80::1"};

/* ---- small helpers ---- */

static uint8_t next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* The byte every segment carries at sequence number seq, whoever sends it. */
static uint8_t pattern(uint32_t seq)
{
	return (uint8_t)((seq * 2654435761u) >> 24);
}

/* The Internet checksum of len bytes (RFC 1071), complemented: 0 over valid data. */
static uint16_t inet_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static void remember(const void *p, size_t len)
{
	if (h->known_len + len > KNOWN_MAX) {
		h->known_full = true;
		return;
	}
	memcpy(h->known + h->known_len, p, len);
	h->known_len += len;
}

/* True when the input (or the configuration) ever carried these bytes. */
static bool known(const void *p, size_t len)
{
	return h->known_full || memmem(h->known, h->known_len, p, len) != NULL;
}

static const uint8_t *addr_bytes(const struct dp_ip_addr *a)
{
	return a->family == AF_INET ? (const uint8_t *)&a->v4 : a->v6;
}

static size_t addr_len(const struct dp_ip_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

static void our_addr(int family, struct dp_ip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, "198.18.0.2", &a->v4);
	else
		inet_pton(AF_INET6, "2001:2::2", a->v6);
}

/* ---- checks on what the stack transmits ---- */

static bool is_ours(int family, const uint8_t *a)
{
	struct dp_ip_addr x = {.family = (uint8_t)family};

	memcpy(family == AF_INET ? (uint8_t *)&x.v4 : x.v6, a, family == AF_INET ? 4 : 16);
	return dp_net_iface_is_local(&h->ifc, &x);
}

static struct slot *slot_of(int family, const uint8_t *a, uint16_t port)
{
	for (unsigned i = 0; i < N_SLOTS; i++) {
		struct slot *sl = &h->slots[i];

		if (sl->addr.family == family && sl->port == port &&
		    memcmp(addr_bytes(&sl->addr), a, addr_len(&sl->addr)) == 0)
			return sl;
	}
	return NULL;
}

static void add_pending(int family, const uint8_t *a)
{
	struct dp_ip_addr x = {.family = (uint8_t)family};

	memcpy(family == AF_INET ? (uint8_t *)&x.v4 : x.v6, a, family == AF_INET ? 4 : 16);
	for (unsigned i = 0; i < h->n_pending; i++)
		if (dp_ip_addr_equal(&h->pending[i].addr, &x))
			return;
	if (h->n_pending < N_PENDING)
		h->pending[h->n_pending++].addr = x;
}

/* A TCP segment the stack sent: check it and note what the peer learns from it. */
static void check_tcp(const uint8_t *t, size_t len, int family, const uint8_t *src,
		      const uint8_t *dst)
{
	size_t hl;
	uint8_t flags;
	struct slot *sl;
	uint32_t seq, end;

	CHECK(len >= 20, "TCP segment of %zu bytes", len);
	hl = (size_t)(t[12] >> 4) * 4;
	flags = t[13];
	CHECK(hl >= 20 && hl <= len, "TCP header length %zu of %zu", hl, len);
	CHECK(!((flags & 0x02) && (flags & 0x05)), "TCP flags 0x%02x", flags);
	CHECK(get16(t) != 0 && get16(t + 2) != 0, "TCP port 0");
	if (!(flags & 0x04))
		CHECK(get16(t) == LISTEN_PORT, "a segment from port %u, not a reset", get16(t));
	(void)src;
	seq = get32(t + 4);
	/* What we send is what the application queued at that sequence number. */
	if (get16(t) == LISTEN_PORT && !(flags & 0x06))
		for (size_t i = hl; i < len; i++)
			CHECK(t[i] == pattern(seq + (uint32_t)(i - hl)),
			      "sent byte at seq %u is 0x%02x, queued 0x%02x",
			      seq + (uint32_t)(i - hl), t[i], pattern(seq + (uint32_t)(i - hl)));
	end = seq + (uint32_t)(len - hl) + ((flags & 0x02) ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
	sl = slot_of(family, dst, get16(t + 2));
	if (sl == NULL || get16(t) != LISTEN_PORT)
		return;
	if ((flags & 0x02) || seq_gt(end, sl->stack_nxt))
		sl->stack_nxt = end;
	if (flags & 0x10)
		sl->stack_ack = get32(t + 8);
	for (size_t i = 20; i < hl;) {
		uint8_t k = t[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		CHECK(i + 1 < hl && t[i + 1] >= 2 && i + t[i + 1] <= hl, "TCP option %u malformed",
		      k);
		if (k == 8 && t[i + 1] == 10)
			sl->stack_tsval = get32(t + i + 2);
		if (k == 5) {
			/* Our SACK blocks: whole, non-empty, above the ACK they ride with. */
			CHECK(t[i + 1] >= 10 && (t[i + 1] - 2) % 8 == 0 && (flags & 0x10),
			      "SACK option of %u bytes", t[i + 1]);
			for (size_t b = i + 2; b < i + t[i + 1]; b += 8)
				CHECK(seq_gt(get32(t + b + 4), get32(t + b)) &&
					  seq_gt(get32(t + b), get32(t + 8)),
				      "SACK block %u-%u with ACK %u", get32(t + b),
				      get32(t + b + 4), get32(t + 8));
		}
		i += t[i + 1];
	}
}

static void check_ipv4(struct rte_mbuf *m, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t ihl, tot;
	struct dp_ip_addr src = {.family = AF_INET}, dst = {.family = AF_INET};

	CHECK(len >= 34, "IPv4 frame of %zu bytes", len);
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	CHECK((ip[0] >> 4) == 4 && ihl >= 20, "IPv4 version/ihl 0x%02x", ip[0]);
	CHECK(tot >= ihl && 14 + tot <= len, "IPv4 total length %zu in %zu", tot, len);
	CHECK(dp_cksum_ipv4_hdr(ip, ihl) == 0, "IPv4 header checksum");
	CHECK((get16(ip + 6) & 0x3fff) == 0, "we sent a fragment");
	CHECK(ip[8] > 0, "TTL 0");
	CHECK(is_ours(AF_INET, ip + 12), "IPv4 source not ours");
	CHECK(ip[16] != 0 && ip[16] != 127 && ip[16] < 224 && !is_ours(AF_INET, ip + 16) &&
		  memcmp(ip + 16, "\xc6\x12\x00\xff", 4) != 0,
	      "IPv4 destination %u.%u.%u.%u", ip[16], ip[17], ip[18], ip[19]);
	CHECK(known(ip + 16, 4), "IPv4 destination %u.%u.%u.%u never seen", ip[16], ip[17], ip[18],
	      ip[19]);
	memcpy(&src.v4, ip + 12, 4);
	memcpy(&dst.v4, ip + 16, 4);
	if (ip[9] == IPPROTO_TCP) {
		CHECK(dp_cksum_l4_valid(m, (uint32_t)(14 + ihl), (uint32_t)(tot - ihl), &src, &dst,
					IPPROTO_TCP),
		      "TCP checksum over IPv4");
		check_tcp(ip + ihl, tot - ihl, AF_INET, ip + 12, ip + 16);
	} else if (ip[9] == IPPROTO_ICMP) {
		CHECK(tot - ihl >= 8 && ip[ihl] == 0, "ICMP type %u", ip[ihl]);
		CHECK(inet_sum(ip + ihl, tot - ihl) == 0, "ICMP checksum");
	} else {
		CHECK(false, "IPv4 protocol %u", ip[9]);
	}
}

static bool v6_multicast_ok(const uint8_t *a)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t snm[13] = {0xff, 0x02, [11] = 1, [12] = 0xff};

	return memcmp(a, all_nodes, 16) == 0 || memcmp(a, snm, 13) == 0;
}

static void check_ipv6(struct rte_mbuf *m, const uint8_t *f, size_t len, bool mcast_dst)
{
	const uint8_t *ip = f + 14;
	size_t plen;
	struct dp_ip_addr src = {.family = AF_INET6}, dst = {.family = AF_INET6};

	CHECK(len >= 54, "IPv6 frame of %zu bytes", len);
	plen = get16(ip + 4);
	CHECK((ip[0] >> 4) == 6, "IPv6 version");
	CHECK(54 + plen <= len, "IPv6 payload length %zu in %zu", plen, len);
	CHECK(ip[7] > 0, "hop limit 0");
	CHECK(is_ours(AF_INET6, ip + 8), "IPv6 source not ours");
	if (ip[24] == 0xff) {
		CHECK(mcast_dst && v6_multicast_ok(ip + 24) && ip[6] == IPPROTO_ICMPV6,
		      "IPv6 multicast destination");
	} else {
		CHECK(!mcast_dst, "unicast IPv6 to a multicast MAC");
		CHECK(known(ip + 24, 16) && !is_ours(AF_INET6, ip + 24),
		      "IPv6 destination never seen");
	}
	memcpy(src.v6, ip + 8, 16);
	memcpy(dst.v6, ip + 24, 16);
	if (ip[6] == IPPROTO_TCP) {
		CHECK(dp_cksum_l4_valid(m, 54, (uint32_t)plen, &src, &dst, IPPROTO_TCP),
		      "TCP checksum over IPv6");
		check_tcp(ip + 40, plen, AF_INET6, ip + 8, ip + 24);
	} else if (ip[6] == IPPROTO_ICMPV6) {
		uint8_t type;

		CHECK(plen >= 8, "ICMPv6 of %zu bytes", plen);
		CHECK(dp_cksum_l4_valid(m, 54, (uint32_t)plen, &src, &dst, IPPROTO_ICMPV6),
		      "ICMPv6 checksum");
		type = ip[40];
		CHECK(type == 129 || type == 135 || type == 136, "ICMPv6 type %u", type);
		if (type == 135) {
			CHECK(plen >= 24, "NS of %zu bytes", plen);
			CHECK(known(ip + 48, 16), "NS for a target never seen");
			add_pending(AF_INET6, ip + 48);
		}
	} else {
		CHECK(false, "IPv6 next header %u", ip[6]);
	}
}

static void check_arp(const uint8_t *f, size_t len)
{
	const uint8_t *a = f + 14;

	CHECK(len >= 42, "ARP frame of %zu bytes", len);
	CHECK(get16(a) == 1 && get16(a + 2) == 0x0800 && a[4] == 6 && a[5] == 4, "ARP header");
	CHECK(get16(a + 6) == 1 || get16(a + 6) == 2, "ARP op %u", get16(a + 6));
	CHECK(memcmp(a + 8, our_mac, 6) == 0 && is_ours(AF_INET, a + 14), "ARP sender not us");
	CHECK(known(a + 24, 4), "ARP for %u.%u.%u.%u never seen", a[24], a[25], a[26], a[27]);
	if (get16(a + 6) == 1)
		add_pending(AF_INET, a + 24);
}

static void check_frame(struct rte_mbuf *m)
{
	size_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *f;
	uint16_t type;
	bool bcast, mcast;

	CHECK(len >= 14 && len <= sizeof(h->buf), "frame of %zu bytes", len);
	f = rte_pktmbuf_read(m, 0, (uint32_t)len, h->buf);
	CHECK(f != NULL, "unreadable frame");
	CHECK(memcmp(f + 6, our_mac, 6) == 0, "Ethernet source not ours");
	type = get16(f + 12);
	bcast = memcmp(f, "\xff\xff\xff\xff\xff\xff", 6) == 0;
	mcast = f[0] == 0x33 && f[1] == 0x33;
	CHECK(bcast || mcast || (!(f[0] & 1) && known(f, 6)),
	      "Ethernet destination %02x:%02x:%02x:%02x:%02x:%02x never seen", f[0], f[1], f[2],
	      f[3], f[4], f[5]);
	switch (type) {
	case 0x0806:
		CHECK(!mcast, "ARP to a multicast MAC");
		check_arp(f, len);
		break;
	case 0x0800:
		CHECK(!bcast && !mcast, "IPv4 to a broadcast/multicast MAC");
		check_ipv4(m, f, len);
		break;
	case 0x86dd:
		CHECK(!bcast, "IPv6 to the broadcast MAC");
		check_ipv6(m, f, len, mcast);
		break;
	default:
		CHECK(false, "ether type 0x%04x", type);
	}
}

static uint16_t cap_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t taken = n;

	(void)ctx;
	if (h->refuse && ++h->tx_calls % 3 == 0)
		taken = n / 2;
	for (uint16_t i = 0; i < taken; i++) {
		if (getenv("TERN_FUZZ_LOG")) {
			fprintf(stderr, "tx %u bytes in %u segments:", pkts[i]->pkt_len,
				pkts[i]->nb_segs);
			for (const struct rte_mbuf *seg = pkts[i]; seg != NULL; seg = seg->next) {
				fprintf(stderr, " |");
				for (uint16_t k = 0; k < seg->data_len; k++)
					fprintf(stderr, "%02x",
						rte_pktmbuf_mtod(seg, const uint8_t *)[k]);
			}
			fputc('\n', stderr);
		}
		check_frame(pkts[i]);
		rte_pktmbuf_free(pkts[i]);
	}
	return taken;
}

/* ---- the application ---- */

static void *app_accepted(void *ctx, struct dp_tcp_conn *c)
{
	(void)ctx;
	for (unsigned i = 0; i < N_APPS; i++) {
		struct app *a = &h->apps[i];

		if (a->used)
			continue;
		memset(a, 0, sizeof(*a));
		a->used = true;
		a->c = c;
		a->rx_seq = c->irs + 1;
		a->tx_seq = c->iss + 1;
		return a;
	}
	return NULL;
}

static void app_recv(void *app, struct rte_mbuf *m)
{
	struct app *a = app;
	uint32_t off = 0;

	CHECK(a->used && !a->closing && !a->peer_closed, "recv() after close or peer FIN");
	CHECK(m->pkt_len > 0, "empty recv()");
	for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
		const uint8_t *p = rte_pktmbuf_mtod(seg, const uint8_t *);

		for (uint32_t i = 0; i < seg->data_len; i++, off++)
			CHECK(p[i] == pattern(a->rx_seq + off),
			      "received byte at seq %u is 0x%02x, sent 0x%02x", a->rx_seq + off,
			      p[i], pattern(a->rx_seq + off));
	}
	CHECK(off == m->pkt_len, "chain of %u bytes says pkt_len %u", off, m->pkt_len);
	a->rx_seq += off;
	rte_pktmbuf_free(m);
	if (h->hold) {
		a->held += off;
		dp_tcp_recv_held(a->c, a->held);
	}
}

static void app_writable(void *app)
{
	struct app *a = app;

	CHECK(a->used, "writable() on a closed connection");
}

static void app_closed(void *app, bool reset)
{
	struct app *a = app;

	(void)reset;
	CHECK(a->used, "closed() twice");
	a->used = false;
	a->c = NULL;
}

static void app_peer_closed(void *app)
{
	struct app *a = app;

	CHECK(a->used && !a->peer_closed, "peer_closed() twice");
	a->peer_closed = true;
}

static struct app *nth_app(uint8_t n)
{
	unsigned used = 0;

	for (unsigned i = 0; i < N_APPS; i++)
		used += h->apps[i].used;
	if (used == 0)
		return NULL;
	n = (uint8_t)(n % used);
	for (unsigned i = 0; i < N_APPS; i++)
		if (h->apps[i].used && n-- == 0)
			return &h->apps[i];
	return NULL;
}

static void op_app(struct input *in)
{
	struct app *a = nth_app(next(in));
	uint8_t action = next(in), arg = next(in);

	if (a == NULL)
		return;
	switch (action % 4) {
	case 0: {
		size_t len = ((size_t)arg + 1) * 24, sent = 0;
		struct rte_mbuf *head = NULL;
		int rc;

		while (len > 0) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(h->pool);
			uint16_t n = (uint16_t)(len > 1000 ? 1000 : len);
			uint8_t *p;

			if (m == NULL)
				break;
			p = (uint8_t *)rte_pktmbuf_append(m, n);
			for (uint16_t i = 0; i < n; i++)
				p[i] = pattern(a->tx_seq + (uint32_t)(sent + i));
			if (head == NULL)
				head = m;
			else
				CHECK(rte_pktmbuf_chain(head, m) == 0, "chain too long");
			len -= n;
			sent += n;
		}
		if (head == NULL)
			return;
		rc = dp_tcp_send(a->c, head);
		CHECK(rc == 0 || rc == -EAGAIN || rc == -EMSGSIZE || rc == -EPIPE, "send: %d", rc);
		CHECK(rc != 0 || !a->closing, "send accepted after close");
		if (rc != 0)
			rte_pktmbuf_free(head);
		else
			a->tx_seq += (uint32_t)sent;
		break;
	}
	case 1:
		a->closing = true;
		dp_tcp_close(a->c);
		break;
	case 2:
		/* No callback follows an abort: the slot is ours to free. */
		dp_tcp_abort(a->c);
		a->used = false;
		a->c = NULL;
		break;
	default:
		if (!a->closing) {
			a->held = a->held < (uint32_t)arg * 64 ? a->held : (uint32_t)arg * 64;
			dp_tcp_recv_held(a->c, a->held);
		}
		break;
	}
}

/* ---- frame building ---- */

static void inject(struct rte_mbuf *m, bool learn)
{
	remember(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m));
	if (learn)
		dp_net_iface_learn(&h->ifc, m);
	else
		dp_net_iface_input(&h->ifc, m);
	dp_net_iface_flush(&h->ifc);
}

/* A frame of len bytes in one mbuf; NULL when the pool is empty (the op is skipped). */
static struct rte_mbuf *frame(size_t len, uint8_t **p)
{
	struct rte_mbuf *m;

	if (len > FRAME_MAX)
		len = FRAME_MAX;
	m = rte_pktmbuf_alloc(h->pool);
	if (m == NULL)
		return NULL;
	*p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (*p == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(*p, 0, len);
	return m;
}

/* Move the bytes from off on into a second segment, as a NIC's scattered RX would. */
static struct rte_mbuf *split(struct rte_mbuf *m, uint32_t off)
{
	struct rte_mbuf *m2;
	uint16_t tail;

	if (off == 0 || off >= m->pkt_len)
		return m;
	m2 = rte_pktmbuf_alloc(h->pool);
	if (m2 == NULL)
		return m;
	tail = (uint16_t)(m->pkt_len - off);
	memcpy(rte_pktmbuf_append(m2, tail), rte_pktmbuf_mtod_offset(m, void *, off), tail);
	rte_pktmbuf_trim(m, tail);
	rte_pktmbuf_chain(m, m2);
	return m;
}

static size_t put_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

/*
 * Ethernet and IP headers from sl to us (mode bit 0: to another address of
 * ours, bit 1: IPv4 options / an IPv6 hop-by-hop header, bit 2: a fragment,
 * bit 3: a bad IPv4 checksum, bit 4: hop limit 1, bit 5: 3 bytes of link
 * padding). Returns the offset of the L4 header; *tail gets the padding.
 */
static size_t put_ip(uint8_t *f, const struct slot *sl, uint8_t proto, size_t l4len, uint8_t mode,
		     struct dp_ip_addr *dst, size_t *tail)
{
	size_t n;

	*tail = (mode & 0x20) ? 3 : 0;
	our_addr(sl->addr.family, dst);
	if (sl->addr.family == AF_INET) {
		size_t hl = (mode & 2) ? 24 : 20;
		uint8_t *ip;

		n = put_eth(f, our_mac, sl->mac, 0x0800);
		ip = f + n;
		ip[0] = (uint8_t)(0x40 | (hl / 4));
		put16(ip + 2, (uint16_t)(hl + l4len));
		put16(ip + 4, 0x1234);
		if (mode & 4)
			put16(ip + 6, 0x2000);
		ip[8] = (mode & 0x10) ? 1 : 64;
		ip[9] = proto;
		memcpy(ip + 12, &sl->addr.v4, 4);
		if (mode & 1)
			inet_pton(AF_INET, "198.18.0.9", &dst->v4);
		memcpy(ip + 16, &dst->v4, 4);
		if (hl > 20)
			memset(ip + 20, 1, hl - 20);
		{
			/* dp_cksum_ipv4_hdr gives the field in memory order, as DPDK does. */
			uint16_t ck =
			    (uint16_t)(dp_cksum_ipv4_hdr(ip, hl) ^ ((mode & 8) ? 0x5a5a : 0));

			memcpy(ip + 10, &ck, 2);
		}
		return n + hl;
	} else {
		size_t ext = (mode & 2) ? 8 : (mode & 4) ? 8 : 0;
		uint8_t *ip;

		n = put_eth(f, our_mac, sl->mac, 0x86dd);
		ip = f + n;
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(ext + l4len));
		ip[6] = (mode & 2) ? 0 : (mode & 4) ? 44 : proto;
		ip[7] = (mode & 0x10) ? 1 : 64;
		memcpy(ip + 8, sl->addr.v6, 16);
		if (mode & 1)
			memcpy(dst->v6, h->ifc.addrs[0].addr.v6, 16); /* our link-local address */
		memcpy(ip + 24, dst->v6, 16);
		if (ext) {
			ip[40] = proto;
			if (mode & 2) {
				ip[42] = 1; /* PadN of 4 */
				ip[43] = 4;
			} else {
				put16(ip + 42, 0x0001); /* fragment offset 0, more fragments */
			}
		}
		return n + 40 + ext;
	}
}

/* Fill the L4 checksum at field offset ck of the len-byte L4 packet at off in m (one segment). */
static void l4_cksum(struct rte_mbuf *m, size_t off, size_t len, size_t ck, const struct slot *sl,
		     const struct dp_ip_addr *dst, uint8_t proto, bool bad)
{
	uint8_t *p = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	uint16_t sum;

	if (off + len > m->pkt_len || ck + 2 > len)
		return;
	p[ck] = p[ck + 1] = 0;
	if (proto == IPPROTO_ICMP)
		put16(p + ck, inet_sum(p, len)); /* no pseudo-header over IPv4 */
	else if (dp_cksum_l4(m, (uint32_t)off, (uint32_t)len, &sl->addr, dst, proto, &sum) == 0)
		memcpy(p + ck, &sum, 2);
	if (bad)
		p[ck] ^= 0x5a;
}

/* ---- operations ---- */

static uint32_t rel(uint32_t base, uint8_t mode, uint8_t delta)
{
	static const unsigned shifts[4] = {0, 6, 12, 24};

	return base + (uint32_t)((int32_t)(int8_t)delta * (1 << shifts[mode & 3]));
}

static void op_tcp(struct input *in)
{
	struct slot *sl = &h->slots[next(in) % N_SLOTS];
	uint8_t flags = next(in), smode = next(in), sdelta = next(in), amode = next(in);
	uint8_t adelta = next(in), wnd = next(in), opts = next(in), lenb = next(in);
	uint8_t o[40];
	size_t olen = 0, plen, hl, off, tail;
	uint32_t seq, ack;
	struct dp_ip_addr dst;
	struct rte_mbuf *m;
	uint8_t *f, *t;

	seq = rel((smode & 4) ? sl->isn : sl->stack_ack, smode, sdelta);
	/* amode bit 2: relative to its own last ACK, so duplicate ACKs are one op each */
	ack = rel((amode & 4) ? sl->peer_ack : sl->stack_nxt, amode, adelta);
	if (flags & 0x10)
		sl->peer_ack = ack;
	if (opts & 1) {
		static const uint16_t mss[4] = {1460, 536, 1, 65535};

		o[olen++] = 2;
		o[olen++] = 4;
		put16(o + olen, mss[next(in) & 3]);
		olen += 2;
	}
	if (opts & 2) {
		o[olen++] = 1;
		o[olen++] = 3;
		o[olen++] = 3;
		o[olen++] = next(in) & 15;
	}
	if (opts & 4) {
		o[olen++] = 1;
		o[olen++] = 1;
		o[olen++] = 4;
		o[olen++] = 2;
	}
	if (opts & 8) {
		/* bit 4: an old timestamp (PAWS) instead of a fresh one */
		sl->tsval += (opts & 0x10) ? 0 : 1 + (uint32_t)(h->now_us / 1000 % 7);
		o[olen++] = 1;
		o[olen++] = 1;
		o[olen++] = 8;
		o[olen++] = 10;
		put32(o + olen, (opts & 0x10) ? sl->tsval - 0x40000000u : sl->tsval);
		put32(o + olen + 4, sl->stack_tsval);
		olen += 8;
	}
	if (opts & 0x80) {
		/*
		 * SACK blocks near what the stack sent (its loss recovery reads
		 * them): per block a mode byte (bit 0: from the highest byte sent,
		 * else from the last ACK; bits 1-2: rel() scale; bit 3: length in
		 * 64-byte units), the left edge's delta and the length.
		 */
		unsigned int nb = 1 + next(in) % 4u;

		if (olen + 4 + 8 * nb > sizeof(o))
			nb = (unsigned int)(sizeof(o) - olen - 4) / 8;
		if (nb > 0) {
			o[olen++] = 1;
			o[olen++] = 1;
			o[olen++] = 5;
			o[olen++] = (uint8_t)(2 + 8 * nb);
			for (unsigned int b = 0; b < nb; b++) {
				uint8_t bm = next(in), bd = next(in), bl = next(in);
				uint32_t left = rel((bm & 1) ? sl->stack_nxt : sl->peer_ack,
						    (uint8_t)(bm >> 1), bd);

				put32(o + olen, left);
				put32(o + olen + 4, left + (uint32_t)bl * ((bm & 8) ? 64u : 1u));
				olen += 8;
			}
		}
	}
	if (opts & 0x20) {
		/* raw option bytes after the well-formed ones */
		uint8_t n = next(in) % 16;

		for (uint8_t i = 0; i < n && olen < sizeof(o); i++)
			o[olen++] = next(in);
	}
	while (olen % 4)
		o[olen++] = 0;
	plen = (size_t)lenb * ((smode & 0x80) ? 8 : 1);
	hl = 20 + olen;
	if (plen + hl + 100 > FRAME_MAX)
		plen = FRAME_MAX - hl - 100;
	m = frame(FRAME_MAX, &f);
	if (m == NULL)
		return;
	off = put_ip(f, sl, IPPROTO_TCP, hl + plen, (opts & 0x40) ? amode >> 2 : 0, &dst, &tail);
	rte_pktmbuf_trim(m, (uint16_t)(FRAME_MAX - off - hl - plen - tail));
	t = f + off;
	put16(t, sl->port);
	put16(t + 2, (amode & 0x80) ? (uint16_t)(LISTEN_PORT + 1) : LISTEN_PORT);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	put16(t + 14, (uint16_t)(wnd * 257));
	memcpy(t + 20, o, olen);
	for (size_t i = 0; i < plen; i++)
		t[hl + i] = pattern(seq + ((flags & 0x02) ? 1 : 0) + (uint32_t)i);
	l4_cksum(m, off, hl + plen, 16, sl, &dst, IPPROTO_TCP, (smode & 0x40) != 0);
	if (smode & 0x20)
		m = split(m, (uint32_t)(off + (sdelta % (hl + plen + 1))));
	inject(m, false);
}

static void op_raw(struct input *in)
{
	size_t len = next(in);
	uint8_t mode, *f;
	struct rte_mbuf *m;

	len |= (size_t)next(in) << 8;
	mode = next(in);
	if (len > in->left)
		len = in->left;
	m = frame(len, &f);
	if (m == NULL) {
		in->p += len;
		in->left -= len;
		return;
	}
	memcpy(f, in->p, rte_pktmbuf_data_len(m));
	in->p += len;
	in->left -= len;
	/* bit 0: our MAC as destination; bit 1: a chain; bit 2: learn (another lcore's frame) */
	if ((mode & 1) && rte_pktmbuf_data_len(m) >= 6)
		memcpy(f, our_mac, 6);
	if (mode & 2)
		m = split(m, mode >> 3);
	inject(m, (mode & 4) != 0);
}

static void op_ip(struct input *in)
{
	static const uint8_t protos[8] = {
	    IPPROTO_TCP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_UDP, 0, 43, 60, 59};
	struct slot *sl = &h->slots[next(in) % N_SLOTS];
	uint8_t pb = next(in), mode = next(in);
	size_t len = next(in), off, tail;
	uint8_t proto = protos[pb & 7], *f;
	struct dp_ip_addr dst;
	struct rte_mbuf *m;

	if (len > in->left)
		len = in->left;
	m = frame(FRAME_MAX, &f);
	if (m == NULL)
		return;
	off = put_ip(f, sl, proto, len, mode, &dst, &tail);
	rte_pktmbuf_trim(m, (uint16_t)(FRAME_MAX - off - len - tail));
	memcpy(f + off, in->p, len);
	in->p += len;
	in->left -= len;
	/* pb bit 3: fix the checksum (TCP 16, ICMP/ICMPv6 2) so the payload gets past it */
	if (pb & 8)
		l4_cksum(m, off, len, proto == IPPROTO_TCP ? 16 : 2, sl, &dst, proto, false);
	if (pb & 0x10)
		m = split(m, (uint32_t)(off + (pb >> 5)));
	inject(m, false);
}

static void op_arp(struct input *in)
{
	uint8_t op = next(in), mode = next(in);
	struct slot *sl = &h->slots[next(in) % N_SLOTS];
	struct dp_ip_addr us;
	struct rte_mbuf *m;
	uint8_t *f, *a;
	size_t n;

	if (sl->addr.family != AF_INET)
		sl = &h->slots[(sl - h->slots) & ~1u];
	our_addr(AF_INET, &us);
	m = frame(42 + ((mode & 0x40) ? 18 : 0), &f);
	if (m == NULL)
		return;
	n = put_eth(f, (mode & 1) ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : our_mac, sl->mac,
		    0x0806);
	a = f + n;
	put16(a, (mode & 0x80) ? 6 : 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = (mode & 0x20) ? 16 : 4;
	put16(a + 6, (op & 3) == 3 ? op : (op & 1) + 1);
	memcpy(a + 8, sl->mac, 6);
	/* mode bit 3: a peer claiming our own address */
	memcpy(a + 14, (mode & 8) ? (const void *)&us.v4 : (const void *)&sl->addr.v4, 4);
	memcpy(a + 18, (op & 4) ? our_mac : (const uint8_t *)"\0\0\0\0\0\0", 6);
	/* mode bit 1: gratuitous (target = sender); bit 2: for an address that is not ours */
	if (mode & 2)
		memcpy(a + 24, &sl->addr.v4, 4);
	else if (mode & 4)
		inet_pton(AF_INET, "198.18.0.77", a + 24);
	else
		memcpy(a + 24, &us.v4, 4);
	if (mode & 0x10)
		m = split(m, 20);
	inject(m, (op & 8) != 0);
}

/* An NS or NA from sl (type bit 0: NA), or a junk ICMPv6 type. */
static void send_nd(struct slot *sl, uint8_t type, uint8_t mode, const uint8_t *target,
		    const uint8_t *mac)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	uint8_t dst6[16], emac[6];
	bool opt = !(mode & 1);
	size_t len = 24 + (opt ? 8 : 0), n;
	struct dp_ip_addr dst = {.family = AF_INET6};
	struct rte_mbuf *m;
	uint8_t *f, *ip, *ic;

	m = frame(54 + len, &f);
	if (m == NULL)
		return;
	/* mode bits 1-2: to our address, our solicited-node group, all nodes, ours again */
	our_addr(AF_INET6, &dst);
	if ((mode >> 1 & 3) == 1) {
		static const uint8_t snm[13] = {0xff, 0x02, [11] = 1, [12] = 0xff};

		memcpy(dst6, snm, 13);
		memcpy(dst6 + 13, target + 13, 3);
	} else if ((mode >> 1 & 3) == 2) {
		memcpy(dst6, all_nodes, 16);
	} else {
		memcpy(dst6, dst.v6, 16);
	}
	memcpy(dst.v6, dst6, 16);
	emac[0] = emac[1] = 0x33;
	memcpy(emac + 2, dst6 + 12, 4);
	n = put_eth(f, dst6[0] == 0xff ? emac : our_mac, sl->mac, 0x86dd);
	ip = f + n;
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)len);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = (mode & 8) ? 64 : 255;
	memcpy(ip + 8,
	       (mode & 0x10) ? (const uint8_t *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" : sl->addr.v6,
	       16);
	memcpy(ip + 24, dst6, 16);
	ic = ip + 40;
	ic[0] = (type & 0x80) ? type : (type & 1) ? 136 : 135;
	ic[1] = (mode & 0x20) ? 1 : 0;
	if (ic[0] == 136)
		ic[4] = (mode & 0x40) ? 0x60 : 0x20; /* solicited (+ override) */
	memcpy(ic + 8, target, 16);
	if (opt) {
		ic[24] = ic[0] == 136 ? 2 : 1;
		ic[25] = (mode & 0x80) ? 0 : 1;
		memcpy(ic + 26, mac, 6);
	}
	{
		struct slot src = *sl;

		if (mode & 0x10)
			memset(src.addr.v6, 0, 16);
		l4_cksum(m, 54, len, 2, &src, &dst, IPPROTO_ICMPV6, false);
	}
	inject(m, (type & 0x40) != 0);
}

static void op_nd(struct input *in)
{
	uint8_t type = next(in), mode = next(in);
	struct slot *sl = &h->slots[next(in) % N_SLOTS];
	struct dp_ip_addr us;

	if (sl->addr.family != AF_INET6)
		sl = &h->slots[(sl - h->slots) | 1u];
	our_addr(AF_INET6, &us);
	/* An NS asks for our address; an NA announces the sender's own. */
	send_nd(sl, type, mode, (type & 1) ? sl->addr.v6 : us.v6, sl->mac);
}

static void op_ping(struct input *in)
{
	struct slot *sl = &h->slots[next(in) % N_SLOTS];
	size_t len = next(in), off, tail;
	uint8_t mode = next(in), proto, *f;
	struct dp_ip_addr dst;
	struct rte_mbuf *m;

	proto = sl->addr.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	m = frame(FRAME_MAX, &f);
	if (m == NULL)
		return;
	off = put_ip(f, sl, proto, 8 + len, mode & 0x3f, &dst, &tail);
	rte_pktmbuf_trim(m, (uint16_t)(FRAME_MAX - off - 8 - len - tail));
	f[off] = proto == IPPROTO_ICMP ? 8 : 128;
	put16(f + off + 4, 0x4242);
	put16(f + off + 6, (uint16_t)len);
	for (size_t i = 0; i < len; i++)
		f[off + 8 + i] = (uint8_t)i;
	l4_cksum(m, off, 8 + len, 2, sl, &dst, proto, (mode & 0x40) != 0);
	if (mode & 0x80)
		m = split(m, (uint32_t)(off + 4));
	inject(m, false);
}

static bool is_gateway(const struct dp_ip_addr *a)
{
	return dp_ip_addr_equal(a, &h->ifc.gw4) || dp_ip_addr_equal(a, &h->ifc.gw6);
}

/* Answer every ARP request and NS the stack sent, with the MAC the address's peer has. */
static void op_answer(void)
{
	unsigned n = h->n_pending;

	h->n_pending = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct dp_ip_addr *a = &h->pending[i].addr;
		struct slot *sl = slot_of(a->family, addr_bytes(a), 40000);
		struct slot fake;
		uint8_t mac[6] = {0x02, 0, 0, 0, 0x10, (uint8_t)i};

		if (sl != NULL)
			memcpy(mac, sl->mac, 6);
		if (is_gateway(a))
			memcpy(mac, peer_macs[2], 6);
		if (a->family == AF_INET) {
			struct dp_ip_addr us;
			struct rte_mbuf *m;
			uint8_t *f, *p;

			our_addr(AF_INET, &us);
			m = frame(42, &f);
			if (m == NULL)
				return;
			p = f + put_eth(f, our_mac, mac, 0x0806);
			put16(p, 1);
			put16(p + 2, 0x0800);
			p[4] = 6;
			p[5] = 4;
			put16(p + 6, 2);
			memcpy(p + 8, mac, 6);
			memcpy(p + 14, &a->v4, 4);
			memcpy(p + 18, our_mac, 6);
			memcpy(p + 24, &us.v4, 4);
			inject(m, false);
		} else {
			memset(&fake, 0, sizeof(fake));
			fake.addr = *a;
			memcpy(fake.mac, mac, 6);
			send_nd(&fake, 1, 0x40, a->v6, mac);
		}
	}
}

static void run_timers(void)
{
	dp_net_iface_set_time(&h->ifc, h->now_us);
	dp_net_iface_timers(&h->ifc);
	dp_tcp_timers_run(h->s, h->now_us);
	dp_net_iface_flush(&h->ifc);
}

static void op_advance(struct input *in)
{
	uint8_t b = next(in);

	/* Steps from 1 us to hours, denser at the short end (delayed ACK, RTO). */
	h->now_us += (uint64_t)(b & 15) << ((b >> 4) * 2);
	run_timers();
}

static void run_op(struct input *in)
{
	switch (next(in) % N_KINDS) {
	case K_TCP:
		op_tcp(in);
		break;
	case K_ADVANCE:
		op_advance(in);
		break;
	case K_RAW:
		op_raw(in);
		break;
	case K_IP:
		op_ip(in);
		break;
	case K_ARP:
		op_arp(in);
		break;
	case K_ND:
		op_nd(in);
		break;
	case K_PING:
		op_ping(in);
		break;
	case K_ANSWER:
		op_answer();
		break;
	case K_APP:
		op_app(in);
		break;
	default:
		break;
	}
}

/* ---- set-up and teardown ---- */

/* sl asks for our address, so the stack learns its MAC from the question. */
static void teach(struct slot *sl)
{
	struct dp_ip_addr us;

	our_addr(sl->addr.family, &us);
	if (sl->addr.family == AF_INET6) {
		send_nd(sl, 0, 0, us.v6, sl->mac);
	} else {
		struct rte_mbuf *m;
		uint8_t *f, *p;

		m = frame(42, &f);
		if (m == NULL)
			return;
		p = f + put_eth(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", sl->mac, 0x0806);
		put16(p, 1);
		put16(p + 2, 0x0800);
		p[4] = 6;
		p[5] = 4;
		put16(p + 6, 1);
		memcpy(p + 8, sl->mac, 6);
		memcpy(p + 14, &sl->addr.v4, 4);
		memcpy(p + 24, &us.v4, 4);
		inject(m, false);
	}
}

static void tcp_input(void *ctx, struct rte_mbuf *m, const struct dp_ip_addr *src,
		      const struct dp_ip_addr *dst)
{
	dp_tcp_input(ctx, m, src, dst);
}

static void setup(uint8_t bits)
{
	struct dp_net_iface_config icfg = {.pool = h->pool, .tx = cap_tx};
	struct dp_tcp_config tcfg;
	struct dp_tcp_ops ops = {
	    .ip_output = dp_net_ip_output,
	    .accepted = app_accepted,
	    .recv = app_recv,
	    .writable = app_writable,
	    .closed = app_closed,
	    .peer_closed = (bits & 4) ? app_peer_closed : NULL,
	};
	struct dp_ip_addr a, any4 = {.family = AF_INET}, any6 = {.family = AF_INET6};

	memset(&h->ifc, 0, sizeof(h->ifc));
	memset(h->slots, 0, sizeof(h->slots));
	memset(h->apps, 0, sizeof(h->apps));
	h->n_pending = 0;
	h->known_len = 0;
	h->known_full = false;
	h->tx_calls = 0;
	h->now_us = 1000000;
	h->hold = (bits & 8) != 0;
	h->refuse = (bits & 0x10) != 0;
	memcpy(icfg.mac.addr_bytes, our_mac, 6);
	CHECK(dp_net_iface_init(&h->ifc, &icfg) == 0, "iface init");
	our_addr(AF_INET, &a);
	CHECK(dp_net_iface_add_addr(&h->ifc, &a, 24) == 0, "add 198.18.0.2/24");
	our_addr(AF_INET6, &a);
	CHECK(dp_net_iface_add_addr(&h->ifc, &a, 64) == 0, "add 2001:2::2/64");
	a.family = AF_INET;
	inet_pton(AF_INET, "198.18.0.254", &a.v4);
	CHECK(dp_net_iface_set_gateway(&h->ifc, &a) == 0, "gateway");
	remember(&a.v4, 4);
	a.family = AF_INET6;
	inet_pton(AF_INET6, "2001:2::fe", a.v6);
	CHECK(dp_net_iface_set_gateway(&h->ifc, &a) == 0, "gateway6");
	remember(a.v6, 16);

	dp_tcp_config_defaults(&tcfg);
	tcfg.max_conns = (bits & 0x20) ? 4 : 64;
	tcfg.syn_backlog = (bits & 1) ? 1 : 16;
	tcfg.max_retries = 4;
	tcfg.syn_retries = 2;
	tcfg.secret_seed = 7;
	if (bits & 2) {
		tcfg.rcv_buf = 4096;
		tcfg.snd_buf = 8192;
	}
	h->s = dp_tcp_stack_create(&tcfg, &ops, &h->ifc, h->pool);
	CHECK(h->s != NULL, "stack create");
	CHECK(dp_tcp_listen(h->s, &any4, htons(LISTEN_PORT)) == 0, "listen v4");
	CHECK(dp_tcp_listen(h->s, &any6, htons(LISTEN_PORT)) == 0, "listen v6");
	dp_net_iface_set_tcp(&h->ifc, tcp_input, h->s);
	run_timers();

	for (unsigned i = 0; i < N_SLOTS; i++) {
		struct slot *sl = &h->slots[i];
		unsigned kind = (i >> 1) & 3;

		sl->addr.family = (i & 1) ? AF_INET6 : AF_INET;
		if (i & 1)
			inet_pton(AF_INET6, v6_addrs[kind], sl->addr.v6);
		else
			inet_pton(AF_INET, v4_addrs[kind], &sl->addr.v4);
		memcpy(sl->mac, peer_macs[kind], 6);
		sl->port = (uint16_t)(40000 + (i >> 3));
		sl->isn = 1000u * (i + 1) + 0xfffff000u * (i >> 3); /* port 40001 wraps soon */
		sl->tsval = 100;
	}
	if (!(bits & 0x40)) {
		/* The main peers and the gateways introduce themselves: an ARP request, an NS. */
		struct slot gw4 = h->slots[4], gw6 = h->slots[5];

		gw4.addr = h->ifc.gw4;
		gw6.addr = h->ifc.gw6;
		teach(&h->slots[0]);
		teach(&h->slots[1]);
		teach(&gw4);
		teach(&gw6);
	}
}

static unsigned apps_used(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < N_APPS; i++)
		n += h->apps[i].used;
	return n;
}

/*
 * The application closes everything and the peers fall silent: every
 * connection must then go away on its own (retries, FIN-WAIT-2 and
 * TIME-WAIT timeouts) and give back every mbuf it held.
 */
static void teardown(unsigned avail)
{
	unsigned i;

	if (getenv("TERN_FUZZ_LOG")) {
		const struct dp_tcp_stats *st = dp_tcp_stack_stats(h->s);

		for (size_t k = 0; k < dp_tcp_stat_count; k++) {
			uint64_t v =
			    *(const uint64_t *)((const char *)st + dp_tcp_stat_descs[k].offset);

			if (v)
				fprintf(stderr, "%s=%llu ", dp_tcp_stat_descs[k].name,
					(unsigned long long)v);
		}
		for (int k = 0; k < DP_NET_COUNTER_MAX; k++)
			if (h->ifc.counters[k])
				fprintf(stderr, "%s=%llu ", dp_net_counter_name(k),
					(unsigned long long)h->ifc.counters[k]);
		fputc('\n', stderr);
	}

	for (i = 0; i < N_APPS; i++) {
		struct app *a = &h->apps[i];

		if (a->used && !a->closing) {
			a->closing = true;
			dp_tcp_close(a->c);
		}
	}
	dp_net_iface_flush(&h->ifc);
	for (i = 0; i < TEARDOWN_STEPS; i++) {
		if (dp_tcp_stack_stats(h->s)->conn_active == 0 &&
		    rte_mempool_avail_count(h->pool) == avail)
			break;
		h->now_us += TEARDOWN_STEP_US;
		run_timers();
	}
	CHECK(dp_tcp_stack_stats(h->s)->conn_active == 0,
	      "%llu connections outlived close and %u s of silence",
	      (unsigned long long)dp_tcp_stack_stats(h->s)->conn_active,
	      (unsigned)(TEARDOWN_STEPS * (TEARDOWN_STEP_US / 1000000)));
	CHECK(apps_used() == 0, "%u connections gone without closed()", apps_used());
	CHECK(rte_mempool_avail_count(h->pool) == avail, "%d mbufs still held with no connection",
	      (int)avail - (int)rte_mempool_avail_count(h->pool));
	dp_net_iface_set_tcp(&h->ifc, NULL, NULL);
	dp_tcp_stack_free(h->s);
	h->s = NULL;
	dp_net_iface_fini(&h->ifc);
	CHECK(rte_mempool_avail_count(h->pool) == avail, "%d mbufs leaked",
	      (int)avail - (int)rte_mempool_avail_count(h->pool));
}

static char runtime_dir[PATH_MAX];

static void eal_fini(void)
{
	rte_mempool_free(h->pool);
	free(h);
	rte_eal_cleanup();
	/* --no-shconf leaves the directory empty; it is ours (the prefix carries our pid). */
	rmdir(runtime_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64];
	char *args[] = {"fuzz_net",	     "--no-huge", "--no-pci", "-m", "128",
			"--no-shconf",	     prefix,	  "-l",	      "0",  "--no-telemetry",
			"--log-level=error", NULL};

	(void)argc;
	(void)argv;
	snprintf(prefix, sizeof(prefix), "--file-prefix=tern_netfuzz_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(args) / sizeof(args[0])) - 1, args) < 0) {
		fprintf(stderr, "fuzz_net: rte_eal_init failed (EAL needs root)\n");
		exit(1);
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		abort();
	h->pool = rte_pktmbuf_pool_create("fuzz_net", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	if (h->pool == NULL) {
		fprintf(stderr, "fuzz_net: no mbuf pool\n");
		exit(1);
	}
	atexit(eal_fini);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	unsigned avail;

	if (size < 1)
		return 0;
	avail = rte_mempool_avail_count(h->pool);
	setup(next(&in));
	while (in.left)
		run_op(&in);
	teardown(avail);
	return 0;
}
