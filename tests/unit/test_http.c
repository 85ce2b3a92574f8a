/* http: the CONNECT request builder (authorities, Basic auth,
 * refusals, buffer bounds) and the response parser (every prefix, leftover
 * bytes, line endings, limits, malformed and non-HTTP input). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/upstream/http.h"
#include "test.h"

static int parse_str(const char *s, struct http_response *r)
{
	return http_response_parse((const uint8_t *)s, strlen(s), r);
}

static void test_build_targets(void)
{
	char buf[HTTP_CONNECT_MAX];
	struct socks5_addr a;

	socks5_addr_from_domain(&a, "example.com", 443);
	T_EQ_INT(http_connect_build(buf, sizeof(buf), &a, NULL, NULL),
		 strlen("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"));
	T_EQ_STR(buf, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");

	socks5_addr_from_ipv4(&a, (const uint8_t[]){ 192, 0, 2, 7 }, 80);
	T_CHECK(http_connect_build(buf, sizeof(buf), &a, NULL, NULL) > 0);
	T_EQ_STR(buf, "CONNECT 192.0.2.7:80 HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n");

	const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	socks5_addr_from_ipv6(&a, v6, 8443);
	T_CHECK(http_connect_build(buf, sizeof(buf), &a, NULL, NULL) > 0);
	T_EQ_STR(buf, "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");

	const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 10, 1, 2, 3 };
	socks5_addr_from_ipv6(&a, mapped, 1);
	T_CHECK(http_connect_build(buf, sizeof(buf), &a, NULL, NULL) > 0);
	T_EQ_STR(buf, "CONNECT [::ffff:10.1.2.3]:1 HTTP/1.1\r\nHost: [::ffff:10.1.2.3]:1\r\n\r\n");

	/* A name that would split the request line or the authority. */
	static const char *const bad[] = {
		"a b",  "evil\r\nX-Injected: 1", "a:b", "a/b", "a@b", "[::1]", "a%20b",
		"\x7f", "caf\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ_INT(socks5_addr_from_domain(&a, bad[i], 80), 0);
		T_EQ_INT(http_connect_build(buf, sizeof(buf), &a, NULL, NULL), -EINVAL);
		T_EQ_STR(buf, "");
	}
	socks5_addr_from_domain(&a, "x_y-z.~!$&'()*+,;=", 80);
	T_CHECK(http_connect_build(buf, sizeof(buf), &a, NULL, NULL) > 0);

	memset(&a, 0, sizeof(a));
	T_EQ_INT(http_connect_build(buf, sizeof(buf), &a, NULL, NULL), -EINVAL);
}

static void test_build_auth(void)
{
	char buf[HTTP_CONNECT_MAX];
	struct socks5_addr a;

	socks5_addr_from_domain(&a, "h", 1);
	/* RFC 7617 section 2's example */
	T_CHECK(http_connect_build(buf, sizeof(buf), &a, "Aladdin", "open sesame") > 0);
	T_EQ_STR(buf, "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n"
		      "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
	/* every padding length; a missing password is "" */
	struct {
		const char *user, *pass, *b64;
	} v[] = {
		{ "a", "", "YTo=" },       { "a", NULL, "YTo=" },     { "ab", "", "YWI6" },
		{ "abc", "", "YWJjOg==" }, { "", "p:w", "OnA6dw==" }, { "\xff", "\x01", "/zoB" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want), "Proxy-Authorization: Basic %s\r\n\r\n", v[i].b64);
		T_CHECK(http_connect_build(buf, sizeof(buf), &a, v[i].user, v[i].pass) > 0);
		T_CHECK(strstr(buf, want) != NULL);
	}
	T_EQ_INT(http_connect_build(buf, sizeof(buf), &a, "us:er", "x"), -EINVAL);

	/* the longest request fits HTTP_CONNECT_MAX; one byte more does not */
	char name[256], user[257], pass[257];
	memset(name, 'n', 255);
	name[255] = '\0';
	memset(user, 'u', 256);
	user[255] = '\0';
	memset(pass, 'p', 256);
	pass[255] = '\0';
	socks5_addr_from_domain(&a, name, 65535);
	int n = http_connect_build(buf, sizeof(buf), &a, user, pass);
	T_CHECK(n > 0 && n < HTTP_CONNECT_MAX);
	T_EQ_INT(strlen(buf), n);
	user[255] = 'u';
	user[256] = '\0';
	T_EQ_INT(http_connect_build(buf, sizeof(buf), &a, user, pass), -EINVAL);
	user[255] = '\0';
	pass[255] = 'p';
	pass[256] = '\0';
	T_EQ_INT(http_connect_build(buf, sizeof(buf), &a, user, pass), -EINVAL);
	pass[255] = '\0';

	/* every short buffer: -ENOBUFS, never a write past cap */
	char *small = malloc((size_t)n + 1);
	for (size_t cap = 0; cap <= (size_t)n; cap++) {
		T_EQ_INT(http_connect_build(small, cap, &a, user, pass), -ENOBUFS);
	}
	T_EQ_INT(http_connect_build(small, (size_t)n + 1, &a, user, pass), n);
	free(small);
}

