/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of broker/config.c (defaults, every key, every kind of bad line,
 * deploy/tern.conf) and of the pure parts of broker/log.c (log_type names, the
 * rate limiter, the line format).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/config.h"
#include "broker/log.h"

#ifndef TERN_SOURCE_ROOT
#error "tests/unit/meson.build passes TERN_SOURCE_ROOT"
#endif

/* Write text to a fresh temporary file; the caller unlinks path. */
static void write_temp(char *path, size_t pathlen, const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(path, pathlen, "/tmp/tern-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Load text from a temp file into c; returns tern_config_load's result, err filled. */
static int load_text(struct tern_config *c, const char *text, char *err, size_t errlen, char *path,
		     size_t pathlen)
{
	int rc;

	write_temp(path, pathlen, text);
	rc = tern_config_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

static int apply(struct tern_config *c, const char *line, char *err, size_t errlen)
{
	char buf[1100];

	snprintf(buf, sizeof(buf), "%s", line);
	return tern_config_apply_line(c, buf, err, errlen);
}

static void test_defaults(void **state)
{
	struct tern_config c;

	memset(&c, 0xa5, sizeof(c));
	tern_config_defaults(&c);
	assert_int_equal(c.n_listeners, 0);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_SOCK);
	assert_true(c.allow_anonymous);
	assert_int_equal(c.max_queued_messages, 1000);
	assert_int_equal(c.max_queued_bytes, 0);
	assert_int_equal(c.max_inflight_messages, 20);
	assert_int_equal(c.max_packet_size, TERN_DEFAULT_MAX_PACKET_SIZE);
	assert_int_equal(c.message_size_limit, 0);
	assert_int_equal(c.max_keepalive, 65535);
	assert_true(c.max_connections == -1);
	assert_int_equal(c.sys_interval, 10);
	assert_true(c.retain_available);
	assert_int_equal(c.persistent_client_expiration, 0);
	assert_int_equal(c.max_output_bytes, 8u * 1024 * 1024);
	assert_int_equal(c.connect_timeout, 10);
	assert_int_equal(c.log_mask, TERN_LOG_DEFAULT);
	assert_false(c.log_type_set);
	assert_int_equal(c.max_connection_rate, 0);
	assert_int_equal(c.max_publish_rate, 0);
	assert_int_equal(c.max_publish_bytes_rate, 0);
	assert_int_equal(c.memory_limit, 0);
	assert_int_equal(c.max_subscriptions, 0);
	assert_int_equal(tern_config_validate(&c, NULL, 0), 0);
}

static void test_every_key(void **state)
{
	static const char text[] = "# a comment\n"
				   "\n"
				   "   \t\n"
				   "max_connections 5000\n"
				   "max_connection_rate 7\n"
				   "  listener 1883  \n"
				   "max_connections 10\n"
				   "max_connection_rate 0\n"
				   "listener 8883 ::1\n"
				   "listener\t1884\t127.0.0.1   # trailing comment\n"
				   "listener 1885 broker.example.com\n"
				   "listener 1886 fe80::1%lo\n"
				   "port 1887\n"
				   "allow_anonymous false\n"
				   "max_queued_messages 5\n"
				   "max_queued_bytes 18446744073709551615\n"
				   "max_inflight_messages 65535\n"
				   "max_packet_size 20\n"
				   "message_size_limit 268435455\n"
				   "max_keepalive 0\n"
				   "max_connections 100000\n"
				   "sys_interval 0\n"
				   "retain_available false\n"
				   "persistent_client_expiration 14d\n"
				   "log_type error\n"
				   "log_type debug\n"
				   "log_dest stderr\n"
				   "workers 64\n"
				   "dataplane sock\n"
				   "max_output_bytes 1048576\n"
				   "connect_timeout 30\r\n"
				   "max_publish_rate 100\n"
				   "max_publish_bytes_rate 1099511627776\n"
				   "memory_limit 18446744073709551615\n"
				   "max_subscriptions 50000\n";
	struct tern_config c;
	char err[256] = "", path[64];

	tern_config_defaults(&c);
	assert_int_equal(load_text(&c, text, err, sizeof(err), path, sizeof(path)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.n_listeners, 6);
	assert_int_equal(c.listeners[0].port, 1883);
	assert_string_equal(c.listeners[0].addr, "");
	assert_int_equal(c.listeners[1].port, 8883);
	assert_string_equal(c.listeners[1].addr, "::1");
	assert_int_equal(c.listeners[2].port, 1884);
	assert_string_equal(c.listeners[2].addr, "127.0.0.1");
	assert_string_equal(c.listeners[3].addr, "broker.example.com");
	assert_string_equal(c.listeners[4].addr, "fe80::1%lo");
	assert_int_equal(c.listeners[5].port, 1887);
	assert_string_equal(c.listeners[5].addr, "");
	assert_false(c.allow_anonymous);
	assert_int_equal(c.max_queued_messages, 5);
	assert_true(c.max_queued_bytes == UINT64_MAX);
	assert_int_equal(c.max_inflight_messages, 65535);
	assert_int_equal(c.max_packet_size, 20);
	assert_int_equal(c.message_size_limit, 268435455);
	assert_int_equal(c.max_keepalive, 0);
	/* Listener-scoped as in mosquitto: the last listener line's; before any, the total. */
	assert_true(c.max_connections == 5000);
	assert_true(c.listeners[5].max_connections == 100000);
	assert_true(c.listeners[0].max_connections == 10);
	assert_true(c.listeners[1].max_connections == -1);
	assert_int_equal(c.max_connection_rate, 7);
	assert_int_equal(c.listeners[0].max_connection_rate, 0);
	assert_int_equal(c.listeners[1].max_connection_rate, 7);
	assert_int_equal(c.max_publish_rate, 100);
	assert_true(c.max_publish_bytes_rate == (UINT64_C(1) << 40));
	assert_true(c.memory_limit == UINT64_MAX);
	assert_int_equal(c.max_subscriptions, 50000);
	assert_int_equal(c.sys_interval, 0);
	assert_false(c.retain_available);
	assert_int_equal(c.persistent_client_expiration, 14 * 86400);
	assert_int_equal(c.log_mask, TERN_LOG_ERR | TERN_LOG_DEBUG);
	assert_int_equal(c.workers, 64);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_SOCK);
	assert_int_equal(c.max_output_bytes, 1048576);
	assert_int_equal(c.connect_timeout, 30);
}

static void test_bounds_accepted(void **state)
{
	static const char *const lines[] = {
	    "listener 65535",
	    "listener 1 0.0.0.0",
	    "max_inflight_messages 0",
	    "max_packet_size 0",
	    "max_packet_size 268435455",
	    "max_keepalive 65535",
	    "max_connections -1",
	    "max_connections 0",
	    "max_connections 9223372036854775807",
	    "workers 0",
	    "max_queued_messages 4294967295",
	    "sys_interval 4294967295",
	    "message_size_limit 0",
	    "max_output_bytes 1024",
	    "connect_timeout 1",
	    "connect_timeout 86400",
	    "allow_anonymous true",
	    "retain_available true",
	    "log_type all",
	    "log_type none",
	    "persistent_client_expiration 0",
	    "",
	    "# only a comment",
	    "   # indented comment",
	};
	struct tern_config c;
	char err[256];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		tern_config_defaults(&c);
		err[0] = '\0';
		if (apply(&c, lines[i], err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", lines[i], err);
	}
	tern_config_defaults(&c);
	assert_int_equal(apply(&c, "max_connections 9223372036854775807", err, sizeof(err)), 0);
	assert_true(c.max_connections == INT64_MAX);
}

/* Every one of these must fail in a file with "FILE:3: " and a reason containing `why`. */
static void test_malformed(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
	    {"listener", "needs"},
	    {"listener 0", "out of range"},
	    {"listener 65536", "out of range"},
	    {"listener -1", "not a number"},
	    {"listener 18446744073709551617", "out of range"},
	    {"listener 1883 ::1 extra", "got 3"},
	    {"listener abc", "not a number"},
	    {"listener 1883x", "not a number"},
	    {"listener +1883", "not a number"},
	    {"listener 0x10", "not a number"},
	    {"listener 1883 300.1.1.1.1", "not an IP address"},
	    {"listener 1883 ::zz", "not a valid IPv6"},
	    {"listener 1883 [::1]", "brackets"},
	    {"listener 1883 /run/tern.sock", "unix socket"},
	    {"listener 1883 bad_host!", "not an IP address"},
	    {"listener 1883 "
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	     "longer than 63"},
	    {"port", "needs"},
	    {"port 70000", "out of range"},
	    {"port 1883 ::1", "got 2"},
	    {"allow_anonymous", "needs"},
	    {"allow_anonymous yes", "not true or false"},
	    {"allow_anonymous True", "not true or false"},
	    {"allow_anonymous ture", "not true or false"},
	    {"allow_anonymous true false", "got 2"},
	    {"retain_available 1", "not true or false"},
	    {"max_queued_messages -1", "not a number"},
	    {"max_queued_messages 4294967296", "out of range"},
	    {"max_queued_messages", "needs"},
	    {"max_queued_bytes 18446744073709551616", "out of range"},
	    {"max_queued_bytes 1k", "not a number"},
	    {"max_inflight_messages 65536", "out of range"},
	    {"max_publish_rate 1099511627777", "out of range"},
	    {"max_publish_bytes_rate -1", "not a number"},
	    {"max_connection_rate 4294967296", "out of range"},
	    {"max_subscriptions 1 2", "takes one value"},
	    {"max_inflight_messages 1.5", "not a number"},
	    {"max_packet_size 19", "below 20"},
	    {"max_packet_size 1", "below 20"},
	    {"max_packet_size 268435456", "out of range"},
	    {"message_size_limit 268435456", "out of range"},
	    {"max_keepalive 65536", "out of range"},
	    {"max_keepalive -5", "not a number"},
	    {"max_connections -2", "out of range"},
	    {"max_connections 9223372036854775808", "out of range"},
	    {"max_connections --1", "out of range"},
	    {"max_connections", "needs"},
	    {"sys_interval 4294967296", "out of range"},
	    {"sys_interval 10 20", "got 2"},
	    {"persistent_client_expiration", "needs"},
	    {"persistent_client_expiration 5x", "not a duration"},
	    {"persistent_client_expiration d", "not a duration"},
	    {"persistent_client_expiration 1dd", "not a duration"},
	    {"persistent_client_expiration -1d", "not a duration"},
	    {"persistent_client_expiration 99999999999999999999y", "not a duration"},
	    {"log_type", "needs"},
	    {"log_type verbose", "unknown type"},
	    {"log_type Error", "unknown type"},
	    {"log_type error warning", "got 2"},
	    {"log_type subscribe", "not supported yet"},
	    {"log_dest", "needs"},
	    {"log_dest syslog", "not supported yet (only stderr)"},
	    {"log_dest file /var/log/tern.log", "not supported yet (only stderr)"},
	    {"log_dest stderr stdout", "no more values"},
	    {"workers 65", "out of range"},
	    {"workers many", "not a number"},
	    {"dataplane", "needs"},
	    {"dataplane xdp", "not sock or dpdk"},
	    {"dataplane sock dpdk", "got 2"},
	    {"max_output_bytes 1023", "out of range"},
	    {"max_output_bytes 0", "out of range"},
	    {"connect_timeout 0", "out of range"},
	    {"connect_timeout 86401", "out of range"},
	    {"max_keepalive 1 2 3 4 5 6 7 8 9", "too many values"},
	};
	struct tern_config c, before;
	char err[512], text[1200], path[64], want[600];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tern_config_defaults(&c);
		before = c;
		err[0] = '\0';
		snprintf(text, sizeof(text),
			 "max_queued_messages 7\nlistener 1999\n%s\nworkers 3\n", cases[i].line);
		if (load_text(&c, text, err, sizeof(err), path, sizeof(path)) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].line);
		snprintf(want, sizeof(want), "%s:3: ", path);
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, cases[i].why))
			fail_msg("'%s': error '%s' lacks '%s' or '%s'", cases[i].line, err, want,
				 cases[i].why);
		/* The two good lines before the bad one must not have leaked into c. */
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

