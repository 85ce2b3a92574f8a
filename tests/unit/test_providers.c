/* providers: downloads of http rule- and proxy-providers against the
 * Python test server on loopback: written atomically to their path,
 * validated (a broken download keeps the old copy), unchanged downloads
 * not reported, the size limit, and the changed callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <uv.h>

#include "config/config.h"
#include "tun2socks/app/providers.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/http_client.h"
#include "test.h"
#include "test_servers.h"

static char dir[] = "/tmp/t2s-providers-XXXXXX";
static int http_port;
static int changes;

struct wait {
	bool done;
	size_t failed;
};

static void on_changed(void *arg)
{
	(void)arg;
	changes++;
}

static void on_done(void *arg, size_t failed)
{
	struct wait *w = arg;

	w->done = true;
	w->failed = failed;
}

static char *slurp(const char *name)
{
	static char buf[4096];
	char path[300];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put(const char *name, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_fetch(void)
{
	char text[2048];
	struct conf_err_list errs;
	struct config *cfg = NULL;
	struct router_gen *g = NULL;
	struct router_gen_opts o = { .no_resolve = true };
	struct conf_err err;
	struct http_client *http = NULL;
	struct providers *p = NULL;
	struct wait w = { 0 };
	uv_loop_t loop;
	const char *s;
	int r;

	put("bad.yaml", "proxies:\n  - {name: old, type: socks5, server: 192.0.2.9, port: 1}\n");
	snprintf(text, sizeof(text),
		 "rule-providers:\n"
		 "  r: {type: http, behavior: domain, format: text, path: %s/sub/r.txt,\n"
		 "      url: 'http://127.0.0.1:%d/rules'}\n"
		 "  big: {type: http, behavior: domain, format: text, path: %s/big.txt,\n"
		 "        url: 'http://127.0.0.1:%d/rules', size-limit: 4}\n"
		 "  gone: {type: http, behavior: domain, format: text, path: %s/gone.txt,\n"
		 "        url: 'http://127.0.0.1:%d/status/404'}\n"
		 "proxy-providers:\n"
		 "  p: {type: http, path: %s/p.yaml, url: 'http://127.0.0.1:%d/proxies'}\n"
		 "  bad: {type: http, path: %s/bad.yaml, url: 'http://127.0.0.1:%d/garbage'}\n"
		 "rules:\n"
		 "  - RULE-SET,r,REJECT\n",
		 dir, http_port, dir, http_port, dir, http_port, dir, http_port, dir, http_port);
	r = config_load_buf(text, strlen(text), "p.yaml", &cfg, &errs);
	T_EQ_INT(r, 0);
	for (size_t i = 0; r < 0 && i < errs.n; i++)
		fprintf(stderr, "  %d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (r < 0)
		return;
	r = router_gen_build(cfg, &o, &g, &err);
	T_EQ_INT(r, 0);
	if (r < 0) {
		fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.msg);
		config_free(cfg);
		return;
	}
	uv_loop_init(&loop);
	T_EQ_INT(http_client_create(&loop, NULL, &http), 0);
	T_EQ_INT(providers_create(&loop, http, on_changed, NULL, &p), 0);
	T_EQ_INT(providers_update(p, cfg, g), 0);
	T_EQ_INT(providers_fetch_now(p, on_done, &w), 0);
	while (!w.done)
		uv_run(&loop, UV_RUN_ONCE);
	/* bad (does not parse), big (over its limit), gone (404) */
	T_EQ_INT(w.failed, 3);
	s = slurp("sub/r.txt"); /* directories made as needed */
	T_CHECK(s && !strcmp(s, "+.ads.test\n"));
	s = slurp("p.yaml");
	T_CHECK(s && strstr(s, "type: socks5"));
	s = slurp("bad.yaml"); /* the old copy stays */
	T_CHECK(s && strstr(s, "name: old"));
	T_CHECK(slurp("big.txt") == NULL);
	T_CHECK(slurp("gone.txt") == NULL);
	T_EQ_INT(changes, 2);

	/* Again: nothing changed, nothing reported. */
	w.done = false;
	T_EQ_INT(providers_fetch_now(p, on_done, &w), 0);
	while (!w.done)
		uv_run(&loop, UV_RUN_ONCE);
	T_EQ_INT(changes, 2);

	/* A reload that drops them all cancels what runs. */
	T_EQ_INT(providers_update(p, NULL, g), 0);
	providers_destroy(p);
	http_client_destroy(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
	router_gen_unref(g);
	config_free(cfg);
}

