/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the retained store: set/replace/delete, wildcard queries with
 * the '$' rules, message references released after grace periods, pruning,
 * a cross-check against tern_topic_matches, and a reader racing a writer.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "broker/msg.h"
#include "broker/retain.h"
#include "broker/topic.h"
#include "tests/unit/rcu_test.h"

#define SEEN_MAX 512

struct seen {
	size_t n;
	struct tern_msg *m[SEEN_MAX];
};

static void collect(void *ctx, struct tern_msg *m)
{
	struct seen *s = ctx;

	if (s->n < SEEN_MAX)
		s->m[s->n] = m;
	s->n++;
}

static struct tern_msg *msg(const char *topic, const char *payload)
{
	struct tern_msg *m = tern_msg_create((const uint8_t *)topic, (uint16_t)strlen(topic),
					     (const uint8_t *)payload, strlen(payload), 1, true);

	assert_non_null(m);
	return m;
}

static size_t query(struct tern_retain *r, const char *filter, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	tern_retain_match(r, (const uint8_t *)filter, strlen(filter), collect, s);
	return s->n;
}

static bool has_topic(const struct seen *s, const char *topic)
{
	for (size_t i = 0; i < s->n && i < SEEN_MAX; i++)
		if (s->m[i]->topic_len == strlen(topic) &&
		    memcmp(tern_msg_topic(s->m[i]), topic, strlen(topic)) == 0)
			return true;
	return false;
}

static uint32_t refs(const struct tern_msg *m)
{
	return __atomic_load_n(&m->refs, __ATOMIC_ACQUIRE);
}

/* Set msg and drop the caller's reference, as a publisher would. */
static void set_put(struct tern_retain *r, struct tern_msg *m)
{
	assert_int_equal(tern_retain_set(r, m), 0);
	tern_msg_unref(m);
}

static void test_set_replace_delete(void **state)
{
	struct tern_retain *r = tern_retain_create();
	struct tern_msg *m1 = msg("a/b", "one");
	struct tern_msg *m2 = msg("a/b", "two");
	struct tern_msg *del = msg("a/b", "");
	struct seen s;

	(void)state;
	assert_non_null(r);
	assert_int_equal(tern_retain_count(r), 0);
	assert_int_equal(tern_retain_set(r, m1), 0);
	assert_int_equal(refs(m1), 2); /* the store took its own reference */
	assert_int_equal(tern_retain_count(r), 1);
	assert_int_equal(query(r, "a/b", &s), 1);
	assert_ptr_equal(s.m[0], m1);

	/* Replace: the store now holds m2; m1's store reference goes after a grace period. */
	assert_int_equal(tern_retain_set(r, m2), 0);
	assert_int_equal(tern_retain_count(r), 1);
	assert_int_equal(query(r, "a/b", &s), 1);
	assert_ptr_equal(s.m[0], m2);
	drain_rcu();
	assert_int_equal(refs(m1), 1);
	assert_int_equal(refs(m2), 2);

	/* An empty payload deletes and is not stored itself. */
	assert_int_equal(tern_retain_set(r, del), 0);
	assert_int_equal(refs(del), 1);
	assert_int_equal(tern_retain_count(r), 0);
	assert_int_equal(query(r, "a/b", &s), 0);
	assert_int_equal(query(r, "#", &s), 0);
	drain_rcu();
	assert_int_equal(refs(m2), 1);
	/* An empty topic is refused, not stored. */
	struct tern_msg *empty_topic =
	    tern_msg_create((const uint8_t *)"", 0, (const uint8_t *)"x", 1, 0, true);

	assert_non_null(empty_topic);
	assert_int_equal(tern_retain_set(r, empty_topic), -EINVAL);
	assert_int_equal(refs(empty_topic), 1);
	tern_msg_unref(empty_topic);
	/* Deleting what is not there is fine. */
	assert_int_equal(tern_retain_set(r, del), 0);
	assert_int_equal(tern_retain_node_count(r), 1);

	tern_msg_unref(m1);
	tern_msg_unref(m2);
	tern_msg_unref(del);
	tern_retain_destroy(r);
	drain_rcu();
}

