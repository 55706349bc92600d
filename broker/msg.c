/* SPDX-License-Identifier: MIT */
/* Refcounted published messages. */
#include <string.h>

#include "broker/alloc.h"
#include "broker/codec.h"
#include "broker/msg.h"

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

struct tern_msg *tern_msg_create(const uint8_t *topic, uint16_t topic_len, const uint8_t *payload,
				 size_t payload_len, uint8_t qos, bool retain)
{
	struct tern_msg *m = tern_malloc(sizeof(*m) + 2u + topic_len + payload_len);

	if (!m)
		return NULL;
	m->refs = 1;
	m->qos = qos;
	m->retain = retain;
	m->topic_len = topic_len;
	m->payload_len = (uint32_t)payload_len;
	m->hdr_len[0] = fixed_header(m->hdr[0], 2u + topic_len + payload_len);
	m->hdr_len[1] = fixed_header(m->hdr[1], 4u + topic_len + payload_len);
	m->wire[0] = (uint8_t)(topic_len >> 8);
	m->wire[1] = (uint8_t)topic_len;
	memcpy(m->wire + 2, topic, topic_len);
	if (payload_len)
		memcpy(m->wire + 2 + topic_len, payload, payload_len);
	return m;
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
