/* addrmap: the real-ip address -> name map (resolver/addrmap.c).
 *
 * Fixed cases for each promise of addrmap.h (lower-casing, replacement,
 * expiry, the cap and its eviction order, v4/v6 keys, bad arguments), then
 * a long random run against a naive reference: an array in refresh order,
 * scanned linearly, with the same reuse rule as the real map (a new
 * address takes the oldest entry when the map is full or when that oldest
 * entry has expired). Every address of the universe is looked up after
 * every step, so any divergence in the hash chains, the refresh list or
 * the expiry shows up at once.
 */
#include "resolver/addrmap.h"
#include "test.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static const uint8_t a1[4] = { 93, 184, 216, 34 };
static const uint8_t a2[4] = { 93, 184, 216, 35 };
static const uint8_t a3[4] = { 1, 1, 1, 1 };

static void test_put_get(void)
{
	struct addrmap *m = NULL;

	T_EQ_INT(addrmap_create(8, key, &m), 0);
	T_CHECK(m != NULL);
	if (m == NULL)
		return;
	T_EQ_INT(addrmap_count(m), 0);
	T_CHECK(addrmap_get(m, a1, 4, 0) == NULL);

	T_EQ_INT(addrmap_put(m, a1, 4, "www.example.com", 1000, 5000), 0);
	T_EQ_INT(addrmap_put(m, a2, 4, "cdn.example.net", 1000, 5000), 0);
	T_EQ_INT(addrmap_count(m), 2);
	T_EQ_STR(addrmap_get(m, a1, 4, 1000), "www.example.com");
	T_EQ_STR(addrmap_get(m, a2, 4, 1000), "cdn.example.net");
	T_CHECK(addrmap_get(m, a3, 4, 1000) == NULL);

	/* Stored lower-cased, only ASCII letters touched. */
	T_EQ_INT(addrmap_put(m, a3, 4, "MiXeD.Case-1_Z.\xc3\x89", 1000, 5000), 0);
	T_EQ_STR(addrmap_get(m, a3, 4, 1000), "mixed.case-1_z.\xc3\x89");

	/* A newer answer for the same address replaces the name, no new
	 * entry. */
	T_EQ_INT(addrmap_put(m, a1, 4, "Other.Example.ORG", 1500, 5000), 0);
	T_EQ_INT(addrmap_count(m), 3);
	T_EQ_STR(addrmap_get(m, a1, 4, 1500), "other.example.org");
	/* A shorter replacement leaves no tail of the old name. */
	T_EQ_INT(addrmap_put(m, a1, 4, "x.io", 1500, 5000), 0);
	T_EQ_STR(addrmap_get(m, a1, 4, 1500), "x.io");

	/* 253 bytes is the longest name. */
	char longest[254];
	memset(longest, 'A', 253);
	longest[253] = '\0';
	T_EQ_INT(addrmap_put(m, a2, 4, longest, 1500, 5000), 0);
	const char *got = addrmap_get(m, a2, 4, 1500);
	T_CHECK(got != NULL && strlen(got) == 253 && got[0] == 'a' && got[252] == 'a');

	addrmap_destroy(m);
	addrmap_destroy(NULL);
}

static void test_expiry(void)
{
	struct addrmap *m = NULL;

	T_EQ_INT(addrmap_create(4, key, &m), 0);
	if (m == NULL)
		return;
	T_EQ_INT(addrmap_put(m, a1, 4, "a.test", 1000, 500), 0);
	/* Alive until now_ms + keep_ms, exclusive. */
	T_EQ_STR(addrmap_get(m, a1, 4, 1000), "a.test");
	T_EQ_STR(addrmap_get(m, a1, 4, 1499), "a.test");
	T_CHECK(addrmap_get(m, a1, 4, 1500) == NULL);
	T_CHECK(addrmap_get(m, a1, 4, 999999) == NULL);

	/* A refresh extends it from the refresh time. */
	T_EQ_INT(addrmap_put(m, a2, 4, "b.test", 1000, 500), 0);
	T_EQ_INT(addrmap_put(m, a2, 4, "b.test", 1400, 500), 0);
	T_EQ_STR(addrmap_get(m, a2, 4, 1899), "b.test");
	T_CHECK(addrmap_get(m, a2, 4, 1900) == NULL);

	/* An expired entry that is the oldest is reused by the next new
	 * address instead of growing the map. a1 expired at 1500. */
	T_EQ_INT(addrmap_count(m), 2);
	T_EQ_INT(addrmap_put(m, a3, 4, "c.test", 1600, 500), 0);
	T_EQ_INT(addrmap_count(m), 2);
	T_CHECK(addrmap_get(m, a1, 4, 1600) == NULL);
	T_EQ_STR(addrmap_get(m, a3, 4, 1600), "c.test");
	T_EQ_STR(addrmap_get(m, a2, 4, 1600), "b.test");

	/* Putting an expired address again brings it back. */
	T_EQ_INT(addrmap_put(m, a2, 4, "b2.test", 5000, 10), 0);
	T_EQ_STR(addrmap_get(m, a2, 4, 5009), "b2.test");
	T_CHECK(addrmap_get(m, a2, 4, 5010) == NULL);
	addrmap_destroy(m);
}

