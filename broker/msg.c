/* SPDX-License-Identifier: MIT */
/* Refcounted published messages. */
#include <string.h>

#include "broker/alloc.h"
#include "broker/codec.h"
#include "broker/msg.h"
#include "broker/props.h"
#include "broker/varint.h"

_Static_assert(TERN_MSG_HDR_MAX == TERN_CODEC_FIXED_HDR_MAX, "PUBLISH header size");

/* PUBLISH type byte (no flags) and remaining length; 0 past the protocol maximum. */
static uint8_t fixed_header(uint8_t *h, size_t rem)
{
	uint8_t n = 1;

	if (rem > TERN_CODEC_MAX_REMAINING)
		return 0;
	h[0] = TERN_PKT_PUBLISH << 4;
	do {
		h[n] = (uint8_t)(rem & 0x7f);
		rem >>= 7;
		if (rem)
			h[n] |= 0x80;
		n++;
	} while (rem);
	return n;
}

/* Properties a broker forwards unchanged from the publisher [MQTT-3.3.2-*]. */
static bool forwarded(uint8_t id)
{
	switch (id) {
	case TERN_PROP_PAYLOAD_FORMAT:
	case TERN_PROP_CONTENT_TYPE:
	case TERN_PROP_RESPONSE_TOPIC:
	case TERN_PROP_CORRELATION_DATA:
	case TERN_PROP_USER_PROPERTY:
		return true;
	default:
		return false;
	}
}

/* Bytes of the forwarded properties of props (NULL: none). */
static size_t forwarded_len(const struct tern_props *props)
{
	struct tern_prop_iter it;
	struct tern_prop prop;
	size_t len = 0;

	if (!props)
		return 0;
	tern_props_iter_init(&it, props);
	while (tern_props_next(&it, &prop))
		if (forwarded(prop.id))
			len += tern_props_size(&prop);
	return len;
}

struct tern_msg *tern_msg_create5(const uint8_t *topic, uint16_t topic_len, const uint8_t *payload,
				  size_t payload_len, uint8_t qos, bool retain,
				  const struct tern_props *props)
{
	size_t plen = forwarded_len(props);
	size_t block = tern_props_block_size(plen);
	size_t body = 2u + topic_len + payload_len;
	struct tern_msg *m;

	/* Properties come from one decoded packet, so they fit in a Variable Byte Integer. */
	if (plen > TERN_CODEC_MAX_REMAINING)
		return NULL;
	m = tern_malloc(sizeof(*m) + body + block);
	if (!m)
		return NULL;
	m->refs = 1;
	m->qos = qos;
	m->retain = retain;
	m->topic_len = topic_len;
	m->payload_len = (uint32_t)payload_len;
	m->props_block_len = (uint32_t)block;
	m->props_len = (uint32_t)plen;
	m->origin = 0;
	m->expiry_ms = 0;
	m->expiry_interval = props && (props->present & TERN_PROP_BIT(TERN_PROP_MESSAGE_EXPIRY))
				 ? props->message_expiry
				 : 0;
	m->hdr_len[0] = fixed_header(m->hdr[0], body);
	m->hdr_len[1] = fixed_header(m->hdr[1], body + 2);
	m->hdr5_len[0] = fixed_header(m->hdr5[0], body + block);
	m->hdr5_len[1] = fixed_header(m->hdr5[1], body + 2 + block);
	m->wire[0] = (uint8_t)(topic_len >> 8);
	m->wire[1] = (uint8_t)topic_len;
	memcpy(m->wire + 2, topic, topic_len);
	if (payload_len)
		memcpy(m->wire + 2 + topic_len, payload, payload_len);

	uint8_t *p = m->wire + body;

	p += tern_varint_put(p, (uint32_t)plen);
	if (plen) {
		struct tern_props_writer w;
		struct tern_prop_iter it;
		struct tern_prop prop;

		tern_props_writer_init(&w, p, plen);
		tern_props_iter_init(&it, props);
		while (tern_props_next(&it, &prop))
			if (forwarded(prop.id))
				tern_props_put(&w, &prop);
	}
	return m;
}

struct tern_msg *tern_msg_create(const uint8_t *topic, uint16_t topic_len, const uint8_t *payload,
				 size_t payload_len, uint8_t qos, bool retain)
{
	return tern_msg_create5(topic, topic_len, payload, payload_len, qos, retain, NULL);
}

void tern_msg_unref(struct tern_msg *m)
{
	if (!m)
		return;
	/* Release pairs with the acquire below so the freeing thread sees all writes. */
	if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_RELEASE) == 0) {
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		tern_free(m);
	}
}
