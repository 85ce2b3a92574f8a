/* addrmap: see addrmap.h.
 *
 * Layout: entries chained in power-of-two buckets by a keyed hash of
 * (length, address), and on one list in order of last refresh (oldest
 * first), so eviction takes the head in O(1) and expiry needs no sweep:
 * an expired entry is ignored by get and reused by put.
 * Invariants: every entry is in exactly one chain and on the list;
 * addresses are distinct; count <= cap.
 */
#include "resolver/addrmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/base/list.h"
#include "tun2socks/base/siphash.h"

enum { ADDRMAP_NAME_MAX = 253 };

struct addrmap_entry {
	struct addrmap_entry *chain;
	struct list_node link; /* on m->order */
	uint64_t expires;
	uint8_t alen;
	uint8_t addr[16];
	char name[ADDRMAP_NAME_MAX + 1];
};

struct addrmap {
	struct addrmap_entry **buckets;
	size_t mask;
	struct list_node order; /* every entry, least recently refreshed first */
	uint32_t count, cap;
	uint8_t key[16];
};

int addrmap_create(uint32_t cap, const uint8_t hash_key[16], struct addrmap **out)
{
	struct addrmap *m;
	size_t n = 16;

	*out = NULL;
	if (cap == 0)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	while (n < cap)
		n <<= 1;
	m->buckets = calloc(n, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return -ENOMEM;
	}
	m->mask = n - 1;
	list_init(&m->order);
	m->cap = cap;
	memcpy(m->key, hash_key, sizeof(m->key));
	*out = m;
	return 0;
}

void addrmap_destroy(struct addrmap *m)
{
	struct list_node *n, *tmp;

	if (m == NULL)
		return;
	list_for_each_safe(n, tmp, &m->order)
		free(list_entry(n, struct addrmap_entry, link));
	free(m->buckets);
	free(m);
}

static size_t addrmap_bucket(const struct addrmap *m, const uint8_t *addr, size_t alen)
{
	uint8_t k[17];

	k[0] = (uint8_t)alen;
	memcpy(k + 1, addr, alen);
	return (size_t)siphash24(m->key, k, alen + 1) & m->mask;
}

static struct addrmap_entry *addrmap_find(const struct addrmap *m, const uint8_t *addr, size_t alen,
					  size_t b)
{
	struct addrmap_entry *e;

	for (e = m->buckets[b]; e; e = e->chain)
		if (e->alen == alen && memcmp(e->addr, addr, alen) == 0)
			return e;
	return NULL;
}

/* The least recently refreshed entry, or NULL. */
static struct addrmap_entry *addrmap_oldest(struct addrmap *m)
{
	return list_empty(&m->order) ? NULL : list_entry(m->order.next, struct addrmap_entry, link);
}

static void addrmap_unchain(struct addrmap *m, struct addrmap_entry *e)
{
	struct addrmap_entry **pp = &m->buckets[addrmap_bucket(m, e->addr, e->alen)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
}

int addrmap_put(struct addrmap *m, const uint8_t *addr, size_t alen, const char *name,
		uint64_t now_ms, uint64_t keep_ms)
{
	size_t len = strnlen(name, ADDRMAP_NAME_MAX + 1), b;
	struct addrmap_entry *e;

	if ((alen != 4 && alen != 16) || len == 0 || len > ADDRMAP_NAME_MAX)
		return -EINVAL;
	b = addrmap_bucket(m, addr, alen);
	e = addrmap_find(m, addr, alen, b);
	if (e != NULL) {
		list_remove(&e->link);
	} else {
		struct addrmap_entry *oldest = addrmap_oldest(m);

		if (m->count == m->cap || (oldest && oldest->expires <= now_ms)) {
			/* Full (cap > 0, so there is an oldest), or the oldest
			 * has expired anyway: reuse it. */
			e = oldest;
			list_remove(&e->link);
			addrmap_unchain(m, e);
		} else {
			e = malloc(sizeof(*e));
			if (e == NULL)
				return -ENOMEM;
			m->count++;
		}
		e->alen = (uint8_t)alen;
		memcpy(e->addr, addr, alen);
		e->chain = m->buckets[b];
		m->buckets[b] = e;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		e->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	e->name[len] = '\0';
	e->expires = now_ms + keep_ms;
	list_insert_before(&m->order, &e->link); /* the newest */
	return 0;
}

const char *addrmap_get(const struct addrmap *m, const uint8_t *addr, size_t alen, uint64_t now_ms)
{
	struct addrmap_entry *e;

	if (alen != 4 && alen != 16)
		return NULL;
	e = addrmap_find(m, addr, alen, addrmap_bucket(m, addr, alen));
	return e && e->expires > now_ms ? e->name : NULL;
}

size_t addrmap_count(const struct addrmap *m)
{
	return m->count;
}