static void test_unknown_and_unsupported(void **state)
{
	static const char *const unsupported[] = {
	    "persistence true",
	    "persistence_location /var/lib/tern/",
	    "autosave_interval 1800",
	    "crlfile /etc/tern/crl.pem",
	    "psk_file /etc/tern/psk",
	    "dhparamfile /etc/tern/dh.pem",
	    "use_subject_as_username true",
	    "connection bridge-01",
	    "address 10.0.0.1:1883",
	    "bridge_protocol_version mqttv50",
	    "auth_opt_db x",
	    "plugin_opt_x y",
	    "user mosquitto",
	    "pid_file /run/tern.pid",
	};
	struct tern_config c;
	char err[512], text[256], path[64], want[300];
	char key[64];

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		tern_config_defaults(&c);
		snprintf(text, sizeof(text), "# header\n%s\n", unsupported[i]);
		assert_int_equal(load_text(&c, text, err, sizeof(err), path, sizeof(path)),
				 -EINVAL);
		sscanf(unsupported[i], "%63s", key);
		snprintf(want, sizeof(want), "%s:2: '%s' is not supported yet", path, key);
		assert_string_equal(err, want);
	}

	tern_config_defaults(&c);
	assert_int_equal(
	    load_text(&c, "listener 1883\n\n\nfoo bar\n", err, sizeof(err), path, sizeof(path)),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s:4: unknown option 'foo'", path);
	assert_string_equal(err, want);
	assert_int_equal(c.n_listeners, 0);

	/* Keys are case-sensitive, as in mosquitto. */
	assert_int_equal(apply(&c, "Listener 1883", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown option 'Listener'");
}

static void test_listeners(void **state)
{
	struct tern_config c;
	char err[256], line[64];

	tern_config_defaults(&c);
	assert_int_equal(apply(&c, "listener 1883", err, sizeof(err)), 0);
	assert_int_equal(apply(&c, "listener 1883 ::1", err, sizeof(err)), 0);
	assert_int_equal(apply(&c, "listener 1883 127.0.0.1", err, sizeof(err)), 0);
	assert_int_equal(c.n_listeners, 3);
	/* The same port and address twice would be two sockets fighting over one port. */
	assert_int_equal(apply(&c, "listener 1883 ::1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "already a listener"));
	assert_int_equal(apply(&c, "port 1883", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "already a listener"));
	assert_int_equal(c.n_listeners, 3);

	for (unsigned i = c.n_listeners; i < TERN_CONFIG_MAX_LISTENERS; i++) {
		snprintf(line, sizeof(line), "listener %u", 2000 + i);
		assert_int_equal(apply(&c, line, err, sizeof(err)), 0);
	}
	assert_int_equal(c.n_listeners, TERN_CONFIG_MAX_LISTENERS);
	assert_int_equal(apply(&c, "listener 3000", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 16 listeners"));

	tern_config_defaults(&c);
	assert_int_equal(tern_config_add_listener(&c, 0, ""), -EINVAL);
	assert_int_equal(tern_config_add_listener(&c, 1883, NULL), 0);
	assert_string_equal(c.listeners[0].addr, "");
	assert_int_equal(tern_config_add_listener(&c, 1883, ""), -EEXIST);
	assert_int_equal(
	    tern_config_add_listener(
		&c, 1884, "0123456789012345678901234567890123456789012345678901234567890123"),
	    -EINVAL);
	assert_int_equal(
	    tern_config_add_listener(
		&c, 1884, "012345678901234567890123456789012345678901234567890123456789012"),
	    0);
	assert_int_equal(c.n_listeners, 2);

	/* "port" is mosquitto's old spelling of a listener on every address. */
	tern_config_defaults(&c);
	assert_int_equal(apply(&c, "port 1999", err, sizeof(err)), 0);
	assert_int_equal(c.n_listeners, 1);
	assert_int_equal(c.listeners[0].port, 1999);
	assert_string_equal(c.listeners[0].addr, "");
}

static void test_tls_keys(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *reason;
	} bad[] = {
	    {"certfile /c.pem\nlistener 8883\n", 1,
	     "'certfile' must follow the 'listener' line it applies to"},
	    {"listener 1883\nlistener 8883\nkeyfile /k.pem\n", 2,
	     "listener 8883: keyfile needs certfile (a TLS listener)"},
	    {"listener 8883\ncafile /ca.pem\n", 1,
	     "listener 8883: cafile needs certfile (a TLS listener)"},
	    {"listener 8883\ntls_version tlsv1.3\n", 1,
	     "listener 8883: tls_version needs certfile (a TLS listener)"},
	    {"listener 8883\ncertfile /c.pem\n\n", 1, "listener 8883: certfile needs keyfile"},
	    {"listener 8883\ncertfile /c.pem\nkeyfile /k.pem\nrequire_certificate true\n", 1,
	     "listener 8883: require_certificate needs cafile or capath to check client "
	     "certificates"},
	    {"listener 8883\ncertfile /c.pem\nkeyfile /k.pem\ncafile /ca.pem\n"
	     "use_identity_as_username true\n",
	     1, "listener 8883: use_identity_as_username needs require_certificate true"},
	    {"listener 8883\ncertfile /c.pem\nkeyfile /k.pem\ntls_version tlsv1.1\n", 4,
	     "'tls_version': tlsv1.1 is not supported (TLS 1.2 is the lowest)"},
	    {"listener 8883\ncertfile /c.pem\nkeyfile /k.pem\ntls_version sslv3\n", 4,
	     "'tls_version': 'sslv3' is not tlsv1.2 or tlsv1.3"},
	    {"listener 8883\nrequire_certificate yes\n", 2,
	     "'require_certificate': 'yes' is not true or false"},
	    {"listener 8883\ncertfile\n", 2, "'certfile' needs one value"},
	    {"listener 8883\ncertfile /a /b\n", 2, "'certfile' takes one value, got 2 values"},
	};
	struct tern_config c;
	char err[512], path[64], want[600], text[1200];
	const struct tern_tls_config *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tern_config_defaults(&c);
		assert_int_equal(load_text(&c, bad[i].text, err, sizeof(err), path, sizeof(path)),
				 -EINVAL);
		snprintf(want, sizeof(want), "%s:%u: %s", path, bad[i].line, bad[i].reason);
		assert_string_equal(err, want);
		assert_int_equal(c.n_listeners, 0);
	}

	/* Each key applies to the listener above it; the plain one keeps none. */
	tern_config_defaults(&c);
	assert_int_equal(
	    load_text(&c,
		      "listener 1883\n"
		      "listener 8883 ::1\n"
		      "certfile /etc/tern/server.crt\n"
		      "keyfile /etc/tern/server.key\n"
		      "cafile /etc/tern/ca.crt\n"
		      "capath /etc/ssl/certs\n"
		      "require_certificate true\n"
		      "use_identity_as_username true\n"
		      "tls_version tlsv1.3\n"
		      "ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256\n"
		      "ciphers_tls1.3 TLS_AES_128_GCM_SHA256\n"
		      "listener 8884\n"
		      "certfile /c.pem\n"
		      "keyfile /k.pem\n",
		      err, sizeof(err), path, sizeof(path)),
	    0);
	assert_int_equal(c.n_listeners, 3);
	assert_false(tern_listener_is_tls(&c.listeners[0]));
	assert_true(tern_listener_is_tls(&c.listeners[1]));
	t = &c.listeners[1].tls;
	assert_string_equal(t->certfile, "/etc/tern/server.crt");
	assert_string_equal(t->keyfile, "/etc/tern/server.key");
	assert_string_equal(t->cafile, "/etc/tern/ca.crt");
	assert_string_equal(t->capath, "/etc/ssl/certs");
	assert_true(t->require_certificate);
	assert_true(t->use_identity_as_username);
	assert_int_equal(t->min_version, TERN_TLS_V13);
	assert_string_equal(t->ciphers,
			    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_string_equal(t->ciphers_tls13, "TLS_AES_128_GCM_SHA256");
	t = &c.listeners[2].tls;
	assert_true(tern_listener_is_tls(&c.listeners[2]));
	assert_false(t->require_certificate);
	assert_int_equal(t->min_version, TERN_TLS_V12);
	assert_string_equal(t->cafile, "");

	/* A cipher list of 512 bytes does not fit: refused, not cut. */
	tern_config_defaults(&c);
	memset(want, 'a', 512);
	want[512] = '\0';
	snprintf(text, sizeof(text), "listener 8883\nciphers %s\n", want);
	assert_int_equal(load_text(&c, text, err, sizeof(err), path, sizeof(path)), -EINVAL);
	assert_non_null(strstr(err, ":2: 'ciphers': longer than 511 characters"));

	/* deploy/tern.conf documents each TLS key with a sample line that applies to a listener. */
	{
		static const char *const keys[] = {
		    "certfile",
		    "keyfile",
		    "cafile",
		    "capath",
		    "require_certificate",
		    "use_identity_as_username",
		    "tls_version",
		    "ciphers",
		    "ciphers_tls1.3",
		};
		char conf[4096], line[1024];

		snprintf(conf, sizeof(conf), "%s/deploy/tern.conf", TERN_SOURCE_ROOT);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t n = strlen(keys[k]);
			bool found = false;
			FILE *f = fopen(conf, "r");

			assert_non_null(f);
			while (fgets(line, sizeof(line), f)) {
				if (line[0] != '#' || strncmp(line + 1, keys[k], n) != 0 ||
				    line[1 + n] != ' ')
					continue;
				tern_config_defaults(&c);
				assert_int_equal(apply(&c, "listener 8883", err, sizeof(err)), 0);
				if (tern_config_apply_line(&c, line + 1, err, sizeof(err)) != 0)
					fail_msg("sample line '%s' refused: %s", line, err);
				found = true;
			}
			fclose(f);
			if (!found)
				fail_msg("deploy/tern.conf does not document '%s'", keys[k]);
		}
	}

	/* -p after a config replaces its listeners: a new one never inherits TLS keys. */
	tern_config_defaults(&c);
	assert_int_equal(load_text(&c, "listener 8883\ncertfile /c\nkeyfile /k\n", err, sizeof(err),
				   path, sizeof(path)),
			 0);
	c.n_listeners = 0;
	assert_int_equal(tern_config_add_listener(&c, 1999, ""), 0);
	assert_false(tern_listener_is_tls(&c.listeners[0]));
	assert_string_equal(c.listeners[0].tls.keyfile, "");
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t seconds;
	} good[] = {
	    {"0", 0},
	    {"3600", 3600},
	    {"90s", 90},
	    {"2h", 7200},
	    {"14d", 14 * 86400},
	    {"1w", 7 * 86400},
	    {"2m", 60 * 86400}, /* months, as mosquitto, not minutes */
	    {"1y", 365 * 86400},
	    {"18446744073709551615", UINT64_MAX},
	    {"18446744073709551615s", UINT64_MAX},
	};
	static const char *const bad[] = {
	    "",
	    "s",
	    "h1",
	    "1 h",
	    " 1h",
	    "1H",
	    "1.5d",
	    "-1",
	    "+1",
	    "1hh",
	    "1x",
	    "0x10",
	    "18446744073709551616",
	    "18446744073709551615h",
	    "99999999999999999999999999999999y",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (tern_config_parse_duration(good[i].s, &v) != 0)
			fail_msg("'%s' refused", good[i].s);
		assert_true(v == good[i].seconds);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (tern_config_parse_duration(bad[i], &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(v == 12345);
	}
	assert_int_equal(tern_config_parse_duration(NULL, &v), -EINVAL);
}

static void test_log_type_lines(void **state)
{
	struct tern_config c;
	char err[256];

	tern_config_defaults(&c);
	/* The first log_type replaces the default mask... */
	assert_int_equal(apply(&c, "log_type warning", err, sizeof(err)), 0);
	assert_int_equal(c.log_mask, TERN_LOG_WARNING);
	/* ...later ones add... */
	assert_int_equal(apply(&c, "log_type debug", err, sizeof(err)), 0);
	assert_int_equal(c.log_mask, TERN_LOG_WARNING | TERN_LOG_DEBUG);
	/* ...none clears, and types after it add again. */
	assert_int_equal(apply(&c, "log_type none", err, sizeof(err)), 0);
	assert_int_equal(c.log_mask, 0);
	assert_int_equal(apply(&c, "log_type error", err, sizeof(err)), 0);
	assert_int_equal(c.log_mask, TERN_LOG_ERR);
	assert_int_equal(apply(&c, "log_type all", err, sizeof(err)), 0);
	assert_int_equal(c.log_mask, TERN_LOG_ALL);

	tern_config_defaults(&c);
	assert_int_equal(apply(&c, "log_type none", err, sizeof(err)), 0);
	assert_int_equal(c.log_mask, 0);
}

static void test_dataplane(void **state)
{
	struct tern_config c;
	char err[512], path[64], want[600];

	tern_config_defaults(&c);
	assert_int_equal(apply(&c, "dataplane dpdk", err, sizeof(err)), 0);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_DPDK);
#ifndef TERN_HAVE_DPDK
	assert_int_equal(tern_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dataplane dpdk: this build has no DPDK dataplane");

	tern_config_defaults(&c);
	assert_int_equal(load_text(&c, "workers 2\ndataplane dpdk\nlistener 1883\n", err,
				   sizeof(err), path, sizeof(path)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:2: dataplane dpdk: this build has no DPDK dataplane",
		 path);
	assert_string_equal(err, want);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_SOCK);
#else
	assert_int_equal(tern_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dataplane dpdk: needs at least one dpdk_address");

	tern_config_defaults(&c);
	assert_int_equal(load_text(&c, "workers 2\ndataplane dpdk\nlistener 1883\n", err,
				   sizeof(err), path, sizeof(path)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:2: dataplane dpdk: needs at least one dpdk_address", path);
	assert_string_equal(err, want);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_SOCK);

	tern_config_defaults(&c);
	assert_int_equal(load_text(&c, "dataplane dpdk\ndpdk_address 198.18.0.2/24\n", err,
				   sizeof(err), path, sizeof(path)),
			 0);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_DPDK);
#endif
	tern_config_defaults(&c);
	assert_int_equal(
	    load_text(&c, "dataplane dpdk\ndataplane sock\n", err, sizeof(err), path, sizeof(path)),
	    0);
	assert_int_equal(c.dataplane, TERN_DATAPLANE_SOCK);
}

static void test_dpdk_keys(void **state)
{
	struct tern_config c;
	char err[512];
	uint8_t addr[16];
	unsigned plen;
	int family;
	static const char *const bad[][2] = {
	    {"dpdk_eal", "needs EAL arguments"},
	    {"dpdk_eal # only a comment", "needs EAL arguments"},
	    {"dpdk_port 1024", "out of range"},
	    {"dpdk_address 198.18.0.2", "with a /prefix length"},
	    {"dpdk_address 198.18.0.2/33", "with a /prefix length"},
	    {"dpdk_address 198.18.0.2/0", "with a /prefix length"},
	    {"dpdk_address 224.0.0.1/4", "with a /prefix length"},
	    {"dpdk_address ff02::1/64", "with a /prefix length"},
	    {"dpdk_address ::/64", "with a /prefix length"},
	    {"dpdk_address 2001:2::2/129", "with a /prefix length"},
	    {"dpdk_address example.com/24", "with a /prefix length"},
	    {"dpdk_address 198.18.0.2/24 198.18.0.3/24", "got 2"},
	    {"dpdk_gateway 198.18.0.1/24", "is not a unicast"},
	    {"dpdk_gateway", "needs one address"},
	    {"dpdk_fault 1 2 3", "SEED DROP_PPM"},
	    {"dpdk_fault 1 1000001 0 0", "out of range"},
	    {"dpdk_fault x 0 0 0", "not a number"},
	};

	(void)state;
	tern_config_defaults(&c);
	assert_int_equal(c.dpdk_port, 0);
	assert_string_equal(c.dpdk_eal, "");
	/* More words than other keys take; a '#' word ends the line. */
	assert_int_equal(apply(&c,
			       "dpdk_eal -l 0-2 --no-huge -m 256 --no-pci "
			       "--vdev=net_af_packet0,iface=x,qpairs=2 --file-prefix=t  # note",
			       err, sizeof(err)),
			 0);
	assert_string_equal(c.dpdk_eal, "-l 0-2 --no-huge -m 256 --no-pci "
					"--vdev=net_af_packet0,iface=x,qpairs=2 --file-prefix=t");
	assert_int_equal(apply(&c, "dpdk_port 3", err, sizeof(err)), 0);
	assert_int_equal(c.dpdk_port, 3);
	assert_int_equal(apply(&c, "dpdk_address 198.18.0.2/24", err, sizeof(err)), 0);
	assert_int_equal(apply(&c, "dpdk_address 2001:2::2/64", err, sizeof(err)), 0);
	assert_int_equal(c.n_dpdk_addresses, 2);
	assert_string_equal(c.dpdk_addresses[1], "2001:2::2/64");
	assert_int_equal(apply(&c, "dpdk_address 198.18.0.2/24", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "listed twice"));
	assert_int_equal(apply(&c, "dpdk_gateway 198.18.0.1", err, sizeof(err)), 0);
	assert_int_equal(apply(&c, "dpdk_gateway 2001:2::1", err, sizeof(err)), 0);
	assert_int_equal(apply(&c, "dpdk_gateway 198.18.0.254", err, sizeof(err)), 0);
	assert_string_equal(c.dpdk_gateway4, "198.18.0.254");
	assert_string_equal(c.dpdk_gateway6, "2001:2::1");
	assert_false(c.dpdk_fault);
	assert_int_equal(apply(&c, "dpdk_fault 7 50000 10000 20000", err, sizeof(err)), 0);
	assert_true(c.dpdk_fault);
	assert_int_equal(c.dpdk_fault_seed, 7);
	assert_int_equal(c.dpdk_fault_ppm[0], 50000);
	assert_int_equal(c.dpdk_fault_ppm[1], 10000);
	assert_int_equal(c.dpdk_fault_ppm[2], 20000);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tern_config_defaults(&c);
		assert_int_equal(apply(&c, bad[i][0], err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': got '%s', want '%s'", bad[i][0], err, bad[i][1]);
	}
	tern_config_defaults(&c);
	for (unsigned i = 0; i < TERN_CONFIG_MAX_DPDK_ADDRS; i++) {
		char line[64];

		snprintf(line, sizeof(line), "dpdk_address 198.18.1.%u/24", i + 1);
		assert_int_equal(apply(&c, line, err, sizeof(err)), 0);
	}
	assert_int_equal(apply(&c, "dpdk_address 198.18.2.1/24", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most"));

	assert_int_equal(tern_config_parse_ip("2001:2::2/48", true, &family, addr, &plen), 0);
	assert_int_equal(family, AF_INET6);
	assert_int_equal(plen, 48);
	assert_int_equal(addr[1], 1);
	assert_int_equal(addr[15], 2);
	assert_int_equal(tern_config_parse_ip("198.18.0.1", false, &family, addr, &plen), 0);
	assert_int_equal(family, AF_INET);
	assert_int_equal(plen, 32);
	assert_int_equal(addr[0], 198);
	assert_int_equal(tern_config_parse_ip("198.18.0.1/24", false, &family, addr, &plen),
			 -EINVAL);
}

static void test_load_errors(void **state)
{
	struct tern_config c, before;
	char err[512], path[64], want[600];
	char *text;

	tern_config_defaults(&c);
	before = c;
	assert_int_equal(tern_config_load(&c, "/nonexistent/tern.conf", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/tern.conf: No such file or directory");
	assert_int_equal(tern_config_load(&c, "/", err, sizeof(err)), -EISDIR);
	assert_memory_equal(&c, &before, sizeof(c));

	/* A 1023-byte line is allowed, a 1024-byte one is not. */
	text = calloc(1, 2100);
	assert_non_null(text);
	memset(text, ' ', 1023);
	memcpy(text, "workers 5", 9);
	strcat(text, "\n");
	assert_int_equal(load_text(&c, text, err, sizeof(err), path, sizeof(path)), 0);
	assert_int_equal(c.workers, 5);
	memset(text, 0, 2100);
	memset(text, ' ', 1024);
	memcpy(text, "workers 6", 9);
	strcat(text, "\nworkers 7\n");
	assert_int_equal(load_text(&c, text, err, sizeof(err), path, sizeof(path)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: line longer than 1023 bytes", path);
	assert_string_equal(err, want);
	assert_int_equal(c.workers, 5);
	free(text);

	/* No newline at the end, a UTF-8 byte order mark and an empty file are all fine. */
	tern_config_defaults(&c);
	assert_int_equal(
	    load_text(&c, "\xef\xbb\xbfworkers 9", err, sizeof(err), path, sizeof(path)), 0);
	assert_int_equal(c.workers, 9);
	tern_config_defaults(&c);
	before = c;
	assert_int_equal(load_text(&c, "", err, sizeof(err), path, sizeof(path)), 0);
	assert_memory_equal(&c, &before, sizeof(c));

	/* A file loads on top of what c already holds. */
	assert_int_equal(load_text(&c, "workers 4\n", err, sizeof(err), path, sizeof(path)), 0);
	assert_int_equal(load_text(&c, "sys_interval 3\n", err, sizeof(err), path, sizeof(path)),
			 0);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.sys_interval, 3);
}

/* The shipped sample documents every key, all commented out: it must give the defaults. */
static void test_sample_conf_is_defaults(void **state)
{
	struct tern_config c, defaults;
	char err[512] = "";
	char path[4096];
	FILE *f;
	char line[1024];
	unsigned documented = 0;
	static const char *const keys[] = {
	    "listener",
	    "port",
	    "allow_anonymous",
	    "max_queued_messages",
	    "max_queued_bytes",
	    "max_inflight_messages",
	    "max_packet_size",
	    "message_size_limit",
	    "max_keepalive",
	    "max_connections",
	    "sys_interval",
	    "retain_available",
	    "persistent_client_expiration",
	    "log_type",
	    "log_dest",
	    "workers",
	    "dataplane",
	    "max_output_bytes",
	    "connect_timeout",
	    "password_file",
	    "acl_file",
	    "per_listener_settings",
	    "max_connection_rate",
	    "max_publish_rate",
	    "max_publish_bytes_rate",
	    "memory_limit",
	    "max_subscriptions",
	    "dpdk_eal",
	    "dpdk_port",
	    "dpdk_address",
	    "dpdk_gateway",
	    "dpdk_fault",
	};

	snprintf(path, sizeof(path), "%s/deploy/tern.conf", TERN_SOURCE_ROOT);
	tern_config_defaults(&defaults);
	tern_config_defaults(&c);
	if (tern_config_load(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_memory_equal(&c, &defaults, sizeof(c));

	/* Each key appears as a commented-out "#key value" line whose value the parser accepts. */
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		bool found = false;

		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			size_t n = strlen(keys[k]);

			if (line[0] == '#' && strncmp(line + 1, keys[k], n) == 0 &&
			    line[1 + n] == ' ') {
				struct tern_config t;
				char e[256];

				tern_config_defaults(&t);
				if (tern_config_apply_line(&t, line + 1, e, sizeof(e)) != 0)
					fail_msg("sample line '%s' refused: %s", line, e);
				found = true;
			}
		}
		fclose(f);
		if (!found)
			fail_msg("deploy/tern.conf does not document '%s'", keys[k]);
		documented++;
	}
	assert_int_equal(documented, sizeof(keys) / sizeof(keys[0]));

	/* Each sample "#key default" line on its own leaves the defaults unchanged. */
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		static const char *const same[] = {
		    "allow_anonymous",
		    "max_queued_messages",
		    "max_queued_bytes",
		    "max_inflight_messages",
		    "max_packet_size",
		    "message_size_limit",
		    "max_keepalive",
		    "max_connections",
		    "sys_interval",
		    "retain_available",
		    "persistent_client_expiration",
		    "log_dest",
		    "workers",
		    "dataplane",
		    "max_output_bytes",
		    "connect_timeout",
		    "per_listener_settings",
		    "max_connection_rate",
		    "max_publish_rate",
		    "max_publish_bytes_rate",
		    "memory_limit",
		    "max_subscriptions",
		};
		for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
			size_t n = strlen(same[k]);

			if (line[0] == '#' && strncmp(line + 1, same[k], n) == 0 &&
			    line[1 + n] == ' ') {
				struct tern_config t;
				char e[256];

				tern_config_defaults(&t);
				assert_int_equal(tern_config_apply_line(&t, line + 1, e, sizeof(e)),
						 0);
				if (memcmp(&t, &defaults, sizeof(t)) != 0)
					fail_msg("sample line '%s' is not the default", line);
			}
		}
	}
	fclose(f);
}

static void test_security_keys(void **state)
{
	struct tern_config c;
	char err[512] = "";
	char path[4096], longpath[1030], line[1090];

	(void)state;
	tern_config_defaults(&c);
	assert_false(c.per_listener_settings);
	assert_string_equal(c.password_file, "");
	assert_true(c.default_security.allow_anonymous);
	assert_int_equal(load_text(&c,
				   "allow_anonymous false\n"
				   "password_file /p0\n"
				   "listener 1883\n"
				   "acl_file /a1\n"
				   "allow_anonymous true\n"
				   "listener 1884 ::1\n"
				   "password_file /p2\n"
				   "per_listener_settings true\n",
				   err, sizeof(err), path, sizeof(path)),
			 0);
	/* The global values: the last line anywhere, as mosquitto without per_listener_settings. */
	assert_true(c.per_listener_settings);
	assert_true(c.allow_anonymous);
	assert_string_equal(c.password_file, "/p2");
	assert_string_equal(c.acl_file, "/a1");
	/* Per listener: the lines after each listener line; before the first: the default's. */
	assert_false(c.default_security.allow_anonymous);
	assert_string_equal(c.default_security.password_file, "/p0");
	assert_string_equal(c.default_security.acl_file, "");
	assert_true(c.listeners[0].security.allow_anonymous);
	assert_string_equal(c.listeners[0].security.password_file, "");
	assert_string_equal(c.listeners[0].security.acl_file, "/a1");
	assert_true(c.listeners[1].security.allow_anonymous); /* never set: the default */
	assert_string_equal(c.listeners[1].security.password_file, "/p2");
	assert_string_equal(c.listeners[1].security.acl_file, "");

	assert_int_equal(apply(&c, "password_file", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs one path"));
	assert_int_equal(apply(&c, "acl_file /a /b", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "got 2 values"));
	assert_int_equal(apply(&c, "per_listener_settings yes", err, sizeof(err)), -EINVAL);
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	snprintf(line, sizeof(line), "acl_file %s", longpath);
	assert_int_equal(apply(&c, line, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "path longer than"));
}

static void test_log_type_parse(void **state)
{
	static const struct {
		const char *name;
		unsigned mask;
	} names[] = {
	    {"error", TERN_LOG_ERR},
	    {"warning", TERN_LOG_WARNING},
	    {"notice", TERN_LOG_NOTICE},
	    {"information", TERN_LOG_INFO},
	    {"debug", TERN_LOG_DEBUG},
	    {"all", TERN_LOG_ALL},
	    {"none", 0},
	};
	unsigned mask;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mask = 0xdead;
		assert_int_equal(tern_log_type_parse(names[i].name, &mask), 0);
		assert_int_equal(mask, names[i].mask);
	}
	mask = 0xdead;
	assert_int_equal(tern_log_type_parse("info", &mask), -EINVAL);
	assert_int_equal(tern_log_type_parse("ERROR", &mask), -EINVAL);
	assert_int_equal(tern_log_type_parse("", &mask), -EINVAL);
	assert_int_equal(tern_log_type_parse("errors", &mask), -EINVAL);
	assert_int_equal(tern_log_type_parse(NULL, &mask), -EINVAL);
	assert_int_equal(mask, 0xdead);
}

static void test_log_mask(void **state)
{
	unsigned old = tern_log_mask();

	assert_int_equal(old, TERN_LOG_DEFAULT);
	tern_log_set_mask(TERN_LOG_ERR | TERN_LOG_DEBUG);
	assert_int_equal(tern_log_mask(), TERN_LOG_ERR | TERN_LOG_DEBUG);
	tern_log_set_mask(0xffffffffu);
	assert_int_equal(tern_log_mask(), TERN_LOG_ALL);
	tern_log_set_mask(old);
}

static void test_ratelimit(void **state)
{
	struct tern_log_ratelimit rl = TERN_LOG_RATELIMIT_INIT(1000, 3);
	uint64_t sup = 99;
	uint64_t t = 5000000;

	/* burst 3 in the first window */
	for (int i = 0; i < 3; i++) {
		sup = 99;
		assert_true(tern_log_ratelimit_allow(&rl, t + (uint64_t)i, &sup));
		assert_int_equal(sup, 0);
	}
	/* the rest of the window is counted */
	for (int i = 0; i < 10; i++) {
		sup = 99;
		assert_false(tern_log_ratelimit_allow(&rl, t + 500 + (uint64_t)i, &sup));
		assert_int_equal(sup, 0);
	}
	assert_false(tern_log_ratelimit_allow(&rl, t + 999, NULL));
	/* the next window reports what was dropped, once */
	assert_true(tern_log_ratelimit_allow(&rl, t + 1000, &sup));
	assert_int_equal(sup, 11);
	assert_true(tern_log_ratelimit_allow(&rl, t + 1001, &sup));
	assert_int_equal(sup, 0);
	assert_true(tern_log_ratelimit_allow(&rl, t + 1002, &sup));
	assert_false(tern_log_ratelimit_allow(&rl, t + 1003, &sup));
	/* a long quiet spell: one new window, not many */
	assert_true(tern_log_ratelimit_allow(&rl, t + 100000, &sup));
	assert_int_equal(sup, 1);
	/* a clock that goes backwards starts a window instead of muting forever */
	assert_true(tern_log_ratelimit_allow(&rl, t + 100001, NULL));
	assert_true(tern_log_ratelimit_allow(&rl, t + 100002, NULL));
	assert_false(tern_log_ratelimit_allow(&rl, t + 100003, NULL));
	assert_true(tern_log_ratelimit_allow(&rl, 10, &sup));
	assert_int_equal(sup, 1);

	/* burst 0 never prints; everything is counted */
	struct tern_log_ratelimit none = TERN_LOG_RATELIMIT_INIT(1000, 0);
	assert_false(tern_log_ratelimit_allow(&none, 0, &sup));
	assert_false(tern_log_ratelimit_allow(&none, 5000, &sup));
	assert_int_equal(none.suppressed, 2);

	assert_true(tern_log_now_ms() > 0);
}

/* Capture stderr into a pipe around fn and return what was written (one read). */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t len)
{
	int p[2], saved;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, len - 1);
	close(p[0]);
	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void log_two_lines(void)
{
	tern_log_set_thread_name("w0");
	tern_log(TERN_LOG_INFO, "New client connected from %s:%d as %s (p2, c1, k60).", "127.0.0.1",
		 5555, "id");
	tern_log(TERN_LOG_DEBUG, "not shown at the default mask");
	tern_log_set_thread_name(NULL);
	tern_log(TERN_LOG_ERR, "trailing newline is not doubled\n");
}

static void log_long_line(void)
{
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tern_log(TERN_LOG_WARNING, "%s", big);
}

static void test_log_format(void **state)
{
	char buf[8192];
	const char *l2;
	size_t n;
	int y, mo, d, h, mi, s, ms;
	char tail[200];

	n = capture_stderr(log_two_lines, buf, sizeof(buf));
	/* 2026-11-26T07:55:00.123Z tern[w0]: ... */
	assert_int_equal(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %199[^\n]", &y, &mo, &d, &h, &mi,
				&s, &ms, tail),
			 8);
	assert_true(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && ms < 1000);
	assert_int_equal(buf[4], '-');
	assert_int_equal(buf[10], 'T');
	assert_int_equal(buf[23], 'Z');
	assert_string_equal(tail,
			    "tern[w0]: New client connected from 127.0.0.1:5555 as id (p2, c1, "
			    "k60).");
	l2 = strchr(buf, '\n');
	assert_non_null(l2);
	l2++;
	assert_string_equal(l2 + 25, "tern[main]: trailing newline is not doubled\n");
	assert_int_equal(n, (size_t)(l2 - buf) + 25 +
				strlen("tern[main]: trailing newline is not doubled\n"));

	n = capture_stderr(log_long_line, buf, sizeof(buf));
	assert_int_equal(n, 2048);
	assert_int_equal(buf[n - 1], '\n');
	assert_memory_equal(buf + n - 4, "...", 3);
}

#define LOG_THREADS 4
#define LOG_LINES   300

struct reader {
	int fd;
	char *buf;
	size_t len, cap;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	ssize_t n;

	while ((n = read(r->fd, r->buf + r->len, r->cap - r->len)) > 0)
		r->len += (size_t)n;
	return NULL;
}

static void *log_lines(void *arg)
{
	char name[16], pad[301];
	int id = (int)(intptr_t)arg;

	memset(pad, 'a' + id, 300);
	pad[300] = '\0';
	snprintf(name, sizeof(name), "w%d", id);
	tern_log_set_thread_name(name);
	for (int i = 0; i < LOG_LINES; i++)
		tern_log(TERN_LOG_NOTICE, "w%d line %d %s", id, i, pad);
	return NULL;
}

/* Lines logged from several threads at once come out whole, each with its thread's name. */
static void test_log_threads(void **state)
{
	struct reader r = {.cap = 1 << 20};
	pthread_t reader, writers[LOG_THREADS];
	int p[2], saved, next[LOG_THREADS] = {0};
	char *line, *save = NULL;
	unsigned count = 0;

	r.buf = calloc(1, r.cap + 1);
	assert_non_null(r.buf);
	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	assert_int_equal(pthread_create(&reader, NULL, read_all, &r), 0);
	saved = dup(STDERR_FILENO);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	for (intptr_t i = 0; i < LOG_THREADS; i++)
		assert_int_equal(pthread_create(&writers[i], NULL, log_lines, (void *)i), 0);
	for (int i = 0; i < LOG_THREADS; i++)
		assert_int_equal(pthread_join(writers[i], NULL), 0);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(p[1]);
	assert_int_equal(pthread_join(reader, NULL), 0);
	close(p[0]);

	for (line = strtok_r(r.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int id, n, seq, off = 0;
		char name[16];

		assert_true(strlen(line) > 25);
		assert_int_equal(line[23], 'Z');
		assert_int_equal(
		    sscanf(line + 25, "tern[w%d]: w%d line %d %n", &id, &n, &seq, &off), 3);
		assert_int_equal(id, n);
		assert_true(id >= 0 && id < LOG_THREADS);
		/* each thread's lines arrive in its own order, none lost */
		assert_int_equal(seq, next[id]);
		next[id]++;
		snprintf(name, sizeof(name), "%c", 'a' + id);
		assert_int_equal(strlen(line + 25 + off), 300);
		assert_int_equal(strspn(line + 25 + off, name), 300);
		count++;
	}
	assert_int_equal(count, LOG_THREADS * LOG_LINES);
	free(r.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_bounds_accepted),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_unknown_and_unsupported),
	    cmocka_unit_test(test_listeners),
	    cmocka_unit_test(test_tls_keys),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_log_type_lines),
	    cmocka_unit_test(test_dataplane),
	    cmocka_unit_test(test_dpdk_keys),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_sample_conf_is_defaults),
	    cmocka_unit_test(test_security_keys),
	    cmocka_unit_test(test_log_type_parse),
	    cmocka_unit_test(test_log_mask),
	    cmocka_unit_test(test_ratelimit),
	    cmocka_unit_test(test_log_format),
	    cmocka_unit_test(test_log_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
