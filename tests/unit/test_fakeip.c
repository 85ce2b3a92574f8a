/* Unit tests for the fake-IP pool (resolver/fakeip.c).
 *
 * The stress tests drive the pool and a naive reference model (one array
 * slot per address, linear scans, a use clock instead of a list) with the
 * same random operations and compare every answer, so allocation order,
 * LRU choice, pin protection, the minimum age and -ENOSPC / -EAGAIN are
 * all checked, not just "some address came back". The pool's clock is
 * test_clock_ms, moved by hand. Run under the ASan build for leaks.
 */
#include "resolver/fakeip.h"
#include "test.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t zero16[16];

/* The pool's clock in the tests that give it one. */
static uint64_t test_clock_ms;

static uint64_t test_now(void *arg)
{
	(void)arg;
	return test_clock_ms;
}

static uint32_t rng_state = 2463534242u;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

static struct fakeip *make4(const char *what, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
			    uint8_t prefix, uint32_t max_entries)
{
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = NULL;

	cfg.has4 = true;
	cfg.net4[0] = a;
	cfg.net4[1] = b;
	cfg.net4[2] = c;
	cfg.net4[3] = d;
	cfg.prefix4 = prefix;
	cfg.max_entries = max_entries;
	if (fakeip_create(&cfg, &f) != 0 || !f) {
		fprintf(stderr, "%s: fakeip_create failed\n", what);
		abort();
	}
	return f;
}

static void ip4(uint8_t out[4], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	out[0] = a;
	out[1] = b;
	out[2] = c;
	out[3] = d;
}

/* --- fixed cases ------------------------------------------------------- */

static void test_same_and_distinct(void)
{
	struct fakeip *f = make4(__func__, 198, 18, 0, 0, 15, 0);
	uint8_t a[4], b[4], c[4], want[4];

	T_EQ_INT(fakeip_lookup4(f, "example.com", a), 0);
	ip4(want, 198, 18, 0, 1); /* .0 is the network address */
	T_EQ_MEM(a, want, 4);
	T_EQ_INT(fakeip_lookup4(f, "example.com", b), 0);
	T_EQ_MEM(a, b, 4);
	T_EQ_INT(fakeip_lookup4(f, "example.org", c), 0);
	T_CHECK(memcmp(a, c, 4) != 0);
	ip4(want, 198, 18, 0, 2);
	T_EQ_MEM(c, want, 4);
	T_EQ_INT(fakeip_count(f), 2);

	/* Case and one trailing dot do not make another name. */
	T_EQ_INT(fakeip_lookup4(f, "EXAMPLE.Com.", b), 0);
	T_EQ_MEM(a, b, 4);
	T_EQ_INT(fakeip_lookup4(f, "Example.ORG", b), 0);
	T_EQ_MEM(c, b, 4);
	T_EQ_INT(fakeip_count(f), 2);
	T_EQ_STR(fakeip_domain4(f, a), "example.com");

	/* Stored lower case, without the dot. */
	T_EQ_INT(fakeip_lookup4(f, "WWW.Example.NET.", a), 0);
	T_EQ_STR(fakeip_peek4(f, a), "www.example.net");
	T_EQ_INT(fakeip_find4(f, "www.EXAMPLE.net", b), 0);
	T_EQ_MEM(a, b, 4);
	T_EQ_INT(fakeip_count(f), 3);
	fakeip_destroy(f);
	fakeip_destroy(NULL);
}

static void test_invalid_names(void)
{
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "a.b..", "a b", "a\tb", "a\x7f", "\xc3\xa4.com", NULL,
	};
	struct fakeip *f = make4(__func__, 198, 18, 0, 0, 15, 0);
	char name[300];
	uint8_t a[4];

	for (const char *const *p = bad; *p; p++) {
		memset(a, 0xaa, 4);
		T_EQ_INT(fakeip_lookup4(f, *p, a), -EINVAL);
		T_EQ_MEM(a, zero16, 4);
		T_EQ_INT(fakeip_find4(f, *p, a), -EINVAL);
	}
	/* 63-byte label fine, 64 not. */
	memset(name, 'x', 64);
	strcpy(name + 64, ".com");
	T_EQ_INT(fakeip_lookup4(f, name, a), -EINVAL);
	T_EQ_INT(fakeip_lookup4(f, name + 1, a), 0);
	/* 253 bytes fine (also with the dot), 254 not. */
	for (int i = 0; i < 254; i++)
		name[i] = (i % 2) ? '.' : 'y';
	name[253] = '\0';
	T_EQ_INT(fakeip_lookup4(f, name, a), 0);
	name[253] = '.';
	name[254] = '\0';
	uint8_t b[4];
	T_EQ_INT(fakeip_lookup4(f, name, b), 0);
	T_EQ_MEM(a, b, 4);
	name[253] = 'z';
	T_EQ_INT(fakeip_lookup4(f, name, a), -EINVAL);
	/* Odd but printable bytes (escapes from a DNS decoder) are kept. */
	T_EQ_INT(fakeip_lookup4(f, "_sip._tcp.Ex\\032ample.com", a), 0);
	T_EQ_STR(fakeip_domain4(f, a), "_sip._tcp.ex\\032ample.com");
	T_EQ_INT(fakeip_count(f), 3);
	fakeip_destroy(f);
}

