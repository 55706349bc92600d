/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of bench/mqtt_wire: encoders against hand-assembled MQTT 3.1.1 and 5.0
 * bytes, the decoder on every packet a broker sends, every split point (-EAGAIN),
 * malformed input (-EPROTO, -EMSGSIZE), with the input at the end of a page followed
 * by a PROT_NONE page so that any over-read faults.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "bench/mqtt_wire.h"

static uint8_t *guard_base;
static size_t page;

static int setup(void **state)
{
	(void)state;
	page = (size_t)sysconf(_SC_PAGESIZE);
	guard_base =
	    mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_base == MAP_FAILED)
		return -1;
	return mprotect(guard_base + page, page, PROT_NONE);
}

static int teardown(void **state)
{
	(void)state;
	return munmap(guard_base, 2 * page);
}

/* Copies len bytes to the end of the readable page and returns where they start. */
static const uint8_t *at_guard(const uint8_t *p, size_t len)
{
	uint8_t *dst = guard_base + page - len;
	memcpy(dst, p, len);
	return dst;
}

static ssize_t decode(const uint8_t *p, size_t len, int version, struct tb_mqtt_pkt *pk)
{
	return tb_mqtt_decode(at_guard(p, len), len, version, 1 << 20, pk);
}

/* Every proper prefix of a valid packet is incomplete, never an error or an over-read. */
static void check_splits(const uint8_t *p, size_t len, int version)
{
	struct tb_mqtt_pkt pk;
	for (size_t i = 0; i < len; i++)
		assert_int_equal(decode(p, i, version, &pk), -EAGAIN);
	assert_int_equal(decode(p, len, version, &pk), (ssize_t)len);
}

static void test_connect(void **state)
{
	(void)state;
	uint8_t b[64];
	static const uint8_t v3[] = {0x10, 0x0e, 0, 4,	'M', 'Q', 'T', 'T',
				     4,	   0x02, 0, 60, 0,   2,	  'a', 'b'};
	assert_int_equal(tb_mqtt_connect(b, sizeof(b), TB_MQTT_V311, "ab", 60, 0), sizeof(v3));
	assert_memory_equal(b, v3, sizeof(v3));
	/* v5: Receive Maximum 65535 and Topic Alias Maximum 10 */
	static const uint8_t v5[] = {0x10, 0x15, 0,    4,    'M',  'Q', 'T', 'T', 5, 0x02, 0,  60,
				     6,	   0x21, 0xff, 0xff, 0x22, 0,	10,  0,	  2, 'a',  'b'};
	assert_int_equal(tb_mqtt_connect(b, sizeof(b), TB_MQTT_V5, "ab", 60, 10), sizeof(v5));
	assert_memory_equal(b, v5, sizeof(v5));
	/* too small a buffer writes nothing */
	assert_int_equal(tb_mqtt_connect(b, sizeof(v3) - 1, TB_MQTT_V311, "ab", 60, 0), 0);
}

static void test_subscribe(void **state)
{
	(void)state;
	uint8_t b[64];
	const char *f[] = {"a/b", "c/+"};
	static const uint8_t v3[] = {0x82, 0x0e, 0, 7, 0,   3,	 'a', '/',
				     'b',  1,	 0, 3, 'c', '/', '+', 1};
	assert_int_equal(tb_mqtt_subscribe(b, sizeof(b), TB_MQTT_V311, 7, f, 2, 1), sizeof(v3));
	assert_memory_equal(b, v3, sizeof(v3));
	static const uint8_t v5[] = {0x82, 0x09, 0, 7, 0, 0, 3, 'a', '/', 'b', 2};
	assert_int_equal(tb_mqtt_subscribe(b, sizeof(b), TB_MQTT_V5, 7, f, 1, 2), sizeof(v5));
	assert_memory_equal(b, v5, sizeof(v5));
}

