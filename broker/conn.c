/* SPDX-License-Identifier: MIT */
/*
 * Connection lifecycle and input: buffering of partial packets, the decode
 * loop, the dispatch to handlers, and the single place where a connection
 * ends (will, session detach, counters, log line).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/alias.h"
#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/memlimit.h"
#include "broker/msg.h"
#include "broker/reason.h"
#include "broker/registry.h"
#include "broker/reply.h"
#include "broker/route.h"
#include "broker/session.h"
#include "broker/transport.h"
#include "broker/worker.h"

/* Idle connections are the bulk of a big broker's memory (README "Memory per connection"). */
_Static_assert(sizeof(struct tern_conn) <= 256,
	       "struct tern_conn outgrew jemalloc's 256-byte class");

#define INBUF_MIN 256
/*
 * The largest CONNECT possible: fixed header, variable header, and five
 * length-prefixed fields of at most 65535 bytes. Bigger before CONNECT is an attack.
 */
#define CONNECT_MAX (TERN_CODEC_FIXED_HDR_MAX + 10 + 5 * (2 + 65535))
/* Input buffered while a CONNECT waits for its session; past this, reading pauses. */
#define PENDING_INPUT_MAX 65536
/* A partial packet may still grow to this while the broker is over memory_limit. */
#define INPUT_UNDER_PRESSURE_MAX 4096
/* Reply bytes a client may pile up past max_output_bytes before its input pauses. */
#define REPLIES_OVER_BOUND_MAX 65536

/* Take a slot of counter *n under max (-1 = unlimited); false when full. */
static bool take_slot(int64_t *n, int64_t max)
{
	if (__atomic_add_fetch(n, 1, __ATOMIC_RELAXED) > max && max >= 0) {
		__atomic_sub_fetch(n, 1, __ATOMIC_RELAXED);
		return false;
	}
	return true;
}

/* "ADDR:PORT" of the peer, from its address kept as a number. */
static void peer_format(const struct tern_conn *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->peer_kind == TERN_PEER_V4 ? AF_INET : AF_INET6, c->peer_addr, host,
		       sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, c->peer_kind == TERN_PEER_V6B ? "[%s]:%u" : "%s:%u", host, c->peer_port);
}

/*
 * Keep the peer the dataplane named as an address and port (20 bytes in the
 * connection, no allocation) when that gives back the very same text, else as
 * a copy of the text. Returns 0 or -ENOMEM.
 */
static int peer_store(struct tern_conn *c, const char *peer)
{
	const char *colon = strrchr(peer, ':');
	char host[INET6_ADDRSTRLEN + 2];
	char back[TERN_WORKER_PEER_NAME_MAX];
	unsigned long port;
	size_t n;
	char *end;

	if (colon && (size_t)(colon - peer) < sizeof(host) && colon[1] >= '0' && colon[1] <= '9') {
		n = (size_t)(colon - peer);
		memcpy(host, peer, n);
		host[n] = '\0';
		port = strtoul(colon + 1, &end, 10);
		if (*end == '\0' && port <= UINT16_MAX) {
			c->peer_port = (uint16_t)port;
			if (inet_pton(AF_INET, host, c->peer_addr) == 1) {
				c->peer_kind = TERN_PEER_V4;
			} else if (inet_pton(AF_INET6, host, c->peer_addr) == 1) {
				c->peer_kind = TERN_PEER_V6;
			} else if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
				host[n - 1] = '\0';
				if (inet_pton(AF_INET6, host + 1, c->peer_addr) != 1)
					goto text;
				c->peer_kind = TERN_PEER_V6B;
			} else {
				goto text;
			}
			peer_format(c, back, sizeof(back));
			if (strcmp(back, peer) == 0)
				return 0;
		}
	}
text:
	c->peer_kind = TERN_PEER_TEXT;
	c->peer_text = tern_strdup(peer);
	return c->peer_text ? 0 : -ENOMEM;
}

