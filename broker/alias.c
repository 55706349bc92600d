/* SPDX-License-Identifier: MIT */
/* Inbound topic alias table: one heap string per alias in use. */
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
