/* group: proxy groups at run time, through the router (router_explain,
 * the path `tun2socks match` uses) and the group table itself: select
 * switching, url-test with tolerance, fallback, load-balance
 * (consistent-hashing, round-robin), unusable members, empty groups,
 * nested groups, UDP, and what a reload keeps. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/router.h"
#include "test.h"

static const char conf_text[] =
	"proxies:\n"
	"  - { name: a, type: socks5, server: 192.0.2.1, port: 1080, udp: true }\n"
	"  - { name: b, type: socks5, server: 192.0.2.2, port: 1080, udp: true }\n"
	"  - { name: c, type: socks5, server: 192.0.2.3, port: 1080, udp: true }\n"
	"  - { name: h, type: http, server: 192.0.2.4, port: 3128 }\n"
	"  - { name: ss1, type: ss, server: 192.0.2.9, port: 8388, cipher: x, password: y }\n"
	"  - { name: dir, type: direct, udp: true }\n"
	"proxy-groups:\n"
	"  - { name: Sel, type: select, proxies: [a, b, DIRECT] }\n"
	"  - { name: Auto, type: url-test, proxies: [a, b, c], tolerance: 50 }\n"
	"  - { name: Fall, type: fallback, proxies: [a, b, c] }\n"
	"  - { name: LB, type: load-balance, proxies: [a, b, c] }\n"
	"  - { name: RR, type: load-balance, strategy: round-robin, proxies: [a, b, c] }\n"
	"  - { name: Empty, type: select, proxies: [ss1] }\n"
	"  - { name: Mixed, type: select, proxies: [ss1, b] }\n"
	"  - { name: Outer, type: select, proxies: [Auto, c] }\n"
	"  - { name: HttpFirst, type: select, proxies: [h, a] }\n"
	"  - { name: NoUdp, type: select, proxies: [a], disable-udp: true }\n"
	"  - { name: Dir, type: select, proxies: [dir, a] }\n"
	"  - { name: Mft, type: fallback, proxies: [a, b], max-failed-times: 3, timeout: 1000 }\n"
	"rules:\n"
	"  - DOMAIN-SUFFIX,sel.test,Sel\n"
	"  - DOMAIN-SUFFIX,auto.test,Auto\n"
	"  - DOMAIN-SUFFIX,fall.test,Fall\n"
	"  - DOMAIN-SUFFIX,lb.test,LB\n"
	"  - DOMAIN-KEYWORD,lbsite,LB\n"
	"  - DOMAIN-SUFFIX,rr.test,RR\n"
	"  - DOMAIN-SUFFIX,empty.test,Empty\n"
	"  - DOMAIN-SUFFIX,mixed.test,Mixed\n"
	"  - DOMAIN-SUFFIX,outer.test,Outer\n"
	"  - DOMAIN-SUFFIX,httpfirst.test,HttpFirst\n"
	"  - DOMAIN-SUFFIX,noudp.test,NoUdp\n"
	"  - DOMAIN-SUFFIX,dir.test,dir\n"
	"  - DOMAIN-SUFFIX,dirgroup.test,Dir\n"
	"  - MATCH,c\n";

static struct router_gen *build(struct config **cfg_out)
{
	struct router_gen_opts o = { .no_resolve = true };
	struct conf_err_list errs;
	struct config *cfg = NULL;
	struct router_gen *g = NULL;
	struct conf_err err;
	int r = config_load_buf(conf_text, strlen(conf_text), "g.yaml", &cfg, &errs);

	T_EQ_INT(r, 0);
	for (size_t i = 0; r < 0 && i < errs.n; i++)
		fprintf(stderr, "  %d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (r == 0)
		r = router_gen_build(cfg, &o, &g, &err);
	T_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.msg);
	*cfg_out = cfg;
	return g;
}

/* Where a flow to name goes: its via, and the group in *group. */
static const char *via(struct router_gen *g, const char *name, bool udp, const char **group)
{
	static char buf[128];
	ip_addr_t dst, src;
	struct route rt;
	struct route_query q = { .udp = udp,
				 .src = &src,
				 .src_port = 40000,
				 .dst = &dst,
				 .dst_port = 443,
				 .domain = name,
				 .dst_is_fake = true };

	ipaddr_aton("198.18.0.1", &src);
	ipaddr_aton("198.18.0.9", &dst);
	if (router_explain(g, &q, NULL, NULL, NULL, &rt) < 0)
		return "(error)";
	snprintf(buf, sizeof(buf), "%s", rt.via);
	if (group)
		*group = rt.group;
	router_gen_unref(rt.hold);
	return buf;
}

