/* Unit tests for mrs rule sets (config/ruleset_mrs.c through
 * config/ruleset.c): files written by tests/unit/mrs_gen.h from the
 * documented layout, decoded back; ranges cut into prefixes; damaged
 * files refused with a reason; a random round trip against the key list. */
#include "config/ruleset.h"
#include "config/ruleset_mrs.h"
#include "mrs_gen.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ruleset *load_mrs(enum ruleset_behavior b, const uint8_t *buf, size_t len,
				struct conf_err *err)
{
	struct ruleset *rs = NULL;
	char msg[700];
	int r = ruleset_load_buffer("m", b, RULESET_MRS, "set.mrs", (const char *)buf, len, &rs,
				    err);

	if (r != 0) {
		conf_err_format(err, msg, sizeof(msg));
		fprintf(stderr, "  load: %s\n", msg);
	}
	return rs;
}

/* Whether the set holds name with exactly kind. */
static bool has_domain(const struct ruleset *rs, const char *name, unsigned kind)
{
	for (size_t i = 0; i < ruleset_count(rs); i++) {
		size_t len;
		unsigned k;
		const char *s = ruleset_domain(rs, i, &len, &k);

		if (strcmp(s, name) == 0 && k == kind)
			return true;
	}
	return false;
}

static void test_domains(void)
{
	/* mihomo's trie keys for the text entries "+.x.com", "a.b.net",
	 * "*.c.org", ".only.sub", "Mijia Cloud" (mihomo keeps it; we skip it
	 * with a note). */
	static const char *const keys[] = { "x.com",   "+.x.com",    "a.b.net",
					    "*.c.org", "+.only.sub", "Mijia Cloud" };
	struct conf_err err;
	struct ruleset *rs;
	uint8_t *buf;
	size_t len = mrs_gen_domains(keys, 6, &buf);
	char got[700];

	rs = load_mrs(RULESET_DOMAIN, buf, len, &err);
	T_CHECK(rs != NULL);
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 5);
		T_CHECK(has_domain(rs, "x.com", RULESET_MATCH_SELF));
		T_CHECK(has_domain(rs, "x.com", RULESET_MATCH_SUB));
		T_CHECK(has_domain(rs, "a.b.net", RULESET_MATCH_SELF));
		T_CHECK(has_domain(rs, "*.c.org", RULESET_MATCH_SELF));
		T_CHECK(has_domain(rs, "only.sub", RULESET_MATCH_SUB));
		T_EQ_INT(ruleset_skipped(rs), 1);
		conf_err_format(ruleset_note(rs, 0), got, sizeof(got));
		T_EQ_STR(got, "set.mrs: bad domain 'Mijia Cloud': unexpected character (a name "
			      "holds letters, digits, '-', '_' and dots); entry skipped");
	}
	ruleset_free(rs);
	/* The wrong behaviour, named. */
	T_CHECK(load_mrs(RULESET_IPCIDR, buf, len, &err) == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "set.mrs: bad mrs rule set: the file holds a domain set");
	/* Truncated anywhere: refused, never a crash. */
	for (size_t cut = 0; cut < len; cut += 3) {
		rs = NULL;
		T_EQ_INT(ruleset_load_buffer("m", RULESET_DOMAIN, RULESET_MRS, "set.mrs",
					     (const char *)buf, cut, &rs, &err),
			 -EINVAL);
		ruleset_free(rs);
	}
	free(buf);
}

static void v4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	inet_pton(AF_INET, s, out + 12);
}

static void cidr_str(const struct rule_cidr *c, char *out, size_t cap)
{
	char a[64];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	snprintf(out, cap, "%s/%u", a, c->plen);
}

