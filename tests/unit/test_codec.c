/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the MQTT 3.1 / 3.1.1 codec and the MQTT UTF-8 validator. Every decode
 * goes through guarded_decode(), which puts the input at the end of a mapping followed
 * by a PROT_NONE page, so any read past buf + len faults.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/codec.h"
#include "broker/topic.h"
#include "broker/utf8.h"
#include "tests/unit/codec_helpers.h"
#include "tests/unit/guard.h"

static void decode_bad(const uint8_t *in, size_t len)
{
	decode_bad_level(in, len, TERN_PROTO_V31);
	decode_bad_level(in, len, TERN_PROTO_V311);
}

static const uint8_t levels[] = {TERN_PROTO_V31, TERN_PROTO_V311};

/* ---- utf8 ---- */

static void test_utf8_valid(void **state)
{
	static const char *const good[] = {
	    "",
	    "a",
	    "hello/world",
	    "\x01\x1f\x7f",		/* controls are only SHOULD NOT */
	    "\xc2\x80",			/* U+0080 */
	    "\xc3\xa9t\xc3\xa9",	/* été */
	    "\xdf\xbf",			/* U+07FF */
	    "\xe0\xa0\x80",		/* U+0800 */
	    "\xe2\x82\xac",		/* € */
	    "\xed\x9f\xbf",		/* U+D7FF, just below the surrogates */
	    "\xee\x80\x80",		/* U+E000, just above */
	    "\xef\xbf\xbe\xef\xbf\xbf", /* U+FFFE U+FFFF noncharacters */
	    "\xef\xbb\xbf",		/* U+FEFF BOM, must not be stripped or refused */
	    "\xf0\x90\x80\x80",		/* U+10000 */
	    "\xf0\x9f\x98\x80",		/* emoji */
	    "\xf3\xbf\xbf\xbf",
	    "\xf4\x8f\xbf\xbf", /* U+10FFFF */
	    "\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x8c\x8d/x",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!guarded_utf8(good[i], strlen(good[i])))
			fail_msg("valid string %zu refused", i);
}

static void test_utf8_invalid(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
	    {"\x00", 1}, /* U+0000 */
	    {"ab\x00"
	     "cd",
	     5},			     /* U+0000 inside */
	    {"\xc0\x80", 2},		     /* overlong U+0000 */
	    {"\xc0\xaf", 2},		     /* overlong '/' */
	    {"\xc1\xbf", 2},		     /* overlong U+007F */
	    {"\xe0\x80\x80", 3},	     /* overlong 3-byte */
	    {"\xe0\x9f\xbf", 3},	     /* overlong U+07FF */
	    {"\xf0\x80\x80\x80", 4},	     /* overlong 4-byte */
	    {"\xf0\x8f\xbf\xbf", 4},	     /* overlong U+FFFF */
	    {"\xed\xa0\x80", 3},	     /* U+D800 */
	    {"\xed\xaf\xbf", 3},	     /* U+DBFF */
	    {"\xed\xb0\x80", 3},	     /* U+DC00 */
	    {"\xed\xbf\xbf", 3},	     /* U+DFFF */
	    {"\xed\xa0\xbd\xed\xb8\x80", 6}, /* CESU-8 surrogate pair */
	    {"\xf4\x90\x80\x80", 4},	     /* U+110000 */
	    {"\xf5\x80\x80\x80", 4},
	    {"\xf7\xbf\xbf\xbf", 4},
	    {"\xf8\x88\x80\x80\x80", 5}, /* 5-byte form */
	    {"\xfc\x84\x80\x80\x80\x80", 6},
	    {"\xfe", 1},
	    {"\xff", 1},
	    {"\x80", 1}, /* lone continuation */
	    {"a\xbf", 2},
	    {"\xc3", 1}, /* truncated */
	    {"\xe2\x82", 2},
	    {"\xe2", 1},
	    {"\xf0\x9f\x98", 3},
	    {"\xf0\x9f", 2},
	    {"\xf0", 1},
	    {"\xc3\x28", 2}, /* bad continuation */
	    {"\xe2\x28\xa1", 3},
	    {"\xe2\x82\x28", 3},
	    {"\xf0\x28\x8c\xbc", 4},
	    {"\xf0\x90\x28\xbc", 4},
	    {"\xf0\x90\x8c\x28", 4},
	    {"\xc3\xc3\xa9", 3},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (guarded_utf8(bad[i].s, bad[i].len))
			fail_msg("invalid string %zu accepted", i);
}

/* The validator scans ASCII eight bytes at a time: probe every offset around that path. */
static void test_utf8_positions(void **state)
{
	uint8_t buf[64];

	for (size_t len = 1; len <= 40; len++) {
		for (size_t at = 0; at < len; at++) {
			memset(buf, 'a', len);
			buf[at] = 0;
			assert_false(guarded_utf8(buf, len));
			buf[at] = 0x80;
			assert_false(guarded_utf8(buf, len));
			buf[at] = 0xff;
			assert_false(guarded_utf8(buf, len));
			buf[at] = 0x7f;
			assert_true(guarded_utf8(buf, len));
			buf[at] = 0x01;
			assert_true(guarded_utf8(buf, len));
			if (at + 2 <= len) {
				buf[at] = 0xc3;
				buf[at + 1] = 0xa9;
				assert_true(guarded_utf8(buf, len));
			}
			/* a lead byte as the very last byte is a truncated sequence */
			memset(buf, 'a', len);
			buf[len - 1] = 0xe2;
			assert_false(guarded_utf8(buf, len));
		}
	}
}

