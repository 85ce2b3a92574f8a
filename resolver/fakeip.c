#include "resolver/fakeip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/base/list.h"
#include "tun2socks/base/siphash.h"

/* Layout. Per family, one pool:
 *  - an address is stored as its offset from the range's network address;
 *  - fresh offsets are handed out in increasing order by a cursor that
 *    skips the sorted exclusion list, so nothing exists per address until
 *    it is first used;
 *  - slots[off] indexes mappings by offset (the reverse map): the cursor
 *    only ever grows, so a dense array of pointers up to the cursor is an
 *    exact, collision-free hash of the used part of the range;
 *  - buckets[] chains entries by a keyed hash of the name (forward map);
 *  - lru lists the unpinned entries, least recently used first; pinned
 *    entries are off the list, so eviction is "take the head" in O(1).
 *
 * Invariants (per pool), kept by every function:
 *  I1 cursor <= n_slots <= max_slots; every offset in [0, cursor) that is
 *     not excluded is mapped by exactly one entry, slots[off] == that
 *     entry; slots[off] is NULL for excluded offsets and for off >= cursor.
 *     Hence count == cursor - (exclusions below cursor), and no address
 *     is ever unmapped once handed out: reuse reassigns it in place.
 *  I2 count <= cap; the cursor moves only while count < cap.
 *  I3 every entry is in exactly one bucket chain, under its name hash;
 *     names are distinct within a pool.
 *  I4 an entry is on the lru list iff pins == 0; list order is the order
 *     of last use (lookup, domain, final unpin), oldest first, and
 *     t_used (the clock at that use) never decreases along it: the head
 *     is the oldest, so when it is younger than the minimum age every
 *     unpinned entry is.
 *  I5 an entry's name never changes: reuse frees the old entry and puts a
 *     new one at the same offset, which is what lets fakeip_domain*()
 *     hand out the stored string.
 */

enum { NAME_MAX_LEN = 253, LABEL_MAX_LEN = 63 };

struct fakeip_entry {
	struct list_node lru; /* on the pool's lru iff unpinned (I4) */
	struct fakeip_entry *name_next;
	uint64_t off;
	uint64_t t_used; /* clock at the last use (I4) */
	uint32_t hash;
	uint32_t pins;
	uint8_t name_len;
	char name[]; /* lower case, no trailing dot, NUL-terminated */
};

struct fakeip_pool {
	uint8_t alen; /* 4 or 16; 0 = family not configured */
	uint8_t prefix;
	uint8_t net[16]; /* host bits zero */
	uint64_t span;   /* offsets in the range, saturated at UINT64_MAX */
	uint64_t *excl;  /* sorted, distinct, each < span */
	size_t n_excl;
	size_t excl_next; /* first exclusion >= cursor */
	uint64_t cursor;
	uint32_t cap, count;
	struct fakeip_entry **slots;
	size_t n_slots, max_slots;
	struct fakeip_entry **buckets;
	size_t n_buckets, max_buckets; /* powers of two */
	struct list_node lru;          /* unpinned entries; lru.next is the least recently used */
};

struct fakeip {
	struct fakeip_pool p4, p6;
	uint8_t hash_key[16];
	uint64_t min_age_ms; /* 0 without a clock */
	uint64_t (*now_ms)(void *clock_arg);
	void *clock_arg;
	uint64_t changes; /* mappings made (fakeip_changes) */
};

/* --- names ------------------------------------------------------------- */

/* Copies domain into out (NAME_MAX_LEN + 1 bytes) lower-cased, without
 * its trailing dot, and checks it (see fakeip.h). 0 or -EINVAL. */
static int name_normalize(const char *domain, char *out, size_t *len)
{
	size_t n = 0, label = 0;

	*len = 0;
	/* Bounded: an absurd caller string is not walked to its end. */
	while (n <= NAME_MAX_LEN + 1 && domain[n])
		n++;
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n > NAME_MAX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)domain[i];

		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else {
			if (c < 0x21 || c > 0x7e || ++label > LABEL_MAX_LEN)
				return -EINVAL;
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
		}
		out[i] = (char)c;
	}
	if (label == 0)
		return -EINVAL;
	out[n] = '\0';
	*len = n;
	return 0;
}

