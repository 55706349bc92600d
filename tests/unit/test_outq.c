/* SPDX-License-Identifier: MIT */
/*
 * Output queue tests: the iovecs must reproduce byte for byte what the codec
 * encodes for the same packets, at any consumed offset, and every message
 * reference and chunk must be released.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/alloc.h"
#include "broker/codec.h"
#include "broker/msg.h"
#include "broker/outq.h"

/* What the queue must produce: the concatenation of every pushed packet. */
struct model {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t ends[4096]; /* end offset of each packet */
	size_t n;
};

static void model_add(struct model *m, const uint8_t *p, size_t len)
{
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->buf = realloc(m->buf, m->cap);
		assert_non_null(m->buf);
	}
	memcpy(m->buf + m->len, p, len);
	m->len += len;
	assert_true(m->n < 4096);
	m->ends[m->n++] = m->len;
}

static void model_free(struct model *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

/* Packets not fully consumed after `off` bytes. */
static size_t model_packets_after(const struct model *m, size_t off)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->ends[i] > off)
			n++;
	return n;
}

/* Flatten up to max iovecs; returns the byte count. */
static size_t flatten(const struct tern_outq *q, size_t max, uint8_t **out)
{
	struct iovec *iov = calloc(max ? max : 1, sizeof(*iov));
	size_t n, total = 0;
	uint8_t *p;

	assert_non_null(iov);
	n = tern_outq_iov(q, iov, max);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		/* Empty iovecs would waste writev slots. */
		assert_true(iov[i].iov_len > 0);
		total += iov[i].iov_len;
	}
	p = malloc(total ? total : 1);
	assert_non_null(p);
	total = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(p + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	free(iov);
	*out = p;
	return total;
}

static void assert_queue_is(const struct tern_outq *q, const struct model *m, size_t off)
{
	uint8_t *flat;
	size_t len = flatten(q, 1024, &flat);

	assert_int_equal(len, m->len - off);
	assert_memory_equal(flat, m->buf + off, len);
	assert_int_equal(tern_outq_bytes(q), m->len - off);
	assert_int_equal(q->packets, model_packets_after(m, off));
	free(flat);
}

static struct tern_msg *make_msg(const char *topic, size_t payload_len, uint8_t seed)
{
	uint8_t *payload = malloc(payload_len ? payload_len : 1);
	struct tern_msg *m;

	assert_non_null(payload);
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(seed + i * 7);
	m = tern_msg_create((const uint8_t *)topic, (uint16_t)strlen(topic), payload, payload_len,
			    1, false);
	assert_non_null(m);
	free(payload);
	return m;
}

/* Push a PUBLISH and add the codec's own encoding of it to the model. */
static void push_pub(struct tern_outq *q, struct model *md, struct tern_msg *m, uint8_t qos,
		     bool dup, bool retain, uint16_t pid)
{
	struct tern_publish p = {
	    .qos = qos,
	    .dup = dup,
	    .retain = retain,
	    .packet_id = qos ? pid : 0,
	    .topic = {tern_msg_topic(m), m->topic_len},
	    .payload = {tern_msg_payload(m), m->payload_len},
	};
	size_t cap = tern_codec_publish_size(qos, m->topic_len, m->payload_len);
	uint8_t *buf = malloc(cap);
	size_t n;

	assert_non_null(buf);
	n = tern_codec_encode_publish(buf, cap, &p);
	assert_int_equal(n, cap);
	assert_int_equal(tern_outq_push_publish(q, m, qos, dup, retain, pid), 0);
	model_add(md, buf, n);
	free(buf);
}

static void push_raw(struct tern_outq *q, struct model *md, size_t len, uint8_t seed)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed ^ (i * 13));
	assert_int_equal(tern_outq_push_bytes(q, buf, len), 0);
	model_add(md, buf, len);
	free(buf);
}

static void test_empty(void **state)
{
	struct tern_outq q;
	struct iovec iov[4];

	(void)state;
	tern_outq_init(&q);
	assert_true(tern_outq_empty(&q));
	assert_null(q.head);
	assert_int_equal(tern_outq_iov(&q, iov, 4), 0);
	/* A zero-length control packet is nothing to send. */
	assert_int_equal(tern_outq_push_bytes(&q, "", 0), 0);
	assert_true(tern_outq_empty(&q));
	assert_null(q.head);
	tern_outq_consume(&q, 0);
	tern_outq_clear(&q);
	assert_null(q.head);
}

