/* autoroute (tun2socks/system/autoroute.c) against the real kernel, in a
 * network namespace of its own: start and stop leave the rules and routes
 * exactly as they were; a daemon killed with SIGKILL (a child here) leaves
 * its state file, which cleanup or the next start removes; a live daemon's
 * TUN name, a table in use and a foreign namespace's file are refused or
 * left alone. Needs root (T2S_ALLOW_SKIP=1: exit 77 instead of failing). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tun2socks/system/autoroute.h"
#include "tun2socks/system/route_state.h"
#include "tun2socks/system/rtnl.h"
#include "root_helper.h"
#include "test.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

/* Every rule and route of the namespace as text, one per line. */
struct snap {
	char text[64 * 1024];
	size_t len;
};

static int snap_rule(void *arg, const struct rtnl_rule *r)
{
	struct snap *s = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_RULE, .rule = *r };

	route_text_format(&o, s->text + s->len, sizeof(s->text) - s->len);
	s->len += strlen(s->text + s->len);
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "\n");
	return 0;
}

static int snap_route(void *arg, const struct rtnl_route *r)
{
	struct snap *s = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_ROUTE, .route = *r };

	route_text_format(&o, s->text + s->len, sizeof(s->text) - s->len);
	s->len += strlen(s->text + s->len);
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "\n");
	return 0;
}

static void snapshot(struct snap *s)
{
	struct rtnl *nl;

	s->len = 0;
	s->text[0] = '\0';
	if (rtnl_open(&nl) < 0)
		return;
	rtnl_list_rules(nl, AF_INET, snap_rule, s);
	rtnl_list_rules(nl, AF_INET6, snap_rule, s);
	rtnl_list_routes(nl, AF_INET, snap_route, s);
	rtnl_list_routes(nl, AF_INET6, snap_route, s);
	rtnl_close(nl);
}

static struct prefix pfx(const char *s)
{
	struct prefix p;

	prefix_parse(s, false, &p);
	return p;
}

static struct autoroute_cfg cfg_for(const char *tun)
{
	struct autoroute_cfg c = {
		.state_dir = dir,
		.plan = { .table = 2022,
			  .rule_index = 9000,
			  .tun_name = tun,
			  .tun_ifindex = 1,
			  .has4 = true,
			  .has6 = true,
			  .tun4 = pfx("198.18.0.0/15"),
			  .tun6 = pfx("fdfe:dcba:9876::/126"),
			  .dns_hijack = true,
			  .has_mark = true,
			  .mark = 0x2022 },
	};
	return c;
}

