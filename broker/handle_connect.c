/* SPDX-License-Identifier: MIT */
/* CONNECT (validation, session claim, CONNACK), PINGREQ and DISCONNECT. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/alias.h"
#include "broker/alloc.h"
#include "broker/auth.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/log.h"
#include "broker/msg.h"
#include "broker/props.h"
#include "broker/reason.h"
#include "broker/registry.h"
#include "broker/reply.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/transport.h"
#include "broker/worker.h"

#define CLIENT_ID_MAX_V31 23  /* MQTT 3.1 limit; 3.1.1 lets servers accept more */
#define CONNACK_PROPS_MAX 128 /* every CONNACK property we send, an assigned id included */

static int refuse(struct tern_conn *c, uint8_t reason, const char *why)
{
	tern_log(TERN_LOG_NOTICE, "Refused connection from %s as %s: %s.", tern_conn_peer(c),
		 c->client_id ? c->client_id : "?", why);
	tern_reply_connack_refused(c, reason, why);
	tern_conn_close(c, TERN_CLOSE_REFUSED);
	return -ECONNREFUSED;
}

/*
 * The one place an authentication outcome becomes a CONNACK reason: 5.0's
 * 0x87 / 0x86. A 3.1.1 client with bad credentials gets 5 (not authorised),
 * not 4, as mosquitto 2.0.11 answers (tests/proto/13-auth.py).
 */
static uint8_t auth_connack(const struct tern_conn *c, enum tern_auth_result r, const char **why)
{
	switch (r) {
	case TERN_AUTH_OK:
		return TERN_RC_SUCCESS;
	case TERN_AUTH_NOT_AUTHORIZED:
		*why = "not authorised (anonymous, or no password_file)";
		return TERN_RC_NOT_AUTHORIZED;
	case TERN_AUTH_BAD_CREDENTIALS:
		*why = "bad user name or password";
		return tern_conn_v5(c) ? TERN_RC_BAD_USERNAME_OR_PASSWORD : TERN_RC_NOT_AUTHORIZED;
	case TERN_AUTH_UNAVAILABLE:
		break;
	}
	*why = "out of memory checking the credentials";
	return TERN_RC_SERVER_UNAVAILABLE;
}

/*
 * The user name the client acts as, in c->username (NULL: anonymous): the
 * CONNECT's. The one place a listener's use_identity_as_username (TLS) will
 * put the certificate's name instead. Returns 0 or -ENOMEM.
 */
static int set_username(struct tern_conn *c, const struct tern_connect *cp)
{
	if (!cp->has_username)
		return 0;
	c->username = tern_strndup((const char *)cp->username.p, cp->username.len);
	return c->username ? 0 : -ENOMEM;
}

static uint8_t authenticate(struct tern_conn *c, const struct tern_connect *cp, const char **why)
{
	const struct tern_auth *a = tern_security_current(c->worker->broker);
	struct tern_credentials cr = {
	    .password = cp->password.p,
	    .password_len = cp->password.len,
	    .has_password = cp->has_password,
	};

	if (set_username(c, cp) < 0)
		return auth_connack(c, TERN_AUTH_UNAVAILABLE, why);
	/* A name the TLS layer vouched for needs no password, as in mosquitto. */
	if (c->identity_from_cert)
		return auth_connack(c, TERN_AUTH_OK, why);
	cr.username = c->username;
	if (!a) /* no snapshot installed (main always installs one): the config decides */
		return auth_connack(c,
				    c->worker->broker->cfg.allow_anonymous
					? TERN_AUTH_OK
					: TERN_AUTH_NOT_AUTHORIZED,
				    why);
	return auth_connack(c, tern_auth_connect(a, c->listener, &cr), why);
}

/* A keepalive above max_keepalive: 5.0 answers with its own, 3.x must refuse. */
static bool keepalive_too_long(const struct tern_config *cfg, uint16_t keepalive)
{
	/* 0 (never time out) exceeds any limit below the default 65535. */
	return keepalive > cfg->max_keepalive ||
	       (keepalive == 0 && cfg->max_keepalive < UINT16_MAX);
}

