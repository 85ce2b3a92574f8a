/* The TLS layer against an mbedTLS server in the same thread, over a
 * non-blocking socketpair, both pumped by hand. Certificates (a CA, a
 * second CA, a server cert for proxy.test + 127.0.0.1, a CN-only cert for
 * 127.0.0.1) are made at run time with the openssl CLI, which this test
 * needs: without it, it fails and says so.
 *
 * Covered: handshake with TLS 1.2 and 1.3; SNI sent for names, not for IP
 * literals; IP literals verified against SAN and CN; wrong CA, wrong name
 * and skip_verify; 4 MiB each way with partial lower reads and writes and
 * random buffer sizes, byte-exact; decrypted bytes pending without socket
 * readiness; close_notify both ways and a bare TCP EOF; a TLS 1.2
 * renegotiation request refused while the socket is full (the alert must
 * not swallow the next write); HTTP CONNECT run over the layer; errors for
 * a non-TLS server, a hang-up, and bad configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "tun2socks/base/sock.h"
#include "test.h"
#include "tun2socks/upstream/tls.h"
#include "tun2socks/upstream/upstream.h"

static char dir[64];
static char ca_crt[128], other_crt[128], srv_crt[128], srv_key[128], cnip_crt[128], cnip_key[128];

static unsigned xorshift(unsigned *s)
{
	unsigned x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* --- certificates -------------------------------------------------------- */

static int make_certs(void)
{
	char cmd[4096];

	if (system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_tls: FAILED: the openssl command-line tool is needed to "
				"generate the test certificates and was not found in PATH\n");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/t2s-test-tls-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", dir);
	snprintf(other_crt, sizeof(other_crt), "%s/other.crt", dir);
	snprintf(srv_crt, sizeof(srv_crt), "%s/srv.crt", dir);
	snprintf(srv_key, sizeof(srv_key), "%s/srv.key", dir);
	snprintf(cnip_crt, sizeof(cnip_crt), "%s/cnip.crt", dir);
	snprintf(cnip_key, sizeof(cnip_key), "%s/cnip.key", dir);
#define EC "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
#define CA_EXT \
	"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >openssl.log 2>&1 && set -e\n"
		 "openssl req -x509 " EC
		 " -keyout ca.key -out ca.crt -subj '/CN=t2s test CA' -days 2 " CA_EXT "\n"
		 "openssl req -x509 " EC
		 " -keyout other.key -out other.crt -subj '/CN=other CA' -days 2 " CA_EXT "\n"
		 "openssl req " EC " -keyout srv.key -out srv.csr -subj /CN=proxy.test\n"
		 "printf 'subjectAltName=DNS:proxy.test,IP:127.0.0.1\\n"
		 "basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
		 "extendedKeyUsage=serverAuth\\n' >srv.ext\n"
		 "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		 "-extfile srv.ext -out srv.crt\n"
		 "openssl req " EC " -keyout cnip.key -out cnip.csr -subj /CN=127.0.0.1\n"
		 "openssl x509 -req -in cnip.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		 "-out cnip.crt\n",
		 dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls: FAILED: openssl could not make the certificates; "
				"its output:\n");
		snprintf(cmd, sizeof(cmd), "cat '%s/openssl.log' >&2", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log)\n");
		return -1;
	}
	return 0;
}

/* --- the lower stream: a socket with optional caps and a write block ---- */

struct lim {
	int fd;
	size_t max; /* each call moves at most 1..max bytes; 0 = any */
	unsigned rng;
	bool block_writes;   /* writes return -EAGAIN */
	unsigned long reads; /* lower read calls */
};

static ssize_t lim_read(void *ctx, void *buf, size_t len)
{
	struct lim *l = ctx;

	l->reads++;
	if (l->max) {
		size_t cap = 1 + xorshift(&l->rng) % l->max;

		len = len < cap ? len : cap;
	}
	return sock_io_read(&l->fd, buf, len);
}

static ssize_t lim_write(void *ctx, const void *buf, size_t len)
{
	struct lim *l = ctx;

	if (l->block_writes)
		return -EAGAIN;
	if (l->max) {
		size_t cap = 1 + xorshift(&l->rng) % l->max;

		len = len < cap ? len : cap;
	}
	return sock_io_write(&l->fd, buf, len);
}

