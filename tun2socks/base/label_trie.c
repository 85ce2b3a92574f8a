/* label_trie: see label_trie.h. */
#include "tun2socks/base/label_trie.h"

#include "tun2socks/base/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t label_trie_hash(const char *s, size_t len)
{
	return hash_fnv1a(s, len, HASH_FNV1A_BASIS);
}

/* Mixes the parent in with a full avalanche so that the same label under
 * neighbouring parents lands far apart. */
static uint32_t edge_hash(uint32_t parent, uint32_t lh)
{
	uint32_t h = lh ^ (parent * 0x9e3779b1u);

	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

static void table_put(uint32_t *table, uint32_t mask, uint32_t hash, uint32_t id)
{
	uint32_t i = hash & mask;

	while (table[i])
		i = (i + 1) & mask;
	table[i] = id;
}

int label_trie_reserve(struct label_trie *t, uint32_t more)
{
	uint32_t size = t->mask + 1, nsize, *nt;

	if ((uint64_t)(t->n_lit + more) * 2 <= size)
		return 0;
	for (nsize = size * 2; (uint64_t)(t->n_lit + more) * 2 > nsize; nsize *= 2)
		if (nsize > UINT32_MAX / 4)
			return -ENOMEM;
	nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (uint32_t i = 0; i < size; i++)
		if (t->table[i])
			table_put(nt, nsize - 1, t->nodes[t->table[i]].hash, t->table[i]);
	free(t->table);
	t->table = nt;
	t->mask = nsize - 1;
	return 0;
}

/* A new node under parent (l NULL: the root or a '*' child). Its index,
 * or 0 on allocation failure; the caller links it. */
static uint32_t node_new(struct label_trie *t, uint32_t parent, const struct label_trie_label *l)
{
	struct label_trie_node *n;

	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 64;
		struct label_trie_node *nn;
		void *nd;

		if (t->cap > UINT32_MAX / 4)
			return 0;
		nn = realloc(t->nodes, (size_t)ncap * sizeof(*nn));
		if (!nn)
			return 0;
		t->nodes = nn;
		nd = realloc(t->data, (size_t)ncap * t->data_size + 1);
		if (!nd)
			return 0;
		t->data = nd;
		t->cap = ncap;
	}
	if (l && t->labels_cap - t->labels_len < l->len) {
		size_t ncap = t->labels_cap * 2 + 4096;
		char *nl = realloc(t->labels, ncap);

		if (!nl)
			return 0;
		t->labels = nl;
		t->labels_cap = ncap;
	}
	n = &t->nodes[t->n];
	memset(n, 0, sizeof(*n));
	memset(label_trie_data(t, t->n), 0, t->data_size);
	n->parent = parent;
	if (l) {
		n->hash = edge_hash(parent, l->hash);
		n->label_off = (uint32_t)t->labels_len;
		n->label_len = (uint8_t)l->len;
		memcpy(t->labels + t->labels_len, l->s, l->len);
		t->labels_len += l->len;
	}
	return t->n++;
}

int label_trie_init(struct label_trie *t, size_t data_size)
{
	memset(t, 0, sizeof(*t));
	t->data_size = data_size;
	t->mask = 63;
	t->table = calloc(t->mask + 1, sizeof(*t->table));
	/* The root: label-less, nobody's child, node 0. */
	if (!t->table || node_new(t, 0, NULL) != 0 || t->n != 1) {
		label_trie_free(t);
		return -ENOMEM;
	}
	return 0;
}

void label_trie_free(struct label_trie *t)
{
	free(t->nodes);
	free(t->data);
	free(t->labels);
	free(t->table);
	memset(t, 0, sizeof(*t));
}

uint32_t label_trie_find(const struct label_trie *t, uint32_t parent,
			 const struct label_trie_label *l)
{
	uint32_t h = edge_hash(parent, l->hash);

	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t c = t->table[i];
		const struct label_trie_node *n = &t->nodes[c];

		if (c == 0)
			return 0;
		if (n->hash == h && n->parent == parent && n->label_len == l->len &&
		    memcmp(t->labels + n->label_off, l->s, l->len) == 0)
			return c;
	}
}

uint32_t label_trie_child(struct label_trie *t, uint32_t parent, const struct label_trie_label *l,
			  bool *created)
{
	uint32_t c;

	*created = false;
	if (l->len == 1 && l->s[0] == '*') {
		if (t->nodes[parent].star)
			return t->nodes[parent].star;
		c = node_new(t, parent, NULL);
		if (c) {
			t->nodes[parent].star = c;
			*created = true;
		}
		return c;
	}
	c = label_trie_find(t, parent, l);
	if (c)
		return c;
	if (label_trie_reserve(t, 1) != 0)
		return 0;
	c = node_new(t, parent, l);
	if (!c)
		return 0;
	table_put(t->table, t->mask, t->nodes[c].hash, c);
	t->n_lit++;
	*created = true;
	return c;
}
