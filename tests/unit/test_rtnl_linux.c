/* The RTNETLINK socket (tun2socks/system/rtnl_linux.c) against the real
 * kernel: a whole auto-route plan added, listed back, refused twice, and
 * removed to the last rule. Needs root; everything happens in a network
 * namespace of its own (unshare(CLONE_NEWNET) first thing), so the host's
 * rules and routes are never touched.
 *
 * Not root: fails (CI runs as root and a silent skip would hide a broken
 * runner); T2S_ALLOW_SKIP=1 turns that into exit 77 for developer
 * machines. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tun2socks/system/route_plan.h"
#include "tun2socks/system/route_text.h"
#include "tun2socks/system/rtnl.h"
#include "root_helper.h"
#include "test.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINES 512

struct lines {
	char l[MAX_LINES][ROUTE_TEXT_MAX];
	int n;
};

static int add_rule(void *arg, const struct rtnl_rule *r)
{
	struct lines *ls = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_RULE, .rule = *r };

	if (ls->n < MAX_LINES)
		route_text_format(&o, ls->l[ls->n++], ROUTE_TEXT_MAX);
	return 0;
}

/* Routes of table 2022 only, without device and metric: what the plan
 * names them by. */
static int add_route(void *arg, const struct rtnl_route *r)
{
	struct lines *ls = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_ROUTE, .route = *r };

	if (r->table != 2022)
		return 0;
	o.route.metric = 0;
	if (ls->n < MAX_LINES)
		route_text_format(&o, ls->l[ls->n++], ROUTE_TEXT_MAX);
	return 0;
}

static void list_all(struct rtnl *nl, struct lines *ls)
{
	ls->n = 0;
	T_EQ_INT(rtnl_list_rules(nl, AF_INET, add_rule, ls), 0);
	T_EQ_INT(rtnl_list_rules(nl, AF_INET6, add_rule, ls), 0);
	T_EQ_INT(rtnl_list_routes(nl, AF_INET, add_route, ls), 0);
	T_EQ_INT(rtnl_list_routes(nl, AF_INET6, add_route, ls), 0);
}

static bool has(const struct lines *ls, const char *want)
{
	for (int i = 0; i < ls->n; i++)
		if (strcmp(ls->l[i], want) == 0)
			return true;
	return false;
}

static struct prefix pfx_of(const char *s)
{
	struct prefix p;

	prefix_parse(s, false, &p);
	return p;
}

static int stop_at_second(void *arg, const struct rtnl_rule *r)
{
	int *seen = arg;

	(void)r;
	return ++*seen == 2 ? 42 : 0;
}

