/* SPDX-License-Identifier: MIT */
/*
 * MQTT 5.0 properties: one table says each identifier's type and the packets
 * that may carry it (section 2.2.2.2), and the decoder, iterator and writer
 * are driven by it, so adding a property is one table line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "broker/props.h"
#include "broker/reason.h"
#include "broker/utf8.h"
#include "broker/varint.h"

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define CTX(t)	(1u << (t))
#define WILL	CTX(TERN_PROPS_CTX_WILL)
#define CONNECT CTX(TERN_PKT_CONNECT)
#define CONNACK CTX(TERN_PKT_CONNACK)
#define PUBLISH CTX(TERN_PKT_PUBLISH)
#define ACKS                                                                                       \
	(CTX(TERN_PKT_PUBACK) | CTX(TERN_PKT_PUBREC) | CTX(TERN_PKT_PUBREL) | CTX(TERN_PKT_PUBCOMP))
#define SUBSCRIBE   CTX(TERN_PKT_SUBSCRIBE)
#define SUBACK	    CTX(TERN_PKT_SUBACK)
#define UNSUBSCRIBE CTX(TERN_PKT_UNSUBSCRIBE)
#define UNSUBACK    CTX(TERN_PKT_UNSUBACK)
#define DISCONNECT  CTX(TERN_PKT_DISCONNECT)
#define AUTH	    CTX(TERN_PKT_AUTH)
#define EVERY                                                                                      \
	(WILL | CONNECT | CONNACK | PUBLISH | ACKS | SUBSCRIBE | SUBACK | UNSUBSCRIBE | UNSUBACK | \
	 DISCONNECT | AUTH)

/* Value checks beyond the type, each a Protocol Error when it fails. */
enum value_rule {
	ANY = 0,
	FLAG,	 /* 0 or 1 */
	NONZERO, /* not 0 */
};

struct prop_def {
	uint8_t type;	 /* enum tern_prop_type; 0 = not a property */
	uint8_t rule;	 /* enum value_rule */
	bool repeatable; /* may appear more than once (in some context) */
	uint16_t ctx;	 /* CTX() bits where it is allowed */
};

static const struct prop_def defs[TERN_PROP_ID_MAX + 1] = {
    [TERN_PROP_PAYLOAD_FORMAT] = {TERN_PROP_T_BYTE, FLAG, false, PUBLISH | WILL},
    [TERN_PROP_MESSAGE_EXPIRY] = {TERN_PROP_T_U32, ANY, false, PUBLISH | WILL},
    [TERN_PROP_CONTENT_TYPE] = {TERN_PROP_T_UTF8, ANY, false, PUBLISH | WILL},
    [TERN_PROP_RESPONSE_TOPIC] = {TERN_PROP_T_UTF8, ANY, false, PUBLISH | WILL},
    [TERN_PROP_CORRELATION_DATA] = {TERN_PROP_T_BINARY, ANY, false, PUBLISH | WILL},
    /* Repeated only in a server's PUBLISH; once in SUBSCRIBE (checked in decode). */
    [TERN_PROP_SUBSCRIPTION_ID] = {TERN_PROP_T_VARINT, NONZERO, true, PUBLISH | SUBSCRIBE},
    [TERN_PROP_SESSION_EXPIRY] = {TERN_PROP_T_U32, ANY, false, CONNECT | CONNACK | DISCONNECT},
    [TERN_PROP_ASSIGNED_CLIENT_ID] = {TERN_PROP_T_UTF8, ANY, false, CONNACK},
    [TERN_PROP_SERVER_KEEPALIVE] = {TERN_PROP_T_U16, ANY, false, CONNACK},
    [TERN_PROP_AUTH_METHOD] = {TERN_PROP_T_UTF8, ANY, false, CONNECT | CONNACK | AUTH},
    [TERN_PROP_AUTH_DATA] = {TERN_PROP_T_BINARY, ANY, false, CONNECT | CONNACK | AUTH},
    [TERN_PROP_REQUEST_PROBLEM_INFO] = {TERN_PROP_T_BYTE, FLAG, false, CONNECT},
    [TERN_PROP_WILL_DELAY] = {TERN_PROP_T_U32, ANY, false, WILL},
    [TERN_PROP_REQUEST_RESPONSE_INFO] = {TERN_PROP_T_BYTE, FLAG, false, CONNECT},
    [TERN_PROP_RESPONSE_INFO] = {TERN_PROP_T_UTF8, ANY, false, CONNACK},
    [TERN_PROP_SERVER_REFERENCE] = {TERN_PROP_T_UTF8, ANY, false, CONNACK | DISCONNECT},
    [TERN_PROP_REASON_STRING] = {TERN_PROP_T_UTF8, ANY, false,
				 CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH},
    [TERN_PROP_RECEIVE_MAXIMUM] = {TERN_PROP_T_U16, NONZERO, false, CONNECT | CONNACK},
    [TERN_PROP_TOPIC_ALIAS_MAXIMUM] = {TERN_PROP_T_U16, ANY, false, CONNECT | CONNACK},
    /* 0 is a Topic Alias invalid error (0x94), judged with the maximum by the engine. */
    [TERN_PROP_TOPIC_ALIAS] = {TERN_PROP_T_U16, ANY, false, PUBLISH},
    [TERN_PROP_MAXIMUM_QOS] = {TERN_PROP_T_BYTE, FLAG, false, CONNACK},
    [TERN_PROP_RETAIN_AVAILABLE] = {TERN_PROP_T_BYTE, FLAG, false, CONNACK},
    [TERN_PROP_USER_PROPERTY] = {TERN_PROP_T_UTF8_PAIR, ANY, true, EVERY},
    [TERN_PROP_MAXIMUM_PACKET_SIZE] = {TERN_PROP_T_U32, NONZERO, false, CONNECT | CONNACK},
    [TERN_PROP_WILDCARD_SUB_AVAILABLE] = {TERN_PROP_T_BYTE, FLAG, false, CONNACK},
    [TERN_PROP_SUB_ID_AVAILABLE] = {TERN_PROP_T_BYTE, FLAG, false, CONNACK},
    [TERN_PROP_SHARED_SUB_AVAILABLE] = {TERN_PROP_T_BYTE, FLAG, false, CONNACK},
};