/*
 * Decide the CONNACK reason for a well-formed CONNECT, in one place, as a 5.0
 * reason code (tern_reply_connack maps it for older clients).
 */
static uint8_t check_connect(struct tern_conn *c, const struct tern_packet *p, const char **why)
{
	const struct tern_config *cfg = &c->worker->broker->cfg;
	const struct tern_connect *cp = &p->connect;
	bool v5 = cp->proto_level == TERN_PROTO_V5;

	if (cp->unsupported_level) {
		*why = "unsupported protocol version";
		return TERN_RC_UNSUPPORTED_PROTOCOL_VERSION;
	}
	/* 5.0 assigns an id whatever the clean start flag [MQTT-3.1.3-6]. */
	if (cp->client_id.len == 0 && !v5 &&
	    (cp->proto_level == TERN_PROTO_V31 || !cp->clean_session)) {
		*why = "empty client id needs MQTT 3.1.1 and clean session";
		return TERN_RC_CLIENT_ID_NOT_VALID;
	}
	if (cp->proto_level == TERN_PROTO_V31 && cp->client_id.len > CLIENT_ID_MAX_V31) {
		*why = "client id longer than 23 bytes for MQTT 3.1";
		return TERN_RC_CLIENT_ID_NOT_VALID;
	}
	if (!v5 && keepalive_too_long(cfg, cp->keepalive)) {
		/* MQTT 3.x cannot tell the client another keepalive: refuse, as mosquitto does. */
		*why = "keepalive above max_keepalive";
		return TERN_RC_CLIENT_ID_NOT_VALID;
	}
	if (p->props.present & TERN_PROP_BIT(TERN_PROP_AUTH_METHOD)) {
		*why = "authentication method not supported";
		return TERN_RC_BAD_AUTHENTICATION_METHOD;
	}
	return authenticate(c, cp, why);
}

/* What a 5.0 client asked for in CONNECT; the 3.x meaning of each for older ones. */
static void take_connect_options(struct tern_conn *c, const struct tern_packet *p)
{
	const struct tern_config *cfg = &c->worker->broker->cfg;
	const struct tern_connect *cp = &p->connect;
	const struct tern_props *pr = &p->props;

	c->keepalive = cp->keepalive;
	c->clean_session = cp->clean_session;
	if (!tern_conn_v5(c)) {
		/* 3.x: a persistent session lasts persistent_client_expiration, or for ever. */
		c->session_expiry = cp->clean_session ? 0
				    : cfg->persistent_client_expiration &&
					    cfg->persistent_client_expiration < UINT32_MAX
					? (uint32_t)cfg->persistent_client_expiration
					: TERN_SESSION_NEVER_EXPIRES;
		return;
	}
	if (keepalive_too_long(cfg, cp->keepalive)) {
		c->keepalive = cfg->max_keepalive;
		c->keepalive_set = true;
	}
	c->session_expiry = pr->session_expiry; /* absent: 0 */
	c->peer_max_packet = pr->maximum_packet_size;
	if (pr->present & TERN_PROP_BIT(TERN_PROP_REQUEST_PROBLEM_INFO))
		c->problem_info = pr->request_problem_info;
	if (cp->will)
		c->will_delay = cp->will_props.will_delay;
	/* Outbound aliases: as many as the client takes, up to what we keep per connection. */
	if (pr->topic_alias_maximum && cfg->max_topic_alias)
		c->aliases_out = tern_alias_out_create(
		    pr->topic_alias_maximum < cfg->max_topic_alias ? pr->topic_alias_maximum
								   : cfg->max_topic_alias);
}

