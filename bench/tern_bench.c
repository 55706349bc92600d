/* SPDX-License-Identifier: MIT */
/*
 * tern-bench: the command line. Parses options, raises RLIMIT_NOFILE, runs the load
 * engine (bench/loadgen) and prints a human summary or, with --json, one JSON object.
 * Exit status: 0 ok, 1 the run failed (connection or protocol error, loss at QoS >= 1,
 * nothing delivered), 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/loadgen.h"
#include "bench/mqtt_wire.h"

static const char *const mode_names[] = {"fanout", "fanin", "pairs", "shared", "conn"};

static void usage(FILE *f)
{
	fputs("usage: tern-bench MODE [options]\n"
	      "modes:\n"
	      "  fanout   1 publisher -> N subscribers of the same topics\n"
	      "  fanin    N publishers -> subscribers of one wildcard filter\n"
	      "  pairs    N publisher/subscriber pairs, one topic each\n"
	      "  shared   N publishers -> subscribers of one $share group\n"
	      "  conn     connection rate and broker memory per idle connection\n"
	      "options:\n"
	      "  -h, --host HOST          broker address, IPv4 or IPv6 (default 127.0.0.1)\n"
	      "  -p, --port PORT          broker port (default 1883)\n"
	      "  -q, --qos 0|1|2          QoS of every PUBLISH and SUBSCRIBE (default 0)\n"
	      "  -V, --mqtt 3|5           MQTT 3.1.1 or 5.0 with topic aliases (default 3)\n"
	      "  -s, --size BYTES         payload size, >= 16 (default 64)\n"
	      "  -t, --topics N           distinct topics (fanout, fanin, shared)\n"
	      "  -P, --publishers N       publishers (pairs: the number of pairs)\n"
	      "  -S, --subscribers N      subscribers\n"
	      "  -c, --connections N      conn mode: idle connections (default 1000)\n"
	      "      --conn-window N      conn mode: handshakes in progress at most (default 256)\n"
	      "  -r, --rate MSGS          total msgs/s over all publishers; 0 = max (default 0)\n"
	      "  -w, --window N           deliveries in flight at most, all publishers\n"
	      "                           (default 16384 at QoS 0, 500 at QoS 1 and 2)\n"
	      "  -d, --duration SEC       seconds per repetition (default 5)\n"
	      "      --warmup SEC         seconds of traffic before measuring (default 1)\n"
	      "  -R, --reps N             repetitions (default 1)\n"
	      "      --drain SEC          wait at most this long for stragglers (default 10)\n"
	      "  -T, --threads N          load threads (default 1)\n"
	      "      --cpu LIST           pin thread i to the i-th CPU of LIST (e.g. 1 or 0,1)\n"
	      "      --broker-pid PID     sample the broker's CPU and RSS from /proc/PID\n"
	      "  -k, --keepalive SEC      MQTT keepalive (default 60)\n"
	      "      --prefix STR         topic prefix (default tb/PID)\n"
	      "      --json               print one JSON object on stdout\n"
	      "      --no-progress        no live line on stderr\n"
	      "      --rx-timestamps      also report latency to the kernel's arrival of each\n"
	      "                           delivery at its socket, and of each message's first\n"
	      "                           and last delivery (latency_us stays send to read)\n"
	      "      --busy-poll US       poll without sleeping for US microseconds after the\n"
	      "                           last event (default 0: sleep at once); see README\n"
	      "      --help               this text\n",
	      f);
}

/* Parses an unsigned option value in [min, max]; exits with status 2 on error. */
static unsigned long parse_ul(const char *name, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "tern-bench: --%s: '%s' is not a number in [%lu, %lu]\n", name, s,
			min, max);
		exit(2);
	}
	return v;
}

static double parse_d(const char *name, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "tern-bench: --%s: '%s' is not a number in [%g, %g]\n", name, s,
			min, max);
		exit(2);
	}
	return v;
}

static int parse_cpus(const char *s, struct tb_opts *o)
{
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		return -ENOMEM;
	o->ncpus = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->ncpus == TB_MAX_THREADS)
			break;
		o->cpus[o->ncpus++] = (int)parse_ul("cpu", tok, 0, 1023);
	}
	free(copy);
	return o->ncpus ? 0 : -EINVAL;
}