/* --- an mbedTLS server ---------------------------------------------------- */

struct server {
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_ticket_context ticket;
	char sni[256];
	int sni_calls;
};

static int sni_cb(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
	struct server *s = p;

	(void)ssl;
	s->sni_calls++;
	snprintf(s->sni, sizeof(s->sni), "%.*s", (int)len, (const char *)name);
	return 0;
}

enum { V_ANY = 0, V_12 = 12, V_13 = 13 };

static void server_init(struct server *s, int fd, const char *crt, const char *key, int ver,
			bool renego)
{
	memset(s, 0, sizeof(*s));
	mbedtls_ssl_init(&s->ssl);
	mbedtls_ssl_config_init(&s->conf);
	mbedtls_x509_crt_init(&s->crt);
	mbedtls_pk_init(&s->key);
	mbedtls_entropy_init(&s->entropy);
	mbedtls_ctr_drbg_init(&s->drbg);
	mbedtls_ssl_ticket_init(&s->ticket);
	T_EQ_INT(psa_crypto_init(), PSA_SUCCESS);
	T_EQ_INT(mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy, NULL, 0), 0);
	T_EQ_INT(mbedtls_x509_crt_parse_file(&s->crt, crt), 0);
	T_EQ_INT(mbedtls_pk_parse_keyfile(&s->key, key, NULL, mbedtls_ctr_drbg_random, &s->drbg),
		 0);
	T_EQ_INT(mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER,
					     MBEDTLS_SSL_TRANSPORT_STREAM,
					     MBEDTLS_SSL_PRESET_DEFAULT),
		 0);
	mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
	T_EQ_INT(mbedtls_ssl_conf_own_cert(&s->conf, &s->crt, &s->key), 0);
	mbedtls_ssl_conf_min_tls_version(&s->conf, ver == V_13 ? MBEDTLS_SSL_VERSION_TLS1_3
							       : MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&s->conf, ver == V_12 ? MBEDTLS_SSL_VERSION_TLS1_2
							       : MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_sni(&s->conf, sni_cb, s);
	/* TLS 1.3 servers then send NewSessionTickets the client must skip */
	T_EQ_INT(mbedtls_ssl_ticket_setup(&s->ticket, mbedtls_ctr_drbg_random, &s->drbg,
					  MBEDTLS_CIPHER_AES_256_GCM, 3600),
		 0);
	mbedtls_ssl_conf_session_tickets_cb(&s->conf, mbedtls_ssl_ticket_write,
					    mbedtls_ssl_ticket_parse, &s->ticket);
	if (renego)
		mbedtls_ssl_conf_renegotiation(&s->conf, MBEDTLS_SSL_RENEGOTIATION_ENABLED);
	T_EQ_INT(mbedtls_ssl_setup(&s->ssl, &s->conf), 0);
	s->net.fd = fd;
	mbedtls_ssl_set_bio(&s->ssl, &s->net, mbedtls_net_send, mbedtls_net_recv, NULL);
}

static void server_free(struct server *s)
{
	/* not mbedtls_net_free(): the socketpair is closed by its owner */
	mbedtls_ssl_free(&s->ssl);
	mbedtls_ssl_config_free(&s->conf);
	mbedtls_x509_crt_free(&s->crt);
	mbedtls_pk_free(&s->key);
	mbedtls_ssl_ticket_free(&s->ticket);
	mbedtls_ctr_drbg_free(&s->drbg);
	mbedtls_entropy_free(&s->entropy);
}

static bool is_want(int r)
{
	return r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE;
}

/* --- a client and a server on one socketpair ----------------------------- */

