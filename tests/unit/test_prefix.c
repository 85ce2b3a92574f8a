/* Unit tests for prefix arithmetic (tun2socks/system/prefix.c): parsing,
 * formatting, containment, and subtraction checked against a naive
 * membership test on random addresses. */
#include "tun2socks/system/prefix.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct prefix pfx(const char *s)
{
	struct prefix p;

	if (prefix_parse(s, false, &p) != 0) {
		fprintf(stderr, "bad prefix in test: %s\n", s);
		abort();
	}
	return p;
}

static void test_parse_format(void)
{
	static const char *const good[] = { "0.0.0.0/0", "10.0.0.0/8",    "192.0.2.1/32",
					    "::/0",      "2001:db8::/32", "fdfe:dcba:9876::/126",
					    "8000::/1",  "::1/128" };
	struct prefix p;
	char buf[PREFIX_STRLEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		T_EQ_INT(prefix_parse(good[i], false, &p), 0);
		prefix_format(&p, buf, sizeof(buf));
		T_EQ_STR(buf, good[i]);
	}
	T_EQ_INT(prefix_parse("192.0.2.7", false, &p), 0);
	T_EQ_INT(p.len, 32);
	T_EQ_INT(prefix_parse("2001:db8::1", false, &p), 0);
	T_EQ_INT(p.len, 128);
	T_EQ_INT(p.family, AF_INET6);
	/* host bits: only when loose */
	T_EQ_INT(prefix_parse("198.18.0.1/15", false, &p), -EINVAL);
	T_EQ_INT(prefix_parse("198.18.0.1/15", true, &p), 0);
	prefix_format(&p, buf, sizeof(buf));
	T_EQ_STR(buf, "198.18.0.0/15");
	T_EQ_INT(prefix_parse("fdfe:dcba:9876::1/126", true, &p), 0);
	prefix_format(&p, buf, sizeof(buf));
	T_EQ_STR(buf, "fdfe:dcba:9876::/126");
	static const char *const bad[] = {
		"",           "/8",          "10.0.0.0/",   "10.0.0.0/33", "::/129",
		"10.0.0/8",   "10.0.0.0/-1", "10.0.0.0/8x", "x/8",         "10.0.0.0/0008",
		"1.2.3.4 /8", "::/ 1"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EQ_INT(prefix_parse(bad[i], true, &p), -EINVAL);
}

static void test_contains(void)
{
	struct prefix a = pfx("10.0.0.0/8"), b = pfx("10.1.0.0/16"), c = pfx("11.0.0.0/8");
	struct prefix any4 = pfx("0.0.0.0/0"), any6 = pfx("::/0"), v6 = pfx("2001:db8::/32");

	T_CHECK(prefix_contains(&a, &b));
	T_CHECK(!prefix_contains(&b, &a));
	T_CHECK(!prefix_contains(&a, &c));
	T_CHECK(prefix_contains(&any4, &c));
	T_CHECK(!prefix_contains(&any4, &v6)); /* never across families */
	T_CHECK(prefix_contains(&any6, &v6));
	T_CHECK(prefix_overlaps(&b, &a));
	T_CHECK(!prefix_overlaps(&b, &c));
	T_CHECK(prefix_equal(&a, &a));
	T_CHECK(!prefix_equal(&a, &b));
}

static void fmt_all(const struct prefix *p, int n, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < cap; i++) {
		char one[PREFIX_STRLEN];

		prefix_format(&p[i], one, sizeof(one));
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? " " : "", one);
	}
}

