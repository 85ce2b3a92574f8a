/* Unit tests for the SOCKS5 codec (tun2socks/socks5.c). */
#define _POSIX_C_SOURCE 200112L /* inet_ntop, the reference for IPv6 text */

#include "tun2socks/upstream/socks5.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Every proper prefix of msg must ask for more, the whole must be consumed
 * exactly, and a following byte of the next phase must not be eaten. */
#define CHECK_PREFIXES(call_with_buf_len, msg, n)                                          \
	do {                                                                               \
		uint8_t tmp_[600];                                                         \
		for (size_t k_ = 0; k_ < (n); k_++) {                                      \
			const uint8_t *buf_ = (msg);                                       \
			size_t len_ = k_;                                                  \
			int r_ = call_with_buf_len;                                        \
			if (r_ != 0)                                                       \
				fprintf(stderr, "  prefix %zu of %zu\n", k_, (size_t)(n)); \
			T_EQ_INT(r_, 0);                                                   \
		}                                                                          \
		memcpy(tmp_, (msg), (n));                                                  \
		tmp_[(n)] = 0x05;                                                          \
		{                                                                          \
			const uint8_t *buf_ = tmp_;                                        \
			size_t len_ = (n);                                                 \
			T_EQ_INT(call_with_buf_len, (n));                                  \
			len_ = (n) + 1;                                                    \
			T_EQ_INT(call_with_buf_len, (n));                                  \
		}                                                                          \
	} while (0)

static const uint8_t reply_v4[] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x04, 0x38 };
static const uint8_t reply_v6[] = { 5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
				    0, 0, 0, 0, 0,    0,    0,    0,    1, 0x1f, 0x90 };
static const uint8_t reply_dom[] = { 5,   0,   0,   3,   11,  'e', 'x', 'a',  'm',
				     'p', 'l', 'e', '.', 'c', 'o', 'm', 0x00, 0x50 };

static void test_greeting_build(void)
{
	uint8_t buf[8];
	static const uint8_t with[] = { 5, 2, 0x00, 0x02 };
	static const uint8_t without[] = { 5, 1, 0x00 };

	T_EQ_INT(socks5_greeting_build(buf, sizeof(buf), true), 4);
	T_EQ_MEM(buf, with, 4);
	T_EQ_INT(socks5_greeting_build(buf, sizeof(buf), false), 3);
	T_EQ_MEM(buf, without, 3);
	T_EQ_INT(socks5_greeting_build(buf, 4, true), 4);
	T_EQ_INT(socks5_greeting_build(buf, 3, true), -ENOBUFS);
	T_EQ_INT(socks5_greeting_build(buf, 3, false), 3);
	T_EQ_INT(socks5_greeting_build(buf, 2, false), -ENOBUFS);
	T_EQ_INT(socks5_greeting_build(NULL, 0, false), -ENOBUFS);
	/* one method only (pipelining) */
	T_EQ_INT(socks5_greeting_one_build(buf, sizeof(buf), SOCKS5_METHOD_USERPASS), 3);
	T_EQ_MEM(buf, ((const uint8_t[]){ 5, 1, 2 }), 3);
	T_EQ_INT(socks5_greeting_one_build(buf, 3, SOCKS5_METHOD_NONE), 3);
	T_EQ_MEM(buf, ((const uint8_t[]){ 5, 1, 0 }), 3);
	T_EQ_INT(socks5_greeting_one_build(buf, 2, SOCKS5_METHOD_NONE), -ENOBUFS);
	T_CHECK(SOCKS5_GREETING_MAX >= 4);
}

