/* resolver: c-ares on a libuv loop against a DNS server in this process.
 *
 * The server listens on 127.0.0.1 only (UDP and TCP, ephemeral ports) and
 * answers through dns_msg: "example.test" A -> 203.0.113.80, "silent.test"
 * never answered (timeout path), anything else NXDOMAIN. Each test gets its
 * own loop and ends with uv_loop_close() == 0, which fails if the resolver
 * left a handle open; ASan builds catch leaked memory.
 */
#include "resolver/dns_msg.h"
#include "config/nameservers.h"
#include "resolver/resolver.h"
#include "test.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

enum { WATCHDOG_MS = 5000 };

/* --- the in-process DNS server ---------------------------------------- */

struct srv_conn {
	uv_tcp_t h;
	struct srv *s;
	struct srv_conn *next;
	uint8_t buf[4096];
	size_t len;
};

struct srv {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_tcp_t tcp;
	int udp_port, tcp_port;
	unsigned queries; /* every well-formed query seen, silent ones too */
	/* The last well-formed query: its ID and name, and over UDP where it
	 * came from (the resolver's socket). */
	uint16_t last_id;
	char last_name[DNS_MSG_NAME_MAX];
	struct sockaddr_storage last_from;
	struct srv_conn *conns;
	uint8_t rbuf[65536];
};

/* Fills out with the answer to msg; 0 = stay silent. */
static int srv_answer(struct srv *s, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
		      size_t max_msg)
{
	static const uint8_t addr[4] = { 203, 0, 113, 80 };
	struct dns_query q;

	if (dns_msg_parse_query(msg, len, &q) < 0)
		return 0;
	s->queries++;
	s->last_id = q.id;
	snprintf(s->last_name, sizeof(s->last_name), "%s", q.name);
	if (strcmp(q.name, "silent.test") == 0)
		return 0;
	if (strcmp(q.name, "example.test") == 0 && q.qtype == ARES_REC_TYPE_A)
		return dns_msg_build_addr(&q, addr, 1, 60, out, cap, max_msg);
	return dns_msg_build_error(&q, ARES_RCODE_NXDOMAIN, out, cap);
}

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct srv *s = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)s->rbuf, sizeof(s->rbuf));
}

static void srv_on_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
		       unsigned flags)
{
	struct srv *s = h->data;
	uint8_t out[1500];
	uv_buf_t b;
	int n;

	(void)flags;
	if (nread <= 0 || from == NULL)
		return;
	memcpy(&s->last_from, from,
	       from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	n = srv_answer(s, (const uint8_t *)buf->base, (size_t)nread, out, sizeof(out),
		       DNS_MSG_EDNS_UDP_SIZE);
	if (n <= 0)
		return;
	b = uv_buf_init((char *)out, (unsigned)n);
	uv_udp_try_send(h, &b, 1, from);
}

static void srv_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct srv_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void srv_conn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void srv_conn_close(struct srv_conn *c)
{
	struct srv_conn **pp;

	for (pp = &c->s->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&c->h, srv_conn_closed);
}

static void srv_on_tcp_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct srv_conn *c = h->data;
	const uint8_t *msg;
	uint8_t out[2 + 1500];
	size_t msglen;
	uv_buf_t b;
	int used, n;

	(void)buf;
	if (nread < 0) {
		srv_conn_close(c);
		return;
	}
	c->len += (size_t)nread;
	while ((used = dns_msg_tcp_frame(c->buf, c->len, &msg, &msglen)) > 0) {
		n = srv_answer(c->s, msg, msglen, out + 2, sizeof(out) - 2, DNS_MSG_TCP_MAX);
		if (n > 0) {
			dns_msg_tcp_prefix((size_t)n, out);
			b = uv_buf_init((char *)out, (unsigned)n + 2);
			uv_try_write(h, &b, 1);
		}
		memmove(c->buf, c->buf + used, c->len - (size_t)used);
		c->len -= (size_t)used;
	}
	if (used < 0)
		srv_conn_close(c);
}

static void srv_on_connection(uv_stream_t *l, int status)
{
	struct srv *s = l->data;
	struct srv_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	c->s = s;
	uv_tcp_init(s->loop, &c->h);
	c->h.data = c;
	c->next = s->conns;
	s->conns = c;
	if (uv_accept(l, (uv_stream_t *)&c->h) < 0) {
		srv_conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->h, srv_conn_alloc, srv_on_tcp_read);
}

