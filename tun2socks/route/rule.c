/* rule: see rule.h.
 *
 * A "matcher" is the compiled form of an ordered rule list: one index per
 * kind of test, each answering "the smallest index of a rule whose test
 * holds". The engine has one matcher for its rules list, where entries of
 * a RULE-SET line carry that line's index, plus one per rule set used
 * inside AND/OR/NOT, whose entries all carry index 0 (so "matches" is
 * "minimum is 0").
 *
 * Invariants:
 *  - every index structure holds indices < the number of rules; NONE
 *    (UINT32_MAX) is "no rule";
 *  - lin[] (rules evaluated one by one) is sorted by index, because rules
 *    are added in order and a set's entries share its line's index;
 *  - ip_resolve_min is the smallest index of a destination-address entry
 *    that lacks no-resolve: the first rule an unresolved fake-ip flow
 *    needs addresses for, unless a linear rule needs them earlier;
 *  - the engine never changes after rule_engine_build() returns.
 */
#include "tun2socks/route/rule.h"

#include "tun2socks/base/arena.h"
#include "tun2socks/base/bsearch.h"
#include "tun2socks/base/label_trie.h"
#include "tun2socks/route/geo.h"
#include "config/rule_regex.h"
#include "config/rules_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* --- domain trie ---------------------------------------------------------------
 *
 * A label trie (label_trie.h): "+.a.*.example.com" is the path com ->
 * example -> * -> a, whose last node records the pattern's index in
 * min_self (names ending here) and min_sub (names with more labels), NONE
 * when no pattern ends there.
 */

struct dmin {
	uint32_t self, sub;
};

struct dtrie {
	bool ready;
	struct label_trie t; /* per-node data: struct dmin */
};

static struct dmin *dmin_of(const struct dtrie *d, uint32_t node)
{
	return label_trie_data(&d->t, node);
}

static int dtrie_init(struct dtrie *d)
{
	if (label_trie_init(&d->t, sizeof(struct dmin)) != 0)
		return -ENOMEM;
	dmin_of(d, 0)->self = dmin_of(d, 0)->sub = NONE;
	d->ready = true;
	return 0;
}

/* name: a normalised name or pattern (rules_domain_norm). kind: the
 * RULESET_MATCH_* bits. */
static int dtrie_add(struct dtrie *d, const char *name, size_t len, unsigned kind, uint32_t idx)
{
	uint32_t node = 0;
	size_t end = len;
	int err;

	if (!d->ready && (err = dtrie_init(d)) != 0)
		return err;
	while (end > 0) {
		size_t start = end;
		struct label_trie_label l;
		bool created;

		while (start > 0 && name[start - 1] != '.')
			start--;
		l.s = name + start;
		l.len = (uint32_t)(end - start);
		l.hash = label_trie_hash(l.s, l.len);
		node = label_trie_child(&d->t, node, &l, &created);
		if (!node)
			return -ENOMEM;
		if (created)
			dmin_of(d, node)->self = dmin_of(d, node)->sub = NONE;
		end = start ? start - 1 : 0;
	}
	if (kind & RULESET_MATCH_SELF)
		dmin_of(d, node)->self = min_u32(dmin_of(d, node)->self, idx);
	if (kind & RULESET_MATCH_SUB)
		dmin_of(d, node)->sub = min_u32(dmin_of(d, node)->sub, idx);
	return 0;
}

/* The smallest index of a pattern matching the name whose labels[0, left)
 * are still unmatched below node. Recursion depth <= labels (<= 127). */
static uint32_t dtrie_walk(const struct dtrie *d, uint32_t node,
			   const struct label_trie_label *labels, int left, uint32_t best)
{
	const struct dmin *n = dmin_of(d, node);
	uint32_t c, star = d->t.nodes[node].star;

	if (left == 0)
		return min_u32(best, n->self);
	best = min_u32(best, n->sub);
	c = label_trie_find(&d->t, node, &labels[left - 1]);
	if (c)
		best = dtrie_walk(d, c, labels, left - 1, best);
	if (star)
		best = dtrie_walk(d, star, labels, left - 1, best);
	return best;
}

static void dtrie_free(struct dtrie *d)
{
	if (d->ready)
		label_trie_free(&d->t);
	d->ready = false;
}

/* --- address tries ---------------------------------------------------------------
 *
 * Path-compressed binary tries, one per family and direction. A node is a
 * prefix (key masked to plen bits); a node with entries holds the sorted
 * indices of the rules naming exactly that prefix (idx[off, off + cnt)),
 * first = the smallest. Children extend the prefix by at least one bit,
 * chosen by bit plen of the address. Entries are gathered first and the
 * trie is built once, sorted, so each list is contiguous.
 */

struct inode {
	uint8_t key[16];
	uint8_t plen;
	uint32_t child[2];
	uint32_t first, off, cnt;
};

struct ipent {
	uint8_t key[16];
	uint8_t plen;
	uint32_t idx;
};

struct itrie {
	unsigned bits; /* 32 or 128 */
	struct inode *nodes;
	uint32_t n, cap;
	uint32_t root;
	uint32_t *idx;
	size_t n_idx;
	struct ipent *ents; /* until itrie_finish */
	size_t n_ents, cap_ents;
};