static void test_control_packets(void **state)
{
	struct tern_outq q;
	struct model md = {0};
	static const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};

	(void)state;
	tern_outq_init(&q);
	assert_int_equal(tern_outq_push_bytes(&q, connack, sizeof(connack)), 0);
	model_add(&md, connack, sizeof(connack));
	push_raw(&q, &md, 16, 1); /* largest inline */
	push_raw(&q, &md, 17, 2); /* smallest heap copy */
	push_raw(&q, &md, 1, 3);
	push_raw(&q, &md, 5000, 4); /* a large SUBACK-sized blob */
	assert_queue_is(&q, &md, 0);
	/* The queue copied: the caller's buffer is gone and the bytes are still right. */
	tern_outq_consume(&q, md.len);
	assert_true(tern_outq_empty(&q));
	assert_int_equal(q.packets, 0);
	assert_null(q.head);
	assert_null(q.tail);
	model_free(&md);
}

static void test_publish_matches_codec(void **state)
{
	static const size_t payloads[] = {0, 1, 100, 127, 128, 16383, 16384, 70000, 2097152};
	static const char *const topics[] = {"a", "test/topic", "sensors/building-7/floor-3/temp"};

	(void)state;
	for (size_t t = 0; t < 3; t++) {
		for (size_t p = 0; p < sizeof(payloads) / sizeof(payloads[0]); p++) {
			for (uint8_t qos = 0; qos <= 2; qos++) {
				for (unsigned flags = 0; flags < 4; flags++) {
					struct tern_outq q;
					struct model md = {0};
					struct tern_msg *m =
					    make_msg(topics[t], payloads[p], (uint8_t)(p + t));

					tern_outq_init(&q);
					push_pub(&q, &md, m, qos, flags & 1, flags & 2,
						 (uint16_t)(0xA5C3 + p));
					assert_int_equal(m->refs, 2);
					assert_queue_is(&q, &md, 0);
					tern_outq_consume(&q, md.len);
					assert_int_equal(m->refs, 1);
					assert_null(q.head);
					tern_msg_unref(m);
					model_free(&md);
				}
			}
		}
	}
}

static void test_publish_iov_layout(void **state)
{
	struct tern_outq q;
	struct iovec iov[8];
	struct tern_msg *m = make_msg("t/x", 10, 9);
	struct tern_msg *empty = make_msg("t/e", 0, 0);

	(void)state;
	tern_outq_init(&q);
	/* QoS 0: fixed header, then the message's wire bytes as one iovec. */
	assert_int_equal(tern_outq_push_publish(&q, m, 0, false, false, 77), 0);
	assert_int_equal(tern_outq_iov(&q, iov, 8), 2);
	assert_int_equal(iov[0].iov_len, 2);
	assert_ptr_equal(iov[1].iov_base, m->wire);
	assert_int_equal(iov[1].iov_len, tern_msg_wire_len(m));
	tern_outq_clear(&q);

	/* QoS 1: header, topic (shared), packet id, payload (shared). */
	assert_int_equal(tern_outq_push_publish(&q, m, 1, false, false, 0x1234), 0);
	assert_int_equal(tern_outq_iov(&q, iov, 8), 4);
	assert_ptr_equal(iov[1].iov_base, m->wire);
	assert_int_equal(iov[1].iov_len, 2 + 3);
	assert_int_equal(iov[2].iov_len, 2);
	assert_int_equal(((uint8_t *)iov[2].iov_base)[0], 0x12);
	assert_int_equal(((uint8_t *)iov[2].iov_base)[1], 0x34);
	assert_ptr_equal(iov[3].iov_base, tern_msg_payload(m));
	assert_int_equal(iov[3].iov_len, 10);
	tern_outq_clear(&q);

	/* An empty payload adds no zero-length iovec. */
	assert_int_equal(tern_outq_push_publish(&q, empty, 2, false, false, 1), 0);
	assert_int_equal(tern_outq_iov(&q, iov, 8), 3);
	tern_outq_clear(&q);
	assert_int_equal(m->refs, 1);
	assert_int_equal(empty->refs, 1);
	tern_msg_unref(m);
	tern_msg_unref(empty);
}

/* A mixed queue: control packets, publishes of each QoS, enough to span chunks. */
static void build_mixed(struct tern_outq *q, struct model *md, struct tern_msg **msgs, size_t nent)
{
	tern_outq_init(q);
	for (size_t i = 0; i < nent; i++) {
		switch (i % 5) {
		case 0:
			push_raw(q, md, 2 + i % 3, (uint8_t)i);
			break;
		case 1:
			push_pub(q, md, msgs[i % 3], 0, false, i & 1, 0);
			break;
		case 2:
			push_pub(q, md, msgs[i % 3], 1, i & 2, false, (uint16_t)(i + 1));
			break;
		case 3:
			push_raw(q, md, 20 + i, (uint8_t)i);
			break;
		default:
			push_pub(q, md, msgs[i % 3], 2, false, true, (uint16_t)(i * 257));
			break;
		}
	}
}

