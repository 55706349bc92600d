/* SPDX-License-Identifier: MIT */
/* The allocation wrapper: every heap allocation of the broker goes through here. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "broker/alloc.h"

void *tern_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *tern_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *tern_realloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q)
		errno = ENOMEM;
	return q;
}

void *tern_aligned_alloc(size_t align, size_t size)
{
	void *p = NULL;

	if (posix_memalign(&p, align, size ? size : 1) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void tern_free(void *p)
{
	free(p);
}

char *tern_strndup(const char *s, size_t n)
{
	char *d = tern_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *tern_strdup(const char *s)
{
	return tern_strndup(s, strlen(s));
}

size_t tern_alloc_allocated(void)
{
	/* Stats are cached per epoch: bump it so the number is current. */
	uint64_t epoch = 1;
	size_t sz = sizeof(epoch);
	size_t allocated = 0;
	size_t len = sizeof(allocated);

	if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
		return 0;
	if (mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0)
		return 0;
	return allocated;
}
