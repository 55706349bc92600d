/* SPDX-License-Identifier: MIT */
/* CONNECT (validation, session claim, CONNACK), PINGREQ and DISCONNECT. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/msg.h"
#include "broker/registry.h"
#include "broker/session.h"
#include "broker/worker.h"

#define CLIENT_ID_MAX_V31 23 /* MQTT 3.1 limit; 3.1.1 lets servers accept more */

static void send_connack(struct tern_conn *c, bool session_present, uint8_t rc)
{
	uint8_t pkt[4];
	size_t n = tern_codec_encode_connack(pkt, sizeof(pkt), session_present, rc);

	tern_conn_send(c, pkt, n);
}

static int refuse(struct tern_conn *c, uint8_t rc, const char *why)
{
	tern_log(TERN_LOG_NOTICE, "Refused connection from %s as %s: %s.", c->peer,
		 c->client_id ? c->client_id : "?", why);
	send_connack(c, false, rc);
	tern_conn_close(c, TERN_CLOSE_REFUSED);
	return -ECONNREFUSED;
}

/* Decide the CONNACK return code for a well-formed CONNECT; in one place. */
static uint8_t check_connect(struct tern_conn *c, const struct tern_connect *cp, const char **why)
{
	const struct tern_config *cfg = &c->worker->broker->cfg;

	if (cp->unsupported_level) {
		*why = "unsupported protocol version";
		return TERN_CONNACK_BAD_PROTOCOL;
	}
	if (cp->client_id.len == 0 && (cp->proto_level == TERN_PROTO_V31 || !cp->clean_session)) {
		*why = "empty client id needs MQTT 3.1.1 and clean session";
		return TERN_CONNACK_ID_REJECTED;
	}
	if (cp->proto_level == TERN_PROTO_V31 && cp->client_id.len > CLIENT_ID_MAX_V31) {
		*why = "client id longer than 23 bytes for MQTT 3.1";
		return TERN_CONNACK_ID_REJECTED;
	}
	if (cp->keepalive > cfg->max_keepalive ||
	    (cp->keepalive == 0 && cfg->max_keepalive < UINT16_MAX)) {
		/*
		 * MQTT 3.x cannot tell the client another keepalive: refuse, as mosquitto
		 * does. 0 (never time out) exceeds any limit below the default 65535.
		 */
		*why = "keepalive above max_keepalive";
		return TERN_CONNACK_ID_REJECTED;
	}
	if (!cfg->allow_anonymous) {
		*why = cp->has_username ? "no password_file to check credentials"
					: "anonymous clients are not allowed";
		return TERN_CONNACK_NOT_AUTHORIZED;
	}
	return TERN_CONNACK_ACCEPTED;
}

static int set_client_id(struct tern_conn *c, const struct tern_connect *cp)
{
	struct tern_worker *w = c->worker;
	char id[48];

	if (cp->client_id.len) {
		c->client_id = tern_strndup((const char *)cp->client_id.p, cp->client_id.len);
	} else {
		/* Unique within this process: worker id, start time, counter. */
		snprintf(id, sizeof(id), "auto-%u-%llx-%llx", w->id,
			 (unsigned long long)w->broker->start_ms,
			 (unsigned long long)++w->next_auto_id);
		c->client_id = tern_strdup(id);
	}
	return c->client_id ? 0 : -ENOMEM;
}

static int set_will(struct tern_conn *c, const struct tern_connect *cp)
{
	if (!cp->will)
		return 0;
	c->will =
	    tern_msg_create(cp->will_topic.p, (uint16_t)cp->will_topic.len, cp->will_payload.p,
			    cp->will_payload.len, cp->will_qos, cp->will_retain);
	return c->will ? 0 : -ENOMEM;
}

