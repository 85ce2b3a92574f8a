/* Unit tests for auto-route's plan (tun2socks/system/route_plan.c) and the
 * text form of its rules and routes (route_text.c). */
#include "tun2socks/system/route_plan.h"
#include "tun2socks/system/route_text.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct prefix pfx(const char *s)
{
	struct prefix p;

	if (prefix_parse(s, false, &p) != 0)
		abort();
	return p;
}

static struct route_plan_cfg base_cfg(void)
{
	struct route_plan_cfg c = {
		.table = 2022,
		.rule_index = 9000,
		.tun_name = "tun0",
		.tun_ifindex = 7,
		.has4 = true,
		.has6 = true,
		.tun4 = pfx("198.18.0.0/15"),
		.tun6 = pfx("fdfe:dcba:9876::/126"),
		.dns_hijack = true,
		.has_mark = true,
		.mark = 0x2022,
	};
	return c;
}

/* The plan as text, one object per line; routes summarized per family. */
static void plan_text(const struct route_plan *p, char *buf, size_t cap)
{
	size_t off = 0;
	int routes[2] = { 0, 0 };

	buf[0] = '\0';
	for (size_t i = 0; i < p->n && off < cap; i++) {
		char line[ROUTE_TEXT_MAX];

		if (p->obj[i].kind == ROUTE_OBJ_ROUTE &&
		    routes[p->obj[i].route.family == AF_INET6]++)
			continue; /* the first route of each family stands for all */
		route_text_format(&p->obj[i], line, sizeof(line));
		off += (size_t)snprintf(buf + off, cap - off, "%s\n", line);
	}
}

static int count_routes(const struct route_plan *p, int fam)
{
	int n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->obj[i].kind == ROUTE_OBJ_ROUTE && p->obj[i].route.family == fam;
	return n;
}

/* Every object survives its text form (the state file) unchanged. */
static void check_text_roundtrip(const struct route_plan *p)
{
	int bad = 0;

	for (size_t i = 0; i < p->n; i++) {
		char line[ROUTE_TEXT_MAX];
		struct route_obj o, want = p->obj[i];

		route_text_format(&want, line, sizeof(line));
		if (route_text_parse(line, &o) != 0) {
			fprintf(stderr, "does not parse: %s\n", line);
			bad++;
			continue;
		}
		want.route.oif = 0; /* the text keeps the name, not the index */
		if (memcmp(&o, &want, sizeof(o)) != 0) {
			fprintf(stderr, "differs after parsing: %s\n", line);
			bad++;
		}
	}
	T_EQ_INT(bad, 0);
}

static void test_default(void)
{
	struct route_plan_cfg c = base_cfg();
	struct route_plan p;
	static char text[8192];

	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	T_CHECK(p.fam4 && p.fam6);
	plan_text(&p, text, sizeof(text));
	T_EQ_STR(text, "rule -4 pref 9010 nop\n"
		       "rule -4 pref 9000 iif lo fwmark 0x2022/0xffffffff goto 9010\n"
		       "rule -6 pref 9010 nop\n"
		       "rule -6 pref 9000 iif lo fwmark 0x2022/0xffffffff goto 9010\n"
		       "route -4 table 2022 0.0.0.0/1 dev tun0\n"
		       "route -6 table 2022 ::/0 dev tun0\n"
		       "rule -4 pref 9002 iif lo ipproto udp dport 53 lookup 2022\n"
		       "rule -4 pref 9002 iif lo ipproto tcp dport 53 lookup 2022\n"
		       "rule -4 pref 9004 iif lo lookup main suppress_prefixlength 0\n"
		       "rule -4 pref 9005 from 198.18.0.0/15 iif lo lookup 2022\n"
		       "rule -4 pref 9006 from 0.0.0.0/32 iif lo lookup 2022\n"
		       "rule -6 pref 9002 iif lo ipproto udp dport 53 lookup 2022\n"
		       "rule -6 pref 9002 iif lo ipproto tcp dport 53 lookup 2022\n"
		       "rule -6 pref 9004 iif lo lookup main suppress_prefixlength 0\n"
		       "rule -6 pref 9005 from fdfe:dcba:9876::/126 iif lo lookup 2022\n"
		       "rule -6 pref 9006 from ::/1 iif lo goto 9010\n"
		       "rule -6 pref 9006 from 8000::/1 iif lo goto 9010\n"
		       "rule -6 pref 9007 iif lo lookup 2022\n");
	/* IPv4: everything but 224.0.0.0/4 and 255.255.255.255 */
	T_EQ_INT(count_routes(&p, AF_INET), 31);
	T_EQ_INT(count_routes(&p, AF_INET6), 1);
	/* every route goes to the TUN's index, link-scoped for IPv4 */
	for (size_t i = 0; i < p.n; i++) {
		if (p.obj[i].kind != ROUTE_OBJ_ROUTE)
			continue;
		T_EQ_INT(p.obj[i].route.oif, 7);
		T_EQ_INT(p.obj[i].route.type, RTNL_RT_UNICAST);
		T_EQ_INT(p.obj[i].route.scope,
			 p.obj[i].route.family == AF_INET ? RTNL_SCOPE_LINK : RTNL_SCOPE_UNIVERSE);
	}
	check_text_roundtrip(&p);
	route_plan_free(&p);
}