enum tern_prop_type tern_props_type(unsigned id)
{
	return id <= TERN_PROP_ID_MAX ? (enum tern_prop_type)defs[id].type : 0;
}

bool tern_props_allowed(unsigned id, unsigned ctx)
{
	return tern_props_type(id) && ctx <= TERN_PKT_AUTH && (defs[id].ctx & CTX(ctx));
}

/* ---- reading ---- */

struct reader {
	const uint8_t *p;
	const uint8_t *end;
};

static size_t left(const struct reader *r)
{
	return (size_t)(r->end - r->p);
}

static bool read_uint(struct reader *r, size_t n, uint32_t *v)
{
	if (unlikely(left(r) < n))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = (*v << 8) | r->p[i];
	r->p += n;
	return true;
}

static bool read_bytes(struct reader *r, struct tern_bytes *b)
{
	uint32_t n;

	if (!read_uint(r, 2, &n) || unlikely(left(r) < n))
		return false;
	b->p = r->p;
	b->len = n;
	r->p += n;
	return true;
}

static bool read_string(struct reader *r, struct tern_bytes *b)
{
	return read_bytes(r, b) && tern_utf8_valid(b->p, b->len);
}

/* Read one property's value per its type; false when malformed. */
static bool read_value(struct reader *r, enum tern_prop_type type, struct tern_prop *prop)
{
	int n;

	switch (type) {
	case TERN_PROP_T_BYTE:
		return read_uint(r, 1, &prop->u);
	case TERN_PROP_T_U16:
		return read_uint(r, 2, &prop->u);
	case TERN_PROP_T_U32:
		return read_uint(r, 4, &prop->u);
	case TERN_PROP_T_VARINT:
		n = tern_varint_get(r->p, left(r), &prop->u);
		if (n < 0)
			return false;
		r->p += n;
		return true;
	case TERN_PROP_T_UTF8:
		return read_string(r, &prop->s);
	case TERN_PROP_T_BINARY:
		return read_bytes(r, &prop->s);
	case TERN_PROP_T_UTF8_PAIR:
		return read_string(r, &prop->s) && read_string(r, &prop->v);
	}
	return false;
}

/* Read the identifier and value at r; false when malformed. */
static bool read_prop(struct reader *r, struct tern_prop *prop)
{
	uint32_t id;
	int n = tern_varint_get(r->p, left(r), &id);

	if (n < 0)
		return false;
	r->p += n;
	/* Identifiers are Variable Byte Integers, but every defined one fits a byte. */
	if (unlikely(id > TERN_PROP_ID_MAX || !defs[id].type))
		return false;
	memset(prop, 0, sizeof(*prop));
	prop->id = (uint8_t)id;
	prop->type = (enum tern_prop_type)defs[id].type;
	return read_value(r, prop->type, prop);
}