static void test_ranges(void)
{
	uint8_t from[4][16], to[4][16], *buf;
	static const char *const want[] = {
		"10.0.0.0/24", "1.0.0.1/32", "1.0.0.2/31",    "1.0.0.4/31",
		"1.0.0.6/32",  "0.0.0.0/0",  "2001:db8::/32", "::/0",
	};
	struct conf_err err;
	struct ruleset *rs;
	size_t len;
	char got[80];

	v4(from[0], "10.0.0.0");
	v4(to[0], "10.0.0.255");
	v4(from[1], "1.0.0.1");
	v4(to[1], "1.0.0.6");
	v4(from[2], "0.0.0.0");
	v4(to[2], "255.255.255.255");
	memset(from[3], 0, 16);
	memset(to[3], 0xff, 16);
	len = mrs_gen_ranges((const uint8_t(*)[16])from, (const uint8_t(*)[16])to, 4, &buf);
	rs = load_mrs(RULESET_IPCIDR, buf, len, &err);
	T_CHECK(rs != NULL);
	if (rs) {
		T_EQ_INT(ruleset_count(rs), 7);
		for (size_t i = 0; i < ruleset_count(rs) && i < 6; i++) {
			cidr_str(ruleset_cidr(rs, i), got, sizeof(got));
			T_EQ_STR(got, want[i]);
		}
		cidr_str(ruleset_cidr(rs, 6), got, sizeof(got));
		T_EQ_STR(got, want[7]);
	}
	ruleset_free(rs);
	free(buf);
	/* 2001:db8:: - 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff is one prefix. */
	inet_pton(AF_INET6, "2001:db8::", from[0]);
	inet_pton(AF_INET6, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", to[0]);
	len = mrs_gen_ranges((const uint8_t(*)[16])from, (const uint8_t(*)[16])to, 1, &buf);
	rs = load_mrs(RULESET_IPCIDR, buf, len, &err);
	if (rs && ruleset_count(rs) == 1) {
		cidr_str(ruleset_cidr(rs, 0), got, sizeof(got));
		T_EQ_STR(got, want[6]);
	} else {
		T_CHECK(0);
	}
	ruleset_free(rs);
	free(buf);
	/* from > to */
	len = mrs_gen_ranges((const uint8_t(*)[16])to, (const uint8_t(*)[16])from, 1, &buf);
	T_CHECK(load_mrs(RULESET_IPCIDR, buf, len, &err) == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "set.mrs: bad mrs rule set: bad address range");
	free(buf);
}

static void test_errors(void)
{
	struct conf_err err;
	char got[700];
	uint8_t raw[64], comp[256];
	size_t n;

	T_CHECK(load_mrs(RULESET_DOMAIN, (const uint8_t *)"payload: []", 11, &err) == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "set.mrs: bad mrs rule set: not a zstd stream (or a damaged one)");
	memcpy(raw, "MRT\x01\x00", 5);
	n = ZSTD_compress(comp, sizeof(comp), raw, 5, 1);
	T_CHECK(load_mrs(RULESET_DOMAIN, comp, n, &err) == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "set.mrs: bad mrs rule set: not an mrs file (no MRS v1 header)");
	/* A count of labels far beyond the data: refused before allocating. */
	memset(raw, 0, sizeof(raw));
	memcpy(raw, "MRS\x01\x00", 5);
	raw[21] = 1;    /* domain set version */
	raw[22] = 0x7f; /* leaves length: huge */
	n = ZSTD_compress(comp, sizeof(comp), raw, 40, 1);
	T_CHECK(load_mrs(RULESET_DOMAIN, comp, n, &err) == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "set.mrs: bad mrs rule set: truncated domain set");
	/* Classical sets have no mrs form. */
	T_CHECK(load_mrs(RULESET_CLASSICAL, comp, n, &err) == NULL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "set.mrs: format mrs holds domain or ipcidr sets, not classical ones");
}

/* Random keys from a tiny alphabet: the decoded set is exactly the keys. */
static void test_random(void)
{
	static const char *const lbl[] = { "a", "b", "ab", "*", "cd" };
	uint64_t st = 0x1234567;

	for (int it = 0; it < 200; it++) {
		char store[40][64];
		const char *keys[40];
		size_t n = 1 + (size_t)(st % 39), len;
		struct conf_err err;
		struct ruleset *rs;
		uint8_t *buf;

		for (size_t i = 0; i < n; i++) {
			int labels = 1 + (int)((st >> 7) % 3), o = 0;

			st = st * 6364136223846793005ull + 1442695040888963407ull;
			if ((st >> 20) % 4 == 0)
				o += sprintf(store[i], "+.");
			for (int l = 0; l < labels; l++) {
				st = st * 6364136223846793005ull + 1442695040888963407ull;
				o += sprintf(store[i] + o, "%s%s", l ? "." : "",
					     lbl[(st >> 33) % 5]);
			}
			keys[i] = store[i];
		}
		len = mrs_gen_domains(keys, n, &buf);
		rs = load_mrs(RULESET_DOMAIN, buf, len, &err);
		T_CHECK(rs != NULL);
		for (size_t i = 0; rs && i < n; i++) {
			bool sub = keys[i][0] == '+';

			if (!has_domain(rs, keys[i] + (sub ? 2 : 0),
					sub ? RULESET_MATCH_SUB : RULESET_MATCH_SELF)) {
				fprintf(stderr, "  iteration %d: key '%s' lost\n", it, keys[i]);
				T_CHECK(0);
			}
		}
		/* Nothing more than the keys (duplicates merge). */
		if (rs) {
			size_t distinct = 0;

			for (size_t i = 0; i < n; i++) {
				size_t j;

				for (j = 0; j < i && strcmp(keys[j], keys[i]) != 0; j++)
					;
				distinct += j == i;
			}
			T_EQ_INT(ruleset_count(rs), distinct);
		}
		ruleset_free(rs);
		free(buf);
		st = st * 6364136223846793005ull + 1442695040888963407ull;
	}
}

int main(void)
{
	T_RUN(test_domains);
	T_RUN(test_ranges);
	T_RUN(test_errors);
	T_RUN(test_random);
	return test_summary();
}
