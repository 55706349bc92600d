/* SPDX-License-Identifier: MIT */
/*
 * The mosquitto-style config file: one "key value..." a line, '#' comments.
 * Keys are looked up in one table; a key mosquitto has and tern does not yet is
 * refused by name, so a copied mosquitto.conf never half-works in silence.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/log.h"
#include "broker/ratelimit.h"

#define LINE_MAX_BYTES		 1023 /* without the newline, as config.h says */
#define MAX_ARGS		 8
#define MQTT_MAX_PACKET		 268435455u /* largest Remaining Length MQTT can encode */
#define MAX_WORKERS		 64
#define DEFAULT_MAX_OUTPUT_BYTES (8u * 1024 * 1024)

struct keydef;
typedef int (*keydef_fn)(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			 char *err, size_t errlen);

enum keydef_kind {
	OPT_BOOL,
	OPT_UINT, /* unsigned field of size `size`, range min..max */
	OPT_CUSTOM,
};

struct keydef {
	const char *name;
	enum keydef_kind kind;
	size_t offset;
	size_t size;
	uint64_t min;
	uint64_t max;
	keydef_fn fn;
};

/* Keys of mosquitto 2.0 that tern refuses by name until it implements them. */
static const char *const unsupported[] = {
    "allow_duplicate_messages",
    "allow_zero_length_clientid",
    "auth_plugin",
    "auto_id_prefix",
    "autosave_interval",
    "autosave_on_changes",
    "bind_address",
    "bind_interface",
    "check_retain_source",
    "clientid_prefixes",
    "connection_messages",
    "crlfile",
    "dhparamfile",
    "enable_control_api",
    "http_dir",
    "include_dir",
    "log_facility",
    "log_timestamp",
    "log_timestamp_format",
    "max_inflight_bytes",
    "max_qos",
    "mount_point",
    "persistence",
    "persistence_file",
    "persistence_location",
    "pid_file",
    "plugin",
    "protocol",
    "psk_file",
    "psk_hint",
    "queue_qos0_messages",
    "retry_interval",
    "set_tcp_nodelay",
    "socket_domain",
    "store_clean_interval",
    "tls_engine",
    "tls_engine_kpass_sha1",
    "tls_keyform",
    "upgrade_outgoing_qos",
    "use_subject_as_username",
    "use_username_as_clientid",
    "user",
    "websockets_headers_size",
    "websockets_log_level",
    /* bridges */
    "address",
    "addresses",
    "cleansession",
    "clientid",
    "connection",
    "idle_timeout",
    "keepalive_interval",
    "local_cleansession",
    "local_clientid",
    "local_password",
    "local_username",
    "notification_topic",
    "notifications",
    "notifications_local_only",
    "remote_clientid",
    "remote_password",
    "remote_username",
    "restart_timeout",
    "round_robin",
    "start_type",
    "threshold",
    "topic",
    "try_private",
};

static const char *const unsupported_prefixes[] = {
    "auth_opt_",
    "bridge_",
    "plugin_opt_",
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * strtoull alone accepts leading blanks, '+' and '-' (wrapping "-1" to
 * UINT64_MAX) and trailing junk; a config value must be plain decimal digits.
 * Returns 0, -EINVAL (not a number) or -ERANGE (past UINT64_MAX).
 */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*v = x;
	return 0;
}

static int parse_ranged(const char *key, const char *s, uint64_t min, uint64_t max, uint64_t *v,
			char *err, size_t errlen)
{
	int rc = parse_u64(s, v);

	if (rc == -EINVAL)
		return fail(err, errlen, "'%s': '%s' is not a number", key, s);
	if (rc == -ERANGE || *v < min || *v > max)
		return fail(err, errlen, "'%s': %s is out of range (%" PRIu64 "..%" PRIu64 ")", key,
			    s, min, max);
	return 0;
}

static int want_args(const char *key, int argc, int min, int max, const char *what, char *err,
		     size_t errlen)
{
	if (argc < min)
		return fail(err, errlen, "'%s' needs %s", key, what);
	if (argc > max)
		return fail(err, errlen, "'%s' takes %s, got %d values", key, what, argc);
	return 0;
}

static void store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case sizeof(uint16_t): {
		uint16_t x = (uint16_t)v;
		memcpy(field, &x, sizeof(x));
		break;
	}
	case sizeof(uint32_t): {
		uint32_t x = (uint32_t)v;
		memcpy(field, &x, sizeof(x));
		break;
	}
	default: {
		uint64_t x = v;
		memcpy(field, &x, sizeof(x));
		break;
	}
	}
}