static int gi(struct group_table *t, const char *name)
{
	int i = group_table_find(t, name);

	T_CHECK(i >= 0);
	return i < 0 ? 0 : i;
}

static void report(struct group_table *t, const char *group, size_t m, bool alive, unsigned ms)
{
	group_table_report(t, (size_t)gi(t, group), m, alive, ms, alive ? NULL : "refused", 1000);
}

static void test_select(void)
{
	struct config *cfg;
	struct router_gen *g = build(&cfg);
	struct group_table *t;
	const char *grp = NULL;

	if (g == NULL)
		goto out;
	t = router_gen_groups(g);
	T_EQ_STR(via(g, "x.sel.test", false, &grp), "a");
	T_EQ_STR(grp, "Sel");
	T_EQ_INT(group_table_select(t, "Sel", "b"), 0);
	T_EQ_STR(via(g, "x.sel.test", false, NULL), "b");
	T_EQ_INT(group_table_select(t, "Sel", "DIRECT"), 0);
	T_EQ_STR(via(g, "x.sel.test", false, NULL), "DIRECT");
	T_EQ_INT(group_table_select(t, "Sel", "zz"), -ENOENT);
	T_EQ_INT(group_table_select(t, "Nope", "a"), -ENOENT);
	T_EQ_INT(group_table_select(t, "Auto", "b"), -EPERM);
	/* A select group ignores health: dead members stay picked. */
	T_EQ_INT(group_table_select(t, "Sel", "a"), 0);
	report(t, "Sel", 0, false, 0);
	T_EQ_STR(via(g, "x.sel.test", false, NULL), "a");
out:
	router_gen_unref(g);
	config_free(cfg);
}

static void test_url_test(void)
{
	struct config *cfg;
	struct router_gen *g = build(&cfg);
	struct group_table *t;
	struct group_info info;
	struct group_member_info mi;

	if (g == NULL)
		goto out;
	t = router_gen_groups(g);
	/* Before any check: the first member. */
	T_EQ_STR(via(g, "x.auto.test", false, NULL), "a");
	report(t, "Auto", 0, true, 300);
	report(t, "Auto", 1, true, 100);
	report(t, "Auto", 2, true, 200);
	T_EQ_STR(via(g, "x.auto.test", false, NULL), "b");
	/* c gets faster, but within the tolerance (50 ms): b stays. */
	report(t, "Auto", 2, true, 80);
	T_EQ_STR(via(g, "x.auto.test", false, NULL), "b");
	/* Faster by more than the tolerance: c. */
	report(t, "Auto", 2, true, 20);
	T_EQ_STR(via(g, "x.auto.test", false, NULL), "c");
	/* c dies: the fastest alive. */
	report(t, "Auto", 2, false, 0);
	T_EQ_STR(via(g, "x.auto.test", false, NULL), "b");
	/* Nested: Outer's first member is Auto, which picks b now. */
	T_EQ_STR(via(g, "x.outer.test", false, NULL), "b");

	T_EQ_INT(group_table_info(t, (size_t)gi(t, "Auto"), &info), 0);
	T_EQ_STR(info.name, "Auto");
	T_EQ_INT(info.type, CONFIG_GROUP_URL_TEST);
	T_EQ_INT(info.now, 1);
	T_EQ_INT(info.interval_s, 300);
	T_EQ_INT(info.timeout_ms, 5000);
	T_CHECK(info.used_ms > 0);
	T_EQ_INT(group_table_member(t, (size_t)gi(t, "Auto"), 2, &mi), 0);
	T_EQ_STR(mi.name, "c");
	T_CHECK(mi.checked && !mi.alive);
	T_EQ_STR(mi.error, "refused");
	T_EQ_INT(group_table_member(t, (size_t)gi(t, "Auto"), 1, &mi), 0);
	T_CHECK(mi.alive);
	T_EQ_INT(mi.delay_ms, 100);
	T_EQ_INT(group_table_member(t, (size_t)gi(t, "Auto"), 3, &mi), -ENOENT);
out:
	router_gen_unref(g);
	config_free(cfg);
}

static void test_fallback(void)
{
	struct config *cfg;
	struct router_gen *g = build(&cfg);
	struct group_table *t;

	if (g == NULL)
		goto out;
	t = router_gen_groups(g);
	T_EQ_STR(via(g, "x.fall.test", false, NULL), "a");
	report(t, "Fall", 0, false, 0);
	T_EQ_STR(via(g, "x.fall.test", false, NULL), "b");
	report(t, "Fall", 1, false, 0);
	T_EQ_STR(via(g, "x.fall.test", false, NULL), "c");
	report(t, "Fall", 2, false, 0);
	T_EQ_STR(via(g, "x.fall.test", false, NULL), "a"); /* none alive: the first */
	report(t, "Fall", 0, true, 10);
	T_EQ_STR(via(g, "x.fall.test", false, NULL), "a");
out:
	router_gen_unref(g);
	config_free(cfg);
}

