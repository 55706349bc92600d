/* SPDX-License-Identifier: MIT */
/*
 * The cross-worker takeover handshake out of memory: once a claim is made,
 * TAKEOVER, DEPART and ADOPT must complete without allocating, so the client
 * id is never left locked in transit, and subscriptions that could not be
 * handed over are re-added by the new home. Two workers driven by hand on
 * the test thread (no dataplane); allocator: failalloc.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/conn.h"
#include "broker/registry.h"
#include "broker/session.h"
#include "broker/topic_tree.h"
#include "broker/transport.h"
#include "broker/worker.h"
#include "tests/unit/failalloc.h"
#include "tests/unit/noop_transport.h"
#include "tests/unit/rcu_test.h"

static void count_match(void *ctx, const struct tern_sub *sub)
{
	(void)sub;
	(*(unsigned *)ctx)++;
}

static unsigned matches(struct tern_broker *b, unsigned worker)
{
	unsigned n = 0;

	tern_topic_tree_match(b->tree, (const uint8_t *)"t/x", 3, worker, count_match, &n);
	return n;
}

static void test_handshake_without_memory(void **state)
{
	struct tern_conn *c0 = calloc(1, sizeof(*c0)), *c1 = calloc(1, sizeof(*c1));
	struct tern_session *s, *again;
	struct tern_config cfg;
	struct tern_broker *b;
	struct tern_worker *w0, *w1;

	(void)state;
	tern_config_defaults(&cfg);
	cfg.workers = 2;
	cfg.sys_interval = 0;
	b = tern_broker_create(&cfg);
	assert_non_null(b);
	w0 = b->workers[0];
	w1 = b->workers[1];
	w0->ops = w1->ops = &noop_ops;
	c0->worker = w0;
	c1->worker = w1;

	/* A persistent offline session homed on worker 1 with one subscription. */
	assert_int_equal(tern_registry_claim(w1, c1, "dev", 3, &s), TERN_CLAIM_NEW);
	s->clean = false;
	assert_int_equal(tern_session_subscribe(w1, s, (const uint8_t *)"t/#", 3, 1, 0, NULL), 0);
	assert_int_equal(matches(b, 1), 1);

	/* Its id connects on worker 0 (the claim allocates), then memory runs out. */
	assert_int_equal(tern_registry_claim(w0, c0, "dev", 3, &again), TERN_CLAIM_REMOTE);
	assert_ptr_equal(again, s);
	tern_registry_abandon(c0); /* the connection went away meanwhile */
	failing = true;
	tern_worker_poll(w1); /* TAKEOVER: the handover of the subscription fails */
	drain_rcu();	      /* the grace period posts DEPART */
	tern_worker_poll(w1); /* DEPART: old entries removed, ADOPT posted */
	assert_true(failed > 0);
	failing = false;
	tern_worker_poll(w0); /* ADOPT: the session is home, the subscription re-added */

	assert_false(s->in_transit);
	assert_int_equal(s->home, 0);
	assert_int_equal(matches(b, 0), 1);
	assert_int_equal(matches(b, 1), 0);
	/* The id is free: the next claim on worker 0 finds it at home. */
	assert_int_equal(tern_registry_claim(w0, c0, "dev", 3, &again), TERN_CLAIM_LOCAL);
	assert_ptr_equal(again, s);
	/* And it can move again, with memory this time. */
	assert_int_equal(tern_registry_claim(w1, c1, "dev", 3, &again), TERN_CLAIM_REMOTE);
	tern_registry_abandon(c1);
	tern_worker_poll(w0);
	drain_rcu();
	tern_worker_poll(w0);
	tern_worker_poll(w1);
	assert_false(s->in_transit);
	assert_int_equal(s->home, 1);
	assert_int_equal(matches(b, 1), 1);
	assert_int_equal(matches(b, 0), 0);

	assert_int_equal(tern_registry_remove(w1, s), 0);
	tern_session_destroy(w1, s);
	tern_broker_destroy(b);
	drain_rcu();
	free(c0);
	free(c1);
	assert_int_equal(live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_without_memory),
	};

	return cmocka_run_group_tests(tests, rcu_group_setup, rcu_group_teardown);
}
