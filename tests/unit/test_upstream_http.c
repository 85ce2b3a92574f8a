/* The HTTP CONNECT connector over a scripted byte stream and over a real
 * socketpair: success with tunnel bytes in the same read, replies split at
 * every size, interim 1xx replies, auth, and every failure with its text. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun2socks/upstream/http.h"
#include "tun2socks/base/sock.h"
#include "fake_stream.h"
#include "test.h"
#include "tun2socks/upstream/upstream.h"

static struct upstream_cfg cfg_noauth, cfg_auth;
static void *st; /* one connector state, upstream_http.state_size bytes */

static int run(const struct upstream_cfg *cfg, const struct socks5_addr *t, struct fake_stream *f)
{
	struct stream io = { .read = fake_stream_read, .write = fake_stream_write, .ctx = f };
	int r = 0;

	upstream_http.init(st, cfg, t);
	for (int i = 0; i < 100000; i++) {
		r = upstream_http.step(st, &io);
		if (r == STREAM_DONE || r < 0)
			return r;
	}
	return r;
}

static int run_str(const struct upstream_cfg *cfg, const char *reply)
{
	struct socks5_addr t;
	struct fake_stream f = { .rx = (const uint8_t *)reply,
				 .rx_len = strlen(reply),
				 .chunk = 3 };

	socks5_addr_from_domain(&t, "example.test", 443);
	return run(cfg, &t, &f);
}

static void test_success_leftover(void)
{
	static const char reply[] = "HTTP/1.1 200 Connection established\r\n"
				    "Proxy-Agent: test\r\n\r\nSSH-2.0-banner\r\n";
	static const char want_req[] = "CONNECT example.test:443 HTTP/1.1\r\n"
				       "Host: example.test:443\r\n\r\n";
	struct socks5_addr t;

	socks5_addr_from_domain(&t, "example.test", 443);
	for (size_t chunk = 0; chunk <= 9; chunk++) {
		struct fake_stream f = { .rx = (const uint8_t *)reply,
					 .rx_len = sizeof(reply) - 1,
					 .chunk = chunk,
					 .stall_writes = 2,
					 .write_max = 5 };
		const uint8_t *extra;

		T_EQ_INT(run(&cfg_noauth, &t, &f), STREAM_DONE);
		T_EQ_INT(f.tx_len, sizeof(want_req) - 1);
		T_EQ_MEM(f.tx, want_req, sizeof(want_req) - 1);
		size_t n = upstream_http.leftover(st, &extra);
		/* chunked reads stop exactly at the header's end or later */
		T_CHECK(n <= 16);
		T_EQ_MEM(extra, "SSH-2.0-banner\r\n", n);
		/* the rest of the banner is still in the stream */
		T_EQ_INT(f.rx_len - f.rx_off, 16 - n);
	}
	/* all in one read: the whole banner is leftover */
	struct fake_stream g = { .rx = (const uint8_t *)reply, .rx_len = sizeof(reply) - 1 };
	const uint8_t *extra;
	T_EQ_INT(run(&cfg_noauth, &t, &g), STREAM_DONE);
	T_EQ_INT(upstream_http.leftover(st, &extra), 16);
	T_EQ_MEM(extra, "SSH-2.0-banner\r\n", 16);
	/* DONE is final */
	struct stream io = { .read = fake_stream_read, .write = fake_stream_write, .ctx = &g };
	T_EQ_INT(upstream_http.step(st, &io), STREAM_DONE);
}

/* After the CONNECT request the machine polls rather than reads: the
 * response needs the proxy to reach the target first, so a read right
 * after the send is an EAGAIN per connection. */
static void test_request_then_poll(void)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\n\r\n";
	struct socks5_addr t;
	struct fake_stream f = { .rx = (const uint8_t *)reply, .rx_len = sizeof(reply) - 1 };
	struct stream io = fake_stream_io(&f);

	socks5_addr_from_domain(&t, "example.test", 443);
	upstream_http.init(st, &cfg_noauth, &t);
	T_EQ_INT(upstream_http.step(st, &io), STREAM_WANT_READ);
	T_EQ_INT(f.reads, 0);
	T_CHECK(f.tx_len > 0);
	T_EQ_INT(upstream_http.step(st, &io), STREAM_DONE);
	T_EQ_INT(f.reads, 1);
}

