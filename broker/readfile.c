/* SPDX-License-Identifier: MIT */
/* Reading a whole small file into memory, for the parsers that take a buffer. */
#include <errno.h>
#include <stdio.h>

#include "broker/alloc.h"
#include "broker/readfile.h"

int tern_readfile(const char *path, size_t max, char **buf, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, n = 0;
	char *b = NULL;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t got;

		if (cap - n < 2) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (cap > max) {
				rc = -EFBIG;
				goto err;
			}
			nb = tern_realloc(b, ncap);
			if (!nb) {
				rc = -ENOMEM;
				goto err;
			}
			b = nb;
			cap = ncap;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		/* fread was the last call: errno is its reason (EISDIR for a directory). */
		rc = errno ? -errno : -EIO;
		goto err;
	}
	if (n > max) {
		rc = -EFBIG;
		goto err;
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
err:
	tern_free(b);
	fclose(f);
	return rc;
}
