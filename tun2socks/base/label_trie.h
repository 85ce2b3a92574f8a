/* label_trie: a trie over domain-name labels read from the right (TLD
 * first), the index behind domain patterns (domain_match.c) and domain
 * rules (rule.c). Each user keeps its own per-node data (payload_size bytes
 * per node, zeroed at creation) and decides what a node means.
 *
 * Layout and invariants:
 *  - node 0 is the root; it is nobody's child, so 0 doubles as "none" in
 *    child references and in empty table slots;
 *  - a literal edge (parent, label) lives in one open-addressing table of
 *    node ids, at most half full, linear probing; its label is stored once
 *    in a shared byte array;
 *  - the '*' edge (one whole label, any text) is the parent's star field
 *    and has no label of its own, so the hot path (a literal label) is one
 *    hash probe per label;
 *  - a node's depth equals the number of labels on its path, so a search
 *    reaches a node only with one remaining suffix of the name: every node
 *    is visited at most once per lookup.
 * Pure: no I/O, no globals. Labels are compared byte for byte: callers
 * lower-case first.
 */
#ifndef T2S_LABEL_TRIE_H
#define T2S_LABEL_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tun2socks/base/must_check.h"

struct label_trie_node {
	uint32_t parent;
	uint32_t star; /* child through the '*' edge, 0 = none */
	uint32_t hash; /* of (parent, label); kept for rehashing */
	uint32_t label_off;
	uint8_t label_len; /* 0 for the root and '*' children */
};

struct label_trie {
	struct label_trie_node *nodes;
	uint32_t n, cap;
	void *data; /* cap * data_size bytes, parallel to nodes */
	size_t data_size;
	char *labels;
	size_t labels_len, labels_cap;
	uint32_t *table; /* node ids, 0 = empty */
	uint32_t mask;
	uint32_t n_lit;
};

/* One label of a name being added or looked up. */
struct label_trie_label {
	const char *s;
	uint32_t len;  /* 1..63 */
	uint32_t hash; /* label_trie_hash(s, len) */
};

uint32_t label_trie_hash(const char *s, size_t len);

/* An empty trie (just the root) with data_size bytes of caller data per
 * node. 0 or -ENOMEM. */
T2S_MUST_CHECK int label_trie_init(struct label_trie *t, size_t data_size);
void label_trie_free(struct label_trie *t);

/* The literal child of parent for l, or 0. */
uint32_t label_trie_find(const struct label_trie *t, uint32_t parent,
			 const struct label_trie_label *l);

/* The child of parent for l (a "*" label: the star child), created if
 * missing (*created then true, its data zeroed). 0 on -ENOMEM; a failure
 * leaves at worst data-less nodes behind. */
uint32_t label_trie_child(struct label_trie *t, uint32_t parent, const struct label_trie_label *l,
			  bool *created);

/* Sizes the edge table for `more` new literal edges at once (a big rule
 * set adds about one per name): 0 or -ENOMEM. */
int label_trie_reserve(struct label_trie *t, uint32_t more);

static inline void *label_trie_data(const struct label_trie *t, uint32_t node)
{
	return (char *)t->data + (size_t)node * t->data_size;
}

#endif