static void test_success_plain(void)
{
	struct socks5_addr t;
	const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const char reply[] = "HTTP/1.0 200\n\n";
	struct fake_stream f = { .rx = (const uint8_t *)reply, .rx_len = sizeof(reply) - 1 };
	const uint8_t *extra;

	socks5_addr_from_ipv6(&t, v6, 22);
	T_EQ_INT(run(&cfg_auth, &t, &f), STREAM_DONE);
	f.tx[f.tx_len] = '\0';
	T_EQ_STR((const char *)f.tx,
		 "CONNECT [2001:db8::2]:22 HTTP/1.1\r\nHost: [2001:db8::2]:22\r\n"
		 "Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n");
	T_EQ_INT(upstream_http.leftover(st, &extra), 0);

	/* interim replies are skipped (all in one read: tail comes along) */
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n"
				      "HTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
				      "HTTP/1.1 200 OK\r\n\r\ntail";
	struct fake_stream g = { .rx = (const uint8_t *)interim, .rx_len = sizeof(interim) - 1 };
	T_EQ_INT(run(&cfg_noauth, &t, &g), STREAM_DONE);
	T_EQ_INT(upstream_http.leftover(st, &extra), 4);
	T_EQ_MEM(extra, "tail", 4);
}

static void test_refusals(void)
{
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 407 Proxy Authentication Required\r\n"
				      "Proxy-Authenticate: Basic realm=\"p\"\r\n"
				      "Content-Length: 5\r\n\r\nnope!"),
		 -EACCES);
	T_EQ_STR(upstream_http.error(st),
		 "proxy authentication required (HTTP 407 Proxy Authentication Required): "
		 "give user:pass in the proxy URL");
	T_EQ_INT(run_str(&cfg_auth, "HTTP/1.1 407\r\n\r\n"), -EACCES);
	T_EQ_STR(upstream_http.error(st), "proxy authentication required (HTTP 407): "
					  "the proxy rejected the configured user:pass");

	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 403 Forbidden\r\n\r\n"), -EACCES);
	T_EQ_STR(upstream_http.error(st), "proxy refused CONNECT: HTTP 403 Forbidden");
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.0 502 Bad Gateway\r\n\r\n"), -ECONNREFUSED);
	T_EQ_STR(upstream_http.error(st), "proxy refused CONNECT: HTTP 502 Bad Gateway");
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 504\r\n\r\n"), -ETIMEDOUT);
	T_EQ_STR(upstream_http.error(st), "proxy refused CONNECT: HTTP 504");
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 101 Switching Protocols\r\n\r\n"), -EPROTO);
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 301 Moved\r\nLocation: /\r\n\r\n"), -EPROTO);
	T_EQ_STR(upstream_http.error(st), "proxy refused CONNECT: HTTP 301 Moved");
}