static void test_exclusions(void)
{
	const uint8_t excl[][4] = {
		{ 10, 0, 0, 1 },  { 10, 0, 0, 5 }, { 10, 0, 0, 5 }, /* duplicate */
		{ 192, 0, 2, 1 },                                   /* outside */
		{ 10, 0, 0, 14 },
	};
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = NULL;
	uint8_t a[4], seen[16] = { 0 }, first[4];
	char name[32];

	cfg.has4 = true;
	ip4(cfg.net4, 10, 0, 0, 0);
	cfg.prefix4 = 28; /* 16 addresses; -.0 -.15 -.1 -.5 -.14 = 11 usable */
	cfg.exclude4 = excl;
	cfg.n_exclude4 = sizeof(excl) / sizeof(excl[0]);
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	if (!f)
		return;
	for (int i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		T_EQ_INT(fakeip_lookup4(f, name, a), 0);
		T_CHECK(a[0] == 10 && a[1] == 0 && a[2] == 0 && a[3] < 16);
		T_CHECK(a[3] != 0 && a[3] != 15 && a[3] != 1 && a[3] != 5 && a[3] != 14);
		T_EQ_INT(seen[a[3] & 15], 0);
		seen[a[3] & 15] = 1;
		if (i == 0)
			memcpy(first, a, 4);
	}
	T_EQ_INT(fakeip_count(f), 11);
	/* The pool is full: the next name takes the oldest mapping's address. */
	T_EQ_INT(fakeip_lookup4(f, "late.test", a), 0);
	T_EQ_MEM(a, first, 4);
	T_EQ_INT(fakeip_count(f), 11);
	T_EQ_INT(fakeip_find4(f, "n0.test", a), -ENOENT);
	T_EQ_MEM(a, zero16, 4);
	/* Excluded addresses in the range have no mapping. */
	ip4(a, 10, 0, 0, 5);
	T_CHECK(fakeip_domain4(f, a) == NULL);
	T_CHECK(fakeip_contains4(f, a));
	T_EQ_INT(fakeip_pin4(f, a), -ENOENT);
	fakeip_destroy(f);
}

static void test_reverse_and_contains(void)
{
	struct fakeip *f = make4(__func__, 198, 18, 0, 0, 15, 0);
	uint8_t a[4], x[4];

	T_EQ_INT(fakeip_lookup4(f, "a.example", a), 0);
	T_EQ_STR(fakeip_domain4(f, a), "a.example");
	T_EQ_STR(fakeip_peek4(f, a), "a.example");
	ip4(x, 198, 18, 0, 2); /* in range, never handed out */
	T_CHECK(fakeip_domain4(f, x) == NULL);
	T_CHECK(fakeip_peek4(f, x) == NULL);
	ip4(x, 198, 19, 255, 255);
	T_CHECK(fakeip_domain4(f, x) == NULL);
	T_CHECK(fakeip_contains4(f, x));
	ip4(x, 198, 18, 0, 0);
	T_CHECK(fakeip_contains4(f, x));
	T_CHECK(fakeip_domain4(f, x) == NULL);
	ip4(x, 198, 20, 0, 1);
	T_CHECK(!fakeip_contains4(f, x));
	T_CHECK(fakeip_domain4(f, x) == NULL);
	ip4(x, 198, 17, 255, 255);
	T_CHECK(!fakeip_contains4(f, x));
	ip4(x, 10, 0, 0, 1);
	T_CHECK(!fakeip_contains4(f, x));
	/* No IPv6 pool: nothing is in it. */
	uint8_t v6[16] = { 0xfd };
	T_CHECK(!fakeip_contains6(f, v6));
	T_CHECK(fakeip_domain6(f, v6) == NULL);
	T_EQ_INT(fakeip_lookup6(f, "a.example", v6), -EAFNOSUPPORT);
	T_EQ_MEM(v6, zero16, 16);
	T_EQ_INT(fakeip_find6(f, "a.example", v6), -EAFNOSUPPORT);
	T_EQ_INT(fakeip_pin6(f, v6), -ENOENT);
	fakeip_destroy(f);
}

/* /29: .1 .. .6 usable. */
static void test_lru_order(void)
{
	struct fakeip *f = make4(__func__, 192, 0, 2, 0, 29, 0);
	const char *names[] = { "a", "b", "c", "d", "e", "f" };
	uint8_t a[4], x[4];

	for (int i = 0; i < 6; i++) {
		T_EQ_INT(fakeip_lookup4(f, names[i], a), 0);
		T_EQ_INT(a[3], i + 1);
	}
	T_EQ_INT(fakeip_lookup4(f, "a", a), 0); /* use a */
	ip4(x, 192, 0, 2, 2);
	T_EQ_STR(fakeip_domain4(f, x), "b");    /* use b */
	T_EQ_INT(fakeip_lookup4(f, "g", a), 0); /* evicts c */
	T_EQ_INT(a[3], 3);
	T_EQ_INT(fakeip_lookup4(f, "h", a), 0); /* evicts d */
	T_EQ_INT(a[3], 4);
	T_EQ_INT(fakeip_find4(f, "c", a), -ENOENT);
	ip4(x, 192, 0, 2, 3);
	T_EQ_STR(fakeip_peek4(f, x), "g");
	/* peek and find are not uses: e, then f, stay the oldest. */
	ip4(x, 192, 0, 2, 5);
	T_EQ_STR(fakeip_peek4(f, x), "e");
	T_EQ_INT(fakeip_find4(f, "f", a), 0);
	T_EQ_INT(fakeip_lookup4(f, "i", a), 0);
	T_EQ_INT(a[3], 5);
	T_EQ_INT(fakeip_lookup4(f, "j", a), 0);
	T_EQ_INT(a[3], 6);
	/* Order now: a b g h i j. */
	T_EQ_INT(fakeip_lookup4(f, "k", a), 0);
	T_EQ_INT(a[3], 1);
	T_EQ_INT(fakeip_count(f), 6);
	fakeip_destroy(f);
}

