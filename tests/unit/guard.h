/* SPDX-License-Identifier: MIT */
/*
 * Guard-page helper for parser tests: input is copied to the end of a
 * mapping followed by a PROT_NONE page, so any read past buf + len faults
 * (picohttpparser's test habit). One mapping per test program.
 */
#ifndef TERN_TEST_GUARD_H
#define TERN_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_AREA (4u << 20) /* room for a PUBLISH with a 4-byte remaining length */

static uint8_t *guard_map;
static size_t guard_page;

/* cmocka group setup: map the area and its guard page. */
static inline int guard_setup(void **state)
{
	(void)state;
	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	guard_map = mmap(NULL, GUARD_AREA + guard_page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_map == MAP_FAILED)
		return -1;
	if (mprotect(guard_map + GUARD_AREA, guard_page, PROT_NONE) != 0)
		return -1;
	return 0;
}

static inline int guard_teardown(void **state)
{
	(void)state;
	munmap(guard_map, GUARD_AREA + guard_page);
	return 0;
}

/* Copy len bytes so that they end exactly at the PROT_NONE page; valid until the next call. */
static inline uint8_t *guard_put(const void *in, size_t len)
{
	assert_true(len <= GUARD_AREA);
	uint8_t *dst = guard_map + GUARD_AREA - len;

	if (len)
		memmove(dst, in, len);
	return dst;
}

#endif
