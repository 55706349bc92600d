/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts and sessions over OpenSSL 3 (design notes in tls.h).
 *
 * Writes: OpenSSL keeps an encrypted record whose send blocked and wants the
 * same length again on the retry; with SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER the
 * bytes may sit at another address. The queued bytes stay at the front of the
 * connection's output queue until the record is out, so a retry rebuilds the
 * same plaintext in the worker's shared stage buffer and no session needs a
 * buffer of its own. Records are at most DP_TLS_RECORD_MAX bytes, so a write
 * is one record and partial writes never split the queue's accounting.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "broker/alloc.h"
#include "broker/log.h"
#include "dataplane/sock/tls.h"

#define ERR_TEXT_MAX 120

struct dp_tls_ctx {
	SSL_CTX *ssl_ctx;
	bool use_identity;
};

struct dp_tls {
	SSL *ssl;
	struct dp_tls_ctx *ctx;
	BIO *net_in;	  /* memory sessions: ciphertext from the peer (the SSL's rbio) */
	BIO *net_out;	  /* memory sessions: ciphertext to send (the SSL's wbio) */
	size_t write_len; /* plaintext length of the record waiting to be sent; 0 = none */
	enum dp_tls_want want;
	bool handshake_done;
	bool failed; /* a fatal error: no close_notify */
	bool identity_done;
	int identity_rc;
	char *identity;
	char err[ERR_TEXT_MAX];
};

/* The first queued OpenSSL error as text (the queue is then cleared). */
static void take_error(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, len, "%s", r ? r : fallback);
	ERR_clear_error();
}

/* Open the file first: "No such file or directory" says more than OpenSSL's "system lib". */
static int check_readable(unsigned port, const char *key, const char *path)
{
	FILE *f = fopen(path, "re");
	int err;

	if (f) {
		fclose(f);
		return 0;
	}
	err = errno;
	tern_log(TERN_LOG_ERR, "listener %u: cannot read %s '%s': %s", port, key, path,
		 strerror(err));
	return -err;
}

static int ctx_fail(unsigned port, const char *what, const char *path)
{
	char reason[ERR_TEXT_MAX];

	take_error(reason, sizeof(reason), "unknown error");
	if (path)
		tern_log(TERN_LOG_ERR, "listener %u: %s '%s': %s", port, what, path, reason);
	else
		tern_log(TERN_LOG_ERR, "listener %u: %s: %s", port, what, reason);
	return -EINVAL;
}

static int load_certificates(SSL_CTX *sc, unsigned port, const struct tern_tls_config *t)
{
	int r;

	r = check_readable(port, "certfile", t->certfile);
	if (r == 0)
		r = check_readable(port, "keyfile", t->keyfile);
	if (r == 0 && t->cafile[0])
		r = check_readable(port, "cafile", t->cafile);
	if (r < 0)
		return r;
	if (SSL_CTX_use_certificate_chain_file(sc, t->certfile) != 1)
		return ctx_fail(port, "cannot load certfile", t->certfile);
	if (SSL_CTX_use_PrivateKey_file(sc, t->keyfile, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_error();

		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			return ctx_fail(port, "keyfile does not match certfile", t->keyfile);
		return ctx_fail(port, "cannot load keyfile", t->keyfile);
	}
	if (SSL_CTX_check_private_key(sc) != 1)
		return ctx_fail(port, "keyfile does not match certfile", t->keyfile);
	if ((t->cafile[0] || t->capath[0]) &&
	    SSL_CTX_load_verify_locations(sc, t->cafile[0] ? t->cafile : NULL,
					  t->capath[0] ? t->capath : NULL) != 1)
		return ctx_fail(port, "cannot load CA certificates from",
				t->cafile[0] ? t->cafile : t->capath);
	return 0;
}

static int configure(SSL_CTX *sc, unsigned port, const struct tern_tls_config *t)
{
	static const unsigned char sid_ctx[] = "tern";

	if (SSL_CTX_set_min_proto_version(sc, t->min_version == TERN_TLS_V13 ? TLS1_3_VERSION
									     : TLS1_2_VERSION) != 1)
		return ctx_fail(port, "cannot set tls_version", NULL);
	if (t->ciphers[0] && SSL_CTX_set_cipher_list(sc, t->ciphers) != 1)
		return ctx_fail(port, "no usable cipher in ciphers", t->ciphers);
	if (t->ciphers_tls13[0] && SSL_CTX_set_ciphersuites(sc, t->ciphers_tls13) != 1)
		return ctx_fail(port, "no usable suite in ciphers_tls1.3", t->ciphers_tls13);
	/*
	 * Renegotiation would let a client make a write wait for its input; the server's
	 * preference picks the strongest common cipher, as mosquitto does.
	 */
	SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/*
	 * The server-side session cache is one locked table for every worker: resumption
	 * uses stateless tickets only. The id context lets a resumed session keep the
	 * client certificate it was verified with.
	 */
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1);
	/* An idle connection keeps no record buffers; see the file comment for the others. */
	SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				 SSL_MODE_RELEASE_BUFFERS);
	/* One read() per burst of records, not two per record; dp_tls_has_pending covers it. */
	SSL_CTX_set_read_ahead(sc, 1);
	SSL_CTX_set_verify(sc,
			   t->require_certificate
			       ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
			       : SSL_VERIFY_NONE,
			   NULL);
	return 0;
}

