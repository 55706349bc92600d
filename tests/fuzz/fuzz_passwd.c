/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the password file parser (broker/passwd.c): the input
 * is a file. Checks the contract: it parses, or fails with -EINVAL and a
 * "NAME:LINE: reason" message, or -ENOMEM; a parsed file counts no more users
 * than it has lines. Verification is left out: a fuzzed iteration count would
 * make each input cost seconds of PBKDF2.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_passwd: property violated: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern_passwd *p = NULL;
	char err[512] = "";
	size_t lines = 1;
	int rc = tern_passwd_parse((const char *)data, size, "fuzz", &p, err, sizeof(err));

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (rc == 0) {
		if (!p)
			fail("success without a parsed file");
		if (tern_passwd_count(p) > lines)
			fail("more users than lines");
		tern_passwd_free(p);
	} else if (rc == -EINVAL) {
		if (p || strncmp(err, "fuzz:", 5) != 0)
			fail("a refused file without a NAME:LINE reason");
	} else if (rc != -ENOMEM) {
		fail("an error the header does not document");
	}
	return 0;
}