static void test_subtract_examples(void)
{
	struct prefix out[300];
	char buf[4096];
	int n;

	/* 0/0 minus one host: 32 prefixes, one per length, in order */
	struct prefix in4 = pfx("0.0.0.0/0"), host = pfx("192.0.2.10/32");
	n = prefix_subtract(AF_INET, &in4, 1, &host, 1, out, 300);
	T_EQ_INT(n, 32);
	fmt_all(out, 3, buf, sizeof(buf));
	T_EQ_STR(buf, "0.0.0.0/1 128.0.0.0/2 192.0.0.0/23");
	/* nothing to subtract: the input, normalized */
	struct prefix two[] = { pfx("10.0.0.0/8"), pfx("10.1.0.0/16"), pfx("0.0.0.0/1") };
	n = prefix_subtract(AF_INET, two, 3, NULL, 0, out, 300);
	fmt_all(out, n, buf, sizeof(buf));
	T_EQ_STR(buf, "0.0.0.0/1");
	/* an exclusion covering the input: nothing left */
	struct prefix small = pfx("10.1.2.0/24"), big = pfx("10.0.0.0/8");
	T_EQ_INT(prefix_subtract(AF_INET, &small, 1, &big, 1, out, 300), 0);
	/* the other family is ignored on both sides */
	struct prefix mixed_in[] = { pfx("::/0"), pfx("10.0.0.0/8") };
	struct prefix mixed_ex[] = { pfx("10.128.0.0/9"), pfx("::/1") };
	n = prefix_subtract(AF_INET, mixed_in, 2, mixed_ex, 2, out, 300);
	fmt_all(out, n, buf, sizeof(buf));
	T_EQ_STR(buf, "10.0.0.0/9");
	n = prefix_subtract(AF_INET6, mixed_in, 2, mixed_ex, 2, out, 300);
	fmt_all(out, n, buf, sizeof(buf));
	T_EQ_STR(buf, "8000::/1");
	/* the default set: 0/0 minus multicast and the limited broadcast */
	struct prefix mc[] = { pfx("224.0.0.0/4"), pfx("255.255.255.255/32") };
	n = prefix_subtract(AF_INET, &in4, 1, mc, 2, out, 300);
	fmt_all(out, n, buf, sizeof(buf));
	T_EQ_STR(buf, "0.0.0.0/1 128.0.0.0/2 192.0.0.0/3 240.0.0.0/5 248.0.0.0/6 252.0.0.0/7 "
		      "254.0.0.0/8 255.0.0.0/9 255.128.0.0/10 255.192.0.0/11 255.224.0.0/12 "
		      "255.240.0.0/13 255.248.0.0/14 255.252.0.0/15 255.254.0.0/16 "
		      "255.255.0.0/17 255.255.128.0/18 255.255.192.0/19 255.255.224.0/20 "
		      "255.255.240.0/21 255.255.248.0/22 255.255.252.0/23 255.255.254.0/24 "
		      "255.255.255.0/25 255.255.255.128/26 255.255.255.192/27 "
		      "255.255.255.224/28 255.255.255.240/29 255.255.255.248/30 "
		      "255.255.255.252/31 255.255.255.254/32");
	/* too small an output */
	T_EQ_INT(prefix_subtract(AF_INET, &in4, 1, &host, 1, out, 31), -ENOBUFS);
	/* v6: ::/0 minus one /128 */
	struct prefix in6 = pfx("::/0"), h6 = pfx("2001:db8::1/128");
	T_EQ_INT(prefix_subtract(AF_INET6, &in6, 1, &h6, 1, out, 300), 128);
}

/* Whether addr (a host prefix) lies in any of p[0..n). */
static bool in_any(const struct prefix *p, size_t n, const struct prefix *addr)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_contains(&p[i], addr))
			return true;
	return false;
}

static void random_prefix(int family, struct prefix *p, unsigned minlen)
{
	uint8_t a[16];
	unsigned max = prefix_max_len(family);

	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rand();
	/* few distinct top bytes, so that prefixes overlap often */
	a[0] &= 0x83;
	prefix_make(p, family, a, minlen + (unsigned)rand() % (max - minlen + 1));
}

/* Random inputs and exclusions: an address is in the result exactly when
 * it is in some input and in no exclusion; results are disjoint. */
static void test_subtract_random(void)
{
	static struct prefix out[20000];
	int bad = 0;

	srand(12345);
	for (int round = 0; round < 400; round++) {
		int family = round & 1 ? AF_INET6 : AF_INET;
		struct prefix in[4], ex[6], probe;
		size_t ni = 1 + (size_t)rand() % 4, ne = (size_t)rand() % 7;
		int n;

		for (size_t i = 0; i < ni; i++)
			random_prefix(family, &in[i], 0);
		for (size_t i = 0; i < ne; i++)
			random_prefix(family, &ex[i], 1);
		n = prefix_subtract(family, in, ni, ex, ne, out, 20000);
		if (n < 0) {
			bad++;
			continue;
		}
		for (int i = 0; i + 1 < n; i++)
			if (prefix_overlaps(&out[i], &out[i + 1]))
				bad++;
		for (int k = 0; k < 300; k++) {
			/* probes near the interesting addresses, and anywhere */
			const struct prefix *near = k % 3 == 0 ? &in[(size_t)k % ni]
						    : ne       ? &ex[(size_t)k % ne]
							       : &in[0];
			uint8_t a[16];

			for (int i = 0; i < 16; i++)
				a[i] = (uint8_t)rand();
			if (k % 5 != 4) {
				unsigned keep = near->len;

				for (unsigned b = 0; b < keep; b++) {
					uint8_t m = (uint8_t)(0x80u >> (b % 8));

					a[b / 8] = (uint8_t)((a[b / 8] & ~m) |
							     (near->addr[b / 8] & m));
				}
			}
			prefix_make(&probe, family, a, prefix_max_len(family));
			if (in_any(out, (size_t)n, &probe) !=
			    (in_any(in, ni, &probe) && !in_any(ex, ne, &probe)))
				bad++;
		}
	}
	T_EQ_INT(bad, 0);
}

int main(void)
{
	T_RUN(test_parse_format);
	T_RUN(test_contains);
	T_RUN(test_subtract_examples);
	T_RUN(test_subtract_random);
	return test_summary();
}
