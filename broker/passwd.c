/* SPDX-License-Identifier: MIT */
/*
 * mosquitto_passwd files: parsing into a sorted array searched by user name,
 * hashing with OpenSSL's libcrypto, constant-time comparison.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "broker/alloc.h"
#include "broker/passwd.h"
#include "broker/readfile.h"

#define FILE_MAX_BYTES (64u << 20) /* a password file larger than this is a mistake */

enum hash_type {
	HASH_SHA512 = 6,	/* $6$: SHA-512(password || salt) */
	HASH_SHA512_PBKDF2 = 7, /* $7$: PBKDF2-HMAC-SHA512 */
};

struct entry {
	char *user;
	size_t user_len;
	enum hash_type type;
	unsigned iterations;
	uint8_t salt[TERN_PASSWD_SALT_LEN];
	uint8_t hash[TERN_PASSWD_HASH_LEN];
};

struct tern_passwd {
	struct entry *e; /* sorted by (user_len, user bytes) for bsearch */
	size_t n;
};

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Standard base64 with optional '=' padding into exactly want bytes. Returns 0,
 * or -EINVAL for a bad character, bad padding or another length.
 */
static int b64_decode_exact(const char *s, size_t len, uint8_t *out, size_t want)
{
	uint32_t acc = 0;
	size_t bits = 0, n = 0;

	while (len && s[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == want)
				return -EINVAL;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be padding zeros, and at most one partial sextet. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return n == want ? 0 : -EINVAL;
}

static int digest(const struct entry *e, const uint8_t *pw, size_t pwlen,
		  uint8_t out[TERN_PASSWD_HASH_LEN])
{
	EVP_MD_CTX *ctx;
	unsigned int n = 0;
	int ok;

	if (e->type == HASH_SHA512_PBKDF2)
		return PKCS5_PBKDF2_HMAC((const char *)pw, (int)pwlen, e->salt, sizeof(e->salt),
					 (int)e->iterations, EVP_sha512(), TERN_PASSWD_HASH_LEN,
					 out) == 1
			   ? 0
			   : -ENOMEM;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pw, pwlen) == 1 &&
	     EVP_DigestUpdate(ctx, e->salt, sizeof(e->salt)) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == TERN_PASSWD_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

static int cmp_key(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return cmp_key(x->user, x->user_len, y->user, y->user_len);
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Parse "$6$SALT$HASH" or "$7$ITER$SALT$HASH" (s..s+len) into e. Returns NULL or the reason. */
static const char *parse_hash(const char *s, size_t len, struct entry *e)
{
	const char *end = s + len, *salt, *hash;
	unsigned long iter = 0;

	if (len < 3 || s[0] != '$' || (s[1] != '6' && s[1] != '7') || s[2] != '$')
		return len && s[0] != '$'
			   ? "password is not hashed (run tern-passwd -U on the file)"
			   : "unknown hash type (tern reads $6$ and $7$)";
	e->type = s[1] == '7' ? HASH_SHA512_PBKDF2 : HASH_SHA512;
	salt = s + 3;
	if (e->type == HASH_SHA512_PBKDF2) {
		const char *p = salt;

		while (p < end && *p >= '0' && *p <= '9') {
			iter = iter * 10 + (unsigned long)(*p - '0');
			if (iter > TERN_PASSWD_MAX_ITERATIONS)
				return "iteration count too large";
			p++;
		}
		if (p == salt || p == end || *p != '$' || iter == 0)
			return "bad iteration count";
		salt = p + 1;
	}
	e->iterations = (unsigned)iter;
	hash = memchr(salt, '$', (size_t)(end - salt));
	if (!hash)
		return "missing hash after the salt";
	if (b64_decode_exact(salt, (size_t)(hash - salt), e->salt, sizeof(e->salt)) < 0)
		return "salt is not 12 bytes of base64";
	hash++;
	if (memchr(hash, '$', (size_t)(end - hash)))
		return "too many '$' fields";
	if (b64_decode_exact(hash, (size_t)(end - hash), e->hash, sizeof(e->hash)) < 0)
		return "hash is not 64 bytes of base64";
	return NULL;
}

/* Parse one non-comment line into e (user copied). Returns NULL, or the reason, or "" on ENOMEM. */
static const char *parse_line(const char *s, size_t len, struct entry *e)
{
	const char *colon = memchr(s, ':', len), *h, *hend, *uend;
	const char *why;

	if (!colon)
		return "expected user:hash";
	/* Blanks around the user name are not part of it, as mosquitto trims them. */
	uend = colon;
	while (uend > s && is_blank(uend[-1]))
		uend--;
	if (uend == s)
		return "empty user name";
	if ((size_t)(uend - s) > TERN_PASSWD_USERNAME_MAX)
		return "user name longer than 65535 bytes";
	h = colon + 1;
	hend = s + len;
	while (h < hend && is_blank(*h))
		h++;
	while (hend > h && is_blank(hend[-1]))
		hend--;
	if (h == hend)
		return "missing password hash";
	why = parse_hash(h, (size_t)(hend - h), e);
	if (why)
		return why;
	e->user_len = (size_t)(uend - s);
	e->user = tern_strndup(s, e->user_len);
	return e->user ? NULL : "";
}

void tern_passwd_free(struct tern_passwd *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		OPENSSL_cleanse(p->e[i].hash, sizeof(p->e[i].hash));
		tern_free(p->e[i].user);
	}
	tern_free(p->e);
	tern_free(p);
}

int tern_passwd_parse(const char *buf, size_t len, const char *name, struct tern_passwd **out,
		      char *err, size_t errlen)
{
	struct tern_passwd *p = tern_calloc(1, sizeof(*p));
	struct tern_lines it = {buf, len, 0, 0};
	const char *line;
	size_t cap = 0, n;
	int rc;

	if (!p)
		return -ENOMEM;
	while (tern_lines_next(&it, &line, &n)) {
		const char *why;
		struct entry e = {0};

		while (n && is_blank(*line)) {
			line++;
			n--;
		}
		if (n == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', n)) {
			rc = tern_errf(err, errlen, "%s:%u: NUL byte in line", name, it.lineno);
			goto err;
		}
		why = parse_line(line, n, &e);
		if (why && !*why) {
			rc = -ENOMEM;
			goto err;
		}
		if (why) {
			rc = tern_errf(err, errlen, "%s:%u: %s", name, it.lineno, why);
			goto err;
		}
		if (p->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct entry *ne = tern_realloc(p->e, ncap * sizeof(*ne));

			if (!ne) {
				tern_free(e.user);
				rc = -ENOMEM;
				goto err;
			}
			p->e = ne;
			cap = ncap;
		}
		p->e[p->n++] = e;
	}
	if (p->n > 1) {
		qsort(p->e, p->n, sizeof(*p->e), cmp_entry);
		for (size_t i = 1; i < p->n; i++)
			if (cmp_entry(&p->e[i - 1], &p->e[i]) == 0) {
				rc = tern_errf(err, errlen, "%s: user '%.64s' is listed twice",
					       name, p->e[i].user);
				goto err;
			}
	}
	*out = p;
	return 0;
err:
	tern_passwd_free(p);
	return rc;
}

int tern_passwd_load(const char *path, struct tern_passwd **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = tern_readfile(path, FILE_MAX_BYTES, &buf, &len, err, errlen);

	if (rc < 0)
		return rc;
	rc = tern_passwd_parse(buf, len, path, out, err, errlen);
	OPENSSL_cleanse(buf, len);
	tern_free(buf);
	return rc;
}

size_t tern_passwd_count(const struct tern_passwd *p)
{
	return p->n;
}

int tern_passwd_verify(const struct tern_passwd *p, const char *user, size_t user_len,
		       const uint8_t *password, size_t password_len)
{
	/* Hashed for unknown users so that their answer takes as long as a wrong password. */
	static const struct entry decoy = {.type = HASH_SHA512_PBKDF2,
					   .iterations = TERN_PASSWD_ITERATIONS};
	struct entry key = {.user = (char *)user, .user_len = user_len};
	/* bsearch must not get a NULL array, even for zero entries (an empty file). */
	const struct entry *e = p->n ? bsearch(&key, p->e, p->n, sizeof(*p->e), cmp_entry) : NULL;
	uint8_t got[TERN_PASSWD_HASH_LEN];
	int rc = digest(e ? e : &decoy, password, password_len, got);

	if (rc == 0 && !e)
		rc = -ENOENT;
	else if (rc == 0 && CRYPTO_memcmp(got, e->hash, sizeof(got)) != 0)
		rc = -EACCES;
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

int tern_passwd_hash(const uint8_t *password, size_t password_len, unsigned iterations, char *out,
		     size_t outlen)
{
	struct entry e = {.type = HASH_SHA512_PBKDF2, .iterations = iterations};
	uint8_t hash[TERN_PASSWD_HASH_LEN];
	/* EVP_EncodeBlock writes 4 bytes per 3 plus a NUL. */
	unsigned char salt64[4 * ((TERN_PASSWD_SALT_LEN + 2) / 3) + 1];
	unsigned char hash64[4 * ((TERN_PASSWD_HASH_LEN + 2) / 3) + 1];
	int n;

	if (iterations == 0 || iterations > TERN_PASSWD_MAX_ITERATIONS)
		return -EINVAL;
	if (RAND_bytes(e.salt, sizeof(e.salt)) != 1)
		return -EIO;
	if (digest(&e, password, password_len, hash) < 0)
		return -EIO;
	EVP_EncodeBlock(salt64, e.salt, sizeof(e.salt));
	EVP_EncodeBlock(hash64, hash, sizeof(hash));
	OPENSSL_cleanse(hash, sizeof(hash));
	n = snprintf(out, outlen, "$7$%u$%s$%s", iterations, salt64, hash64);
	return n > 0 && (size_t)n < outlen ? 0 : -EINVAL;
}

int tern_passwd_username_valid(const char *user)
{
	size_t n = strlen(user);

	if (n == 0 || n > TERN_PASSWD_USERNAME_MAX || strpbrk(user, ":\r\n"))
		return -EINVAL;
	return 0;
}