static void peer_free(struct tern_conn *c)
{
	if (c->peer_kind == TERN_PEER_TEXT)
		tern_free(c->peer_text);
}

/* The listener's new-connection bucket, shared by all workers. */
static bool accept_rate_ok(struct tern_worker *w, unsigned listener)
{
	struct tern_broker *b = w->broker;
	uint32_t rate = tern_broker_listener_rate(b, listener);
	bool ok;

	if (rate == 0)
		return true;
	pthread_mutex_lock(&b->accept_lock);
	ok = tern_ratelimit_take(&b->accept_rate[listener], rate, 1, w->now_ms);
	pthread_mutex_unlock(&b->accept_lock);
	return ok;
}

struct tern_conn *tern_conn_accept(struct tern_worker *w, void *tctx, const char *peer,
				   unsigned listener)
{
	struct tern_broker *b = w->broker;
	struct tern_conn *c;

	if (listener >= TERN_CONFIG_MAX_LISTENERS)
		listener = 0;
	tern_worker_clock(w);
	if (!accept_rate_ok(w, listener)) {
		TERN_STAT_ADD(w, connections_rate_limited, 1);
		return NULL;
	}
	if (!take_slot(&b->connections, b->cfg.max_connections))
		goto refused;
	if (!take_slot(&b->listener_conns[listener], tern_broker_listener_max(b, listener)))
		goto refused_global;
	c = tern_calloc(1, sizeof(*c));
	if (!c)
		goto refused_listener;
	if (peer_store(c, peer) < 0)
		goto refused_conn;
	/* Limits are fixed for the broker's life (not reloaded): no rate, no buckets. */
	if (b->cfg.max_publish_rate || b->cfg.max_publish_bytes_rate) {
		c->rates = tern_malloc(sizeof(*c->rates));
		if (!c->rates)
			goto refused_peer;
		tern_ratelimit_init(&c->rates->publish, b->cfg.max_publish_rate, w->now_ms);
		tern_ratelimit_init(&c->rates->publish_bytes, b->cfg.max_publish_bytes_rate,
				    w->now_ms);
	}
	c->worker = w;
	c->tctx = tctx;
	c->state = TERN_CONN_NEW;
	c->listener = (uint8_t)listener;
	c->accepted_ms = c->last_rx_ms = tern_worker_clock(w);
	c->problem_info = true;
	tern_outq_init(&c->outq);
	cds_list_add_tail(&c->worker_node, &w->conns);
	TERN_STAT_ADD(w, connections_accepted, 1);
	tern_log(TERN_LOG_INFO, "New connection from %s.", peer);
	return c;
refused_peer:
	peer_free(c);
refused_conn:
	tern_free(c);
refused_listener:
	__atomic_sub_fetch(&b->listener_conns[listener], 1, __ATOMIC_RELAXED);
refused_global:
	__atomic_sub_fetch(&b->connections, 1, __ATOMIC_RELAXED);
refused:
	TERN_STAT_ADD(w, connections_refused, 1);
	return NULL;
}

const char *tern_conn_name(const struct tern_conn *c)
{
	return c->client_id ? c->client_id : tern_conn_peer(c);
}

const char *tern_conn_peer(const struct tern_conn *c)
{
	char *buf = c->worker->peer_name;

	if (c->peer_kind == TERN_PEER_TEXT)
		return c->peer_text;
	peer_format(c, buf, sizeof(c->worker->peer_name));
	return buf;
}

struct tern_outq *tern_conn_outq(struct tern_conn *c)
{
	return &c->outq;
}

/*
 * Stop taking input until the peer reads (bounded memory) once the client's own
 * packets asked for too many replies (acks, PINGRESP) while its output was over
 * the bound: it keeps sending without reading. A slow reader that only pings
 * is never paused, so its PINGREQs keep being read [MQTT-3.1.2-24]; fan-out to
 * it is bounded by dropping QoS 0 instead.
 */
static bool output_full(const struct tern_conn *c)
{
	return c->replies_over_bound > REPLIES_OVER_BOUND_MAX;
}

