/* SPDX-License-Identifier: MIT */
/* PUBLISH from a client: checks, topic aliases, QoS 1/2 acknowledgement, routing. */
#include <errno.h>

#include "broker/alias.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/msg.h"
#include "broker/props.h"
#include "broker/reason.h"
#include "broker/reply.h"
#include "broker/route.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/worker.h"

static int ack_publish(struct tern_conn *c, const struct tern_publish *pub, uint8_t reason)
{
	if (pub->qos == 1)
		return tern_reply_ack(c, TERN_PKT_PUBACK, pub->packet_id, reason);
	if (pub->qos == 2)
		return tern_reply_ack(c, TERN_PKT_PUBREC, pub->packet_id, reason);
	return 0;
}

/*
 * The topic of a 5.0 PUBLISH: its own, recorded under its alias if it has
 * one, or the one its alias stands for. Returns 0, or the negative errno of
 * tern_conn_protocol_error_rc after closing.
 */
static int resolve_topic(struct tern_conn *c, const struct tern_packet *p, struct tern_bytes *topic)
{
	uint16_t max = c->worker->broker->cfg.max_topic_alias;
	uint16_t alias = p->props.topic_alias;

	*topic = p->publish.topic;
	if (!(p->props.present & TERN_PROP_BIT(TERN_PROP_TOPIC_ALIAS)))
		return 0;
	if (alias == 0 || alias > max) /* [MQTT-3.3.2-8], [MQTT-3.3.2-9] */
		return tern_conn_protocol_error_rc(c, "topic alias out of range",
						   TERN_RC_TOPIC_ALIAS_INVALID);
	if (!c->aliases_in && !(c->aliases_in = tern_alias_in_create(max))) {
		tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
		return -ENOMEM;
	}
	if (topic->len) {
		if (tern_alias_in_set(c->aliases_in, alias, topic) < 0) {
			tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
			return -ENOMEM;
		}
		return 0;
	}
	if (tern_alias_in_get(c->aliases_in, alias, topic) < 0)
		return tern_conn_protocol_error(c, "topic alias not set");
	return 0;
}

/* Checks of a 5.0 PUBLISH's properties that need the connection's state. */
static int check_publish5(struct tern_conn *c, const struct tern_packet *p)
{
	const struct tern_config *cfg = &c->worker->broker->cfg;
	uint32_t receive_max = cfg->max_inflight_messages ? cfg->max_inflight_messages : UINT16_MAX;

	if (p->props.present & TERN_PROP_BIT(TERN_PROP_SUBSCRIPTION_ID)) /* [MQTT-3.3.4-6] */
		return tern_conn_protocol_error(c, "subscription identifier in a client PUBLISH");
	/* QoS 2 messages wait for PUBREL; QoS 1 is acknowledged at once, never pending. */
	if (p->publish.qos == 2 && c->session->n_qos2_in >= receive_max)
		return tern_conn_protocol_error_rc(c, "receive maximum exceeded",
						   TERN_RC_RECEIVE_MAXIMUM_EXCEEDED);
	return 0;
}

int tern_handle_publish(struct tern_conn *c, const struct tern_packet *p)
{
	const struct tern_publish *pub = &p->publish;
	struct tern_worker *w = c->worker;
	const struct tern_config *cfg = &w->broker->cfg;
	struct tern_bytes topic = pub->topic;
	struct tern_msg *msg;
	bool matched;
	int err;

	if (pub->retain && !cfg->retain_available)
		return tern_conn_protocol_error_rc(
		    c, "retained PUBLISH while retain_available is false",
		    TERN_RC_RETAIN_NOT_SUPPORTED);
	if (tern_conn_v5(c)) {
		if ((err = check_publish5(c, p)) < 0 || (err = resolve_topic(c, p, &topic)) < 0)
			return err;
	}
	TERN_STAT_ADD(w, msgs_received, 1);
	if (cfg->message_size_limit && pub->payload.len > cfg->message_size_limit) {
		/* Dropped, but acknowledged so the client does not resend it forever. */
		TERN_STAT_ADD(w, publish_too_large, 1);
		return ack_publish(c, pub, TERN_RC_IMPLEMENTATION_SPECIFIC);
	}
	if (!tern_security_may_write(w->broker, c->listener, c->session->username, c->client_id,
				     topic.p, topic.len)) {
		/* 5.0 says not authorised; 3.1.1 has no refusal: dropped but acknowledged. */
		TERN_STAT_ADD(w, publish_denied, 1);
		return ack_publish(c, pub, TERN_RC_NOT_AUTHORIZED);
	}
	if (pub->qos == 2) {
		bool dup = tern_session_qos2_seen(c->session, pub->packet_id, &err);

		if (err < 0) {
			tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
			return err;
		}
		if (dup) /* already routed: exactly once means acknowledge only */
			return ack_publish(c, pub, TERN_RC_SUCCESS);
	}
	msg = tern_msg_create5(topic.p, (uint16_t)topic.len, pub->payload.p, pub->payload.len,
			       pub->qos, pub->retain, tern_conn_v5(c) ? &p->props : NULL);
	if (!msg) {
		tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
		return -ENOMEM;
	}
	msg->origin = c->session->uid;
	matched = tern_route_publish(w, msg);
	tern_msg_unref(msg);
	return ack_publish(c, pub, matched ? TERN_RC_SUCCESS : TERN_RC_NO_MATCHING_SUBSCRIBERS);
}

int tern_handle_puback(struct tern_conn *c, const struct tern_packet *p)
{
	/* An unknown id (e.g. acknowledged twice) is ignored, as MQTT 3.1.1 gives no answer for it.
	 */
	tern_session_puback(c->worker, c->session, p->ack.packet_id);
	return 0;
}

int tern_handle_pubrec(struct tern_conn *c, const struct tern_packet *p)
{
	int known = tern_session_pubrec(c->worker, c->session, p->ack.packet_id);

	/* A 5.0 PUBREC with a failure reason ends the flow: no PUBREL [MQTT-4.3.3]. */
	if (p->ack.reason >= TERN_RC_UNSPECIFIED_ERROR) {
		if (known == 0)
			tern_session_pubcomp(c->worker, c->session, p->ack.packet_id);
		return 0;
	}
	/* PUBREL also for an unknown id, so a client that lost state can finish the flow. */
	return tern_reply_ack(c, TERN_PKT_PUBREL, p->ack.packet_id,
			      known == 0 ? TERN_RC_SUCCESS : TERN_RC_PACKET_ID_NOT_FOUND);
}

int tern_handle_pubrel(struct tern_conn *c, const struct tern_packet *p)
{
	bool known = tern_session_qos2_release(c->session, p->ack.packet_id);

	return tern_reply_ack(c, TERN_PKT_PUBCOMP, p->ack.packet_id,
			      known ? TERN_RC_SUCCESS : TERN_RC_PACKET_ID_NOT_FOUND);
}

int tern_handle_pubcomp(struct tern_conn *c, const struct tern_packet *p)
{
	tern_session_pubcomp(c->worker, c->session, p->ack.packet_id);
	return 0;
}
