/* SPDX-License-Identifier: MIT */
/*
 * The fake dataplane of fakedp.h: broker/transport.h implemented over memory.
 * It keeps the transport contract the sock dataplane keeps (close only at the
 * end of a turn, never re-entering tern_conn_input from an engine callback),
 * so that anything the fuzzer finds is a bug the real broker has too.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <urcu-qsbr.h>

#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/outq.h"
#include "broker/sys.h"
#include "broker/transport.h"
#include "tests/fuzz/fakedp.h"

#define HELD_MAX     (1u << 20)
#define ACKS_MAX     64
#define IOV_MAX_TURN 64

struct fake_conn {
	struct tern_conn *tc;
	bool closing;  /* ops->close called: closed at the end of the turn */
	bool paused;   /* ops->pause_input(true) */
	bool stalled;  /* the peer does not read */
	uint8_t *held; /* input not delivered while paused */
	size_t held_len;
	uint8_t *out; /* bytes read by the peer and not yet decoded (a partial packet) */
	size_t out_len, out_cap;
	uint8_t acks[ACKS_MAX][3]; /* encoded-later acks: type, packet id */
	size_t n_acks;
};

struct fakedp {
	struct tern_broker *broker;
	struct tern_worker *worker;
	struct fake_conn *slots[FAKEDP_SLOTS];
	uint64_t packets_read[16];
	unsigned next_peer;
};

static void die(const char *what)
{
	fprintf(stderr, "fakedp: %s\n", what);
	abort();
}

static void op_want_write(void *tctx)
{
	/* Output is drained at the end of every turn anyway. */
	(void)tctx;
}

static void op_close(void *tctx)
{
	struct fake_conn *fc = tctx;

	if (fc->closing)
		die("ops->close called twice for one connection");
	fc->closing = true;
}

static void op_pause_input(void *tctx, bool paused)
{
	struct fake_conn *fc = tctx;

	fc->paused = paused;
}

static const struct tern_transport_ops fake_ops = {
    .want_write = op_want_write,
    .close = op_close,
    .pause_input = op_pause_input,
    .wake = NULL, /* one worker, polled every turn */
};

struct fakedp *fakedp_create(const struct tern_config *cfg)
{
	struct tern_config one = *cfg;
	struct fakedp *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	one.workers = 1;
	f->broker = tern_broker_create(&one);
	if (!f->broker) {
		free(f);
		return NULL;
	}
	f->worker = tern_broker_worker(f->broker, 0);
	if (tern_worker_start(f->worker, &fake_ops, f) < 0) {
		tern_broker_destroy(f->broker);
		free(f);
		return NULL;
	}
	return f;
}

static void free_conn(struct fakedp *f, unsigned slot)
{
	struct fake_conn *fc = f->slots[slot];

	f->slots[slot] = NULL;
	free(fc->held);
	free(fc->out);
	free(fc);
}

/* Check and count what the peer read; note the acks a client owes. */
static void decode_output(struct fakedp *f, struct fake_conn *fc)
{
	uint8_t level = fc->tc->proto_level == TERN_PROTO_V31 ? TERN_PROTO_V31 : TERN_PROTO_V311;
	size_t off = 0;

	for (;;) {
		struct tern_packet pkt;
		ssize_t n = tern_codec_decode(fc->out + off, fc->out_len - off, level, 0, &pkt);
		uint8_t ack = 0;
		uint16_t id = 0;

		if (n == -EAGAIN)
			break;
		if (n < 0)
			die("the broker wrote bytes that do not decode as MQTT");
		switch (pkt.type) {
		case TERN_PKT_CONNACK:
		case TERN_PKT_SUBACK:
		case TERN_PKT_UNSUBACK:
		case TERN_PKT_PUBACK:
		case TERN_PKT_PUBCOMP:
		case TERN_PKT_PINGRESP:
			break;
		case TERN_PKT_PUBLISH:
			ack = pkt.publish.qos == 1   ? TERN_PKT_PUBACK
			      : pkt.publish.qos == 2 ? TERN_PKT_PUBREC
						     : 0;
			id = pkt.publish.packet_id;
			break;
		case TERN_PKT_PUBREL:
			ack = TERN_PKT_PUBCOMP;
			id = pkt.ack.packet_id;
			break;
		case TERN_PKT_PUBREC:
			ack = TERN_PKT_PUBREL;
			id = pkt.ack.packet_id;
			break;
		default:
			die("the broker wrote a packet type only clients send");
		}
		f->packets_read[pkt.type]++;
		if (ack && fc->n_acks < ACKS_MAX) {
			fc->acks[fc->n_acks][0] = ack;
			fc->acks[fc->n_acks][1] = (uint8_t)(id >> 8);
			fc->acks[fc->n_acks][2] = (uint8_t)id;
			fc->n_acks++;
		}
		off += (size_t)n;
	}
	memmove(fc->out, fc->out + off, fc->out_len - off);
	fc->out_len -= off;
}

/* One writev's worth: up to max bytes of the engine's iovecs. Returns the bytes read. */
static size_t read_some(struct fakedp *f, struct fake_conn *fc, size_t max)
{
	struct tern_outq *q = tern_conn_outq(fc->tc);
	struct iovec iov[IOV_MAX_TURN];
	size_t n, i, took = 0;

	n = tern_outq_iov(q, iov, IOV_MAX_TURN);
	for (i = 0; i < n && took < max; i++) {
		size_t len = iov[i].iov_len < max - took ? iov[i].iov_len : max - took;

		if (fc->out_len + len > fc->out_cap) {
			size_t cap = fc->out_cap ? fc->out_cap : 4096;
			uint8_t *p;

			while (cap < fc->out_len + len)
				cap *= 2;
			p = realloc(fc->out, cap);
			if (!p)
				die("out of memory");
			fc->out = p;
			fc->out_cap = cap;
		}
		memcpy(fc->out + fc->out_len, iov[i].iov_base, len);
		fc->out_len += len;
		took += len;
	}
	if (took == 0)
		return 0;
	tern_outq_consume(q, took);
	tern_conn_wrote(fc->tc, took);
	decode_output(f, fc);
	return took;
}

