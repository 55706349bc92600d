/* SPDX-License-Identifier: MIT */
/* Control replies encoded for the connection's protocol version. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/codec.h"
#include "broker/conn.h"
#include "broker/props.h"
#include "broker/reason.h"
#include "broker/reply.h"

/* Acks, CONNACK and DISCONNECT without properties fit on the stack. */
#define SMALL_REPLY 16
#define REASON_MAX  128 /* our reason strings are short static texts */
#define STACK_CODES 64

uint8_t tern_reply_connack_rc311(uint8_t reason)
{
	switch (reason) {
	case TERN_RC_SUCCESS:
		return TERN_CONNACK_ACCEPTED;
	case TERN_RC_UNSUPPORTED_PROTOCOL_VERSION:
		return TERN_CONNACK_BAD_PROTOCOL;
	case TERN_RC_CLIENT_ID_NOT_VALID:
		return TERN_CONNACK_ID_REJECTED;
	case TERN_RC_SERVER_UNAVAILABLE:
	case TERN_RC_SERVER_BUSY:
	case TERN_RC_IMPLEMENTATION_SPECIFIC:
	case TERN_RC_UNSPECIFIED_ERROR:
		return TERN_CONNACK_UNAVAILABLE;
	case TERN_RC_BAD_USERNAME_OR_PASSWORD:
		return TERN_CONNACK_BAD_CREDENTIALS;
	default:
		return TERN_CONNACK_NOT_AUTHORIZED;
	}
}

/* Encode into a stack buffer when small, else a heap one, then queue. */
static int send_sized(struct tern_conn *c, size_t cap,
		      size_t (*encode)(uint8_t *buf, size_t cap, const void *arg), const void *arg)
{
	uint8_t small[64];
	uint8_t *buf = cap <= sizeof(small) ? small : tern_malloc(cap);
	int ret;

	if (!buf)
		return -ENOMEM;

	size_t n = encode(buf, cap, arg);

	ret = n ? tern_conn_send(c, buf, n) : -EMSGSIZE;
	if (buf != small)
		tern_free(buf);
	return ret;
}

struct connack_args {
	bool v5;
	bool present;
	uint8_t reason;
	const struct tern_bytes *props;
};

static size_t encode_connack(uint8_t *buf, size_t cap, const void *arg)
{
	const struct connack_args *a = arg;

	if (!a->v5)
		return tern_codec_encode_connack(buf, cap, a->present,
						 tern_reply_connack_rc311(a->reason));
	return tern_codec_encode_connack5(buf, cap, a->present, a->reason, a->props);
}

int tern_reply_connack(struct tern_conn *c, bool session_present, uint8_t reason,
		       const struct tern_bytes *props)
{
	struct connack_args a = {tern_conn_v5(c), session_present, reason, props};
	size_t cap = SMALL_REPLY + (props ? props->len : 0);

	return send_sized(c, cap, encode_connack, &a);
}

int tern_reply_ack(struct tern_conn *c, enum tern_pkt_type type, uint16_t packet_id, uint8_t reason)
{
	uint8_t pkt[SMALL_REPLY];
	size_t n;

	if (tern_conn_v5(c))
		n = tern_codec_encode_ack5(pkt, sizeof(pkt), type, packet_id, reason, NULL);
	else
		n = tern_codec_encode_ack(pkt, sizeof(pkt), type, packet_id);
	return tern_conn_send(c, pkt, n);
}

struct sub_list_args {
	enum tern_pkt_type type;
	bool v5;
	uint16_t packet_id;
	const uint8_t *codes;
	size_t count;
};

static size_t encode_sub_list(uint8_t *buf, size_t cap, const void *arg)
{
	const struct sub_list_args *a = arg;

	if (a->v5)
		return tern_codec_encode_suback5(buf, cap, a->type, a->packet_id, NULL, a->codes,
						 a->count);
	if (a->type == TERN_PKT_UNSUBACK)
		return tern_codec_encode_ack(buf, cap, TERN_PKT_UNSUBACK, a->packet_id);
	return tern_codec_encode_suback(buf, cap, a->packet_id, a->codes, a->count);
}

int tern_reply_sub_list(struct tern_conn *c, enum tern_pkt_type type, uint16_t packet_id,
			const uint8_t *codes, size_t count)
{
	struct sub_list_args a = {type, tern_conn_v5(c), packet_id, codes, count};
	uint8_t stack_codes[STACK_CODES];
	uint8_t *v3 = stack_codes;
	int ret;

	/* 3.1.1 knows one failure code for SUBACK. */
	if (!a.v5 && type == TERN_PKT_SUBACK) {
		if (count > STACK_CODES && !(v3 = tern_malloc(count)))
			return -ENOMEM;
		for (size_t i = 0; i < count; i++)
			v3[i] =
			    codes[i] >= TERN_RC_UNSPECIFIED_ERROR ? TERN_SUBACK_FAILURE : codes[i];
		a.codes = v3;
	}
	ret = send_sized(c, TERN_CODEC_FIXED_HDR_MAX + 3 + count, encode_sub_list, &a);
	if (v3 != stack_codes)
		tern_free(v3);
	return ret;
}

/* A reason string property for why, if the client takes one; false when none. */
static bool reason_string(const struct tern_conn *c, const char *why, uint8_t *buf, size_t cap,
			  struct tern_bytes *props)
{
	struct tern_props_writer w;

	if (!why || !c->problem_info)
		return false;
	tern_props_writer_init(&w, buf, cap);
	tern_props_put_bytes(&w, TERN_PROP_REASON_STRING, why, strlen(why));
	*props = (struct tern_bytes){buf, w.len};
	return !w.overflow;
}

int tern_reply_disconnect(struct tern_conn *c, uint8_t reason, const char *why)
{
	uint8_t pkt[SMALL_REPLY + REASON_MAX], text[REASON_MAX];
	struct tern_bytes props;
	bool has = reason_string(c, why, text, sizeof(text), &props);
	size_t n;

	if (!tern_conn_v5(c))
		return 0;
	n = tern_codec_encode_status5(pkt, sizeof(pkt), TERN_PKT_DISCONNECT, reason,
				      has ? &props : NULL);
	return tern_conn_send(c, pkt, n);
}

int tern_reply_connack_refused(struct tern_conn *c, uint8_t reason, const char *why)
{
	uint8_t text[REASON_MAX];
	struct tern_bytes props;
	bool has = tern_conn_v5(c) && reason_string(c, why, text, sizeof(text), &props);

	return tern_reply_connack(c, false, reason, has ? &props : NULL);
}