/* Exhaustive over all 2- and 3-byte sequences, against a reference decoder. */
static int ref_len(const uint8_t *s, size_t len, uint32_t *cp)
{
	uint8_t c = s[0];
	int n;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if ((size_t)n > len)
		return -1;
	for (int k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return -1;
		v = (v << 6) | (s[k] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return -1;
	*cp = v;
	return n;
}

static bool ref_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		int n = ref_len(s + i, len - i, &cp);

		if (n < 0 || cp == 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

static void test_utf8_exhaustive(void **state)
{
	uint8_t s[4];

	for (unsigned a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		assert_int_equal(tern_utf8_valid(s, 1), ref_valid(s, 1));
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			assert_int_equal(tern_utf8_valid(s, 2), ref_valid(s, 2));
			if (a < 0xC0)
				continue; /* 3-byte sweep only where a lead byte can start it */
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				if (tern_utf8_valid(s, 3) != ref_valid(s, 3))
					fail_msg("%02x %02x %02x", a, b, c);
			}
		}
	}
	/* every 4-byte lead with each interesting second byte */
	for (unsigned a = 0xF0; a < 0x100; a++)
		for (unsigned b = 0; b < 256; b++) {
			s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = 0x80, s[3] = 0xBF;
			if (tern_utf8_valid(s, 4) != ref_valid(s, 4))
				fail_msg("%02x %02x 80 bf", a, b);
		}
}

/* ---- golden vectors (bytes as real clients send them) ---- */

static void test_golden_connect(void **state)
{
	/* mosquitto_pub -i pub -k 60 style CONNECT, 3.1.1 */
	static const uint8_t conn[] = {0x10, 0x0f, 0x00, 0x04, 'M',  'Q', 'T', 'T', 0x04,
				       0x02, 0x00, 0x3c, 0x00, 0x03, 'p', 'u', 'b'};
	struct tern_packet pkt;

	decode_valid(conn, sizeof(conn), 0, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_CONNECT);
	assert_int_equal(pkt.flags, 0);
	assert_int_equal(pkt.connect.proto_level, 4);
	assert_false(pkt.connect.unsupported_level);
	assert_true(pkt.connect.clean_session);
	assert_false(pkt.connect.will);
	assert_false(pkt.connect.has_username);
	assert_false(pkt.connect.has_password);
	assert_int_equal(pkt.connect.keepalive, 60);
	assert_bytes_eq(pkt.connect.client_id, "pub", 3);

	struct tern_connect c = {
	    .proto_level = 4, .clean_session = true, .keepalive = 60, .client_id = bs("pub")};
	uint8_t out[64];

	assert_int_equal(tern_codec_encode_connect(out, sizeof(out), &c, NULL), sizeof(conn));
	assert_memory_equal(out, conn, sizeof(conn));

	/* MQTT 3.1 CONNECT with will, user and password */
	static const uint8_t c31[] = {
	    0x10, 0x29, 0x00, 0x06, 'M',  'Q',	'I',  's', 'd',	 'p',  0x03, 0xF4, 0x00, 0x0a, 0x00,
	    0x02, 'i',	'd',  0x00, 0x03, 'w',	'/',  't', 0x00, 0x04, 'b',  'y',  'e',	 0x00, 0x00,
	    0x04, 'u',	's',  'e',  'r',  0x00, 0x06, 's', 'e',	 'c',  'r',  'e',  't'};
	decode_valid(c31, sizeof(c31), 0, &pkt);
	assert_int_equal(pkt.connect.proto_level, 3);
	assert_false(pkt.connect.unsupported_level);
	assert_false(pkt.connect.clean_session);
	assert_true(pkt.connect.will);
	assert_int_equal(pkt.connect.will_qos, 2);
	assert_true(pkt.connect.will_retain);
	assert_true(pkt.connect.has_username);
	assert_true(pkt.connect.has_password);
	assert_int_equal(pkt.connect.keepalive, 10);
	assert_bytes_eq(pkt.connect.client_id, "id", 2);
	assert_bytes_eq(pkt.connect.will_topic, "w/t", 3);
	assert_bytes_eq(pkt.connect.will_payload, "bye\0", 4);
	assert_bytes_eq(pkt.connect.username, "user", 4);
	assert_bytes_eq(pkt.connect.password, "secret", 6);
}

static void test_golden_others(void **state)
{
	struct tern_packet pkt;
	uint8_t out[64];

	/* PUBLISH test/topic "hello world" QoS 0 */
	static const uint8_t pub[] = {0x30, 0x17, 0x00, 0x0a, 't', 'e', 's', 't', '/',
				      't',  'o',  'p',	'i',  'c', 'h', 'e', 'l', 'l',
				      'o',  ' ',  'w',	'o',  'r', 'l', 'd'};

	decode_valid(pub, sizeof(pub), 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_PUBLISH);
	assert_int_equal(pkt.publish.qos, 0);
	assert_int_equal(pkt.publish.packet_id, 0);
	assert_false(pkt.publish.dup);
	assert_false(pkt.publish.retain);
	assert_bytes_eq(pkt.publish.topic, "test/topic", 10);
	assert_bytes_eq(pkt.publish.payload, "hello world", 11);
	struct tern_publish p = {.topic = bs("test/topic"), .payload = bs("hello world")};

	assert_int_equal(tern_codec_encode_publish(out, sizeof(out), &p), sizeof(pub));
	assert_memory_equal(out, pub, sizeof(pub));

	/* SUBSCRIBE test/topic QoS 0, packet id 1 */
	static const uint8_t sub[] = {0x82, 0x0f, 0x00, 0x01, 0x00, 0x0a, 't', 'e', 's',
				      't',  '/',  't',	'o',  'p',  'i',  'c', 0x00};

	decode_valid(sub, sizeof(sub), 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_SUBSCRIBE);
	assert_int_equal(pkt.flags, 2);
	assert_int_equal(pkt.subscribe.packet_id, 1);
	assert_int_equal(pkt.subscribe.count, 1);
	struct tern_bytes f = bs("test/topic");
	uint8_t opt = 0;

	assert_int_equal(
	    tern_codec_encode_sub_list(out, sizeof(out), TERN_PKT_SUBSCRIBE, 1, &f, &opt, 1),
	    sizeof(sub));
	assert_memory_equal(out, sub, sizeof(sub));

	static const uint8_t suback[] = {0x90, 0x03, 0x00, 0x01, 0x00};

	decode_valid(suback, sizeof(suback), 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_SUBACK);
	assert_int_equal(pkt.suback.packet_id, 1);
	assert_bytes_eq(pkt.suback.codes, "\0", 1);
	assert_int_equal(tern_codec_encode_suback(out, sizeof(out), 1, &opt, 1), sizeof(suback));
	assert_memory_equal(out, suback, sizeof(suback));

	static const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00};

	decode_valid(connack, sizeof(connack), 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_CONNACK);
	assert_false(pkt.connack.session_present);
	assert_int_equal(pkt.connack.rc, 0);
	assert_int_equal(tern_codec_encode_connack(out, sizeof(out), false, 0), 4);
	assert_memory_equal(out, connack, 4);

	static const uint8_t disc[] = {0xe0, 0x00};

	decode_valid(disc, 2, 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_DISCONNECT);
	assert_int_equal(tern_codec_encode_empty(out, sizeof(out), TERN_PKT_DISCONNECT), 2);
	assert_memory_equal(out, disc, 2);

	static const uint8_t pubrel[] = {0x62, 0x02, 0x12, 0x34};

	decode_valid(pubrel, 4, 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_PUBREL);
	assert_int_equal(pkt.ack.packet_id, 0x1234);
	assert_int_equal(tern_codec_encode_ack(out, sizeof(out), TERN_PKT_PUBREL, 0x1234), 4);
	assert_memory_equal(out, pubrel, 4);
}

/* ---- round trips ---- */

static void roundtrip_connect(const struct tern_connect *c)
{
	uint8_t *out = malloc(300000);
	struct tern_packet pkt;

	assert_non_null(out);
	size_t n = tern_codec_encode_connect(out, 300000, c, NULL);

	assert_true(n > 0);
	decode_valid(out, n, 0, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_CONNECT);
	const struct tern_connect *d = &pkt.connect;

	assert_int_equal(d->proto_level, c->proto_level);
	assert_false(d->unsupported_level);
	assert_int_equal(d->clean_session, c->clean_session);
	assert_int_equal(d->will, c->will);
	assert_int_equal(d->will_qos, c->will_qos);
	assert_int_equal(d->will_retain, c->will_retain);
	assert_int_equal(d->has_username, c->has_username);
	assert_int_equal(d->has_password, c->has_password);
	assert_int_equal(d->keepalive, c->keepalive);
	assert_bytes_eq(d->client_id, c->client_id.p, c->client_id.len);
	if (c->will) {
		assert_bytes_eq(d->will_topic, c->will_topic.p, c->will_topic.len);
		assert_bytes_eq(d->will_payload, c->will_payload.p, c->will_payload.len);
	}
	if (c->has_username)
		assert_bytes_eq(d->username, c->username.p, c->username.len);
	if (c->has_password)
		assert_bytes_eq(d->password, c->password.p, c->password.len);

	/* every cap below the size is refused, and the exact cap at a guard page is enough */
	for (size_t cap = 0; cap < n && cap < 64; cap++)
		assert_int_equal(tern_codec_encode_connect(out, cap, c, NULL), 0);
	assert_int_equal(tern_codec_encode_connect(guard_map + GUARD_AREA - n, n, c, NULL), n);
	assert_memory_equal(guard_map + GUARD_AREA - n, out, n);
	free(out);
}

static void test_roundtrip_connect(void **state)
{
	static const uint8_t binpw[] = {0x00, 0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80};
	static const uint8_t binwill[] = {0x00, 0x00, 0xfe, 0xff};
	static uint8_t bigpw[65535];

	memset(bigpw, 0xAA, sizeof(bigpw));
	for (size_t li = 0; li < 2; li++) {
		uint8_t lv = levels[li];
		struct tern_connect c = {.proto_level = lv};

		roundtrip_connect(&c); /* empty client id, no flags: the broker judges that */
		c.clean_session = true;
		c.keepalive = 0xFFFF;
		c.client_id = bs("a-client-id-that-is-longer-than-23-characters");
		roundtrip_connect(&c);
		c.client_id = bs("\xc3\xa9t\xc3\xa9");
		c.has_username = true;
		c.username = bs("user");
		roundtrip_connect(&c);
		c.username = bs("");
		roundtrip_connect(&c);
		c.has_password = true;
		c.password = (struct tern_bytes){binpw, sizeof(binpw)};
		roundtrip_connect(&c);
		c.password = (struct tern_bytes){bigpw, sizeof(bigpw)};
		roundtrip_connect(&c);
		c.password = bs("");
		for (uint8_t q = 0; q <= 2; q++) {
			for (int r = 0; r < 2; r++) {
				c.will = true;
				c.will_qos = q;
				c.will_retain = r;
				c.will_topic = bs("clients/x/status");
				c.will_payload = (struct tern_bytes){binwill, sizeof(binwill)};
				roundtrip_connect(&c);
				c.will_payload = bs("");
				roundtrip_connect(&c);
			}
		}
		c.has_username = c.has_password = false;
		c.will_topic = bs("$SYS/x"); /* $ topics are valid names */
		roundtrip_connect(&c);
	}
}

static void roundtrip_publish(uint8_t level, const struct tern_publish *p)
{
	size_t size = tern_codec_publish_size(p->qos, p->topic.len, p->payload.len);
	uint8_t *out = malloc(size);
	struct tern_packet pkt;

	assert_non_null(out);
	assert_int_equal(tern_codec_encode_publish(out, size, p), size);
	assert_int_equal(tern_codec_encode_publish(out, size - 1, p), 0);

	/* the shared-message path: fixed header + topic + id + payload gives the same bytes */
	uint8_t hdr[TERN_CODEC_FIXED_HDR_MAX];
	size_t h = tern_codec_encode_publish_fixed(hdr, p->qos, p->dup, p->retain, p->topic.len,
						   p->payload.len);

	assert_true(h >= 2 && h <= TERN_CODEC_FIXED_HDR_MAX);
	assert_memory_equal(hdr, out, h);
	assert_int_equal(out[h], p->topic.len >> 8);
	assert_int_equal(out[h + 1], p->topic.len & 0xFF);
	assert_int_equal(size, h + 2 + p->topic.len + (p->qos ? 2 : 0) + p->payload.len);

	if (size < 4096) {
		decode_valid(out, size, level, &pkt);
	} else {
		/* long payloads: a few prefixes only, every one would take too long */
		size_t cuts[] = {0, 1, h - 1, h, h + 1, size / 2, size - 1};

		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
			assert_int_equal(guarded_decode(out, cuts[i], level, 0, &pkt), -EAGAIN);
		assert_int_equal(guarded_decode(out, size, level, size - 1, &pkt), -EMSGSIZE);
		assert_int_equal(guarded_decode(out, h, level, size - 1, &pkt), -EMSGSIZE);
		assert_int_equal(guarded_decode(out, size, level, 0, &pkt), (ssize_t)size);
	}
	assert_int_equal(pkt.type, TERN_PKT_PUBLISH);
	assert_int_equal(pkt.publish.qos, p->qos);
	assert_int_equal(pkt.publish.dup, p->dup);
	assert_int_equal(pkt.publish.retain, p->retain);
	assert_int_equal(pkt.publish.packet_id, p->qos ? p->packet_id : 0);
	assert_bytes_eq(pkt.publish.topic, p->topic.p, p->topic.len);
	assert_bytes_eq(pkt.publish.payload, p->payload.p, p->payload.len);
	free(out);
}

