/* Unit tests for the domain pattern set (resolver/domain_match.c).
 *
 * Besides fixed cases, a naive reference (split both names into labels,
 * compare pattern by pattern) decides random sets of patterns built from a
 * tiny alphabet, so wildcards, shared prefixes and overlapping patterns
 * meet often.
 */
#include "resolver/domain_match.h"
#include "test.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- naive reference ---------------------------------------------------- */

enum ref_kind { REF_EXACT, REF_SUB, REF_BOTH };

struct ref_name {
	int n;
	char label[128][64];
};

struct ref_pat {
	enum ref_kind kind;
	struct ref_name name;
};

/* Lower-cases, drops one trailing dot, splits; false if malformed. */
static bool ref_split(const char *s, bool star, struct ref_name *out)
{
	char buf[512];
	size_t len = strlen(s), start = 0;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	if (len && buf[len - 1] == '.')
		buf[--len] = '\0';
	if (len == 0 || len > 253)
		return false;
	out->n = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '.')
			continue;
		size_t l = i - start;
		if (l == 0 || l > 63)
			return false;
		char *lab = out->label[out->n++];
		memcpy(lab, buf + start, l);
		lab[l] = '\0';
		for (size_t j = 0; j < l; j++) {
			char c = lab[j];
			if (c >= 'A' && c <= 'Z')
				lab[j] = (char)(c - 'A' + 'a');
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				   c == '_' || (star && c == '*' && l == 1)))
				return false;
		}
		start = i + 1;
	}
	return true;
}

static bool ref_parse(const char *p, struct ref_pat *out)
{
	out->kind = REF_EXACT;
	if (strncmp(p, "+.", 2) == 0) {
		out->kind = REF_BOTH;
		p += 2;
	} else if (p[0] == '.') {
		out->kind = REF_SUB;
		p++;
	}
	return ref_split(p, true, &out->name);
}

static bool ref_match_one(const struct ref_pat *p, const struct ref_name *d)
{
	int m = p->name.n;

	if (p->kind == REF_EXACT && d->n != m)
		return false;
	if (p->kind == REF_SUB && d->n <= m)
		return false;
	if (p->kind == REF_BOTH && d->n < m)
		return false;
	for (int i = 1; i <= m; i++) {
		const char *pl = p->name.label[m - i], *dl = d->label[d->n - i];
		if (strcmp(pl, "*") != 0 && strcmp(pl, dl) != 0)
			return false;
	}
	return true;
}

static bool ref_match(const struct ref_pat *pats, int n, const char *domain)
{
	struct ref_name d;

	if (!ref_split(domain, false, &d))
		return false;
	for (int i = 0; i < n; i++)
		if (ref_match_one(&pats[i], &d))
			return true;
	return false;
}

/* --- helpers ---------------------------------------------------------- */

static struct domain_match *set_of(const char *const *patterns)
{
	struct domain_match *m = NULL;

	T_EQ_INT(domain_match_create(&m), 0);
	if (!m)
		abort();
	for (; *patterns; patterns++)
		T_EQ_INT(domain_match_add(m, *patterns), 0);
	return m;
}

struct expect {
	const char *domain;
	bool match;
};

static void check_all(const struct domain_match *m, const struct expect *e)
{
	for (; e->domain; e++) {
		bool got = domain_match_test(m, e->domain);
		if (got != e->match)
			fprintf(stderr, "  domain \"%s\": got %d\n", e->domain, got);
		T_CHECK(got == e->match);
	}
}

static uint32_t rng_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

/* --- tests ------------------------------------------------------------ */

static void test_exact(void)
{
	static const char *const p[] = { "example.com", "localhost", NULL };
	static const struct expect e[] = {
		{ "example.com", true },
		{ "EXAMPLE.Com", true },
		{ "example.com.", true },
		{ "localhost", true },
		{ "localhost.", true },
		{ "a.example.com", false },
		{ "com", false },
		{ "example.co", false },
		{ "example.comm", false },
		{ "xexample.com", false },
		{ "a.localhost", false },
		{ "", false },
		{ ".", false },
		{ "example..com", false },
		{ "example.com..", false },
		{ NULL, false },
	};
	struct domain_match *m = set_of(p);

	check_all(m, e);
	domain_match_destroy(m);
}