static unsigned key_bit(const uint8_t *key, unsigned i)
{
	return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Whether the first plen bits of a and b agree. */
static bool key_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned whole = plen / 8, rest = plen % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

/* Length of the common prefix of a and b, at most limit bits. */
static unsigned key_common(const uint8_t *a, const uint8_t *b, unsigned limit)
{
	unsigned i = 0;

	while (i + 8 <= limit && a[i / 8] == b[i / 8])
		i += 8;
	while (i < limit && key_bit(a, i) == key_bit(b, i))
		i++;
	return i;
}

static int itrie_add(struct itrie *t, const struct rule_cidr *c, uint32_t idx)
{
	struct ipent *e;

	if (t->n_ents == t->cap_ents) {
		size_t ncap = t->cap_ents ? t->cap_ents * 2 : 16;
		struct ipent *p = realloc(t->ents, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->ents = p;
		t->cap_ents = ncap;
	}
	e = &t->ents[t->n_ents++];
	memcpy(e->key, c->addr, 16);
	e->plen = c->plen;
	e->idx = idx;
	return 0;
}

static uint32_t inode_new(struct itrie *t, const uint8_t *key, unsigned plen)
{
	struct inode *n;

	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 16;
		struct inode *p;

		if (t->cap > UINT32_MAX / 4)
			return NONE;
		p = realloc(t->nodes, (size_t)ncap * sizeof(*p));
		if (!p)
			return NONE;
		t->nodes = p;
		t->cap = ncap;
	}
	n = &t->nodes[t->n];
	memset(n, 0, sizeof(*n));
	memcpy(n->key, key, 16);
	for (unsigned b = plen; b < 128; b++)
		n->key[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
	n->plen = (uint8_t)plen;
	n->child[0] = n->child[1] = NONE;
	n->first = NONE;
	return t->n++;
}

/* The node for exactly key/plen, created (splitting an edge if need be). */
static uint32_t itrie_node(struct itrie *t, const uint8_t *key, unsigned plen)
{
	uint32_t parent = NONE, n = t->root, x, b;
	unsigned side = 0;

	if (n == NONE)
		return t->root = inode_new(t, key, plen);
	for (;;) {
		unsigned np = t->nodes[n].plen;
		unsigned cl = key_common(t->nodes[n].key, key, np < plen ? np : plen);

		if (cl < np) {
			/* key leaves n's edge at bit cl: a node goes there. */
			unsigned nside = key_bit(t->nodes[n].key, cl);

			if (cl == plen) {
				x = inode_new(t, key, plen);
				if (x == NONE)
					return NONE;
				t->nodes[x].child[nside] = n;
			} else {
				b = inode_new(t, key, cl);
				if (b == NONE)
					return NONE;
				x = inode_new(t, key, plen);
				if (x == NONE)
					return NONE;
				t->nodes[b].child[nside] = n;
				t->nodes[b].child[!nside] = x;
			}
			if (parent == NONE)
				t->root = cl == plen ? x : b;
			else
				t->nodes[parent].child[side] = cl == plen ? x : b;
			return x;
		}
		if (np == plen)
			return n;
		side = key_bit(key, np);
		parent = n;
		if (t->nodes[n].child[side] == NONE) {
			x = inode_new(t, key, plen);
			if (x != NONE)
				t->nodes[parent].child[side] = x;
			return x;
		}
		n = t->nodes[n].child[side];
	}
}

static int ipent_cmp(const void *pa, const void *pb)
{
	const struct ipent *a = pa, *b = pb;
	int c = memcmp(a->key, b->key, 16);

	if (c)
		return c;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int itrie_finish(struct itrie *t)
{
	size_t i = 0;

	if (!t->n_ents)
		return 0;
	qsort(t->ents, t->n_ents, sizeof(*t->ents), ipent_cmp);
	t->idx = malloc(t->n_ents * sizeof(*t->idx));
	if (!t->idx)
		return -ENOMEM;
	while (i < t->n_ents) {
		const struct ipent *e = &t->ents[i];
		uint32_t node = itrie_node(t, e->key, e->plen), off = (uint32_t)t->n_idx;

		if (node == NONE)
			return -ENOMEM;
		for (; i < t->n_ents && t->ents[i].plen == e->plen &&
		       memcmp(t->ents[i].key, e->key, 16) == 0;
		     i++)
			if (t->n_idx == off || t->idx[t->n_idx - 1] != t->ents[i].idx)
				t->idx[t->n_idx++] = t->ents[i].idx;
		t->nodes[node].first = t->idx[off];
		t->nodes[node].off = off;
		t->nodes[node].cnt = (uint32_t)t->n_idx - off;
	}
	free(t->ents);
	t->ents = NULL;
	t->n_ents = t->cap_ents = 0;
	return 0;
}

/* The smallest index >= lb of a prefix holding key. */
static uint32_t itrie_min(const struct itrie *t, const uint8_t *key, uint32_t lb)
{
	uint32_t best = NONE, n = t->root;

	while (n != NONE) {
		const struct inode *x = &t->nodes[n];

		if (!key_prefix_eq(x->key, key, x->plen))
			break;
		if (x->cnt) {
			uint32_t c = x->first;

			if (c < lb) {
				/* Only the re-run after resolution asks for lb > 0. */
				const uint32_t *idx = t->idx + x->off;
				size_t k =
					bsearch_first_ge(&lb, idx, x->cnt, sizeof(*idx), u32_cmp);

				c = k < x->cnt ? idx[k] : NONE;
			}
			best = min_u32(best, c);
		}
		if (x->plen >= t->bits)
			break;
		n = x->child[key_bit(key, x->plen)];
	}
	return best;
}

static void itrie_free(struct itrie *t)
{
	free(t->nodes);
	free(t->idx);
	free(t->ents);
}

/* --- port segments ------------------------------------------------------------------
 *
 * The port space cut at every range boundary: segment i covers
 * [lo[i], lo[i + 1]) and knows the smallest index of a range covering it.
 */

struct prange {
	uint32_t lo, hi, idx;
};

struct ports {
	uint32_t *lo;
	uint32_t *min;
	size_t n;
	struct prange *r; /* until ports_finish */
	size_t n_r, cap_r;
};

static int ports_add(struct ports *p, uint32_t lo, uint32_t hi, uint32_t idx)
{
	if (p->n_r == p->cap_r) {
		size_t ncap = p->cap_r ? p->cap_r * 2 : 8;
		struct prange *r = realloc(p->r, ncap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		p->r = r;
		p->cap_r = ncap;
	}
	p->r[p->n_r++] = (struct prange){ lo, hi, idx };
	return 0;
}

/* The segment holding v: the last with lo <= v (lo[0] is 0). */
static size_t ports_seg(const struct ports *p, uint32_t v)
{
	return bsearch_last_le(&v, p->lo, p->n, sizeof(*p->lo), u32_cmp);
}

static int ports_finish(struct ports *p)
{
	size_t n = 0;

	if (!p->n_r)
		return 0;
	p->lo = malloc((2 * p->n_r + 1) * sizeof(*p->lo));
	if (!p->lo)
		return -ENOMEM;
	p->lo[n++] = 0;
	for (size_t i = 0; i < p->n_r; i++) {
		p->lo[n++] = p->r[i].lo;
		if (p->r[i].hi < 65535)
			p->lo[n++] = p->r[i].hi + 1;
	}
	qsort(p->lo, n, sizeof(*p->lo), u32_cmp);
	p->n = 0;
	for (size_t i = 0; i < n; i++)
		if (p->n == 0 || p->lo[p->n - 1] != p->lo[i])
			p->lo[p->n++] = p->lo[i];
	p->min = malloc(p->n * sizeof(*p->min));
	if (!p->min)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		p->min[i] = NONE;
	for (size_t i = 0; i < p->n_r; i++)
		for (size_t s = ports_seg(p, p->r[i].lo); s < p->n && p->lo[s] <= p->r[i].hi; s++)
			p->min[s] = min_u32(p->min[s], p->r[i].idx);
	free(p->r);
	p->r = NULL;
	p->n_r = p->cap_r = 0;
	return 0;
}

static uint32_t ports_min(const struct ports *p, uint32_t v)
{
	return p->n ? p->min[ports_seg(p, v)] : NONE;
}

static void ports_free(struct ports *p)
{
	free(p->lo);
	free(p->min);
	free(p->r);
}

/* --- predicates evaluated one by one -------------------------------------------- */

struct matcher;

struct pred {
	const struct rule_engine *sub; /* SUB-RULE: kids[0] is the condition */
	enum rule_type type;
	bool no_resolve;
	enum rule_net network;
	uint32_t n; /* string length, ranges, operands; IP-ASN: the AS */
	struct rule_cidr cidr;
	const struct geo *geo; /* GEOIP by database lookup, IP-ASN */
	union {
		const char *str;
		const struct rule_regex *re;
		const struct rule_range *ranges;
		const struct pred *kids;
		const struct matcher *set;
	} u;
};

struct lin {
	bool sub_top; /* a SUB-RULE line of an engine with a pass_fn */
	uint32_t idx;
	bool no_resolve; /* from the RULE-SET line the entry came from */
	bool pass;       /* a rule whose target is a pass: never the winner */
	bool dyn_pass;   /* its target may be a pass: q->pass_now() decides */
	const struct pred *p;
};

/* An index (the key) against a linear entry's, for bsearch. */
static int lin_cmp(const void *key, const void *elem)
{
	uint32_t k = *(const uint32_t *)key, i = ((const struct lin *)elem)->idx;

	return k < i ? -1 : k > i;
}

struct matcher {
	struct dtrie dom;
	struct itrie dst[2], src[2]; /* [0] IPv4, [1] IPv6 */
	struct ports dport, sport;
	uint32_t min_tcp, min_udp, min_any;
	uint32_t ip_resolve_min;
	struct lin *lin;
	size_t n_lin, cap_lin;
};

struct set_matcher {
	const char *name;
	struct matcher *m;
};

struct erule {
	const char *text;
	struct conf_pos pos;
	int target;                    /* -1 for a SUB-RULE line */
	const struct rule_engine *sub; /* SUB-RULE: its list's engine */
};

struct rule_engine {
	int refs;
	struct matcher main;
	struct set_matcher *sets;
	size_t n_sets;
	struct erule *rules;
	size_t n_rules;
	int default_target;
	struct arena arena; /* all it keeps that is not an index array */
	struct rule_regex **regs;
	size_t n_regs, cap_regs;
	/* The targets a winning SUB-RULE line must not end at (opts.pass_fn;
	 * NULL in a sub-rules list's own engine: mihomo applies PASS and
	 * UDP support to what the whole match returns). */
	bool (*pass_fn)(void *target_arg, int target);
	void *pass_arg;
	/* Engines of the sub-rules lists this one's SUB-RULE lines name, one
	 * reference each, built once per name. */
	struct rule_engine **subs;
	const char **sub_names;
	size_t n_subs;
};

static void matcher_init(struct matcher *m)
{
	memset(m, 0, sizeof(*m));
	m->dst[0].bits = m->src[0].bits = 32;
	m->dst[1].bits = m->src[1].bits = 128;
	m->dst[0].root = m->dst[1].root = m->src[0].root = m->src[1].root = NONE;
	m->min_tcp = m->min_udp = m->min_any = m->ip_resolve_min = NONE;
}

static void matcher_free(struct matcher *m)
{
	dtrie_free(&m->dom);
	for (int f = 0; f < 2; f++) {
		itrie_free(&m->dst[f]);
		itrie_free(&m->src[f]);
	}
	ports_free(&m->dport);
	ports_free(&m->sport);
	free(m->lin);
}

static int matcher_finish(struct matcher *m)
{
	int err = 0;

	for (int f = 0; f < 2 && !err; f++) {
		err = itrie_finish(&m->dst[f]);
		if (!err)
			err = itrie_finish(&m->src[f]);
	}
	if (!err)
		err = ports_finish(&m->dport);
	if (!err)
		err = ports_finish(&m->sport);
	return err;
}

/* --- build ----------------------------------------------------------------------------- */

struct builder {
	struct rule_engine *e;
	const struct rule_build_opts *opts;
	struct conf_err *err;
	int depth; /* of sub-rules lists: a cycle ends at SUB_MAX_DEPTH */
};

enum { SUB_MAX_DEPTH = 8 };

static int engine_build(const struct rule_spec *specs, size_t n, const struct rule_build_opts *opts,
			int depth, struct rule_engine **out, struct conf_err *err);

static int nomem(struct builder *b, const struct conf_pos *pos)
{
	conf_err_set(b->err, pos, "out of memory");
	return -ENOMEM;
}

static int add_spec(struct builder *b, struct matcher *m, const struct rule_spec *s, uint32_t idx,
		    bool nr);

static int pred_fill(struct builder *b, struct pred *p, const struct rule_spec *s);

static int lin_add(struct builder *b, struct matcher *m, const struct rule_spec *s, uint32_t idx,
		   bool nr)
{
	struct pred *p;
	int err;

	if (m->n_lin == m->cap_lin) {
		size_t ncap = m->cap_lin ? m->cap_lin * 2 : 8;
		struct lin *l = realloc(m->lin, ncap * sizeof(*l));

		if (!l)
			return nomem(b, &s->pos);
		m->lin = l;
		m->cap_lin = ncap;
	}
	p = arena_alloc(&b->e->arena, sizeof(*p));
	if (!p)
		return nomem(b, &s->pos);
	err = pred_fill(b, p, s);
	if (err)
		return err;
	m->lin[m->n_lin++] = (struct lin){ .idx = idx, .no_resolve = nr, .p = p };
	return 0;
}

/* Every entry of rs into m at index idx; nr: the RULE-SET line's no-resolve. */
static int add_set(struct builder *b, struct matcher *m, const struct ruleset *rs, uint32_t idx,
		   bool nr, const struct conf_pos *pos)
{
	size_t n = ruleset_count(rs), len;
	unsigned kind;
	int err = 0;

	switch (ruleset_behavior(rs)) {
	case RULESET_DOMAIN:
		/* A big list adds about one edge per name (its own label under
		 * a shared parent): size the table once rather than doubling
		 * through it. */
		if (!m->dom.ready)
			err = dtrie_init(&m->dom);
		if (!err && n < UINT32_MAX / 4)
			err = label_trie_reserve(&m->dom.t, (uint32_t)n);
		for (size_t i = 0; i < n && !err; i++) {
			const char *name = ruleset_domain(rs, i, &len, &kind);

			err = dtrie_add(&m->dom, name, len, kind, idx);
		}
		return err ? nomem(b, pos) : 0;
	case RULESET_IPCIDR:
		for (size_t i = 0; i < n && !err; i++) {
			const struct rule_cidr *c = ruleset_cidr(rs, i);

			err = itrie_add(&m->dst[c->family == 6], c, idx);
		}
		if (err)
			return nomem(b, pos);
		if (n && !nr)
			m->ip_resolve_min = min_u32(m->ip_resolve_min, idx);
		return 0;
	case RULESET_CLASSICAL:
		for (size_t i = 0; i < n && !err; i++)
			err = add_spec(b, m, ruleset_rule(rs, i), idx, nr);
		return err;
	}
	return conf_err_set(b->err, pos, "internal error: bad rule-set behaviour");
}

static const struct ruleset *find_set(struct builder *b, const struct rule_spec *s)
{
	const struct ruleset *rs = NULL;

	if (b->opts->set_fn)
		rs = b->opts->set_fn(b->opts->set_arg, s->str);
	if (!rs)
		conf_err_set(b->err, &s->payload_pos, "unknown rule-set '%s'", s->str);
	return rs;
}

typedef int (*fill_fn)(struct builder *b, struct matcher *m, const struct rule_spec *s,
		       uint32_t idx, bool nr);

/* A matcher of its own for s (entries at index 0), kept in e->sets under
 * key and built once per key by fill: a rule set, a geosite list or a
 * country's prefixes used inside AND/OR/NOT or as a GEOIP test. */
static int named_matcher(struct builder *b, const char *key, const struct rule_spec *s,
			 fill_fn fill, const struct matcher **out)
{
	struct rule_engine *e = b->e;
	struct set_matcher *grown;
	struct matcher *m;
	int err;

	for (size_t i = 0; i < e->n_sets; i++)
		if (strcmp(e->sets[i].name, key) == 0) {
			*out = e->sets[i].m;
			return 0;
		}
	grown = realloc(e->sets, (e->n_sets + 1) * sizeof(*grown));
	if (!grown)
		return nomem(b, &s->pos);
	e->sets = grown;
	m = malloc(sizeof(*m));
	if (!m)
		return nomem(b, &s->pos);
	matcher_init(m);
	e->sets[e->n_sets].m = m;
	e->sets[e->n_sets].name = arena_strdup(&e->arena, key);
	e->n_sets++;
	if (!e->sets[e->n_sets - 1].name)
		return nomem(b, &s->pos);
	err = fill(b, m, s, 0, false);
	if (!err && matcher_finish(m))
		err = nomem(b, &s->pos);
	*out = m;
	return err;
}

static int fill_set(struct builder *b, struct matcher *m, const struct rule_spec *s, uint32_t idx,
		    bool nr)
{
	const struct ruleset *rs = find_set(b, s);

	if (!rs)
		return -EINVAL;
	return add_set(b, m, rs, idx, nr, &s->payload_pos);
}

/* The matcher of a rule set used inside AND/OR/NOT, built once per name. */
static int set_matcher(struct builder *b, const struct rule_spec *s, const struct matcher **out)
{
	return named_matcher(b, s->str, s, fill_set, out);
}

/* --- geodata ------------------------------------------------------------------------ */

/* The geo data, the database of kind opened (GEO_COUNTRY, GEO_ASN): else
 * the rule's error. */
static int need_geo(struct builder *b, const struct rule_spec *s, int kind)
{
	char why[600];

	if (!b->opts->geo)
		return conf_err_set(b->err, &s->pos,
				    "%s needs geodata, which this build has none of",
				    rules_type_name(s->type));
	if (kind < 0)
		return 0;
	if (geo_open(b->opts->geo, kind, why, sizeof(why)) == 0)
		return 0;
	return conf_err_set(b->err, &s->pos, "%s: %s", rules_type_name(s->type), why);
}

struct geo_fill {
	struct builder *b;
	struct matcher *m;
	const struct rule_spec *s;
	uint32_t idx;
	bool nr, src;
	size_t added;
};

static int geo_site_entry(void *arg, int type, const char *value)
{
	struct geo_fill *f = arg;
	char name[RULES_DOMAIN_MAX + 1];
	struct rule_spec tmp;
	const char *why;
	size_t n;

	switch (type) {
	case GEO_SITE_FULL:
	case GEO_SITE_DOMAIN:
		/* A name the rules could not hold matches no DNS name. */
		if (rules_domain_norm(value, strlen(value), false, name, &n, &why) != 0)
			return 0;
		f->added++;
		return dtrie_add(&f->m->dom, name, n,
				 type == GEO_SITE_FULL ? RULESET_MATCH_SELF
						       : RULESET_MATCH_SELF | RULESET_MATCH_SUB,
				 f->idx)
			       ? nomem(f->b, &f->s->pos)
			       : 0;
	case GEO_SITE_PLAIN:
	case GEO_SITE_REGEX: {
		struct rule_regex *re = NULL;
		char lowered[RULES_DOMAIN_MAX + 1];

		memset(&tmp, 0, sizeof(tmp));
		tmp.pos = f->s->pos;
		tmp.payload_pos = f->s->payload_pos;
		if (type == GEO_SITE_REGEX) {
			if (rule_regex_compile(value, strlen(value), &re, NULL, 0) != 0)
				return 0; /* not one PCRE2 reads: it cannot match */
			rule_regex_free(re);
			tmp.type = RULE_DOMAIN_REGEX;
			tmp.str = (char *)value;
		} else {
			size_t k = 0;

			for (; value[k] && k < RULES_DOMAIN_MAX; k++)
				lowered[k] = (value[k] >= 'A' && value[k] <= 'Z')
						     ? (char)(value[k] - 'A' + 'a')
						     : value[k];
			lowered[k] = '\0';
			tmp.type = RULE_DOMAIN_KEYWORD;
			tmp.str = lowered;
		}
		f->added++;
		return lin_add(f->b, f->m, &tmp, f->idx, f->nr);
	}
	}
	return 0;
}

/* GEOSITE,code: the list's entries into m at idx, as a domain set's
 * (full, domain) or as DOMAIN-KEYWORD / DOMAIN-REGEX rules (plain, regex). */
static int fill_geosite(struct builder *b, struct matcher *m, const struct rule_spec *s,
			uint32_t idx, bool nr)
{
	struct geo_fill f = { .b = b, .m = m, .s = s, .idx = idx, .nr = nr };
	char why[600] = "";
	int err = need_geo(b, s, -1);

	if (err)
		return err;
	if (!m->dom.ready && dtrie_init(&m->dom) != 0)
		return nomem(b, &s->pos);
	err = geo_site(b->opts->geo, s->str, geo_site_entry, &f, why, sizeof(why));
	if (err == -ENOMEM)
		return nomem(b, &s->pos);
	if (err == -EINVAL && why[0] == '\0')
		return err; /* the callback's error, already set */
	if (err)
		return conf_err_set(b->err, &s->payload_pos, "GEOSITE: %s", why);
	return 0;
}

static int geo_cidr_entry(void *arg, int family, const uint8_t *addr, unsigned plen)
{
	struct geo_fill *f = arg;
	struct rule_cidr c = { .family = (uint8_t)family, .plen = (uint8_t)plen };

	memcpy(c.addr, addr, 16);
	for (unsigned bit = plen; bit < 128; bit++)
		c.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	f->added++;
	return itrie_add(f->src ? &f->m->src[family == 6] : &f->m->dst[family == 6], &c, f->idx)
		       ? nomem(f->b, &f->s->pos)
		       : 0;
}

/* mihomo's "lan" (GEOIP.isLan): private, unspecified, loopback, multicast
 * and link-local addresses, both families. */
static const char *const lan_cidrs[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
	"0.0.0.0/32", "224.0.0.0/4",   "169.254.0.0/16", "fc00::/7",
	"::1/128",    "::/128",        "ff00::/8",       "fe80::/10",
};

/* GEOIP,code as prefixes: "lan", or any code in geodata-mode (GeoIP.dat). */
static int fill_geoip(struct builder *b, struct matcher *m, const struct rule_spec *s, uint32_t idx,
		      bool nr)
{
	struct geo_fill f = { .b = b, .m = m, .s = s, .idx = idx, .nr = nr };
	char why[600] = "";
	int err = 0;

	f.src = s->type == RULE_SRC_GEOIP;
	if (strcmp(s->str, "lan") == 0) {
		for (size_t i = 0; !err && i < sizeof(lan_cidrs) / sizeof(lan_cidrs[0]); i++) {
			struct rule_cidr c;
			const char *w;

			if (rules_cidr_parse(lan_cidrs[i], strlen(lan_cidrs[i]), &c, &w) == 0)
				err = geo_cidr_entry(&f, c.family, c.addr, c.plen);
		}
	} else {
		err = need_geo(b, s, -1);
		if (err)
			return err;
		err = geo_ip_cidrs(b->opts->geo, s->str, geo_cidr_entry, &f, why, sizeof(why));
		if (err && err != -ENOMEM && !(err == -EINVAL && why[0] == '\0'))
			return conf_err_set(b->err, &s->payload_pos, "GEOIP: %s", why);
		if (err == -ENOMEM)
			return nomem(b, &s->pos);
	}
	if (!err && !f.src)
		m->ip_resolve_min = min_u32(m->ip_resolve_min, idx);
	return err;
}

/* The engine of sub-rules list s->target, built once per name with this
 * engine's options, but no pass_fn (rule.h). */
static int sub_engine(struct builder *b, const struct rule_spec *s, const struct rule_engine **out)
{
	struct rule_engine *e = b->e, *se = NULL, **grown;
	struct rule_build_opts so = *b->opts;
	const struct rule_spec *specs;
	const char **names;
	size_t n;
	int r;

	for (size_t i = 0; i < e->n_subs; i++)
		if (strcmp(e->sub_names[i], s->target) == 0) {
			*out = e->subs[i];
			return 0;
		}
	if (!b->opts->sub_fn || b->opts->sub_fn(b->opts->set_arg, s->target, &specs, &n) != 0)
		return conf_err_set(b->err, &s->target_pos, "unknown sub-rules '%s'", s->target);
	if (b->depth + 1 >= SUB_MAX_DEPTH)
		return conf_err_set(
			b->err, &s->target_pos,
			"sub-rules nested deeper than %d (does '%s' lead back to itself?)",
			SUB_MAX_DEPTH, s->target);
	so.pass_fn = NULL;
	so.maybe_pass_fn = NULL;
	r = engine_build(specs, n, &so, b->depth + 1, &se, b->err);
	if (r)
		return r;
	grown = realloc(e->subs, (e->n_subs + 1) * sizeof(*grown));
	if (grown)
		e->subs = grown;
	names = realloc(e->sub_names, (e->n_subs + 1) * sizeof(*names));
	if (names)
		e->sub_names = names;
	if (!grown || !names || !(names[e->n_subs] = arena_strdup(&e->arena, s->target))) {
		rule_engine_unref(se);
		return nomem(b, &s->pos);
	}
	e->subs[e->n_subs++] = se;
	*out = se;
	return 0;
}

static int pred_fill(struct builder *b, struct pred *p, const struct rule_spec *s)
{
	struct rule_engine *e = b->e;
	int err;

	p->type = s->type;
	p->no_resolve = s->no_resolve;
	p->network = s->network;
	p->cidr = s->cidr;
	switch (s->type) {
	case RULE_DOMAIN:
	case RULE_DOMAIN_SUFFIX:
	case RULE_DOMAIN_KEYWORD:
	case RULE_PROCESS_NAME:
	case RULE_PROCESS_PATH:
		p->u.str = arena_strdup(&e->arena, s->str);
		p->n = (uint32_t)strlen(s->str);
		return p->u.str ? 0 : nomem(b, &s->pos);
	case RULE_DOMAIN_WILDCARD:
	case RULE_IN_TYPE:
	case RULE_IN_USER:
	case RULE_IN_NAME:
		p->u.str = arena_strdup(&e->arena, s->str);
		p->n = (uint32_t)strlen(s->str);
		return p->u.str ? 0 : nomem(b, &s->pos);
	case RULE_DOMAIN_REGEX:
	case RULE_PROCESS_NAME_REGEX:
	case RULE_PROCESS_PATH_REGEX: {
		struct rule_regex *re = NULL;

		if (e->n_regs == e->cap_regs) {
			size_t ncap = e->cap_regs ? e->cap_regs * 2 : 8;
			struct rule_regex **g = realloc(e->regs, ncap * sizeof(*g));

			if (!g)
				return nomem(b, &s->pos);
			e->regs = g;
			e->cap_regs = ncap;
		}
		/* The parser compiled it once already: only memory fails. */
		if (rule_regex_compile(s->str, strlen(s->str), &re, NULL, 0) != 0)
			return nomem(b, &s->payload_pos);
		e->regs[e->n_regs++] = re;
		p->u.re = re;
		return 0;
	}
	case RULE_IP_SUFFIX:
	case RULE_SRC_IP_SUFFIX:
		return 0;
	case RULE_IP_CIDR:
	case RULE_SRC_IP_CIDR:
	case RULE_NETWORK:
		return 0;
	case RULE_DST_PORT:
	case RULE_SRC_PORT:
	case RULE_IN_PORT:
	case RULE_DSCP:
	case RULE_UID: {
		struct rule_range *r = arena_alloc(&e->arena, s->n_ranges * sizeof(*r));

		if (!r)
			return nomem(b, &s->pos);
		memcpy(r, s->ranges, s->n_ranges * sizeof(*r));
		p->u.ranges = r;
		p->n = (uint32_t)s->n_ranges;
		return 0;
	}
	case RULE_RULE_SET:
		return set_matcher(b, s, &p->u.set);
	case RULE_GEOSITE: {
		char key[300];

		snprintf(key, sizeof(key), "\001geosite:%s", s->str);
		return named_matcher(b, key, s, fill_geosite, &p->u.set);
	}
	case RULE_GEOIP:
	case RULE_SRC_GEOIP: {
		char key[300];

		if (strcmp(s->str, "lan") == 0 ||
		    (b->opts->geo && geo_geodata_mode(b->opts->geo))) {
			snprintf(key, sizeof(key), "\001geoip:%s:%s",
				 s->type == RULE_SRC_GEOIP ? "src" : "dst", s->str);
			return named_matcher(b, key, s, fill_geoip, &p->u.set);
		}
		err = need_geo(b, s, GEO_COUNTRY);
		if (err)
			return err;
		p->geo = b->opts->geo;
		p->u.str = arena_strdup(&e->arena, s->str);
		return p->u.str ? 0 : nomem(b, &s->pos);
	}
	case RULE_IP_ASN:
	case RULE_SRC_IP_ASN:
		err = need_geo(b, s, GEO_ASN);
		if (err)
			return err;
		p->geo = b->opts->geo;
		p->n = s->asn;
		return 0;
	case RULE_AND:
	case RULE_OR:
	case RULE_NOT: {
		struct pred *kids = arena_alloc(&e->arena, s->n_sub * sizeof(*kids));

		if (!kids)
			return nomem(b, &s->pos);
		p->u.kids = kids;
		p->n = (uint32_t)s->n_sub;
		for (size_t i = 0; i < s->n_sub; i++) {
			err = pred_fill(b, &kids[i], &s->sub[i]);
			if (err)
				return err;
		}
		return 0;
	}
	case RULE_SUB_RULE: {
		struct pred *kids = arena_alloc(&e->arena, sizeof(*kids));

		if (!kids)
			return nomem(b, &s->pos);
		p->u.kids = kids;
		p->n = 1;
		err = pred_fill(b, kids, &s->sub[0]);
		return err ? err : sub_engine(b, s, &p->sub);
	}
	case RULE_MATCH:
		return 0; /* only as a PASS rule: the parser keeps it out of operands */
	}
	return conf_err_set(b->err, &s->pos, "%s is not allowed here", rules_type_name(s->type));
}

/* One rule (or rule-set entry) into m at index idx. nr: no-resolve
 * inherited from a RULE-SET line. */
static int add_spec(struct builder *b, struct matcher *m, const struct rule_spec *s, uint32_t idx,
		    bool nr)
{
	const struct ruleset *rs;
	int err = 0;

	switch (s->type) {
	case RULE_DOMAIN:
		err = dtrie_add(&m->dom, s->str, strlen(s->str), RULESET_MATCH_SELF, idx);
		break;
	case RULE_DOMAIN_SUFFIX:
		err = dtrie_add(&m->dom, s->str, strlen(s->str),
				RULESET_MATCH_SELF | RULESET_MATCH_SUB, idx);
		break;
	case RULE_IP_CIDR:
		err = itrie_add(&m->dst[s->cidr.family == 6], &s->cidr, idx);
		if (!s->no_resolve && !nr)
			m->ip_resolve_min = min_u32(m->ip_resolve_min, idx);
		break;
	case RULE_SRC_IP_CIDR:
		err = itrie_add(&m->src[s->cidr.family == 6], &s->cidr, idx);
		break;
	case RULE_DST_PORT:
	case RULE_SRC_PORT:
		for (size_t i = 0; i < s->n_ranges && !err; i++)
			err = ports_add(s->type == RULE_DST_PORT ? &m->dport : &m->sport,
					s->ranges[i].lo, s->ranges[i].hi, idx);
		break;
	case RULE_NETWORK:
		if (s->network == RULE_NET_TCP)
			m->min_tcp = min_u32(m->min_tcp, idx);
		else
			m->min_udp = min_u32(m->min_udp, idx);
		break;
	case RULE_MATCH:
		m->min_any = min_u32(m->min_any, idx);
		break;
	case RULE_RULE_SET:
		rs = find_set(b, s);
		if (!rs)
			return -EINVAL;
		return add_set(b, m, rs, idx, nr || s->no_resolve, &s->payload_pos);
	default:
		/* GEOSITE too: its list is one matcher of its own, shared by
		 * every rule naming it (named_matcher). */
		return lin_add(b, m, s, idx, nr);
	}
	return err ? nomem(b, &s->pos) : 0;
}

/* The engine's own copy of a file name; consecutive rules share one. */
static const char *intern_file(struct rule_engine *e, const char *file, const char **last)
{
	if (!file)
		return NULL;
	if (*last && strcmp(*last, file) == 0)
		return *last;
	*last = arena_strdup(&e->arena, file);
	return *last;
}

int rule_engine_build(const struct rule_spec *specs, size_t n, const struct rule_build_opts *opts,
		      struct rule_engine **out, struct conf_err *err)
{
	return engine_build(specs, n, opts, 0, out, err);
}

static int engine_build(const struct rule_spec *specs, size_t n, const struct rule_build_opts *opts,
			int depth, struct rule_engine **out, struct conf_err *err)
{
	struct builder b = { .opts = opts, .err = err, .depth = depth };
	struct rule_engine *e;
	const char *last_file = NULL;
	struct conf_pos none = { 0 };
	int r = -ENOMEM;

	*out = NULL;
	if (n >= NONE)
		return conf_err_set(err, &none, "too many rules");
	e = calloc(1, sizeof(*e));
	if (!e)
		return nomem(&b, &none);
	b.e = e;
	e->refs = 1;
	e->default_target = opts->default_target;
	e->pass_fn = opts->pass_fn;
	e->pass_arg = opts->target_arg;
	matcher_init(&e->main);
	e->rules = calloc(n ? n : 1, sizeof(*e->rules));
	if (!e->rules) {
		r = nomem(&b, &none);
		goto out;
	}
	e->n_rules = n;
	for (size_t i = 0; i < n; i++) {
		const struct rule_spec *s = &specs[i];
		struct erule *er = &e->rules[i];

		if (!s->target) {
			r = conf_err_set(err, &s->pos, "rule has no target");
			goto out;
		}
		er->target = s->type == RULE_SUB_RULE ? 0
			     : opts->target_fn        ? opts->target_fn(opts->target_arg, s->target)
						      : -1;
		if (er->target < 0) {
			r = conf_err_set(err, &s->target_pos, "unknown target '%s'", s->target);
			goto out;
		}
		er->text = arena_strdup(&e->arena, s->text ? s->text : rules_type_name(s->type));
		er->pos = s->pos;
		er->pos.file = intern_file(e, s->pos.file, &last_file);
		if (!er->text || (s->pos.file && !er->pos.file)) {
			r = nomem(&b, &s->pos);
			goto out;
		}
		if (s->type == RULE_SUB_RULE) {
			/* Its target is the list's verdict: evaluated in order. */
			er->target = -1;
			r = lin_add(&b, &e->main, s, (uint32_t)i, false);
			if (r == 0) {
				e->main.lin[e->main.n_lin - 1].sub_top = opts->pass_fn != NULL;
				er->sub = e->main.lin[e->main.n_lin - 1].p->sub;
			}
		} else if (opts->pass_fn && opts->pass_fn(opts->target_arg, er->target)) {
			r = lin_add(&b, &e->main, s, (uint32_t)i, false);
			if (r == 0)
				e->main.lin[e->main.n_lin - 1].pass = true;
		} else if (opts->maybe_pass_fn &&
			   opts->maybe_pass_fn(opts->target_arg, er->target)) {
			/* Linear: a trie would hide the rules after it. */
			r = lin_add(&b, &e->main, s, (uint32_t)i, false);
			if (r == 0)
				e->main.lin[e->main.n_lin - 1].dyn_pass = true;
		} else {
			r = add_spec(&b, &e->main, s, (uint32_t)i, false);
		}
		if (r)
			goto out;
	}
	if (matcher_finish(&e->main)) {
		r = nomem(&b, &none);
		goto out;
	}
	*out = e;
	e = NULL;
	r = 0;
out:
	rule_engine_unref(e);
	return r;
}

struct rule_engine *rule_engine_ref(struct rule_engine *e)
{
	e->refs++;
	return e;
}

void rule_engine_unref(struct rule_engine *e)
{
	if (!e || --e->refs > 0)
		return;
	matcher_free(&e->main);
	for (size_t i = 0; i < e->n_sets; i++) {
		matcher_free(e->sets[i].m);
		free(e->sets[i].m);
	}
	free(e->sets);
	for (size_t i = 0; i < e->n_regs; i++)
		rule_regex_free(e->regs[i]);
	for (size_t i = 0; i < e->n_subs; i++)
		rule_engine_unref(e->subs[i]);
	free(e->subs);
	free(e->sub_names);
	free(e->regs);
	free(e->rules);
	arena_free(&e->arena);
	free(e);
}

size_t rule_engine_count(const struct rule_engine *e)
{
	return e->n_rules;
}

/* --- match ------------------------------------------------------------------------------ */

enum tri { T_FALSE, T_TRUE, T_NEED };

/* Per-query state: the prepared domain and what is known of the
 * destination address. */
struct qctx {
	const struct rule_engine *top; /* the engine rule_match was given */
	struct rule_query *q;
	bool has_domain;
	char dom[RULES_DOMAIN_MAX + 1];
	size_t dlen;
	struct label_trie_label labels[(RULES_DOMAIN_MAX + 1) / 2];
	int n_labels;
	bool ip_known; /* false: fake-ip flow before resolution */
	const struct rule_addr *addrs;
	size_t n_addrs;
	struct rule_addr dst, src; /* normalised */
};

/* IPv4-mapped IPv6 as IPv4; anything else as is. */
static void addr_norm(const struct rule_addr *a, struct rule_addr *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	*out = *a;
	if (a->family == 6 && memcmp(a->bytes, mapped, 12) == 0) {
		memset(out, 0, sizeof(*out));
		out->family = 4;
		memcpy(out->bytes, a->bytes + 12, 4);
	}
}

static bool cidr_has(const struct rule_cidr *c, const struct rule_addr *a)
{
	return a->family == c->family && key_prefix_eq(c->addr, a->bytes, c->plen);
}

/* mihomo's IP-SUFFIX: the last plen bits of a equal those of the rule's
 * address, same family. */
static bool suffix_has(const struct rule_cidr *c, const struct rule_addr *a)
{
	unsigned size = c->family == 4 ? 4 : 16, whole = c->plen / 8, rest = c->plen % 8;

	if (a->family != c->family)
		return false;
	if (memcmp(c->addr + size - whole, a->bytes + size - whole, whole) != 0)
		return false;
	if (!rest)
		return true;
	return ((c->addr[size - whole - 1] ^ a->bytes[size - whole - 1]) & ((1u << rest) - 1)) == 0;
}

/* DOMAIN-WILDCARD: '*' any run of bytes (empty too), '?' exactly one, the
 * rest literally, over the whole name. Greedy with one backtrack point,
 * so linear in practice and O(len(p) * len(s)) at worst. */
static bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '?' || (*p && *p != '*' && *p == *s)) {
			p++;
			s++;
		} else if (*p == '*') {
			star = p++;
			resume = s;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* Whether v (NULL: nothing, as an inbound without a user) is one of the
 * '/'-separated names of list, compared exactly as mihomo does. */
static bool in_list_has(const char *list, const char *v)
{
	size_t n;

	if (v == NULL)
		return false;
	n = strlen(v);
	for (const char *c = list;;) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);

		if (len == n && memcmp(c, v, n) == 0)
			return true;
		if (!e)
			return false;
		c = e + 1;
	}
}

static bool ranges_have(const struct pred *p, uint32_t v)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->u.ranges[i].lo <= v && v <= p->u.ranges[i].hi)
			return true;
	return false;
}