/* max-failed-times as mihomo's onDialFailed: refused checks at once;
 * otherwise N failures within `timeout` of the first (default 5 in 5 s);
 * a failure past the window resets the count; a success clears it;
 * select groups never count. */
static void test_max_failed(void)
{
	struct config *cfg;
	struct router_gen *g = build(&cfg);
	struct group_table *t;
	size_t mft, fall, sel;

	if (g == NULL)
		goto out;
	t = router_gen_groups(g);
	mft = (size_t)gi(t, "Mft");
	fall = (size_t)gi(t, "Fall");
	sel = (size_t)gi(t, "Sel");
	T_CHECK(group_table_dial(t, mft, -ECONNREFUSED, 100));
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 100));
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 600));
	T_CHECK(group_table_dial(t, mft, -ETIMEDOUT, 1100));  /* 3 within 1000 ms */
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 2000)); /* counting anew */
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 2500));
	T_CHECK(!group_table_dial(t, mft, 0, 2600)); /* a success clears */
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 2700));
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 2800));
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 3701)); /* window over: reset */
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 3800));
	T_CHECK(!group_table_dial(t, mft, -ETIMEDOUT, 3900));
	T_CHECK(group_table_dial(t, mft, -ETIMEDOUT, 4000));
	for (int i = 0; i < 4; i++) /* the default: 5 */
		T_CHECK(!group_table_dial(t, fall, -EHOSTUNREACH, 10000 + (uint64_t)i));
	T_CHECK(group_table_dial(t, fall, -EHOSTUNREACH, 10010));
	T_CHECK(!group_table_dial(t, sel, -ECONNREFUSED, 100));
	for (int i = 0; i < 10; i++)
		T_CHECK(!group_table_dial(t, sel, -ETIMEDOUT, 100));
	/* the groups a flow went through, each counted by the router:
	 * Outer (select) picks Auto (url-test), which picks a proxy */
	{
		struct group_member_info mi;
		struct group_pick pk = { .peek = true, .domain = "x.outer.test" };
		size_t path[4], n;
		int outer = gi(t, "Outer"), base;

		T_EQ_INT(group_table_member(t, (size_t)outer, 0, &mi), 0);
		base = mi.target - gi(t, "Auto");
		n = group_table_path(t, base + outer, &pk, path, 4);
		T_EQ_INT(n, 2);
		T_EQ_INT(path[0], outer);
		T_EQ_INT(path[1], gi(t, "Auto"));
		T_EQ_INT(group_table_path(t, mi.target, &pk, path, 4), 1);
	}
out:
	router_gen_unref(g);
	config_free(cfg);
}

static void test_load_balance(void)
{
	struct config *cfg;
	struct router_gen *g = build(&cfg);
	struct group_table *t;
	int counts[3] = { 0 };
	char name[64], first[8];

	if (g == NULL)
		goto out;
	t = router_gen_groups(g);
	/* consistent-hashing: one site, one member; sites spread. */
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "www.lbsite%d.com", i);
		snprintf(first, sizeof(first), "%s", via(g, name, false, NULL));
		counts[first[0] - 'a']++;
		/* the key is the registrable part: the site's other names
		 * go the same way */
		snprintf(name, sizeof(name), "img.cdn.lbsite%d.com", i);
		T_EQ_STR(via(g, name, false, NULL), first);
		snprintf(name, sizeof(name), "www.lbsite%d.co.uk", i);
		snprintf(first, sizeof(first), "%s", via(g, name, false, NULL));
		snprintf(name, sizeof(name), "lbsite%d.co.uk", i);
		T_EQ_STR(via(g, name, false, NULL), first);
	}
	for (int i = 0; i < 3; i++)
		T_CHECK(counts[i] > 0);
	T_EQ_STR(via(g, "www.example.lb.test", false, NULL),
		 via(g, "www.example.lb.test", false, NULL));
	{
		char v1[8], v2[8];

		snprintf(v1, sizeof(v1), "%s", via(g, "a.lb.test", false, NULL));
		snprintf(v2, sizeof(v2), "%s", via(g, "b.lb.test", false, NULL));
		T_EQ_STR(v1, v2); /* same key: lb.test */
		/* its member dies: another; back alive: the same again */
		report(t, "LB", (size_t)(v1[0] - 'a'), false, 0);
		snprintf(v2, sizeof(v2), "%s", via(g, "a.lb.test", false, NULL));
		T_CHECK(strcmp(v1, v2) != 0);
		report(t, "LB", (size_t)(v1[0] - 'a'), true, 5);
		snprintf(v2, sizeof(v2), "%s", via(g, "a.lb.test", false, NULL));
		T_EQ_STR(v1, v2);
	}
	/* round-robin: a, b, c, a; dead ones skipped. */
	T_EQ_STR(via(g, "x.rr.test", false, NULL), "a");
	T_EQ_STR(via(g, "x.rr.test", false, NULL), "b");
	T_EQ_STR(via(g, "x.rr.test", false, NULL), "c");
	T_EQ_STR(via(g, "x.rr.test", false, NULL), "a");
	report(t, "RR", 1, false, 0);
	T_EQ_STR(via(g, "x.rr.test", false, NULL), "c");
	T_EQ_STR(via(g, "x.rr.test", false, NULL), "a");