/* /30: .1 and .2 usable. */
static void test_pins_and_enospc(void)
{
	struct fakeip *f = make4(__func__, 192, 0, 2, 0, 30, 0);
	uint8_t a1[4], a2[4], a[4], x[4];

	T_EQ_INT(fakeip_lookup4(f, "a", a1), 0);
	T_EQ_INT(fakeip_lookup4(f, "b", a2), 0);
	T_EQ_INT(fakeip_pin4(f, a1), 0);
	T_EQ_INT(fakeip_pin4(f, a2), 0);
	memset(a, 0xaa, 4);
	T_EQ_INT(fakeip_lookup4(f, "c", a), -ENOSPC);
	T_EQ_MEM(a, zero16, 4);
	T_EQ_INT(fakeip_lookup4(f, "a", a), 0); /* existing names still answer */
	T_EQ_MEM(a, a1, 4);
	T_EQ_INT(fakeip_count(f), 2);

	T_EQ_INT(fakeip_unpin4(f, a2), 0);
	T_EQ_INT(fakeip_unpin4(f, a2), -ENOENT); /* not pinned any more */
	T_EQ_INT(fakeip_lookup4(f, "c", a), 0);
	T_EQ_MEM(a, a2, 4);
	T_EQ_STR(fakeip_domain4(f, a2), "c");
	T_EQ_STR(fakeip_domain4(f, a1), "a");

	/* Pins count: a pinned twice survives one unpin. */
	T_EQ_INT(fakeip_pin4(f, a1), 0);        /* a: 2 pins */
	T_EQ_INT(fakeip_lookup4(f, "d", a), 0); /* evicts c */
	T_EQ_MEM(a, a2, 4);
	T_EQ_INT(fakeip_unpin4(f, a1), 0);      /* a: 1 pin */
	T_EQ_INT(fakeip_lookup4(f, "e", a), 0); /* evicts d, not a */
	T_EQ_MEM(a, a2, 4);
	T_EQ_STR(fakeip_peek4(f, a1), "a");
	/* The final unpin is a use: a is now newer than e. */
	T_EQ_INT(fakeip_unpin4(f, a1), 0);
	T_EQ_INT(fakeip_lookup4(f, "f", a), 0);
	T_EQ_MEM(a, a2, 4);
	T_EQ_INT(fakeip_lookup4(f, "g", a), 0);
	T_EQ_MEM(a, a1, 4);

	/* Pinning what is not a mapping. */
	ip4(x, 192, 0, 2, 3); /* broadcast, excluded */
	T_EQ_INT(fakeip_pin4(f, x), -ENOENT);
	ip4(x, 192, 0, 2, 9); /* outside */
	T_EQ_INT(fakeip_pin4(f, x), -ENOENT);
	T_EQ_INT(fakeip_unpin4(f, x), -ENOENT);
	fakeip_destroy(f);
}

static void test_ipv6(void)
{
	static const uint8_t net[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76 };
	const uint8_t excl[1][16] = { { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 0, 0, 0, 0, 0, 0, 0,
					0, 1 } };
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = NULL;
	uint8_t a[16], b[16], want[16], a4[4];

	cfg.has6 = true;
	memcpy(cfg.net6, net, 16);
	cfg.prefix6 = 64;
	cfg.exclude6 = excl;
	cfg.n_exclude6 = 1;
	cfg.has4 = true;
	ip4(cfg.net4, 198, 18, 0, 0);
	cfg.prefix4 = 15;
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	if (!f)
		return;
	T_EQ_INT(fakeip_lookup6(f, "example.com", a), 0);
	memcpy(want, net, 16);
	want[15] = 2; /* ::0 is the subnet-router anycast, ::1 excluded */
	T_EQ_MEM(a, want, 16);
	T_EQ_INT(fakeip_lookup6(f, "Example.Com.", b), 0);
	T_EQ_MEM(a, b, 16);
	T_EQ_INT(fakeip_lookup6(f, "example.org", b), 0);
	want[15] = 3;
	T_EQ_MEM(b, want, 16);
	T_EQ_STR(fakeip_domain6(f, a), "example.com");
	T_EQ_STR(fakeip_peek6(f, b), "example.org");
	T_EQ_INT(fakeip_find6(f, "example.org", want), 0);
	T_EQ_MEM(b, want, 16);
	T_CHECK(fakeip_contains6(f, a));
	want[15] = 4;
	T_CHECK(fakeip_contains6(f, want));
	T_CHECK(fakeip_domain6(f, want) == NULL);
	want[7] = 1; /* next /64 */
	T_CHECK(!fakeip_contains6(f, want));
	T_CHECK(fakeip_domain6(f, want) == NULL);

	/* The families are independent pools; a name may hold one of each. */
	T_EQ_INT(fakeip_lookup4(f, "example.com", a4), 0);
	T_EQ_INT(a4[3], 1);
	T_EQ_INT(fakeip_count(f), 3);
	T_EQ_INT(fakeip_pin6(f, a), 0);
	T_EQ_INT(fakeip_unpin4(f, a4), -ENOENT);
	T_EQ_INT(fakeip_unpin6(f, a), 0);
	fakeip_destroy(f);

	/* Wider than 2^64 (/32): offsets live in the low 64 bits. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.has6 = true;
	memcpy(cfg.net6, net, 16);
	cfg.net6[5] = 0x77; /* host bits: ignored */
	cfg.prefix6 = 32;
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	if (!f)
		return;
	T_EQ_INT(fakeip_lookup6(f, "x", a), 0);
	memset(want, 0, 16);
	memcpy(want, net, 4);
	want[15] = 1;
	T_EQ_MEM(a, want, 16);
	want[6] = 1; /* in the range, beyond any offset the pool uses */
	T_CHECK(fakeip_contains6(f, want));
	T_CHECK(fakeip_domain6(f, want) == NULL);
	T_EQ_INT(fakeip_lookup4(f, "x", a4), -EAFNOSUPPORT);
	fakeip_destroy(f);
}

