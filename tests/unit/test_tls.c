/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of dataplane/sock/tls.c against an OpenSSL client in the same
 * process: the handshake and data over memory BIOs (the path a userspace TCP
 * stack uses), small iovecs coalesced into one record, large output split into
 * full records, a write that blocks on a full socket and is retried, input
 * held by OpenSSL (has_pending), the certificate identity, and contexts that
 * must fail. Certificates are made with the openssl command in a temp dir.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "broker/config.h"
#include "dataplane/sock/tls.h"

static char dir[64];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

#define NEWKEY "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

static int make_certs(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/tern-test-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	sh("cd %s && openssl req -x509 " NEWKEY " -keyout ca.key -out ca.crt -days 2 "
	   "-subj /CN=ca 2>/dev/null",
	   dir);
	sh("cd %s && openssl req " NEWKEY " -keyout server.key -out server.csr -subj /CN=localhost "
	   "2>/dev/null && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	   "-CAcreateserial -out server.crt -days 2 2>/dev/null",
	   dir);
	sh("cd %s && openssl req " NEWKEY " -keyout client.key -out client.csr "
	   "-subj '/O=t/CN=sensor-7' 2>/dev/null && openssl x509 -req -in client.csr -CA ca.crt "
	   "-CAkey ca.key -CAcreateserial -out client.crt -days 2 2>/dev/null",
	   dir);
	return 0;
}

static int remove_certs(void **state)
{
	sh("rm -rf %s", dir);
	return 0;
}

static void listener(struct tern_listener_config *l, bool mutual)
{
	memset(l, 0, sizeof(*l));
	l->port = 8883;
	snprintf(l->tls.certfile, sizeof(l->tls.certfile), "%s/server.crt", dir);
	snprintf(l->tls.keyfile, sizeof(l->tls.keyfile), "%s/server.key", dir);
	if (mutual) {
		snprintf(l->tls.cafile, sizeof(l->tls.cafile), "%s/ca.crt", dir);
		l->tls.require_certificate = true;
		l->tls.use_identity_as_username = true;
	}
}

static SSL_CTX *client_ctx(bool with_cert, int version)
{
	SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
	char p[256];

	assert_non_null(cc);
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	assert_int_equal(SSL_CTX_load_verify_locations(cc, p, NULL), 1);
	SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
	if (version) {
		SSL_CTX_set_min_proto_version(cc, version);
		SSL_CTX_set_max_proto_version(cc, version);
	}
	if (with_cert) {
		snprintf(p, sizeof(p), "%s/client.crt", dir);
		assert_int_equal(SSL_CTX_use_certificate_file(cc, p, SSL_FILETYPE_PEM), 1);
		snprintf(p, sizeof(p), "%s/client.key", dir);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(cc, p, SSL_FILETYPE_PEM), 1);
	}
	return cc;
}

/* A client over memory BIOs, and the bytes on the "wire" in each direction. */
struct pair {
	SSL *cli;
	BIO *cli_in, *cli_out;
	struct dp_tls *srv;
	uint8_t wire[256 * 1024]; /* server -> client ciphertext of the last pump */
	size_t wire_len;
};

/* Move ciphertext both ways until neither side has any; returns server->client bytes. */
static size_t pump(struct pair *p)
{
	uint8_t buf[16384];
	size_t total = 0, n;
	bool moved = true;

	p->wire_len = 0;
	while (moved) {
		moved = false;
		while ((n = dp_tls_drain(p->srv, buf, sizeof(buf))) > 0) {
			assert_int_equal(BIO_write(p->cli_in, buf, (int)n), (int)n);
			if (p->wire_len + n <= sizeof(p->wire)) {
				memcpy(p->wire + p->wire_len, buf, n);
				p->wire_len += n;
			}
			total += n;
			moved = true;
		}
		while (BIO_pending(p->cli_out) > 0) {
			int r = BIO_read(p->cli_out, buf, sizeof(buf));

			assert_true(r > 0);
			assert_int_equal(dp_tls_feed(p->srv, buf, (size_t)r), 0);
			moved = true;
		}
	}
	return total;
}