static void test_roundtrip_publish(void **state)
{
	/* payload sizes chosen to cross each remaining-length width boundary */
	static const size_t sizes[] = {0,     1,     100,   115,   116,	    117,     200,
				       16370, 16371, 16380, 16384, 2097140, 2097141, 2097152};
	uint8_t *payload = malloc(2097152);
	static char longtopic[65535 + 1];

	assert_non_null(payload);
	for (size_t i = 0; i < 2097152; i++)
		payload[i] = (uint8_t)(i * 31 + 7);
	memset(longtopic, 'x', 65535);
	for (size_t li = 0; li < 2; li++) {
		for (uint8_t q = 0; q <= 2; q++) {
			for (int flags = 0; flags < 4; flags++) {
				if (q == 0 && (flags & 1))
					continue; /* DUP with QoS 0 is malformed */
				struct tern_publish p = {.qos = q,
							 .dup = flags & 1,
							 .retain = flags & 2,
							 .packet_id = q ? 0xBEEF : 0,
							 .topic = bs("a/b/c")};

				for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
					p.payload = (struct tern_bytes){payload, sizes[s]};
					roundtrip_publish(levels[li], &p);
				}
				p.payload = (struct tern_bytes){payload, 10};
				p.packet_id = q ? 1 : 0;
				p.topic = bs("\xe2\x82\xac/\xf0\x9f\x98\x80/$x");
				roundtrip_publish(levels[li], &p);
				p.packet_id = q ? 0xFFFF : 0;
				p.topic = bs("/");
				roundtrip_publish(levels[li], &p);
				p.topic = (struct tern_bytes){(const uint8_t *)longtopic, 65535};
				roundtrip_publish(levels[li], &p);
			}
		}
	}
	free(payload);
}

static void test_roundtrip_acks(void **state)
{
	static const enum tern_pkt_type types[] = {
	    TERN_PKT_PUBACK, TERN_PKT_PUBREC, TERN_PKT_PUBREL, TERN_PKT_PUBCOMP, TERN_PKT_UNSUBACK};
	static const uint16_t ids[] = {1, 2, 0x00FF, 0x0100, 0x7FFF, 0x8000, 0xFFFF};
	uint8_t out[8];
	struct tern_packet pkt;

	for (size_t li = 0; li < 2; li++)
		for (size_t t = 0; t < 5; t++)
			for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
				for (size_t cap = 0; cap < 4; cap++)
					assert_int_equal(
					    tern_codec_encode_ack(out, cap, types[t], ids[i]), 0);
				assert_int_equal(tern_codec_encode_ack(out, 4, types[t], ids[i]),
						 4);
				assert_int_equal(out[0] & 0x0F,
						 types[t] == TERN_PKT_PUBREL ? 0x2 : 0);
				decode_valid(out, 4, levels[li], &pkt);
				assert_int_equal(pkt.type, types[t]);
				assert_int_equal(pkt.ack.packet_id, ids[i]);
			}
	assert_int_equal(tern_codec_encode_ack(out, 8, TERN_PKT_PUBLISH, 1), 0);
	assert_int_equal(tern_codec_encode_ack(out, 8, TERN_PKT_SUBACK, 1), 0);
}

static void test_roundtrip_connack(void **state)
{
	uint8_t out[4];
	struct tern_packet pkt;

	for (uint8_t rc = 0; rc <= 5; rc++)
		for (int sp = 0; sp < 2; sp++) {
			if (sp && rc)
				continue;
			for (size_t cap = 0; cap < 4; cap++)
				assert_int_equal(tern_codec_encode_connack(out, cap, sp, rc), 0);
			assert_int_equal(tern_codec_encode_connack(out, 4, sp, rc), 4);
			decode_valid(out, 4, TERN_PROTO_V311, &pkt);
			assert_int_equal(pkt.type, TERN_PKT_CONNACK);
			assert_int_equal(pkt.connack.session_present, sp);
			assert_int_equal(pkt.connack.rc, rc);
			/* 3.1 has no session present bit */
			if (!sp) {
				decode_valid(out, 4, TERN_PROTO_V31, &pkt);
				assert_int_equal(pkt.connack.rc, rc);
			}
		}
}

static void test_roundtrip_empty(void **state)
{
	static const enum tern_pkt_type types[] = {TERN_PKT_PINGREQ, TERN_PKT_PINGRESP,
						   TERN_PKT_DISCONNECT};
	uint8_t out[2];
	struct tern_packet pkt;

	for (size_t li = 0; li < 2; li++)
		for (size_t t = 0; t < 3; t++) {
			assert_int_equal(tern_codec_encode_empty(out, 1, types[t]), 0);
			assert_int_equal(tern_codec_encode_empty(out, 2, types[t]), 2);
			assert_int_equal(out[0], types[t] << 4);
			assert_int_equal(out[1], 0);
			decode_valid(out, 2, levels[li], &pkt);
			assert_int_equal(pkt.type, types[t]);
			assert_int_equal(pkt.flags, 0);
		}
	assert_int_equal(tern_codec_encode_empty(out, 2, TERN_PKT_CONNECT), 0);
	assert_int_equal(tern_codec_encode_empty(out, 2, TERN_PKT_PUBACK), 0);
}

static void roundtrip_sub_list(uint8_t level, enum tern_pkt_type type, uint16_t id,
			       const struct tern_bytes *filters, const uint8_t *opts, size_t count)
{
	static uint8_t out[200000];
	struct tern_packet pkt;
	size_t n = tern_codec_encode_sub_list(out, sizeof(out), type, id, filters, opts, count);

	assert_true(n > 0);
	assert_int_equal(out[0], (type << 4) | 0x2);
	for (size_t cap = 0; cap < n && cap < 40; cap++)
		assert_int_equal(
		    tern_codec_encode_sub_list(out + n, cap, type, id, filters, opts, count), 0);
	decode_valid(out, n, level, &pkt);
	assert_int_equal(pkt.type, type);
	assert_int_equal(pkt.subscribe.packet_id, id);
	assert_int_equal(pkt.subscribe.count, count);

	struct tern_filter_iter it;
	struct tern_bytes f;
	uint8_t o = 0xEE;
	size_t i = 0;

	tern_codec_filter_iter_init(&it, &pkt);
	while (tern_codec_filter_next(&it, &f, &o)) {
		assert_true(i < count);
		assert_bytes_eq(f, filters[i].p, filters[i].len);
		assert_int_equal(o, opts ? opts[i] : 0);
		i++;
	}
	assert_int_equal(i, count);
	assert_false(tern_codec_filter_next(&it, &f, &o));

	/* options may be NULL when the caller does not want them */
	i = 0;
	tern_codec_filter_iter_init(&it, &pkt);
	while (tern_codec_filter_next(&it, &f, NULL))
		i++;
	assert_int_equal(i, count);
}

static void test_roundtrip_sub_list(void **state)
{
	struct tern_bytes filters[] = {
	    bs("a/b"), bs("#"),	     bs("+"), bs("a/+/c"), bs("a/#"),
	    bs("+/+"), bs("$SYS/#"), bs("/"), bs("x"),	   bs("\xe2\x82\xac/+/#")};
	uint8_t opts[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 1};
	const size_t nf = sizeof(filters) / sizeof(filters[0]);
	static char longf[65535];
	struct tern_bytes many[300];
	uint8_t manyopts[300];

	memset(longf, 'f', sizeof(longf));
	for (size_t i = 0; i < 300; i++) {
		many[i] = (i % 2) ? bs("sensors/+/temp") : bs("a");
		manyopts[i] = (uint8_t)(i % 3);
	}
	for (size_t li = 0; li < 2; li++) {
		uint8_t lv = levels[li];

		for (size_t k = 1; k <= nf; k++) {
			roundtrip_sub_list(lv, TERN_PKT_SUBSCRIBE, (uint16_t)k, filters, opts, k);
			roundtrip_sub_list(lv, TERN_PKT_UNSUBSCRIBE, (uint16_t)(0xFFFF - k),
					   filters, NULL, k);
		}
		roundtrip_sub_list(lv, TERN_PKT_SUBSCRIBE, 7, many, manyopts, 300);
		roundtrip_sub_list(lv, TERN_PKT_UNSUBSCRIBE, 7, many, NULL, 300);
		struct tern_bytes lf = {(const uint8_t *)longf, sizeof(longf)};

		roundtrip_sub_list(lv, TERN_PKT_SUBSCRIBE, 9, &lf, opts, 1);
		roundtrip_sub_list(lv, TERN_PKT_UNSUBSCRIBE, 9, &lf, NULL, 1);
	}
	uint8_t out[64];

	assert_int_equal(
	    tern_codec_encode_sub_list(out, sizeof(out), TERN_PKT_PUBLISH, 1, filters, opts, 1), 0);
	assert_int_equal(
	    tern_codec_encode_sub_list(out, sizeof(out), TERN_PKT_SUBSCRIBE, 1, filters, NULL, 1),
	    0);
}