static void test_publish_roundtrip(void **state)
{
	(void)state;
	uint8_t b[512];
	uint8_t payload[200];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	struct tb_mqtt_pkt pk;

	/* v3.1.1 QoS 1: 0x32, remaining 2+3+2+200 = 207 (two length bytes) */
	size_t h = tb_mqtt_publish_header(b, sizeof(b), TB_MQTT_V311, 1, 513, "t/x", 3, 0,
					  sizeof(payload));
	assert_int_equal(h, 1 + 2 + 2 + 3 + 2);
	assert_int_equal(b[0], 0x32);
	assert_int_equal(b[1], (207 & 0x7f) | 0x80);
	assert_int_equal(b[2], 207 >> 7);
	memcpy(b + h, payload, sizeof(payload));
	check_splits(b, h + sizeof(payload), TB_MQTT_V311);
	assert_int_equal(decode(b, h + sizeof(payload), TB_MQTT_V311, &pk), h + sizeof(payload));
	assert_int_equal(pk.type, TB_PUBLISH);
	assert_int_equal(pk.qos, 1);
	assert_int_equal(pk.id, 513);
	assert_int_equal(pk.topic_len, 3);
	assert_int_equal(pk.payload_len, sizeof(payload));
	assert_memory_equal(pk.payload, payload, sizeof(payload));

	/* v5 QoS 0 with topic and alias, then alias only */
	h = tb_mqtt_publish_header(b, sizeof(b), TB_MQTT_V5, 0, 0, "t/x", 3, 4, 16);
	static const uint8_t first[] = {0x30, 25, 0, 3, 't', '/', 'x', 3, 0x23, 0, 4};
	assert_int_equal(h, sizeof(first));
	assert_memory_equal(b, first, sizeof(first));
	memset(b + h, 0xab, 16);
	assert_int_equal(decode(b, h + 16, TB_MQTT_V5, &pk), h + 16);
	assert_int_equal(pk.topic_alias, 4);
	assert_int_equal(pk.topic_len, 3);
	h = tb_mqtt_publish_header(b, sizeof(b), TB_MQTT_V5, 2, 9, "", 0, 4, 16);
	memset(b + h, 0xab, 16);
	check_splits(b, h + 16, TB_MQTT_V5);
	assert_int_equal(decode(b, h + 16, TB_MQTT_V5, &pk), h + 16);
	assert_int_equal(pk.topic_len, 0);
	assert_null(pk.topic);
	assert_int_equal(pk.topic_alias, 4);
	assert_int_equal(pk.qos, 2);
	assert_int_equal(pk.id, 9);
	assert_int_equal(pk.payload_len, 16);
}

static void test_acks_and_control(void **state)
{
	(void)state;
	uint8_t b[8];
	struct tb_mqtt_pkt pk;
	assert_int_equal(tb_mqtt_ack(b, sizeof(b), TB_PUBREL, 0x1234), 4);
	static const uint8_t rel[] = {0x62, 2, 0x12, 0x34};
	assert_memory_equal(b, rel, 4);
	assert_int_equal(tb_mqtt_ack(b, 3, TB_PUBACK, 1), 0);
	assert_int_equal(tb_mqtt_empty(b, sizeof(b), TB_PINGREQ), 2);
	assert_int_equal(b[0], 0xc0);
	assert_int_equal(tb_mqtt_empty(b, sizeof(b), TB_DISCONNECT), 2);
	assert_int_equal(b[0], 0xe0);

	/* PUBACK from the broker: v3 exactly 2 bytes; v5 with a reason code and properties */
	static const uint8_t ack3[] = {0x40, 2, 0, 5};
	assert_int_equal(decode(ack3, 4, TB_MQTT_V311, &pk), 4);
	assert_int_equal(pk.id, 5);
	static const uint8_t ack3bad[] = {0x40, 3, 0, 5, 0};
	assert_int_equal(decode(ack3bad, 5, TB_MQTT_V311, &pk), -EPROTO);
	static const uint8_t ack5[] = {0x40, 7, 0, 5, 0x10, 3, 0x1f, 0, 0};
	check_splits(ack5, sizeof(ack5), TB_MQTT_V5);
	assert_int_equal(decode(ack5, sizeof(ack5), TB_MQTT_V5, &pk), sizeof(ack5));
	assert_int_equal(pk.rc, 0x10);
	static const uint8_t ping[] = {0xd0, 0};
	assert_int_equal(decode(ping, 2, TB_MQTT_V311, &pk), 2);
	assert_int_equal(pk.type, TB_PINGRESP);
	static const uint8_t disc5[] = {0xe0, 1, 0x8e};
	assert_int_equal(decode(disc5, 3, TB_MQTT_V5, &pk), 3);
	assert_int_equal(pk.rc, 0x8e);
}