static void test_star(void)
{
	static const char *const p[] = { "*.lan", "time.*.com", "ntp.*", "a.*.*.x", NULL };
	static const struct expect e[] = {
		{ "router.lan", true },
		{ "Router.LAN.", true },
		{ "lan", false },
		{ "a.b.lan", false },
		{ "time.windows.com", true },
		{ "time.com", false },
		{ "time.a.b.com", false },
		{ "xtime.windows.com", false },
		{ "a.time.windows.com", false },
		{ "ntp.ubuntu", true },
		{ "ntp", false },
		{ "ntp.ubuntu.com", false },
		{ "a.b.c.x", true },
		{ "a.b.x", false },
		{ "b.b.c.x", false },
		{ NULL, false },
	};
	struct domain_match *m = set_of(p);

	check_all(m, e);
	domain_match_destroy(m);
}

static void test_sub_and_plus(void)
{
	static const char *const p[] = { ".example.com", "+.foo.org", ".apple.*", NULL };
	static const struct expect e[] = {
		{ "example.com", false },
		{ "a.example.com", true },
		{ "a.b.example.com", true },
		{ "com", false },
		{ "foo.org", true },
		{ "FOO.ORG.", true },
		{ "x.foo.org", true },
		{ "x.y.foo.org", true },
		{ "org", false },
		{ "xfoo.org", false },
		{ "apple.com", false },
		{ "www.apple.com", true },
		{ "a.b.apple.cn", true },
		{ "www.apple.com.cn", false },
		{ NULL, false },
	};
	struct domain_match *m = set_of(p);

	check_all(m, e);
	domain_match_destroy(m);
}

/* Overlaps: a literal branch that fails must not hide a '*' branch that
 * succeeds, nor a deeper pattern hide a shallower one. */
static void test_backtracking(void)
{
	static const char *const p[] = { "x.a.com", "*.*.com", "b.*.net", "q.b.a.net",
					 "+.z.*",   "*",       NULL };
	static const struct expect e[] = {
		{ "y.a.com", true },    { "x.a.com", true },  { "a.com", false },
		{ "b.a.net", true },    { "c.a.net", false }, { "q.b.a.net", true },
		{ "r.b.a.net", false }, { "z.k", true },      { "w.z.k", true },
		{ "z", true },          { "single", true },   { "two.labels", false },
		{ NULL, false },
	};
	struct domain_match *m = set_of(p);

	check_all(m, e);
	domain_match_destroy(m);
}

