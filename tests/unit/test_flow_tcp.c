/* flow_tcp end to end inside one process: a real lwIP stack fed crafted
 * segments by a client model (lwip_helper.h), flow_tcp_accept() on its
 * accept callback, a router stub, a libuv loop, and on the other side a
 * loopback listener that the test plays as the DIRECT target or as a
 * SOCKS5 proxy.
 *
 * The loop is run until what a step waits for has happened (bytes at the
 * peer, a FIN or RST at the client, the flow gone), with a deadline of
 * several seconds that only a broken flow reaches: nothing depends on how
 * fast the machine is. lwIP's timers run in the same loop, as in the
 * daemon. Every scenario ends with the flow reaped, and lwIP's pools and
 * heap back at the baseline (the port's listener aside); the context is
 * shut down and the loop closes with no handle left.
 *
 * Covered: DIRECT relay both ways and a clean close after half-closes in
 * both orders; a SOCKS5 proxy, with the client's early bytes held until
 * the tunnel opens and then sent first; a refused proxy reply (client
 * reset, counted failed); a client reset reaching the upstream as an RST;
 * an upstream reset reaching the client as an RST; the connect deadline
 * in the proxy handshake; 2 MiB down to a client that acks one window at
 * a time, byte-exact; DIRECT to a name whose first address refuses; the
 * probe of a half-closed flow's silent client.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "lwip/tcp.h"
#include "lwip-port/stack.h"
#include "tun2socks/flow/flow_tcp.h"
#include "tun2socks/upstream/upstream.h"
#include "config/config.h"
#include "resolver/dns_hosts.h"
#include "resolver/resolver.h"
#include "resolver/sniffer.h"
#include "lwip_helper.h"
#include "test.h"

/* ---- environment ------------------------------------------------------------ */

struct env {
	uv_loop_t loop;
	struct flow_tcp_ctx fc;
	struct stack *st;
	struct stack_usage base;
	int lfd; /* the loopback listener */
	struct sockaddr_in laddr;
	struct upstream_cfg proxy; /* SOCKS5 at laddr */
	struct route route;        /* what the router stub decides */
	/* what the router stub was asked */
	int decided;
	char seen_domain[256];
	bool seen_keep_dst, seen_fake;
	int peer; /* the accepted upstream side, or -1 */
	struct lh_client c;
};

static struct env e;

static int stub_decide(void *ctx, const struct route_query *q, struct route *out,
		       route_done_fn done, void *arg)
{
	(void)ctx;
	(void)done;
	(void)arg;
	e.decided++;
	snprintf(e.seen_domain, sizeof(e.seen_domain), "%s", q->domain ? q->domain : "");
	e.seen_keep_dst = q->keep_dst;
	e.seen_fake = q->dst_is_fake;
	*out = e.route;
	return 0;
}

static void stub_release(void *ctx, void *hold)
{
	(void)ctx;
	(void)hold;
}

static int on_accept(void *arg, struct tcp_pcb *pcb)
{
	return flow_tcp_accept(arg, pcb);
}

