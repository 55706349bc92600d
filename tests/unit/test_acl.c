/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ACL files: parsing (valid forms, every malformed case with its
 * NAME:LINE), the check order of mosquitto 2.0's default security, pattern
 * substitution, and the subscription read scope, which is checked against the
 * exact per-topic check over every topic of a small universe. Parses read from
 * the end of a guarded mapping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/acl.h"
#include "broker/topic.h"
#include "guard.h"

static struct tern_acl *parse_ok(const char *text)
{
	struct tern_acl *acl = NULL;
	char err[256] = "";
	const char *in = (const char *)guard_put(text, strlen(text));

	if (tern_acl_parse(in, strlen(text), "acl", &acl, err, sizeof(err)) != 0)
		fail_msg("parse failed: %s", err);
	return acl;
}

static bool can(const struct tern_acl *acl, const char *user, const char *id, const char *topic,
		enum tern_acl_access a)
{
	return tern_acl_check(acl, user, id, (const uint8_t *)topic, strlen(topic), a);
}

static enum tern_acl_scope scope(const struct tern_acl *acl, const char *user, const char *id,
				 const char *filter)
{
	return tern_acl_read_scope(acl, user, id, (const uint8_t *)filter, strlen(filter));
}

#define R TERN_ACL_READ
#define W TERN_ACL_WRITE

static void test_sections_and_access(void **state)
{
	struct tern_acl *acl = parse_ok("# anonymous clients\n"
					"topic read public/#\n"
					"topic write  inbox/anon\n"
					"  topic   readwrite   both/+  \n"
					"topic plain/topic\n"
					"\n"
					"user alice\n"
					"topic readwrite a/#\n"
					"topic deny a/secret\n"
					"user bob smith\n"
					"topic read b/#\n"
					"user alice\n"
					"topic write extra/alice\n");

	(void)state;
	/* Anonymous clients: only the lines before the first user line. */
	assert_true(can(acl, NULL, "c", "public/x", R));
	assert_false(can(acl, NULL, "c", "public/x", W));
	assert_true(can(acl, NULL, "c", "inbox/anon", W));
	assert_false(can(acl, NULL, "c", "inbox/anon", R));
	assert_true(can(acl, NULL, "c", "both/1", R));
	assert_true(can(acl, NULL, "c", "both/1", W));
	assert_true(can(acl, NULL, "c", "plain/topic", R));
	assert_true(can(acl, NULL, "c", "plain/topic", W));
	assert_false(can(acl, NULL, "c", "a/x", R));
	/* A user gets only its own lines, not the anonymous ones. */
	assert_false(can(acl, "alice", "c", "public/x", R));
	assert_true(can(acl, "alice", "c", "a/x/y", R));
	assert_true(can(acl, "alice", "c", "a", W)); /* a/# matches a */
	assert_false(can(acl, "alice", "c", "a/secret", R));
	assert_false(can(acl, "alice", "c", "a/secret", W));
	assert_true(can(acl, "alice", "c", "a/secret/x", R));
	/* A repeated user section adds to the first; the access word is optional. */
	assert_true(can(acl, "alice", "c", "extra/alice", W));
	assert_false(can(acl, "alice", "c", "extra/alice", R));
	/* User names run to the end of the line. */
	assert_true(can(acl, "bob smith", "c", "b/1", R));
	assert_false(can(acl, "bob", "c", "b/1", R));
	/* Unknown users have no lines and no patterns here. */
	assert_false(can(acl, "carol", "c", "public/x", R));
	tern_acl_free(acl);
}

static void test_patterns_and_order(void **state)
{
	struct tern_acl *acl = parse_ok("pattern readwrite devices/%c/#\n"
					"pattern read users/%u/#\n"
					"pattern deny devices/%c/locked\n"
					"pattern write %u/%c\n"
					"pattern read shared/#\n"
					"pattern deny shared/admin\n"
					"user root\n"
					"topic readwrite shared/admin\n"
					"topic deny devices/d1/x\n");

	(void)state;
	assert_true(can(acl, NULL, "d1", "devices/d1/t", R));
	assert_true(can(acl, NULL, "d1", "devices/d1/t", W));
	assert_false(can(acl, NULL, "d1", "devices/d2/t", R));
	assert_false(can(acl, NULL, "d1", "devices/d1/locked", W));
	/* %u never applies to anonymous clients. */
	assert_false(can(acl, NULL, "d1", "users/%u/x", R));
	assert_true(can(acl, "u1", "d1", "users/u1/x", R));
	assert_false(can(acl, "u1", "d1", "users/u1/x", W));
	assert_true(can(acl, "u1", "d1", "u1/d1", W));
	assert_false(can(acl, "u1", "d1", "u1/d2", W));
	/* Deny patterns before allow patterns. */
	assert_true(can(acl, "u1", "d1", "shared/x", R));
	assert_false(can(acl, "u1", "d1", "shared/admin", R));
	/* The user's own allow is checked before the pattern denials (mosquitto's order). */
	assert_true(can(acl, "root", "d1", "shared/admin", R));
	/* ...and the user's own deny before the pattern allows. */
	assert_false(can(acl, "root", "d1", "devices/d1/x", R));
	assert_true(can(acl, "root", "d1", "devices/d1/y", R));
	/* Ids and user names with wildcards get nothing from patterns. */
	assert_false(can(acl, NULL, "d+", "devices/d+/t", R));
	assert_false(can(acl, NULL, "#", "devices/x/t", R));
	assert_false(can(acl, "u#", "d1", "devices/d1/t", R));
	/* An id with '/' widens nothing it could not already match as levels. */
	assert_true(can(acl, NULL, "x/y", "devices/x/y/t", R));
	/* A long id expands past the stack buffer. */
	{
		char id[3000], topic[3100];

		memset(id, 'i', sizeof(id) - 1);
		id[sizeof(id) - 1] = '\0';
		snprintf(topic, sizeof(topic), "devices/%s/t", id);
		assert_true(can(acl, NULL, id, topic, R));
		assert_int_equal(scope(acl, NULL, id, topic), TERN_ACL_SCOPE_ALL);
	}
	tern_acl_free(acl);
}