static void test_roundtrip_suback(void **state)
{
	static uint8_t codes[1000];
	uint8_t out[1100];
	struct tern_packet pkt;
	static const uint8_t valid[] = {0, 1, 2, 0x80};

	for (size_t i = 0; i < sizeof(codes); i++)
		codes[i] = valid[i % 4];
	for (size_t li = 0; li < 2; li++)
		for (size_t n = 1; n <= sizeof(codes); n = n * 3 + 1) {
			size_t len = tern_codec_encode_suback(out, sizeof(out), 0x4242, codes, n);

			assert_true(len > 0);
			assert_int_equal(tern_codec_encode_suback(out, len - 1, 0x4242, codes, n),
					 0);
			decode_valid(out, len, levels[li], &pkt);
			assert_int_equal(pkt.type, TERN_PKT_SUBACK);
			assert_int_equal(pkt.suback.packet_id, 0x4242);
			assert_bytes_eq(pkt.suback.codes, codes, n);
		}
}

/* ---- fixed header ---- */

static void test_reserved_types(void **state)
{
	struct tern_packet pkt;
	uint8_t in[2];

	for (unsigned f = 0; f < 16; f++) {
		/* type 0 and AUTH are refused on their first byte */
		in[0] = (uint8_t)f;
		in[1] = 0;
		assert_int_equal(guarded_decode(in, 1, 4, 0, &pkt), -EPROTO);
		decode_bad(in, 2);
		in[0] = (uint8_t)(0xF0 | f);
		assert_int_equal(guarded_decode(in, 1, 4, 0, &pkt), -EPROTO);
		assert_int_equal(guarded_decode(in, 1, 0, 0, &pkt), -EPROTO);
		decode_bad(in, 2);
	}
	assert_string_equal(tern_codec_type_name(0), "RESERVED");
	assert_string_equal(tern_codec_type_name(1), "CONNECT");
	assert_string_equal(tern_codec_type_name(3), "PUBLISH");
	assert_string_equal(tern_codec_type_name(8), "SUBSCRIBE");
	assert_string_equal(tern_codec_type_name(14), "DISCONNECT");
	assert_string_equal(tern_codec_type_name(15), "AUTH");
	assert_string_equal(tern_codec_type_name(16), "RESERVED");
	assert_string_equal(tern_codec_type_name(~0u), "RESERVED");
}

/* One valid packet of each non-PUBLISH type, to flip its header flags. */
static size_t sample_packet(enum tern_pkt_type type, uint8_t *out)
{
	struct tern_connect c = {.proto_level = 4, .client_id = bs("c")};
	struct tern_bytes f = bs("a/#");
	uint8_t o = 1;

	switch (type) {
	case TERN_PKT_CONNECT:
		return tern_codec_encode_connect(out, 64, &c, NULL);
	case TERN_PKT_CONNACK:
		return tern_codec_encode_connack(out, 64, false, 0);
	case TERN_PKT_SUBSCRIBE:
	case TERN_PKT_UNSUBSCRIBE:
		return tern_codec_encode_sub_list(out, 64, type, 5, &f, &o, 1);
	case TERN_PKT_SUBACK:
		return tern_codec_encode_suback(out, 64, 5, &o, 1);
	case TERN_PKT_PINGREQ:
	case TERN_PKT_PINGRESP:
	case TERN_PKT_DISCONNECT:
		return tern_codec_encode_empty(out, 64, type);
	default:
		return tern_codec_encode_ack(out, 64, type, 5);
	}
}

static void test_header_flags(void **state)
{
	uint8_t in[64];
	struct tern_packet pkt;

	for (unsigned t = 1; t <= 14; t++) {
		if (t == TERN_PKT_PUBLISH)
			continue;
		size_t n = sample_packet((enum tern_pkt_type)t, in);
		unsigned want =
		    (t == TERN_PKT_PUBREL || t == TERN_PKT_SUBSCRIBE || t == TERN_PKT_UNSUBSCRIBE)
			? 2
			: 0;

		assert_true(n > 0);
		for (size_t li = 0; li < 2; li++) {
			for (unsigned f = 0; f < 16; f++) {
				in[0] = (uint8_t)(t << 4 | f);
				if (f == want) {
					decode_valid(in, n, levels[li], &pkt);
					assert_int_equal(pkt.type, t);
					continue;
				}
				/* MQTT 3.1 retransmits PUBREL/SUBSCRIBE/UNSUBSCRIBE with DUP */
				if (want == 2 && f == 0xA && levels[li] == TERN_PROTO_V31) {
					decode_valid(in, n, levels[li], &pkt);
					assert_int_equal(pkt.flags, 0xA);
					continue;
				}
				/* refused on the first byte, before the length */
				assert_int_equal(guarded_decode(in, 1, levels[li], 0, &pkt),
						 -EPROTO);
				decode_bad_level(in, n, levels[li]);
			}
		}
	}
}

static void test_publish_header(void **state)
{
	struct bld b = {0};
	uint8_t in[64];
	struct tern_packet pkt;

	b_str(&b, "t");
	b_u16(&b, 1);
	b_raw(&b, "x", 1);
	for (unsigned f = 0; f < 16; f++) {
		size_t n = b_packet(&b, (uint8_t)(0x30 | f), in);
		unsigned qos = (f >> 1) & 3;

		if (qos == 3 || (qos == 0 && (f & 8))) {
			assert_int_equal(guarded_decode(in, 1, 4, 0, &pkt), -EPROTO);
			decode_bad(in, n);
		} else if (qos == 0) {
			/* QoS 0 has no packet id: the 2 bytes are payload */
			decode_valid(in, n, 4, &pkt);
			assert_bytes_eq(pkt.publish.payload, "\0\1x", 3);
			assert_int_equal(pkt.publish.retain, f & 1);
		} else {
			decode_valid(in, n, 4, &pkt);
			assert_int_equal(pkt.publish.qos, qos);
			assert_int_equal(pkt.publish.dup, !!(f & 8));
			assert_int_equal(pkt.publish.retain, f & 1);
			assert_int_equal(pkt.publish.packet_id, 1);
			assert_bytes_eq(pkt.publish.payload, "x", 1);
		}
	}
}

static void test_remaining_length(void **state)
{
	struct tern_packet pkt;

	/* five length bytes: refused as soon as the fourth continuation is seen */
	static const uint8_t five[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01};

	assert_int_equal(guarded_decode(five, 5, 4, 0, &pkt), -EPROTO);
	decode_bad(five, sizeof(five));
	static const uint8_t ff5[] = {0x30, 0xff, 0xff, 0xff, 0xff};

	assert_int_equal(guarded_decode(ff5, 4, 4, 0, &pkt), -EAGAIN);
	assert_int_equal(guarded_decode(ff5, 5, 4, 0, &pkt), -EPROTO);
	static const uint8_t pingff[] = {0xc0, 0xff, 0xff, 0xff, 0xff, 0x7f};

	decode_bad(pingff, sizeof(pingff));

	/* largest legal length: waits for the body */
	static const uint8_t maxlen[] = {0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 'a'};

	assert_int_equal(guarded_decode(maxlen, sizeof(maxlen), 4, 0, &pkt), -EAGAIN);
	assert_int_equal(guarded_decode(maxlen, sizeof(maxlen), 4, 268435455u + 5, &pkt), -EAGAIN);
	assert_int_equal(guarded_decode(maxlen, 5, 4, 268435455u + 4, &pkt), -EMSGSIZE);

	/* non-minimal encodings of a length are decoded (the spec does not forbid it) */
	static const uint8_t ping2[] = {0xc0, 0x80, 0x00};
	static const uint8_t ping4[] = {0xc0, 0x80, 0x80, 0x80, 0x00};
	static const uint8_t puback3[] = {0x40, 0x82, 0x80, 0x00, 0x00, 0x07};

	decode_valid(ping2, sizeof(ping2), 4, &pkt);
	assert_int_equal(pkt.type, TERN_PKT_PINGREQ);
	decode_valid(ping4, sizeof(ping4), 4, &pkt);
	decode_valid(puback3, sizeof(puback3), 4, &pkt);
	assert_int_equal(pkt.ack.packet_id, 7);
	static const uint8_t pub_nm[] = {0x30, 0x84, 0x00, 0x00, 0x01, 'a', 'z'};

	decode_valid(pub_nm, sizeof(pub_nm), 4, &pkt);
	assert_bytes_eq(pkt.publish.payload, "z", 1);

	assert_int_equal(guarded_decode(NULL, 0, 4, 0, &pkt), -EAGAIN);
	assert_int_equal(guarded_decode(ping2, 1, 4, 0, &pkt), -EAGAIN);
}

