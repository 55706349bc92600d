/* SPDX-License-Identifier: MIT */
/* Reading a whole small file (password and ACL files) into memory. */
#ifndef TERN_READFILE_H
#define TERN_READFILE_H

#include <stddef.h>

/*
 * Read the file at path into a new buffer (*buf, *len; one NUL byte follows
 * the data, not counted). The buffer comes from tern_malloc: erase secrets,
 * then tern_free it. Returns 0, -EFBIG past max bytes, -ENOMEM, or -errno of
 * open/read (-EISDIR for a directory). Thread-safe.
 */
int tern_readfile(const char *path, size_t max, char **buf, size_t *len);

#endif
