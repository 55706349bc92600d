/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for MQTT 5.0 properties: every identifier in every context, the
 * type and value rules, duplicates, truncation at every byte, the iterator
 * and the writer. Blocks are decoded against a guard page.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/codec.h"
#include "broker/props.h"
#include "broker/reason.h"
#include "tests/unit/guard.h"

#define BLOCK_MAX 1024

/* A block holding the properties a writer built: length, then the properties. */
struct block {
	uint8_t buf[BLOCK_MAX];
	size_t len;
};

static void block_from(struct block *b, const struct tern_props_writer *w)
{
	assert_false(w->overflow);
	assert_true(w->len < 128); /* one length byte keeps the test arithmetic simple */
	b->buf[0] = (uint8_t)w->len;
	memcpy(b->buf + 1, w->buf, w->len);
	b->len = 1 + w->len;
}

static void block_raw(struct block *b, const void *props, size_t len)
{
	assert_true(len < 128);
	b->buf[0] = (uint8_t)len;
	memcpy(b->buf + 1, props, len);
	b->len = 1 + len;
}

static int decode(const struct block *b, unsigned ctx, struct tern_props *out, uint8_t *reason)
{
	return tern_props_decode(guard_put(b->buf, b->len), b->len, ctx, out, reason);
}

static const unsigned contexts[] = {
    TERN_PROPS_CTX_WILL, TERN_PKT_CONNECT, TERN_PKT_CONNACK,	 TERN_PKT_PUBLISH,
    TERN_PKT_PUBACK,	 TERN_PKT_PUBREC,  TERN_PKT_PUBREL,	 TERN_PKT_PUBCOMP,
    TERN_PKT_SUBSCRIBE,	 TERN_PKT_SUBACK,  TERN_PKT_UNSUBSCRIBE, TERN_PKT_UNSUBACK,
    TERN_PKT_DISCONNECT, TERN_PKT_AUTH,
};

/* The spec's table (section 2.2.2.2), written out independently of props.c. */
struct expect {
	uint8_t id;
	enum tern_prop_type type;
	const unsigned *ctx;
};

