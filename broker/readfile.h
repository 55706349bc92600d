/* SPDX-License-Identifier: MIT */
/* Small text files (password and ACL files): reading them whole, lines, error messages. */
#ifndef TERN_READFILE_H
#define TERN_READFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The lines of a buffer, numbered from 1. Initialise with {buf, len}. */
struct tern_lines {
	const char *buf;
	size_t len;
	size_t pos;
	unsigned lineno; /* of the line tern_lines_next returned last */
};

/*
 * The next line (without "\n" or "\r\n"; the last one may lack it) into
 * *line and *n; false past the end. Reads nothing outside buf. Thread-safe.
 */
bool tern_lines_next(struct tern_lines *it, const char **line, size_t *n);

/* Format an error message into err (may be NULL); returns -EINVAL. */
int tern_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Read the file at path into a new buffer (*buf, *len; one NUL byte follows
 * the data, not counted). The buffer comes from tern_malloc: erase secrets,
 * then tern_free it. Returns 0, -EFBIG past max bytes, -ENOMEM, or -errno of
 * open/read (-EISDIR for a directory), with "PATH: reason" in err. Thread-safe.
 */
int tern_readfile(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen);

#endif