static bool value_ok(const struct prop_def *d, uint32_t v)
{
	switch (d->rule) {
	case FLAG:
		return v <= 1;
	case NONZERO:
		return v != 0;
	}
	return true;
}

/* Record a single-use property in out; the decoder has checked it is allowed. */
static void store(struct tern_props *out, const struct tern_prop *p)
{
	switch (p->id) {
	case TERN_PROP_PAYLOAD_FORMAT:
		out->payload_format = (uint8_t)p->u;
		break;
	case TERN_PROP_MESSAGE_EXPIRY:
		out->message_expiry = p->u;
		break;
	case TERN_PROP_CONTENT_TYPE:
		out->content_type = p->s;
		break;
	case TERN_PROP_RESPONSE_TOPIC:
		out->response_topic = p->s;
		break;
	case TERN_PROP_CORRELATION_DATA:
		out->correlation_data = p->s;
		break;
	case TERN_PROP_SUBSCRIPTION_ID:
		if (out->n_subscription_ids++ == 0)
			out->subscription_id = p->u;
		break;
	case TERN_PROP_SESSION_EXPIRY:
		out->session_expiry = p->u;
		break;
	case TERN_PROP_ASSIGNED_CLIENT_ID:
		out->assigned_client_id = p->s;
		break;
	case TERN_PROP_SERVER_KEEPALIVE:
		out->server_keepalive = (uint16_t)p->u;
		break;
	case TERN_PROP_AUTH_METHOD:
		out->auth_method = p->s;
		break;
	case TERN_PROP_AUTH_DATA:
		out->auth_data = p->s;
		break;
	case TERN_PROP_REQUEST_PROBLEM_INFO:
		out->request_problem_info = (uint8_t)p->u;
		break;
	case TERN_PROP_WILL_DELAY:
		out->will_delay = p->u;
		break;
	case TERN_PROP_REQUEST_RESPONSE_INFO:
		out->request_response_info = (uint8_t)p->u;
		break;
	case TERN_PROP_RESPONSE_INFO:
		out->response_info = p->s;
		break;
	case TERN_PROP_SERVER_REFERENCE:
		out->server_reference = p->s;
		break;
	case TERN_PROP_REASON_STRING:
		out->reason_string = p->s;
		break;
	case TERN_PROP_RECEIVE_MAXIMUM:
		out->receive_maximum = (uint16_t)p->u;
		break;
	case TERN_PROP_TOPIC_ALIAS_MAXIMUM:
		out->topic_alias_maximum = (uint16_t)p->u;
		break;
	case TERN_PROP_TOPIC_ALIAS:
		out->topic_alias = (uint16_t)p->u;
		break;
	case TERN_PROP_MAXIMUM_QOS:
		out->maximum_qos = (uint8_t)p->u;
		break;
	case TERN_PROP_RETAIN_AVAILABLE:
		out->retain_available = (uint8_t)p->u;
		break;
	case TERN_PROP_USER_PROPERTY:
		out->n_user_props++;
		break;
	case TERN_PROP_MAXIMUM_PACKET_SIZE:
		out->maximum_packet_size = p->u;
		break;
	case TERN_PROP_WILDCARD_SUB_AVAILABLE:
		out->wildcard_sub_available = (uint8_t)p->u;
		break;
	case TERN_PROP_SUB_ID_AVAILABLE:
		out->sub_id_available = (uint8_t)p->u;
		break;
	case TERN_PROP_SHARED_SUB_AVAILABLE:
		out->shared_sub_available = (uint8_t)p->u;
		break;
	}
}

static bool may_repeat(uint8_t id, unsigned ctx)
{
	if (id == TERN_PROP_SUBSCRIPTION_ID)
		return ctx == TERN_PKT_PUBLISH;
	return defs[id].repeatable;
}

int tern_props_decode(const uint8_t *buf, size_t len, unsigned ctx, struct tern_props *out,
		      uint8_t *reason)
{
	uint32_t block_len;
	int n = tern_varint_get(buf, len, &block_len);

	memset(out, 0, sizeof(*out));
	*reason = TERN_RC_MALFORMED_PACKET;
	if (unlikely(n < 0 || block_len > len - (size_t)n))
		return -EPROTO;

	struct reader r = {buf + n, buf + n + block_len};

	out->raw.p = r.p;
	out->raw.len = block_len;
	while (r.p < r.end) {
		struct tern_prop prop;

		if (unlikely(!read_prop(&r, &prop) || !tern_props_allowed(prop.id, ctx))) {
			*reason = TERN_RC_MALFORMED_PACKET;
			return -EPROTO;
		}

		const struct prop_def *d = &defs[prop.id];
		bool seen = out->present & TERN_PROP_BIT(prop.id);

		if (unlikely((seen && !may_repeat(prop.id, ctx)) || !value_ok(d, prop.u))) {
			*reason = TERN_RC_PROTOCOL_ERROR;
			return -EPROTO;
		}
		out->present |= TERN_PROP_BIT(prop.id);
		store(out, &prop);
	}
	*reason = TERN_RC_SUCCESS;
	return n + (int)block_len;
}