static bool eq_nocase(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a, y = *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (!x)
			return true;
	}
}

static const struct rule_proc *proc_get(struct rule_query *q)
{
	if (!q->proc_done) {
		q->proc_done = true;
		memset(&q->proc, 0, sizeof(q->proc));
		if (q->proc_fn)
			q->proc_fn(q->proc_arg, q, &q->proc);
	}
	return &q->proc;
}

/* Lowercases the query's domain into c and splits it; a malformed name is
 * no domain. */
static void prepare_domain(struct qctx *c, const char *d)
{
	size_t len = 0, start = 0;

	c->has_domain = false;
	if (!d)
		return;
	while (len <= RULES_DOMAIN_MAX + 1 && d[len])
		len++;
	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > RULES_DOMAIN_MAX)
		return;
	c->n_labels = 0;
	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? d[i] : '.';

		if (ch != '.') {
			c->dom[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
			continue;
		}
		if (i == start || i - start > 63)
			return;
		c->labels[c->n_labels].s = c->dom + start;
		c->labels[c->n_labels].len = (uint32_t)(i - start);
		c->labels[c->n_labels].hash = label_trie_hash(c->dom + start, i - start);
		c->n_labels++;
		if (i < len)
			c->dom[i] = '.';
		start = i + 1;
	}
	c->dom[len] = '\0';
	c->dlen = len;
	c->has_domain = true;
}

