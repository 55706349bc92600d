/* SPDX-License-Identifier: MIT */
/*
 * Access control lists in mosquitto's acl_file format, with the semantics of
 * mosquitto 2.0's default security (src/security_default.c):
 *
 *   topic [read|write|readwrite|deny] FILTER   before any `user` line: for
 *                                              anonymous clients; after one:
 *                                              for that user
 *   user NAME                                  the rest of the line is the name
 *   pattern [read|write|readwrite|deny] FILTER for every client; %c is the
 *                                              client id, %u the user name
 *
 * The access word may be left out (readwrite). For one message topic the
 * answer is, in this order: denied if one of the client's own `deny` lines
 * matches; allowed if one of its own lines with that access matches; denied
 * if a `deny` pattern matches; allowed if a pattern with that access matches;
 * denied otherwise. Patterns never apply (all access denied) to a client whose
 * id or user name contains '+' or '#', and a %u pattern never to an
 * anonymous client. A filter matches '$' topics only if it starts with '$'.
 *
 * A parsed file is immutable; any number of threads may check against it.
 */
#ifndef TERN_ACL_H
#define TERN_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tern_acl_access {
	TERN_ACL_READ = 1,
	TERN_ACL_WRITE = 2,
};

/* What a subscription filter may receive (tern_acl_read_scope). */
enum tern_acl_scope {
	TERN_ACL_SCOPE_NONE,	/* no topic the filter matches is readable */
	TERN_ACL_SCOPE_PARTIAL, /* some may be: check each message */
	TERN_ACL_SCOPE_ALL,	/* every topic the filter matches is readable */
};

struct tern_acl;

/*
 * Parse an ACL file held in buf (len bytes, need not be NUL-terminated).
 * Blank lines and lines starting with '#' are skipped. Errors (unknown
 * keyword, bad access word, invalid filter, `user` without a name) return
 * -EINVAL with "NAME:LINE: reason" in err; -ENOMEM. Thread-safe.
 */
int tern_acl_parse(const char *buf, size_t len, const char *name, struct tern_acl **out, char *err,
		   size_t errlen);

/* Read and parse the file at path; errors as tern_acl_parse or "PATH: reason". Thread-safe. */
int tern_acl_load(const char *path, struct tern_acl **out, char *err, size_t errlen);

/* Free a parsed ACL; NULL is ignored. No reader may still use it. */
void tern_acl_free(struct tern_acl *acl);

/*
 * May the client (user name NUL-terminated, NULL when anonymous; client id
 * NUL-terminated) read or write (one of enum tern_acl_access) the valid topic
 * name? Does not allocate for expanded patterns up to 1 KiB. Thread-safe.
 */
bool tern_acl_check(const struct tern_acl *acl, const char *username, const char *client_id,
		    const uint8_t *topic, size_t len, enum tern_acl_access access);

/*
 * Classify a valid subscription filter for reading, conservatively: ALL only
 * when every topic it matches is readable, NONE only when none is; anything
 * the analysis cannot decide is PARTIAL (then each message is checked with
 * tern_acl_check, which is always exact). Thread-safe.
 */
enum tern_acl_scope tern_acl_read_scope(const struct tern_acl *acl, const char *username,
					const char *client_id, const uint8_t *filter, size_t len);

#endif
