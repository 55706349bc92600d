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
#include "broker/varint.h"

#define INLINE_MAX	16
#define CHUNK_FIRST_CAP 8
#define CHUNK_CAP	64
#define ENTRY_MAX_SEGS	5
#define ENTRY_MAX_LEN	(TERN_CODEC_MAX_REMAINING + TERN_CODEC_FIXED_HDR_MAX)

enum entry_kind {
	ENTRY_INLINE,
	ENTRY_HEAP,
	ENTRY_PUBLISH,
	ENTRY_PUBLISH5,	 /* a 5.0 PUBLISH: the message's property block too */
	ENTRY_PUBLISH5X, /* a 5.0 PUBLISH with a header of its own (struct head5) */
};

/*
 * The header of a 5.0 delivery with properties of its own: part a is the
 * fixed header (and an empty topic when an alias stands for it); the topic
 * from the message follows unless omitted; part b is the packet id, the
 * property length and this delivery's properties; then the message's
 * properties and payload.
 */
struct head5 {
	uint8_t a_len;
	uint8_t b_len;
	bool omit_topic;
	uint8_t data[];
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
		struct {
			struct tern_msg *msg;
			struct head5 *head;
		} pub5x;
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
	switch (e->kind) {
	case ENTRY_PUBLISH5X:
		tern_free(e->pub5x.head);
		/* fall through */
	case ENTRY_PUBLISH:
	case ENTRY_PUBLISH5:
		tern_msg_unref(e->pub.msg);
		break;
	case ENTRY_HEAP:
		tern_free(e->heap);
		break;
	}
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

/* A 5.0 delivery with a header of its own (see struct head5). */
static int push_publish5x(struct tern_outq *q, struct tern_msg *msg, uint8_t qos, bool dup,
			  bool retain, uint16_t packet_id, const struct tern_outq_pub5 *x)
{
	size_t plen = x->props_len + msg->props_len;
	size_t topic = x->omit_topic ? 0 : msg->topic_len;
	size_t rem =
	    2 + topic + (qos ? 2 : 0) + tern_varint_size((uint32_t)plen) + plen + msg->payload_len;
	struct head5 *h;
	struct entry *e;
	uint8_t *p;

	if (qos > 2 || x->props_len > TERN_OUTQ_PUB5_PROPS_MAX || rem > TERN_CODEC_MAX_REMAINING)
		return -EMSGSIZE;
	if (x->max_packet && 1 + tern_varint_size((uint32_t)rem) + rem > x->max_packet)
		return -E2BIG;
	h = tern_malloc(sizeof(*h) + TERN_CODEC_FIXED_HDR_MAX + 2 + 2 + 4 + x->props_len);
	if (!h)
		return -ENOMEM;
	p = h->data;
	*p++ =
	    (uint8_t)((TERN_PKT_PUBLISH << 4) | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0));
	p += tern_varint_put(p, (uint32_t)rem);
	if (x->omit_topic) {
		*p++ = 0;
		*p++ = 0;
	}
	h->a_len = (uint8_t)(p - h->data);
	if (qos) {
		*p++ = (uint8_t)(packet_id >> 8);
		*p++ = (uint8_t)packet_id;
	}
	p += tern_varint_put(p, (uint32_t)plen);
	memcpy(p, x->props, x->props_len);
	p += x->props_len;
	h->b_len = (uint8_t)(p - h->data - h->a_len);
	h->omit_topic = x->omit_topic;
	e = entry_reserve(q);
	if (!e) {
		tern_free(h);
		return -ENOMEM;
	}
	e->kind = ENTRY_PUBLISH5X;
	e->len = (uint32_t)(1 + tern_varint_size((uint32_t)rem) + rem);
	e->pub5x.head = h;
	e->pub5x.msg = tern_msg_ref(msg);
	entry_commit(q);
	return 0;
}

int tern_outq_push_publish5(struct tern_outq *q, struct tern_msg *msg, uint8_t qos, bool dup,
			    bool retain, uint16_t packet_id, const struct tern_outq_pub5 *x)
{
	if (x->props_len || x->omit_topic)
		return push_publish5x(q, msg, qos, dup, retain, packet_id, x);
	return push_publish(q, msg, true, qos, dup, retain, packet_id, x->max_packet);
}

static unsigned head5_segs(const struct entry *e, struct iovec *seg)
{
	const struct head5 *h = e->pub5x.head;
	const struct tern_msg *m = e->pub5x.msg;
	unsigned n = 0;

	seg[n++] = (struct iovec){(void *)h->data, h->a_len};
	if (!h->omit_topic)
		seg[n++] = (struct iovec){(void *)m->wire, 2u + m->topic_len};
	seg[n++] = (struct iovec){(void *)(h->data + h->a_len), h->b_len};
	if (m->props_len)
		seg[n++] = (struct iovec){(void *)tern_msg_props(m), m->props_len};
	if (m->payload_len)
		seg[n++] = (struct iovec){(void *)tern_msg_payload(m), m->payload_len};
	return n;
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
	case ENTRY_PUBLISH5X:
		return head5_segs(e, seg);
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

/* The message an entry references, or NULL for a control packet. */
static struct tern_msg *entry_msg(const struct entry *e)
{
	switch (e->kind) {
	case ENTRY_PUBLISH:
	case ENTRY_PUBLISH5:
		return e->pub.msg;
	case ENTRY_PUBLISH5X:
		return e->pub5x.msg;
	default:
		return NULL;
	}
}

/* True when p lies in m's wire bytes (topic, payload, property block). */
static bool in_msg(const struct tern_msg *m, const void *p)
{
	const uint8_t *b = p;

	return b >= m->wire && b < m->wire + tern_msg_wire_len(m) + m->props_block_len;
}

size_t tern_outq_segs(const struct tern_outq *q, struct tern_outq_seg *seg, size_t max)
{
	size_t n = 0;

	for (const struct tern_outq_chunk *c = q->head; c && n < max; c = c->next) {
		for (unsigned i = c->first; i < c->count && n < max; i++) {
			const struct entry *e = &c->e[i];
			size_t skip = c == q->head && i == c->first ? c->head_off : 0;
			struct tern_msg *m = entry_msg(e);
			struct iovec iov[ENTRY_MAX_SEGS];
			size_t k = entry_segs_from(
			    e, skip, iov, max - n < ENTRY_MAX_SEGS ? max - n : ENTRY_MAX_SEGS);

			for (size_t j = 0; j < k; j++)
				seg[n++] = (struct tern_outq_seg){
				    iov[j].iov_base, iov[j].iov_len,
				    m && in_msg(m, iov[j].iov_base) ? m : NULL};
		}
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
