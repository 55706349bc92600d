/* SPDX-License-Identifier: MIT */
/*
 * Internet checksums of the userspace stack: the IPv4 header checksum and the
 * TCP/UDP/ICMPv6 checksum over the IPv4 or IPv6 pseudo-header plus a payload
 * that may span an mbuf chain. Software fallback where the port offers no offload.
 */
#ifndef DP_NET_CKSUM_H
#define DP_NET_CKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/addr.h"

struct rte_mbuf;

/*
 * Checksum of an IPv4 header of len bytes (20..60), ready to store in the
 * header's checksum field (which the caller zeroes first). Any thread.
 */
uint16_t dp_cksum_ipv4_hdr(const void *hdr, size_t len);

/*
 * Pseudo-header sum for an upper-layer packet of l4_len bytes and protocol
 * proto between src and dst (same family): folded to 16 bits, not
 * complemented. This is the value a NIC's TX L4 checksum offload expects
 * in the checksum field. Any thread.
 */
uint16_t dp_cksum_pseudo(const struct dp_ip_addr *src, const struct dp_ip_addr *dst, uint8_t proto,
			 uint32_t l4_len);

/*
 * Folded one's complement sum (not complemented) of the len bytes of m
 * starting at off, across segments of any length; bytes past the chain's
 * end count as absent. Use it instead of DPDK 22.11's rte_raw_cksum_mbuf,
 * which is wrong when a segment starts at an odd offset. Any thread.
 */
uint16_t dp_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len);

/*
 * Full L4 checksum of the len bytes of m starting at off (across segments),
 * including the pseudo-header. With the checksum field zeroed, the result is
 * the value to store; over a received packet (field included) a valid
 * checksum yields 0. Correct for chains whose segments have odd lengths
 * (DPDK 22.11's rte_raw_cksum_mbuf, hence rte_ipv4/6_udptcp_cksum_mbuf, is
 * not). Returns 0 and sets *out, or -EINVAL if off + len runs past the
 * chain. Any thread.
 */
int dp_cksum_l4(const struct rte_mbuf *m, uint32_t off, uint32_t len, const struct dp_ip_addr *src,
		const struct dp_ip_addr *dst, uint8_t proto, uint16_t *out);

/*
 * True when the L4 packet of len bytes at off in m carries a valid checksum
 * for src, dst and proto. A chain shorter than off + len is invalid. Any thread.
 */
bool dp_cksum_l4_valid(const struct rte_mbuf *m, uint32_t off, uint32_t len,
		       const struct dp_ip_addr *src, const struct dp_ip_addr *dst, uint8_t proto);

#endif