static void test_create_errors(void)
{
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = (struct fakeip *)&cfg;
	const uint8_t self[1][4] = { { 10, 1, 2, 3 } };
	uint8_t a[4];

	T_EQ_INT(fakeip_create(&cfg, &f), -EINVAL); /* no family */
	T_CHECK(f == NULL);
	cfg.has4 = true;
	cfg.prefix4 = 33;
	T_EQ_INT(fakeip_create(&cfg, &f), -EINVAL);
	cfg.prefix4 = 24;
	cfg.has6 = true;
	cfg.prefix6 = 129;
	T_EQ_INT(fakeip_create(&cfg, &f), -EINVAL);
	T_CHECK(f == NULL);

	/* A /32 whose only address is excluded has nothing to hand out. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.has4 = true;
	memcpy(cfg.net4, self[0], 4);
	cfg.prefix4 = 32;
	cfg.exclude4 = self;
	cfg.n_exclude4 = 1;
	T_EQ_INT(fakeip_create(&cfg, &f), -EINVAL);
	/* Without the exclusion it is one usable address. */
	cfg.n_exclude4 = 0;
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	if (f) {
		T_EQ_INT(fakeip_lookup4(f, "one", a), 0);
		T_EQ_MEM(a, self[0], 4);
		T_EQ_INT(fakeip_lookup4(f, "two", a), 0);
		T_EQ_MEM(a, self[0], 4);
		T_CHECK(fakeip_peek4(f, a) && strcmp(fakeip_peek4(f, a), "two") == 0);
		fakeip_destroy(f);
	}
	/* A /31 has no network or broadcast address. */
	f = make4(__func__, 10, 0, 0, 7, 31, 0); /* host bit set: ignored */
	T_EQ_INT(fakeip_lookup4(f, "a", a), 0);
	T_EQ_INT(a[3], 6);
	T_EQ_INT(fakeip_lookup4(f, "b", a), 0);
	T_EQ_INT(a[3], 7);
	fakeip_destroy(f);
	/* max_entries above the range size is clamped to it. */
	f = make4(__func__, 10, 0, 0, 0, 24, 1000);
	for (int i = 0; i < 300; i++) {
		char name[16];

		snprintf(name, sizeof(name), "h%d", i);
		T_EQ_INT(fakeip_lookup4(f, name, a), 0);
	}
	T_EQ_INT(fakeip_count(f), 254);
	fakeip_destroy(f);
}

/* The default cap on a /15: 65536 mappings, handed out in order, then the
 * oldest is reused. Also grows every table through many sizes. */
static void test_default_cap(void)
{
	struct fakeip *f = make4(__func__, 198, 18, 0, 0, 15, 0);
	char name[32];
	uint8_t a[4];
	int wrong = 0;

	for (uint32_t i = 0; i < FAKEIP_DEFAULT_MAX_ENTRIES; i++) {
		uint32_t want = (198u << 24 | 18u << 16) + i + 1;

		snprintf(name, sizeof(name), "host%u.example", i);
		if (fakeip_lookup4(f, name, a) != 0 ||
		    ((uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3]) !=
			    want)
			wrong++;
	}
	T_EQ_INT(wrong, 0);
	T_EQ_INT(fakeip_count(f), FAKEIP_DEFAULT_MAX_ENTRIES);
	for (uint32_t i = 0; i < FAKEIP_DEFAULT_MAX_ENTRIES; i += 997) {
		snprintf(name, sizeof(name), "host%u.example", i);
		wrong += fakeip_find4(f, name, a) != 0 || !fakeip_peek4(f, a) ||
			 strcmp(fakeip_peek4(f, a), name) != 0;
	}
	T_EQ_INT(wrong, 0);
	T_EQ_INT(fakeip_lookup4(f, "one.more", a), 0);
	T_EQ_INT(a[0], 198);
	T_EQ_INT(a[1], 18);
	T_EQ_INT(a[2], 0);
	T_EQ_INT(a[3], 1);
	T_EQ_INT(fakeip_count(f), FAKEIP_DEFAULT_MAX_ENTRIES);
	fakeip_destroy(f);
}

/* A /28 (14 usable addresses) with a 60 s minimum age: no address goes
 * to a new name until it has been unused that long; until then the
 * lookup fails with -EAGAIN and the old mapping stays intact. Every use
 * (lookup, domain, the final unpin) restarts the age; peek and find are
 * not uses. */