struct dp_tls_ctx *dp_tls_ctx_create(const struct tern_listener_config *l)
{
	struct dp_tls_ctx *ctx;
	SSL_CTX *sc;
	int r;

	ERR_clear_error();
	ctx = tern_calloc(1, sizeof(*ctx));
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	sc = SSL_CTX_new(TLS_server_method());
	if (!sc) {
		tern_free(ctx);
		errno = ENOMEM;
		return NULL;
	}
	r = configure(sc, l->port, &l->tls);
	if (r == 0)
		r = load_certificates(sc, l->port, &l->tls);
	if (r < 0) {
		SSL_CTX_free(sc);
		tern_free(ctx);
		errno = -r;
		return NULL;
	}
	ctx->ssl_ctx = sc;
	ctx->use_identity = l->tls.use_identity_as_username;
	return ctx;
}

void dp_tls_ctx_free(struct dp_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	tern_free(ctx);
}

static struct dp_tls *session_new(struct dp_tls_ctx *ctx)
{
	struct dp_tls *t = tern_calloc(1, sizeof(*t));

	if (!t)
		goto err;
	t->ctx = ctx;
	t->ssl = SSL_new(ctx->ssl_ctx);
	if (!t->ssl)
		goto err;
	SSL_set_accept_state(t->ssl);
	return t;
err:
	tern_free(t);
	ERR_clear_error();
	errno = ENOMEM;
	return NULL;
}

struct dp_tls *dp_tls_new_fd(struct dp_tls_ctx *ctx, int fd)
{
	struct dp_tls *t = session_new(ctx);

	if (t && SSL_set_fd(t->ssl, fd) != 1) {
		dp_tls_free(t);
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

struct dp_tls *dp_tls_new_mem(struct dp_tls_ctx *ctx)
{
	struct dp_tls *t = session_new(ctx);

	if (!t)
		return NULL;
	t->net_in = BIO_new(BIO_s_mem());
	t->net_out = BIO_new(BIO_s_mem());
	if (!t->net_in || !t->net_out) {
		BIO_free(t->net_in);
		BIO_free(t->net_out);
		t->net_in = t->net_out = NULL;
		dp_tls_free(t);
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	/* An empty input BIO means "wait for more" (WANT_READ), not end of stream. */
	BIO_set_mem_eof_return(t->net_in, -1);
	SSL_set_bio(t->ssl, t->net_in, t->net_out); /* the SSL owns both now */
	return t;
}

void dp_tls_free(struct dp_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	tern_free(t->identity);
	tern_free(t);
}

/*
 * Classify a failed SSL call (ret <= 0): -EAGAIN with t->want set, -ECONNRESET
 * for the peer's close or a transport error, -EPROTO for bad TLS (t->err).
 */
static int classify(struct dp_tls *t, int ret)
{
	int e = SSL_get_error(t->ssl, ret);
	unsigned long code;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->want = DP_TLS_WANT_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want = DP_TLS_WANT_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		t->failed = true;
		ERR_clear_error();
		return -ECONNRESET;
	default:
		t->failed = true;
		code = ERR_peek_error();
		/* OpenSSL 3 reports a stream that ends without close_notify as an error. */
		if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
		    ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return -ECONNRESET;
		}
		take_error(t->err, sizeof(t->err), "TLS error");
		return -EPROTO;
	}
}

int dp_tls_handshake(struct dp_tls *t)
{
	int r;

	if (t->handshake_done)
		return 0;
	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->handshake_done = true;
		t->want = DP_TLS_WANT_NONE;
		return 0;
	}
	r = classify(t, r);
	/* A peer that hangs up mid-handshake (a port scanner, a client refusing our
	 * certificate) is still a failed handshake. */
	if (r == -ECONNRESET && !t->err[0])
		snprintf(t->err, sizeof(t->err), "connection closed during the handshake");
	return r;
}

long dp_tls_read(struct dp_tls *t, uint8_t *buf, size_t len)
{
	size_t got = 0;
	int r;

	ERR_clear_error();
	r = SSL_read_ex(t->ssl, buf, len, &got);
	if (r == 1)
		return (long)got;
	return classify(t, r);
}