#define L(...) ((const unsigned[]){__VA_ARGS__, 99})
static const struct expect spec[] = {
    {0x01, TERN_PROP_T_BYTE, L(TERN_PKT_PUBLISH, TERN_PROPS_CTX_WILL)},
    {0x02, TERN_PROP_T_U32, L(TERN_PKT_PUBLISH, TERN_PROPS_CTX_WILL)},
    {0x03, TERN_PROP_T_UTF8, L(TERN_PKT_PUBLISH, TERN_PROPS_CTX_WILL)},
    {0x08, TERN_PROP_T_UTF8, L(TERN_PKT_PUBLISH, TERN_PROPS_CTX_WILL)},
    {0x09, TERN_PROP_T_BINARY, L(TERN_PKT_PUBLISH, TERN_PROPS_CTX_WILL)},
    {0x0B, TERN_PROP_T_VARINT, L(TERN_PKT_PUBLISH, TERN_PKT_SUBSCRIBE)},
    {0x11, TERN_PROP_T_U32, L(TERN_PKT_CONNECT, TERN_PKT_CONNACK, TERN_PKT_DISCONNECT)},
    {0x12, TERN_PROP_T_UTF8, L(TERN_PKT_CONNACK)},
    {0x13, TERN_PROP_T_U16, L(TERN_PKT_CONNACK)},
    {0x15, TERN_PROP_T_UTF8, L(TERN_PKT_CONNECT, TERN_PKT_CONNACK, TERN_PKT_AUTH)},
    {0x16, TERN_PROP_T_BINARY, L(TERN_PKT_CONNECT, TERN_PKT_CONNACK, TERN_PKT_AUTH)},
    {0x17, TERN_PROP_T_BYTE, L(TERN_PKT_CONNECT)},
    {0x18, TERN_PROP_T_U32, L(TERN_PROPS_CTX_WILL)},
    {0x19, TERN_PROP_T_BYTE, L(TERN_PKT_CONNECT)},
    {0x1A, TERN_PROP_T_UTF8, L(TERN_PKT_CONNACK)},
    {0x1C, TERN_PROP_T_UTF8, L(TERN_PKT_CONNACK, TERN_PKT_DISCONNECT)},
    {0x1F, TERN_PROP_T_UTF8,
     L(TERN_PKT_CONNACK, TERN_PKT_PUBACK, TERN_PKT_PUBREC, TERN_PKT_PUBREL, TERN_PKT_PUBCOMP,
       TERN_PKT_SUBACK, TERN_PKT_UNSUBACK, TERN_PKT_DISCONNECT, TERN_PKT_AUTH)},
    {0x21, TERN_PROP_T_U16, L(TERN_PKT_CONNECT, TERN_PKT_CONNACK)},
    {0x22, TERN_PROP_T_U16, L(TERN_PKT_CONNECT, TERN_PKT_CONNACK)},
    {0x23, TERN_PROP_T_U16, L(TERN_PKT_PUBLISH)},
    {0x24, TERN_PROP_T_BYTE, L(TERN_PKT_CONNACK)},
    {0x25, TERN_PROP_T_BYTE, L(TERN_PKT_CONNACK)},
    {0x26, TERN_PROP_T_UTF8_PAIR,
     L(TERN_PROPS_CTX_WILL, TERN_PKT_CONNECT, TERN_PKT_CONNACK, TERN_PKT_PUBLISH, TERN_PKT_PUBACK,
       TERN_PKT_PUBREC, TERN_PKT_PUBREL, TERN_PKT_PUBCOMP, TERN_PKT_SUBSCRIBE, TERN_PKT_SUBACK,
       TERN_PKT_UNSUBSCRIBE, TERN_PKT_UNSUBACK, TERN_PKT_DISCONNECT, TERN_PKT_AUTH)},
    {0x27, TERN_PROP_T_U32, L(TERN_PKT_CONNECT, TERN_PKT_CONNACK)},
    {0x28, TERN_PROP_T_BYTE, L(TERN_PKT_CONNACK)},
    {0x29, TERN_PROP_T_BYTE, L(TERN_PKT_CONNACK)},
    {0x2A, TERN_PROP_T_BYTE, L(TERN_PKT_CONNACK)},
};

static const struct expect *spec_of(unsigned id)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
		if (spec[i].id == id)
			return &spec[i];
	return NULL;
}

static bool listed(const unsigned *ctx, unsigned c)
{
	for (; *ctx != 99; ctx++)
		if (*ctx == c)
			return true;
	return false;
}

/* A valid value of each type, written by the writer. */
static void put_sample(struct tern_props_writer *w, uint8_t id, enum tern_prop_type type)
{
	static const struct tern_bytes name = {(const uint8_t *)"k", 1};
	static const struct tern_bytes value = {(const uint8_t *)"v\xc3\xa9", 3};

	switch (type) {
	case TERN_PROP_T_UTF8:
	case TERN_PROP_T_BINARY:
		tern_props_put_bytes(w, id, "ab", 2);
		break;
	case TERN_PROP_T_UTF8_PAIR:
		tern_props_put_pair(w, &name, &value);
		break;
	default:
		tern_props_put_int(w, id, 1);
		break;
	}
}

static void test_table_matches_spec(void **state)
{
	for (unsigned id = 0; id < 256; id++) {
		const struct expect *e = spec_of(id);

		assert_int_equal(tern_props_type(id), e ? e->type : 0);
		for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++)
			assert_int_equal(tern_props_allowed(id, contexts[c]),
					 e != NULL && listed(e->ctx, contexts[c]));
	}
}

/* Each property decodes where allowed and is Malformed elsewhere. */
static void test_each_property_in_each_context(void **state)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		uint8_t tmp[64];
		struct tern_props_writer w;
		struct block b;

		tern_props_writer_init(&w, tmp, sizeof(tmp));
		put_sample(&w, spec[i].id, spec[i].type);
		block_from(&b, &w);
		for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++) {
			struct tern_props p;
			uint8_t reason = 0xFF;
			int rc = decode(&b, contexts[c], &p, &reason);

			if (listed(spec[i].ctx, contexts[c])) {
				assert_int_equal(rc, (int)b.len);
				assert_int_equal(reason, TERN_RC_SUCCESS);
				assert_true(p.present & TERN_PROP_BIT(spec[i].id));
			} else {
				assert_int_equal(rc, -EPROTO);
				assert_int_equal(reason, TERN_RC_MALFORMED_PACKET);
			}
		}
	}
}