struct pair {
	int sv[2];
	struct lim lim;
	struct stream lower;
	struct tls_cfg *cfg;
	struct tls_conn *c;
	struct server s;
	int srv_ret; /* the server's last handshake result */
};

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Sets up both ends; returns 0 or tls_cfg_create()'s error. */
static int pair_open(struct pair *p, const struct tls_opts *o, const char *crt, const char *key,
		     int ver, bool renego, size_t lim_max)
{
	char err[512];
	int r, buf = 4096;

	memset(p, 0, sizeof(*p));
	p->sv[0] = p->sv[1] = -1;
	r = tls_cfg_create(o, &p->cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "tls_cfg_create: %s\n", err);
		return r;
	}
	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv), 0);
	nonblock(p->sv[0]);
	nonblock(p->sv[1]);
	/* small socket buffers: many partial writes, many EAGAINs */
	setsockopt(p->sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(p->sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	p->lim = (struct lim){ .fd = p->sv[0], .max = lim_max, .rng = 0x9e3779b9 };
	p->lower = (struct stream){ .read = lim_read, .write = lim_write, .ctx = &p->lim };
	p->c = tls_conn_create(p->cfg, &p->lower);
	T_CHECK(p->c != NULL);
	server_init(&p->s, p->sv[1], crt, key, ver, renego);
	return 0;
}

/* Pumps both handshakes until both end; returns the client's result. */
static int pair_handshake(struct pair *p)
{
	int cr = STREAM_WANT_WRITE, sr = MBEDTLS_ERR_SSL_WANT_READ;

	for (int i = 0; i < 100000; i++) {
		if (cr == STREAM_WANT_READ || cr == STREAM_WANT_WRITE) {
			cr = tls_conn_handshake(p->c);
			if (cr == STREAM_WANT_READ || cr == STREAM_WANT_WRITE)
				T_EQ_INT(tls_conn_wants(p->c), cr);
		}
		if (is_want(sr))
			sr = mbedtls_ssl_handshake(&p->s.ssl);
		if ((cr == STREAM_DONE || cr < 0) && !is_want(sr))
			break;
		if (cr < 0 && i > 1000)
			break; /* the server may wait forever for a dead client */
	}
	p->srv_ret = sr;
	return cr;
}

static void pair_close(struct pair *p)
{
	tls_conn_free(p->c);
	tls_cfg_free(p->cfg);
	server_free(&p->s);
	if (p->sv[0] >= 0)
		close(p->sv[0]);
	if (p->sv[1] >= 0)
		close(p->sv[1]);
}

/* Opens a pair and runs the handshake; returns the client's result and
 * copies its error text. */
static int try_handshake(const struct tls_opts *o, const char *crt, const char *key, int ver,
			 char *err, size_t errlen, struct server *srv_copy)
{
	struct pair p;
	int r = pair_open(&p, o, crt, key, ver, false, 0);

	if (r < 0)
		return r;
	r = pair_handshake(&p);
	snprintf(err, errlen, "%s", tls_conn_error(p.c));
	if (srv_copy) {
		srv_copy->sni_calls = p.s.sni_calls;
		memcpy(srv_copy->sni, p.s.sni, sizeof(p.s.sni));
	}
	pair_close(&p);
	return r;
}

/* --- tests ---------------------------------------------------------------- */

static void test_handshake_versions(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	static const int vers[] = { V_12, V_13, V_ANY };
	static const char *const want[] = { "TLSv1.2", "TLSv1.3", "TLSv1.3" };

	for (int i = 0; i < 3; i++) {
		struct pair p;

		T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, vers[i], false, 0), 0);
		T_EQ_STR(tls_conn_version(p.c), "");
		T_EQ_INT(pair_handshake(&p), STREAM_DONE);
		T_EQ_INT(p.srv_ret, 0);
		T_EQ_STR(tls_conn_version(p.c), want[i]);
		T_EQ_STR(tls_conn_error(p.c), "");
		T_EQ_INT(tls_conn_wants(p.c), 0);
		T_EQ_INT(p.s.sni_calls, 1);
		T_EQ_STR(p.s.sni, "proxy.test");
		/* the handshake is done for good */
		T_EQ_INT(tls_conn_handshake(p.c), STREAM_DONE);
		pair_close(&p);
	}
}

