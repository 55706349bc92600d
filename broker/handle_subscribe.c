/* SPDX-License-Identifier: MIT */
/* SUBSCRIBE (grant, SUBACK, retained messages) and UNSUBSCRIBE. */
#include <errno.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/msg.h"
#include "broker/retain.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/worker.h"

#define MAX_QOS	      2
#define STACK_FILTERS 64

struct retained_ctx {
	struct tern_worker *w;
	struct tern_session *s;
	uint8_t granted;
	bool check; /* partly readable filter: check each retained message (security.h) */
};

static void send_retained(void *ctx, struct tern_msg *msg)
{
	struct retained_ctx *rc = ctx;
	uint8_t qos = msg->qos < rc->granted ? msg->qos : rc->granted;

	if (rc->check &&
	    !tern_security_may_read(rc->w->broker, rc->s, tern_msg_topic(msg), msg->topic_len))
		return;
	/* Retained messages sent for a new subscription carry RETAIN 1 [MQTT-3.3.1-8]. */
	tern_session_deliver(rc->w, rc->s, msg, qos, true);
}

int tern_handle_subscribe(struct tern_conn *c, const struct tern_packet *p)
{
	struct tern_worker *w = c->worker;
	struct tern_session *s = c->session;
	uint8_t stack_codes[STACK_FILTERS];
	uint8_t *codes = stack_codes;
	struct tern_filter_iter it;
	struct tern_bytes filter;
	uint8_t options;
	size_t i = 0, n, cap;
	uint8_t *pkt;
	int ret;

	if (p->subscribe.count > STACK_FILTERS) {
		codes = tern_malloc(p->subscribe.count);
		if (!codes)
			goto nomem;
	}
	tern_codec_filter_iter_init(&it, p);
	while (tern_codec_filter_next(&it, &filter, &options)) {
		uint8_t qos = options & 0x3;
		int opt;

		if (qos > MAX_QOS)
			qos = MAX_QOS;
		/* A filter with nothing readable is refused (0x80); see security.h. */
		opt = tern_security_sub_options(w->broker, s, filter.p, filter.len, qos);
		ret = opt < 0 ? opt
			      : tern_session_subscribe(w, s, filter.p, filter.len, (uint8_t)opt);
		codes[i++] = ret == 0 ? qos : TERN_SUBACK_FAILURE;
	}

	cap = TERN_CODEC_FIXED_HDR_MAX + 2 + i;
	pkt = tern_malloc(cap);
	if (!pkt)
		goto nomem;
	n = tern_codec_encode_suback(pkt, cap, p->subscribe.packet_id, codes, i);
	ret = tern_conn_send(c, pkt, n);
	tern_free(pkt);
	if (ret < 0)
		goto nomem;

	/* Retained messages after the SUBACK, for each granted filter in order. */
	tern_codec_filter_iter_init(&it, p);
	i = 0;
	while (tern_codec_filter_next(&it, &filter, &options)) {
		struct retained_ctx rc = {w, s, codes[i], false};
		int opt;

		if (codes[i++] == TERN_SUBACK_FAILURE)
			continue;
		opt = tern_security_sub_options(w->broker, s, filter.p, filter.len, 0);
		rc.check = opt < 0 || (opt & TERN_SUB_ACL_CHECK);
		tern_retain_match(w->broker->retain, filter.p, filter.len, send_retained, &rc);
	}
	if (codes != stack_codes)
		tern_free(codes);
	return 0;
nomem:
	if (codes != stack_codes)
		tern_free(codes);
	tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
	return -ENOMEM;
}

int tern_handle_unsubscribe(struct tern_conn *c, const struct tern_packet *p)
{
	struct tern_filter_iter it;
	struct tern_bytes filter;
	uint8_t pkt[4];
	size_t n;

	tern_codec_filter_iter_init(&it, p);
	while (tern_codec_filter_next(&it, &filter, NULL))
		tern_session_unsubscribe(c->worker, c->session, filter.p, filter.len);
	n = tern_codec_encode_ack(pkt, sizeof(pkt), TERN_PKT_UNSUBACK, p->subscribe.packet_id);
	return tern_conn_send(c, pkt, n);
}
