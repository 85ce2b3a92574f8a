/* libFuzzer target for the rule line parser (config/rules_parse.c).
 *
 * The input is one rule line, parsed both as a rules: line and as a
 * rule-set entry. Checks, beyond sanitizer cleanliness:
 *  - 0 with a well-formed spec, or -EINVAL with the spec cleared and an
 *    error on the caller's line whose column lies within the text (or just
 *    past it) and whose message is one printable line;
 *  - an accepted spec printed back as a rule parses to the same spec
 *    (normalised domains, masked prefixes, ranges, operands, options);
 *  - an accepted line compiles into an engine that answers a query.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "tun2socks/route/rule.h"
#include "config/rules_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define LINE_MAX_LEN 4096

static void check_error(const struct conf_err *err, size_t len)
{
	CHECK(strcmp(err->file, "f.yaml") == 0);
	CHECK(err->line == 7);
	CHECK(err->col >= 3 && (size_t)err->col <= 3 + len);
	CHECK(err->msg[0] != '\0');
	for (const char *c = err->msg; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void check_spec(const struct rule_spec *s, bool top, int depth)
{
	CHECK(depth <= RULES_MAX_DEPTH);
	CHECK(s->type >= RULE_DOMAIN && s->type <= RULE_SUB_RULE);
	CHECK(top == (s->text != NULL));
	switch (s->type) {
	case RULE_DOMAIN:
	case RULE_DOMAIN_SUFFIX: {
		char out[RULES_DOMAIN_MAX + 1];
		const char *why;
		size_t n;

		CHECK(s->str &&
		      rules_domain_norm(s->str, strlen(s->str), false, out, &n, &why) == 0);
		CHECK(strcmp(out, s->str) == 0);
		break;
	}
	case RULE_IP_CIDR:
	case RULE_SRC_IP_CIDR: {
		unsigned bits = s->cidr.family == 4 ? 32 : 128;

		CHECK(s->cidr.family == 4 || s->cidr.family == 6);
		CHECK(s->cidr.plen <= bits);
		for (unsigned b = s->cidr.plen; b < 128; b++)
			CHECK(!(s->cidr.addr[b / 8] & (0x80u >> (b % 8))));
		break;
	}
	case RULE_IP_SUFFIX:
	case RULE_SRC_IP_SUFFIX:
		CHECK(s->cidr.family == 4 || s->cidr.family == 6);
		CHECK(s->cidr.plen <= (s->cidr.family == 4 ? 32 : 128));
		break;
	case RULE_DST_PORT:
	case RULE_SRC_PORT:
	case RULE_IN_PORT:
	case RULE_DSCP:
	case RULE_UID:
		CHECK(s->n_ranges >= 1);
		for (size_t i = 0; i < s->n_ranges; i++) {
			CHECK(s->ranges[i].lo <= s->ranges[i].hi);
			if (s->type != RULE_UID)
				CHECK(s->ranges[i].hi <= (s->type == RULE_DSCP ? 63u : 65535u));
		}
		break;
	case RULE_NETWORK:
		CHECK(s->network == RULE_NET_TCP || s->network == RULE_NET_UDP);
		break;
	case RULE_IN_TYPE:
	case RULE_IN_USER:
	case RULE_IN_NAME: {
		/* '/'-separated names, none empty, none with blanks around */
		size_t n = strlen(s->str);

		CHECK(n > 0 && s->str[0] != '/' && s->str[n - 1] != '/');
		CHECK(strstr(s->str, "//") == NULL && strstr(s->str, " /") == NULL &&
		      strstr(s->str, "/ ") == NULL);
		break;
	}
	case RULE_SUB_RULE:
		CHECK(top && s->n_sub == 1 && s->target);
		check_spec(&s->sub[0], false, depth + 1);
		break;
	case RULE_AND:
	case RULE_OR:
	case RULE_NOT:
		CHECK(s->n_sub >= 1);
		if (s->type == RULE_NOT)
			CHECK(s->n_sub == 1);
		for (size_t i = 0; i < s->n_sub; i++) {
			CHECK(s->sub[i].type != RULE_MATCH);
			check_spec(&s->sub[i], false, depth + 1);
		}
		break;
	default:
		break;
	}
	if (s->type != RULE_MATCH && s->type != RULE_AND && s->type != RULE_OR &&
	    s->type != RULE_NOT && s->type != RULE_IP_CIDR && s->type != RULE_SRC_IP_CIDR &&
	    s->type != RULE_DST_PORT && s->type != RULE_SRC_PORT && s->type != RULE_UID &&
	    s->type != RULE_NETWORK && s->type != RULE_IP_SUFFIX && s->type != RULE_SRC_IP_SUFFIX &&
	    s->type != RULE_IN_PORT && s->type != RULE_DSCP && s->type != RULE_IP_ASN &&
	    s->type != RULE_SRC_IP_ASN && s->type != RULE_SUB_RULE)
		CHECK(s->str && s->str[0] != '\0');
	if (s->no_resolve)
		CHECK(s->type == RULE_IP_CIDR || s->type == RULE_RULE_SET ||
		      s->type == RULE_IP_SUFFIX || s->type == RULE_GEOIP || s->type == RULE_IP_ASN);
}