out:
	router_gen_unref(g);
	config_free(cfg);
}

static void test_members_and_udp(void)
{
	struct config *cfg;
	struct router_gen *g = build(&cfg);
	const char *grp = NULL;
	bool warned = false;

	if (g == NULL)
		goto out;
	/* Only ss members: the group routes DIRECT (COMPATIBLE), warned. */
	T_EQ_STR(via(g, "x.empty.test", false, &grp), "DIRECT");
	T_EQ_STR(grp, "Empty");
	for (size_t i = 0; i < cfg->n_warnings; i++)
		warned |= strstr(cfg->warnings[i].msg, "\"Empty\": no member") != NULL;
	T_CHECK(warned);
	/* An unusable member is left out: the next one is picked. */
	T_EQ_STR(via(g, "x.mixed.test", false, NULL), "b");
	/* UDP: a group that may pick an HTTP proxy is skipped for UDP (the
	 * next rule decides, as mihomo does when it picks one)... */
	T_EQ_STR(via(g, "x.httpfirst.test", false, NULL), "h");
	T_EQ_STR(via(g, "x.httpfirst.test", true, NULL), "c");
	/* ... and so is a disable-udp group; groups of SOCKS5 proxies carry it. */
	T_EQ_STR(via(g, "x.noudp.test", true, NULL), "c");
	T_EQ_STR(via(g, "x.noudp.test", false, NULL), "a");
	T_EQ_STR(via(g, "x.sel.test", true, NULL), "a");
	/* type: direct, as a rule's target and a group's member */
	T_EQ_STR(via(g, "x.dir.test", false, NULL), "dir");
	T_EQ_STR(via(g, "x.dirgroup.test", true, NULL), "dir");
	{
		ip_addr_t dst, src;
		struct route rt;
		struct route_query q = { .src = &src,
					 .src_port = 1,
					 .dst = &dst,
					 .dst_port = 80,
					 .domain = "x.dir.test",
					 .dst_is_fake = true };

		ipaddr_aton("198.18.0.1", &src);
		ipaddr_aton("198.18.0.9", &dst);
		T_EQ_INT(router_explain(g, &q, NULL, NULL, NULL, &rt), 0);
		T_EQ_INT(rt.action, ROUTE_DIRECT);
		T_EQ_STR(rt.target.u.domain, "x.dir.test");
		router_gen_unref(rt.hold);
	}
out:
	router_gen_unref(g);
	config_free(cfg);
}

static void test_inherit(void)
{
	struct config *c1, *c2;
	struct router_gen *g1 = build(&c1), *g2 = build(&c2);
	struct group_table *t1, *t2;

	if (g1 == NULL || g2 == NULL)
		goto out;
	t1 = router_gen_groups(g1);
	t2 = router_gen_groups(g2);
	T_EQ_INT(group_table_select(t1, "Sel", "b"), 0);
	report(t1, "Auto", 0, true, 300);
	report(t1, "Auto", 2, true, 10);
	T_EQ_STR(via(g1, "x.auto.test", false, NULL), "c");
	group_table_inherit(t2, t1);
	T_EQ_STR(via(g2, "x.sel.test", false, NULL), "b");
	T_EQ_STR(via(g2, "x.auto.test", false, NULL), "c");
out:
	router_gen_unref(g1);
	router_gen_unref(g2);
	config_free(c1);
	config_free(c2);
}

int main(void)
{
	T_RUN(test_select);
	T_RUN(test_url_test);
	T_RUN(test_fallback);
	T_RUN(test_max_failed);
	T_RUN(test_load_balance);
	T_RUN(test_members_and_udp);
	T_RUN(test_inherit);
	return test_summary();
}
