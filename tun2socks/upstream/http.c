#include "tun2socks/upstream/http.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* strlen() that stops looking after max bytes, returning max + 1 then. */
static size_t bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n])
		n++;
	return n;
}

/* RFC 3986 reg-name without pct-encoded: unreserved / sub-delims. */
static bool reg_name_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-._~!$&'()*+,;=", c) != NULL;
}

/* RFC 9110 tchar. */
static bool tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Base64 (RFC 4648, padded) of src into dst, which has room for
 * 4 * ceil(n / 3) bytes; returns that length. */
static size_t base64_encode(char *dst, const uint8_t *src, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)src[i + 1] << 8;
		if (i + 2 < n)
			v |= src[i + 2];
		dst[o++] = tab[v >> 18 & 63];
		dst[o++] = tab[v >> 12 & 63];
		dst[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		dst[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	return o;
}

/* The request authority for a, or -EINVAL (see http_connect_build). */
static int authority(char *out, size_t cap, const struct socks5_addr *a)
{
	if (a->atyp == SOCKS5_ATYP_DOMAIN) {
		if (a->domain_len == 0 || a->u.domain[a->domain_len] != '\0')
			return -EINVAL;
		for (size_t i = 0; i < a->domain_len; i++)
			if (!reg_name_char((unsigned char)a->u.domain[i]))
				return -EINVAL;
	} else if (a->atyp != SOCKS5_ATYP_IPV4 && a->atyp != SOCKS5_ATYP_IPV6) {
		return -EINVAL;
	}
	/* Only reg-name bytes are left, which socks5_addr_str never escapes;
	 * IP text is the RFC 5952 form, IPv6 in brackets. */
	socks5_addr_str(a, out, cap);
	return (int)strlen(out);
}

/* Appends n bytes at *off if they fit below cap. */
static bool put(char *buf, size_t cap, size_t *off, const char *s, size_t n)
{
	if (cap - *off < n)
		return false;
	memcpy(buf + *off, s, n);
	*off += n;
	return true;
}

#define PUT_LIT(s) put(buf, cap, &off, s, sizeof(s) - 1)

int http_connect_build(char *buf, size_t cap, const struct socks5_addr *target, const char *user,
		       const char *pass)
{
	char host[SOCKS5_ADDR_STR_MAX];
	uint8_t cred[255 + 1 + 255];
	char b64[(sizeof(cred) + 2) / 3 * 4];
	size_t off = 0, ulen = 0, plen = 0, blen = 0;
	int hlen;

	if (cap)
		buf[0] = '\0';
	hlen = authority(host, sizeof(host), target);
	if (hlen < 0)
		return hlen;
	if (user) {
		if (!pass)
			pass = "";
		ulen = bounded_len(user, 255);
		plen = bounded_len(pass, 255);
		if (ulen > 255 || plen > 255 || memchr(user, ':', ulen))
			return -EINVAL;
		memcpy(cred, user, ulen);
		cred[ulen] = ':';
		memcpy(cred + ulen + 1, pass, plen);
		blen = base64_encode(b64, cred, ulen + 1 + plen);
	}
	if (!(PUT_LIT("CONNECT ") && put(buf, cap, &off, host, (size_t)hlen) &&
	      PUT_LIT(" HTTP/1.1\r\nHost: ") && put(buf, cap, &off, host, (size_t)hlen) &&
	      PUT_LIT("\r\n")))
		goto nobufs;
	if (user && !(PUT_LIT("Proxy-Authorization: Basic ") && put(buf, cap, &off, b64, blen) &&
		      PUT_LIT("\r\n")))
		goto nobufs;
	if (!PUT_LIT("\r\n") || off == cap)
		goto nobufs;
	buf[off] = '\0';
	return (int)off;
nobufs:
	if (cap)
		buf[0] = '\0';
	return -ENOBUFS;
}

enum scan_state {
	S_PREFIX,     /* "HTTP/1." */
	S_MINOR,      /* one digit */
	S_SP,         /* the SP before the status code */
	S_CODE,       /* three digits, the first 1-9 */
	S_AFTER_CODE, /* SP, or the end of the line */
	S_REASON,
	S_LINE_START, /* a field line, an obs-fold, or the blank line */
	S_NAME,
	S_VALUE,
	S_LF,     /* a CR was seen: LF must follow, then S_LINE_START */
	S_END_LF, /* a CR opened the blank line */
};

int http_response_parse(const uint8_t *buf, size_t len, struct http_response *out)
{
	static const char prefix[] = "HTTP/1.";
	struct http_response r;
	enum scan_state st = S_PREFIX;
	size_t limit = len < HTTP_HEADER_MAX ? len : HTTP_HEADER_MAX, rlen = 0;
	bool any_field = false;
	int digits = 0;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < limit; i++) {
		unsigned char c = buf[i];

		switch (st) {
		case S_PREFIX:
			if (c != (unsigned char)prefix[i])
				return -EPROTO;
			if (i == sizeof(prefix) - 2)
				st = S_MINOR;
			break;
		case S_MINOR:
			if (c < '0' || c > '9')
				return -EBADMSG;
			r.minor = c - '0';
			st = S_SP;
			break;
		case S_SP:
			if (c != ' ')
				return -EBADMSG;
			st = S_CODE;
			break;
		case S_CODE:
			if (c < '0' || c > '9' || (digits == 0 && c == '0'))
				return -EBADMSG;
			r.status = r.status * 10 + (c - '0');
			if (++digits == 3)
				st = S_AFTER_CODE;
			break;
		case S_AFTER_CODE:
			if (c == ' ')
				st = S_REASON;
			else if (c == '\r')
				st = S_LF;
			else if (c == '\n')
				st = S_LINE_START;
			else
				return -EBADMSG;
			break;
		case S_REASON:
			if (c == '\r') {
				st = S_LF;
			} else if (c == '\n') {
				st = S_LINE_START;
			} else if (c == '\0') {
				return -EBADMSG;
			} else if (rlen + 1 < sizeof(r.reason)) {
				r.reason[rlen++] = c == '\t'               ? ' '
						   : c >= 0x20 && c < 0x7f ? (char)c
									   : '?';
			}
			break;
		case S_LINE_START:
			if (c == '\r') {
				st = S_END_LF;
			} else if (c == '\n') {
				goto done;
			} else if (c == ' ' || c == '\t') {
				/* obs-fold continues a field; before the first
				 * field it could hide one (RFC 9112 2.2). */
				if (!any_field)
					return -EBADMSG;
				st = S_VALUE;
			} else if (tchar(c)) {
				any_field = true;
				st = S_NAME;
			} else {
				return -EBADMSG;
			}
			break;
		case S_NAME:
			if (c == ':')
				st = S_VALUE;
			else if (!tchar(c))
				return -EBADMSG;
			break;
		case S_VALUE:
			if (c == '\r')
				st = S_LF;
			else if (c == '\n')
				st = S_LINE_START;
			else if (c == '\0')
				return -EBADMSG;
			break;
		case S_LF:
			if (c != '\n')
				return -EBADMSG;
			st = S_LINE_START;
			break;
		case S_END_LF:
			if (c != '\n')
				return -EBADMSG;
			goto done;
		}
		continue;
	done:
		while (rlen && r.reason[rlen - 1] == ' ')
			r.reason[--rlen] = '\0';
		*out = r;
		return (int)(i + 1);
	}
	/* Every byte up to the limit was scanned without reaching the blank
	 * line: with more bytes present, the block is too long. */
	return len > HTTP_HEADER_MAX ? -EMSGSIZE : 0;
}

int http_status_to_errno(int status)
{
	if (status >= 200 && status <= 299)
		return 0;
	switch (status) {
	case 401:
	case 403:
	case 407:
		return -EACCES;
	case 404:
		return -EHOSTUNREACH;
	case 405:
	case 501:
		return -EOPNOTSUPP;
	case 408:
	case 504:
		return -ETIMEDOUT;
	default:
		return status >= 400 ? -ECONNREFUSED : -EPROTO;
	}
}
