/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the MQTT 5.0 side of the codec: every packet type with and
 * without properties, the short forms, reason code checks and the Malformed /
 * Protocol Error split. Every decode runs against the guard page with all
 * prefixes checked (tests/unit/codec_helpers.h).
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
#include "tests/unit/codec_helpers.h"

#define V5 TERN_PROTO_V5

/* A property block content built by the writer. */
struct pblock {
	uint8_t buf[512];
	struct tern_props_writer w;
};

static struct tern_bytes pb_bytes(const struct pblock *b)
{
	assert_false(b->w.overflow);
	return (struct tern_bytes){b->buf, b->w.len};
}

/* A decode that must fail with -EPROTO and the given 5.0 reason. */
static void expect_error(const uint8_t *in, size_t len, uint8_t level, uint8_t reason)
{
	struct tern_packet pkt;

	decode_bad_level(in, len, level);
	assert_int_equal(guarded_decode(in, len, level, 0, &pkt), -EPROTO);
	assert_int_equal(pkt.error_reason, reason);
}

static void test_connect_round_trip(void **state)
{
	uint8_t out[1024];
	struct pblock cp, wp;
	struct tern_connect c = {0};
	struct tern_packet pkt;

	tern_props_writer_init(&cp.w, cp.buf, sizeof(cp.buf));
	tern_props_put_int(&cp.w, TERN_PROP_SESSION_EXPIRY, 3600);
	tern_props_put_int(&cp.w, TERN_PROP_RECEIVE_MAXIMUM, 10);
	tern_props_put_int(&cp.w, TERN_PROP_TOPIC_ALIAS_MAXIMUM, 5);
	tern_props_put_pair(&cp.w, &(struct tern_bytes){(const uint8_t *)"a", 1},
			    &(struct tern_bytes){(const uint8_t *)"b", 1});
	tern_props_writer_init(&wp.w, wp.buf, sizeof(wp.buf));
	tern_props_put_int(&wp.w, TERN_PROP_WILL_DELAY, 30);
	tern_props_put_int(&wp.w, TERN_PROP_PAYLOAD_FORMAT, 1);
	tern_props_put_bytes(&wp.w, TERN_PROP_CONTENT_TYPE, "text/plain", 10);

	c.proto_level = V5;
	c.clean_session = true;
	c.will = true;
	c.will_qos = 1;
	c.keepalive = 60;
	c.client_id = bs("dev-1");
	c.will_topic = bs("will/t");
	c.will_payload = bs("gone");
	c.will_props.raw = pb_bytes(&wp);
	c.has_password = true; /* a password without a user name is fine in 5.0 */
	c.password = bs("secret");

	struct tern_bytes props = pb_bytes(&cp);
	size_t n = tern_codec_encode_connect(out, sizeof(out), &c, &props);

	assert_true(n > 0);
	decode_valid(out, n, 0, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_CONNECT);
	assert_int_equal(pkt.connect.proto_level, V5);
	assert_false(pkt.connect.unsupported_level);
	assert_int_equal(pkt.props.session_expiry, 3600);
	assert_int_equal(pkt.props.receive_maximum, 10);
	assert_int_equal(pkt.props.topic_alias_maximum, 5);
	assert_int_equal(pkt.props.n_user_props, 1);
	assert_int_equal(pkt.connect.will_props.will_delay, 30);
	assert_int_equal(pkt.connect.will_props.payload_format, 1);
	assert_int_equal(pkt.connect.will_props.content_type.len, 10);
	assert_int_equal(pkt.connect.will_payload.len, 4);
	assert_false(pkt.connect.has_username);
	assert_true(pkt.connect.has_password);
	assert_memory_equal(pkt.connect.password.p, "secret", 6);

	/* A 3.1.1 CONNECT with a password alone stays malformed. */
	c.proto_level = TERN_PROTO_V311;
	n = tern_codec_encode_connect(out, sizeof(out), &c, NULL);
	decode_bad_level(out, n, 0);
}

