/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ACL parser and checks (broker/acl.c): the input is
 * an ACL file. A file that parses is then asked about fixed users, client ids,
 * topics and filters, and the subscription read scope must agree with the
 * exact per-topic check: ALL means every listed topic the filter matches is
 * readable, NONE that none is (what security.c relies on to skip checks).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/acl.h"
#include "broker/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const users[] = {NULL, "alice", "bob", "a+b"};
static const char *const client_ids[] = {"c1", "dev/1", "#"};
static const char *const topics[] = {"a",	  "a/b",	"a/b/c", "$SYS/x", "alice/t",
				     "c1/status", "dev/1/data", "x/y/z", "b"};
static const char *const filters[] = {"#",	"a/#",	   "a/+",  "+/b",
				      "$SYS/#", "alice/#", "c1/+", "x/y/z"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_acl: property violated: %s\n", what);
	abort();
}

static void check_scopes(const struct tern_acl *acl, const char *user, const char *id)
{
	for (size_t f = 0; f < N(filters); f++) {
		const uint8_t *fl = (const uint8_t *)filters[f];
		size_t flen = strlen(filters[f]);
		enum tern_acl_scope scope = tern_acl_read_scope(acl, user, id, fl, flen);

		for (size_t t = 0; t < N(topics); t++) {
			const uint8_t *tp = (const uint8_t *)topics[t];
			size_t tlen = strlen(topics[t]);
			bool may;

			if (!tern_topic_matches(fl, flen, tp, tlen))
				continue;
			may = tern_acl_check(acl, user, id, tp, tlen, TERN_ACL_READ);
			if (scope == TERN_ACL_SCOPE_ALL && !may)
				fail("scope ALL but a matching topic is not readable");
			if (scope == TERN_ACL_SCOPE_NONE && may)
				fail("scope NONE but a matching topic is readable");
		}
		for (size_t t = 0; t < N(topics); t++)
			(void)tern_acl_check(acl, user, id, (const uint8_t *)topics[t],
					     strlen(topics[t]), TERN_ACL_WRITE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern_acl *acl = NULL;
	char err[512] = "";
	int rc = tern_acl_parse((const char *)data, size, "fuzz", &acl, err, sizeof(err));

	if (rc == -EINVAL) {
		if (acl || strncmp(err, "fuzz:", 5) != 0)
			fail("a refused file without a NAME:LINE reason");
		return 0;
	}
	if (rc == -ENOMEM)
		return 0;
	if (rc != 0 || !acl)
		fail("an error the header does not document");
	for (size_t u = 0; u < N(users); u++)
		for (size_t c = 0; c < N(client_ids); c++)
			check_scopes(acl, users[u], client_ids[c]);
	tern_acl_free(acl);
	return 0;
}
