/* SPDX-License-Identifier: MIT */
/* PUBLISH from a client: checks, QoS 1/2 acknowledgement, routing. */
#include <errno.h>

#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/msg.h"
#include "broker/route.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/worker.h"

static int send_ack(struct tern_conn *c, enum tern_pkt_type type, uint16_t packet_id)
{
	uint8_t pkt[4];
	size_t n = tern_codec_encode_ack(pkt, sizeof(pkt), type, packet_id);

	return tern_conn_send(c, pkt, n);
}

static int ack_publish(struct tern_conn *c, const struct tern_publish *pub)
{
	if (pub->qos == 1)
		return send_ack(c, TERN_PKT_PUBACK, pub->packet_id);
	if (pub->qos == 2)
		return send_ack(c, TERN_PKT_PUBREC, pub->packet_id);
	return 0;
}

int tern_handle_publish(struct tern_conn *c, const struct tern_packet *p)
{
	const struct tern_publish *pub = &p->publish;
	struct tern_worker *w = c->worker;
	const struct tern_config *cfg = &w->broker->cfg;
	struct tern_msg *msg;
	int err;

	if (pub->retain && !cfg->retain_available)
		return tern_conn_protocol_error(c,
						"retained PUBLISH while retain_available is false");
	TERN_STAT_ADD(w, msgs_received, 1);
	if (cfg->message_size_limit && pub->payload.len > cfg->message_size_limit) {
		/* Dropped, but acknowledged so the client does not resend it forever. */
		TERN_STAT_ADD(w, publish_too_large, 1);
		return ack_publish(c, pub);
	}
	if (!tern_security_may_write(w->broker, c->listener, c->session->username, c->client_id,
				     pub->topic.p, pub->topic.len)) {
		/* MQTT 3.1.1 has no refusal: dropped but acknowledged, as mosquitto does. */
		TERN_STAT_ADD(w, publish_denied, 1);
		return ack_publish(c, pub);
	}
	if (pub->qos == 2) {
		bool dup = tern_session_qos2_seen(c->session, pub->packet_id, &err);

		if (err < 0) {
			tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
			return err;
		}
		if (dup) /* already routed: exactly once means acknowledge only */
			return ack_publish(c, pub);
	}
	msg = tern_msg_create(pub->topic.p, (uint16_t)pub->topic.len, pub->payload.p,
			      pub->payload.len, pub->qos, pub->retain);
	if (!msg) {
		tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
		return -ENOMEM;
	}
	tern_route_publish(w, msg);
	tern_msg_unref(msg);
	return ack_publish(c, pub);
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
	tern_session_pubrec(c->worker, c->session, p->ack.packet_id);
	/* PUBREL also for an unknown id, so a client that lost state can finish the flow. */
	return send_ack(c, TERN_PKT_PUBREL, p->ack.packet_id);
}

int tern_handle_pubrel(struct tern_conn *c, const struct tern_packet *p)
{
	tern_session_qos2_release(c->session, p->ack.packet_id);
	return send_ack(c, TERN_PKT_PUBCOMP, p->ack.packet_id);
}

int tern_handle_pubcomp(struct tern_conn *c, const struct tern_packet *p)
{
	tern_session_pubcomp(c->worker, c->session, p->ack.packet_id);
	return 0;
}
