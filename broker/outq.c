/* SPDX-License-Identifier: MIT */
/*
 * Connection output queue.
 *
 * Design: entries of 24 bytes live in chunks (a singly linked list, oldest
 * first). A control packet of up to 16 bytes is stored inline in its entry, a
 * larger one in a single heap copy. A PUBLISH entry holds a message reference,
 * its own fixed header and packet id; its payload is never copied, the iovecs
 * point into the shared message. The first chunk is small (most queues hold a
 * handful of packets between two flushes), later ones larger. An empty queue
 * owns no memory, so an idle connection costs only struct tern_outq. While the
 * queue is busy, one fully written chunk is kept behind the tail as a spare so
 * that a steady stream does not malloc/free a chunk per chunk of packets.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/codec.h"
#include "broker/msg.h"
#include "broker/outq.h"

#define INLINE_MAX	16
#define CHUNK_FIRST_CAP 8
#define CHUNK_CAP	64
#define ENTRY_MAX_SEGS	5
#define ENTRY_MAX_LEN	(TERN_CODEC_MAX_REMAINING + TERN_CODEC_FIXED_HDR_MAX)

enum entry_kind {
	ENTRY_INLINE,
	ENTRY_HEAP,
	ENTRY_PUBLISH,
	ENTRY_PUBLISH5, /* a 5.0 PUBLISH: the message's property block too */
};

struct entry {
	uint32_t len; /* wire bytes of the whole packet */
	uint8_t kind;
	uint8_t hdr_len; /* ENTRY_PUBLISH*: bytes used in pub.hdr */
	uint8_t pid[2];	 /* ENTRY_PUBLISH* with qos > 0: packet id, big-endian */
	union {
		uint8_t inl[INLINE_MAX];
		uint8_t *heap;
		struct {
			struct tern_msg *msg;
			uint8_t hdr[TERN_CODEC_FIXED_HDR_MAX];
			uint8_t qos;
		} pub;
	};
};

struct tern_outq_chunk {
	struct tern_outq_chunk *next;
	uint32_t head_off; /* bytes of e[first] already written (head chunk only) */
	uint16_t first;	   /* first entry not fully written */
	uint16_t count;	   /* entries filled */
	uint16_t cap;
	struct entry e[];
};

_Static_assert(sizeof(struct entry) == 24, "outq entry grew");

void tern_outq_init(struct tern_outq *q)
{
	q->head = NULL;
	q->tail = NULL;
	q->bytes = 0;
	q->packets = 0;
}

static void entry_release(struct entry *e)
{
	if (e->kind == ENTRY_PUBLISH || e->kind == ENTRY_PUBLISH5)
		tern_msg_unref(e->pub.msg);
	else if (e->kind == ENTRY_HEAP)
		tern_free(e->heap);
}

static void free_chunks(struct tern_outq_chunk *c)
{
	while (c) {
		struct tern_outq_chunk *next = c->next;

		tern_free(c);
		c = next;
	}
}

void tern_outq_clear(struct tern_outq *q)
{
	for (struct tern_outq_chunk *c = q->head; c; c = c->next)
		for (unsigned i = c->first; i < c->count; i++)
			entry_release(&c->e[i]);
	free_chunks(q->head);
	tern_outq_init(q);
}

/* A free entry at the tail, or NULL on ENOMEM. The caller fills it and calls commit(). */
static struct entry *entry_reserve(struct tern_outq *q)
{
	struct tern_outq_chunk *t = q->tail;
	struct tern_outq_chunk *c;

	if (t && t->count < t->cap)
		return &t->e[t->count];
	if (t && t->next) {
		/* The spare chunk kept behind the tail. */
		c = t->next;
	} else {
		uint16_t cap = t ? CHUNK_CAP : CHUNK_FIRST_CAP;

		c = tern_malloc(sizeof(*c) + cap * sizeof(struct entry));
		if (!c)
			return NULL;
		c->cap = cap;
		c->next = NULL;
		if (t)
			t->next = c;
		else
			q->head = c;
	}
	c->head_off = 0;
	c->first = 0;
	c->count = 0;
	q->tail = c;
	return &c->e[0];
}

static void entry_commit(struct tern_outq *q)
{
	struct entry *e = &q->tail->e[q->tail->count++];

	q->bytes += e->len;
	q->packets++;
}

int tern_outq_push_bytes(struct tern_outq *q, const void *pkt, size_t len)
{
	struct entry *e;

	if (len == 0)
		return 0;
	if (len > ENTRY_MAX_LEN)
		return -EMSGSIZE;
	e = entry_reserve(q);
	if (!e)
		return -ENOMEM;
	if (len <= INLINE_MAX) {
		e->kind = ENTRY_INLINE;
		memcpy(e->inl, pkt, len);
	} else {
		e->heap = tern_malloc(len);
		if (!e->heap) {
			/* The reserved entry stays unused; an empty queue owns nothing. */
			if (q->bytes == 0)
				tern_outq_clear(q);
			return -ENOMEM;
		}
		e->kind = ENTRY_HEAP;
		memcpy(e->heap, pkt, len);
	}
	e->len = (uint32_t)len;
	entry_commit(q);
	return 0;
}