static void test_connect_values(void **state)
{
	uint8_t tmp[256];
	struct tern_props_writer w;
	struct block b;
	struct tern_props p;
	uint8_t reason;

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_SESSION_EXPIRY, 0xFFFFFFFFu);
	tern_props_put_int(&w, TERN_PROP_RECEIVE_MAXIMUM, 65535);
	tern_props_put_int(&w, TERN_PROP_MAXIMUM_PACKET_SIZE, 268435460u);
	tern_props_put_int(&w, TERN_PROP_TOPIC_ALIAS_MAXIMUM, 0);
	tern_props_put_int(&w, TERN_PROP_REQUEST_RESPONSE_INFO, 1);
	tern_props_put_int(&w, TERN_PROP_REQUEST_PROBLEM_INFO, 0);
	tern_props_put_bytes(&w, TERN_PROP_AUTH_METHOD, "SCRAM-SHA-256", 13);
	tern_props_put_bytes(&w, TERN_PROP_AUTH_DATA, "\0\1\2", 3);
	block_from(&b, &w);
	assert_int_equal(decode(&b, TERN_PKT_CONNECT, &p, &reason), (int)b.len);
	assert_int_equal(p.session_expiry, 0xFFFFFFFFu);
	assert_int_equal(p.receive_maximum, 65535);
	assert_int_equal(p.maximum_packet_size, 268435460u);
	assert_true(p.present & TERN_PROP_BIT(TERN_PROP_TOPIC_ALIAS_MAXIMUM));
	assert_int_equal(p.topic_alias_maximum, 0);
	assert_int_equal(p.request_response_info, 1);
	assert_true(p.present & TERN_PROP_BIT(TERN_PROP_REQUEST_PROBLEM_INFO));
	assert_int_equal(p.request_problem_info, 0);
	assert_int_equal(p.auth_method.len, 13);
	assert_memory_equal(p.auth_method.p, "SCRAM-SHA-256", 13);
	assert_int_equal(p.auth_data.len, 3);
	assert_memory_equal(p.auth_data.p, "\0\1\2", 3);
	assert_false(p.present & TERN_PROP_BIT(TERN_PROP_USER_PROPERTY));
}

static void test_publish_values_and_repeats(void **state)
{
	uint8_t tmp[256];
	struct tern_props_writer w;
	struct block b;
	struct tern_props p;
	uint8_t reason;

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_PAYLOAD_FORMAT, 1);
	tern_props_put_int(&w, TERN_PROP_MESSAGE_EXPIRY, 30);
	tern_props_put_bytes(&w, TERN_PROP_CONTENT_TYPE, "text/plain", 10);
	tern_props_put_bytes(&w, TERN_PROP_RESPONSE_TOPIC, "r/1", 3);
	tern_props_put_bytes(&w, TERN_PROP_CORRELATION_DATA, "\xff\x00", 2);
	tern_props_put_int(&w, TERN_PROP_TOPIC_ALIAS, 7);
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 268435455u);
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 5);
	block_from(&b, &w);
	assert_int_equal(decode(&b, TERN_PKT_PUBLISH, &p, &reason), (int)b.len);
	assert_int_equal(p.payload_format, 1);
	assert_int_equal(p.message_expiry, 30);
	assert_int_equal(p.content_type.len, 10);
	assert_int_equal(p.response_topic.len, 3);
	assert_memory_equal(p.correlation_data.p, "\xff\x00", 2);
	assert_int_equal(p.topic_alias, 7);
	assert_int_equal(p.n_subscription_ids, 2);
	assert_int_equal(p.subscription_id, 268435455u);

	/* Two subscription identifiers are a Protocol Error in SUBSCRIBE. */
	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 1);
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 2);
	block_from(&b, &w);
	assert_int_equal(decode(&b, TERN_PKT_SUBSCRIBE, &p, &reason), -EPROTO);
	assert_int_equal(reason, TERN_RC_PROTOCOL_ERROR);
}

