/* upstream_conn against a loopback listener that plays the proxy (or the
 * DIRECT target) from the same thread, one scripted message at a time.
 *
 * The conn is driven as the daemon drives it: poll(2) for what the last
 * step asked, then upstream_conn_step() with the event's error. The test
 * takes each step only when the proxy has already acted, so nothing waits
 * on a clock; the only wait that must expire (the silent proxy) checks
 * that the conn is still waiting, whatever the machine's speed.
 *
 * Covered: SOCKS5 CONNECT and HTTP CONNECT to OPEN, with tunnel bytes that
 * came with the reply served first (pending() without readiness), then
 * both directions, shutdown and EOF; SOCKS5 behind TLS (an mbedTLS server
 * on the accepted socket, pumped in turn with the conn; its certificate
 * made with the openssl command, which this test needs) through
 * CONNECTING -> TLS -> PROXY -> OPEN, data both ways and close_notify,
 * and a certificate for another name failing in TLS; UDP ASSOCIATE's
 * relay address; DIRECT straight to OPEN; a refused reply, a garbage
 * reply, the proxy hanging up mid-handshake, a refused connect (proxy and
 * DIRECT texts), a silent proxy (the caller's timeout), a reset close
 * seen by the peer; failures sticky; the io refusing before OPEN; a
 * two-hop chain (SOCKS5 then HTTP CONNECT over it, the second hop's
 * answer arriving with the first's reply) and a refusal naming its hop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/upstream/tls.h"
#include "tun2socks/upstream/upstream.h"
#include "tun2socks/upstream/upstream_conn.h"
#include "test.h"

static struct sock_opts no_opts;

/* ---- the proxy's side --------------------------------------------------- */

