#include "config/proxy_url.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Parse context: the input and where to report. Positions are byte
 * offsets into s; the reported column is the offset plus one, counted as
 * editors and conf_err count. */
struct url_parser {
	const char *s;
	char *err;
	size_t errlen;
};

static int url_fail(const struct url_parser *p, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int url_fail(const struct url_parser *p, size_t col, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || p->errlen == 0)
		return -EINVAL;
	n = snprintf(p->err, p->errlen, "column %zu: ", col + 1);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Character classes by hand: <ctype.h> depends on the locale. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_val(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool eq_nocase(const char *a, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (lit[i] == '\0' || c != lit[i])
			return false;
	}
	return lit[i] == '\0';
}

/* Dotted quad, each part 0-255 in 1-3 digits without a leading zero (the
 * form inet_pton accepts; inet_aton would read "010" as octal). */
static bool ipv4_text_valid(const char *s, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			start = ++i;
		}
		while (i < n && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return false;
	}
	return i == n;
}

/* RFC 4291 section 2.2 text: up to 8 groups of 1-4 hex digits, one "::"
 * standing for at least one zero group, optionally ending in a dotted quad
 * worth two groups. No zone ID. */
static bool ipv6_text_valid(const char *s, size_t n)
{
	size_t i = 0;
	int groups = 0;
	bool dcolon = false;

	if (n >= 1 && s[0] == ':') {
		if (n < 2 || s[1] != ':')
			return false;
		dcolon = true;
		i = 2;
	}
	while (i < n) {
		size_t start = i;

		while (i < n && hex_val(s[i]) >= 0 && i - start < 5)
			i++;
		if (i == start)
			return false;
		if (i < n && s[i] == '.') {
			if (!ipv4_text_valid(s + start, n - start))
				return false;
			groups += 2;
			break;
		}
		if (i - start > 4 || ++groups > 8)
			return false;
		if (i == n)
			break;
		if (s[i++] != ':' || i == n)
			return false;
		if (s[i] == ':') {
			if (dcolon)
				return false;
			dcolon = true;
			i++;
		}
	}
	return dcolon ? groups <= 7 : groups == 8;
}

/* Percent-decodes s[from, to) into dst (cap 256, NUL-terminated). Raw bytes
 * are taken as they are: the caller already refused control characters
 * and the delimiters that end the field. */
static int decode_field(const struct url_parser *p, size_t from, size_t to, char *dst,
			const char *what)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++) {
		char c = p->s[i];

		if (c == '%') {
			int hi = i + 1 < to ? hex_val(p->s[i + 1]) : -1;
			int lo = i + 2 < to ? hex_val(p->s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return url_fail(p, i,
						"'%%' in %s must be followed by two hex digits",
						what);
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return url_fail(p, i, "%%00 not allowed in %s", what);
			i += 2;
		}
		if (n == 255)
			return url_fail(p, from, "%s longer than 255 bytes", what);
		dst[n++] = c;
	}
	dst[n] = '\0';
	return 0;
}

/* userinfo is s[from, to): "user" or "user:pass". */
static int parse_userinfo(const struct url_parser *p, size_t from, size_t to, struct proxy_url *out)
{
	const char *colon = memchr(p->s + from, ':', to - from);
	size_t ue = colon ? (size_t)(colon - p->s) : to;
	int r;

	r = decode_field(p, from, ue, out->user, "user name");
	if (r < 0)
		return r;
	if (out->user[0] == '\0')
		return url_fail(p, from, "empty user name before '@'");
	if (colon) {
		r = decode_field(p, ue + 1, to, out->pass, "password");
		if (r < 0)
			return r;
	}
	/* RFC 1929 has no way to send an empty password. */
	if (out->scheme == PROXY_SOCKS5 && out->pass[0] == '\0')
		return url_fail(p, colon ? ue + 1 : to,
				"socks5 authentication needs a password (user:pass@)");
	out->has_auth = true;
	return 0;
}

/* The '@' that ends the userinfo in the authority s[from, to): the last one
 * (as curl and Go's net/url read it; a raw '@' is not allowed in userinfo
 * by RFC 3986, so any earlier one is the user's and must be %40). *at is
 * NULL when there is none; an earlier '@' is an error at the first. */