/* Letters, digits, '-', '_' in dot-separated labels; an all-digit last label is a bad IPv4 address.
 */
static bool valid_hostname(const char *s)
{
	size_t label = 0;
	bool digits_only = true;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
			digits_only = true;
		} else if (isalnum((unsigned char)*s) || (*s == '-' && label > 0) || *s == '_') {
			label++;
			if (!isdigit((unsigned char)*s))
				digits_only = false;
		} else {
			return false;
		}
	}
	return label > 0 && !digits_only;
}

/* An IPv6 literal may carry a zone ("fe80::1%eth0") that getaddrinfo resolves later. */
static bool valid_ipv6(const char *s)
{
	char buf[64];
	unsigned char addr[16];
	const char *pct = strchr(s, '%');
	size_t n = pct ? (size_t)(pct - s) : strlen(s);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return false;
	if (!pct)
		return true;
	if (!pct[1])
		return false;
	for (const char *z = pct + 1; *z; z++)
		if (!isalnum((unsigned char)*z) && !strchr("-_.", *z))
			return false;
	return true;
}

static int check_addr(const char *addr, char *err, size_t errlen)
{
	unsigned char a4[4];

	if (strlen(addr) >= sizeof(((struct tern_listener_config *)0)->addr))
		return fail(err, errlen,
			    "'listener': address '%.20s...' is longer than 63 characters", addr);
	if (addr[0] == '/')
		return fail(err, errlen, "'listener': unix socket listeners are not supported yet");
	if (addr[0] == '[')
		return fail(err, errlen, "'listener': write IPv6 addresses without brackets ('%s')",
			    addr);
	if (inet_pton(AF_INET, addr, a4) == 1)
		return 0;
	if (strchr(addr, ':')) {
		if (valid_ipv6(addr))
			return 0;
		return fail(err, errlen, "'listener': '%s' is not a valid IPv6 address", addr);
	}
	if (!valid_hostname(addr))
		return fail(err, errlen, "'listener': '%s' is not an IP address or host name",
			    addr);
	return 0;
}

static int add_listener_checked(struct tern_config *c, const char *key, uint16_t port,
				const char *addr, char *err, size_t errlen)
{
	int rc = tern_config_add_listener(c, port, addr);

	if (rc == -ENOSPC)
		return fail(err, errlen, "'%s': more than %d listeners", key,
			    TERN_CONFIG_MAX_LISTENERS);
	if (rc == -EEXIST)
		return fail(err, errlen, "'%s': port %u on %s is already a listener", key,
			    (unsigned)port, addr && *addr ? addr : "all addresses");
	if (rc < 0)
		return fail(err, errlen, "'%s': invalid listener", key);
	return 0;
}