static void test_parse_ok(void)
{
	struct http_response r;
	const char *ok = "HTTP/1.1 200 Connection established\r\n\r\n";
	size_t n = strlen(ok);

	T_EQ_INT(parse_str(ok, &r), n);
	T_EQ_INT(r.status, 200);
	T_EQ_INT(r.minor, 1);
	T_EQ_STR(r.reason, "Connection established");

	/* with tunnel data after the blank line: only the header counts */
	char both[128];
	snprintf(both, sizeof(both), "%sSSH-2.0-x\r\n", ok);
	T_EQ_INT(parse_str(both, &r), n);

	/* split at every byte: each prefix needs more, the whole is done */
	char pre[128];
	for (size_t k = 0; k < n; k++) {
		memcpy(pre, ok, k);
		T_EQ_INT(http_response_parse((const uint8_t *)pre, k, &r), 0);
		T_EQ_INT(r.status, 0);
	}

	const char *fields = "HTTP/1.0 200 OK\r\nProxy-Agent: x/1\r\nContent-Length: 12\r\n"
			     "Transfer-Encoding: chunked\r\nVia:\r\n  folded\r\n\r\nDATA";
	T_EQ_INT(parse_str(fields, &r), strlen(fields) - 4);
	T_EQ_INT(r.minor, 0);
	T_EQ_STR(r.reason, "OK");

	const char *lf = "HTTP/1.1 200 OK\nServer: y\n\nxyz";
	T_EQ_INT(parse_str(lf, &r), strlen(lf) - 3);
	const char *mixed = "HTTP/1.1 200 OK\r\nServer: y\n\r\n";
	T_EQ_INT(parse_str(mixed, &r), strlen(mixed));

	T_EQ_INT(parse_str("HTTP/1.1 200\r\n\r\n", &r), 16);
	T_EQ_STR(r.reason, "");
	T_EQ_INT(parse_str("HTTP/1.1 204 \r\n\r\n", &r), 17);
	T_EQ_STR(r.reason, "");
	T_EQ_INT(r.status, 204);

	/* reason bytes are made log-safe */
	T_CHECK(parse_str("HTTP/1.1 403 No\tWay \x1b[31m\xc3\xa9  \r\n\r\n", &r) > 0);
	T_EQ_STR(r.reason, "No Way ?[31m??");
	char longr[400];
	snprintf(longr, sizeof(longr), "HTTP/1.1 500 %0300d\r\n\r\n", 0);
	T_CHECK(parse_str(longr, &r) > 0);
	T_EQ_INT(strlen(r.reason), HTTP_REASON_MAX - 1);

	T_EQ_INT(parse_str("HTTP/1.1 407 Proxy Authentication Required\r\n"
			   "Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n",
			   &r) > 0,
		 1);
	T_EQ_INT(r.status, 407);
	T_EQ_INT(parse_str("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", &r), 25);
	T_EQ_INT(r.status, 100);
}