static const struct stack_cbs cbs = { .output = lh_output, .tcp_accept = on_accept };

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* route: PROXY through e.proxy when proxy, else DIRECT to the listener. */
static bool env_init(bool proxy, size_t rx_cap)
{
	struct route_ops ops = { stub_decide, stub_release, NULL, NULL };
	socklen_t len = sizeof(e.laddr);
	struct ep me = ep4("198.18.0.1", 40000), to = ep4("203.0.113.5", 443);

	memset(&e, 0, sizeof(e));
	e.peer = -1;
	T_EQ_INT(uv_loop_init(&e.loop), 0);
	T_EQ_INT(flow_tcp_ctx_init(&e.fc, &e.loop, &ops), 0);
	e.fc.connect_timeout_ms = 10000;
	T_EQ_INT(stack_create(1500, &cbs, &e.fc, &e.st), 0);
	stack_usage(&e.base);

	e.lfd = socket(AF_INET, SOCK_STREAM, 0);
	e.laddr.sin_family = AF_INET;
	e.laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ_INT(bind(e.lfd, (struct sockaddr *)&e.laddr, sizeof(e.laddr)), 0);
	T_EQ_INT(listen(e.lfd, 4), 0);
	getsockname(e.lfd, (struct sockaddr *)&e.laddr, &len);
	nonblock(e.lfd);

	e.proxy.proto = &upstream_socks5;
	memcpy(&e.proxy.server, &e.laddr, sizeof(e.laddr));
	e.proxy.server_len = sizeof(e.laddr);
	snprintf(e.proxy.server_str, sizeof(e.proxy.server_str), "127.0.0.1:%u",
		 ntohs(e.laddr.sin_port));
	e.route.rule = "TEST";
	if (proxy) {
		e.route.action = ROUTE_PROXY;
		e.route.up = &e.proxy;
		e.route.via = "proxy";
		socks5_addr_from_domain(&e.route.target, "example.test", 443);
	} else {
		e.route.action = ROUTE_DIRECT;
		e.route.via = "DIRECT";
		socks5_addr_from_ipv4(&e.route.target, (const uint8_t[]){ 127, 0, 0, 1 },
				      ntohs(e.laddr.sin_port));
	}
	lh_client_init(&e.c, &me, &to, rx_cap);
	return e.st != NULL && e.lfd >= 0;
}

/* One turn of the daemon's loop: libuv callbacks, lwIP's timers, and the
 * flush that follows a TUN drain. */
static void turn(void)
{
	uv_run(&e.loop, UV_RUN_NOWAIT);
	stack_check_timeouts(e.st);
	flow_tcp_ctx_flush(&e.fc);
}

static bool peer_accept(void)
{
	if (e.peer < 0) {
		e.peer = accept(e.lfd, NULL, NULL);
		if (e.peer >= 0)
			nonblock(e.peer);
	}
	return e.peer >= 0;
}

/* Turns the loop until cond holds, evaluating it once per turn (it may
 * consume what it tests, like a read); gives up after ~10 s, which only
 * a broken flow reaches. */
