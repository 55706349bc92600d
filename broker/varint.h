/* SPDX-License-Identifier: MIT */
/*
 * MQTT Variable Byte Integer (MQTT 5.0 section 1.5.5; the 3.1.1 "remaining
 * length"): 7 bits a byte, least significant group first, at most 4 bytes.
 */
#ifndef TERN_VARINT_H
#define TERN_VARINT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define TERN_VARINT_MAX	      268435455u /* largest value that fits in 4 bytes */
#define TERN_VARINT_MAX_BYTES 4

/* Bytes needed to encode v (v <= TERN_VARINT_MAX). Thread-safe. */
static inline size_t tern_varint_size(uint32_t v)
{
	if (v < 128u)
		return 1;
	if (v < 16384u)
		return 2;
	if (v < 2097152u)
		return 3;
	return 4;
}

/* Write v (v <= TERN_VARINT_MAX) at p; returns the byte count. Thread-safe. */
static inline size_t tern_varint_put(uint8_t *p, uint32_t v)
{
	size_t n = 0;

	do {
		uint8_t b = v & 0x7F;

		v >>= 7;
		if (v)
			b |= 0x80;
		p[n++] = b;
	} while (v);
	return n;
}

/*
 * Read a value from p[0..len). Returns the bytes used (1..4); -EAGAIN when
 * len ends inside the value; -EPROTO when a fifth byte would be needed.
 * Non-minimal encodings are accepted, as in the 3.1.1 remaining length.
 * Thread-safe.
 */
static inline int tern_varint_get(const uint8_t *p, size_t len, uint32_t *v)
{
	uint32_t value = 0;

	for (size_t i = 0; i < TERN_VARINT_MAX_BYTES; i++) {
		if (i == len)
			return -EAGAIN;
		value |= (uint32_t)(p[i] & 0x7F) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = value;
			return (int)i + 1;
		}
	}
	return -EPROTO;
}

#endif
