/* Unit tests for the proxy URL parser (config/proxy_url.c). */
#include "config/proxy_url.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct good_case {
	const char *url;
	enum proxy_scheme scheme;
	const char *host;
	uint16_t port;
	bool has_auth;
	const char *user, *pass;
};

static const struct good_case good[] = {
	{ "socks5://127.0.0.1:1080", PROXY_SOCKS5, "127.0.0.1", 1080, false, "", "" },
	{ "socks5://proxy.example.com", PROXY_SOCKS5, "proxy.example.com", 1080, false, "", "" },
	{ "socks5h://proxy:1081/", PROXY_SOCKS5, "proxy", 1081, false, "", "" },
	{ "SOCKS5://Proxy.Lan:1", PROXY_SOCKS5, "Proxy.Lan", 1, false, "", "" },
	{ "Socks5H://p", PROXY_SOCKS5, "p", 1080, false, "", "" },
	{ "http://proxy", PROXY_HTTP, "proxy", 80, false, "", "" },
	{ "http://proxy:8080/", PROXY_HTTP, "proxy", 8080, false, "", "" },
	{ "HTTPS://proxy", PROXY_HTTPS, "proxy", 443, false, "", "" },
	{ "https://proxy.example:8443", PROXY_HTTPS, "proxy.example", 8443, false, "", "" },
	{ "socks5://h:65535", PROXY_SOCKS5, "h", 65535, false, "", "" },
	{ "socks5://h:00080", PROXY_SOCKS5, "h", 80, false, "", "" },
	{ "socks5://my_proxy-1.lan", PROXY_SOCKS5, "my_proxy-1.lan", 1080, false, "", "" },
	{ "socks5://1proxy.example", PROXY_SOCKS5, "1proxy.example", 1080, false, "", "" },
	{ "socks5://proxy.example.:2", PROXY_SOCKS5, "proxy.example.", 2, false, "", "" },
	{ "socks5://0.0.0.0", PROXY_SOCKS5, "0.0.0.0", 1080, false, "", "" },
	{ "socks5://255.255.255.255:9", PROXY_SOCKS5, "255.255.255.255", 9, false, "", "" },
	/* IPv6 literals */
	{ "socks5://[::1]:1080", PROXY_SOCKS5, "::1", 1080, false, "", "" },
	{ "socks5://[::1]", PROXY_SOCKS5, "::1", 1080, false, "", "" },
	{ "socks5://[::]/", PROXY_SOCKS5, "::", 1080, false, "", "" },
	{ "http://[2001:DB8::1]:3128", PROXY_HTTP, "2001:DB8::1", 3128, false, "", "" },
	{ "socks5://[1:2:3:4:5:6:7:8]:9", PROXY_SOCKS5, "1:2:3:4:5:6:7:8", 9, false, "", "" },
	{ "socks5://[1::]", PROXY_SOCKS5, "1::", 1080, false, "", "" },
	{ "socks5://[1:2:3:4:5:6:7::]", PROXY_SOCKS5, "1:2:3:4:5:6:7::", 1080, false, "", "" },
	{ "socks5://[::2:3:4:5:6:7:8]", PROXY_SOCKS5, "::2:3:4:5:6:7:8", 1080, false, "", "" },
	{ "socks5://[::ffff:192.0.2.1]:1", PROXY_SOCKS5, "::ffff:192.0.2.1", 1, false, "", "" },
	{ "socks5://[1:2:3:4:5:6:1.2.3.4]", PROXY_SOCKS5, "1:2:3:4:5:6:1.2.3.4", 1080, false, "",
	  "" },
	/* credentials */
	{ "socks5://user:pass@host:1080", PROXY_SOCKS5, "host", 1080, true, "user", "pass" },
	{ "socks5://u:p@[::1]:2", PROXY_SOCKS5, "::1", 2, true, "u", "p" },
	{ "socks5://us%40er:p%3Aa%2Fss@h", PROXY_SOCKS5, "h", 1080, true, "us@er", "p:a/ss" },
	{ "socks5://%75%73%65%72:%70%61%73%73@h", PROXY_SOCKS5, "h", 1080, true, "user", "pass" },
	{ "socks5://u:%3f%23%25%20@h", PROXY_SOCKS5, "h", 1080, true, "u", "?#% " },
	{ "socks5://user:pa:ss@h", PROXY_SOCKS5, "h", 1080, true, "user", "pa:ss" },
	{ "socks5://u:p!$&'()*+,;=[]@h", PROXY_SOCKS5, "h", 1080, true, "u", "p!$&'()*+,;=[]" },
	{ "socks5://u:%C3%A4@h", PROXY_SOCKS5, "h", 1080, true, "u", "\xc3\xa4" },
	{ "socks5://u:\xc3\xa4@h", PROXY_SOCKS5, "h", 1080, true, "u", "\xc3\xa4" },
	{ "socks5://u:%0a@h", PROXY_SOCKS5, "h", 1080, true, "u", "\n" },
	{ "http://user@proxy", PROXY_HTTP, "proxy", 80, true, "user", "" },
	{ "http://user:@proxy", PROXY_HTTP, "proxy", 80, true, "user", "" },
	{ "https://a:b@proxy.example.:443/", PROXY_HTTPS, "proxy.example.", 443, true, "a", "b" },
};

