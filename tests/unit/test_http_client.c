/* http_client against real servers on loopback: a Python HTTP server
 * (tests/unit/data/http_test_server.py: plain, gzip, chunked, redirects,
 * big, slow, POST; also a forward proxy) and microsocks as a SOCKS5 proxy.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "tun2socks/upstream/http_client.h"
#include "test.h"
#include "test_servers.h"

static uv_loop_t loop;
static struct http_client *client;
static int http_port, socks_port;
static pid_t server_pid = -1, socks_pid = -1;
static char socks_log[] = "/tmp/t2s-http-client-socks-XXXXXX";

struct result {
	bool done;
	int status;
	long code;
	char body[256];
	size_t len;
	char url[256];
	uint64_t total_us;
};

static void on_done(void *arg, int status, const struct http_response *resp)
{
	struct result *r = arg;

	r->done = true;
	r->status = status;
	r->code = resp->code;
	r->len = resp->len;
	snprintf(r->body, sizeof(r->body), "%s", resp->body);
	snprintf(r->url, sizeof(r->url), "%s", resp->url);
	r->total_us = resp->total_us;
	if (status < 0)
		fprintf(stderr, "  (request: %s: %s)\n", strerror(-status), resp->error);
}

static void run_until(const bool *flag)
{
	while (!*flag)
		uv_run(&loop, UV_RUN_ONCE);
}

static int fetch(const struct http_request_opts *o, struct result *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = http_client_request(client, o, on_done, r, NULL);
	if (ret < 0)
		return ret;
	run_until(&r->done);
	return r->status;
}

static void url(char *buf, size_t len, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", http_port, path);
}

static void test_basics(void)
{
	struct http_request_opts o = { 0 };
	struct result r;
	char u[128];

	o.url = u;
	url(u, sizeof(u), "/plain");
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 200);
	T_EQ_STR(r.body, "hello");
	T_EQ_INT(r.len, 5);

	url(u, sizeof(u), "/gzip");
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 200);
	T_EQ_STR(r.body, "compressed body");

	url(u, sizeof(u), "/chunked");
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_STR(r.body, "abcabcabc");

	url(u, sizeof(u), "/status/404");
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 404);
	T_EQ_STR(r.body, "status");

	url(u, sizeof(u), "/status/204");
	o.head_only = true;
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 204);
	T_EQ_INT(r.len, 0);
}

static void test_redirects(void)
{
	struct http_request_opts o = { 0 };
	struct result r;
	char u[128], want[128];

	o.url = u;
	url(u, sizeof(u), "/redirect");
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 200);
	T_EQ_STR(r.body, "hello");
	url(want, sizeof(want), "/plain");
	T_EQ_STR(r.url, want);

	o.max_redirects = -1;
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 302);

	o.max_redirects = 0;
	url(u, sizeof(u), "/loop");
	T_EQ_INT(fetch(&o, &r), -EPROTO);
}

static void test_limits(void)
{
	struct http_request_opts o = { 0 };
	struct result r;
	char u[128];

	o.url = u;
	url(u, sizeof(u), "/big");
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.len, 1 << 20);
	o.max_size = 1000;
	T_EQ_INT(fetch(&o, &r), -EFBIG);
	/* No Content-Length: the limit holds while the body arrives. */
	url(u, sizeof(u), "/chunked");
	o.max_size = 5;
	T_EQ_INT(fetch(&o, &r), -EFBIG);

	o.max_size = 0;
	o.timeout_ms = 300;
	url(u, sizeof(u), "/slow");
	T_EQ_INT(fetch(&o, &r), -ETIMEDOUT);
}

static void test_post(void)
{
	struct http_request_opts o = { 0 };
	const char *hdr[] = { "Content-Type: application/json" };
	struct result r;
	char u[128];

	o.url = u;
	url(u, sizeof(u), "/echo");
	o.body = "{\"a\":1}";
	o.body_len = 7;
	o.headers = hdr;
	o.n_headers = 1;
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_INT(r.code, 200);
	T_EQ_STR(r.body, "{\"a\":1}");
}

static void test_errors(void)
{
	struct http_request_opts o = { 0 };
	struct result r;
	char u[128];

	o.url = u;
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ts_free_port());
	T_EQ_INT(fetch(&o, &r), -ECONNREFUSED);
	o.url = "ftp://127.0.0.1/";
	T_EQ_INT(http_client_request(client, &o, on_done, &r, NULL), -EINVAL);
}