static bool exists(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int notes;

static void count_note(void *arg, const char *line)
{
	(void)arg;
	(void)line;
	notes++;
}

static void test_start_stop(void)
{
	static struct snap before, during, after;
	struct autoroute_cfg c = cfg_for("lo");
	struct autoroute *ar = NULL, *ar2 = NULL;
	char err[512] = "";

	snapshot(&before);
	T_EQ_INT(autoroute_start(&c, &ar, err, sizeof(err)), 0);
	if (ar == NULL) {
		fprintf(stderr, "start: %s\n", err);
		return;
	}
	T_CHECK(exists("lo.state") && exists("lo.lock"));
	snapshot(&during);
	T_CHECK(strstr(during.text, "rule -4 pref 9006 from 0.0.0.0/32 iif lo lookup 2022\n"));
	T_CHECK(strstr(during.text, "rule -6 pref 9007 iif lo lookup 2022\n"));
	T_CHECK(autoroute_plan(ar)->n > 30);

	/* the same TUN name again: refused, naming our pid */
	T_EQ_INT(autoroute_start(&c, &ar2, err, sizeof(err)), -EBUSY);
	T_CHECK(strstr(err, "already runs with TUN lo") != NULL);
	/* another name, the same table and rules: refused */
	struct autoroute_cfg other = cfg_for("tun9");
	T_EQ_INT(autoroute_start(&other, &ar2, err, sizeof(err)), -EEXIST);
	T_CHECK(strstr(err, "in use") != NULL);
	T_CHECK(!exists("tun9.state") && !exists("tun9.lock"));
	/* cleanup leaves a live daemon alone */
	T_EQ_INT(autoroute_cleanup(dir, NULL, NULL, NULL, err, sizeof(err)), -EBUSY);
	T_CHECK(strstr(err, "still runs with TUN lo") != NULL);

	autoroute_stop(ar);
	snapshot(&after);
	T_EQ_STR(after.text, before.text);
	T_CHECK(!exists("lo.state") && !exists("lo.lock"));
}

static bool state_has(const char *tun, const char *line)
{
	char path[128], text[64 * 1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.state", dir, tun);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return strstr(text, line) != NULL;
}

/* A reload resolved a proxy's name to another address: its rule moves,
 * the state file follows, the rest stays; stop removes the new one. */
static void test_replan(void)
{
	static struct snap before, during;
	struct prefix one[2] = { pfx("192.0.2.10"), pfx("2001:db8::10") };
	struct prefix two[1] = { pfx("192.0.2.11") };
	struct autoroute_cfg c = cfg_for("lo");
	struct autoroute *ar = NULL;
	size_t added = 9, removed = 9, n0;
	char err[512] = "";

	snapshot(&before);
	c.plan.servers = one;
	c.plan.n_servers = 2;
	T_EQ_INT(autoroute_start(&c, &ar, err, sizeof(err)), 0);
	if (ar == NULL) {
		fprintf(stderr, "start: %s\n", err);
		return;
	}
	n0 = autoroute_plan(ar)->n;
	snapshot(&during);
	T_CHECK(strstr(during.text, "rule -4 pref 9003 to 192.0.2.10/32 iif lo goto 9010\n"));
	/* the same servers: nothing to do */
	T_EQ_INT(autoroute_replan(ar, &c.plan, &added, &removed, err, sizeof(err)), 0);
	T_EQ_INT(added, 0);
	T_EQ_INT(removed, 0);
	/* another IPv4 address, no IPv6 server any more */
	c.plan.servers = two;
	c.plan.n_servers = 1;
	T_EQ_INT(autoroute_replan(ar, &c.plan, &added, &removed, err, sizeof(err)), 0);
	T_EQ_INT(added, 1);
	T_EQ_INT(removed, 2);
	T_EQ_INT(autoroute_plan(ar)->n, n0 - 1);
	snapshot(&during);
	T_CHECK(strstr(during.text, "rule -4 pref 9003 to 192.0.2.11/32 iif lo goto 9010\n"));
	T_CHECK(!strstr(during.text, "192.0.2.10/32"));
	T_CHECK(!strstr(during.text, "2001:db8::10/128"));
	T_CHECK(state_has("lo", "rule -4 pref 9003 to 192.0.2.11/32 iif lo goto 9010\n"));
	T_CHECK(!state_has("lo", "192.0.2.10/32"));
	/* a plan that cannot be built: refused, nothing changed */
	c.plan.table = 254;
	T_CHECK(autoroute_replan(ar, &c.plan, &added, &removed, err, sizeof(err)) < 0);
	T_EQ_INT(autoroute_plan(ar)->n, n0 - 1);
	autoroute_stop(ar);
	snapshot(&during);
	T_EQ_STR(during.text, before.text);
}

/* A child that starts and dies without stopping (as after SIGKILL). */
static void crashed_daemon(const char *tun)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct autoroute_cfg c = cfg_for(tun);
		struct autoroute *ar;
		char err[512];

		if (autoroute_start(&c, &ar, err, sizeof(err)) != 0) {
			fprintf(stderr, "child start: %s\n", err);
			_exit(1);
		}
		raise(SIGKILL);
		_exit(2);
	}
	waitpid(pid, &status, 0);
	T_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_leftovers(void)
{
	static struct snap before, after;
	struct autoroute_cfg c = cfg_for("tun1");
	struct autoroute *ar = NULL;
	char err[512] = "";

	snapshot(&before);
	crashed_daemon("tun0");
	T_CHECK(exists("tun0.state"));
	snapshot(&after);
	T_CHECK(strcmp(after.text, before.text) != 0);
	/* cleanup removes it all, by the state file */
	notes = 0;
	T_EQ_INT(autoroute_cleanup(dir, NULL, count_note, NULL, err, sizeof(err)), 1);
	T_CHECK(notes >= 1);
	snapshot(&after);
	T_EQ_STR(after.text, before.text);
	T_CHECK(!exists("tun0.state") && !exists("tun0.lock"));
	T_EQ_INT(autoroute_cleanup(dir, NULL, NULL, NULL, err, sizeof(err)), 0);

	/* the next start does it too, whatever the dead daemon's TUN name */
	crashed_daemon("tun0");
	T_EQ_INT(autoroute_start(&c, &ar, err, sizeof(err)), 0);
	if (ar == NULL) {
		fprintf(stderr, "start after a crash: %s\n", err);
		return;
	}
	T_CHECK(!exists("tun0.state") && exists("tun1.state"));
	autoroute_stop(ar);
	snapshot(&after);
	T_EQ_STR(after.text, before.text);
}

static void test_foreign(void)
{
	static struct snap before, after;
	struct autoroute_cfg c = cfg_for("lo");
	struct autoroute *ar = NULL;
	struct rtnl *nl;
	struct rtnl_rule r = {
		.family = AF_INET, .action = RTNL_ACT_TABLE, .priority = 9003, .table = 100
	};
	char err[512] = "";
	FILE *f;

	/* a rule of someone else's in our range */
	snapshot(&before);
	T_EQ_INT(rtnl_open(&nl), 0);
	T_EQ_INT(rtnl_rule_change(nl, true, &r, err, sizeof(err)), 0);
	T_EQ_INT(autoroute_start(&c, &ar, err, sizeof(err)), -EEXIST);
	T_CHECK(strstr(err, "rule -4 pref 9003 lookup 100") != NULL);
	T_EQ_INT(rtnl_rule_change(nl, false, &r, err, sizeof(err)), 0);
	/* ...and a route in our table */
	struct rtnl_route rt = { .family = AF_INET6,
				 .type = RTNL_RT_UNREACHABLE,
				 .table = 2022,
				 .dst = pfx("2001:db8::/32") };
	T_EQ_INT(rtnl_route_change(nl, true, &rt, err, sizeof(err)), 0);
	T_EQ_INT(autoroute_start(&c, &ar, err, sizeof(err)), -EEXIST);
	T_CHECK(strstr(err, "route -6 table 2022 unreachable 2001:db8::/32") != NULL);
	T_EQ_INT(rtnl_route_change(nl, false, &rt, err, sizeof(err)), 0);
	rtnl_close(nl);
	snapshot(&after);
	T_EQ_STR(after.text, before.text);

	/* a state file of another namespace: left alone, the file kept */
	char path[128];
	snprintf(path, sizeof(path), "%s/other.state", dir);
	f = fopen(path, "w");
	fprintf(f, "tun2socks-state 1\npid 1\nnetns 1\ntun other\ntable 2022\n"
		   "rule-index 9000\nrule -4 pref 9010 nop\n");
	fclose(f);
	T_EQ_INT(autoroute_cleanup(dir, NULL, NULL, NULL, err, sizeof(err)), 0);
	T_CHECK(exists("other.state"));
	/* a damaged one: left alone too */
	snprintf(path, sizeof(path), "%s/bad.state", dir);
	f = fopen(path, "w");
	fprintf(f, "tun2socks-state 1\npid 1\nwhat is this\n");
	fclose(f);
	T_EQ_INT(autoroute_cleanup(dir, "bad", NULL, NULL, err, sizeof(err)), 0);
	T_CHECK(exists("bad.state"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/other.state", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/other.lock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad.lock", dir);
	unlink(path);
}

static void test_state_text(void)
{
	struct route_obj obj[2] = { { .kind = ROUTE_OBJ_RULE }, { .kind = ROUTE_OBJ_ROUTE } };
	struct route_state st = { .pid = 42,
				  .netns = 4026531840ull,
				  .table = 2022,
				  .rule_index = 9000,
				  .obj = obj,
				  .n = 2 },
			   back;
	char *text, err[128];
	size_t len;

	strcpy(st.tun, "tun0");
	obj[0].rule =
		(struct rtnl_rule){ .family = AF_INET, .priority = 9010, .action = RTNL_ACT_NOP };
	prefix_any(&obj[0].rule.src, AF_INET);
	prefix_any(&obj[0].rule.dst, AF_INET);
	obj[1].route = (struct rtnl_route){ .family = AF_INET6,
					    .type = RTNL_RT_UNREACHABLE,
					    .table = 2022,
					    .protocol = RTNL_PROTO_STATIC };
	prefix_any(&obj[1].route.dst, AF_INET6);
	T_EQ_INT(route_state_format(&st, &text, &len), 0);
	T_CHECK(strstr(text, "tun2socks-state 1\npid 42\nnetns 4026531840\ntun tun0\ntable 2022\n"
			     "rule-index 9000\nrule -4 pref 9010 nop\n"
			     "route -6 table 2022 unreachable ::/0\n") != NULL);
	T_EQ_INT(route_state_parse(text, len, &back, err, sizeof(err)), 0);
	T_EQ_INT(back.n, 2);
	T_EQ_INT(back.pid, 42);
	T_EQ_STR(back.tun, "tun0");
	T_EQ_MEM(&back.obj[0].rule, &obj[0].rule, sizeof(obj[0].rule));
	T_EQ_INT(back.resolved_link, 0);
	route_state_free(&back);
	free(text);
	/* systemd-resolved's link, for cleanup to revert */
	st.resolved_link = 7;
	st.resolv_conf = true;
	T_EQ_INT(route_state_format(&st, &text, &len), 0);
	T_CHECK(strstr(text, "rule-index 9000\nresolved-link 7\nresolv-conf\nrule -4 pref 9010 "
			     "nop\n") != NULL);
	T_EQ_INT(route_state_parse(text, len, &back, err, sizeof(err)), 0);
	T_EQ_INT(back.resolved_link, 7);
	T_CHECK(back.resolv_conf);
	T_EQ_INT(back.n, 2);
	route_state_free(&back);
	free(text);
	const char *zero = "tun2socks-state 1\npid 1\nnetns 2\ntun t\ntable 3\nrule-index 4\n"
			   "resolved-link 0\n";
	T_EQ_INT(route_state_parse(zero, strlen(zero), &back, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "line 7: unknown line 'resolved-link 0'");
	T_EQ_INT(route_state_parse("hello\n", 6, &back, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "line 1: not a tun2socks state file");
	const char *no_tun = "tun2socks-state 1\npid 1\nnetns 2\ntable 3\nrule-index 4\n";
	T_EQ_INT(route_state_parse(no_tun, strlen(no_tun), &back, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "line 5: no tun line");
	const char *bad = "tun2socks-state 1\npid 1\nrule -4 pref 1 lookup\n";
	T_EQ_INT(route_state_parse(bad, strlen(bad), &back, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "line 3: cannot read 'rule -4 pref 1 lookup'");
}

int main(void)
{
	T_RUN(test_state_text);
	if (geteuid() != 0)
		return root_helper_not_runnable("test_autoroute_linux", "not running as root");
	if (unshare(CLONE_NEWNET) != 0 || root_helper_lo_up() != 0)
		return root_helper_not_runnable("test_autoroute_linux",
						"cannot make a network namespace");
	snprintf(dir, sizeof(dir), "/tmp/t2s-autoroute.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return root_helper_not_runnable("test_autoroute_linux", "mkdtemp");
	T_RUN(test_start_stop);
	T_RUN(test_replan);
	T_RUN(test_leftovers);
	T_RUN(test_foreign);
	rmdir(dir);
	return test_summary();
}
