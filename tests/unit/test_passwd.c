/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for password files: entries made by Debian's mosquitto_passwd
 * 2.0.11 ($7$ with 101 and 1000 iterations, $6$, an empty password) verify,
 * wrong passwords and unknown users do not, tern_passwd_hash output
 * round-trips, and malformed files fail with NAME:LINE: reason. Every parse
 * reads its input from the end of a guarded mapping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/passwd.h"
#include "guard.h"

/* Made with: mosquitto_passwd -c -b v alice secret; -H sha512 -b v bob hunter2;
 * -I 1000 -b v carol 'pässwörd with spaces'; -b v dave ''; -H sha512 -b v eve x. */
static const char mosquitto_file[] =
    "alice:$7$101$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/QAapNX4FpHxjSbaHTI4ekJbXtvRWAG"
    "SadZU2Wzh1O7wmBpTd0ssIA==\n"
    "bob:$6$S0AboqeTICd2Wacj$MSIxZ5PwDORzkLiQ+1b0X0PJBU1zh58tJ8LnDVz0kKHWzvFqohUwC86YpfPBIGt1qIgkO"
    "i4fCFlmV1s2DHbXow==\n"
    "carol:$7$1000$Q2I50WrQxFGa0XtH$T4pC+U2R18xD/yQdLYPqlhGxjFQGB2rIoY2le+tEaCFtQQRcigyMhJQL8BBbrZ"
    "wT+6CDy25lcIhAl3solovE4g==\n"
    "dave:$7$101$LOI12/BSJC1bM62e$xTvuh8qd8hh27WJrREW5L/"
    "r5MgE5Rg5gJ9NJWZe5+kx32IxleYnbuLsgR4WzbRVRd7"
    "1+XgEKMWMZBggNmTk1Kg==\n"
    "eve:$6$u5R12ioLklrOfjpc$IZQgdlYPVMjFKu6uL6oUkNVzCCpX03CahHfhdaIwguJ7W+Ad/c7aAW3uZmjTyrzOS4v061"
    "YW8AiyhIuk/Ew4qA==\n";

static int parse(const char *text, size_t len, struct tern_passwd **p, char *err, size_t errlen)
{
	const char *in = (const char *)guard_put(text, len);

	return tern_passwd_parse(in, len, "pw", p, err, errlen);
}

static int verify(const struct tern_passwd *p, const char *user, const char *pw)
{
	return tern_passwd_verify(p, user, strlen(user), (const uint8_t *)pw, strlen(pw));
}

static void test_mosquitto_vectors(void **state)
{
	struct tern_passwd *p = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(mosquitto_file, strlen(mosquitto_file), &p, err, sizeof(err)), 0);
	assert_int_equal(tern_passwd_count(p), 5);
	assert_int_equal(verify(p, "alice", "secret"), 0);
	assert_int_equal(verify(p, "bob", "hunter2"), 0);
	assert_int_equal(verify(p, "carol", "pässwörd with spaces"), 0);
	assert_int_equal(verify(p, "dave", ""), 0);
	assert_int_equal(verify(p, "eve", "x"), 0);

	assert_int_equal(verify(p, "alice", "Secret"), -EACCES);
	assert_int_equal(verify(p, "alice", "secret "), -EACCES);
	assert_int_equal(verify(p, "alice", ""), -EACCES);
	assert_int_equal(verify(p, "bob", "hunter"), -EACCES);
	assert_int_equal(verify(p, "carol", "pässwörd with space"), -EACCES);
	assert_int_equal(verify(p, "dave", " "), -EACCES);
	assert_int_equal(verify(p, "eve", "y"), -EACCES);
	/* A password that matches another user's is still wrong for this one. */
	assert_int_equal(verify(p, "alice", "hunter2"), -EACCES);

	assert_int_equal(verify(p, "mallory", "secret"), -ENOENT);
	assert_int_equal(verify(p, "Alice", "secret"), -ENOENT);
	assert_int_equal(verify(p, "alic", "secret"), -ENOENT);
	assert_int_equal(verify(p, "", "secret"), -ENOENT);
	/* User names compare by length too, not as C strings. */
	assert_int_equal(tern_passwd_verify(p, "alice\0x", 7, (const uint8_t *)"secret", 6),
			 -ENOENT);
	tern_passwd_free(p);
}