static void test_ip_literals(void)
{
	struct tls_opts o = { .server_name = "127.0.0.1", .ca_file = ca_crt };
	struct server seen;
	char err[512];

	/* iPAddress SAN; no SNI for an IP */
	for (int v = V_12; v <= V_13; v++) {
		T_EQ_INT(try_handshake(&o, srv_crt, srv_key, v, err, sizeof(err), &seen),
			 STREAM_DONE);
		T_EQ_INT(seen.sni_calls, 0);
	}
	/* no SAN: the CN spells the IP */
	T_EQ_INT(try_handshake(&o, cnip_crt, cnip_key, V_ANY, err, sizeof(err), NULL), STREAM_DONE);
	/* another IP: refused, in both cases */
	o.server_name = "127.0.0.2";
	T_EQ_INT(try_handshake(&o, srv_crt, srv_key, V_ANY, err, sizeof(err), NULL), -EACCES);
	T_EQ_STR(err, "certificate verify failed: The certificate Common Name (CN) does not "
		      "match with the expected CN (expected \"127.0.0.2\")");
	T_EQ_INT(try_handshake(&o, cnip_crt, cnip_key, V_12, err, sizeof(err), NULL), -EACCES);
	o.server_name = "[::1]";
	T_EQ_INT(try_handshake(&o, srv_crt, srv_key, V_13, err, sizeof(err), &seen), -EACCES);
	T_EQ_INT(seen.sni_calls, 0);
	T_CHECK(strstr(err, "(expected \"::1\")") != NULL);
	/* a name against the CN-only IP certificate */
	o.server_name = "proxy.test";
	T_EQ_INT(try_handshake(&o, cnip_crt, cnip_key, V_ANY, err, sizeof(err), NULL), -EACCES);
	T_CHECK(strstr(err, "Common Name") != NULL);
}

static void test_verify_failures(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = other_crt };
	char err[512];

	for (int v = V_12; v <= V_13; v++) {
		T_EQ_INT(try_handshake(&o, srv_crt, srv_key, v, err, sizeof(err), NULL), -EACCES);
		T_EQ_STR(err, "certificate verify failed: The certificate is not correctly "
			      "signed by the trusted CA");
	}
	o.ca_file = ca_crt;
	o.server_name = "wrong.test";
	for (int v = V_12; v <= V_13; v++) {
		T_EQ_INT(try_handshake(&o, srv_crt, srv_key, v, err, sizeof(err), NULL), -EACCES);
		T_EQ_STR(err, "certificate verify failed: The certificate Common Name (CN) does "
			      "not match with the expected CN (expected \"wrong.test\")");
	}
	/* both at once */
	o.ca_file = other_crt;
	T_EQ_INT(try_handshake(&o, srv_crt, srv_key, V_ANY, err, sizeof(err), NULL), -EACCES);
	T_CHECK(strstr(err, "not correctly signed") != NULL);
	T_CHECK(strstr(err, "; ") != NULL);
	T_CHECK(strstr(err, "Common Name") != NULL);

	/* skip_verify accepts all of it, and still sends SNI */
	struct server seen;
	o.skip_verify = true;
	for (int v = V_12; v <= V_13; v++) {
		T_EQ_INT(try_handshake(&o, srv_crt, srv_key, v, err, sizeof(err), &seen),
			 STREAM_DONE);
		T_EQ_STR(seen.sni, "wrong.test");
	}
	o.server_name = "10.9.9.9";
	T_EQ_INT(try_handshake(&o, cnip_crt, cnip_key, V_ANY, err, sizeof(err), NULL), STREAM_DONE);
}

/* 4 MiB each way at once; both ends use random sizes, the client's lower
 * stream moves random small amounts per call. */