static uint32_t name_hash(const struct fakeip *f, const char *name, size_t len)
{
	return (uint32_t)siphash24(f->hash_key, (const uint8_t *)name, len);
}

static struct fakeip_entry *name_find(const struct fakeip_pool *p, const char *name, size_t len,
				      uint32_t hash)
{
	struct fakeip_entry *e = p->buckets[hash & (p->n_buckets - 1)];

	for (; e; e = e->name_next)
		if (e->hash == hash && e->name_len == len && memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

static void name_link(struct fakeip_pool *p, struct fakeip_entry *e)
{
	struct fakeip_entry **b = &p->buckets[e->hash & (p->n_buckets - 1)];

	e->name_next = *b;
	*b = e;
}

static void name_unlink(struct fakeip_pool *p, struct fakeip_entry *e)
{
	struct fakeip_entry **pp = &p->buckets[e->hash & (p->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->name_next;
	*pp = e->name_next;
}

/* Keeps chains short (load <= 1) as the pool fills. Failure is harmless:
 * the chains just get longer. */
static void buckets_maybe_grow(struct fakeip_pool *p)
{
	size_t n = p->n_buckets * 2;
	struct fakeip_entry **nb;

	if (p->count <= p->n_buckets || p->n_buckets >= p->max_buckets)
		return;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct fakeip_entry *e = p->buckets[i], *next;

		for (; e; e = next) {
			next = e->name_next;
			e->name_next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(p->buckets);
	p->buckets = nb;
	p->n_buckets = n;
}

/* --- LRU --------------------------------------------------------------- */

static uint64_t now_ms(const struct fakeip *f)
{
	return f->now_ms != NULL ? f->now_ms(f->clock_arg) : 0;
}

/* Also the moment of e's last use (I4): every caller is one. */
static void lru_push_newest(const struct fakeip *f, struct fakeip_pool *p, struct fakeip_entry *e)
{
	e->t_used = now_ms(f);
	list_insert_before(&p->lru, &e->lru);
}

/* A use: pinned entries are off the list (I4) and need nothing; their
 * final unpin is their last use. */
static void touch(const struct fakeip *f, struct fakeip_pool *p, struct fakeip_entry *e)
{
	if (e->pins == 0) {
		list_remove(&e->lru);
		lru_push_newest(f, p, e);
	}
}

/* --- addresses --------------------------------------------------------- */

static uint64_t be_load(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The offset arithmetic covers the last min(8, alen) bytes; for a range
 * wider than 2^64 the bytes above are the network's (host bits zero). */
static size_t low_start(const struct fakeip_pool *p)
{
	return p->alen > 8 ? p->alen - 8u : 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rem = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	return rem == 0 || ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

/* a's offset in the range; false if a is outside it or beyond span. */
static bool off_of(const struct fakeip_pool *p, const uint8_t *a, uint64_t *off)
{
	size_t lo = low_start(p);

	if (!prefix_match(a, p->net, p->prefix))
		return false;
	/* Host bits above the low 64 must be zero: offsets stop at 2^64. */
	if (lo && memcmp(a, p->net, lo) != 0)
		return false;
	*off = be_load(a + lo, p->alen - lo) - be_load(p->net + lo, p->alen - lo);
	return *off < p->span;
}

/* No carry can leave the low part: off < span <= 2^hostbits and the
 * network's host bits are zero. */
static void addr_of(const struct fakeip_pool *p, uint64_t off, uint8_t *out)
{
	size_t lo = low_start(p);
	uint64_t v = be_load(p->net + lo, p->alen - lo) + off;

	memcpy(out, p->net, lo);
	for (size_t i = p->alen; i > lo; i--) {
		out[i - 1] = (uint8_t)v;
		v >>= 8;
	}
}

static struct fakeip_entry *entry_at(const struct fakeip_pool *p, const uint8_t *a)
{
	uint64_t off;

	if (!p->alen || !off_of(p, a, &off) || off >= p->cursor)
		return NULL;
	return p->slots[off]; /* NULL for an excluded offset (I1) */
}

/* --- allocation -------------------------------------------------------- */

/* The next fresh offset and the matching exclusion index, without moving
 * the cursor; false when the range is used up. */
static bool fresh_peek(const struct fakeip_pool *p, uint64_t *off, size_t *xi)
{
	uint64_t o = p->cursor;
	size_t x = p->excl_next;

	for (; o < p->span; o++) {
		while (x < p->n_excl && p->excl[x] < o)
			x++;
		if (x == p->n_excl || p->excl[x] != o) {
			*off = o;
			*xi = x;
			return true;
		}
	}
	return false;
}

/* Grows slots (zero-filled, so I1 holds) to cover offsets below need. */
static int slots_reserve(struct fakeip_pool *p, uint64_t need)
{
	size_t n = p->n_slots ? p->n_slots : 64;
	struct fakeip_entry **ns;

	if (need <= p->n_slots)
		return 0;
	if (need > p->max_slots)
		return -ENOSPC; /* cannot happen with I1/I2; be safe */
	while (n < need)
		n *= 2;
	if (n > p->max_slots)
		n = p->max_slots;
	ns = realloc(p->slots, n * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	memset(ns + p->n_slots, 0, (n - p->n_slots) * sizeof(*ns));
	p->slots = ns;
	p->n_slots = n;
	return 0;
}

/* A new unpinned, unlinked entry for name[0, len) at offset off, or NULL. */
static struct fakeip_entry *entry_new(uint64_t off, uint32_t hash, const char *name, size_t len)
{
	struct fakeip_entry *e = malloc(sizeof(*e) + len + 1);

	if (!e)
		return NULL;
	e->off = off;
	e->hash = hash;
	e->pins = 0;
	e->name_len = (uint8_t)len;
	memcpy(e->name, name, len + 1);
	return e;
}

static int pool_lookup(struct fakeip *f, struct fakeip_pool *p, const char *domain, uint8_t *out,
		       size_t alen)
{
	struct fakeip_entry *e, *victim = NULL;
	char name[NAME_MAX_LEN + 1];
	uint64_t off = 0;
	size_t len, xi = 0;
	uint32_t hash;
	int err;

	memset(out, 0, alen);
	if (!p->alen)
		return -EAFNOSUPPORT;
	err = name_normalize(domain, name, &len);
	if (err)
		return err;
	hash = name_hash(f, name, len);
	e = name_find(p, name, len, hash);
	if (e) {
		touch(f, p, e);
		addr_of(p, e->off, out);
		return 0;
	}

	/* Fresh while under the cap (cap <= usable, so one exists), else the
	 * least recently used unpinned mapping. */
	if (p->count < p->cap && fresh_peek(p, &off, &xi)) {
		err = slots_reserve(p, off + 1);
		if (err)
			return err;
	} else if (!list_empty(&p->lru)) {
		victim = list_entry(p->lru.next, struct fakeip_entry, lru);
		/* The oldest is too young: so is every other (I4). */
		if (f->min_age_ms > 0 && now_ms(f) - victim->t_used < f->min_age_ms)
			return -EAGAIN;
		off = victim->off;
	} else {
		return -ENOSPC;
	}

	/* Allocate before touching anything: on -ENOMEM nothing changed. */
	e = entry_new(off, hash, name, len);
	if (!e)
		return -ENOMEM;

	if (victim) {
		name_unlink(p, victim);
		list_remove(&victim->lru);
		free(victim);
	} else {
		p->cursor = off + 1;
		p->excl_next = xi;
		p->count++;
	}
	p->slots[off] = e;
	name_link(p, e);
	lru_push_newest(f, p, e);
	buckets_maybe_grow(p);
	f->changes++;
	addr_of(p, off, out);
	return 0;
}

static int pool_find(const struct fakeip *f, const struct fakeip_pool *p, const char *domain,
		     uint8_t *out, size_t alen)
{
	struct fakeip_entry *e;
	char name[NAME_MAX_LEN + 1];
	size_t len;
	int err;

	memset(out, 0, alen);
	if (!p->alen)
		return -EAFNOSUPPORT;
	err = name_normalize(domain, name, &len);
	if (err)
		return err;
	e = name_find(p, name, len, name_hash(f, name, len));
	if (!e)
		return -ENOENT;
	addr_of(p, e->off, out);
	return 0;
}

static const char *pool_domain(const struct fakeip *f, struct fakeip_pool *p, const uint8_t *a)
{
	struct fakeip_entry *e = entry_at(p, a);

	if (!e)
		return NULL;
	touch(f, p, e);
	return e->name;
}

static int pool_pin(struct fakeip_pool *p, const uint8_t *a)
{
	struct fakeip_entry *e = entry_at(p, a);

	if (!e)
		return -ENOENT;
	if (e->pins == UINT32_MAX)
		return -EOVERFLOW;
	if (e->pins++ == 0)
		list_remove(&e->lru);
	return 0;
}

static int pool_unpin(const struct fakeip *f, struct fakeip_pool *p, const uint8_t *a)
{
	struct fakeip_entry *e = entry_at(p, a);

	if (!e || e->pins == 0)
		return -ENOENT;
	/* The flow just ended: its mapping was in use until now. */
	if (--e->pins == 0)
		lru_push_newest(f, p, e);
	return 0;
}

/* --- setup ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* excl: n addresses of alen bytes each, laid out contiguously. */
static int pool_init(struct fakeip_pool *p, size_t alen, const uint8_t *net, unsigned prefix,
		     const uint8_t *excl, size_t n, uint32_t max_entries)
{
	unsigned hostbits;
	uint64_t usable, cap, off;
	size_t k = 0;

	if (prefix > alen * 8)
		return -EINVAL;
	p->alen = (uint8_t)alen;
	p->prefix = (uint8_t)prefix;
	for (size_t i = 0; i < alen; i++) {
		unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;

		p->net[i] = bits >= 8 ? net[i] : (uint8_t)(net[i] & (0xff00 >> bits));
	}
	hostbits = (unsigned)alen * 8 - prefix;
	p->span = hostbits >= 64 ? UINT64_MAX : (uint64_t)1 << hostbits;
	list_init(&p->lru);

	if (n > (SIZE_MAX / sizeof(*p->excl)) - 2)
		return -ENOMEM;
	p->excl = malloc((n + 2) * sizeof(*p->excl));
	if (!p->excl)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (off_of(p, excl + i * alen, &off))
			p->excl[k++] = off;
	/* The network address (IPv4 network, IPv6 subnet-router anycast) and
	 * the IPv4 broadcast; /31 and /32 (/127, /128) are point-to-point or
	 * single addresses with no such roles. */
	if (hostbits >= 2) {
		p->excl[k++] = 0;
		if (alen == 4)
			p->excl[k++] = p->span - 1;
	}
	qsort(p->excl, k, sizeof(*p->excl), cmp_u64);
	p->n_excl = 0;
	for (size_t i = 0; i < k; i++)
		if (p->n_excl == 0 || p->excl[p->n_excl - 1] != p->excl[i])
			p->excl[p->n_excl++] = p->excl[i];

	usable = p->span - p->n_excl;
	cap = max_entries ? max_entries : FAKEIP_DEFAULT_MAX_ENTRIES;
	if (cap > usable)
		cap = usable;
	if (cap == 0)
		return -EINVAL;
	p->cap = (uint32_t)cap;
	/* The cursor stops after cap fresh offsets, past at most every
	 * exclusion: that bounds slots (I1). */
	if (cap + p->n_excl > SIZE_MAX / sizeof(*p->slots))
		return -ENOMEM;
	p->max_slots = (size_t)(cap + p->n_excl);
	p->max_buckets = 16;
	while (p->max_buckets < cap)
		p->max_buckets *= 2;
	p->n_buckets = 16;
	p->buckets = calloc(p->n_buckets, sizeof(*p->buckets));
	return p->buckets ? 0 : -ENOMEM;
}

static void pool_free(struct fakeip_pool *p)
{
	for (uint64_t off = 0; off < p->cursor; off++)
		free(p->slots[off]);
	free(p->slots);
	free(p->buckets);
	free(p->excl);
}

int fakeip_create(const struct fakeip_config *cfg, struct fakeip **out)
{
	struct fakeip *f;
	int err;

	*out = NULL;
	if (!cfg->has4 && !cfg->has6)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	memcpy(f->hash_key, cfg->hash_key, sizeof(f->hash_key));
	f->now_ms = cfg->now_ms;
	f->clock_arg = cfg->clock_arg;
	f->min_age_ms = cfg->now_ms != NULL ? cfg->min_age_ms : 0;
	if (cfg->has4) {
		err = pool_init(&f->p4, 4, cfg->net4, cfg->prefix4,
				cfg->n_exclude4 ? cfg->exclude4[0] : NULL, cfg->n_exclude4,
				cfg->max_entries);
		if (err)
			goto out;
	}
	if (cfg->has6) {
		err = pool_init(&f->p6, 16, cfg->net6, cfg->prefix6,
				cfg->n_exclude6 ? cfg->exclude6[0] : NULL, cfg->n_exclude6,
				cfg->max_entries);
		if (err)
			goto out;
	}
	*out = f;
	f = NULL;
	err = 0;
out:
	fakeip_destroy(f);
	return err;
}

void fakeip_destroy(struct fakeip *f)
{
	if (!f)
		return;
	pool_free(&f->p4);
	pool_free(&f->p6);
	free(f);
}

/* --- public wrappers --------------------------------------------------- */

int fakeip_lookup4(struct fakeip *f, const char *domain, uint8_t out[4])
{
	return pool_lookup(f, &f->p4, domain, out, 4);
}

int fakeip_lookup6(struct fakeip *f, const char *domain, uint8_t out[16])
{
	return pool_lookup(f, &f->p6, domain, out, 16);
}

int fakeip_find4(const struct fakeip *f, const char *domain, uint8_t out[4])
{
	return pool_find(f, &f->p4, domain, out, 4);
}

int fakeip_find6(const struct fakeip *f, const char *domain, uint8_t out[16])
{
	return pool_find(f, &f->p6, domain, out, 16);
}

const char *fakeip_domain4(struct fakeip *f, const uint8_t a[4])
{
	return pool_domain(f, &f->p4, a);
}

const char *fakeip_domain6(struct fakeip *f, const uint8_t a[16])
{
	return pool_domain(f, &f->p6, a);
}

const char *fakeip_peek4(const struct fakeip *f, const uint8_t a[4])
{
	const struct fakeip_entry *e = entry_at(&f->p4, a);

	return e ? e->name : NULL;
}

const char *fakeip_peek6(const struct fakeip *f, const uint8_t a[16])
{
	const struct fakeip_entry *e = entry_at(&f->p6, a);

	return e ? e->name : NULL;
}

bool fakeip_contains4(const struct fakeip *f, const uint8_t a[4])
{
	return f->p4.alen && prefix_match(a, f->p4.net, f->p4.prefix);
}

bool fakeip_contains6(const struct fakeip *f, const uint8_t a[16])
{
	return f->p6.alen && prefix_match(a, f->p6.net, f->p6.prefix);
}

int fakeip_pin4(struct fakeip *f, const uint8_t a[4])
{
	return pool_pin(&f->p4, a);
}

int fakeip_unpin4(struct fakeip *f, const uint8_t a[4])
{
	return pool_unpin(f, &f->p4, a);
}

int fakeip_pin6(struct fakeip *f, const uint8_t a[16])
{
	return pool_pin(&f->p6, a);
}

int fakeip_unpin6(struct fakeip *f, const uint8_t a[16])
{
	return pool_unpin(f, &f->p6, a);
}

size_t fakeip_count(const struct fakeip *f)
{
	return (size_t)f->p4.count + f->p6.count;
}

/* --- persistence (docs/design.md §22) ------------------------------------ */

/* A growing text buffer. */
struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->cap - b->len < n + 1) {
		size_t nc = b->cap ? b->cap : 4096;
		char *np;

		while (nc - b->len < n + 1)
			nc *= 2;
		np = realloc(b->p, nc);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_u64(struct sbuf *b, uint64_t v, char sep)
{
	char t[24];
	size_t n = sizeof(t);

	t[--n] = sep;
	do {
		t[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_put(b, t + n, sizeof(t) - n);
}

static void sb_entry(struct sbuf *b, const struct fakeip_entry *e)
{
	sb_u64(b, e->off, ' ');
	sb_put(b, e->name, e->name_len);
	sb_put(b, "\n", 1);
}

/* "pool ALEN PREFIX NETHEX CAP CURSOR NEXCL EXCL..." then the entries,
 * least recently used first, pinned ones (in use) last. */
static void pool_save(const struct fakeip_pool *p, struct sbuf *b)
{
	static const char hex[] = "0123456789abcdef";
	char net[33];
	struct list_node *n;

	if (!p->alen)
		return;
	for (size_t i = 0; i < p->alen; i++) {
		net[2 * i] = hex[p->net[i] >> 4];
		net[2 * i + 1] = hex[p->net[i] & 15];
	}
	sb_put(b, "pool ", 5);
	sb_u64(b, p->alen, ' ');
	sb_u64(b, p->prefix, ' ');
	sb_put(b, net, 2 * (size_t)p->alen);
	sb_put(b, " ", 1);
	sb_u64(b, p->cap, ' ');
	sb_u64(b, p->cursor, ' ');
	sb_u64(b, p->n_excl, p->n_excl ? ' ' : '\n');
	for (size_t i = 0; i < p->n_excl; i++)
		sb_u64(b, p->excl[i], i + 1 < p->n_excl ? ' ' : '\n');
	for (n = p->lru.next; n != &p->lru; n = n->next)
		sb_entry(b, list_entry(n, struct fakeip_entry, lru));
	for (uint64_t off = 0; off < p->cursor; off++)
		if (p->slots[off] && p->slots[off]->pins > 0)
			sb_entry(b, p->slots[off]);
}

int fakeip_save(const struct fakeip *f, char **out, size_t *len)
{
	struct sbuf b = { 0 };

	*out = NULL;
	*len = 0;
	sb_put(&b, "t2s-fakeip 1\n", 13);
	pool_save(&f->p4, &b);
	pool_save(&f->p6, &b);
	sb_put(&b, "end\n", 4);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

uint64_t fakeip_changes(const struct fakeip *f)
{
	return f->changes;
}

/* Back to empty (the state after pool_init). */
static void pool_clear(struct fakeip_pool *p)
{
	for (uint64_t off = 0; off < p->cursor; off++) {
		free(p->slots[off]);
		p->slots[off] = NULL;
	}
	memset(p->buckets, 0, p->n_buckets * sizeof(*p->buckets));
	list_init(&p->lru);
	p->cursor = 0;
	p->excl_next = 0;
	p->count = 0;
}

/* The next line of buf (without its newline) into line; false at the end
 * or for a line too long. */
static bool next_line(const char *buf, size_t len, size_t *pos, char *line, size_t cap, bool *bad)
{
	size_t n = 0;

	if (*pos >= len)
		return false;
	while (*pos < len && buf[*pos] != '\n') {
		if (n + 1 >= cap || buf[*pos] == '\0') {
			*bad = true;
			return false;
		}
		line[n++] = buf[(*pos)++];
	}
	if (*pos >= len) { /* no newline: a torn write */
		*bad = true;
		return false;
	}
	(*pos)++;
	line[n] = '\0';
	return true;
}

/* A decimal number at *s, then one separator (space or end). */
static bool parse_u64(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (*p == ' ')
		p++;
	else if (*p != '\0')
		return false;
	*s = p;
	*v = x;
	return true;
}

/* Whether a "pool" line describes p as configured now. */
static bool pool_matches(const struct fakeip_pool *p, const char *s)
{
	uint64_t alen, prefix, cap, cursor, n_excl, x;
	uint8_t net[16];

	if (!parse_u64(&s, &alen) || alen != p->alen || !parse_u64(&s, &prefix) ||
	    prefix != p->prefix)
		return false;
	for (size_t i = 0; i < p->alen; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char c = *s++;

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else
				return false;
		}
		net[i] = (uint8_t)v;
	}
	if (*s++ != ' ' || memcmp(net, p->net, p->alen) != 0)
		return false;
	if (!parse_u64(&s, &cap) || cap != p->cap || !parse_u64(&s, &cursor) ||
	    cursor > p->max_slots || !parse_u64(&s, &n_excl) || n_excl != p->n_excl)
		return false;
	for (size_t i = 0; i < p->n_excl; i++)
		if (!parse_u64(&s, &x) || x != p->excl[i])
			return false;
	return *s == '\0';
}

/* One "OFFSET NAME" line into p (restoring: every check of I1-I3 made
 * here, the cursor already set). */
static int pool_restore_entry(struct fakeip *f, struct fakeip_pool *p, const char *s)
{
	struct fakeip_entry *e;
	char name[NAME_MAX_LEN + 1];
	uint64_t off;
	size_t len, xi = 0;
	uint32_t hash;

	if (!parse_u64(&s, &off) || off >= p->cursor || p->slots[off] != NULL)
		return -EINVAL;
	while (xi < p->n_excl && p->excl[xi] < off)
		xi++;
	if (xi < p->n_excl && p->excl[xi] == off)
		return -EINVAL;
	if (name_normalize(s, name, &len) < 0 || strcmp(name, s) != 0)
		return -EINVAL;
	hash = name_hash(f, name, len);
	if (name_find(p, name, len, hash) != NULL || p->count >= p->cap)
		return -EINVAL;
	e = entry_new(off, hash, name, len);
	if (!e)
		return -ENOMEM;
	p->slots[off] = e;
	p->count++;
	name_link(p, e);
	lru_push_newest(f, p, e); /* in file order: oldest first */
	buckets_maybe_grow(p);
	return 0;
}

/* After a pool's entries: every offset below the cursor not excluded must
 * be mapped (I1); the exclusion cursor follows. */
static int pool_restore_done(struct fakeip_pool *p)
{
	size_t x = 0;

	for (uint64_t off = 0; off < p->cursor; off++) {
		while (x < p->n_excl && p->excl[x] < off)
			x++;
		if ((x < p->n_excl && p->excl[x] == off) != (p->slots[off] == NULL))
			return -EINVAL;
	}
	while (x < p->n_excl && p->excl[x] < p->cursor)
		x++;
	p->excl_next = x;
	return 0;
}

int fakeip_restore(struct fakeip *f, const char *buf, size_t len)
{
	char line[NAME_MAX_LEN + 64 + 16 * 2 + 24 * 8];
	struct fakeip_pool *cur = NULL;
	size_t pos = 0;
	bool bad = false, ended = false, seen4 = false, seen6 = false;
	int r = 0;

	if (fakeip_count(f) != 0)
		return -EBUSY;
	if (!next_line(buf, len, &pos, line, sizeof(line), &bad) || strcmp(line, "t2s-fakeip 1"))
		return -EINVAL;
	while (r == 0 && !ended && next_line(buf, len, &pos, line, sizeof(line), &bad)) {
		if (!strncmp(line, "pool ", 5)) {
			if (cur != NULL)
				r = pool_restore_done(cur);
			cur = line[5] == '4' ? &f->p4 : &f->p6;
			if (r == 0 && ((cur == &f->p4 && seen4) || (cur == &f->p6 && seen6)))
				r = -EINVAL;
			seen4 |= cur == &f->p4;
			seen6 |= cur == &f->p6;
			if (r == 0 && !pool_matches(cur, line + 5))
				r = -ESTALE;
			if (r == 0) {
				const char *s = line + 5;
				uint64_t v;

				/* alen, prefix, net, cap, then the cursor */
				parse_u64(&s, &v);
				parse_u64(&s, &v);
				s += 2 * (size_t)cur->alen + 1;
				parse_u64(&s, &v);
				parse_u64(&s, &v);
				r = slots_reserve(cur, v);
				if (r == 0)
					cur->cursor = v;
			}
		} else if (!strcmp(line, "end")) {
			ended = true;
		} else if (cur != NULL) {
			r = pool_restore_entry(f, cur, line);
		} else {
			r = -EINVAL;
		}
	}
	if (r == 0 && cur != NULL)
		r = pool_restore_done(cur);
	if (r == 0 && (!ended || bad || seen4 != (f->p4.alen != 0) || seen6 != (f->p6.alen != 0)))
		r = bad || !ended ? -EINVAL : -ESTALE;
	if (r < 0) {
		if (f->p4.alen)
			pool_clear(&f->p4);
		if (f->p6.alen)
			pool_clear(&f->p6);
	}
	return r;
}