static void test_valid(void)
{
	struct proxy_url u;
	char err[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct good_case *c = &good[i];
		int r = proxy_url_parse(c->url, &u, err, sizeof(err));

		if (r != 0)
			fprintf(stderr, "  \"%s\": %s\n", c->url, err);
		T_EQ_INT(r, 0);
		T_EQ_STR(err, "");
		T_EQ_INT(u.scheme, c->scheme);
		T_EQ_STR(u.host, c->host);
		T_EQ_INT(u.port, c->port);
		T_EQ_INT(u.has_auth, c->has_auth);
		T_EQ_STR(u.user, c->user);
		T_EQ_STR(u.pass, c->pass);
	}
}

struct bad_case {
	const char *url;
	unsigned col;
	const char *msg; /* a part of the message */
};

static const struct bad_case bad[] = {
	{ "", 1, "expected scheme://" },
	{ "127.0.0.1:1080", 1, "expected scheme://" },
	{ "proxy", 1, "expected scheme://" },
	{ "localhost:1080", 1, "unknown scheme \"localhost\"" },
	{ "socks4://h", 1, "unknown scheme \"socks4\"" },
	{ "socks://h", 1, "unknown scheme" },
	{ "ftp://h", 1, "unknown scheme" },
	{ "socks5:/h", 8, "expected \"//\" after \"socks5:\"" },
	{ "socks5h:h", 9, "expected \"//\" after \"socks5h:\"" },
	{ "socks5:", 8, "expected \"//\"" },
	/* host */
	{ "socks5://", 10, "empty host" },
	{ "socks5:///", 10, "empty host" },
	{ "socks5://:1080", 10, "empty host" },
	{ "socks5://h!x", 11, "invalid character '!' in host" },
	{ "socks5://h\xc3\xa4", 11, "invalid byte 0xc3 in host" },
	{ "socks5://a..b", 12, "empty label" },
	{ "socks5://.a", 10, "empty label" },
	{ "socks5://.", 10, "empty label" },
	{ "socks5://1.2.3", 10, "invalid IPv4 address" },
	{ "socks5://1.2.3.256", 10, "invalid IPv4 address" },
	{ "socks5://1.2.3.4.5", 10, "invalid IPv4 address" },
	{ "socks5://010.0.0.1", 10, "invalid IPv4 address" },
	{ "socks5://0x7f.0.0.1", 10, "invalid IPv4 address" },
	{ "socks5://2130706433", 10, "invalid IPv4 address" },
	{ "socks5://1.2.3.4.", 10, "invalid IPv4 address" },
	{ "socks5://example.1a", 10, "invalid IPv4 address" },
	{ "socks5://::1:1080", 10, "IPv6 address must be in brackets" },
	{ "socks5://h]:1", 11, "in brackets" },
	/* IPv6 literals */
	{ "socks5://[::1:1080", 10, "missing ']'" },
	{ "socks5://[::1", 10, "missing ']'" },
	{ "socks5://[::1]x", 15, "expected ':' or end after ']'" },
	{ "socks5://[::1]]", 15, "expected ':' or end after ']'" },
	{ "socks5://[]", 11, "invalid IPv6 address" },
	{ "socks5://[::g]", 11, "invalid IPv6 address" },
	{ "socks5://[:1]", 11, "invalid IPv6 address" },
	{ "socks5://[1:]", 11, "invalid IPv6 address" },
	{ "socks5://[:::1]", 11, "invalid IPv6 address" },
	{ "socks5://[1::2::3]", 11, "invalid IPv6 address" },
	{ "socks5://[12345::1]", 11, "invalid IPv6 address" },
	{ "socks5://[1:2:3:4:5:6:7]", 11, "invalid IPv6 address" },
	{ "socks5://[1:2:3:4:5:6:7:8:9]", 11, "invalid IPv6 address" },
	{ "socks5://[1:2:3:4::5:6:7:8]", 11, "invalid IPv6 address" },
	{ "socks5://[1:2:3:4:5:6:7:1.2.3.4]", 11, "invalid IPv6 address" },
	{ "socks5://[::1.2.3]", 11, "invalid IPv6 address" },
	{ "socks5://[::1.2.3.4:5]", 11, "invalid IPv6 address" },
	{ "socks5://[::01.2.3.4]", 11, "invalid IPv6 address" },
	{ "socks5://[1.2.3.4]", 11, "invalid IPv6 address" },
	{ "socks5://[fe80::1%25eth0]", 11, "invalid IPv6 address" },
	{ "socks5://[v1.x]", 11, "invalid IPv6 address" },
	/* port */
	{ "socks5://h:0", 12, "port must be 1-65535" },
	{ "socks5://h:65536", 12, "port must be 1-65535" },
	{ "socks5://h:99999999999999999999999", 12, "port must be 1-65535" },
	{ "socks5://h:", 12, "port must be 1-65535" },
	{ "socks5://h:/", 12, "port must be 1-65535" },
	{ "socks5://[::1]:", 16, "port must be 1-65535" },
	{ "socks5://[::1]:0", 16, "port must be 1-65535" },
	{ "socks5://h:80a", 14, "port must be decimal digits" },
	{ "socks5://h:-1", 12, "port must be decimal digits" },
	{ "socks5://h:+1", 12, "port must be decimal digits" },
	{ "socks5://h:0x50", 13, "port must be decimal digits" },
	/* after the authority */
	{ "socks5://h:1080/x", 17, "path not allowed" },
	{ "socks5://h//", 12, "path not allowed" },
	{ "socks5://h:1080?x", 16, "query not allowed" },
	{ "socks5://h?", 11, "query not allowed" },
	{ "socks5://h#x", 11, "fragment not allowed" },
	{ "socks5://[::1]/#", 16, "path not allowed" },
	/* characters anywhere */
	{ " socks5://h", 1, "space not allowed" },
	{ "socks5://h:1080 ", 16, "space not allowed" },
	{ "socks5://u:p w@h", 13, "space not allowed" },
	{ "socks5://h\n", 11, "control character 0x0a" },
	{ "socks5://u:p\t@h", 13, "control character 0x09" },
	{ "socks5://h\x7f", 11, "control character 0x7f" },
	/* userinfo */
	{ "socks5://user@h", 14, "socks5 authentication needs a password" },
	{ "socks5://user:@h", 15, "socks5 authentication needs a password" },
	{ "socks5://:pass@h", 10, "empty user name" },
	{ "socks5://@h", 10, "empty user name" },
	{ "http://@h", 8, "empty user name" },
	{ "socks5://u:p%4@h", 13, "'%' in password must be followed by two hex digits" },
	{ "socks5://u:p%zz@h", 13, "'%' in password" },
	{ "socks5://u:p%@h", 13, "'%' in password" },
	{ "socks5://u%4:p@h", 11, "'%' in user name" },
	{ "socks5://u:%00@h", 12, "%00 not allowed in password" },
	{ "socks5://%00:p@h", 10, "%00 not allowed in user name" },
	{ "socks5://u:p@ss@h", 13,
	  "unencoded '@' in the user name or password: write it as %40 (only the last '@', column "
	  "16," },
	{ "http://user@pa:ss@127.0.0.1:8080", 12,
	  "unencoded '@' in the user name or password: write it as %40 (only the last '@', column "
	  "18, separates them from the host)" },
	{ "socks5://a@b@c:d@h", 11,
	  "2 unencoded '@' in the user name or password: write each as %40 (only the last '@', "
	  "column 17," },
	{ "socks5://u@:p@h:99999", 11, "unencoded '@'" },
	{ "socks5://u:p/ss@h", 13, "'/' before '@'" },
	{ "socks5://u:p?ss@h", 13, "'?' before '@'" },
	{ "socks5://u:p#ss@h", 13, "'#' before '@'" },
	{ "socks5://u:p@", 14, "empty host" },
	{ "socks5://u:p@:1", 14, "empty host" },
};