static void test_method_parse(void)
{
	static const uint8_t none[] = { 5, 0x00 };
	static const uint8_t up[] = { 5, 0x02 };
	static const uint8_t reject[] = { 5, 0xff };
	static const uint8_t gssapi[] = { 5, 0x01 };
	static const uint8_t badver[] = { 4, 0x00 };
	uint8_t m = 0xaa;

	T_EQ_INT(socks5_method_parse(none, 2, false, &m), 2);
	T_EQ_INT(m, SOCKS5_METHOD_NONE);
	/* NONE is in every offer, so a server without auth is accepted even
	 * when credentials are configured. */
	T_EQ_INT(socks5_method_parse(none, 2, true, &m), 2);
	T_EQ_INT(m, SOCKS5_METHOD_NONE);
	T_EQ_INT(socks5_method_parse(up, 2, true, &m), 2);
	T_EQ_INT(m, SOCKS5_METHOD_USERPASS);

	m = 0xaa;
	T_EQ_INT(socks5_method_parse(up, 2, false, &m), -ENOTSUP); /* not offered */
	T_EQ_INT(m, 0);
	T_EQ_INT(socks5_method_parse(reject, 2, true, &m), -ENOTSUP);
	T_EQ_INT(socks5_method_parse(reject, 2, false, &m), -ENOTSUP);
	T_EQ_INT(socks5_method_parse(gssapi, 2, true, &m), -ENOTSUP);
	T_EQ_INT(socks5_method_parse(badver, 2, false, &m), -EPROTO);
	T_EQ_INT(socks5_method_parse(badver, 1, false, &m), -EPROTO); /* early */

	CHECK_PREFIXES(socks5_method_parse(buf_, len_, false, &m), none, 2);
	CHECK_PREFIXES(socks5_method_parse(buf_, len_, true, &m), up, 2);
}

static void test_auth_build(void)
{
	uint8_t buf[SOCKS5_AUTH_MAX];
	static const uint8_t exp[] = { 1, 4, 'u', 's', 'e', 'r', 6, 's', 'e', 'c', 'r', 'e', 't' };
	char big[257];

	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), "user", "secret"), sizeof(exp));
	T_EQ_MEM(buf, exp, sizeof(exp));
	T_EQ_INT(socks5_auth_build(buf, sizeof(exp), "user", "secret"), sizeof(exp));
	T_EQ_INT(socks5_auth_build(buf, sizeof(exp) - 1, "user", "secret"), -ENOBUFS);
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), "", "secret"), -EINVAL);
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), "user", ""), -EINVAL);
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), NULL, "x"), -EINVAL);
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), "x", NULL), -EINVAL);

	memset(big, 'a', 255);
	big[255] = '\0';
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), big, big), 3 + 255 + 255);
	T_EQ_INT(buf[1], 255);
	T_EQ_INT(buf[2 + 255], 255);
	big[255] = 'a';
	big[256] = '\0';
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), big, "p"), -EINVAL);
	T_EQ_INT(socks5_auth_build(buf, sizeof(buf), "u", big), -EINVAL);
}

static void test_auth_reply_parse(void)
{
	static const uint8_t ok[] = { 1, 0 };
	static const uint8_t ok_v5[] = { 5, 0 };
	static const uint8_t fail[] = { 1, 1 };
	static const uint8_t fail_ff[] = { 1, 0xff };
	static const uint8_t badver[] = { 2, 0 };

	T_EQ_INT(socks5_auth_reply_parse(ok, 2), 2);
	T_EQ_INT(socks5_auth_reply_parse(ok_v5, 2), 2);
	T_EQ_INT(socks5_auth_reply_parse(fail, 2), -EACCES);
	T_EQ_INT(socks5_auth_reply_parse(fail_ff, 2), -EACCES);
	T_EQ_INT(socks5_auth_reply_parse(badver, 2), -EPROTO);
	T_EQ_INT(socks5_auth_reply_parse(badver, 1), -EPROTO);
	CHECK_PREFIXES(socks5_auth_reply_parse(buf_, len_), ok, 2);
}