static void matcher_eval(const struct matcher *m, struct qctx *c, bool nr, uint32_t lb,
			 uint32_t *best_out, uint32_t *need_out);

/* A sub-rules list's verdict (mihomo's matchSubRules): its first rule that
 * holds gives the target, a SUB-RULE line there the target of its own
 * list. T_NEED when the addresses are needed first. */
static int sub_eval(const struct rule_engine *se, struct qctx *c, bool nr, int *target)
{
	uint32_t best, need;

	matcher_eval(&se->main, c, nr, 0, &best, &need);
	if (need != NONE && need < best)
		return T_NEED;
	if (best == NONE)
		return T_FALSE;
	if (se->rules[best].sub)
		return sub_eval(se->rules[best].sub, c, nr, target);
	*target = se->rules[best].target;
	return T_TRUE;
}

/* One predicate, left to right with short-circuit; nr: no-resolve from an
 * enclosing RULE-SET line. */
static enum tri pred_eval(const struct pred *p, struct qctx *c, bool nr)
{
	struct rule_query *q = c->q;
	const struct rule_proc *proc;
	struct rule_addr a;
	uint32_t best, need;
	enum tri r;

	switch (p->type) {
	case RULE_DOMAIN:
		return c->has_domain && c->dlen == p->n && memcmp(c->dom, p->u.str, p->n) == 0;
	case RULE_DOMAIN_SUFFIX:
		if (!c->has_domain || c->dlen < p->n ||
		    memcmp(c->dom + c->dlen - p->n, p->u.str, p->n) != 0)
			return T_FALSE;
		return c->dlen == p->n || c->dom[c->dlen - p->n - 1] == '.';
	case RULE_DOMAIN_KEYWORD:
		return c->has_domain && strstr(c->dom, p->u.str) != NULL;
	case RULE_DOMAIN_REGEX:
		return c->has_domain && rule_regex_match(p->u.re, c->dom, c->dlen);
	case RULE_DOMAIN_WILDCARD:
		return c->has_domain && glob_match(p->u.str, c->dom);
	case RULE_IP_CIDR:
	case RULE_IP_SUFFIX:
		if (!c->ip_known)
			return nr || p->no_resolve ? T_FALSE : T_NEED;
		for (size_t i = 0; i < c->n_addrs; i++) {
			addr_norm(&c->addrs[i], &a);
			if (p->type == RULE_IP_CIDR ? cidr_has(&p->cidr, &a)
						    : suffix_has(&p->cidr, &a))
				return T_TRUE;
		}
		return T_FALSE;
	case RULE_SRC_IP_CIDR:
		return cidr_has(&p->cidr, &c->src);
	case RULE_SRC_IP_SUFFIX:
		return suffix_has(&p->cidr, &c->src);
	case RULE_GEOSITE:
		matcher_eval(p->u.set, c, nr, 0, &best, &need);
		return best != NONE ? T_TRUE : T_FALSE;
	case RULE_GEOIP:
		if (!p->geo) { /* by prefixes */
			matcher_eval(p->u.set, c, nr || p->no_resolve, 0, &best, &need);
			return best != NONE ? T_TRUE : need != NONE ? T_NEED : T_FALSE;
		}
		if (!c->ip_known)
			return nr || p->no_resolve ? T_FALSE : T_NEED;
		for (size_t i = 0; i < c->n_addrs; i++) {
			addr_norm(&c->addrs[i], &a);
			if (geo_ip_country(p->geo, a.family, a.bytes, p->u.str))
				return T_TRUE;
		}
		return T_FALSE;
	case RULE_SRC_GEOIP:
		if (!p->geo) {
			matcher_eval(p->u.set, c, true, 0, &best, &need);
			return best != NONE ? T_TRUE : T_FALSE;
		}
		return c->src.family &&
		       geo_ip_country(p->geo, c->src.family, c->src.bytes, p->u.str);
	case RULE_IP_ASN: {
		uint32_t asn;

		if (!c->ip_known)
			return nr || p->no_resolve ? T_FALSE : T_NEED;
		for (size_t i = 0; i < c->n_addrs; i++) {
			addr_norm(&c->addrs[i], &a);
			if (geo_ip_asn(p->geo, a.family, a.bytes, &asn) == 0 && asn == p->n)
				return T_TRUE;
		}
		return T_FALSE;
	}
	case RULE_SRC_IP_ASN: {
		uint32_t asn;

		return c->src.family &&
		       geo_ip_asn(p->geo, c->src.family, c->src.bytes, &asn) == 0 && asn == p->n;
	}
	case RULE_IN_PORT:
		return ranges_have(p, q->in_port);
	case RULE_DSCP:
		return ranges_have(p, q->dscp);
	case RULE_IN_TYPE:
		return in_list_has(p->u.str, q->in_type ? q->in_type : RULE_IN_TYPE_TUN);
	case RULE_IN_USER:
		return in_list_has(p->u.str, q->in_user);
	case RULE_IN_NAME:
		return in_list_has(p->u.str, q->in_name ? q->in_name : RULE_IN_NAME_TUN);
	case RULE_PROCESS_NAME_REGEX:
		proc = proc_get(q);
		return proc->name && rule_regex_match(p->u.re, proc->name, strlen(proc->name));
	case RULE_PROCESS_PATH_REGEX:
		proc = proc_get(q);
		return proc->path && rule_regex_match(p->u.re, proc->path, strlen(proc->path));
	case RULE_DST_PORT:
		return ranges_have(p, q->dst_port);
	case RULE_SRC_PORT:
		return ranges_have(p, q->src_port);
	case RULE_NETWORK:
		return q->network == p->network;
	case RULE_PROCESS_NAME:
		proc = proc_get(q);
		return proc->name && eq_nocase(proc->name, p->u.str);
	case RULE_PROCESS_PATH:
		proc = proc_get(q);
		return proc->path && eq_nocase(proc->path, p->u.str);
	case RULE_UID:
		proc = proc_get(q);
		return proc->has_uid && ranges_have(p, proc->uid);
	case RULE_RULE_SET:
		matcher_eval(p->u.set, c, nr || p->no_resolve, 0, &best, &need);
		return best != NONE ? T_TRUE : need != NONE ? T_NEED : T_FALSE;
	case RULE_AND:
		for (uint32_t i = 0; i < p->n; i++)
			if ((r = pred_eval(&p->u.kids[i], c, nr)) != T_TRUE)
				return r;
		return T_TRUE;
	case RULE_OR:
		for (uint32_t i = 0; i < p->n; i++)
			if ((r = pred_eval(&p->u.kids[i], c, nr)) != T_FALSE)
				return r;
		return T_FALSE;
	case RULE_NOT:
		r = pred_eval(&p->u.kids[0], c, nr);
		return r == T_NEED ? T_NEED : r == T_TRUE ? T_FALSE : T_TRUE;
	case RULE_SUB_RULE: {
		int t;

		r = pred_eval(&p->u.kids[0], c, nr);
		return r == T_TRUE ? (enum tri)sub_eval(p->sub, c, nr, &t) : r;
	}
	case RULE_MATCH:
		return T_TRUE;
	}
	return T_FALSE;
}