static void test_partial_consume_every_offset(void **state)
{
	struct tern_msg *msgs[3] = {make_msg("a/b", 0, 1), make_msg("x", 7, 2),
				    make_msg("long/topic/name", 40, 3)};
	struct model md = {0};
	struct tern_outq q;
	size_t total;

	(void)state;
	/* 23 entries: crosses the small first chunk into a second one. */
	build_mixed(&q, &md, msgs, 23);
	total = md.len;
	tern_outq_clear(&q);

	for (size_t off = 0; off <= total; off++) {
		struct model m2 = {0};

		build_mixed(&q, &m2, msgs, 23);
		tern_outq_consume(&q, off);
		assert_queue_is(&q, &m2, off);
		/* Then the rest in uneven steps, checking each intermediate state. */
		for (size_t at = off; at < total;) {
			size_t step = 1 + (at * 31 + off) % 53;

			if (step > total - at)
				step = total - at;
			tern_outq_consume(&q, step);
			at += step;
			assert_queue_is(&q, &m2, at);
		}
		assert_true(tern_outq_empty(&q));
		assert_null(q.head);
		for (int i = 0; i < 3; i++)
			assert_int_equal(msgs[i]->refs, 1);
		model_free(&m2);
	}
	model_free(&md);
	for (int i = 0; i < 3; i++)
		tern_msg_unref(msgs[i]);
}

/*
 * tern_outq_segs over q with at most max pieces: the bytes must be a prefix
 * of what the iovecs give (all of it when max is large), and a piece tagged
 * with a message must lie inside that message's wire bytes, one without must
 * not. Returns the bytes of message pieces.
 */
static size_t check_segs(const struct tern_outq *q, size_t max)
{
	struct tern_outq_seg *seg = calloc(max, sizeof(*seg));
	uint8_t *flat;
	size_t len = flatten(q, 1024, &flat), n, at = 0, shared = 0;

	assert_non_null(seg);
	n = tern_outq_segs(q, seg, max);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		const struct tern_msg *m = seg[i].msg;

		assert_true(seg[i].len > 0);
		assert_true(at + seg[i].len <= len);
		assert_memory_equal(seg[i].base, flat + at, seg[i].len);
		at += seg[i].len;
		if (m) {
			assert_true(seg[i].base >= m->wire);
			assert_true(seg[i].base + seg[i].len <=
				    m->wire + tern_msg_wire_len(m) + m->props_block_len);
			shared += seg[i].len;
		}
	}
	if (max >= 1024)
		assert_int_equal(at, len);
	free(seg);
	free(flat);
	return shared;
}

static void test_segs_match_iov(void **state)
{
	struct tern_msg *msgs[3] = {make_msg("a/b", 0, 1), make_msg("x", 7, 2),
				    make_msg("long/topic/name", 40, 3)};
	static const uint8_t props[] = {0x0b, 0x05}; /* subscription identifier 5 */
	struct tern_outq_pub5 plain = {0}, own = {.props = props, .props_len = sizeof(props)};
	struct model md = {0};
	struct tern_outq q;
	size_t total;

	(void)state;
	build_mixed(&q, &md, msgs, 23);
	/* 5.0 deliveries: the message's property block, and one with properties of its own. */
	assert_int_equal(tern_outq_push_publish5(&q, msgs[2], 1, false, false, 9, &plain), 0);
	assert_int_equal(tern_outq_push_publish5(&q, msgs[2], 0, false, false, 0, &own), 0);
	total = tern_outq_bytes(&q);
	/* Every payload byte is shared: 8 deliveries of msgs[2] at least carry its 40 bytes. */
	assert_true(check_segs(&q, 1024) >= 8 * 40);
	for (size_t off = 0; off < total; off++) {
		tern_outq_consume(&q, 1);
		check_segs(&q, 1024);
		check_segs(&q, 1 + off % 4);
	}
	assert_true(tern_outq_empty(&q));
	assert_int_equal(tern_outq_segs(&q, NULL, 0), 0);
	model_free(&md);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(msgs[i]->refs, 1);
		tern_msg_unref(msgs[i]);
	}
}