/* A listener on 127.0.0.1, port chosen by the kernel. */
static int listen_lo(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) < 0) {
		T_CHECK(!"loopback listener");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Accepts with blocking reads and writes that give up after 5 s, so a
 * broken conn fails the test instead of hanging it. */
static int accept_peer(int lfd)
{
	struct timeval tv = { .tv_sec = 5 };
	int fd = accept(lfd, NULL, NULL);

	T_CHECK(fd >= 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* Reads exactly n bytes and checks them against want. */
static void peer_expect(int fd, const void *want, size_t n)
{
	uint8_t buf[512];
	size_t got = 0;

	while (got < n && got < sizeof(buf)) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	T_EQ_INT(got, n);
	if (got == n)
		T_EQ_MEM(buf, want, n);
}

/* Reads an HTTP request header (up to the blank line) into buf. */
static size_t peer_read_header(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got + 1 < cap) {
		ssize_t r = read(fd, buf + got, 1);

		if (r <= 0)
			break;
		got++;
		buf[got] = '\0';
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	buf[got] = '\0';
	return got;
}

static void peer_send(int fd, const void *data, size_t n)
{
	T_EQ_INT(write(fd, data, n), (long long)n);
}

/* ---- the caller's side -------------------------------------------------- */

struct drive {
	struct upstream_conn *c;
	int want; /* what the last step asked for */
	char why[256];
};

static int open_conn(struct drive *d, const struct upstream_cfg *up,
		     const struct upstream_proto *proto, const struct socks5_addr *target,
		     const struct sockaddr_in *direct)
{
	struct upstream_conn_spec s = {
		.name = "test#1",
		.sock = &no_opts,
		.up = up,
		.proto = proto,
		.target = target,
		.addr = (const struct sockaddr *)direct,
		.addr_len = direct ? sizeof(*direct) : 0,
	};
	int r;

	memset(d, 0, sizeof(*d));
	r = upstream_conn_open(&s, &d->c, d->why, sizeof(d->why));
	d->want = STREAM_WANT_WRITE; /* connect completes as writability */
	return r;
}

/* Waits up to ms for what the conn wants, then steps it once, as the
 * daemon's poll callback does. Returns the step's result, or 0 when the
 * wait expired (the conn is left as it was). */
static int step_once(struct drive *d, int ms)
{
	struct pollfd p = { .fd = upstream_conn_fd(d->c) };
	int r;

	p.events = (short)(((d->want & STREAM_WANT_READ) ? POLLIN : 0) |
			   ((d->want & STREAM_WANT_WRITE) ? POLLOUT : 0));
	if (poll(&p, 1, ms) == 0)
		return 0;
	/* libuv reports POLLERR as an error status (sock.h). */
	r = upstream_conn_step(d->c, (p.revents & POLLERR) ? -EBADF : 0, d->why, sizeof(d->why));
	if (r == STREAM_WANT_READ || r == STREAM_WANT_WRITE)
		d->want = r;
	return r;
}

/* Reads from the open tunnel, polling as its wants/pending say. */
static ssize_t io_read_wait(struct stream *io, int fd, void *buf, size_t len)
{
	for (int i = 0; i < 100; i++) {
		ssize_t n = io->read(io->ctx, buf, len);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (n != -EAGAIN)
			return n;
		if (stream_wants(io) & STREAM_WANT_WRITE)
			p.events |= POLLOUT;
		if (poll(&p, 1, 5000) == 0)
			break;
	}
	return -ETIMEDOUT;
}

static struct upstream_cfg proxy_cfg(const struct upstream_proto *proto,
				     const struct sockaddr_in *sa)
{
	struct upstream_cfg u;

	memset(&u, 0, sizeof(u));
	u.proto = proto;
	memcpy(&u.server, sa, sizeof(*sa));
	u.server_len = sizeof(*sa);
	snprintf(u.server_str, sizeof(u.server_str), "127.0.0.1:%u", ntohs(sa->sin_port));
	return u;
}

static const uint8_t greeting[] = { 5, 1, 0 };
static const uint8_t method_none[] = { 5, 0 };
/* CONNECT 192.0.2.7:443 */
static const uint8_t request[] = { 5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xbb };

static struct socks5_addr target(void)
{
	struct socks5_addr t;

	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 192, 0, 2, 7 }, 443);
	return t;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_socks5_open_and_relay(void)
{
	struct sockaddr_in sa;
	int lfd = listen_lo(&sa), pfd;
	struct upstream_cfg up = proxy_cfg(&upstream_socks5, &sa);
	struct socks5_addr t = target();
	struct drive d;
	struct stream io;
	char buf[64];
	uint8_t reply[10 + 6] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90 };

	T_EQ_INT(open_conn(&d, &up, NULL, &t, NULL), 0);
	if (d.c == NULL)
		return;
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_CONNECTING);
	pfd = accept_peer(lfd);
	io = upstream_conn_io(d.c);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -ENOTCONN); /* not open yet */
	T_EQ_INT(io.write(io.ctx, "x", 1), -ENOTCONN);

	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ); /* greeting sent */
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_PROXY);
	peer_expect(pfd, greeting, sizeof(greeting));
	peer_send(pfd, method_none, sizeof(method_none));
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ); /* request sent */
	peer_expect(pfd, request, sizeof(request));
	/* The reply and a server-first banner in one segment. */
	memcpy(reply + 10, "HELLO\n", 6);
	peer_send(pfd, reply, sizeof(reply));
	T_EQ_INT(step_once(&d, 5000), STREAM_DONE);
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_OPEN);
	T_EQ_INT(upstream_conn_step(d.c, 0, d.why, sizeof(d.why)), STREAM_DONE);

	/* The banner came with the reply: pending, readable without any
	 * socket event, and before anything the socket brings later. */
	T_EQ_INT(stream_pending(&io), 6);
	T_EQ_INT(io.read(io.ctx, buf, 3), 3);
	T_EQ_MEM(buf, "HEL", 3);
	T_EQ_INT(stream_pending(&io), 3);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 3);
	T_EQ_MEM(buf, "LO\n", 3);
	T_EQ_INT(stream_pending(&io), 0);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -EAGAIN);
	T_EQ_INT(stream_wants(&io), 0); /* plain socket: the obvious */

	/* Both directions, writev included. */
	struct iovec iov[2] = { { "pi", 2 }, { "ng", 2 } };
	T_EQ_INT(stream_writev(&io, iov, 2), 4);
	peer_expect(pfd, "ping", 4);
	peer_send(pfd, "pong", 4);
	T_EQ_INT(io_read_wait(&io, upstream_conn_fd(d.c), buf, sizeof(buf)), 4);
	T_EQ_MEM(buf, "pong", 4);

	/* Our FIN reaches the peer; its FIN is our EOF. */
	T_EQ_INT(stream_shutdown(&io), 0);
	T_EQ_INT(read(pfd, buf, sizeof(buf)), 0);
	shutdown(pfd, SHUT_WR);
	T_EQ_INT(io_read_wait(&io, upstream_conn_fd(d.c), buf, sizeof(buf)), 0);

	struct socks5_addr b;
	T_EQ_INT(upstream_conn_bound(d.c, &b), -ENOENT); /* CONNECT binds nothing */
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);
}

