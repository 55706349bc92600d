/* SPDX-License-Identifier: MIT */
/*
 * The outbox (broker/outbox.h): deliveries routed to another worker travel in
 * batches, in order, posted by the sender's quiescent state; steady state
 * allocates nothing; out of memory a delivery falls back to an item of its
 * own without losing order; a takeover still sees every older walk's items
 * ahead of DEPART. Two workers driven by hand on the test thread (no
 * dataplane); allocator: failalloc.h.
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
#include "broker/msg.h"
#include "broker/outbox.h"
#include "broker/registry.h"
#include "broker/route.h"
#include "broker/session.h"
#include "broker/transport.h"
#include "broker/worker.h"
#include "tests/unit/failalloc.h"
#include "tests/unit/noop_transport.h"
#include "tests/unit/rcu_test.h"

#define N_MSGS 400

struct fix {
	struct tern_broker *b;
	struct tern_worker *w0, *w1;
	struct tern_conn *c0, *c1;
	struct tern_msg *m[N_MSGS];
};

static void fix_init(struct fix *f)
{
	struct tern_config cfg;

	memset(f, 0, sizeof(*f));
	tern_config_defaults(&cfg);
	cfg.workers = 2;
	cfg.sys_interval = 0;
	cfg.max_queued_messages = 0; /* the queues below hold hundreds */
	f->b = tern_broker_create(&cfg);
	assert_non_null(f->b);
	f->w0 = f->b->workers[0];
	f->w1 = f->b->workers[1];
	f->w0->ops = f->w1->ops = &noop_ops;
	f->c0 = calloc(1, sizeof(*f->c0));
	f->c1 = calloc(1, sizeof(*f->c1));
	f->c0->worker = f->w0;
	f->c1->worker = f->w1;
	for (unsigned i = 0; i < N_MSGS; i++) {
		f->m[i] =
		    tern_msg_create((const uint8_t *)"t/x", 3, (const uint8_t *)"p", 1, 1, false);
		assert_non_null(f->m[i]);
	}
}

/* Everything the broker held (queues, batches never posted) is released with it. */
static void fix_fini(struct fix *f)
{
	tern_broker_destroy(f->b);
	drain_rcu();
	for (unsigned i = 0; i < N_MSGS; i++) {
		assert_int_equal(f->m[i]->refs, 1);
		tern_msg_unref(f->m[i]);
	}
	free(f->c0);
	free(f->c1);
	assert_int_equal(live, 0);
}

/* A persistent offline session on w, subscribed to filter at QoS 1: it queues what it gets. */
static struct tern_session *subscriber(struct tern_worker *w, struct tern_conn *c, const char *id,
				       const char *filter)
{
	struct tern_session *s;

	assert_int_equal(tern_registry_claim(w, c, id, strlen(id), &s), TERN_CLAIM_NEW);
	s->clean = false;
	s->expiry_s = TERN_SESSION_NEVER_EXPIRES;
	assert_int_equal(
	    tern_session_subscribe(w, s, (const uint8_t *)filter, strlen(filter), 1, 0, NULL), 0);
	return s;
}

static void end_session(struct tern_worker *w, struct tern_session *s)
{
	assert_int_equal(tern_registry_remove(w, s), 0);
	tern_session_destroy(w, s);
}

static void publish(struct tern_worker *w, struct tern_msg **m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		tern_route_publish(w, m[i]);
}

/* s's queue holds exactly m[0..n), in that order. */
static void assert_queue(const struct tern_session *s, struct tern_msg *const *m, unsigned n)
{
	assert_int_equal(s->q_len, n);
	for (unsigned i = 0; i < n; i++)
		assert_ptr_equal(s->queue[(s->q_head + i) % s->q_cap].msg, m[i]);
}

static void test_batched_in_order(void **state)
{
	struct fix f;
	struct tern_session *s;
	unsigned refused;

	(void)state;
	fix_init(&f);
	s = subscriber(f.w1, f.c1, "sub", "t/#");

	publish(f.w0, f.m, 200);
	/* Full batches are posted at once; the rest waits for the end of the turn. */
	tern_worker_poll(f.w1);
	assert_queue(s, f.m, 3 * TERN_OUTBOX_BATCH);
	tern_worker_quiescent(f.w0);
	tern_worker_poll(f.w1);
	assert_queue(s, f.m, 200);
	assert_int_equal(f.w1->stats.inbox_items, 4); /* not 200 */
	assert_int_equal(f.w1->stats.inbox_batches, 4);
	assert_int_equal(f.w1->stats.inbox_msgs, 200);

	/* Steady state: the batches came back, nothing is allocated any more. */
	refused = failed;
	failing = true;
	publish(f.w0, f.m + 200, 50);
	tern_worker_quiescent(f.w0);
	tern_worker_poll(f.w1);
	failing = false;
	assert_int_equal(failed, refused);
	assert_queue(s, f.m, 250);
	assert_int_equal(f.w1->stats.inbox_items, 5);
	assert_int_equal(f.w1->stats.inbox_batches, 5);
	assert_int_equal(f.w1->stats.inbox_msgs, 250);
	assert_int_equal(f.w0->stats.publish_dropped + f.w1->stats.publish_dropped, 0);

	end_session(f.w1, s);
	fix_fini(&f);
}