/* Every single-use property given twice is a Protocol Error; user properties repeat. */
static void test_duplicates(void **state)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		uint8_t tmp[64];
		struct tern_props_writer w;
		struct block b;
		struct tern_props p;
		uint8_t reason;
		unsigned ctx = spec[i].ctx[0];

		tern_props_writer_init(&w, tmp, sizeof(tmp));
		put_sample(&w, spec[i].id, spec[i].type);
		put_sample(&w, spec[i].id, spec[i].type);
		block_from(&b, &w);

		int rc = decode(&b, ctx, &p, &reason);
		bool repeatable =
		    spec[i].id == TERN_PROP_USER_PROPERTY ||
		    (spec[i].id == TERN_PROP_SUBSCRIPTION_ID && ctx == TERN_PKT_PUBLISH);

		if (repeatable) {
			assert_int_equal(rc, (int)b.len);
		} else {
			assert_int_equal(rc, -EPROTO);
			assert_int_equal(reason, TERN_RC_PROTOCOL_ERROR);
		}
	}
}

static void expect_protocol_error(uint8_t id, uint32_t value, unsigned ctx)
{
	uint8_t tmp[16];
	struct tern_props_writer w;
	struct block b;
	struct tern_props p;
	uint8_t reason;

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, id, value);
	block_from(&b, &w);
	assert_int_equal(decode(&b, ctx, &p, &reason), -EPROTO);
	assert_int_equal(reason, TERN_RC_PROTOCOL_ERROR);
}

static void test_value_rules(void **state)
{
	uint8_t tmp[8];
	struct tern_props_writer w;
	struct block b;
	struct tern_props p;
	uint8_t reason;

	/* Topic alias 0 decodes; the engine answers it with 0x94. */
	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_TOPIC_ALIAS, 0);
	block_from(&b, &w);
	assert_int_equal(decode(&b, TERN_PKT_PUBLISH, &p, &reason), (int)b.len);
	assert_true(p.present & TERN_PROP_BIT(TERN_PROP_TOPIC_ALIAS));

	expect_protocol_error(TERN_PROP_RECEIVE_MAXIMUM, 0, TERN_PKT_CONNECT);
	expect_protocol_error(TERN_PROP_MAXIMUM_PACKET_SIZE, 0, TERN_PKT_CONNECT);
	expect_protocol_error(TERN_PROP_SUBSCRIPTION_ID, 0, TERN_PKT_SUBSCRIBE);
	expect_protocol_error(TERN_PROP_REQUEST_PROBLEM_INFO, 2, TERN_PKT_CONNECT);
	expect_protocol_error(TERN_PROP_REQUEST_RESPONSE_INFO, 255, TERN_PKT_CONNECT);
	expect_protocol_error(TERN_PROP_PAYLOAD_FORMAT, 2, TERN_PKT_PUBLISH);
	expect_protocol_error(TERN_PROP_PAYLOAD_FORMAT, 2, TERN_PROPS_CTX_WILL);
	expect_protocol_error(TERN_PROP_MAXIMUM_QOS, 2, TERN_PKT_CONNACK);
	expect_protocol_error(TERN_PROP_RETAIN_AVAILABLE, 2, TERN_PKT_CONNACK);
	expect_protocol_error(TERN_PROP_WILDCARD_SUB_AVAILABLE, 2, TERN_PKT_CONNACK);
	expect_protocol_error(TERN_PROP_SUB_ID_AVAILABLE, 2, TERN_PKT_CONNACK);
	expect_protocol_error(TERN_PROP_SHARED_SUB_AVAILABLE, 2, TERN_PKT_CONNACK);
}

static void expect_malformed_raw(const void *props, size_t len, unsigned ctx)
{
	struct block b;
	struct tern_props p;
	uint8_t reason;

	block_raw(&b, props, len);
	assert_int_equal(decode(&b, ctx, &p, &reason), -EPROTO);
	assert_int_equal(reason, TERN_RC_MALFORMED_PACKET);
}