static void test_strict_no_v6(void)
{
	struct route_plan_cfg c = base_cfg();
	struct route_plan p;
	static char text[8192];

	c.has6 = false;
	c.strict = true;
	c.dns_hijack = false;
	c.has_mark = false;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	plan_text(&p, text, sizeof(text));
	/* IPv6 is unreachable, and without the rules that would let a
	 * retried lookup with another interface's source escape */
	T_EQ_STR(text, "rule -4 pref 9010 nop\n"
		       "rule -6 pref 9010 nop\n"
		       "route -4 table 2022 0.0.0.0/1 dev tun0\n"
		       "route -6 table 2022 unreachable ::/0\n"
		       "rule -4 pref 9004 iif lo lookup main suppress_prefixlength 0\n"
		       "rule -4 pref 9005 from 198.18.0.0/15 iif lo lookup 2022\n"
		       "rule -4 pref 9006 from 0.0.0.0/32 iif lo lookup 2022\n"
		       "rule -6 pref 9004 iif lo lookup main suppress_prefixlength 0\n"
		       "rule -6 pref 9007 iif lo lookup 2022\n");
	check_text_roundtrip(&p);
	route_plan_free(&p);

	/* not strict: IPv6 is left alone */
	c.strict = false;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	T_CHECK(p.fam4 && !p.fam6);
	T_EQ_INT(count_routes(&p, AF_INET6), 0);
	for (size_t i = 0; i < p.n; i++)
		T_CHECK(p.obj[i].rule.family != AF_INET6 && p.obj[i].route.family != AF_INET6);
	route_plan_free(&p);
}

static void test_exclusions(void)
{
	struct route_plan_cfg c = base_cfg();
	struct prefix ex[] = { pfx("192.0.2.10/32"), pfx("2001:db8::1/128"), pfx("10.0.0.0/8") };
	struct prefix ra[] = { pfx("10.0.0.0/7"), pfx("2001:db8::/32") };
	struct route_plan p;
	char line[ROUTE_TEXT_MAX];

	c.exclude = ex;
	c.n_exclude = 3;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	/* 0/0 minus a host, a /8, multicast and the broadcast */
	T_CHECK(count_routes(&p, AF_INET) > 32);
	T_EQ_INT(count_routes(&p, AF_INET6), 128);
	for (size_t i = 0; i < p.n; i++) {
		const struct route_obj *o = &p.obj[i];

		if (o->kind != ROUTE_OBJ_ROUTE)
			continue;
		for (size_t e = 0; e < 3; e++)
			T_CHECK(!prefix_overlaps(&o->route.dst, &ex[e]));
	}
	route_plan_free(&p);

	/* route-address narrows: 10.0.0.0/7 minus 10.0.0.0/8 is 11.0.0.0/8 */
	c.route_addr = ra;
	c.n_route_addr = 2;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	T_EQ_INT(count_routes(&p, AF_INET), 1);
	for (size_t i = 0; i < p.n; i++) {
		if (p.obj[i].kind == ROUTE_OBJ_ROUTE && p.obj[i].route.family == AF_INET) {
			route_text_format(&p.obj[i], line, sizeof(line));
			T_EQ_STR(line, "route -4 table 2022 11.0.0.0/8 dev tun0");
		}
	}
	T_EQ_INT(count_routes(&p, AF_INET6), 96); /* /32 minus a /128 */
	route_plan_free(&p);

	/* route-address of IPv4 only: IPv6 untouched */
	c.n_route_addr = 1;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	T_CHECK(p.fam4 && !p.fam6);
	route_plan_free(&p);

	/* nothing left to route */
	struct prefix all[] = { pfx("0.0.0.0/0"), pfx("::/0") };
	char err[200] = "";
	c.route_addr = NULL;
	c.n_route_addr = 0;
	c.exclude = all;
	c.n_exclude = 2;
	T_EQ_INT(route_plan_build(&c, &p, err, sizeof(err)), -EINVAL);
	T_CHECK(strstr(err, "nothing to route") != NULL);
	T_EQ_INT(p.n, 0);
}

