#include "domain_match.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The set is a trie over labels read from the right (TLD first). A pattern
 * "a.*.example.com" is the path com -> example -> * -> a, and its last
 * node carries flags:
 *   NODE_EXACT  a domain that ends exactly at this node matches;
 *   NODE_SUB    a domain with at least one more label matches (the "."
 *               and "+." markers; "+." sets both flags).
 * Literal edges live in one open-addressing table keyed by (parent node,
 * label); the '*' edge is a field of the parent, so the hot path (a
 * literal label) is one hash probe per label.
 *
 * Invariants:
 *  - node 0 is the root; it is nobody's child, so 0 doubles as "none" in
 *    child references and in empty table slots;
 *  - node i's label is labels[label_off, label_off + label_len), lower
 *    case, 1..63 bytes, never "*" (a '*' child is reached only through
 *    its parent's star field and has label_len 0);
 *  - table holds every literal child exactly once, at or after (with
 *    linear probing) the slot its hash names; at most half full;
 *  - a node's depth equals the number of labels on its path, so a search
 *    reaches a node only with the same remaining suffix of the domain:
 *    every node is visited at most once per test.
 */

enum { NODE_EXACT = 1, NODE_SUB = 2 };
enum { NAME_MAX_LEN = 253, LABEL_MAX_LEN = 63, LABELS_MAX = (NAME_MAX_LEN + 1) / 2 };

struct dm_node {
	uint32_t parent;
	uint32_t star; /* child through the '*' edge, 0 = none */
	uint32_t hash; /* of (parent, label); kept for rehashing */
	uint32_t label_off;
	uint8_t label_len;
	uint8_t flags;
};

struct domain_match {
	struct dm_node *nodes;
	uint32_t n_nodes, cap_nodes;
	char *labels;
	size_t labels_len, labels_cap;
	uint32_t *table; /* node indices, 0 = empty */
	uint32_t table_mask;
	uint32_t n_literal;
};

/* A label of a name being added or tested: lower-cased, in a caller buffer. */
struct label {
	const char *s;
	uint8_t len;
	uint32_t hash; /* of the text alone; mixed with the parent per probe */
};

static uint32_t label_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
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

static bool label_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Lower-cases s[0, len) into buf and splits it into labels (left to right).
 * star: whether a label may be exactly "*". Returns the number of labels,
 * or -EINVAL if the name is malformed (see domain_match.h). */
static int split_name(const char *s, size_t len, bool star, char *buf,
		      struct label *labels)
{
	size_t start = 0;
	int n = 0;

	if (len == 0 || len > NAME_MAX_LEN)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		size_t llen;

		if (i < len && s[i] != '.') {
			buf[i] = lower(s[i]);
			continue;
		}
		llen = i - start;
		if (llen == 0 || llen > LABEL_MAX_LEN)
			return -EINVAL;
		if (!(star && llen == 1 && buf[start] == '*')) {
			for (size_t j = start; j < i; j++)
				if (!label_char_ok(buf[j]))
					return -EINVAL;
		}
		labels[n].s = buf + start;
		labels[n].len = (uint8_t)llen;
		labels[n].hash = label_hash(buf + start, llen);
		n++;
		if (i < len)
			buf[i] = '.';
		start = i + 1;
	}
	return n;
}

/* strlen() bounded to max + 1, so an absurd caller string is not walked
 * to its end; the result then fails every length check. */
static size_t bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n])
		n++;
	return n;
}

static uint32_t find_literal(const struct domain_match *m, uint32_t parent,
			     const struct label *l)
{
	uint32_t h = edge_hash(parent, l->hash);

	for (uint32_t i = h & m->table_mask;; i = (i + 1) & m->table_mask) {
		uint32_t c = m->table[i];
		const struct dm_node *n = &m->nodes[c];

		if (c == 0)
			return 0;
		if (n->hash == h && n->parent == parent && n->label_len == l->len &&
		    memcmp(m->labels + n->label_off, l->s, l->len) == 0)
			return c;
	}
}

static void table_put(uint32_t *table, uint32_t mask, uint32_t hash, uint32_t node)
{
	uint32_t i = hash & mask;

	while (table[i])
		i = (i + 1) & mask;
	table[i] = node;
}

/* Makes room for one more literal edge, keeping the table at most half full. */
static int table_reserve(struct domain_match *m)
{
	uint32_t size = m->table_mask + 1, nsize, *nt;

	if ((m->n_literal + 1) * 2 <= size)
		return 0;
	if (size > UINT32_MAX / 4)
		return -ENOMEM;
	nsize = size * 2;
	nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (uint32_t i = 0; i < size; i++)
		if (m->table[i])
			table_put(nt, nsize - 1, m->nodes[m->table[i]].hash, m->table[i]);
	free(m->table);
	m->table = nt;
	m->table_mask = nsize - 1;
	return 0;
}

/* A new node under parent (label NULL = the '*' child). Returns its index
 * or 0 on allocation failure; the caller links it. */
static uint32_t node_new(struct domain_match *m, uint32_t parent, const struct label *l)
{
	struct dm_node *n;

	if (m->n_nodes == m->cap_nodes) {
		uint32_t ncap;
		struct dm_node *nn;

		if (m->cap_nodes > UINT32_MAX / 4)
			return 0;
		ncap = m->cap_nodes * 2;
		nn = realloc(m->nodes, (size_t)ncap * sizeof(*nn));
		if (!nn)
			return 0;
		m->nodes = nn;
		m->cap_nodes = ncap;
	}
	if (l && m->labels_cap - m->labels_len < l->len) {
		size_t ncap = m->labels_cap * 2 + l->len;
		char *nl = realloc(m->labels, ncap);

		if (!nl)
			return 0;
		m->labels = nl;
		m->labels_cap = ncap;
	}
	n = &m->nodes[m->n_nodes];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	if (l) {
		n->hash = edge_hash(parent, l->hash);
		n->label_off = (uint32_t)m->labels_len;
		n->label_len = l->len;
		memcpy(m->labels + m->labels_len, l->s, l->len);
		m->labels_len += l->len;
	}
	return m->n_nodes++;
}

