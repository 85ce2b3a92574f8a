/* Unit tests for the rule engine (tun2socks/rule.c).
 *
 * Fixed cases pin the semantics (resolution point, no-resolve, lazy process
 * lookup, build errors); then a NAIVE reference, written here from the
 * semantics in rule.h and walking the rules one by one, decides random rule
 * lists, rule sets and queries built from tiny alphabets so that suffixes,
 * prefixes and ports collide. Verdict, winning index, target and the number
 * of process lookups must agree. The seed is fixed and printed on failure
 * (T2S_RULE_SEED overrides it).
 */
#include "tun2socks/route/rule.h"
#include "tun2socks/route/geo.h"
#include "config/ruleset.h"
#include "config/rules_parse.h"
#include "test.h"

#include <arpa/inet.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- fixtures ------------------------------------------------------------ */

static const char *const targets[] = { "DIRECT", "REJECT", "P0", "P1", "P2", "P3", "PASS" };
enum { N_TARGETS = sizeof(targets) / sizeof(targets[0]), DEFAULT_TARGET = 99 };

enum { PASS_TARGET = 6 };

/* mihomo's PASS: such a rule never wins. */
static bool pass_fn(void *arg, int target)
{
	(void)arg;
	return target == PASS_TARGET;
}

static int target_fn(void *arg, const char *name)
{
	(void)arg;
	for (int i = 0; i < N_TARGETS; i++)
		if (strcmp(targets[i], name) == 0)
			return i;
	return -1;
}

struct setreg {
	const char *name[4];
	struct ruleset *rs[4];
	int n;
};

static const struct ruleset *set_fn(void *arg, const char *name)
{
	struct setreg *r = arg;

	for (int i = 0; i < r->n; i++)
		if (strcmp(r->name[i], name) == 0)
			return r->rs[i];
	return NULL;
}

static void setreg_free(struct setreg *r)
{
	for (int i = 0; i < r->n; i++)
		ruleset_free(r->rs[i]);
	r->n = 0;
}

static struct ruleset *mkset(const char *name, enum ruleset_behavior b, enum ruleset_format f,
			     const char *text)
{
	struct ruleset *rs = NULL;
	struct conf_err err;
	char buf[700];

	if (ruleset_load_buffer(name, b, f, "set.txt", text, strlen(text), &rs, &err)) {
		conf_err_format(&err, buf, sizeof(buf));
		fprintf(stderr, "set %s: %s\n---\n%s---\n", name, buf, text);
	}
	T_CHECK(rs != NULL);
	return rs;
}

static void setreg_add(struct setreg *r, const char *name, enum ruleset_behavior b,
		       enum ruleset_format f, const char *text)
{
	r->name[r->n] = name;
	r->rs[r->n] = mkset(name, b, f, text);
	r->n++;
}

struct rules {
	struct rule_spec specs[64];
	size_t n;
};

/* The sub-rules lists "s1" and "s2" of the random test (s1 may hand flows
 * to s2, s2 to none: no cycle) and their text for the dumps. */
static struct rules g_sub[2];
static char g_sub_text[2][8][600];
static int g_sub_n[2];

static int sub_fn(void *arg, const char *name, const struct rule_spec **specs, size_t *n)
{
	(void)arg;
	if (strcmp(name, "s1") != 0 && strcmp(name, "s2") != 0)
		return -ENOENT;
	*specs = g_sub[name[1] - '1'].specs;
	*n = g_sub[name[1] - '1'].n;
	return 0;
}

static void rules_free(struct rules *rl)
{
	for (size_t i = 0; i < rl->n; i++)
		rule_spec_free(&rl->specs[i]);
	rl->n = 0;
}

/* Parses lines[] (NULL-terminated) as rules.yaml lines 1.. at column 3. */
static int rules_parse_all(struct rules *rl, const char *const *lines)
{
	struct conf_err err;
	char buf[700];

	rl->n = 0;
	for (; *lines; lines++) {
		struct conf_pos pos = { "rules.yaml", (int)rl->n + 1, 3 };

		if (rules_parse_line(*lines, strlen(*lines), &pos, &rl->specs[rl->n], &err)) {
			conf_err_format(&err, buf, sizeof(buf));
			fprintf(stderr, "parse \"%s\": %s\n", *lines, buf);
			rules_free(rl);
			return -EINVAL;
		}
		rl->n++;
	}
	return 0;
}

static struct rule_engine *build(const char *const *lines, struct setreg *sets)
{
	struct rule_build_opts o = { .target_fn = target_fn,
				     .set_fn = set_fn,
				     .set_arg = sets,
				     .default_target = DEFAULT_TARGET };
	struct rule_engine *e = NULL;
	struct conf_err err;
	struct rules rl;
	char buf[700];

	if (rules_parse_all(&rl, lines)) {
		T_CHECK(0);
		return NULL;
	}
	if (rule_engine_build(rl.specs, rl.n, &o, &e, &err)) {
		conf_err_format(&err, buf, sizeof(buf));
		fprintf(stderr, "build: %s\n", buf);
	}
	T_CHECK(e != NULL);
	rules_free(&rl); /* the engine keeps its own copies */
	return e;
}

static struct rule_addr A(const char *text) {
	struct rule_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, a.bytes) == 1)
		a.family = 4;
	else if (inet_pton(AF_INET6, text, a.bytes) == 1)
		a.family = 6;
	return a;
}

struct proc_src {
	int calls;
	const char *name, *path;
	bool has_uid;
	uint32_t uid;
};

static void proc_cb(void *arg, const struct rule_query *q, struct rule_proc *out)
{
	struct proc_src *ps = arg;

	(void)q;
	ps->calls++;
	out->name = ps->name;
	out->path = ps->path;
	out->has_uid = ps->has_uid;
	out->uid = ps->uid;
}

/* --- fixed cases ------------------------------------------------------------ */

static void test_basic(void)
{
	static const char *const lines[] = {
		"DOMAIN-SUFFIX,google.com,P0",
		"DOMAIN,exact.org,P1",
		"DOMAIN-KEYWORD,tracker,REJECT",
		"DOMAIN-REGEX,^ads?[0-9]+\\.,REJECT",
		"SRC-IP-CIDR,192.168.7.0/24,P2",
		"DST-PORT,25/465-587,REJECT",
		"IP-CIDR,10.0.0.0/8,DIRECT,no-resolve",
		"IP-CIDR6,2001:db8::/32,P3,no-resolve",
		"NETWORK,UDP,P1",
		"MATCH,P0",
		"DOMAIN,never.example,P3",
		NULL,
	};
	struct rule_engine *e = build(lines, NULL);
	struct rule_query q;
	struct rule_result r;

	if (!e)
		return;
	T_EQ_INT(rule_engine_count(e), 11);
	memset(&q, 0, sizeof(q));
	q.network = RULE_NET_TCP;
	q.domain = "WWW.Google.COM.";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 0);
	T_EQ_INT(r.target, 2);
	T_EQ_STR(r.text, "DOMAIN-SUFFIX,google.com,P0");
	T_EQ_STR(r.pos.file, "rules.yaml");
	T_EQ_INT(r.pos.line, 1);
	T_EQ_INT(r.pos.col, 3);

	q.domain = "notgoogle.com";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 9); /* MATCH */
	q.domain = "exact.org";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 1);
	q.domain = "a.exact.org";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 9);
	q.domain = "my-tracker.net";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 2);
	q.domain = "AD12.example.com";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 3);
	q.domain = NULL;
	q.src = A("192.168.7.9");
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 4);
	q.src = A("192.168.8.9");
	q.dst_port = 587;
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 5);
	q.dst_port = 443;
	q.dst = A("10.9.9.9");
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 6);
	q.dst = A("::ffff:10.9.9.9"); /* mapped: tested as IPv4 */
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 6);
	q.dst = A("2001:db8:1::1");
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 7);
	q.dst = A("2001:db9::1");
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 9);
	q.network = RULE_NET_UDP;
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 8);
	/* Malformed domains are no domain. */
	q.network = RULE_NET_TCP;
	q.dst.family = 0;
	q.domain = "google..com";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 9);
	rule_engine_unref(e);

	/* No MATCH: the default. */
	{
		static const char *const l2[] = { "DOMAIN,a.com,P1", NULL };

		e = build(l2, NULL);
		if (!e)
			return;
		memset(&q, 0, sizeof(q));
		q.domain = "b.com";
		T_EQ_INT(rule_match(e, &q, &r), RULE_DEFAULT);
		T_EQ_INT(r.target, DEFAULT_TARGET);
		T_EQ_INT(r.rule, UINT32_MAX);
		T_CHECK(r.text == NULL);
		rule_engine_unref(e);
	}
	/* No rules at all. */
	{
		static const char *const l3[] = { NULL };

		e = build(l3, NULL);
		if (!e)
			return;
		memset(&q, 0, sizeof(q));
		T_EQ_INT(rule_match(e, &q, &r), RULE_DEFAULT);
		rule_engine_unref(e);
	}
}

