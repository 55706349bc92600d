/* SPDX-License-Identifier: MIT */
/*
 * The broker's security snapshot: for the whole broker, or for each listener
 * with per_listener_settings, whether anonymous clients may connect, the
 * password file and the ACL. A snapshot is immutable; the broker publishes
 * it with rcu_assign_pointer and replaces it as a whole on SIGHUP
 * (tern_auth_retire frees the old one after a grace period), so workers read
 * it under their QSBR read side without locks.
 */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu-qsbr.h>

struct tern_acl;
struct tern_config;
struct tern_passwd;

/* The outcome of a CONNECT's credentials, mapped to a CONNACK code by the protocol handler. */
enum tern_auth_result {
	TERN_AUTH_OK,
	TERN_AUTH_NOT_AUTHORIZED,  /* anonymous, or no password_file to check a user */
	TERN_AUTH_BAD_CREDENTIALS, /* unknown user, wrong or missing password */
	TERN_AUTH_UNAVAILABLE,	   /* could not hash (out of memory) */
};

/* What a client presents: the user name comes from CONNECT (or, later, a certificate). */
struct tern_credentials {
	const char *username; /* NUL-terminated; NULL: anonymous */
	const uint8_t *password;
	size_t password_len;
	bool has_password;
};

struct tern_auth_domain {
	bool allow_anonymous;
	struct tern_passwd *passwd; /* NULL: no password_file */
	struct tern_acl *acl;	    /* NULL: no acl_file, everything allowed */
};

struct tern_auth {
	struct rcu_head rcu;
	uint64_t gen; /* differs between any two snapshots of one broker */
	bool any_acl; /* some domain has an ACL */
	unsigned n;   /* domains: 1, or one per listener with per_listener_settings */
	struct tern_auth_domain d[];
};

/*
 * Build a snapshot for cfg, reading its password and ACL files. Returns it, or
 * NULL with errno (EINVAL, ENOMEM, or the file's open/read error) and the
 * reason in err ("FILE:LINE: reason" for a bad line). Thread-safe.
 */
struct tern_auth *tern_auth_load(const struct tern_config *cfg, uint64_t gen, char *err,
				 size_t errlen);

/* Free a snapshot no reader can see any more; NULL is ignored. */
void tern_auth_free(struct tern_auth *a);

/*
 * Free a snapshot after an RCU grace period (call_rcu): the caller already
 * unpublished it. From a thread registered with liburcu QSBR. NULL is ignored.
 */
void tern_auth_retire(struct tern_auth *a);

/* The domain serving connections of configured listener `listener` (0 for the default). */
static inline const struct tern_auth_domain *tern_auth_domain(const struct tern_auth *a,
							      unsigned listener)
{
	return &a->d[listener < a->n ? listener : 0];
}

/*
 * Decide a CONNECT's credentials as mosquitto 2.0 does: without a user name,
 * allow_anonymous decides; with one, it must verify against the password
 * file (and without a password file, allow_anonymous decides again).
 * Thread-safe; hashes (PBKDF2) when a password is checked.
 */
enum tern_auth_result tern_auth_connect(const struct tern_auth *a, unsigned listener,
					const struct tern_credentials *cr);

#endif
