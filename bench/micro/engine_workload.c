/* SPDX-License-Identifier: MIT */
/*
 * A fixed workload for the real engine through a fake dataplane (no sockets):
 * clients are byte buffers, each worker is a thread driven in lockstep by the
 * main thread, so the work done per scenario is the same on every run. The
 * engine's share of the work runs inside the measured_* functions, which
 * bench/callgrind.sh counts with valgrind --toggle-collect; the clients'
 * encoding and parsing stays outside them. Without valgrind it prints wall
 * time and delivered messages per second.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/config.h"
#include "broker/log.h"
#include "broker/outq.h"
#include "broker/transport.h"
#include "broker/worker.h"

#define PAYLOAD_LEN	64
#define IOV_MAX_FAKE	1024
#define MAX_ROUNDS_IDLE 64 /* rounds without progress before the run is declared stuck */
#define INNER_TURNS	64 /* per worker round: input -> poll -> flush while clients answer */

struct fworker;

/* A client and its connection: what it sends next, what it received. */
struct fconn {
	struct fworker *fw;
	struct tern_conn *tc;
	struct fconn *dirty_next;
	bool dirty, closing, closed, paused;
	uint8_t sub_qos; /* QoS 1: this client acknowledges every PUBLISH it gets */

	uint8_t *out; /* bytes the client will send (input to the broker) */
	size_t out_len, out_off, out_cap;
	uint8_t *rx; /* bytes received and not parsed yet */
	size_t rx_len, rx_cap;
	uint64_t publishes_rx;
	uint64_t acks_rx;
	/* Publisher: the whole run, pre-encoded; fed batch packets per round. */
	uint8_t *script;
	size_t script_len, script_cap, script_off, pkt_len;
};

enum cmd {
	CMD_NONE,
	CMD_ROUND,
	CMD_QUIT,
};

struct fworker {
	struct tern_worker *w;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	enum cmd cmd;
	bool measured;
	size_t batch; /* publishes per publisher per round */
	struct fconn **conns;
	size_t n_conns, cap_conns;
	struct fconn *dirty;
	size_t progress; /* bytes moved in the last round */
	struct iovec iov[IOV_MAX_FAKE];
};

struct scenario {
	const char *name;
	const char *what;
	unsigned pubs, subs;
	uint8_t pub_qos, sub_qos;
	size_t msgs_per_pub; /* default; -n overrides the total */
	size_t batch;
	bool pairs;  /* publisher i -> subscriber i only */
	bool fan_in; /* one wildcard subscriber */
};

static const struct scenario scenarios[] = {
    {"fanout-q0", "1 publisher -> 100 subscribers, QoS 0, 64 B", 1, 100, 0, 0, 2000, 32, false,
     false},
    {"fanout-q1", "1 publisher -> 100 subscribers, QoS 1 both ways, 64 B", 1, 100, 1, 1, 1000, 16,
     false, false},
    {"fanin-q0", "100 publishers -> 1 wildcard subscriber, QoS 0, 64 B", 100, 1, 0, 0, 200, 4,
     false, true},
    {"fanin-q1", "100 publishers -> 1 wildcard subscriber, QoS 1 both ways, 64 B", 100, 1, 1, 1,
     100, 4, false, true},
    {"pairs-q0", "100 publisher/subscriber pairs, QoS 0, 64 B", 100, 100, 0, 0, 200, 4, true,
     false},
};

/* ---- the fake dataplane (broker/transport.h) ---- */

static void op_want_write(void *tctx)
{
	struct fconn *c = tctx;

	if (c->dirty || c->closed)
		return;
	c->dirty = true;
	c->dirty_next = c->fw->dirty;
	c->fw->dirty = c;
}

static void op_close(void *tctx)
{
	struct fconn *c = tctx;

	c->closing = true;
	op_want_write(c);
}

static void op_pause_input(void *tctx, bool paused)
{
	((struct fconn *)tctx)->paused = paused;
}

static const struct tern_transport_ops fake_ops = {
    .want_write = op_want_write,
    .close = op_close,
    .pause_input = op_pause_input,
    .wake = NULL, /* lockstep: the main thread runs every worker each round */
};

