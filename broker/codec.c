/* SPDX-License-Identifier: MIT */
/*
 * MQTT 3.1 / 3.1.1 / 5.0 codec. The decoder validates the fixed header as soon as its
 * bytes arrive (so garbage is rejected before its body is buffered), then reads the body
 * with a bounds-checked cursor that never looks past the remaining length. Decoded
 * strings point into the caller's buffer. Encoders size the packet first, then write
 * unchecked. 5.0 differs in a property block per packet and optional reason codes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "broker/codec.h"
#include "broker/props.h"
#include "broker/reason.h"
#include "broker/topic.h"
#include "broker/utf8.h"
#include "broker/varint.h"

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define PUB_FLAG_RETAIN 0x01
#define PUB_FLAG_DUP	0x08

#define CONN_FLAG_RESERVED 0x01
#define CONN_FLAG_CLEAN	   0x02
#define CONN_FLAG_WILL	   0x04
#define CONN_FLAG_WILL_QOS 0x18
#define CONN_FLAG_RETAIN   0x20
#define CONN_FLAG_PASSWORD 0x40
#define CONN_FLAG_USERNAME 0x80

#define U16_MAX_LEN 65535u

/*
 * Bounds-checked reader over one packet body. reason is the 5.0 reason for a
 * failure: Malformed unless a check says Protocol Error.
 */
struct cursor {
	const uint8_t *p;
	const uint8_t *end;
	uint8_t reason;
};

static size_t left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

static int protocol_error(struct cursor *c)
{
	c->reason = TERN_RC_PROTOCOL_ERROR;
	return -EPROTO;
}

/* A property block of context ctx at the cursor. */
static int get_props(struct cursor *c, unsigned ctx, struct tern_props *props)
{
	uint8_t reason;
	int n = tern_props_decode(c->p, left(c), ctx, props, &reason);

	if (n < 0) {
		c->reason = reason;
		return n;
	}
	c->p += n;
	return 0;
}

static bool get_u8(struct cursor *c, uint8_t *v)
{
	if (unlikely(left(c) < 1))
		return false;
	*v = *c->p++;
	return true;
}

static bool get_u16(struct cursor *c, uint16_t *v)
{
	if (unlikely(left(c) < 2))
		return false;
	*v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	return true;
}

/* A two-byte length followed by that many bytes (MQTT "UTF-8 string" or binary data). */
static bool get_bytes(struct cursor *c, struct tern_bytes *b)
{
	uint16_t n;

	if (!get_u16(c, &n))
		return false;
	if (unlikely(left(c) < n))
		return false;
	b->p = c->p;
	b->len = n;
	c->p += n;
	return true;
}

/*
 * MQTT 3.1 (section 2.1) set DUP on retransmitted PUBREL, SUBSCRIBE and UNSUBSCRIBE,
 * which 3.1.1 (section 2.2.2) forbids; accept it only from level 3 clients.
 */
static bool header_flags_ok(unsigned type, unsigned flags, uint8_t level)
{
	switch (type) {
	case 0:
		return false; /* reserved */
	case TERN_PKT_AUTH:
		return level == TERN_PROTO_V5 && flags == 0;
	case TERN_PKT_PUBLISH: {
		unsigned qos = (flags >> 1) & 3;

		if (qos == 3)
			return false;
		/* MQTT-3.3.1-2: DUP must be 0 for QoS 0. */
		return !(qos == 0 && (flags & PUB_FLAG_DUP));
	}
	case TERN_PKT_PUBREL:
	case TERN_PKT_SUBSCRIBE:
	case TERN_PKT_UNSUBSCRIBE:
		return flags == 0x2 || (level == TERN_PROTO_V31 && flags == 0xA);
	default:
		return flags == 0;
	}
}

/*
 * Remaining length checks that need no body bytes, so that a peer announcing a huge
 * PINGREQ is refused at once instead of after we buffered it. Minimums are those of
 * the smallest well-formed packet of each type.
 */
static bool remaining_plausible_v5(unsigned type, unsigned flags, size_t rem)
{
	switch (type) {
	case TERN_PKT_CONNACK:
		return rem >= 3; /* flags, reason, property length */
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
	case TERN_PKT_PUBREL:
	case TERN_PKT_PUBCOMP:
		return rem >= 2;
	case TERN_PKT_PINGREQ:
	case TERN_PKT_PINGRESP:
		return rem == 0;
	case TERN_PKT_DISCONNECT:
	case TERN_PKT_AUTH:
		return true;
	case TERN_PKT_PUBLISH:
		/* topic length (the topic may be empty with an alias), properties, packet id */
		return rem >= (((flags >> 1) & 3) ? 5u : 3u);
	case TERN_PKT_SUBSCRIBE:
	case TERN_PKT_UNSUBSCRIBE:
		/* packet id, properties: no filter at all is a Protocol Error, found later */
		return rem >= 3;
	case TERN_PKT_SUBACK:
	case TERN_PKT_UNSUBACK:
		return rem >= 4;
	default:
		return false;
	}
}

