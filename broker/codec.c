/* SPDX-License-Identifier: MIT */
/*
 * MQTT 3.1 / 3.1.1 codec. The decoder validates the fixed header as soon as its bytes
 * arrive (so garbage is rejected before its body is buffered), then reads the body with
 * a bounds-checked cursor that never looks past the remaining length. Decoded strings
 * point into the caller's buffer. Encoders size the packet first, then write unchecked.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "broker/codec.h"
#include "broker/topic.h"
#include "broker/utf8.h"

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

/* Bounds-checked reader over one packet body. */
struct cursor {
	const uint8_t *p;
	const uint8_t *end;
};

static size_t left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
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
static bool remaining_plausible(unsigned type, unsigned flags, size_t rem)
{
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

static int decode_connect(struct cursor *c, struct tern_connect *cn)
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
	 * The rest of the packet may be in a layout we do not know (v5 properties), so
	 * stop here: the caller only needs the level to answer CONNACK 1.
	 */
	if ((is_mqtt && level != TERN_PROTO_V311) || (is_isdp && level != TERN_PROTO_V31)) {
		cn->unsupported_level = true;
		return 0;
	}

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
	if (cn->has_password && !cn->has_username) /* MQTT-3.1.2-22 */
		return -EPROTO;

	if (!get_bytes(c, &cn->client_id) || !tern_utf8_valid(cn->client_id.p, cn->client_id.len))
		return -EPROTO;
	if (cn->will) {
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

static int decode_publish(struct cursor *c, uint8_t flags, struct tern_publish *p)
{
	p->qos = (flags >> 1) & 3;
	p->dup = flags & PUB_FLAG_DUP;
	p->retain = flags & PUB_FLAG_RETAIN;
	p->packet_id = 0;
	if (!get_bytes(c, &p->topic) || !tern_topic_name_valid(p->topic.p, p->topic.len))
		return -EPROTO;
	if (p->qos > 0 && (!get_u16(c, &p->packet_id) || p->packet_id == 0))
		return -EPROTO;
	p->payload.p = c->p;
	p->payload.len = left(c);
	return 0;
}

static int decode_sub_list(struct cursor *c, bool with_options, struct tern_sub_list *s)
{
	if (!get_u16(c, &s->packet_id) || s->packet_id == 0)
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

			/* 3.1.1 section 3.8.3.1: reserved bits 2-7 are 0, QoS 3 is invalid. */
			if (!get_u8(c, &opt) || (opt & 0xFC) || (opt & 3) == 3)
				return -EPROTO;
		}
		s->count++;
	}
	/* MQTT-3.8.3-3, MQTT-3.10.3-2: at least one filter. */
	return s->count > 0 ? 0 : -EPROTO;
}

static int decode_suback(struct cursor *c, struct tern_suback *s)
{
	if (!get_u16(c, &s->packet_id) || s->packet_id == 0)
		return -EPROTO;
	s->codes.p = c->p;
	s->codes.len = left(c);
	if (s->codes.len == 0)
		return -EPROTO;
	for (size_t i = 0; i < s->codes.len; i++) {
		uint8_t rc = s->codes.p[i];

		if (rc > 2 && rc != TERN_SUBACK_FAILURE)
			return -EPROTO;
	}
	return 0;
}

static int decode_connack(struct cursor *c, uint8_t level, struct tern_connack *ca)
{
	uint8_t ack, rc;

	if (!get_u8(c, &ack) || !get_u8(c, &rc))
		return -EPROTO;
	/* In 3.1 the first byte is unused; 3.1.1 defines bit 0 and reserves the rest. */
	if (level == TERN_PROTO_V31)
		ack = 0;
	if (ack & 0xFE)
		return -EPROTO;
	if (rc > TERN_CONNACK_NOT_AUTHORIZED)
		return -EPROTO;
	ca->session_present = ack & 1;
	/* MQTT-3.2.2-4: no session present with a refusal. */
	if (rc != TERN_CONNACK_ACCEPTED && ca->session_present)
		return -EPROTO;
	ca->rc = rc;
	return 0;
}

ssize_t tern_codec_decode(const uint8_t *buf, size_t len, uint8_t proto_level, size_t max_packet,
			  struct tern_packet *pkt)
{
	if (len < 1)
		return -EAGAIN;

	unsigned type = buf[0] >> 4;
	unsigned flags = buf[0] & 0x0F;

	/* Type 0 is reserved; AUTH (15) exists only in v5, which this codec does not speak. */
	if (unlikely(type == 0 || type == TERN_PKT_AUTH))
		return -EPROTO;
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
	if (unlikely(!remaining_plausible(type, flags, rem)))
		return -EPROTO;
	if (len - hdr < rem)
		return -EAGAIN;

	struct cursor c = {buf + hdr, buf + total};
	int rc = 0;

