/* health: real checks through real proxies on loopback (microsocks) to the
 * Python test server: url-test switching when its best member dies,
 * fallback, select left alone, the concurrency bound, lazy groups, and a
 * generation switch in the middle of a round. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "config/config.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/health.h"
#include "tun2socks/route/router.h"
#include "tun2socks/upstream/http_client.h"
#include "test.h"
#include "test_servers.h"

static uv_loop_t loop;
static struct http_client *http;
static int http_port, s_port[3], dead_port;
static pid_t http_pid = -1, s_pid[3] = { -1, -1, -1 };

static struct router_gen *build(const char *text, struct config **cfg)
{
	struct router_gen_opts o = { .no_resolve = true };
	struct conf_err_list errs;
	struct router_gen *g = NULL;
	struct conf_err err;
	int r = config_load_buf(text, strlen(text), "h.yaml", cfg, &errs);

	for (size_t i = 0; r < 0 && i < errs.n; i++)
		fprintf(stderr, "  %d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (r == 0)
		r = router_gen_build(*cfg, &o, &g, &err);
	T_EQ_INT(r, 0);
	return g;
}

static void on_done(void *arg)
{
	*(bool *)arg = true;
}

static void check_round(struct health *h)
{
	bool done = false;

	T_EQ_INT(health_check_now(h, on_done, &done), 0);
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
}

/* The member group `name` picks now. */
static const char *picks(struct router_gen *g, const char *name)
{
	struct group_table *t = router_gen_groups(g);
	struct group_info gi;
	struct group_member_info mi;
	int i = group_table_find(t, name);

	if (i < 0 || group_table_info(t, (size_t)i, &gi) < 0 ||
	    group_table_member(t, (size_t)i, gi.now, &mi) < 0)
		return "(none)";
	return mi.name;
}

static struct group_member_info member(struct router_gen *g, const char *group, size_t m)
{
	struct group_table *t = router_gen_groups(g);
	struct group_member_info mi;

	group_table_member(t, (size_t)group_table_find(t, group), m, &mi);
	return mi;
}