bool dp_tls_has_pending(const struct dp_tls *t)
{
	return SSL_has_pending(t->ssl) == 1;
}

long dp_tls_write(struct dp_tls *t, const struct iovec *iov, size_t iovcnt, uint8_t *stage)
{
	size_t n = 0, written = 0;
	size_t limit = t->write_len ? t->write_len : DP_TLS_RECORD_MAX;
	int r;

	for (size_t i = 0; i < iovcnt && n < limit; i++) {
		size_t take = iov[i].iov_len < limit - n ? iov[i].iov_len : limit - n;

		memcpy(stage + n, iov[i].iov_base, take);
		n += take;
	}
	if (n == 0)
		return 0;
	/* A retry must present the record's full length: the caller still queues it. */
	if (t->write_len && n != t->write_len) {
		snprintf(t->err, sizeof(t->err), "output queue lost a pending TLS record");
		t->failed = true;
		return -EPROTO;
	}
	ERR_clear_error();
	r = SSL_write_ex(t->ssl, stage, n, &written);
	if (r == 1) {
		t->write_len = 0;
		return (long)written;
	}
	r = classify(t, r);
	if (r == -EAGAIN)
		t->write_len = n;
	return r;
}

bool dp_tls_write_pending(const struct dp_tls *t)
{
	return t->write_len != 0;
}

enum dp_tls_want dp_tls_want(const struct dp_tls *t)
{
	return t->want;
}

void dp_tls_shutdown(struct dp_tls *t)
{
	/* A record half sent would be cut by the alert; a failed session sends nothing more. */
	if (!t->handshake_done || t->failed || t->write_len)
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
}

const char *dp_tls_error(const struct dp_tls *t)
{
	return t->err;
}

const char *dp_tls_version(const struct dp_tls *t)
{
	return SSL_get_version(t->ssl);
}

const char *dp_tls_cipher(const struct dp_tls *t)
{
	return SSL_get_cipher_name(t->ssl);
}

/* The subject CN of the verified client certificate, as UTF-8 without NULs. */
static int find_identity(struct dp_tls *t)
{
	X509 *cert = SSL_get0_peer_certificate(t->ssl);
	X509_NAME *name;
	X509_NAME_ENTRY *entry;
	unsigned char *utf8 = NULL;
	int idx, len;

	if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK)
		return -EACCES;
	name = X509_get_subject_name(cert);
	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0)
		return -EACCES;
	entry = X509_NAME_get_entry(name, idx);
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
	if (len <= 0) {
		ERR_clear_error();
		return -EACCES;
	}
	/* A NUL inside would make "admin\0.evil" pass as "admin". */
	if (memchr(utf8, '\0', (size_t)len)) {
		OPENSSL_free(utf8);
		return -EACCES;
	}
	t->identity = tern_malloc((size_t)len + 1);
	if (t->identity) {
		memcpy(t->identity, utf8, (size_t)len);
		t->identity[len] = '\0';
	}
	OPENSSL_free(utf8);
	return t->identity ? 1 : -ENOMEM;
}

int dp_tls_identity(struct dp_tls *t, const char **name)
{
	if (!t->ctx->use_identity)
		return 0;
	if (!t->identity_done) {
		t->identity_rc = find_identity(t);
		t->identity_done = true;
	}
	if (t->identity_rc == 1)
		*name = t->identity;
	return t->identity_rc;
}

int dp_tls_feed(struct dp_tls *t, const uint8_t *data, size_t n)
{
	size_t done = 0;

	if (!t->net_in)
		return -EINVAL;
	if (n && BIO_write_ex(t->net_in, data, n, &done) != 1) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

size_t dp_tls_drain(struct dp_tls *t, uint8_t *out, size_t n)
{
	size_t got = 0;

	if (!t->net_out || n == 0)
		return 0;
	if (BIO_read_ex(t->net_out, out, n, &got) != 1) {
		ERR_clear_error();
		return 0;
	}
	return got;
}

size_t dp_tls_drain_pending(const struct dp_tls *t)
{
	return t->net_out ? BIO_ctrl_pending(t->net_out) : 0;
}

void dp_tls_log_failure(struct tern_log_ratelimit *rl, uint64_t now_ms, const char *what,
			const char *peer, const char *reason)
{
	uint64_t suppressed = 0;

	if (!tern_log_ratelimit_allow(rl, now_ms, &suppressed))
		return;
	if (suppressed)
		tern_log(TERN_LOG_NOTICE,
			 "TLS %s with %s failed: %s (%llu more failures since the last report)",
			 what, peer, reason, (unsigned long long)suppressed);
	else
		tern_log(TERN_LOG_NOTICE, "TLS %s with %s failed: %s", what, peer, reason);
}
