/* SPDX-License-Identifier: MIT */
/*
 * Password files in mosquitto_passwd's format: one "user:$7$ITER$SALT$HASH"
 * (PBKDF2-HMAC-SHA512) or "user:$6$SALT$HASH" (SHA-512 of password + salt)
 * a line, salts of 12 bytes and hashes of 64 bytes in base64, as mosquitto
 * 2.0 reads them. A parsed file is immutable: any number of threads may
 * verify against it at once; the broker swaps whole files on reload (auth.h).
 */
#ifndef TERN_PASSWD_H
#define TERN_PASSWD_H

#include <stddef.h>
#include <stdint.h>

#define TERN_PASSWD_SALT_LEN	   12  /* mosquitto refuses other salt lengths */
#define TERN_PASSWD_HASH_LEN	   64  /* SHA-512 */
#define TERN_PASSWD_ITERATIONS	   101 /* mosquitto_passwd's default for $7$ */
#define TERN_PASSWD_MAX_ITERATIONS 10000000
#define TERN_PASSWD_LINE_MAX	   256 /* longest line tern_passwd_format writes, with NUL */
#define TERN_PASSWD_USERNAME_MAX   65535

struct tern_passwd;

/*
 * Parse a password file held in buf (len bytes, need not be NUL-terminated).
 * Blank lines and lines starting with '#' are skipped; every other line must be
 * a user name (no ':'), ':', and a $6$ or $7$ hash as described above, with
 * spaces around the hash allowed. A user name may appear once.
 * name is used in error messages only. Returns 0 and *out, or -EINVAL with
 * "NAME:LINE: reason" in err (*out untouched), or -ENOMEM. Thread-safe.
 */
int tern_passwd_parse(const char *buf, size_t len, const char *name, struct tern_passwd **out,
		      char *err, size_t errlen);

/*
 * Read and parse the file at path (as tern_passwd_parse, errors named
 * "PATH:LINE: reason" or "PATH: reason" for I/O errors). Returns 0, -EINVAL,
 * -ENOMEM or -errno from open/read. Thread-safe.
 */
int tern_passwd_load(const char *path, struct tern_passwd **out, char *err, size_t errlen);

/* Free a parsed file; NULL is ignored. No reader may still use it. */
void tern_passwd_free(struct tern_passwd *p);

/* Number of users in the file. */
size_t tern_passwd_count(const struct tern_passwd *p);

/*
 * Check a password (any bytes) for a user name. The hash comparison takes
 * constant time, and an unknown user costs one hash too, so timing tells
 * nothing about which user names exist. Returns 0 when it matches, -ENOENT
 * for an unknown user, -EACCES for a wrong password, -ENOMEM if OpenSSL could
 * not hash. Thread-safe (the file is read-only).
 */
int tern_passwd_verify(const struct tern_passwd *p, const char *user, size_t user_len,
		       const uint8_t *password, size_t password_len);

/*
 * Write "$7$ITER$SALT$HASH" for password with a fresh random salt from
 * OpenSSL's RAND_bytes into out (TERN_PASSWD_LINE_MAX bytes are always
 * enough). iterations 1..TERN_PASSWD_MAX_ITERATIONS. Returns 0, -EINVAL for
 * bad iterations or a short out, -EIO if no random bytes or no hash.
 * Thread-safe.
 */
int tern_passwd_hash(const uint8_t *password, size_t password_len, unsigned iterations, char *out,
		     size_t outlen);

/*
 * Check that a user name can be written to a password file: 1..65535 bytes,
 * no ':' and no line break (mosquitto_passwd refuses ':' too). Thread-safe.
 */
int tern_passwd_username_valid(const char *user);

#endif