/* Claim the session of c->client_id; completes now or when it arrives. */
static void claim(struct tern_conn *c)
{
	struct tern_worker *w = c->worker;
	struct tern_session *s = NULL;
	int kind = tern_registry_claim(w, c, c->client_id, strlen(c->client_id), &s);

	switch (kind) {
	case TERN_CLAIM_NEW:
		tern_connect_complete(c, s);
		break;
	case TERN_CLAIM_LOCAL:
		if (s->conn) {
			struct tern_conn *old = s->conn;

			/* Detach first so closing the old connection leaves the session alone. */
			old->session = NULL;
			tern_session_detach(w, s);
			TERN_STAT_ADD(w, takeovers, 1);
			tern_conn_close(old, TERN_CLOSE_TAKEN_OVER);
		}
		tern_connect_complete(c, s);
		break;
	case TERN_CLAIM_REMOTE:
		c->state = TERN_CONN_AWAIT_SESSION;
		break;
	case TERN_CLAIM_BUSY:
		c->state = TERN_CONN_CLAIM_RETRY;
		w->retry_claims++;
		cds_list_add_tail(&c->retry_node, &w->claim_retries);
		break;
	default:
		send_connack(c, false, TERN_CONNACK_UNAVAILABLE);
		tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
		break;
	}
}

void tern_connect_retry(struct tern_conn *c)
{
	c->worker->retry_claims--;
	cds_list_del(&c->retry_node);
	c->state = TERN_CONN_NEW;
	claim(c);
	tern_conn_process_buffered(c);
}

void tern_connect_complete(struct tern_conn *c, struct tern_session *s)
{
	struct tern_worker *w = c->worker;
	struct tern_broker *b = w->broker;
	bool present = !c->clean_session && !s->clean;
	uint64_t connected, max;

	if (!present)
		tern_session_reset(w, s);
	s->clean = c->clean_session;
	s->conn = c;
	c->session = s;
	c->state = TERN_CONN_ACTIVE;
	tern_conn_input_may_resume(c); /* paused while the session was on its way */
	TERN_STAT_ADD(w, clients_connected, 1);
	connected = __atomic_add_fetch(&b->clients_connected, 1, __ATOMIC_RELAXED);
	max = __atomic_load_n(&b->clients_maximum, __ATOMIC_RELAXED);
	while (connected > max &&
	       !__atomic_compare_exchange_n(&b->clients_maximum, &max, connected, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	tern_log(TERN_LOG_NOTICE, "New client connected from %s as %s (p%u, c%u, k%u).", c->peer,
		 c->client_id, c->proto_level == TERN_PROTO_V31 ? 1u : 2u,
		 c->clean_session ? 1u : 0u, c->keepalive);
	send_connack(c, present, TERN_CONNACK_ACCEPTED);
	tern_session_resume(w, s);
}

int tern_handle_connect(struct tern_conn *c, const struct tern_packet *p)
{
	const struct tern_connect *cp = &p->connect;
	const char *why = NULL;
	uint8_t rc;

	c->proto_level = cp->unsupported_level ? TERN_PROTO_V311 : cp->proto_level;
	if (!cp->unsupported_level && set_client_id(c, cp) < 0)
		goto nomem;
	rc = check_connect(c, cp, &why);
	if (rc != TERN_CONNACK_ACCEPTED)
		return refuse(c, rc, why);
	c->keepalive = cp->keepalive;
	c->clean_session = cp->clean_session;
	if (set_will(c, cp) < 0)
		goto nomem;
	claim(c);
	return c->state == TERN_CONN_CLOSING ? -ECONNRESET : 0;
nomem:
	send_connack(c, false, TERN_CONNACK_UNAVAILABLE);
	tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
	return -ENOMEM;
}

int tern_handle_pingreq(struct tern_conn *c, const struct tern_packet *p)
{
	uint8_t pkt[2];
	size_t n = tern_codec_encode_empty(pkt, sizeof(pkt), TERN_PKT_PINGRESP);

	return tern_conn_send(c, pkt, n);
}

int tern_handle_disconnect(struct tern_conn *c, const struct tern_packet *p)
{
	tern_conn_close(c, TERN_CLOSE_DISCONNECT);
	return -ECONNRESET;
}