static void pause_input(struct tern_conn *c)
{
	c->input_paused = true;
	c->worker->ops->pause_input(c->tctx, true);
}

void tern_conn_input_may_resume(struct tern_conn *c)
{
	struct tern_worker *w = c->worker;

	/* Resume at half the bound, so a busy connection does not flip every write. */
	if (!c->input_paused || c->state == TERN_CONN_CLOSING ||
	    c->state == TERN_CONN_AWAIT_SESSION || c->state == TERN_CONN_CLAIM_RETRY ||
	    tern_outq_bytes(&c->outq) > w->broker->cfg.max_output_bytes / 2)
		return;
	c->input_paused = false;
	w->ops->pause_input(c->tctx, false);
	/* Callers may be inside the dataplane's write or read: parse at the next poll. */
	if (c->in_len && !c->resume_pending) {
		c->resume_pending = true;
		cds_list_add_tail(&c->resume_node, &w->resumed);
	}
}

/* Bring the memory accounting of the output queue up to date. */
static void account_outq(struct tern_conn *c)
{
	size_t now = tern_outq_bytes(&c->outq);

	if (now != c->mem_outq) {
		tern_memlimit_add(c->worker, (int64_t)now - (int64_t)c->mem_outq);
		c->mem_outq = now;
	}
}

void tern_conn_wrote(struct tern_conn *c, size_t n)
{
	account_outq(c);
	TERN_STAT_ADD(c->worker, bytes_sent, n);
	c->last_progress_ms = c->worker->now_ms;
	if (tern_outq_bytes(&c->outq) <= c->worker->broker->cfg.max_output_bytes)
		c->replies_over_bound = 0;
	tern_conn_input_may_resume(c);
}

uint64_t tern_conn_last_seen_ms(const struct tern_conn *c)
{
	/* While we hold its input back, a peer that reads what we send is alive. */
	if (c->input_paused && c->last_progress_ms > c->last_rx_ms)
		return c->last_progress_ms;
	return c->last_rx_ms;
}

void tern_conn_resume(struct tern_conn *c)
{
	cds_list_del(&c->resume_node);
	c->resume_pending = false;
	tern_conn_process_buffered(c);
}

void tern_conn_want_write(struct tern_conn *c)
{
	account_outq(c);
	if (c->state != TERN_CONN_CLOSING)
		c->worker->ops->want_write(c->tctx);
}

int tern_conn_send(struct tern_conn *c, const void *pkt, size_t len)
{
	int ret;

	/* Stops growing once over: 32 bits hold the bound plus one packet of the MQTT maximum. */
	if (tern_outq_bytes(&c->outq) > c->worker->broker->cfg.max_output_bytes && !output_full(c))
		c->replies_over_bound += (uint32_t)len;
	ret = tern_outq_push_bytes(&c->outq, pkt, len);
	if (ret == 0)
		tern_conn_want_write(c);
	return ret;
}

int tern_conn_protocol_error_rc(struct tern_conn *c, const char *why, uint8_t reason)
{
	TERN_STAT_ADD(c->worker, protocol_errors, 1);
	tern_worker_log_protocol_error(c->worker, tern_conn_name(c), why);
	c->disconnect_reason = reason;
	c->disconnect_why = why;
	tern_conn_close(c, TERN_CLOSE_PROTOCOL);
	return -EPROTO;
}

int tern_conn_protocol_error(struct tern_conn *c, const char *why)
{
	return tern_conn_protocol_error_rc(c, why, TERN_RC_PROTOCOL_ERROR);
}