static void test_connect_bad_props(void **state)
{
	uint8_t out[256];
	struct pblock cp, wp;
	struct tern_connect c = {0};
	struct tern_bytes props;
	size_t n;

	c.proto_level = V5;
	c.clean_session = true;
	c.client_id = bs("x");

	/* A will property in the CONNECT's own block: Malformed. */
	tern_props_writer_init(&cp.w, cp.buf, sizeof(cp.buf));
	tern_props_put_int(&cp.w, TERN_PROP_WILL_DELAY, 1);
	props = pb_bytes(&cp);
	n = tern_codec_encode_connect(out, sizeof(out), &c, &props);
	expect_error(out, n, 0, TERN_RC_MALFORMED_PACKET);

	/* Receive Maximum 0: Protocol Error. */
	tern_props_writer_init(&cp.w, cp.buf, sizeof(cp.buf));
	tern_props_put_int(&cp.w, TERN_PROP_RECEIVE_MAXIMUM, 0);
	props = pb_bytes(&cp);
	n = tern_codec_encode_connect(out, sizeof(out), &c, &props);
	expect_error(out, n, 0, TERN_RC_PROTOCOL_ERROR);

	/* Session expiry twice: Protocol Error. */
	tern_props_writer_init(&cp.w, cp.buf, sizeof(cp.buf));
	tern_props_put_int(&cp.w, TERN_PROP_SESSION_EXPIRY, 1);
	tern_props_put_int(&cp.w, TERN_PROP_SESSION_EXPIRY, 2);
	props = pb_bytes(&cp);
	n = tern_codec_encode_connect(out, sizeof(out), &c, &props);
	expect_error(out, n, 0, TERN_RC_PROTOCOL_ERROR);

	/* Session expiry among the will properties: Malformed. */
	c.will = true;
	c.will_topic = bs("w");
	c.will_payload = bs("p");
	tern_props_writer_init(&wp.w, wp.buf, sizeof(wp.buf));
	tern_props_put_int(&wp.w, TERN_PROP_SESSION_EXPIRY, 1);
	c.will_props.raw = pb_bytes(&wp);
	n = tern_codec_encode_connect(out, sizeof(out), &c, NULL);
	expect_error(out, n, 0, TERN_RC_MALFORMED_PACKET);

	/* The property length runs past the packet. */
	static const uint8_t past[] = {0x10, 0x0e, 0x00, 0x04, 'M',  'Q',  'T',	 'T',
				       0x05, 0x02, 0x00, 0x3c, 0x09, 0x21, 0x00, 0x14};

	expect_error(past, sizeof(past), 0, TERN_RC_MALFORMED_PACKET);
}

static void test_connack(void **state)
{
	uint8_t out[256];
	struct pblock p;
	struct tern_packet pkt;

	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_bytes(&p.w, TERN_PROP_ASSIGNED_CLIENT_ID, "auto-1", 6);
	tern_props_put_int(&p.w, TERN_PROP_SERVER_KEEPALIVE, 30);
	tern_props_put_int(&p.w, TERN_PROP_MAXIMUM_QOS, 1);

	struct tern_bytes props = pb_bytes(&p);
	size_t n = tern_codec_encode_connack5(out, sizeof(out), true, TERN_RC_SUCCESS, &props);

	decode_valid(out, n, V5, &pkt);
	assert_true(pkt.connack.session_present);
	assert_int_equal(pkt.connack.rc, 0);
	assert_int_equal(pkt.props.server_keepalive, 30);
	assert_int_equal(pkt.props.assigned_client_id.len, 6);

	/* No properties: the length byte is still there. */
	n = tern_codec_encode_connack5(out, sizeof(out), false, TERN_RC_BAD_AUTHENTICATION_METHOD,
				       NULL);
	assert_int_equal(n, 5);
	assert_int_equal(out[1], 3);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.connack.rc, TERN_RC_BAD_AUTHENTICATION_METHOD);

	/* A reason CONNACK does not define, and session present with a refusal. */
	static const uint8_t undefined[] = {0x20, 0x03, 0x00, 0x8E, 0x00};
	static const uint8_t present_refused[] = {0x20, 0x03, 0x01, 0x87, 0x00};

	expect_error(undefined, sizeof(undefined), V5, TERN_RC_PROTOCOL_ERROR);
	expect_error(present_refused, sizeof(present_refused), V5, TERN_RC_PROTOCOL_ERROR);
}