static void addr_n(uint8_t *a, size_t alen, unsigned n)
{
	memset(a, 0, alen);
	a[0] = 10;
	a[alen - 2] = (uint8_t)(n >> 8);
	a[alen - 1] = (uint8_t)n;
}

/* When full, the least recently REFRESHED entry goes: a get does not
 * count, a put of a known address does. */
static void test_cap_eviction(void)
{
	struct addrmap *m = NULL;
	uint8_t a[4];
	char name[32];

	T_EQ_INT(addrmap_create(3, key, &m), 0);
	if (m == NULL)
		return;
	for (unsigned i = 0; i < 3; i++) {
		addr_n(a, 4, i);
		snprintf(name, sizeof(name), "n%u.test", i);
		T_EQ_INT(addrmap_put(m, a, 4, name, 100 + i, 100000), 0);
	}
	T_EQ_INT(addrmap_count(m), 3);
	/* get(n0) is no refresh; put(n1) is. Order now: n0, n2, n1. */
	addr_n(a, 4, 0);
	T_EQ_STR(addrmap_get(m, a, 4, 200), "n0.test");
	addr_n(a, 4, 1);
	T_EQ_INT(addrmap_put(m, a, 4, "n1b.test", 200, 100000), 0);

	addr_n(a, 4, 3);
	T_EQ_INT(addrmap_put(m, a, 4, "n3.test", 300, 100000), 0);
	T_EQ_INT(addrmap_count(m), 3);
	addr_n(a, 4, 0);
	T_CHECK(addrmap_get(m, a, 4, 300) == NULL); /* evicted */
	addr_n(a, 4, 2);
	T_EQ_STR(addrmap_get(m, a, 4, 300), "n2.test");
	addr_n(a, 4, 1);
	T_EQ_STR(addrmap_get(m, a, 4, 300), "n1b.test");

	addr_n(a, 4, 4);
	T_EQ_INT(addrmap_put(m, a, 4, "n4.test", 400, 100000), 0);
	addr_n(a, 4, 2);
	T_CHECK(addrmap_get(m, a, 4, 400) == NULL); /* next oldest */
	addr_n(a, 4, 1);
	T_EQ_STR(addrmap_get(m, a, 4, 400), "n1b.test");
	addr_n(a, 4, 3);
	T_EQ_STR(addrmap_get(m, a, 4, 400), "n3.test");
	T_EQ_INT(addrmap_count(m), 3);
	addrmap_destroy(m);

	/* cap 1: every new address replaces the only entry. */
	T_EQ_INT(addrmap_create(1, key, &m), 0);
	if (m == NULL)
		return;
	T_EQ_INT(addrmap_put(m, a1, 4, "one.test", 0, 1000), 0);
	T_EQ_INT(addrmap_put(m, a2, 4, "two.test", 0, 1000), 0);
	T_EQ_INT(addrmap_count(m), 1);
	T_CHECK(addrmap_get(m, a1, 4, 0) == NULL);
	T_EQ_STR(addrmap_get(m, a2, 4, 0), "two.test");
	addrmap_destroy(m);
}

