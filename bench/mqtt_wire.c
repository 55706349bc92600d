/* SPDX-License-Identifier: MIT */
/*
 * tern-bench MQTT client codec: encoders for CONNECT, SUBSCRIBE, PUBLISH, acks and
 * empty packets, and a decoder for broker-to-client packets of MQTT 3.1.1 and 5.0.
 * v5 properties are walked with a table of property types; only the few a benchmark
 * needs (Receive Maximum, Topic Alias Maximum, Topic Alias) are kept.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bench/mqtt_wire.h"

/* Length of a variable byte integer encoding n (n <= TB_MQTT_MAX_REMAINING). */
static size_t varint_len(size_t n)
{
	return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

static size_t put_varint(uint8_t *p, size_t n)
{
	size_t i = 0;
	do {
		uint8_t b = n & 0x7f;
		n >>= 7;
		p[i++] = b | (n ? 0x80 : 0);
	} while (n);
	return i;
}

/* Reads a variable byte integer: bytes used, -EAGAIN if cut short, -EPROTO if over 4 bytes. */
static int get_varint(const uint8_t *p, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	for (size_t i = 0; i < 4; i++) {
		if (i >= len)
			return -EAGAIN;
		v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*out = v;
			return (int)i + 1;
		}
	}
	return -EPROTO;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Writes type byte and remaining length; returns the header length. */
static size_t put_fixed(uint8_t *p, uint8_t first, size_t remaining)
{
	p[0] = first;
	return 1 + put_varint(p + 1, remaining);
}

size_t tb_mqtt_connect(uint8_t *buf, size_t cap, int version, const char *client_id,
		       uint16_t keepalive, uint16_t alias_max)
{
	size_t id_len = strlen(client_id);
	if (id_len > 65535)
		return 0;
	size_t props = 0;
	if (version == TB_MQTT_V5)
		props = 3 + (alias_max ? 3 : 0); /* Receive Maximum [+ Topic Alias Maximum] */
	size_t rem = 10 + (version == TB_MQTT_V5 ? varint_len(props) + props : 0) + 2 + id_len;
	if (1 + varint_len(rem) + rem > cap)
		return 0;
	size_t n = put_fixed(buf, TB_CONNECT << 4, rem);
	put16(buf + n, 4);
	memcpy(buf + n + 2, "MQTT", 4);
	n += 6;
	buf[n++] = (uint8_t)version;
	buf[n++] = 0x02; /* clean session / clean start */
	put16(buf + n, keepalive);
	n += 2;
	if (version == TB_MQTT_V5) {
		n += put_varint(buf + n, props);
		buf[n++] = 0x21;
		put16(buf + n, 65535);
		n += 2;
		if (alias_max) {
			buf[n++] = 0x22;
			put16(buf + n, alias_max);
			n += 2;
		}
	}
	put16(buf + n, (uint16_t)id_len);
	memcpy(buf + n + 2, client_id, id_len);
	return n + 2 + id_len;
}

size_t tb_mqtt_subscribe(uint8_t *buf, size_t cap, int version, uint16_t id,
			 const char *const *filters, size_t n, uint8_t qos)
{
	size_t rem = 2 + (version == TB_MQTT_V5 ? 1 : 0);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(filters[i]);
		if (l > 65535)
			return 0;
		rem += 2 + l + 1;
	}
	if (rem > TB_MQTT_MAX_REMAINING || 1 + varint_len(rem) + rem > cap)
		return 0;
	size_t o = put_fixed(buf, TB_SUBSCRIBE << 4 | 0x02, rem);
	put16(buf + o, id);
	o += 2;
	if (version == TB_MQTT_V5)
		buf[o++] = 0; /* no properties */
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(filters[i]);
		put16(buf + o, (uint16_t)l);
		memcpy(buf + o + 2, filters[i], l);
		o += 2 + l;
		buf[o++] = qos;
	}
	return o;
}