int tern_conn_over_limit(struct tern_conn *c, enum tern_limit limit)
{
	static const char *const why[] = {
	    [TERN_LIMIT_PUBLISH_RATE] = "over max_publish_rate",
	    [TERN_LIMIT_PUBLISH_BYTES] = "over max_publish_bytes_rate",
	    [TERN_LIMIT_MEMORY] = "memory_limit reached while its packet grows",
	};

	struct tern_worker *w = c->worker;
	uint64_t suppressed = 0;

	TERN_STAT_ADD(w, clients_limited, 1);
	c->disconnect_reason =
	    limit == TERN_LIMIT_MEMORY ? TERN_RC_QUOTA_EXCEEDED : TERN_RC_MESSAGE_RATE_TOO_HIGH;
	c->disconnect_why = why[limit];
	/* Shares the protocol error budget: both are triggered by the client at will. */
	if (tern_log_ratelimit_allow(&w->proto_log, w->now_ms, &suppressed))
		tern_log(TERN_LOG_NOTICE, "Client %s disconnected: %s.", tern_conn_name(c),
			 why[limit]);
	tern_conn_close(c, TERN_CLOSE_LIMIT);
	return -EDQUOT;
}

/* Per-client PUBLISH rates, charged before the packet is handled. */
static int publish_rates(struct tern_conn *c, size_t packet_len)
{
	const struct tern_config *cfg = &c->worker->broker->cfg;
	uint64_t now = c->worker->now_ms;

	if (!c->rates) /* no rate configured */
		return 0;
	if (!tern_ratelimit_take(&c->rates->publish, cfg->max_publish_rate, 1, now))
		return tern_conn_over_limit(c, TERN_LIMIT_PUBLISH_RATE);
	if (!tern_ratelimit_take(&c->rates->publish_bytes, cfg->max_publish_bytes_rate, packet_len,
				 now))
		return tern_conn_over_limit(c, TERN_LIMIT_PUBLISH_BYTES);
	return 0;
}

static int dispatch(struct tern_conn *c, const struct tern_packet *p)
{
	if (c->state == TERN_CONN_NEW && p->type != TERN_PKT_CONNECT)
		return tern_conn_protocol_error(c, "first packet is not CONNECT");

	switch (p->type) {
	case TERN_PKT_CONNECT:
		if (c->state != TERN_CONN_NEW)
			return tern_conn_protocol_error(c, "second CONNECT");
		return tern_handle_connect(c, p);
	case TERN_PKT_PUBLISH:
		return tern_handle_publish(c, p);
	case TERN_PKT_PUBACK:
		return tern_handle_puback(c, p);
	case TERN_PKT_PUBREC:
		return tern_handle_pubrec(c, p);
	case TERN_PKT_PUBREL:
		return tern_handle_pubrel(c, p);
	case TERN_PKT_PUBCOMP:
		return tern_handle_pubcomp(c, p);
	case TERN_PKT_SUBSCRIBE:
		return tern_handle_subscribe(c, p);
	case TERN_PKT_UNSUBSCRIBE:
		return tern_handle_unsubscribe(c, p);
	case TERN_PKT_PINGREQ:
		return tern_handle_pingreq(c, p);
	case TERN_PKT_DISCONNECT:
		return tern_handle_disconnect(c, p);
	case TERN_PKT_AUTH:
		/* Only after a CONNECT that named a method, and we offer none. */
		return tern_conn_protocol_error(c, "AUTH without an authentication method");
	default:
		return tern_conn_protocol_error(c, "packet type not sent by clients");
	}
}

/* Decode and handle complete packets of buf[0..len); returns bytes used or -errno (closed). */
static ssize_t parse(struct tern_conn *c, const uint8_t *buf, size_t len)
{
	uint32_t max_packet = c->worker->broker->cfg.max_packet_size;
	struct tern_packet pkt;

	if (c->state == TERN_CONN_NEW && (max_packet == 0 || max_packet > CONNECT_MAX))
		max_packet = CONNECT_MAX;
	size_t off = 0;

	while (off < len) {
		ssize_t n;

		/* Packets sent right after CONNECT wait for the session to arrive. */
		if (c->state != TERN_CONN_NEW && c->state != TERN_CONN_ACTIVE)
			break;
		if (c->input_paused)
			break;
		n = tern_codec_decode(buf + off, len - off, c->proto_level, max_packet, &pkt);
		if (n == -EAGAIN)
			break;
		if (n == -EMSGSIZE)
			return tern_conn_protocol_error_rc(c, "packet larger than max_packet_size",
							   TERN_RC_PACKET_TOO_LARGE);
		if (n < 0)
			return tern_conn_protocol_error_rc(
			    c,
			    pkt.error_reason == TERN_RC_PROTOCOL_ERROR ? "protocol error"
								       : "malformed packet",
			    pkt.error_reason);
		off += (size_t)n;
		if (pkt.type == TERN_PKT_PUBLISH && publish_rates(c, (size_t)n) < 0)
			return -ECONNRESET;
		if (dispatch(c, &pkt) < 0 || c->state == TERN_CONN_CLOSING)
			return -ECONNRESET;
		if (output_full(c))
			pause_input(c);
	}
	return (ssize_t)off;
}