static void test_comments_blanks_crlf(void **state)
{
	static const char text[] =
	    "# made by hand\n"
	    "\n"
	    "alice:$7$101$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/QAapNX4F"
	    "pHxjSbaHTI4ekJbXtvRWAGSadZU2Wzh1O7wmBpTd0ssIA==  \r\n"
	    "\r\n"
	    "#bob:$6$nothing\n"
	    "  # indented comment: ignored too\n"
	    "\t \n"
	    " eve\t: $6$u5R12ioLklrOfjpc$IZQgdlYPVMjFKu6uL6oUkNVzCCpX03CahHfhdaIwguJ7W+Ad"
	    "/c7aAW3uZmjTyrzOS4v061YW8AiyhIuk/Ew4qA==";
	struct tern_passwd *p = NULL;
	char err[256] = "";

	(void)state;
	/* The last line has no newline: the parser must stop at the guard page. */
	assert_int_equal(parse(text, strlen(text), &p, err, sizeof(err)), 0);
	assert_int_equal(tern_passwd_count(p), 2);
	assert_int_equal(verify(p, "alice", "secret"), 0);
	assert_int_equal(verify(p, "eve", "x"), 0);
	assert_int_equal(verify(p, "bob", "hunter2"), -ENOENT);
	tern_passwd_free(p);

	assert_int_equal(parse("", 0, &p, err, sizeof(err)), 0);
	assert_int_equal(tern_passwd_count(p), 0);
	assert_int_equal(verify(p, "alice", "secret"), -ENOENT);
	tern_passwd_free(p);
}

static void test_malformed(void **state)
{
	static const char good[] =
	    "ok:$7$101$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/QAapNX4FpH"
	    "xjSbaHTI4ekJbXtvRWAGSadZU2Wzh1O7wmBpTd0ssIA==\n";
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
	    {"alice", "expected user:hash"},
	    {":$6$S0AboqeTICd2Wacj$MSIxZ5PwDORzkLiQ+1b0X0PJBU1zh58tJ8LnDVz0kKHWzvFqohUwC86YpfPBIGt1"
	     "qIgkOi4fCFlmV1s2DHbXow==",
	     "empty user name"},
	    {"alice:", "missing password hash"},
	    {"alice:   ", "missing password hash"},
	    {"alice:secret", "not hashed"},
	    {"alice:$5$abc$def", "unknown hash type"},
	    {"alice:$7$", "bad iteration count"},
	    {"alice:$7$0$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/"
	     "QAapNX4FpHxjSbaHTI4ekJbXtvR"
	     "WAGSadZU2Wzh1O7wmBpTd0ssIA==",
	     "bad iteration count"},
	    {"alice:$7$-1$kJFLQ/Qv/fv/s11M$x", "bad iteration count"},
	    {"alice:$7$99999999999$kJFLQ/Qv/fv/s11M$x", "too large"},
	    {"alice:$7$101$kJFLQ/Qv/fv/s11M", "missing hash"},
	    {"alice:$7$101$kJFLQ/Qv/fv/s11$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/"
	     "QAapNX4FpHxjSbaHTI4ekJbXtvR"
	     "WAGSadZU2Wzh1O7wmBpTd0ssIA==",
	     "salt"},
	    {"alice:$7$101$kJFLQ/Qv/fv/s11M!$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/"
	     "QAapNX4FpHxjSbaHTI4ekJbXtv"
	     "RWAGSadZU2Wzh1O7wmBpTd0ssIA==",
	     "salt"},
	    {"alice:$7$101$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/"
	     "QAapNX4FpHxjSbaHTI4ekJbXtvR"
	     "WAGSadZU2Wzh1O7wmBpTd0ss",
	     "hash is not 64 bytes"},
	    {"alice:$7$101$kJFLQ/Qv/fv/s11M$XUBMGMSfB5RXPPkKP1Hj2HEZ2nrrgl68/"
	     "QAapNX4FpHxjSbaHTI4ekJbXtvR"
	     "WAGSadZU2Wzh1O7wmBpTd0ssIA==$",
	     "too many"},
	    {"alice:$6$S0AboqeTICd2Wacj$MSIxZ5PwDORzkLiQ+"
	     "1b0X0PJBU1zh58tJ8LnDVz0kKHWzvFqohUwC86YpfPBIGt1"
	     "qIgkOi4fCFlmV1s2DHbXox==",
	     "hash is not 64 bytes"}, /* non-zero padding bits */
	};
	char text[1024], err[256], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern_passwd *p = (struct tern_passwd *)0x1;
		int n = snprintf(text, sizeof(text), "%s# two good lines first\n%s\n", good,
				 cases[i].line);

		err[0] = '\0';
		if (parse(text, (size_t)n, &p, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].line);
		assert_ptr_equal(p, (struct tern_passwd *)0x1); /* untouched on error */
		snprintf(want, sizeof(want), "pw:3: ");
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, cases[i].why))
			fail_msg("'%s': error '%s' lacks '%s' or '%s'", cases[i].line, err, want,
				 cases[i].why);
	}
}

