/* SPDX-License-Identifier: MIT */
/*
 * The index of one session's subscriptions: filter bytes -> position in the
 * session's array of subscriptions, so SUBSCRIBE and UNSUBSCRIBE cost O(1)
 * per filter whatever the number a client holds (a linear search made one
 * client with 50,000 filters cost quadratic CPU).
 *
 * Design: open addressing with linear probing over a power-of-two table of
 * positions + 1 (0 = empty), at most half full; deletion shifts the following
 * entries back (no tombstones), so a lookup stops at the first empty slot.
 * Keys are not copied: the table hashes and compares the array's filters.
 * The array stays dense (remove = move the last entry into the hole), and
 * tern_subindex_moved re-points the moved entry's slot. Owner worker only.
 */
#ifndef TERN_SUBINDEX_H
#define TERN_SUBINDEX_H

#include <stddef.h>
#include <stdint.h>

/* A subscription as the session remembers it (the tree holds the shared copy). */
struct tern_session_sub {
	char *filter;
	uint16_t len;
	uint8_t options; /* SUBSCRIBE options byte: QoS, and 5.0's No Local... */
	uint32_t sub_id; /* 5.0 subscription identifier; 0 = none */
};

struct tern_subindex {
	uint32_t *slots; /* position + 1, 0 = empty; NULL until the first insert */
	uint32_t mask;	 /* table size - 1 */
	uint32_t used;
};

/* Position of filter in subs, or -ENOENT. */
int tern_subindex_find(const struct tern_subindex *ix, const struct tern_session_sub *subs,
		       const uint8_t *filter, size_t len);

/*
 * Index subs[pos] (its filter must not be indexed yet). Returns 0 or -ENOMEM
 * (then nothing changed).
 */
int tern_subindex_insert(struct tern_subindex *ix, const struct tern_session_sub *subs,
			 uint32_t pos);

/* Forget subs[pos] (still holding its filter). Never fails. */
void tern_subindex_remove(struct tern_subindex *ix, const struct tern_session_sub *subs,
			  uint32_t pos);

/* The entry indexed at position `from` now lives at `to` (subs[to] holds it). Never fails. */
void tern_subindex_moved(struct tern_subindex *ix, const struct tern_session_sub *subs,
			 uint32_t from, uint32_t to);

/* Forget everything and free the table. */
void tern_subindex_clear(struct tern_subindex *ix);

#endif