/* A 16-byte key starting with the 4 bytes of a v4 key is another key. */
static void test_v4_v6_distinct(void)
{
	struct addrmap *m = NULL;
	uint8_t v6[16] = { 0 }, v6b[16] = { 0 };

	memcpy(v6, a1, 4);
	memcpy(v6b, a1, 4);
	v6b[15] = 1;
	T_EQ_INT(addrmap_create(16, key, &m), 0);
	if (m == NULL)
		return;
	T_EQ_INT(addrmap_put(m, a1, 4, "four.test", 0, 1000), 0);
	T_CHECK(addrmap_get(m, v6, 16, 0) == NULL);
	T_EQ_INT(addrmap_put(m, v6, 16, "six.test", 0, 1000), 0);
	T_EQ_INT(addrmap_count(m), 2);
	T_EQ_STR(addrmap_get(m, a1, 4, 0), "four.test");
	T_EQ_STR(addrmap_get(m, v6, 16, 0), "six.test");
	T_CHECK(addrmap_get(m, v6b, 16, 0) == NULL);
	addrmap_destroy(m);
}

static void test_bad_args(void)
{
	struct addrmap *m = (struct addrmap *)&m;
	char toolong[255];

	T_EQ_INT(addrmap_create(0, key, &m), -EINVAL);
	T_CHECK(m == NULL);
	T_EQ_INT(addrmap_create(2, key, &m), 0);
	if (m == NULL)
		return;
	T_EQ_INT(addrmap_put(m, a1, 0, "a.test", 0, 1000), -EINVAL);
	T_EQ_INT(addrmap_put(m, a1, 5, "a.test", 0, 1000), -EINVAL);
	T_EQ_INT(addrmap_put(m, a1, 6, "a.test", 0, 1000), -EINVAL);
	T_EQ_INT(addrmap_put(m, a1, 4, "", 0, 1000), -EINVAL);
	memset(toolong, 'a', 254);
	toolong[254] = '\0';
	T_EQ_INT(addrmap_put(m, a1, 4, toolong, 0, 1000), -EINVAL);
	T_EQ_INT(addrmap_count(m), 0);
	T_CHECK(addrmap_get(m, a1, 4, 0) == NULL);
	T_EQ_INT(addrmap_put(m, a1, 4, "a.test", 0, 1000), 0);
	T_CHECK(addrmap_get(m, a1, 5, 0) == NULL);
	T_CHECK(addrmap_get(m, a1, 0, 0) == NULL);
	/* A refused put leaves the entry as it was. */
	T_EQ_INT(addrmap_put(m, a1, 4, "", 10, 99999), -EINVAL);
	T_EQ_STR(addrmap_get(m, a1, 4, 999), "a.test");
	T_CHECK(addrmap_get(m, a1, 4, 1000) == NULL);
	addrmap_destroy(m);
}

/* ---- randomized against a reference ------------------------------------ */

enum { UNIVERSE_MAX = 96, REF_CAP_MAX = 64, NAMES = 40, OPS = 30000 };

struct ref_entry {
	uint8_t alen;
	uint8_t addr[16];
	char name[32];
	uint64_t expires;
};

/* Refresh order: e[0] is the oldest. */
struct ref {
	struct ref_entry e[REF_CAP_MAX];
	size_t n, cap;
};

static int ref_find(const struct ref *r, const uint8_t *addr, size_t alen)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].alen == alen && memcmp(r->e[i].addr, addr, alen) == 0)
			return (int)i;
	return -1;
}

static void ref_remove(struct ref *r, size_t i)
{
	memmove(&r->e[i], &r->e[i + 1], (r->n - i - 1) * sizeof(r->e[0]));
	r->n--;
}

static void ref_put(struct ref *r, const uint8_t *addr, size_t alen, const char *name, uint64_t now,
		    uint64_t keep)
{
	struct ref_entry e = { .alen = (uint8_t)alen, .expires = now + keep };
	int i = ref_find(r, addr, alen);
	size_t k;

	memcpy(e.addr, addr, alen);
	for (k = 0; name[k]; k++)
		e.name[k] = (name[k] >= 'A' && name[k] <= 'Z') ? (char)(name[k] + 32) : name[k];
	e.name[k] = '\0';
	if (i >= 0)
		ref_remove(r, (size_t)i);
	else if (r->n == r->cap || (r->n > 0 && r->e[0].expires <= now))
		ref_remove(r, 0);
	r->e[r->n++] = e;
}