static void test_http_open(void)
{
	struct sockaddr_in sa;
	int lfd = listen_lo(&sa), pfd;
	struct upstream_cfg up = proxy_cfg(&upstream_http, &sa);
	struct socks5_addr t = target();
	struct drive d;
	struct stream io;
	char hdr[1024], buf[64];
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-x\r\n";

	T_EQ_INT(open_conn(&d, &up, NULL, &t, NULL), 0);
	if (d.c == NULL)
		return;
	pfd = accept_peer(lfd);
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_read_header(pfd, hdr, sizeof(hdr));
	T_CHECK(strncmp(hdr, "CONNECT 192.0.2.7:443 HTTP/1.1\r\n", 32) == 0);
	peer_send(pfd, ok, sizeof(ok) - 1);
	T_EQ_INT(step_once(&d, 5000), STREAM_DONE);
	io = upstream_conn_io(d.c);
	T_EQ_INT(stream_pending(&io), 11);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 11);
	T_EQ_MEM(buf, "SSH-2.0-x\r\n", 11);
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);
}

/* A chain (relay group): SOCKS5 to the first hop, which is asked for the
 * second hop's server; the second hop's HTTP CONNECT then runs over that
 * tunnel, to the target. The first hop's reply comes with the second's
 * whole answer in one segment: those bytes are read first (the layer). The
 * peer plays both hops on the one socket, as the first hop would relay. */
