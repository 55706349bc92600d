/* SPDX-License-Identifier: MIT */
/*
 * Internet checksum helpers (RFC 1071) over flat buffers and mbuf chains,
 * with the IPv4 and IPv6 pseudo-headers of RFC 9293 section 3.1 and RFC 8200 section 8.1.
 */
#include <errno.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/net/cksum.h"

uint16_t dp_cksum_ipv4_hdr(const void *hdr, size_t len)
{
	uint16_t sum = rte_raw_cksum(hdr, len);

	return (uint16_t)~sum;
}

/* Unfolded 32-bit sum of the pseudo-header in network byte order words. */
static uint32_t pseudo_sum(const struct dp_ip_addr *src, const struct dp_ip_addr *dst,
			   uint8_t proto, uint32_t l4_len)
{
	uint32_t sum;

	if (src->family == AF_INET) {
		sum = __rte_raw_cksum(&src->v4, 4, 0);
		sum = __rte_raw_cksum(&dst->v4, 4, sum);
		sum += rte_cpu_to_be_16((uint16_t)l4_len);
	} else {
		uint32_t len_be = rte_cpu_to_be_32(l4_len);

		sum = __rte_raw_cksum(src->v6, 16, 0);
		sum = __rte_raw_cksum(dst->v6, 16, sum);
		sum = __rte_raw_cksum(&len_be, 4, sum);
	}
	/* The protocol is the low byte of a big-endian 16-bit word. */
	sum += rte_cpu_to_be_16((uint16_t)proto);
	return sum;
}

uint16_t dp_cksum_pseudo(const struct dp_ip_addr *src, const struct dp_ip_addr *dst, uint8_t proto,
			 uint32_t l4_len)
{
	return __rte_raw_cksum_reduce(pseudo_sum(src, dst, proto, l4_len));
}

/*
 * Not rte_raw_cksum_mbuf(): DPDK 22.11 truncates a segment's unreduced sum to
 * 16 bits before swapping it when the segment starts at an odd offset,
 * which gives wrong sums for chains with odd-length segments.
 */
uint16_t dp_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint64_t sum = 0;
	uint32_t done = 0;

	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	while (m != NULL && done < len) {
		uint32_t n = m->data_len - off;
		uint16_t part;

		if (n > len - done)
			n = len - done;
		part = __rte_raw_cksum_reduce(
		    __rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const void *, off), n, 0));
		/* A segment starting at an odd byte of the packet has its bytes in swapped lanes.
		 */
		sum += (done & 1) ? rte_bswap16(part) : part;
		done += n;
		off = 0;
		m = m->next;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int dp_cksum_l4(const struct rte_mbuf *m, uint32_t off, uint32_t len, const struct dp_ip_addr *src,
		const struct dp_ip_addr *dst, uint8_t proto, uint16_t *out)
{
	uint32_t sum;

	if ((uint64_t)off + len > m->pkt_len)
		return -EINVAL;
	sum = pseudo_sum(src, dst, proto, len) + dp_cksum_mbuf(m, off, len);
	*out = (uint16_t)~__rte_raw_cksum_reduce(sum);
	return 0;
}

bool dp_cksum_l4_valid(const struct rte_mbuf *m, uint32_t off, uint32_t len,
		       const struct dp_ip_addr *src, const struct dp_ip_addr *dst, uint8_t proto)
{
	uint16_t c;

	if (dp_cksum_l4(m, off, len, src, dst, proto, &c) != 0)
		return false;
	/* A valid sum folds to 0xffff; ~0xffff is 0 (and -0, 0xffff, never appears here). */
	return c == 0;
}
