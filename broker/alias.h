/* SPDX-License-Identifier: MIT */
/*
 * Topic aliases of one MQTT 5.0 connection (section 3.3.2.3.4), both ways:
 * the sender maps a number to a topic with one PUBLISH and then sends the
 * number alone. Inbound, the client chooses (up to the maximum we announced);
 * outbound, the broker does (up to the client's), so a subscriber that gets
 * the same topic again and again receives only the number. Each table
 * belongs to its connection and lives as long as it. Owning worker only.
 */
#ifndef TERN_ALIAS_H
#define TERN_ALIAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/mqtt_types.h"

struct tern_alias_in;
struct tern_alias_out;

/* A table for aliases 1..max (max >= 1). NULL + errno on failure. */
struct tern_alias_in *tern_alias_in_create(uint16_t max);
/* Free the table and its topics; NULL is ignored. */
void tern_alias_in_free(struct tern_alias_in *t);

/*
 * Map alias (1..max) to topic (copied), replacing an earlier mapping.
 * Returns 0, -ERANGE for an alias outside 1..max, -ENOMEM.
 */
int tern_alias_in_set(struct tern_alias_in *t, uint16_t alias, const struct tern_bytes *topic);

/*
 * The topic alias maps to, pointing into the table (valid until the next
 * set). -ERANGE outside 1..max, -ENOENT when the alias was never set.
 */
int tern_alias_in_get(const struct tern_alias_in *t, uint16_t alias, struct tern_bytes *topic);

/* An outbound table of aliases 1..max (max >= 1). NULL + errno on failure. */
struct tern_alias_out *tern_alias_out_create(uint16_t max);
void tern_alias_out_free(struct tern_alias_out *t);

/* The alias chosen for one delivery, recorded only once the packet is queued. */
struct tern_alias_pick {
	uint16_t alias;
	bool known; /* the client has it: send the alias alone */
};

/*
 * The alias for topic: the one the client already knows, else a free one or
 * the next to reuse (round robin). Nothing changes until tern_alias_out_commit.
 */
struct tern_alias_pick tern_alias_out_pick(const struct tern_alias_out *t, const uint8_t *topic,
					   size_t len);

/*
 * The packet with pick went out: remember that the client now maps its alias
 * to topic. Returns 0 or -ENOMEM (then the alias is forgotten and a later
 * delivery sends the topic again, which stays correct).
 */
int tern_alias_out_commit(struct tern_alias_out *t, struct tern_alias_pick pick,
			  const uint8_t *topic, size_t len);

#endif