static void test_chain(void)
{
	struct sockaddr_in sa, far = { .sin_family = AF_INET, .sin_port = htons(3128) };
	int lfd = listen_lo(&sa), pfd;
	struct upstream_cfg hop1 = proxy_cfg(&upstream_socks5, &sa);
	struct upstream_cfg hop2 = proxy_cfg(&upstream_http, &far);
	const struct upstream_cfg *chain[] = { &hop1 };
	struct socks5_addr t = target();
	struct upstream_conn_spec sp = {
		.name = "test#2",
		.sock = &no_opts,
		.up = &hop2,
		.chain = chain,
		.n_chain = 1,
		.target = &t,
	};
	/* CONNECT 192.0.2.9:3128, hop 2's server */
	static const uint8_t req1[] = { 5, 1, 0, 1, 192, 0, 2, 9, 0x0c, 0x38 };
	static const char answers[] = "\x05\x00\x00\x01\x0a\x00\x00\x01\x1f\x90"
				      "HTTP/1.1 200 Connection established\r\n\r\nBANNER";
	struct drive d;
	struct stream io;
	char hdr[1024], buf[64];

	far.sin_addr.s_addr = htonl(0xc0000209);
	hop2 = proxy_cfg(&upstream_http, &far);
	memset(&d, 0, sizeof(d));
	T_EQ_INT(upstream_conn_open(&sp, &d.c, d.why, sizeof(d.why)), 0);
	if (d.c == NULL)
		return;
	d.want = STREAM_WANT_WRITE;
	pfd = accept_peer(lfd); /* the socket goes to hop 1 */
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, greeting, sizeof(greeting));
	peer_send(pfd, method_none, sizeof(method_none));
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, req1, sizeof(req1));
	peer_send(pfd, answers, sizeof(answers) - 1);
	/* hop 1 done, hop 2 sends CONNECT and finds its answer waiting */
	T_EQ_INT(step_once(&d, 5000), STREAM_DONE);
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_OPEN);
	peer_read_header(pfd, hdr, sizeof(hdr));
	T_CHECK(strncmp(hdr, "CONNECT 192.0.2.7:443 HTTP/1.1\r\n", 32) == 0);
	io = upstream_conn_io(d.c);
	T_EQ_INT(stream_pending(&io), 6);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 6);
	T_EQ_MEM(buf, "BANNER", 6);
	T_EQ_INT(io.write(io.ctx, "hi", 2), 2);
	peer_expect(pfd, "hi", 2);
	peer_send(pfd, "yo", 2);
	T_EQ_INT(io_read_wait(&io, upstream_conn_fd(d.c), buf, sizeof(buf)), 2);
	T_EQ_MEM(buf, "yo", 2);
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);

	/* hop 1 refuses the hop-2 server: the reason names the hop */
	lfd = listen_lo(&sa);
	hop1 = proxy_cfg(&upstream_socks5, &sa);
	T_EQ_INT(upstream_conn_open(&sp, &d.c, d.why, sizeof(d.why)), 0);
	if (d.c == NULL)
		return;
	d.want = STREAM_WANT_WRITE;
	pfd = accept_peer(lfd);
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, greeting, sizeof(greeting));
	peer_send(pfd, method_none, sizeof(method_none));
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, req1, sizeof(req1));
	peer_send(pfd, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	T_CHECK(step_once(&d, 5000) < 0);
	T_CHECK(strstr(d.why, "(hop 1/2)") != NULL);
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);
}

static void test_udp_associate_bound(void)
{
	struct sockaddr_in sa;
	int lfd = listen_lo(&sa), pfd;
	struct upstream_cfg up = proxy_cfg(&upstream_socks5, &sa);
	struct socks5_addr any, b;
	struct drive d;
	static const uint8_t assoc[] = { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t reply[] = { 5, 0, 0, 1, 10, 9, 8, 7, 0x13, 0x88 };

	socks5_addr_from_ipv4(&any, (const uint8_t[]){ 0, 0, 0, 0 }, 0);
	T_EQ_INT(open_conn(&d, &up, &upstream_socks5_udp, &any, NULL), 0);
	if (d.c == NULL)
		return;
	pfd = accept_peer(lfd);
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, greeting, sizeof(greeting));
	peer_send(pfd, method_none, sizeof(method_none));
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, assoc, sizeof(assoc));
	T_EQ_INT(upstream_conn_bound(d.c, &b), -ENOENT); /* not yet */
	peer_send(pfd, reply, sizeof(reply));
	T_EQ_INT(step_once(&d, 5000), STREAM_DONE);
	T_EQ_INT(upstream_conn_bound(d.c, &b), 0);
	T_EQ_INT(b.atyp, SOCKS5_ATYP_IPV4);
	T_EQ_MEM(b.u.v4, ((const uint8_t[]){ 10, 9, 8, 7 }), 4);
	T_EQ_INT(b.port, 5000);
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);
}