static void test_malformed(void **state)
{
	/* Unknown identifiers, including ones with a two-byte identifier encoding. */
	expect_malformed_raw("\x00\x01", 2, TERN_PKT_PUBLISH);
	expect_malformed_raw("\x04\x00\x00\x00\x01", 5, TERN_PKT_PUBLISH);
	expect_malformed_raw("\x2b\x01", 2, TERN_PKT_CONNACK);
	expect_malformed_raw("\x81\x01\x01", 3, TERN_PKT_PUBLISH);
	/* A non-minimal identifier encoding of 0x01 is still read as 0x01. */
	{
		struct block b;
		struct tern_props p;
		uint8_t reason;

		block_raw(&b, "\x81\x00\x01", 3);
		assert_int_equal(decode(&b, TERN_PKT_PUBLISH, &p, &reason), (int)b.len);
		assert_int_equal(p.payload_format, 1);
	}
	/* Invalid UTF-8 and U+0000 in a string; binary data may hold anything. */
	expect_malformed_raw("\x03\x00\x01\xff", 4, TERN_PKT_PUBLISH);
	expect_malformed_raw("\x03\x00\x01\x00", 4, TERN_PKT_PUBLISH);
	expect_malformed_raw("\x26\x00\x01k\x00\x01\xc0", 7, TERN_PKT_PUBLISH);
	{
		struct block b;
		struct tern_props p;
		uint8_t reason;

		block_raw(&b, "\x09\x00\x02\xff\x00", 5);
		assert_int_equal(decode(&b, TERN_PKT_PUBLISH, &p, &reason), (int)b.len);
	}
	/* A string length past the block. */
	expect_malformed_raw("\x03\x00\x05"
			     "ab",
			     5, TERN_PKT_PUBLISH);
	/* A subscription identifier of five bytes. */
	expect_malformed_raw("\x0b\x80\x80\x80\x80\x01", 6, TERN_PKT_PUBLISH);
}

/* Every strict prefix of a valid block, and a length past the input, is Malformed. */
static void test_truncation(void **state)
{
	uint8_t tmp[128];
	struct tern_props_writer w;
	struct block b;

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_MESSAGE_EXPIRY, 9);
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 20000);
	tern_props_put_bytes(&w, TERN_PROP_CONTENT_TYPE, "x", 1);
	tern_props_put_pair(&w, &(struct tern_bytes){(const uint8_t *)"a", 1},
			    &(struct tern_bytes){(const uint8_t *)"b", 1});
	block_from(&b, &w);

	/* The outer length claims the full block but the input ends early. */
	for (size_t cut = 0; cut < b.len; cut++) {
		struct tern_props p;
		uint8_t reason;

		assert_int_equal(
		    tern_props_decode(guard_put(b.buf, cut), cut, TERN_PKT_PUBLISH, &p, &reason),
		    -EPROTO);
		assert_int_equal(reason, TERN_RC_MALFORMED_PACKET);
	}
	/* The outer length itself shrinks, so a property is cut inside the block. */
	for (size_t inner = 1; inner < w.len; inner++) {
		struct block c;
		struct tern_props p;
		uint8_t reason;
		int rc;

		block_raw(&c, w.buf, inner);
		rc = decode(&c, TERN_PKT_PUBLISH, &p, &reason);
		/* Cuts on a property boundary are valid shorter blocks. */
		if (inner == 5 || inner == 9 || inner == 13)
			assert_int_equal(rc, (int)c.len);
		else
			assert_int_equal(rc, -EPROTO);
	}
}

/* The empty block, and a block followed by other bytes that are not consumed. */
static void test_empty_and_trailing(void **state)
{
	struct tern_props p;
	uint8_t reason;
	const uint8_t in[] = {0x00, 0xAA, 0xBB};

	assert_int_equal(
	    tern_props_decode(guard_put(in, sizeof(in)), sizeof(in), TERN_PKT_PUBACK, &p, &reason),
	    1);
	assert_int_equal(p.present, 0);
	assert_int_equal(p.raw.len, 0);
	assert_int_equal(tern_props_decode(guard_put(in, 0), 0, TERN_PKT_PUBACK, &p, &reason),
			 -EPROTO);
}

