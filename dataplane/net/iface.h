/* SPDX-License-Identifier: MIT */
/*
 * One lcore's view of the network interface: its MAC, addresses, gateways,
 * neighbour caches, counters and TX staging, and the Ethernet input dispatch
 * that feeds ARP, IPv4 and IPv6. Everything here belongs to one lcore: no
 * locks, no atomics; another lcore never touches it.
 */
#ifndef DP_NET_IFACE_H
#define DP_NET_IFACE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/net/addr.h"
#include "dataplane/net/neigh.h"

#define DP_NET_MAX_ADDRS 16 /* per interface, both families together */
#define DP_NET_TX_BURST	 32 /* frames staged before a flush is forced */
#define DP_NET_TTL	 64 /* IPv4 TTL and IPv6 hop limit of what we send */

/*
 * Counters, one set per lcore. "drop_" counters count frames the stack freed
 * without acting on them, by reason; the others count events. README "DPDK
 * dataplane" explains each one; dp_net_counter_name() gives its name.
 */
enum dp_net_counter {
	DP_NET_RX_PACKETS,
	DP_NET_RX_BYTES,
	DP_NET_TX_PACKETS,
	DP_NET_TX_BYTES,
	DP_NET_RX_ARP,
	DP_NET_RX_IPV4,
	DP_NET_RX_IPV6,
	DP_NET_RX_TCP,
	DP_NET_ARP_REPLIES,
	DP_NET_ARP_REQUESTS,
	DP_NET_ND_ADVERTS,
	DP_NET_ND_SOLICITS,
	DP_NET_ICMP_ECHO_REPLIES,
	DP_NET_ICMP6_ECHO_REPLIES,
	DP_NET_IP_OPTIONS,
	DP_NET_IP6_EXT_SKIPPED,
	DP_NET_NEIGH_RESOLVED,
	DP_NET_NEIGH_LEARNED, /* INCOMPLETE entries completed from a TCP frame */
	DP_NET_DROP_ETH_SHORT,
	DP_NET_DROP_ETH_NOT_OURS,
	DP_NET_DROP_ETH_TYPE,
	DP_NET_DROP_ARP_MALFORMED,
	DP_NET_DROP_ARP_NOT_OURS,
	DP_NET_DROP_IP_SHORT,
	DP_NET_DROP_IP_VERSION,
	DP_NET_DROP_IP_HDR_LEN,
	DP_NET_DROP_IP_TOTAL_LEN,
	DP_NET_DROP_IP_CKSUM,
	DP_NET_DROP_IP_TTL,
	DP_NET_DROP_IP_FRAG,
	DP_NET_DROP_IP_SRC,
	DP_NET_DROP_IP_NOT_OURS,
	DP_NET_DROP_IP_PROTO,
	DP_NET_DROP_IP6_EXT,
	DP_NET_DROP_IP6_FRAG,
	DP_NET_DROP_ICMP_MALFORMED,
	DP_NET_DROP_ICMP_CKSUM,
	DP_NET_DROP_ICMP_TYPE,
	DP_NET_DROP_ND_MALFORMED,
	DP_NET_DROP_ND_NOT_OURS,
	DP_NET_DROP_TCP_NO_STACK,
	DP_NET_DROP_NEIGH_QUEUE,
	DP_NET_DROP_NEIGH_UNRESOLVED,
	DP_NET_DROP_NO_ROUTE,
	DP_NET_DROP_NOMEM,
	DP_NET_DROP_TX_FULL,
	DP_NET_COUNTER_MAX
};

/* Hand frames to the port (or the fault layer); returns how many it took. */
typedef uint16_t (*dp_net_tx_fn)(void *ctx, struct rte_mbuf **pkts, uint16_t n);
/*
 * Hand one TCP segment to the TCP layer: m's data starts at the TCP header,
 * pkt_len is the TCP length. Takes ownership of m (dp_tcp_input's contract).
 */
typedef void (*dp_net_tcp_input_fn)(void *ctx, struct rte_mbuf *m, const struct dp_ip_addr *src,
				    const struct dp_ip_addr *dst);

struct dp_net_addr_entry {
	struct dp_ip_addr addr;
	uint8_t prefix_len;
};

struct dp_net_iface_config {
	struct rte_ether_addr mac;
	struct rte_mempool *pool; /* for frames the stack makes itself (ARP, NS, ...) */
	dp_net_tx_fn tx;
	void *tx_ctx;
	uint64_t tx_offloads;	     /* RTE_ETH_TX_OFFLOAD_* the port has enabled */
	uint64_t neigh_reachable_us; /* 0 = DP_NEIGH_REACHABLE_US_DEFAULT */
};