static void bulk(int ver)
{
	enum { N = 4 << 20 };
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	uint8_t *a = malloc(N), *b = malloc(N), *ra = malloc(N), *rb = malloc(N);
	size_t csent = 0, crecv = 0, ssent = 0, srecv = 0, c_offer = 0, s_offer = 0;
	unsigned rng = 12345 + (unsigned)ver;
	bool failed = false, pending_ok = true, wants_ok = true;
	unsigned long pend_reads = 0, iter = 0, eagain_w = 0;
	struct stream io;
	struct pair p;

	for (size_t i = 0; i < N; i++) {
		a[i] = (uint8_t)xorshift(&rng);
		b[i] = (uint8_t)(xorshift(&rng) >> 8);
	}
	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, ver, false, 3000), 0);
	T_EQ_INT(pair_handshake(&p), STREAM_DONE);
	io = tls_conn_io(p.c);
	while (!failed && (csent < N || crecv < N || ssent < N || srecv < N) && iter++ < 50000000) {
		if (csent < N) {
			size_t want = 1 + xorshift(&rng) % 40000;
			ssize_t r;

			want = want < c_offer ? c_offer : want; /* never take back sealed bytes */
			want = want > N - csent ? N - csent : want;
			r = io.write(io.ctx, a + csent, want);
			if (r > 0) {
				csent += (size_t)r;
				c_offer = 0;
			} else if (r == -EAGAIN) {
				c_offer = want;
				eagain_w++;
				wants_ok &= (tls_conn_wants(p.c) & STREAM_WANT_WRITE) != 0;
			} else {
				fprintf(stderr, "client write: %zd %s\n", r, tls_conn_error(p.c));
				failed = true;
			}
		}
		if (crecv < N) {
			size_t want = 1 + xorshift(&rng) % 20000;
			ssize_t r;

			want = want > N - crecv ? N - crecv : want;
			r = io.read(io.ctx, rb + crecv, want);
			if (r > 0) {
				unsigned long before = p.lim.reads;

				crecv += (size_t)r;
				/* what is pending comes without touching the socket */
				while (tls_conn_pending(p.c) > 0 && crecv < N) {
					size_t n = tls_conn_pending(p.c);

					n = n > N - crecv ? N - crecv : n;
					r = io.read(io.ctx, rb + crecv, n);
					pending_ok &= r == (ssize_t)n;
					if (r <= 0)
						break;
					crecv += (size_t)r;
					pend_reads++;
				}
				pending_ok &= p.lim.reads == before;
			} else if (r == -EAGAIN) {
				wants_ok &= (tls_conn_wants(p.c) & STREAM_WANT_READ) != 0;
			} else {
				fprintf(stderr, "client read: %zd %s\n", r, tls_conn_error(p.c));
				failed = true;
			}
		}
		if (ssent < N) {
			size_t len = s_offer ? s_offer : 1 + xorshift(&rng) % 30000;
			int r;

			len = len > N - ssent ? N - ssent : len;
			r = mbedtls_ssl_write(&p.s.ssl, b + ssent, len);
			if (r > 0) {
				ssent += (size_t)r;
				s_offer = 0;
			} else if (is_want(r)) {
				s_offer = len;
			} else {
				fprintf(stderr, "server write: -0x%04x\n", (unsigned)-r);
				failed = true;
			}
		}
		if (srecv < N) {
			size_t len = N - srecv > 16384 ? 16384 : N - srecv;
			int r = mbedtls_ssl_read(&p.s.ssl, ra + srecv, len);

			if (r > 0) {
				srecv += (size_t)r;
			} else if (!is_want(r)) {
				fprintf(stderr, "server read: -0x%04x\n", (unsigned)-r);
				failed = true;
			}
		}
	}
	T_CHECK(!failed);
	T_EQ_INT(csent, N);
	T_EQ_INT(crecv, N);
	T_EQ_INT(ssent, N);
	T_EQ_INT(srecv, N);
	T_CHECK(memcmp(ra, a, N) == 0);
	T_CHECK(memcmp(rb, b, N) == 0);
	T_CHECK(pending_ok);
	T_CHECK(pend_reads > 0); /* random small reads left bytes pending */
	T_CHECK(eagain_w > 0);   /* writes blocked with sealed records */
	T_CHECK(wants_ok);
	pair_close(&p);
	free(a);
	free(b);
	free(ra);
	free(rb);
}

static void test_bulk_tls12(void)
{
	bulk(V_12);
}

static void test_bulk_tls13(void)
{
	bulk(V_13);
}

