/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets for the kernel-socket dataplane: resolve, bind with
 * SO_REUSEPORT (one socket per worker on the same address), format peers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/log.h"
#include "dataplane/sock/listen.h"

static void set_port(struct dp_listen_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

uint16_t dp_listen_port(const struct dp_listen_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

static void set_v4_any(struct dp_listen_addr *a, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	sin->sin_port = htons(port);
	a->len = sizeof(*sin);
}

int dp_listen_resolve(const struct tern_listener_config *lc, struct dp_listen_addr *out, size_t max,
		      size_t *n)
{
	struct addrinfo hints = {
	    .ai_flags = AI_PASSIVE,
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_protocol = IPPROTO_TCP,
	};
	struct addrinfo *res, *ai;
	char port[8];
	int rc;

	*n = 0;
	if (max == 0)
		return -EINVAL;
	if (lc->addr[0] == '\0') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out[0].ss;

		memset(&out[0], 0, sizeof(out[0]));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(lc->port);
		out[0].len = sizeof(*sin6);
		out[0].dual_stack = true;
		*n = 1;
		return 0;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)lc->port);
	rc = getaddrinfo(lc->addr, port, &hints, &res);
	if (rc != 0) {
		tern_log(TERN_LOG_ERR, "listener %s port %u: cannot resolve address: %s", lc->addr,
			 (unsigned)lc->port, gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai && *n < max; ai = ai->ai_next) {
		bool dup = false;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (ai->ai_addrlen > sizeof(out[0].ss))
			continue;
		for (size_t i = 0; i < *n; i++)
			if (out[i].len == ai->ai_addrlen &&
			    memcmp(&out[i].ss, ai->ai_addr, ai->ai_addrlen) == 0)
				dup = true;
		if (dup)
			continue;
		memset(&out[*n], 0, sizeof(out[*n]));
		memcpy(&out[*n].ss, ai->ai_addr, ai->ai_addrlen);
		out[*n].len = ai->ai_addrlen;
		(*n)++;
	}
	freeaddrinfo(res);
	if (*n == 0) {
		tern_log(TERN_LOG_ERR, "listener %s port %u: no IPv4 or IPv6 address", lc->addr,
			 (unsigned)lc->port);
		return -EINVAL;
	}
	return 0;
}

/* A bound socket for a; shared (SO_REUSEPORT) and listening, or a bare exclusive probe. */
static int open_one(const struct dp_listen_addr *a, bool shared)
{
	int one = 1;
	int fd, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0))
		goto err;
	if (a->ss.ss_family == AF_INET6) {
		/* Only the wildcard listener takes IPv4 too; a named ::1 must not. */
		int v6only = a->dual_stack ? 0 : 1;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
			goto err;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto err;
	if (shared && listen(fd, DP_LISTEN_BACKLOG) < 0)
		goto err;
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}

int dp_listen_check_free(const struct dp_listen_addr *a)
{
	char name[DP_LISTEN_PEER_MAX];
	int fd;

	if (dp_listen_port(a) == 0)
		return 0;
	fd = open_one(a, false);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd != -EADDRINUSE)
		return 0; /* not a conflict; dp_listen_open reports real errors */
	dp_listen_format((const struct sockaddr *)&a->ss, name);
	tern_log(TERN_LOG_ERR, "cannot listen on %s: address already in use", name);
	return fd;
}

int dp_listen_open(struct dp_listen_addr *a)
{
	int fd = open_one(a, true);

	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
		if (a->dual_stack) {
			tern_log(TERN_LOG_NOTICE, "IPv6 unavailable (%s): listening on IPv4 only",
				 strerror(-fd));
			set_v4_any(a, dp_listen_port(a));
			fd = open_one(a, true);
		}
	}
	if (fd < 0) {
		char name[DP_LISTEN_PEER_MAX];

		dp_listen_format((const struct sockaddr *)&a->ss, name);
		tern_log(TERN_LOG_ERR, "cannot listen on %s: %s", name, strerror(-fd));
		return fd;
	}
	if (dp_listen_port(a) == 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		set_port(a,
			 ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							: ((struct sockaddr_in *)&ss)->sin_port));
	}
	return fd;
}

void dp_listen_format(const struct sockaddr *sa, char *buf)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port = 0;

	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	} else {
		snprintf(host, sizeof(host), "?");
	}
	snprintf(buf, DP_LISTEN_PEER_MAX, "%s:%u", host, port);
}

const char *dp_listen_family(const struct dp_listen_addr *a)
{
	return a->ss.ss_family == AF_INET6 ? "ipv6" : "ipv4";
}

void dp_listen_describe(const struct dp_listen_addr *a, char *buf)
{
	char host[INET6_ADDRSTRLEN] = "";
	const void *ip;

	if (a->ss.ss_family == AF_INET6)
		ip = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	else
		ip = &((const struct sockaddr_in *)&a->ss)->sin_addr;
	inet_ntop(a->ss.ss_family, ip, host, sizeof(host));
	/* mosquitto's wording for the wildcard, so logs read the same. */
	if (a->dual_stack || strcmp(host, "0.0.0.0") == 0)
		snprintf(buf, DP_LISTEN_PEER_MAX, "%s listen socket on port %u",
			 dp_listen_family(a), (unsigned)dp_listen_port(a));
	else
		snprintf(buf, DP_LISTEN_PEER_MAX, "%s listen socket on %s port %u",
			 dp_listen_family(a), host, (unsigned)dp_listen_port(a));
}