static void test_dollar_topics(void **state)
{
	struct tern_acl *acl = parse_ok("topic read #\n"
					"topic read $SYS/broker/#\n");

	(void)state;
	assert_true(can(acl, NULL, "c", "a/b", R));
	/* '#' does not reach '$' topics; only a filter starting with '$' does. */
	assert_false(can(acl, NULL, "c", "$SYS/x", R));
	assert_true(can(acl, NULL, "c", "$SYS/broker/uptime", R));
	assert_int_equal(scope(acl, NULL, "c", "#"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, NULL, "c", "$SYS/#"), TERN_ACL_SCOPE_PARTIAL);
	assert_int_equal(scope(acl, NULL, "c", "$SYS/broker/+"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, NULL, "c", "$other/#"), TERN_ACL_SCOPE_NONE);
	tern_acl_free(acl);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
	    {"topci read a", "expected 'topic', 'pattern' or 'user'"},
	    {"topic", "missing topic filter"},
	    {"topic   ", "missing topic filter"},
	    {"pattern", "missing topic filter"},
	    {"topic reed a/b", "access must be"},
	    {"topic a topic with spaces", "access must be"},
	    {"topic read a/#/b", "invalid topic filter"},
	    {"topic read a+", "invalid topic filter"},
	    {"pattern deny a/b#", "invalid topic filter"},
	    {"user", "needs a user name"},
	    {"user   ", "needs a user name"},
	    {"read a/b", "expected"},
	};
	char text[256], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern_acl *acl = (struct tern_acl *)0x1;
		int n = snprintf(text, sizeof(text), "topic read ok\n# comment\n%s\ntopic x\n",
				 cases[i].line);
		const char *in = (const char *)guard_put(text, (size_t)n);

		err[0] = '\0';
		if (tern_acl_parse(in, (size_t)n, "acl", &acl, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].line);
		assert_ptr_equal(acl, (struct tern_acl *)0x1);
		if (strncmp(err, "acl:3: ", 7) != 0 || !strstr(err, cases[i].why))
			fail_msg("'%s': error '%s' lacks 'acl:3: ' or '%s'", cases[i].line, err,
				 cases[i].why);
	}
	memcpy(text, "topic a\0b\n", 10);
	assert_int_equal(tern_acl_parse((const char *)guard_put(text, 10), 10, "acl",
					&(struct tern_acl *){NULL}, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "acl:1: NUL"));
}