static void test_resolve(void)
{
	static const char *const lines[] = {
		"IP-CIDR,10.0.0.0/8,P0,no-resolve", /* 0: before the point */
		"DOMAIN-SUFFIX,x.com,P1",           /* 1 */
		"IP-CIDR,192.168.0.0/16,P2",        /* 2: the resolution point */
		"IP-CIDR,10.0.0.0/8,P3,no-resolve", /* 3: after it */
		"MATCH,DIRECT",                     /* 4 */
		NULL,
	};
	struct rule_addr res[2] = { A("10.1.1.1"), A("192.168.1.1") };
	struct rule_engine *e = build(lines, NULL);
	struct rule_query q;
	struct rule_result r;

	if (!e)
		return;
	memset(&q, 0, sizeof(q));
	q.network = RULE_NET_TCP;
	q.domain = "a.x.com";
	/* An earlier rule wins: no resolution asked. */
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 1);

	q.domain = "y.com";
	T_EQ_INT(rule_match(e, &q, &r), RULE_NEED_RESOLVE);
	T_EQ_INT(r.rule, 2);
	T_EQ_STR(r.text, "IP-CIDR,192.168.0.0/16,P2");
	q.has_resolved = true;
	q.resolved = res;
	q.n_resolved = 1; /* 10.1.1.1: rule 0 saw no address; rule 3 does */
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 3);
	q.n_resolved = 2; /* any address of the list */
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 2);
	q.n_resolved = 0; /* resolution failed */
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 4);

	/* A real address: no resolution, no-resolve rules see it. */
	memset(&q, 0, sizeof(q));
	q.domain = "y.com";
	q.dst = A("10.2.2.2");
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 0);
	/* Neither domain nor address: IP rules fail quietly. */
	memset(&q, 0, sizeof(q));
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 4);
	rule_engine_unref(e);

	/* Logical rules: left to right, short-circuit. */
	{
		static const char *const l2[] = {
			"AND,((DOMAIN,y.com),(IP-CIDR,1.0.0.0/8)),P0", /* 0 */
			"NOT,((IP-CIDR,2.0.0.0/8,no-resolve)),P1",     /* 1 */
			NULL,
		};
		e = build(l2, NULL);
		if (!e)
			return;
		memset(&q, 0, sizeof(q));
		q.domain = "z.com"; /* AND fails on DOMAIN first */
		T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
		T_EQ_INT(r.rule, 1);
		q.domain = "y.com";
		T_EQ_INT(rule_match(e, &q, &r), RULE_NEED_RESOLVE);
		T_EQ_INT(r.rule, 0);
		res[0] = A("2.3.4.5");
		q.has_resolved = true;
		q.resolved = res;
		q.n_resolved = 1;
		T_EQ_INT(rule_match(e, &q, &r), RULE_DEFAULT);
		rule_engine_unref(e);
	}

	/* RULE-SET: no-resolve on the line, and other entries deciding. */
	{
		static const char *const l3[] = {
			"RULE-SET,ip,P0,no-resolve", /* 0 */
			"RULE-SET,cls,P1",           /* 1 */
			"RULE-SET,ip,P2",            /* 2 */
			NULL,
		};
		struct setreg sets = { 0 };

		setreg_add(&sets, "ip", RULESET_IPCIDR, RULESET_TEXT, "1.0.0.0/8\n");
		setreg_add(&sets, "cls", RULESET_CLASSICAL, RULESET_TEXT,
			   "IP-CIDR,3.0.0.0/8\nDOMAIN-SUFFIX,cls.com\n");
		e = build(l3, &sets);
		setreg_free(&sets); /* the engine copied what it needs */
		if (!e)
			return;
		memset(&q, 0, sizeof(q));
		q.domain = "a.cls.com";
		T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
		T_EQ_INT(r.rule, 1);
		q.domain = "other.com";
		T_EQ_INT(rule_match(e, &q, &r), RULE_NEED_RESOLVE);
		T_EQ_INT(r.rule, 1);
		res[0] = A("1.2.3.4");
		q.has_resolved = true;
		q.resolved = res;
		q.n_resolved = 1;
		rule_match(e, &q, &r);
		T_EQ_INT(r.rule, 2);
		rule_engine_unref(e);
	}
}

static void test_process(void)
{
	static const char *const lines[] = {
		"DOMAIN,a.com,P0",              /* 0 */
		"PROCESS-NAME,curl,P1",         /* 1 */
		"IP-CIDR,10.0.0.0/8,P2",        /* 2 */
		"PROCESS-PATH,/usr/bin/ssh,P3", /* 3 */
		"UID,1000-1999,REJECT",         /* 4 */
		"MATCH,DIRECT",                 /* 5 */
		"PROCESS-NAME,never,P0",        /* 6 */
		NULL,
	};
	struct rule_addr res[1] = { A("11.0.0.1") };
	struct proc_src ps = { 0 };
	struct rule_engine *e = build(lines, NULL);
	struct rule_query q;
	struct rule_result r;

	if (!e)
		return;
	memset(&q, 0, sizeof(q));
	q.proc_fn = proc_cb;
	q.proc_arg = &ps;
	q.domain = "a.com";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 0);
	T_EQ_INT(ps.calls, 0); /* decided before any process rule */

	ps.name = "CURL"; /* case-insensitive, as mihomo */
	q.domain = "b.com";
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 1);
	T_EQ_INT(ps.calls, 1);
	T_CHECK(q.proc_done);

	/* Looked up once per query, across the re-run. */
	memset(&q, 0, sizeof(q));
	q.proc_fn = proc_cb;
	q.proc_arg = &ps;
	ps.calls = 0;
	ps.name = "wget";
	ps.path = "/usr/bin/ssh";
	q.domain = "b.com";
	T_EQ_INT(rule_match(e, &q, &r), RULE_NEED_RESOLVE);
	T_EQ_INT(ps.calls, 1);
	q.has_resolved = true;
	q.resolved = res;
	q.n_resolved = 1;
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 3);
	T_EQ_INT(ps.calls, 1);

	/* UID; unknown information fails the tests. */
	memset(&q, 0, sizeof(q));
	q.proc_fn = proc_cb;
	q.proc_arg = &ps;
	ps.calls = 0;
	ps.name = ps.path = NULL;
	ps.has_uid = true;
	ps.uid = 1500;
	q.dst = A("11.0.0.1");
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 4);
	ps.has_uid = false;
	q.proc_done = false;
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 5);
	T_EQ_INT(ps.calls, 2);
	/* No callback: unknown. */
	q.proc_fn = NULL;
	q.proc_done = false;
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 5);

	/* A rule needing addresses before the process rule: no lookup. */
	memset(&q, 0, sizeof(q));
	q.proc_fn = proc_cb;
	q.proc_arg = &ps;
	ps.calls = 0;
	{
		static const char *const l2[] = {
			"IP-CIDR,10.0.0.0/8,P0",
			"PROCESS-NAME,curl,P1",
			NULL,
		};
		struct rule_engine *e2 = build(l2, NULL);

		if (e2) {
			q.domain = "b.com";
			T_EQ_INT(rule_match(e2, &q, &r), RULE_NEED_RESOLVE);
			T_EQ_INT(ps.calls, 0);
			q.has_resolved = true;
			q.resolved = res;
			q.n_resolved = 1;
			rule_match(e2, &q, &r);
			T_EQ_INT(ps.calls, 1);
			rule_engine_unref(e2);
		}
	}
	rule_engine_unref(e);
}

