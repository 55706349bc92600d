/* SPDX-License-Identifier: MIT */
/*
 * The DPDK dataplane's setup and teardown: EAL, the port (queues, RSS,
 * checksum offloads, multicast for neighbour discovery), pools, rings, and
 * the launch of one worker per worker lcore.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "broker/alloc.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/sys.h"
#include "broker/transport.h"
#include "dataplane/dpdk/dpdk.h"
#include "dataplane/dpdk/stats.h"
#include "dataplane/dpdk/telemetry.h"
#include "dataplane/dpdk/worker.h"
#include "dataplane/net/ipv6.h"
#include "dataplane/sock/tls.h"

#define MAX_EAL_ARGS 64
#define POOL_MBUFS   8191
#define POOL_CACHE   256
#define RING_SIZE    4096
#define RX_DESC	     1024
#define TX_DESC	     1024
#define MAX_MC_ADDRS (TERN_CONFIG_MAX_DPDK_ADDRS + 2)

struct dp_dpdk {
	const struct tern_config *cfg;
	char *eal_buf; /* EAL may keep pointers into its argv */
	char *argv[MAX_EAL_ARGS + 1];
	bool port_started;
	unsigned launched;
	struct dp_dpdk_shared sh;
};

static void free_tls(struct dp_dpdk_shared *sh)
{
	for (unsigned i = 0; i < TERN_CONFIG_MAX_LISTENERS; i++) {
		dp_tls_ctx_free(sh->tls[i]);
		sh->tls[i] = NULL;
	}
	sh->n_tls = 0;
}

/* A context per TLS listener (tcp_glue.c gives its connections a session); 0 or an errno. */
static int create_tls(struct dp_dpdk_shared *sh, const struct tern_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		if (!tern_listener_is_tls(&cfg->listeners[i]))
			continue;
		/* dp_tls_ctx_create logs the reason with the port and the file. */
		sh->tls[i] = dp_tls_ctx_create(&cfg->listeners[i]);
		if (!sh->tls[i])
			return errno;
		sh->n_tls++;
	}
	return 0;
}

struct dp_dpdk *dp_dpdk_init(const struct tern_config *cfg)
{
	struct dp_dpdk *d;
	char *save = NULL, *tok;
	int argc = 0, rc;