/* A record read in part: the rest is pending though the socket is quiet. */
static void test_pending(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	uint8_t msg[1000], got[1000];
	struct stream io;
	struct pair p;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_ANY, false, 0), 0);
	T_EQ_INT(pair_handshake(&p), STREAM_DONE);
	io = tls_conn_io(p.c);
	T_EQ_INT(io.read(io.ctx, got, 1), -EAGAIN); /* (also takes the 1.3 tickets) */
	T_EQ_INT(tls_conn_wants(p.c), STREAM_WANT_READ);
	T_EQ_INT(tls_conn_pending(p.c), 0);
	T_EQ_INT(mbedtls_ssl_write(&p.s.ssl, msg, sizeof(msg)), sizeof(msg));
	T_EQ_INT(io.read(io.ctx, got, 1), 1);
	T_EQ_INT(tls_conn_wants(p.c), 0);
	T_EQ_INT(tls_conn_pending(p.c), 999);
	struct pollfd pfd = { .fd = p.sv[0], .events = POLLIN };
	T_EQ_INT(poll(&pfd, 1, 0), 0); /* nothing left on the socket */
	T_EQ_INT(io.read(io.ctx, got + 1, 500), 500);
	T_EQ_INT(io.read(io.ctx, got + 501, 1000), 499);
	T_EQ_INT(tls_conn_pending(p.c), 0);
	T_EQ_MEM(got, msg, sizeof(msg));
	T_EQ_INT(io.read(io.ctx, got, 1), -EAGAIN);
	pair_close(&p);
}

static void test_close(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	uint8_t buf[64];
	struct stream io;
	struct pair p;

	for (int v = V_12; v <= V_13; v++) {
		/* ours: the server sees close_notify; writes stop, reads go on */
		T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, v, false, 0), 0);
		T_EQ_INT(pair_handshake(&p), STREAM_DONE);
		io = tls_conn_io(p.c);
		T_EQ_INT(io.write(io.ctx, "bye", 3), 3);
		T_EQ_INT(tls_conn_close(p.c), 0);
		T_EQ_INT(tls_conn_close(p.c), 0);
		T_EQ_INT(io.write(io.ctx, "x", 1), -EPIPE);
		T_EQ_INT(mbedtls_ssl_read(&p.s.ssl, buf, sizeof(buf)), 3);
		T_EQ_INT(mbedtls_ssl_read(&p.s.ssl, buf, sizeof(buf)),
			 MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
		/* theirs: data, then EOF, and EOF again */
		T_EQ_INT(mbedtls_ssl_write(&p.s.ssl, (const uint8_t *)"last", 4), 4);
		T_EQ_INT(mbedtls_ssl_close_notify(&p.s.ssl), 0);
		T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 4);
		T_EQ_MEM(buf, "last", 4);
		T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 0);
		T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 0);
		T_EQ_STR(tls_conn_error(p.c), "");
		pair_close(&p);

		/* a TCP EOF without close_notify is not a clean end */
		T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, v, false, 0), 0);
		T_EQ_INT(pair_handshake(&p), STREAM_DONE);
		io = tls_conn_io(p.c);
		T_EQ_INT(mbedtls_ssl_write(&p.s.ssl, (const uint8_t *)"cut", 3), 3);
		shutdown(p.sv[1], SHUT_WR);
		T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), 3);
		T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -ECONNRESET);
		T_EQ_STR(tls_conn_error(p.c),
			 "proxy closed the connection without TLS close_notify");
		T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -ECONNRESET); /* sticky */
		T_EQ_INT(io.write(io.ctx, "x", 1), -ECONNRESET);
		T_EQ_INT(tls_conn_close(p.c), 0);
		pair_close(&p);
	}
}

/* A close while a write is blocked: the sealed record goes out first,
 * then close_notify. */
static void test_close_after_blocked_write(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	uint8_t buf[64];
	struct stream io;
	struct pair p;

	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_ANY, false, 0), 0);
	T_EQ_INT(pair_handshake(&p), STREAM_DONE);
	io = tls_conn_io(p.c);
	p.lim.block_writes = true;
	T_EQ_INT(io.write(io.ctx, "sealed", 6), -EAGAIN);
	T_EQ_INT(tls_conn_wants(p.c), STREAM_WANT_WRITE);
	T_EQ_INT(io.write(io.ctx, "seal", 4), -EINVAL); /* fewer than sealed */
	T_EQ_INT(tls_conn_close(p.c), STREAM_WANT_WRITE);
	T_CHECK(tls_conn_wants(p.c) & STREAM_WANT_WRITE);
	p.lim.block_writes = false;
	T_EQ_INT(tls_conn_close(p.c), 0);
	T_EQ_INT(mbedtls_ssl_read(&p.s.ssl, buf, sizeof(buf)), 6);
	T_EQ_MEM(buf, "sealed", 6);
	T_EQ_INT(mbedtls_ssl_read(&p.s.ssl, buf, sizeof(buf)), MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	pair_close(&p);
}