static int keep_input(struct tern_conn *c, const uint8_t *data, size_t len)
{
	size_t need = c->in_len + len;

	if (need > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : INBUF_MIN;
		uint8_t *p;

		/* Far above any packet or pending input we accept: 32-bit lengths suffice. */
		if (need > UINT32_MAX / 2)
			return -ENOMEM;
		while (cap < need)
			cap *= 2;
		p = tern_realloc(c->inbuf, cap);
		if (!p)
			return -ENOMEM;
		tern_memlimit_add(c->worker, (int64_t)cap - (int64_t)c->in_cap);
		c->inbuf = p;
		c->in_cap = (uint32_t)cap;
	}
	memcpy(c->inbuf + c->in_len, data, len);
	c->in_len = (uint32_t)need;
	return 0;
}

/*
 * While the broker is over memory_limit, a partial packet may not keep more
 * than a few KiB buffered: input left over after parsing is one packet still
 * arriving (a connection waiting for its session keeps whole ones instead).
 */
static bool partial_over_limit(const struct tern_conn *c)
{
	return c->in_len > INPUT_UNDER_PRESSURE_MAX && tern_memlimit_over(c->worker) &&
	       (c->state == TERN_CONN_NEW || c->state == TERN_CONN_ACTIVE);
}

/* Drop the first n buffered bytes; free the buffer when empty (idle connections stay small). */
static void consume_input(struct tern_conn *c, size_t n)
{
	c->in_len -= n;
	if (c->in_len == 0) {
		tern_memlimit_add(c->worker, -(int64_t)c->in_cap);
		tern_free(c->inbuf);
		c->inbuf = NULL;
		c->in_cap = 0;
	} else if (n) {
		memmove(c->inbuf, c->inbuf + n, c->in_len);
	}
}

/*
 * Bytes still missing from the partial packet at the start of the buffered
 * input; 0 when its fixed header is incomplete or malformed (the decoder
 * reports that) or the packet is already whole (parsing stopped before it).
 */
static size_t pending_missing(const struct tern_conn *c)
{
	uint32_t rem = 0;

	for (size_t i = 1; i < c->in_len && i <= 4; i++) {
		rem |= (uint32_t)(c->inbuf[i] & 0x7f) << (7 * (i - 1));
		if (!(c->inbuf[i] & 0x80)) {
			size_t total = 1 + i + rem;

			return total > c->in_len ? total - c->in_len : 0;
		}
	}
	return 0;
}