static void test_out_of_memory_falls_back(void **state)
{
	struct fix f;
	struct tern_session *s;

	(void)state;
	fix_init(&f);
	s = subscriber(f.w1, f.c1, "sub", "t/#");
	/* Local deliveries first: the queue grows now, not while allocations fail. */
	publish(f.w1, f.m, 100);
	assert_queue(s, f.m, 100);

	publish(f.w0, f.m + 100, 10); /* a batch is allocated and partly filled */
	fail_above = 1024;	      /* no new batch; a single item still fits */
	publish(f.w0, f.m + 110, 60); /* 54 fill the batch, 6 go on their own */
	fail_above = 0;
	tern_worker_quiescent(f.w0);
	tern_worker_poll(f.w1);
	assert_queue(s, f.m, 170);
	assert_int_equal(f.w1->stats.inbox_items, 1 + 6);
	/* The six single items are messages too, not batches. */
	assert_int_equal(f.w1->stats.inbox_batches, 1);
	assert_int_equal(f.w1->stats.inbox_msgs, 60 + 10);
	assert_int_equal(f.w0->stats.publish_dropped, 0);

	/* No memory at all: the batch handed back takes 64, the 65th is dropped and counted. */
	failing = true;
	publish(f.w0, f.m + 170, TERN_OUTBOX_BATCH + 1);
	tern_worker_quiescent(f.w0);
	tern_worker_poll(f.w1);
	failing = false;
	assert_queue(s, f.m, 170 + TERN_OUTBOX_BATCH);
	assert_int_equal(f.w0->stats.publish_dropped, 1);

	end_session(f.w1, s);
	fix_fini(&f);
}

static void test_shared_deliveries_batched(void **state)
{
	struct fix f;
	struct tern_session *a, *bs;
	struct tern_msg *odd[50];

	(void)state;
	fix_init(&f);
	a = subscriber(f.w0, f.c0, "a", "$share/g/t/#"); /* first member: w0 owns the group */
	bs = subscriber(f.w1, f.c1, "b", "$share/g/t/#");

	publish(f.w0, f.m, 100); /* round robin: a (here), b (on w1), a, b... */
	assert_int_equal(bs->q_len, 0);
	tern_worker_quiescent(f.w0);
	tern_worker_poll(f.w1);
	for (unsigned i = 0; i < 50; i++)
		odd[i] = f.m[2 * i + 1];
	assert_queue(bs, odd, 50);
	assert_int_equal(a->q_len, 50);
	assert_int_equal(f.w1->stats.inbox_items, 1);
	assert_int_equal(f.w1->stats.inbox_batches, 1);
	assert_int_equal(f.w1->stats.inbox_msgs, 50);

	end_session(f.w0, a);
	end_session(f.w1, bs);
	fix_fini(&f);
}

static void test_takeover_sees_older_walks_first(void **state)
{
	struct fix f;
	struct tern_session *s, *again;

	(void)state;
	fix_init(&f);
	s = subscriber(f.w1, f.c1, "dev", "t/#");
	assert_int_equal(tern_registry_claim(f.w0, f.c0, "dev", 3, &again), TERN_CLAIM_REMOTE);
	tern_registry_abandon(f.c0);

	publish(f.w0, f.m, 10);	     /* older than the handover: w1 delivers them, batched on w0 */
	tern_worker_poll(f.w1);	     /* TAKEOVER: new tree generation, grace period starts */
	publish(f.w0, f.m + 10, 10); /* newer: matched on w0, kept for the arrival */
	/* w0's quiescent state posts its batch, so it is queued ahead of DEPART. */
	tern_worker_quiescent(f.w0);
	drain_rcu();
	tern_worker_poll(f.w1); /* the batch, then DEPART */
	tern_worker_poll(f.w0); /* ADOPT */
	assert_false(s->in_transit);
	assert_int_equal(s->home, 0);
	assert_queue(s, f.m, 20);

	end_session(f.w0, s);
	fix_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batched_in_order),
	    cmocka_unit_test(test_out_of_memory_falls_back),
	    cmocka_unit_test(test_shared_deliveries_batched),
	    cmocka_unit_test(test_takeover_sees_older_walks_first),
	};

	return cmocka_run_group_tests(tests, rcu_group_setup, rcu_group_teardown);
}