static void test_fixed_lengths(void **state)
{
	uint8_t in[16];
	static const struct {
		uint8_t byte0;
		size_t want;
	} types[] = {{0x20, 2}, {0x40, 2}, {0x50, 2}, {0x62, 2}, {0x70, 2},
		     {0xb0, 2}, {0xc0, 0}, {0xd0, 0}, {0xe0, 0}};
	struct tern_packet pkt;

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		for (size_t rem = 0; rem <= 5; rem++) {
			if (rem == types[t].want)
				continue;
			in[0] = types[t].byte0;
			in[1] = (uint8_t)rem;
			memset(in + 2, 0x01, rem);
			/* refused once the length is known, without waiting for the body */
			assert_int_equal(guarded_decode(in, 2, 4, 0, &pkt), -EPROTO);
			decode_bad(in, 2 + rem);
		}
	/* a long DISCONNECT is refused without the megabyte behind it */
	static const uint8_t bigdisc[] = {0xe0, 0x80, 0x80, 0x40};

	assert_int_equal(guarded_decode(bigdisc, 4, 4, 0, &pkt), -EPROTO);
}

static void test_msgsize(void **state)
{
	uint8_t in[300];
	struct tern_packet pkt;

	memset(in, 'p', sizeof(in));
	struct tern_publish p = {.topic = bs("t"), .payload = {in + 200, 90}};
	uint8_t out[300];
	size_t n = tern_codec_encode_publish(out, sizeof(out), &p);

	assert_int_equal(n, 95);
	for (size_t have = 2; have <= n; have++) {
		assert_int_equal(guarded_decode(out, have, 4, n - 1, &pkt), -EMSGSIZE);
		assert_int_equal(guarded_decode(out, have, 4, 10, &pkt), -EMSGSIZE);
	}
	/* before the length is complete nothing is known */
	assert_int_equal(guarded_decode(out, 1, 4, 1, &pkt), -EAGAIN);
	assert_int_equal(guarded_decode(out, n, 4, n, &pkt), (ssize_t)n);
	assert_int_equal(guarded_decode(out, n, 4, n + 1, &pkt), (ssize_t)n);
	assert_int_equal(guarded_decode(out, n - 1, 4, n, &pkt), -EAGAIN);

	/* the announced size counts, even when the body never arrives */
	static const uint8_t announce[] = {0x30, 0x80, 0x80, 0x01};

	assert_int_equal(guarded_decode(announce, 4, 4, 16384, &pkt), -EMSGSIZE);
	assert_int_equal(guarded_decode(announce, 4, 4, 16384 + 4, &pkt), -EAGAIN);
	/* a 2-byte PINGREQ fits a 2-byte limit, a CONNECT does not */
	static const uint8_t ping[] = {0xc0, 0x00};

	assert_int_equal(guarded_decode(ping, 2, 4, 2, &pkt), 2);
	assert_int_equal(guarded_decode(ping, 2, 4, 1, &pkt), -EMSGSIZE);
}

/* ---- CONNECT ---- */

/* CONNECT body before the payload. */
static void connect_head(struct bld *b, const char *name, uint8_t level, uint8_t flags)
{
	b->n = 0;
	b_str(b, name);
	b_u8(b, level);
	b_u8(b, flags);
	b_u16(b, 30);
}

static void test_connect_protocol(void **state)
{
	static struct bld b;
	uint8_t in[300];
	struct tern_packet pkt;
	static const char *const badnames[] = {"mqtt",	"MQTt",	  "MQT",    "MQTTT",   "",
					       "MQIsd", "MQISDP", "mqisdp", "MQIsdpX", "MQTT "};

	for (size_t i = 0; i < sizeof(badnames) / sizeof(badnames[0]); i++)
		for (uint8_t lv = 3; lv <= 5; lv++) {
			connect_head(&b, badnames[i], lv, 0x02);
			b_str(&b, "id");
			decode_bad(in, b_packet(&b, 0x10, in));
		}
	/* "MQTT\0" with a length of 5 */
	connect_head(&b, "", 4, 0x02);
	b.n = 0;
	b_field(&b, "MQTT\0", 5);
	b_u8(&b, 4);
	b_u8(&b, 2);
	b_u16(&b, 0);
	b_str(&b, "id");
	decode_bad(in, b_packet(&b, 0x10, in));

	/* protocol name overrunning the packet */
	static const uint8_t over[] = {0x10, 0x07, 0x00, 0x09, 'M', 'Q', 'T', 'T', 0x04};

	decode_bad(over, sizeof(over));
	/* "MQTT" 4 and nothing after it */
	static const uint8_t noflags[] = {0x10, 0x07, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04};

	decode_bad(noflags, sizeof(noflags));
	/* the same name and level with a client id decodes */
	static const uint8_t ok[] = {0x10, 0x0c, 0x00, 0x04, 'M',  'Q',	 'T',
				     'T',  0x04, 0x02, 0x00, 0x00, 0x00, 0x00};

	decode_valid(ok, sizeof(ok), 0, &pkt);
	assert_int_equal(pkt.connect.proto_level, 4);
}

static void test_connect_truncated_fields(void **state)
{
	/* "MQTT" level 4 with the header cut short inside the remaining length */
	static const uint8_t cut[][16] = {
	    {0x10, 0x07, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04},
	    {0x10, 0x08, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02},
	    {0x10, 0x09, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00},
	    {0x10, 0x0a, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x0a},
	    {0x10, 0x0b, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x0a, 0x00},
	    {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x0a, 0x00, 0x01},
	    {0x10, 0x03, 0x00, 0x04, 'M'},
	    {0x10, 0x00},
	};
	static const size_t lens[] = {9, 10, 11, 12, 13, 14, 5, 2};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		decode_bad(cut[i], lens[i]);
}

static void test_connect_unsupported_level(void **state)
{
	static struct bld b;
	uint8_t in[300];
	struct tern_packet pkt;
	static const struct {
		const char *name;
		uint8_t level;
	} cases[] = {{"MQTT", 3},   {"MQTT", 6},   {"MQTT", 0},	  {"MQTT", 255},
		     {"MQIsdp", 4}, {"MQIsdp", 5}, {"MQIsdp", 1}, {"MQTT", 0x84}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		connect_head(&b, cases[i].name, cases[i].level, 0x02);
		b_u8(&b, 0); /* v5: empty properties */
		b_str(&b, "id");
		size_t n = b_packet(&b, 0x10, in);

		decode_valid(in, n, 0, &pkt);
		assert_int_equal(pkt.type, TERN_PKT_CONNECT);
		assert_true(pkt.connect.unsupported_level);
		assert_int_equal(pkt.connect.proto_level, cases[i].level);

		/* the rest is not looked at: even garbage flags are reported as the level */
		connect_head(&b, cases[i].name, cases[i].level, 0xFF);
		n = b_packet(&b, 0x10, in);
		decode_valid(in, n, 0, &pkt);
		assert_true(pkt.connect.unsupported_level);

		/* nothing but name and level */
		b.n = 0;
		b_str(&b, cases[i].name);
		b_u8(&b, cases[i].level);
		n = b_packet(&b, 0x10, in);
		decode_valid(in, n, 0, &pkt);
		assert_true(pkt.connect.unsupported_level);
	}
	/* a real MQTT 5 CONNECT from mosquitto_pub -V 5 */
	static const uint8_t v5[] = {0x10, 0x10, 0x00, 0x04, 'M',  'Q',	 'T',  'T',  0x05,
				     0x02, 0x00, 0x3c, 0x03, 0x21, 0x00, 0x14, 0x00, 0x00};

	decode_valid(v5, sizeof(v5), 0, &pkt);
	assert_false(pkt.connect.unsupported_level);
	assert_int_equal(pkt.connect.proto_level, 5);
	assert_int_equal(pkt.connect.keepalive, 60);
	assert_int_equal(pkt.props.receive_maximum, 20);
	assert_int_equal(pkt.connect.client_id.len, 0);
}

static void test_connect_flags(void **state)
{
	static struct bld b;
	uint8_t in[300];
	struct tern_packet pkt;

	for (size_t li = 0; li < 2; li++) {
		const char *name = levels[li] == 3 ? "MQIsdp" : "MQTT";

		for (unsigned flags = 0; flags < 256; flags++) {
			bool will = flags & 0x04, user = flags & 0x80, pw = flags & 0x40;
			unsigned wq = (flags >> 3) & 3;
			bool ok =
			    !(flags & 1) && wq != 3 && (will || !(flags & 0x38)) && (user || !pw);

			connect_head(&b, name, levels[li], (uint8_t)flags);
			b_str(&b, "cid");
			if (will) {
				b_str(&b, "will/t");
				b_field(&b, "\0\xff", 2);
			}
			if (user)
				b_str(&b, "u");
			if (pw)
				b_field(&b, "\xc0\x80", 2); /* binary: not checked as UTF-8 */
			size_t n = b_packet(&b, 0x10, in);

			if (!ok) {
				decode_bad(in, n);
				continue;
			}
			decode_valid(in, n, 0, &pkt);
			assert_int_equal(pkt.connect.proto_level, levels[li]);
			assert_int_equal(pkt.connect.clean_session, !!(flags & 2));
			assert_int_equal(pkt.connect.will, will);
			assert_int_equal(pkt.connect.will_qos, wq);
			assert_int_equal(pkt.connect.will_retain, !!(flags & 0x20));
			assert_int_equal(pkt.connect.has_username, user);
			assert_int_equal(pkt.connect.has_password, pw);
			assert_int_equal(pkt.connect.keepalive, 30);
			assert_bytes_eq(pkt.connect.client_id, "cid", 3);
			if (will) {
				assert_bytes_eq(pkt.connect.will_topic, "will/t", 6);
				assert_bytes_eq(pkt.connect.will_payload, "\0\xff", 2);
			}
			if (user)
				assert_bytes_eq(pkt.connect.username, "u", 1);
			if (pw)
				assert_bytes_eq(pkt.connect.password, "\xc0\x80", 2);

			/* one byte too many, or the last field cut short */
			b_u8(&b, 0);
			decode_bad(in, b_packet(&b, 0x10, in));
			b.n -= 2;
			decode_bad(in, b_packet(&b, 0x10, in));
		}
	}
}

