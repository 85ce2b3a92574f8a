/* The SOCKS5 connector state machine over a scripted byte stream: every
 * step of the handshake, replies split at every byte, auth, every failure
 * the flow turns into a client reset, and tunnel bytes that arrive with
 * the reply. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_stream.h"
#include "test.h"
#include "tun2socks/upstream/upstream.h"

static struct upstream_cfg cfg_noauth, cfg_auth, cfg_pipe, cfg_pipe_auth;

/* Runs proto's machine to completion (or error); reads return EAGAIN
 * until the scripted proxy bytes are "released" all at once per step. */
static int run_proto(const struct upstream_proto *proto, const struct upstream_cfg *cfg,
		     const struct socks5_addr *t, struct fake_stream *f, void *state)
{
	struct stream io = { .read = fake_stream_read, .write = fake_stream_write, .ctx = f };
	int r = 0;

	proto->init(state, cfg, t);
	for (int i = 0; i < 10000; i++) {
		r = proto->step(state, &io);
		if (r == STREAM_DONE || r < 0)
			return r;
	}
	return r;
}

/* The same for CONNECT. */
static int run(const struct upstream_cfg *cfg, const struct socks5_addr *t, struct fake_stream *f,
	       void *state)
{
	return run_proto(&upstream_socks5, cfg, t, f, state);
}

static const uint8_t ok_v4_reply[] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90 };

static void test_noauth_connect_ipv4(void)
{
	uint8_t st[4096];
	struct socks5_addr t;
	uint8_t script[64];
	size_t n = 0;

	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 203, 0, 113, 80 }, 80);
	script[n++] = 5;
	script[n++] = 0;
	memcpy(script + n, ok_v4_reply, sizeof(ok_v4_reply));
	n += sizeof(ok_v4_reply);
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		struct fake_stream f = { .rx = script, .rx_len = n, .chunk = chunk };

		T_EQ_INT(run(&cfg_noauth, &t, &f, st), STREAM_DONE);
		/* greeting offers no-auth only, then CONNECT 203.0.113.80:80 */
		const uint8_t want[] = { 5, 1, 0, 5, 1, 0, 1, 203, 0, 113, 80, 0, 80 };
		T_EQ_INT(f.tx_len, sizeof(want));
		T_EQ_MEM(f.tx, want, sizeof(want));
		const uint8_t *extra;
		T_EQ_INT(upstream_socks5.leftover(st, &extra), 0);
	}
}

/* After the CONNECT request the machine polls rather than reads: the reply
 * needs the proxy to reach the target first, so a read there is an EAGAIN
 * per connection. The method reply right after the greeting is read at
 * once; a reply already held above the socket is parsed without polling. */
static void test_request_then_poll(void)
{
	uint8_t st[4096];
	struct socks5_addr t;
	uint8_t script[16] = { 5, 0 };
	struct stream io;

	memcpy(script + 2, ok_v4_reply, sizeof(ok_v4_reply));
	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 203, 0, 113, 80 }, 80);
	struct fake_stream f = { .rx = script, .rx_len = 2 + sizeof(ok_v4_reply), .chunk = 2 };
	io = fake_stream_io(&f);
	upstream_socks5.init(st, &cfg_noauth, &t);
	T_EQ_INT(upstream_socks5.step(st, &io), STREAM_WANT_READ);
	T_EQ_INT(f.reads, 1);       /* the method reply only */
	T_EQ_INT(f.tx_len, 3 + 10); /* greeting and request sent */
	f.chunk = 0;
	T_EQ_INT(upstream_socks5.step(st, &io), STREAM_DONE);
	T_EQ_INT(f.reads, 2);

	/* Both replies in one read: the second is parsed at once. */
	struct fake_stream g = { .rx = script, .rx_len = 2 + sizeof(ok_v4_reply) };
	io = fake_stream_io(&g);
	upstream_socks5.init(st, &cfg_noauth, &t);
	T_EQ_INT(upstream_socks5.step(st, &io), STREAM_DONE);
	T_EQ_INT(g.reads, 1);
}

/* "pipelining: true": greeting (one method), auth and request in one write,
 * then the replies read in turn; a server choosing a method other than the
 * one offered fails (it would read our auth as a request). */