static void test_sets(void)
{
	static const char *const lines[] = {
		"RULE-SET,dom,P0",
		"AND,((RULE-SET,dom),(NETWORK,UDP)),P1",
		"OR,((RULE-SET,ip,no-resolve),(DST-PORT,22)),P2",
		"RULE-SET,cls,P3",
		"MATCH,DIRECT",
		NULL,
	};
	struct setreg sets = { 0 };
	struct rule_engine *e;
	struct rule_query q;
	struct rule_result r;

	setreg_add(&sets, "dom", RULESET_DOMAIN, RULESET_YAML,
		   "payload:\n  - '+.plus.com'\n  - '.dot.com'\n  - '*.star.com'\n"
		   "  - 'exact.com'\n  - 'time.*.apple.com'\n");
	setreg_add(&sets, "ip", RULESET_IPCIDR, RULESET_TEXT, "10.0.0.0/8\n2001:db8::/32\n");
	setreg_add(&sets, "cls", RULESET_CLASSICAL, RULESET_TEXT,
		   "DOMAIN-KEYWORD,kw\nSRC-PORT,5000-5010\nAND,((NETWORK,TCP),(DOMAIN,t.org))\n");
	e = build(lines, &sets);
	setreg_free(&sets);
	if (!e)
		return;
	memset(&q, 0, sizeof(q));
	q.network = RULE_NET_TCP;
	struct {
		const char *domain;
		uint32_t rule;
	} cases[] = {
		{ "plus.com", 0 },       { "a.b.plus.com", 0 },
		{ "dot.com", 4 },        { "a.dot.com", 0 },
		{ "a.star.com", 0 },     { "star.com", 4 },
		{ "a.b.star.com", 4 },   { "exact.com", 0 },
		{ "a.exact.com", 4 },    { "time.x.apple.com", 0 },
		{ "time.apple.com", 4 }, { "akwz.net", 3 },
		{ "t.org", 3 },          { "x.t.org", 4 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		q.domain = cases[i].domain;
		rule_match(e, &q, &r);
		if (r.rule != cases[i].rule)
			fprintf(stderr, "  %s\n", cases[i].domain);
		T_EQ_INT(r.rule, cases[i].rule);
	}
	q.domain = NULL;
	q.dst = A("10.0.0.1");
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 2);
	q.dst.family = 0;
	q.domain = "elsewhere.net";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED); /* no-resolve in the OR */
	T_EQ_INT(r.rule, 4);
	q.src_port = 5005;
	rule_match(e, &q, &r);
	T_EQ_INT(r.rule, 3);
	rule_engine_unref(e);
}

static void test_build_errors(void)
{
	struct rule_build_opts o = { .target_fn = target_fn, .set_fn = set_fn };
	struct setreg sets = { 0 };
	struct rule_engine *e = (struct rule_engine *)1;
	struct conf_err err;
	struct rules rl;
	char got[700];

	o.set_arg = &sets;
	{
		static const char *const l[] = { "DOMAIN,a.com,P0", "MATCH,  Foo", NULL };

		if (rules_parse_all(&rl, l) == 0) {
			T_EQ_INT(rule_engine_build(rl.specs, rl.n, &o, &e, &err), -EINVAL);
			T_CHECK(e == NULL);
			conf_err_format(&err, got, sizeof(got));
			T_EQ_STR(got, "rules.yaml:2:11: unknown target 'Foo'");
			rules_free(&rl);
		}
	}
	{
		static const char *const l[] = { "DOMAIN,a.com,P0", "RULE-SET, ads ,REJECT", NULL };

		if (rules_parse_all(&rl, l) == 0) {
			T_EQ_INT(rule_engine_build(rl.specs, rl.n, &o, &e, &err), -EINVAL);
			conf_err_format(&err, got, sizeof(got));
			T_EQ_STR(got, "rules.yaml:2:13: unknown rule-set 'ads'");
			rules_free(&rl);
		}
	}
	{
		static const char *const l[] = { "OR,((DOMAIN,a.com),(RULE-SET,x)),P0", NULL };

		if (rules_parse_all(&rl, l) == 0) {
			T_EQ_INT(rule_engine_build(rl.specs, rl.n, &o, &e, &err), -EINVAL);
			conf_err_format(&err, got, sizeof(got));
			T_EQ_STR(got, "rules.yaml:1:32: unknown rule-set 'x'");
			rules_free(&rl);
		}
	}
	/* Refcount: the engine lives until its last reference goes. */
	{
		static const char *const l[] = { "MATCH,P1", NULL };
		struct rule_query q;
		struct rule_result r;

		e = build(l, NULL);
		if (!e)
			return;
		T_CHECK(rule_engine_ref(e) == e);
		rule_engine_unref(e);
		memset(&q, 0, sizeof(q));
		T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
		T_EQ_INT(r.target, 3);
		rule_engine_unref(e);
		rule_engine_unref(NULL);
	}
}

/* --- the naive reference -------------------------------------------------------- */

enum { RF, RT, RN };

struct ref_state {
	const struct rule_query *q;
	const struct setreg *sets;
	const struct proc_src *ps;
	bool has_domain;
	char dom[300];
	bool ip_known;
	struct rule_addr addrs[8];
	size_t n_addrs;
	bool proc_done;
	int calls;
};

static struct rule_addr ref_unmap(struct rule_addr a)
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct rule_addr b;

	if (a.family != 6 || memcmp(a.bytes, pre, 12) != 0)
		return a;
	memset(&b, 0, sizeof(b));
	b.family = 4;
	memcpy(b.bytes, a.bytes + 12, 4);
	return b;
}

static bool ref_in(const struct rule_cidr *c, struct rule_addr a)
{
	a = ref_unmap(a);
	if (a.family != c->family)
		return false;
	for (int i = 0; i < c->plen; i++) {
		int x = (a.bytes[i / 8] >> (7 - i % 8)) & 1;
		int y = (c->addr[i / 8] >> (7 - i % 8)) & 1;

		if (x != y)
			return false;
	}
	return true;
}

static int ref_split(const char *s, char labels[][64])
{
	int n = 0;
	const char *p = s;

	for (;;) {
		const char *d = strchr(p, '.');
		size_t len = d ? (size_t)(d - p) : strlen(p);

		memcpy(labels[n], p, len);
		labels[n][len] = '\0';
		n++;
		if (!d)
			return n;
		p = d + 1;
	}
}

static bool ref_labels_eq(char pl[][64], char dl[][64], int np, int off)
{
	for (int i = 0; i < np; i++)
		if (strcmp(pl[i], "*") != 0 && strcmp(pl[i], dl[off + i]) != 0)
			return false;
	return true;
}

/* SELF: same number of labels; SUB: more labels, the rightmost ones
 * matching; '*' matches any one label. */
static bool ref_pattern(const char *pat, unsigned kind, const char *dom)
{
	static char pl[130][64], dl[130][64];
	int np = ref_split(pat, pl), nd = ref_split(dom, dl);

	if ((kind & RULESET_MATCH_SELF) && nd == np && ref_labels_eq(pl, dl, np, 0))
		return true;
	return (kind & RULESET_MATCH_SUB) && nd > np && ref_labels_eq(pl, dl, np, nd - np);
}

static bool ref_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

/* PCRE2 called directly, case-insensitive (mihomo's regexp2 IgnoreCase),
 * without the engine's wrapper. */
static bool ref_regex(const char *pattern, const char *s)
{
	static struct {
		char *pat;
		pcre2_code *re;
	} cache[64];
	static int n;
	pcre2_match_data *md;
	bool m;
	int i, ec;
	PCRE2_SIZE off;

	for (i = 0; i < n; i++)
		if (strcmp(cache[i].pat, pattern) == 0)
			break;
	if (i == n) {
		if (n == 64)
			abort();
		cache[n].pat = strdup(pattern);
		cache[n].re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
					    PCRE2_CASELESS | PCRE2_UTF, &ec, &off, NULL);
		if (!cache[n].re)
			abort();
		n++;
	}
	md = pcre2_match_data_create(1, NULL);
	m = pcre2_match(cache[i].re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	return m;
}