/* TLS 1.2: the server asks to renegotiate while our socket is full. The
 * refusal alert waits in mbedTLS; the next write must send it AND the
 * caller's bytes (a plain mbedtls_ssl_write() would report them written
 * after flushing only the alert). */
static void test_renegotiation_refused(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	uint8_t buf[64];
	struct stream io;
	struct pair p;
	int r = 0;

	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_12, true, 0), 0);
	T_EQ_INT(pair_handshake(&p), STREAM_DONE);
	io = tls_conn_io(p.c);
	T_EQ_INT(mbedtls_ssl_renegotiate(&p.s.ssl), 0); /* HelloRequest sent */
	p.lim.block_writes = true;
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -EAGAIN);
	T_CHECK(tls_conn_wants(p.c) & STREAM_WANT_WRITE);
	T_EQ_INT(io.write(io.ctx, "abc", 3), -EAGAIN);
	p.lim.block_writes = false;
	T_EQ_INT(io.write(io.ctx, "abc", 3), 3);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -EAGAIN);
	T_EQ_INT(tls_conn_wants(p.c), STREAM_WANT_READ);
	/* the server skips the warning alert and gets the bytes */
	for (int i = 0; i < 10; i++) {
		r = mbedtls_ssl_read(&p.s.ssl, buf, sizeof(buf));
		if (!is_want(r))
			break;
	}
	T_EQ_INT(r, 3);
	T_EQ_MEM(buf, "abc", 3);
	pair_close(&p);
}

/* HTTP CONNECT over the layer, as an https:// proxy runs it. */
static void test_http_over_tls(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	static const char reply[] = "HTTP/1.1 200 Connection established\r\n\r\nhello";
	struct upstream_cfg ucfg;
	struct socks5_addr t;
	struct stream io;
	uint8_t req[512];
	const uint8_t *extra;
	void *st = malloc(upstream_http.state_size);
	struct pair p;
	int r = 0, n = 0;

	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.proto = &upstream_http;
	ucfg.tls = true;
	snprintf(ucfg.server_str, sizeof(ucfg.server_str), "proxy.test:443");
	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_ANY, false, 7), 0);
	T_EQ_INT(pair_handshake(&p), STREAM_DONE);
	io = tls_conn_io(p.c);
	socks5_addr_from_domain(&t, "example.org", 443);
	upstream_http.init(st, &ucfg, &t);
	for (int i = 0; i < 10000 && (r = upstream_http.step(st, &io)) == STREAM_WANT_WRITE; i++)
		(void)mbedtls_ssl_read(&p.s.ssl, req, sizeof(req));
	T_EQ_INT(r, STREAM_WANT_READ);
	for (int i = 0; i < 1000 && n < 59; i++) {
		int k = mbedtls_ssl_read(&p.s.ssl, req + n, sizeof(req) - (size_t)n);

		if (k > 0)
			n += k;
	}
	T_EQ_INT(n, 59);
	T_EQ_MEM(req, "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n", 59);
	T_EQ_INT(mbedtls_ssl_write(&p.s.ssl, (const uint8_t *)reply, sizeof(reply) - 1),
		 sizeof(reply) - 1);
	for (int i = 0; i < 10000 && (r = upstream_http.step(st, &io)) == STREAM_WANT_READ; i++)
		;
	T_EQ_INT(r, STREAM_DONE);
	n = (int)upstream_http.leftover(st, &extra);
	/* the rest of the record may still be pending in the layer */
	uint8_t tail[8];
	size_t pend = tls_conn_pending(p.c);
	T_EQ_INT((size_t)n + pend, 5);
	memcpy(tail, extra, (size_t)n);
	if (pend)
		T_EQ_INT(io.read(io.ctx, tail + n, pend), pend);
	T_EQ_MEM(tail, "hello", 5);
	pair_close(&p);
	free(st);
}