static void test_direct(void)
{
	struct sockaddr_in sa;
	int lfd = listen_lo(&sa), pfd;
	struct drive d;
	struct stream io;
	char buf[16];

	T_EQ_INT(open_conn(&d, NULL, NULL, NULL, &sa), 0);
	if (d.c == NULL)
		return;
	pfd = accept_peer(lfd);
	T_EQ_INT(step_once(&d, 5000), STREAM_DONE); /* no handshake */
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_OPEN);
	io = upstream_conn_io(d.c);
	T_EQ_INT(io.write(io.ctx, "abc", 3), 3);
	peer_expect(pfd, "abc", 3);
	peer_send(pfd, "de", 2);
	T_EQ_INT(io_read_wait(&io, upstream_conn_fd(d.c), buf, sizeof(buf)), 2);
	/* A reset close: the peer sees RST, not FIN. */
	upstream_conn_close(d.c, true);
	T_EQ_INT(read(pfd, buf, sizeof(buf)), -1);
	T_EQ_INT(errno, ECONNRESET);
	close(pfd);
	close(lfd);
}

/* ---- a SOCKS5 proxy behind TLS --------------------------------------------- */

static char cert_dir[64], srv_crt[128], srv_key[128];

/* A self-signed certificate for proxy.test and 127.0.0.1. */
static int make_cert(void)
{
	char cmd[1024];

	if (system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_upstream_conn: the openssl command-line tool is needed to "
				"make the TLS test's certificate and was not found in PATH\n");
		return -1;
	}
	snprintf(cert_dir, sizeof(cert_dir), "/tmp/t2s-test-conn-XXXXXX");
	if (mkdtemp(cert_dir) == NULL)
		return -1;
	snprintf(srv_crt, sizeof(srv_crt), "%s/srv.crt", cert_dir);
	snprintf(srv_key, sizeof(srv_key), "%s/srv.key", cert_dir);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		 "-nodes -keyout srv.key -out srv.crt -subj /CN=proxy.test -days 2 "
		 "-addext subjectAltName=DNS:proxy.test,IP:127.0.0.1 >openssl.log 2>&1",
		 cert_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void remove_cert(void)
{
	char cmd[256];

	if (cert_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cert_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", cert_dir);
}

/* The proxy's side: a TLS server that then plays SOCKS5, one
 * non-blocking step at a time. */
struct tls_proxy {
	int fd;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int stage; /* 0 handshake, 1 greeting, 2 request, 3 open, -1 failed */
	uint8_t in[64];
	size_t in_len;
};

static int tp_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : -1;
	return (int)n;
}

static int tp_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *)ctx, buf, len, 0);

	if (n < 0)
		return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : -1;
	return (int)n;
}

static void tp_init(struct tls_proxy *t, int fd)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	mbedtls_ssl_init(&t->ssl);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->crt);
	mbedtls_pk_init(&t->key);
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	T_EQ_INT(psa_crypto_init(), PSA_SUCCESS);
	T_EQ_INT(mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, NULL, 0), 0);
	T_EQ_INT(mbedtls_x509_crt_parse_file(&t->crt, srv_crt), 0);
	T_EQ_INT(
		mbedtls_pk_parse_keyfile(&t->key, srv_key, NULL, mbedtls_ctr_drbg_random, &t->drbg),
		0);
	T_EQ_INT(mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
					     MBEDTLS_SSL_TRANSPORT_STREAM,
					     MBEDTLS_SSL_PRESET_DEFAULT),
		 0);
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	T_EQ_INT(mbedtls_ssl_conf_own_cert(&t->conf, &t->crt, &t->key), 0);
	T_EQ_INT(mbedtls_ssl_setup(&t->ssl, &t->conf), 0);
	mbedtls_ssl_set_bio(&t->ssl, &t->fd, tp_send, tp_recv, NULL);
}

static void tp_free(struct tls_proxy *t)
{
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->crt);
	mbedtls_pk_free(&t->key);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	close(t->fd);
}

/* Reads until in holds n bytes: true then. */
static bool tp_fill(struct tls_proxy *t, size_t n)
{
	while (t->in_len < n) {
		int r = mbedtls_ssl_read(&t->ssl, t->in + t->in_len, n - t->in_len);

		if (r <= 0)
			return false;
		t->in_len += (size_t)r;
	}
	return true;
}