int tern_conn_input(struct tern_conn *c, const uint8_t *data, size_t len)
{
	struct tern_worker *w = c->worker;
	ssize_t used;
	size_t take;

	if (c->state == TERN_CONN_CLOSING)
		return -ESHUTDOWN;
	c->last_rx_ms = tern_worker_clock(w);
	TERN_STAT_ADD(w, bytes_received, len);

	if (c->in_len == 0)
		goto direct;
	/*
	 * A packet split over reads: buffer only the bytes that complete it, then
	 * parse the rest in place. Buffering the whole read instead copied every
	 * byte of a stream of large packets once more (most reads end mid-packet).
	 */
	take = pending_missing(c);
	if (take && take < len && !c->input_paused &&
	    (c->state == TERN_CONN_NEW || c->state == TERN_CONN_ACTIVE)) {
		if (keep_input(c, data, take) < 0)
			goto nomem;
		used = parse(c, c->inbuf, c->in_len);
		if (used < 0)
			return (int)used;
		consume_input(c, (size_t)used);
		data += take;
		len -= take;
		if (c->in_len == 0)
			goto direct;
	}
	if (keep_input(c, data, len) < 0)
		goto nomem;
	used = parse(c, c->inbuf, c->in_len);
	if (used < 0)
		return (int)used;
	consume_input(c, (size_t)used);
	goto check_pending;
direct:
	/* Common case: whole packets parsed straight from the dataplane's buffer. */
	used = parse(c, data, len);
	if (used < 0)
		return (int)used;
	if ((size_t)used < len && keep_input(c, data + used, len - (size_t)used) < 0)
		goto nomem;
check_pending:
	/* A client racing ahead of its session's arrival must not grow the buffer for ever. */
	if (c->in_len > PENDING_INPUT_MAX && !c->input_paused &&
	    (c->state == TERN_CONN_AWAIT_SESSION || c->state == TERN_CONN_CLAIM_RETRY))
		pause_input(c);
	if (partial_over_limit(c))
		return tern_conn_over_limit(c, TERN_LIMIT_MEMORY);
	return 0;
nomem:
	tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
	return -ENOMEM;
}

void tern_conn_process_buffered(struct tern_conn *c)
{
	ssize_t used;

	if (c->in_len == 0 || c->state != TERN_CONN_ACTIVE || c->input_paused)
		return;
	used = parse(c, c->inbuf, c->in_len);
	if (used > 0)
		consume_input(c, (size_t)used);
}

static void log_close(struct tern_conn *c, enum tern_close_reason reason)
{
	const char *name = tern_conn_name(c);

	switch (reason) {
	case TERN_CLOSE_DISCONNECT:
		tern_log(TERN_LOG_NOTICE, "Client %s disconnected.", name);
		break;
	case TERN_CLOSE_DISCONNECT_WILL:
		tern_log(TERN_LOG_NOTICE, "Client %s disconnected, asking for its will.", name);
		break;
	case TERN_CLOSE_PEER_LOST:
		tern_log(TERN_LOG_NOTICE, "Client %s closed its connection.", name);
		break;
	case TERN_CLOSE_KEEPALIVE:
		tern_log(TERN_LOG_NOTICE, "Client %s has exceeded timeout, disconnecting.", name);
		break;
	case TERN_CLOSE_CONNECT_TIMEOUT:
		tern_log(TERN_LOG_NOTICE,
			 "Client %s did not complete CONNECT in time, disconnecting.", name);
		break;
	case TERN_CLOSE_TAKEN_OVER:
		tern_log(TERN_LOG_NOTICE, "Client %s already connected, closing old connection.",
			 name);
		break;
	case TERN_CLOSE_NO_MEMORY:
		tern_log(TERN_LOG_ERR, "Out of memory serving client %s, disconnecting.", name);
		break;
	case TERN_CLOSE_PROTOCOL: /* logged, rate-limited, where it was detected */
	case TERN_CLOSE_LIMIT:
	case TERN_CLOSE_REFUSED: /* logged by the CONNECT handler */
	case TERN_CLOSE_SHUTDOWN:
		break;
	}
}

static bool reason_sends_will(enum tern_close_reason reason)
{
	return reason != TERN_CLOSE_DISCONNECT && reason != TERN_CLOSE_REFUSED &&
	       reason != TERN_CLOSE_SHUTDOWN;
}

/*
 * The will at the end of a connection: now, after its 5.0 delay while the
 * session lives on, or never (a delayed will of a session taken over: its
 * new connection came before the delay passed [MQTT-3.1.3-9]).
 */