	d = tern_calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	/* Before EAL: a bad certificate is reported without starting anything else. */
	rc = create_tls(&d->sh, cfg);
	if (rc)
		goto err;
	d->cfg = cfg;
	d->sh.cfg = cfg;
	d->eal_buf = tern_strdup(cfg->dpdk_eal);
	if (!d->eal_buf) {
		rc = ENOMEM;
		goto err;
	}
	d->argv[argc++] = "tern";
	for (tok = strtok_r(d->eal_buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (argc == MAX_EAL_ARGS) {
			tern_log(TERN_LOG_ERR, "dpdk_eal: more than %d arguments",
				 MAX_EAL_ARGS - 1);
			rc = EINVAL;
			goto err;
		}
		d->argv[argc++] = tok;
	}
	if (rte_eal_init(argc, d->argv) < 0) {
		tern_log(TERN_LOG_ERR, "dpdk_eal: EAL refused '%s': %s", cfg->dpdk_eal,
			 rte_strerror(rte_errno));
		rc = EINVAL;
		goto err;
	}
	d->sh.n_workers = rte_lcore_count() - 1;
	if (d->sh.n_workers == 0 || d->sh.n_workers > DP_DPDK_MAX_WORKERS) {
		tern_log(TERN_LOG_ERR,
			 "dpdk_eal: give 2 to %d lcores (-l 0-1 or more): the first is the control "
			 "lcore, each further one runs a worker",
			 DP_DPDK_MAX_WORKERS + 1);
		rc = EINVAL;
		goto err_eal;
	}
	if (!rte_eth_dev_is_valid_port(cfg->dpdk_port)) {
		tern_log(TERN_LOG_ERR, "dpdk_port %u: no such port (%u ports; check -a or --vdev)",
			 cfg->dpdk_port, rte_eth_dev_count_avail());
		rc = ENODEV;
		goto err_eal;
	}
	d->sh.port = cfg->dpdk_port;
	d->sh.fault = cfg->dpdk_fault;
	d->sh.fault_cfg.seed = cfg->dpdk_fault_seed;
	d->sh.fault_cfg.drop_ppm = cfg->dpdk_fault_ppm[0];
	d->sh.fault_cfg.dup_ppm = cfg->dpdk_fault_ppm[1];
	d->sh.fault_cfg.reorder_ppm = cfg->dpdk_fault_ppm[2];
	if (d->sh.fault)
		tern_log(
		    TERN_LOG_WARNING,
		    "dpdk_fault: dropping %u, duplicating %u, reordering %u frames per million "
		    "on purpose (seed %" PRIu64 ")",
		    cfg->dpdk_fault_ppm[0], cfg->dpdk_fault_ppm[1], cfg->dpdk_fault_ppm[2],
		    cfg->dpdk_fault_seed);
	return d;

err_eal:
	rte_eal_cleanup();
err:
	free_tls(&d->sh);
	tern_free(d->eal_buf);
	tern_free(d);
	errno = rc;
	return NULL;
}

unsigned dp_dpdk_worker_count(const struct dp_dpdk *d)
{
	return d->sh.n_workers;
}

/* Addresses from the config into a worker's stack; the config parser already checked them. */
static int add_addresses(struct dp_net_iface *ifc, const struct tern_config *cfg)
{
	struct dp_ip_addr a;
	unsigned plen;
	int family, rc;

	for (unsigned i = 0; i < cfg->n_dpdk_addresses; i++) {
		memset(&a, 0, sizeof(a));
		if (tern_config_parse_ip(cfg->dpdk_addresses[i], true, &family, a.v6, &plen) < 0)
			return -EINVAL;
		a.family = (uint8_t)family;
		if (family == AF_INET)
			memmove(&a.v4, a.v6, 4), memset(a.v6 + 4, 0, 12);
		rc = dp_net_iface_add_addr(ifc, &a, (uint8_t)plen);
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	const char *gws[2] = {cfg->dpdk_gateway4, cfg->dpdk_gateway6};
	for (unsigned i = 0; i < 2; i++) {
		if (!gws[i][0])
			continue;
		memset(&a, 0, sizeof(a));
		if (tern_config_parse_ip(gws[i], false, &family, a.v6, &plen) < 0)
			return -EINVAL;
		a.family = (uint8_t)family;
		if (family == AF_INET)
			memmove(&a.v4, a.v6, 4), memset(a.v6 + 4, 0, 12);
		rc = dp_net_iface_set_gateway(ifc, &a);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Receive the groups ND needs: all-nodes and each address's solicited-node group. */
static void join_multicast(uint16_t port, const struct dp_net_iface *ifc)
{
	struct rte_ether_addr mc[MAX_MC_ADDRS];
	struct dp_ip_addr g = {.family = AF_INET6, .v6 = {0xff, 0x02, [15] = 1}};
	uint32_t n = 0;

	dp_ipv6_mcast_mac(&g, &mc[n++]);
	for (unsigned i = 0; i < ifc->n_addrs && n < MAX_MC_ADDRS; i++) {
		if (ifc->addrs[i].addr.family != AF_INET6)
			continue;
		dp_ipv6_solicited_node(&ifc->addrs[i].addr, &g);
		dp_ipv6_mcast_mac(&g, &mc[n++]);
	}
	if (rte_eth_dev_set_mc_addr_list(port, mc, n) == 0)
		return;
	/* Ports without a filter list (af_packet, many VFs): take all multicast. */
	if (rte_eth_allmulticast_enable(port) != 0)
		tern_log(TERN_LOG_WARNING,
			 "dpdk: port %u has no multicast filter or all-multicast mode; IPv6 "
			 "neighbour discovery may not see solicitations",
			 port);
}

/*
 * True for drivers that copy every transmitted frame in software (the kernel
 * or a shared ring does the I/O): they read mbuf data through its virtual
 * address, so a payload in the broker's heap can be sent by reference. A NIC
 * would DMA from buf_iova, which heap memory does not have.
 */
static bool driver_copies(const char *driver)
{
	static const char *const soft[] = {"net_af_packet", "net_tap",	"net_ring",
					   "net_null",	    "net_pcap", "net_memif"};

	for (size_t i = 0; i < RTE_DIM(soft); i++)
		if (strcmp(driver, soft[i]) == 0)
			return true;
	return false;
}

static int configure_port(struct dp_dpdk *d, uint64_t *tx_offloads)
{
	struct dp_dpdk_shared *sh = &d->sh;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nq, rxd = RX_DESC, txd = TX_DESC;
	int rc;

	rc = rte_eth_dev_info_get(sh->port, &info);
	if (rc < 0)
		return rc;
	memset(&conf, 0, sizeof(conf));
	/*
	 * A queue pair per worker whenever the port has enough. RSS spreads TCP
	 * flows where the port hashes; af_packet spreads them by its kernel fanout
	 * hash; either way one flow always lands on one queue, which is all the
	 * stack needs. Otherwise one queue, and worker 0 hands flows off.
	 */
	sh->multi_queue = sh->n_workers > 1 && info.max_rx_queues >= sh->n_workers &&
			  info.max_tx_queues >= sh->n_workers;
	nq = sh->multi_queue ? (uint16_t)sh->n_workers : 1;
	if (sh->multi_queue) {
		conf.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV6_TCP) &
		    info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	}
	conf.rxmode.offloads =
	    info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	conf.txmode.offloads =
	    info.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
				    RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
	*tx_offloads = conf.txmode.offloads;
	sh->zerocopy =
	    (*tx_offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) && driver_copies(info.driver_name);
	rc = rte_eth_dev_configure(sh->port, nq, nq, &conf);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(sh->port, &rxd, &txd);
	if (rc < 0)
		return rc;
	for (uint16_t q = 0; q < nq; q++) {
		struct rte_mempool *mp = sh->workers[q]->pool;
		int socket = rte_eth_dev_socket_id(sh->port);

		rc = rte_eth_rx_queue_setup(sh->port, q, rxd, socket, NULL, mp);
		if (rc < 0)
			return rc;
		rc = rte_eth_tx_queue_setup(sh->port, q, txd, socket, NULL);
		if (rc < 0)
			return rc;
	}
	for (unsigned i = 0; i < sh->n_workers; i++) {
		sh->workers[i]->own_rxq = sh->multi_queue || i == 0;
		sh->workers[i]->own_txq = sh->multi_queue || i == 0;
		sh->workers[i]->queue = sh->multi_queue ? (uint16_t)i : 0;
	}
	tern_log(TERN_LOG_NOTICE,
		 "dpdk: port %u (%s): %u worker(s), %u queue pair(s)%s, tx checksum offload %s, "
		 "payload zero-copy %s",
		 sh->port, info.driver_name, sh->n_workers, nq,
		 sh->multi_queue ? " with RSS"
				 : (sh->n_workers > 1 ? ", worker 0 hands flows off" : ""),
		 (*tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) ? "on" : "off (software)",
		 sh->zerocopy ? "on" : "off (copied)");
	return 0;
}

static int create_worker(struct dp_dpdk *d, struct tern_broker *b, unsigned i, unsigned lcore)
{
	char name[RTE_RING_NAMESIZE];
	struct dp_dpdk_worker *w;
	int socket = (int)rte_lcore_to_socket_id(lcore);

	w = rte_zmalloc_socket("tern_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (!w)
		return -ENOMEM;
	d->sh.workers[i] = w;
	w->id = i;
	w->lcore = lcore;
	w->sh = &d->sh;
	w->tw = tern_broker_worker(b, i);
	snprintf(name, sizeof(name), "tern_mp%u", i);
	w->pool = rte_pktmbuf_pool_create(name, POOL_MBUFS, POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	snprintf(name, sizeof(name), "tern_in%u", i);
	w->inbox = rte_ring_create(name, RING_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "tern_ln%u", i);
	/* Every worker that receives ARP or ND passes copies: many producers. */
	w->learn = rte_ring_create(name, RING_SIZE, socket, RING_F_SC_DEQ);
	if (!w->pool || !w->inbox || !w->learn)
		return -ENOMEM;
	return 0;
}

static int init_stack(struct dp_dpdk *d, struct dp_dpdk_worker *w, uint64_t tx_offloads)
{
	struct dp_net_iface_config c = {
	    .pool = w->pool, .tx = dp_dpdk_worker_tx, .tx_ctx = w, .tx_offloads = tx_offloads};
	int rc;

	rc = rte_eth_macaddr_get(d->sh.port, &c.mac);
	if (rc < 0)
		return rc;
	rc = dp_net_iface_init(&w->ifc, &c);
	if (rc < 0)
		return rc;
	rc = add_addresses(&w->ifc, d->cfg);
	if (rc < 0)
		return rc;
	if (d->sh.fault) {
		struct dp_fault_config fc = d->sh.fault_cfg;

		/* Each lcore and direction its own stream, all from the one seed. */
		fc.seed = d->sh.fault_cfg.seed * 2 + w->id * 1000003u;
		rc = dp_fault_init(&w->rx_fault, &fc, w->pool);
		if (rc < 0)
			return rc;
		fc.seed++;
		rc = dp_fault_init(&w->tx_fault, &fc, w->pool);
	}
	return rc;
}

int dp_dpdk_start(struct dp_dpdk *d, struct tern_broker *b)
{
	struct dp_dpdk_shared *sh = &d->sh;
	uint64_t tx_offloads = 0;
	unsigned lcore, i = 0;
	int rc;

	if (tern_broker_worker_count(b) != sh->n_workers) {
		tern_log(TERN_LOG_ERR, "dpdk: broker has %u workers, EAL %u worker lcores",
			 tern_broker_worker_count(b), sh->n_workers);
		return -EINVAL;
	}
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		rc = create_worker(d, b, i++, lcore);
		if (rc < 0)
			goto fail;
	}
	rc = configure_port(d, &tx_offloads);
	if (rc < 0)
		goto fail;
	if (!sh->multi_queue && sh->n_workers > 1) {
		sh->tx_ring = rte_ring_create("tern_tx", RING_SIZE, rte_socket_id(), RING_F_SC_DEQ);
		if (!sh->tx_ring) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < sh->n_workers; i++) {
		rc = init_stack(d, sh->workers[i], tx_offloads);
		if (rc < 0)
			goto fail;
	}
	join_multicast(sh->port, &sh->workers[0]->ifc);
	rc = rte_eth_dev_start(sh->port);
	if (rc < 0)
		goto fail;
	d->port_started = true;
	/* sh outlives the workers, the only callers (worker 0 publishes $SYS). */
	tern_sys_set_source(b, dp_dpdk_stats_sys, sh);
	for (i = 0; i < sh->n_workers; i++) {
		rc = rte_eal_remote_launch(dp_dpdk_worker_main, sh->workers[i],
					   sh->workers[i]->lcore);
		if (rc < 0)
			goto fail;
		d->launched++;
	}
	for (i = 0; i < sh->n_workers; i++) {
		while (__atomic_load_n(&sh->workers[i]->started, __ATOMIC_ACQUIRE) == 0)
			rte_pause();
		if (sh->workers[i]->started < 0) {
			rc = sh->workers[i]->started;
			goto fail;
		}
	}
	/* Counters are a nice-to-have: a failure is logged, the dataplane runs on. */
	if (dp_dpdk_telemetry_publish(sh) < 0)
		tern_log(TERN_LOG_WARNING, "dpdk: counters not in telemetry");
	return 0;
fail:
	tern_log(TERN_LOG_ERR, "dpdk: cannot start port %u: %s", sh->port, strerror(-rc));
	return rc;
}

static void log_counters(const struct dp_dpdk_worker *w)
{
	char line[2048];
	size_t len = 0;

	for (unsigned c = 0; c < DP_NET_COUNTER_MAX && len < sizeof(line) - 64; c++)
		if (w->ifc.counters[c])
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%" PRIu64,
						dp_net_counter_name(c), w->ifc.counters[c]);
	tern_log(TERN_LOG_NOTICE,
		 "dpdk: worker %u:%s handed_off=%" PRIu64 " drop_handoff=%" PRIu64
		 " fault_dropped=%" PRIu64 " fault_duplicated=%" PRIu64 " fault_reordered=%" PRIu64,
		 w->id, line, w->handed_off, w->drop_handoff,
		 w->rx_fault.dropped + w->tx_fault.dropped,
		 w->rx_fault.duplicated + w->tx_fault.duplicated,
		 w->rx_fault.reordered + w->tx_fault.reordered);
}

static void drain_ring(struct rte_ring *r)
{
	void *m;

	while (r && rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

void dp_dpdk_stop(struct dp_dpdk *d)
{
	struct dp_dpdk_shared *sh;

	if (!d)
		return;
	sh = &d->sh;
	dp_dpdk_telemetry_publish(NULL);
	__atomic_store_n(&sh->stop, true, __ATOMIC_RELEASE);
	rte_eal_mp_wait_lcore();
	for (unsigned i = 0; i < sh->n_workers; i++) {
		struct dp_dpdk_worker *w = sh->workers[i];

		if (!w)
			continue;
		if (d->launched > i)
			log_counters(w);
		dp_fault_fini(&w->rx_fault);
		dp_fault_fini(&w->tx_fault);
		dp_net_iface_fini(&w->ifc);
		drain_ring(w->inbox);
		drain_ring(w->learn);
	}
	drain_ring(sh->tx_ring);
	if (d->port_started)
		rte_eth_dev_stop(sh->port);
	rte_eth_dev_close(sh->port);
	for (unsigned i = 0; i < sh->n_workers; i++) {
		struct dp_dpdk_worker *w = sh->workers[i];

		if (!w)
			continue;
		rte_ring_free(w->inbox);
		rte_ring_free(w->learn);
		rte_mempool_free(w->pool);
		rte_free(w);
	}
	rte_ring_free(sh->tx_ring);
	rte_eal_cleanup();
	/* After the workers: their sessions are gone with their connections. */
	free_tls(sh);
	tern_free(d->eal_buf);
	tern_free(d);
}
