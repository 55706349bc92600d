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
#include "broker/security.h"
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
	tern_session_deliver(rc->w, rc->s, msg, qos, true, rc->ids);
}

/*
 * The reason code for one filter of a SUBSCRIBE, chosen in one place: the
 * granted QoS, or why it is refused. *retained says whether to send the
 * retained messages it matches.
 */
static int subscribe_one(struct tern_conn *c, const struct tern_packet *p,
			 const struct tern_bytes *filter, uint8_t options, bool *retained,
			 bool *check)
{
	struct tern_worker *w = c->worker;
	uint8_t qos = options & TERN_SUBOPT_QOS_MASK;
	unsigned handling = TERN_SUBOPT_RETAIN_HANDLING(options);
	const uint8_t *inner;
	size_t inner_len;
	int shared = tern_share_parse(filter->p, filter->len, &inner, &inner_len);
	bool existed;

	int opt;

	*retained = *check = false;
	if (shared < 0)
		return TERN_RC_TOPIC_FILTER_INVALID;
	if (shared && (options & TERN_SUBOPT_NO_LOCAL)) /* [MQTT-3.8.3-4] */
		return -EPROTO;
	if (qos > MAX_QOS)
		qos = MAX_QOS;
	options = (uint8_t)((options & ~TERN_SUBOPT_QOS_MASK) | qos);
	/* A filter with nothing readable is refused; see security.h. */
	opt = tern_security_sub_options(w->broker, c->session, shared ? inner : filter->p,
					shared ? inner_len : filter->len, options);
	if (opt < 0)
		return TERN_RC_NOT_AUTHORIZED;
	*check = opt & TERN_SUB_ACL_CHECK;
	/* The identifier, if any, applies to every filter of the packet [MQTT-3.8.2.1.2]. */
	if (tern_session_subscribe(w, c->session, filter->p, filter->len, (uint8_t)opt,
				   p->props.subscription_id, &existed) < 0)
		return TERN_RC_UNSPECIFIED_ERROR;
	/*
	 * Retain Handling: 0 always, 1 for a new subscription, 2 never
	 * [MQTT-3.3.1-9..11]; never for a shared subscription [MQTT-4.8.2].
	 */
	*retained = !shared && (handling == 0 || (handling == 1 && !existed));
	return qos;
}

/* What a granted filter still asks for once the SUBACK is out. */
struct retained_plan {
	bool send;  /* send the retained messages it matches */
	bool check; /* partly readable: check each of them (security.h) */
};

static void free_arrays(uint8_t *codes, struct retained_plan *plan, const uint8_t *stack_codes)
{
	if (codes != stack_codes) {
		tern_free(codes);
		tern_free(plan);
	}
}

int tern_handle_subscribe(struct tern_conn *c, const struct tern_packet *p)
{
	struct tern_worker *w = c->worker;
	struct tern_session *s = c->session;
	uint8_t stack_codes[STACK_FILTERS];
	struct retained_plan stack_plan[STACK_FILTERS];
	uint8_t *codes = stack_codes;
	struct retained_plan *plan = stack_plan;
	struct tern_filter_iter it;
	struct tern_bytes filter;
	struct tern_via ids = {0};
	uint8_t options;
	size_t i = 0;

	if (p->props.subscription_id)
		ids.id[ids.n++] = p->props.subscription_id;
	if (p->subscribe.count > STACK_FILTERS) {
		codes = tern_malloc(p->subscribe.count);
		plan = tern_malloc(p->subscribe.count * sizeof(*plan));
		if (!codes || !plan)
			goto nomem;
	}
	tern_codec_filter_iter_init(&it, p);
	while (tern_codec_filter_next(&it, &filter, &options)) {
		int code = subscribe_one(c, p, &filter, options, &plan[i].send, &plan[i].check);

		if (code < 0) {
			free_arrays(codes, plan, stack_codes);
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
		struct retained_ctx rc = {w, s, codes[i], ids.n ? &ids : NULL, plan[i].check};

		if (plan[i++].send)
			tern_retain_match(w->broker->retain, filter.p, filter.len, send_retained,
					  &rc);
	}
	free_arrays(codes, plan, stack_codes);
	return 0;
nomem:
	free_arrays(codes, plan, stack_codes);
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