static int find_userinfo_end(const struct url_parser *p, size_t from, size_t to, const char **at)
{
	const char *first = memchr(p->s + from, '@', to - from);
	size_t extra = 0;

	*at = NULL;
	for (size_t i = from; i < to; i++) {
		if (p->s[i] == '@') {
			extra += *at != NULL;
			*at = p->s + i;
		}
	}
	if (extra == 0)
		return 0;
	if (extra == 1)
		return url_fail(p, (size_t)(first - p->s),
				"unencoded '@' in the user name or password: write it as %%40 "
				"(only the last '@', column %zu, separates them from the host)",
				(size_t)(*at - p->s) + 1);
	return url_fail(p, (size_t)(first - p->s),
			"%zu unencoded '@' in the user name or password: write each as %%40 "
			"(only the last '@', column %zu, separates them from the host)",
			extra, (size_t)(*at - p->s) + 1);
}

/* A DNS name or a strict IPv4 dotted quad in s[from, to). */
static int check_hostname(const struct url_parser *p, size_t from, size_t to)
{
	size_t label = from, last = from;
	bool absolute;

	if (from == to)
		return url_fail(p, from, "empty host");
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)p->s[i];

		if (c == '.') {
			if (i == label)
				return url_fail(p, i, "empty label in host name");
			last = label;
			label = i + 1;
			continue;
		}
		if (c == '[' || c == ']')
			return url_fail(p, i, "IPv6 address must be the whole host, in brackets");
		if (!is_alpha((char)c) && !is_digit((char)c) && c != '-' && c != '_') {
			if (c < 0x80)
				return url_fail(p, i, "invalid character '%c' in host", c);
			return url_fail(p, i, "invalid byte 0x%02x in host (use the punycode form)",
					c);
		}
		if (i - label >= 63)
			return url_fail(p, label, "host name label longer than 63 bytes");
	}
	/* "proxy.example." is an absolute name: its last label precedes the
	 * final dot. */
	absolute = p->s[to - 1] == '.';
	if (!absolute)
		last = label;
	if (to - from - absolute > 253)
		return url_fail(p, from, "host name longer than 253 bytes");
	/* No top-level domain starts with a digit: such a name is meant as an
	 * address, and must be one every resolver reads as we do. */
	if (is_digit(p->s[last]) && !ipv4_text_valid(p->s + from, to - from))
		return url_fail(p, from, "invalid IPv4 address (expected a.b.c.d, each 0-255)");
	return 0;
}