static int bound_port(const uv_handle_t *h, bool udp)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (udp)
		uv_udp_getsockname((const uv_udp_t *)h, (struct sockaddr *)&ss, &len);
	else
		uv_tcp_getsockname((const uv_tcp_t *)h, (struct sockaddr *)&ss, &len);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_start(struct srv *s, uv_loop_t *loop)
{
	struct sockaddr_in sa;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	T_EQ_INT(uv_udp_init(loop, &s->udp), 0);
	s->udp.data = s;
	T_EQ_INT(uv_udp_bind(&s->udp, (const struct sockaddr *)&sa, 0), 0);
	T_EQ_INT(uv_udp_recv_start(&s->udp, srv_alloc, srv_on_udp), 0);
	s->udp_port = bound_port((uv_handle_t *)&s->udp, true);

	T_EQ_INT(uv_tcp_init(loop, &s->tcp), 0);
	s->tcp.data = s;
	T_EQ_INT(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&sa, 0), 0);
	T_EQ_INT(uv_listen((uv_stream_t *)&s->tcp, 8, srv_on_connection), 0);
	s->tcp_port = bound_port((uv_handle_t *)&s->tcp, false);
	T_CHECK(s->udp_port > 0 && s->tcp_port > 0);
}

static void srv_stop(struct srv *s)
{
	while (s->conns != NULL)
		srv_conn_close(s->conns);
	uv_close((uv_handle_t *)&s->udp, NULL);
	uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* --- client side ------------------------------------------------------- */

struct result {
	bool done;
	unsigned calls;
	int status;
	int rcode;
	unsigned n_a;
	uint8_t a[4];
	uint64_t t_done;
	uv_loop_t *loop;
};

static void on_result(void *arg, int status, const struct ares_dns_record *reply)
{
	struct result *res = arg;
	size_t i;

	res->calls++;
	res->done = true;
	res->status = status;
	res->t_done = uv_hrtime() / 1000000;
	T_CHECK((status == 0) == (reply != NULL));
	if (reply == NULL)
		return;
	res->rcode = (int)ares_dns_record_get_rcode(reply);
	for (i = 0; i < ares_dns_record_rr_cnt(reply, ARES_SECTION_ANSWER); i++) {
		const ares_dns_rr_t *rr =
			ares_dns_record_rr_get_const(reply, ARES_SECTION_ANSWER, i);

		if (ares_dns_rr_get_type(rr) != ARES_REC_TYPE_A)
			continue;
		memcpy(res->a, ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR), 4);
		res->n_a++;
	}
}

static ares_dns_record_t *make_query(const char *name)
{
	ares_dns_record_t *rec = NULL;

	if (ares_dns_record_create(&rec, 0, ARES_FLAG_RD, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR) !=
	    ARES_SUCCESS)
		return NULL;
	if (ares_dns_record_query_add(rec, name, ARES_REC_TYPE_A, ARES_CLASS_IN) != ARES_SUCCESS) {
		ares_dns_record_destroy(rec);
		return NULL;
	}
	return rec;
}

static void on_watchdog(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void on_watchdog_closed(uv_handle_t *h)
{
	*(bool *)h->data = true;
}

static bool res_done(void *arg)
{
	return ((struct result *)arg)->done;
}

static bool srv_saw_two(void *arg)
{
	return ((struct srv *)arg)->queries >= 2;
}

static void count_poll(uv_handle_t *h, void *arg)
{
	if (h->type == UV_POLL && !uv_is_closing(h))
		(*(unsigned *)arg)++;
}

/* The resolver's live fd watchers: the only poll handles in these loops. */
static unsigned live_polls(uv_loop_t *loop)
{
	unsigned n = 0;

	uv_walk(loop, count_poll, &n);
	return n;
}

static bool no_polls(void *arg)
{
	return live_polls(arg) == 0;
}

/* Runs the loop until done(arg) holds, at most WATCHDOG_MS. */
static void run_until(uv_loop_t *loop, bool (*done)(void *), void *arg)
{
	uv_timer_t wd;
	bool fired = false;

	uv_timer_init(loop, &wd);
	wd.data = &fired;
	uv_timer_start(&wd, on_watchdog, WATCHDOG_MS, 0);
	while (!fired && !done(arg))
		uv_run(loop, UV_RUN_ONCE);
	T_CHECK(!fired);
	/* wd lives on this stack frame: wait for its close callback. */
	fired = false;
	uv_close((uv_handle_t *)&wd, on_watchdog_closed);
	while (!fired)
		uv_run(loop, UV_RUN_NOWAIT);
}

/* Everything closed: fails if the resolver kept a handle open. */
static void loop_finish(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(loop), 0);
}

