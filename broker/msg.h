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

struct tern_props;

#define TERN_MSG_HDR_MAX 5 /* == TERN_CODEC_FIXED_HDR_MAX */

struct tern_msg {
	uint32_t refs; /* atomic */
	uint8_t qos;   /* QoS it was published with */
	bool retain;   /* RETAIN flag as published */
	uint16_t topic_len;
	uint32_t payload_len;
	/*
	 * The MQTT 5.0 property block sent to 5.0 subscribers (its length field
	 * included): what the publisher sent that is forwarded unchanged, in
	 * order. Stored in wire[] after the payload; 1 byte (empty) when none.
	 */
	uint32_t props_block_len;
	uint32_t props_len; /* the block's properties alone (without its length field) */
	/*
	 * 5.0 message expiry: the interval the publisher gave (seconds, 0 =
	 * none) and the broker clock time it runs out (set when it is routed).
	 */
	uint32_t expiry_interval;
	uint64_t expiry_ms;
	/*
	 * The uid of the publishing session (0: the broker), for 5.0 No Local.
	 * Set by the publisher before routing.
	 */
	uint64_t origin;
	/*
	 * The PUBLISH fixed header of a delivery, encoded once here instead of
	 * once per subscriber: [0] for QoS 0, [1] for QoS 1/2 (two bytes more
	 * for the packet id). Byte 0 has no flags; a delivery ORs in its QoS, DUP
	 * and RETAIN. hdr_len 0: that packet would exceed the protocol maximum.
	 */
	uint8_t hdr_len[2];
	uint8_t hdr[2][TERN_MSG_HDR_MAX];
	/* The same for a 5.0 delivery, whose packet also holds the property block. */
	uint8_t hdr5_len[2];
	uint8_t hdr5[2][TERN_MSG_HDR_MAX];
	/*
	 * Wire layout: [topic length, 2 bytes big-endian][topic][payload], contiguous
	 * so that a 3.1.1 QoS 0 delivery is two iovecs (fixed header, then this),
	 * then the 5.0 property block.
	 */
	uint8_t wire[];
};

/*
 * Create a message with one reference held by the caller. The topic must be a
 * valid topic name. NULL with errno=ENOMEM on failure. Thread-safe.
 */
struct tern_msg *tern_msg_create(const uint8_t *topic, uint16_t topic_len, const uint8_t *payload,
				 size_t payload_len, uint8_t qos, bool retain);

/*
 * The same with the properties of a 5.0 PUBLISH or will (NULL for none): the
 * ones forwarded to subscribers (payload format, content type, response
 * topic, correlation data, user properties) are copied in their order; topic
 * alias and subscription identifiers are per connection and not kept.
 */
struct tern_msg *tern_msg_create5(const uint8_t *topic, uint16_t topic_len, const uint8_t *payload,
				  size_t payload_len, uint8_t qos, bool retain,
				  const struct tern_props *props);

static inline const uint8_t *tern_msg_topic(const struct tern_msg *m)
{
	return m->wire + 2;
}

static inline const uint8_t *tern_msg_payload(const struct tern_msg *m)
{
	return m->wire + 2 + m->topic_len;
}

/* The 5.0 property block (length field first), props_block_len bytes. */
static inline const uint8_t *tern_msg_props_block(const struct tern_msg *m)
{
	return m->wire + 2 + m->topic_len + m->payload_len;
}

/* The forwarded properties alone (props_len bytes). */
static inline const uint8_t *tern_msg_props(const struct tern_msg *m)
{
	return tern_msg_props_block(m) + (m->props_block_len - m->props_len);
}

/* True when the message has a 5.0 expiry that has passed at now_ms. */
static inline bool tern_msg_expired(const struct tern_msg *m, uint64_t now_ms)
{
	return m->expiry_ms && now_ms >= m->expiry_ms;
}

/* Bytes of topic+payload (what a 3.1.1 delivery references); thread-safe. */
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