/* User properties come back in wire order and re-encode to the same bytes. */
static void test_iterate_and_forward(void **state)
{
	static const char *const names[] = {"a", "b", "a", "c"};
	static const char *const values[] = {"1", "2", "3", "\xe2\x82\xac"};
	uint8_t tmp[256], out[256];
	struct tern_props_writer w, fw;
	struct block b;
	struct tern_props p;
	struct tern_prop_iter it;
	struct tern_prop prop;
	uint8_t reason;
	size_t n = 0;

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_MESSAGE_EXPIRY, 60);
	for (size_t i = 0; i < 4; i++)
		tern_props_put_pair(
		    &w, &(struct tern_bytes){(const uint8_t *)names[i], 1},
		    &(struct tern_bytes){(const uint8_t *)values[i], strlen(values[i])});
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 3);
	block_from(&b, &w);
	assert_int_equal(decode(&b, TERN_PKT_PUBLISH, &p, &reason), (int)b.len);
	assert_int_equal(p.n_user_props, 4);

	tern_props_writer_init(&fw, out, sizeof(out));
	tern_props_iter_init(&it, &p);
	while (tern_props_next(&it, &prop)) {
		if (prop.id == TERN_PROP_USER_PROPERTY) {
			assert_true(n < 4);
			assert_memory_equal(prop.s.p, names[n], 1);
			assert_int_equal(prop.v.len, strlen(values[n]));
			assert_memory_equal(prop.v.p, values[n], prop.v.len);
			n++;
		}
		tern_props_put(&fw, &prop);
	}
	assert_int_equal(n, 4);
	assert_false(fw.overflow);
	assert_int_equal(fw.len, w.len);
	assert_memory_equal(out, tmp, w.len);
}

static void test_writer_overflow_and_block_size(void **state)
{
	uint8_t tmp[8];
	struct tern_props_writer w;

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_SESSION_EXPIRY, 1); /* 5 bytes */
	assert_false(w.overflow);
	tern_props_put_int(&w, TERN_PROP_SESSION_EXPIRY, 1); /* would need 10 */
	assert_true(w.overflow);
	assert_int_equal(w.len, 5);

	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_CONTENT_TYPE, 1); /* not an integer property */
	assert_true(w.overflow);
	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_bytes(&w, TERN_PROP_SESSION_EXPIRY, "x", 1); /* not a string property */
	assert_true(w.overflow);
	tern_props_writer_init(&w, tmp, sizeof(tmp));
	tern_props_put_int(&w, TERN_PROP_SUBSCRIPTION_ID, 268435456u); /* past the varint range */
	assert_true(w.overflow);

	assert_int_equal(tern_props_block_size(0), 1);
	assert_int_equal(tern_props_block_size(127), 128);
	assert_int_equal(tern_props_block_size(128), 130);
	assert_int_equal(tern_props_block_size(16384), 16387);
}

/* A block longer than 127 bytes has a two-byte length. */
static void test_long_block(void **state)
{
	uint8_t props[300], in[310];
	struct tern_props_writer w;
	struct tern_props p;
	uint8_t reason;
	char value[200];

	memset(value, 'z', sizeof(value));
	tern_props_writer_init(&w, props, sizeof(props));
	tern_props_put_bytes(&w, TERN_PROP_REASON_STRING, value, sizeof(value));
	assert_false(w.overflow);
	in[0] = (uint8_t)(0x80 | (w.len & 0x7F));
	in[1] = (uint8_t)(w.len >> 7);
	memcpy(in + 2, props, w.len);
	assert_int_equal(tern_props_decode(guard_put(in, w.len + 2), w.len + 2, TERN_PKT_DISCONNECT,
					   &p, &reason),
			 (int)w.len + 2);
	assert_int_equal(p.reason_string.len, sizeof(value));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_matches_spec),
	    cmocka_unit_test(test_each_property_in_each_context),
	    cmocka_unit_test(test_connect_values),
	    cmocka_unit_test(test_publish_values_and_repeats),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_value_rules),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_empty_and_trailing),
	    cmocka_unit_test(test_iterate_and_forward),
	    cmocka_unit_test(test_writer_overflow_and_block_size),
	    cmocka_unit_test(test_long_block),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
