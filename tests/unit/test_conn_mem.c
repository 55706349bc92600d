/* SPDX-License-Identifier: MIT */
/*
 * What an idle connection and its session cost, and the parts they allocate
 * only when needed: the peer address kept as a number, rate buckets only with
 * a rate configured, each allocation failure refusing the connection cleanly,
 * and a takeover cut short by shutdown freeing its arrival record. Workers
 * driven by hand on the test thread; allocator: failalloc.h.
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
#include "broker/transport.h"
#include "broker/worker.h"
#include "tests/unit/failalloc.h"
#include "tests/unit/noop_transport.h"
#include "tests/unit/rcu_test.h"

static struct tern_broker *broker(unsigned workers, uint32_t publish_rate)
{
	struct tern_config cfg;
	struct tern_broker *b;
	unsigned i;

	tern_config_defaults(&cfg);
	cfg.workers = workers;
	cfg.sys_interval = 0;
	cfg.max_publish_rate = publish_rate;
	b = tern_broker_create(&cfg);
	assert_non_null(b);
	for (i = 0; i < workers; i++)
		b->workers[i]->ops = &noop_ops;
	return b;
}

static void test_sizes(void **state)
{
	(void)state;
	/* jemalloc's 256-byte class; the session with a 23-byte client id inline. */
	assert_true(sizeof(struct tern_conn) <= 256);
	assert_true(offsetof(struct tern_session, client_id) + 23 + 1 <= 256);
}

/* An "ADDR:PORT" costs no allocation and reads back unchanged; other text is copied. */
static void test_peer(void **state)
{
	static const struct {
		const char *peer;
		long allocs; /* besides the connection */
	} cases[] = {
	    {"127.0.0.1:1883", 0},
	    {"198.18.0.1:65535", 0},
	    {"::1:54321", 0},
	    {"2001:2::2:0", 0},
	    {"fe80::1:2:3:4:8883", 0},
	    {"fake:0", 1},
	    {"1.2.3.4:65536", 1},    /* not a port */
	    {"1.2.3.4:+5", 1},	     /* not as inet_ntop and %u write it */
	    {"::FFFF:1.2.3.4:7", 1}, /* inet_ntop writes it otherwise */
	    {"[::1]:7", 0},	     /* as the dpdk dataplane writes IPv6 */
	    {"[2001:2::2]:65535", 0},
	    {"[1.2.3.4]:7", 1},
	    {"[::1:7", 1},
	    {"", 1},
	    {":1", 1},
	};
	struct tern_broker *b = broker(1, 0);
	struct tern_worker *w = b->workers[0];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long before = live;
		struct tern_conn *c = tern_conn_accept(w, NULL, cases[i].peer, 0);

		assert_non_null(c);
		assert_int_equal(live - before, 1 + cases[i].allocs);
		assert_string_equal(tern_conn_peer(c), cases[i].peer);
		assert_string_equal(tern_conn_name(c), cases[i].peer);
		assert_null(c->rates);
		tern_conn_closed(c, true);
		assert_int_equal(live, before);
	}
	tern_broker_destroy(b);
	drain_rcu();
	assert_int_equal(live, 0);
}

/* Each allocation of an accept may fail: refused, counted, nothing held. */
static void test_accept_out_of_memory(void **state)
{
	static const char *const peers[] = {"127.0.0.1:1883", "fake:0"};
	struct tern_broker *b = broker(1, 100);
	struct tern_worker *w = b->workers[0];
	size_t p;

	(void)state;
	for (p = 0; p < 2; p++) {
		unsigned nth;

		for (nth = 1;; nth++) {
			uint64_t refused = w->stats.connections_refused;
			long before = live;
			struct tern_conn *c;

			fail_nth = nth;
			c = tern_conn_accept(w, NULL, peers[p], 0);
			if (c) {
				fail_nth = 0;
				/* the connection, the rate buckets, and the copied text */
				assert_int_equal(nth, 3 + p);
				assert_non_null(c->rates);
				tern_conn_closed(c, true);
				break;
			}
			assert_int_equal(live, before);
			assert_int_equal(w->stats.connections_refused, refused + 1);
			assert_int_equal(b->connections, 0);
			assert_int_equal(b->listener_conns[0], 0);
		}
	}
	tern_broker_destroy(b);
	drain_rcu();
	assert_int_equal(live, 0);
}

/*
 * The broker stops while a session is on its way between workers: the
 * arrival record, which holds the handshake item, goes with the session,
 * whichever worker is torn down first.
 */
static void shutdown_mid_takeover(unsigned home, bool takeover_handled)
{
	struct tern_conn *cw[2] = {calloc(1, sizeof(struct tern_conn)),
				   calloc(1, sizeof(struct tern_conn))};
	struct tern_broker *b = broker(2, 0);
	struct tern_session *s, *again;
	unsigned dest = 1 - home;

	cw[0]->worker = b->workers[0];
	cw[1]->worker = b->workers[1];
	assert_int_equal(tern_registry_claim(b->workers[home], cw[home], "dev", 3, &s),
			 TERN_CLAIM_NEW);
	s->clean = false;
	assert_int_equal(tern_registry_claim(b->workers[dest], cw[dest], "dev", 3, &again),
			 TERN_CLAIM_REMOTE);
	assert_ptr_equal(again, s);
	assert_ptr_equal(cw[dest]->arrival, s->arrival);
	if (takeover_handled) {
		tern_worker_poll(b->workers[home]); /* TAKEOVER */
		drain_rcu();			    /* DEPART posted to the old home */
	}
	/* Both workers stop as sock's threads do, then the broker goes. */
	tern_worker_finish(b->workers[0]);
	rcu_register_thread();
	tern_worker_finish(b->workers[1]);
	rcu_register_thread();
	assert_null(cw[dest]->arrival); /* the waiting connection was let go */
	drain_rcu();
	tern_broker_destroy(b);
	drain_rcu();
	free(cw[0]);
	free(cw[1]);
	assert_int_equal(live, 0);
}

static void test_shutdown_mid_takeover(void **state)
{
	(void)state;
	shutdown_mid_takeover(0, false);
	shutdown_mid_takeover(1, false);
	shutdown_mid_takeover(0, true);
	shutdown_mid_takeover(1, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_peer),
	    cmocka_unit_test(test_accept_out_of_memory),
	    cmocka_unit_test(test_shutdown_mid_takeover),
	};

	return cmocka_run_group_tests(tests, rcu_group_setup, rcu_group_teardown);
}