static void check_bad(const char *url, unsigned col, const char *msg)
{
	struct proxy_url u;
	char err[160], prefix[32];
	int r;

	memset(&u, 0xaa, sizeof(u));
	r = proxy_url_parse(url, &u, err, sizeof(err));
	if (r != -EINVAL)
		fprintf(stderr, "  \"%s\" accepted\n", url);
	T_EQ_INT(r, -EINVAL);
	snprintf(prefix, sizeof(prefix), "column %u: ", col);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, msg))
		fprintf(stderr, "  \"%s\": got \"%s\", want \"%s...%s...\"\n", url, err, prefix,
			msg);
	T_CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
	T_CHECK(strstr(err, msg) != NULL);
	T_CHECK(strchr(err, '\n') == NULL);
	/* out is left cleared: no half-parsed credentials survive. */
	T_EQ_INT(u.scheme, 0);
	T_EQ_INT(u.port, 0);
	T_EQ_INT(u.has_auth, 0);
	T_EQ_INT(u.host[0] | u.user[0] | u.pass[0], 0);
}

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(bad[i].url, bad[i].col, bad[i].msg);
}

static void test_lengths(void)
{
	char url[1300], err[128], field[300];
	struct proxy_url u;

	/* 255-byte user and password are the limit (RFC 1929, our buffers). */
	memset(field, 'a', 255);
	field[255] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:%s@h", field, field);
	T_EQ_INT(proxy_url_parse(url, &u, err, sizeof(err)), 0);
	T_EQ_INT(strlen(u.user), 255);
	T_EQ_INT(strlen(u.pass), 255);
	field[255] = 'a';
	field[256] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:p@h", field);
	check_bad(url, 10, "user name longer than 255 bytes");
	snprintf(url, sizeof(url), "socks5://u:%s@h", field);
	check_bad(url, 12, "password longer than 255 bytes");

	/* The limit applies after decoding: 255 x "%41" is fine. */
	url[0] = '\0';
	strcat(url, "socks5://u:");
	for (int i = 0; i < 255; i++)
		strcat(url, "%41");
	strcat(url, "@h");
	T_EQ_INT(proxy_url_parse(url, &u, err, sizeof(err)), 0);
	T_EQ_INT(strlen(u.pass), 255);
	T_EQ_INT(u.pass[254], 'A');

	/* Labels up to 63 bytes, names up to 253 (254 with the final dot). */
	memset(field, 'l', 63);
	field[63] = '\0';
	snprintf(url, sizeof(url), "socks5://%s.example", field);
	T_EQ_INT(proxy_url_parse(url, &u, err, sizeof(err)), 0);
	snprintf(url, sizeof(url), "socks5://x.%sl.example", field);
	check_bad(url, 12, "label longer than 63 bytes");

	/* 4 labels of 63 + 3 dots = 255; trim to 253. */
	snprintf(url, sizeof(url), "socks5://%s.%s.%s.%s", field, field, field, field + 2);
	T_EQ_INT(proxy_url_parse(url, &u, err, sizeof(err)), 0);
	T_EQ_INT(strlen(u.host), 253);
	strcat(url, ".");
	T_EQ_INT(proxy_url_parse(url, &u, err, sizeof(err)), 0);
	T_EQ_INT(strlen(u.host), 254);
	snprintf(url, sizeof(url), "socks5://%s.%s.%s.%s", field, field, field, field + 1);
	check_bad(url, 10, "host name longer than 253 bytes");
}