static void test_pipelined(void)
{
	uint8_t st[4096];
	struct socks5_addr t;
	uint8_t script[64];
	size_t n = 0;

	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 203, 0, 113, 80 }, 80);
	/* no auth: everything arrives byte by byte, one write went out */
	script[n++] = 5;
	script[n++] = 0;
	memcpy(script + n, ok_v4_reply, sizeof(ok_v4_reply));
	n += sizeof(ok_v4_reply);
	struct fake_stream f = { .rx = script, .rx_len = n, .chunk = 1 };
	T_EQ_INT(run(&cfg_pipe, &t, &f, st), STREAM_DONE);
	const uint8_t want[] = { 5, 1, 0, 5, 1, 0, 1, 203, 0, 113, 80, 0, 80 };
	T_EQ_INT(f.tx_len, sizeof(want));
	T_EQ_MEM(f.tx, want, sizeof(want));
	T_EQ_INT(f.writes, 1);

	/* auth: only USERPASS offered; the first step sends all three and
	 * reads the method reply at once */
	n = 0;
	script[n++] = 5;
	script[n++] = 2;
	script[n++] = 1;
	script[n++] = 0;
	memcpy(script + n, ok_v4_reply, sizeof(ok_v4_reply));
	n += sizeof(ok_v4_reply);
	struct fake_stream g = { .rx = script, .rx_len = n, .chunk = 2 };
	T_EQ_INT(run(&cfg_pipe_auth, &t, &g, st), STREAM_DONE);
	const uint8_t want_auth[] = { 5,   1,   2,   1, 4, 'u', 's', 'e', 'r', 6,   's', 'e', 'c',
				      'r', 'e', 't', 5, 1, 0,   1,   203, 0,   113, 80,  0,   80 };
	T_EQ_INT(g.tx_len, sizeof(want_auth));
	T_EQ_MEM(g.tx, want_auth, sizeof(want_auth));
	T_EQ_INT(g.writes, 1);

	/* written in pieces: still all of it, in order, before any read */
	struct fake_stream h = { .rx = script, .rx_len = n, .stall_writes = 2, .write_max = 5 };
	T_EQ_INT(run(&cfg_pipe_auth, &t, &h, st), STREAM_DONE);
	T_EQ_INT(h.tx_len, sizeof(want_auth));
	T_EQ_MEM(h.tx, want_auth, sizeof(want_auth));

	/* the server picks no-auth though only USERPASS was offered */
	static const uint8_t none[] = { 5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90 };
	struct fake_stream k = { .rx = none, .rx_len = sizeof(none) };
	T_EQ_INT(run(&cfg_pipe_auth, &t, &k, st), -EPROTO);
	T_CHECK(strstr(upstream_socks5.error(st), "not offered") != NULL);

	/* wrong password: the auth reply fails it, the CONNECT reply is not read */
	static const uint8_t denied[] = { 5, 2, 1, 1, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90 };
	struct fake_stream d = { .rx = denied, .rx_len = sizeof(denied), .chunk = 1 };
	T_EQ_INT(run(&cfg_pipe_auth, &t, &d, st), -EACCES);
	T_EQ_STR(upstream_socks5.error(st), "proxy rejected the username/password");
}

/* The pipelining probe (route/pipelining.h): pipelined whatever the
 * config says, and any reply to its CONNECT ends it as done, a refusal
 * included; a server that answers the greeting and then hangs up (what a
 * reader of single messages does with the rest) fails it. */
