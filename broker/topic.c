/* SPDX-License-Identifier: MIT */
/*
 * Topic names and filters (MQTT 3.1.1 section 4.7): validity and the matching
 * of one filter against one name, with no tree. The subscription tree and the
 * retained store implement the same rules on their tries.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "broker/topic.h"
#include "broker/utf8.h"

#define TOPIC_MAX_LEN 65535u

bool tern_topic_name_valid(const uint8_t *s, size_t len)
{
	if (len == 0 || len > TOPIC_MAX_LEN)
		return false;
	if (memchr(s, '+', len) || memchr(s, '#', len))
		return false;
	return tern_utf8_valid(s, len);
}

bool tern_topic_filter_valid(const uint8_t *s, size_t len)
{
	if (len == 0 || len > TOPIC_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool starts_level = i == 0 || s[i - 1] == '/';
		bool ends_level = i + 1 == len || s[i + 1] == '/';

		if (s[i] == '+' && !(starts_level && ends_level))
			return false;
		/* '#' must be the whole of the last level. */
		if (s[i] == '#' && !(starts_level && i + 1 == len))
			return false;
	}
	return tern_utf8_valid(s, len);
}

static size_t level_end(const uint8_t *s, size_t from, size_t len)
{
	const uint8_t *q = memchr(s + from, '/', len - from);

	return q ? (size_t)(q - s) : len;
}

bool tern_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen)
{
	size_t fi = 0, ti = 0;

	if (flen == 0 || tlen == 0)
		return false;
	if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
		return false;
	for (;;) {
		size_t fe = level_end(filter, fi, flen);
		size_t te;

		/* '#' takes the rest, and also the parent level ("a/#" matches "a"). */
		if (fe - fi == 1 && filter[fi] == '#')
			return true;
		te = level_end(topic, ti, tlen);
		if (!(fe - fi == 1 && filter[fi] == '+') &&
		    (fe - fi != te - ti || memcmp(filter + fi, topic + ti, fe - fi) != 0))
			return false;
		if (fe == flen)
			return te == tlen;
		if (te == tlen)
			return flen - fe == 2 && filter[fe + 1] == '#';
		fi = fe + 1;
		ti = te + 1;
	}
}