static void test_empty_set(void)
{
	struct domain_match *m = NULL;

	T_EQ_INT(domain_match_create(&m), 0);
	T_CHECK(!domain_match_test(m, "example.com"));
	T_CHECK(!domain_match_test(m, "a"));
	domain_match_destroy(m);
	domain_match_destroy(NULL);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"",       ".",       "..",     "+",      "+.",           "+..",     "a..b",
		".a..b",  "a.b..",   "*a.com", "a*.com", "**.com",       "a.+.com", "+a.com",
		"++.com", "a b.com", "a/b",    "a.com/", "\xc3\xa4.com", "a.-*",    "*.*.+",
		"..a",    "+.+.a",   "a,b",    NULL,
	};
	static const struct expect still[] = {
		{ "a.b", false },
		{ "a.com", false },
		{ "x.com", false },
		{ NULL, false },
	};
	char name[400];
	struct domain_match *m = NULL;

	T_EQ_INT(domain_match_create(&m), 0);
	for (const char *const *p = bad; *p; p++) {
		int r = domain_match_add(m, *p);
		if (r != -EINVAL)
			fprintf(stderr, "  pattern \"%s\" -> %d\n", *p, r);
		T_EQ_INT(r, -EINVAL);
	}
	check_all(m, still); /* a refused pattern leaves nothing behind */

	/* Label of 63 ok, 64 not. */
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	T_EQ_INT(domain_match_add(m, name), -EINVAL);
	T_CHECK(!domain_match_test(m, name));
	T_EQ_INT(domain_match_add(m, name + 1), 0);
	T_CHECK(domain_match_test(m, name + 1));
	T_CHECK(domain_match_test(m, "*") == false);

	/* Name of 253 ok (with or without the dot), 254 not; the "+." marker
	 * is not part of the name. */
	for (int i = 0; i < 254; i++)
		name[i] = (i % 2) ? '.' : 'b';
	name[253] = '\0'; /* "b.b....b": 253 bytes */
	T_EQ_INT(domain_match_add(m, name), 0);
	T_CHECK(domain_match_test(m, name));
	name[253] = '.';
	name[254] = '\0';
	T_CHECK(domain_match_test(m, name)); /* trailing dot */
	name[253] = 'c';
	T_EQ_INT(domain_match_add(m, name), -EINVAL); /* "...bc", 254 */
	T_CHECK(!domain_match_test(m, name));
	name[0] = '+';
	name[1] = '.';
	name[253] = '\0';
	T_EQ_INT(domain_match_add(m, name), 0); /* "+." then 251 bytes */
	memmove(name + 2, name, 254);
	name[0] = '+';
	name[1] = '.';
	name[2] = 'b'; /* "+." then 253 bytes */
	T_EQ_INT(domain_match_add(m, name), 0);
	T_CHECK(domain_match_test(m, name + 2));
	domain_match_destroy(m);
}

static void test_malformed_domain_never_matches(void)
{
	static const char *const p[] = { "*", "+.*", ".*", "*.*", NULL };
	static const struct expect e[] = {
		{ "a", true },     { "a.b", true },    { "a.b.c", true }, { "", false },
		{ ".", false },    { "a..b", false },  { ".a", false },   { "a b", false },
		{ "a*", false },   { "*", false },     { "*.b", false },  { "a/b", false },
		{ "\xff", false }, { "a.b..", false }, { NULL, false },
	};
	struct domain_match *m = set_of(p);

	check_all(m, e);
	domain_match_destroy(m);
}

static void test_defaults(void)
{
	static const struct expect e[] = {
		{ "router.lan", true },
		{ "localhost", true },
		{ "printer.local", true },
		{ "time.windows.com", true },
		{ "ntp.ubuntu.com", true },
		{ "pool.ntp.org", true },
		{ "0.pool.ntp.org", true },
		{ "time.apple.com", true },
		{ "time1.google.com", true },
		{ "stun.l.google.com", true },
		{ "dns.msftncsi.com", true },
		{ "www.msftconnecttest.com", true },
		{ "nas.home.arpa", true },
		{ "Router.LAN.", true },
		{ "example.com", false },
		{ "www.google.com", false },
		{ "lan.example.com", false },
		{ "timex.windows.com", false },
		{ "ntpx.ubuntu.com", false },
		{ "github.com", false },
		{ NULL, false },
	};
	struct domain_match *m = set_of(domain_match_fakeip_defaults);
	int n = 0;

	check_all(m, e);
	for (const char *const *p = domain_match_fakeip_defaults; *p; p++)
		n++;
	T_CHECK(n > 10);
	domain_match_destroy(m);
}

/* Random label from a tiny alphabet, so names collide with patterns. */
static const char *rnd_label(bool pattern)
{
	static const char *const pl[] = { "a", "b", "c", "ab", "*", "*", "A" };
	static const char *const dl[] = { "a", "b", "c", "ab", "B", "Ab" };

	return pattern ? pl[rnd(7)] : dl[rnd(6)];
}

static void rnd_name(char *buf, bool pattern)
{
	static const char *const marks[] = { "", "", ".", "+." };
	int n = 1 + (int)rnd(pattern ? 4 : 5);

	strcpy(buf, pattern ? marks[rnd(4)] : "");
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(buf, ".");
		strcat(buf, rnd_label(pattern));
	}
	if (rnd(5) == 0)
		strcat(buf, ".");
}

