/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the codec tests: decoding against the guard page with
 * every prefix checked, and a tiny builder for hand-made packets.
 */
#ifndef TERN_TEST_CODEC_HELPERS_H
#define TERN_TEST_CODEC_HELPERS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/codec.h"
#include "broker/utf8.h"
#include "tests/unit/guard.h"

static inline ssize_t guarded_decode(const void *in, size_t len, uint8_t level, size_t max,
				     struct tern_packet *pkt)
{
	return tern_codec_decode(guard_put(in, len), len, level, max, pkt);
}

static inline bool guarded_utf8(const void *s, size_t len)
{
	return tern_utf8_valid(guard_put(s, len), len);
}

/*
 * A valid packet: every strict prefix is -EAGAIN (each prefix also sits against the
 * guard page), the whole decodes to its length, and a following packet is not eaten.
 * Leaves pkt decoded from the guard area copy.
 */
static inline void decode_valid(const uint8_t *in, size_t len, uint8_t level,
				struct tern_packet *pkt)
{
	struct tern_packet tmp;

	for (size_t i = 0; i < len; i++) {
		/* long packets: every split near the ends, a sample in the middle */
		if (len > 4096 && i > 64 && i + 64 < len && i % 997 != 0)
			continue;
		ssize_t r = guarded_decode(in, i, level, 0, &tmp);

		if (r != -EAGAIN)
			fail_msg("prefix %zu/%zu of a valid packet gave %zd", i, len, r);
	}

	uint8_t *two = malloc(len + 2);

	assert_non_null(two);
	memcpy(two, in, len);
	two[len] = 0xC0; /* a PINGREQ right behind it */
	two[len + 1] = 0x00;
	assert_int_equal(guarded_decode(two, len + 2, level, 0, &tmp), (ssize_t)len);
	free(two);

	/* exactly at the size limit is fine */
	assert_int_equal(guarded_decode(in, len, level, len, &tmp), (ssize_t)len);
	assert_int_equal(guarded_decode(in, len, level, 0, pkt), (ssize_t)len);
}

/*
 * A malformed packet: -EPROTO when whole, and every prefix is -EAGAIN or -EPROTO
 * (never a success, never a fault).
 */
static inline void decode_bad_level(const uint8_t *in, size_t len, uint8_t level)
{
	struct tern_packet pkt;

	for (size_t i = 0; i < len; i++) {
		ssize_t r = guarded_decode(in, i, level, 0, &pkt);

		if (r != -EAGAIN && r != -EPROTO)
			fail_msg("prefix %zu/%zu of a bad packet gave %zd", i, len, r);
	}
	ssize_t r = guarded_decode(in, len, level, 0, &pkt);

	if (r != -EPROTO)
		fail_msg("bad packet (level %u, %zu bytes, first 0x%02x) gave %zd", level, len,
			 len ? in[0] : 0, r);
}

/* ---- a tiny builder for hand-made packets ---- */

struct bld {
	uint8_t body[70000];
	size_t n;
};

static inline void b_u8(struct bld *b, uint8_t v)
{
	b->body[b->n++] = v;
}

static inline void b_u16(struct bld *b, uint16_t v)
{
	b_u8(b, (uint8_t)(v >> 8));
	b_u8(b, (uint8_t)v);
}

static inline void b_raw(struct bld *b, const void *p, size_t len)
{
	memcpy(b->body + b->n, p, len);
	b->n += len;
}

/* length-prefixed field */
static inline void b_field(struct bld *b, const void *p, size_t len)
{
	b_u16(b, (uint16_t)len);
	b_raw(b, p, len);
}

static inline void b_str(struct bld *b, const char *s)
{
	b_field(b, s, strlen(s));
}

/* Fixed header with a minimal remaining length, then the body. */
static inline size_t b_packet(const struct bld *b, uint8_t byte0, uint8_t *out)
{
	size_t rem = b->n, i = 0;

	out[i++] = byte0;
	do {
		uint8_t c = rem & 0x7F;

		rem >>= 7;
		out[i++] = c | (rem ? 0x80 : 0);
	} while (rem);
	memcpy(out + i, b->body, b->n);
	return i + b->n;
}

static inline struct tern_bytes bs(const char *s)
{
	return (struct tern_bytes){(const uint8_t *)s, strlen(s)};
}

static inline void assert_bytes_eq(struct tern_bytes got, const void *want, size_t len)
{
	assert_int_equal(got.len, len);
	if (len)
		assert_memory_equal(got.p, want, len);
}

#endif
