/* SPDX-License-Identifier: MIT */
/*
 * An allocation wrapper (broker/alloc.h) that a unit test can make fail: a
 * test executable that includes this header (once) defines every function of
 * alloc.h, so the broker's own alloc.o is not linked into it. While `failing`
 * is set every allocation fails with ENOMEM, while `fail_above` is set every
 * one larger than it does; `fail_nth` = n makes the nth allocation from now
 * fail (once); `live` counts blocks not freed.
 */
#ifndef TERN_TESTS_FAILALLOC_H
#define TERN_TESTS_FAILALLOC_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/alloc.h"

static bool failing;	  /* every allocation fails while set */
static size_t fail_above; /* allocations of more bytes fail; 0: off */
static unsigned fail_nth; /* >0: the allocation that counts it down to 0 fails */
static unsigned failed;	  /* allocations refused */
static long live;	  /* allocations not yet freed */

static void *counted(void *p)
{
	if (p)
		__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
	else
		errno = ENOMEM;
	return p;
}

static bool refuse(size_t size)
{
	size_t above = __atomic_load_n(&fail_above, __ATOMIC_RELAXED);
	unsigned nth = __atomic_load_n(&fail_nth, __ATOMIC_RELAXED);

	if (nth)
		__atomic_store_n(&fail_nth, nth - 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&failing, __ATOMIC_RELAXED) && (!above || size <= above) && nth != 1)
		return false;
	__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
	errno = ENOMEM;
	return true;
}

void *tern_malloc(size_t size)
{
	return refuse(size) ? NULL : counted(malloc(size));
}

void *tern_calloc(size_t n, size_t size)
{
	return refuse(n * size) ? NULL : counted(calloc(n, size));
}

void *tern_realloc(void *p, size_t size)
{
	void *q;

	if (refuse(size))
		return NULL;
	q = realloc(p, size);
	if (q && !p)
		__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
	return q;
}

void *tern_aligned_alloc(size_t align, size_t size)
{
	return refuse(size) ? NULL
			    : counted(aligned_alloc(align, (size + align - 1) / align * align));
}

void tern_free(void *p)
{
	if (p)
		__atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
	free(p);
}

char *tern_strndup(const char *s, size_t n)
{
	return refuse(n) ? NULL : counted(strndup(s, n));
}

char *tern_strdup(const char *s)
{
	return refuse(strlen(s) + 1) ? NULL : counted(strdup(s));
}

size_t tern_alloc_allocated(void)
{
	return 0;
}

#endif
