/* SPDX-License-Identifier: MIT */
/*
 * One allocation wrapper for the whole broker (jemalloc underneath), so that
 * memory accounting and a future allocator change live in one place.
 */
#ifndef TERN_ALLOC_H
#define TERN_ALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/free with jemalloc. Return NULL with errno=ENOMEM on failure. Thread-safe.
 */
void *tern_malloc(size_t size);
void *tern_calloc(size_t n, size_t size);
void *tern_realloc(void *p, size_t size);
/* size bytes aligned to align (a power of two); free with tern_free. */
void *tern_aligned_alloc(size_t align, size_t size);
void tern_free(void *p);
/* Copy of the first n bytes of s, NUL-terminated. */
char *tern_strndup(const char *s, size_t n);
char *tern_strdup(const char *s);

/* Bytes currently allocated by the process (jemalloc stats.allocated), 0 if unknown. */
size_t tern_alloc_allocated(void);

#endif
