/* SPDX-License-Identifier: MIT */
/*
 * The tern program: options and config, the broker, the dataplane, and the
 * main thread's signal loop (SIGTERM/SIGINT stop, SIGHUP reloads).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/log.h"
#include "dataplane/sock/sock.h"
#ifdef TERN_HAVE_DPDK
#include "dataplane/dpdk/dpdk.h"
#endif

#define MAX_CLI_PORTS TERN_CONFIG_MAX_LISTENERS

struct options {
	const char *config_path;
	uint16_t ports[MAX_CLI_PORTS];
	unsigned n_ports;
	long workers; /* -1: from the config */
	bool verbose;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tern [-c FILE] [-p PORT]... [-w N] [-v]\n"
		"MQTT 3.1/3.1.1 broker.\n\n"
		"  -c, --config FILE   read a mosquitto-style config file (see deploy/tern.conf)\n"
		"  -p, --port PORT     listen on PORT on all addresses, IPv4 and IPv6;\n"
		"                      repeatable; replaces the config's listeners (default 1883)\n"
		"  -w, --workers N     worker threads (default: the config's, else one per core)\n"
		"  -v, --verbose       log everything (log_type all)\n"
		"  -h, --help          show this help\n"
		"      --version       print the version\n");
}

static int parse_number(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Returns 0 to run, 1 to exit successfully (help, version), -1 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"port", required_argument, NULL, 'p'},
	    {"workers", required_argument, NULL, 'w'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int opt;

	memset(o, 0, sizeof(*o));
	o->workers = -1;
	while ((opt = getopt_long(argc, argv, "c:p:w:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'p':
			if (parse_number(optarg, 1, 65535, &v) < 0 || o->n_ports == MAX_CLI_PORTS) {
				fprintf(stderr, "tern: invalid or too many ports: '%s'\n", optarg);
				return -1;
			}
			o->ports[o->n_ports++] = (uint16_t)v;
			break;
		case 'w':
			if (parse_number(optarg, 0, 64, &v) < 0) {
				fprintf(stderr, "tern: -w takes 0..64 (0: one per core)\n");
				return -1;
			}
			o->workers = v;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("tern version %s\n", TERN_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tern: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* The whole configuration: defaults, file, then command line. Returns 0 or -1 (reported). */
static int build_config(const struct options *o, struct tern_config *cfg)
{
	char err[512];
	unsigned i;

	tern_config_defaults(cfg);
	if (o->config_path && tern_config_load(cfg, o->config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "tern: %s\n", err);
		return -1;
	}
	if (o->n_ports) {
		cfg->n_listeners = 0;
		for (i = 0; i < o->n_ports; i++) {
			tern_config_add_listener(cfg, o->ports[i], "");
			/* per_listener_settings: -p listeners take the lines before any listener.
			 */
			cfg->listeners[i].security = cfg->default_security;
		}
	}
	if (o->workers >= 0)
		cfg->workers = (unsigned)o->workers;
	if (o->verbose)
		cfg->log_mask = TERN_LOG_ALL;
	return 0;
}

static void reload(const struct options *o, struct tern_broker *b)
{
	struct tern_config cfg;
	char err[512];

	if (build_config(o, &cfg) < 0) {
		tern_log(TERN_LOG_ERR, "Reload failed; keeping the running configuration.");
		return;
	}
	tern_broker_reload(b, &cfg);
	if (tern_broker_load_auth(b, &cfg, err, sizeof(err)) < 0) {
		tern_log(TERN_LOG_ERR,
			 "Reload of password_file/acl_file failed, keeping the old ones: %s", err);
		return;
	}
	tern_log(TERN_LOG_NOTICE,
		 "Reloaded configuration (log types, allow_anonymous, password_file, acl_file).");
}

int main(int argc, char **argv)
{
	struct tern_config cfg;
	struct tern_broker *b;
	struct options o;
	struct dp_sock *dp = NULL;
#ifdef TERN_HAVE_DPDK
	struct dp_dpdk *dpdk = NULL;
#endif
	char err[512];
	sigset_t sigs;
	int sig, ret;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (build_config(&o, &cfg) < 0)
		return EXIT_FAILURE;
	tern_log_set_mask(cfg.log_mask);

	/* Workers inherit this mask: only the main thread takes signals, with sigwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Registered so teardown can remove tree entries; offline while it only waits. */
	rcu_register_thread();
	rcu_thread_offline();

#ifdef TERN_HAVE_DPDK
	/* EAL first: its lcores decide the worker count, and its threads inherit the mask. */
	if (cfg.dataplane == TERN_DATAPLANE_DPDK) {
		dpdk = dp_dpdk_init(&cfg);
		if (!dpdk)
			return EXIT_FAILURE;
		if (cfg.workers && cfg.workers != dp_dpdk_worker_count(dpdk))
			tern_log(TERN_LOG_NOTICE,
				 "dataplane dpdk: %u workers, one per worker lcore",
				 dp_dpdk_worker_count(dpdk));
		cfg.workers = dp_dpdk_worker_count(dpdk);
	}
#endif
	b = tern_broker_create(&cfg);
	if (!b) {
		fprintf(stderr, "tern: cannot create the broker: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	/* Before any worker runs: a bad password or ACL file stops startup with FILE:LINE. */
	rcu_thread_online();
	ret = tern_broker_load_auth(b, &cfg, err, sizeof(err));
	rcu_thread_offline();
	if (ret < 0) {
		fprintf(stderr, "tern: %s\n", err);
		tern_broker_destroy(b);
		return EXIT_FAILURE;
	}
	tern_log(TERN_LOG_NOTICE, "tern version %s starting with %u workers", TERN_VERSION,
		 b->n_workers);
	if (o.config_path)
		tern_log(TERN_LOG_NOTICE, "Config loaded from %s.", o.config_path);

#ifdef TERN_HAVE_DPDK
	if (dpdk && dp_dpdk_start(dpdk, b) < 0) {
		dp_dpdk_stop(dpdk);
		tern_broker_destroy(b);
		return EXIT_FAILURE;
	}
	if (!dpdk)
#endif
		dp = dp_sock_start(b, &b->cfg);
	if (cfg.dataplane == TERN_DATAPLANE_SOCK && !dp) {
		tern_broker_destroy(b);
		return EXIT_FAILURE;
	}
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		reload(&o, b);
	}
	tern_log(TERN_LOG_NOTICE, "tern version %s terminating", TERN_VERSION);
	dp_sock_stop(dp);
#ifdef TERN_HAVE_DPDK
	dp_dpdk_stop(dpdk);
#endif
	rcu_barrier(); /* takeover callbacks post to workers: let them finish first */

	rcu_thread_online();
	tern_broker_destroy(b);
	rcu_thread_offline();
	rcu_barrier(); /* run pending frees before exit, so leak checkers see none */
	rcu_unregister_thread();
	return EXIT_SUCCESS;
}
