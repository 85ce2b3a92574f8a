/* libFuzzer target for the proxy URL parser.
 *
 * Checks, beyond sanitizer cleanliness:
 *  - the result is 0 with a usable struct (terminated fields within their
 *    buffers, port 1-65535, no empty host) or -EINVAL with a cleared struct
 *    and a one-line "column N: ..." message whose N (1-based) lies within
 *    the input or just past its end;
 *  - re-serialising an accepted URL (percent-encoding user and password)
 *    parses back to the same struct;
 *  - an IPv6 literal is accepted exactly when inet_pton accepts it.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#define _POSIX_C_SOURCE 200112L /* inet_pton, the reference for IPv6 text */

#include "config/proxy_url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define URL_MAX 2048

static void check_result(size_t len, int r, const struct proxy_url *u, const char *err)
{
	static const struct proxy_url zero;

	if (r != 0) {
		unsigned long col;
		char *end;

		CHECK(r == -EINVAL);
		CHECK(memcmp(u, &zero, sizeof(zero)) == 0);
		CHECK(strncmp(err, "column ", 7) == 0);
		col = strtoul(err + 7, &end, 10);
		CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
		CHECK(col >= 1 && col <= len + 1); /* 1-based; len + 1: at the end */
		CHECK(strchr(err, '\n') == NULL);
		return;
	}
	CHECK(err[0] == '\0');
	CHECK(u->scheme == PROXY_SOCKS5 || u->scheme == PROXY_HTTP || u->scheme == PROXY_HTTPS);
	CHECK(memchr(u->host, '\0', sizeof(u->host)) && u->host[0] != '\0');
	CHECK(memchr(u->user, '\0', sizeof(u->user)));
	CHECK(memchr(u->pass, '\0', sizeof(u->pass)));
	CHECK(u->port != 0);
	if (!u->has_auth)
		CHECK(u->user[0] == '\0' && u->pass[0] == '\0');
	else
		CHECK(u->user[0] != '\0');
	if (u->has_auth && u->scheme == PROXY_SOCKS5)
		CHECK(u->pass[0] != '\0');
}

static size_t put_encoded(char *dst, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		dst[n++] = '%';
		dst[n++] = hex[c >> 4];
		dst[n++] = hex[c & 15];
	}
	return n;
}

/* Print u back as a URL and parse it again: the same struct must result. */
static void check_roundtrip(const struct proxy_url *u)
{
	char url[16 + 3 * 255 * 2 + 300], err[128];
	struct proxy_url v;
	size_t n;
	bool v6 = strchr(u->host, ':') != NULL;

	n = (size_t)sprintf(url, "%s://", proxy_scheme_name(u->scheme));
	if (u->has_auth) {
		n += put_encoded(url + n, u->user);
		url[n++] = ':';
		n += put_encoded(url + n, u->pass);
		url[n++] = '@';
	}
	sprintf(url + n, v6 ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
	CHECK(proxy_url_parse(url, &v, err, sizeof(err)) == 0);
	CHECK(memcmp(u, &v, sizeof(v)) == 0);
}

static void check_ipv6_vs_libc(const uint8_t *data, size_t size)
{
	char text[64], url[80], err[128];
	struct proxy_url u;
	uint8_t bin[16];
	int r;

	if (size >= sizeof(text))
		return;
	for (size_t i = 0; i < size; i++) {
		char c = (char)data[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == ':' || c == '.'))
			return;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	snprintf(url, sizeof(url), "socks5://[%s]", text);
	r = proxy_url_parse(url, &u, err, sizeof(err));
	CHECK((r == 0) == (inet_pton(AF_INET6, text, bin) == 1));

	/* Unbracketed digits and dots: a strict dotted quad or nothing. */
	if (size && !memchr(text, ':', size) && text[0] >= '0' && text[0] <= '9' &&
	    !strpbrk(text, "abcdefABCDEF")) {
		snprintf(url, sizeof(url), "socks5://%s", text);
		r = proxy_url_parse(url, &u, err, sizeof(err));
		CHECK((r == 0) == (inet_pton(AF_INET, text, bin) == 1));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char url[URL_MAX + 1];
	struct proxy_url u;
	char err[96], tiny[5];
	size_t len;
	int r;

	if (size > URL_MAX)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	len = strlen(url); /* the parser sees the text up to a NUL */

	memset(&u, 0x5a, sizeof(u));
	memset(err, 0x5a, sizeof(err));
	r = proxy_url_parse(url, &u, err, sizeof(err));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	check_result(len, r, &u, err);
	if (r == 0)
		check_roundtrip(&u);

	/* The verdict does not depend on the error buffer. */
	memset(tiny, 0x5a, sizeof(tiny));
	CHECK(proxy_url_parse(url, &u, tiny, sizeof(tiny)) == r);
	CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	CHECK(proxy_url_parse(url, &u, NULL, 0) == r);

	check_ipv6_vs_libc(data, size);
	return 0;
}