/* ---- the engine calls that are measured (never inlined: callgrind finds them by name) ---- */

static __attribute__((noinline)) int measured_input(struct tern_conn *c, const uint8_t *p, size_t n)
{
	return tern_conn_input(c, p, n);
}

static __attribute__((noinline)) int measured_poll(struct tern_worker *w)
{
	return tern_worker_poll(w);
}

/* Counted too: the worker posts its batched cross-worker deliveries here (outbox.h). */
static __attribute__((noinline)) void measured_quiescent(struct tern_worker *w)
{
	tern_worker_quiescent(w);
}

static __attribute__((noinline)) size_t measured_iov(struct tern_conn *c, struct iovec *iov,
						     size_t max)
{
	return tern_outq_iov(tern_conn_outq(c), iov, max);
}

static __attribute__((noinline)) void measured_consume(struct tern_conn *c, size_t n)
{
	tern_outq_consume(tern_conn_outq(c), n);
	tern_conn_wrote(c, n);
}

/* ---- clients (not measured) ---- */

static void die(const char *what)
{
	fprintf(stderr, "engine_workload: %s\n", what);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("out of memory");
	return p;
}

static void buf_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

static void client_send(struct fconn *c, const void *p, size_t n)
{
	buf_append(&c->out, &c->out_len, &c->out_cap, p, n);
}

/* The client reads what the broker wrote: counts PUBLISHes, acknowledges QoS 1. */
static void client_receive(struct fconn *c, const struct iovec *iov, size_t n)
{
	struct tern_packet pkt;
	size_t off = 0;

	for (size_t i = 0; i < n; i++)
		buf_append(&c->rx, &c->rx_len, &c->rx_cap, iov[i].iov_base, iov[i].iov_len);
	for (;;) {
		ssize_t r =
		    tern_codec_decode(c->rx + off, c->rx_len - off, TERN_PROTO_V311, 0, &pkt);

		if (r == -EAGAIN)
			break;
		if (r < 0)
			die("broker sent a malformed packet");
		off += (size_t)r;
		if (pkt.type == TERN_PKT_PUBLISH) {
			if (pkt.publish.payload.len != PAYLOAD_LEN)
				die("PUBLISH with the wrong payload length");
			c->publishes_rx++;
			if (pkt.publish.qos == 1) {
				uint8_t ack[4];
				size_t al = tern_codec_encode_ack(ack, sizeof(ack), TERN_PKT_PUBACK,
								  pkt.publish.packet_id);

				client_send(c, ack, al);
			}
		} else if (pkt.type == TERN_PKT_PUBACK) {
			c->acks_rx++;
		} else if (pkt.type == TERN_PKT_CONNACK && pkt.connack.rc != 0) {
			die("CONNACK refused");
		}
	}
	memmove(c->rx, c->rx + off, c->rx_len - off);
	c->rx_len -= off;
}

/* ---- one worker round, on the worker's thread ---- */

/* Hand the client's pending bytes to the engine; next_batch: a publisher sends its next batch. */
static void feed(struct fworker *fw, struct fconn *c, bool next_batch)
{
	size_t n;

	/* Connections are accepted on their worker's thread, at its first round. */
	if (!c->tc) {
		c->tc = tern_conn_accept(fw->w, c, "fake:0", 0);
		if (!c->tc)
			die("the engine refused a connection");
	}
	if (c->closed || c->paused)
		return;
	/* A publisher moves its next batch of scripted packets into its send buffer. */
	if (next_batch && fw->measured && c->script && c->script_off < c->script_len &&
	    c->out_off == c->out_len) {
		n = fw->batch * c->pkt_len;
		if (n > c->script_len - c->script_off)
			n = c->script_len - c->script_off;
		c->out_len = c->out_off = 0;
		client_send(c, c->script + c->script_off, n);
		c->script_off += n;
	}
	n = c->out_len - c->out_off;
	if (!n)
		return;
	if (fw->measured)
		measured_input(c->tc, c->out + c->out_off, n);
	else
		tern_conn_input(c->tc, c->out + c->out_off, n);
	c->out_off = c->out_len = 0;
	fw->progress += n;
}