size_t tb_mqtt_publish_header(uint8_t *buf, size_t cap, int version, uint8_t qos, uint16_t id,
			      const char *topic, uint16_t topic_len, uint16_t alias,
			      size_t payload_len)
{
	size_t props = (version == TB_MQTT_V5 && alias) ? 3 : 0;
	size_t rem = 2 + topic_len + (qos ? 2 : 0) + payload_len;
	if (version == TB_MQTT_V5)
		rem += 1 + props;
	if (rem > TB_MQTT_MAX_REMAINING)
		return 0;
	size_t hdr = 1 + varint_len(rem) + rem - payload_len;
	if (hdr > cap)
		return 0;
	size_t o = put_fixed(buf, (uint8_t)(TB_PUBLISH << 4 | qos << 1), rem);
	put16(buf + o, topic_len);
	memcpy(buf + o + 2, topic, topic_len);
	o += 2 + topic_len;
	if (qos) {
		put16(buf + o, id);
		o += 2;
	}
	if (version == TB_MQTT_V5) {
		buf[o++] = (uint8_t)props;
		if (props) {
			buf[o++] = 0x23;
			put16(buf + o, alias);
			o += 2;
		}
	}
	return o;
}

size_t tb_mqtt_ack(uint8_t *buf, size_t cap, enum tb_mqtt_type type, uint16_t id)
{
	if (cap < 4)
		return 0;
	buf[0] = (uint8_t)(type << 4 | (type == TB_PUBREL ? 0x02 : 0));
	buf[1] = 2;
	put16(buf + 2, id);
	return 4;
}

size_t tb_mqtt_empty(uint8_t *buf, size_t cap, enum tb_mqtt_type type)
{
	if (cap < 2)
		return 0;
	buf[0] = (uint8_t)(type << 4);
	buf[1] = 0;
	return 2;
}

/*
 * Walks v5 properties in [p, end): keeps those pkt wants, checks every length.
 * Returns 0 or -EPROTO.
 */
static int parse_props(const uint8_t *p, const uint8_t *end, struct tb_mqtt_pkt *pkt)
{
	while (p < end) {
		uint8_t id = *p++;
		size_t left = (size_t)(end - p);
		switch (id) {
		case 0x01:
		case 0x17:
		case 0x19:
		case 0x24:
		case 0x25:
		case 0x28:
		case 0x29:
		case 0x2A:
			if (left < 1)
				return -EPROTO;
			p += 1;
			break;
		case 0x13:
		case 0x21:
		case 0x22:
		case 0x23:
			if (left < 2)
				return -EPROTO;
			if (id == 0x21)
				pkt->receive_max = get16(p);
			else if (id == 0x22)
				pkt->alias_max = get16(p);
			else if (id == 0x23)
				pkt->topic_alias = get16(p);
			p += 2;
			break;
		case 0x02:
		case 0x11:
		case 0x18:
		case 0x27:
			if (left < 4)
				return -EPROTO;
			p += 4;
			break;
		case 0x0B: {
			uint32_t v;
			int r = get_varint(p, left, &v);
			if (r < 0)
				return -EPROTO;
			p += r;
			break;
		}
		case 0x03:
		case 0x08:
		case 0x09:
		case 0x12:
		case 0x15:
		case 0x16:
		case 0x1A:
		case 0x1C:
		case 0x1F:
			if (left < 2 || left - 2 < get16(p))
				return -EPROTO;
			p += 2 + get16(p);
			break;
		case 0x26:
			for (int k = 0; k < 2; k++) {
				left = (size_t)(end - p);
				if (left < 2 || left - 2 < get16(p))
					return -EPROTO;
				p += 2 + get16(p);
			}
			break;
		default:
			return -EPROTO;
		}
	}
	return 0;
}