static void test_parse_errors(void)
{
	struct http_response r;

	/* not HTTP: detected from the first wrong byte */
	T_EQ_INT(parse_str("\x05\x00", &r), -EPROTO);
	T_EQ_INT(parse_str("\x16\x03\x01", &r), -EPROTO);
	T_EQ_INT(parse_str("SSH-2.0-OpenSSH\r\n", &r), -EPROTO);
	T_EQ_INT(parse_str("HTTX", &r), -EPROTO);
	T_EQ_INT(parse_str("http/1.1 200 OK\r\n\r\n", &r), -EPROTO);
	T_EQ_INT(parse_str("HTTP/2 200\r\n\r\n", &r), -EPROTO);
	T_EQ_INT(parse_str("\r\nHTTP/1.1 200 OK\r\n\r\n", &r), -EPROTO);
	T_EQ_INT(parse_str("HTTP/1.", &r), 0);
	T_EQ_INT(r.status, 0);

	static const char *const bad[] = {
		"HTTP/1.x 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 O\rK\r\n\r\n",
		"HTTP/1.1 200 O\0K\r\n\r\n",
		"HTTP/1.1 200 OK\r\n Leading: ws\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nName : space\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* strlen stops at the embedded NUL: scan the full literal */
		size_t len = strlen(bad[i]);

		if (i == 7)
			len = sizeof("HTTP/1.1 200 O\0K\r\n\r\n") - 1;
		int got = http_response_parse((const uint8_t *)bad[i], len, &r);
		if (got != -EBADMSG)
			fprintf(stderr, "bad[%zu] -> %d\n", i, got);
		T_EQ_INT(got, -EBADMSG);
		T_EQ_INT(r.status, 0);
	}

	/* truncated: needs more, forever */
	T_EQ_INT(parse_str("HTTP/1.1 200 OK\r\nServer: x\r\n", &r), 0);
	T_EQ_INT(parse_str("HTTP/1.1 200 OK\r\n\r", &r), 0);
}

/* A header of exactly HTTP_HEADER_MAX bytes is fine; one byte more is
 * "too long", and so is any longer unterminated one. */
static void test_parse_limit(void)
{
	struct http_response r;
	const char *head = "HTTP/1.1 200 OK\r\nX: ";
	size_t hl = strlen(head);
	uint8_t *buf = malloc(HTTP_HEADER_MAX + 64);

	memcpy(buf, head, hl);
	memset(buf + hl, 'a', HTTP_HEADER_MAX - hl - 4);
	memcpy(buf + HTTP_HEADER_MAX - 4, "\r\n\r\n", 4);
	T_EQ_INT(http_response_parse(buf, HTTP_HEADER_MAX, &r), HTTP_HEADER_MAX);
	T_EQ_INT(http_response_parse(buf, HTTP_HEADER_MAX + 10, &r), HTTP_HEADER_MAX);

	/* 16 KiB + 1 */
	memset(buf + hl, 'a', HTTP_HEADER_MAX - hl - 3);
	memcpy(buf + HTTP_HEADER_MAX - 3, "\r\n\r\n", 4);
	T_EQ_INT(http_response_parse(buf, HTTP_HEADER_MAX, &r), 0);
	T_EQ_INT(http_response_parse(buf, HTTP_HEADER_MAX + 1, &r), -EMSGSIZE);
	T_EQ_INT(http_response_parse(buf, HTTP_HEADER_MAX + 64, &r), -EMSGSIZE);
	free(buf);
}

static void test_status_errno(void)
{
	T_EQ_INT(http_status_to_errno(200), 0);
	T_EQ_INT(http_status_to_errno(299), 0);
	T_EQ_INT(http_status_to_errno(407), -EACCES);
	T_EQ_INT(http_status_to_errno(403), -EACCES);
	T_EQ_INT(http_status_to_errno(404), -EHOSTUNREACH);
	T_EQ_INT(http_status_to_errno(405), -EOPNOTSUPP);
	T_EQ_INT(http_status_to_errno(504), -ETIMEDOUT);
	T_EQ_INT(http_status_to_errno(502), -ECONNREFUSED);
	T_EQ_INT(http_status_to_errno(503), -ECONNREFUSED);
	T_EQ_INT(http_status_to_errno(101), -EPROTO);
	T_EQ_INT(http_status_to_errno(302), -EPROTO);
}

int main(void)
{
	T_RUN(test_build_targets);
	T_RUN(test_build_auth);
	T_RUN(test_parse_ok);
	T_RUN(test_parse_errors);
	T_RUN(test_parse_limit);
	T_RUN(test_status_errno);
	return test_summary();
}