static void tp_write(struct tls_proxy *t, const void *data, size_t n)
{
	for (int i = 0; i < 1000 && n > 0; i++) {
		int r = mbedtls_ssl_write(&t->ssl, data, n);

		if (r > 0) {
			data = (const uint8_t *)data + r;
			n -= (size_t)r;
		}
	}
	T_EQ_INT(n, 0);
}

/* One non-blocking turn of the proxy's script. */
static void tp_step(struct tls_proxy *t)
{
	static const uint8_t reply[] = { 5,    0,    0,   1,   10,  0,   0,   1,
					 0x1f, 0x90, 'H', 'E', 'L', 'L', 'O', '\n' };
	int r;

	if (t->stage == 0) {
		r = mbedtls_ssl_handshake(&t->ssl);
		if (r == 0)
			t->stage = 1;
		else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
			t->stage = -1;
	}
	if (t->stage == 1 && tp_fill(t, sizeof(greeting))) {
		T_EQ_MEM(t->in, greeting, sizeof(greeting));
		t->in_len = 0;
		tp_write(t, method_none, sizeof(method_none));
		t->stage = 2;
	}
	if (t->stage == 2 && tp_fill(t, sizeof(request))) {
		T_EQ_MEM(t->in, request, sizeof(request));
		t->in_len = 0;
		/* The reply and a banner in one record. */
		tp_write(t, reply, sizeof(reply));
		t->stage = 3;
	}
}

/* Pumps the conn and the proxy in turn until the conn is open or failed;
 * returns the conn's last step. */
static int tls_pump(struct drive *d, struct tls_proxy *t)
{
	int r = STREAM_WANT_WRITE;

	for (int i = 0; i < 2000; i++) {
		tp_step(t);
		r = step_once(d, 20);
		if (r == STREAM_DONE || r < 0)
			return r;
	}
	return r;
}

static struct tls_cfg *tls_ctx(const char *name, bool skip)
{
	struct tls_opts o = { .server_name = name, .ca_file = srv_crt, .skip_verify = skip };
	struct tls_cfg *cfg = NULL;
	char err[256];

	if (tls_cfg_create(&o, &cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "tls_cfg_create: %s\n", err);
	T_CHECK(cfg != NULL);
	return cfg;
}

static void test_socks5_over_tls(void)
{
	struct sockaddr_in sa;
	int lfd;
	struct upstream_cfg up;
	struct socks5_addr t = target();
	struct tls_proxy tp;
	struct drive d;
	struct stream io;
	char buf[64];

	if (make_cert() < 0) {
		T_CHECK(!"a certificate for the TLS proxy (openssl)");
		return;
	}
	lfd = listen_lo(&sa);
	up = proxy_cfg(&upstream_socks5, &sa);
	up.tls = true;
	up.tls_ctx = tls_ctx("proxy.test", true);
	if (up.tls_ctx == NULL || open_conn(&d, &up, NULL, &t, NULL) < 0)
		return;
	tp_init(&tp, accept_peer(lfd));
	T_EQ_INT(tls_pump(&d, &tp), STREAM_DONE);
	T_EQ_INT(tp.stage, 3);
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_OPEN);

	/* The banner came in the reply's record: pending, no event needed. */
	io = upstream_conn_io(d.c);
	T_EQ_INT(stream_pending(&io), 6);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 6);
	T_EQ_MEM(buf, "HELLO\n", 6);

	/* Both directions through TLS. */
	T_EQ_INT(io.write(io.ctx, "ping", 4), 4);
	for (int i = 0; i < 1000 && !tp_fill(&tp, 4); i++)
		usleep(1000);
	T_EQ_MEM(tp.in, "ping", 4);
	tp_write(&tp, "pong", 4);
	T_EQ_INT(io_read_wait(&io, upstream_conn_fd(d.c), buf, sizeof(buf)), 4);
	T_EQ_MEM(buf, "pong", 4);

	/* shutdown: close_notify, then FIN. */
	T_EQ_INT(stream_shutdown(&io), 0);
	int r = 0;
	for (int i = 0; i < 1000; i++) {
		r = mbedtls_ssl_read(&tp.ssl, (unsigned char *)buf, sizeof(buf));
		if (r != MBEDTLS_ERR_SSL_WANT_READ)
			break;
		usleep(1000);
	}
	T_EQ_INT(r, MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	upstream_conn_close(d.c, false);
	tp_free(&tp);
	tls_cfg_free(up.tls_ctx);
	close(lfd);
}