static void flush(struct fworker *fw)
{
	struct fconn *c;

	while ((c = fw->dirty)) {
		fw->dirty = c->dirty_next;
		c->dirty = false;
		for (;;) {
			size_t n = fw->measured ? measured_iov(c->tc, fw->iov, IOV_MAX_FAKE)
						: tern_outq_iov(tern_conn_outq(c->tc), fw->iov,
								IOV_MAX_FAKE);
			size_t bytes = 0;

			if (!n)
				break;
			for (size_t i = 0; i < n; i++)
				bytes += fw->iov[i].iov_len;
			client_receive(c, fw->iov, n);
			if (fw->measured)
				measured_consume(c->tc, bytes);
			else {
				tern_outq_consume(tern_conn_outq(c->tc), bytes);
				tern_conn_wrote(c->tc, bytes);
			}
			fw->progress += bytes;
		}
		if (c->closing && !c->closed) {
			c->closed = true;
			tern_conn_closed(c->tc, false);
		}
	}
}

static bool has_input(const struct fworker *fw)
{
	for (size_t i = 0; i < fw->n_conns; i++) {
		const struct fconn *c = fw->conns[i];

		if (!c->closed && !c->paused && c->out_len > c->out_off)
			return true;
	}
	return false;
}

static void round_run(struct fworker *fw)
{
	for (size_t i = 0; i < fw->n_conns; i++)
		feed(fw, fw->conns[i], true);
	for (int t = 0; t < INNER_TURNS; t++) {
		if (fw->measured)
			measured_poll(fw->w);
		else
			tern_worker_poll(fw->w);
		flush(fw);
		if (fw->measured)
			measured_quiescent(fw->w);
		else
			tern_worker_quiescent(fw->w);
		/* Fast clients: acknowledgements go back within the same round. */
		if (!has_input(fw))
			break;
		for (size_t i = 0; i < fw->n_conns; i++)
			feed(fw, fw->conns[i], false);
	}
}

static void *worker_main(void *arg)
{
	struct fworker *fw = arg;

	if (tern_worker_start(fw->w, &fake_ops, fw) < 0)
		die("tern_worker_start failed");
	pthread_mutex_lock(&fw->lock);
	for (;;) {
		while (fw->cmd == CMD_NONE) {
			tern_worker_offline(fw->w);
			pthread_cond_wait(&fw->cv, &fw->lock);
			tern_worker_online(fw->w);
		}
		if (fw->cmd == CMD_QUIT)
			break;
		pthread_mutex_unlock(&fw->lock);
		round_run(fw);
		pthread_mutex_lock(&fw->lock);
		fw->cmd = CMD_NONE;
		pthread_cond_broadcast(&fw->cv);
	}
	pthread_mutex_unlock(&fw->lock);
	for (size_t i = 0; i < fw->n_conns; i++) {
		struct fconn *c = fw->conns[i];

		if (!c->closed)
			tern_conn_closed(c->tc, false);
		c->closed = true;
	}
	tern_worker_finish(fw->w);
	return NULL;
}

static void command(struct fworker *fw, enum cmd cmd)
{
	pthread_mutex_lock(&fw->lock);
	fw->cmd = cmd;
	pthread_cond_broadcast(&fw->cv);
	while (cmd != CMD_QUIT && fw->cmd != CMD_NONE)
		pthread_cond_wait(&fw->cv, &fw->lock);
	pthread_mutex_unlock(&fw->lock);
}

/* ---- setup ---- */

struct run {
	const struct scenario *sc;
	unsigned n_workers;
	size_t msgs_per_pub;
	struct tern_broker *b;
	struct fworker *fws;
	struct fconn *pubs, *subs;
};

static void client_connect(struct fconn *c, const char *id)
{
	uint8_t buf[256];
	struct tern_connect cp = {
	    .proto_level = TERN_PROTO_V311,
	    .clean_session = true,
	    .keepalive = 0,
	    .client_id = {(const uint8_t *)id, strlen(id)},
	};
	size_t n = tern_codec_encode_connect(buf, sizeof(buf), &cp, NULL);

	if (!n)
		die("cannot encode CONNECT");
	client_send(c, buf, n);
}

