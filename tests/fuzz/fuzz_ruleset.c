/* libFuzzer target for rule-set files (config/ruleset.c), both formats.
 *
 * The first byte picks the behaviour (% 3) and the format (/ 3 % 2); the
 * rest is the file, loaded from memory. Checks, beyond sanitizer
 * cleanliness:
 *  - 0 with a set, or -EINVAL with no set and an error inside the file
 *    (line within the file's lines, column >= 1, one printable line);
 *  - every entry is well formed (names normalised, prefixes masked);
 *  - compiled into an engine behind "RULE-SET,s,X", the set matches a name
 *    built from each domain pattern and the address of each prefix.
 */
#include "tun2socks/route/rule.h"
#include "config/ruleset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static int one_target(void *arg, const char *name)
{
	(void)arg;
	(void)name;
	return 1;
}

static const struct ruleset *the_set(void *arg, const char *name)
{
	(void)name;
	return arg;
}

static void check_error(const struct conf_err *err, const uint8_t *buf, size_t len)
{
	int lines = 1;

	for (size_t i = 0; i < len; i++)
		/* libyaml also breaks lines at CR, NEL and U+2028/9. */
		lines += buf[i] == '\n' || buf[i] == '\r' || buf[i] == 0x85 || buf[i] == 0xa8 ||
			 buf[i] == 0xa9;
	CHECK(strcmp(err->file, "f") == 0);
	CHECK(err->line >= 1 && err->line <= lines);
	CHECK(err->col >= 1);
	CHECK(err->msg[0] != '\0');
	for (const char *c = err->msg; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static struct rule_engine *engine_for(const struct ruleset *rs)
{
	static const char line[] = "RULE-SET,s,X";
	struct rule_build_opts o = { .target_fn = one_target,
				     .set_fn = the_set,
				     .set_arg = (void *)rs };
	struct rule_engine *e;
	struct rule_spec spec;
	struct conf_err err;

	CHECK(rules_parse_line(line, sizeof(line) - 1, NULL, &spec, &err) == 0);
	CHECK(rule_engine_build(&spec, 1, &o, &e, &err) == 0);
	rule_spec_free(&spec);
	return e;
}

static void check_domains(const struct ruleset *rs, struct rule_engine *e)
{
	for (size_t i = 0; i < ruleset_count(rs) && i < 64; i++) {
		char name[RULES_DOMAIN_MAX + 3], out[RULES_DOMAIN_MAX + 1];
		const char *pat, *why;
		struct rule_result r;
		struct rule_query q;
		unsigned kind;
		size_t len, n;

		pat = ruleset_domain(rs, i, &len, &kind);
		CHECK(kind >= 1 && kind <= 3 && strlen(pat) == len);
		CHECK(rules_domain_norm(pat, len, true, out, &n, &why) == 0 &&
		      strcmp(out, pat) == 0);
		/* A name the pattern matches: '*' -> 'x'; one label more for
		 * a subdomain-only pattern (if it still fits). */
		n = 0;
		if (!(kind & RULESET_MATCH_SELF)) {
			if (len + 2 > RULES_DOMAIN_MAX)
				continue;
			name[n++] = 'x';
			name[n++] = '.';
		}
		for (size_t j = 0; j < len; j++)
			name[n++] = pat[j] == '*' ? 'x' : pat[j];
		name[n] = '\0';
		memset(&q, 0, sizeof(q));
		q.domain = name;
		CHECK(rule_match(e, &q, &r) == RULE_MATCHED && r.rule == 0);
	}
}

static void check_cidrs(const struct ruleset *rs, struct rule_engine *e)
{
	for (size_t i = 0; i < ruleset_count(rs) && i < 64; i++) {
		const struct rule_cidr *c = ruleset_cidr(rs, i);
		struct rule_result r;
		struct rule_query q;

		CHECK(c->family == 4 || c->family == 6);
		CHECK(c->plen <= (c->family == 4 ? 32 : 128));
		for (unsigned b = c->plen; b < 128; b++)
			CHECK(!(c->addr[b / 8] & (0x80u >> (b % 8))));
		memset(&q, 0, sizeof(q));
		q.dst.family = c->family;
		memcpy(q.dst.bytes, c->addr, 16);
		CHECK(rule_match(e, &q, &r) == RULE_MATCHED && r.rule == 0);
		/* A fake-ip flow needs resolution for it. */
		q.dst.family = 0;
		q.domain = "a.example";
		CHECK(rule_match(e, &q, &r) == RULE_NEED_RESOLVE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ruleset_behavior b;
	enum ruleset_format f;
	struct ruleset *rs = (struct ruleset *)1;
	struct rule_engine *e;
	struct conf_err err;
	int r;

	if (size < 1 || size > 65536)
		return 0;
	b = (enum ruleset_behavior)(RULESET_DOMAIN + data[0] % 3);
	f = (data[0] / 3) % 2 ? RULESET_TEXT : RULESET_YAML;
	r = ruleset_load_buffer("s", b, f, "f", (const char *)data + 1, size - 1, &rs, &err);
	if (r != 0) {
		CHECK(r == -EINVAL || r == -ENOMEM);
		CHECK(rs == NULL);
		if (r == -EINVAL)
			check_error(&err, data + 1, size - 1);
		return 0;
	}
	CHECK(ruleset_behavior(rs) == b);
	e = engine_for(rs);
	if (b == RULESET_DOMAIN)
		check_domains(rs, e);
	else if (b == RULESET_IPCIDR)
		check_cidrs(rs, e);
	else
		for (size_t i = 0; i < ruleset_count(rs); i++) {
			const struct rule_spec *s = ruleset_rule(rs, i);

			CHECK(s->target == NULL && s->type != RULE_MATCH &&
			      s->type != RULE_RULE_SET && s->text != NULL);
		}
	/* The engine owns copies: it outlives the set. */
	ruleset_free(rs);
	{
		struct rule_result res;
		struct rule_query q;

		memset(&q, 0, sizeof(q));
		q.domain = "www.example.com";
		r = rule_match(e, &q, &res);
		CHECK(r == RULE_MATCHED || r == RULE_DEFAULT || r == RULE_NEED_RESOLVE);
	}
	rule_engine_unref(e);
	return 0;
}