static bool remaining_plausible(unsigned type, unsigned flags, uint8_t level, size_t rem)
{
	/* A CONNECT's level is in its body; its floor is the same for every level. */
	if (level == TERN_PROTO_V5 && type != TERN_PKT_CONNECT)
		return remaining_plausible_v5(type, flags, rem);
	switch (type) {
	case TERN_PKT_CONNACK:
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
	case TERN_PKT_PUBREL:
	case TERN_PKT_PUBCOMP:
	case TERN_PKT_UNSUBACK:
		return rem == 2;
	case TERN_PKT_PINGREQ:
	case TERN_PKT_PINGRESP:
	case TERN_PKT_DISCONNECT:
		return rem == 0;
	case TERN_PKT_PUBLISH:
		/* topic length + at least one topic byte + packet id when QoS > 0 */
		return rem >= (((flags >> 1) & 3) ? 5u : 3u);
	case TERN_PKT_SUBSCRIBE:
		return rem >= 6; /* packet id, one 1-byte filter, options */
	case TERN_PKT_UNSUBSCRIBE:
		return rem >= 5;
	case TERN_PKT_SUBACK:
		return rem >= 3;
	case TERN_PKT_CONNECT:
		/*
		 * Only the name and level are needed to answer an unsupported level, so
		 * the floor is a "MQTT" name and a level byte; decode_connect() checks the rest.
		 */
		return rem >= 7;
	default:
		return false;
	}
}

static int decode_connect(struct cursor *c, struct tern_connect *cn, struct tern_props *props)
{
	struct tern_bytes name;
	uint8_t level, flags;

	memset(cn, 0, sizeof(*cn));
	if (!get_bytes(c, &name) || !get_u8(c, &level))
		return -EPROTO;

	bool is_mqtt = name.len == 4 && memcmp(name.p, "MQTT", 4) == 0;
	bool is_isdp = name.len == 6 && memcmp(name.p, "MQIsdp", 6) == 0;

	if (!is_mqtt && !is_isdp)
		return -EPROTO;
	cn->proto_level = level;
	/*
	 * The rest of the packet may be in a layout we do not know, so stop here:
	 * the caller only needs the level to refuse it.
	 */
	if ((is_mqtt && level != TERN_PROTO_V311 && level != TERN_PROTO_V5) ||
	    (is_isdp && level != TERN_PROTO_V31)) {
		cn->unsupported_level = true;
		return 0;
	}

	bool v5 = level == TERN_PROTO_V5;

	if (!get_u8(c, &flags) || !get_u16(c, &cn->keepalive))
		return -EPROTO;
	if (flags & CONN_FLAG_RESERVED) /* MQTT-3.1.2-3 */
		return -EPROTO;
	cn->clean_session = flags & CONN_FLAG_CLEAN;
	cn->will = flags & CONN_FLAG_WILL;
	cn->will_qos = (flags & CONN_FLAG_WILL_QOS) >> 3;
	cn->will_retain = flags & CONN_FLAG_RETAIN;
	cn->has_password = flags & CONN_FLAG_PASSWORD;
	cn->has_username = flags & CONN_FLAG_USERNAME;
	/* MQTT-3.1.2-13/14/15: will QoS and retain are 0 without a will; QoS 3 is invalid. */
	if (!cn->will && (cn->will_qos || cn->will_retain))
		return -EPROTO;
	if (cn->will_qos == 3)
		return -EPROTO;
	/* MQTT-3.1.2-22; 5.0 allows a password alone. */
	if (!v5 && cn->has_password && !cn->has_username)
		return -EPROTO;
	if (v5 && get_props(c, TERN_PKT_CONNECT, props) < 0)
		return -EPROTO;

	if (!get_bytes(c, &cn->client_id) || !tern_utf8_valid(cn->client_id.p, cn->client_id.len))
		return -EPROTO;
	if (cn->will) {
		if (v5 && get_props(c, TERN_PROPS_CTX_WILL, &cn->will_props) < 0)
			return -EPROTO;
		if (!get_bytes(c, &cn->will_topic) ||
		    !tern_topic_name_valid(cn->will_topic.p, cn->will_topic.len))
			return -EPROTO;
		if (!get_bytes(c, &cn->will_payload))
			return -EPROTO;
	}
	if (cn->has_username &&
	    (!get_bytes(c, &cn->username) || !tern_utf8_valid(cn->username.p, cn->username.len)))
		return -EPROTO;
	if (cn->has_password && !get_bytes(c, &cn->password))
		return -EPROTO;
	return left(c) == 0 ? 0 : -EPROTO;
}

