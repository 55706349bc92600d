/* SPDX-License-Identifier: MIT */
/* SUBSCRIBE (grant, SUBACK, retained messages) and UNSUBSCRIBE, for 3.1.1 and 5.0. */
#include <errno.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/broker.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/handlers.h"
#include "broker/msg.h"
#include "broker/props.h"
#include "broker/reason.h"
#include "broker/reply.h"
#include "broker/retain.h"
#include "broker/session.h"
#include "broker/share.h"
#include "broker/worker.h"

#define MAX_QOS	      2
#define STACK_FILTERS 64

struct retained_ctx {
	struct tern_worker *w;
	struct tern_session *s;
	uint8_t granted;
	const struct tern_via *ids;
};

static void send_retained(void *ctx, struct tern_msg *msg)
{
	struct retained_ctx *rc = ctx;
	uint8_t qos = msg->qos < rc->granted ? msg->qos : rc->granted;

	/* Retained messages sent for a new subscription carry RETAIN 1 [MQTT-3.3.1-8]. */
	tern_session_deliver(rc->w, rc->s, msg, qos, true, rc->ids);
}

/*
 * The reason code for one filter of a SUBSCRIBE, chosen in one place: the
 * granted QoS, or why it is refused. *retained says whether to send the
 * retained messages it matches.
 */
static int subscribe_one(struct tern_conn *c, const struct tern_packet *p,
			 const struct tern_bytes *filter, uint8_t options, bool *retained)
{
	struct tern_worker *w = c->worker;
	uint8_t qos = options & TERN_SUBOPT_QOS_MASK;
	unsigned handling = TERN_SUBOPT_RETAIN_HANDLING(options);
	const uint8_t *inner;
	size_t inner_len;
	int shared = tern_share_parse(filter->p, filter->len, &inner, &inner_len);
	bool existed;

	*retained = false;
	if (shared < 0)
		return TERN_RC_TOPIC_FILTER_INVALID;
	if (shared && (options & TERN_SUBOPT_NO_LOCAL)) /* [MQTT-3.8.3-4] */
		return -EPROTO;
	if (qos > MAX_QOS)
		qos = MAX_QOS;
	options = (uint8_t)((options & ~TERN_SUBOPT_QOS_MASK) | qos);
	/* The identifier, if any, applies to every filter of the packet [MQTT-3.8.2.1.2]. */
	if (tern_session_subscribe(w, c->session, filter->p, filter->len, options,
				   p->props.subscription_id, &existed) < 0)
		return TERN_RC_UNSPECIFIED_ERROR;
	/*
	 * Retain Handling: 0 always, 1 for a new subscription, 2 never
	 * [MQTT-3.3.1-9..11]; never for a shared subscription [MQTT-4.8.2].
	 */
	*retained = !shared && (handling == 0 || (handling == 1 && !existed));
	return qos;
}

int tern_handle_subscribe(struct tern_conn *c, const struct tern_packet *p)
{
	struct tern_worker *w = c->worker;
	struct tern_session *s = c->session;
	uint8_t stack_codes[STACK_FILTERS];
	bool stack_retained[STACK_FILTERS];
	uint8_t *codes = stack_codes;
	bool *retained = stack_retained;
	struct tern_filter_iter it;
	struct tern_bytes filter;
	struct tern_via ids = {0};
	uint8_t options;
	size_t i = 0;

	if (p->props.subscription_id)
		ids.id[ids.n++] = p->props.subscription_id;
	if (p->subscribe.count > STACK_FILTERS) {
		codes = tern_malloc(p->subscribe.count);
		retained = tern_malloc(p->subscribe.count * sizeof(*retained));
		if (!codes || !retained)
			goto nomem;
	}
	tern_codec_filter_iter_init(&it, p);
	while (tern_codec_filter_next(&it, &filter, &options)) {
		int code = subscribe_one(c, p, &filter, options, &retained[i]);

		if (code < 0) {
			if (codes != stack_codes) {
				tern_free(codes);
				tern_free(retained);
			}
			return tern_conn_protocol_error(c, "No Local on a shared subscription");
		}
		codes[i++] = (uint8_t)code;
	}
	if (tern_reply_sub_list(c, TERN_PKT_SUBACK, p->subscribe.packet_id, codes, i) < 0)
		goto nomem;

	/* Retained messages after the SUBACK, for each granted filter in order. */
	tern_codec_filter_iter_init(&it, p);
	i = 0;
	while (tern_codec_filter_next(&it, &filter, &options)) {
		struct retained_ctx rc = {w, s, codes[i], ids.n ? &ids : NULL};

		if (retained[i++])
			tern_retain_match(w->broker->retain, filter.p, filter.len, send_retained,
					  &rc);
	}
	if (codes != stack_codes) {
		tern_free(codes);
		tern_free(retained);
	}
	return 0;
nomem:
	if (codes != stack_codes) {
		tern_free(codes);
		tern_free(retained);
	}
	tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
	return -ENOMEM;
}

int tern_handle_unsubscribe(struct tern_conn *c, const struct tern_packet *p)
{
	uint8_t stack_codes[STACK_FILTERS];
	uint8_t *codes = stack_codes;
	struct tern_filter_iter it;
	struct tern_bytes filter;
	size_t i = 0;
	int ret;

	if (p->subscribe.count > STACK_FILTERS && !(codes = tern_malloc(p->subscribe.count))) {
		tern_conn_close(c, TERN_CLOSE_NO_MEMORY);
		return -ENOMEM;
	}
	tern_codec_filter_iter_init(&it, p);
	while (tern_codec_filter_next(&it, &filter, NULL))
		codes[i++] =
		    tern_session_unsubscribe(c->worker, c->session, filter.p, filter.len) == 0
			? TERN_RC_SUCCESS
			: TERN_RC_NO_SUBSCRIPTION_EXISTED;
	ret = tern_reply_sub_list(c, TERN_PKT_UNSUBACK, p->subscribe.packet_id, codes, i);
	if (codes != stack_codes)
		tern_free(codes);
	return ret;
}