static void test_connect_strings(void **state)
{
	static struct bld b;
	uint8_t in[300];
	struct tern_packet pkt;
	static const struct {
		const char *s;
		size_t len;
	} badutf[] = {{"a\0b", 3}, {"\xc0\x80", 2}, {"\xed\xa0\x80", 3},
		      {"\xff", 1}, {"\xc3", 1},	    {"\xf4\x90\x80\x80", 4}};

	for (size_t li = 0; li < 2; li++) {
		const char *name = levels[li] == 3 ? "MQIsdp" : "MQTT";

		for (size_t i = 0; i < sizeof(badutf) / sizeof(badutf[0]); i++) {
			/* client id */
			connect_head(&b, name, levels[li], 0x02);
			b_field(&b, badutf[i].s, badutf[i].len);
			decode_bad(in, b_packet(&b, 0x10, in));
			/* will topic */
			connect_head(&b, name, levels[li], 0x06);
			b_str(&b, "id");
			b_field(&b, badutf[i].s, badutf[i].len);
			b_str(&b, "payload");
			decode_bad(in, b_packet(&b, 0x10, in));
			/* username */
			connect_head(&b, name, levels[li], 0x82);
			b_str(&b, "id");
			b_field(&b, badutf[i].s, badutf[i].len);
			decode_bad(in, b_packet(&b, 0x10, in));
			/* password and will payload are binary */
			connect_head(&b, name, levels[li], 0xC6);
			b_str(&b, "id");
			b_str(&b, "w");
			b_field(&b, badutf[i].s, badutf[i].len);
			b_str(&b, "u");
			b_field(&b, badutf[i].s, badutf[i].len);
			decode_valid(in, b_packet(&b, 0x10, in), 0, &pkt);
			assert_bytes_eq(pkt.connect.password, badutf[i].s, badutf[i].len);
			assert_bytes_eq(pkt.connect.will_payload, badutf[i].s, badutf[i].len);
		}
		/* will topics must be topic names: no wildcards, not empty */
		static const char *const badtopics[] = {"", "#", "+", "a/+", "a/#", "a+", "#/a"};

		for (size_t i = 0; i < sizeof(badtopics) / sizeof(badtopics[0]); i++) {
			connect_head(&b, name, levels[li], 0x06);
			b_str(&b, "id");
			b_str(&b, badtopics[i]);
			b_str(&b, "payload");
			decode_bad(in, b_packet(&b, 0x10, in));
		}
		/* client id: empty and long ids are the broker's decision, not the codec's */
		connect_head(&b, name, levels[li], 0x00);
		b_str(&b, "");
		decode_valid(in, b_packet(&b, 0x10, in), 0, &pkt);
		assert_int_equal(pkt.connect.client_id.len, 0);
		connect_head(&b, name, levels[li], 0x02);
		b_str(&b, "0123456789012345678901234567890123456789");
		decode_valid(in, b_packet(&b, 0x10, in), 0, &pkt);
		assert_int_equal(pkt.connect.client_id.len, 40);
		/* client id length running past the packet */
		connect_head(&b, name, levels[li], 0x02);
		b_u16(&b, 10);
		b_raw(&b, "abc", 3);
		decode_bad(in, b_packet(&b, 0x10, in));
		/* no client id at all */
		connect_head(&b, name, levels[li], 0x02);
		decode_bad(in, b_packet(&b, 0x10, in));
		/* username flag without a username */
		connect_head(&b, name, levels[li], 0x82);
		b_str(&b, "id");
		decode_bad(in, b_packet(&b, 0x10, in));
		/* will flag without will fields */
		connect_head(&b, name, levels[li], 0x06);
		b_str(&b, "id");
		decode_bad(in, b_packet(&b, 0x10, in));
		connect_head(&b, name, levels[li], 0x06);
		b_str(&b, "id");
		b_str(&b, "t");
		decode_bad(in, b_packet(&b, 0x10, in));
	}
}

/* ---- PUBLISH ---- */

static void test_publish_malformed(void **state)
{
	static struct bld b;
	uint8_t in[300];
	static const struct {
		const char *s;
		size_t len;
	} badtopics[] = {{"", 0},
			 {"#", 1},
			 {"+", 1},
			 {"a/+/b", 5},
			 {"a/#", 3},
			 {"a+", 2},
			 {"sport/tennis#", 13},
			 {"a\0b", 3},
			 {"\xc0\xaf", 2},
			 {"\xed\xa0\x80", 3},
			 {"\xe2\x82", 2},
			 {"\xff", 1}};

	for (size_t i = 0; i < sizeof(badtopics) / sizeof(badtopics[0]); i++)
		for (uint8_t q = 0; q <= 2; q++) {
			b.n = 0;
			b_field(&b, badtopics[i].s, badtopics[i].len);
			if (q)
				b_u16(&b, 1);
			b_raw(&b, "payload", 7);
			decode_bad(in, b_packet(&b, (uint8_t)(0x30 | q << 1), in));
		}
	for (uint8_t q = 1; q <= 2; q++) {
		/* packet id 0 */
		b.n = 0;
		b_str(&b, "a/b");
		b_u16(&b, 0);
		b_raw(&b, "payload", 7);
		decode_bad(in, b_packet(&b, (uint8_t)(0x30 | q << 1), in));
		/* packet id missing or cut */
		b.n = 0;
		b_str(&b, "a/b");
		decode_bad(in, b_packet(&b, (uint8_t)(0x30 | q << 1), in));
		b_u8(&b, 1);
		decode_bad(in, b_packet(&b, (uint8_t)(0x30 | q << 1), in));
	}
	/* topic length past the end, no topic length at all */
	b.n = 0;
	b_u16(&b, 20);
	b_raw(&b, "a/b", 3);
	decode_bad(in, b_packet(&b, 0x30, in));
	static const uint8_t short1[] = {0x30, 0x01, 0x00};
	static const uint8_t short0[] = {0x30, 0x00};
	static const uint8_t empty_topic[] = {0x30, 0x02, 0x00, 0x00};

	decode_bad(short1, sizeof(short1));
	decode_bad(short0, sizeof(short0));
	decode_bad(empty_topic, sizeof(empty_topic));

	/* $ topics and a lone '/' are fine; an empty payload is fine */
	struct tern_packet pkt;
	static const uint8_t ok[] = {0x33, 0x07, 0x00, 0x03, '$', 'x', '/', 0x00, 0x09};

	decode_valid(ok, sizeof(ok), 4, &pkt);
	assert_int_equal(pkt.publish.qos, 1);
	assert_true(pkt.publish.retain);
	assert_int_equal(pkt.publish.packet_id, 9);
	assert_int_equal(pkt.publish.payload.len, 0);
}

/* ---- acks ---- */

