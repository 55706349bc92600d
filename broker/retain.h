/* SPDX-License-Identifier: MIT */
/*
 * The retained message store: topic name -> last retained message, shared by
 * all workers, read without locks (liburcu QSBR), writers serialised.
 */
#ifndef TERN_RETAIN_H
#define TERN_RETAIN_H

#include <stddef.h>
#include <stdint.h>

struct tern_msg;
struct tern_retain;

/* Called for each retained message matching a filter; inside the RCU read side. */
typedef void (*tern_retain_fn)(void *ctx, struct tern_msg *msg);

/* NULL + errno on failure. */
struct tern_retain *tern_retain_create(void);
/* Free everything (drops the store's message references). No concurrent use. */
void tern_retain_destroy(struct tern_retain *store);

/*
 * Store msg (taking a new reference) as the retained message of its topic,
 * replacing the previous one; a message with an empty payload deletes the
 * topic's retained message instead (and is not stored). Old messages are
 * released after a grace period (call_rcu). Writer: serialised inside; call
 * from a registered RCU thread. Returns 0, -ENOMEM, or -EINVAL for an empty topic.
 */
int tern_retain_set(struct tern_retain *store, struct tern_msg *msg);

/*
 * Call fn for every retained message whose topic matches the valid filter
 * (wildcard rules of tern_topic_matches, '$' topics excluded from leading
 * wildcards). fn may take references with tern_msg_ref. Call with the RCU read
 * side held; does not allocate.
 */
void tern_retain_match(struct tern_retain *store, const uint8_t *filter, size_t len,
		       tern_retain_fn fn, void *ctx);

/* Number of retained messages. Thread-safe. */
size_t tern_retain_count(const struct tern_retain *store);

/* Wire bytes of the retained messages (for memory_limit). Thread-safe. */
size_t tern_retain_bytes(const struct tern_retain *store);

/* Number of trie nodes, the root included (1 when empty). Thread-safe. */
size_t tern_retain_node_count(const struct tern_retain *store);

#endif