static void test_publish(void **state)
{
	uint8_t out[512];
	struct pblock p;
	struct tern_packet pkt;
	struct tern_publish pub = {
	    .qos = 1, .packet_id = 9, .topic = bs("a/b"), .payload = bs("hello")};

	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_int(&p.w, TERN_PROP_MESSAGE_EXPIRY, 10);
	tern_props_put_int(&p.w, TERN_PROP_TOPIC_ALIAS, 3);
	tern_props_put_bytes(&p.w, TERN_PROP_RESPONSE_TOPIC, "r", 1);

	struct tern_bytes props = pb_bytes(&p);
	size_t n = tern_codec_encode_publish5(out, sizeof(out), &pub, &props);

	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.publish.packet_id, 9);
	assert_int_equal(pkt.props.message_expiry, 10);
	assert_int_equal(pkt.props.topic_alias, 3);
	assert_int_equal(pkt.publish.payload.len, 5);
	assert_memory_equal(pkt.publish.payload.p, "hello", 5);

	/* An empty topic with an alias is valid; without one a Protocol Error. */
	pub.topic = bs("");
	n = tern_codec_encode_publish5(out, sizeof(out), &pub, &props);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.publish.topic.len, 0);
	n = tern_codec_encode_publish5(out, sizeof(out), &pub, NULL);
	expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);
	/* ... and in 3.1.1 an empty topic is malformed whatever follows. */
	n = tern_codec_encode_publish(out, sizeof(out), &pub);
	decode_bad_level(out, n, TERN_PROTO_V311);

	/* Packet id 0 at QoS 1. */
	pub.topic = bs("t");
	pub.packet_id = 0;
	n = tern_codec_encode_publish5(out, sizeof(out), &pub, NULL);
	expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);

	/* A QoS 0 PUBLISH with no properties and no payload. */
	pub.qos = 0;
	pub.payload = bs("");
	n = tern_codec_encode_publish5(out, sizeof(out), &pub, NULL);
	assert_int_equal(n, 2 + 3 + 1);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.props.present, 0);
}

