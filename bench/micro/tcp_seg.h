/* SPDX-License-Identifier: MIT */
/*
 * The fixture of bm_tcp_seg: one userspace TCP stack behind one interface
 * (dataplane/net), a connection established with a simulated peer, and the
 * segments that peer sends built ahead of time, so a benchmark times only
 * the stack's per-segment work on mbufs. No NIC: EAL runs without hugepages
 * or PCI, the port's TX function keeps what the stack transmits, and the
 * clock is virtual. Single-threaded: everything on the thread that called
 * seg_fix_eal_init().
 */
#ifndef TERN_BENCH_MICRO_TCP_SEG_H
#define TERN_BENCH_MICRO_TCP_SEG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct dp_tcp_stats;
struct seg_fix;

/* Segments one fixture builds or sends at most per call (its TX capture holds this many). */
#define SEG_FIX_BATCH 256

/*
 * Initialise EAL once for the process (no hugepages, no PCI, no shared
 * config, a file prefix carrying our pid) and create the mbuf pool; the
 * calling thread keeps the CPU affinity it had. Returns 0 or -1 with a
 * message on stderr (EAL needs root).
 */
int seg_fix_eal_init(const char *argv0);

/* Free the pool and clean up EAL. */
void seg_fix_eal_fini(void);

/*
 * A stack listening on 198.18.0.2:1883 and one connection from the peer
 * 198.18.0.1 (MSS 1460, window 65535 scaled by 2^7, no timestamps)
 * established through full frames. rx_offload: the frames the peer sends
 * carry "IP and L4 checksum good" flags, as a NIC with RX checksum offload
 * sets them (else the stack verifies in software); tx_offload: the port
 * takes IPv4 and TCP checksum offload (else the IP layer computes the TCP
 * checksum in software). Returns NULL with a message on stderr.
 */
struct seg_fix *seg_fix_create(bool rx_offload, bool tx_offload);

/* Free f, its connection and every mbuf it holds. NULL is fine. */
void seg_fix_free(struct seg_fix *f);

/*
 * Build n (<= SEG_FIX_BATCH) in-order data segments of payload bytes each
 * from the peer, continuing its byte stream, with valid checksums: full
 * Ethernet frames when frame, else mbufs whose data starts at the TCP
 * header. Returns 0 or -ENOMEM (nothing built).
 */
int seg_fix_build_data(struct seg_fix *f, struct rte_mbuf **out, unsigned n, uint16_t payload,
		       bool frame);

/*
 * Build n (<= SEG_FIX_BATCH) pure ACKs from the peer, starting at TCP
 * header, each acknowledging bytes_per_ack more of what the stack has sent.
 * Returns 0, -ENOMEM, or -ERANGE (they would acknowledge unsent data).
 */
int seg_fix_build_acks(struct seg_fix *f, struct rte_mbuf **out, unsigned n,
		       uint32_t bytes_per_ack);

/* Build n (<= SEG_FIX_BATCH) application payload mbufs of len bytes. Returns 0 or -ENOMEM. */
int seg_fix_build_payload(struct seg_fix *f, struct rte_mbuf **out, unsigned n, uint16_t len);

/* One segment into the TCP layer (dp_tcp_input); data at the TCP header. Takes m. */
void seg_fix_input_tcp(struct seg_fix *f, struct rte_mbuf *m);

/* One frame into the interface (dp_net_iface_input); data at the Ethernet header. Takes m. */
void seg_fix_input_frame(struct seg_fix *f, struct rte_mbuf *m);

/* dp_tcp_send() of one payload chain on the connection. Returns its result. */
int seg_fix_send(struct seg_fix *f, struct rte_mbuf *m);

/*
 * End of a poll-loop turn: the virtual clock moves on by 50 us, due TCP
 * timers run (delayed ACKs) and the interface flushes its staged frames.
 */
void seg_fix_turn(struct seg_fix *f);

/* Free every frame the port has taken (a PMD's TX completion); returns how many. */
unsigned seg_fix_tx_drain(struct seg_fix *f);

/* Bytes the stack sent that the built ACKs have not acknowledged yet. */
uint32_t seg_fix_unacked(const struct seg_fix *f);

/* Bytes in the connection's send queue (sent or not, not yet acknowledged). */
uint32_t seg_fix_queued(const struct seg_fix *f);

/* Free an mbuf (chain) the benchmark did not hand over. */
void seg_fix_free_mbuf(struct rte_mbuf *m);

/* The stack's counters. */
const struct dp_tcp_stats *seg_fix_stats(const struct seg_fix *f);

/* Payload bytes the application received so far. */
uint64_t seg_fix_app_bytes(const struct seg_fix *f);

#ifdef __cplusplus
}
#endif

#endif
