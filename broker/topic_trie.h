/* SPDX-License-Identifier: MIT */
/*
 * The trie of topic levels that the subscription tree (broker/topic_tree.c)
 * and the retained store (broker/retain.c) are both built on: node
 * allocation, child lookup, path insertion and pruning. Private to those two.
 */
#ifndef TERN_TOPIC_TRIE_H
#define TERN_TOPIC_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>

struct tern_topic_trie_kids;

/*
 * One level of a topic name or filter. A user of the trie embeds this as the
 * FIRST member of its own node struct and hands the trie that struct's size.
 * Written by the trie's (serialised) writer; the fields marked RCU are read
 * by lock-free readers.
 */
struct tern_topic_trie_node {
	struct cds_lfht_node hnode;    /* in trie->ht, keyed by (parent, level); literal levels */
	struct cds_list_head sibling;  /* RCU: in parent->children */
	struct cds_list_head children; /* RCU: every child, for readers that enumerate */
	struct tern_topic_trie_node *parent;
	struct tern_topic_trie_node *plus; /* RCU: the '+' child, kept out of the hash */
	struct tern_topic_trie_node *hash; /* RCU: the '#' child, kept out of the hash */
	uint32_t n_children;		   /* writer only */
	uint32_t n_literal;		   /* children in trie->ht; readers peek to skip lookups */
	/* RCU: every literal child while there are few, scanned instead of hashing; else NULL */
	struct tern_topic_trie_kids *kids;
	const uint8_t *level; /* the level's bytes, stored after the user's struct */
	uint16_t len;
	struct rcu_head rcu;
};

/* Says whether the user's part of a node holds nothing, so the node may be pruned. */
typedef bool (*tern_topic_trie_empty_fn)(const struct tern_topic_trie_node *node);
/* Releases the user's part of a node at tern_topic_trie_fini. */
typedef void (*tern_topic_trie_fini_fn)(struct tern_topic_trie_node *node);

struct tern_topic_trie {
	struct cds_lfht *ht; /* every literal child of every node, keyed by (parent, level) */
	struct tern_topic_trie_node *root;
	size_t node_size; /* the user's node struct, which starts with a tern_topic_trie_node */
	size_t n_nodes;	  /* written by the writer, read with relaxed loads */
	size_t n_hashed;  /* writer only: nodes in ht */
	size_t n_buckets; /* writer only: the size ht was last resized to */
	size_t n_resizes; /* written by the writer, read with relaxed loads */
	tern_topic_trie_empty_fn empty;
};

/*
 * Set up an empty trie (just the root) whose nodes are node_size bytes plus
 * their level. Returns 0 or -ENOMEM. Single-threaded.
 */
int tern_topic_trie_init(struct tern_topic_trie *t, size_t node_size,
			 tern_topic_trie_empty_fn empty);

/*
 * Free every node synchronously, calling fini (may be NULL) on each first. No
 * reader or writer may be active. Works from a registered thread, online or
 * not, and from an unregistered one.
 */
void tern_topic_trie_fini(struct tern_topic_trie *t, tern_topic_trie_fini_fn fini);

/*
 * The child of parent for level s[0..len): '+' and '#' come from the parent's
 * own pointers, any other level from the hash. NULL when absent. Readers call
 * it inside the RCU read side; writers with the writer lock held.
 */
struct tern_topic_trie_node *tern_topic_trie_child(const struct tern_topic_trie *t,
						   const struct tern_topic_trie_node *parent,
						   const uint8_t *s, size_t len);

/* The child of parent for a literal level (never the '+'/'#' slots). Same contract as _child. */
struct tern_topic_trie_node *tern_topic_trie_literal(const struct tern_topic_trie *t,
						     const struct tern_topic_trie_node *parent,
						     const uint8_t *s, size_t len);

/* The node of the whole topic or filter s[0..len), or NULL. Same contract as _child. */
struct tern_topic_trie_node *tern_topic_trie_find(const struct tern_topic_trie *t, const uint8_t *s,
						  size_t len);

/*
 * The node of s[0..len), creating the missing levels (their user part zeroed).
 * NULL with errno=ENOMEM, with whatever it created pruned again. Writer only.
 */
struct tern_topic_trie_node *tern_topic_trie_insert(struct tern_topic_trie *t, const uint8_t *s,
						    size_t len);

/*
 * Unlink node and then each ancestor while it has no children and the empty
 * callback says its user part is empty; unlinked nodes are freed after a
 * grace period (call_rcu). Writer only, from a registered RCU thread.
 */
void tern_topic_trie_prune(struct tern_topic_trie *t, struct tern_topic_trie_node *node);

/* Number of nodes, root included. Approximate while a writer runs. */
static inline size_t tern_topic_trie_nodes(const struct tern_topic_trie *t)
{
	return __atomic_load_n(&t->n_nodes, __ATOMIC_RELAXED);
}

/*
 * Buckets of the hash of literal nodes (the writer grows it as nodes arrive,
 * never shrinks it) and how many times it grew. Writer only, or with no
 * writer running (tests, benchmarks).
 */
static inline size_t tern_topic_trie_buckets(const struct tern_topic_trie *t)
{
	return t->n_buckets;
}

/* End of the level that starts at p: the next '/' or end. */
static inline const uint8_t *tern_topic_trie_level_end(const uint8_t *p, const uint8_t *end)
{
	/* Levels are a few bytes: a plain loop beats a call to a vectorised memchr. */
	while (p < end && *p != '/')
		p++;
	return p;
}

#endif