static int decode_publish(struct cursor *c, uint8_t flags, uint8_t level, struct tern_publish *p,
			  struct tern_props *props)
{
	p->qos = (flags >> 1) & 3;
	p->dup = flags & PUB_FLAG_DUP;
	p->retain = flags & PUB_FLAG_RETAIN;
	p->packet_id = 0;
	if (!get_bytes(c, &p->topic))
		return -EPROTO;
	/* 5.0 allows an empty topic when a topic alias stands for it (checked below). */
	if (!(level == TERN_PROTO_V5 && p->topic.len == 0) &&
	    !tern_topic_name_valid(p->topic.p, p->topic.len))
		return -EPROTO;
	if (p->qos > 0 && !get_u16(c, &p->packet_id))
		return -EPROTO;
	if (p->qos > 0 && p->packet_id == 0)
		return level == TERN_PROTO_V5 ? protocol_error(c) : -EPROTO;
	if (level == TERN_PROTO_V5) {
		if (get_props(c, TERN_PKT_PUBLISH, props) < 0)
			return -EPROTO;
		if (p->topic.len == 0 && !(props->present & TERN_PROP_BIT(TERN_PROP_TOPIC_ALIAS)))
			return protocol_error(c);
	}
	p->payload.p = c->p;
	p->payload.len = left(c);
	return 0;
}

/* A 5.0 options byte: reserved bits are Malformed, Retain Handling 3 a Protocol Error. */
static int check_options_v5(struct cursor *c, uint8_t opt)
{
	if ((opt & 0xC0) || (opt & TERN_SUBOPT_QOS_MASK) == 3)
		return -EPROTO;
	if (TERN_SUBOPT_RETAIN_HANDLING(opt) == 3)
		return protocol_error(c);
	return 0;
}

static int decode_sub_list(struct cursor *c, bool with_options, uint8_t level,
			   struct tern_sub_list *s, struct tern_props *props)
{
	bool v5 = level == TERN_PROTO_V5;

	if (!get_u16(c, &s->packet_id))
		return -EPROTO;
	if (s->packet_id == 0)
		return v5 ? protocol_error(c) : -EPROTO;
	if (v5 && get_props(c, with_options ? TERN_PKT_SUBSCRIBE : TERN_PKT_UNSUBSCRIBE, props) < 0)
		return -EPROTO;
	s->entries.p = c->p;
	s->entries.len = left(c);
	s->count = 0;
	while (left(c) > 0) {
		struct tern_bytes f;

		if (!get_bytes(c, &f) || !tern_topic_filter_valid(f.p, f.len))
			return -EPROTO;
		if (with_options) {
			uint8_t opt;

			if (!get_u8(c, &opt))
				return -EPROTO;
			if (v5 && check_options_v5(c, opt) < 0)
				return -EPROTO;
			/* 3.1.1 section 3.8.3.1: reserved bits 2-7 are 0, QoS 3 is invalid. */
			if (!v5 && ((opt & 0xFC) || (opt & 3) == 3))
				return -EPROTO;
		}
		s->count++;
	}
	/* MQTT-3.8.3-3, MQTT-3.10.3-2: at least one filter (5.0: a Protocol Error). */
	if (s->count == 0)
		return v5 ? protocol_error(c) : -EPROTO;
	return 0;
}

