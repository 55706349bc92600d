/* SPDX-License-Identifier: MIT */
/*
 * Topic alias tables: one heap copy of each topic with an alias. Outbound
 * lookups compare a hash first; tables hold at most max_topic_alias entries
 * (10 by default), so a scan is the fastest structure.
 */
#include <errno.h>
#include <string.h>

#include "broker/alias.h"
#include "broker/alloc.h"

struct tern_alias_in {
	uint16_t max;
	struct tern_bytes topic[]; /* [alias - 1]; p NULL when unset */
};

struct tern_alias_in *tern_alias_in_create(uint16_t max)
{
	struct tern_alias_in *t = tern_calloc(1, sizeof(*t) + (size_t)max * sizeof(t->topic[0]));

	if (t)
		t->max = max;
	return t;
}

void tern_alias_in_free(struct tern_alias_in *t)
{
	if (!t)
		return;
	for (uint16_t i = 0; i < t->max; i++)
		tern_free((void *)t->topic[i].p);
	tern_free(t);
}

int tern_alias_in_set(struct tern_alias_in *t, uint16_t alias, const struct tern_bytes *topic)
{
	uint8_t *copy;

	if (alias == 0 || alias > t->max)
		return -ERANGE;
	copy = tern_malloc(topic->len ? topic->len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, topic->p, topic->len);
	tern_free((void *)t->topic[alias - 1].p);
	t->topic[alias - 1] = (struct tern_bytes){copy, topic->len};
	return 0;
}

int tern_alias_in_get(const struct tern_alias_in *t, uint16_t alias, struct tern_bytes *topic)
{
	if (alias == 0 || alias > t->max)
		return -ERANGE;
	if (!t->topic[alias - 1].p)
		return -ENOENT;
	*topic = t->topic[alias - 1];
	return 0;
}

struct out_entry {
	uint8_t *topic; /* NULL when the alias is free */
	uint16_t len;
	uint32_t hash;
};

struct tern_alias_out {
	uint16_t max;
	uint16_t next_victim; /* round robin once every alias is in use */
	struct out_entry e[]; /* [alias - 1] */
};

/* FNV-1a: topics are short, and a match is confirmed with memcmp. */
static uint32_t topic_hash(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

struct tern_alias_out *tern_alias_out_create(uint16_t max)
{
	struct tern_alias_out *t = tern_calloc(1, sizeof(*t) + (size_t)max * sizeof(t->e[0]));

	if (t)
		t->max = max;
	return t;
}

void tern_alias_out_free(struct tern_alias_out *t)
{
	if (!t)
		return;
	for (uint16_t i = 0; i < t->max; i++)
		tern_free(t->e[i].topic);
	tern_free(t);
}

struct tern_alias_pick tern_alias_out_pick(const struct tern_alias_out *t, const uint8_t *topic,
					   size_t len)
{
	uint32_t h = topic_hash(topic, len);
	int free_slot = -1;

	for (uint16_t i = 0; i < t->max; i++) {
		const struct out_entry *e = &t->e[i];

		if (!e->topic) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (e->hash == h && e->len == len && memcmp(e->topic, topic, len) == 0)
			return (struct tern_alias_pick){(uint16_t)(i + 1), true};
	}
	if (free_slot < 0)
		free_slot = t->next_victim;
	return (struct tern_alias_pick){(uint16_t)(free_slot + 1), false};
}

int tern_alias_out_commit(struct tern_alias_out *t, struct tern_alias_pick pick,
			  const uint8_t *topic, size_t len)
{
	struct out_entry *e = &t->e[pick.alias - 1];
	uint8_t *copy;

	if (pick.known)
		return 0;
	if (e->topic && pick.alias - 1 == t->next_victim)
		t->next_victim = (uint16_t)((t->next_victim + 1) % t->max);
	tern_free(e->topic);
	e->topic = NULL;
	copy = tern_malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, topic, len);
	*e = (struct out_entry){copy, (uint16_t)len, topic_hash(topic, len)};
	return 0;
}
