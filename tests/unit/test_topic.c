/* SPDX-License-Identifier: MIT */
/* Unit tests for topic validation and pure matching: the examples of MQTT 3.1.1 section 4.7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/topic.h"

static bool name_ok(const char *s)
{
	return tern_topic_name_valid((const uint8_t *)s, strlen(s));
}

static bool filter_ok(const char *s)
{
	return tern_topic_filter_valid((const uint8_t *)s, strlen(s));
}

static bool match(const char *f, const char *t)
{
	return tern_topic_matches((const uint8_t *)f, strlen(f), (const uint8_t *)t, strlen(t));
}

static void test_filter_validity(void **state)
{
	(void)state;
	/* 4.7.1.2 */
	assert_true(filter_ok("sport/tennis/player1/#"));
	assert_true(filter_ok("sport/#"));
	assert_true(filter_ok("#"));
	assert_false(filter_ok("sport/tennis#"));
	assert_false(filter_ok("sport/tennis/#/ranking"));
	assert_false(filter_ok("#/"));
	assert_false(filter_ok("##"));
	/* 4.7.1.3 */
	assert_true(filter_ok("+"));
	assert_true(filter_ok("+/tennis/#"));
	assert_true(filter_ok("sport/+/player1"));
	assert_true(filter_ok("/+"));
	assert_true(filter_ok("+/+"));
	assert_true(filter_ok("+/"));
	assert_false(filter_ok("sport+"));
	assert_false(filter_ok("+sport"));
	assert_false(filter_ok("sport/+x/a"));
	assert_false(filter_ok("++"));
	/* Empty levels and '$' are ordinary. */
	assert_true(filter_ok("/"));
	assert_true(filter_ok("//"));
	assert_true(filter_ok("/finance"));
	assert_true(filter_ok("$SYS/#"));
	assert_true(filter_ok("a b/c d"));
	/* Length limits: 1..65535. */
	assert_false(tern_topic_filter_valid((const uint8_t *)"", 0));
}

static void test_name_validity(void **state)
{
	(void)state;
	assert_true(name_ok("sport/tennis/player1"));
	assert_true(name_ok("/"));
	assert_true(name_ok("/finance"));
	assert_true(name_ok("$SYS/broker/load"));
	assert_true(name_ok("a//b"));
	assert_false(name_ok("sport/+"));
	assert_false(name_ok("sport/#"));
	assert_false(name_ok("a+b"));
	assert_false(name_ok("a#"));
	assert_false(tern_topic_name_valid((const uint8_t *)"", 0));
}

static void test_length_limits(void **state)
{
	uint8_t *big = malloc(65536);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 65536);
	assert_true(tern_topic_name_valid(big, 65535));
	assert_false(tern_topic_name_valid(big, 65536));
	assert_true(tern_topic_filter_valid(big, 65535));
	assert_false(tern_topic_filter_valid(big, 65536));
	free(big);
}

static void test_utf8(void **state)
{
	static const uint8_t nul[] = {'a', '/', 0x00, 'b'};
	static const uint8_t nul_encoded_overlong[] = {'a', 0xc0, 0x80};
	static const uint8_t surrogate[] = {'a', 0xed, 0xa0, 0x80};
	static const uint8_t truncated[] = {'a', 0xe2, 0x82};
	static const uint8_t above_max[] = {0xf4, 0x90, 0x80, 0x80};
	static const uint8_t bad_lead[] = {0xff, 'a'};
	static const uint8_t euro[] = {'p', '/', 0xe2, 0x82, 0xac};
	static const uint8_t emoji[] = {0xf0, 0x9f, 0x98, 0x80, '/', '+'};

	(void)state;
	assert_false(tern_topic_name_valid(nul, sizeof(nul)));
	assert_false(tern_topic_filter_valid(nul, sizeof(nul)));
	assert_false(tern_topic_name_valid(nul_encoded_overlong, sizeof(nul_encoded_overlong)));
	assert_false(tern_topic_name_valid(surrogate, sizeof(surrogate)));
	assert_false(tern_topic_filter_valid(surrogate, sizeof(surrogate)));
	assert_false(tern_topic_name_valid(truncated, sizeof(truncated)));
	assert_false(tern_topic_name_valid(above_max, sizeof(above_max)));
	assert_false(tern_topic_filter_valid(bad_lead, sizeof(bad_lead)));
	assert_true(tern_topic_name_valid(euro, sizeof(euro)));
	assert_true(tern_topic_filter_valid(emoji, sizeof(emoji)));
	assert_false(tern_topic_name_valid(emoji, sizeof(emoji)));
}

