/* pipelining: the "pipelining: auto" probes on a real loop. A server that
 * reads each SOCKS5 message exactly (a small one on this loop) turns
 * pipelining on; real microsocks, which drops what follows the greeting,
 * leaves plain handshakes; a proxy that is not there yet is tried again
 * until it is; only auto SOCKS5 proxies without a dialer-proxy are probed;
 * at most PIPELINING_MAX_CONCURRENT at once; a generation switch or
 * destroy in the middle of a probe frees everything (ASan/valgrind). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config/config.h"
#include "tun2socks/route/pipelining.h"
#include "tun2socks/route/router_gen.h"
#include "test.h"
#include "test_servers.h"

static uv_loop_t loop;

/* ---- a SOCKS5 server on the loop ------------------------------------- */

enum srv_mode {
	SRV_EXACT,  /* answers greeting and CONNECT (refused), however they came */
	SRV_SILENT, /* accepts and never answers */
};

struct srv {
	uv_tcp_t listener;
	enum srv_mode mode;
	int port;
	int accepted, open, max_open;
	int first_read; /* bytes of the first read of the last connection */
};

struct srv_conn {
	uv_tcp_t tcp;
	struct srv *s;
	uint8_t in[600];
	size_t len;
	bool reads, answered;
};

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct srv_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->in + c->len, (unsigned)(sizeof(c->in) - c->len));
}

static void srv_conn_closed(uv_handle_t *h)
{
	struct srv_conn *c = h->data;

	c->s->open--;
	free(c);
}

static void srv_written(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

/* Greeting (2 + n methods) then a CONNECT to an IPv4 address (10 bytes):
 * answers both at once, the CONNECT with 0x05 (refused). */
static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct srv_conn *c = st->data;
	static uint8_t reply[] = { 5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	uv_buf_t b = uv_buf_init((char *)reply, sizeof(reply));
	uv_write_t *w;

	(void)buf;
	if (n < 0) {
		uv_close((uv_handle_t *)st, srv_conn_closed);
		return;
	}
	if (!c->reads) {
		c->reads = true;
		c->s->first_read = (int)n;
	}
	c->len += (size_t)n;
	if (c->answered || c->len < 2 || c->len < 2u + c->in[1] + 10u)
		return;
	c->answered = true;
	w = malloc(sizeof(*w));
	if (w && uv_write(w, st, &b, 1, srv_written) < 0)
		free(w);
}

static void srv_read_silent(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	if (n < 0)
		uv_close((uv_handle_t *)st, srv_conn_closed);
}

static void srv_on_conn(uv_stream_t *l, int status)
{
	struct srv *s = l->data;
	struct srv_conn *c = calloc(1, sizeof(*c));

	if (status < 0 || c == NULL) {
		free(c);
		return;
	}
	c->s = s;
	uv_tcp_init(&loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
		uv_close((uv_handle_t *)&c->tcp, srv_conn_closed);
		s->open++;
		return;
	}
	s->accepted++;
	if (++s->open > s->max_open)
		s->max_open = s->open;
	if (s->mode == SRV_EXACT)
		uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
	else
		uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read_silent);
}

static int srv_start(struct srv *s, enum srv_mode mode, int port)
{
	struct sockaddr_in sa;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->port = port;
	uv_ip4_addr("127.0.0.1", port, &sa);
	uv_tcp_init(&loop, &s->listener);
	s->listener.data = s;
	if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0) < 0 ||
	    uv_listen((uv_stream_t *)&s->listener, 64, srv_on_conn) < 0)
		return -1;
	return 0;
}

static void srv_stop(struct srv *s)
{
	uv_close((uv_handle_t *)&s->listener, NULL);
}

/* ---- helpers --------------------------------------------------------- */

static struct router_gen *build(const char *text, struct config **cfg)
{
	struct router_gen_opts o = { 0 };
	struct conf_err_list errs;
	struct router_gen *g = NULL;
	struct conf_err err;
	int r = config_load_buf(text, strlen(text), "p.yaml", cfg, &errs);

	for (size_t i = 0; r < 0 && i < errs.n; i++)
		fprintf(stderr, "  %d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (r == 0)
		r = router_gen_build(*cfg, &o, &g, &err);
	T_EQ_INT(r, 0);
	return g;
}

/* The auto upstream called name in g (NULL: none). */
static struct upstream_cfg *auto_up(struct router_gen *g, const char *name)
{
	struct upstream_cfg *u;
	const char *n;