/* '*' any run, '?' one byte: plain recursion. */
static bool ref_glob(const char *p, const char *s)
{
	if (!*p)
		return !*s;
	if (*p == '*')
		return ref_glob(p + 1, s) || (*s && ref_glob(p, s + 1));
	return *s && (*p == '?' || *p == *s) && ref_glob(p + 1, s + 1);
}

/* The last plen bits of a (unmapped) equal c's, bit by bit. */
static bool ref_suffix(const struct rule_cidr *c, struct rule_addr a)
{
	int bits = c->family == 4 ? 32 : 128;

	a = ref_unmap(a);
	if (a.family != c->family)
		return false;
	for (int i = bits - c->plen; i < bits; i++)
		if (((a.bytes[i / 8] >> (7 - i % 8)) & 1) != ((c->addr[i / 8] >> (7 - i % 8)) & 1))
			return false;
	return true;
}

static void ref_proc(struct ref_state *st)
{
	if (!st->proc_done && st->q->proc_fn) {
		st->proc_done = true;
		st->calls++;
	}
	st->proc_done = true;
}

/* IN-TYPE / IN-USER / IN-NAME as mihomo: v (NULL: the TUN's default)
 * equals one of the '/'-separated names, by strtok on a copy. */
static bool ref_in_list(const char *list, const char *v)
{
	char copy[256], *save = NULL;

	if (v == NULL)
		return false;
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save))
		if (strcmp(t, v) == 0)
			return true;
	return false;
}

static bool ref_ranges(const struct rule_spec *s, uint32_t v)
{
	for (size_t i = 0; i < s->n_ranges; i++)
		if (s->ranges[i].lo <= v && v <= s->ranges[i].hi)
			return true;
	return false;
}

/* --- geodata: what the generated files hold (geo_setup), naively --------- */

static const struct {
	const char *net, *codes; /* codes: ",cn,us," */
} ref_country[] = {
	{ "10.0.0.0/16", ",cn," },   { "10.1.0.0/16", ",us,cn," }, { "192.168.1.0/24", ",jp," },
	{ "2001:db8::/34", ",jp," }, { "1.2.3.0/30", ",us," },
};
static const struct {
	const char *net;
	uint32_t asn;
} ref_asn[] = { { "10.0.0.0/8", 100 }, { "1.2.3.0/24", 200 }, { "2001:db8:1::/48", 300 } };
static const struct {
	const char *list, *type, *value, *attr;
} ref_site[] = {
	{ "ab", "full", "a.com", NULL }, { "ab", "domain", "b.net", NULL },
	{ "ab", "plain", "bb", NULL },   { "ab", "regex", "^c\\.", NULL },
	{ "cd", "domain", "com", "x" },  { "cd", "full", "ab.net", NULL },
};
static const char *const ref_lan[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
	"0.0.0.0/32", "224.0.0.0/4",   "169.254.0.0/16", "fc00::/7",
	"::1/128",    "::/128",        "ff00::/8",       "fe80::/10",
};

static struct rule_cidr C(const char *text) {
	struct rule_cidr c;
	const char *why;

	if (rules_cidr_parse(text, strlen(text), &c, &why) != 0)
		abort();
	return c;
}

static bool
ref_geoip(const char *code, struct rule_addr a)
{
	char want[40];

	if (strcmp(code, "lan") == 0) {
		for (size_t i = 0; i < sizeof(ref_lan) / sizeof(ref_lan[0]); i++) {
			struct rule_cidr c = C(ref_lan[i]);

			if (ref_in(&c, a))
				return true;
		}
		return false;
	}
	snprintf(want, sizeof(want), ",%s,", code);
	for (size_t i = 0; i < sizeof(ref_country) / sizeof(ref_country[0]); i++) {
		struct rule_cidr c = C(ref_country[i].net);

		if (ref_in(&c, a) && strstr(ref_country[i].codes, want))
			return true;
	}
	return false;
}

static bool ref_ipasn(uint32_t asn, struct rule_addr a)
{
	for (size_t i = 0; i < sizeof(ref_asn) / sizeof(ref_asn[0]); i++) {
		struct rule_cidr c = C(ref_asn[i].net);

		if (ref_in(&c, a))
			return ref_asn[i].asn == asn;
	}
	return false;
}

static bool ref_geosite(const char *code, const char *dom)
{
	char list[40];
	const char *at = strchr(code, '@'), *attr = at ? at + 1 : NULL;
	bool negate = attr && *attr == '!';

	snprintf(list, sizeof(list), "%.*s", at ? (int)(at - code) : (int)strlen(code), code);
	if (negate)
		attr++;
	for (size_t i = 0; i < sizeof(ref_site) / sizeof(ref_site[0]); i++) {
		const char *v = ref_site[i].value;
		size_t dl = strlen(dom), vl = strlen(v);
		bool m;

		if (strcmp(ref_site[i].list, list) != 0)
			continue;
		if (attr && (ref_site[i].attr && strcmp(ref_site[i].attr, attr) == 0) == negate)
			continue;
		if (!strcmp(ref_site[i].type, "full"))
			m = strcmp(dom, v) == 0;
		else if (!strcmp(ref_site[i].type, "domain"))
			m = strcmp(dom, v) == 0 ||
			    (dl > vl && dom[dl - vl - 1] == '.' && strcmp(dom + dl - vl, v) == 0);
		else if (!strcmp(ref_site[i].type, "plain"))
			m = strstr(dom, v) != NULL;
		else
			m = ref_regex(v, dom);
		if (m)
			return true;
	}
	return false;
}

static int ref_set(const struct ruleset *rs, struct ref_state *st, bool nr);
static int ref_spec(const struct rule_spec *s, struct ref_state *st, bool nr);

/* mihomo's matchSubRules: the first rule of the list that holds; a
 * SUB-RULE there answers with its own list. No PASS check at this level. */
static int ref_sub(const char *name, struct ref_state *st, bool nr, int *target)
{
	const struct rules *l = &g_sub[name[1] - '1'];

	for (size_t i = 0; i < l->n; i++) {
		int r = ref_spec(&l->specs[i], st, nr);

		if (r == RN)
			return RN;
		if (r != RT)
			continue;
		if (l->specs[i].type == RULE_SUB_RULE)
			return ref_sub(l->specs[i].target, st, nr, target);
		*target = target_fn(NULL, l->specs[i].target);
		return RT;
	}
	return RF;
}