static void end_will(struct tern_conn *c, enum tern_close_reason reason)
{
	struct tern_worker *w = c->worker;
	struct tern_session *s = c->session;

	if (!c->will)
		return;
	if (reason_sends_will(reason)) {
		if (!c->will_delay || (s && s->clean))
			tern_route_publish(w, c->will);
		else if (s)
			tern_session_delay_will(w, s, c->will, c->will_delay);
	}
	tern_msg_unref(c->will);
	c->will = NULL;
}

/* The 5.0 DISCONNECT reason for a close the broker decides, or 0 for none. */
static uint8_t disconnect_reason(const struct tern_conn *c, enum tern_close_reason reason)
{
	switch (reason) {
	case TERN_CLOSE_PROTOCOL:
	case TERN_CLOSE_LIMIT:
		return c->disconnect_reason;
	case TERN_CLOSE_KEEPALIVE:
		return TERN_RC_KEEP_ALIVE_TIMEOUT;
	case TERN_CLOSE_TAKEN_OVER:
		return TERN_RC_SESSION_TAKEN_OVER;
	case TERN_CLOSE_SHUTDOWN:
		return TERN_RC_SERVER_SHUTTING_DOWN;
	case TERN_CLOSE_NO_MEMORY:
		return TERN_RC_UNSPECIFIED_ERROR;
	default:
		return 0;
	}
}

/* Everything a connection's end means to the engine; runs once. */
static void teardown(struct tern_conn *c, enum tern_close_reason reason)
{
	struct tern_worker *w = c->worker;
	struct tern_session *s = c->session;

	log_close(c, reason);
	end_will(c, reason);
	if (s) {
		c->session = NULL;
		tern_session_detach(w, s);
		if (s->clean && tern_registry_remove(w, s) == 0)
			tern_session_destroy(w, s);
	}
	if (c->resume_pending) {
		cds_list_del(&c->resume_node);
		c->resume_pending = false;
	}
	switch (c->state) {
	case TERN_CONN_ACTIVE:
		TERN_STAT_SUB(w, clients_connected, 1);
		__atomic_sub_fetch(&w->broker->clients_connected, 1, __ATOMIC_RELAXED);
		break;
	case TERN_CONN_AWAIT_SESSION:
		tern_registry_abandon(c);
		break;
	case TERN_CONN_CLAIM_RETRY:
		w->retry_claims--;
		cds_list_del(&c->retry_node);
		break;
	default:
		break;
	}
	c->state = TERN_CONN_CLOSING;
}

void tern_conn_close(struct tern_conn *c, enum tern_close_reason reason)
{
	uint8_t rc;

	if (c->state == TERN_CONN_CLOSING)
		return;
	/* A 5.0 client learns why, once its CONNACK is out [MQTT-4.13.1]. */
	rc = disconnect_reason(c, reason);
	if (rc && c->state == TERN_CONN_ACTIVE && tern_conn_v5(c))
		tern_reply_disconnect(c, rc,
				      reason == TERN_CLOSE_PROTOCOL || reason == TERN_CLOSE_LIMIT
					  ? c->disconnect_why
					  : NULL);
	teardown(c, reason);
	c->worker->ops->close(c->tctx);
}

void tern_conn_closed(struct tern_conn *c, bool peer_closed)
{
	struct tern_worker *w = c->worker;
	unsigned listener = c->listener;

	if (c->state != TERN_CONN_CLOSING)
		teardown(c, peer_closed ? TERN_CLOSE_PEER_LOST : TERN_CLOSE_SHUTDOWN);
	cds_list_del(&c->worker_node);
	tern_memlimit_add(w, -(int64_t)(c->mem_outq + c->in_cap));
	tern_outq_clear(&c->outq);
	tern_free(c->inbuf);
	tern_free(c->client_id);
	tern_alias_in_free(c->aliases_in);
	tern_alias_out_free(c->aliases_out);
	tern_free(c->username);
	tern_free(c->rates);
	peer_free(c);
	tern_free(c);
	__atomic_sub_fetch(&w->broker->listener_conns[listener], 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&w->broker->connections, 1, __ATOMIC_RELAXED);
}