/* Proxy servers: rules after the DNS ones (their port 53 stays ours),
 * never holes in the table. */
static void test_servers(void)
{
	struct route_plan_cfg c = base_cfg();
	/* proxies sharing a host (other ports) come once: the kernel would
	 * refuse the second rule as a duplicate */
	struct prefix sv[] = { pfx("192.0.2.10/32"), pfx("2001:db8::1/128"), pfx("192.0.2.11/32"),
			       pfx("192.0.2.10/32"), pfx("2001:db8::1/128") };
	struct route_plan p;
	static char text[8192];
	size_t off = 0;

	c.servers = sv;
	c.n_servers = 5;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	T_EQ_INT(count_routes(&p, AF_INET), 31);
	T_EQ_INT(count_routes(&p, AF_INET6), 1);
	for (size_t i = 0; i < p.n; i++) {
		char line[ROUTE_TEXT_MAX];

		if (p.obj[i].kind != ROUTE_OBJ_RULE ||
		    (p.obj[i].rule.priority != 9002 && p.obj[i].rule.priority != 9003))
			continue;
		route_text_format(&p.obj[i], line, sizeof(line));
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n", line);
	}
	T_EQ_STR(text, "rule -4 pref 9002 iif lo ipproto udp dport 53 lookup 2022\n"
		       "rule -4 pref 9002 iif lo ipproto tcp dport 53 lookup 2022\n"
		       "rule -4 pref 9003 to 192.0.2.10/32 iif lo goto 9010\n"
		       "rule -4 pref 9003 to 192.0.2.11/32 iif lo goto 9010\n"
		       "rule -6 pref 9002 iif lo ipproto udp dport 53 lookup 2022\n"
		       "rule -6 pref 9002 iif lo ipproto tcp dport 53 lookup 2022\n"
		       "rule -6 pref 9003 to 2001:db8::1/128 iif lo goto 9010\n");
	check_text_roundtrip(&p);
	route_plan_free(&p);
}

static void test_uids(void)
{
	struct route_plan_cfg c = base_cfg();
	struct uid_range inc[] = { { 2000, 2999 }, { 1000, 1000 } }, exc[] = { { 2500, 2600 } };
	struct route_plan p;
	static char text[8192];
	size_t off = 0;

	c.has6 = false;
	c.include_uid = inc;
	c.n_include_uid = 2;
	c.exclude_uid = exc;
	c.n_exclude_uid = 1;
	T_EQ_INT(route_plan_build(&c, &p, NULL, 0), 0);
	for (size_t i = 0; i < p.n; i++) {
		char line[ROUTE_TEXT_MAX];

		if (p.obj[i].kind != ROUTE_OBJ_RULE || p.obj[i].rule.priority != 9001)
			continue;
		route_text_format(&p.obj[i], line, sizeof(line));
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n", line);
	}
	/* left out: all but 1000 and 2000-2999, and 2500-2600 */
	T_EQ_STR(text, "rule -4 pref 9001 iif lo uidrange 0-999 goto 9010\n"
		       "rule -4 pref 9001 iif lo uidrange 1001-1999 goto 9010\n"
		       "rule -4 pref 9001 iif lo uidrange 2500-2600 goto 9010\n"
		       "rule -4 pref 9001 iif lo uidrange 3000-4294967295 goto 9010\n");
	check_text_roundtrip(&p);
	route_plan_free(&p);

	struct uid_range u[4];
	T_EQ_INT(route_plan_parse_uids("1000", u, 4), 1);
	T_EQ_INT(route_plan_parse_uids("0-99,1000-1999,65534", u, 4), 3);
	T_EQ_INT(u[1].lo, 1000);
	T_EQ_INT(u[1].hi, 1999);
	T_EQ_INT(u[2].lo, 65534);
	T_EQ_INT(route_plan_parse_uids("", u, 4), -EINVAL);
	T_EQ_INT(route_plan_parse_uids("5-4", u, 4), -EINVAL);
	T_EQ_INT(route_plan_parse_uids("1,", u, 4), -EINVAL);
	T_EQ_INT(route_plan_parse_uids("-1", u, 4), -EINVAL);
	T_EQ_INT(route_plan_parse_uids("4294967296", u, 4), -EINVAL);
	T_EQ_INT(route_plan_parse_uids("1,2,3,4,5", u, 4), -EINVAL);
}