static int ref_spec(const struct rule_spec *s, struct ref_state *st, bool nr)
{
	const struct rule_query *q = st->q;
	const struct proc_src *ps = st->ps;
	size_t dl = strlen(st->dom), sl = s->str ? strlen(s->str) : 0;
	int r;

	switch (s->type) {
	case RULE_DOMAIN:
		return st->has_domain && strcmp(st->dom, s->str) == 0;
	case RULE_DOMAIN_SUFFIX:
		return st->has_domain &&
		       (strcmp(st->dom, s->str) == 0 || (dl > sl && st->dom[dl - sl - 1] == '.' &&
							 strcmp(st->dom + dl - sl, s->str) == 0));
	case RULE_DOMAIN_KEYWORD:
		return st->has_domain && strstr(st->dom, s->str) != NULL;
	case RULE_DOMAIN_REGEX:
		return st->has_domain && ref_regex(s->str, st->dom);
	case RULE_IP_CIDR:
		if (!st->ip_known)
			return nr || s->no_resolve ? RF : RN;
		for (size_t i = 0; i < st->n_addrs; i++)
			if (ref_in(&s->cidr, st->addrs[i]))
				return RT;
		return RF;
	case RULE_SRC_IP_CIDR:
		return ref_in(&s->cidr, q->src);
	case RULE_IP_SUFFIX:
		if (!st->ip_known)
			return nr || s->no_resolve ? RF : RN;
		for (size_t i = 0; i < st->n_addrs; i++)
			if (ref_suffix(&s->cidr, st->addrs[i]))
				return RT;
		return RF;
	case RULE_SRC_IP_SUFFIX:
		return ref_suffix(&s->cidr, q->src);
	case RULE_DOMAIN_WILDCARD:
		return st->has_domain && ref_glob(s->str, st->dom);
	case RULE_GEOIP:
	case RULE_IP_ASN:
		if (!st->ip_known)
			return nr || s->no_resolve ? RF : RN;
		for (size_t i = 0; i < st->n_addrs; i++)
			if (s->type == RULE_GEOIP ? ref_geoip(s->str, ref_unmap(st->addrs[i]))
						  : ref_ipasn(s->asn, ref_unmap(st->addrs[i])))
				return RT;
		return RF;
	case RULE_SRC_GEOIP:
		return ref_geoip(s->str, ref_unmap(q->src));
	case RULE_SRC_IP_ASN:
		return ref_ipasn(s->asn, ref_unmap(q->src));
	case RULE_GEOSITE:
		return st->has_domain && ref_geosite(s->str, st->dom);
	case RULE_SUB_RULE: {
		int t;

		r = ref_spec(&s->sub[0], st, nr);
		return r == RT ? ref_sub(s->target, st, nr, &t) : r;
	}
	case RULE_IN_PORT:
		return ref_ranges(s, q->in_port);
	case RULE_DSCP:
		return ref_ranges(s, q->dscp);
	case RULE_IN_TYPE:
		return ref_in_list(s->str, q->in_type ? q->in_type : "TUN");
	case RULE_IN_USER:
		return ref_in_list(s->str, q->in_user);
	case RULE_IN_NAME:
		return ref_in_list(s->str, q->in_name ? q->in_name : "DEFAULT-TUN");
	case RULE_PROCESS_NAME_REGEX:
		ref_proc(st);
		return q->proc_fn && ps->name && ref_regex(s->str, ps->name);
	case RULE_PROCESS_PATH_REGEX:
		ref_proc(st);
		return q->proc_fn && ps->path && ref_regex(s->str, ps->path);
	case RULE_DST_PORT:
		return ref_ranges(s, q->dst_port);
	case RULE_SRC_PORT:
		return ref_ranges(s, q->src_port);
	case RULE_NETWORK:
		return q->network == s->network;
	case RULE_PROCESS_NAME:
		ref_proc(st);
		return q->proc_fn && ps->name && ref_nocase(ps->name, s->str);
	case RULE_PROCESS_PATH:
		ref_proc(st);
		return q->proc_fn && ps->path && ref_nocase(ps->path, s->str);
	case RULE_UID:
		ref_proc(st);
		return q->proc_fn && ps->has_uid && ref_ranges(s, ps->uid);
	case RULE_RULE_SET:
		return ref_set(set_fn((void *)st->sets, s->str), st, nr || s->no_resolve);
	case RULE_AND:
		for (size_t i = 0; i < s->n_sub; i++)
			if ((r = ref_spec(&s->sub[i], st, nr)) != RT)
				return r;
		return RT;
	case RULE_OR:
		for (size_t i = 0; i < s->n_sub; i++)
			if ((r = ref_spec(&s->sub[i], st, nr)) != RF)
				return r;
		return RF;
	case RULE_NOT:
		r = ref_spec(&s->sub[0], st, nr);
		return r == RN ? RN : r == RT ? RF : RT;
	case RULE_MATCH:
		return RT;
	}
	abort();
}

/* Tests with no side effect first, then the others in file order: the
 * order only shows in which process lookups happen. */
static bool ref_plain(const struct rule_spec *s)
{
	switch (s->type) {
	case RULE_DOMAIN:
	case RULE_DOMAIN_SUFFIX:
	case RULE_IP_CIDR:
	case RULE_SRC_IP_CIDR:
	case RULE_DST_PORT:
	case RULE_SRC_PORT:
	case RULE_NETWORK:
		return true;
	default:
		return false;
	}
}

static int ref_set(const struct ruleset *rs, struct ref_state *st, bool nr)
{
	size_t n = ruleset_count(rs), len;
	bool need = false;
	unsigned kind;

	switch (ruleset_behavior(rs)) {
	case RULESET_DOMAIN:
		for (size_t i = 0; i < n && st->has_domain; i++) {
			const char *pat = ruleset_domain(rs, i, &len, &kind);

			if (ref_pattern(pat, kind, st->dom))
				return RT;
		}
		return RF;
	case RULESET_IPCIDR:
		if (!st->ip_known)
			return nr || n == 0 ? RF : RN;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < st->n_addrs; j++)
				if (ref_in(ruleset_cidr(rs, i), st->addrs[j]))
					return RT;
		return RF;
	case RULESET_CLASSICAL:
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < n; i++) {
				const struct rule_spec *e = ruleset_rule(rs, i);
				int r;

				if (ref_plain(e) != (pass == 0))
					continue;
				r = ref_spec(e, st, nr);
				if (r == RT)
					return RT;
				need |= r == RN;
			}
		return need ? RN : RF;
	}
	abort();
}

/* Walks the rules in order; at the first rule needing addresses, either
 * reports it (no addresses in q) or resolves there and goes on. */
