/* SPDX-License-Identifier: MIT */
/*
 * Parser input at the very end of a mapping followed by a PROT_NONE page, so a
 * read past the end faults (picohttpparser's test habit). For the file parsers'
 * tests; one area per process, set up by guard_setup.
 */
#ifndef TERN_TEST_GUARD_H
#define TERN_TEST_GUARD_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_AREA (1u << 20)

static char *guard_map;
static size_t guard_page;

static inline int guard_setup(void **state)
{
	(void)state;
	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	guard_map = mmap(NULL, GUARD_AREA + guard_page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_map == MAP_FAILED)
		return -1;
	return mprotect(guard_map + GUARD_AREA, guard_page, PROT_NONE);
}

static inline int guard_teardown(void **state)
{
	(void)state;
	munmap(guard_map, GUARD_AREA + guard_page);
	return 0;
}

/* Copy len bytes to end exactly at the PROT_NONE page; valid until the next call. */
static inline const char *guard_put(const char *in, size_t len)
{
	char *dst = guard_map + GUARD_AREA - len;

	if (len > GUARD_AREA)
		return NULL;
	memmove(dst, in, len);
	return dst;
}

#endif