static int opt_listener(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			char *err, size_t errlen)
{
	uint64_t port;
	const char *addr = argc > 1 ? argv[1] : "";
	int rc;

	rc = want_args(o->name, argc, 1, 2, "a port and an optional address", err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_ranged(o->name, argv[0], 1, 65535, &port, err, errlen);
	if (rc < 0)
		return rc;
	if (*addr) {
		rc = check_addr(addr, err, errlen);
		if (rc < 0)
			return rc;
	}
	return add_listener_checked(c, o->name, (uint16_t)port, addr, err, errlen);
}

/* mosquitto's older "port N": a listener on every address. */
static int opt_port(struct tern_config *c, const struct keydef *o, int argc, char **argv, char *err,
		    size_t errlen)
{
	uint64_t port;
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one port", err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_ranged(o->name, argv[0], 1, 65535, &port, err, errlen);
	if (rc < 0)
		return rc;
	return add_listener_checked(c, o->name, (uint16_t)port, "", err, errlen);
}

static int opt_max_packet_size(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			       char *err, size_t errlen)
{
	uint64_t v;
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one value", err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_ranged(o->name, argv[0], 0, MQTT_MAX_PACKET, &v, err, errlen);
	if (rc < 0)
		return rc;
	/* mosquitto refuses limits that would break even an empty PUBLISH or CONNECT. */
	if (v > 0 && v < 20)
		return fail(err, errlen, "'%s': %s is below 20 (use 0 for no limit)", o->name,
			    argv[0]);
	c->max_packet_size = (uint32_t)v;
	return 0;
}

/* As mosquitto: after a listener line the limit is that listener's; before any, tern's total. */
static void set_max_connections(struct tern_config *c, int64_t v)
{
	if (c->n_listeners)
		c->listeners[c->n_listeners - 1].max_connections = v;
	else
		c->max_connections = v;
}

/* After a listener line: that listener's; before any: the default of listeners added later. */
static int opt_max_connection_rate(struct tern_config *c, const struct keydef *o, int argc,
				   char **argv, char *err, size_t errlen)
{
	uint64_t v;
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one value", err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_ranged(o->name, argv[0], 0, UINT32_MAX, &v, err, errlen);
	if (rc < 0)
		return rc;
	if (c->n_listeners)
		c->listeners[c->n_listeners - 1].max_connection_rate = (uint32_t)v;
	else
		c->max_connection_rate = (uint32_t)v;
	return 0;
}

static int opt_max_connections(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			       char *err, size_t errlen)
{
	uint64_t v;
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one value", err, errlen);
	if (rc < 0)
		return rc;
	if (strcmp(argv[0], "-1") == 0) {
		set_max_connections(c, -1);
		return 0;
	}
	if (argv[0][0] == '-')
		return fail(err, errlen,
			    "'%s': %s is out of range (-1 for unlimited, or 0..%" PRId64 ")",
			    o->name, argv[0], INT64_MAX);
	rc = parse_ranged(o->name, argv[0], 0, INT64_MAX, &v, err, errlen);
	if (rc < 0)
		return rc;
	set_max_connections(c, (int64_t)v);
	return 0;
}

static int opt_persistent_client_expiration(struct tern_config *c, const struct keydef *o, int argc,
					    char **argv, char *err, size_t errlen)
{
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one duration", err, errlen);
	if (rc < 0)
		return rc;
	if (tern_config_parse_duration(argv[0], &c->persistent_client_expiration) < 0)
		return fail(
		    err, errlen,
		    "'%s': '%s' is not a duration (a number with an optional unit s, h, d, w, "
		    "m = months, y)",
		    o->name, argv[0]);
	return 0;
}

static int opt_log_type(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			char *err, size_t errlen)
{
	unsigned mask;
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one type", err, errlen);
	if (rc < 0)
		return rc;
	if (strcmp(argv[0], "subscribe") == 0 || strcmp(argv[0], "unsubscribe") == 0 ||
	    strcmp(argv[0], "websockets") == 0)
		return fail(err, errlen, "'log_type %s' is not supported yet", argv[0]);
	if (tern_log_type_parse(argv[0], &mask) < 0)
		return fail(err, errlen,
			    "'%s': unknown type '%s' (error, warning, notice, information, debug, "
			    "all, none)",
			    o->name, argv[0]);
	/* As mosquitto: the first log_type replaces the default, later ones add, none clears. */
	if (!c->log_type_set || mask == 0)
		c->log_mask = mask;
	else
		c->log_mask |= mask;
	c->log_type_set = true;
	return 0;
}

static int opt_log_dest(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			char *err, size_t errlen)
{
	if (argc < 1)
		return fail(err, errlen, "'%s' needs a destination", o->name);
	if (strcmp(argv[0], "stderr") != 0)
		return fail(err, errlen, "'log_dest %s' is not supported yet (only stderr)",
			    argv[0]);
	if (argc > 1)
		return fail(err, errlen, "'log_dest stderr' takes no more values, got %d",
			    argc - 1);
	return 0;
}

static int opt_dataplane(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			 char *err, size_t errlen)
{
	int rc;

	rc = want_args(o->name, argc, 1, 1, "one of sock, dpdk", err, errlen);
	if (rc < 0)
		return rc;
	if (strcmp(argv[0], "sock") == 0)
		c->dataplane = TERN_DATAPLANE_SOCK;
	else if (strcmp(argv[0], "dpdk") == 0)
		c->dataplane = TERN_DATAPLANE_DPDK;
	else
		return fail(err, errlen, "'%s': '%s' is not sock or dpdk", o->name, argv[0]);
	return 0;
}

/* The security section the next security line applies to (config.h). */
static struct tern_security_config *current_security(struct tern_config *c)
{
	return c->n_listeners ? &c->listeners[c->n_listeners - 1].security : &c->default_security;
}

static int opt_allow_anonymous(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			       char *err, size_t errlen)
{
	int rc = want_args(o->name, argc, 1, 1, "true or false", err, errlen);

	if (rc < 0)
		return rc;
	if (strcmp(argv[0], "true") != 0 && strcmp(argv[0], "false") != 0)
		return fail(err, errlen, "'%s': '%s' is not true or false", o->name, argv[0]);
	c->allow_anonymous = strcmp(argv[0], "true") == 0;
	current_security(c)->allow_anonymous = c->allow_anonymous;
	return 0;
}

/* password_file and acl_file: a path, kept in the global and the current section. */
static int opt_security_file(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			     char *err, size_t errlen)
{
	bool pw = strcmp(o->name, "password_file") == 0;
	struct tern_security_config *sec = current_security(c);
	int rc = want_args(o->name, argc, 1, 1, "one path (without spaces)", err, errlen);

	if (rc < 0)
		return rc;
	if (strlen(argv[0]) >= TERN_CONFIG_PATH_MAX)
		return fail(err, errlen, "'%s': path longer than %d bytes", o->name,
			    TERN_CONFIG_PATH_MAX - 1);
	snprintf(pw ? c->password_file : c->acl_file, TERN_CONFIG_PATH_MAX, "%s", argv[0]);
	snprintf(pw ? sec->password_file : sec->acl_file, TERN_CONFIG_PATH_MAX, "%s", argv[0]);
	return 0;
}

/* The listener that TLS keys apply to: the latest `listener` (or `port`) line, as mosquitto. */
static struct tern_listener_config *tls_listener(struct tern_config *c, const char *key, int argc,
						 int min, int max, const char *what, char *err,
						 size_t errlen)
{
	if (want_args(key, argc, min, max, what, err, errlen) < 0)
		return NULL;
	if (c->n_listeners == 0) {
		fail(err, errlen, "'%s' must follow the 'listener' line it applies to", key);
		return NULL;
	}
	return &c->listeners[c->n_listeners - 1];
}

/* certfile, keyfile, cafile, capath, ciphers, ciphers_tls1.3: one string each. */
static int opt_tls_string(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			  char *err, size_t errlen)
{
	struct tern_listener_config *l =
	    tls_listener(c, o->name, argc, 1, 1, "one value", err, errlen);
	char *field;

	if (!l)
		return -EINVAL;
	field = (char *)l + o->offset;
	if (strlen(argv[0]) >= o->size)
		return fail(err, errlen, "'%s': longer than %zu characters", o->name, o->size - 1);
	memcpy(field, argv[0], strlen(argv[0]) + 1);
	return 0;
}

static int opt_tls_bool(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			char *err, size_t errlen)
{
	struct tern_listener_config *l =
	    tls_listener(c, o->name, argc, 1, 1, "true or false", err, errlen);
	bool *field;

	if (!l)
		return -EINVAL;
	field = (bool *)((char *)l + o->offset);
	if (strcmp(argv[0], "true") == 0)
		*field = true;
	else if (strcmp(argv[0], "false") == 0)
		*field = false;
	else
		return fail(err, errlen, "'%s': '%s' is not true or false", o->name, argv[0]);
	return 0;
}

/* mosquitto's tls_version is the lowest version the listener accepts. */
static int opt_tls_version(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			   char *err, size_t errlen)
{
	struct tern_listener_config *l =
	    tls_listener(c, o->name, argc, 1, 1, "one of tlsv1.2, tlsv1.3", err, errlen);

	if (!l)
		return -EINVAL;
	if (strcmp(argv[0], "tlsv1.2") == 0)
		l->tls.min_version = TERN_TLS_V12;
	else if (strcmp(argv[0], "tlsv1.3") == 0)
		l->tls.min_version = TERN_TLS_V13;
	else if (strcmp(argv[0], "tlsv1.1") == 0 || strcmp(argv[0], "tlsv1") == 0)
		return fail(err, errlen, "'%s': %s is not supported (TLS 1.2 is the lowest)",
			    o->name, argv[0]);
	else
		return fail(err, errlen, "'%s': '%s' is not tlsv1.2 or tlsv1.3", o->name, argv[0]);
	return 0;
}

int tern_config_parse_ip(const char *s, bool want_prefix, int *family, uint8_t addr[16],
			 unsigned *prefix_len)
{
	char buf[64], *slash;
	uint64_t plen;
	unsigned max;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!want_prefix != !slash)
		return -EINVAL;
	if (slash)
		*slash = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		max = 32;
		if (addr[0] == 0 || addr[0] >= 224)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		static const uint8_t zero[16];

		*family = AF_INET6;
		max = 128;
		if (addr[0] == 0xff || memcmp(addr, zero, 16) == 0)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	*prefix_len = max;
	if (slash) {
		if (parse_u64(slash + 1, &plen) < 0 || plen == 0 || plen > max)
			return -EINVAL;
		*prefix_len = (unsigned)plen;
	}
	return 0;
}