/* A certificate that is not for the name we asked: FAILED in TLS. */
static void test_tls_wrong_name(void)
{
	struct sockaddr_in sa;
	int lfd, r;
	struct upstream_cfg up;
	struct socks5_addr t = target();
	struct tls_proxy tp;
	struct drive d;

	if (cert_dir[0] == '\0')
		return; /* test_socks5_over_tls said why */
	lfd = listen_lo(&sa);
	up = proxy_cfg(&upstream_socks5, &sa);
	up.tls = true;
	up.tls_ctx = tls_ctx("other.test", false);
	if (up.tls_ctx == NULL || open_conn(&d, &up, NULL, &t, NULL) < 0)
		return;
	tp_init(&tp, accept_peer(lfd));
	r = tls_pump(&d, &tp);
	T_EQ_INT(r, -EACCES);
	T_CHECK(strncmp(d.why, "TLS to the proxy failed: ", 25) == 0);
	T_EQ_INT(upstream_conn_failed_in(d.c), UPSTREAM_CONN_TLS);
	upstream_conn_close(d.c, false);
	tp_free(&tp);
	tls_cfg_free(up.tls_ctx);
	close(lfd);
}

/* Runs the handshake up to the reply, which the proxy answers with bytes
 * (or hangs up when reply is NULL). Returns the step that follows. */
static int socks5_reply_with(struct drive *d, const void *reply, size_t n, int *lfd, int *pfd)
{
	struct sockaddr_in sa;
	static struct upstream_cfg up;
	struct socks5_addr t = target();

	*lfd = listen_lo(&sa);
	up = proxy_cfg(&upstream_socks5, &sa);
	if (open_conn(d, &up, NULL, &t, NULL) < 0)
		return 1;
	*pfd = accept_peer(*lfd);
	T_EQ_INT(step_once(d, 5000), STREAM_WANT_READ);
	peer_expect(*pfd, greeting, sizeof(greeting));
	if (reply == NULL) {
		close(*pfd);
		*pfd = -1;
	} else {
		peer_send(*pfd, reply, n);
	}
	return step_once(d, 5000);
}

static void test_failures(void)
{
	struct drive d;
	int lfd, pfd, r;

	/* Refused: the proxy's reply code, its errno, its text; sticky. */
	static const uint8_t refused[] = { 5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	r = socks5_reply_with(&d, refused, 2, &lfd, &pfd);
	T_EQ_INT(r, STREAM_WANT_READ);
	peer_expect(pfd, request, sizeof(request));
	peer_send(pfd, refused + 2, sizeof(refused) - 2);
	T_EQ_INT(step_once(&d, 5000), -ECONNREFUSED);
	T_CHECK(strstr(d.why, "proxy refused CONNECT, reply 0x05") != NULL);
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_FAILED);
	T_EQ_INT(upstream_conn_failed_in(d.c), UPSTREAM_CONN_PROXY);
	T_EQ_INT(upstream_conn_step(d.c, 0, d.why, sizeof(d.why)), -ECONNREFUSED);
	struct stream io = upstream_conn_io(d.c);
	char buf[8];
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -ECONNREFUSED);
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);

	/* Garbage instead of a method selection. */
	r = socks5_reply_with(&d, "HTTP/1.0 400 Bad\r\n\r\n", 20, &lfd, &pfd);
	T_CHECK(r < 0);
	T_CHECK(strstr(d.why, "malformed") != NULL);
	T_EQ_INT(upstream_conn_failed_in(d.c), UPSTREAM_CONN_PROXY);
	upstream_conn_close(d.c, false);
	close(pfd);
	close(lfd);

	/* The proxy hangs up mid-handshake. */
	r = socks5_reply_with(&d, NULL, 0, &lfd, &pfd);
	T_EQ_INT(r, -ECONNRESET);
	T_CHECK(strstr(d.why, "closed the connection during the handshake") != NULL);
	upstream_conn_close(d.c, false);
	close(lfd);
}

