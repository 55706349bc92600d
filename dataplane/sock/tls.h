/* SPDX-License-Identifier: MIT */
/*
 * TLS for a dataplane (OpenSSL 3): one context per TLS listener, shared by every
 * worker, and one session per connection. A session's record-layer logic
 * (handshake steps, reads until WANT_READ, output-queue iovecs coalesced into
 * full records, close_notify) reaches its transport only through OpenSSL BIOs:
 * the sock dataplane hands it the socket (dp_tls_new_fd); a userspace TCP stack
 * hands it a memory BIO pair (dp_tls_new_mem) and moves the ciphertext itself
 * with dp_tls_feed / dp_tls_drain, running the very same calls.
 */
#ifndef DP_SOCK_TLS_H
#define DP_SOCK_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "broker/config.h"

/* Largest plaintext of one TLS record: what one dp_tls_write packs (RFC 8446 5.1). */
#define DP_TLS_RECORD_MAX 16384

struct dp_tls_ctx;
struct dp_tls;
struct tern_log_ratelimit;

/* What a session that returned -EAGAIN waits for from its transport. */
enum dp_tls_want {
	DP_TLS_WANT_NONE = 0,
	DP_TLS_WANT_READ = 1,  /* ciphertext from the peer */
	DP_TLS_WANT_WRITE = 2, /* room to send ciphertext */
};

/*
 * Build the TLS context of listener l (tern_listener_is_tls): certificate
 * chain and key (checked to match), CAs for client certificates, lowest
 * version, cipher lists, require_certificate. Returns NULL with errno set
 * (ENOENT/EACCES for a file that cannot be read, EINVAL for a bad file, a key
 * that does not match or a bad cipher list, ENOMEM) after logging the reason
 * with the listener's port and the file. Main thread, at startup.
 */
struct dp_tls_ctx *dp_tls_ctx_create(const struct tern_listener_config *l);

/* Free a context whose sessions are all freed. NULL is ignored. */
void dp_tls_ctx_free(struct dp_tls_ctx *ctx);

/*
 * A server session over the connected, non-blocking socket fd (not closed by
 * dp_tls_free). Returns NULL (errno ENOMEM) on failure. The session belongs to
 * the calling worker from then on; ctx may be shared by every worker.
 */
struct dp_tls *dp_tls_new_fd(struct dp_tls_ctx *ctx, int fd);

/*
 * A server session over memory BIOs, for a transport that is not a socket:
 * ciphertext from the peer goes in with dp_tls_feed, ciphertext to send comes
 * out with dp_tls_drain (after every call below). NULL (ENOMEM) on failure.
 */
struct dp_tls *dp_tls_new_mem(struct dp_tls_ctx *ctx);

/* Free the session (no close_notify: see dp_tls_shutdown). NULL is ignored. */
void dp_tls_free(struct dp_tls *t);

/*
 * Move the handshake on. Returns 0 once it is complete (at once, afterwards),
 * -EAGAIN while it waits for dp_tls_want(t), -EPROTO when it failed (the
 * reason: dp_tls_error) and -ECONNRESET when the peer closed during it.
 * Owning worker.
 */
int dp_tls_handshake(struct dp_tls *t);

/*
 * Decrypt into buf (at most len bytes, one record's worth or less): returns
 * the byte count (> 0), -EAGAIN (dp_tls_want(t) says for what), -ECONNRESET
 * when the peer closed (close_notify or end of stream) or the transport
 * failed, -EPROTO for bad TLS input (dp_tls_error). Call until -EAGAIN, or
 * come back while dp_tls_has_pending: decrypted or buffered input that no
 * transport event will announce. Owning worker, after the handshake.
 */
long dp_tls_read(struct dp_tls *t, uint8_t *buf, size_t len);

/* True when the session holds input already read from the transport. */
bool dp_tls_has_pending(const struct dp_tls *t);

/*
 * Encrypt one record from the front of iov (iovcnt entries): up to
 * DP_TLS_RECORD_MAX bytes are copied into stage (the caller's buffer of that
 * size, which may be shared by every session of a worker) so that small
 * packets share a record. Returns the bytes taken from the front of iov (the
 * caller consumes them from its queue), -EAGAIN when the transport is full or
 * needs input first (dp_tls_want; the record is kept: call again with the
 * same front bytes, which must still be queued, and write nothing else
 * meanwhile), or -ECONNRESET / -EPROTO on failure. Owning worker.
 */
long dp_tls_write(struct dp_tls *t, const struct iovec *iov, size_t iovcnt, uint8_t *stage);

/* True while a record given to dp_tls_write waits to be sent (-EAGAIN was returned). */
bool dp_tls_write_pending(const struct dp_tls *t);

/* What the last -EAGAIN waits for. */
enum dp_tls_want dp_tls_want(const struct dp_tls *t);

/*
 * Send close_notify if the handshake completed and nothing blocks the
 * transport; never waits for the peer's. Best effort, once, before closing.
 */
void dp_tls_shutdown(struct dp_tls *t);

/*
 * Log "TLS WHAT with PEER failed: REASON" at notice level through rl (which
 * says how many were suppressed since the last report), so that a scanner or
 * a fleet with the wrong CA cannot flood the log. now_ms is rl's clock.
 * Owning worker (rl is per worker).
 */
void dp_tls_log_failure(struct tern_log_ratelimit *rl, uint64_t now_ms, const char *what,
			const char *peer, const char *reason);

/* Reason of the last -EPROTO ("certificate verify failed", ...); "" if none. */
const char *dp_tls_error(const struct dp_tls *t);

/* Negotiated protocol ("TLSv1.3") and cipher, for logs; after the handshake. */
const char *dp_tls_version(const struct dp_tls *t);
const char *dp_tls_cipher(const struct dp_tls *t);

/*
 * The MQTT user name the listener derives from the client certificate
 * (use_identity_as_username): its subject CN. Returns 1 and sets *name
 * (valid until dp_tls_free), 0 when the listener does not use identities, or
 * -EACCES when it does but the certificate has no usable CN (none, several
 * bytes of NUL, not UTF-8). After the handshake. Owning worker.
 */
int dp_tls_identity(struct dp_tls *t, const char **name);

/*
 * Memory-BIO sessions only: give the session n bytes of ciphertext received
 * from the peer (all are taken; returns 0 or -ENOMEM), and take up to n bytes
 * of ciphertext it wants sent (returns the count, 0 when none).
 */
int dp_tls_feed(struct dp_tls *t, const uint8_t *data, size_t n);
size_t dp_tls_drain(struct dp_tls *t, uint8_t *out, size_t n);

/*
 * Memory-BIO sessions only: bytes of ciphertext waiting for dp_tls_drain (0
 * for a socket session), so a transport can take them in pieces that fit its
 * send space. Owning worker.
 */
size_t dp_tls_drain_pending(const struct dp_tls *t);

#endif