static int ref_match(const struct rules *rl, const struct setreg *sets, const struct rule_query *q,
		     const struct proc_src *ps, uint32_t *idx, int *calls, int *target)
{
	struct ref_state st;
	size_t len = q->domain ? strlen(q->domain) : 0;
	int verdict = RULE_DEFAULT;

	memset(&st, 0, sizeof(st));
	st.q = q;
	st.sets = sets;
	st.ps = ps;
	if (len && q->domain[len - 1] == '.')
		len--;
	if (q->domain && len >= 1 && len <= 253) {
		char labels[200][64];
		bool ok = true;
		int nl;

		memcpy(st.dom, q->domain, len);
		st.dom[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (st.dom[i] >= 'A' && st.dom[i] <= 'Z')
				st.dom[i] = (char)(st.dom[i] + 32);
		/* labels 1..63 bytes */
		for (size_t i = 0, start = 0; i <= len; i++)
			if (i == len || st.dom[i] == '.') {
				if (i == start || i - start > 63)
					ok = false;
				start = i + 1;
			}
		if (ok) {
			nl = ref_split(st.dom, labels);
			(void)nl;
			st.has_domain = true;
		}
	}
	if (q->dst.family) {
		st.ip_known = true;
		st.addrs[0] = q->dst;
		st.n_addrs = 1;
	} else {
		st.ip_known = !st.has_domain;
	}
	*idx = UINT32_MAX;
	for (size_t i = 0; i < rl->n; i++) {
		int r = ref_spec(&rl->specs[i], &st, false);

		if (r == RN) {
			if (!q->has_resolved) {
				*idx = (uint32_t)i;
				verdict = RULE_NEED_RESOLVE;
				break;
			}
			st.ip_known = true;
			st.n_addrs = q->n_resolved;
			memcpy(st.addrs, q->resolved, q->n_resolved * sizeof(*st.addrs));
			r = ref_spec(&rl->specs[i], &st, false);
		}
		if (r != RT)
			continue;
		*target = rl->specs[i].type == RULE_SUB_RULE ? -1
							     : target_fn(NULL, rl->specs[i].target);
		if (rl->specs[i].type == RULE_SUB_RULE)
			ref_sub(rl->specs[i].target, &st, false, target);
		/* PASS, from the line or from its sub-rules list: next rule. */
		if (*target != PASS_TARGET) {
			*idx = (uint32_t)i;
			verdict = RULE_MATCHED;
			break;
		}
	}
	*calls = st.calls;
	return verdict;
}

/* --- random cases ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static const char *pick(const char *const *a, size_t n)
{
	return a[rnd((uint32_t)n)];
}
#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

static const char *const lbl[] = { "a", "b", "ab", "c" };
static const char *const tld[] = { "com", "net" };

/* "a.b.com" style, 1..max labels in all. */
static int gen_name(char *out, int max, bool star)
{
	int n = 1 + (int)rnd((uint32_t)max), len = 0;

	for (int i = 0; i < n - 1; i++)
		len += sprintf(out + len, "%s.", star && rnd(6) == 0 ? "*" : PICK(lbl));
	len += sprintf(out + len, "%s", star && rnd(10) == 0 ? "*" : PICK(tld));
	return len;
}

static void gen_v4(char *out, bool prefix)
{
	static const unsigned bases[] = { 0x0a000000, 0x0a010000, 0xc0a80100, 0x01020300 };
	uint32_t a = bases[rnd(4)] | (rnd(4) == 0 ? rnd(1u << 16) : rnd(4));
	unsigned plen = rnd(3) == 0 ? rnd(33) : 8 + rnd(25);

	if (prefix)
		sprintf(out, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
			plen);
	else
		sprintf(out, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static void gen_v6(char *out, bool prefix)
{
	unsigned plen = rnd(3) == 0 ? rnd(129) : 16 + rnd(64);

	sprintf(out, "2001:db8:%x::%x%s", rnd(3), rnd(3), "");
	if (prefix)
		sprintf(out + strlen(out), "/%u", plen);
}

/* IN-TYPE payloads as parsed (upper-cased, SOCKS expanded), and what an
 * inbound other than the TUN would carry. */
static const char *const intypes[] = { "TUN", "Tun/redir", "socks", "HTTP/HTTPS", "tproxy/TUN" };
static const char *const inusers[] = { "alice", "bob/alice", "DEFAULT-TUN" };
static const char *const innames[] = { "DEFAULT-TUN", "socks-in/DEFAULT-TUN", "socks-in", "tun" };
static const char *const q_intypes[] = { "SOCKS5", "TUN", "HTTP", "REDIR" };
static const char *const q_inusers[] = { "alice", "bob", "" };
static const char *const q_innames[] = { "socks-in", "DEFAULT-TUN", "tun" };
static const char *const ports[] = { "22",     "53",        "80",
				     "443",    "8000-9000", "80/443",
				     "0-1023", "8080",      "53/8000-8080/22" };
static const char *const kws[] = { "a", "b.c", "ab", "net", "bb" };
static const char *const regexes[] = { "^a",           "b\\.com$",
				       "(ab|c)\\.net", "^[a-c]+\\.com$",
				       "b.a",          "^[a-z0-9-_.]+\\.net$",
				       "(?-i)^A",      "\\bb\\w*?\\.com" };
static const char *const globs[] = { "*.com", "a*", "?b.com", "*b*.net", "a.?.com", "*" };
static const char *const suffixes[] = { "0.0.0.1/8",  "0.0.1.0/16", "0.0.0.0/0",
					"1.2.3.4/32", "::1/16",     "0.0.0.2/2" };
static const char *const geocodes[] = { "cn", "US", "jp", "lan", "xx" };
static const char *const asns[] = { "100", "200", "300", "1" };
static const char *const sitecodes[] = { "ab", "CD", "cd@x", "cd@!x" };
static bool g_geo; /* the geodata files were written: GEO rules may be drawn */
static const char *const pregex[] = { "^cu", "SSH$", "^/usr/", "fire.*", "(?-i)^c" };
static const char *const pnames[] = { "curl", "Curl", "ssh", "firefox" };
static const char *const ppaths[] = { "/usr/bin/curl", "/USR/bin/curl", "/bin/ssh" };
static const char *const uids[] = { "0", "1000", "500-1500", "0/1000" };
static const char *const setnames[] = { "dom", "ip", "cls" };

enum gmode { G_LINE, G_SUB, G_ENTRY };

static int gen_rule(char *out, int depth, enum gmode mode)
{
	char buf[400];
	int len, t;

	for (;;) {
		t = (int)rnd(g_geo ? 32 : 27);
		if (!g_geo && t >= 24)
			t += 5; /* past the GEO types */
		if (t == 13 && mode == G_ENTRY)
			continue; /* no RULE-SET in sets */
		if (t >= 14 && t <= 16 && depth >= 2)
			continue;
		break;
	}
	switch (t) {
	case 0:
		gen_name(buf, 3, false);
		return sprintf(out, "DOMAIN,%s", buf);
	case 1:
		gen_name(buf, 2, false);
		return sprintf(out, "DOMAIN-SUFFIX,%s", buf);
	case 2:
		return sprintf(out, "DOMAIN-KEYWORD,%s", PICK(kws));
	case 3:
		return sprintf(out, "DOMAIN-REGEX,%s", PICK(regexes));
	case 4:
	case 5:
		if (rnd(3))
			gen_v4(buf, true);
		else
			gen_v6(buf, true);
		return sprintf(out, "%s,%s%s", rnd(2) ? "IP-CIDR" : "IP-CIDR6", buf,
			       mode != G_LINE && rnd(3) == 0 ? ",no-resolve" : "");
	case 6:
		gen_v4(buf, true);
		return sprintf(out, "SRC-IP-CIDR,%s", buf);
	case 7:
		return sprintf(out, "DST-PORT,%s", PICK(ports));
	case 8:
		return sprintf(out, "SRC-PORT,%s", PICK(ports));
	case 9:
		return sprintf(out, "NETWORK,%s", rnd(2) ? "TCP" : "udp");
	case 10:
		return sprintf(out, "PROCESS-NAME,%s", PICK(pnames));
	case 11:
		return sprintf(out, "PROCESS-PATH,%s", PICK(ppaths));
	case 12:
		return sprintf(out, "UID,%s", PICK(uids));
	case 13:
		return sprintf(out, "RULE-SET,%s%s", PICK(setnames),
			       mode != G_LINE && rnd(3) == 0 ? ",no-resolve" : "");
	case 17:
		return sprintf(out, "DOMAIN-WILDCARD,%s", PICK(globs));
	case 18:
		return sprintf(out, "IP-SUFFIX,%s%s", PICK(suffixes),
			       mode != G_LINE && rnd(3) == 0 ? ",no-resolve" : "");
	case 19:
		return sprintf(out, "SRC-IP-SUFFIX,%s", PICK(suffixes));
	case 20:
		return sprintf(out, "IN-PORT,%s", PICK(ports));
	case 21:
		return sprintf(out, "DSCP,%s", rnd(2) ? "0" : "4/10-12");
	case 22:
		return sprintf(out, "PROCESS-NAME-REGEX,%s", PICK(pregex));
	case 23:
		return sprintf(out, "PROCESS-PATH-REGEX,%s", PICK(pregex));
	case 24:
		return sprintf(out, "GEOIP,%s%s", PICK(geocodes),
			       mode != G_LINE && rnd(3) == 0 ? ",no-resolve" : "");
	case 25:
		return sprintf(out, "SRC-GEOIP,%s", PICK(geocodes));
	case 26:
		return sprintf(out, "IP-ASN,%s%s", PICK(asns),
			       mode != G_LINE && rnd(3) == 0 ? ",no-resolve" : "");
	case 27:
		return sprintf(out, "SRC-IP-ASN,%s", PICK(asns));
	case 28:
		return sprintf(out, "GEOSITE,%s", PICK(sitecodes));
	case 29:
		return sprintf(out, "IN-TYPE,%s", PICK(intypes));
	case 30:
		return sprintf(out, "IN-USER,%s", PICK(inusers));
	case 31:
		return sprintf(out, "IN-NAME,%s", PICK(innames));
	default: {
		static const char *const ops[] = { "AND", "OR", "NOT" };
		const char *op = ops[t - 14];
		int n = t == 16 ? 1 : 1 + (int)rnd(3);

		len = sprintf(out, "%s,(", op);
		for (int i = 0; i < n; i++) {
			len += sprintf(out + len, "%s(", i ? "," : "");
			len += gen_rule(out + len, depth + 1, mode == G_ENTRY ? G_ENTRY : G_SUB);
			len += sprintf(out + len, ")");
		}
		return len + sprintf(out + len, ")");
	}
	}
}

static void gen_sets(struct setreg *sets, char texts[3][4096])
{
	int n, len;
	bool yaml;

	/* domain */
	yaml = rnd(2);
	n = (int)rnd(8);
	len = sprintf(texts[0], yaml ? "payload:\n" : "# dom\n");
	for (int i = 0; i < n; i++) {
		char name[300];
		const char *mark = rnd(3) == 0 ? "+." : rnd(2) ? "." : "";

		gen_name(name, 3, true);
		len += sprintf(texts[0] + len, yaml ? "  - '%s%s'\n" : "%s%s\n", mark, name);
	}
	setreg_add(sets, "dom", RULESET_DOMAIN, yaml ? RULESET_YAML : RULESET_TEXT, texts[0]);
	/* ipcidr */
	n = (int)rnd(6);
	len = 0;
	texts[1][0] = '\0';
	for (int i = 0; i < n; i++) {
		char a[80];

		if (rnd(3))
			gen_v4(a, true);
		else
			gen_v6(a, true);
		len += sprintf(texts[1] + len, "%s\n", a);
	}
	setreg_add(sets, "ip", RULESET_IPCIDR, RULESET_TEXT, texts[1]);
	/* classical */
	n = (int)rnd(8);
	len = 0;
	texts[2][0] = '\0';
	for (int i = 0; i < n; i++) {
		len += gen_rule(texts[2] + len, 1, G_ENTRY);
		len += sprintf(texts[2] + len, "\n");
	}
	setreg_add(sets, "cls", RULESET_CLASSICAL, RULESET_TEXT, texts[2]);
}

static void gen_addr(struct rule_addr *a)
{
	char buf[80];

	if (rnd(3)) {
		gen_v4(buf, false);
		if (rnd(8) == 0) {
			char m[90];

			snprintf(m, sizeof(m), "::ffff:%s", buf);
			*a = A(m);
			return;
		}
	} else {
		gen_v6(buf, false);
	}
	*a = A(buf);
}

static void dump_case(uint64_t seed, int iter, char lines[][600], int n, char texts[3][4096],
		      const struct rule_query *q, const struct proc_src *ps)
{
	char a[64];

	fprintf(stderr, "seed %llu, list %d\nrules:\n", (unsigned long long)seed, iter);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "  %d: %s\n", i, lines[i]);
	fprintf(stderr, "set dom:\n%sset ip:\n%sset cls:\n%s", texts[0], texts[1], texts[2]);
	for (int k = 0; k < 2; k++) {
		fprintf(stderr, "sub-rules s%d:\n", k + 1);
		for (int i = 0; i < g_sub_n[k]; i++)
			fprintf(stderr, "  %s\n", g_sub_text[k][i]);
	}
	fprintf(stderr, "query: net %d domain %s dport %u sport %u", q->network,
		q->domain ? q->domain : "(none)", q->dst_port, q->src_port);
	if (q->dst.family)
		fprintf(stderr, " dst %s",
			inet_ntop(q->dst.family == 4 ? AF_INET : AF_INET6, q->dst.bytes, a,
				  sizeof(a)));
	if (q->src.family)
		fprintf(stderr, " src %s", inet_ntop(AF_INET, q->src.bytes, a, sizeof(a)));
	for (size_t i = 0; q->has_resolved && i < q->n_resolved; i++)
		fprintf(stderr, " res %s",
			inet_ntop(q->resolved[i].family == 4 ? AF_INET : AF_INET6,
				  q->resolved[i].bytes, a, sizeof(a)));
	fprintf(stderr, " proc %s %s uid %d:%u fn %d\n", ps->name ? ps->name : "-",
		ps->path ? ps->path : "-", ps->has_uid, ps->uid, q->proc_fn != NULL);
}

/* Writes the geodata of the ref_* tables with tests/data/geo_gen.py into
 * a new directory; returns it ("dir/") or NULL without python3. */
static char *geo_setup(void)
{
	static char dir[64];
	char cmd[4096];
	int n;

	snprintf(dir, sizeof(dir), "/tmp/t2s-geo-XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	n = snprintf(cmd, sizeof(cmd),
		     "python3 %s/tests/data/geo_gen.py country %s/Country.mmdb meta",
		     T2S_SOURCE_DIR, dir);
	for (size_t i = 0; i < sizeof(ref_country) / sizeof(ref_country[0]); i++) {
		char codes[40];

		snprintf(codes, sizeof(codes), "%s", ref_country[i].codes + 1);
		codes[strlen(codes) - 1] = '\0';
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %s=%s", ref_country[i].net,
			      codes);
	}
	n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
		      " && python3 %s/tests/data/geo_gen.py asn %s/asn.MMDB", T2S_SOURCE_DIR, dir);
	for (size_t i = 0; i < sizeof(ref_asn) / sizeof(ref_asn[0]); i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %s=%u:org", ref_asn[i].net,
			      ref_asn[i].asn);
	n += snprintf(cmd + n, sizeof(cmd) - (size_t)n,
		      " && python3 %s/tests/data/geo_gen.py geosite %s/geosite.dat", T2S_SOURCE_DIR,
		      dir);
	for (size_t i = 0; i < sizeof(ref_site) / sizeof(ref_site[0]); i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " '%s=%s:%s%s%s'", ref_site[i].list,
			      ref_site[i].type, ref_site[i].value, ref_site[i].attr ? "@" : "",
			      ref_site[i].attr ? ref_site[i].attr : "");
	if (system(cmd) != 0) {
		fprintf(stderr, "  cannot write geodata: %s\n", cmd);
		return NULL;
	}
	strcat(dir, "/");
	return dir;
}

