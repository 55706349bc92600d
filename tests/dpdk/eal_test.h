/* SPDX-License-Identifier: MIT */
/*
 * Shared setup of the dpdk unit tests: EAL in this process without
 * hugepages or devices, under a file prefix of our own, and a packet pool.
 * The suite needs root (EAL); anyone else gets a loud failure, not a skip.
 */
#ifndef TERN_TESTS_EAL_TEST_H
#define TERN_TESTS_EAL_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define EAL_TEST_POOL_SIZE 4095

/* Initialise EAL once and return a fresh pool named name; exits the test on failure. */
static inline struct rte_mempool *eal_test_setup(const char *name)
{
	static bool done;
	char prefix[64];
	char *args[] = {"tern-test",   "--no-huge",	 "--no-pci", "-m", "128",
			"--no-shconf", "--no-telemetry", "-l",	     "0",  "--log-level=2",
			prefix};
	struct rte_mempool *mp;

	if (geteuid() != 0) {
		fprintf(stderr, "FAIL: the dpdk suite must run as root (EAL); run tests/run.sh "
				"as root\n");
		exit(1);
	}
	if (!done) {
		snprintf(prefix, sizeof(prefix), "--file-prefix=netl3-tern-%d", (int)getpid());
		if (rte_eal_init((int)(sizeof(args) / sizeof(args[0])), args) < 0) {
			fprintf(stderr, "FAIL: rte_eal_init: %s\n", rte_strerror(rte_errno));
			exit(1);
		}
		done = true;
	}
	mp = rte_pktmbuf_pool_create(name, EAL_TEST_POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     SOCKET_ID_ANY);
	if (!mp) {
		fprintf(stderr, "FAIL: pool %s: %s\n", name, rte_strerror(rte_errno));
		exit(1);
	}
	return mp;
}

#endif
