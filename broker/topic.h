/* SPDX-License-Identifier: MIT */
/* Topic names and filters: validation and pure matching (MQTT 3.1.1 section 4.7). */
#ifndef TERN_TOPIC_H
#define TERN_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A topic name a client may PUBLISH to: 1..65535 bytes, valid MQTT UTF-8
 * (tern_utf8_valid), no '+' or '#'. Thread-safe.
 */
bool tern_topic_name_valid(const uint8_t *s, size_t len);

/*
 * A topic filter a client may SUBSCRIBE to: 1..65535 bytes, valid MQTT UTF-8,
 * '+' only as a whole level, '#' only as the whole last level. Thread-safe.
 */
bool tern_topic_filter_valid(const uint8_t *s, size_t len);

/*
 * True when the valid filter matches the valid topic name, with the rule that
 * a filter starting with a wildcard does not match a topic starting with '$'.
 * Thread-safe.
 */
bool tern_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