/* Owner lcore reads and writes every field; nothing else does. */
struct dp_net_iface {
	struct rte_ether_addr mac;
	struct rte_mempool *pool;
	dp_net_tx_fn tx;
	void *tx_ctx;
	uint64_t tx_offloads;
	dp_net_tcp_input_fn tcp_input;
	void *tcp_ctx;

	struct dp_net_addr_entry addrs[DP_NET_MAX_ADDRS];
	unsigned n_addrs;
	struct dp_ip_addr gw4; /* family 0 when unset */
	struct dp_ip_addr gw6;

	struct dp_neigh_table neigh4;
	struct dp_neigh_table neigh6;

	uint64_t now_us; /* the caller's clock, set by dp_net_iface_set_time */
	uint16_t ip_id;
	bool learn_only; /* inside dp_net_iface_learn: update caches, send nothing */

	struct rte_mbuf *tx_stage[DP_NET_TX_BURST];
	uint16_t n_tx;

	uint64_t counters[DP_NET_COUNTER_MAX];
};

/*
 * Set up ifc (caller-owned memory) from cfg and add the IPv6 link-local
 * address derived from the MAC (EUI-64). Returns 0, or -EINVAL if cfg lacks a
 * pool or tx function. Owner lcore.
 */
int dp_net_iface_init(struct dp_net_iface *ifc, const struct dp_net_iface_config *cfg);

/* Free everything ifc holds: staged frames, queued packets. Owner lcore. */
void dp_net_iface_fini(struct dp_net_iface *ifc);

/*
 * Add an address with its prefix length. Returns 0, -EINVAL for a bad family,
 * prefix length, or a multicast/unspecified address, -EEXIST if present,
 * -ENOSPC past DP_NET_MAX_ADDRS. Owner lcore.
 */
int dp_net_iface_add_addr(struct dp_net_iface *ifc, const struct dp_ip_addr *a, uint8_t prefix_len);

/* Set the default gateway of a's family. -EINVAL for a bad family. Owner lcore. */
int dp_net_iface_set_gateway(struct dp_net_iface *ifc, const struct dp_ip_addr *gw);

/* Route TCP segments to fn (NULL: drop and count them). Owner lcore. */
void dp_net_iface_set_tcp(struct dp_net_iface *ifc, dp_net_tcp_input_fn fn, void *ctx);

/* Set the clock (microseconds, monotonic) used for expiry and retries. Owner lcore. */
static inline void dp_net_iface_set_time(struct dp_net_iface *ifc, uint64_t now_us)
{
	ifc->now_us = now_us;
}

/* True if a is one of ifc's unicast addresses. */
bool dp_net_iface_is_local(const struct dp_net_iface *ifc, const struct dp_ip_addr *a);

/*
 * True when a_be (IPv4, network byte order) cannot be a peer's own address,
 * so nothing from it is answered or learned: 0.0.0.0, broadcast, multicast
 * and 240/4, loopback, one of ours, or the directed broadcast of one of our
 * prefixes (RFC 1122 3.2.1.3, 3.2.2). Owner lcore.
 */
bool dp_net_iface_bad_source4(const struct dp_net_iface *ifc, uint32_t a_be);

/*
 * The neighbour to send to for dst: dst itself when on link, else the
 * gateway of its family. Returns 0 or -ENETUNREACH (off link, no gateway).
 */
int dp_net_iface_next_hop(const struct dp_net_iface *ifc, const struct dp_ip_addr *dst,
			  struct dp_ip_addr *nh);

/*
 * A TCP segment from src reached us in a frame from mac: confirm src's next
 * hop in the neighbour cache (dp_neigh_confirm; an INCOMPLETE entry is
 * completed only when src is on link). Owner lcore.
 */
void dp_net_iface_heard_from(struct dp_net_iface *ifc, const struct dp_ip_addr *src,
			     const struct rte_ether_addr *mac);

/*
 * Hand a received TCP segment to the TCP layer: m's data starts at the IP
 * header, l3_len bytes of IP header (and IPv6 extension headers) precede the
 * TCP header, src and dst are already checked. Counts it, strips the IP
 * header, calls the tcp_input hook (or drops and counts without one) and then
 * confirms src's neighbour from the frame's source MAC. Takes ownership of m.
 * Owner lcore.
 */