/* *best_out: the smallest index >= lb of a rule of m that holds (NONE if
 * none); *need_out: the smallest index of a rule that cannot be decided
 * without the destination addresses, none of the rules before it holding
 * (NONE if none). Both are exact only up to where they can still matter:
 * rules past min(best, need) are not looked at. lb > 0 only with the
 * addresses known, for the re-run: rules below lb were decided in the
 * first run and are left out. */
static void matcher_eval(const struct matcher *m, struct qctx *c, bool nr, uint32_t lb,
			 uint32_t *best_out, uint32_t *need_out)
{
	struct rule_query *q = c->q;
	uint32_t best = m->min_any, need = NONE;
	struct rule_addr a;

	if (c->has_domain && m->dom.ready)
		best = min_u32(best, dtrie_walk(&m->dom, 0, c->labels, c->n_labels, NONE));
	best = min_u32(best, ports_min(&m->dport, q->dst_port));
	best = min_u32(best, ports_min(&m->sport, q->src_port));
	if (q->network == RULE_NET_TCP)
		best = min_u32(best, m->min_tcp);
	else if (q->network == RULE_NET_UDP)
		best = min_u32(best, m->min_udp);
	if (c->src.family)
		best = min_u32(best, itrie_min(&m->src[c->src.family == 6], c->src.bytes, 0));
	if (c->ip_known) {
		for (size_t i = 0; i < c->n_addrs; i++) {
			addr_norm(&c->addrs[i], &a);
			if (a.family == 4 || a.family == 6)
				best = min_u32(best,
					       itrie_min(&m->dst[a.family == 6], a.bytes, lb));
		}
	} else if (!nr) {
		need = m->ip_resolve_min;
	}
	/* The first linear rule at or after lb. */
	for (size_t i = bsearch_first_ge(&lb, m->lin, m->n_lin, sizeof(*m->lin), lin_cmp);
	     i < m->n_lin; i++) {
		const struct lin *l = &m->lin[i];
		enum tri r;

		/* Rules at need's own index still run: another entry of the
		 * same RULE-SET may decide it without the addresses. */
		if (l->idx >= best || l->idx > need)
			break;
		r = pred_eval(l->p, c, nr || l->no_resolve);
		if (l->pass) {
			/* mihomo resolves on reaching a rule that needs the
			 * addresses, whatever its target. */
			if (r == T_NEED)
				need = l->idx;
			continue;
		}
		if (r == T_TRUE && l->sub_top) {
			int t = -1;

			/* mihomo checks PASS (and UDP support) on what the list
			 * returned; such a line is passed as a whole. */
			(void)sub_eval(l->p->sub, c, nr || l->no_resolve, &t);
			if (c->top->pass_fn && c->top->pass_fn(c->top->pass_arg, t))
				continue;
			if (q->pass_now && q->pass_now(q->pass_arg, t))
				continue;
		}
		/* dyn_pass lines are the top engine's own: idx is its rule. */
		if (r == T_TRUE && l->dyn_pass && q->pass_now &&
		    q->pass_now(q->pass_arg, c->top->rules[l->idx].target))
			continue;
		if (r == T_TRUE)
			best = l->idx;
		else if (r == T_NEED)
			need = l->idx;
	}
	*best_out = best;
	*need_out = need;
}