static void geo_teardown(const char *dir)
{
	char cmd[200];

	if (dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "  cannot remove %s\n", dir);
	}
}

/* A target that may be a pass at match time (a group with a PASS member):
 * its rules stay in order and ask the query's pass_now when they hold; a
 * domain rule after them still wins when the pass is on. And the inbound
 * rules for the TUN (no in_* set) and for another inbound. */
static bool maybe_p1(void *arg, int target)
{
	(void)arg;
	return target == 3; /* P1 */
}

static bool pass_now_on(void *arg, int target)
{
	return *(bool *)arg && target == 3;
}

static void test_dyn_pass_and_inbound(void)
{
	static const char *const lines[] = {
		"DOMAIN-SUFFIX,x.com,P1",
		"DOMAIN-KEYWORD,x,P1",
		"DOMAIN-SUFFIX,com,P2",
		"IN-TYPE,socks/HTTP,P3",
		"IN-NAME,DEFAULT-TUN,REJECT",
		"MATCH,DIRECT",
		NULL,
	};
	static const char *const l2[] = { "IN-USER,alice,P0", "IN-TYPE,TUN,P2", NULL };
	struct rule_build_opts o = { .target_fn = target_fn,
				     .default_target = DEFAULT_TARGET,
				     .maybe_pass_fn = maybe_p1 };
	struct rule_engine *e = NULL;
	struct conf_err err;
	struct rules rl;
	struct rule_query q;
	struct rule_result r;
	bool on = false;

	if (rules_parse_all(&rl, lines))
		return;
	T_EQ_INT(rule_engine_build(rl.specs, rl.n, &o, &e, &err), 0);
	rules_free(&rl);
	if (!e)
		return;
	memset(&q, 0, sizeof(q));
	q.network = RULE_NET_TCP;
	q.domain = "a.x.com";
	q.pass_now = pass_now_on;
	q.pass_arg = &on;
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 0);
	on = true; /* both P1 rules pass: the next that holds */
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 2);
	T_EQ_INT(r.target, 4);
	/* the TUN: not SOCKS/HTTP, named DEFAULT-TUN */
	q.domain = "example.org";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 4);
	q.in_type = "SOCKS5";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 3);
	q.in_type = "TUN";
	q.in_name = "tun-in";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 5);
	rule_engine_unref(e);

	e = build(l2, NULL);
	if (!e)
		return;
	memset(&q, 0, sizeof(q));
	q.network = RULE_NET_UDP;
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 1); /* no user on the TUN */
	q.in_user = "alice";
	T_EQ_INT(rule_match(e, &q, &r), RULE_MATCHED);
	T_EQ_INT(r.rule, 0);
	rule_engine_unref(e);
}