static int resolve(const char *host, unsigned port, struct tb_opts *o)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	char ps[16];
	snprintf(ps, sizeof(ps), "%u", port);
	int e = getaddrinfo(host, ps, &hints, &ai);
	if (e) {
		fprintf(stderr, "tern-bench: %s: %s\n", host, gai_strerror(e));
		return -EINVAL;
	}
	memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
	o->addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Raises the soft limit on open files to what the run needs (up to the hard limit). */
static int raise_nofile(unsigned need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need) {
		/* root may raise the hard limit too */
		struct rlimit up = {need, need};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		return -EMFILE;
	}
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of n values taken by get(i). */
static double median(unsigned n, double (*get)(const struct tb_result *, unsigned),
		     const struct tb_result *res)
{
	double v[TB_MAX_REPS];
	for (unsigned i = 0; i < n; i++)
		v[i] = get(res, i);
	qsort(v, n, sizeof(double), cmp_double);
	return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* tern-bench's own CPU time per delivered message in a window, in ns (0 if none). */
static double ns_per_delivery(const struct tb_rep_result *p)
{
	return p->delivered_rate > 0 ? p->bench_cpu_pct / 100.0 * 1e9 / p->delivered_rate : 0;
}

#define GETTER(name, expr)                                                                         \
	static double name(const struct tb_result *r, unsigned i)                                  \
	{                                                                                          \
		return (expr);                                                                     \
	}
GETTER(g_pub_rate, r->reps[i].published_rate)
GETTER(g_del_rate, r->reps[i].delivered_rate)
GETTER(g_p50, tb_hist_percentile(&r->reps[i].latency, 0.50) / 1e3)
GETTER(g_p90, tb_hist_percentile(&r->reps[i].latency, 0.90) / 1e3)
GETTER(g_p99, tb_hist_percentile(&r->reps[i].latency, 0.99) / 1e3)
GETTER(g_p999, tb_hist_percentile(&r->reps[i].latency, 0.999) / 1e3)
GETTER(g_max, r->reps[i].latency.max / 1e3)
GETTER(g_bcpu, r->reps[i].broker_cpu_pct)
GETTER(g_rss, (double)r->reps[i].broker_rss_kb)
GETTER(g_tcpu, r->reps[i].bench_cpu_pct)
GETTER(g_tmax, r->reps[i].bench_max_thread_pct)
GETTER(g_tns, ns_per_delivery(&r->reps[i]))
GETTER(g_a50, tb_hist_percentile(&r->reps[i].arrival, 0.50) / 1e3)
GETTER(g_a90, tb_hist_percentile(&r->reps[i].arrival, 0.90) / 1e3)
GETTER(g_a99, tb_hist_percentile(&r->reps[i].arrival, 0.99) / 1e3)
GETTER(g_crate, r->conn[i].connect_rate)
GETTER(g_cbytes, r->conn[i].bytes_per_conn)

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_latency(FILE *f, const struct tb_hist *h)
{
	fprintf(f,
		"{\"count\": %llu, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, "
		"\"max\": %.3f, \"mean\": %.3f}",
		(unsigned long long)h->count, tb_hist_percentile(h, 0.5) / 1e3,
		tb_hist_percentile(h, 0.9) / 1e3, tb_hist_percentile(h, 0.99) / 1e3,
		tb_hist_percentile(h, 0.999) / 1e3, h->max / 1e3, tb_hist_mean(h) / 1e3);
}

static void print_json(FILE *f, const struct tb_opts *o, const char *host, unsigned port,
		       const struct tb_result *r, int rc, const char *verdict)
{
	unsigned n = r->nreps;
	fprintf(f,
		"{\n  \"tool\": \"tern-bench\", \"mode\": \"%s\", \"host\": ", mode_names[o->mode]);
	json_str(f, host);
	fprintf(
	    f,
	    ", \"port\": %u, \"mqtt\": \"%s\", \"qos\": %u, \"payload\": %u, \"topics\": %u,\n"
	    "  \"publishers\": %u, \"subscribers\": %u, \"connections\": %u, \"rate\": %.1f, "
	    "\"window\": %u,\n  \"duration\": %.3f, \"warmup\": %.3f, \"reps\": %u, \"threads\": "
	    "%u, \"broker_pid\": %d,\n",
	    port, o->version == TB_MQTT_V5 ? "5.0" : "3.1.1", o->qos, o->payload, o->topics,
	    o->mode == TB_MODE_CONN ? 0 : o->publishers,
	    o->mode == TB_MODE_CONN    ? 0
	    : o->mode == TB_MODE_PAIRS ? o->publishers
				       : o->subscribers,
	    o->mode == TB_MODE_CONN ? o->connections : 0, o->rate, o->window, o->duration,
	    o->warmup, o->reps, o->threads, (int)o->broker_pid);
	fprintf(f, "  \"ok\": %s, \"verdict\": ", rc == 0 ? "true" : "false");
	json_str(f, verdict);
	fprintf(f, ",\n  \"bench_saturated\": %s,\n", r->bench_saturated ? "true" : "false");
	if (o->mode == TB_MODE_CONN) {
		fprintf(f, "  \"cycles\": [");
		for (unsigned i = 0; i < n; i++) {
			const struct tb_conn_result *c = &r->conn[i];
			fprintf(f,
				"%s\n    {\"connect_s\": %.4f, \"connect_rate\": %.1f, "
				"\"rss_before_kb\": %llu, \"rss_connected_kb\": %llu, "
				"\"rss_after_kb\": %llu, \"bytes_per_conn\": %.1f, "
				"\"bench_cpu_pct\": %.1f}",
				i ? "," : "", c->connect_s, c->connect_rate,
				(unsigned long long)c->rss_before_kb,
				(unsigned long long)c->rss_connected_kb,
				(unsigned long long)c->rss_after_kb, c->bytes_per_conn,
				c->bench_cpu_pct);
		}
		fprintf(
		    f,
		    "\n  ],\n  \"median\": {\"connect_rate\": %.1f, \"bytes_per_conn\": %.1f}\n}\n",
		    median(n, g_crate, r), median(n, g_cbytes, r));
		return;
	}
	fprintf(f, "  \"runs\": [");
	for (unsigned i = 0; i < n; i++) {
		const struct tb_rep_result *p = &r->reps[i];
		fprintf(
		    f,
		    "%s\n    {\"published\": %llu, \"expected\": %llu, \"delivered\": %llu, "
		    "\"duplicates\": %llu, \"reordered\": %llu, \"published_rate\": %.1f, "
		    "\"delivered_rate\": %.1f, \"broker_cpu_pct\": %.1f, \"broker_rss_kb\": %llu, "
		    "\"bench_cpu_pct\": %.1f, \"bench_max_thread_pct\": %.1f, "
		    "\"bench_ns_per_delivery\": %.1f,\n     "
		    "\"latency_us\": ",
		    i ? "," : "", (unsigned long long)p->published, (unsigned long long)p->expected,
		    (unsigned long long)p->delivered, (unsigned long long)p->duplicates,
		    (unsigned long long)p->reordered, p->published_rate, p->delivered_rate,
		    p->broker_cpu_pct, (unsigned long long)p->broker_rss_kb, p->bench_cpu_pct,
		    p->bench_max_thread_pct, ns_per_delivery(p));
		json_latency(f, &p->latency);
		if (o->rx_timestamps) {
			fputs(",\n     \"arrival_latency_us\": ", f);
			json_latency(f, &p->arrival);
			fputs(",\n     \"first_arrival_us\": ", f);
			json_latency(f, &p->first_arrival);
			fputs(",\n     \"last_arrival_us\": ", f);
			json_latency(f, &p->last_arrival);
		}
		fputc('}', f);
	}
	fprintf(f,
		"\n  ],\n  \"median\": {\"published_rate\": %.1f, \"delivered_rate\": %.1f, "
		"\"latency_us\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, "
		"\"max\": %.3f},\n    \"broker_cpu_pct\": %.1f, \"broker_rss_kb\": %.0f, "
		"\"bench_cpu_pct\": %.1f, \"bench_max_thread_pct\": %.1f, "
		"\"bench_ns_per_delivery\": %.1f},\n",
		median(n, g_pub_rate, r), median(n, g_del_rate, r), median(n, g_p50, r),
		median(n, g_p90, r), median(n, g_p99, r), median(n, g_p999, r), median(n, g_max, r),
		median(n, g_bcpu, r), median(n, g_rss, r), median(n, g_tcpu, r),
		median(n, g_tmax, r), median(n, g_tns, r));
	if (o->rx_timestamps)
		fprintf(f,
			"  \"median_arrival_latency_us\": {\"p50\": %.3f, \"p90\": %.3f, "
			"\"p99\": %.3f},\n",
			median(n, g_a50, r), median(n, g_a90, r), median(n, g_a99, r));
	uint64_t exp = 0, del = 0;
	for (unsigned p = 0; p < r->npubs; p++)
		exp += r->pubs[p].expected, del += r->pubs[p].delivered;
	fprintf(f,
		"  \"total\": {\"published\": %llu, \"expected\": %llu, \"delivered\": %llu, "
		"\"lost\": %llu, \"duplicates\": %llu, \"reordered\": %llu, \"drain_s\": %.3f},\n",
		(unsigned long long)r->tx_msgs, (unsigned long long)exp, (unsigned long long)del,
		(unsigned long long)r->lost, (unsigned long long)r->duplicates,
		(unsigned long long)r->reordered, r->drain_s);
	fprintf(f,
		"  \"wire\": {\"tx_bytes_per_msg\": %.2f, \"rx_bytes_per_msg\": %.2f, "
		"\"rx_alias_only_msgs\": %llu, \"broker_topic_alias_max\": %u, "
		"\"broker_receive_max\": %u},\n",
		r->tx_msgs ? (double)r->tx_bytes / r->tx_msgs : 0.0,
		r->rx_msgs ? (double)r->rx_bytes / r->rx_msgs : 0.0,
		(unsigned long long)r->rx_alias_only, r->broker_alias_max, r->broker_receive_max);
	fprintf(f, "  \"per_publisher\": [");
	for (unsigned p = 0; p < r->npubs; p++) {
		const struct tb_pub_result *x = &r->pubs[p];
		fprintf(
		    f,
		    "%s\n    {\"id\": %u, \"published\": %llu, \"expected\": %llu, \"delivered\": "
		    "%llu, \"lost\": %llu, \"duplicates\": %llu, \"reordered\": %llu}",
		    p ? "," : "", p, (unsigned long long)x->published,
		    (unsigned long long)x->expected, (unsigned long long)x->delivered,
		    (unsigned long long)x->lost, (unsigned long long)x->duplicates,
		    (unsigned long long)x->reordered);
	}
	fprintf(f, "\n  ]\n}\n");
}

static void print_text(FILE *f, const struct tb_opts *o, const struct tb_result *r)
{
	unsigned n = r->nreps;
	if (o->mode == TB_MODE_CONN) {
		for (unsigned i = 0; i < n; i++) {
			const struct tb_conn_result *c = &r->conn[i];
			fprintf(f, "cycle %u: %u connections in %.3f s = %.0f conn/s", i + 1,
				o->connections, c->connect_s, c->connect_rate);
			if (o->broker_pid)
				fprintf(
				    f,
				    "; broker RSS %llu kB idle, %llu kB connected (%.0f B/conn), "
				    "%llu kB after disconnect",
				    (unsigned long long)c->rss_before_kb,
				    (unsigned long long)c->rss_connected_kb, c->bytes_per_conn,
				    (unsigned long long)c->rss_after_kb);
			fprintf(f, "; tern-bench cpu %.0f%%\n", c->bench_cpu_pct);
		}
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct tb_rep_result *p = &r->reps[i];
		const struct tb_hist *h = &p->latency;
		fprintf(
		    f,
		    "rep %u: published %.0f msg/s, delivered %.0f msg/s (%llu of %llu); latency "
		    "us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
		    i + 1, p->published_rate, p->delivered_rate, (unsigned long long)p->delivered,
		    (unsigned long long)p->expected, tb_hist_percentile(h, 0.5) / 1e3,
		    tb_hist_percentile(h, 0.9) / 1e3, tb_hist_percentile(h, 0.99) / 1e3,
		    tb_hist_percentile(h, 0.999) / 1e3, h->max / 1e3);
		fprintf(
		    f, "       tern-bench cpu %.0f%% (busiest thread %.0f%%, %.0f ns per delivery)",
		    p->bench_cpu_pct, p->bench_max_thread_pct, ns_per_delivery(p));
		if (o->broker_pid)
			fprintf(f, ", broker cpu %.0f%% rss %llu kB", p->broker_cpu_pct,
				(unsigned long long)p->broker_rss_kb);
		fputc('\n', f);
		if (o->rx_timestamps) {
			const struct tb_hist *a = &p->arrival, *fa = &p->first_arrival,
					     *la = &p->last_arrival;
			fprintf(
			    f,
			    "       at socket arrival: us p50 %.1f p90 %.1f p99 %.1f; "
			    "first of a message p50 %.1f p99 %.1f, last p50 %.1f p99 %.1f\n",
			    tb_hist_percentile(a, 0.5) / 1e3, tb_hist_percentile(a, 0.9) / 1e3,
			    tb_hist_percentile(a, 0.99) / 1e3, tb_hist_percentile(fa, 0.5) / 1e3,
			    tb_hist_percentile(fa, 0.99) / 1e3, tb_hist_percentile(la, 0.5) / 1e3,
			    tb_hist_percentile(la, 0.99) / 1e3);
		}
	}
	if (n > 1)
		fprintf(f,
			"median: published %.0f msg/s, delivered %.0f msg/s, p50 %.1f us, p99 %.1f "
			"us\n",
			median(n, g_pub_rate, r), median(n, g_del_rate, r), median(n, g_p50, r),
			median(n, g_p99, r));
	fprintf(f, "whole run: lost %llu, duplicates %llu, reordered %llu (drain %.2f s)\n",
		(unsigned long long)r->lost, (unsigned long long)r->duplicates,
		(unsigned long long)r->reordered, r->drain_s);
	fprintf(f, "wire: %.1f bytes sent per PUBLISH, %.1f bytes received per delivered message",
		r->tx_msgs ? (double)r->tx_bytes / r->tx_msgs : 0.0,
		r->rx_msgs ? (double)r->rx_bytes / r->rx_msgs : 0.0);
	if (o->version == TB_MQTT_V5)
		fprintf(f,
			"; broker used topic aliases on %llu of %llu (its Topic Alias Maximum %u)",
			(unsigned long long)r->rx_alias_only, (unsigned long long)r->rx_msgs,
			r->broker_alias_max);
	fputc('\n', f);
	if (r->bench_saturated)
		fprintf(f,
			"WARNING: tern-bench saturated its core (a thread at >= 90%% of a CPU): "
			"the numbers may be tern-bench's limit, not the broker's; try --threads\n");
}

enum {
	OPT_WARMUP = 256,
	OPT_DRAIN,
	OPT_CPU,
	OPT_PID,
	OPT_PREFIX,
	OPT_JSON,
	OPT_NOPROG,
	OPT_HELP,
	OPT_CWIN,
	OPT_RXTS,
	OPT_BUSY,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"qos", required_argument, NULL, 'q'},
	    {"mqtt", required_argument, NULL, 'V'},
	    {"size", required_argument, NULL, 's'},
	    {"topics", required_argument, NULL, 't'},
	    {"publishers", required_argument, NULL, 'P'},
	    {"subscribers", required_argument, NULL, 'S'},
	    {"connections", required_argument, NULL, 'c'},
	    {"conn-window", required_argument, NULL, OPT_CWIN},
	    {"rate", required_argument, NULL, 'r'},
	    {"window", required_argument, NULL, 'w'},
	    {"duration", required_argument, NULL, 'd'},
	    {"warmup", required_argument, NULL, OPT_WARMUP},
	    {"reps", required_argument, NULL, 'R'},
	    {"drain", required_argument, NULL, OPT_DRAIN},
	    {"threads", required_argument, NULL, 'T'},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"broker-pid", required_argument, NULL, OPT_PID},
	    {"keepalive", required_argument, NULL, 'k'},
	    {"prefix", required_argument, NULL, OPT_PREFIX},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"no-progress", no_argument, NULL, OPT_NOPROG},
	    {"rx-timestamps", no_argument, NULL, OPT_RXTS},
	    {"busy-poll", required_argument, NULL, OPT_BUSY},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	struct tb_opts o = {
	    .version = TB_MQTT_V311,
	    .payload = 64,
	    .connections = 1000,
	    .conn_window = 256,
	    .window = 0, /* by QoS, below */
	    .duration = 5,
	    .warmup = 1,
	    .drain = 10,
	    .reps = 1,
	    .threads = 1,
	    .keepalive = 60,
	};
	const char *host = "127.0.0.1";
	unsigned port = 1883;
	long pubs = -1, subs = -1, topics = -1;
	bool json = false, noprog = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "h:p:q:V:s:t:P:S:c:r:w:d:R:T:k:", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = (unsigned)parse_ul("port", optarg, 1, 65535);
			break;
		case 'q':
			o.qos = (uint8_t)parse_ul("qos", optarg, 0, 2);
			break;
		case 'V':
			if (!strcmp(optarg, "3") || !strcmp(optarg, "3.1.1") ||
			    !strcmp(optarg, "4"))
				o.version = TB_MQTT_V311;
			else if (!strcmp(optarg, "5") || !strcmp(optarg, "5.0"))
				o.version = TB_MQTT_V5;
			else {
				fprintf(stderr, "tern-bench: --mqtt: '%s' is not 3 or 5\n", optarg);
				return 2;
			}
			break;
		case 's':
			o.payload = (unsigned)parse_ul("size", optarg, TB_PAYLOAD_HDR, 16 << 20);
			break;
		case 't':
			topics = (long)parse_ul("topics", optarg, 1, 1000000);
			break;
		case 'P':
			pubs = (long)parse_ul("publishers", optarg, 1, 1000000);
			break;
		case 'S':
			subs = (long)parse_ul("subscribers", optarg, 1, 1000000);
			break;
		case 'c':
			o.connections = (unsigned)parse_ul("connections", optarg, 1, 10000000);
			break;
		case OPT_CWIN:
			o.conn_window = (unsigned)parse_ul("conn-window", optarg, 1, 1000000);
			break;
		case 'r':
			o.rate = parse_d("rate", optarg, 0, 1e10);
			break;
		case 'w':
			o.window = (unsigned)parse_ul("window", optarg, 1, 1u << 30);
			break;
		case 'd':
			o.duration = parse_d("duration", optarg, 0.01, 86400);
			break;
		case OPT_WARMUP:
			o.warmup = parse_d("warmup", optarg, 0, 86400);
			break;
		case 'R':
			o.reps = (unsigned)parse_ul("reps", optarg, 1, TB_MAX_REPS);
			break;
		case OPT_DRAIN:
			o.drain = parse_d("drain", optarg, 0, 86400);
			break;
		case 'T':
			o.threads = (unsigned)parse_ul("threads", optarg, 1, TB_MAX_THREADS);
			break;
		case OPT_CPU:
			if (parse_cpus(optarg, &o) < 0) {
				fprintf(stderr, "tern-bench: --cpu: bad list '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_PID:
			o.broker_pid = (pid_t)parse_ul("broker-pid", optarg, 1, 1u << 30);
			break;
		case 'k':
			o.keepalive = (uint16_t)parse_ul("keepalive", optarg, 0, 65535);
			break;
		case OPT_PREFIX:
			if (strlen(optarg) >= sizeof(o.prefix) || strpbrk(optarg, "+#") ||
			    !*optarg) {
				fprintf(stderr,
					"tern-bench: --prefix: 1..63 characters, no + or #\n");
				return 2;
			}
			snprintf(o.prefix, sizeof(o.prefix), "%s", optarg);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_NOPROG:
			noprog = true;
			break;
		case OPT_RXTS:
			o.rx_timestamps = true;
			break;
		case OPT_BUSY:
			o.busy_poll_ns = parse_ul("busy-poll", optarg, 0, 60000000) * 1000ull;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	unsigned m;
	for (m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
		if (!strcmp(argv[optind], mode_names[m]))
			break;
	if (m == sizeof(mode_names) / sizeof(mode_names[0])) {
		fprintf(stderr, "tern-bench: unknown mode '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	o.mode = (enum tb_mode)m;
	switch (o.mode) {
	case TB_MODE_FANOUT:
		o.publishers = pubs > 0 ? (unsigned)pubs : 1;
		o.subscribers = subs > 0 ? (unsigned)subs : 10;
		o.topics = topics > 0 ? (unsigned)topics : 1;
		break;
	case TB_MODE_FANIN:
		o.publishers = pubs > 0 ? (unsigned)pubs : 10;
		o.subscribers = subs > 0 ? (unsigned)subs : 1;
		o.topics = topics > 0 ? (unsigned)topics : o.publishers;
		break;
	case TB_MODE_PAIRS:
		o.publishers = pubs > 0 ? (unsigned)pubs : 10;
		o.subscribers = o.publishers;
		o.topics = o.publishers;
		break;
	case TB_MODE_SHARED:
		o.publishers = pubs > 0 ? (unsigned)pubs : 10;
		o.subscribers = subs > 0 ? (unsigned)subs : 2;
		o.topics = topics > 0 ? (unsigned)topics : 1;
		break;
	case TB_MODE_CONN:
		break;
	}
	if (o.mode == TB_MODE_FANOUT && o.publishers != 1) {
		fprintf(stderr, "tern-bench: fanout has exactly one publisher\n");
		return 2;
	}
	/*
	 * At QoS 1/2 the default window is half the default session queue of tern and
	 * mosquitto (1,000 queued + 20 in flight): a message counts as delivered when we read
	 * it, but the broker holds it until our PUBACK reaches it, so a window of the whole
	 * queue could still overfill it. QoS 0 gets more room for batching.
	 */
	if (o.window == 0)
		o.window = o.qos ? 500 : 16384;
	if (!o.prefix[0])
		snprintf(o.prefix, sizeof(o.prefix), "tb/%d", (int)getpid());
	o.progress = !noprog && isatty(STDERR_FILENO);
	if (resolve(host, port, &o) < 0)
		return 2;
	unsigned conns = o.mode == TB_MODE_CONN ? o.connections : o.publishers + o.subscribers;
	if (raise_nofile(conns + 64) < 0) {
		fprintf(stderr,
			"tern-bench: need %u open files; RLIMIT_NOFILE is lower (ulimit -n)\n",
			conns + 64);
		return 1;
	}

	struct tb_result *res = calloc(1, sizeof(*res));
	if (!res) {
		fprintf(stderr, "tern-bench: out of memory\n");
		return 1;
	}
	int e = tb_loadgen_run(&o, res);
	int rc = 0;
	char verdict[320] = "ok";
	if (e < 0) {
		rc = 1;
		snprintf(verdict, sizeof(verdict), "run failed: %s", res->error);
	} else if (o.mode != TB_MODE_CONN) {
		uint64_t del = 0;
		for (unsigned p = 0; p < res->npubs; p++)
			del += res->pubs[p].delivered;
		if (del == 0) {
			rc = 1;
			snprintf(verdict, sizeof(verdict),
				 "nothing was delivered (does the broker support this mode?)");
		} else if (o.qos >= 1 && res->lost > 0) {
			rc = 1;
			snprintf(verdict, sizeof(verdict), "lost %llu messages at QoS %u",
				 (unsigned long long)res->lost, o.qos);
		} else if (res->bench_saturated) {
			snprintf(verdict, sizeof(verdict), "ok, but tern-bench saturated its core");
		}
	}
	if (json)
		print_json(stdout, &o, host, port, res, rc, verdict);
	else if (e == 0)
		print_text(stdout, &o, res);
	if (rc)
		fprintf(stderr, "tern-bench: FAIL: %s\n", verdict);
	tb_result_free(res);
	free(res);
	return rc;
}
