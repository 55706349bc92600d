/* SPDX-License-Identifier: MIT */
/*
 * Flow ownership on a single-queue port: worker 0 hands each TCP frame to
 * the worker its Toeplitz hash names. The same flow must always land on the
 * same worker, flows must spread over all workers, and anything that is not
 * a TCP segment stays on worker 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dataplane/dpdk/worker.h"
#include "tests/dpdk/eal_test.h"

static struct rte_mempool *pool;

static struct rte_mbuf *tcp4_frame(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t f[14 + 20 + 20] = {0};
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(f + 34);

	assert_non_null(m);
	f[12] = 0x08;
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(dport);
	memcpy(rte_pktmbuf_append(m, sizeof(f)), f, sizeof(f));
	return m;
}

static struct rte_mbuf *tcp6_frame(uint8_t last, uint16_t sport)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t f[14 + 40 + 20] = {0};
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(f + 14);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(f + 54);

	assert_non_null(m);
	f[12] = 0x86;
	f[13] = 0xdd;
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->proto = IPPROTO_TCP;
	ip->src_addr[0] = 0x20;
	ip->src_addr[1] = 0x01;
	ip->src_addr[15] = last;
	ip->dst_addr[0] = 0x20;
	ip->dst_addr[1] = 0x01;
	ip->dst_addr[15] = 2;
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(1883);
	memcpy(rte_pktmbuf_append(m, sizeof(f)), f, sizeof(f));
	return m;
}

static void test_same_flow_same_owner_and_spread(void **state)
{
	unsigned per_worker[4] = {0};

	(void)state;
	for (uint16_t port = 40000; port < 41000; port++) {
		struct rte_mbuf *a = tcp4_frame(0xc6120001, 0xc6120002, port, 1883);
		struct rte_mbuf *b = tcp4_frame(0xc6120001, 0xc6120002, port, 1883);
		unsigned o = dp_dpdk_flow_owner(a, 4);

		assert_true(o < 4);
		assert_int_equal(dp_dpdk_flow_owner(b, 4), o);
		assert_int_equal(dp_dpdk_flow_owner(a, 1), 0);
		per_worker[o]++;
		rte_pktmbuf_free(a);
		rte_pktmbuf_free(b);
	}
	/* 1000 flows over 4 workers: each gets a fair share (expected 250). */
	for (unsigned i = 0; i < 4; i++)
		assert_in_range(per_worker[i], 150, 350);

	memset(per_worker, 0, sizeof(per_worker));
	for (unsigned i = 0; i < 400; i++) {
		struct rte_mbuf *m = tcp6_frame((uint8_t)(i % 200 + 1), (uint16_t)(50000 + i));

		per_worker[dp_dpdk_flow_owner(m, 2)]++;
		rte_pktmbuf_free(m);
	}
	assert_in_range(per_worker[0], 120, 280);
	assert_int_equal(per_worker[0] + per_worker[1], 400);
}

static void test_non_tcp_stays_on_worker_0(void **state)
{
	struct rte_mbuf *m = tcp4_frame(0xc6120001, 0xc6120002, 40001, 1883);
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned nonzero = 0;

	(void)state;
	/* Find a port whose flow is not on worker 0, then make it non-TCP. */
	for (uint16_t p = 40001; dp_dpdk_flow_owner(m, 2) == 0 && p < 40100; p++)
		((struct rte_tcp_hdr *)(f + 34))->src_port = rte_cpu_to_be_16(p);
	nonzero = dp_dpdk_flow_owner(m, 2);
	assert_int_equal(nonzero, 1);
	f[14 + 9] = IPPROTO_UDP;
	assert_int_equal(dp_dpdk_flow_owner(m, 2), 0);
	f[14 + 9] = IPPROTO_TCP;
	f[12] = 0x08;
	f[13] = 0x06; /* ARP */
	assert_int_equal(dp_dpdk_flow_owner(m, 2), 0);
	f[13] = 0x00;
	rte_pktmbuf_trim(m, 20 + 20); /* Ethernet only: too short to be TCP */
	assert_int_equal(dp_dpdk_flow_owner(m, 2), 0);
	rte_pktmbuf_free(m);
	assert_int_equal(rte_mempool_avail_count(pool), EAL_TEST_POOL_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_flow_same_owner_and_spread),
	    cmocka_unit_test(test_non_tcp_stays_on_worker_0),
	};

	pool = eal_test_setup("owner_test");
	return cmocka_run_group_tests_name("dpdk_owner", tests, NULL, NULL);
}
