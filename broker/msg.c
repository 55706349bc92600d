/* SPDX-License-Identifier: MIT */
/* Refcounted published messages. */
#include <string.h>

#include "broker/alloc.h"
#include "broker/msg.h"

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