#define RUN_UNTIL(cond)                              \
	do {                                         \
		bool ok_ = false;                    \
		for (int i_ = 0; i_ < 10000; i_++) { \
			if ((ok_ = (cond)))          \
				break;               \
			turn();                      \
			usleep(1000);                \
		}                                    \
		T_CHECK(ok_ &&#cond);                \
	} while (0)

/* Reads exactly n bytes at the peer, turning the loop meanwhile. */
static bool peer_read(void *buf, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 10000 && got < n; i++) {
		ssize_t r = read(e.peer, (uint8_t *)buf + got, n - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		turn();
		usleep(1000);
	}
	T_EQ_INT(got, n);
	return got == n;
}

static void peer_write(const void *data, size_t n)
{
	T_EQ_INT(write(e.peer, data, n), (long long)n);
}

/* The client's bytes, and the flush a TUN drain ends with. */
static void client_send(const void *data, size_t n)
{
	lh_send(e.st, &e.c, data, n);
	flow_tcp_ctx_flush(&e.fc);
}

static ssize_t peer_read_once(void *buf, size_t n)
{
	ssize_t r = read(e.peer, buf, n);

	return r < 0 ? -errno : r;
}

/* lwIP's pools and heap as at the start, but for the port's listener. A
 * pcb that ended in TIME_WAIT (the stack closed first) is freed by lwIP's
 * timer 2 * TCP_MSL later: waiting for this covers it. */
static bool usage_back(void)
{
	struct stack_usage u;

	stack_usage(&u);
	return u.pool_used == e.base.pool_used + 1 && u.pbufs == e.base.pbufs &&
	       u.heap_used == e.base.heap_used;
}

/* Every flow gone, its memory and lwIP's back; then the context and the
 * loop close with nothing left. */
static void env_done(void)
{
	RUN_UNTIL(e.fc.live_count == 0);
	RUN_UNTIL(usage_back());
	lh_usage_is(&e.base, 1);
	if (e.peer >= 0)
		close(e.peer);
	close(e.lfd);
	flow_tcp_ctx_shutdown(&e.fc);
	uv_run(&e.loop, UV_RUN_DEFAULT);
	flow_tcp_ctx_destroy(&e.fc);
	lh_client_free(&e.c);
	stack_destroy(e.st);
	T_EQ_INT(uv_loop_close(&e.loop), 0);
}

/* A clean close that the client starts: its FIN reaches the upstream as
 * EOF, the upstream's FIN reaches the client, which acks it. */
static void close_client_first(void)
{
	char buf[16];

	lh_fin(e.st, &e.c);
	flow_tcp_ctx_flush(&e.fc);
	RUN_UNTIL(peer_read_once(buf, sizeof(buf)) == 0);
	shutdown(e.peer, SHUT_WR);
	RUN_UNTIL(e.c.fin);
	lh_ack(e.st, &e.c);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_direct_relay_and_close(void)
{
	char buf[64];

	if (!env_init(false, 4096))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	T_EQ_INT(e.fc.live_count, 1);
	RUN_UNTIL(peer_accept());
	client_send("hello", 5);
	peer_read(buf, 5);
	T_EQ_MEM(buf, "hello", 5);
	peer_write("world", 5);
	RUN_UNTIL(e.c.rx_len == 5);
	T_EQ_MEM(e.c.rx, "world", 5);

	/* The client half-closes: the upstream sees EOF, and still talks. */
	lh_fin(e.st, &e.c);
	flow_tcp_ctx_flush(&e.fc);
	RUN_UNTIL(peer_read_once(buf, sizeof(buf)) == 0);
	peer_write("bye", 3);
	RUN_UNTIL(e.c.rx_len == 8);
	T_CHECK(!e.c.fin);
	/* The upstream ends too: FIN to the client after its bytes, and
	 * the flow closes cleanly once the client acks it. */
	shutdown(e.peer, SHUT_WR);
	RUN_UNTIL(e.c.fin);
	T_EQ_MEM(e.c.rx, "worldbye", 8);
	lh_ack(e.st, &e.c);
	T_CHECK(!e.c.rst);
	env_done();
	T_EQ_INT(e.fc.stats.closed, 1);
	T_EQ_INT(e.fc.stats.reset + e.fc.stats.failed, 0);
	T_EQ_INT(e.fc.stats.bytes_up, 5);
	T_EQ_INT(e.fc.stats.bytes_down, 8);
}

/* DIRECT to a name with two addresses, the first refused: the flow
 * closes that socket's watch and, once the watch is free again
 * (flow_on_watch_closed), connects to the next address. */
static void test_direct_next_address(void)
{
	struct resolver_config rc = { .servers = "127.0.0.1:1" };
	struct resolver *res = NULL;
	struct dns_hosts *h = NULL;
	char buf[16];

	if (!env_init(false, 4096))
		return;
	T_EQ_INT(dns_hosts_create(&h), 0);
	T_EQ_INT(dns_hosts_add(h, "two.test", "127.0.0.2"), 0); /* nobody listens there */
	T_EQ_INT(dns_hosts_add(h, "two.test", "127.0.0.1"), 0);
	T_EQ_INT(resolver_create(&e.loop, &rc, &res, NULL, 0), 0);
	resolver_set_hosts(res, h);
	e.fc.resolver = res;
	socks5_addr_from_domain(&e.route.target, "two.test", ntohs(e.laddr.sin_port));
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	client_send("hi", 2);
	peer_read(buf, 2);
	T_EQ_MEM(buf, "hi", 2);
	close_client_first();
	T_CHECK(!e.c.rst);
	resolver_shutdown(res);
	env_done();
	resolver_destroy(res);
	dns_hosts_destroy(h);
	T_EQ_INT(e.fc.stats.closed, 1);
	T_EQ_INT(e.fc.stats.failed + e.fc.stats.reset, 0);
}

/* The upstream ends first this time; the client's FIN comes later. */
static void test_direct_upstream_closes_first(void)
{
	char buf[16];

	if (!env_init(false, 4096))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	peer_write("banner", 6);
	shutdown(e.peer, SHUT_WR);
	RUN_UNTIL(e.c.fin);
	T_EQ_INT(e.c.rx_len, 6);
	lh_ack(e.st, &e.c);
	client_send("after", 5); /* the other direction still flows */
	peer_read(buf, 5);
	T_EQ_MEM(buf, "after", 5);
	lh_fin(e.st, &e.c);
	flow_tcp_ctx_flush(&e.fc);
	RUN_UNTIL(peer_read_once(buf, sizeof(buf)) == 0);
	env_done();
	T_EQ_INT(e.fc.stats.closed, 1);
}

static const uint8_t greeting[] = { 5, 1, 0 };
static const uint8_t method_none[] = { 5, 0 };
static const uint8_t connect_req[] = { 5,   1,   0,   3,   12,  'e', 'x', 'a',  'm', 'p',
				       'l', 'e', '.', 't', 'e', 's', 't', 0x01, 0xbb };

/* The proxy's side of the handshake up to the request; reply then. */
static void proxy_handshake(void)
{
	uint8_t buf[64];

	RUN_UNTIL(peer_accept());
	peer_read(buf, sizeof(greeting));
	T_EQ_MEM(buf, greeting, sizeof(greeting));
	peer_write(method_none, sizeof(method_none));
	peer_read(buf, sizeof(connect_req));
	T_EQ_MEM(buf, connect_req, sizeof(connect_req));
}

static void test_proxy_early_data(void)
{
	static const uint8_t ok[] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90 };
	uint8_t buf[64];

	if (!env_init(true, 4096))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	/* The client speaks first, before the tunnel exists: its bytes wait
	 * in the flow and are neither sent nor lost. */
	client_send("GET / HTTP/1.0\r\n\r\n", 18);
	proxy_handshake();
	T_EQ_INT(peer_read_once(buf, sizeof(buf)), -EAGAIN);
	peer_write(ok, sizeof(ok));
	peer_read(buf, 18); /* right after the reply, first thing */
	T_EQ_MEM(buf, "GET / HTTP/1.0\r\n\r\n", 18);
	peer_write("HTTP/1.0 200 OK\r\n\r\n", 19);
	RUN_UNTIL(e.c.rx_len == 19);
	close_client_first();
	env_done();
	T_EQ_INT(e.fc.stats.closed, 1);
}

static void test_proxy_refused(void)
{
	static const uint8_t refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };

	if (!env_init(true, 0))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	proxy_handshake();
	peer_write(refused, sizeof(refused));
	RUN_UNTIL(e.c.rst);
	env_done();
	T_EQ_INT(e.fc.stats.failed, 1);
	T_EQ_INT(e.fc.stats.closed, 0);
}