	pkt->type = (enum tern_pkt_type)type;
	pkt->flags = (uint8_t)flags;
	switch (type) {
	case TERN_PKT_CONNECT:
		rc = decode_connect(&c, &pkt->connect);
		break;
	case TERN_PKT_CONNACK:
		rc = decode_connack(&c, proto_level, &pkt->connack);
		break;
	case TERN_PKT_PUBLISH:
		rc = decode_publish(&c, (uint8_t)flags, &pkt->publish);
		break;
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
	case TERN_PKT_PUBREL:
	case TERN_PKT_PUBCOMP:
	case TERN_PKT_UNSUBACK:
		/* remaining_plausible() has checked the length is exactly 2 */
		pkt->ack.packet_id = (uint16_t)((c.p[0] << 8) | c.p[1]);
		if (pkt->ack.packet_id == 0)
			rc = -EPROTO;
		break;
	case TERN_PKT_SUBSCRIBE:
		rc = decode_sub_list(&c, true, &pkt->subscribe);
		break;
	case TERN_PKT_UNSUBSCRIBE:
		rc = decode_sub_list(&c, false, &pkt->subscribe);
		break;
	case TERN_PKT_SUBACK:
		rc = decode_suback(&c, &pkt->suback);
		break;
	default: /* PINGREQ, PINGRESP, DISCONNECT: empty, length checked above */
		break;
	}
	if (unlikely(rc < 0))
		return rc;
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

static size_t varint_size(size_t rem)
{
	if (rem < 128)
		return 1;
	if (rem < 16384)
		return 2;
	if (rem < 2097152)
		return 3;
	return 4;
}

/*
 * Total size of a packet with this remaining length, or 0 when it is over the
 * protocol maximum or over cap.
 */
static size_t packet_size(size_t rem, size_t cap)
{
	if (rem > TERN_CODEC_MAX_REMAINING)
		return 0;

	size_t total = 1 + varint_size(rem) + rem;

	return total <= cap ? total : 0;
}

static uint8_t *put_header(uint8_t *p, uint8_t byte0, size_t rem)
{
	*p++ = byte0;
	do {
		uint8_t b = rem & 0x7F;

		rem >>= 7;
		if (rem)
			b |= 0x80;
		*p++ = b;
	} while (rem);
	return p;
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

size_t tern_codec_encode_connect(uint8_t *buf, size_t cap, const struct tern_connect *c)
{
	static const struct tern_bytes name_isdp = {(const uint8_t *)"MQIsdp", 6};
	static const struct tern_bytes name_mqtt = {(const uint8_t *)"MQTT", 4};
	const struct tern_bytes *name = c->proto_level == TERN_PROTO_V31 ? &name_isdp : &name_mqtt;
	size_t rem = 2 + name->len + 1 + 1 + 2;
	uint8_t flags = 0;

	if (c->client_id.len > U16_MAX_LEN)
		return 0;
	rem += 2 + c->client_id.len;
	if (c->will) {
		if (c->will_topic.len > U16_MAX_LEN || c->will_payload.len > U16_MAX_LEN)
			return 0;
		rem += 4 + c->will_topic.len + c->will_payload.len;
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
	p = put_bytes(p, &c->client_id);
	if (c->will) {
		p = put_bytes(p, &c->will_topic);
		p = put_bytes(p, &c->will_payload);
	}
	if (c->has_username)
		p = put_bytes(p, &c->username);
	if (c->has_password)
		p = put_bytes(p, &c->password);
	return total;
}

size_t tern_codec_encode_connack(uint8_t *buf, size_t cap, bool session_present, uint8_t rc)
{
	if (cap < 4)
		return 0;
	buf[0] = TERN_PKT_CONNACK << 4;
	buf[1] = 2;
	buf[2] = session_present ? 1 : 0;
	buf[3] = rc;
	return 4;
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

size_t tern_codec_encode_publish(uint8_t *buf, size_t cap, const struct tern_publish *pb)
{
	size_t rem = publish_remaining(pb->qos, pb->topic.len, pb->payload.len);

	if (rem == SIZE_MAX)
		return 0;

	size_t total = packet_size(rem, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, publish_byte0(pb->qos, pb->dup, pb->retain), rem);

	p = put_bytes(p, &pb->topic);
	if (pb->qos)
		p = put_u16(p, pb->packet_id);
	if (pb->payload.len)
		memcpy(p, pb->payload.p, pb->payload.len);
	return total;
}

size_t tern_codec_encode_ack(uint8_t *buf, size_t cap, enum tern_pkt_type type, uint16_t packet_id)
{
	uint8_t flags = 0;

	switch (type) {
	case TERN_PKT_PUBREL:
		flags = 0x2;
		break;
	case TERN_PKT_PUBACK:
	case TERN_PKT_PUBREC:
	case TERN_PKT_PUBCOMP:
	case TERN_PKT_UNSUBACK:
		break;
	default:
		return 0;
	}
	if (cap < 4)
		return 0;
	buf[0] = (uint8_t)((type << 4) | flags);
	buf[1] = 2;
	put_u16(buf + 2, packet_id);
	return 4;
}

size_t tern_codec_encode_sub_list(uint8_t *buf, size_t cap, enum tern_pkt_type type,
				  uint16_t packet_id, const struct tern_bytes *filters,
				  const uint8_t *options, size_t count)
{
	bool with_options = type == TERN_PKT_SUBSCRIBE;
	size_t rem = 2;

	if (type != TERN_PKT_SUBSCRIBE && type != TERN_PKT_UNSUBSCRIBE)
		return 0;
	if (with_options && count > 0 && !options)
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
	for (size_t i = 0; i < count; i++) {
		p = put_bytes(p, &filters[i]);
		if (with_options)
			*p++ = options[i];
	}
	return total;
}

size_t tern_codec_encode_suback(uint8_t *buf, size_t cap, uint16_t packet_id, const uint8_t *codes,
				size_t count)
{
	if (count > TERN_CODEC_MAX_REMAINING - 2)
		return 0;

	size_t rem = 2 + count;
	size_t total = packet_size(rem, cap);

	if (total == 0)
		return 0;

	uint8_t *p = put_header(buf, TERN_PKT_SUBACK << 4, rem);

	p = put_u16(p, packet_id);
	if (count)
		memcpy(p, codes, count);
	return total;
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
	return 1 + varint_size(rem) + rem;
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