static void client_subscribe(struct fconn *c, const char *filter, uint8_t qos)
{
	uint8_t buf[256];
	struct tern_bytes f = {(const uint8_t *)filter, strlen(filter)};
	size_t n = tern_codec_encode_sub_list(buf, sizeof(buf), TERN_PKT_SUBSCRIBE, 1, &f, &qos, 1);

	if (!n)
		die("cannot encode SUBSCRIBE");
	client_send(c, buf, n);
}

static void client_script(struct fconn *c, const char *topic, uint8_t qos, size_t count)
{
	uint8_t payload[PAYLOAD_LEN];
	uint8_t buf[512];
	uint16_t pid = 0;

	memset(payload, 'x', sizeof(payload));
	for (size_t i = 0; i < count; i++) {
		struct tern_publish p = {
		    .qos = qos,
		    .topic = {(const uint8_t *)topic, strlen(topic)},
		    .payload = {payload, sizeof(payload)},
		};
		size_t n;

		if (qos) {
			if (++pid == 0)
				pid = 1;
			p.packet_id = pid;
		}
		n = tern_codec_encode_publish(buf, sizeof(buf), &p);
		if (!n)
			die("cannot encode PUBLISH");
		c->pkt_len = n;
		buf_append(&c->script, &c->script_len, &c->script_cap, buf, n);
	}
}

static void attach(struct run *r, struct fconn *c, unsigned worker, const char *id)
{
	struct fworker *fw = &r->fws[worker];

	c->fw = fw;
	if (fw->n_conns == fw->cap_conns) {
		fw->cap_conns = fw->cap_conns ? fw->cap_conns * 2 : 16;
		fw->conns = xrealloc(fw->conns, fw->cap_conns * sizeof(*fw->conns));
	}
	fw->conns[fw->n_conns++] = c;
	client_connect(c, id);
}

static void setup(struct run *r)
{
	const struct scenario *sc = r->sc;
	char id[64], topic[64];

	r->fws = calloc(r->n_workers, sizeof(*r->fws));
	r->pubs = calloc(sc->pubs, sizeof(*r->pubs));
	r->subs = calloc(sc->subs, sizeof(*r->subs));
	if (!r->fws || !r->pubs || !r->subs)
		die("out of memory");
	for (unsigned i = 0; i < r->n_workers; i++) {
		struct fworker *fw = &r->fws[i];

		fw->w = tern_broker_worker(r->b, i);
		fw->batch = sc->batch;
		pthread_mutex_init(&fw->lock, NULL);
		pthread_cond_init(&fw->cv, NULL);
		if (pthread_create(&fw->tid, NULL, worker_main, fw) != 0)
			die("pthread_create failed");
	}
	/* Subscribers first, spread over the workers; publishers after them. */
	for (unsigned i = 0; i < sc->subs; i++) {
		struct fconn *c = &r->subs[i];

		snprintf(id, sizeof(id), "sub-%u", i);
		attach(r, c, i % r->n_workers, id);
		c->sub_qos = sc->sub_qos;
		if (sc->fan_in)
			client_subscribe(c, "bench/in/+", sc->sub_qos);
		else if (sc->pairs)
			snprintf(topic, sizeof(topic), "bench/pair/%u", i),
			    client_subscribe(c, topic, sc->sub_qos);
		else
			client_subscribe(c, "bench/fanout", sc->sub_qos);
	}
	for (unsigned i = 0; i < sc->pubs; i++) {
		struct fconn *c = &r->pubs[i];

		snprintf(id, sizeof(id), "pub-%u", i);
		attach(r, c, i % r->n_workers, id);
		if (sc->fan_in)
			snprintf(topic, sizeof(topic), "bench/in/%u", i);
		else if (sc->pairs)
			snprintf(topic, sizeof(topic), "bench/pair/%u", i);
		else
			snprintf(topic, sizeof(topic), "bench/fanout");
		client_script(c, topic, sc->pub_qos, r->msgs_per_pub);
	}
}

static uint64_t delivered(const struct run *r)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < r->sc->subs; i++)
		n += r->subs[i].publishes_rx;
	return n;
}