static void test_bad_indexes(void)
{
	struct route_plan_cfg c = base_cfg();
	struct route_plan p;
	char err[200];

	c.table = 254;
	T_EQ_INT(route_plan_build(&c, &p, err, sizeof(err)), -EINVAL);
	T_CHECK(strstr(err, "254") != NULL);
	c.table = 2022;
	c.rule_index = 32760;
	T_EQ_INT(route_plan_build(&c, &p, err, sizeof(err)), -EINVAL);
	c.rule_index = 0;
	T_EQ_INT(route_plan_build(&c, &p, err, sizeof(err)), -EINVAL);
	T_CHECK(route_plan_table_ok(100));
	T_CHECK(!route_plan_table_ok(255));
	T_CHECK(route_plan_rule_index_ok(32755));
	T_CHECK(!route_plan_rule_index_ok(32756));
}

static void test_text_errors(void)
{
	static const char *const bad[] = {
		"",
		"rule",
		"rule -4 pref 9000", /* no action */
		"rule -5 pref 9000 nop",
		"rule -4 pref x nop",
		"rule -4 pref 9000 lookup 0",
		"rule -4 pref 9000 nop goto 9010",       /* two actions */
		"rule -4 pref 9000 from ::/0 nop",       /* the other family */
		"rule -4 pref 9000 from 10.0.0.1/8 nop", /* host bits */
		"rule -4 pref 9000 dport 0 nop",
		"rule -4 pref 9000 dport 9-8 nop",
		"rule -4 pref 9000 ipproto 256 nop",
		"rule -4 pref 9000 iif 0123456789abcdef nop", /* 16 characters */
		"rule -4 pref 9000 fwmark nop",
		"rule -4 pref 9000 sometimes nop",
		"route -4 table 2022 0.0.0.0/1", /* a device route needs its device */
		"route -4 table 2022 unreachable",
		"route -4 table 2022 unreachable 0.0.0.0/0 dev tun0",
		"route -6 table 2022 0.0.0.0/0 dev tun0",
		"route -4 table 2022 0.0.0.0/0 dev tun0 metric",
		"routes -4 table 2022 0.0.0.0/0 dev tun0",
	};
	struct route_obj o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = route_text_parse(bad[i], &o);

		if (r != -EINVAL)
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		T_EQ_INT(r, -EINVAL);
	}
	/* spaces and a trailing newline are fine */
	T_EQ_INT(route_text_parse("  rule  -6 pref 9010   nop\n", &o), 0);
	T_EQ_INT(o.rule.family, AF_INET6);
	T_EQ_INT(o.rule.action, RTNL_ACT_NOP);
	T_EQ_INT(route_text_parse("rule -4 pref 1 fwmark 7 lookup 100", &o), 0);
	T_EQ_INT(o.rule.fwmask, 0xffffffffu);
}

int main(void)
{
	T_RUN(test_default);
	T_RUN(test_strict_no_v6);
	T_RUN(test_exclusions);
	T_RUN(test_servers);
	T_RUN(test_uids);
	T_RUN(test_bad_indexes);
	T_RUN(test_text_errors);
	return test_summary();
}