/* A client RST closes the upstream socket with an RST. */
static void test_client_reset(void)
{
	char buf[8];

	if (!env_init(false, 0))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	client_send("x", 1);
	peer_read(buf, 1);
	lh_rst(e.st, &e.c);
	RUN_UNTIL(peer_read_once(buf, sizeof(buf)) == -ECONNRESET);
	env_done();
	T_EQ_INT(e.fc.stats.reset, 1);
}

/* A keepalive probe among the packets captured since cap_n was reset: an
 * ACK one below what the client expects next, no data. */
static bool probe_seen(void)
{
	struct seg g;

	for (int i = 0; i < cap_n; i++)
		if (parse(i, 0, &g) == 0 && g.flags == F_ACK && g.dlen == 0 && g.seq == e.c.ack - 1)
			return true;
	return false;
}

/* The upstream closed, its FIN acknowledged, the client silent: lwIP
 * (FIN_WAIT_2) keeps no timer, so a client whose RST was lost would hold
 * the flow until the idle timeout. The flow probes the client; a live one
 * acks and is probed again, a RST (what a client's kernel without the
 * socket answers) ends it. An established idle flow is not probed. */
static void test_half_closed_probe(void)
{
	if (!env_init(false, 0))
		return;
	e.fc.half_closed_probe_ms = 1; /* any poll of the flow is past it */
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	cap_n = 0;
	for (int i = 0; i < 1500; i++) { /* the flow's poll runs every second */
		turn();
		usleep(1000);
	}
	T_CHECK(!probe_seen());
	peer_write("done", 4);
	shutdown(e.peer, SHUT_WR);
	RUN_UNTIL(e.c.fin);
	lh_ack(e.st, &e.c);
	cap_n = 0;
	RUN_UNTIL(probe_seen());
	lh_ack(e.st, &e.c); /* alive */
	cap_n = 0;
	RUN_UNTIL(probe_seen());
	T_EQ_INT(e.fc.live_count, 1);
	lh_rst(e.st, &e.c);
	RUN_UNTIL(e.fc.live_count == 0);
	env_done();
	T_EQ_INT(e.fc.stats.reset, 1);
}