/* Prints s as a rule (operands without target); returns the length. */
static size_t print_spec(char *out, size_t cap, const struct rule_spec *s)
{
	size_t n = (size_t)snprintf(out, cap, "%s", rules_type_name(s->type));
	char a[64];

	switch (s->type) {
	case RULE_IP_CIDR:
	case RULE_SRC_IP_CIDR:
	case RULE_IP_SUFFIX:
	case RULE_SRC_IP_SUFFIX:
		inet_ntop(s->cidr.family == 4 ? AF_INET : AF_INET6, s->cidr.addr, a, sizeof(a));
		n += (size_t)snprintf(out + n, cap - n, ",%s/%u", a, s->cidr.plen);
		break;
	case RULE_IP_ASN:
	case RULE_SRC_IP_ASN:
		n += (size_t)snprintf(out + n, cap - n, ",%u", s->asn);
		break;
	case RULE_DST_PORT:
	case RULE_SRC_PORT:
	case RULE_IN_PORT:
	case RULE_DSCP:
	case RULE_UID:
		for (size_t i = 0; i < s->n_ranges && n < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%c%u-%u", i ? '/' : ',',
					      s->ranges[i].lo, s->ranges[i].hi);
		break;
	case RULE_NETWORK:
		n += (size_t)snprintf(out + n, cap - n, ",%s",
				      s->network == RULE_NET_TCP ? "TCP" : "UDP");
		break;
	case RULE_AND:
	case RULE_OR:
	case RULE_NOT:
		n += (size_t)snprintf(out + n, cap - n, ",(");
		for (size_t i = 0; i < s->n_sub && n < cap; i++) {
			n += (size_t)snprintf(out + n, cap - n, "%s(", i ? "," : "");
			if (n < cap)
				n += print_spec(out + n, cap - n, &s->sub[i]);
			if (n < cap)
				n += (size_t)snprintf(out + n, cap - n, ")");
		}
		if (n < cap)
			n += (size_t)snprintf(out + n, cap - n, ")");
		break;
	case RULE_SUB_RULE:
		n += (size_t)snprintf(out + n, cap - n, ",(");
		if (n < cap)
			n += print_spec(out + n, cap - n, &s->sub[0]);
		if (n < cap)
			n += (size_t)snprintf(out + n, cap - n, ")");
		break;
	case RULE_MATCH:
		break;
	default:
		n += (size_t)snprintf(out + n, cap - n, ",%s", s->str);
		break;
	}
	if (n < cap && s->target)
		n += (size_t)snprintf(out + n, cap - n, ",%s", s->target);
	if (n < cap && s->no_resolve)
		n += (size_t)snprintf(out + n, cap - n, ",no-resolve");
	return n < cap ? n : cap;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct rule_spec *a, const struct rule_spec *b)
{
	CHECK(a->type == b->type);
	CHECK(a->no_resolve == b->no_resolve);
	CHECK(a->network == b->network);
	CHECK(str_eq(a->str, b->str));
	CHECK(str_eq(a->target, b->target));
	CHECK(memcmp(&a->cidr, &b->cidr, sizeof(a->cidr)) == 0);
	CHECK(a->asn == b->asn);
	CHECK(a->n_ranges == b->n_ranges);
	for (size_t i = 0; i < a->n_ranges; i++)
		CHECK(a->ranges[i].lo == b->ranges[i].lo && a->ranges[i].hi == b->ranges[i].hi);
	CHECK(a->n_sub == b->n_sub);
	for (size_t i = 0; i < a->n_sub; i++)
		check_same(&a->sub[i], &b->sub[i]);
}

static int any_target(void *arg, const char *name)
{
	(void)arg;
	return (int)(strlen(name) % 7);
}

static const struct ruleset *no_set(void *arg, const char *name)
{
	(void)name;
	return arg;
}

