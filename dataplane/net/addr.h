/* SPDX-License-Identifier: MIT */
/*
 * Addresses and flow keys of the userspace stack, shared by every layer:
 * IPv4 and IPv6 in one type so TCP never branches on the family except
 * where the wire format differs (pseudo-header checksum, header length).
 * Every multi-byte field is in network byte order, as on the wire.
 */
#ifndef DP_NET_ADDR_H
#define DP_NET_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sys/socket.h>

/* An IPv4 or IPv6 address. family is AF_INET or AF_INET6; unused bytes are zero. */
struct dp_ip_addr {
	uint8_t family;
	union {
		uint32_t v4;	/* network byte order */
		uint8_t v6[16]; /* network byte order */
	};
};

/*
 * One TCP connection as the stack sees it: local and remote address and
 * port. Ports are in network byte order. Both addresses have the same family.
 */
struct dp_flow {
	struct dp_ip_addr local;
	struct dp_ip_addr remote;
	uint16_t local_port;
	uint16_t remote_port;
};

static inline bool dp_ip_addr_equal(const struct dp_ip_addr *a, const struct dp_ip_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4 == b->v4;
	return memcmp(a->v6, b->v6, sizeof(a->v6)) == 0;
}

static inline bool dp_flow_equal(const struct dp_flow *a, const struct dp_flow *b)
{
	return a->local_port == b->local_port && a->remote_port == b->remote_port &&
	       dp_ip_addr_equal(&a->local, &b->local) && dp_ip_addr_equal(&a->remote, &b->remote);
}

#endif