static void test_failures(void)
{
	struct tls_opts o = { .server_name = "proxy.test", .ca_file = ca_crt };
	struct tls_cfg *cfg = NULL;
	uint8_t buf[64];
	char err[512];
	struct pair p;

	/* a plain HTTP server where TLS was expected */
	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_ANY, false, 0), 0);
	struct stream io = tls_conn_io(p.c);
	T_EQ_INT(io.read(io.ctx, buf, sizeof(buf)), -ENOTCONN);
	T_EQ_INT(io.write(io.ctx, buf, 1), -ENOTCONN);
	T_EQ_INT(tls_conn_handshake(p.c), STREAM_WANT_READ);
	T_EQ_INT(write(p.sv[1], "HTTP/1.1 400 Bad Request\r\n\r\n", 28), 28);
	T_EQ_INT(tls_conn_handshake(p.c), -EPROTO);
	T_CHECK(strncmp(tls_conn_error(p.c), "TLS handshake failed: ", 22) == 0);
	T_EQ_INT(tls_conn_handshake(p.c), -EPROTO); /* sticky */
	T_EQ_INT(tls_conn_close(p.c), 0);
	pair_close(&p);

	/* the proxy hangs up during the handshake */
	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_ANY, false, 0), 0);
	T_EQ_INT(tls_conn_handshake(p.c), STREAM_WANT_READ);
	shutdown(p.sv[1], SHUT_RDWR);
	T_EQ_INT(tls_conn_handshake(p.c), -ECONNRESET);
	T_EQ_STR(tls_conn_error(p.c), "proxy closed the connection during the TLS handshake");
	pair_close(&p);

	/* the socket itself fails */
	T_EQ_INT(pair_open(&p, &o, srv_crt, srv_key, V_ANY, false, 0), 0);
	close(p.sv[0]);
	p.lim.fd = p.sv[0] = -1;
	T_EQ_INT(tls_conn_handshake(p.c), -EBADF);
	T_EQ_STR(tls_conn_error(p.c), "TLS handshake: send to proxy failed: Bad file descriptor");
	pair_close(&p);

	/* configuration */
	struct tls_opts bad = { .server_name = "proxy.test", .ca_file = "/nonexistent/ca.pem" };
	T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), -EIO);
	T_CHECK(cfg == NULL);
	T_CHECK(strstr(err, "CA file /nonexistent/ca.pem: ") != NULL);
	bad.ca_file = srv_key; /* not a certificate */
	T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), -EIO);
	static const char *const names[] = { "", "[proxy.test]", "[1.2.3.4]", "a b", "x\n" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bad = (struct tls_opts){ .server_name = names[i], .ca_file = ca_crt };
		T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), -EINVAL);
		T_CHECK(strstr(err, "server name") != NULL);
	}
	bad = (struct tls_opts){ .server_name = NULL, .ca_file = ca_crt };
	T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), -EINVAL);
	bad = (struct tls_opts){ .server_name = "proxy.test", .skip_verify = true };
	T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), 0);
	T_EQ_STR(tls_cfg_ca_path(cfg), "");
	tls_cfg_free(cfg);

	/* the system bundle: used when present, a clear error when not */
	const char *sys = tls_system_ca_path();
	bad = (struct tls_opts){ .server_name = "proxy.test" };
	if (sys) {
		T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), 0);
		T_EQ_STR(tls_cfg_ca_path(cfg), sys);
		tls_cfg_free(cfg);
	} else {
		T_EQ_INT(tls_cfg_create(&bad, &cfg, err, sizeof(err)), -ENOENT);
		T_CHECK(strstr(err, "no system CA bundle") != NULL);
	}
}

int main(void)
{
	char cmd[128];

	if (make_certs() != 0) {
		T_CHECK(!"openssl made the test certificates");
		return test_summary();
	}
	T_RUN(test_handshake_versions);
	T_RUN(test_ip_literals);
	T_RUN(test_verify_failures);
	T_RUN(test_bulk_tls12);
	T_RUN(test_bulk_tls13);
	T_RUN(test_pending);
	T_RUN(test_close);
	T_RUN(test_close_after_blocked_write);
	T_RUN(test_renegotiation_refused);
	T_RUN(test_http_over_tls);
	T_RUN(test_failures);
	mbedtls_psa_crypto_free();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_summary();
}
