/* SPDX-License-Identifier: MIT */
/*
 * Inbound topic aliases of one MQTT 5.0 connection (section 3.3.2.3.4): the
 * client maps a number to a topic with one PUBLISH and then sends the number
 * alone. The table belongs to the connection, lives as long as it and holds
 * at most the maximum the broker announced. Owning worker only.
 */
#ifndef TERN_ALIAS_H
#define TERN_ALIAS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/mqtt_types.h"

struct tern_alias_in;

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

#endif