static void test_acks(void **state)
{
	static const enum tern_pkt_type types[] = {TERN_PKT_PUBACK, TERN_PKT_PUBREC,
						   TERN_PKT_PUBREL, TERN_PKT_PUBCOMP};
	uint8_t out[256];
	struct tern_packet pkt;
	struct pblock p;

	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_bytes(&p.w, TERN_PROP_REASON_STRING, "why", 3);

	struct tern_bytes props = pb_bytes(&p);

	for (size_t i = 0; i < 4; i++) {
		enum tern_pkt_type t = types[i];
		uint8_t failure = (t == TERN_PKT_PUBREL || t == TERN_PKT_PUBCOMP)
				      ? TERN_RC_PACKET_ID_NOT_FOUND
				      : TERN_RC_NOT_AUTHORIZED;
		size_t n;

		/* Success without properties: the 3.1.1 layout. */
		n = tern_codec_encode_ack5(out, sizeof(out), t, 7, TERN_RC_SUCCESS, NULL);
		assert_int_equal(n, 4);
		decode_valid(out, n, V5, &pkt);
		assert_int_equal(pkt.ack.packet_id, 7);
		assert_int_equal(pkt.ack.reason, 0);

		/* A reason alone: no property length. */
		n = tern_codec_encode_ack5(out, sizeof(out), t, 7, failure, NULL);
		assert_int_equal(n, 5);
		decode_valid(out, n, V5, &pkt);
		assert_int_equal(pkt.ack.reason, failure);

		/* Reason and properties. */
		n = tern_codec_encode_ack5(out, sizeof(out), t, 7, failure, &props);
		decode_valid(out, n, V5, &pkt);
		assert_int_equal(pkt.props.reason_string.len, 3);

		/* A reason this type does not define. */
		n = tern_codec_encode_ack5(out, sizeof(out), t, 7, TERN_RC_SESSION_TAKEN_OVER,
					   NULL);
		expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);

		/* A property an ack may not carry. */
		/* A topic alias (allowed only in PUBLISH), well-formed otherwise. */
		const uint8_t bad[] = {(uint8_t)((t << 4) | (t == TERN_PKT_PUBREL ? 2 : 0)),
				       0x07,
				       0x00,
				       0x07,
				       0x00,
				       0x03,
				       0x23,
				       0x00,
				       0x01};

		expect_error(bad, sizeof(bad), V5, TERN_RC_MALFORMED_PACKET);

		/* 3.1.1 acks are exactly two bytes long. */
		n = tern_codec_encode_ack5(out, sizeof(out), t, 7, failure, NULL);
		decode_bad_level(out, n, TERN_PROTO_V311);
	}
	assert_int_equal(tern_codec_encode_ack5(out, sizeof(out), TERN_PKT_UNSUBACK, 1, 0, NULL),
			 0);
}

static void test_subscribe(void **state)
{
	uint8_t out[256];
	struct pblock p;
	struct tern_packet pkt;
	struct tern_filter_iter it;
	struct tern_bytes f;
	uint8_t opt;
	const struct tern_bytes filters[] = {bs("a/+"), bs("$share/g/b/#")};
	const uint8_t options[] = {
	    1 | TERN_SUBOPT_NO_LOCAL | TERN_SUBOPT_RETAIN_AS_PUBLISHED | (2 << 4), 2};

	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_int(&p.w, TERN_PROP_SUBSCRIPTION_ID, 300);

	struct tern_bytes props = pb_bytes(&p);
	size_t n = tern_codec_encode_sub_list5(out, sizeof(out), TERN_PKT_SUBSCRIBE, 5, &props,
					       filters, options, 2);

	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.subscribe.count, 2);
	assert_int_equal(pkt.props.subscription_id, 300);
	tern_codec_filter_iter_init(&it, &pkt);
	assert_true(tern_codec_filter_next(&it, &f, &opt));
	assert_int_equal(f.len, 3);
	assert_int_equal(opt & TERN_SUBOPT_QOS_MASK, 1);
	assert_true(opt & TERN_SUBOPT_NO_LOCAL);
	assert_true(opt & TERN_SUBOPT_RETAIN_AS_PUBLISHED);
	assert_int_equal(TERN_SUBOPT_RETAIN_HANDLING(opt), 2);
	assert_true(tern_codec_filter_next(&it, &f, &opt));
	assert_int_equal(f.len, 12);
	assert_false(tern_codec_filter_next(&it, &f, &opt));

	/* The same options are malformed in 3.1.1. */
	n = tern_codec_encode_sub_list(out, sizeof(out), TERN_PKT_SUBSCRIBE, 5, filters, options,
				       1);
	decode_bad_level(out, n, TERN_PROTO_V311);

	/* Retain Handling 3: Protocol Error; reserved bits 6-7: Malformed; QoS 3: Malformed. */
	static const uint8_t rh3 = 3 << 4, reserved = 0x40, qos3 = 3;

	n = tern_codec_encode_sub_list5(out, sizeof(out), TERN_PKT_SUBSCRIBE, 5, NULL, filters,
					&rh3, 1);
	expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);
	n = tern_codec_encode_sub_list5(out, sizeof(out), TERN_PKT_SUBSCRIBE, 5, NULL, filters,
					&reserved, 1);
	expect_error(out, n, V5, TERN_RC_MALFORMED_PACKET);
	n = tern_codec_encode_sub_list5(out, sizeof(out), TERN_PKT_SUBSCRIBE, 5, NULL, filters,
					&qos3, 1);
	expect_error(out, n, V5, TERN_RC_MALFORMED_PACKET);

	/* No filter at all: Protocol Error. */
	static const uint8_t empty[] = {0x82, 0x03, 0x00, 0x05, 0x00};

	expect_error(empty, sizeof(empty), V5, TERN_RC_PROTOCOL_ERROR);

	/* UNSUBSCRIBE with a user property. */
	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_pair(&p.w, &(struct tern_bytes){(const uint8_t *)"k", 1},
			    &(struct tern_bytes){(const uint8_t *)"v", 1});
	props = pb_bytes(&p);
	n = tern_codec_encode_sub_list5(out, sizeof(out), TERN_PKT_UNSUBSCRIBE, 6, &props, filters,
					NULL, 2);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.subscribe.count, 2);
	assert_int_equal(pkt.props.n_user_props, 1);
	/* A subscription identifier in UNSUBSCRIBE is not allowed. */
	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_int(&p.w, TERN_PROP_SUBSCRIPTION_ID, 1);
	props = pb_bytes(&p);
	n = tern_codec_encode_sub_list5(out, sizeof(out), TERN_PKT_UNSUBSCRIBE, 6, &props, filters,
					NULL, 1);
	expect_error(out, n, V5, TERN_RC_MALFORMED_PACKET);
}