/* The one value of an address key, checked; *family tells which it is. */
static int ip_arg(const struct keydef *o, int argc, char **argv, bool want_prefix, int *family,
		  char *err, size_t errlen)
{
	uint8_t addr[16];
	unsigned plen;
	int rc;

	rc = want_args(o->name, argc, 1, 1, want_prefix ? "one ADDR/PREFIX" : "one address", err,
		       errlen);
	if (rc < 0)
		return rc;
	if (tern_config_parse_ip(argv[0], want_prefix, family, addr, &plen) < 0)
		return fail(err, errlen, "'%s': '%s' is not a unicast IPv4 or IPv6 address%s",
			    o->name, argv[0], want_prefix ? " with a /prefix length" : "");
	return 0;
}

static int opt_dpdk_address(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			    char *err, size_t errlen)
{
	int rc, family;

	rc = ip_arg(o, argc, argv, true, &family, err, errlen);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < c->n_dpdk_addresses; i++)
		if (strcmp(c->dpdk_addresses[i], argv[0]) == 0)
			return fail(err, errlen, "'%s': %s is listed twice", o->name, argv[0]);
	if (c->n_dpdk_addresses == TERN_CONFIG_MAX_DPDK_ADDRS)
		return fail(err, errlen, "'%s': at most %d addresses", o->name,
			    TERN_CONFIG_MAX_DPDK_ADDRS);
	snprintf(c->dpdk_addresses[c->n_dpdk_addresses++], sizeof(c->dpdk_addresses[0]), "%s",
		 argv[0]);
	return 0;
}