static void test_err_buffer(void)
{
	struct proxy_url u;
	char err[8];

	/* A small buffer still gets a terminated prefix; none at all is fine. */
	memset(err, 'x', sizeof(err));
	T_EQ_INT(proxy_url_parse("socks5://h:0", &u, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "column ");
	T_EQ_INT(proxy_url_parse("socks5://h:0", &u, NULL, 0), -EINVAL);
	err[0] = 'x';
	T_EQ_INT(proxy_url_parse("socks5://h:0", &u, err, 0), -EINVAL);
	T_EQ_INT(err[0], 'x');
	memset(err, 'x', sizeof(err));
	T_EQ_INT(proxy_url_parse("socks5://h:0", &u, err, 1), -EINVAL);
	T_EQ_INT(err[0], '\0');
	T_EQ_INT(err[1], 'x');
	T_EQ_INT(proxy_url_parse(NULL, &u, NULL, 0), -EINVAL);
	T_EQ_INT(u.scheme, 0);
	T_EQ_INT(proxy_url_parse("socks5://h", &u, NULL, 0), 0);
}

static void test_secrets_not_echoed(void)
{
	static const char *const urls[] = {
		"socks5://hunter2:hunter2%zz@h",
		"socks5://hunter2:hunter2%00@h",
		"socks5://hunter2@h",
		"socks5://u:hunter2@ss@h",
		"socks5://u:hunter2/x@h",
	};
	struct proxy_url u;
	char err[256];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		T_EQ_INT(proxy_url_parse(urls[i], &u, err, sizeof(err)), -EINVAL);
		if (strstr(err, "hunter2"))
			fprintf(stderr, "  \"%s\" -> \"%s\"\n", urls[i], err);
		T_CHECK(strstr(err, "hunter2") == NULL);
	}
}

