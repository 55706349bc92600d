/* SPDX-License-Identifier: MIT */
/*
 * The subscription tree: one shared trie of topic filter levels, read without
 * locks (liburcu QSBR) by every worker. Each node keeps its subscribers grouped
 * by owning worker, so a publish on one worker visits only that worker's
 * subscribers and learns, as a bitmask, which other workers have matches.
 */
#ifndef TERN_TOPIC_TREE_H
#define TERN_TOPIC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERN_MAX_WORKERS 64 /* a worker set is a uint64_t bitmask */

/* One subscription as the tree stores it. Immutable once published to readers. */
struct tern_sub {
	void *subscriber; /* opaque: the broker's session */
	uint8_t options;  /* SUBSCRIBE options byte: QoS in bits 0-1, 5.0 flags above */
	uint32_t sub_id;  /* 5.0 subscription identifier; 0 = none */
	/*
	 * The entry serves publishes whose walk saw tree generation g with
	 * since_gen <= g < until_gen (0 and UINT64_MAX unless handed over; the
	 * generation itself is the broker's, see broker/registry.h). The tree
	 * stores these and leaves the check to the match callback.
	 */
	uint64_t since_gen;
	uint64_t until_gen;
};

struct tern_topic_tree;

/* Called once per matching subscription. Runs inside the caller's RCU read side. */
typedef void (*tern_topic_match_fn)(void *ctx, const struct tern_sub *sub);

/* Create an empty tree for n_workers workers (1..TERN_MAX_WORKERS). NULL + errno on failure. */
struct tern_topic_tree *tern_topic_tree_create(unsigned n_workers);

/*
 * Free the tree and every node. No reader may be active and no writer may run;
 * call at shutdown after all workers stopped.
 */
void tern_topic_tree_destroy(struct tern_topic_tree *tree);

/*
 * Add or replace the subscription of `subscriber` to the valid filter, in the
 * group of `worker`, with its options byte and subscription identifier (0 =
 * none). *replaced (may be NULL) tells whether it existed (then only options
 * and identifier changed and the entry keeps its generations); a new entry gets
 * since_gen 0 and until_gen UINT64_MAX. Writers are serialised inside (a
 * mutex); safe to call from any registered RCU thread concurrently with
 * readers. Returns 0, -ENOMEM, -EINVAL.
 */
int tern_topic_tree_add(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			unsigned worker, void *subscriber, uint8_t options, uint32_t sub_id,
			bool *replaced);

/*
 * Remove the subscription of `subscriber` to filter from `worker`'s group; empty
 * nodes are unlinked and freed after a grace period (call_rcu). Writer; same
 * contract as add. Returns 0 or -ENOENT (also for an invalid filter or worker);
 * never fails for lack of memory: without memory for the copy-on-write array
 * the entry is marked removed in place (walks no longer report it) and purged
 * by the next removal at that node, so a caller may free the subscriber after
 * a grace period whatever happens.
 */
int tern_topic_tree_remove(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			   unsigned worker, void *subscriber);

/*
 * Hand the subscription of `subscriber` to filter over from worker `from`'s
 * group to `to`'s at generation gen (session takeover onto another worker):
 * the `from` entry gets until_gen = gen, and `to`'s group gets an entry with
 * the same options, since_gen = gen and until_gen UINT64_MAX, replacing any
 * entry the subscriber had there. Readers see both changes or neither (one
 * pointer swap); with gen above every generation a walk may hold (see
 * broker/registry.h), each generation has one valid entry across the groups.
 * The `from` entry stays, and is counted, until tern_topic_tree_remove: the
 * count grows by one unless `to` already held an entry. gen must lie above the
 * `from` entry's since_gen (the broker's generation only grows). Writer; same
 * contract as add. Returns 0; -EINVAL for from == to or `to` out of range;
 * -ENOENT when `from`'s group has no such entry (also for an invalid filter or
 * `from`); -ENOMEM, and then nothing changed.
 */
int tern_topic_tree_handover(struct tern_topic_tree *tree, const uint8_t *filter, size_t len,
			     void *subscriber, unsigned from, unsigned to, uint64_t gen);

/*
 * For the valid topic name, call fn for every subscription in `worker`'s group
 * of every matching node (a subscriber with overlapping filters is reported once
 * per filter), and return the bitmask of all workers (including `worker`) that
 * have at least one matching subscription. '$' topics are not matched by a
 * leading '+' or '#'. Call with the RCU read side held (a registered QSBR thread
 * that is online); fn must not block. Does not allocate.
 */
uint64_t tern_topic_tree_match(struct tern_topic_tree *tree, const uint8_t *topic, size_t len,
			       unsigned worker, tern_topic_match_fn fn, void *ctx);

/* Number of subscriptions in the tree (approximate while writers run). Thread-safe. */
size_t tern_topic_tree_count(const struct tern_topic_tree *tree);

/* Number of trie nodes, the root included (1 when empty); approximate while writers run.
 * Thread-safe. */
size_t tern_topic_tree_node_count(const struct tern_topic_tree *tree);

/*
 * Buckets of the trie's hash of literal levels (it grows with the nodes and
 * never shrinks), for benchmarks and tests checking that it keeps up. Call
 * with no writer running.
 */
size_t tern_topic_tree_buckets(const struct tern_topic_tree *tree);

#endif