static int opt_dpdk_gateway(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			    char *err, size_t errlen)
{
	int rc, family;

	rc = ip_arg(o, argc, argv, false, &family, err, errlen);
	if (rc < 0)
		return rc;
	/* One gateway per family; a later line replaces an earlier one. */
	if (family == AF_INET)
		snprintf(c->dpdk_gateway4, sizeof(c->dpdk_gateway4), "%s", argv[0]);
	else
		snprintf(c->dpdk_gateway6, sizeof(c->dpdk_gateway6), "%s", argv[0]);
	return 0;
}

static int opt_dpdk_fault(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			  char *err, size_t errlen)
{
	uint64_t v[4];
	int rc;

	rc = want_args(o->name, argc, 4, 4, "SEED DROP_PPM DUP_PPM REORDER_PPM", err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_ranged(o->name, argv[0], 0, UINT64_MAX, &v[0], err, errlen);
	for (int i = 1; i < 4 && rc == 0; i++)
		rc = parse_ranged(o->name, argv[i], 0, 1000000, &v[i], err, errlen);
	if (rc < 0)
		return rc;
	c->dpdk_fault = true;
	c->dpdk_fault_seed = v[0];
	for (int i = 0; i < 3; i++)
		c->dpdk_fault_ppm[i] = (uint32_t)v[i + 1];
	return 0;
}

/* dpdk_eal takes a whole command line, more words than MAX_ARGS: rest is the line after the key. */
static int opt_dpdk_eal(struct tern_config *c, char *rest, char *err, size_t errlen)
{
	char *save = NULL, *tok;
	size_t len = 0;

	c->dpdk_eal[0] = '\0';
	for (tok = strtok_r(rest, " \t\r\n\v\f", &save); tok && tok[0] != '#';
	     tok = strtok_r(NULL, " \t\r\n\v\f", &save)) {
		size_t n = strlen(tok);

		if (len + n + 2 > sizeof(c->dpdk_eal))
			return fail(err, errlen, "'dpdk_eal': longer than %zu bytes",
				    sizeof(c->dpdk_eal) - 1);
		if (len)
			c->dpdk_eal[len++] = ' ';
		memcpy(c->dpdk_eal + len, tok, n + 1);
		len += n;
	}
	if (len == 0)
		return fail(err, errlen, "'dpdk_eal' needs EAL arguments");
	return 0;
}

#define UINT_OPT(n, field, lo, hi)                                                                 \
	{                                                                                          \
		.name = (n), .kind = OPT_UINT, .offset = offsetof(struct tern_config, field),      \
		.size = sizeof(((struct tern_config *)0)->field), .min = (lo), .max = (hi)         \
	}
#define BOOL_OPT(n, field)                                                                         \
	{                                                                                          \
		.name = (n), .kind = OPT_BOOL, .offset = offsetof(struct tern_config, field)       \
	}
#define CUSTOM_OPT(n, f)                                                                           \
	{                                                                                          \
		.name = (n), .kind = OPT_CUSTOM, .fn = (f)                                         \
	}

#define TLS_OPT(n, field, f)                                                                       \
	{                                                                                          \
		.name = (n), .kind = OPT_CUSTOM, .fn = (f),                                        \
		.offset = offsetof(struct tern_listener_config, tls.field),                        \
		.size = sizeof(((struct tern_listener_config *)0)->tls.field)                      \
	}

static const struct keydef keydefs[] = {
    CUSTOM_OPT("listener", opt_listener),
    CUSTOM_OPT("port", opt_port),
    CUSTOM_OPT("allow_anonymous", opt_allow_anonymous),
    UINT_OPT("max_queued_messages", max_queued_messages, 0, UINT32_MAX),
    UINT_OPT("max_queued_bytes", max_queued_bytes, 0, UINT64_MAX),
    UINT_OPT("max_inflight_messages", max_inflight_messages, 0, UINT16_MAX),
    CUSTOM_OPT("max_packet_size", opt_max_packet_size),
    UINT_OPT("message_size_limit", message_size_limit, 0, MQTT_MAX_PACKET),
    UINT_OPT("max_keepalive", max_keepalive, 0, UINT16_MAX),
    CUSTOM_OPT("max_connections", opt_max_connections),
    UINT_OPT("sys_interval", sys_interval, 0, UINT32_MAX),
    BOOL_OPT("retain_available", retain_available),
    CUSTOM_OPT("persistent_client_expiration", opt_persistent_client_expiration),
    CUSTOM_OPT("log_type", opt_log_type),
    CUSTOM_OPT("log_dest", opt_log_dest),
    UINT_OPT("workers", workers, 0, MAX_WORKERS),
    CUSTOM_OPT("dataplane", opt_dataplane),
    BOOL_OPT("sock_io_uring", sock_io_uring),
    /* A bound below one small packet would drop every QoS 0 message. */
    UINT_OPT("max_output_bytes", max_output_bytes, 1024, UINT64_MAX),
    UINT_OPT("connect_timeout", connect_timeout, 1, 86400),
    UINT_OPT("max_topic_alias", max_topic_alias, 0, UINT16_MAX),
    CUSTOM_OPT("password_file", opt_security_file),
    CUSTOM_OPT("acl_file", opt_security_file),
    BOOL_OPT("per_listener_settings", per_listener_settings),
    TLS_OPT("certfile", certfile, opt_tls_string),
    TLS_OPT("keyfile", keyfile, opt_tls_string),
    TLS_OPT("cafile", cafile, opt_tls_string),
    TLS_OPT("capath", capath, opt_tls_string),
    TLS_OPT("ciphers", ciphers, opt_tls_string),
    TLS_OPT("ciphers_tls1.3", ciphers_tls13, opt_tls_string),
    TLS_OPT("tls_version", min_version, opt_tls_version),
    TLS_OPT("require_certificate", require_certificate, opt_tls_bool),
    TLS_OPT("use_identity_as_username", use_identity_as_username, opt_tls_bool),
    CUSTOM_OPT("max_connection_rate", opt_max_connection_rate),
    UINT_OPT("max_publish_rate", max_publish_rate, 0, TERN_RATELIMIT_MAX_RATE),
    UINT_OPT("max_publish_bytes_rate", max_publish_bytes_rate, 0, TERN_RATELIMIT_MAX_RATE),
    UINT_OPT("memory_limit", memory_limit, 0, UINT64_MAX),
    UINT_OPT("max_subscriptions", max_subscriptions, 0, UINT32_MAX),
    UINT_OPT("dpdk_port", dpdk_port, 0, 1023),
    CUSTOM_OPT("dpdk_address", opt_dpdk_address),
    CUSTOM_OPT("dpdk_gateway", opt_dpdk_gateway),
    CUSTOM_OPT("dpdk_fault", opt_dpdk_fault),
};

static bool is_unsupported(const char *key)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (strcmp(key, unsupported[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(unsupported_prefixes) / sizeof(unsupported_prefixes[0]); i++)
		if (strncmp(key, unsupported_prefixes[i], strlen(unsupported_prefixes[i])) == 0)
			return true;
	return false;
}

static int apply_option(struct tern_config *c, const struct keydef *o, int argc, char **argv,
			char *err, size_t errlen)
{
	uint64_t v;
	int rc;

	switch (o->kind) {
	case OPT_BOOL:
		rc = want_args(o->name, argc, 1, 1, "true or false", err, errlen);
		if (rc < 0)
			return rc;
		if (strcmp(argv[0], "true") == 0)
			*(bool *)((char *)c + o->offset) = true;
		else if (strcmp(argv[0], "false") == 0)
			*(bool *)((char *)c + o->offset) = false;
		else
			return fail(err, errlen, "'%s': '%s' is not true or false", o->name,
				    argv[0]);
		return 0;
	case OPT_UINT:
		rc = want_args(o->name, argc, 1, 1, "one value", err, errlen);
		if (rc < 0)
			return rc;
		rc = parse_ranged(o->name, argv[0], o->min, o->max, &v, err, errlen);
		if (rc < 0)
			return rc;
		store_uint((char *)c + o->offset, o->size, v);
		return 0;
	case OPT_CUSTOM:
		return o->fn(c, o, argc, argv, err, errlen);
	}
	return fail(err, errlen, "'%s': internal error", o->name);
}

void tern_config_defaults(struct tern_config *c)
{
	memset(c, 0, sizeof(*c));
	c->n_listeners = 0;
	c->workers = 0;
	c->dataplane = TERN_DATAPLANE_SOCK;
	c->allow_anonymous = true;
	c->max_queued_messages = 1000;
	c->max_queued_bytes = 0;
	c->max_inflight_messages = 20;
	c->max_topic_alias = 10;
	c->max_packet_size = TERN_DEFAULT_MAX_PACKET_SIZE;
	c->message_size_limit = 0;
	c->max_keepalive = 65535;
	c->max_connections = -1;
	c->sys_interval = 10;
	c->retain_available = true;
	c->sock_io_uring = true;
	c->persistent_client_expiration = 0;
	c->max_output_bytes = DEFAULT_MAX_OUTPUT_BYTES;
	c->connect_timeout = 10;
	c->log_mask = TERN_LOG_DEFAULT;
	c->log_type_set = false;
	c->per_listener_settings = false;
	c->default_security.allow_anonymous = true;
}

int tern_config_add_listener(struct tern_config *c, uint16_t port, const char *addr)
{
	struct tern_listener_config *l;

	if (!addr)
		addr = "";
	if (port == 0 || strlen(addr) >= sizeof(l->addr))
		return -EINVAL;
	for (unsigned i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].port == port && strcmp(c->listeners[i].addr, addr) == 0)
			return -EEXIST;
	if (c->n_listeners >= TERN_CONFIG_MAX_LISTENERS)
		return -ENOSPC;
	l = &c->listeners[c->n_listeners++];
	/* -p replaces the config's listeners: none may inherit an old one's TLS keys. */
	memset(l, 0, sizeof(*l));
	l->port = port;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->security.allow_anonymous = true;
	l->max_connections = -1;
	l->max_connection_rate = c->max_connection_rate;
	return 0;
}

int tern_config_parse_duration(const char *s, uint64_t *seconds)
{
	char digits[32];
	size_t n = 0;
	uint64_t v, mult = 1;

	if (!s)
		return -EINVAL;
	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_u64(digits, &v) < 0)
		return -EINVAL;
	if (s[n] != '\0') {
		if (s[n + 1] != '\0')
			return -EINVAL;
		switch (s[n]) {
		case 's':
			mult = 1;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		case 'w':
			mult = 7 * 86400;
			break;
		case 'm': /* mosquitto: months of 30 days */
			mult = 30 * 86400;
			break;
		case 'y': /* mosquitto: years of 365 days */
			mult = 365 * 86400;
			break;
		default:
			return -EINVAL;
		}
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*seconds = v * mult;
	return 0;
}

int tern_config_apply_line(struct tern_config *c, char *line, char *err, size_t errlen)
{
	char *argv[MAX_ARGS];
	char *save = NULL, *tok, *key;
	int argc = 0;

	key = strtok_r(line, " \t\r\n\v\f", &save);
	if (!key || key[0] == '#')
		return 0;
	if (strcmp(key, "dpdk_eal") == 0)
		return opt_dpdk_eal(c, save ? save : key + strlen(key), err, errlen);
	while ((tok = strtok_r(NULL, " \t\r\n\v\f", &save)) != NULL) {
		if (tok[0] == '#')
			break;
		if (argc == MAX_ARGS)
			return fail(err, errlen, "'%s': too many values", key);
		argv[argc++] = tok;
	}

	for (size_t i = 0; i < sizeof(keydefs) / sizeof(keydefs[0]); i++)
		if (strcmp(key, keydefs[i].name) == 0)
			return apply_option(c, &keydefs[i], argc, argv, err, errlen);
	if (is_unsupported(key))
		return fail(err, errlen, "'%s' is not supported yet", key);
	return fail(err, errlen, "unknown option '%s'", key);
}

int tern_config_check_tls(const struct tern_listener_config *l, char *err, size_t errlen)
{
	const struct tern_tls_config *t = &l->tls;
	const char *without = NULL;

	if (!t->certfile[0]) {
		if (t->keyfile[0])
			without = "keyfile";
		else if (t->cafile[0])
			without = "cafile";
		else if (t->capath[0])
			without = "capath";
		else if (t->ciphers[0])
			without = "ciphers";
		else if (t->ciphers_tls13[0])
			without = "ciphers_tls1.3";
		else if (t->min_version != TERN_TLS_V12)
			without = "tls_version";
		else if (t->require_certificate)
			without = "require_certificate";
		else if (t->use_identity_as_username)
			without = "use_identity_as_username";
		if (without)
			return fail(err, errlen, "listener %u: %s needs certfile (a TLS listener)",
				    (unsigned)l->port, without);
		return 0;
	}
	if (!t->keyfile[0])
		return fail(err, errlen, "listener %u: certfile needs keyfile", (unsigned)l->port);
	if (t->require_certificate && !t->cafile[0] && !t->capath[0])
		return fail(err, errlen,
			    "listener %u: require_certificate needs cafile or capath to check "
			    "client certificates",
			    (unsigned)l->port);
	if (t->use_identity_as_username && !t->require_certificate)
		return fail(err, errlen,
			    "listener %u: use_identity_as_username needs require_certificate true",
			    (unsigned)l->port);
	return 0;
}

int tern_config_validate(const struct tern_config *c, char *err, size_t errlen)
{
#ifndef TERN_HAVE_DPDK
	if (c->dataplane == TERN_DATAPLANE_DPDK)
		return fail(err, errlen, "dataplane dpdk: this build has no DPDK dataplane");
#else
	if (c->dataplane == TERN_DATAPLANE_DPDK && c->n_dpdk_addresses == 0)
		return fail(err, errlen, "dataplane dpdk: needs at least one dpdk_address");
#endif
	for (unsigned i = 0; i < c->n_listeners; i++)
		if (tern_config_check_tls(&c->listeners[i], err, errlen) < 0)
			return -EINVAL;
	return 0;
}

int tern_config_load(struct tern_config *c, const char *path, char *err, size_t errlen)
{
	char line[LINE_MAX_BYTES + 2]; /* + the newline and the NUL */
	char reason[256];
	struct tern_config copy = *c;
	unsigned lineno = 0, dataplane_line = 0;
	unsigned listener_line[TERN_CONFIG_MAX_LISTENERS] = {0}; /* 0: given before this file */
	unsigned n_before = c->n_listeners;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		fail(err, errlen, "%s: %s", path, strerror_r(-rc, reason, sizeof(reason)));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		char *p = line;

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
			rc = fail(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
				  LINE_MAX_BYTES);
			goto out;
		}
		/* Editors on other systems may prepend a UTF-8 byte order mark. */
		if (lineno == 1 && (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb &&
		    (unsigned char)p[2] == 0xbf)
			p += 3;
		reason[0] = '\0';
		rc = tern_config_apply_line(&copy, p, reason, sizeof(reason));
		if (rc < 0) {
			fail(err, errlen, "%s:%u: %s", path, lineno, reason);
			goto out;
		}
		if (copy.n_listeners > n_before && !listener_line[copy.n_listeners - 1])
			listener_line[copy.n_listeners - 1] = lineno;
		/* apply_line split p in place, so p now holds just the key; validation names its
		 * line. */
		if (strcmp(p + strspn(p, " \t\v\f"), "dataplane") == 0)
			dataplane_line = lineno;
	}
	if (ferror(f)) {
		/* fgets was the last call, so errno is its reason (EISDIR for a directory). */
		rc = errno ? -errno : -EIO;
		fail(err, errlen, "%s: %s", path, strerror_r(-rc, reason, sizeof(reason)));
		goto out;
	}
	/* A listener's TLS keys are checked together, at the line of that listener. */
	for (unsigned i = 0; i < copy.n_listeners; i++) {
		rc = tern_config_check_tls(&copy.listeners[i], reason, sizeof(reason));
		if (rc < 0 && listener_line[i]) {
			fail(err, errlen, "%s:%u: %s", path, listener_line[i], reason);
			goto out;
		}
		if (rc < 0) {
			fail(err, errlen, "%s: %s", path, reason);
			goto out;
		}
	}
	rc = tern_config_validate(&copy, reason, sizeof(reason));
	if (rc < 0) {
		if (dataplane_line)
			fail(err, errlen, "%s:%u: %s", path, dataplane_line, reason);
		else
			fail(err, errlen, "%s: %s", path, reason);
		goto out;
	}
	*c = copy;
out:
	fclose(f);
	return rc;
}
