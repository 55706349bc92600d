/* SPDX-License-Identifier: MIT */
/*
 * Broker configuration: defaults, the mosquitto-style config file parser and
 * validation. A parse error names file:line and leaves nothing half-applied.
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERN_CONFIG_MAX_LISTENERS 16
#define TERN_DEFAULT_PORT	  1883

#define TERN_CONFIG_MAX_DPDK_ADDRS 15 /* the stack adds the IPv6 link-local address */

enum tern_dataplane_kind {
	TERN_DATAPLANE_SOCK = 0,
	TERN_DATAPLANE_DPDK = 1,
};

struct tern_listener_config {
	uint16_t port;
	char addr[64]; /* "" = every IPv4 and IPv6 address */
};

struct tern_config {
	struct tern_listener_config listeners[TERN_CONFIG_MAX_LISTENERS];
	unsigned n_listeners; /* 0 after parsing means the default: port 1883, all addresses */

	unsigned workers; /* 0 = one per online core */
	enum tern_dataplane_kind dataplane;

	bool allow_anonymous;		/* default true */
	uint32_t max_queued_messages;	/* per session, QoS 1/2 waiting to be sent; 0 = unlimited;
					   default 1000 */
	uint64_t max_queued_bytes;	/* per session; 0 = unlimited */
	uint16_t max_inflight_messages; /* per session, QoS 1/2 sent and unacknowledged; 0 = 65535;
					   default 20 */
	uint32_t max_packet_size; /* largest packet accepted from clients; 0 = protocol maximum */
	uint32_t message_size_limit; /* largest PUBLISH payload accepted; 0 = unlimited */
	uint16_t max_keepalive;	     /* more, or 0 below 65535, is refused; default 65535 */
	int64_t max_connections;     /* -1 = unlimited */
	uint32_t sys_interval;	     /* seconds between $SYS updates; 0 = off; default 10 */
	bool retain_available;	     /* default true */
	uint64_t persistent_client_expiration; /* seconds; 0 = never expire */
	uint64_t max_output_bytes; /* per connection output queue bound for QoS 0; default 8 MiB */
	uint32_t connect_timeout;  /* seconds a new socket may take to send CONNECT; default 10 */
	unsigned log_mask;	   /* enum tern_log_level bits; default TERN_LOG_DEFAULT */
	bool log_type_set;	   /* a log_type line was applied: the next ones add to log_mask */

	/* The DPDK dataplane (dataplane dpdk); addresses are kept as written, checked. */
	char dpdk_eal[1024]; /* EAL arguments, space separated; "" = none */
	uint16_t dpdk_port;  /* ethdev port id; default 0 */
	char dpdk_addresses[TERN_CONFIG_MAX_DPDK_ADDRS][64]; /* "ADDR/PREFIX" */
	unsigned n_dpdk_addresses;
	char dpdk_gateway4[64]; /* "" = none */
	char dpdk_gateway6[64];
	bool dpdk_fault; /* dpdk_fault given: the seeded fault layer is on */
	uint64_t dpdk_fault_seed;
	uint32_t dpdk_fault_ppm[3]; /* drop, duplicate, reorder; parts per million */
};

/* Fill c with the defaults documented in deploy/tern.conf. Thread-safe. */
void tern_config_defaults(struct tern_config *c);

/*
 * Parse a config file into c (which holds defaults or earlier values), then
 * check it with tern_config_validate. On error returns -EINVAL (or -errno when
 * the file cannot be opened or read) and writes "FILE:LINE: reason" (or
 * "FILE: reason" for I/O errors) into err; c is then unchanged. Lines are at
 * most 1023 bytes. Thread-safe (no shared state).
 */
int tern_config_load(struct tern_config *c, const char *path, char *err, size_t errlen);

/*
 * Apply one "key value..." line (same syntax as the file: blank lines and
 * '#' comments are accepted and change nothing; a word starting with '#' ends
 * the line). The line is split in place. Returns 0, or -EINVAL with the reason
 * in err (without file:line); c may then be partly changed (tern_config_load
 * works on a copy). Thread-safe for distinct c.
 */
int tern_config_apply_line(struct tern_config *c, char *line, char *err, size_t errlen);

/*
 * Check settings that parse but cannot run in this build (today: dataplane dpdk
 * without the DPDK dataplane). Returns 0 or -EINVAL with the reason in err.
 * Thread-safe.
 */
int tern_config_validate(const struct tern_config *c, char *err, size_t errlen);

/*
 * Add a listener; -ENOSPC past TERN_CONFIG_MAX_LISTENERS, -EINVAL for port 0 or
 * an address of 64 bytes or more, -EEXIST if the same port and address are
 * already listed. addr NULL or "" = every address. Thread-safe for distinct c.
 */
int tern_config_add_listener(struct tern_config *c, uint16_t port, const char *addr);

/*
 * Parse a duration into seconds: digits with an optional unit, as mosquitto's
 * persistent_client_expiration: s (seconds, also no unit), h (hours), d (days),
 * w (weeks), m (months of 30 days), y (years of 365 days). "m" is months, not
 * minutes, as in mosquitto. -EINVAL if bad or past 2^64-1 seconds. Thread-safe.
 */
int tern_config_parse_duration(const char *s, uint64_t *seconds);

/*
 * Parse "ADDR" (want_prefix false) or "ADDR/PREFIX" (IPv4 or IPv6) as the
 * dpdk_address and dpdk_gateway keys take them: *family is AF_INET or
 * AF_INET6, addr gets 4 or 16 bytes in network order, *prefix_len 1..32 or
 * 1..128 (the full length without a prefix). Unspecified and multicast
 * addresses are refused. Returns 0 or -EINVAL. Thread-safe.
 */
int tern_config_parse_ip(const char *s, bool want_prefix, int *family, uint8_t addr[16],
			 unsigned *prefix_len);

#endif