static void test_random(void)
{
	const char *env = getenv("T2S_RULE_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20240601;
	int lists = 1500, queries = 60, failures = 0;
	long cases = 0, need = 0, procs = 0;

	char *gdir = geo_setup();
	struct geo *geo = NULL;

	T_CHECK(gdir != NULL);
	if (gdir)
		T_EQ_INT(geo_create(gdir, false, &geo), 0);
	g_geo = geo != NULL;
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	for (int it = 0; it < lists && failures < 3; it++) {
		static char lines[40][600];
		static char texts[3][4096];
		const char *ptrs[41];
		struct setreg sets = { 0 };
		struct rule_build_opts o = { .target_fn = target_fn,
					     .set_fn = set_fn,
					     .set_arg = &sets,
					     .default_target = DEFAULT_TARGET,
					     .geo = geo,
					     .pass_fn = pass_fn,
					     .sub_fn = sub_fn };
		struct rule_engine *e = NULL;
		struct conf_err err;
		struct rules rl;
		int n = 1 + (int)rnd(30);

		gen_sets(&sets, texts);
		/* sub-rules: s2 first (s1 may name it) */
		for (int k = 1; k >= 0; k--) {
			const char *sp[9];

			g_sub_n[k] = (int)rnd(7);
			for (int i = 0; i < g_sub_n[k]; i++) {
				int len;

				if (k == 0 && rnd(4) == 0) {
					len = sprintf(g_sub_text[k][i], "SUB-RULE,(");
					len += gen_rule(g_sub_text[k][i] + len, 1, G_SUB);
					sprintf(g_sub_text[k][i] + len, "),s2");
				} else {
					len = gen_rule(g_sub_text[k][i], 0, G_LINE);
					sprintf(g_sub_text[k][i] + len, ",%s",
						targets[rnd(N_TARGETS)]);
				}
				sp[i] = g_sub_text[k][i];
			}
			sp[g_sub_n[k]] = NULL;
			rules_free(&g_sub[k]);
			if (rules_parse_all(&g_sub[k], sp) != 0)
				T_CHECK(0);
		}
		for (int i = 0; i < n; i++) {
			int len;

			if (rnd(40) == 0)
				len = sprintf(lines[i], "MATCH");
			else if (rnd(8) == 0) {
				len = sprintf(lines[i], "SUB-RULE,(");
				len += gen_rule(lines[i] + len, 1, G_SUB);
				len += sprintf(lines[i] + len, "),s%d", 1 + (int)rnd(2));
				ptrs[i] = lines[i];
				continue;
			} else
				len = gen_rule(lines[i], 0, G_LINE);
			len += sprintf(lines[i] + len, ",%s", targets[rnd(N_TARGETS)]);
			if (rnd(4) == 0 && (strncmp(lines[i], "IP-CIDR", 7) == 0 ||
					    strncmp(lines[i], "IP-SUFFIX", 9) == 0 ||
					    strncmp(lines[i], "GEOIP", 5) == 0 ||
					    strncmp(lines[i], "IP-ASN", 6) == 0 ||
					    strncmp(lines[i], "RULE-SET", 8) == 0))
				sprintf(lines[i] + len, ",no-resolve");
			ptrs[i] = lines[i];
		}
		ptrs[n] = NULL;
		if (rules_parse_all(&rl, ptrs) != 0) {
			T_CHECK(0);
			setreg_free(&sets);
			break;
		}
		if (rule_engine_build(rl.specs, rl.n, &o, &e, &err) != 0) {
			char b[700];

			conf_err_format(&err, b, sizeof(b));
			fprintf(stderr, "build: %s\n", b);
			T_CHECK(0);
			rules_free(&rl);
			setreg_free(&sets);
			break;
		}
		for (int k = 0; k < queries && failures < 3; k++) {
			static const char *const pn[] = { "curl", "CURL", "ssh", NULL };
			static const char *const pp[] = { "/usr/bin/curl", "/bin/ssh", NULL };
			static const char *const odd[] = { "A.B.COM.", "a..com", ".", "",
							   "b.com." };
			struct rule_addr res[3];
			struct proc_src ps = { 0 };
			struct rule_query q;
			struct rule_result r;
			char dom[300];
			uint32_t ridx;
			int v, rv, rcalls, rtarget = -1;

			memset(&q, 0, sizeof(q));
			q.network = rnd(2) ? RULE_NET_TCP : RULE_NET_UDP;
			if (rnd(10) == 0)
				q.domain = PICK(odd);
			else if (rnd(6)) {
				gen_name(dom, 4, false);
				q.domain = dom;
			}
			if (rnd(3) == 0 || !q.domain)
				if (rnd(4))
					gen_addr(&q.dst);
			if (rnd(2)) {
				char s[40];

				gen_v4(s, false);
				q.src = A(s);
			}
			q.dst_port = (uint16_t)(rnd(2) ? (uint32_t)atoi(PICK(ports)) : rnd(10000));
			q.in_port = (uint16_t)(rnd(2) ? (uint32_t)atoi(PICK(ports)) : 0);
			q.dscp = (uint8_t)rnd(14);
			q.in_type = rnd(2) ? NULL : PICK(q_intypes);
			q.in_user = rnd(2) ? NULL : PICK(q_inusers);
			q.in_name = rnd(2) ? NULL : PICK(q_innames);
			q.src_port = (uint16_t)(rnd(2) ? (uint32_t)atoi(PICK(ports)) : rnd(10000));
			ps.name = pn[rnd(4)];
			ps.path = pp[rnd(3)];
			ps.has_uid = rnd(2);
			ps.uid = rnd(2) ? 1000 : rnd(2000);
			if (rnd(5)) {
				q.proc_fn = proc_cb;
				q.proc_arg = &ps;
			}
			for (int i = 0; i < 3; i++)
				gen_addr(&res[i]);

			v = rule_match(e, &q, &r);
			rv = ref_match(&rl, &sets, &q, &ps, &ridx, &rcalls, &rtarget);
			cases++;
			if (v != rv || (v != RULE_DEFAULT && r.rule != ridx) ||
			    (v == RULE_MATCHED && r.target != rtarget) ||
			    (v == RULE_DEFAULT && r.target != DEFAULT_TARGET) ||
			    (v != RULE_NEED_RESOLVE && ps.calls != rcalls)) {
				dump_case(seed, it, lines, n, texts, &q, &ps);
				fprintf(stderr,
					"engine %d rule %u calls %d; naive %d rule %u calls %d\n",
					v, r.rule, ps.calls, rv, ridx, rcalls);
				T_CHECK(0);
				failures++;
				continue;
			}
			if (v != RULE_NEED_RESOLVE) {
				procs += ps.calls;
				continue;
			}
			need++;
			q.has_resolved = true;
			q.resolved = res;
			q.n_resolved = rnd(4);
			v = rule_match(e, &q, &r);
			rv = ref_match(&rl, &sets, &q, &ps, &ridx, &rcalls, &rtarget);
			procs += ps.calls;
			if (v != rv || (v != RULE_DEFAULT && r.rule != ridx) ||
			    v == RULE_NEED_RESOLVE || ps.calls != rcalls ||
			    (v == RULE_MATCHED && r.target != rtarget)) {
				dump_case(seed, it, lines, n, texts, &q, &ps);
				fprintf(stderr,
					"after resolution: engine %d rule %u calls %d; "
					"naive %d rule %u calls %d\n",
					v, r.rule, ps.calls, rv, ridx, rcalls);
				T_CHECK(0);
				failures++;
			}
		}
		rule_engine_unref(e);
		rules_free(&rl);
		setreg_free(&sets);
	}
	T_EQ_INT(failures, 0);
	geo_free(geo);
	geo_teardown(gdir);
	printf("random: %ld queries, %ld needed resolution, %ld process lookups (seed %llu)\n",
	       cases, need, procs, (unsigned long long)seed);
	/* The generator must reach the interesting paths. */
	T_CHECK(need > cases / 50);
	T_CHECK(procs > cases / 50);
}

int main(void)
{
	T_RUN(test_basic);
	T_RUN(test_resolve);
	T_RUN(test_process);
	T_RUN(test_sets);
	T_RUN(test_build_errors);
	T_RUN(test_dyn_pass_and_inbound);
	T_RUN(test_random);
	return test_summary();
}