void tern_props_iter_init(struct tern_prop_iter *it, const struct tern_props *props)
{
	it->p = props->raw.p;
	it->end = props->raw.p + props->raw.len;
}

bool tern_props_next(struct tern_prop_iter *it, struct tern_prop *prop)
{
	struct reader r = {it->p, it->end};

	if (r.p >= r.end || !read_prop(&r, prop))
		return false;
	it->p = r.p;
	return true;
}

/* ---- writing ---- */

void tern_props_writer_init(struct tern_props_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
}

/* Room for n more bytes, or mark the block as overflowed. */
static uint8_t *reserve(struct tern_props_writer *w, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return NULL;
	}

	uint8_t *p = w->buf + w->len;

	w->len += n;
	return p;
}

static uint8_t *put_be(uint8_t *p, uint32_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return p + n;
}

static uint8_t *put_field(uint8_t *p, const void *data, size_t len)
{
	p = put_be(p, (uint32_t)len, 2);
	if (len)
		memcpy(p, data, len);
	return p + len;
}

void tern_props_put_int(struct tern_props_writer *w, uint8_t id, uint32_t value)
{
	size_t width;

	switch (tern_props_type(id)) {
	case TERN_PROP_T_BYTE:
		width = 1;
		break;
	case TERN_PROP_T_U16:
		width = 2;
		break;
	case TERN_PROP_T_U32:
		width = 4;
		break;
	case TERN_PROP_T_VARINT:
		if (value > TERN_VARINT_MAX) {
			w->overflow = true;
			return;
		}
		width = tern_varint_size(value);
		break;
	default:
		w->overflow = true;
		return;
	}

	uint8_t *p = reserve(w, 1 + width);

	if (!p)
		return;
	*p++ = id;
	if (tern_props_type(id) == TERN_PROP_T_VARINT)
		tern_varint_put(p, value);
	else
		put_be(p, value, width);
}

void tern_props_put_bytes(struct tern_props_writer *w, uint8_t id, const void *data, size_t len)
{
	enum tern_prop_type t = tern_props_type(id);

	if ((t != TERN_PROP_T_UTF8 && t != TERN_PROP_T_BINARY) || len > UINT16_MAX) {
		w->overflow = true;
		return;
	}

	uint8_t *p = reserve(w, 1 + 2 + len);

	if (!p)
		return;
	*p++ = id;
	put_field(p, data, len);
}

void tern_props_put_pair(struct tern_props_writer *w, const struct tern_bytes *name,
			 const struct tern_bytes *value)
{
	if (name->len > UINT16_MAX || value->len > UINT16_MAX) {
		w->overflow = true;
		return;
	}

	uint8_t *p = reserve(w, 1 + 2 + name->len + 2 + value->len);

	if (!p)
		return;
	*p++ = TERN_PROP_USER_PROPERTY;
	p = put_field(p, name->p, name->len);
	put_field(p, value->p, value->len);
}

void tern_props_put(struct tern_props_writer *w, const struct tern_prop *prop)
{
	switch (prop->type) {
	case TERN_PROP_T_UTF8:
	case TERN_PROP_T_BINARY:
		tern_props_put_bytes(w, prop->id, prop->s.p, prop->s.len);
		break;
	case TERN_PROP_T_UTF8_PAIR:
		tern_props_put_pair(w, &prop->s, &prop->v);
		break;
	default:
		tern_props_put_int(w, prop->id, prop->u);
		break;
	}
}

size_t tern_props_size(const struct tern_prop *prop)
{
	switch (prop->type) {
	case TERN_PROP_T_BYTE:
		return 2;
	case TERN_PROP_T_U16:
		return 3;
	case TERN_PROP_T_U32:
		return 5;
	case TERN_PROP_T_VARINT:
		return 1 + tern_varint_size(prop->u);
	case TERN_PROP_T_UTF8:
	case TERN_PROP_T_BINARY:
		return 3 + prop->s.len;
	case TERN_PROP_T_UTF8_PAIR:
		return 5 + prop->s.len + prop->v.len;
	}
	return 0;
}

size_t tern_props_block_size(size_t len)
{
	return tern_varint_size((uint32_t)len) + len;
}