static void test_wildcards(void **state)
{
	static const char *const topics[] = {
	    "sport/tennis/player1",
	    "sport/tennis/player1/ranking",
	    "sport/tennis/player2",
	    "sport",
	    "sport/",
	    "/finance",
	    "a",
	    "a/b",
	    "a/b/c",
	    "$SYS/load",
	    "$SYS",
	    "x/$y",
	};
	struct tern_retain *r = tern_retain_create();
	struct seen s;

	(void)state;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		set_put(r, msg(topics[i], "p"));
	assert_int_equal(tern_retain_count(r), sizeof(topics) / sizeof(topics[0]));

	assert_int_equal(query(r, "sport/tennis/player1/#", &s), 2);
	assert_true(has_topic(&s, "sport/tennis/player1"));
	assert_true(has_topic(&s, "sport/tennis/player1/ranking"));
	assert_int_equal(query(r, "sport/#", &s), 5); /* "sport" and "sport/" included */
	assert_true(has_topic(&s, "sport"));
	assert_true(has_topic(&s, "sport/"));
	assert_int_equal(query(r, "sport/tennis/+", &s), 2);
	assert_int_equal(query(r, "sport/+", &s), 1);
	assert_true(has_topic(&s, "sport/"));	/* '+' matches the empty level */
	assert_int_equal(query(r, "+", &s), 2); /* "sport" and "a", not "$SYS" */
	assert_true(has_topic(&s, "sport"));
	assert_true(has_topic(&s, "a"));
	assert_int_equal(query(r, "+/+", &s), 4); /* "sport/", "/finance", "a/b", "x/$y" */
	assert_true(has_topic(&s, "x/$y"));
	assert_false(has_topic(&s, "$SYS/load"));
	assert_int_equal(query(r, "/+", &s), 1);
	assert_true(has_topic(&s, "/finance"));
	assert_int_equal(query(r, "a/#", &s), 3); /* "a/#" matches "a" */
	assert_int_equal(query(r, "a/+/c", &s), 1);
	assert_int_equal(query(r, "a/b/c/#", &s), 1);
	assert_int_equal(query(r, "a/b/c/d", &s), 0);
	assert_int_equal(query(r, "nope/#", &s), 0);

	/* '$' topics: never by a leading wildcard, always by an explicit "$SYS". */
	assert_int_equal(query(r, "#", &s), 10);
	assert_false(has_topic(&s, "$SYS"));
	assert_false(has_topic(&s, "$SYS/load"));
	assert_true(has_topic(&s, "x/$y"));
	assert_int_equal(query(r, "+/load", &s), 0);
	assert_int_equal(query(r, "$SYS/#", &s), 2);
	assert_int_equal(query(r, "$SYS/+", &s), 1);
	assert_int_equal(query(r, "$SYS", &s), 1);
	assert_int_equal(query(r, "x/+", &s), 1);

	tern_retain_destroy(r);
	drain_rcu();
}

/* Every filter over a small alphabet against a store of every topic: same answer as
 * tern_topic_matches. */