/* Client and server sessions, not yet connected. */
static void pair_start(struct pair *p, struct dp_tls_ctx *ctx, SSL_CTX *cc)
{
	memset(p, 0, sizeof(*p));
	p->srv = dp_tls_new_mem(ctx);
	assert_non_null(p->srv);
	p->cli = SSL_new(cc);
	p->cli_in = BIO_new(BIO_s_mem());
	p->cli_out = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(p->cli_in, -1);
	SSL_set_bio(p->cli, p->cli_in, p->cli_out);
	SSL_set_connect_state(p->cli);
}

/* Run both handshakes until the server's is done or failed; returns dp_tls_handshake's. */
static int pair_handshake(struct pair *p)
{
	int cr = 0, sr = -EAGAIN;

	for (int i = 0; i < 20 && (cr != 1 || sr == -EAGAIN); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(p->cli);
		pump(p);
		sr = dp_tls_handshake(p->srv);
		pump(p);
		if (sr != 0 && sr != -EAGAIN)
			break;
	}
	return sr;
}

static void pair_open(struct pair *p, struct dp_tls_ctx *ctx, SSL_CTX *cc)
{
	pair_start(p, ctx, cc);
	assert_int_equal(pair_handshake(p), 0);
	assert_int_equal(SSL_is_init_finished(p->cli), 1);
}

static void pair_close(struct pair *p)
{
	SSL_free(p->cli);
	dp_tls_free(p->srv);
}

/* Application-data records (type 23) in ciphertext, and the total of their lengths. */
static unsigned count_records(const uint8_t *w, size_t n)
{
	unsigned records = 0;

	for (size_t i = 0; i + 5 <= n;) {
		size_t len = (size_t)w[i + 3] << 8 | w[i + 4];

		if (w[i] == 23)
			records++;
		i += 5 + len;
	}
	return records;
}

static void read_all(SSL *cli, uint8_t *out, size_t want)
{
	size_t got = 0, n;

	while (got < want) {
		assert_int_equal(SSL_read_ex(cli, out + got, want - got, &n), 1);
		got += n;
	}
}

