/* Unit tests for the rule line parser (config/rules_parse.c). */
#include "config/rules_parse.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct conf_pos at1 = { "rules.yaml", 12, 1 };

/* Parses line (NUL-terminated) at rules.yaml:12:1; checks success. */
static int parse_ok(const char *line, struct rule_spec *s)
{
	struct conf_err err;
	char buf[700];
	int r = rules_parse_line(line, strlen(line), &at1, s, &err);

	if (r != 0) {
		conf_err_format(&err, buf, sizeof(buf));
		fprintf(stderr, "  unexpected error for \"%s\": %s\n", line, buf);
	}
	T_EQ_INT(r, 0);
	return r;
}

static int entry_ok(const char *line, struct rule_spec *s)
{
	struct conf_err err;
	char buf[700];
	int r = rules_parse_entry(line, strlen(line), &at1, s, &err);

	if (r != 0) {
		conf_err_format(&err, buf, sizeof(buf));
		fprintf(stderr, "  unexpected error for \"%s\": %s\n", line, buf);
	}
	T_EQ_INT(r, 0);
	return r;
}

static void test_plain_types(void)
{
	struct rule_spec s;

	if (parse_ok("DOMAIN,Example.COM.,Proxy", &s) == 0) {
		T_EQ_INT(s.type, RULE_DOMAIN);
		T_EQ_STR(s.str, "example.com");
		T_EQ_STR(s.target, "Proxy");
		T_EQ_STR(s.text, "DOMAIN,Example.COM.,Proxy");
		T_CHECK(!s.no_resolve);
		T_EQ_STR(s.pos.file, "rules.yaml");
		T_EQ_INT(s.pos.line, 12);
		T_EQ_INT(s.pos.col, 1);
		T_EQ_INT(s.payload_pos.col, 8);
		T_EQ_INT(s.target_pos.col, 21);
	}
	rule_spec_free(&s);

	/* Blanks around fields, lower-case type, as Clash users write. */
	if (parse_ok("  domain-suffix, google.com , Proxy Group ", &s) == 0) {
		T_EQ_INT(s.type, RULE_DOMAIN_SUFFIX);
		T_EQ_STR(s.str, "google.com");
		T_EQ_STR(s.target, "Proxy Group");
		T_EQ_STR(s.text, "domain-suffix, google.com , Proxy Group");
		T_EQ_INT(s.pos.col, 3);
		T_EQ_INT(s.payload_pos.col, 18);
		T_EQ_INT(s.target_pos.col, 31);
	}
	rule_spec_free(&s);

	if (parse_ok("DOMAIN-KEYWORD,GooGle,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_DOMAIN_KEYWORD);
		T_EQ_STR(s.str, "google");
	}
	rule_spec_free(&s);

	if (parse_ok("DOMAIN,xn--bcher-kva.example,X", &s) == 0)
		T_EQ_STR(s.str, "xn--bcher-kva.example");
	rule_spec_free(&s);
	/* IDN to punycode, as mihomo's idna.ToASCII (libidn2). */
	if (parse_ok("DOMAIN,B\xc3\xbc"
		     "cher.example,X",
		     &s) == 0)
		T_EQ_STR(s.str, "xn--bcher-kva.example");
	rule_spec_free(&s);
	if (parse_ok("DOMAIN-SUFFIX,\xe4\xb8\xad\xe5\x9b\xbd,X", &s) == 0)
		T_EQ_STR(s.str, "xn--fiqs8s");
	rule_spec_free(&s);
	if (parse_ok("DOMAIN-KEYWORD,\xe4\xb8\xad\xe5\x9b\xbd,X", &s) == 0)
		T_EQ_STR(s.str, "xn--fiqs8s");
	rule_spec_free(&s);
	if (parse_ok("DOMAIN,_dmarc.EXAMPLE-1.org,X", &s) == 0)
		T_EQ_STR(s.str, "_dmarc.example-1.org");
	rule_spec_free(&s);

	if (parse_ok("NETWORK,udp,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_NETWORK);
		T_EQ_INT(s.network, RULE_NET_UDP);
	}
	rule_spec_free(&s);
	if (parse_ok("network,TCP,X", &s) == 0)
		T_EQ_INT(s.network, RULE_NET_TCP);
	rule_spec_free(&s);

	if (parse_ok("PROCESS-NAME,Google Chrome,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_PROCESS_NAME);
		T_EQ_STR(s.str, "Google Chrome");
	}
	rule_spec_free(&s);
	if (parse_ok("PROCESS-PATH,/usr/bin/curl,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_PROCESS_PATH);
		T_EQ_STR(s.str, "/usr/bin/curl");
	}
	rule_spec_free(&s);

	if (parse_ok("RULE-SET,ads,REJECT,no-resolve", &s) == 0) {
		T_EQ_INT(s.type, RULE_RULE_SET);
		T_EQ_STR(s.str, "ads");
		T_EQ_STR(s.target, "REJECT");
		T_CHECK(s.no_resolve);
		T_EQ_INT(s.payload_pos.col, 10);
	}
	rule_spec_free(&s);

	if (parse_ok("MATCH,Proxy", &s) == 0) {
		T_EQ_INT(s.type, RULE_MATCH);
		T_EQ_STR(s.target, "Proxy");
		T_CHECK(s.str == NULL);
		T_EQ_INT(s.target_pos.col, 7);
	}
	rule_spec_free(&s);
	if (parse_ok(" match , Final ", &s) == 0) {
		T_EQ_STR(s.target, "Final");
		T_EQ_STR(s.text, "match , Final");
	}
	rule_spec_free(&s);
	T_EQ_STR(rules_type_name(RULE_DOMAIN_SUFFIX), "DOMAIN-SUFFIX");
	T_EQ_STR(rules_type_name(RULE_IP_CIDR), "IP-CIDR");
}

static void test_regex(void)
{
	struct rule_spec s;

	if (parse_ok("DOMAIN-REGEX,^(ab|c)\\.com$,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_DOMAIN_REGEX);
		T_EQ_STR(s.str, "^(ab|c)\\.com$");
		T_EQ_STR(s.target, "X");
	}
	rule_spec_free(&s);
	/* Commas belong to the regex; the target is the last field. */
	if (parse_ok("DOMAIN-REGEX, ^a{1,3}\\.b$ , My Proxy", &s) == 0) {
		T_EQ_STR(s.str, "^a{1,3}\\.b$");
		T_EQ_STR(s.target, "My Proxy");
		T_EQ_INT(s.payload_pos.col, 15);
	}
	rule_spec_free(&s);
	if (entry_ok("DOMAIN-REGEX,^a,b$", &s) == 0)
		T_EQ_STR(s.str, "^a,b$");
	rule_spec_free(&s);
	/* What POSIX ERE refused and real lists hold: a '-' after a range,
	 * \d, (?i), lazy quantifiers, lookahead (mihomo's regexp2). */
	if (parse_ok("DOMAIN-REGEX,^[a-z0-9-_.]+\\.m-team\\.cc$,X", &s) == 0)
		T_EQ_INT(s.type, RULE_DOMAIN_REGEX);
	rule_spec_free(&s);
	if (parse_ok("DOMAIN-REGEX,(?i)^ad\\d+?\\.(?!safe)\\w+\\.com$,X", &s) == 0)
		T_EQ_INT(s.type, RULE_DOMAIN_REGEX);
	rule_spec_free(&s);
	if (parse_ok("PROCESS-NAME-REGEX,^(chrome|firefox),x$,P", &s) == 0) {
		T_EQ_INT(s.type, RULE_PROCESS_NAME_REGEX);
		T_EQ_STR(s.str, "^(chrome|firefox),x$");
		T_EQ_STR(s.target, "P");
	}
	rule_spec_free(&s);
	if (entry_ok("PROCESS-PATH-REGEX,^/usr/bin/.*", &s) == 0)
		T_EQ_INT(s.type, RULE_PROCESS_PATH_REGEX);
	rule_spec_free(&s);
}

static void test_geo(void)
{
	struct rule_spec s;

	if (parse_ok("GEOIP,CN,X,no-resolve", &s) == 0) {
		T_EQ_INT(s.type, RULE_GEOIP);
		T_EQ_STR(s.str, "cn");
		T_CHECK(s.no_resolve);
	}
	rule_spec_free(&s);
	if (parse_ok("GEOIP,lan,X,src", &s) == 0)
		T_EQ_INT(s.type, RULE_SRC_GEOIP);
	rule_spec_free(&s);
	if (parse_ok("SRC-GEOIP,cn,X", &s) == 0)
		T_EQ_INT(s.type, RULE_SRC_GEOIP);
	rule_spec_free(&s);
	if (parse_ok("IP-ASN,13335,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_IP_ASN);
		T_EQ_INT(s.asn, 13335);
	}
	rule_spec_free(&s);
	if (parse_ok("SUB-RULE,(AND,((NETWORK,TCP),(DST-PORT,443))),web", &s) == 0) {
		T_EQ_INT(s.type, RULE_SUB_RULE);
		T_EQ_INT(s.n_sub, 1);
		T_EQ_INT(s.sub[0].type, RULE_AND);
		T_EQ_STR(s.target, "web");
	}
	rule_spec_free(&s);
	if (parse_ok("GEOSITE,Google@CN,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_GEOSITE);
		T_EQ_STR(s.str, "google@cn");
	}
	rule_spec_free(&s);
}

/* Types added for real lists: DOMAIN-WILDCARD, IP-SUFFIX, IN-PORT, DSCP,
 * the src option; ignored fields of rule-set entries. */
static void test_new_types(void)
{
	struct rule_spec s;

	if (parse_ok("DOMAIN-WILDCARD,*.Ex?mple.com,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_DOMAIN_WILDCARD);
		T_EQ_STR(s.str, "*.ex?mple.com");
	}
	rule_spec_free(&s);
	if (parse_ok("IP-SUFFIX,0.0.0.7/8,X,no-resolve", &s) == 0) {
		T_EQ_INT(s.type, RULE_IP_SUFFIX);
		T_EQ_INT(s.cidr.family, 4);
		T_EQ_INT(s.cidr.plen, 8);
		T_EQ_INT(s.cidr.addr[3], 7); /* not masked */
		T_CHECK(s.no_resolve);
	}
	rule_spec_free(&s);
	if (parse_ok("SRC-IP-SUFFIX,::1:2/32,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_SRC_IP_SUFFIX);
		T_EQ_INT(s.cidr.family, 6);
		T_EQ_INT(s.cidr.addr[13], 1);
	}
	rule_spec_free(&s);
	if (parse_ok("IP-CIDR,10.0.0.0/8,X,src", &s) == 0) {
		T_EQ_INT(s.type, RULE_SRC_IP_CIDR);
		T_CHECK(!s.no_resolve);
	}
	rule_spec_free(&s);
	if (parse_ok("IP-SUFFIX,0.0.0.1/8,X,src,no-resolve", &s) == 0)
		T_EQ_INT(s.type, RULE_SRC_IP_SUFFIX);
	rule_spec_free(&s);
	if (parse_ok("IN-PORT,7890/7891-7893,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_IN_PORT);
		T_EQ_INT(s.n_ranges, 2);
	}
	rule_spec_free(&s);
	/* IN-TYPE: names upper-cased, SOCKS expanded (mihomo's parseInTypes);
	 * IN-USER and IN-NAME kept as written, blanks trimmed. */
	if (parse_ok("IN-TYPE, tun / Socks/http ,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_IN_TYPE);
		T_EQ_STR(s.str, "TUN/SOCKS4/SOCKS5/HTTP");
	}
	rule_spec_free(&s);
	if (parse_ok("IN-USER,Alice / bob,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_IN_USER);
		T_EQ_STR(s.str, "Alice/bob");
	}
	rule_spec_free(&s);
	if (parse_ok("NOT,((IN-NAME,DEFAULT-TUN)),X", &s) == 0)
		T_EQ_STR(s.sub[0].str, "DEFAULT-TUN");
	rule_spec_free(&s);
	if (parse_ok("DSCP,4/46-48,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_DSCP);
		T_EQ_INT(s.ranges[1].hi, 48);
	}
	rule_spec_free(&s);
	/* A classical entry with a target: kept, the target ignored. */
	if (entry_ok("DOMAIN-SUFFIX,x.com,DIRECT", &s) == 0) {
		T_CHECK(s.ignored);
		T_EQ_INT(s.ignored_off, 20);
		T_CHECK(s.target == NULL);
	}
	rule_spec_free(&s);
	if (entry_ok("IP-CIDR,1.2.3.0/24,Proxy,no-resolve", &s) == 0) {
		T_CHECK(s.ignored);
		T_CHECK(s.no_resolve);
	}
	rule_spec_free(&s);
}

static void test_cidr(void)
{
	static const uint8_t v4[4] = { 10, 0, 0, 0 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 1, 2, 3, 4 };
	struct rule_spec s;

	if (parse_ok("IP-CIDR,10.1.2.3/8,DIRECT,no-resolve", &s) == 0) {
		T_EQ_INT(s.type, RULE_IP_CIDR);
		T_EQ_INT(s.cidr.family, 4);
		T_EQ_INT(s.cidr.plen, 8);
		T_EQ_MEM(s.cidr.addr, v4, 4);
		T_CHECK(s.no_resolve);
	}
	rule_spec_free(&s);
	if (parse_ok("IP-CIDR6,2001:db8:ffff::1/32,X", &s) == 0) {
		T_EQ_INT(s.type, RULE_IP_CIDR);
		T_EQ_INT(s.cidr.family, 6);
		T_EQ_INT(s.cidr.plen, 32);
		T_EQ_MEM(s.cidr.addr, v6, 16);
	}
	rule_spec_free(&s);
	/* Either name takes either family, as mihomo. */
	if (parse_ok("IP-CIDR6,1.2.3.4/32,X,No-Resolve", &s) == 0) {
		T_EQ_INT(s.cidr.family, 4);
		T_CHECK(s.no_resolve);
	}
	rule_spec_free(&s);
	if (parse_ok("IP-CIDR,::ffff:1.2.3.4/128,X", &s) == 0) {
		T_EQ_INT(s.cidr.family, 6);
		T_EQ_MEM(s.cidr.addr, mapped, 16);
	}
	rule_spec_free(&s);
	if (parse_ok("IP-CIDR,0.0.0.0/0,X", &s) == 0)
		T_EQ_INT(s.cidr.plen, 0);
	rule_spec_free(&s);
	if (parse_ok("IP-CIDR6,::/0,X", &s) == 0)
		T_EQ_INT(s.cidr.family, 6);
	rule_spec_free(&s);
	if (parse_ok("SRC-IP-CIDR,192.168.1.201/32,DIRECT", &s) == 0) {
		T_EQ_INT(s.type, RULE_SRC_IP_CIDR);
		T_EQ_INT(s.cidr.plen, 32);
		T_EQ_INT(s.cidr.addr[3], 201);
	}
	rule_spec_free(&s);
}

static void check_ranges(const char *line, enum rule_type type, size_t n, const uint32_t *pairs)
{
	struct rule_spec s;

	if (parse_ok(line, &s) == 0) {
		T_EQ_INT(s.type, type);
		T_EQ_INT(s.n_ranges, n);
		for (size_t i = 0; i < n && i < s.n_ranges; i++) {
			T_EQ_INT(s.ranges[i].lo, pairs[2 * i]);
			T_EQ_INT(s.ranges[i].hi, pairs[2 * i + 1]);
		}
	}
	rule_spec_free(&s);
}

static void test_ranges(void)
{
	check_ranges("DST-PORT,443,X", RULE_DST_PORT, 1, (uint32_t[]){ 443, 443 });
	check_ranges("DST-PORT,8000-9000,X", RULE_DST_PORT, 1, (uint32_t[]){ 8000, 9000 });
	check_ranges("SRC-PORT,80/443/8000-8080,X", RULE_SRC_PORT, 3,
		     (uint32_t[]){ 80, 80, 443, 443, 8000, 8080 });
	check_ranges("DST-PORT, 80 / 8000 - 9000 ,X", RULE_DST_PORT, 2,
		     (uint32_t[]){ 80, 80, 8000, 9000 });
	check_ranges("DST-PORT,0-65535,X", RULE_DST_PORT, 1, (uint32_t[]){ 0, 65535 });
	check_ranges("DST-PORT,7-7,X", RULE_DST_PORT, 1, (uint32_t[]){ 7, 7 });
	check_ranges("UID,1000,X", RULE_UID, 1, (uint32_t[]){ 1000, 1000 });
	check_ranges("UID,1000-2000/0,X", RULE_UID, 2, (uint32_t[]){ 1000, 2000, 0, 0 });
	check_ranges("UID,4294967295,X", RULE_UID, 1, (uint32_t[]){ 4294967295u, 4294967295u });
}

static void test_logic(void)
{
	struct rule_spec s;

	if (parse_ok("AND,((DOMAIN,baidu.com),(NETWORK,UDP)),DIRECT", &s) == 0) {
		T_EQ_INT(s.type, RULE_AND);
		T_EQ_INT(s.n_sub, 2);
		T_EQ_STR(s.target, "DIRECT");
		T_EQ_INT(s.payload_pos.col, 5);
		if (s.n_sub == 2) {
			T_EQ_INT(s.sub[0].type, RULE_DOMAIN);
			T_EQ_STR(s.sub[0].str, "baidu.com");
			T_CHECK(s.sub[0].target == NULL && s.sub[0].text == NULL);
			T_EQ_INT(s.sub[0].pos.col, 7);
			T_EQ_INT(s.sub[1].type, RULE_NETWORK);
			T_EQ_INT(s.sub[1].network, RULE_NET_UDP);
			T_EQ_INT(s.sub[1].pos.col, 26);
		}
	}
	rule_spec_free(&s);
	if (parse_ok("OR,((NETWORK,UDP),(DOMAIN,baidu.com)),REJECT", &s) == 0) {
		T_EQ_INT(s.type, RULE_OR);
		T_EQ_INT(s.n_sub, 2);
	}
	rule_spec_free(&s);
	if (parse_ok("NOT,((DOMAIN,baidu.com)),PROXY", &s) == 0) {
		T_EQ_INT(s.type, RULE_NOT);
		T_EQ_INT(s.n_sub, 1);
		T_EQ_STR(s.target, "PROXY");
	}
	rule_spec_free(&s);
	/* A single operand is fine for AND/OR. */
	if (parse_ok("AND,((DOMAIN,a.com)),X", &s) == 0)
		T_EQ_INT(s.n_sub, 1);
	rule_spec_free(&s);

	if (parse_ok("AND,((OR,((DOMAIN,a.com),(DOMAIN-SUFFIX,b.com))),"
		     "(NOT,((NETWORK,UDP))),(DST-PORT,80/443)),X",
		     &s) == 0) {
		T_EQ_INT(s.n_sub, 3);
		if (s.n_sub == 3) {
			T_EQ_INT(s.sub[0].type, RULE_OR);
			T_EQ_INT(s.sub[0].n_sub, 2);
			if (s.sub[0].n_sub == 2)
				T_EQ_STR(s.sub[0].sub[1].str, "b.com");
			T_EQ_INT(s.sub[1].type, RULE_NOT);
			if (s.sub[1].n_sub == 1)
				T_EQ_INT(s.sub[1].sub[0].network, RULE_NET_UDP);
			T_EQ_INT(s.sub[2].type, RULE_DST_PORT);
			T_EQ_INT(s.sub[2].n_ranges, 2);
		}
	}
	rule_spec_free(&s);

	if (parse_ok("and , ( ( domain , A.com ) , ( network , udp ) ) , X ", &s) == 0) {
		T_EQ_INT(s.type, RULE_AND);
		T_EQ_INT(s.n_sub, 2);
		if (s.n_sub == 2)
			T_EQ_STR(s.sub[0].str, "a.com");
		T_EQ_STR(s.target, "X");
	}
	rule_spec_free(&s);

	/* Operands take options and rule sets; regex parentheses nest. */
	if (parse_ok("AND,((IP-CIDR,1.2.3.0/24,no-resolve),(RULE-SET,cn),"
		     "(DOMAIN-REGEX,^(a|b)\\.com$)),X",
		     &s) == 0) {
		T_EQ_INT(s.n_sub, 3);
		if (s.n_sub == 3) {
			T_CHECK(s.sub[0].no_resolve);
			T_EQ_STR(s.sub[1].str, "cn");
			T_EQ_STR(s.sub[2].str, "^(a|b)\\.com$");
		}
	}
	rule_spec_free(&s);

	/* Nesting up to the limit. */
	{
		char line[512];
		size_t n = 0;

		n += (size_t)sprintf(line + n, "NOT,");
		for (int i = 0; i < RULES_MAX_DEPTH - 1; i++)
			n += (size_t)sprintf(line + n, "((NOT,");
		n += (size_t)sprintf(line + n, "((DOMAIN,a.com))");
		for (int i = 0; i < RULES_MAX_DEPTH - 1; i++)
			n += (size_t)sprintf(line + n, "))");
		sprintf(line + n, ",X");
		if (parse_ok(line, &s) == 0) {
			const struct rule_spec *p = &s;
			int depth = 0;

			while (p->type == RULE_NOT && p->n_sub == 1) {
				p = &p->sub[0];
				depth++;
			}
			T_EQ_INT(depth, RULES_MAX_DEPTH);
			T_EQ_INT(p->type, RULE_DOMAIN);
		}
		rule_spec_free(&s);
	}
}

static void test_entries(void)
{
	struct rule_spec s;

	if (entry_ok("DOMAIN-SUFFIX,x.com", &s) == 0) {
		T_EQ_INT(s.type, RULE_DOMAIN_SUFFIX);
		T_CHECK(s.target == NULL);
		T_EQ_STR(s.text, "DOMAIN-SUFFIX,x.com");
	}
	rule_spec_free(&s);
	if (entry_ok("IP-CIDR,1.2.3.0/24,no-resolve", &s) == 0)
		T_CHECK(s.no_resolve);
	rule_spec_free(&s);
	if (entry_ok(" AND,((DOMAIN,a),(NETWORK,TCP)) ", &s) == 0) {
		T_EQ_INT(s.type, RULE_AND);
		T_CHECK(s.target == NULL);
	}
	rule_spec_free(&s);
	if (entry_ok("PROCESS-NAME,curl", &s) == 0)
		T_EQ_STR(s.str, "curl");
	rule_spec_free(&s);
}

/* --- errors: the whole formatted line, column included ------------------- */

enum { LINE, ENTRY };

struct err_case {
	int mode;
	const char *line;
	const char *want; /* formatted; a trailing '*' matches any rest */
};

static const struct err_case errs[] = {
	{ LINE, "", "rules.yaml:12:1: empty rule" },
	{ LINE, "   ", "rules.yaml:12:1: empty rule" },
	{ LINE, ",a.com,X", "rules.yaml:12:1: missing rule type before ','" },
	{ ENTRY, "SUB-RULE,(NETWORK,tcp)",
	  "rules.yaml:12:10: SUB-RULE is not allowed in a rule set" },
	{ LINE, "SUB-RULE,NETWORK,tcp,x",
	  "rules.yaml:12:10: expected '(' after SUB-RULE: write SUB-RULE,(RULE),NAME" },
	{ LINE, "SUB-RULE,(NETWORK,tcp)", "rules.yaml:12:23: missing target: *" },
	{ LINE, "  GeoIP , CN , DIRECT,sorc",
	  "rules.yaml:12:23: unknown option 'sorc': expected no-resolve or src" },
	{ LINE, "IP-ASN,AS13335,X",
	  "rules.yaml:12:8: bad AS number 'AS13335': expected a number like 13335" },
	{ LINE, "GEOSITE,cn,X,no-resolve",
	  "rules.yaml:12:14: no-resolve is not allowed on GEOSITE *" },
	{ LINE, "IN-TYPE,SOCKS6,X", "rules.yaml:12:9: unknown inbound type 'SOCKS6': expected *" },
	/* misspelt: the closest of our types, never one we do not support */
	{ LINE, "DOMAIN-SUFIX,example.com,DIRECT",
	  "rules.yaml:12:1: unknown rule type 'DOMAIN-SUFIX' (did you mean \"DOMAIN-SUFFIX\"?)" },
	{ LINE, "  domain-keywrd,ads,REJECT",
	  "rules.yaml:12:3: unknown rule type 'domain-keywrd' (did you mean \"DOMAIN-KEYWORD\"?)" },
	{ ENTRY, "DOMIAN,a.com",
	  "rules.yaml:12:1: unknown rule type 'DOMIAN' (did you mean \"DOMAIN\"?)" },
	{ LINE, "AND,((DST-PROT,443)),X",
	  "rules.yaml:12:7: unknown rule type 'DST-PROT' (did you mean \"DST-PORT\"?)" },
	{ LINE, "PROCESS-NAME-REGX,a,X",
	  "rules.yaml:12:1: unknown rule type 'PROCESS-NAME-REGX' (did you mean "
	  "\"PROCESS-NAME-REGEX\"?)" },
	{ LINE, "IN-NAME,a//b,X",
	  "rules.yaml:12:11: empty name in 'IN-NAME' (names are separated by '/')" },
	{ LINE, "FOOBAR,a,X",
	  "rules.yaml:12:1: unknown rule type 'FOOBAR' (not supported by tun2socks)" },
	{ LINE, "DOMAIN", "rules.yaml:12:7: missing payload: expected DOMAIN,PAYLOAD,TARGET" },
	{ LINE, "DOMAIN, ,X", "rules.yaml:12:9: missing payload: expected DOMAIN,PAYLOAD,TARGET" },
	{ LINE, "DOMAIN,a.com",
	  "rules.yaml:12:13: missing target: expected DOMAIN,PAYLOAD,TARGET" },
	{ LINE, "MATCH", "rules.yaml:12:6: missing target: expected MATCH,TARGET" },
	{ LINE, "MATCH, ", "rules.yaml:12:7: empty target after 'MATCH'" },
	{ LINE, "DOMAIN,a.com,", "rules.yaml:12:14: empty target after 'payload'" },
	{ LINE, "IP-CIDR,1.2.3.0/24,no-resolve",
	  "rules.yaml:12:20: missing target before 'no-resolve'" },
	{ LINE, "DOMAIN,a.com,X,", "rules.yaml:12:16: empty field after ','" },
	{ LINE, "IP-CIDR,1.2.3.0/24,X,sorc",
	  "rules.yaml:12:22: unknown option 'sorc': expected no-resolve or src" },
	{ LINE, "DOMAIN,a.com,X,src",
	  "rules.yaml:12:16: src is not allowed on DOMAIN (only on IP-CIDR, IP-CIDR6, IP-SUFFIX, "
	  "GEOIP, IP-ASN)" },
	{ LINE, "DSCP,64,X", "rules.yaml:12:6: bad DSCP '64': expected a number 0..63, *" },
	{ LINE, "IP-SUFFIX,1.2.3.4,X", "rules.yaml:12:11: bad IP suffix '1.2.3.4': *" },
	{ LINE, "PROCESS-PATH-REGEX,a(,X", "rules.yaml:12:20: bad regex 'a(': *" },
	{ LINE, "DOMAIN,a.com,X,no-resolve",
	  "rules.yaml:12:16: no-resolve is not allowed on DOMAIN (only on IP-CIDR, IP-CIDR6, "
	  "IP-SUFFIX, GEOIP, IP-ASN and RULE-SET)" },
	{ LINE, "MATCH,X,no-resolve",
	  "rules.yaml:12:9: no-resolve is not allowed on MATCH (only on IP-CIDR, IP-CIDR6, "
	  "IP-SUFFIX, GEOIP, IP-ASN and RULE-SET)" },
	{ LINE, "SRC-IP-CIDR,1.2.3.0/24,X,no-resolve",
	  "rules.yaml:12:26: no-resolve is not allowed on SRC-IP-CIDR (only on IP-CIDR, IP-CIDR6, "
	  "IP-SUFFIX, GEOIP, IP-ASN and RULE-SET)" },

	{ LINE, "AND,((DOMAIN,a.com,X),(NETWORK,TCP)),Y",
	  "rules.yaml:12:20: unexpected 'X': expected no-resolve, src or nothing (rules inside "
	  "AND/OR/NOT take no target)" },
	{ ENTRY, "MATCH", "rules.yaml:12:1: MATCH is not allowed in a rule set" },
	{ ENTRY, "RULE-SET,x", "rules.yaml:12:1: RULE-SET is not allowed in a rule set" },
	{ ENTRY, "NOT,((RULE-SET,x))", "rules.yaml:12:7: RULE-SET is not allowed in a rule set" },
	{ LINE, "OR,((MATCH),(DOMAIN,a)),X",
	  "rules.yaml:12:6: MATCH is not allowed inside AND/OR/NOT" },
	/* logical structure */
	{ LINE, "AND,DOMAIN,a,X",
	  "rules.yaml:12:5: expected '(' after AND: write AND,((RULE),(RULE)),TARGET" },
	{ ENTRY, "OR, x", "rules.yaml:12:5: expected '(' after OR: write OR,((RULE),(RULE))" },
	{ LINE, "AND", "rules.yaml:12:4: missing payload: expected AND,PAYLOAD,TARGET" },
	{ LINE, "AND,((DOMAIN,a),X", "rules.yaml:12:5: unbalanced '(': no matching ')'" },
	{ LINE, "AND,(),X", "rules.yaml:12:5: empty AND: expected at least one (RULE)" },
	{ LINE, "AND,((DOMAIN,a),),X", "rules.yaml:12:17: expected '(' after ','" },
	{ LINE, "OR,(DOMAIN,a),X", "rules.yaml:12:5: expected '(' to open a rule inside OR" },
	{ LINE, "AND,((DOMAIN,a) x (NETWORK,TCP)),X",
	  "rules.yaml:12:17: expected ',' or ')' after a rule inside AND" },
	{ LINE, "NOT,((DOMAIN,a),(DOMAIN,b)),X",
	  "rules.yaml:12:5: NOT takes exactly one rule, found 2" },
	{ LINE, "AND,((DOMAIN,a))x,X",
	  "rules.yaml:12:17: unexpected 'x,X' after ')': expected ','" },
	{ LINE, "AND,((DOMAIN,a)) ",
	  "rules.yaml:12:17: missing target: expected AND,PAYLOAD,TARGET" },
	{ LINE, "AND,((DOMAIN,a),( )),X", "rules.yaml:12:17: empty rule inside parentheses" },
	{ LINE, "AND,((DOMAIN,a),(IN-USR,CN)),X",
	  "rules.yaml:12:18: unknown rule type 'IN-USR' (did you mean \"IN-USER\"?)" },
	{ LINE, "AND,((DOMAIN,a),(IP-CIDR,1.2.3.4/40)),X",
	  "rules.yaml:12:26: bad CIDR '1.2.3.4/40': prefix length must be 0..32" },
	/* DOMAIN-REGEX */
	{ LINE, "DOMAIN-REGEX,^a$",
	  "rules.yaml:12:17: missing target: expected DOMAIN-REGEX,REGEX,TARGET" },
	{ LINE, "DOMAIN-REGEX,^a$,X,no-resolve",
	  "rules.yaml:12:20: no-resolve is not allowed on DOMAIN-REGEX (only on IP-CIDR, IP-CIDR6, "
	  "IP-SUFFIX, GEOIP, IP-ASN and RULE-SET)" },
	{ LINE, "DOMAIN-REGEX, ,X",
	  "rules.yaml:12:15: missing payload: expected DOMAIN-REGEX,REGEX,TARGET" },
	{ LINE, "DOMAIN-REGEX,a(,X", "rules.yaml:12:14: bad regex 'a(': *" },
	{ LINE, "DOMAIN-REGEX,((a{100}){100}){100},X",
	  "rules.yaml:12:14: bad regex '((a{100}){100}){100}': regular expression is too large *" },
	/* domains */
	{ LINE, "DOMAIN,a..b,X", "rules.yaml:12:8: bad domain 'a..b': empty label" },
	{ LINE, "DOMAIN-SUFFIX,.google.com,X",
	  "rules.yaml:12:15: bad domain '.google.com': empty label" },
	{ LINE, "DOMAIN,a b.com,X",
	  "rules.yaml:12:8: bad domain 'a b.com': unexpected character (a name holds letters, "
	  "digits, '-', '_' and dots)" },
	{ LINE, "DOMAIN,*.a.com,X",
	  "rules.yaml:12:8: bad domain '*.a.com': unexpected character (a name holds letters, "
	  "digits, '-', '_' and dots)" },
	{ LINE, "DOMAIN,.,X", "rules.yaml:12:8: bad domain '.': empty name" },
	{ LINE, "DOMAIN,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com,X",
	  "rules.yaml:12:8: bad domain "
	  "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com': "
	  "label longer than 63 bytes" },
	/* CIDR */
	{ LINE, "IP-CIDR,10.0.0.0/33,DIRECT",
	  "rules.yaml:12:9: bad CIDR '10.0.0.0/33': prefix length must be 0..32" },
	{ LINE, "IP-CIDR6,2001:db8::/129,X",
	  "rules.yaml:12:10: bad CIDR '2001:db8::/129': prefix length must be 0..128" },
	{ LINE, "IP-CIDR,10.0.0.0/08,X",
	  "rules.yaml:12:9: bad CIDR '10.0.0.0/08': prefix length must be 0..32" },
	{ LINE, "IP-CIDR,10.0.0.0/,X",
	  "rules.yaml:12:9: bad CIDR '10.0.0.0/': prefix length must be 0..32" },
	{ LINE, "IP-CIDR,1.2.3.4,X",
	  "rules.yaml:12:9: bad CIDR '1.2.3.4': expected address/length" },
	{ LINE, "IP-CIDR,1.2.3/24,X", "rules.yaml:12:9: bad CIDR '1.2.3/24': bad IPv4 address" },
	{ LINE, "IP-CIDR,010.0.0.0/8,X",
	  "rules.yaml:12:9: bad CIDR '010.0.0.0/8': bad IPv4 address" },
	{ LINE, "IP-CIDR6,2001:db8:::/48,X",
	  "rules.yaml:12:10: bad CIDR '2001:db8:::/48': bad IPv6 address" },
	{ LINE, "IP-CIDR6,fe80::1%eth0/64,X",
	  "rules.yaml:12:10: bad CIDR 'fe80::1%eth0/64': bad IPv6 address" },
	{ LINE, "SRC-IP-CIDR,/8,X", "rules.yaml:12:13: bad CIDR '/8': bad address" },
	/* ports, UID, network */
	{ LINE, "DST-PORT,70000,X",
	  "rules.yaml:12:10: bad port '70000': expected a number 0..65535, a range A-B or a list "
	  "A/B-C" },
	{ LINE, "DST-PORT,80/http,X",
	  "rules.yaml:12:13: bad port 'http': expected a number 0..65535, a range A-B or a list "
	  "A/B-C" },
	{ LINE, "SRC-PORT,80//443,X", "rules.yaml:12:13: empty port in '80//443'" },
	{ LINE, "SRC-PORT,80/,X", "rules.yaml:12:13: empty port in '80/'" },
	{ LINE, "DST-PORT,9000-8000,X",
	  "rules.yaml:12:10: bad port range '9000-8000': 9000 is above 8000" },
	{ LINE, "DST-PORT,1-,X",
	  "rules.yaml:12:10: bad port '1-': expected a number 0..65535, a range A-B or a list "
	  "A/B-C" },
	{ LINE, "DST-PORT,-5,X",
	  "rules.yaml:12:10: bad port '-5': expected a number 0..65535, a range A-B or a list "
	  "A/B-C" },
	{ LINE, "UID,4294967296,X",
	  "rules.yaml:12:5: bad UID '4294967296': expected a number 0..4294967295, a range A-B or "
	  "a list A/B-C" },
	{ LINE, "NETWORK,icmp,X", "rules.yaml:12:9: bad network 'icmp': expected TCP or UDP" },
	/* bytes the message must not carry raw */
	{ LINE,
	  "DOMAIN,a\x01"
	  "b,X",
	  "rules.yaml:12:8: bad domain 'a\\x01b': unexpected character (a name holds letters, "
	  "digits, '-', '_' and dots)" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const struct err_case *c = &errs[i];
		struct conf_err err;
		struct rule_spec s, zero;
		char got[700];
		size_t wl = strlen(c->want);
		int r;

		memset(&s, 0x5a, sizeof(s));
		memset(&zero, 0, sizeof(zero));
		r = c->mode == LINE ? rules_parse_line(c->line, strlen(c->line), &at1, &s, &err)
				    : rules_parse_entry(c->line, strlen(c->line), &at1, &s, &err);
		T_EQ_INT(r, -EINVAL);
		T_CHECK(memcmp(&s, &zero, sizeof(s)) == 0);
		if (r != -EINVAL)
			continue;
		conf_err_format(&err, got, sizeof(got));
		if (c->want[wl - 1] == '*') {
			if (strncmp(got, c->want, wl - 1) != 0)
				fprintf(stderr, "  \"%s\":\n   got  %s\n   want %s\n", c->line, got,
					c->want);
			T_CHECK(strncmp(got, c->want, wl - 1) == 0 && strlen(got) > wl);
		} else {
			if (strcmp(got, c->want) != 0)
				fprintf(stderr, "  \"%s\"\n", c->line);
			T_EQ_STR(got, c->want);
		}
	}
}

/* The column adds to the caller's: a rule quoted in YAML at column 7. */
static void test_offset_and_len(void)
{
	struct conf_pos pos = { "config.yaml", 40, 7 };
	struct conf_err err;
	struct rule_spec s;
	char got[700];
	const char *line = "IP-CIDR, 10.0.0.0/33,DIRECT";

	T_EQ_INT(rules_parse_line(line, strlen(line), &pos, &s, &err), -EINVAL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "config.yaml:40:16: bad CIDR '10.0.0.0/33': prefix length must be 0..32");

	/* len bounds the text: no NUL needed after it. */
	line = "DOMAIN,a.com,Proxy,garbage";
	T_EQ_INT(rules_parse_line(line, 18, &pos, &s, &err), 0);
	T_EQ_STR(s.target, "Proxy");
	rule_spec_free(&s);

	/* An embedded NUL is refused, not read as the end. */
	T_EQ_INT(rules_parse_line("DOMAIN,a\0b,X", 12, &pos, &s, &err), -EINVAL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "config.yaml:40:15: unexpected NUL byte");

	/* No position known: still a message. */
	T_EQ_INT(rules_parse_line("FOO,a,b", 7, NULL, &s, &err), -EINVAL);
	conf_err_format(&err, got, sizeof(got));
	T_EQ_STR(got, "<input>: unknown rule type 'FOO' (not supported by tun2socks)");
	/* err may be NULL. */
	T_EQ_INT(rules_parse_line("FOO,a,b", 7, NULL, &s, NULL), -EINVAL);

	/* Too deep. */
	{
		char deep[512];
		size_t n = (size_t)sprintf(deep, "NOT,");

		for (int i = 0; i < RULES_MAX_DEPTH; i++)
			n += (size_t)sprintf(deep + n, "((NOT,");
		n += (size_t)sprintf(deep + n, "((DOMAIN,a.com))");
		for (int i = 0; i < RULES_MAX_DEPTH; i++)
			n += (size_t)sprintf(deep + n, "))");
		sprintf(deep + n, ",X");
		T_EQ_INT(rules_parse_line(deep, strlen(deep), &at1, &s, &err), -EINVAL);
		conf_err_format(&err, got, sizeof(got));
		T_EQ_STR(got, "rules.yaml:12:102: AND/OR/NOT nested deeper than 16 levels");
	}
}

static void test_helpers(void)
{
	char out[RULES_DOMAIN_MAX + 1];
	struct rule_cidr c;
	const char *why = NULL;
	size_t n;

	T_EQ_INT(rules_domain_norm("*.Example.COM.", 14, true, out, &n, &why), 0);
	T_EQ_STR(out, "*.example.com");
	T_EQ_INT(n, 13);
	T_EQ_INT(rules_domain_norm("a*.com", 6, true, out, &n, &why), -EINVAL);
	T_EQ_STR(why, "'*' must be a whole label");
	T_EQ_INT(rules_domain_norm("*", 1, true, out, &n, &why), 0);
	T_EQ_INT(rules_domain_norm("*", 1, false, out, &n, &why), -EINVAL);
	{
		char big[300];

		memset(big, 'a', sizeof(big));
		for (size_t i = 63; i < sizeof(big); i += 64)
			big[i] = '.';
		T_EQ_INT(rules_domain_norm(big, 253, false, out, &n, &why), 0);
		T_EQ_INT(rules_domain_norm(big, 254, false, out, &n, &why), -EINVAL);
		T_EQ_STR(why, "longer than 253 bytes");
		big[253] = '.';
		T_EQ_INT(rules_domain_norm(big, 254, false, out, &n, &why), 0);
	}
	T_EQ_INT(rules_cidr_parse("192.168.1.77/23", 15, &c, &why), 0);
	T_EQ_INT(c.addr[2], 0);
	T_EQ_INT(c.addr[3], 0);
	T_EQ_INT(rules_cidr_parse("192.168.3.77/23", 15, &c, &why), 0);
	T_EQ_INT(c.addr[2], 2);
	T_EQ_INT(rules_cidr_parse("10.0.0.0/8 ", 11, &c, &why), -EINVAL);
}

int main(void)
{
	T_RUN(test_plain_types);
	T_RUN(test_regex);
	T_RUN(test_new_types);
	T_RUN(test_geo);
	T_RUN(test_cidr);
	T_RUN(test_ranges);
	T_RUN(test_logic);
	T_RUN(test_entries);
	T_RUN(test_errors);
	T_RUN(test_offset_and_len);
	T_RUN(test_helpers);
	return test_summary();
}
