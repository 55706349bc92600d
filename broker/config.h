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
#define TERN_CONFIG_PATH_MAX	  1024 /* a config line is at most 1023 bytes */
/* A client cannot make the broker buffer more than this of one packet unless configured. */
#define TERN_DEFAULT_MAX_PACKET_SIZE (1024u * 1024u)

#define TERN_CONFIG_MAX_DPDK_ADDRS 15 /* the stack adds the IPv6 link-local address */

enum tern_dataplane_kind {
	TERN_DATAPLANE_SOCK = 0,
	TERN_DATAPLANE_DPDK = 1,
};

/*
 * Who may connect and what they may do: one set for the whole broker, or one
 * per listener with per_listener_settings true (as mosquitto).
 */
struct tern_security_config {
	bool allow_anonymous;			  /* default true */
	char password_file[TERN_CONFIG_PATH_MAX]; /* "" = none */
	char acl_file[TERN_CONFIG_PATH_MAX];	  /* "" = none: every client may do everything */
};

/* Longest cipher list, NUL included (paths use TERN_CONFIG_PATH_MAX). */
#define TERN_CONFIG_CIPHERS_MAX 512

/* Lowest TLS version a listener accepts (tls_version). */
enum tern_tls_version {
	TERN_TLS_V12 = 0, /* the default: TLS 1.2 and 1.3 */
	TERN_TLS_V13 = 1, /* TLS 1.3 only */
};

/*
 * TLS settings of one listener: mosquitto's keys that follow its `listener`
 * line. A listener with a certfile is a TLS listener; every string "" = unset.
 * The dataplane builds one TLS context per TLS listener at startup.
 */
struct tern_tls_config {
	char certfile[TERN_CONFIG_PATH_MAX];	     /* PEM server certificate (chain) */
	char keyfile[TERN_CONFIG_PATH_MAX];	     /* PEM private key of certfile */
	char cafile[TERN_CONFIG_PATH_MAX];	     /* PEM CAs that sign client certificates */
	char capath[TERN_CONFIG_PATH_MAX];	     /* directory of hashed CA files (c_rehash) */
	char ciphers[TERN_CONFIG_CIPHERS_MAX];	     /* TLS 1.2 cipher list, OpenSSL syntax */
	char ciphers_tls13[TERN_CONFIG_CIPHERS_MAX]; /* TLS 1.3 cipher suites */
	enum tern_tls_version min_version;
	bool require_certificate;      /* mutual TLS: clients must present a valid certificate */
	bool use_identity_as_username; /* client certificate subject CN = MQTT user name */
};

struct tern_listener_config {
	uint16_t port;
	char addr[64];			      /* "" = every IPv4 and IPv6 address */
	struct tern_security_config security; /* used with per_listener_settings true */
	struct tern_tls_config tls;
	/* Limits set after this listener's line (mosquitto: listener-scoped keys). */
	int64_t max_connections;      /* open connections on this listener; -1 = unlimited */
	uint32_t max_connection_rate; /* new connections a second; 0 = unlimited */
};

/* True when the listener speaks TLS (it has a certfile). */
static inline bool tern_listener_is_tls(const struct tern_listener_config *l)
{
	return l->tls.certfile[0] != '\0';
}

struct tern_config {
	struct tern_listener_config listeners[TERN_CONFIG_MAX_LISTENERS];
	unsigned n_listeners; /* 0 after parsing means the default: port 1883, all addresses */

	unsigned workers; /* 0 = one per online core */
	enum tern_dataplane_kind dataplane;
	bool sock_io_uring; /* sock: batch each turn's sends in one io_uring call; default true */

	bool allow_anonymous;		/* default true */
	uint32_t max_queued_messages;	/* per session, QoS 1/2 waiting to be sent; 0 = unlimited;
					   default 1000 */
	uint64_t max_queued_bytes;	/* per session; 0 = unlimited */
	uint16_t max_inflight_messages; /* per session, QoS 1/2 sent and unacknowledged; 0 = 65535;
					   default 20 */
	uint32_t max_packet_size;    /* largest packet accepted from clients; 0 = protocol maximum;
					default TERN_DEFAULT_MAX_PACKET_SIZE */
	uint32_t message_size_limit; /* largest PUBLISH payload accepted; 0 = unlimited */
	uint16_t max_keepalive;	     /* more, or 0 below 65535, is refused; default 65535 */
	int64_t max_connections;     /* all listeners together (a line before any listener); -1 =
					unlimited */
	uint32_t sys_interval;	     /* seconds between $SYS updates; 0 = off; default 10 */
	bool retain_available;	     /* default true */
	uint64_t persistent_client_expiration; /* seconds; 0 = never expire */
	uint64_t max_output_bytes; /* per connection output queue bound for QoS 0; default 8 MiB */
	uint32_t connect_timeout;  /* seconds a new socket may take to send CONNECT; default 10 */
	uint16_t max_topic_alias;  /* 5.0 topic aliases a client may set; 0 = none; default 10 */
	unsigned log_mask;	   /* enum tern_log_level bits; default TERN_LOG_DEFAULT */
	/* Overload limits (0 = unlimited unless said otherwise). */
	uint32_t max_connection_rate;	 /* before any listener: every listener's default */
	uint64_t max_publish_rate;	 /* PUBLISH packets a second per client */
	uint64_t max_publish_bytes_rate; /* PUBLISH bytes a second per client */
	uint64_t memory_limit;		 /* bytes of queued data in the whole broker */
	uint32_t max_subscriptions;	 /* filters per client */
	bool log_type_set; /* a log_type line was applied: the next ones add to log_mask */

	/*
	 * Security: allow_anonymous above, password_file and acl_file hold the
	 * last value given anywhere in the file (per_listener_settings false).
	 * With per_listener_settings true each listener uses the lines after
	 * it (listeners[i].security), and default_security (the lines before
	 * the first listener) serves the default listener and -p listeners.
	 */
	char password_file[TERN_CONFIG_PATH_MAX];
	char acl_file[TERN_CONFIG_PATH_MAX];
	bool per_listener_settings;
	struct tern_security_config default_security;

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
 * without the DPDK dataplane) or that contradict each other (a listener's TLS
 * keys: see tern_config_check_tls). Returns 0 or -EINVAL with the reason in err.
 * Thread-safe.
 */
int tern_config_validate(const struct tern_config *c, char *err, size_t errlen);

/*
 * Check one listener's TLS keys together: keyfile, cafile, capath, ciphers,
 * tls_version or require_certificate without certfile; certfile without
 * keyfile; require_certificate without cafile or capath;
 * use_identity_as_username without require_certificate. Returns 0 or -EINVAL
 * with "listener PORT: reason" in err. Does not open the files (the dataplane
 * does, at startup). Thread-safe.
 */
int tern_config_check_tls(const struct tern_listener_config *l, char *err, size_t errlen);

/*
 * Add a listener (plain TCP; TLS keys are set on it afterwards) with no
 * limits of its own (max_connection_rate: the config's current default); -ENOSPC past
 * TERN_CONFIG_MAX_LISTENERS, -EINVAL for port 0 or an address of 64 bytes or more, -EEXIST if the
 * same port and address are already listed. addr NULL or "" = every address. Thread-safe for
 * distinct c.
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
