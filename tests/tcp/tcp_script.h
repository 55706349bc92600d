/* SPDX-License-Identifier: MIT */
/*
 * A tiny script engine for the TCP tests: build a segment from a peer and
 * inject it, capture what the stack transmits through ops->ip_output, and
 * expect segments field by field, all on a virtual clock. One stack, one
 * peer address, one application that records its callbacks.
 */
#ifndef TERN_TESTS_TCP_SCRIPT_H
#define TERN_TESTS_TCP_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/tcp.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define TS_MAX_OUT 256
#define TS_RX_MAX  (1u << 20)

/* A segment from the peer. Zero fields mean: option absent, no payload. */
struct tseg {
	uint8_t flags;
	uint32_t seq;
	uint32_t ack;
	uint16_t wnd; /* 0 is sent as 0: set it */
	uint16_t mss; /* 0: no MSS option */
	bool has_ws;
	uint8_t ws;
	bool sack_ok;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
	unsigned int nsack; /* SACK blocks to send, after the other options */
	uint32_t sack[4][2];
	const void *data;
	size_t len;
	const uint8_t *raw_opts; /* replaces the options above when set */
	size_t raw_opts_len;	 /* padded with zeros to a multiple of 4 */
	bool bad_cksum;
	uint64_t ol_flags; /* RX offload flags the "NIC" set */
	uint16_t split_at; /* >0: deliver as a chain of two mbufs split at this offset */
	uint16_t sport;	   /* 0: the script's default peer port */
	uint16_t dport;	   /* 0: the listening port */
};

/* A segment the stack sent, parsed. */
struct tout {
	uint8_t flags;
	uint32_t seq;
	uint32_t ack;
	uint16_t wnd;
	int mss; /* -1: absent */
	int ws;	 /* -1: absent */
	bool sack_ok;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
	unsigned int nsack; /* SACK blocks (left, right edge), in the order sent */
	uint32_t sack[4][2];
	uint32_t len;
	uint16_t dport;
	bool payload_indirect; /* every payload segment refers to another mbuf's buffer */
	uint8_t data[9000];
};

struct tscript {
	struct rte_mempool *pool;
	struct dp_tcp_stack *s;
	struct dp_tcp_config cfg;
	uint64_t now_us;
	struct dp_ip_addr me;
	struct dp_ip_addr peer;
	uint16_t port;	    /* host order */
	uint16_t peer_port; /* host order */
	struct rte_mbuf *out[TS_MAX_OUT];
	unsigned int nout;
	unsigned int next_out;
	unsigned int pool_avail; /* free mbufs before the stack existed */
	int output_rc;
	/* The application. */
	struct dp_tcp_conn *conn;
	bool refuse;
	bool hold; /* report every received byte as held (dp_tcp_recv_held) */
	bool use_peer_closed;
	unsigned int accepted;
	unsigned int recv_calls;
	unsigned int writable;
	unsigned int peer_closed;
	unsigned int closed;
	bool closed_reset;
	size_t rx_len;
	uint8_t *rx;
};

/* EAL and the shared pool, once per process. */
int ts_global_init(void);
/* Free the pool, clean up EAL and remove its (empty) runtime directory. */
int ts_global_fini(void);
struct rte_mempool *ts_pool(void);

/*
 * A fresh stack listening on port 1883 of me (IPv4, or IPv6 when v6);
 * peer_closed_op installs ops->peer_closed (else the stack closes by itself).
 */
struct tscript *ts_new(const struct dp_tcp_config *cfg, bool v6, bool peer_closed_op);
/* Free the stack and everything captured; returns mbufs still missing from the pool. */
int ts_free(struct tscript *t);

void ts_inject(struct tscript *t, const struct tseg *g);
#define INJECT(t, ...) ts_inject((t), &(struct tseg){__VA_ARGS__})

/* Pop the next captured segment; false when none. */
bool ts_pop(struct tscript *t, struct tout *o);
unsigned int ts_pending(const struct tscript *t);
void ts_advance(struct tscript *t, uint64_t us);

/* Expect the next segment to carry exactly flags, seq and ack (ack checked when F_ACK). */
void ts_expect(struct tscript *t, struct tout *o, uint8_t flags, uint32_t seq, uint32_t ack);
void ts_expect_none(struct tscript *t);

/* Queue len bytes of a pattern through dp_tcp_send(); returns its result. */
int ts_app_send(struct tscript *t, size_t len, uint8_t fill);

/*
 * Complete a handshake with the peer's ISN peer_isn and the SYN options in
 * syn (flags, seq and sport ignored); returns our ISN + 1.
 */
uint32_t ts_handshake(struct tscript *t, uint32_t peer_isn, const struct tseg *syn);

#endif