/* Reads a v5 property block at *p (length then properties) and advances *p past it. */
static int props_block(const uint8_t **p, const uint8_t *end, struct tb_mqtt_pkt *pkt)
{
	uint32_t plen;
	int r = get_varint(*p, (size_t)(end - *p), &plen);
	if (r < 0)
		return -EPROTO;
	*p += r;
	if ((size_t)(end - *p) < plen)
		return -EPROTO;
	r = parse_props(*p, *p + plen, pkt);
	*p += plen;
	return r;
}

ssize_t tb_mqtt_decode(const uint8_t *buf, size_t len, int version, size_t max_len,
		       struct tb_mqtt_pkt *pkt)
{
	if (len < 2)
		return -EAGAIN;
	uint32_t rem;
	int vl = get_varint(buf + 1, len - 1, &rem);
	if (vl < 0)
		return vl;
	size_t total = 1 + (size_t)vl + rem;
	if (total > max_len)
		return -EMSGSIZE;
	if (total > len)
		return -EAGAIN;

	memset(pkt, 0, sizeof(*pkt));
	pkt->type = buf[0] >> 4;
	pkt->flags = buf[0] & 0x0f;
	pkt->wire_len = total;
	const uint8_t *p = buf + 1 + vl;
	const uint8_t *end = buf + total;
	bool v5 = version == TB_MQTT_V5;

	switch (pkt->type) {
	case TB_CONNACK:
		if (rem < 2)
			return -EPROTO;
		pkt->session_present = p[0] & 1;
		pkt->rc = p[1];
		p += 2;
		if (v5 && p < end && props_block(&p, end, pkt) < 0)
			return -EPROTO;
		break;
	case TB_PUBLISH: {
		pkt->qos = (pkt->flags >> 1) & 3;
		pkt->dup = pkt->flags & 8;
		pkt->retain = pkt->flags & 1;
		if (pkt->qos == 3 || rem < 2)
			return -EPROTO;
		uint16_t tl = get16(p);
		p += 2;
		if ((size_t)(end - p) < tl)
			return -EPROTO;
		pkt->topic = tl ? p : NULL;
		pkt->topic_len = tl;
		p += tl;
		if (pkt->qos) {
			if (end - p < 2)
				return -EPROTO;
			pkt->id = get16(p);
			p += 2;
			if (pkt->id == 0)
				return -EPROTO;
		}
		if (v5 && props_block(&p, end, pkt) < 0)
			return -EPROTO;
		if (tl == 0 && pkt->topic_alias == 0)
			return -EPROTO;
		pkt->payload = p;
		pkt->payload_len = (size_t)(end - p);
		break;
	}
	case TB_PUBACK:
	case TB_PUBREC:
	case TB_PUBREL:
	case TB_PUBCOMP:
		if (rem < 2 || (!v5 && rem != 2))
			return -EPROTO;
		pkt->id = get16(p);
		p += 2;
		if (v5 && p < end) {
			pkt->rc = *p++;
			if (p < end && props_block(&p, end, pkt) < 0)
				return -EPROTO;
		}
		break;
	case TB_SUBACK:
	case TB_UNSUBACK:
		if (rem < 2)
			return -EPROTO;
		pkt->id = get16(p);
		p += 2;
		if (v5 && props_block(&p, end, pkt) < 0)
			return -EPROTO;
		pkt->payload = p;
		pkt->payload_len = (size_t)(end - p);
		if (pkt->type == TB_SUBACK) {
			if (p == end)
				return -EPROTO;
			pkt->rc = *p;
		}
		break;
	case TB_PINGRESP:
		if (rem != 0)
			return -EPROTO;
		break;
	case TB_DISCONNECT:
		if (!v5 || p == end)
			break;
		pkt->rc = *p++;
		if (p < end && props_block(&p, end, pkt) < 0)
			return -EPROTO;
		break;
	case TB_AUTH:
		if (!v5)
			return -EPROTO;
		break;
	default:
		return -EPROTO; /* CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, 0 */
	}
	return (ssize_t)total;
}