static void test_request_build(void)
{
	uint8_t buf[SOCKS5_REQUEST_MAX];
	struct socks5_addr a;
	static const uint8_t v4[4] = { 93, 184, 216, 34 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t exp_v4[] = { 5, 1, 0, 1, 93, 184, 216, 34, 0x01, 0xbb };
	static const uint8_t exp_v6[] = { 5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
					  0, 0, 0, 0, 0,    0,    0,    0,    1, 0x00, 0x50 };
	static const uint8_t exp_dom[] = { 5,   1,   0,   3,   7,   'a',  '.',
					   'b', '.', 'c', 'o', 'm', 0xff, 0xff };
	char name[256];

	socks5_addr_from_ipv4(&a, v4, 443);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), sizeof(exp_v4));
	T_EQ_MEM(buf, exp_v4, sizeof(exp_v4));
	T_EQ_INT(socks5_request_build(buf, sizeof(exp_v4) - 1, SOCKS5_CMD_CONNECT, &a), -ENOBUFS);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_UDP_ASSOCIATE, &a), 10);
	T_EQ_INT(buf[1], 3);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_BIND, &a), 10);
	T_EQ_INT(buf[1], 2);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), 0, &a), -EINVAL);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), 4, &a), -EINVAL);

	socks5_addr_from_ipv6(&a, v6, 80);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), sizeof(exp_v6));
	T_EQ_MEM(buf, exp_v6, sizeof(exp_v6));
	T_EQ_INT(socks5_request_build(buf, sizeof(exp_v6) - 1, SOCKS5_CMD_CONNECT, &a), -ENOBUFS);

	T_EQ_INT(socks5_addr_from_domain(&a, "a.b.com", 65535), 0);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), sizeof(exp_dom));
	T_EQ_MEM(buf, exp_dom, sizeof(exp_dom));
	T_EQ_INT(socks5_request_build(buf, sizeof(exp_dom) - 1, SOCKS5_CMD_CONNECT, &a), -ENOBUFS);

	memset(name, 'x', 255);
	name[255] = '\0';
	T_EQ_INT(socks5_addr_from_domain(&a, name, 1), 0);
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), 4 + 1 + 255 + 2);
	T_EQ_INT(SOCKS5_REQUEST_MAX, 4 + 1 + 255 + 2);
	T_EQ_INT(buf[4], 255);

	/* Structs that break the domain invariant are refused, not sent. */
	T_EQ_INT(socks5_addr_from_domain(&a, "abc", 1), 0);
	a.domain_len = 5; /* NUL inside the claimed name */
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), -EINVAL);
	a.domain_len = 2; /* no terminator at domain_len */
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), -EINVAL);
	a.domain_len = 0;
	a.u.domain[0] = '\0';
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), -EINVAL);
	a.atyp = 2;
	T_EQ_INT(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &a), -EINVAL);
}

static void test_reply_codes(void)
{
	static const struct {
		uint8_t rep;
		int err;
		const char *text;
	} codes[] = {
		{ 0x00, 0, "succeeded" },
		{ 0x01, -EIO, "general SOCKS server failure" },
		{ 0x02, -EACCES, "connection not allowed by ruleset" },
		{ 0x03, -ENETUNREACH, "network unreachable" },
		{ 0x04, -EHOSTUNREACH, "host unreachable" },
		{ 0x05, -ECONNREFUSED, "connection refused" },
		{ 0x06, -ETIMEDOUT, "TTL expired" },
		{ 0x07, -EOPNOTSUPP, "command not supported" },
		{ 0x08, -EAFNOSUPPORT, "address type not supported" },
		{ 0x09, -EPROTO, "unknown reply code" },
		{ 0x80, -EPROTO, "unknown reply code" },
		{ 0xff, -EPROTO, "unknown reply code" },
	};
	uint8_t msg[sizeof(reply_v4)];
	struct socks5_reply r;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		memcpy(msg, reply_v4, sizeof(msg));
		msg[1] = codes[i].rep;
		/* A failure reply is still a well-formed message. */
		T_EQ_INT(socks5_reply_parse(msg, sizeof(msg), &r), sizeof(msg));
		T_EQ_INT(r.rep, codes[i].rep);
		T_EQ_INT(socks5_rep_to_errno(codes[i].rep), codes[i].err);
		T_EQ_STR(socks5_rep_str(codes[i].rep), codes[i].text);
	}
}