/* One provider refreshed alone: the other is not downloaded; a name of
 * the wrong kind or unknown is -ENOENT; two waiters on one download both
 * hear of it. */
static void test_fetch_one(void)
{
	char text[2048];
	struct conf_err_list errs;
	struct config *cfg = NULL;
	struct router_gen *g = NULL;
	struct router_gen_opts o = { .no_resolve = true };
	struct conf_err err;
	struct http_client *http = NULL;
	struct providers *p = NULL;
	struct wait w1 = { 0 }, w2 = { 0 };
	uv_loop_t loop;
	int64_t at = -1;
	const char *s;
	char path[300];
	struct utimbuf old = { .actime = 1000, .modtime = 1000 };
	int r;

	/* Copies there already, no interval: nothing downloads unless asked. */
	put("one.txt", "old.test\n");
	put("two.txt", "old.test\n");
	put("pp.yaml", "proxies:\n  - {name: old, type: socks5, server: 192.0.2.9, port: 1}\n");
	snprintf(path, sizeof(path), "%s/one.txt", dir);
	T_EQ_INT(utime(path, &old), 0);
	snprintf(text, sizeof(text),
		 "rule-providers:\n"
		 "  one: {type: http, behavior: domain, format: text, path: %s/one.txt,\n"
		 "        url: 'http://127.0.0.1:%d/rules'}\n"
		 "  two: {type: http, behavior: domain, format: text, path: %s/two.txt,\n"
		 "        url: 'http://127.0.0.1:%d/rules'}\n"
		 "proxy-providers:\n"
		 "  pp: {type: http, path: %s/pp.yaml, url: 'http://127.0.0.1:%d/proxies'}\n"
		 "rules:\n"
		 "  - RULE-SET,one,REJECT\n"
		 "  - RULE-SET,two,REJECT\n",
		 dir, http_port, dir, http_port, dir, http_port);
	r = config_load_buf(text, strlen(text), "one.yaml", &cfg, &errs);
	T_EQ_INT(r, 0);
	if (r < 0)
		return;
	r = router_gen_build(cfg, &o, &g, &err);
	T_EQ_INT(r, 0);
	if (r < 0) {
		config_free(cfg);
		return;
	}
	uv_loop_init(&loop);
	T_EQ_INT(http_client_create(&loop, NULL, &http), 0);
	T_EQ_INT(providers_create(&loop, http, NULL, NULL, &p), 0);
	T_EQ_INT(providers_update(p, cfg, g), 0);
	T_EQ_INT(providers_fetch(p, false, "nope", on_done, &w1), -ENOENT);
	T_EQ_INT(providers_fetch(p, true, "one", on_done, &w1), -ENOENT);
	/* the copy's age, as the loader saw it */
	T_EQ_INT(providers_updated_at(p, false, "one", &at), 0);
	T_EQ_INT(at, 1000);
	T_EQ_INT(providers_fetch(p, false, "one", on_done, &w1), 0);
	T_EQ_INT(providers_fetch(p, false, "one", on_done, &w2), 0);
	while (!w1.done || !w2.done)
		uv_run(&loop, UV_RUN_ONCE);
	T_EQ_INT(w1.failed, 0);
	T_EQ_INT(w2.failed, 0);
	s = slurp("one.txt");
	T_CHECK(s && !strcmp(s, "+.ads.test\n"));
	s = slurp("two.txt"); /* not asked for: not downloaded */
	T_CHECK(s && !strcmp(s, "old.test\n"));
	s = slurp("pp.yaml");
	T_CHECK(s && strstr(s, "name: old"));
	T_EQ_INT(providers_updated_at(p, false, "one", &at), 0);
	T_CHECK(at > 1000);
	T_EQ_INT(providers_updated_at(p, true, "one", &at), -ENOENT);

	T_EQ_INT(providers_update(p, NULL, g), 0);
	providers_destroy(p);
	http_client_destroy(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
	router_gen_unref(g);
	config_free(cfg);
}

int main(void)
{
	pid_t srv;
	char cmd[400];

	if (mkdtemp(dir) == NULL)
		return 1;
	srv = ts_start_http(&http_port);
	if (srv < 0) {
		test_failed_++;
	} else {
		T_RUN(test_fetch);
		T_RUN(test_fetch_one);
	}
	ts_stop(srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_summary();
}