/* The flow's own socket to the peer: the descriptor whose local address
 * is the peer's remote one. -1 if none. */
static int flow_upstream_fd(void)
{
	struct sockaddr_in want, got;
	socklen_t len = sizeof(want);

	if (getpeername(e.peer, (struct sockaddr *)&want, &len) < 0)
		return -1;
	for (int fd = 3; fd < 1024; fd++) {
		len = sizeof(got);
		if (fd != e.peer && getsockname(fd, (struct sockaddr *)&got, &len) == 0 &&
		    len == sizeof(got) && got.sin_family == AF_INET &&
		    got.sin_port == want.sin_port && got.sin_addr.s_addr == want.sin_addr.s_addr)
			return fd;
	}
	return -1;
}

static int int_opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The upstream socket gets keepalive with the context's times once the
 * flow has lived a second (short flows skip the system calls), not
 * before; with keepalive_off never. */
static void test_upstream_keepalive(void)
{
	for (int off = 0; off <= 1; off++) {
		uint64_t t0 = mono_ms();
		int fd;

		if (!env_init(false, 0))
			return;
		e.fc.sock.keepalive_idle_s = 3;
		e.fc.sock.keepalive_off = off;
		T_CHECK(lh_connect(e.st, &e.c));
		RUN_UNTIL(peer_accept());
		client_send("x", 1); /* the flow is relaying once this arrives */
		RUN_UNTIL(peer_read_once((char[1]){ 0 }, 1) == 1);
		fd = flow_upstream_fd();
		T_CHECK(fd >= 0);
		/* (a machine too busy to get here within 0.9 s says nothing) */
		if (mono_ms() - t0 < 900)
			T_EQ_INT(int_opt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
		for (int i = 0; i < 2500; i++) { /* the flow's poll runs every second */
			turn();
			usleep(1000);
		}
		T_EQ_INT(int_opt(fd, SOL_SOCKET, SO_KEEPALIVE), !off);
		if (!off) {
			T_EQ_INT(int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 3);
			T_EQ_INT(int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 15);
		}
		T_EQ_INT(e.fc.live_count, 1);
		lh_rst(e.st, &e.c);
		env_done();
	}
}

/* An upstream RST aborts the client's connection (RST). */
static void test_upstream_reset(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (!env_init(false, 0))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	client_send("x", 1); /* the flow is relaying once this arrives */
	RUN_UNTIL(peer_read_once((char[1]){ 0 }, 1) == 1);
	setsockopt(e.peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(e.peer);
	e.peer = -1;
	RUN_UNTIL(e.c.rst);
	env_done();
	T_EQ_INT(e.fc.stats.reset, 1);
}

/* A proxy that accepts and says nothing: the flow gives up at its
 * deadline (lwIP's poll timer checks it) and resets the client. */
static void test_connect_deadline(void)
{
	if (!env_init(true, 0))
		return;
	e.fc.connect_timeout_ms = 1; /* any check of the timer is past it */
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	RUN_UNTIL(e.c.rst);
	env_done();
	T_EQ_INT(e.fc.stats.failed, 1);
}

/* 2 MiB down to a client that acks only when the test says: the flow
 * holds at most lwIP's buffer, and every byte arrives in order. */
static void test_bulk_down_slow_client(void)
{
	enum { TOTAL = 2 * 1024 * 1024 };
	uint64_t written = 0;

	if (!env_init(false, TOTAL))
		return;
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(peer_accept());
	for (int i = 0; i < 100000 && e.c.rx_total < TOTAL; i++) {
		while (written < TOTAL) {
			uint8_t tmp[16384];
			size_t n = TOTAL - written < sizeof(tmp) ? TOTAL - written : sizeof(tmp);
			ssize_t w;

			for (size_t k = 0; k < n; k++)
				tmp[k] = (uint8_t)((written + k) * 13 + ((written + k) >> 11));
			w = write(e.peer, tmp, n);
			if (w <= 0)
				break;
			written += (uint64_t)w;
		}
		turn();
		/* Never more unacknowledged at the client than its window. */
		lh_ack(e.st, &e.c);
		if (i % 8 == 7)
			usleep(500);
	}
	T_EQ_INT(e.c.rx_total, TOTAL);
	bool exact = e.c.rx_len == TOTAL;
	for (size_t k = 0; exact && k < TOTAL; k++)
		exact = e.c.rx[k] == (uint8_t)(k * 13 + (k >> 11));
	T_CHECK(exact);
	shutdown(e.peer, SHUT_WR);
	RUN_UNTIL(e.c.fin);
	lh_ack(e.st, &e.c);
	lh_fin(e.st, &e.c);
	flow_tcp_ctx_flush(&e.fc);
	RUN_UNTIL(e.fc.live_count == 0);
	lh_ack(e.st, &e.c);
	env_done();
	T_EQ_INT(e.fc.stats.closed, 1);
	T_EQ_INT(e.fc.stats.bytes_down, TOTAL);
}

/* ---- sniffing (docs/design.md §21) ------------------------------------------ */

static size_t put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* A TLS record holding a ClientHello for sni, padded by pad bytes. */
static size_t hello_record(uint8_t *r, const char *sni, size_t pad)
{
	uint8_t *m = r + 5;
	size_t n = 4, sl = strlen(sni), ext_at;

	n += put16(m + n, 0x0303);
	memset(m + n, 7, 32);
	n += 32;
	m[n++] = 0;
	n += put16(m + n, 2);
	n += put16(m + n, 0x1301);
	m[n++] = 1;
	m[n++] = 0;
	ext_at = n;
	n += 2;
	n += put16(m + n, 0);
	n += put16(m + n, (unsigned)sl + 5);
	n += put16(m + n, (unsigned)sl + 3);
	m[n++] = 0;
	n += put16(m + n, (unsigned)sl);
	memcpy(m + n, sni, sl);
	n += sl;
	n += put16(m + n, 21);
	n += put16(m + n, (unsigned)pad);
	memset(m + n, 0, pad);
	n += pad;
	put16(m + ext_at, (unsigned)(n - ext_at - 2));
	m[0] = 1;
	m[1] = 0;
	put16(m + 2, (unsigned)(n - 4));
	r[0] = 0x16;
	r[1] = 3;
	r[2] = 1;
	put16(r + 3, (unsigned)n);
	return n + 5;
}

static struct sniffer *make_sniffer(const char *yaml, struct config **cfg)
{
	struct sniffer *sn = NULL;
	char err[256];

	*cfg = NULL;
	T_EQ_INT(config_load_buf(yaml, strlen(yaml), "t.yaml", cfg, NULL), 0);
	if (*cfg == NULL)
		return NULL;
	T_EQ_INT(sniffer_create(&(*cfg)->sniffer, &sn, err, sizeof(err)), 0);
	return sn;
}

/* A ClientHello padded past 1500 bytes, in three segments with loop
 * turns between them: the flow waits (nothing reaches the router or the
 * upstream), then routes by its name, and every byte goes upstream in
 * order. TLS has override-destination false: the name is for the rules. */
static void test_sniff_split_hello(void)
{
	static uint8_t rec[4096], got[4096];
	struct config *cfg;
	struct sniffer *sn = make_sniffer("sniffer:\n  enable: true\n  sniff:\n"
					  "    TLS: {ports: [443], override-destination: false}\n",
					  &cfg);
	size_t n = hello_record(rec, "Split.Example.Test", 1700);

	if (!env_init(false, 4096))
		return;
	e.fc.sniffer = sn;
	T_CHECK(n > 1500);
	T_CHECK(lh_connect(e.st, &e.c));
	client_send(rec, 100);
	for (int i = 0; i < 20; i++)
		turn();
	T_EQ_INT(e.decided, 0);
	client_send(rec + 100, 1000);
	turn();
	T_EQ_INT(e.decided, 0);
	client_send(rec + 1100, n - 1100);
	RUN_UNTIL(e.decided == 1);
	T_EQ_STR(e.seen_domain, "Split.Example.Test");
	T_CHECK(e.seen_keep_dst && !e.seen_fake);
	RUN_UNTIL(peer_accept());
	peer_read(got, n);
	T_EQ_MEM(got, rec, n);
	lh_rst(e.st, &e.c);
	env_done();
	sniffer_destroy(sn);
	config_free(cfg);
}

/* A client that says nothing: routed by address once the wait ends, and
 * what it sends afterwards goes through. An HTTP Host with
 * override-destination: the name replaces the address. */
static void test_sniff_wait_and_http(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: web.example.test:8080\r\n\r\n";
	char buf[64];
	struct config *cfg;
	struct sniffer *sn = make_sniffer("sniffer:\n  enable: true\n  sniff:\n"
					  "    TLS: {ports: [443]}\n    HTTP: {ports: [443]}\n",
					  &cfg);

	if (!env_init(false, 4096))
		return;
	e.fc.sniffer = sn;
	e.fc.sniff_wait_ms = 300;
	T_CHECK(lh_connect(e.st, &e.c));
	RUN_UNTIL(e.decided == 1);
	T_EQ_STR(e.seen_domain, "");
	RUN_UNTIL(peer_accept());
	client_send("late", 4);
	peer_read(buf, 4);
	T_EQ_MEM(buf, "late", 4);
	lh_rst(e.st, &e.c);
	env_done();

	if (!env_init(false, 4096))
		return;
	e.fc.sniffer = sn;
	T_CHECK(lh_connect(e.st, &e.c));
	client_send(req, strlen(req));
	RUN_UNTIL(e.decided == 1);
	T_EQ_STR(e.seen_domain, "web.example.test");
	T_CHECK(!e.seen_keep_dst && e.seen_fake);
	RUN_UNTIL(peer_accept());
	peer_read(buf, strlen(req));
	T_EQ_MEM(buf, req, strlen(req));
	lh_rst(e.st, &e.c);
	env_done();
	sniffer_destroy(sn);
	config_free(cfg);
}

int main(void)
{
	T_RUN(test_direct_relay_and_close);
	T_RUN(test_direct_upstream_closes_first);
	T_RUN(test_direct_next_address);
	T_RUN(test_proxy_early_data);
	T_RUN(test_proxy_refused);
	T_RUN(test_client_reset);
	T_RUN(test_upstream_reset);
	T_RUN(test_half_closed_probe);
	T_RUN(test_upstream_keepalive);
	T_RUN(test_connect_deadline);
	T_RUN(test_bulk_down_slow_client);
	T_RUN(test_sniff_split_hello);
	T_RUN(test_sniff_wait_and_http);
	return test_summary();
}