static int result(const struct rule_engine *e, uint32_t idx, int verdict, struct rule_result *out,
		  struct qctx *c)
{
	memset(out, 0, sizeof(*out));
	if (idx == NONE) {
		out->rule = NONE;
		out->target = e->default_target;
		return RULE_DEFAULT;
	}
	out->rule = idx;
	out->target = verdict == RULE_MATCHED ? e->rules[idx].target : -1;
	if (verdict == RULE_MATCHED && e->rules[idx].sub)
		(void)sub_eval(e->rules[idx].sub, c, false, &out->target);
	out->text = e->rules[idx].text;
	out->pos = e->rules[idx].pos;
	return verdict;
}

int rule_match(const struct rule_engine *e, struct rule_query *q, struct rule_result *out)
{
	struct qctx c;
	uint32_t best, need;

	c.top = e;
	c.q = q;
	prepare_domain(&c, q->domain);
	addr_norm(&q->src, &c.src);
	if (c.src.family != 4 && c.src.family != 6)
		c.src.family = 0;
	addr_norm(&q->dst, &c.dst);
	c.ip_known = true;
	c.addrs = &c.dst;
	c.n_addrs = 1;
	if (c.dst.family != 4 && c.dst.family != 6) {
		/* No address: with a domain, resolution may be needed; without
		 * one, there is nothing to test. */
		c.n_addrs = 0;
		c.ip_known = !c.has_domain;
	}
	matcher_eval(&e->main, &c, false, 0, &best, &need);
	if (best <= need)
		return result(e, best, RULE_MATCHED, out, &c);
	if (!q->has_resolved)
		return result(e, need, RULE_NEED_RESOLVE, out, &c);
	/* Rules before need saw no address and failed; from need on, every
	 * rule sees the resolved list. */
	c.ip_known = true;
	c.addrs = q->resolved;
	c.n_addrs = q->resolved ? q->n_resolved : 0;
	matcher_eval(&e->main, &c, false, need, &best, &need);
	return result(e, best, RULE_MATCHED, out, &c);
}