static void test_memory_bio_session(void **state)
{
	struct tern_listener_config l;
	struct dp_tls_ctx *ctx;
	static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

	listener(&l, false);
	ctx = dp_tls_ctx_create(&l);
	assert_non_null(ctx);
	for (size_t v = 0; v < 2; v++) {
		SSL_CTX *cc = client_ctx(false, versions[v]);
		struct pair p;
		uint8_t buf[64];
		size_t n;
		long r;
		const char *name = "x";

		pair_open(&p, ctx, cc);
		assert_string_equal(dp_tls_version(p.srv),
				    versions[v] == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3");
		assert_int_equal(dp_tls_identity(p.srv, &name), 0);
		/* Client to server. */
		assert_int_equal(SSL_write_ex(p.cli, "CONNECT", 7, &n), 1);
		pump(&p);
		r = dp_tls_read(p.srv, buf, sizeof(buf));
		assert_int_equal(r, 7);
		assert_memory_equal(buf, "CONNECT", 7);
		assert_int_equal(dp_tls_read(p.srv, buf, sizeof(buf)), -EAGAIN);
		assert_int_equal(dp_tls_want(p.srv), DP_TLS_WANT_READ);
		/* close_notify from the client: the peer closed. */
		SSL_shutdown(p.cli);
		pump(&p);
		assert_int_equal(dp_tls_read(p.srv, buf, sizeof(buf)), -ECONNRESET);
		pair_close(&p);
		SSL_CTX_free(cc);
	}
	dp_tls_ctx_free(ctx);
}

static void test_coalescing(void **state)
{
	struct tern_listener_config l;
	struct dp_tls_ctx *ctx;
	SSL_CTX *cc = client_ctx(false, 0);
	static uint8_t stage[DP_TLS_RECORD_MAX], big[40000], got[40000];
	struct iovec iov[200];
	uint8_t small[200][5];
	struct pair p;
	long r;

	listener(&l, false);
	ctx = dp_tls_ctx_create(&l);
	assert_non_null(ctx);
	pair_open(&p, ctx, cc);

	/* 200 packets of 5 bytes: one record, not 200. */
	for (int i = 0; i < 200; i++) {
		memset(small[i], 'a' + i % 26, 5);
		iov[i].iov_base = small[i];
		iov[i].iov_len = 5;
	}
	r = dp_tls_write(p.srv, iov, 200, stage);
	assert_int_equal(r, 1000);
	pump(&p);
	assert_int_equal(count_records(p.wire, p.wire_len), 1);
	read_all(p.cli, got, 1000);
	for (int i = 0; i < 200; i++)
		assert_memory_equal(got + 5 * i, small[i], 5);

	/* 40000 bytes in three iovecs: full records of 16384, then the rest. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	iov[0] = (struct iovec){.iov_base = big, .iov_len = 10000};
	iov[1] = (struct iovec){.iov_base = big + 10000, .iov_len = 20000};
	iov[2] = (struct iovec){.iov_base = big + 30000, .iov_len = 10000};
	r = dp_tls_write(p.srv, iov, 3, stage);
	assert_int_equal(r, DP_TLS_RECORD_MAX);
	iov[0] = (struct iovec){.iov_base = big + 16384, .iov_len = sizeof(big) - 16384};
	r = dp_tls_write(p.srv, iov, 1, stage);
	assert_int_equal(r, DP_TLS_RECORD_MAX);
	iov[0] = (struct iovec){.iov_base = big + 32768, .iov_len = sizeof(big) - 32768};
	r = dp_tls_write(p.srv, iov, 1, stage);
	assert_int_equal(r, sizeof(big) - 32768);
	pump(&p);
	assert_int_equal(count_records(p.wire, p.wire_len), 3);
	read_all(p.cli, got, sizeof(big));
	assert_memory_equal(got, big, sizeof(big));
	assert_int_equal(dp_tls_write(p.srv, iov, 0, stage), 0);

	pair_close(&p);
	SSL_CTX_free(cc);
	dp_tls_ctx_free(ctx);
}

static void test_pending_input(void **state)
{
	struct tern_listener_config l;
	struct dp_tls_ctx *ctx;
	SSL_CTX *cc = client_ctx(false, 0);
	struct pair p;
	uint8_t buf[8];
	size_t n, total = 0;
	long r;

	listener(&l, false);
	ctx = dp_tls_ctx_create(&l);
	assert_non_null(ctx);
	pair_open(&p, ctx, cc);
	for (int i = 0; i < 3; i++)
		assert_int_equal(SSL_write_ex(p.cli, "0123456789", 10, &n), 1);
	pump(&p);
	/* Three records arrived at once; a small buffer leaves the rest inside OpenSSL. */
	r = dp_tls_read(p.srv, buf, sizeof(buf));
	assert_int_equal(r, 8);
	assert_true(dp_tls_has_pending(p.srv));
	total += (size_t)r;
	while ((r = dp_tls_read(p.srv, buf, sizeof(buf))) > 0)
		total += (size_t)r;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(total, 30);
	assert_false(dp_tls_has_pending(p.srv));
	pair_close(&p);
	SSL_CTX_free(cc);
	dp_tls_ctx_free(ctx);
}

static void test_identity(void **state)
{
	struct tern_listener_config l;
	struct dp_tls_ctx *ctx;
	SSL_CTX *cc = client_ctx(true, 0);
	struct pair p;
	const char *name = NULL;

	listener(&l, true);
	ctx = dp_tls_ctx_create(&l);
	assert_non_null(ctx);
	pair_open(&p, ctx, cc);
	assert_int_equal(dp_tls_identity(p.srv, &name), 1);
	assert_string_equal(name, "sensor-7");
	pair_close(&p);
	SSL_CTX_free(cc);

	/* No client certificate: require_certificate fails the handshake. */
	cc = client_ctx(false, 0);
	pair_start(&p, ctx, cc);
	assert_int_equal(pair_handshake(&p), -EPROTO);
	assert_non_null(strstr(dp_tls_error(p.srv), "certificate"));
	pair_close(&p);
	SSL_CTX_free(cc);
	dp_tls_ctx_free(ctx);
}

/* A server session on a socket whose peer stops reading: -EAGAIN, then the same record again. */
static void test_blocked_write_retry(void **state)
{
	struct tern_listener_config l;
	struct dp_tls_ctx *ctx;
	SSL_CTX *cc = client_ctx(false, 0);
	static uint8_t stage[DP_TLS_RECORD_MAX], data[1 << 20], got[1 << 20];
	size_t queued_front = 0, received = 0;
	int sv[2], small = 4096, blocked = 0;
	struct dp_tls *srv;
	SSL *cli;

	listener(&l, false);
	ctx = dp_tls_ctx_create(&l);
	assert_non_null(ctx);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	srv = dp_tls_new_fd(ctx, sv[0]);
	cli = SSL_new(cc);
	SSL_set_fd(cli, sv[1]);
	SSL_set_connect_state(cli);
	for (int i = 0; i < 1000; i++) {
		int cr = SSL_do_handshake(cli);
		int sr = dp_tls_handshake(srv);

		if (cr == 1 && sr == 0)
			break;
	}
	assert_int_equal(dp_tls_handshake(srv), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);

	/* The "queue" is data[queued_front..]: consumed only when a write says so. */
	while (received < sizeof(data)) {
		if (queued_front < sizeof(data)) {
			struct iovec iov[2];
			size_t left = sizeof(data) - queued_front;
			size_t half = left / 2;
			long r;

			/* Two iovecs, as an output queue gives them. */
			iov[0] = (struct iovec){.iov_base = data + queued_front, .iov_len = half};
			iov[1] = (struct iovec){.iov_base = data + queued_front + half,
						.iov_len = left - half};
			r = dp_tls_write(srv, half ? iov : iov + 1, half ? 2 : 1, stage);
			if (r > 0) {
				assert_false(dp_tls_write_pending(srv));
				queued_front += (size_t)r;
			} else {
				assert_int_equal(r, -EAGAIN);
				assert_int_equal(dp_tls_want(srv), DP_TLS_WANT_WRITE);
				assert_true(dp_tls_write_pending(srv));
				blocked++;
			}
		}
		/* The peer reads a little at a time. */
		for (int k = 0; k < 2; k++) {
			size_t n = 0;

			if (SSL_read_ex(cli, got + received, sizeof(got) - received, &n) == 1)
				received += n;
		}
	}
	assert_true(blocked > 0);
	assert_memory_equal(got, data, sizeof(data));
	dp_tls_free(srv);
	SSL_free(cli);
	close(sv[0]);
	close(sv[1]);
	SSL_CTX_free(cc);
	dp_tls_ctx_free(ctx);
}

static void test_bad_contexts(void **state)
{
	struct tern_listener_config l;

	listener(&l, false);
	snprintf(l.tls.certfile, sizeof(l.tls.certfile), "%s/missing.crt", dir);
	errno = 0;
	assert_null(dp_tls_ctx_create(&l));
	assert_int_equal(errno, ENOENT);

	listener(&l, false);
	snprintf(l.tls.keyfile, sizeof(l.tls.keyfile), "%s/client.key", dir);
	assert_null(dp_tls_ctx_create(&l));
	assert_int_equal(errno, EINVAL);

	listener(&l, false);
	snprintf(l.tls.ciphers, sizeof(l.tls.ciphers), "NO-SUCH-CIPHER");
	assert_null(dp_tls_ctx_create(&l));
	assert_int_equal(errno, EINVAL);

	listener(&l, false);
	snprintf(l.tls.ciphers_tls13, sizeof(l.tls.ciphers_tls13), "TLS_NO_SUCH");
	assert_null(dp_tls_ctx_create(&l));
	assert_int_equal(errno, EINVAL);

	listener(&l, true);
	snprintf(l.tls.cafile, sizeof(l.tls.cafile), "%s/server.key", dir);
	assert_null(dp_tls_ctx_create(&l));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ERR_peek_error(), 0); /* nothing left in the thread's error queue */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory_bio_session),	cmocka_unit_test(test_coalescing),
	    cmocka_unit_test(test_pending_input),	cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_blocked_write_retry), cmocka_unit_test(test_bad_contexts),
	};

	return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