static void test_multi_level(void **state)
{
	(void)state;
	/* 4.7.1.2 non-normative comment */
	assert_true(match("sport/tennis/player1/#", "sport/tennis/player1"));
	assert_true(match("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
	assert_true(match("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
	assert_true(match("sport/#", "sport"));
	assert_true(match("#", "sport/tennis"));
	assert_true(match("#", "/"));
	assert_true(match("#", "a"));
	assert_false(match("sport/tennis/player1/#", "sport/tennis/player2"));
	assert_false(match("sport/tennis/player1/#", "sport/tennis"));
	assert_false(match("sport/#", "sports"));
}

static void test_single_level(void **state)
{
	(void)state;
	/* 4.7.1.3 non-normative comment */
	assert_true(match("sport/tennis/+", "sport/tennis/player1"));
	assert_true(match("sport/tennis/+", "sport/tennis/player2"));
	assert_false(match("sport/tennis/+", "sport/tennis/player1/ranking"));
	assert_false(match("sport/+", "sport"));
	assert_true(match("sport/+", "sport/"));
	assert_true(match("+/+", "/finance"));
	assert_true(match("/+", "/finance"));
	assert_false(match("+", "/finance"));
	/* '+' matches an empty level anywhere. */
	assert_true(match("a/+/c", "a//c"));
	assert_true(match("+", "a"));
	assert_false(match("+", "a/b"));
	assert_true(match("+/#", "a"));
	assert_true(match("+/#", "a/b/c"));
	assert_true(match("sport/+/player1", "sport/tennis/player1"));
	assert_false(match("sport/+/player1", "sport/tennis/player2"));
}

static void test_literal(void **state)
{
	(void)state;
	assert_true(match("a/b", "a/b"));
	assert_false(match("a/b", "a/b/"));
	assert_false(match("a/b/", "a/b"));
	assert_true(match("/", "/"));
	assert_false(match("/", "//"));
	assert_false(match("a/b", "a/bc"));
	assert_false(match("a/bc", "a/b"));
	assert_false(match("A", "a"));
	assert_true(match("/finance", "/finance"));
	assert_false(match("finance", "/finance"));
}

static void test_dollar(void **state)
{
	(void)state;
	/* 4.7.2 */
	assert_false(match("#", "$SYS/broker/load"));
	assert_false(match("+/monitor/Clients", "$SYS/monitor/Clients"));
	assert_false(match("+", "$SYS"));
	assert_true(match("$SYS/#", "$SYS/monitor/Clients"));
	assert_true(match("$SYS/#", "$SYS"));
	assert_true(match("$SYS/monitor/+", "$SYS/monitor/Clients"));
	assert_true(match("$SYS/+/Clients", "$SYS/monitor/Clients"));
	/* Only a leading '$' is special. */
	assert_true(match("a/+", "a/$b"));
	assert_true(match("a/#", "a/$b/c"));
	assert_true(match("#", "a$"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filter_validity), cmocka_unit_test(test_name_validity),
	    cmocka_unit_test(test_length_limits),   cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_multi_level),	    cmocka_unit_test(test_single_level),
	    cmocka_unit_test(test_literal),	    cmocka_unit_test(test_dollar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