static void test_failures(void)
{
	struct socks5_addr t;

	/* garbage: a SOCKS5 server, a TLS server, a banner */
	T_EQ_INT(run_str(&cfg_noauth, "\x05\xff"), -EPROTO);
	T_EQ_STR(upstream_http.error(st), "not an HTTP response");
	T_EQ_INT(run_str(&cfg_noauth, "SSH-2.0-x\r\n"), -EPROTO);
	T_EQ_STR(upstream_http.error(st), "not an HTTP response");
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 20x\r\n\r\n"), -EPROTO);
	T_EQ_STR(upstream_http.error(st), "malformed HTTP response from proxy");

	/* EOF inside the header */
	T_EQ_INT(run_str(&cfg_noauth, "HTTP/1.1 200 OK\r\n"), -ECONNRESET);
	T_EQ_STR(upstream_http.error(st), "proxy closed the connection during the handshake");
	T_EQ_INT(run_str(&cfg_noauth, ""), -ECONNRESET);

	/* 16 KiB + 1 of header */
	size_t big = HTTP_HEADER_MAX + 1;
	char *reply = malloc(big + 1);
	const char *head = "HTTP/1.1 200 OK\r\nX: ";
	memcpy(reply, head, strlen(head));
	memset(reply + strlen(head), 'a', big - strlen(head) - 4);
	memcpy(reply + big - 4, "\r\n\r\n", 5);
	T_EQ_INT(run_str(&cfg_noauth, reply), -EMSGSIZE);
	T_EQ_STR(upstream_http.error(st), "response header exceeds 16 KiB");
	/* exactly 16 KiB is fine */
	memset(reply + strlen(head), 'a', big - strlen(head) - 5);
	memcpy(reply + big - 5, "\r\n\r\n", 5);
	T_EQ_INT(run_str(&cfg_noauth, reply), STREAM_DONE);
	/* an endless stream of 100 Continue adds up to the same limit */
	size_t cont = strlen("HTTP/1.1 100 Continue\r\n\r\n");
	char *many = malloc(cont * 1000 + 1);
	for (size_t i = 0; i < 1000; i++)
		memcpy(many + i * cont, "HTTP/1.1 100 Continue\r\n\r\n", cont);
	many[cont * 1000] = '\0';
	T_EQ_INT(run_str(&cfg_noauth, many), -EMSGSIZE);
	free(many);
	free(reply);

	/* the transport fails */
	socks5_addr_from_domain(&t, "example.test", 443);
	struct fake_stream f = { .write_err = -EPIPE };
	T_EQ_INT(run(&cfg_noauth, &t, &f), -EPIPE);
	T_EQ_STR(upstream_http.error(st), "send to proxy failed: Broken pipe");
	/* failures are sticky */
	struct stream io = { .read = fake_stream_read, .write = fake_stream_write, .ctx = &f };
	T_EQ_INT(upstream_http.step(st, &io), -EPIPE);
	const uint8_t *extra;
	T_EQ_INT(upstream_http.leftover(st, &extra), 0);

	/* a silent proxy: the machine waits (the flow's timeout ends it) */
	struct fake_stream quiet = { .rx = NULL };
	T_EQ_INT(run(&cfg_noauth, &t, &quiet), STREAM_WANT_READ);
	T_EQ_INT(upstream_http.leftover(st, &extra), 0);

	/* a target that cannot be written into a request line */
	struct fake_stream any = { .rx = NULL };
	socks5_addr_from_domain(&t, "bad name", 80);
	T_EQ_INT(run(&cfg_noauth, &t, &any), -EINVAL);
	T_CHECK(strstr(upstream_http.error(st), "cannot encode CONNECT request") != NULL);
	T_EQ_INT(any.tx_len, 0);
}

/* The same over a real non-blocking socketpair, through sock_io_*. */
static void test_socketpair(void)
{
	int sv[2];
	char buf[512];
	struct socks5_addr t;
	struct stream io = sock_stream(&sv[0]);
	static const char reply[] = "HTTP/1.1 200 OK\r\n\r\nearly";
	const uint8_t *extra;
	int r;

	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 198, 51, 100, 1 }, 25);
	upstream_http.init(st, &cfg_noauth, &t);
	T_EQ_INT(upstream_http.step(st, &io), STREAM_WANT_READ);
	ssize_t n = read(sv[1], buf, sizeof(buf) - 1);
	T_CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	T_EQ_STR(buf, "CONNECT 198.51.100.1:25 HTTP/1.1\r\nHost: 198.51.100.1:25\r\n\r\n");
	T_EQ_INT(upstream_http.step(st, &io), STREAM_WANT_READ);
	T_EQ_INT(write(sv[1], reply, 10), 10);
	T_EQ_INT(upstream_http.step(st, &io), STREAM_WANT_READ);
	T_EQ_INT(write(sv[1], reply + 10, sizeof(reply) - 11), sizeof(reply) - 11);
	r = upstream_http.step(st, &io);
	T_EQ_INT(r, STREAM_DONE);
	T_EQ_INT(upstream_http.leftover(st, &extra), 5);
	T_EQ_MEM(extra, "early", 5);

	/* the proxy resets: the error names it */
	upstream_http.init(st, &cfg_noauth, &t);
	T_EQ_INT(upstream_http.step(st, &io), STREAM_WANT_READ);
	close(sv[1]);
	T_EQ_INT(upstream_http.step(st, &io), -ECONNRESET);
	close(sv[0]);
}

int main(void)
{
	st = malloc(upstream_http.state_size);
	cfg_noauth.proto = &upstream_http;
	strcpy(cfg_noauth.server_str, "proxy.test:3128");
	cfg_auth = cfg_noauth;
	cfg_auth.has_auth = 1;
	strcpy(cfg_auth.user, "user");
	strcpy(cfg_auth.pass, "secret");
	T_RUN(test_success_leftover);
	T_RUN(test_request_then_poll);
	T_RUN(test_success_plain);
	T_RUN(test_refusals);
	T_RUN(test_failures);
	T_RUN(test_socketpair);
	free(st);
	return test_summary();
}