/* One query through a fresh resolver; fills res, returns the time taken
 * in ms (or -1 when resolver_send failed, its error in res->status). */
static long one_query(struct srv *s, const char *servers, bool use_tcp, unsigned timeout_ms,
		      unsigned tries, const struct sock_opts *so, const char *name,
		      struct result *res)
{
	struct resolver_config cfg;
	struct resolver *r = NULL;
	ares_dns_record_t *q = make_query(name);
	char err[128];
	uint64_t t0;
	long took = -1;
	int ret;

	memset(res, 0, sizeof(*res));
	memset(&cfg, 0, sizeof(cfg));
	cfg.servers = servers;
	cfg.use_tcp = use_tcp;
	cfg.timeout_ms = timeout_ms;
	cfg.tries = tries;
	if (so != NULL)
		cfg.sock = *so;
	T_CHECK(q != NULL);
	T_EQ_INT(resolver_create(s->loop, &cfg, &r, err, sizeof(err)), 0);
	if (r == NULL || q == NULL)
		goto out;
	t0 = uv_hrtime() / 1000000;
	ret = resolver_send(r, q, on_result, res);
	if (ret < 0) {
		res->status = ret;
		goto out;
	}
	run_until(s->loop, res_done, res);
	T_EQ_INT(res->calls, 1);
	took = (long)(res->t_done - t0);
out:
	resolver_destroy(r);
	ares_dns_record_destroy(q);
	return took;
}

static void test_udp_answer(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	char servers[64];
	static const uint8_t want[4] = { 203, 0, 113, 80 };

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	snprintf(servers, sizeof(servers), "udp://127.0.0.1:%d", s.udp_port);
	one_query(&s, servers, false, 1000, 1, NULL, "example.test", &res);
	T_EQ_INT(res.status, 0);
	T_EQ_INT(res.rcode, ARES_RCODE_NOERROR);
	T_EQ_INT(res.n_a, 1);
	T_EQ_MEM(res.a, want, 4);

	/* Not an error: the NXDOMAIN reply itself is handed over. */
	one_query(&s, servers, false, 1000, 1, NULL, "other.test", &res);
	T_EQ_INT(res.status, 0);
	T_EQ_INT(res.rcode, ARES_RCODE_NXDOMAIN);
	T_EQ_INT(res.n_a, 0);
	T_EQ_INT(s.queries, 2);
	srv_stop(&s);
	loop_finish(&loop);
}

static void test_tcp_answer(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	char servers[64];
	static const uint8_t want[4] = { 203, 0, 113, 80 };

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	/* The TCP port has nothing on UDP: an answer proves TCP was used. */
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.tcp_port);
	one_query(&s, servers, true, 1000, 1, NULL, "example.test", &res);
	T_EQ_INT(res.status, 0);
	T_EQ_INT(res.n_a, 1);
	T_EQ_MEM(res.a, want, 4);

	/* tcp:// alone switches the channel to TCP. */
	snprintf(servers, sizeof(servers), "tcp://127.0.0.1:%d", s.tcp_port);
	one_query(&s, servers, false, 1000, 1, NULL, "example.test", &res);
	T_EQ_INT(res.status, 0);
	T_EQ_INT(res.n_a, 1);
	T_EQ_INT(s.queries, 2);
	srv_stop(&s);
	loop_finish(&loop);
}

/* Without ARES_FLAG_STAYOPEN c-ares closes a socket once no query uses it:
 * its watcher must go then, not at shutdown, or libuv would go on watching
 * a closed (and later reused) fd. */
static void test_idle_closed(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	struct resolver_config cfg;
	struct resolver *r = NULL;
	ares_dns_record_t *q = make_query("example.test");
	char servers[64];

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	memset(&res, 0, sizeof(res));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.tcp_port);
	cfg.servers = servers;
	cfg.use_tcp = true;
	T_EQ_INT(resolver_create(&loop, &cfg, &r, NULL, 0), 0);
	if (r == NULL || q == NULL)
		goto out;
	T_EQ_INT(resolver_send(r, q, on_result, &res), 0);
	run_until(&loop, res_done, &res);
	T_EQ_INT(res.status, 0);
	run_until(&loop, no_polls, &loop);
	T_EQ_INT(live_polls(&loop), 0);

	/* And the resolver still works: a new socket, often the same fd. */
	memset(&res, 0, sizeof(res));
	T_EQ_INT(resolver_send(r, q, on_result, &res), 0);
	run_until(&loop, res_done, &res);
	T_EQ_INT(res.status, 0);
	T_EQ_INT(res.n_a, 1);
	run_until(&loop, no_polls, &loop);
	T_EQ_INT(live_polls(&loop), 0);