/* Occasionally breaks a name the way configs and packets get broken. */
static void rnd_corrupt(char *buf)
{
	static const char junk[] = ".*+ -_/\xc3";
	size_t len = strlen(buf);

	switch (rnd(8)) {
	case 0:
		buf[rnd((uint32_t)len)] = junk[rnd(sizeof(junk) - 1)];
		break;
	case 1:
		if (len < 60) {
			memmove(buf + 1, buf, len + 1);
			buf[0] = junk[rnd(sizeof(junk) - 1)];
		}
		break;
	case 2:
		if (len > 1)
			buf[len - 1 - rnd(2)] = '\0';
		break;
	default:
		break;
	}
}

static void test_random_vs_reference(void)
{
	struct ref_pat pats[16];
	char buf[128];
	long mismatches = 0, matches = 0, tests = 0, accepted = 0;

	for (int round = 0; round < 3000; round++) {
		struct domain_match *m = NULL;
		int np = 0, want = 1 + (int)rnd(10);

		T_EQ_INT(domain_match_create(&m), 0);
		if (!m)
			return;
		for (int i = 0; i < want; i++) {
			bool ok;
			int r;

			rnd_name(buf, true);
			if (rnd(4) == 0)
				rnd_corrupt(buf);
			ok = ref_parse(buf, &pats[np]);
			r = domain_match_add(m, buf);
			if ((r == 0) != ok) {
				fprintf(stderr, "  add \"%s\": %d, reference %d\n", buf, r, ok);
				mismatches++;
			}
			if (ok && r == 0) {
				np++;
				accepted++;
			}
		}
		for (int i = 0; i < 100; i++) {
			bool got, exp;

			rnd_name(buf, false);
			if (rnd(10) == 0)
				rnd_corrupt(buf);
			got = domain_match_test(m, buf);
			exp = ref_match(pats, np, buf);
			tests++;
			matches += exp;
			if (got != exp) {
				if (mismatches < 10)
					fprintf(stderr, "  test \"%s\": %d, reference %d\n", buf,
						got, exp);
				mismatches++;
			}
		}
		domain_match_destroy(m);
	}
	T_EQ_INT(mismatches, 0);
	/* The generator is only useful if both answers are common. */
	T_CHECK(matches > tests / 10 && matches < tests * 9 / 10);
	T_CHECK(accepted > 3000);
}

/* Many patterns: the trie and its table grow; every pattern still found. */
static void test_many_patterns(void)
{
	struct domain_match *m = NULL;
	char buf[64];

	T_EQ_INT(domain_match_create(&m), 0);
	for (int i = 0; i < 50000; i++) {
		snprintf(buf, sizeof(buf), "%s%d.n%d.com", (i % 3) ? "" : "+.", i, i % 97);
		T_EQ_INT(domain_match_add(m, buf), 0);
	}
	int miss = 0, false_hit = 0;
	for (int i = 0; i < 50000; i++) {
		snprintf(buf, sizeof(buf), "%d.n%d.com", i, i % 97);
		miss += !domain_match_test(m, buf);
		snprintf(buf, sizeof(buf), "x.%d.n%d.com", i, i % 97);
		miss += (i % 3 == 0) && !domain_match_test(m, buf);
		false_hit += (i % 3 != 0) && domain_match_test(m, buf);
		snprintf(buf, sizeof(buf), "%d.n%d.com", i, (i + 1) % 97);
		false_hit += domain_match_test(m, buf);
	}
	T_EQ_INT(miss, 0);
	T_EQ_INT(false_hit, 0);
	domain_match_destroy(m);
}

int main(void)
{
	T_RUN(test_exact);
	T_RUN(test_star);
	T_RUN(test_sub_and_plus);
	T_RUN(test_backtracking);
	T_RUN(test_empty_set);
	T_RUN(test_malformed);
	T_RUN(test_malformed_domain_never_matches);
	T_RUN(test_defaults);
	T_RUN(test_random_vs_reference);
	T_RUN(test_many_patterns);
	return test_summary();
}