/* The peer reads up to max queued bytes, as writev calls until the queue is empty would. */
static void read_output(struct fakedp *f, struct fake_conn *fc, size_t max)
{
	size_t took;

	while (max && (took = read_some(f, fc, max)) > 0)
		max -= took;
}

bool fakedp_open(struct fakedp *f, unsigned slot)
{
	struct fake_conn *fc;
	char peer[32];

	slot %= FAKEDP_SLOTS;
	if (f->slots[slot])
		return true;
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		die("out of memory");
	snprintf(peer, sizeof(peer), "198.18.0.1:%u", 10000 + f->next_peer++ % 50000);
	fc->tc = tern_conn_accept(f->worker, fc, peer, 0);
	if (!fc->tc) {
		free(fc); /* refused (max_connections): the dataplane closes the socket */
		return false;
	}
	f->slots[slot] = fc;
	return true;
}

static void hold(struct fake_conn *fc, const void *data, size_t len)
{
	uint8_t *p;

	if (fc->held_len + len > HELD_MAX)
		return;
	p = realloc(fc->held, fc->held_len + len ? fc->held_len + len : 1);
	if (!p)
		die("out of memory");
	memcpy(p + fc->held_len, data, len);
	fc->held = p;
	fc->held_len += len;
}

void fakedp_send(struct fakedp *f, unsigned slot, const void *data, size_t len)
{
	struct fake_conn *fc;

	slot %= FAKEDP_SLOTS;
	if (!fakedp_open(f, slot))
		return;
	fc = f->slots[slot];
	if (fc->closing || len == 0)
		return;
	if (fc->paused || fc->held_len) {
		hold(fc, data, len);
		return;
	}
	tern_conn_input(fc->tc, data, len);
}

void fakedp_peer_close(struct fakedp *f, unsigned slot)
{
	struct fake_conn *fc = f->slots[slot % FAKEDP_SLOTS];

	if (!fc)
		return;
	tern_conn_closed(fc->tc, true);
	free_conn(f, slot % FAKEDP_SLOTS);
}

void fakedp_read(struct fakedp *f, unsigned slot, size_t max)
{
	struct fake_conn *fc = f->slots[slot % FAKEDP_SLOTS];

	if (!fc)
		return;
	read_output(f, fc, max);
	fc->stalled = true;
}

void fakedp_set_stalled(struct fakedp *f, unsigned slot, bool stalled)
{
	struct fake_conn *fc = f->slots[slot % FAKEDP_SLOTS];

	if (fc)
		fc->stalled = stalled;
}

size_t fakedp_send_acks(struct fakedp *f, unsigned slot)
{
	struct fake_conn *fc = f->slots[slot % FAKEDP_SLOTS];
	uint8_t buf[ACKS_MAX * 4];
	size_t n, len = 0, i;

	if (!fc || fc->closing)
		return 0;
	n = fc->n_acks;
	for (i = 0; i < n; i++) {
		uint16_t id = (uint16_t)(fc->acks[i][1] << 8 | fc->acks[i][2]);

		len += tern_codec_encode_ack(buf + len, sizeof(buf) - len,
					     (enum tern_pkt_type)fc->acks[i][0], id);
	}
	fc->n_acks = 0;
	fakedp_send(f, slot, buf, len);
	return n;
}

void fakedp_turn(struct fakedp *f)
{
	unsigned i;

	tern_worker_poll(f->worker);
	for (i = 0; i < FAKEDP_SLOTS; i++) {
		struct fake_conn *fc = f->slots[i];

		if (!fc)
			continue;
		if (fc->closing) {
			/* As the sock dataplane: write what the peer takes, FIN, then closed. */
			if (!fc->stalled)
				read_output(f, fc, SIZE_MAX);
			tern_conn_closed(fc->tc, false);
			free_conn(f, i);
			continue;
		}
		if (!fc->stalled)
			read_output(f, fc, SIZE_MAX);
		if (!fc->paused && !fc->closing && fc->held_len) {
			uint8_t *held = fc->held;
			size_t len = fc->held_len;

			fc->held = NULL;
			fc->held_len = 0;
			tern_conn_input(fc->tc, held, len);
			free(held);
		}
	}
	tern_worker_quiescent(f->worker);
}

void fakedp_publish_sys(struct fakedp *f)
{
	tern_sys_publish(f->worker);
}

const uint64_t *fakedp_packets_read(const struct fakedp *f)
{
	return f->packets_read;
}

void fakedp_destroy(struct fakedp *f)
{
	unsigned i;

	if (!f)
		return;
	fakedp_turn(f);
	for (i = 0; i < FAKEDP_SLOTS; i++)
		fakedp_peer_close(f, i);
	fakedp_turn(f);
	tern_worker_finish(f->worker);
	/* As main.c: the broker's teardown edits the tree as an RCU reader. */
	rcu_register_thread();
	tern_broker_destroy(f->broker);
	rcu_thread_offline();
	rcu_unregister_thread();
	free(f);
}