/* The properties of a successful 5.0 CONNACK, written into w. */
static void connack_props(struct tern_conn *c, struct tern_props_writer *w)
{
	const struct tern_config *cfg = &c->worker->broker->cfg;

	if (c->id_assigned)
		tern_props_put_bytes(w, TERN_PROP_ASSIGNED_CLIENT_ID, c->client_id,
				     strlen(c->client_id));
	if (c->keepalive_set)
		tern_props_put_int(w, TERN_PROP_SERVER_KEEPALIVE, c->keepalive);
	if (cfg->max_inflight_messages && cfg->max_inflight_messages < UINT16_MAX)
		tern_props_put_int(w, TERN_PROP_RECEIVE_MAXIMUM, cfg->max_inflight_messages);
	if (cfg->max_topic_alias)
		tern_props_put_int(w, TERN_PROP_TOPIC_ALIAS_MAXIMUM, cfg->max_topic_alias);
	if (cfg->max_packet_size)
		tern_props_put_int(w, TERN_PROP_MAXIMUM_PACKET_SIZE, cfg->max_packet_size);
	if (!cfg->retain_available)
		tern_props_put_int(w, TERN_PROP_RETAIN_AVAILABLE, 0);
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
		c->id_assigned = true;
	}
	return c->client_id ? 0 : -ENOMEM;
}