static void test_iov_max_limits(void **state)
{
	struct tern_msg *msgs[3] = {make_msg("a", 3, 1), make_msg("b/c", 0, 2),
				    make_msg("d", 300, 3)};
	struct model md = {0};
	struct tern_outq q;

	(void)state;
	build_mixed(&q, &md, msgs, 40);
	tern_outq_consume(&q, 7); /* start mid-entry */
	for (size_t max = 1; max < 40; max++) {
		uint8_t *flat;
		size_t len = flatten(&q, max, &flat);

		/* A limited fill is a prefix of the whole. */
		assert_true(len > 0);
		assert_memory_equal(flat, md.buf + 7, len);
		free(flat);
	}
	tern_outq_clear(&q);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(msgs[i]->refs, 1);
		tern_msg_unref(msgs[i]);
	}
	model_free(&md);
}

static void test_refs_released_progressively(void **state)
{
	struct tern_msg *m = make_msg("r", 50, 4);
	struct tern_outq q;
	size_t one = tern_codec_publish_size(1, 1, 50);

	(void)state;
	tern_outq_init(&q);
	for (int i = 0; i < 100; i++)
		assert_int_equal(tern_outq_push_publish(&q, m, 1, false, false, (uint16_t)(i + 1)),
				 0);
	assert_int_equal(m->refs, 101);
	assert_int_equal(q.packets, 100);
	assert_int_equal(tern_outq_bytes(&q), 100 * one);
	/* A partly written entry keeps its reference. */
	tern_outq_consume(&q, one - 1);
	assert_int_equal(m->refs, 101);
	tern_outq_consume(&q, 1);
	assert_int_equal(m->refs, 100);
	tern_outq_consume(&q, 10 * one + 3);
	/* 89 entries left, the first of them partly written. */
	assert_int_equal(m->refs, 90);
	assert_int_equal(q.packets, 89);
	assert_int_equal(tern_outq_bytes(&q), 89 * one - 3);
	tern_outq_clear(&q);
	assert_int_equal(m->refs, 1);
	assert_true(tern_outq_empty(&q));
	assert_int_equal(q.packets, 0);
	assert_null(q.head);
	tern_msg_unref(m);
}

/* Push and drain interleaved over many chunks, like a steady stream. */
static void test_streaming(void **state)
{
	struct tern_msg *m = make_msg("s/t", 33, 5);
	struct tern_outq q;
	uint8_t *expect;
	size_t one = tern_codec_publish_size(2, 3, 33);
	struct model md = {0};
	size_t written = 0;

	(void)state;
	tern_outq_init(&q);
	push_pub(&q, &md, m, 2, false, false, 1);
	expect = malloc(one);
	assert_non_null(expect);
	memcpy(expect, md.buf, one);
	model_free(&md);
	tern_outq_clear(&q);

	for (unsigned round = 0; round < 200; round++) {
		unsigned n = 1 + (round * 37) % 150;
		uint8_t *flat;
		size_t len;

		for (unsigned i = 0; i < n; i++)
			assert_int_equal(tern_outq_push_publish(&q, m, 2, false, false, 1), 0);
		len = flatten(&q, 1024, &flat);
		assert_int_equal(len, tern_outq_bytes(&q));
		for (size_t i = 0; i < len; i++)
			assert_int_equal(flat[i], expect[(written + i) % one]);
		free(flat);
		/* Write a bit less than everything, so a tail survives into the next round. */
		len = len > 100 ? len - 100 : len;
		tern_outq_consume(&q, len);
		written += len;
		assert_int_equal(m->refs, 1 + q.packets);
	}
	tern_outq_clear(&q);
	assert_int_equal(m->refs, 1);
	free(expect);
	tern_msg_unref(m);
}

static void test_publish_too_large(void **state)
{
	/*
	 * Only the header fields are read before the size check: no need for 256 MiB.
	 * tern_msg_create leaves hdr_len 0 for a packet past the protocol maximum.
	 */
	struct tern_msg *m = calloc(1, sizeof(*m) + 8);
	struct tern_outq q;

	(void)state;
	assert_non_null(m);
	m->refs = 1;
	m->topic_len = 1;
	m->payload_len = TERN_CODEC_MAX_REMAINING;
	m->hdr_len[0] = m->hdr_len[1] = 0;
	tern_outq_init(&q);
	assert_int_equal(tern_outq_push_publish(&q, m, 0, false, false, 0), -EMSGSIZE);
	assert_int_equal(m->refs, 1);
	assert_true(tern_outq_empty(&q));
	assert_null(q.head);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_control_packets),
	    cmocka_unit_test(test_publish_matches_codec),
	    cmocka_unit_test(test_publish_iov_layout),
	    cmocka_unit_test(test_partial_consume_every_offset),
	    cmocka_unit_test(test_iov_max_limits),
	    cmocka_unit_test(test_segs_match_iov),
	    cmocka_unit_test(test_refs_released_progressively),
	    cmocka_unit_test(test_streaming),
	    cmocka_unit_test(test_publish_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