static void test_cross_check(void **state)
{
	static const char *const lv[] = {"a", "b", "", "$s", "+", "#"};
	static char topics[400][16];
	size_t nt = 0;
	struct tern_retain *r = tern_retain_create();
	struct seen s;

	(void)state;
	for (int depth = 1; depth <= 4; depth++) {
		int combos = 1;

		for (int d = 0; d < depth; d++)
			combos *= 4;
		for (int k = 0; k < combos; k++) {
			int x = k;

			topics[nt][0] = '\0';
			for (int d = 0; d < depth; d++, x /= 4) {
				if (d)
					strcat(topics[nt], "/");
				strcat(topics[nt], lv[x % 4]);
			}
			if (strlen(topics[nt]) == 0)
				continue; /* not a valid topic name */
			set_put(r, msg(topics[nt], "p"));
			nt++;
		}
	}
	assert_int_equal(tern_retain_count(r), nt);
	for (int depth = 1; depth <= 3; depth++) {
		int combos = 1;

		for (int d = 0; d < depth; d++)
			combos *= 6;
		for (int k = 0; k < combos; k++) {
			char f[16] = "";
			int x = k;
			size_t want = 0;

			for (int d = 0; d < depth; d++, x /= 6) {
				if (d)
					strcat(f, "/");
				strcat(f, lv[x % 6]);
			}
			if (!tern_topic_filter_valid((const uint8_t *)f, strlen(f)))
				continue;
			query(r, f, &s);
			for (size_t i = 0; i < nt; i++) {
				if (!tern_topic_matches((const uint8_t *)f, strlen(f),
							(const uint8_t *)topics[i],
							strlen(topics[i])))
					continue;
				want++;
				if (!has_topic(&s, topics[i]))
					fail_msg("filter '%s' missed '%s'", f, topics[i]);
			}
			if (s.n != want)
				fail_msg("filter '%s': %zu results, want %zu", f, s.n, want);
		}
	}
	/* Delete them all again: every node pruned. */
	for (size_t i = 0; i < nt; i++)
		set_put(r, msg(topics[i], ""));
	assert_int_equal(tern_retain_count(r), 0);
	assert_int_equal(tern_retain_node_count(r), 1);
	tern_retain_destroy(r);
	drain_rcu();
}

static void test_refs_and_destroy(void **state)
{
	enum { N = 200 };
	struct tern_msg *m[N];
	char topic[32];
	struct tern_retain *r = tern_retain_create();
	struct seen s;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(topic, sizeof(topic), "r/%d/v", i);
		m[i] = msg(topic, "x");
		assert_int_equal(tern_retain_set(r, m[i]), 0);
	}
	assert_int_equal(tern_retain_node_count(r), 1 + 1 + 2 * N);
	/* A reader may take its own reference, which outlives the store's. */
	assert_int_equal(query(r, "r/7/v", &s), 1);
	tern_msg_ref(s.m[0]);
	/* Replacing half by their own topic's new message, deleting a quarter. */
	for (int i = 0; i < N / 2; i++) {
		snprintf(topic, sizeof(topic), "r/%d/v", i);
		set_put(r, msg(topic, "y"));
	}
	for (int i = N / 2; i < N * 3 / 4; i++) {
		snprintf(topic, sizeof(topic), "r/%d/v", i);
		set_put(r, msg(topic, ""));
	}
	assert_int_equal(tern_retain_count(r), N - N / 4);
	assert_int_equal(tern_retain_node_count(r), 1 + 1 + 2 * (N - N / 4));
	drain_rcu();
	for (int i = 0; i < N * 3 / 4; i++)
		assert_int_equal(refs(m[i]), i == 7 ? 2 : 1);
	for (int i = N * 3 / 4; i < N; i++)
		assert_int_equal(refs(m[i]), 2);
	/* Destroy drops the store's references synchronously. */
	tern_retain_destroy(r);
	for (int i = 0; i < N; i++)
		assert_int_equal(refs(m[i]), i == 7 ? 2 : 1);
	tern_msg_unref(m[7]);
	for (int i = 0; i < N; i++)
		tern_msg_unref(m[i]);
	drain_rcu();
}

/* ---- a reader racing a writer ---- */

#define RSTABLE 32
#define RCHURN	500
#define RROUNDS 20

struct race {
	struct tern_retain *r;
	struct tern_msg *stable[RSTABLE]; /* "s/<k>", never replaced */
	bool done;			  /* atomic */
	unsigned long errors;		  /* atomic */
	unsigned long reads;		  /* atomic */
};

struct rctx {
	struct race *race;
	unsigned stable;
	unsigned bad;
};

