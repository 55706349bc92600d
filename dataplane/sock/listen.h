/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets of the kernel-socket dataplane: resolving a configured
 * listener into addresses, opening SO_REUSEPORT sockets on them (one per worker,
 * so the kernel spreads connections over workers), and formatting peers.
 */
#ifndef DP_SOCK_LISTEN_H
#define DP_SOCK_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "broker/config.h"

#define DP_LISTEN_BACKLOG 4096
/* "ADDR:PORT" of any IPv4 or IPv6 peer fits. */
#define DP_LISTEN_PEER_MAX 96

/* One address to listen on; every worker binds its own socket to it. */
struct dp_listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool dual_stack;   /* the "" listener: `::` accepting IPv4 too */
	unsigned listener; /* index of the configured listener it came from */
};

/*
 * Resolve a configured listener into up to max addresses (*n set): "" gives
 * the dual-stack wildcard, anything else getaddrinfo (numeric or a name,
 * AI_PASSIVE) with each distinct result. Returns 0 or -EINVAL (unresolvable,
 * reason logged). Thread-safe.
 */
int dp_listen_resolve(const struct tern_listener_config *lc, struct dp_listen_addr *out, size_t max,
		      size_t *n);

/*
 * Fail with -EADDRINUSE (logged) if anything already holds a's address and
 * port, another tern included: SO_REUSEPORT would otherwise let a second
 * broker share the port silently. A bind probe without SO_REUSEPORT; port 0
 * and errors other than EADDRINUSE pass (dp_listen_open reports those).
 */
int dp_listen_check_free(const struct dp_listen_addr *a);

/*
 * Open a non-blocking, close-on-exec TCP socket with SO_REUSEADDR and
 * SO_REUSEPORT, bound to a and listening. For the dual-stack wildcard it falls
 * back to 0.0.0.0 when IPv6 is unavailable, and a port of 0 becomes the port
 * the kernel chose: a is updated so that the sockets of the other workers
 * join the same group. Returns the fd or -errno (EADDRINUSE: port taken by
 * another program). Thread-safe.
 */
int dp_listen_open(struct dp_listen_addr *a);

/* The bound port of a (host order). */
uint16_t dp_listen_port(const struct dp_listen_addr *a);

/* "ipv4" or "ipv6", for logs. */
const char *dp_listen_family(const struct dp_listen_addr *a);

/* "ipv6 listen socket on port 1883" (wildcard) or "... on ADDR port N", into DP_LISTEN_PEER_MAX
 * bytes. */
void dp_listen_describe(const struct dp_listen_addr *a, char *buf);

/*
 * Format sa as "ADDR:PORT" (IPv4-mapped IPv6 shown as IPv4) into buf of
 * DP_LISTEN_PEER_MAX bytes. Thread-safe.
 */
void dp_listen_format(const struct sockaddr *sa, char *buf);

#endif