static void test_suggest(void)
{
	struct proxy_url u;
	char out[128], small[19]; /* one byte short of "socks5://u:p%40ss@h" */

	/* The last '@' before the host separates the credentials. */
	T_EQ_INT(proxy_url_suggest("http://user@pa:ss@127.0.0.1:8080", out, sizeof(out)), 0);
	T_EQ_STR(out, "http://user%40pa:ss@127.0.0.1:8080");
	T_EQ_INT(proxy_url_parse(out, &u, NULL, 0), 0);
	T_EQ_STR(u.user, "user@pa");
	T_EQ_STR(u.pass, "ss");
	T_EQ_STR(u.host, "127.0.0.1");
	T_EQ_INT(u.port, 8080);
	T_EQ_INT(proxy_url_suggest("socks5://a@b:c@d@h/", out, sizeof(out)), 0);
	T_EQ_STR(out, "socks5://a%40b:c%40d@h/");
	/* Nothing to fix, or a fix that still would not parse: no suggestion. */
	T_EQ_INT(proxy_url_suggest("socks5://u:p@h", out, sizeof(out)), -ENOENT);
	T_EQ_STR(out, "");
	T_EQ_INT(proxy_url_suggest("socks5://h", out, sizeof(out)), -ENOENT);
	T_EQ_INT(proxy_url_suggest("h@x@y", out, sizeof(out)), -ENOENT);
	T_EQ_INT(proxy_url_suggest(NULL, out, sizeof(out)), -ENOENT);
	T_EQ_INT(proxy_url_suggest("socks5://u@:p@h:99999", out, sizeof(out)), -ENOENT);
	T_EQ_STR(out, "");
	T_EQ_INT(proxy_url_suggest("socks5://u:p@h/x@y", out, sizeof(out)), -ENOENT);
	T_EQ_INT(proxy_url_suggest("socks5://u:p@ss@h", small, sizeof(small)), -ENOSPC);
	T_EQ_STR(small, "");
	T_EQ_INT(proxy_url_suggest("socks5://u:p@ss@h", small, 0), -ENOSPC);
}

static void test_scheme_name(void)
{
	T_EQ_STR(proxy_scheme_name(PROXY_SOCKS5), "socks5");
	T_EQ_STR(proxy_scheme_name(PROXY_HTTP), "http");
	T_EQ_STR(proxy_scheme_name(PROXY_HTTPS), "https");
	T_EQ_STR(proxy_scheme_name((enum proxy_scheme)0), "unknown");
	T_EQ_STR(proxy_scheme_name((enum proxy_scheme)42), "unknown");
}

int main(void)
{
	T_RUN(test_valid);
	T_RUN(test_invalid);
	T_RUN(test_lengths);
	T_RUN(test_err_buffer);
	T_RUN(test_secrets_not_echoed);
	T_RUN(test_suggest);
	T_RUN(test_scheme_name);
	return test_summary();
}