static void test_min_age(void)
{
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = NULL;
	uint8_t a[4], x[4], first[4], second[4], third[4];
	char name[32];

	cfg.has4 = true;
	ip4(cfg.net4, 10, 9, 8, 0);
	cfg.prefix4 = 28;
	cfg.min_age_ms = 60000;
	cfg.now_ms = test_now;
	test_clock_ms = 1000000;
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	if (!f)
		return;
	/* n0..n13 one second apart take the 14 addresses. */
	for (int i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		T_EQ_INT(fakeip_lookup4(f, name, a), 0);
		T_EQ_INT(a[3], i + 1);
		test_clock_ms += 1000;
	}
	memcpy(first, (uint8_t[]){ 10, 9, 8, 1 }, 4);
	memcpy(second, (uint8_t[]){ 10, 9, 8, 2 }, 4);
	memcpy(third, (uint8_t[]){ 10, 9, 8, 3 }, 4);
	/* n0 is 14 s old: nobody else gets its address, the answer is
	 * cleared and n0 keeps it. */
	memset(a, 0xaa, 4);
	T_EQ_INT(fakeip_lookup4(f, "new.example", a), -EAGAIN);
	T_EQ_MEM(a, zero16, 4);
	T_EQ_STR(fakeip_peek4(f, first), "n0.example");
	T_EQ_INT(fakeip_find4(f, "new.example", a), -ENOENT);
	/* Known names still answer, without waiting. */
	T_EQ_INT(fakeip_lookup4(f, "n13.example", a), 0);
	T_EQ_INT(a[3], 14);
	/* One millisecond short of 60 s: still too young. */
	test_clock_ms = 1000000 + 60000 - 1;
	T_EQ_INT(fakeip_lookup4(f, "new.example", a), -EAGAIN);
	T_EQ_STR(fakeip_peek4(f, first), "n0.example");
	/* At 60 s n0's address goes to the new name. */
	test_clock_ms = 1000000 + 60000;
	T_EQ_INT(fakeip_lookup4(f, "new.example", a), 0);
	T_EQ_MEM(a, first, 4);
	T_EQ_STR(fakeip_peek4(f, first), "new.example");
	T_EQ_INT(fakeip_find4(f, "n0.example", a), -ENOENT);
	/* A use restarts the age: a flow's look at n1's address (61 s old)
	 * keeps it; n2's goes next, once it is 60 s old. */
	test_clock_ms = 1000000 + 61000;
	T_EQ_STR(fakeip_domain4(f, second), "n1.example");
	T_EQ_INT(fakeip_lookup4(f, "new2.example", a), -EAGAIN);
	test_clock_ms = 1000000 + 62000;
	T_EQ_INT(fakeip_lookup4(f, "new2.example", a), 0);
	T_EQ_MEM(a, third, 4);
	T_EQ_STR(fakeip_peek4(f, second), "n1.example");
	/* n3 (used at 3 s) is 60 s old only at 63 s. */
	T_EQ_INT(fakeip_lookup4(f, "new3.example", a), -EAGAIN);
	test_clock_ms = 1000000 + 63000;
	T_EQ_INT(fakeip_lookup4(f, "new3.example", a), 0);
	T_EQ_INT(a[3], 4);

	/* A pinned address is never taken, however old; its final unpin is
	 * a use, so it becomes free only 60 s after its flow ended. */
	ip4(x, 10, 9, 8, 5); /* n4's */
	T_EQ_INT(fakeip_pin4(f, x), 0);
	test_clock_ms = 1000000 + 500000;
	for (int i = 0; i < 13; i++) {
		snprintf(name, sizeof(name), "late%d.example", i);
		T_EQ_INT(fakeip_lookup4(f, name, a), 0);
		T_CHECK(memcmp(a, x, 4) != 0);
	}
	T_EQ_STR(fakeip_peek4(f, x), "n4.example");
	/* Every unpinned one was used just now: too young, not "all pinned". */
	T_EQ_INT(fakeip_lookup4(f, "more.example", a), -EAGAIN);
	T_EQ_INT(fakeip_unpin4(f, x), 0);
	T_EQ_INT(fakeip_lookup4(f, "more.example", a), -EAGAIN);
	test_clock_ms += 60000;
	T_EQ_INT(fakeip_lookup4(f, "more.example", a), 0);
	T_CHECK(memcmp(a, x, 4) != 0); /* late0's: the oldest (same time, first) */
	T_EQ_STR(fakeip_peek4(f, x), "n4.example");
	T_EQ_INT(fakeip_count(f), 14);
	fakeip_destroy(f);

	/* A minimum age without a clock does nothing: plain LRU. */
	cfg.now_ms = NULL;
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	if (!f)
		return;
	for (int i = 0; i < 15; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		T_EQ_INT(fakeip_lookup4(f, name, a), 0);
	}
	T_EQ_MEM(a, first, 4);
	fakeip_destroy(f);
}

/* --- reference model --------------------------------------------------- */

struct ref_slot {
	bool live;
	char name[64];
	uint32_t pins;
	uint64_t stamp;  /* last use, in uses */
	uint64_t t_used; /* last use, in test_clock_ms */
};

struct ref {
	unsigned span;
	bool excluded[256];
	struct ref_slot slot[256];
	unsigned cursor, count, cap;
	uint64_t clock;
	uint64_t min_age; /* ms; 0: none */
};

static void ref_use(struct ref *r, struct ref_slot *s)
{
	s->stamp = ++r->clock;
	s->t_used = test_clock_ms;
}

