/* SPDX-License-Identifier: MIT */
/*
 * SYN cookies: a SYN-ACK whose initial sequence number encodes what the
 * listener would have kept, so a full SYN backlog costs no state. Also the
 * keyed hash (SipHash-2-4) the stack uses for cookies and initial sequence numbers.
 *
 * Cookie (the server ISN), 32 bits:
 *   31..27  t: minutes-ish counter (now / 64 s) mod 32; a cookie is accepted
 *           for the counter it was made in and the next one (64..128 s)
 *   26..24  index of the MSS in a fixed table (the largest not above the peer's)
 *   23..0   SipHash(secret; flow, peer ISN, t) truncated to 24 bits
 * When the SYN carried timestamps, the low 6 bits of our TSval carry the
 * peer's window scale (4 bits, 15 = none) and SACK-permitted (1 bit); the
 * peer echoes them in TSecr of its ACK. Without timestamps the connection
 * gets neither window scaling nor SACK (the usual limit of this technique).
 */
#ifndef DP_NET_SYNCOOKIE_H
#define DP_NET_SYNCOOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/addr.h"

/* 128-bit SipHash key; per stack, written at creation, then read-only. */
struct dp_siphash_key {
	uint64_t k0;
	uint64_t k1;
};

/* Option bits recovered from an echoed timestamp. */
struct dp_syncookie_opts {
	int8_t wscale; /* -1: the peer sent no window scale */
	bool sack_ok;
};

#define DP_SYNCOOKIE_PERIOD_US (64ull * 1000000ull)
#define DP_SYNCOOKIE_TS_BITS   6

/* SipHash-2-4 of len bytes. Any thread. */
uint64_t dp_siphash24(const struct dp_siphash_key *key, const void *data, size_t len);

/*
 * Keyed hash of a flow plus an extra 32-bit word (0 when unused), for
 * initial sequence numbers (RFC 6528) and cookies. Any thread.
 */
uint64_t dp_flow_siphash(const struct dp_siphash_key *key, const struct dp_flow *f, uint32_t extra);

/*
 * Cookie ISN for a SYN with sequence peer_isn and MSS option peer_mss (0 if
 * absent) on flow f at now_us. *mss_out receives the MSS the cookie encodes,
 * which the SYN-ACK must advertise as the peer's effective limit. Any thread.
 */
uint32_t dp_syncookie_make(const struct dp_siphash_key *key, const struct dp_flow *f,
			   uint32_t peer_isn, uint16_t peer_mss, uint64_t now_us,
			   uint16_t *mss_out);

/*
 * Check the cookie an ACK returns (its ack number minus one) against flow f
 * and the peer's ISN (its sequence number minus one). Returns 0 and the
 * encoded MSS in *mss, or -EINVAL (forged, or older than two periods). Any thread.
 */
int dp_syncookie_check(const struct dp_siphash_key *key, const struct dp_flow *f, uint32_t peer_isn,
		       uint32_t cookie, uint64_t now_us, uint16_t *mss);

/* Our TSval with the SYN's options folded into its low bits. Any thread. */
uint32_t dp_syncookie_ts_encode(uint32_t tsval, const struct dp_syncookie_opts *o);

/* Options folded by dp_syncookie_ts_encode() into an echoed TSecr. Any thread. */
void dp_syncookie_ts_decode(uint32_t tsecr, struct dp_syncookie_opts *o);

#endif