static const char *ref_get(const struct ref *r, const uint8_t *addr, size_t alen, uint64_t now)
{
	int i = ref_find(r, addr, alen);

	return i >= 0 && r->e[i].expires > now ? r->e[i].name : NULL;
}

/* xorshift64*: fixed seed, same run on every machine. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Universe: v4 addresses and v6 addresses whose first 4 bytes are the
 * same as some v4 one (so a map keyed on the leading bytes would merge
 * them), a few differing only in their last byte. */
static void universe_addr(unsigned universe, unsigned i, uint8_t *a, size_t *alen)
{
	unsigned k = i % (universe / 2);

	memset(a, 0, 16);
	a[0] = 192;
	a[1] = 0;
	a[2] = 2;
	a[3] = (uint8_t)k;
	if (i < universe / 2) {
		*alen = 4;
	} else {
		*alen = 16;
		a[15] = (uint8_t)(k & 3);
	}
}

static void random_run(uint32_t cap, unsigned universe, uint64_t seed)
{
	static const uint64_t keeps[] = { 0, 1, 5, 50, 400, 5000 };
	struct addrmap *m = NULL;
	struct ref *ref = calloc(1, sizeof(*ref));
	uint64_t now = 1000;
	char names[NAMES][32];
	int mismatches = 0, puts_ok = 0;
	unsigned op;

	T_CHECK(ref != NULL);
	if (ref == NULL)
		return;
	ref->cap = cap;
	for (unsigned i = 0; i < NAMES; i++)
		snprintf(names[i], sizeof(names[i]), "%sHost%u.Example%u.test", (i & 1) ? "W" : "w",
			 i, i % 7);
	T_EQ_INT(addrmap_create(cap, key, &m), 0);
	if (m == NULL) {
		free(ref);
		return;
	}
	for (op = 0; op < OPS && mismatches < 10; op++) {
		uint64_t x = rng_next(&seed);
		uint8_t a[16];
		size_t alen;

		universe_addr(universe, (unsigned)(x % universe), a, &alen);
		switch ((x >> 16) % 8) {
		case 0: /* time passes */
			now += (x >> 24) % 300;
			break;
		default: {
			const char *name = names[(x >> 24) % NAMES];
			uint64_t keep = keeps[(x >> 40) % (sizeof(keeps) / sizeof(keeps[0]))];

			if (addrmap_put(m, a, alen, name, now, keep) == 0)
				puts_ok++;
			ref_put(ref, a, alen, name, now, keep);
			break;
		}
		}
		if (addrmap_count(m) != ref->n || addrmap_count(m) > cap)
			mismatches++;
		/* Looking every address up after every step also shows that a
		 * get never counts as a refresh: the eviction order would
		 * drift from the reference's. */
		for (unsigned i = 0; i < universe; i++) {
			const char *got, *want;

			universe_addr(universe, i, a, &alen);
			got = addrmap_get(m, a, alen, now);
			want = ref_get(ref, a, alen, now);
			if ((got == NULL) != (want == NULL) ||
			    (got != NULL && strcmp(got, want) != 0)) {
				if (mismatches++ < 3)
					fprintf(stderr, "op %u addr %u: got %s want %s\n", op, i,
						got ? got : "(null)", want ? want : "(null)");
			}
		}
	}
	T_EQ_INT(mismatches, 0);
	/* The run did exercise the map: most puts were accepted. */
	T_CHECK(puts_ok > (int)(op / 2));
	addrmap_destroy(m);
	free(ref);
}

static void test_random_vs_reference(void)
{
	/* More addresses than room: eviction of the oldest dominates. */
	random_run(24, 96, 0x9E3779B97F4A7C15ULL);
	/* Room to spare: entries mostly leave by expiry, and new addresses
	 * reuse an expired oldest entry instead of growing the map. */
	random_run(64, 48, 0xD1B54A32D192ED03ULL);
	random_run(1, 8, 42);
}

int main(void)
{
	T_RUN(test_put_get);
	T_RUN(test_expiry);
	T_RUN(test_cap_eviction);
	T_RUN(test_v4_v6_distinct);
	T_RUN(test_bad_args);
	T_RUN(test_random_vs_reference);
	return test_summary();
}