static void test_empty_and_edges(void **state)
{
	struct tern_acl *acl = parse_ok("");
	struct tern_acl *last;
	char err[128];

	(void)state;
	/* An empty ACL file denies everything (mosquitto: no lines, no patterns). */
	assert_false(can(acl, NULL, "c", "a", R));
	assert_false(can(acl, "u", "c", "a", W));
	assert_int_equal(scope(acl, "u", "c", "#"), TERN_ACL_SCOPE_NONE);
	tern_acl_free(acl);

	/* The last line without a newline ends at the guard page. */
	last = parse_ok("user u\ntopic read x/#");
	assert_true(can(last, "u", "c", "x/1", R));
	tern_acl_free(last);

	assert_int_equal(tern_acl_load("/nonexistent/tern-acl", &acl, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/tern-acl: "));
}

static void test_scope_cases(void **state)
{
	struct tern_acl *acl = parse_ok("user alice\n"
					"topic readwrite a/#\n"
					"topic deny a/secret\n"
					"topic write w/#\n"
					"topic read r/+/x\n"
					"pattern read p/%c/#\n"
					"pattern deny p/%c/no\n");

	(void)state;
	assert_int_equal(scope(acl, "alice", "c", "a/ok"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, "alice", "c", "a/ok/#"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, "alice", "c", "a/#"), TERN_ACL_SCOPE_PARTIAL);
	assert_int_equal(scope(acl, "alice", "c", "a/+"), TERN_ACL_SCOPE_PARTIAL);
	assert_int_equal(scope(acl, "alice", "c", "a/secret"), TERN_ACL_SCOPE_NONE);
	assert_int_equal(scope(acl, "alice", "c", "#"), TERN_ACL_SCOPE_PARTIAL);
	assert_int_equal(scope(acl, "alice", "c", "w/#"), TERN_ACL_SCOPE_NONE); /* write only */
	assert_int_equal(scope(acl, "alice", "c", "r/1/x"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, "alice", "c", "r/+/x"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, "alice", "c", "r/#"), TERN_ACL_SCOPE_PARTIAL);
	assert_int_equal(scope(acl, "alice", "c", "r/1/y"), TERN_ACL_SCOPE_NONE);
	assert_int_equal(scope(acl, "alice", "c", "b/#"), TERN_ACL_SCOPE_NONE);
	assert_int_equal(scope(acl, "alice", "c", "p/c/x"), TERN_ACL_SCOPE_ALL);
	assert_int_equal(scope(acl, "alice", "c", "p/c/#"), TERN_ACL_SCOPE_PARTIAL);
	assert_int_equal(scope(acl, "alice", "c", "p/c/no"), TERN_ACL_SCOPE_NONE);
	assert_int_equal(scope(acl, "alice", "d", "p/c/x"), TERN_ACL_SCOPE_NONE);
	assert_int_equal(scope(acl, "alice", "c+", "p/c+/x"), TERN_ACL_SCOPE_NONE);
	tern_acl_free(acl);
}

/* Every topic of up to four levels over a small alphabet that a filter matches. */
static const char *const words[] = {"a", "b", "secret", "c", "$SYS", "x", ""};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static void check_against_topics(const struct tern_acl *acl, const char *user, const char *id,
				 const char *filter)
{
	enum tern_acl_scope sc = scope(acl, user, id, filter);
	size_t total = 1, readable = 0, matched = 0;
	char topic[64];

	for (int levels = 1; levels <= 4; levels++)
		total *= N_WORDS;
	for (int levels = 1; levels <= 4; levels++) {
		size_t count = 1;

		for (int l = 0; l < levels; l++)
			count *= N_WORDS;
		for (size_t k = 0; k < count; k++) {
			size_t v = k, n = 0;

			for (int l = 0; l < levels; l++) {
				n += (size_t)snprintf(topic + n, sizeof(topic) - n, "%s%s",
						      l ? "/" : "", words[v % N_WORDS]);
				v /= N_WORDS;
			}
			if (!tern_topic_matches((const uint8_t *)filter, strlen(filter),
						(const uint8_t *)topic, n))
				continue;
			matched++;
			if (can(acl, user, id, topic, R))
				readable++;
		}
	}
	if (sc == TERN_ACL_SCOPE_ALL && readable != matched)
		fail_msg("'%s' for %s: ALL but %zu of %zu topics readable", filter,
			 user ? user : "anonymous", readable, matched);
	if (sc == TERN_ACL_SCOPE_NONE && readable != 0)
		fail_msg("'%s' for %s: NONE but %zu of %zu topics readable", filter,
			 user ? user : "anonymous", readable, matched);
	(void)total;
}

static void test_scope_is_sound(void **state)
{
	static const char *const acls[] = {
	    ("topic read a/#\ntopic deny a/secret\nuser u\ntopic read +/b\ntopic deny secret/#\n"
	     "pattern read c/%c/#\npattern deny c/%c/secret\npattern readwrite %u/#\n"),
	    "topic #\ntopic deny +/+/secret\nuser u\ntopic deny #\npattern read #\n",
	    "pattern read #\npattern deny a/+\npattern read $SYS/#\nuser u\ntopic read a/b\n",
	    "topic read $SYS/a/#\ntopic deny $SYS/a/secret\ntopic write b/#\ntopic read x\n",
	};
	static const char *const filters[] = {
	    "#",       "a/#",	     "a/+",	 "a/secret", "+/b",    "+/+/secret", "b/#",
	    "c/x/#",   "c/x/secret", "x",	 "+",	     "$SYS/#", "$SYS/a/+",   "a/b",
	    "+/+/+/+", "u/#",	     "secret/#", "/#",	     "a//b",   "c/+/#",
	};
	static const char *const users[] = {NULL, "u", "v"};

	(void)state;
	for (size_t i = 0; i < sizeof(acls) / sizeof(acls[0]); i++) {
		struct tern_acl *acl = parse_ok(acls[i]);

		for (size_t u = 0; u < sizeof(users) / sizeof(users[0]); u++)
			for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++)
				check_against_topics(acl, users[u], "x", filters[f]);
		tern_acl_free(acl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections_and_access), cmocka_unit_test(test_patterns_and_order),
	    cmocka_unit_test(test_dollar_topics),	cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_empty_and_edges),	cmocka_unit_test(test_scope_cases),
	    cmocka_unit_test(test_scope_is_sound),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
