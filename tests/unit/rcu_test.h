/* SPDX-License-Identifier: MIT */
/* Helpers for unit tests of RCU structures: the test thread is a registered QSBR reader. */
#ifndef TERN_TESTS_RCU_TEST_H
#define TERN_TESTS_RCU_TEST_H

#include <urcu-qsbr.h>

/* Let every pending call_rcu run: QSBR's rcu_barrier must be called offline. */
static inline void drain_rcu(void)
{
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
}

/* cmocka group setup/teardown: register the test thread for the whole group. */
static inline int rcu_group_setup(void **state)
{
	(void)state;
	rcu_register_thread();
	return 0;
}

static inline int rcu_group_teardown(void **state)
{
	(void)state;
	rcu_unregister_thread();
	return 0;
}

#endif
