/* SPDX-License-Identifier: MIT */
/*
 * A published message, stored once and shared by reference among every
 * subscriber's output queue, the retained store and session queues on any
 * worker. Immutable after creation; freed when the last reference goes.
 */
#ifndef TERN_MSG_H
#define TERN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERN_MSG_HDR_MAX 5 /* == TERN_CODEC_FIXED_HDR_MAX */

struct tern_msg {
	uint32_t refs; /* atomic */
	uint8_t qos;   /* QoS it was published with */
	bool retain;   /* RETAIN flag as published */
	uint16_t topic_len;
	uint32_t payload_len;
	/*
	 * The PUBLISH fixed header of a delivery, encoded once here instead of
	 * once per subscriber: [0] for QoS 0, [1] for QoS 1/2 (two bytes more
	 * for the packet id). Byte 0 has no flags; a delivery ORs in its QoS, DUP
	 * and RETAIN. hdr_len 0: that packet would exceed the protocol maximum.
	 */
	uint8_t hdr_len[2];
	uint8_t hdr[2][TERN_MSG_HDR_MAX];
	/*
	 * Wire layout, contiguous so that a QoS 0 delivery is two iovecs (fixed
	 * header, then this): [topic length, 2 bytes big-endian][topic][payload].
	 */
	uint8_t wire[];
};

/*
 * Create a message with one reference held by the caller. The topic must be a
 * valid topic name. NULL with errno=ENOMEM on failure. Thread-safe.
 */
struct tern_msg *tern_msg_create(const uint8_t *topic, uint16_t topic_len, const uint8_t *payload,
				 size_t payload_len, uint8_t qos, bool retain);

static inline const uint8_t *tern_msg_topic(const struct tern_msg *m)
{
	return m->wire + 2;
}

static inline const uint8_t *tern_msg_payload(const struct tern_msg *m)
{
	return m->wire + 2 + m->topic_len;
}

/* Bytes of topic+payload (what a delivery references); thread-safe. */
static inline size_t tern_msg_wire_len(const struct tern_msg *m)
{
	return 2u + m->topic_len + m->payload_len;
}

/* Take a reference. Any thread. Returns m. */
static inline struct tern_msg *tern_msg_ref(struct tern_msg *m)
{
	__atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
	return m;
}

/* Drop a reference; frees on the last. Any thread; NULL is ignored. */
void tern_msg_unref(struct tern_msg *m);

#endif