static void test_connack_suback(void **state)
{
	(void)state;
	struct tb_mqtt_pkt pk;
	static const uint8_t c3[] = {0x20, 2, 1, 0};
	assert_int_equal(decode(c3, 4, TB_MQTT_V311, &pk), 4);
	assert_true(pk.session_present);
	assert_int_equal(pk.rc, 0);
	/* v5: Receive Maximum 20, Topic Alias Maximum 10, a user property, Maximum QoS 1 */
	static const uint8_t c5[] = {0x20, 18,	 0, 0, 15,  0x21, 0, 20,  0x22, 0,
				     10,   0x26, 0, 1, 'k', 0,	  1, 'v', 0x24, 1};
	check_splits(c5, sizeof(c5), TB_MQTT_V5);
	assert_int_equal(decode(c5, sizeof(c5), TB_MQTT_V5, &pk), sizeof(c5));
	assert_int_equal(pk.receive_max, 20);
	assert_int_equal(pk.alias_max, 10);
	/* an unknown property id, and a property cut by the property length */
	static const uint8_t bad1[] = {0x20, 5, 0, 0, 2, 0x7f, 0};
	assert_int_equal(decode(bad1, sizeof(bad1), TB_MQTT_V5, &pk), -EPROTO);
	static const uint8_t bad2[] = {0x20, 5, 0, 0, 2, 0x21, 0};
	assert_int_equal(decode(bad2, sizeof(bad2), TB_MQTT_V5, &pk), -EPROTO);
	/* property length beyond the packet */
	static const uint8_t bad3[] = {0x20, 3, 0, 0, 9};
	assert_int_equal(decode(bad3, sizeof(bad3), TB_MQTT_V5, &pk), -EPROTO);

	static const uint8_t s3[] = {0x90, 4, 0, 1, 1, 0x80};
	assert_int_equal(decode(s3, sizeof(s3), TB_MQTT_V311, &pk), sizeof(s3));
	assert_int_equal(pk.id, 1);
	assert_int_equal(pk.payload_len, 2);
	assert_int_equal(pk.payload[1], 0x80);
	static const uint8_t s5[] = {0x90, 4, 0, 1, 0, 2};
	assert_int_equal(decode(s5, sizeof(s5), TB_MQTT_V5, &pk), sizeof(s5));
	assert_int_equal(pk.rc, 2);
	static const uint8_t s_empty[] = {0x90, 2, 0, 1};
	assert_int_equal(decode(s_empty, sizeof(s_empty), TB_MQTT_V311, &pk), -EPROTO);
}

static void test_malformed(void **state)
{
	(void)state;
	struct tb_mqtt_pkt pk;
	/* remaining length with a fifth continuation byte */
	static const uint8_t len5[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(decode(len5, sizeof(len5), TB_MQTT_V311, &pk), -EPROTO);
	/* QoS 3 */
	static const uint8_t q3[] = {0x36, 5, 0, 1, 't', 0, 1};
	assert_int_equal(decode(q3, sizeof(q3), TB_MQTT_V311, &pk), -EPROTO);
	/* packet id 0 at QoS 1 */
	static const uint8_t id0[] = {0x32, 5, 0, 1, 't', 0, 0};
	assert_int_equal(decode(id0, sizeof(id0), TB_MQTT_V311, &pk), -EPROTO);
	/* topic longer than the packet */
	static const uint8_t tl[] = {0x30, 3, 0, 9, 't'};
	assert_int_equal(decode(tl, sizeof(tl), TB_MQTT_V311, &pk), -EPROTO);
	/* v5 empty topic without an alias */
	static const uint8_t noalias[] = {0x30, 3, 0, 0, 0};
	assert_int_equal(decode(noalias, sizeof(noalias), TB_MQTT_V5, &pk), -EPROTO);
	/* packets a broker never sends */
	static const uint8_t conn[] = {0x10, 0};
	assert_int_equal(decode(conn, 2, TB_MQTT_V311, &pk), -EPROTO);
	static const uint8_t zero[] = {0x00, 0};
	assert_int_equal(decode(zero, 2, TB_MQTT_V311, &pk), -EPROTO);
	static const uint8_t auth3[] = {0xf0, 0};
	assert_int_equal(decode(auth3, 2, TB_MQTT_V311, &pk), -EPROTO);
	/* over the caller's maximum, known from the fixed header alone */
	static const uint8_t big[] = {0x30, 0x80, 0x80, 0x01};
	assert_int_equal(
	    tb_mqtt_decode(at_guard(big, sizeof(big)), sizeof(big), TB_MQTT_V311, 1000, &pk),
	    -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect),	      cmocka_unit_test(test_subscribe),
	    cmocka_unit_test(test_publish_roundtrip), cmocka_unit_test(test_acks_and_control),
	    cmocka_unit_test(test_connack_suback),    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