out:
	resolver_destroy(r);
	ares_dns_record_destroy(q);
	srv_stop(&s);
	loop_finish(&loop);
}

static void test_timeout(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	char servers[64];
	long took;

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.udp_port);
	took = one_query(&s, servers, false, 200, 1, NULL, "silent.test", &res);
	T_EQ_INT(res.status, -ETIMEDOUT);
	T_EQ_INT(s.queries, 1);
	/* The timer, not the watchdog, ended it: 200 ms x 1 try + slack. */
	T_CHECK(took >= 150);
	T_CHECK(took <= 200 + 600);

	took = one_query(&s, servers, false, 150, 2, NULL, "silent.test", &res);
	T_EQ_INT(res.status, -ETIMEDOUT);
	T_EQ_INT(s.queries, 3);
	T_CHECK(took >= 250);
	T_CHECK(took <= 2 * 150 * 2 + 600); /* c-ares may back off the 2nd try */
	srv_stop(&s);
	loop_finish(&loop);
}

static void test_refused(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	char servers[64];
	uv_udp_t tmp;
	struct sockaddr_in sa;
	long took;
	int port;

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	/* A port that was just free: nothing listens there now. */
	uv_ip4_addr("127.0.0.1", 0, &sa);
	uv_udp_init(&loop, &tmp);
	T_EQ_INT(uv_udp_bind(&tmp, (const struct sockaddr *)&sa, 0), 0);
	port = bound_port((uv_handle_t *)&tmp, true);
	uv_close((uv_handle_t *)&tmp, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);

	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
	took = one_query(&s, servers, false, 2000, 2, NULL, "example.test", &res);
	T_EQ_INT(res.status, -ECONNREFUSED);
	T_CHECK(took >= 0 && took < 1000); /* the ICMP error, not the timeout */

	took = one_query(&s, servers, true, 2000, 2, NULL, "example.test", &res);
	T_CHECK(res.status < 0);
	T_CHECK(took < 1000); /* -1 too: refused within resolver_send() */
	srv_stop(&s);
	loop_finish(&loop);
}

/* The socket options reach c-ares' sockets: binding to an interface that
 * does not exist must fail the query before anything is sent. */
static void test_sock_opts(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	struct sock_opts so;
	char servers[64];

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	memset(&so, 0, sizeof(so));
	snprintf(so.bind_iface, sizeof(so.bind_iface), "t2s-none0"); /* Linux */
	so.iface_index = 999999;                                     /* macOS */
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.udp_port);
	one_query(&s, servers, false, 300, 1, &so, "example.test", &res);
	T_CHECK(res.status < 0);
	T_EQ_INT(s.queries, 0);
	srv_stop(&s);
	loop_finish(&loop);
}

static void test_shutdown_pending(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res, res2;
	struct resolver_config cfg;
	struct resolver *r = NULL;
	ares_dns_record_t *q = make_query("silent.test");
	char servers[64], err[128];

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	memset(&res, 0, sizeof(res));
	memset(&res2, 0, sizeof(res2));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.udp_port);
	cfg.servers = servers;
	cfg.timeout_ms = 3000;
	cfg.tries = 1;
	T_EQ_INT(resolver_create(&loop, &cfg, &r, err, sizeof(err)), 0);
	if (r == NULL || q == NULL)
		goto out;
	T_EQ_INT(resolver_send(r, q, on_result, &res), 0);
	T_EQ_INT(resolver_send(r, q, on_result, &res2), 0);
	run_until(&loop, srv_saw_two, &s);
	T_CHECK(!res.done);

	resolver_shutdown(r);
	T_EQ_INT(res.calls, 1);
	T_EQ_INT(res.status, -ECANCELED);
	T_EQ_INT(res2.calls, 1);
	T_EQ_INT(res2.status, -ECANCELED);
	T_EQ_INT(resolver_send(r, q, on_result, &res), -ESHUTDOWN);
	resolver_shutdown(r); /* idempotent */
	T_EQ_INT(res.calls, 1);
out:
	resolver_destroy(r);
	ares_dns_record_destroy(q);
	srv_stop(&s);
	loop_finish(&loop);
}

static bool srv_saw_one(void *arg)
{
	return ((struct srv *)arg)->queries >= 1;
}