static void test_switching(void)
{
	char text[2048];
	struct config *cfg = NULL;
	struct router_gen *g;
	struct health *h = NULL;
	const char *best;
	int k;

	snprintf(text, sizeof(text),
		 "proxies:\n"
		 "  - {name: dead, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "  - {name: s0, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "  - {name: s1, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "  - {name: s2, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "proxy-groups:\n"
		 "  - {name: Auto, type: url-test, proxies: [dead, s0, s1], lazy: false,\n"
		 "     url: 'http://127.0.0.1:%d/plain', timeout: 3000}\n"
		 "  - {name: Fall, type: fallback, proxies: [dead, s1, s2],\n"
		 "     url: 'http://127.0.0.1:%d/plain', timeout: 3000}\n"
		 "  - {name: Sel, type: select, proxies: [dead, s0]}\n"
		 "  - {name: Want204, type: fallback, proxies: [s0, s1], expected-status: 204,\n"
		 "     url: 'http://127.0.0.1:%d/plain', timeout: 3000}\n"
		 "  - {name: Any2xx, type: fallback, proxies: [s0], expected-status: "
		 "'200-299/404',\n"
		 "     url: 'http://127.0.0.1:%d/plain', timeout: 3000}\n"
		 "rules:\n"
		 "  - MATCH,Auto\n",
		 dead_port, s_port[0], s_port[1], s_port[2], http_port, http_port, http_port,
		 http_port);
	g = build(text, &cfg);
	if (g == NULL)
		goto out;
	T_EQ_INT(health_create(&loop, http, &h), 0);
	health_set_gen(h, g);
	/* Before any check: the first member, dead or not. */
	T_EQ_STR(picks(g, "Auto"), "dead");
	check_round(h);
	T_CHECK(member(g, "Auto", 0).checked && !member(g, "Auto", 0).alive);
	T_CHECK(member(g, "Auto", 1).alive && member(g, "Auto", 1).delay_ms > 0);
	T_CHECK(member(g, "Auto", 2).alive);
	best = picks(g, "Auto");
	T_CHECK(strcmp(best, "s0") == 0 || strcmp(best, "s1") == 0);
	T_EQ_STR(picks(g, "Fall"), "s1");
	/* expected-status: /plain answers 200 */
	T_CHECK(member(g, "Want204", 0).checked && !member(g, "Want204", 0).alive);
	T_CHECK(strstr(member(g, "Want204", 0).error, "HTTP status 200 is not expected") != NULL);
	T_CHECK(member(g, "Any2xx", 0).alive);
	/* select is never checked */
	T_CHECK(!member(g, "Sel", 0).checked);
	T_EQ_STR(picks(g, "Sel"), "dead");

	/* The best member's proxy dies: the next round switches. */
	k = best[1] - '0';
	ts_stop(s_pid[k]);
	s_pid[k] = -1;
	check_round(h);
	T_EQ_STR(picks(g, "Auto"), k == 0 ? "s1" : "s0");
	T_CHECK(!member(g, "Auto", (size_t)k + 1).alive);
	if (k == 1)
		T_EQ_STR(picks(g, "Fall"), "s2");
	else
		T_EQ_STR(picks(g, "Fall"), "s1");

	/* One group alone, on demand (the API's group delay test). */
	{
		bool done = false;
		uint64_t before = member(g, "Fall", 1).checked_ms;

		T_EQ_INT(health_check_group(h, "Sel", on_done, &done), -ENOENT);
		T_EQ_INT(health_check_group(h, "Fall", on_done, &done), 0);
		while (!done)
			uv_run(&loop, UV_RUN_ONCE);
		T_CHECK(member(g, "Fall", 1).checked_ms >= before);
		T_CHECK(member(g, "Fall", 0).checked && !member(g, "Fall", 0).alive);
	}

	/* A generation switch in the middle of a round cancels it. */
	{
		bool done = false;

		T_EQ_INT(health_check_now(h, on_done, &done), 0);
		uv_run(&loop, UV_RUN_NOWAIT);
		health_set_gen(h, NULL);
		T_CHECK(done);
		T_EQ_INT(http_client_pending(http), 0);
	}
out:
	health_destroy(h);
	router_gen_unref(g);
	config_free(cfg);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_bound_and_lazy(void)
{
	char text[4096];
	size_t o = 0, max_running = 0;
	struct config *cfg = NULL;
	struct router_gen *g;
	struct health *h = NULL;
	uint64_t first_lazy, first_busy, end;

	o += (size_t)snprintf(text + o, sizeof(text) - o, "proxies:\n");
	for (int i = 0; i < 14; i++)
		o += (size_t)snprintf(
			text + o, sizeof(text) - o,
			"  - {name: p%d, type: socks5, server: 127.0.0.1, port: %d}\n", i,
			s_port[2]);
	o += (size_t)snprintf(text + o, sizeof(text) - o,
			      "proxy-groups:\n"
			      "  - {name: Slow, type: fallback, lazy: false, interval: 3600,\n"
			      "     url: 'http://127.0.0.1:%d/slow', timeout: 600,\n"
			      "     proxies: [p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, "
			      "p12, p13]}\n"
			      "  - {name: Lazy, type: url-test, interval: 1, proxies: [p0],\n"
			      "     url: 'http://127.0.0.1:%d/plain'}\n"
			      "  - {name: Busy, type: url-test, interval: 1, lazy: false,\n"
			      "     proxies: [p1], url: 'http://127.0.0.1:%d/plain'}\n"
			      "rules:\n"
			      "  - MATCH,Slow\n",
			      http_port, http_port, http_port);
	g = build(text, &cfg);
	if (g == NULL)
		goto out;
	T_EQ_INT(health_create(&loop, http, &h), 0);
	/* The timers start a round of each group at once. */
	health_set_gen(h, g);
	end = uv_now(&loop) + 3500;
	first_lazy = first_busy = 0;
	while (uv_now(&loop) < end) {
		uv_run(&loop, UV_RUN_ONCE);
		if (http_client_pending(http) > max_running)
			max_running = http_client_pending(http);
		if (first_lazy == 0)
			first_lazy = member(g, "Lazy", 0).checked_ms;
		if (first_busy == 0)
			first_busy = member(g, "Busy", 0).checked_ms;
	}
	/* 16 checks at once at most 10 (the slow ones time out at 0.6 s). */
	T_CHECK(max_running <= HEALTH_MAX_CONCURRENT);
	T_CHECK(max_running >= 2);
	T_CHECK(member(g, "Slow", 13).checked);
	T_CHECK(!member(g, "Slow", 13).alive);
	/* lazy: checked once at start, then skipped while unused; the busy
	 * one again every second. */
	T_CHECK(first_lazy > 0);
	T_EQ_INT(member(g, "Lazy", 0).checked_ms, first_lazy);
	T_CHECK(member(g, "Busy", 0).checked_ms > first_busy);
out:
	health_destroy(h);
	router_gen_unref(g);
	config_free(cfg);
	uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	http_pid = ts_start_http(&http_port);
	for (int i = 0; i < 3; i++) {
		s_port[i] = ts_free_port();
		s_pid[i] = ts_start_socks(s_port[i], -1);
	}
	dead_port = ts_free_port();
	if (http_pid < 0 || s_pid[0] < 0 || s_pid[1] < 0 || s_pid[2] < 0) {
		fprintf(stderr, "servers did not start\n");
		test_failed_++;
		goto out;
	}
	uv_loop_init(&loop);
	T_EQ_INT(http_client_create(&loop, NULL, &http), 0);
	T_RUN(test_switching);
	T_RUN(test_bound_and_lazy);
	http_client_destroy(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
out:
	ts_stop(http_pid);
	for (int i = 0; i < 3; i++)
		ts_stop(s_pid[i]);
	return test_summary();
}