static int ref_find(const struct ref *r, const char *name)
{
	for (unsigned i = 0; i < r->span; i++)
		if (r->slot[i].live && strcmp(r->slot[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Returns the offset, -ENOSPC or -EAGAIN. */
static int ref_lookup(struct ref *r, const char *name)
{
	int i = ref_find(r, name);

	if (i >= 0) {
		if (r->slot[i].pins == 0)
			ref_use(r, &r->slot[i]);
		return i;
	}
	if (r->count < r->cap) {
		while (r->excluded[r->cursor])
			r->cursor++;
		i = (int)r->cursor++;
		r->count++;
	} else {
		uint64_t best = UINT64_MAX;

		for (unsigned k = 0; k < r->span; k++)
			if (r->slot[k].live && r->slot[k].pins == 0 && r->slot[k].stamp < best) {
				best = r->slot[k].stamp;
				i = (int)k;
			}
		if (i < 0)
			return -ENOSPC;
		if (r->min_age && test_clock_ms - r->slot[i].t_used < r->min_age)
			return -EAGAIN;
	}
	r->slot[i].live = true;
	snprintf(r->slot[i].name, sizeof(r->slot[i].name), "%s", name);
	r->slot[i].pins = 0;
	ref_use(r, &r->slot[i]);
	return i;
}

/* The operations of one family, so one driver runs both. */
struct fam {
	size_t alen;
	uint8_t base[16]; /* the network; the last byte is the offset */
	int (*lookup)(struct fakeip *, const char *, uint8_t *);
	int (*find)(const struct fakeip *, const char *, uint8_t *);
	const char *(*domain)(struct fakeip *, const uint8_t *);
	const char *(*peek)(const struct fakeip *, const uint8_t *);
	int (*pin)(struct fakeip *, const uint8_t *);
	int (*unpin)(struct fakeip *, const uint8_t *);
};

static void fam_addr(const struct fam *fm, unsigned off, uint8_t *out)
{
	memcpy(out, fm->base, fm->alen);
	out[fm->alen - 1] = (uint8_t)off;
}

struct pinned {
	unsigned off;
	char name[64];
};

/* Every live mapping agrees both ways, pinned ones keep their names; with
 * peek and find, so checking does not change the LRU order. */
static int check_state(struct fakeip *f, const struct ref *r, const struct fam *fm,
		       const struct pinned *pins, int n_pins)
{
	uint8_t a[16], got[16];
	int bad = 0;

	for (int i = 0; i < n_pins; i++) {
		const char *d;

		fam_addr(fm, pins[i].off, a);
		d = fm->peek(f, a);
		bad += !d || strcmp(d, pins[i].name) != 0;
	}
	for (unsigned off = 0; off < r->span; off++) {
		const char *d;

		fam_addr(fm, off, a);
		d = fm->peek(f, a);
		if (!r->slot[off].live) {
			bad += d != NULL;
			continue;
		}
		bad += !d || strcmp(d, r->slot[off].name) != 0;
		bad += fm->find(f, r->slot[off].name, got) != 0 || memcmp(got, a, fm->alen) != 0;
		bad += r->excluded[off];
	}
	bad += fakeip_count(f) != r->count;
	return bad;
}

/* Checks one lookup answer against the reference's; counts -ENOSPC and
 * -EAGAIN. */
static int check_answer(const struct fam *fm, int want, int got, const uint8_t *a, int *enospc)
{
	uint8_t w[16] = { 0 };

	if (want < 0) {
		(*enospc)++;
		return got != want || memcmp(a, zero16, fm->alen) != 0;
	}
	fam_addr(fm, (unsigned)want, w);
	return got != 0 || memcmp(a, w, fm->alen) != 0;
}

/* 10 000 distinct names through a pool of 2^(bits - prefix) addresses
 * (offsets in excl excluded), with random pins held by simulated flows;
 * with min_age, the clock moves 0-19 ms a step. */
static void stress(const struct fam *fm, unsigned prefix, const unsigned *excl, size_t n_excl,
		   uint32_t max_entries, uint64_t min_age)
{
	struct fakeip_config cfg = { 0 };
	uint8_t(*ex4)[4] = calloc(n_excl + 1, 4);
	uint8_t(*ex6)[16] = calloc(n_excl + 1, 16);
	struct ref *r = calloc(1, sizeof(*r));
	struct pinned pins[512];
	struct fakeip *f = NULL;
	int n_pins = 0, bad_state = 0, bad_answer = 0, enospc = 0;
	unsigned next_name = 0, usable = 0;
	uint8_t a[16];
	char name[64], norm[64];

	if (!ex4 || !ex6 || !r)
		abort();
	r->span = 1u << (fm->alen * 8 - prefix);
	for (size_t i = 0; i < n_excl; i++) {
		uint8_t x[16];

		fam_addr(fm, excl[i], x);
		memcpy(ex4[i], x, 4);
		memcpy(ex6[i], x, 16);
		r->excluded[excl[i]] = true;
	}
	r->excluded[0] = true; /* network / subnet-router anycast */
	if (fm->alen == 4)
		r->excluded[r->span - 1] = true; /* broadcast */
	for (unsigned i = 0; i < r->span; i++)
		usable += !r->excluded[i];
	r->cap = max_entries && max_entries < usable ? max_entries : usable;

	if (fm->alen == 4) {
		cfg.has4 = true;
		memcpy(cfg.net4, fm->base, 4);
		cfg.prefix4 = (uint8_t)prefix;
		cfg.exclude4 = (const uint8_t(*)[4])ex4;
		cfg.n_exclude4 = n_excl;
	} else {
		cfg.has6 = true;
		memcpy(cfg.net6, fm->base, 16);
		cfg.prefix6 = (uint8_t)prefix;
		cfg.exclude6 = (const uint8_t(*)[16])ex6;
		cfg.n_exclude6 = n_excl;
	}
	for (int i = 0; i < 16; i++)
		cfg.hash_key[i] = (uint8_t)rnd(256);
	cfg.max_entries = max_entries;
	if (min_age) {
		cfg.min_age_ms = min_age;
		cfg.now_ms = test_now;
		r->min_age = min_age;
	}
	test_clock_ms = 5000;
	T_EQ_INT(fakeip_create(&cfg, &f), 0);
	free(ex4); /* copied by create */
	free(ex6);
	if (!f) {
		free(r);
		return;
	}

	for (unsigned step = 0; next_name < 10000; step++) {
		/* Phases: flows pile up (pins outnumber unpins), then drain. */
		bool piling = (step / 1000) % 2 == 0;
		uint32_t op = rnd(100);
		bool allocated = false;

		if (min_age)
			test_clock_ms += rnd(20);
		if (op < 55) {
			/* A new name, in a spelling the pool must normalise. */
			snprintf(name, sizeof(name), "N%u.Example.", next_name);
			snprintf(norm, sizeof(norm), "n%u.example", next_name);
			next_name++;
			bad_answer += check_answer(fm, ref_lookup(r, norm), fm->lookup(f, name, a),
						   a, &enospc);
			allocated = true;
		} else if (op < 65 && next_name > 0) {
			/* An old name again: the same address while it is
			 * still mapped, else a new allocation. */
			snprintf(norm, sizeof(norm), "n%u.example", rnd(next_name));
			bad_answer += check_answer(fm, ref_lookup(r, norm), fm->lookup(f, norm, a),
						   a, &enospc);
			allocated = true;
		} else if (op < 75) {
			/* A PTR query or a flow's first look: a use. */
			unsigned off = rnd(r->span);
			const char *d;

			fam_addr(fm, off, a);
			d = fm->domain(f, a);
			if (r->slot[off].live) {
				if (r->slot[off].pins == 0)
					ref_use(r, &r->slot[off]);
				bad_answer += !d || strcmp(d, r->slot[off].name) != 0;
			} else {
				bad_answer += d != NULL;
			}
		} else if (op < (piling ? 97u : 80u)) {
			/* A flow starts: mostly on a mapped address (as real
			 * flows do), sometimes on any address of the range. */
			unsigned off = rnd(r->span);
			int got;

			if (rnd(5) != 0 && r->count > 0)
				while (!r->slot[off].live)
					off = rnd(r->span);

			fam_addr(fm, off, a);
			got = fm->pin(f, a);
			if (!r->slot[off].live) {
				bad_answer += got != -ENOENT;
			} else if (n_pins < (int)(sizeof(pins) / sizeof(pins[0]))) {
				bad_answer += got != 0;
				r->slot[off].pins++;
				pins[n_pins].off = off;
				strcpy(pins[n_pins].name, r->slot[off].name);
				n_pins++;
			} else {
				/* No room to track it: end it at once. */
				bad_answer += got != 0 || fm->unpin(f, a) != 0;
				if (r->slot[off].pins == 0)
					ref_use(r, &r->slot[off]);
			}
		} else if (n_pins > 0) {
			/* A flow ends. */
			int i = (int)rnd((uint32_t)n_pins);
			struct ref_slot *s = &r->slot[pins[i].off];

			fam_addr(fm, pins[i].off, a);
			bad_answer += fm->unpin(f, a) != 0;
			if (--s->pins == 0)
				ref_use(r, s);
			pins[i] = pins[--n_pins];
		}
		if (allocated)
			bad_state += check_state(f, r, fm, pins, n_pins);
		if (bad_state + bad_answer > 0 && bad_state + bad_answer < 3)
			fprintf(stderr, "  step %u: state %d answer %d\n", step, bad_state,
				bad_answer);
	}
	T_EQ_INT(bad_answer, 0);
	T_EQ_INT(bad_state, 0);
	/* A small cap (or a minimum age) must have met "no address" along
	 * the way. */
	if (r->cap <= 64 || min_age)
		T_CHECK(enospc > 0);
	/* Every flow ends: every address is reusable again (once old). */
	for (; n_pins > 0; n_pins--) {
		fam_addr(fm, pins[n_pins - 1].off, a);
		T_EQ_INT(fm->unpin(f, a), 0);
	}
	test_clock_ms += min_age;
	T_EQ_INT(fm->lookup(f, "after.all", a), 0);
	fakeip_destroy(f);
	free(r);
}

static const struct fam fam4 = {
	4,           { 10, 9, 8, 0 }, fakeip_lookup4, fakeip_find4, fakeip_domain4, fakeip_peek4,
	fakeip_pin4, fakeip_unpin4,
};

static const struct fam fam6 = {
	16,
	{ 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	fakeip_lookup6,
	fakeip_find6,
	fakeip_domain6,
	fakeip_peek6,
	fakeip_pin6,
	fakeip_unpin6,
};

static const unsigned stress_excl[] = { 1, 2, 77, 200, 254, 77, 255 };

static void test_stress_v4_range(void)
{
	stress(&fam4, 24, stress_excl, sizeof(stress_excl) / sizeof(stress_excl[0]), 0, 0);
}

static void test_stress_v4_capped(void)
{
	stress(&fam4, 24, stress_excl, sizeof(stress_excl) / sizeof(stress_excl[0]), 50, 0);
}

static void test_stress_v6_range(void)
{
	stress(&fam6, 120, stress_excl, sizeof(stress_excl) / sizeof(stress_excl[0]), 0, 0);
}

static void test_stress_v6_capped(void)
{
	stress(&fam6, 120, stress_excl, 2, 20, 0);
}

/* The /28 under churn with a 2 s minimum age (the clock moves ~10 ms a
 * step, so about one address in three steps may be reassigned). */
static void test_stress_v4_min_age(void)
{
	stress(&fam4, 28, stress_excl, 2, 0, 2000);
}

static void test_stress_v6_min_age(void)
{
	stress(&fam6, 120, stress_excl, sizeof(stress_excl) / sizeof(stress_excl[0]), 30, 500);
}

/* store-fake-ip: a saved pool comes back with every mapping at the same
 * address, in the same LRU order, and goes on allocating after them. */
static struct fakeip *make_store_pool(uint8_t prefix4, bool v6)
{
	static const uint8_t tun4[1][4] = { { 198, 18, 0, 1 } };
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = NULL;

	cfg.has4 = true;
	memcpy(cfg.net4, (uint8_t[]){ 198, 18, 0, 0 }, 4);
	cfg.prefix4 = prefix4;
	cfg.exclude4 = tun4;
	cfg.n_exclude4 = 1;
	cfg.max_entries = 200;
	cfg.has6 = v6;
	cfg.net6[0] = 0xfc;
	cfg.prefix6 = 112;
	if (fakeip_create(&cfg, &f) != 0)
		abort();
	return f;
}

static void test_store(void)
{
	struct fakeip *f = make_store_pool(24, true), *g;
	uint8_t a[4], b[4], a6[16], b6[16];
	char name[64], *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;

	/* more names than the cap: reuse has happened, LRU order matters */
	for (int i = 0; i < 260; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		T_EQ_INT(fakeip_lookup4(f, name, a), 0);
	}
	T_EQ_INT(fakeip_lookup6(f, "six.example", a6), 0);
	T_EQ_INT(fakeip_lookup4(f, "n100.example", a), 0); /* now the newest */
	T_EQ_INT(fakeip_pin4(f, a), 0);                    /* a live flow */
	T_CHECK(fakeip_changes(f) == 261);
	T_EQ_INT(fakeip_save(f, &text, &len), 0);
	T_CHECK(text != NULL && len == strlen(text));

	g = make_store_pool(24, true);
	T_EQ_INT(fakeip_restore(g, text, len), 0);
	T_EQ_INT(fakeip_count(g), fakeip_count(f));
	for (int i = 60; i < 260; i++) {
		snprintf(name, sizeof(name), "n%d.example", i);
		T_EQ_INT(fakeip_find4(f, name, a), 0);
		T_EQ_INT(fakeip_find4(g, name, b), 0);
		T_EQ_MEM(a, b, 4);
	}
	T_EQ_INT(fakeip_find6(g, "six.example", b6), 0);
	T_EQ_MEM(a6, b6, 16);
	T_EQ_STR(fakeip_peek4(g, a), "n259.example");
	/* the same text again: the order survived */
	T_EQ_INT(fakeip_save(g, &text2, &len2), 0);
	T_EQ_INT(len2, len);
	/* the next new name takes the same victim in both */
	T_EQ_INT(fakeip_lookup4(f, "new.example", a), 0);
	T_EQ_INT(fakeip_lookup4(g, "new.example", b), 0);
	T_EQ_MEM(a, b, 4);
	/* not into a pool in use */
	T_EQ_INT(fakeip_restore(g, text, len), -EBUSY);
	fakeip_destroy(g);
	free(text2);

	/* another range: refused, the pool stays empty and usable */
	g = make_store_pool(23, true);
	T_EQ_INT(fakeip_restore(g, text, len), -ESTALE);
	T_EQ_INT(fakeip_count(g), 0);
	T_EQ_INT(fakeip_lookup4(g, "x.example", b), 0);
	fakeip_destroy(g);
	g = make_store_pool(24, false); /* no IPv6 pool now */
	T_EQ_INT(fakeip_restore(g, text, len), -ESTALE);
	T_EQ_INT(fakeip_count(g), 0);
	fakeip_destroy(g);

	/* a torn write: refused whole */
	g = make_store_pool(24, true);
	T_EQ_INT(fakeip_restore(g, text, len / 2), -EINVAL);
	T_EQ_INT(fakeip_count(g), 0);
	T_EQ_INT(fakeip_restore(g, text, len - 1), -EINVAL);
	T_EQ_INT(fakeip_count(g), 0);
	/* a duplicated offset, a hole below the cursor */
	{
		char *dup = strdup(text), *l1, *l2;

		l1 = strchr(strstr(dup, "pool 4"), '\n') + 1; /* first entry */
		l2 = strchr(l1, '\n') + 1;
		memcpy(l2, l1, (size_t)(strchr(l1, ' ') - l1)); /* same width offsets? */
		T_CHECK(fakeip_restore(g, dup, len) < 0);
		T_EQ_INT(fakeip_count(g), 0);
		free(dup);
	}
	T_EQ_INT(fakeip_restore(g, "t2s-fakeip 1\nend\n", 17), -ESTALE);
	T_EQ_INT(fakeip_restore(g, "junk", 4), -EINVAL);
	T_EQ_INT(fakeip_restore(g, text, len), 0);
	fakeip_destroy(g);
	fakeip_destroy(f);
	free(text);
}

int main(void)
{
	T_RUN(test_store);
	T_RUN(test_same_and_distinct);
	T_RUN(test_invalid_names);
	T_RUN(test_exclusions);
	T_RUN(test_reverse_and_contains);
	T_RUN(test_lru_order);
	T_RUN(test_pins_and_enospc);
	T_RUN(test_ipv6);
	T_RUN(test_create_errors);
	T_RUN(test_default_cap);
	T_RUN(test_stress_v4_range);
	T_RUN(test_stress_v4_capped);
	T_RUN(test_stress_v6_range);
	T_RUN(test_stress_v6_capped);
	T_RUN(test_min_age);
	T_RUN(test_stress_v4_min_age);
	T_RUN(test_stress_v6_min_age);
	return test_summary();
}
