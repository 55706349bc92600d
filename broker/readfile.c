/* SPDX-License-Identifier: MIT */
/* Small text files: reading them whole, for the parsers that take a buffer; lines; errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/readfile.h"

int tern_readfile(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen)
{
	char reason[128];
	FILE *f = fopen(path, "re");
	size_t cap = 0, n = 0;
	char *b = NULL;
	int rc = 0;

	if (!f) {
		rc = -errno;
		goto out;
	}
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
out:
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror_r(-rc, reason, sizeof(reason)));
	return rc;
}

bool tern_lines_next(struct tern_lines *it, const char **line, size_t *n)
{
	const char *l = it->buf + it->pos, *nl;
	size_t len;

	if (it->pos >= it->len)
		return false;
	nl = memchr(l, '\n', it->len - it->pos);
	len = nl ? (size_t)(nl - l) : it->len - it->pos;
	it->pos += len + (nl ? 1 : 0);
	it->lineno++;
	if (len && l[len - 1] == '\r')
		len--;
	*line = l;
	*n = len;
	return true;
}

int tern_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}
