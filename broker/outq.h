/* SPDX-License-Identifier: MIT */
/*
 * A connection's output queue: what the broker has decided to send and the
 * dataplane has not written yet. Control packets are copied in (they are a few
 * bytes); PUBLISH deliveries hold a reference to the shared message plus their
 * own few header bytes, never a copy of the payload. The dataplane drains it
 * with iovecs (many packets per writev). Owning worker only; not thread-safe.
 */
#ifndef TERN_OUTQ_H
#define TERN_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct tern_msg;
struct tern_outq_chunk;

struct tern_outq {
	struct tern_outq_chunk *head; /* oldest; NULL when empty */
	struct tern_outq_chunk *tail;
	size_t bytes;	/* wire bytes queued and not yet written */
	size_t packets; /* packets queued (partly written one included) */
};

/* An empty queue; allocates nothing until the first push. */
void tern_outq_init(struct tern_outq *q);

/* Drop everything queued (message references released) and free all memory. */
void tern_outq_clear(struct tern_outq *q);

/*
 * Queue one encoded control packet (copied). Returns 0 (also for len 0),
 * -ENOMEM, or -EMSGSIZE above the MQTT maximum packet size.
 */
int tern_outq_push_bytes(struct tern_outq *q, const void *pkt, size_t len);

/*
 * Queue a PUBLISH of msg (a reference is taken) with this delivery's own
 * header: QoS, DUP, RETAIN and packet id (ignored when qos == 0).
 * Returns 0, -ENOMEM, or -EMSGSIZE if the packet would exceed the protocol maximum.
 */
int tern_outq_push_publish(struct tern_outq *q, struct tern_msg *msg, uint8_t qos, bool dup,
			   bool retain, uint16_t packet_id);

/* What one 5.0 delivery adds to the shared message. */
struct tern_outq_pub5 {
	const uint8_t *props; /* its own properties, encoded: topic alias, expiry, ids */
	size_t props_len;     /* <= TERN_OUTQ_PUB5_PROPS_MAX */
	bool omit_topic;      /* a topic alias the client knows stands for the topic */
	uint32_t max_packet;  /* the client's Maximum Packet Size; 0 = none */
};

#define TERN_OUTQ_PUB5_PROPS_MAX 64

/*
 * The same as a 5.0 PUBLISH: the message's forwarded properties after this
 * delivery's own. A packet over x->max_packet is not queued: -E2BIG
 * [MQTT-3.1.2-24]. A delivery with properties of its own or without its topic
 * costs one small allocation; the common case none.
 */
int tern_outq_push_publish5(struct tern_outq *q, struct tern_msg *msg, uint8_t qos, bool dup,
			    bool retain, uint16_t packet_id, const struct tern_outq_pub5 *x);

/*
 * Fill up to max iovecs with the queued bytes, oldest first, starting after
 * what was already consumed. Returns the number of iovecs filled (0 if empty).
 * The iovecs stay valid until the next push/consume/clear.
 */
size_t tern_outq_iov(const struct tern_outq *q, struct iovec *iov, size_t max);

/*
 * One piece of the queued bytes as tern_outq_segs() gives them. msg NULL: base
 * points into the queue's own memory (fixed header, packet id, a delivery's
 * own properties, control packets), valid until the next push/consume/clear:
 * copy it. msg set: base lies inside that message's immutable wire bytes
 * (topic, payload, forwarded properties); a caller that takes its own
 * reference (tern_msg_ref) may keep using base after consuming the bytes,
 * until it drops that reference, on any thread.
 */
struct tern_outq_seg {
	const uint8_t *base;
	size_t len; /* > 0 */
	struct tern_msg *msg;
};

/*
 * The same bytes as tern_outq_iov(), in the same order and starting at the
 * same place, split where copied header bytes and shared message bytes meet:
 * up to max pieces, oldest first. Returns the number filled (0 if empty); they
 * stay valid until the next push/consume/clear (msg ranges: see above). For
 * dataplanes that send message bytes by reference. Owning worker only.
 */
size_t tern_outq_segs(const struct tern_outq *q, struct tern_outq_seg *seg, size_t max);

/* Mark n bytes as written (n <= bytes queued); fully written entries are released. */
void tern_outq_consume(struct tern_outq *q, size_t n);

static inline size_t tern_outq_bytes(const struct tern_outq *q)
{
	return q->bytes;
}

static inline bool tern_outq_empty(const struct tern_outq *q)
{
	return q->bytes == 0;
}

#endif