static void test_probe(void)
{
	uint8_t st[4096];
	struct socks5_addr nowhere = { .atyp = SOCKS5_ATYP_IPV4 };
	static const uint8_t refused[] = { 5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t want[] = { 5, 1, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0 };

	struct fake_stream f = { .rx = refused, .rx_len = sizeof(refused), .chunk = 1 };
	T_EQ_INT(run_proto(&upstream_socks5_probe, &cfg_noauth, &nowhere, &f, st), STREAM_DONE);
	T_EQ_INT(f.tx_len, sizeof(want));
	T_EQ_MEM(f.tx, want, sizeof(want));
	T_EQ_INT(f.writes, 1);

	/* the same reply fails a flow's CONNECT */
	struct fake_stream g = { .rx = refused, .rx_len = sizeof(refused) };
	T_EQ_INT(run(&cfg_noauth, &nowhere, &g, st), -ECONNREFUSED);

	/* with auth: greeting (USERPASS only), auth and CONNECT in one write */
	static const uint8_t auth_ok[] = { 5, 2, 1, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct fake_stream h = { .rx = auth_ok, .rx_len = sizeof(auth_ok), .chunk = 3 };
	T_EQ_INT(run_proto(&upstream_socks5_probe, &cfg_auth, &nowhere, &h, st), STREAM_DONE);
	T_EQ_INT(h.writes, 1);
	T_EQ_INT(h.tx_len, 3 + 1 + 1 + 4 + 1 + 6 + 10);

	/* the method reply, then the server hangs up */
	static const uint8_t greeting_only[] = { 5, 0 };
	struct fake_stream k = { .rx = greeting_only, .rx_len = sizeof(greeting_only) };
	T_EQ_INT(run_proto(&upstream_socks5_probe, &cfg_noauth, &nowhere, &k, st), -ECONNRESET);

	/* a malformed reply is no answer */
	static const uint8_t junk[] = { 5, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct fake_stream j = { .rx = junk, .rx_len = sizeof(junk) };
	T_CHECK(run_proto(&upstream_socks5_probe, &cfg_noauth, &nowhere, &j, st) < 0);
}

static void test_auth_and_leftover(void)
{
	uint8_t st[4096];
	struct socks5_addr t;
	uint8_t script[64];
	size_t n = 0;

	socks5_addr_from_domain(&t, "example.test", 443);
	script[n++] = 5;
	script[n++] = 2; /* user/pass selected */
	script[n++] = 1;
	script[n++] = 0; /* auth ok */
	memcpy(script + n, ok_v4_reply, sizeof(ok_v4_reply));
	n += sizeof(ok_v4_reply);
	memcpy(script + n, "SSH-2.0-x\r\n", 11); /* server-first banner */
	n += 11;
	struct fake_stream f = { .rx = script, .rx_len = n, .stall_writes = 3 };
	T_EQ_INT(run(&cfg_auth, &t, &f, st), STREAM_DONE);
	const uint8_t want_greet[] = { 5, 2, 0, 2 };
	T_EQ_MEM(f.tx, want_greet, 4);
	const uint8_t want_auth[] = { 1, 4, 'u', 's', 'e', 'r', 6, 's', 'e', 'c', 'r', 'e', 't' };
	T_EQ_MEM(f.tx + 4, want_auth, sizeof(want_auth));
	const uint8_t want_req[] = { 5,   1,   0,   3,   12,  'e', 'x', 'a', 'm', 'p',
				     'l', 'e', '.', 't', 'e', 's', 't', 1,   187 };
	T_EQ_MEM(f.tx + 4 + sizeof(want_auth), want_req, sizeof(want_req));
	const uint8_t *extra;
	size_t nx = upstream_socks5.leftover(st, &extra);
	T_EQ_INT(nx, 11);
	T_EQ_MEM(extra, "SSH-2.0-x\r\n", 11);
}

static int run_script(const struct upstream_cfg *cfg, const uint8_t *s, size_t n, void *st)
{
	struct socks5_addr t;
	struct fake_stream f = { .rx = s, .rx_len = n, .chunk = 1 };

	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 1, 2, 3, 4 }, 5);
	return run(cfg, &t, &f, st);
}

static void test_failures(void)
{
	uint8_t st[4096];

	/* every reply code maps to an errno and a message naming it */
	for (uint8_t rep = 1; rep <= 9; rep++) {
		const uint8_t s[] = { 5, 0, 5, rep, 0, 1, 0, 0, 0, 0, 0, 0 };
		int r = run_script(&cfg_noauth, s, sizeof(s), st);

		T_CHECK(r < 0);
		T_EQ_INT(r, socks5_rep_to_errno(rep) ? socks5_rep_to_errno(rep) : -EPROTO);
		T_CHECK(strstr(upstream_socks5.error(st), "reply 0x0") != NULL);
	}
	const uint8_t refused[] = { 5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	T_EQ_INT(run_script(&cfg_noauth, refused, sizeof(refused), st), -ECONNREFUSED);
	T_CHECK(strstr(upstream_socks5.error(st), "refused") != NULL);

	const uint8_t no_method[] = { 5, 0xff };
	T_EQ_INT(run_script(&cfg_noauth, no_method, sizeof(no_method), st), -EACCES);
	T_CHECK(strstr(upstream_socks5.error(st), "requires authentication") != NULL);

	const uint8_t bad_pass[] = { 5, 2, 1, 1 };
	T_EQ_INT(run_script(&cfg_auth, bad_pass, sizeof(bad_pass), st), -EACCES);
	T_CHECK(strstr(upstream_socks5.error(st), "rejected the username") != NULL);

	const uint8_t bad_version[] = { 4, 0 };
	T_CHECK(run_script(&cfg_noauth, bad_version, sizeof(bad_version), st) < 0);

	const uint8_t hangup[] = { 5, 0, 5, 0 }; /* EOF inside the reply */
	T_EQ_INT(run_script(&cfg_noauth, hangup, sizeof(hangup), st), -ECONNRESET);
	T_CHECK(strstr(upstream_socks5.error(st), "closed the connection") != NULL);
	{
		/* A failure is sticky: stepping again reads nothing more and
		 * says the same. */
		struct fake_stream more = { .rx = refused, .rx_len = sizeof(refused) };
		struct stream io2 = { .read = fake_stream_read,
				      .write = fake_stream_write,
				      .ctx = &more };

		T_EQ_INT(upstream_socks5.step(st, &io2), -ECONNRESET);
		T_EQ_INT(more.tx_len, 0);
		T_CHECK(strstr(upstream_socks5.error(st), "closed the connection") != NULL);
	}

	struct socks5_addr t;
	socks5_addr_from_ipv4(&t, (const uint8_t[]){ 1, 2, 3, 4 }, 5);
	struct fake_stream f = { .write_err = -EPIPE };
	T_EQ_INT(run(&cfg_noauth, &t, &f, st), -EPIPE);

	/* a silent proxy: the machine waits (the flow's timeout ends it) */
	struct fake_stream quiet = { .rx = NULL };
	T_EQ_INT(run(&cfg_noauth, &t, &quiet, st), STREAM_WANT_READ);
}

/* UDP ASSOCIATE: command 3 in the request, the relay address from the
 * reply available afterwards, and its own refusal message. */
static void test_udp_associate(void)
{
	uint8_t st[4096];
	struct socks5_addr any, bnd;
	struct stream io;
	const uint8_t script[] = { 5, 0, 5, 0, 0, 1, 198, 19, 9, 2, 0x9c, 0x41 };
	struct fake_stream f = { .rx = script, .rx_len = sizeof(script), .chunk = 1 };
	int r = 0;

	socks5_addr_from_ipv4(&any, (const uint8_t[]){ 0, 0, 0, 0 }, 0);
	io = (struct stream){ .read = fake_stream_read, .write = fake_stream_write, .ctx = &f };
	upstream_socks5_udp.init(st, &cfg_noauth, &any);
	T_EQ_INT(upstream_socks5_udp.bound(st, &bnd), -EAGAIN);
	for (int i = 0; i < 100 && r != STREAM_DONE && r >= 0; i++)
		r = upstream_socks5_udp.step(st, &io);
	T_EQ_INT(r, STREAM_DONE);
	const uint8_t want[] = { 5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
	T_EQ_INT(f.tx_len, sizeof(want));
	T_EQ_MEM(f.tx, want, sizeof(want));
	T_EQ_INT(upstream_socks5_udp.bound(st, &bnd), 0);
	T_EQ_INT(bnd.atyp, SOCKS5_ATYP_IPV4);
	T_EQ_INT(bnd.u.v4[0], 198);
	T_EQ_INT(bnd.port, 0x9c41);
	T_CHECK(upstream_socks5.bound == NULL); /* CONNECT binds nothing for us */

	const uint8_t refused[] = { 5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct fake_stream g = { .rx = refused, .rx_len = sizeof(refused) };
	T_CHECK(run_proto(&upstream_socks5_udp, &cfg_noauth, &any, &g, st) < 0);
	T_CHECK(strstr(upstream_socks5_udp.error(st), "UDP ASSOCIATE") != NULL);

	/* pipelined: greeting and UDP ASSOCIATE in one write, same binding */
	struct fake_stream h = { .rx = script, .rx_len = sizeof(script), .chunk = 1 };
	T_EQ_INT(run_proto(&upstream_socks5_udp, &cfg_pipe, &any, &h, st), STREAM_DONE);
	T_EQ_INT(h.tx_len, sizeof(want));
	T_EQ_MEM(h.tx, want, sizeof(want));
	T_EQ_INT(h.writes, 1);
	T_EQ_INT(upstream_socks5_udp.bound(st, &bnd), 0);
	T_EQ_INT(bnd.port, 0x9c41);
}

int main(void)
{
	cfg_noauth.proto = &upstream_socks5;
	cfg_auth.proto = &upstream_socks5;
	cfg_auth.has_auth = 1;
	strcpy(cfg_auth.user, "user");
	strcpy(cfg_auth.pass, "secret");
	cfg_pipe = cfg_noauth;
	cfg_pipe.pipelining = true;
	cfg_pipe_auth = cfg_auth;
	cfg_pipe_auth.pipelining = true;
	T_RUN(test_noauth_connect_ipv4);
	T_RUN(test_request_then_poll);
	T_RUN(test_pipelined);
	T_RUN(test_probe);
	T_RUN(test_auth_and_leftover);
	T_RUN(test_failures);
	T_RUN(test_udp_associate);
	return test_summary();
}