static int set_will(struct tern_conn *c, const struct tern_connect *cp)
{
	if (!cp->will)
		return 0;
	/* A will the client may not publish is dropped; the connection stays. */
	if (!tern_security_may_write(c->worker->broker, c->listener, c->username, c->client_id,
				     cp->will_topic.p, cp->will_topic.len)) {
		tern_log(TERN_LOG_NOTICE, "Denied will of %s to '%.*s'.", c->client_id,
			 (int)cp->will_topic.len, (const char *)cp->will_topic.p);
		return 0;
	}
	c->will = tern_msg_create5(cp->will_topic.p, (uint16_t)cp->will_topic.len,
				   cp->will_payload.p, cp->will_payload.len, cp->will_qos,
				   cp->will_retain, tern_conn_v5(c) ? &cp->will_props : NULL);
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
		/* retry_node shares its bytes with resume_node; the retry parses the input. */
		if (c->resume_pending) {
			cds_list_del(&c->resume_node);
			c->resume_pending = false;
		}
		c->state = TERN_CONN_CLAIM_RETRY;
		w->retry_claims++;
		cds_list_add_tail(&c->retry_node, &w->claim_retries);
		break;
	default:
		tern_reply_connack(c, false, TERN_RC_SERVER_UNAVAILABLE, NULL);
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

static void send_connack_ok(struct tern_conn *c, bool present)
{
	uint8_t buf[CONNACK_PROPS_MAX];
	struct tern_props_writer w;
	struct tern_bytes props;

	tern_props_writer_init(&w, buf, sizeof(buf));
	if (tern_conn_v5(c))
		connack_props(c, &w);
	props = (struct tern_bytes){buf, w.overflow ? 0 : w.len};
	tern_reply_connack(c, present, TERN_RC_SUCCESS, &props);
}

void tern_connect_complete(struct tern_conn *c, struct tern_session *s)
{
	struct tern_worker *w = c->worker;
	struct tern_broker *b = w->broker;
	bool present = !c->clean_session && !s->clean;
	uint64_t connected, max;

	if (!present)
		tern_session_reset(w, s);
	/* A session ends with its connection when it has no expiry interval. */
	s->clean = c->session_expiry == 0;
	s->expiry_s = c->session_expiry;
	tern_session_cancel_will(s); /* a new connection came before the will's delay */
	s->max_inflight = w->broker->cfg.max_inflight_messages
			      ? w->broker->cfg.max_inflight_messages
			      : UINT16_MAX;
	if (c->peer_receive_max && c->peer_receive_max < s->max_inflight)
		s->max_inflight = c->peer_receive_max;
	/* The session acts as its newest connection's user from now on, offline too. */
	tern_free(s->username);
	s->username = c->username;
	c->username = NULL;
	s->listener = c->listener;
	/*
	 * Kept subscriptions were classified for the previous user, or on another
	 * worker before a reload (a session that moved here): classify them again.
	 */
	if (s->n_subs)
		tern_security_refresh_session(w, s);
	s->conn = c;
	tern_session_unschedule(w, s);
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
	tern_log(TERN_LOG_NOTICE, "New client connected from %s as %s (p%u, c%u, k%u%s%s%s).",
		 tern_conn_peer(c), c->client_id, c->proto_level == TERN_PROTO_V31 ? 1u : 2u,
		 c->clean_session ? 1u : 0u, c->keepalive, s->username ? ", u'" : "",
		 s->username ? s->username : "", s->username ? "'" : "");
	send_connack_ok(c, present);
	tern_session_resume(w, s);
}

/*
 * A user name the transport vouches for (TLS use_identity_as_username) replaces
 * the CONNECT's, and its password is dropped, as mosquitto does: *vouched gets
 * the packet with that name. Returns 1 (use *vouched), 0 (keep the CONNECT's)
 * or -EACCES.
 */
static int transport_identity(struct tern_conn *c, const struct tern_connect *cp,
			      struct tern_connect *vouched)
{
	const struct tern_transport_ops *ops = c->worker->ops;
	const char *name = NULL;
	int r;

	if (!ops->identity || cp->unsupported_level)
		return 0;
	r = ops->identity(c->tctx, &name);
	if (r <= 0)
		return r < 0 ? -EACCES : 0;
	*vouched = *cp;
	vouched->has_username = true;
	vouched->username.p = (const uint8_t *)name;
	vouched->username.len = strlen(name);
	vouched->has_password = false;
	vouched->password.p = NULL;
	vouched->password.len = 0;
	tern_log(TERN_LOG_NOTICE, "Client %s from %s has the user name '%s' from its certificate.",
		 c->client_id, tern_conn_peer(c), name);
	return 1;
}

int tern_handle_connect(struct tern_conn *c, const struct tern_packet *p)
{
	const struct tern_connect *cp = &p->connect;
	struct tern_packet vouched;
	const char *why = NULL;
	uint8_t rc;
	int r;

	/* An unknown level is answered in 3.1.1's format, which every level can read. */
	c->proto_level = cp->unsupported_level ? TERN_PROTO_V311 : cp->proto_level;
	if (!cp->unsupported_level && set_client_id(c, cp) < 0)
		goto nomem;
	r = transport_identity(c, cp, &vouched.connect);
	if (r < 0)
		return refuse(c, TERN_RC_BAD_USERNAME_OR_PASSWORD,
			      "its certificate has no usable common name for a user name");
	if (r > 0) {
		struct tern_connect id = vouched.connect;

		c->identity_from_cert = true;
		vouched = *p;
		vouched.connect = id;
		p = &vouched;
		cp = &p->connect;
	}
	rc = check_connect(c, p, &why);
	if (rc != TERN_RC_SUCCESS)
		return refuse(c, rc, why);
	take_connect_options(c, p);
	c->peer_receive_max = p->props.receive_maximum; /* 0: absent, no limit of its own */
	if (set_will(c, cp) < 0)
		goto nomem;
	claim(c);
	return c->state == TERN_CONN_CLOSING ? -ECONNRESET : 0;
nomem:
	tern_reply_connack(c, false, TERN_RC_SERVER_UNAVAILABLE, NULL);
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
	struct tern_session *s = c->session;

	if (p->props.present & TERN_PROP_BIT(TERN_PROP_SESSION_EXPIRY)) {
		uint32_t expiry = p->props.session_expiry;

		/* A session that was to end with the connection cannot be kept now [MQTT-3.14.2-2].
		 */
		if (c->session_expiry == 0 && expiry != 0)
			return tern_conn_protocol_error(c, "DISCONNECT sets a session expiry");
		c->session_expiry = expiry;
		s->expiry_s = expiry;
		s->clean = expiry == 0;
	}
	tern_conn_close(c, p->status.reason == TERN_RC_DISCONNECT_WITH_WILL
			       ? TERN_CLOSE_DISCONNECT_WILL
			       : TERN_CLOSE_DISCONNECT);
	return -ECONNRESET;
}