static void test_plan_roundtrip(void)
{
	struct prefix tun4, tun6, ex;
	struct route_plan_cfg c = {
		.table = 2022,
		.rule_index = 9000,
		.tun_name = "lo",
		.tun_ifindex = 1,
		.has4 = true,
		.has6 = true,
		.dns_hijack = true,
		.has_mark = true,
		.mark = 0x2022,
		.exclude = &ex,
		.n_exclude = 1,
	};
	static struct lines before, during, after;
	struct route_plan p;
	struct rtnl *nl;
	char err[200];
	int bad = 0, seen = 0;

	prefix_parse("198.18.0.0/15", false, &tun4);
	prefix_parse("fdfe:dcba:9876::/126", false, &tun6);
	prefix_parse("192.0.2.10", false, &ex);
	c.tun4 = tun4;
	c.tun6 = tun6;
	T_EQ_INT(route_plan_build(&c, &p, err, sizeof(err)), 0);
	T_EQ_INT(rtnl_open(&nl), 0);
	if (nl == NULL)
		return;
	list_all(nl, &before);
	T_CHECK(has(&before, "rule -4 pref 32766 lookup main"));
	/* fn stopping a dump: its value comes back and the socket stays usable */
	T_EQ_INT(rtnl_list_rules(nl, AF_INET, stop_at_second, &seen), 42);

	for (size_t i = 0; i < p.n; i++) {
		const struct route_obj *o = &p.obj[i];
		int r = o->kind == ROUTE_OBJ_RULE
				? rtnl_rule_change(nl, true, &o->rule, err, sizeof(err))
				: rtnl_route_change(nl, true, &o->route, err, sizeof(err));

		if (r != 0) {
			char line[ROUTE_TEXT_MAX];

			route_text_format(o, line, sizeof(line));
			fprintf(stderr, "adding '%s': %s (%s)\n", line, strerror(-r), err);
			bad++;
		}
	}
	T_EQ_INT(bad, 0);
	list_all(nl, &during);
	for (size_t i = 0; i < p.n; i++) {
		struct route_obj o = p.obj[i];
		char line[ROUTE_TEXT_MAX];

		o.dev[0] = '\0';
		if (o.kind == ROUTE_OBJ_ROUTE)
			o.route.oif = 0;
		route_text_format(&o, line, sizeof(line));
		if (!has(&during, line)) {
			fprintf(stderr, "not listed: %s\n", line);
			bad++;
		}
	}
	T_EQ_INT(bad, 0);
	/* EXCL: the second add of the same rule or route is refused */
	T_EQ_INT(rtnl_rule_change(nl, true, &p.obj[0].rule, err, sizeof(err)), -EEXIST);
	for (size_t i = 0; i < p.n; i++) {
		if (p.obj[i].kind == ROUTE_OBJ_ROUTE) {
			T_EQ_INT(rtnl_route_change(nl, true, &p.obj[i].route, err, sizeof(err)),
				 -EEXIST);
			break;
		}
	}
	/* the kernel's own words come back */
	struct rtnl_rule back = {
		.family = AF_INET, .action = RTNL_ACT_GOTO, .priority = 9005, .goto_prio = 9000
	};
	T_EQ_INT(rtnl_rule_change(nl, true, &back, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "Backward goto not supported");

	/* Where the kernel sends our packets: a new connection enters the
	 * table (lo here); with our mark it goes around it, and main has
	 * nothing. */
	struct prefix far = pfx_of("192.0.2.99"), far6 = pfx_of("2001:db8::99");
	struct rtnl_route got;
	T_EQ_INT(rtnl_route_get(nl, &far, 0, 0, &got), 0);
	T_EQ_INT(got.oif, 1);
	T_EQ_INT(got.table, 2022);
	T_EQ_INT(rtnl_route_get(nl, &far, 0x2022, 0, &got), -ENETUNREACH);
	T_EQ_INT(rtnl_route_get(nl, &far6, 0, 0, &got), 0);
	T_EQ_INT(got.table, 2022);
	T_CHECK(rtnl_route_get(nl, &far6, 0x2022, 0, &got) < 0);
	/* the proxy server: around the table even without the mark */
	T_EQ_INT(rtnl_route_get(nl, &ex, 0, 0, &got), -ENETUNREACH);

	for (size_t i = p.n; i-- > 0;) {
		const struct route_obj *o = &p.obj[i];
		int r = o->kind == ROUTE_OBJ_RULE
				? rtnl_rule_change(nl, false, &o->rule, err, sizeof(err))
				: rtnl_route_change(nl, false, &o->route, err, sizeof(err));

		if (r != 0)
			bad++;
	}
	T_EQ_INT(bad, 0);
	list_all(nl, &after);
	T_EQ_INT(after.n, before.n);
	for (int i = 0; i < before.n && i < after.n; i++)
		T_EQ_STR(after.l[i], before.l[i]);
	/* removing what is gone: the kernel says so */
	T_EQ_INT(rtnl_rule_change(nl, false, &p.obj[0].rule, err, sizeof(err)), -ENOENT);
	for (size_t i = 0; i < p.n; i++) {
		if (p.obj[i].kind == ROUTE_OBJ_ROUTE) {
			T_EQ_INT(rtnl_route_change(nl, false, &p.obj[i].route, err, sizeof(err)),
				 -ESRCH);
			break;
		}
	}
	rtnl_close(nl);
	route_plan_free(&p);
}

int main(void)
{
	char why[128];

	if (geteuid() != 0)
		return root_helper_not_runnable("test_rtnl_linux", "not running as root");
	/* Before anything else: from here on only our own namespace exists. */
	if (unshare(CLONE_NEWNET) != 0) {
		snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return root_helper_not_runnable("test_rtnl_linux", why);
	}
	if (root_helper_lo_up() != 0)
		return root_helper_not_runnable("test_rtnl_linux", "cannot bring lo up");
	T_RUN(test_plan_roundtrip);
	return test_summary();
}