/* A PUBLISH entry of either protocol; its fixed header comes encoded from the message. */
static int push_publish(struct tern_outq *q, struct tern_msg *msg, bool v5, uint8_t qos, bool dup,
			bool retain, uint16_t packet_id, uint32_t max_packet)
{
	unsigned v = qos > 0;
	size_t hdr_len = v5 ? msg->hdr5_len[v] : msg->hdr_len[v];
	size_t len =
	    hdr_len + tern_msg_wire_len(msg) + (v ? 2 : 0) + (v5 ? msg->props_block_len : 0);
	struct entry *e;

	if (hdr_len == 0 || qos > 2)
		return -EMSGSIZE;
	if (max_packet && len > max_packet)
		return -E2BIG;
	e = entry_reserve(q);
	if (!e)
		return -ENOMEM;
	e->kind = v5 ? ENTRY_PUBLISH5 : ENTRY_PUBLISH;
	e->pub.qos = qos;
	e->hdr_len = (uint8_t)hdr_len;
	/* The message encoded the header once; this delivery only adds its flags. */
	memcpy(e->pub.hdr, v5 ? msg->hdr5[v] : msg->hdr[v], sizeof(e->pub.hdr));
	e->pub.hdr[0] |= (uint8_t)((dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0));
	e->len = (uint32_t)len;
	if (qos > 0) {
		e->pid[0] = (uint8_t)(packet_id >> 8);
		e->pid[1] = (uint8_t)packet_id;
	}
	e->pub.msg = tern_msg_ref(msg);
	entry_commit(q);
	return 0;
}

int tern_outq_push_publish(struct tern_outq *q, struct tern_msg *msg, uint8_t qos, bool dup,
			   bool retain, uint16_t packet_id)
{
	return push_publish(q, msg, false, qos, dup, retain, packet_id, 0);
}

int tern_outq_push_publish5(struct tern_outq *q, struct tern_msg *msg, uint8_t qos, bool dup,
			    bool retain, uint16_t packet_id, uint32_t max_packet)
{
	return push_publish(q, msg, true, qos, dup, retain, packet_id, max_packet);
}

/* The wire bytes of one entry as up to ENTRY_MAX_SEGS segments, none empty. */
static unsigned entry_segs(const struct entry *e, struct iovec *seg)
{
	const struct tern_msg *m;
	unsigned n = 0;

	switch (e->kind) {
	case ENTRY_INLINE:
		seg[0] = (struct iovec){(void *)e->inl, e->len};
		return 1;
	case ENTRY_HEAP:
		seg[0] = (struct iovec){e->heap, e->len};
		return 1;
	default:
		break;
	}
	m = e->pub.msg;
	seg[n++] = (struct iovec){(void *)e->pub.hdr, e->hdr_len};
	if (e->pub.qos == 0 && e->kind == ENTRY_PUBLISH) {
		seg[n++] = (struct iovec){(void *)m->wire, tern_msg_wire_len(m)};
		return n;
	}
	seg[n++] = (struct iovec){(void *)m->wire, 2u + m->topic_len};
	if (e->pub.qos)
		seg[n++] = (struct iovec){(void *)e->pid, 2};
	if (e->kind == ENTRY_PUBLISH5)
		seg[n++] = (struct iovec){(void *)tern_msg_props_block(m), m->props_block_len};
	if (m->payload_len)
		seg[n++] = (struct iovec){(void *)tern_msg_payload(m), m->payload_len};
	return n;
}

/* Segments of e after its first skip bytes (a partly written entry), as many as fit. */
static size_t entry_segs_from(const struct entry *e, size_t skip, struct iovec *iov, size_t max)
{
	struct iovec seg[ENTRY_MAX_SEGS];
	unsigned ns = entry_segs(e, seg);
	size_t n = 0;

	for (unsigned s = 0; s < ns && n < max; s++) {
		if (skip >= seg[s].iov_len) {
			skip -= seg[s].iov_len;
			continue;
		}
		iov[n].iov_base = (uint8_t *)seg[s].iov_base + skip;
		iov[n].iov_len = seg[s].iov_len - skip;
		skip = 0;
		n++;
	}
	return n;
}

size_t tern_outq_iov(const struct tern_outq *q, struct iovec *iov, size_t max)
{
	size_t n = 0;

	for (const struct tern_outq_chunk *c = q->head; c && n < max; c = c->next) {
		unsigned i = c->first;

		if (c == q->head && c->head_off && i < c->count)
			n += entry_segs_from(&c->e[i++], c->head_off, iov, max);
		/* Whole entries straight into iov while room for any entry is left. */
		for (; i < c->count && max - n >= ENTRY_MAX_SEGS; i++)
			n += entry_segs(&c->e[i], iov + n);
		for (; i < c->count && n < max; i++)
			n += entry_segs_from(&c->e[i], 0, iov + n, max - n);
	}
	return n;
}

void tern_outq_consume(struct tern_outq *q, size_t n)
{
	struct tern_outq_chunk *c;

	if (n >= q->bytes) {
		tern_outq_clear(q);
		return;
	}
	q->bytes -= n;
	while (n) {
		struct entry *e;
		size_t left;

		c = q->head;
		e = &c->e[c->first];
		left = e->len - c->head_off;
		if (n < left) {
			c->head_off += (uint32_t)n;
			break;
		}
		n -= left;
		entry_release(e);
		c->first++;
		c->head_off = 0;
		q->packets--;
		if (c->first == c->count && c != q->tail) {
			/*
			 * bytes > 0 remain, so a later chunk holds them: keep this
			 * one as the spare unless there already is one.
			 */
			q->head = c->next;
			if (q->tail->next) {
				tern_free(c);
			} else {
				c->next = NULL;
				q->tail->next = c;
			}
		}
	}
}