/* The child of parent for label l, created if missing; 0 on -ENOMEM. A
 * failure leaves at worst flag-less nodes behind, which match nothing. */
static uint32_t child_get(struct domain_match *m, uint32_t parent, const struct label *l)
{
	uint32_t c;

	if (l->len == 1 && l->s[0] == '*') {
		if (m->nodes[parent].star)
			return m->nodes[parent].star;
		c = node_new(m, parent, NULL);
		if (c)
			m->nodes[parent].star = c;
		return c;
	}
	c = find_literal(m, parent, l);
	if (c)
		return c;
	if (table_reserve(m) != 0)
		return 0;
	c = node_new(m, parent, l);
	if (!c)
		return 0;
	table_put(m->table, m->table_mask, m->nodes[c].hash, c);
	m->n_literal++;
	return c;
}

int domain_match_create(struct domain_match **out)
{
	struct domain_match *m;
	int err = -ENOMEM;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cap_nodes = 16;
	m->nodes = calloc(m->cap_nodes, sizeof(*m->nodes));
	m->labels_cap = 64;
	m->labels = malloc(m->labels_cap);
	m->table_mask = 31;
	m->table = calloc(m->table_mask + 1, sizeof(*m->table));
	if (!m->nodes || !m->labels || !m->table)
		goto out;
	m->n_nodes = 1; /* the root, zeroed by calloc */
	*out = m;
	m = NULL;
	err = 0;
out:
	domain_match_destroy(m);
	return err;
}

int domain_match_add(struct domain_match *m, const char *pattern)
{
	struct label labels[LABELS_MAX];
	char buf[NAME_MAX_LEN];
	uint8_t flags = NODE_EXACT;
	size_t len = bounded_len(pattern, NAME_MAX_LEN + 3);
	uint32_t node = 0;
	int n;

	if (len > 0 && pattern[len - 1] == '.')
		len--;
	if (len >= 2 && pattern[0] == '+' && pattern[1] == '.') {
		flags = NODE_EXACT | NODE_SUB;
		pattern += 2;
		len -= 2;
	} else if (len >= 1 && pattern[0] == '.') {
		flags = NODE_SUB;
		pattern++;
		len--;
	}
	n = split_name(pattern, len, true, buf, labels);
	if (n < 0)
		return n;
	for (int i = n - 1; i >= 0; i--) {
		node = child_get(m, node, &labels[i]);
		if (!node)
			return -ENOMEM;
	}
	/* Last: until here the set matched exactly what it did before. */
	m->nodes[node].flags |= flags;
	return 0;
}

/* Whether labels[0, left) (left of the part already matched) completes a
 * match from node. Recursion depth <= number of labels (<= 127). */
static bool match_from(const struct domain_match *m, uint32_t node,
		       const struct label *labels, int left)
{
	const struct dm_node *n = &m->nodes[node];
	uint32_t c;

	if (left == 0)
		return n->flags & NODE_EXACT;
	if (n->flags & NODE_SUB)
		return true;
	c = find_literal(m, node, &labels[left - 1]);
	if (c && match_from(m, c, labels, left - 1))
		return true;
	return n->star && match_from(m, n->star, labels, left - 1);
}

bool domain_match_test(const struct domain_match *m, const char *domain)
{
	struct label labels[LABELS_MAX];
	char buf[NAME_MAX_LEN];
	size_t len = bounded_len(domain, NAME_MAX_LEN + 1);
	int n;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	n = split_name(domain, len, false, buf, labels);
	if (n < 0)
		return false;
	return match_from(m, 0, labels, n);
}

void domain_match_destroy(struct domain_match *m)
{
	if (!m)
		return;
	free(m->nodes);
	free(m->labels);
	free(m->table);
	free(m);
}

const char *const domain_match_fakeip_defaults[] = {
	/* Local names: only the LAN's resolver or mDNS knows them, and a
	 * fake address would send the connection to the proxy. */
	"localhost",
	"+.localhost",
	"+.lan",
	"+.local",
	"+.localdomain",
	"+.home.arpa",
	/* NTP: clients often check the answer or talk UDP before any proxy
	 * is usable (clock skew breaks TLS to the proxy itself). */
	"time.*.com",
	"time.*.gov",
	"time.*.apple.com",
	"time1.*.com",
	"time2.*.com",
	"time3.*.com",
	"time4.*.com",
	"time5.*.com",
	"time6.*.com",
	"time7.*.com",
	"ntp.*",
	"ntp.*.com",
	"ntp1.*.com",
	"ntp2.*.com",
	"ntp3.*.com",
	"+.ntp.org",
	"+.ntp.org.cn",
	/* STUN: NAT discovery needs the server's real address. */
	"+.stun.*.*",
	"+.stun.*.*.*",
	"+.stun.*.*.*.*",
	/* OS connectivity checks compare the answer with a known address
	 * (Windows NCSI expects 131.107.255.255 for dns.msftncsi.com). */
	"+.msftconnecttest.com",
	"+.msftncsi.com",
	NULL,
};