static void test_reply_atyps(void)
{
	struct socks5_reply r;
	uint8_t big[4 + 1 + 255 + 2 + 3];
	static const uint8_t v4[4] = { 10, 0, 0, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	T_EQ_INT(socks5_reply_parse(reply_v4, sizeof(reply_v4), &r), 10);
	T_EQ_INT(r.bnd.atyp, SOCKS5_ATYP_IPV4);
	T_EQ_MEM(r.bnd.u.v4, v4, 4);
	T_EQ_INT(r.bnd.port, 1080);

	T_EQ_INT(socks5_reply_parse(reply_v6, sizeof(reply_v6), &r), 22);
	T_EQ_INT(r.bnd.atyp, SOCKS5_ATYP_IPV6);
	T_EQ_MEM(r.bnd.u.v6, v6, 16);
	T_EQ_INT(r.bnd.port, 8080);

	T_EQ_INT(socks5_reply_parse(reply_dom, sizeof(reply_dom), &r), 18);
	T_EQ_INT(r.bnd.atyp, SOCKS5_ATYP_DOMAIN);
	T_EQ_INT(r.bnd.domain_len, 11);
	T_EQ_STR(r.bnd.u.domain, "example.com");
	T_EQ_INT(r.bnd.port, 80);

	/* Longest domain, followed by bytes of the relayed stream. */
	memset(big, 'z', sizeof(big));
	big[0] = 5;
	big[1] = 0;
	big[2] = 0;
	big[3] = SOCKS5_ATYP_DOMAIN;
	big[4] = 255;
	big[260] = 0x12;
	big[261] = 0x34;
	T_EQ_INT(socks5_reply_parse(big, sizeof(big), &r), 262);
	T_EQ_INT(r.bnd.domain_len, 255);
	T_EQ_INT(strlen(r.bnd.u.domain), 255);
	T_EQ_INT(r.bnd.port, 0x1234);
	CHECK_PREFIXES(socks5_reply_parse(buf_, len_, &r), big, 262);
}

static void test_split_reads(void)
{
	struct socks5_reply r;

	CHECK_PREFIXES(socks5_reply_parse(buf_, len_, &r), reply_v4, sizeof(reply_v4));
	CHECK_PREFIXES(socks5_reply_parse(buf_, len_, &r), reply_v6, sizeof(reply_v6));
	CHECK_PREFIXES(socks5_reply_parse(buf_, len_, &r), reply_dom, sizeof(reply_dom));
	/* A partial parse leaves nothing behind in out. */
	memset(&r, 0xaa, sizeof(r));
	T_EQ_INT(socks5_reply_parse(reply_dom, 10, &r), 0);
	T_EQ_INT(r.rep, 0);
	T_EQ_INT(r.bnd.atyp, 0);
	T_EQ_INT(r.bnd.u.domain[0], 0);
}

static void test_bad_replies(void)
{
	struct socks5_reply r;
	uint8_t m[sizeof(reply_dom)];

	memcpy(m, reply_v4, sizeof(reply_v4));
	m[0] = 4;
	T_EQ_INT(socks5_reply_parse(m, sizeof(reply_v4), &r), -EPROTO);
	T_EQ_INT(socks5_reply_parse(m, 1, &r), -EPROTO); /* known at once */

	memcpy(m, reply_v4, sizeof(reply_v4));
	m[2] = 1;
	T_EQ_INT(socks5_reply_parse(m, sizeof(reply_v4), &r), -EPROTO);
	T_EQ_INT(socks5_reply_parse(m, 3, &r), -EPROTO);

	memcpy(m, reply_v4, sizeof(reply_v4));
	for (unsigned atyp = 0; atyp < 256; atyp++) {
		if (atyp == SOCKS5_ATYP_IPV4 || atyp == SOCKS5_ATYP_DOMAIN ||
		    atyp == SOCKS5_ATYP_IPV6)
			continue;
		m[3] = (uint8_t)atyp;
		if (socks5_reply_parse(m, sizeof(reply_v4), &r) != -EPROTO ||
		    socks5_reply_parse(m, 4, &r) != -EPROTO)
			fprintf(stderr, "  atyp %u\n", atyp);
		T_EQ_INT(socks5_reply_parse(m, sizeof(reply_v4), &r), -EPROTO);
		T_EQ_INT(socks5_reply_parse(m, 4, &r), -EPROTO);
	}

	memcpy(m, reply_dom, sizeof(reply_dom));
	m[4] = 0; /* zero-length domain */
	T_EQ_INT(socks5_reply_parse(m, sizeof(reply_dom), &r), -EPROTO);
	T_EQ_INT(socks5_reply_parse(m, 5, &r), -EPROTO);

	memcpy(m, reply_dom, sizeof(reply_dom));
	m[8] = 0; /* NUL inside the name */
	T_EQ_INT(socks5_reply_parse(m, sizeof(reply_dom), &r), -EPROTO);
	T_EQ_INT(socks5_reply_parse(m, 9, &r), -EPROTO);
	T_EQ_INT(socks5_reply_parse(m, 8, &r), 0);

	/* Failures leave out cleared. */
	memset(&r, 0xaa, sizeof(r));
	T_EQ_INT(socks5_reply_parse(m, sizeof(reply_dom), &r), -EPROTO);
	T_EQ_INT(r.rep, 0);
	T_EQ_INT(r.bnd.atyp, 0);
	T_EQ_INT(r.bnd.domain_len, 0);
	T_EQ_INT(r.bnd.u.domain[0], 0);
}

static void udp_roundtrip(const struct socks5_addr *a, int hdr_len)
{
	uint8_t buf[SOCKS5_UDP_HEADER_MAX + 4];
	struct socks5_addr b;
	uint8_t frag = 0xaa;
	int n;

	n = socks5_udp_header_build(buf, sizeof(buf), a);
	T_EQ_INT(n, hdr_len);
	T_EQ_INT(buf[0], 0);
	T_EQ_INT(buf[1], 0);
	T_EQ_INT(buf[2], 0);
	T_EQ_INT(socks5_udp_header_build(buf, (size_t)hdr_len - 1, a), -ENOBUFS);
	memcpy(buf + hdr_len, "data", 4);
	T_EQ_INT(socks5_udp_header_parse(buf, (size_t)hdr_len + 4, &b, &frag), hdr_len);
	T_EQ_INT(frag, 0);
	T_EQ_INT(b.atyp, a->atyp);
	T_EQ_INT(b.port, a->port);
	T_EQ_INT(b.domain_len, a->domain_len);
	T_EQ_MEM(&b.u, &a->u, sizeof(b.u));
	/* An empty payload is allowed: the header is complete. */
	T_EQ_INT(socks5_udp_header_parse(buf, (size_t)hdr_len, &b, &frag), hdr_len);

	/* A datagram is complete: every shorter one is truncated. */
	for (int k = 0; k < hdr_len; k++) {
		frag = 0xaa;
		if (socks5_udp_header_parse(buf, (size_t)k, &b, &frag) != -EPROTO)
			fprintf(stderr, "  truncated at %d of %d\n", k, hdr_len);
		T_EQ_INT(socks5_udp_header_parse(buf, (size_t)k, &b, &frag), -EPROTO);
		T_EQ_INT(frag, 0);
		T_EQ_INT(b.atyp, 0);
	}

	buf[2] = 1;
	T_EQ_INT(socks5_udp_header_parse(buf, (size_t)hdr_len + 4, &b, &frag), hdr_len);
	T_EQ_INT(frag, 1);
	buf[2] = 0x81; /* high bit: last fragment of a sequence */
	T_EQ_INT(socks5_udp_header_parse(buf, (size_t)hdr_len + 4, &b, &frag), hdr_len);
	T_EQ_INT(frag, 0x81);
	buf[2] = 0;
	buf[1] = 1;
	T_EQ_INT(socks5_udp_header_parse(buf, (size_t)hdr_len + 4, &b, &frag), -EPROTO);
	buf[1] = 0;
	buf[0] = 1;
	T_EQ_INT(socks5_udp_header_parse(buf, (size_t)hdr_len + 4, &b, &frag), -EPROTO);
}

static void test_udp_header(void)
{
	static const uint8_t v4[4] = { 8, 8, 4, 4 };
	static const uint8_t v6[16] = { 0x26, 0x06, 0x47, 0x00, [15] = 0x11 };
	static const uint8_t bad[] = { 0, 0, 0, 2, 1, 2, 3, 4, 0, 53 };
	struct socks5_addr a;
	uint8_t frag;

	socks5_addr_from_ipv4(&a, v4, 53);
	udp_roundtrip(&a, 10);
	socks5_addr_from_ipv6(&a, v6, 443);
	udp_roundtrip(&a, 22);
	T_EQ_INT(socks5_addr_from_domain(&a, "dns.example", 853), 0);
	udp_roundtrip(&a, 4 + 1 + 11 + 2);

	T_EQ_INT(socks5_udp_header_parse(bad, sizeof(bad), &a, &frag), -EPROTO);
	a.atyp = 9;
	T_EQ_INT(socks5_udp_header_build((uint8_t[32]){ 0 }, 32, &a), -EINVAL);
}

static void test_addr_helpers(void)
{
	struct socks5_addr a;
	char name[258];
	static const uint8_t v4[4] = { 1, 2, 3, 4 };
	static const uint8_t v6[16] = { 0xfe, 0x80, [15] = 9 };

	memset(&a, 0xaa, sizeof(a));
	T_EQ_INT(socks5_addr_from_domain(&a, "", 80), -EINVAL);
	T_EQ_INT(a.atyp, 0);
	T_EQ_INT(a.port, 0);
	T_EQ_INT(socks5_addr_from_domain(&a, NULL, 80), -EINVAL);

	memset(name, 'n', sizeof(name));
	name[255] = '\0';
	T_EQ_INT(socks5_addr_from_domain(&a, name, 80), 0);
	T_EQ_INT(a.atyp, SOCKS5_ATYP_DOMAIN);
	T_EQ_INT(a.domain_len, 255);
	T_EQ_INT(a.u.domain[255], 0);
	T_EQ_INT(a.port, 80);
	name[255] = 'n';
	name[256] = '\0';
	T_EQ_INT(socks5_addr_from_domain(&a, name, 80), -EINVAL);
	T_EQ_INT(a.atyp, 0);

	memset(&a, 0xaa, sizeof(a));
	socks5_addr_from_ipv4(&a, v4, 1);
	T_EQ_INT(a.atyp, SOCKS5_ATYP_IPV4);
	T_EQ_MEM(a.u.v4, v4, 4);
	T_EQ_INT(a.u.v6[4], 0);
	T_EQ_INT(a.domain_len, 0);
	T_EQ_INT(a.port, 1);

	socks5_addr_from_ipv6(&a, v6, 65535);
	T_EQ_INT(a.atyp, SOCKS5_ATYP_IPV6);
	T_EQ_MEM(a.u.v6, v6, 16);
	T_EQ_INT(a.port, 65535);
}

static const char *v6_str(const uint8_t v6[16], char *buf, size_t cap)
{
	struct socks5_addr a;

	socks5_addr_from_ipv6(&a, v6, 1);
	return socks5_addr_str(&a, buf, cap);
}

static void test_addr_str(void)
{
	struct socks5_addr a;
	char buf[SOCKS5_ADDR_STR_MAX];
	char name[256];
	static const uint8_t v4[4] = { 192, 168, 0, 255 };
	static const struct {
		uint8_t v6[16];
		const char *text;
	} v6s[] = {
		{ { [15] = 1 }, "[::1]:1" },
		{ { 0 }, "[::]:1" },
		{ { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, "[2001:db8::1]:1" },
		/* a lone zero group is not compressed */
		{ { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1 },
		  "[2001:db8:0:1:1:1:1:1]:1" },
		/* the longest run wins, the first on a tie */
		{ { 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 }, "[1:0:0:1::1]:1" },
		{ { 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0 }, "[1::1:0:0:1:0]:1" },
		{ { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, "[1:0:1::1:0]:1" },
		{ { 0xab, 0xcd, 0x0e, 0xf0, [14] = 0, [15] = 0 }, "[abcd:ef0::]:1" },
		{ { [10] = 0xff, [11] = 0xff, 1, 2, 3, 4 }, "[::ffff:1.2.3.4]:1" },
	};

	socks5_addr_from_ipv4(&a, v4, 80);
	T_EQ_STR(socks5_addr_str(&a, buf, sizeof(buf)), "192.168.0.255:80");
	for (size_t i = 0; i < sizeof(v6s) / sizeof(v6s[0]); i++)
		T_EQ_STR(v6_str(v6s[i].v6, buf, sizeof(buf)), v6s[i].text);

	T_EQ_INT(socks5_addr_from_domain(&a, "example.com", 8080), 0);
	T_EQ_STR(socks5_addr_str(&a, buf, sizeof(buf)), "example.com:8080");
	T_EQ_INT(socks5_addr_from_domain(&a, "a\nb c\\\x7f\xff", 0), 0);
	T_EQ_STR(socks5_addr_str(&a, buf, sizeof(buf)), "a\\x0ab\\x20c\\x5c\\x7f\\xff:0");

	/* The worst case fits SOCKS5_ADDR_STR_MAX exactly. */
	memset(name, 1, 255);
	name[255] = '\0';
	T_EQ_INT(socks5_addr_from_domain(&a, name, 65535), 0);
	T_EQ_INT(strlen(socks5_addr_str(&a, buf, sizeof(buf))), SOCKS5_ADDR_STR_MAX - 1);
	T_EQ_STR(buf + sizeof(buf) - 7, ":65535");

	/* Truncation keeps a terminated prefix; cap 0 writes nothing. */
	socks5_addr_from_ipv4(&a, v4, 80);
	T_EQ_STR(socks5_addr_str(&a, buf, 5), "192.");
	T_EQ_STR(socks5_addr_str(&a, buf, 1), "");
	buf[0] = 'X';
	T_CHECK(socks5_addr_str(&a, buf, 0) == buf);
	T_EQ_INT(buf[0], 'X');
	a.atyp = 2;
	T_EQ_STR(socks5_addr_str(&a, buf, sizeof(buf)), "?");
}

/* Cross-check IPv6 text with the C library on pseudo-random addresses that
 * favour zero groups, where the compression rules matter. */
static void test_addr_str_vs_inet_ntop(void)
{
	uint32_t x = 12345;
	char ours[SOCKS5_ADDR_STR_MAX], ref[INET6_ADDRSTRLEN + 8];
	int mismatches = 0;

	for (int iter = 0; iter < 20000; iter++) {
		uint8_t v6[16];
		static const uint8_t zero12[12];

		for (int g = 0; g < 8; g++) {
			x = x * 1103515245u + 12345u;
			unsigned v = (x >> 16) % 4 ? 0 : (x >> 8) & 0xffff;
			v6[2 * g] = (uint8_t)(v >> 8);
			v6[2 * g + 1] = (uint8_t)v;
		}
		if (iter % 7 == 0) {
			memset(v6, 0, 10);
			v6[10] = v6[11] = 0xff;
		}
		/* glibc prints deprecated IPv4-compatible ::a.b.c.d; RFC 5952
		 * does not ask for it and we print hex. */
		if (memcmp(v6, zero12, 12) == 0 && (v6[12] || v6[13]))
			continue;
		v6_str(v6, ours, sizeof(ours));
		ref[0] = '[';
		inet_ntop(AF_INET6, v6, ref + 1, INET6_ADDRSTRLEN);
		strcat(ref, "]:1");
		if (strcmp(ours, ref) != 0 && mismatches++ < 5)
			fprintf(stderr, "  %s != %s\n", ours, ref);
	}
	T_EQ_INT(mismatches, 0);
}

int main(void)
{
	T_RUN(test_greeting_build);
	T_RUN(test_method_parse);
	T_RUN(test_auth_build);
	T_RUN(test_auth_reply_parse);
	T_RUN(test_request_build);
	T_RUN(test_reply_codes);
	T_RUN(test_reply_atyps);
	T_RUN(test_split_reads);
	T_RUN(test_bad_replies);
	T_RUN(test_udp_header);
	T_RUN(test_addr_helpers);
	T_RUN(test_addr_str);
	T_RUN(test_addr_str_vs_inet_ntop);
	return test_summary();
}