/* Whether s (or an operand) needs geodata files, which this target has
 * none of: its build must fail. */
static bool needs_geo(const struct rule_spec *s)
{
	if (s->type == RULE_IP_ASN || s->type == RULE_SRC_IP_ASN || s->type == RULE_GEOSITE ||
	    s->type == RULE_SUB_RULE ||
	    ((s->type == RULE_GEOIP || s->type == RULE_SRC_GEOIP) && strcmp(s->str, "lan") != 0))
		return true;
	for (size_t i = 0; i < s->n_sub; i++)
		if (needs_geo(&s->sub[i]))
			return true;
	return false;
}

/* One engine from the rule, one query named after the input. */
static void check_engine(const struct rule_spec *s, const char *line, size_t len)
{
	static struct ruleset *empty;
	struct rule_build_opts o = { .target_fn = any_target,
				     .set_fn = no_set,
				     .default_target = 42 };
	struct rule_engine *e;
	struct rule_result r;
	struct rule_query q;
	struct conf_err err;
	char dom[64];
	int v;

	if (!empty)
		CHECK(ruleset_load_buffer("e", RULESET_CLASSICAL, RULESET_TEXT, "e", "", 0, &empty,
					  &err) == 0);
	o.set_arg = empty;
	if (needs_geo(s)) {
		CHECK(rule_engine_build(s, 1, &o, &e, &err) == -EINVAL && e == NULL);
		return;
	}
	CHECK(rule_engine_build(s, 1, &o, &e, &err) == 0);
	memset(&q, 0, sizeof(q));
	snprintf(dom, sizeof(dom), "%.*s", (int)(len < 40 ? len : 40), line);
	q.domain = dom;
	q.network = len % 2 ? RULE_NET_TCP : RULE_NET_UDP;
	q.dst_port = (uint16_t)len;
	v = rule_match(e, &q, &r);
	CHECK(v == RULE_MATCHED || v == RULE_DEFAULT || v == RULE_NEED_RESOLVE);
	if (v == RULE_NEED_RESOLVE) {
		struct rule_addr a = { .family = 4, .bytes = { 10, 0, 0, 1 } };

		q.has_resolved = true;
		q.resolved = &a;
		q.n_resolved = 1;
		v = rule_match(e, &q, &r);
		CHECK(v == RULE_MATCHED || v == RULE_DEFAULT);
	}
	if (v == RULE_MATCHED)
		CHECK(r.rule == 0 && r.target == any_target(NULL, s->target));
	else
		CHECK(r.target == 42);
	rule_engine_unref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char printed[3 * LINE_MAX_LEN + 256];
	const struct conf_pos pos = { "f.yaml", 7, 3 };
	struct rule_spec s, t, zero;
	struct conf_err err;
	const char *line = (const char *)data;

	if (size > LINE_MAX_LEN)
		return 0;
	memset(&zero, 0, sizeof(zero));
	for (int mode = 0; mode < 2; mode++) {
		int r;

		memset(&s, 0x5a, sizeof(s));
		r = mode == 0 ? rules_parse_line(line, size, &pos, &s, &err)
			      : rules_parse_entry(line, size, &pos, &s, &err);
		if (r != 0) {
			CHECK(r == -EINVAL || r == -ENOMEM);
			CHECK(memcmp(&s, &zero, sizeof(s)) == 0);
			check_error(&err, size);
			continue;
		}
		check_spec(&s, true, 0);
		CHECK(mode == 0 ? s.target != NULL : s.target == NULL);
		if (mode == 1)
			CHECK(s.type != RULE_MATCH && s.type != RULE_RULE_SET);
		/* Printed back, it parses to the same rule. */
		{
			size_t n = print_spec(printed, sizeof(printed), &s);

			CHECK(n < sizeof(printed));
			r = mode == 0 ? rules_parse_line(printed, n, &pos, &t, &err)
				      : rules_parse_entry(printed, n, &pos, &t, &err);
			if (r != 0) {
				char msg[700];

				conf_err_format(&err, msg, sizeof(msg));
				fprintf(stderr, "reparse of \"%s\": %s\n", printed, msg);
			}
			CHECK(r == 0);
			check_same(&s, &t);
			rule_spec_free(&t);
		}
		if (mode == 0)
			check_engine(&s, line, size);
		rule_spec_free(&s);
		CHECK(memcmp(&s, &zero, sizeof(s)) == 0);
	}
	/* err may be NULL. */
	if (rules_parse_line(line, size, NULL, &s, NULL) == 0)
		rule_spec_free(&s);
	return 0;
}