void dp_net_iface_tcp_deliver(struct dp_net_iface *ifc, struct rte_mbuf *m, uint16_t l3_len,
			      const struct dp_ip_addr *src, const struct dp_ip_addr *dst);

/* True if a is inside one of ifc's prefixes of its family (or IPv6 link-local). */
bool dp_net_iface_on_link(const struct dp_net_iface *ifc, const struct dp_ip_addr *a);

/*
 * Pick a source address of dst's family: one whose prefix holds dst, else the
 * first of the family (for IPv6 a global one before the link-local one).
 * Returns 0 or -ENOENT.
 */
int dp_net_iface_source_for(const struct dp_net_iface *ifc, const struct dp_ip_addr *dst,
			    struct dp_ip_addr *src);

/*
 * One received frame (data starts at the Ethernet header). Takes ownership of
 * m: it is answered, passed on to TCP, or dropped and counted. Owner lcore.
 */
void dp_net_iface_input(struct dp_net_iface *ifc, struct rte_mbuf *m);

/*
 * Learn neighbours from a frame another lcore received (ARP, NS, NA) without
 * answering it or counting it as received. Takes ownership of m. Owner lcore.
 */
void dp_net_iface_learn(struct dp_net_iface *ifc, struct rte_mbuf *m);

/* True if another lcore should see m through dp_net_iface_learn (ARP, NS, NA). */
bool dp_net_frame_teaches_neighbours(const struct rte_mbuf *m);

/*
 * Send a gratuitous ARP for every IPv4 address and an unsolicited NA to all
 * nodes for every IPv6 address, so peers update stale caches at start.
 * Owner lcore.
 */
void dp_net_iface_announce(struct dp_net_iface *ifc);

/*
 * Run neighbour retries and expiry at ifc->now_us. Returns microseconds until
 * the next call is useful. Owner lcore.
 */
uint64_t dp_net_iface_timers(struct dp_net_iface *ifc);

/*
 * Stage a complete frame for transmission (flushed when DP_NET_TX_BURST are
 * staged, or by dp_net_iface_flush). Takes ownership of m. Owner lcore.
 */
void dp_net_iface_xmit(struct dp_net_iface *ifc, struct rte_mbuf *m);

/*
 * Send m back where it came from: m's data starts at the network header of
 * a reply built in place, the received Ethernet header still just before it
 * in the headroom. Swaps the MACs, counts c, stages m. Takes ownership of m.
 */
void dp_net_iface_reply(struct dp_net_iface *ifc, struct rte_mbuf *m, enum dp_net_counter c);

/* Give every staged frame to the tx function; those it refuses are freed and counted. */
void dp_net_iface_flush(struct dp_net_iface *ifc);

/*
 * Prepend an Ethernet header to m (data at the network header) and send it
 * to the neighbour next_hop, resolving it first if needed (m then waits in the
 * neighbour's bounded queue). Takes ownership of m. Returns 0 or -errno
 * (-ENOMEM: no headroom; -ENOBUFS: queue full; m is freed and counted).
 */
int dp_net_eth_output(struct dp_net_iface *ifc, struct rte_mbuf *m,
		      const struct dp_ip_addr *next_hop, uint16_t ether_type);

/*
 * The contract's ip_output for TCP (ctx is the iface): m's data starts at the
 * TCP header; prepend the IP header of flow's family (IPv4 with DF), fill the
 * TCP checksum in software or request it from the port, route to the
 * neighbour or gateway and send. Takes ownership of m. Returns 0 or -errno:
 * -EAFNOSUPPORT, -EADDRNOTAVAIL (local not ours), -ENETUNREACH (no gateway),
 * -ENOMEM (headroom), -ENOBUFS (neighbour queue full). Owner lcore.
 */
int dp_net_ip_output(void *ctx, struct rte_mbuf *m, const struct dp_flow *flow);

/* The counter's name as shown in telemetry and $SYS ("drop_ip_cksum"). */
const char *dp_net_counter_name(enum dp_net_counter c);

static inline void dp_net_count(struct dp_net_iface *ifc, enum dp_net_counter c)
{
	ifc->counters[c]++;
}

/* Free m and count the reason. */
static inline void dp_net_drop(struct dp_net_iface *ifc, struct rte_mbuf *m, enum dp_net_counter c)
{
	ifc->counters[c]++;
	rte_pktmbuf_free(m);
}

#endif