static void test_suback_unsuback(void **state)
{
	uint8_t out[256];
	struct tern_packet pkt;
	static const uint8_t codes[] = {0x00, 0x02, 0x87, 0xA2};
	static const uint8_t uncodes[] = {0x00, 0x11};
	size_t n;

	n = tern_codec_encode_suback5(out, sizeof(out), TERN_PKT_SUBACK, 3, NULL, codes, 4);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.suback.packet_id, 3);
	assert_int_equal(pkt.suback.codes.len, 4);
	n = tern_codec_encode_suback5(out, sizeof(out), TERN_PKT_UNSUBACK, 4, NULL, uncodes, 2);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.suback.codes.len, 2);
	assert_int_equal(pkt.ack.packet_id, 4);

	/* 0x11 is an UNSUBACK code, not a SUBACK one. */
	n = tern_codec_encode_suback5(out, sizeof(out), TERN_PKT_SUBACK, 3, NULL, uncodes, 2);
	expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);
	/* 3.1.1 UNSUBACK is the packet id alone. */
	n = tern_codec_encode_ack(out, sizeof(out), TERN_PKT_UNSUBACK, 8);
	decode_valid(out, n, TERN_PROTO_V311, &pkt);
	assert_int_equal(pkt.ack.packet_id, 8);
	assert_int_equal(pkt.suback.codes.len, 0);
}