/* One round on every worker in turn; returns the bytes moved. */
static size_t round_all(struct run *r, bool measured)
{
	size_t progress = 0;

	for (unsigned i = 0; i < r->n_workers; i++) {
		r->fws[i].measured = measured;
		r->fws[i].progress = 0;
		command(&r->fws[i], CMD_ROUND);
		progress += r->fws[i].progress;
	}
	return progress;
}

static bool scripts_done(const struct run *r)
{
	for (unsigned i = 0; i < r->sc->pubs; i++)
		if (r->pubs[i].script_off < r->pubs[i].script_len)
			return false;
	return true;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: engine_workload SCENARIO WORKERS [MESSAGES_PUBLISHED]\n"
			"       engine_workload --list\nscenarios:\n");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(stderr, "  %-10s %s\n", scenarios[i].name, scenarios[i].what);
	exit(2);
}

int main(int argc, char **argv)
{
	struct tern_config cfg;
	struct run r = {0};
	uint64_t expected, got;
	size_t idle = 0, rounds = 0;
	double t0, t1;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
			printf("%s\n", scenarios[i].name);
		return 0;
	}
	if (argc < 3 || argc > 4)
		usage();
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(argv[1], scenarios[i].name) == 0)
			r.sc = &scenarios[i];
	r.n_workers = (unsigned)atoi(argv[2]);
	if (!r.sc || r.n_workers < 1 || r.n_workers > 8)
		usage();
	r.msgs_per_pub = r.sc->msgs_per_pub;
	if (argc == 4) {
		r.msgs_per_pub = strtoull(argv[3], NULL, 10) / r.sc->pubs;
		if (r.msgs_per_pub == 0)
			usage();
	}

	tern_config_defaults(&cfg);
	cfg.workers = r.n_workers;
	cfg.sys_interval = 0;
	cfg.connect_timeout = 0;
	cfg.max_queued_messages = 0; /* generous limits: nothing may be dropped */
	cfg.max_queued_bytes = 0;
	cfg.max_output_bytes = UINT64_MAX / 2;
	cfg.log_mask = TERN_LOG_ERR;
	tern_log_set_mask(cfg.log_mask);

	rcu_register_thread();
	rcu_thread_offline();
	r.b = tern_broker_create(&cfg);
	if (!r.b)
		die("cannot create the broker");
	setup(&r);
	/* Connect and subscribe, unmeasured, until nothing moves. */
	while (round_all(&r, false) > 0)
		;

	expected =
	    (uint64_t)r.sc->pubs * r.msgs_per_pub * (r.sc->fan_in || r.sc->pairs ? 1 : r.sc->subs);
	t0 = now_s();
	while ((got = delivered(&r)) < expected || !scripts_done(&r)) {
		rounds++;
		if (round_all(&r, true) > 0)
			idle = 0;
		else if (++idle > MAX_ROUNDS_IDLE)
			break;
	}
	/* Acknowledgements still in flight: finish them, measured (they are part of the work). */
	while (round_all(&r, true) > 0)
		rounds++;
	t1 = now_s();
	got = delivered(&r);

	printf("scenario=%s workers=%u published=%llu delivered=%llu expected=%llu rounds=%zu "
	       "seconds=%.3f delivered_per_s=%.0f\n",
	       r.sc->name, r.n_workers, (unsigned long long)r.sc->pubs * r.msgs_per_pub,
	       (unsigned long long)got, (unsigned long long)expected, rounds, t1 - t0,
	       (double)got / (t1 - t0));
	fflush(stdout);

	for (unsigned i = 0; i < r.n_workers; i++) {
		command(&r.fws[i], CMD_QUIT);
		pthread_join(r.fws[i].tid, NULL);
	}
	rcu_thread_online();
	tern_broker_destroy(r.b);
	rcu_thread_offline();
	rcu_barrier();
	rcu_unregister_thread();
	if (got != expected) {
		fprintf(stderr, "engine_workload: delivered %llu, expected %llu\n",
			(unsigned long long)got, (unsigned long long)expected);
		return 1;
	}
	return 0;
}