static void test_ack_malformed(void **state)
{
	static const uint8_t byte0s[] = {0x40, 0x50, 0x62, 0x70, 0xb0};

	for (size_t i = 0; i < sizeof(byte0s); i++) {
		uint8_t zero[] = {byte0s[i], 0x02, 0x00, 0x00};
		uint8_t one[] = {byte0s[i], 0x01, 0x05};
		uint8_t three[] = {byte0s[i], 0x03, 0x00, 0x05, 0x00};
		uint8_t none[] = {byte0s[i], 0x00};

		decode_bad(zero, sizeof(zero));
		decode_bad(one, sizeof(one));
		decode_bad(three, sizeof(three));
		decode_bad(none, sizeof(none));
	}
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ---- */

static void test_subscribe_malformed(void **state)
{
	static struct bld b;
	uint8_t in[300];
	struct tern_packet pkt;

	/* packet id 0 */
	b.n = 0;
	b_u16(&b, 0);
	b_str(&b, "a");
	b_u8(&b, 0);
	decode_bad(in, b_packet(&b, 0x82, in));
	/* no filters */
	b.n = 0;
	b_u16(&b, 1);
	decode_bad(in, b_packet(&b, 0x82, in));
	b.n = 0;
	decode_bad(in, b_packet(&b, 0x82, in));
	/* every option byte: only 0, 1, 2 are valid in 3.1 / 3.1.1 */
	for (unsigned o = 0; o < 256; o++) {
		b.n = 0;
		b_u16(&b, 1);
		b_str(&b, "a/b");
		b_u8(&b, (uint8_t)o);
		size_t n = b_packet(&b, 0x82, in);

		if (o <= 2) {
			decode_valid(in, n, 4, &pkt);
			decode_valid(in, n, 3, &pkt);
		} else {
			decode_bad(in, n);
		}
		/* and as the second of two entries */
		b.n = 0;
		b_u16(&b, 1);
		b_str(&b, "a/b");
		b_u8(&b, 1);
		b_str(&b, "c");
		b_u8(&b, (uint8_t)o);
		n = b_packet(&b, 0x82, in);
		if (o <= 2)
			decode_valid(in, n, 4, &pkt);
		else
			decode_bad(in, n);
	}
	/* missing options byte, after the first or the last filter */
	b.n = 0;
	b_u16(&b, 1);
	b_str(&b, "a/b");
	decode_bad(in, b_packet(&b, 0x82, in));
	b.n = 0;
	b_u16(&b, 1);
	b_str(&b, "a/b");
	b_u8(&b, 0);
	b_str(&b, "c");
	decode_bad(in, b_packet(&b, 0x82, in));
	/* filter length past the end; a dangling length byte */
	b.n = 0;
	b_u16(&b, 1);
	b_u16(&b, 9);
	b_raw(&b, "a/b", 3);
	b_u8(&b, 0);
	decode_bad(in, b_packet(&b, 0x82, in));
	b.n = 0;
	b_u16(&b, 1);
	b_str(&b, "a/b");
	b_u8(&b, 0);
	b_u8(&b, 0);
	decode_bad(in, b_packet(&b, 0x82, in));
}

static void test_filters_invalid(void **state)
{
	static struct bld b;
	uint8_t in[300];
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {{"", 0},
		   {"a/#/b", 5},
		   {"#/a", 3},
		   {"a#", 2},
		   {"a/b#", 4},
		   {"+a", 2},
		   {"a/+b", 4},
		   {"a+/b", 4},
		   {"##", 2},
		   {"++", 2},
		   {"a\0", 2},
		   {"\xc0\x80", 2},
		   {"\xed\xbf\xbf", 3},
		   {"\xf8\x88\x80\x80\x80", 5},
		   {"a/\xe2", 3}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(tern_topic_filter_valid((const uint8_t *)bad[i].s, bad[i].len));
		/* alone, and after a valid entry */
		for (int after = 0; after < 2; after++) {
			b.n = 0;
			b_u16(&b, 3);
			if (after) {
				b_str(&b, "ok/+");
				b_u8(&b, 0);
			}
			b_field(&b, bad[i].s, bad[i].len);
			b_u8(&b, 1);
			decode_bad(in, b_packet(&b, 0x82, in));

			b.n = 0;
			b_u16(&b, 3);
			if (after)
				b_str(&b, "ok/+");
			b_field(&b, bad[i].s, bad[i].len);
			decode_bad(in, b_packet(&b, 0xa2, in));
		}
	}
}

static void test_unsubscribe_malformed(void **state)
{
	static struct bld b;
	uint8_t in[300];
	struct tern_packet pkt;

	b.n = 0;
	b_u16(&b, 0);
	b_str(&b, "a");
	decode_bad(in, b_packet(&b, 0xa2, in));
	b.n = 0;
	b_u16(&b, 1);
	decode_bad(in, b_packet(&b, 0xa2, in));
	b.n = 0;
	b_u16(&b, 1);
	b_u16(&b, 4);
	b_raw(&b, "abc", 3);
	decode_bad(in, b_packet(&b, 0xa2, in));
	b.n = 0;
	b_u16(&b, 1);
	b_str(&b, "abc");
	b_u8(&b, 0); /* an options byte has no place here */
	decode_bad(in, b_packet(&b, 0xa2, in));

	b.n = 0;
	b_u16(&b, 1);
	b_str(&b, "abc");
	b_str(&b, "#");
	decode_valid(in, b_packet(&b, 0xa2, in), 4, &pkt);
	assert_int_equal(pkt.subscribe.count, 2);
}

/* ---- client-bound packets ---- */

static void test_client_bound_malformed(void **state)
{
	struct tern_packet pkt;

	for (unsigned c = 0; c < 256; c++) {
		uint8_t sa[] = {0x90, 0x03, 0x00, 0x01, (uint8_t)c};
		bool ok = c <= 2 || c == 0x80;

		if (ok) {
			decode_valid(sa, sizeof(sa), 4, &pkt);
			assert_int_equal(pkt.suback.codes.p[0], c);
		} else {
			decode_bad(sa, sizeof(sa));
		}
		uint8_t sa2[] = {0x90, 0x04, 0x00, 0x01, 0x00, (uint8_t)c};

		if (ok)
			decode_valid(sa2, sizeof(sa2), 4, &pkt);
		else
			decode_bad(sa2, sizeof(sa2));
	}
	static const uint8_t sa_none[] = {0x90, 0x02, 0x00, 0x01};
	static const uint8_t sa_id0[] = {0x90, 0x03, 0x00, 0x00, 0x00};
	static const uint8_t sa_short[] = {0x90, 0x01, 0x00};

	decode_bad(sa_none, sizeof(sa_none));
	decode_bad(sa_id0, sizeof(sa_id0));
	decode_bad(sa_short, sizeof(sa_short));

	/* CONNACK acknowledge flags: bits 1-7 reserved in 3.1.1 */
	for (unsigned f = 0; f < 256; f++)
		for (unsigned rc = 0; rc < 256; rc++) {
			uint8_t ca[] = {0x20, 0x02, (uint8_t)f, (uint8_t)rc};
			ssize_t want = (f <= 1 && rc <= 5 && !(f == 1 && rc != 0)) ? 4 : -EPROTO;

			assert_int_equal(guarded_decode(ca, 4, 4, 0, &pkt), want);
			if (want > 0) {
				assert_int_equal(pkt.connack.session_present, f);
				assert_int_equal(pkt.connack.rc, rc);
			}
			/* 3.1: the first byte is unused */
			want = rc <= 5 ? 4 : -EPROTO;
			assert_int_equal(guarded_decode(ca, 4, 3, 0, &pkt), want);
			if (want > 0)
				assert_false(pkt.connack.session_present);
		}
}

/* ---- a stream of packets, and random damage ---- */

static void test_stream(void **state)
{
	uint8_t stream[1024];
	size_t n = 0;
	struct tern_connect c = {.proto_level = 4, .clean_session = true, .client_id = bs("s")};
	struct tern_publish p = {.qos = 1, .packet_id = 3, .topic = bs("x/y"), .payload = bs("z")};
	struct tern_bytes f = bs("x/#");
	uint8_t o = 2;

	n += tern_codec_encode_connect(stream + n, sizeof(stream) - n, &c, NULL);
	n += tern_codec_encode_sub_list(stream + n, sizeof(stream) - n, TERN_PKT_SUBSCRIBE, 2, &f,
					&o, 1);
	n += tern_codec_encode_publish(stream + n, sizeof(stream) - n, &p);
	n += tern_codec_encode_ack(stream + n, sizeof(stream) - n, TERN_PKT_PUBREL, 3);
	n += tern_codec_encode_empty(stream + n, sizeof(stream) - n, TERN_PKT_PINGREQ);
	n += tern_codec_encode_sub_list(stream + n, sizeof(stream) - n, TERN_PKT_UNSUBSCRIBE, 4, &f,
					NULL, 1);
	n += tern_codec_encode_empty(stream + n, sizeof(stream) - n, TERN_PKT_DISCONNECT);
	static const enum tern_pkt_type want[] = {
	    TERN_PKT_CONNECT, TERN_PKT_SUBSCRIBE,   TERN_PKT_PUBLISH,	TERN_PKT_PUBREL,
	    TERN_PKT_PINGREQ, TERN_PKT_UNSUBSCRIBE, TERN_PKT_DISCONNECT};

	/* feed the stream in chunks of every size, as a socket might deliver it */
	for (size_t chunk = 1; chunk <= n; chunk++) {
		size_t have = 0, off = 0, k = 0;
		struct tern_packet pkt;

		while (off < n) {
			ssize_t r = guarded_decode(stream + off, have - off, 4, 0, &pkt);

			if (r == -EAGAIN) {
				assert_true(have < n);
				have = have + chunk > n ? n : have + chunk;
				continue;
			}
			assert_true(r > 0);
			assert_int_equal(pkt.type, want[k]);
			k++;
			off += (size_t)r;
		}
		assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	}
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool within(const uint8_t *p, size_t len, const uint8_t *lo, const uint8_t *hi)
{
	return len == 0 || (p >= lo && p + len <= hi);
}

/* Any decoded result must be self-consistent and inside the input. */
static void check_decoded(const uint8_t *buf, ssize_t r, const struct tern_packet *pkt)
{
	const uint8_t *end = buf + r;

	switch (pkt->type) {
	case TERN_PKT_PUBLISH:
		assert_true(within(pkt->publish.topic.p, pkt->publish.topic.len, buf, end));
		assert_true(within(pkt->publish.payload.p, pkt->publish.payload.len, buf, end));
		assert_true(tern_topic_name_valid(pkt->publish.topic.p, pkt->publish.topic.len));
		assert_true(pkt->publish.qos <= 2);
		assert_true(pkt->publish.qos == 0 || pkt->publish.packet_id != 0);
		break;
	case TERN_PKT_SUBSCRIBE:
	case TERN_PKT_UNSUBSCRIBE: {
		struct tern_filter_iter it;
		struct tern_bytes f;
		uint8_t o;
		size_t k = 0;

		tern_codec_filter_iter_init(&it, pkt);
		while (tern_codec_filter_next(&it, &f, &o)) {
			assert_true(within(f.p, f.len, buf, end));
			assert_true(tern_topic_filter_valid(f.p, f.len));
			assert_true(o <= 2);
			k++;
		}
		assert_int_equal(k, pkt->subscribe.count);
		assert_true(k > 0);
		break;
	}
	case TERN_PKT_CONNECT:
		if (pkt->connect.unsupported_level)
			break;
		assert_true(within(pkt->connect.client_id.p, pkt->connect.client_id.len, buf, end));
		assert_true(within(pkt->connect.username.p, pkt->connect.username.len, buf, end));
		assert_true(within(pkt->connect.password.p, pkt->connect.password.len, buf, end));
		assert_true(
		    within(pkt->connect.will_topic.p, pkt->connect.will_topic.len, buf, end));
		assert_true(
		    within(pkt->connect.will_payload.p, pkt->connect.will_payload.len, buf, end));
		assert_true(pkt->connect.will_qos <= 2);
		break;
	case TERN_PKT_SUBACK:
		assert_true(within(pkt->suback.codes.p, pkt->suback.codes.len, buf, end));
		break;
	default:
		break;
	}
}

static void test_mutations(void **state)
{
	uint8_t seeds[8][128];
	size_t lens[8];
	struct tern_connect c = {.proto_level = 4,
				 .will = true,
				 .will_qos = 1,
				 .will_topic = bs("w"),
				 .will_payload = bs("bye"),
				 .has_username = true,
				 .username = bs("u"),
				 .has_password = true,
				 .password = bs("p"),
				 .client_id = bs("cid")};
	struct tern_publish p = {.qos = 2, .packet_id = 9, .topic = bs("a/b"), .payload = bs("xy")};
	struct tern_bytes fs[] = {bs("a/+"), bs("#")};
	uint8_t os[] = {1, 2}, codes[] = {0, 0x80};

	lens[0] = tern_codec_encode_connect(seeds[0], 128, &c, NULL);
	c.proto_level = 3;
	lens[1] = tern_codec_encode_connect(seeds[1], 128, &c, NULL);
	lens[2] = tern_codec_encode_publish(seeds[2], 128, &p);
	lens[3] = tern_codec_encode_sub_list(seeds[3], 128, TERN_PKT_SUBSCRIBE, 1, fs, os, 2);
	lens[4] = tern_codec_encode_sub_list(seeds[4], 128, TERN_PKT_UNSUBSCRIBE, 1, fs, NULL, 2);
	lens[5] = tern_codec_encode_suback(seeds[5], 128, 1, codes, 2);
	lens[6] = tern_codec_encode_ack(seeds[6], 128, TERN_PKT_PUBREC, 1);
	lens[7] = tern_codec_encode_connack(seeds[7], 128, true, 0);

	for (int iter = 0; iter < 200000; iter++) {
		size_t s = rnd() % 8;
		uint8_t buf[160];
		size_t len = lens[s];

		memcpy(buf, seeds[s], len);
		int edits = 1 + (int)(rnd() % 3);

		for (int e = 0; e < edits; e++) {
			switch (rnd() % 4) {
			case 0: /* flip a bit */
				buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1: /* a random byte */
				buf[rnd() % len] = (uint8_t)rnd();
				break;
			case 2: /* truncate */
				len = 1 + rnd() % len;
				break;
			default: /* append garbage */
				if (len < sizeof(buf))
					buf[len++] = (uint8_t)rnd();
				break;
			}
		}
		struct tern_packet pkt;
		uint8_t level = (uint8_t)(3 + rnd() % 2);
		size_t max = (rnd() % 4 == 0) ? rnd() % 64 : 0;
		const uint8_t *g = guard_put(buf, len);
		ssize_t r = tern_codec_decode(g, len, level, max, &pkt);

		if (r > 0) {
			assert_true((size_t)r <= len);
			assert_true(max == 0 || (size_t)r <= max);
			check_decoded(g, r, &pkt);
		} else if (r != -EAGAIN && r != -EPROTO && r != -EMSGSIZE) {
			fail_msg("unexpected result %zd", r);
		}
	}
}

/* ---- encoder sizes ---- */

static void test_publish_sizes(void **state)
{
	uint8_t hdr[TERN_CODEC_FIXED_HDR_MAX];
	static const struct {
		size_t rem;
		size_t hdr;
	} widths[] = {{0, 2},	  {127, 2},	{128, 3},     {16383, 3},
		      {16384, 4}, {2097151, 4}, {2097152, 5}, {268435455, 5}};

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		size_t rem = widths[i].rem;

		if (rem < 4)
			continue;
		/* QoS 1: 2 topic length + 1 topic + 2 packet id */
		size_t payload = rem - 5;

		assert_int_equal(tern_codec_publish_size(1, 1, payload), widths[i].hdr + rem);
		assert_int_equal(tern_codec_encode_publish_fixed(hdr, 1, true, true, 1, payload),
				 widths[i].hdr);
		assert_int_equal(hdr[0], 0x3b);
		/* decode the length back */
		size_t got = 0;

		for (size_t k = 1; k < widths[i].hdr; k++)
			got |= (size_t)(hdr[k] & 0x7F) << (7 * (k - 1));
		assert_int_equal(got, rem);
		assert_int_equal(hdr[widths[i].hdr - 1] & 0x80, 0);
	}
	/* one byte over the protocol maximum, and absurd sizes that must not wrap */
	assert_int_equal(tern_codec_publish_size(1, 1, 268435455 - 4), 0);
	assert_int_equal(tern_codec_encode_publish_fixed(hdr, 1, false, false, 1, 268435455 - 4),
			 0);
	assert_int_equal(tern_codec_publish_size(0, 1, 268435455 - 3), 268435455 + 5);
	assert_int_equal(tern_codec_publish_size(0, 1, 268435455 - 2), 0);
	assert_int_equal(tern_codec_publish_size(0, 1, SIZE_MAX), 0);
	assert_int_equal(tern_codec_publish_size(0, SIZE_MAX, 1), 0);
	assert_int_equal(tern_codec_publish_size(0, 65536, 0), 0);
	assert_int_equal(tern_codec_publish_size(0, 65535, 0), 65537 + 4);
	assert_int_equal(tern_codec_publish_size(2, SIZE_MAX - 1, SIZE_MAX - 1), 0);
	assert_int_equal(tern_codec_encode_publish_fixed(hdr, 0, false, false, SIZE_MAX, SIZE_MAX),
			 0);
	assert_int_equal(tern_codec_publish_size(3, 1, 1), 0);
	assert_int_equal(tern_codec_encode_publish_fixed(hdr, 3, false, false, 1, 1), 0);
	/* flags */
	assert_int_equal(tern_codec_encode_publish_fixed(hdr, 0, false, false, 1, 0), 2);
	assert_int_equal(hdr[0], 0x30);
	assert_int_equal(hdr[1], 3);
	assert_int_equal(tern_codec_encode_publish_fixed(hdr, 2, false, true, 1, 0), 2);
	assert_int_equal(hdr[0], 0x35);
	assert_int_equal(hdr[1], 5);

	/* encoders refuse fields over 65535 bytes */
	static uint8_t big[65536];
	uint8_t out[64];
	struct tern_publish p = {.topic = {big, sizeof(big)}};
	struct tern_connect c = {.proto_level = 4, .client_id = {big, sizeof(big)}};
	struct tern_bytes f = {big, sizeof(big)};
	uint8_t o = 0;

	assert_int_equal(tern_codec_encode_publish(out, sizeof(out), &p), 0);
	assert_int_equal(tern_codec_encode_connect(out, sizeof(out), &c, NULL), 0);
	assert_int_equal(
	    tern_codec_encode_sub_list(out, sizeof(out), TERN_PKT_SUBSCRIBE, 1, &f, &o, 1), 0);
	assert_int_equal(tern_codec_encode_suback(out, sizeof(out), 1, big, SIZE_MAX), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_utf8_invalid),
	    cmocka_unit_test(test_utf8_positions),
	    cmocka_unit_test(test_utf8_exhaustive),
	    cmocka_unit_test(test_golden_connect),
	    cmocka_unit_test(test_golden_others),
	    cmocka_unit_test(test_roundtrip_connect),
	    cmocka_unit_test(test_roundtrip_publish),
	    cmocka_unit_test(test_roundtrip_acks),
	    cmocka_unit_test(test_roundtrip_connack),
	    cmocka_unit_test(test_roundtrip_empty),
	    cmocka_unit_test(test_roundtrip_sub_list),
	    cmocka_unit_test(test_roundtrip_suback),
	    cmocka_unit_test(test_reserved_types),
	    cmocka_unit_test(test_header_flags),
	    cmocka_unit_test(test_publish_header),
	    cmocka_unit_test(test_remaining_length),
	    cmocka_unit_test(test_fixed_lengths),
	    cmocka_unit_test(test_msgsize),
	    cmocka_unit_test(test_connect_protocol),
	    cmocka_unit_test(test_connect_truncated_fields),
	    cmocka_unit_test(test_connect_unsupported_level),
	    cmocka_unit_test(test_connect_flags),
	    cmocka_unit_test(test_connect_strings),
	    cmocka_unit_test(test_publish_malformed),
	    cmocka_unit_test(test_ack_malformed),
	    cmocka_unit_test(test_subscribe_malformed),
	    cmocka_unit_test(test_filters_invalid),
	    cmocka_unit_test(test_unsubscribe_malformed),
	    cmocka_unit_test(test_client_bound_malformed),
	    cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_publish_sizes),
	};

	return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
