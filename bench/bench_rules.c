/* bench_rules: rule engine figures beside a baseline measured in the same
 * run.
 *
 * Load: a 100 000-entry domain rule set (text and YAML), parsed from
 * memory and compiled into an engine behind a small rules list.
 * Match: p50/p99 per query (ns, timer overhead subtracted) of the engine,
 * and of a naive matcher that walks the same rules and set entries one by
 * one (the baseline), over the same queries: names under set entries,
 * names matching nothing, and names hit by the plain rules.
 *
 * Usage: bench_rules [ENTRIES] [QUERIES]. Build with --release for the
 * figures worth quoting (t2s_core follows the build type).
 */
#define _POSIX_C_SOURCE 200809L

#include "tun2socks/route/rule.h"
#include "config/ruleset.h"
#include "config/rules_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int gen_label(char *out)
{
	int n = 3 + (int)rnd(10);

	for (int i = 0; i < n; i++)
		out[i] = (char)('a' + rnd(26));
	return n;
}

/* "abc.defgh.com": 2-3 labels and a TLD. */
static int gen_name(char *out)
{
	static const char *const tlds[] = { "com", "net", "org", "io", "cn", "de" };
	int labels = 1 + (int)rnd(2), n = 0;

	for (int i = 0; i < labels; i++) {
		n += gen_label(out + n);
		out[n++] = '.';
	}
	n += sprintf(out + n, "%s", tlds[rnd(6)]);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static const char *const rules_text[] = {
	"DOMAIN-SUFFIX,local,DIRECT",
	"DOMAIN,localhost,DIRECT",
	"DOMAIN-KEYWORD,adservice,REJECT",
	"DOMAIN-SUFFIX,google.com,PROXY",
	"DOMAIN-SUFFIX,github.com,PROXY",
	"DOMAIN-SUFFIX,apple.com,DIRECT",
	"RULE-SET,big,PROXY",
	"IP-CIDR,10.0.0.0/8,DIRECT,no-resolve",
	"IP-CIDR,192.168.0.0/16,DIRECT,no-resolve",
	"IP-CIDR6,fc00::/7,DIRECT,no-resolve",
	"DST-PORT,25/465/587,REJECT",
	"DOMAIN-SUFFIX,cn,DIRECT",
	"MATCH,PROXY",
};
enum { N_RULES = sizeof(rules_text) / sizeof(rules_text[0]) };

static int target_fn(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "DIRECT") == 0 ? 0 : strcmp(name, "REJECT") == 0 ? 1 : 2;
}

static const struct ruleset *set_fn(void *arg, const char *name)
{
	(void)name;
	return arg;
}

/* --- the baseline: one rule, one entry at a time ------------------------------ */

static bool naive_pattern(const char *pat, size_t plen, unsigned kind, const char *d, size_t dlen)
{
	/* Compare label by label from the right; '*' is any one label. */
	size_t pi = plen, di = dlen;

	for (;;) {
		size_t ps = pi, ds = di;

		while (ps > 0 && pat[ps - 1] != '.')
			ps--;
		while (ds > 0 && d[ds - 1] != '.')
			ds--;
		if (!(pi - ps == 1 && pat[ps] == '*') &&
		    (pi - ps != di - ds || memcmp(pat + ps, d + ds, pi - ps) != 0))
			return false;
		if (ps == 0) {
			if (ds == 0)
				return kind & RULESET_MATCH_SELF;
			return kind & RULESET_MATCH_SUB;
		}
		if (ds == 0)
			return false;
		pi = ps - 1;
		di = ds - 1;
	}
}