/* A query of ours seen again (as if it came back into the TUN) is
 * recognised by its ID, name and type while it waits for its answer, and
 * by its source (c-ares' socket) for as long as the socket is open; a
 * client's query is not, even with the same ID. */
static void test_own_query(void)
{
	uv_loop_t loop;
	struct srv s;
	struct result res;
	struct resolver_config cfg;
	struct resolver *r = NULL;
	ares_dns_record_t *q = make_query("silent.test");
	struct sockaddr_in other;
	char servers[64], err[128];
	uint16_t id;

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	memset(&res, 0, sizeof(res));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.udp_port);
	cfg.servers = servers;
	cfg.timeout_ms = 3000;
	cfg.tries = 1;
	uv_ip4_addr("127.0.0.1", 53, &other);
	T_EQ_INT(resolver_create(&loop, &cfg, &r, err, sizeof(err)), 0);
	if (r == NULL || q == NULL)
		goto out;
	T_CHECK(!resolver_is_own_query(r, NULL, 1, "silent.test", ARES_REC_TYPE_A));
	T_EQ_INT(resolver_send(r, q, on_result, &res), 0);
	T_EQ_INT(resolver_pending(r), 1);
	run_until(&loop, srv_saw_one, &s);
	id = s.last_id;
	T_EQ_STR(s.last_name, "silent.test");
	/* By ID + name + type, any case (DNS 0x20), whatever the source. */
	T_CHECK(resolver_is_own_query(r, NULL, id, "silent.test", ARES_REC_TYPE_A));
	T_CHECK(resolver_is_own_query(r, (struct sockaddr *)&other, id, "SILENT.Test",
				      ARES_REC_TYPE_A));
	T_CHECK(!resolver_is_own_query(r, NULL, id, "silent.test", ARES_REC_TYPE_MX));
	T_CHECK(!resolver_is_own_query(r, NULL, id, "other.test", ARES_REC_TYPE_A));
	T_CHECK(!resolver_is_own_query(r, (struct sockaddr *)&other, (uint16_t)(id + 1),
				       "silent.test", ARES_REC_TYPE_A));
	/* By source: c-ares' socket, whatever the ID. */
	T_CHECK(resolver_is_own_query(r, (struct sockaddr *)&s.last_from, (uint16_t)(id + 1),
				      "printer.lan", ARES_REC_TYPE_A));
	resolver_shutdown(r);
	T_EQ_INT(res.status, -ECANCELED);
	T_EQ_INT(resolver_pending(r), 0);
	T_CHECK(!resolver_is_own_query(r, NULL, id, "silent.test", ARES_REC_TYPE_A));
out:
	resolver_destroy(r);
	ares_dns_record_destroy(q);
	srv_stop(&s);
	loop_finish(&loop);
}

static void count_result(void *arg, int status, const struct ares_dns_record *reply)
{
	(void)status;
	(void)reply;
	(*(unsigned *)arg)++;
}

static void count_lookup(void *arg, int status, const struct sockaddr_storage *addrs, size_t n)
{
	(void)status;
	(void)addrs;
	(void)n;
	(*(unsigned *)arg)++;
}

/* At most max_pending queries wait at once; the next get -EAGAIN (and no
 * callback); a finished one makes room again. */
static void test_pending_cap(void)
{
	uv_loop_t loop;
	struct srv s;
	struct resolver_config cfg;
	struct resolver *r = NULL;
	ares_dns_record_t *q = make_query("silent.test");
	char servers[64], err[128];
	unsigned calls = 0, lookups = 0;

	uv_loop_init(&loop);
	srv_start(&s, &loop);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", s.udp_port);
	cfg.servers = servers;
	cfg.timeout_ms = 200;
	cfg.tries = 1;
	cfg.max_pending = 8;
	T_EQ_INT(resolver_create(&loop, &cfg, &r, err, sizeof(err)), 0);
	if (r == NULL || q == NULL)
		goto out;
	for (int i = 0; i < 7; i++)
		T_EQ_INT(resolver_send(r, q, count_result, &calls), 0);
	T_EQ_INT(resolver_lookup(r, "silent.test", count_lookup, &lookups), 0);
	T_EQ_INT(resolver_pending(r), 8);
	T_EQ_INT(resolver_send(r, q, count_result, &calls), -EAGAIN);
	T_EQ_INT(resolver_lookup(r, "silent.test", count_lookup, &lookups), -EAGAIN);
	/* Each times out (200 ms): everything is given back. */
	while (resolver_pending(r) > 0)
		uv_run(&loop, UV_RUN_ONCE);
	T_EQ_INT(calls, 7);
	T_EQ_INT(lookups, 1);
	T_EQ_INT(resolver_send(r, q, count_result, &calls), 0);
	resolver_shutdown(r);
	T_EQ_INT(calls, 8);
out:
	resolver_destroy(r);
	ares_dns_record_destroy(q);
	srv_stop(&s);
	loop_finish(&loop);
}

