/* SPDX-License-Identifier: MIT */
/* A session's filter -> position index (design note in subindex.h). */
#include <errno.h>
#include <string.h>

#include "broker/alloc.h"
#include "broker/subindex.h"

#define MIN_SLOTS 8u

/* FNV-1a, folded: filters are short and the table small. */
static uint32_t hash(const uint8_t *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static uint32_t hash_sub(const struct tern_session_sub *sub)
{
	return hash((const uint8_t *)sub->filter, sub->len);
}

int tern_subindex_find(const struct tern_subindex *ix, const struct tern_session_sub *subs,
		       const uint8_t *filter, size_t len)
{
	uint32_t i;

	if (!ix->slots)
		return -ENOENT;
	for (i = hash(filter, len) & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask) {
		const struct tern_session_sub *sub = &subs[ix->slots[i] - 1];

		if (sub->len == len && memcmp(sub->filter, filter, len) == 0)
			return (int)(ix->slots[i] - 1);
	}
	return -ENOENT;
}

static void place(uint32_t *slots, uint32_t mask, uint32_t h, uint32_t value)
{
	uint32_t i = h & mask;

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = value;
}

static int grow(struct tern_subindex *ix, const struct tern_session_sub *subs)
{
	uint32_t size = ix->slots ? 2 * (ix->mask + 1) : MIN_SLOTS;
	uint32_t *slots;

	if (size == 0 || size > UINT32_MAX / 2)
		return -ENOMEM;
	slots = tern_calloc(size, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; ix->slots && i <= ix->mask; i++)
		if (ix->slots[i])
			place(slots, size - 1, hash_sub(&subs[ix->slots[i] - 1]), ix->slots[i]);
	tern_free(ix->slots);
	ix->slots = slots;
	ix->mask = size - 1;
	return 0;
}

int tern_subindex_insert(struct tern_subindex *ix, const struct tern_session_sub *subs,
			 uint32_t pos)
{
	if (pos >= UINT32_MAX - 1)
		return -ENOMEM;
	/* At most half full: probes stay short. */
	if ((!ix->slots || 2 * (ix->used + 1) > ix->mask + 1) && grow(ix, subs) < 0)
		return -ENOMEM;
	place(ix->slots, ix->mask, hash_sub(&subs[pos]), pos + 1);
	ix->used++;
	return 0;
}

/* The slot holding value, found by the hash of subs[entry]. */
static uint32_t slot_of(const struct tern_subindex *ix, const struct tern_session_sub *subs,
			uint32_t entry, uint32_t value)
{
	uint32_t i = hash_sub(&subs[entry]) & ix->mask;

	while (ix->slots[i] != value)
		i = (i + 1) & ix->mask;
	return i;
}

void tern_subindex_remove(struct tern_subindex *ix, const struct tern_session_sub *subs,
			  uint32_t pos)
{
	uint32_t hole = slot_of(ix, subs, pos, pos + 1);
	uint32_t i = hole;

	/* Backward shift: move up every later entry of the run that may sit in the hole. */
	for (;;) {
		uint32_t home;

		i = (i + 1) & ix->mask;
		if (!ix->slots[i])
			break;
		home = hash_sub(&subs[ix->slots[i] - 1]) & ix->mask;
		/* Movable unless its home lies cyclically in (hole, i]. */
		if (((i - home) & ix->mask) >= ((i - hole) & ix->mask)) {
			ix->slots[hole] = ix->slots[i];
			hole = i;
		}
	}
	ix->slots[hole] = 0;
	ix->used--;
}

void tern_subindex_moved(struct tern_subindex *ix, const struct tern_session_sub *subs,
			 uint32_t from, uint32_t to)
{
	ix->slots[slot_of(ix, subs, to, from + 1)] = to + 1;
}

void tern_subindex_clear(struct tern_subindex *ix)
{
	tern_free(ix->slots);
	ix->slots = NULL;
	ix->mask = 0;
	ix->used = 0;
}