static void test_disconnect_and_auth(void **state)
{
	uint8_t out[256];
	struct tern_packet pkt;
	struct pblock p;
	size_t n;

	/* Normal disconnection: two bytes. */
	n = tern_codec_encode_status5(out, sizeof(out), TERN_PKT_DISCONNECT, 0, NULL);
	assert_int_equal(n, 2);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.status.reason, 0);

	/* A reason alone. */
	n = tern_codec_encode_status5(out, sizeof(out), TERN_PKT_DISCONNECT,
				      TERN_RC_DISCONNECT_WITH_WILL, NULL);
	assert_int_equal(n, 3);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.status.reason, TERN_RC_DISCONNECT_WITH_WILL);

	/* Reason and properties. */
	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_int(&p.w, TERN_PROP_SESSION_EXPIRY, 0);
	tern_props_put_bytes(&p.w, TERN_PROP_REASON_STRING, "bye", 3);

	struct tern_bytes props = pb_bytes(&p);

	n = tern_codec_encode_status5(out, sizeof(out), TERN_PKT_DISCONNECT, 0, &props);
	decode_valid(out, n, V5, &pkt);
	assert_true(pkt.props.present & TERN_PROP_BIT(TERN_PROP_SESSION_EXPIRY));

	/* An undefined reason; a property DISCONNECT may not carry. */
	n = tern_codec_encode_status5(out, sizeof(out), TERN_PKT_DISCONNECT, 0x01, NULL);
	expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);
	static const uint8_t bad_prop[] = {0xE0, 0x05, 0x00, 0x03, 0x21, 0x00, 0x01};

	expect_error(bad_prop, sizeof(bad_prop), V5, TERN_RC_MALFORMED_PACKET);
	/* 3.1.1 DISCONNECT stays empty. */
	decode_bad_level(out, n, TERN_PROTO_V311);

	/* AUTH: only at level 5, flags 0, reasons 0x00 / 0x18 / 0x19. */
	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_bytes(&p.w, TERN_PROP_AUTH_METHOD, "SCRAM-SHA-256", 13);
	tern_props_put_bytes(&p.w, TERN_PROP_AUTH_DATA, "\x01\x02", 2);
	props = pb_bytes(&p);
	n = tern_codec_encode_status5(out, sizeof(out), TERN_PKT_AUTH,
				      TERN_RC_CONTINUE_AUTHENTICATION, &props);
	decode_valid(out, n, V5, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_AUTH);
	assert_int_equal(pkt.status.reason, TERN_RC_CONTINUE_AUTHENTICATION);
	assert_int_equal(pkt.props.auth_method.len, 13);
	decode_bad_level(out, n, TERN_PROTO_V311);
	decode_bad_level(out, n, 0);
	out[0] |= 1;
	decode_bad_level(out, n, V5);
	n = tern_codec_encode_status5(out, sizeof(out), TERN_PKT_AUTH, 0x01, NULL);
	expect_error(out, n, V5, TERN_RC_PROTOCOL_ERROR);
}

/* Shrinking a valid packet's remaining length cuts its property block: never a fault. */
static void test_truncated_properties(void **state)
{
	uint8_t out[512], cut[512];
	struct pblock p;
	struct tern_publish pub = {.qos = 2, .packet_id = 1, .topic = bs("t/1"), .payload = bs("")};

	tern_props_writer_init(&p.w, p.buf, sizeof(p.buf));
	tern_props_put_int(&p.w, TERN_PROP_MESSAGE_EXPIRY, 10);
	tern_props_put_bytes(&p.w, TERN_PROP_CORRELATION_DATA, "0123456789", 10);
	tern_props_put_pair(&p.w, &(struct tern_bytes){(const uint8_t *)"n", 1},
			    &(struct tern_bytes){(const uint8_t *)"v", 1});

	struct tern_bytes props = pb_bytes(&p);
	size_t n = tern_codec_encode_publish5(out, sizeof(out), &pub, &props);
	size_t head = 2 + 2 + 3 + 2; /* fixed header, topic, packet id */

	assert_true(n < 128);
	for (size_t body = head - 2; body < n - 2; body++) {
		struct tern_packet pkt;
		ssize_t r;

		memcpy(cut, out, body + 2);
		cut[1] = (uint8_t)body;
		r = guarded_decode(cut, body + 2, V5, 0, &pkt);
		/* The block's length always says more than is left. */
		if (r != -EPROTO)
			fail_msg("cut at %zu gave %zd", body, r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_round_trip),
	    cmocka_unit_test(test_connect_bad_props),
	    cmocka_unit_test(test_connack),
	    cmocka_unit_test(test_publish),
	    cmocka_unit_test(test_acks),
	    cmocka_unit_test(test_subscribe),
	    cmocka_unit_test(test_suback_unsuback),
	    cmocka_unit_test(test_disconnect_and_auth),
	    cmocka_unit_test(test_truncated_properties),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