	for (size_t i = 0; (u = router_gen_auto_pipelining(g, i, &n)) != NULL; i++)
		if (strcmp(n, name) == 0)
			return u;
	return NULL;
}

static void on_deadline(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop until *cond holds or ms passed; whether it held. */
static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms)
{
	uv_timer_t t;
	bool late = false;

	uv_timer_init(&loop, &t);
	t.data = &late;
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!cond(arg) && !late)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return cond(arg);
}

static bool decided(void *arg)
{
	return pipelining_undecided(arg) == 0;
}

static bool cfg_on(void *arg)
{
	return ((struct upstream_cfg *)arg)->pipelining;
}

/* The first round of probes is in; after a switch, the second, and the
 * first one's connections closed. */
static bool srv_first(void *arg)
{
	return ((struct srv *)arg)->accepted >= PIPELINING_MAX_CONCURRENT;
}

static bool srv_second(void *arg)
{
	struct srv *s = arg;

	return s->accepted >= 2 * PIPELINING_MAX_CONCURRENT && s->open <= PIPELINING_MAX_CONCURRENT;
}

/* Closes what is left and checks nothing stays open. */
static void drain(void)
{
	for (int i = 0; i < 100 && uv_loop_alive(&loop); i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	T_CHECK(!uv_loop_alive(&loop));
}

static struct pipelining *prober(uint64_t timeout_ms, uint64_t retry_ms)
{
	struct pipelining_opts o = { .timeout_ms = timeout_ms, .retry_ms = retry_ms };
	struct pipelining *p = NULL;

	T_EQ_INT(pipelining_create(&loop, &o, &p), 0);
	return p;
}

/* ---- cases ----------------------------------------------------------- */

/* A server that reads what follows the greeting: on, from one write. */
static void test_on(void)
{
	char text[512];
	struct config *cfg = NULL;
	struct srv s;
	struct pipelining *p = prober(2000, 0);

	T_EQ_INT(srv_start(&s, SRV_EXACT, ts_free_port()), 0);
	snprintf(text, sizeof(text),
		 "proxies:\n  - {name: a, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "rules:\n  - MATCH,a\n",
		 s.port);
	struct router_gen *g = build(text, &cfg);
	struct upstream_cfg *u = g ? auto_up(g, "a") : NULL;

	T_CHECK(u != NULL && !u->pipelining);
	if (u == NULL)
		goto out;
	T_EQ_INT(pipelining_set_gen(p, g), 0);
	T_EQ_INT(pipelining_undecided(p), 1);
	T_CHECK(run_until(decided, p, 5000));
	T_CHECK(u->pipelining);
	T_EQ_INT(s.accepted, 1);
	T_EQ_INT(s.first_read, 3 + 10); /* greeting and CONNECT together */
out:
	pipelining_destroy(p);
	router_gen_unref(g);
	config_free(cfg);
	srv_stop(&s);
	drain();
}

/* microsocks reads the greeting with one recv and drops the CONNECT: no
 * reply by the deadline, plain handshakes; likewise with auth. */
static void test_off_microsocks(void)
{
	char text[512];
	struct config *cfg = NULL;
	int port = ts_free_port();
	pid_t ms = ts_start_socks(port, -1);
	struct pipelining *p = prober(1500, 0);

	T_CHECK(ms > 0);
	snprintf(text, sizeof(text),
		 "proxies:\n  - {name: m, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "rules:\n  - MATCH,m\n",
		 port);
	struct router_gen *g = build(text, &cfg);
	struct upstream_cfg *u = g ? auto_up(g, "m") : NULL;

	T_CHECK(u != NULL);
	if (u == NULL)
		goto out;
	T_EQ_INT(pipelining_set_gen(p, g), 0);
	T_CHECK(run_until(decided, p, 8000));
	T_CHECK(!u->pipelining);
out:
	pipelining_destroy(p);
	router_gen_unref(g);
	config_free(cfg);
	ts_stop(ms);
	drain();
}

/* Nobody listens yet: undecided, tried again; once a server is there the
 * next attempt decides. */
static void test_retry(void)
{
	char text[512];
	struct config *cfg = NULL;
	struct srv s;
	int port = ts_free_port();
	struct pipelining *p = prober(2000, 50);

	snprintf(text, sizeof(text),
		 "proxies:\n  - {name: late, type: socks5, server: 127.0.0.1, port: %d}\n"
		 "rules:\n  - MATCH,late\n",
		 port);
	struct router_gen *g = build(text, &cfg);
	struct upstream_cfg *u = g ? auto_up(g, "late") : NULL;

	T_CHECK(u != NULL);
	if (u == NULL)
		goto out;
	T_EQ_INT(pipelining_set_gen(p, g), 0);
	T_CHECK(!run_until(decided, p, 120)); /* refused, waits */
	T_EQ_INT(pipelining_undecided(p), 1);
	T_EQ_INT(srv_start(&s, SRV_EXACT, port), 0);
	T_CHECK(run_until(cfg_on, u, 5000));
	T_EQ_INT(pipelining_undecided(p), 0);
	srv_stop(&s);
out:
	pipelining_destroy(p);
	router_gen_unref(g);
	config_free(cfg);
	drain();
}

/* Which upstreams are probed: auto SOCKS5 ones without a dialer-proxy. */
static void test_which(void)
{
	struct config *cfg = NULL;
	static const char text[] =
		"proxies:\n"
		"  - {name: on, type: socks5, server: 127.0.0.1, port: 1, pipelining: true}\n"
		"  - {name: off, type: socks5, server: 127.0.0.1, port: 1, pipelining: false}\n"
		"  - {name: web, type: http, server: 127.0.0.1, port: 1}\n"
		"  - {name: hop, type: socks5, server: 127.0.0.1, port: 2}\n"
		"  - {name: far, type: socks5, server: 127.0.0.1, port: 3, dialer-proxy: hop}\n"
		"rules:\n  - MATCH,on\n";
	struct router_gen *g = build(text, &cfg);
	const char *name = NULL;

	if (g == NULL)
		goto out;
	T_CHECK(router_gen_auto_pipelining(g, 0, &name) != NULL);
	T_EQ_STR(name, "hop");
	T_CHECK(router_gen_auto_pipelining(g, 1, &name) == NULL);
	T_CHECK(name == NULL);
out:
	router_gen_unref(g);
	config_free(cfg);
}

/* Twelve silent proxies: at most PIPELINING_MAX_CONCURRENT connect at once;
 * then a new generation cancels them mid-attempt, and destroy with probes
 * running leaves nothing behind. */
static void test_bound_and_cancel(void)
{
	char text[4096];
	size_t o = 0;
	struct config *cfg = NULL, *cfg2 = NULL;
	struct srv s;
	struct pipelining *p = prober(60000, 0);

	T_EQ_INT(srv_start(&s, SRV_SILENT, ts_free_port()), 0);
	o += (size_t)snprintf(text + o, sizeof(text) - o, "proxies:\n");
	for (int i = 0; i < 12; i++)
		o += (size_t)snprintf(
			text + o, sizeof(text) - o,
			"  - {name: s%d, type: socks5, server: 127.0.0.1, port: %d}\n", i, s.port);
	snprintf(text + o, sizeof(text) - o, "rules:\n  - MATCH,s0\n");
	struct router_gen *g = build(text, &cfg);
	struct router_gen *g2 = build(text, &cfg2);

	if (g == NULL || g2 == NULL)
		goto out;
	T_EQ_INT(pipelining_set_gen(p, g), 0);
	T_EQ_INT(pipelining_undecided(p), 12);
	T_CHECK(run_until(srv_first, &s, 5000));
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	T_EQ_INT(s.max_open, PIPELINING_MAX_CONCURRENT);
	T_EQ_INT(s.accepted, PIPELINING_MAX_CONCURRENT);
	/* switch: the old probes go, the new generation's start */
	T_EQ_INT(pipelining_set_gen(p, g2), 0);
	T_EQ_INT(pipelining_undecided(p), 12);
	router_gen_unref(g); /* the cancelled probes still hold it */
	g = NULL;
	T_CHECK(run_until(srv_second, &s, 5000));
out:
	pipelining_destroy(p); /* probes running */
	router_gen_unref(g);
	router_gen_unref(g2);
	config_free(cfg);
	config_free(cfg2);
	srv_stop(&s);
	drain();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	T_RUN(test_which);
	T_RUN(test_on);
	T_RUN(test_off_microsocks);
	T_RUN(test_retry);
	T_RUN(test_bound_and_cancel);
	uv_loop_close(&loop);
	return test_summary();
}