static void test_proxies(void)
{
	struct http_request_opts o = { 0 };
	struct result r;
	char u[128], proxy[128], logbuf[4096];
	ssize_t n;
	int fd;

	/* Through an HTTP proxy: a name only the proxy "resolves". */
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", http_port);
	o.proxy = proxy;
	o.url = "http://nowhere.test/x";
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_STR(r.body, "proxied http://nowhere.test/x");

	/* Through SOCKS5 (microsocks logs the targets it connects to). */
	snprintf(proxy, sizeof(proxy), "socks5h://127.0.0.1:%d", socks_port);
	snprintf(u, sizeof(u), "http://localhost:%d/plain", http_port);
	o.url = u;
	T_EQ_INT(fetch(&o, &r), 0);
	T_EQ_STR(r.body, "hello");
	fd = open(socks_log, O_RDONLY);
	T_CHECK(fd >= 0);
	n = fd >= 0 ? read(fd, logbuf, sizeof(logbuf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	logbuf[n > 0 ? n : 0] = '\0';
	T_CHECK(strstr(logbuf, "localhost") != NULL);

	/* A proxy that is not there: the request fails, never goes direct. */
	snprintf(proxy, sizeof(proxy), "socks5h://127.0.0.1:%d", ts_free_port());
	T_CHECK(fetch(&o, &r) < 0);
}

struct cancel_ctx {
	struct http_request *req;
	bool fired;
};

static void on_cancel_timer(uv_timer_t *t)
{
	struct cancel_ctx *cc = t->data;

	http_request_cancel(cc->req);
	cc->fired = true;
}

static void test_cancel_and_concurrency(void)
{
	struct http_request_opts o = { 0 };
	struct result slow, many[20];
	struct cancel_ctx cc = { 0 };
	uv_timer_t t;
	char u[128];
	bool all = false;

	o.url = u;
	url(u, sizeof(u), "/slow");
	memset(&slow, 0, sizeof(slow));
	T_EQ_INT(http_client_request(client, &o, on_done, &slow, &cc.req), 0);
	uv_timer_init(&loop, &t);
	t.data = &cc;
	uv_timer_start(&t, on_cancel_timer, 200, 0);
	url(u, sizeof(u), "/plain");
	for (int i = 0; i < 20; i++) {
		memset(&many[i], 0, sizeof(many[i]));
		T_EQ_INT(http_client_request(client, &o, on_done, &many[i], NULL), 0);
	}
	while (!all || !cc.fired) {
		uv_run(&loop, UV_RUN_ONCE);
		all = true;
		for (int i = 0; i < 20; i++)
			all = all && many[i].done;
	}
	for (int i = 0; i < 20; i++)
		T_EQ_STR(many[i].body, "hello");
	T_CHECK(!slow.done);
	T_EQ_INT(http_client_pending(client), 0);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_destroy_pending(void)
{
	struct http_request_opts o = { 0 };
	struct result r;
	char u[128];

	memset(&r, 0, sizeof(r));
	o.url = u;
	url(u, sizeof(u), "/slow");
	T_EQ_INT(http_client_request(client, &o, on_done, &r, NULL), 0);
	for (int i = 0; i < 5; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	http_client_destroy(client);
	client = NULL;
	T_CHECK(r.done);
	T_EQ_INT(r.status, -ECANCELED);
}

static int start_servers(void)
{
	int logfd = mkstemp(socks_log);

	server_pid = ts_start_http(&http_port);
	if (server_pid < 0 || logfd < 0)
		return -1;
	socks_port = ts_free_port();
	socks_pid = ts_start_socks(socks_port, logfd);
	close(logfd);
	return socks_pid < 0 ? -1 : 0;
}

static void stop_servers(void)
{
	ts_stop(server_pid);
	ts_stop(socks_pid);
	unlink(socks_log);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (start_servers() < 0) {
		stop_servers();
		return 1;
	}
	uv_loop_init(&loop);
	T_EQ_INT(http_client_create(&loop, NULL, &client), 0);
	T_RUN(test_basics);
	T_RUN(test_redirects);
	T_RUN(test_limits);
	T_RUN(test_post);
	T_RUN(test_errors);
	T_RUN(test_proxies);
	T_RUN(test_cancel_and_concurrency);
	T_RUN(test_destroy_pending);
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
	stop_servers();
	return test_summary();
}