int proxy_url_parse(const char *s, struct proxy_url *out, char *err, size_t errlen)
{
	struct url_parser p = { s, err, errlen };
	size_t i, auth, auth_end, host, host_end, pos;
	const char *at;
	int r;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!s) {
		r = url_fail(&p, 0, "no proxy URL given");
		goto out;
	}
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			r = url_fail(&p, i, "control character 0x%02x not allowed", c);
			goto out;
		}
		if (c == ' ') {
			r = url_fail(&p, i, "space not allowed (write %%20 in user or password)");
			goto out;
		}
	}

	/* scheme "://" */
	for (i = 0; is_alpha(s[i]) ||
		    (i > 0 && (is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'));
	     i++)
		;
	if (i == 0 || s[i] != ':') {
		r = url_fail(&p, 0, "expected scheme:// (socks5, socks5h, http or https)");
		goto out;
	}
	if (eq_nocase(s, i, "socks5") || eq_nocase(s, i, "socks5h")) {
		out->scheme = PROXY_SOCKS5;
		out->port = 1080;
	} else if (eq_nocase(s, i, "http")) {
		out->scheme = PROXY_HTTP;
		out->port = 80;
	} else if (eq_nocase(s, i, "https")) {
		out->scheme = PROXY_HTTPS;
		out->port = 443;
	} else {
		r = url_fail(&p, 0,
			     "unknown scheme \"%.*s\" (expected socks5, socks5h, http or https)",
			     (int)(i < 16 ? i : 16), s);
		goto out;
	}
	if (s[i + 1] != '/' || s[i + 2] != '/') {
		r = url_fail(&p, i + 1, "expected \"//\" after \"%.*s:\"", (int)i, s);
		goto out;
	}

	/* The authority ends at the first '/', '?' or '#' (RFC 3986 3.2):
	 * those must be percent-encoded inside a user name or password. */
	auth = i + 3;
	auth_end = auth + strcspn(s + auth, "/?#");
	r = find_userinfo_end(&p, auth, auth_end, &at);
	if (r < 0)
		goto out;
	if (!at && strchr(s + auth_end, '@')) {
		/* Said before the "user:pass" part is misread as host:port. */
		r = url_fail(&p, auth_end,
			     "'%c' before '@': percent-encode '/', '?' and '#' in user or password",
			     s[auth_end]);
		goto out;
	}
	host = auth;
	if (at) {
		host = (size_t)(at - s) + 1;
		r = parse_userinfo(&p, auth, host - 1, out);
		if (r < 0)
			goto out;
	}

	if (s[host] == '[') {
		const char *close = memchr(s + host, ']', auth_end - host);

		if (!close) {
			r = url_fail(&p, host, "missing ']' after IPv6 address");
			goto out;
		}
		host_end = (size_t)(close - s);
		if (!ipv6_text_valid(s + host + 1, host_end - host - 1)) {
			r = url_fail(&p, host + 1, "invalid IPv6 address");
			goto out;
		}
		memcpy(out->host, s + host + 1, host_end - host - 1);
		pos = host_end + 1;
		if (pos != auth_end && s[pos] != ':') {
			r = url_fail(&p, pos, "expected ':' or end after ']'");
			goto out;
		}
	} else {
		const char *colon = memchr(s + host, ':', auth_end - host);

		host_end = colon ? (size_t)(colon - s) : auth_end;
		if (colon && memchr(colon + 1, ':', auth_end - host_end - 1)) {
			r = url_fail(&p, host, "IPv6 address must be in brackets: [addr]:port");
			goto out;
		}
		r = check_hostname(&p, host, host_end);
		if (r < 0)
			goto out;
		memcpy(out->host, s + host, host_end - host);
		pos = host_end;
	}

	if (pos < auth_end) { /* s[pos] == ':' */
		unsigned long port = 0;
		size_t d = ++pos;

		for (; pos < auth_end && is_digit(s[pos]); pos++) {
			if (port <= 65535)
				port = port * 10 + (unsigned long)(s[pos] - '0');
		}
		if (pos < auth_end) {
			r = url_fail(&p, pos, "port must be decimal digits");
			goto out;
		}
		if (port == 0 || port > 65535) {
			r = url_fail(&p, d, "port must be 1-65535");
			goto out;
		}
		out->port = (uint16_t)port;
	}

	if (s[auth_end] == '\0' || (s[auth_end] == '/' && s[auth_end + 1] == '\0')) {
		r = 0;
		goto out;
	}
	if (s[auth_end] == '?')
		r = url_fail(&p, auth_end, "query not allowed in a proxy URL");
	else if (s[auth_end] == '#')
		r = url_fail(&p, auth_end, "fragment not allowed in a proxy URL");
	else
		r = url_fail(&p, auth_end + 1,
			     "path not allowed in a proxy URL (only a trailing '/')");
out:
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

const char *proxy_scheme_name(enum proxy_scheme s)
{
	switch (s) {
	case PROXY_SOCKS5:
		return "socks5";
	case PROXY_HTTP:
		return "http";
	case PROXY_HTTPS:
		return "https";
	}
	return "unknown";
}

int proxy_url_suggest(const char *s, char *out, size_t len)
{
	const char *auth, *end, *last = NULL;
	struct proxy_url u;
	size_t n = 0;

	if (len)
		out[0] = '\0';
	auth = s ? strstr(s, "://") : NULL;
	if (!auth)
		return -ENOENT;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *c = auth; c < end; c++)
		if (*c == '@')
			last = c;
	if (!last || !memchr(auth, '@', (size_t)(last - auth)))
		return -ENOENT;
	for (const char *c = s; *c; c++) {
		bool enc = *c == '@' && c >= auth && c < last;
		size_t need = enc ? 3 : 1;

		if (n + need >= len) {
			if (len)
				out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + n, enc ? "%40" : c, need);
		n += need;
	}
	out[n] = '\0';
	/* Only a complete fix is worth showing. */
	if (proxy_url_parse(out, &u, NULL, 0) < 0) {
		out[0] = '\0';
		return -ENOENT;
	}
	return 0;
}
