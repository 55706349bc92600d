/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation with the MQTT string rules (MQTT 3.1.1 section 1.5.3): well-formed
 * per RFC 3629 / Unicode table 3-7, and no U+0000. Control characters and noncharacters
 * are only SHOULD NOTs in the spec, so they pass.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "broker/utf8.h"

/* Most topics and client ids are ASCII: check eight bytes at a time for the high bit or a NUL. */
static size_t ascii_prefix(const uint8_t *s, size_t len)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t highs = 0x8080808080808080ull;
	size_t i = 0;

	while (len - i >= 8) {
		uint64_t w;

		memcpy(&w, s + i, sizeof(w));
		/* high bit set in any byte, or any zero byte (the classic haszero trick) */
		if ((w & highs) || ((w - ones) & ~w & highs))
			break;
		i += 8;
	}
	return i;
}

bool tern_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = ascii_prefix(s, len);

	while (i < len) {
		uint8_t c = s[i];

		if (c < 0x80) {
			if (c == 0)
				return false;
			i++;
			continue;
		}

		/*
		 * The second byte's allowed range depends on the lead byte; that is what
		 * excludes overlongs (E0, F0), surrogates (ED) and code points above
		 * U+10FFFF (F4). C0, C1 and F5..FF can never start a valid sequence.
		 */
		uint8_t lo = 0x80, hi = 0xBF;
		size_t n;

		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return false;
		}

		if (len - i < n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
		i += n;
	}
	return true;
}