static int naive_match(const struct rule_spec *specs, const struct ruleset *set,
		       const struct rule_query *q)
{
	size_t dlen = strlen(q->domain);

	for (int i = 0; i < N_RULES; i++) {
		const struct rule_spec *s = &specs[i];
		size_t sl = s->str ? strlen(s->str) : 0;

		switch (s->type) {
		case RULE_DOMAIN:
			if (strcmp(q->domain, s->str) == 0)
				return i;
			break;
		case RULE_DOMAIN_SUFFIX:
			if (strcmp(q->domain, s->str) == 0 ||
			    (dlen > sl && q->domain[dlen - sl - 1] == '.' &&
			     strcmp(q->domain + dlen - sl, s->str) == 0))
				return i;
			break;
		case RULE_DOMAIN_KEYWORD:
			if (strstr(q->domain, s->str))
				return i;
			break;
		case RULE_RULE_SET:
			for (size_t k = 0; k < ruleset_count(set); k++) {
				unsigned kind;
				size_t len;
				const char *p = ruleset_domain(set, k, &len, &kind);

				if (naive_pattern(p, len, kind, q->domain, dlen))
					return i;
			}
			break;
		case RULE_DST_PORT:
			for (size_t k = 0; k < s->n_ranges; k++)
				if (s->ranges[k].lo <= q->dst_port &&
				    q->dst_port <= s->ranges[k].hi)
					return i;
			break;
		case RULE_MATCH:
			return i;
		default: /* IP rules: the queries carry no address */
			break;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	size_t entries = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	size_t nq = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
	size_t nq_naive = nq < 1000 ? nq : 1000, tlen = 0, ylen = 0;
	char *text = malloc(entries * 40 + 64), *yaml = malloc(entries * 48 + 64);
	char(*names)[64] = malloc(entries * sizeof(*names));
	char(*queries)[96] = malloc(nq * sizeof(*queries));
	uint64_t *lat = malloc(nq * sizeof(*lat)), t0, t1, t2, t3, overhead;
	struct rule_spec specs[N_RULES];
	struct rule_engine *e;
	struct ruleset *rs;
	struct conf_err err;
	char msg[700];
	size_t hits = 0;

	if (!text || !yaml || !names || !queries || !lat)
		return 1;
	ylen = (size_t)sprintf(yaml, "payload:\n");
	for (size_t i = 0; i < entries; i++) {
		/* Mostly "+.", some exact and subdomain-only, as real lists. */
		static const char *const marks[] = { "+.", "+.", "+.", "", "." };
		const char *m = marks[rnd(5)];

		gen_name(names[i]);
		tlen += (size_t)sprintf(text + tlen, "%s%s\n", m, names[i]);
		ylen += (size_t)sprintf(yaml + ylen, "  - '%s%s'\n", m, names[i]);
	}

	for (int i = 0; i < N_RULES; i++) {
		struct conf_pos pos = { "bench.yaml", i + 1, 3 };

		if (rules_parse_line(rules_text[i], strlen(rules_text[i]), &pos, &specs[i], &err))
			return 1;
	}

	/* Load: parse (text, then YAML) and compile. */
	t0 = now_ns();
	if (ruleset_load_buffer("big", RULESET_DOMAIN, RULESET_TEXT, "big.txt", text, tlen, &rs,
				&err)) {
		conf_err_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	t1 = now_ns();
	{
		struct rule_build_opts o = {
			.target_fn = target_fn, .set_fn = set_fn, .set_arg = rs, .default_target = 2
		};

		if (rule_engine_build(specs, N_RULES, &o, &e, &err)) {
			conf_err_format(&err, msg, sizeof(msg));
			fprintf(stderr, "%s\n", msg);
			return 1;
		}
	}
	t2 = now_ns();
	{
		struct ruleset *ry;

		if (ruleset_load_buffer("big", RULESET_DOMAIN, RULESET_YAML, "big.yaml", yaml, ylen,
					&ry, &err))
			return 1;
		t3 = now_ns();
		ruleset_free(ry);
	}
	printf("rule engine: %zu-entry domain set behind %d rules\n", entries, N_RULES);
	printf("load   text parse %.1f ms + compile %.1f ms = %.1f ms (YAML parse %.1f ms)\n",
	       (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, (double)(t2 - t0) / 1e6,
	       (double)(t3 - t2) / 1e6);

	/* Queries: 40% under set entries, 40% random misses, 20% hitting
	 * the plain rules (suffixes, keyword). */
	for (size_t i = 0; i < nq; i++) {
		uint32_t k = rnd(10);

		if (k < 4) {
			char l[16];
			int n = gen_label(l);

			snprintf(queries[i], sizeof(queries[i]), "%.*s.%s", n, l,
				 names[rnd((uint32_t)entries)]);
		} else if (k < 8) {
			gen_name(queries[i]);
		} else {
			static const char *const plain[] = { "www.google.com", "api.github.com",
							     "x.adservice.net", "mail.qq.cn" };

			snprintf(queries[i], sizeof(queries[i]), "%s", plain[rnd(4)]);
		}
	}
	overhead = UINT64_MAX;
	for (int i = 0; i < 1000; i++) {
		uint64_t a = now_ns(), b = now_ns();

		if (b - a < overhead)
			overhead = b - a;
	}

	for (int pass = 0; pass < 2; pass++) {
		size_t n = pass == 0 ? nq : nq_naive;

		for (size_t i = 0; i < n; i++) {
			struct rule_query q;
			struct rule_result r;
			int got;
			uint64_t a, b;

			memset(&q, 0, sizeof(q));
			q.network = RULE_NET_TCP;
			q.domain = queries[i];
			q.dst_port = 443;
			a = now_ns();
			if (pass == 0)
				got = rule_match(e, &q, &r) == RULE_MATCHED ? (int)r.rule : -1;
			else
				got = naive_match(specs, rs, &q);
			b = now_ns();
			lat[i] = b - a > overhead ? b - a - overhead : 0;
			if (pass == 0)
				hits += got == 6;
			else {
				/* The baseline must agree with the engine. */
				struct rule_result r2;

				rule_match(e, &q, &r2);
				if ((int)r2.rule != got) {
					fprintf(stderr, "disagree on %s: %d vs %u\n", queries[i],
						got, r2.rule);
					return 1;
				}
			}
		}
		qsort(lat, n, sizeof(*lat), cmp_u64);
		printf("match  %-8s p50 %6llu ns  p99 %8llu ns  (%zu queries%s)\n",
		       pass == 0 ? "engine" : "naive", (unsigned long long)lat[n / 2],
		       (unsigned long long)lat[n * 99 / 100], n,
		       pass == 0 ? "" : ", same verdicts");
	}
	printf("       %zu of %zu engine queries won by the rule set; timer overhead %llu ns "
	       "subtracted\n",
	       hits, nq, (unsigned long long)overhead);

	rule_engine_unref(e);
	ruleset_free(rs);
	for (int i = 0; i < N_RULES; i++)
		rule_spec_free(&specs[i]);
	free(text);
	free(yaml);
	free(names);
	free(queries);
	free(lat);
	return 0;
}