/* Reason codes each 5.0 packet type defines (sections 3.2.2.2 to 3.15.2.1). */
static bool reason_defined(unsigned type, uint8_t rc)
{
	static const uint8_t connack[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
					  0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
					  0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
	static const uint8_t puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
	static const uint8_t pubrel[] = {0x00, 0x92};
	static const uint8_t suback[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
					 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
	static const uint8_t unsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
	static const uint8_t disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89,
					     0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
					     0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D,
					     0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
	static const uint8_t auth[] = {0x00, 0x18, 0x19};
	const uint8_t *set;
	size_t n;

#define SET(a) (set = (a), n = sizeof(a))
	switch (type) {
	case TERN_PKT_CONNACK:
		SET(connack);
		break;
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
		SET(puback);
		break;
	case TERN_PKT_PUBREL:
	case TERN_PKT_PUBCOMP:
		SET(pubrel);
		break;
	case TERN_PKT_SUBACK:
		SET(suback);
		break;
	case TERN_PKT_UNSUBACK:
		SET(unsuback);
		break;
	case TERN_PKT_DISCONNECT:
		SET(disconnect);
		break;
	case TERN_PKT_AUTH:
		SET(auth);
		break;
	default:
		return false;
	}
#undef SET
	return memchr(set, rc, n) != NULL;
}

/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP. Before 5.0 the length was checked to be 2;
 * in 5.0 the reason code and then the properties may follow.
 */
static int decode_ack(struct cursor *c, unsigned type, uint8_t level, struct tern_ack *a,
		      struct tern_props *props)
{
	a->reason = TERN_RC_SUCCESS;
	if (!get_u16(c, &a->packet_id))
		return -EPROTO;
	if (a->packet_id == 0)
		return level == TERN_PROTO_V5 ? protocol_error(c) : -EPROTO;
	if (left(c) == 0)
		return 0;
	if (!get_u8(c, &a->reason))
		return -EPROTO;
	if (!reason_defined(type, a->reason))
		return protocol_error(c);
	if (left(c) > 0 && get_props(c, type, props) < 0)
		return -EPROTO;
	return left(c) == 0 ? 0 : -EPROTO;
}

/* DISCONNECT and AUTH of 5.0: everything after the fixed header is optional. */
static int decode_status(struct cursor *c, unsigned type, struct tern_status *st,
			 struct tern_props *props)
{
	st->reason = TERN_RC_SUCCESS;
	if (left(c) == 0)
		return 0;
	if (!get_u8(c, &st->reason))
		return -EPROTO;
	if (!reason_defined(type, st->reason))
		return protocol_error(c);
	if (left(c) > 0 && get_props(c, type, props) < 0)
		return -EPROTO;
	return left(c) == 0 ? 0 : -EPROTO;
}

/* SUBACK, and UNSUBACK of 5.0; UNSUBACK of 3.1.1 is a packet id alone. */
static int decode_suback(struct cursor *c, unsigned type, uint8_t level, struct tern_suback *s,
			 struct tern_props *props)
{
	bool v5 = level == TERN_PROTO_V5;

	if (!get_u16(c, &s->packet_id))
		return -EPROTO;
	if (s->packet_id == 0)
		return v5 ? protocol_error(c) : -EPROTO;
	if (v5 && get_props(c, type, props) < 0)
		return -EPROTO;
	s->codes.p = c->p;
	s->codes.len = left(c);
	c->p = c->end;
	if (!v5 && type == TERN_PKT_UNSUBACK)
		return 0; /* remaining_plausible() has checked the length is exactly 2 */
	if (s->codes.len == 0)
		return v5 ? protocol_error(c) : -EPROTO;
	for (size_t i = 0; i < s->codes.len; i++) {
		uint8_t rc = s->codes.p[i];
		bool ok = v5 ? reason_defined(type, rc) : rc <= 2 || rc == TERN_SUBACK_FAILURE;

		if (!ok)
			return v5 ? protocol_error(c) : -EPROTO;
	}
	return 0;
}

static int decode_connack(struct cursor *c, uint8_t level, struct tern_connack *ca,
			  struct tern_props *props)
{
	uint8_t ack, rc;
	bool v5 = level == TERN_PROTO_V5;

	if (!get_u8(c, &ack) || !get_u8(c, &rc))
		return -EPROTO;
	/* In 3.1 the first byte is unused; 3.1.1 defines bit 0 and reserves the rest. */
	if (level == TERN_PROTO_V31)
		ack = 0;
	if (ack & 0xFE)
		return -EPROTO;
	if (v5 ? !reason_defined(TERN_PKT_CONNACK, rc) : rc > TERN_CONNACK_NOT_AUTHORIZED)
		return v5 ? protocol_error(c) : -EPROTO;
	ca->session_present = ack & 1;
	/* MQTT-3.2.2-4 (5.0: MQTT-3.2.2-6): no session present with a refusal. */
	if (rc != TERN_CONNACK_ACCEPTED && ca->session_present)
		return v5 ? protocol_error(c) : -EPROTO;
	ca->rc = rc;
	if (v5 && get_props(c, TERN_PKT_CONNACK, props) < 0)
		return -EPROTO;
	return left(c) == 0 ? 0 : -EPROTO;
}

/* The level a packet is read with: a CONNECT says its own. */
static uint8_t connect_level(const uint8_t *body, size_t rem)
{
	/* Name length (2), "MQTT" (4), level: only the 5.0 layout differs before it is read. */
	if (rem >= 7 && body[0] == 0 && body[1] == 4 && memcmp(body + 2, "MQTT", 4) == 0)
		return body[6];
	return 0;
}

ssize_t tern_codec_decode(const uint8_t *buf, size_t len, uint8_t proto_level, size_t max_packet,
			  struct tern_packet *pkt)
{
	pkt->error_reason = TERN_RC_MALFORMED_PACKET;
	if (len < 1)
		return -EAGAIN;

	unsigned type = buf[0] >> 4;
	unsigned flags = buf[0] & 0x0F;

	if (unlikely(!header_flags_ok(type, flags, proto_level)))
		return -EPROTO;

	size_t rem = 0, hdr = 1;

	for (;;) {
		if (hdr >= len)
			return -EAGAIN;

		uint8_t b = buf[hdr];

		rem |= (size_t)(b & 0x7F) << (7 * (hdr - 1));
		hdr++;
		if (!(b & 0x80))
			break;
		if (unlikely(hdr == TERN_CODEC_FIXED_HDR_MAX))
			return -EPROTO;
	}

	size_t total = hdr + rem;

	if (max_packet != 0 && total > max_packet)
		return -EMSGSIZE;
	if (unlikely(!remaining_plausible(type, flags, proto_level, rem)))
		return -EPROTO;
	if (len - hdr < rem)
		return -EAGAIN;

	struct cursor c = {buf + hdr, buf + total, TERN_RC_MALFORMED_PACKET};
	uint8_t level = type == TERN_PKT_CONNECT ? connect_level(c.p, rem) : proto_level;
	int rc = 0;

	pkt->type = (enum tern_pkt_type)type;
	pkt->flags = (uint8_t)flags;
	pkt->props.present = 0;
	pkt->props.raw.len = 0;
	switch (type) {
	case TERN_PKT_CONNECT:
		rc = decode_connect(&c, &pkt->connect, &pkt->props);
		break;
	case TERN_PKT_CONNACK:
		rc = decode_connack(&c, level, &pkt->connack, &pkt->props);
		break;
	case TERN_PKT_PUBLISH:
		rc = decode_publish(&c, (uint8_t)flags, level, &pkt->publish, &pkt->props);
		break;
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
	case TERN_PKT_PUBREL:
	case TERN_PKT_PUBCOMP:
		rc = decode_ack(&c, type, level, &pkt->ack, &pkt->props);
		break;
	case TERN_PKT_SUBSCRIBE:
		rc = decode_sub_list(&c, true, level, &pkt->subscribe, &pkt->props);
		break;
	case TERN_PKT_UNSUBSCRIBE:
		rc = decode_sub_list(&c, false, level, &pkt->subscribe, &pkt->props);
		break;
	case TERN_PKT_SUBACK:
	case TERN_PKT_UNSUBACK:
		rc = decode_suback(&c, type, level, &pkt->suback, &pkt->props);
		break;
	case TERN_PKT_DISCONNECT:
	case TERN_PKT_AUTH:
		if (level == TERN_PROTO_V5)
			rc = decode_status(&c, type, &pkt->status, &pkt->props);
		else
			pkt->status.reason = TERN_RC_SUCCESS;
		break;
	default: /* PINGREQ, PINGRESP: empty, length checked above */
		break;
	}
	if (unlikely(rc < 0)) {
		pkt->error_reason = c.reason;
		return rc;
	}
	return (ssize_t)total;
}

void tern_codec_filter_iter_init(struct tern_filter_iter *it, const struct tern_packet *pkt)
{
	it->p = pkt->subscribe.entries.p;
	it->end = it->p + pkt->subscribe.entries.len;
	it->with_options = pkt->type == TERN_PKT_SUBSCRIBE;
}

bool tern_codec_filter_next(struct tern_filter_iter *it, struct tern_bytes *filter,
			    uint8_t *options)
{
	if (it->p >= it->end)
		return false;
	filter->len = (size_t)((it->p[0] << 8) | it->p[1]);
	filter->p = it->p + 2;
	it->p += 2 + filter->len;
	if (it->with_options) {
		if (options)
			*options = *it->p;
		it->p++;
	} else if (options) {
		*options = 0;
	}
	return true;
}

/* ---- encoders ---- */

/*
 * Total size of a packet with this remaining length, or 0 when it is over the
 * protocol maximum or over cap.
 */
static size_t packet_size(size_t rem, size_t cap)
{
	if (rem > TERN_CODEC_MAX_REMAINING)
		return 0;

	size_t total = 1 + tern_varint_size((uint32_t)rem) + rem;

	return total <= cap ? total : 0;
}

/* Caller has checked rem <= TERN_CODEC_MAX_REMAINING. */
static uint8_t *put_header(uint8_t *p, uint8_t byte0, size_t rem)
{
	*p++ = byte0;
	return p + tern_varint_put(p, (uint32_t)rem);
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

/* Caller has checked b->len <= 65535. */
static uint8_t *put_bytes(uint8_t *p, const struct tern_bytes *b)
{
	p = put_u16(p, (uint16_t)b->len);
	if (b->len)
		memcpy(p, b->p, b->len);
	return p + b->len;
}

/* Wire size of a 5.0 property block (NULL = empty), or SIZE_MAX when too long. */
static size_t props_size(const struct tern_bytes *props)
{
	size_t len = props ? props->len : 0;

	return len <= TERN_CODEC_MAX_REMAINING ? tern_props_block_size(len) : SIZE_MAX;
}

/* Grow a remaining length by a 5.0 property block; false when it cannot be encoded. */
static bool add_props(size_t *rem, const struct tern_bytes *props)
{
	size_t ps = props_size(props);

	if (ps == SIZE_MAX)
		return false;
	*rem += ps;
	return true;
}

/* packet_size() with a property block when with_props; 0 also when the block is too long. */
static size_t packet_size_props(size_t *rem, bool with_props, const struct tern_bytes *props,
				size_t cap)
{
	if (with_props && !add_props(rem, props))
		return 0;
	return packet_size(*rem, cap);
}

static uint8_t *put_props(uint8_t *p, const struct tern_bytes *props)
{
	size_t len = props ? props->len : 0;

	p += tern_varint_put(p, (uint32_t)len);
	if (len)
		memcpy(p, props->p, len);
	return p + len;
}

size_t tern_codec_encode_connect(uint8_t *buf, size_t cap, const struct tern_connect *c,
				 const struct tern_bytes *props)
{
	bool v5 = c->proto_level == TERN_PROTO_V5;
	static const struct tern_bytes name_isdp = {(const uint8_t *)"MQIsdp", 6};
	static const struct tern_bytes name_mqtt = {(const uint8_t *)"MQTT", 4};
	const struct tern_bytes *name = c->proto_level == TERN_PROTO_V31 ? &name_isdp : &name_mqtt;
	size_t rem = 2 + name->len + 1 + 1 + 2;
	uint8_t flags = 0;

	if (c->client_id.len > U16_MAX_LEN)
		return 0;
	rem += 2 + c->client_id.len;
	if (v5 && !add_props(&rem, props))
		return 0;
	if (c->will) {
		if (c->will_topic.len > U16_MAX_LEN || c->will_payload.len > U16_MAX_LEN)
			return 0;
		rem += 4 + c->will_topic.len + c->will_payload.len;
		if (v5 && !add_props(&rem, &c->will_props.raw))
			return 0;
	}
	if (c->has_username) {
		if (c->username.len > U16_MAX_LEN)
			return 0;
		rem += 2 + c->username.len;
	}
	if (c->has_password) {
		if (c->password.len > U16_MAX_LEN)
			return 0;
		rem += 2 + c->password.len;
	}

	size_t total = packet_size(rem, cap);

	if (total == 0)
		return 0;
	if (c->clean_session)
		flags |= CONN_FLAG_CLEAN;
	if (c->will)
		flags |= CONN_FLAG_WILL;
	flags |= (uint8_t)((c->will_qos & 3) << 3);
	if (c->will_retain)
		flags |= CONN_FLAG_RETAIN;
	if (c->has_password)
		flags |= CONN_FLAG_PASSWORD;
	if (c->has_username)
		flags |= CONN_FLAG_USERNAME;

	uint8_t *p = put_header(buf, TERN_PKT_CONNECT << 4, rem);

	p = put_bytes(p, name);
	*p++ = c->proto_level;
	*p++ = flags;
	p = put_u16(p, c->keepalive);
	if (v5)
		p = put_props(p, props);
	p = put_bytes(p, &c->client_id);
	if (c->will) {
		if (v5)
			p = put_props(p, &c->will_props.raw);
		p = put_bytes(p, &c->will_topic);
		p = put_bytes(p, &c->will_payload);
	}
	if (c->has_username)
		p = put_bytes(p, &c->username);
	if (c->has_password)
		p = put_bytes(p, &c->password);
	return total;
}

/* ---- encoders shared by 3.1.1 and 5.0: props is NULL for the older levels ---- */

static size_t encode_connack(uint8_t *buf, size_t cap, bool v5, bool session_present, uint8_t rc,
			     const struct tern_bytes *props)
{
	size_t rem = 2;

	size_t total = packet_size_props(&rem, v5, props, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, TERN_PKT_CONNACK << 4, rem);

	*p++ = session_present ? 1 : 0;
	*p++ = rc;
	if (v5)
		put_props(p, props);
	return total;
}

size_t tern_codec_encode_connack(uint8_t *buf, size_t cap, bool session_present, uint8_t rc)
{
	return encode_connack(buf, cap, false, session_present, rc, NULL);
}

size_t tern_codec_encode_connack5(uint8_t *buf, size_t cap, bool session_present, uint8_t reason,
				  const struct tern_bytes *props)
{
	return encode_connack(buf, cap, true, session_present, reason, props);
}

static uint8_t publish_byte0(uint8_t qos, bool dup, bool retain)
{
	return (uint8_t)((TERN_PKT_PUBLISH << 4) | (dup ? PUB_FLAG_DUP : 0) | ((qos & 3) << 1) |
			 (retain ? PUB_FLAG_RETAIN : 0));
}

/* Remaining length of a PUBLISH, or SIZE_MAX when it cannot be encoded. */
static size_t publish_remaining(uint8_t qos, size_t topic_len, size_t payload_len)
{
	if (qos > 2 || topic_len > U16_MAX_LEN || payload_len > TERN_CODEC_MAX_REMAINING)
		return SIZE_MAX;

	size_t rem = 2 + topic_len + (qos ? 2 : 0) + payload_len;

	return rem <= TERN_CODEC_MAX_REMAINING ? rem : SIZE_MAX;
}

static size_t encode_publish(uint8_t *buf, size_t cap, bool v5, const struct tern_publish *pb,
			     const struct tern_bytes *props)
{
	size_t rem = publish_remaining(pb->qos, pb->topic.len, pb->payload.len);

	if (rem == SIZE_MAX)
		return 0;
	size_t total = packet_size_props(&rem, v5, props, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, publish_byte0(pb->qos, pb->dup, pb->retain), rem);

	p = put_bytes(p, &pb->topic);
	if (pb->qos)
		p = put_u16(p, pb->packet_id);
	if (v5)
		p = put_props(p, props);
	if (pb->payload.len)
		memcpy(p, pb->payload.p, pb->payload.len);
	return total;
}

size_t tern_codec_encode_publish(uint8_t *buf, size_t cap, const struct tern_publish *pb)
{
	return encode_publish(buf, cap, false, pb, NULL);
}

size_t tern_codec_encode_publish5(uint8_t *buf, size_t cap, const struct tern_publish *pb,
				  const struct tern_bytes *props)
{
	return encode_publish(buf, cap, true, pb, props);
}

/* Fixed header flags of an ack type, or -1 when the type is not an ack. */
static int ack_flags(enum tern_pkt_type type, bool allow_unsuback)
{
	switch (type) {
	case TERN_PKT_PUBREL:
		return 0x2;
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
	case TERN_PKT_PUBCOMP:
		return 0;
	case TERN_PKT_UNSUBACK:
		return allow_unsuback ? 0 : -1;
	default:
		return -1;
	}
}

/*
 * A packet id, then (5.0) an optional reason code and property block: the
 * short forms leave out what is 0 or empty at the end.
 */
static size_t encode_ack(uint8_t *buf, size_t cap, uint8_t byte0, uint16_t packet_id, bool v5,
			 uint8_t reason, const struct tern_bytes *props)
{
	bool has_props = v5 && props && props->len;
	bool has_reason = v5 && (reason != TERN_RC_SUCCESS || has_props);
	size_t rem = 2 + (has_reason ? 1 : 0);

	size_t total = packet_size_props(&rem, has_props, props, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, byte0, rem);

	p = put_u16(p, packet_id);
	if (has_reason)
		*p++ = reason;
	if (has_props)
		put_props(p, props);
	return total;
}

size_t tern_codec_encode_ack(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id)
{
	int flags = ack_flags(type, true);

	if (flags < 0)
		return 0;
	return encode_ack(buf, cap, (uint8_t)((type << 4) | flags), packet_id, false, 0, NULL);
}

size_t tern_codec_encode_ack5(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id,
			      uint8_t reason, const struct tern_bytes *props)
{
	int flags = ack_flags(type, false);

	if (flags < 0)
		return 0;
	return encode_ack(buf, cap, (uint8_t)((type << 4) | flags), packet_id, true, reason, props);
}

static size_t encode_sub_list(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id,
			      bool v5, const struct tern_bytes *props,
			      const struct tern_bytes *filters, const uint8_t *options,
			      size_t count)
{
	bool with_options = type == TERN_PKT_SUBSCRIBE;
	size_t rem = 2;

	if (type != TERN_PKT_SUBSCRIBE && type != TERN_PKT_UNSUBSCRIBE)
		return 0;
	if (with_options && count > 0 && !options)
		return 0;
	if (v5 && !add_props(&rem, props))
		return 0;
	for (size_t i = 0; i < count; i++) {
		if (filters[i].len > U16_MAX_LEN)
			return 0;
		rem += 2 + filters[i].len + (with_options ? 1 : 0);
		/* checked each step, so the sum cannot wrap */
		if (rem > TERN_CODEC_MAX_REMAINING)
			return 0;
	}

	size_t total = packet_size(rem, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, (uint8_t)((type << 4) | 0x2), rem);

	p = put_u16(p, packet_id);
	if (v5)
		p = put_props(p, props);
	for (size_t i = 0; i < count; i++) {
		p = put_bytes(p, &filters[i]);
		if (with_options)
			*p++ = options[i];
	}
	return total;
}

size_t tern_codec_encode_sub_list(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				  uint16_t packet_id, const struct tern_bytes *filters,
				  const uint8_t *options, size_t count)
{
	return encode_sub_list(buf, cap, type, packet_id, false, NULL, filters, options, count);
}

size_t tern_codec_encode_sub_list5(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				   uint16_t packet_id, const struct tern_bytes *props,
				   const struct tern_bytes *filters, const uint8_t *options,
				   size_t count)
{
	return encode_sub_list(buf, cap, type, packet_id, true, props, filters, options, count);
}

static size_t encode_suback(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id,
			    bool v5, const struct tern_bytes *props, const uint8_t *codes,
			    size_t count)
{
	size_t rem = 2;

	if (type != TERN_PKT_SUBACK && type != TERN_PKT_UNSUBACK)
		return 0;
	if (v5 && !add_props(&rem, props))
		return 0;
	if (count > TERN_CODEC_MAX_REMAINING - rem)
		return 0;
	rem += count;

	size_t total = packet_size(rem, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, (uint8_t)(type << 4), rem);

	p = put_u16(p, packet_id);
	if (v5)
		p = put_props(p, props);
	if (count)
		memcpy(p, codes, count);
	return total;
}

size_t tern_codec_encode_suback(uint8_t *buf, size_t cap, uint16_t packet_id, const uint8_t *codes,
				size_t count)
{
	return encode_suback(buf, cap, TERN_PKT_SUBACK, packet_id, false, NULL, codes, count);
}

size_t tern_codec_encode_suback5(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				 uint16_t packet_id, const struct tern_bytes *props,
				 const uint8_t *codes, size_t count)
{
	return encode_suback(buf, cap, type, packet_id, true, props, codes, count);
}

size_t tern_codec_encode_empty(uint8_t *buf, size_t cap, enum tern_pkt_type type)
{
	if (type != TERN_PKT_PINGREQ && type != TERN_PKT_PINGRESP && type != TERN_PKT_DISCONNECT)
		return 0;
	if (cap < 2)
		return 0;
	buf[0] = (uint8_t)(type << 4);
	buf[1] = 0;
	return 2;
}

size_t tern_codec_encode_status5(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint8_t reason,
				 const struct tern_bytes *props)
{
	bool has_props = props && props->len;
	size_t rem = 0;

	if (type != TERN_PKT_DISCONNECT && type != TERN_PKT_AUTH)
		return 0;
	if (reason != TERN_RC_SUCCESS || has_props)
		rem = 1;
	size_t total = packet_size_props(&rem, has_props, props, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, (uint8_t)(type << 4), rem);

	if (rem)
		*p++ = reason;
	if (has_props)
		put_props(p, props);
	return total;
}

size_t tern_codec_encode_publish_fixed(uint8_t hdr[TERN_CODEC_FIXED_HDR_MAX], uint8_t qos, bool dup,
				       bool retain, size_t topic_len, size_t payload_len)
{
	size_t rem = publish_remaining(qos, topic_len, payload_len);

	if (rem == SIZE_MAX)
		return 0;
	return (size_t)(put_header(hdr, publish_byte0(qos, dup, retain), rem) - hdr);
}

size_t tern_codec_publish_size(uint8_t qos, size_t topic_len, size_t payload_len)
{
	size_t rem = publish_remaining(qos, topic_len, payload_len);

	if (rem == SIZE_MAX)
		return 0;
	return 1 + tern_varint_size((uint32_t)rem) + rem;
}

const char *tern_codec_type_name(unsigned type)
{
	static const char *const names[16] = {
	    [TERN_PKT_CONNECT] = "CONNECT",   [TERN_PKT_CONNACK] = "CONNACK",
	    [TERN_PKT_PUBLISH] = "PUBLISH",   [TERN_PKT_PUBACK] = "PUBACK",
	    [TERN_PKT_PUBREC] = "PUBREC",     [TERN_PKT_PUBREL] = "PUBREL",
	    [TERN_PKT_PUBCOMP] = "PUBCOMP",   [TERN_PKT_SUBSCRIBE] = "SUBSCRIBE",
	    [TERN_PKT_SUBACK] = "SUBACK",     [TERN_PKT_UNSUBSCRIBE] = "UNSUBSCRIBE",
	    [TERN_PKT_UNSUBACK] = "UNSUBACK", [TERN_PKT_PINGREQ] = "PINGREQ",
	    [TERN_PKT_PINGRESP] = "PINGRESP", [TERN_PKT_DISCONNECT] = "DISCONNECT",
	    [TERN_PKT_AUTH] = "AUTH",
	};

	if (type < 16 && names[type])
		return names[type];
	return "RESERVED";
}