static void test_duplicate_and_nul(void **state)
{
	char text[512], err[256] = "";
	struct tern_passwd *p = NULL;
	int n;

	(void)state;
	n = snprintf(
	    text, sizeof(text), "%s",
	    "eve:$6$u5R12ioLklrOfjpc$IZQgdlYPVMjFKu6uL6oUkNVzCCpX03CahHfhdaIwguJ7W+Ad/c7aAW3uZ"
	    "mjTyrzOS4v061YW8AiyhIuk/Ew4qA==\n"
	    "eve:$6$u5R12ioLklrOfjpc$IZQgdlYPVMjFKu6uL6oUkNVzCCpX03CahHfhdaIwguJ7W+Ad/c7aAW3uZ"
	    "mjTyrzOS4v061YW8AiyhIuk/Ew4qA==\n");
	assert_int_equal(parse(text, (size_t)n, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "listed twice"));

	memcpy(text, "ev\0:x\n", 6);
	assert_int_equal(parse(text, 6, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "pw:1: NUL"));
}

static void test_hash_roundtrip(void **state)
{
	char line[TERN_PASSWD_LINE_MAX + 16], hash[TERN_PASSWD_LINE_MAX],
	    other[TERN_PASSWD_LINE_MAX];
	struct tern_passwd *p = NULL;
	char err[256] = "";
	int n;

	(void)state;
	assert_int_equal(tern_passwd_hash((const uint8_t *)"s3cret", 6, 101, hash, sizeof(hash)),
			 0);
	assert_int_equal(strncmp(hash, "$7$101$", 7), 0);
	/* A fresh salt every time. */
	assert_int_equal(tern_passwd_hash((const uint8_t *)"s3cret", 6, 101, other, sizeof(other)),
			 0);
	assert_string_not_equal(hash, other);
	n = snprintf(line, sizeof(line), "zoe:%s\n", hash);
	assert_int_equal(parse(line, (size_t)n, &p, err, sizeof(err)), 0);
	assert_int_equal(verify(p, "zoe", "s3cret"), 0);
	assert_int_equal(verify(p, "zoe", "s3cre"), -EACCES);
	tern_passwd_free(p);

	/* Binary passwords (a NUL inside) hash all their bytes. */
	assert_int_equal(tern_passwd_hash((const uint8_t *)"a\0b", 3, 7, hash, sizeof(hash)), 0);
	n = snprintf(line, sizeof(line), "bin:%s\n", hash);
	assert_int_equal(parse(line, (size_t)n, &p, err, sizeof(err)), 0);
	assert_int_equal(tern_passwd_verify(p, "bin", 3, (const uint8_t *)"a\0b", 3), 0);
	assert_int_equal(tern_passwd_verify(p, "bin", 3, (const uint8_t *)"a\0c", 3), -EACCES);
	assert_int_equal(tern_passwd_verify(p, "bin", 3, (const uint8_t *)"a", 1), -EACCES);
	tern_passwd_free(p);

	assert_int_equal(tern_passwd_hash((const uint8_t *)"x", 1, 0, hash, sizeof(hash)), -EINVAL);
	assert_int_equal(tern_passwd_hash((const uint8_t *)"x", 1, 101, hash, 20), -EINVAL);
}

static void test_username_valid(void **state)
{
	(void)state;
	assert_int_equal(tern_passwd_username_valid("alice"), 0);
	assert_int_equal(tern_passwd_username_valid("a b"), 0);
	assert_int_equal(tern_passwd_username_valid(""), -EINVAL);
	assert_int_equal(tern_passwd_username_valid("a:b"), -EINVAL);
	assert_int_equal(tern_passwd_username_valid("a\nb"), -EINVAL);
}

static void test_load_errors(void **state)
{
	struct tern_passwd *p = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(tern_passwd_load("/nonexistent/tern-passwd", &p, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/tern-passwd: "));
	assert_int_equal(tern_passwd_load("/", &p, err, sizeof(err)), -EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mosquitto_vectors), cmocka_unit_test(test_comments_blanks_crlf),
	    cmocka_unit_test(test_malformed),	      cmocka_unit_test(test_duplicate_and_nul),
	    cmocka_unit_test(test_hash_roundtrip),    cmocka_unit_test(test_username_valid),
	    cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