/* Destroy straight away, with the loop never run: freed by the close
 * callbacks later. */
static void test_destroy_idle(void)
{
	uv_loop_t loop;
	struct resolver_config cfg;
	struct resolver *r = NULL;

	uv_loop_init(&loop);
	memset(&cfg, 0, sizeof(cfg));
	cfg.servers = "127.0.0.1:9";
	T_EQ_INT(resolver_create(&loop, &cfg, &r, NULL, 0), 0);
	T_CHECK(r != NULL);
	resolver_destroy(r);
	loop_finish(&loop);
}

static void test_parse_servers(void)
{
	static const char *const bad[] = {
		"",
		"x",
		"1.2.3",
		"1.2.3.4:0",
		"1.2.3.4:70000",
		"1.2.3.4:",
		"1.2.3.4:53x",
		"[::1",
		"[::1]x",
		"[1.2.3.4]:53",
		"::1]:53",
		"2001:db8::1:53:",
		"ftp://1.1.1.1",
		"1.1.1.1,,2.2.2.2",
		"1.1.1.1,",
		"dns.google",
		"fe80::1%eth0",
	};
	struct resolver_config cfg;
	struct resolver *r;
	char csv[256], err[160], want[64];
	bool tcp = true;
	size_t i;
	uv_loop_t loop;

	T_EQ_INT(nameservers_parse("1.1.1.1, udp://9.9.9.9:5353 ,tcp://[2001:db8::1]:53", csv,
				   sizeof(csv), &tcp, err, sizeof(err)),
		 0);
	T_EQ_STR(csv, "1.1.1.1:53,9.9.9.9:5353,[2001:db8::1]:53");
	T_CHECK(tcp);
	T_EQ_INT(nameservers_parse("::1,[::1]:54,UDP://8.8.8.8", csv, sizeof(csv), &tcp, err,
				   sizeof(err)),
		 0);
	T_EQ_STR(csv, "[::1]:53,[::1]:54,8.8.8.8:53");
	T_CHECK(!tcp);
	T_EQ_INT(nameservers_parse("1.1.1.1,2.2.2.2", csv, 12, &tcp, err, sizeof(err)), -ENOBUFS);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		csv[0] = 'z';
		err[0] = '\0';
		T_EQ_INT(nameservers_parse(bad[i], csv, sizeof(csv), &tcp, err, sizeof(err)),
			 -EINVAL);
		T_EQ_STR(csv, "");
		T_CHECK(strncmp(err, "--dns-server: cannot parse '", 28) == 0);
		if (strncmp(err, "--dns-server: cannot parse '", 28) != 0)
			fprintf(stderr, "  for '%s': \"%s\"\n", bad[i], err);
	}
	/* The message names the offending entry, not only the whole list. */
	T_EQ_INT(nameservers_parse("1.1.1.1,1.2.3.4:99999", csv, sizeof(csv), &tcp, err,
				   sizeof(err)),
		 -EINVAL);
	snprintf(want, sizeof(want), "'%s'", "1.2.3.4:99999");
	T_CHECK(strstr(err, want) != NULL);

	/* resolver_create refuses them too, with the message. */
	uv_loop_init(&loop);
	memset(&cfg, 0, sizeof(cfg));
	cfg.servers = "udp://nonsense";
	r = (struct resolver *)&cfg;
	T_EQ_INT(resolver_create(&loop, &cfg, &r, err, sizeof(err)), -EINVAL);
	T_CHECK(r == NULL);
	T_CHECK(strstr(err, "'udp://nonsense'") != NULL);
	loop_finish(&loop);
}

int main(void)
{
	T_RUN(test_parse_servers);
	T_RUN(test_destroy_idle);
	T_RUN(test_udp_answer);
	T_RUN(test_tcp_answer);
	T_RUN(test_idle_closed);
	T_RUN(test_timeout);
	T_RUN(test_refused);
	T_RUN(test_sock_opts);
	T_RUN(test_shutdown_pending);
	T_RUN(test_own_query);
	T_RUN(test_pending_cap);
	return test_summary();
}