static void race_check(void *p, struct tern_msg *m)
{
	struct rctx *c = p;

	/* Every message handed out is alive: take and drop a reference, read it. */
	tern_msg_ref(m);
	if (m->topic_len < 3 || tern_msg_topic(m)[1] != '/' || m->payload_len == 0)
		c->bad++;
	else if (tern_msg_topic(m)[0] == 's')
		c->stable++;
	else if (tern_msg_topic(m)[0] != 'c' || tern_msg_payload(m)[0] != 'v')
		c->bad++;
	tern_msg_unref(m);
}

static void *reader(void *p)
{
	struct race *race = p;
	unsigned long n = 0;

	rcu_register_thread();
	while (!__atomic_load_n(&race->done, __ATOMIC_ACQUIRE)) {
		struct rctx c = {.race = race};

		tern_retain_match(race->r, (const uint8_t *)"#", 1, race_check, &c);
		if (c.stable != RSTABLE || c.bad)
			__atomic_fetch_add(&race->errors, 1, __ATOMIC_RELAXED);
		c = (struct rctx){.race = race};
		tern_retain_match(race->r, (const uint8_t *)"+/+", 3, race_check, &c);
		if (c.stable != RSTABLE || c.bad)
			__atomic_fetch_add(&race->errors, 1, __ATOMIC_RELAXED);
		rcu_quiescent_state();
		n++;
	}
	__atomic_fetch_add(&race->reads, n, __ATOMIC_RELAXED);
	rcu_unregister_thread();
	return NULL;
}

static void *writer(void *p)
{
	struct race *race = p;
	char topic[32];

	rcu_register_thread();
	for (unsigned round = 0; round < RROUNDS; round++) {
		for (unsigned i = 0; i < RCHURN; i++) {
			struct tern_msg *m;

			snprintf(topic, sizeof(topic), "c/%u", i);
			/* Set, replace, and every third round delete by an empty payload. */
			m = tern_msg_create((const uint8_t *)topic, (uint16_t)strlen(topic),
					    (const uint8_t *)(round % 3 == 2 ? "" : "v"),
					    round % 3 == 2 ? 0 : 1, 0, true);
			if (!m || tern_retain_set(race->r, m) != 0)
				__atomic_fetch_add(&race->errors, 1, __ATOMIC_RELAXED);
			tern_msg_unref(m);
			if (i % 16 == 0)
				rcu_quiescent_state();
		}
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_concurrent(void **state)
{
	enum { READERS = 2 };
	static struct race race;
	pthread_t rt[READERS], wt;
	char topic[16];

	(void)state;
	memset(&race, 0, sizeof(race));
	race.r = tern_retain_create();
	assert_non_null(race.r);
	for (unsigned k = 0; k < RSTABLE; k++) {
		snprintf(topic, sizeof(topic), "s/%u", k);
		race.stable[k] = msg(topic, "stable");
		assert_int_equal(tern_retain_set(race.r, race.stable[k]), 0);
	}
	for (unsigned i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, reader, &race), 0);
	assert_int_equal(pthread_create(&wt, NULL, writer, &race), 0);
	rcu_thread_offline();
	pthread_join(wt, NULL);
	__atomic_store_n(&race.done, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	rcu_thread_online();

	print_message("concurrent: %lu reads during %u writes\n", race.reads, RROUNDS * RCHURN);
	assert_int_equal(race.errors, 0);
	assert_true(race.reads > 0);
	/* The last round (19 % 3 == 1) set every churn topic. */
	assert_int_equal(tern_retain_count(race.r), RSTABLE + RCHURN);
	tern_retain_destroy(race.r);
	drain_rcu();
	for (unsigned k = 0; k < RSTABLE; k++) {
		assert_int_equal(refs(race.stable[k]), 1);
		tern_msg_unref(race.stable[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_replace_delete), cmocka_unit_test(test_wildcards),
	    cmocka_unit_test(test_cross_check),	       cmocka_unit_test(test_refs_and_destroy),
	    cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, rcu_group_setup, rcu_group_teardown);
}