static void test_connect_refused(void)
{
	struct sockaddr_in sa;
	int lfd = listen_lo(&sa), r;
	struct upstream_cfg up;
	struct socks5_addr t = target();
	struct drive d;

	close(lfd); /* nobody listens on that port now */
	up = proxy_cfg(&upstream_socks5, &sa);
	T_EQ_INT(open_conn(&d, &up, NULL, &t, NULL), 0);
	if (d.c != NULL) {
		r = step_once(&d, 5000);
		T_EQ_INT(r, -ECONNREFUSED);
		T_EQ_STR(d.why, "cannot connect to the proxy: Connection refused");
		T_EQ_INT(upstream_conn_failed_in(d.c), UPSTREAM_CONN_CONNECTING);
		upstream_conn_close(d.c, false);
	}
	T_EQ_INT(open_conn(&d, NULL, NULL, NULL, &sa), 0);
	if (d.c != NULL) {
		T_EQ_INT(step_once(&d, 5000), -ECONNREFUSED);
		T_EQ_STR(d.why, "cannot connect: Connection refused");
		upstream_conn_close(d.c, false);
	}
	/* An address family the kernel has no socket for: open fails, the
	 * reason says so, nothing to close. */
	struct sockaddr bad = { .sa_family = AF_APPLETALK };
	struct upstream_conn_spec s = {
		.name = "test#2", .sock = &no_opts, .addr = &bad, .addr_len = sizeof(bad)
	};
	struct upstream_conn *c = (struct upstream_conn *)&s;
	char why[128];
	T_CHECK(upstream_conn_open(&s, &c, why, sizeof(why)) < 0);
	T_CHECK(c == NULL);
	T_CHECK(strncmp(why, "cannot open upstream socket: ", 29) == 0);
}

/* A proxy that accepts and never answers: the conn waits in PROXY for
 * readability for as long as the caller lets it; the caller's deadline
 * names the phase from upstream_conn_state(). */
static void test_silent_proxy(void)
{
	struct sockaddr_in sa;
	int lfd = listen_lo(&sa), pfd;
	struct upstream_cfg up = proxy_cfg(&upstream_socks5, &sa);
	struct socks5_addr t = target();
	struct drive d;

	T_EQ_INT(open_conn(&d, &up, NULL, &t, NULL), 0);
	if (d.c == NULL)
		return;
	pfd = accept_peer(lfd);
	T_EQ_INT(step_once(&d, 5000), STREAM_WANT_READ);
	peer_expect(pfd, greeting, sizeof(greeting));
	T_EQ_INT(step_once(&d, 200), 0); /* nothing came: still waiting */
	T_EQ_INT(upstream_conn_state(d.c), UPSTREAM_CONN_PROXY);
	T_EQ_INT(d.want, STREAM_WANT_READ);
	T_EQ_STR(upstream_conn_state_name(upstream_conn_state(d.c)), "PROXY");
	upstream_conn_close(d.c, true);
	close(pfd);
	close(lfd);
}

int main(void)
{
	if (getenv("T2S_TEST_DEBUG"))
		log_set_level(LOG_DEBUG);
	T_RUN(test_socks5_open_and_relay);
	T_RUN(test_http_open);
	T_RUN(test_chain);
	T_RUN(test_udp_associate_bound);
	T_RUN(test_direct);
	T_RUN(test_failures);
	T_RUN(test_connect_refused);
	T_RUN(test_silent_proxy);
	T_RUN(test_socks5_over_tls);
	T_RUN(test_tls_wrong_name);
	remove_cert();
	return test_summary();
}
