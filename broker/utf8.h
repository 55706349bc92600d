/* SPDX-License-Identifier: MIT */
/* UTF-8 validation with the MQTT rules for strings (MQTT 3.1.1 section 1.5.3). */
#ifndef TERN_UTF8_H
#define TERN_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates
 * U+D800..U+DFFF, nothing above U+10FFFF) and contains no U+0000. Thread-safe.
 */
bool tern_utf8_valid(const uint8_t *s, size_t len);

#endif
