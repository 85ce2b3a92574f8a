/* sniff: TLS ClientHello SNI and HTTP Host (sniff.h). Every length read
 * from the wire is checked against what is left before it is used. */
#include "resolver/sniff.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* A cursor over untrusted bytes. */
struct rd {
	const uint8_t *p;
	size_t n;
};

static int rd_u8(struct rd *r, unsigned *v)
{
	if (r->n < 1)
		return -EINVAL;
	*v = r->p[0];
	r->p++;
	r->n--;
	return 0;
}

static int rd_u16(struct rd *r, unsigned *v)
{
	if (r->n < 2)
		return -EINVAL;
	*v = (unsigned)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->n -= 2;
	return 0;
}

static int rd_skip(struct rd *r, size_t k)
{
	if (r->n < k)
		return -EINVAL;
	r->p += k;
	r->n -= k;
	return 0;
}

/* A sub-cursor over the next k bytes. */
static int rd_sub(struct rd *r, size_t k, struct rd *sub)
{
	if (r->n < k)
		return -EINVAL;
	sub->p = r->p;
	sub->n = k;
	return rd_skip(r, k);
}

static bool is_ipv4_literal(const char *s, size_t len)
{
	unsigned dots = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return dots == 3;
}

int sniff_copy_name(const char *name, size_t len, char *out, size_t cap)
{
	size_t label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len + 1 > cap || is_ipv4_literal(name, len))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return -EINVAL;
		if (++label > 63)
			return -EINVAL;
	}
	if (label == 0)
		return -EINVAL;
	memcpy(out, name, len);
	out[len] = '\0';
	return 0;
}

/* ---- TLS ------------------------------------------------------------------ */

/* The server_name extension's body: the first host_name entry. */
static int sni_ext(struct rd *e, char *out, size_t cap)
{
	struct rd list;
	unsigned list_len, type, name_len;

	if (rd_u16(e, &list_len) < 0 || rd_sub(e, list_len, &list) < 0)
		return -EINVAL;
	while (list.n > 0) {
		struct rd name;

		if (rd_u8(&list, &type) < 0 || rd_u16(&list, &name_len) < 0 ||
		    rd_sub(&list, name_len, &name) < 0)
			return -EINVAL;
		if (type == 0) /* host_name */
			return sniff_copy_name((const char *)name.p, name.n, out, cap);
	}
	return -ENOENT;
}

int sniff_client_hello(const uint8_t *msg, size_t len, char *out, size_t cap)
{
	struct rd r = { msg, len }, body, exts;
	unsigned type, v, ext_len;
	size_t blen;

	if (cap > 0)
		out[0] = '\0';
	if (rd_u8(&r, &type) < 0 || type != 1 || r.n < 3) /* client_hello */
		return -EINVAL;
	blen = (size_t)r.p[0] << 16 | (size_t)r.p[1] << 8 | r.p[2];
	if (rd_skip(&r, 3) < 0 || rd_sub(&r, blen, &body) < 0)
		return -EINVAL;
	/* legacy_version, random */
	if (rd_u16(&body, &v) < 0 || (v >> 8) != 3 || rd_skip(&body, 32) < 0)
		return -EINVAL;
	if (rd_u8(&body, &v) < 0 || v > 32 || rd_skip(&body, v) < 0) /* session id */
		return -EINVAL;
	if (rd_u16(&body, &v) < 0 || rd_skip(&body, v) < 0) /* cipher suites */
		return -EINVAL;
	if (rd_u8(&body, &v) < 0 || rd_skip(&body, v) < 0) /* compression */
		return -EINVAL;
	if (body.n == 0)
		return -ENOENT; /* no extensions */
	if (rd_u16(&body, &ext_len) < 0 || rd_sub(&body, ext_len, &exts) < 0)
		return -EINVAL;
	while (exts.n > 0) {
		struct rd e;
		unsigned et, el;

		if (rd_u16(&exts, &et) < 0 || rd_u16(&exts, &el) < 0 || rd_sub(&exts, el, &e) < 0)
			return -EINVAL;
		if (et == 0) /* server_name */
			return sni_ext(&e, out, cap);
	}
	return -ENOENT;
}

int sniff_tls(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	/* The handshake message, gathered from the records' fragments. */
	uint8_t msg[SNIFF_TLS_MAX];
	size_t have = 0, want = 0, off = 0;

	if (cap > 0)
		out[0] = '\0';
	for (;;) {
		size_t rlen, take;

		if (len - off < 5) {
			/* The first bytes already tell a TLS handshake record. */
			if (len - off >= 1 && buf[off] != 0x16)
				return -EINVAL;
			if (len - off >= 2 && buf[off + 1] != 3)
				return -EINVAL;
			return SNIFF_NEED_MORE;
		}
		if (buf[off] != 0x16 || buf[off + 1] != 3) /* handshake, TLS 1.x */
			return -EINVAL;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > 16384 + 2048)
			return -EINVAL;
		off += 5;
		take = rlen < len - off ? rlen : len - off;
		if (take > sizeof(msg) - have)
			return -EINVAL; /* larger than we reassemble */
		memcpy(msg + have, buf + off, take);
		have += take;
		off += take;
		if (want == 0 && have >= 4) {
			if (msg[0] != 1)
				return -EINVAL; /* not a ClientHello */
			want = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]);
			if (want > sizeof(msg))
				return -EINVAL;
		}
		if (want != 0 && have >= want)
			return sniff_client_hello(msg, want, out, cap);
		if (take < rlen)
			return SNIFF_NEED_MORE; /* the record goes on */
	}
}

/* ---- HTTP ----------------------------------------------------------------- */

static const char *const http_methods[] = {
	"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PATCH ", "TRACE ",
};

/* Whether buf starts with a method (or could, being a prefix of one):
 * 1 full match, 0 still a prefix, -EINVAL neither. */
static int http_method(const uint8_t *buf, size_t len)
{
	bool prefix = false;

	for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
		size_t ml = strlen(http_methods[i]);
		size_t k = len < ml ? len : ml;

		if (memcmp(buf, http_methods[i], k) != 0)
			continue;
		if (len >= ml)
			return 1;
		prefix = true;
	}
	return prefix ? 0 : -EINVAL;
}

/* The Host header's value without its port: "name", "name:80",
 * "[v6]:80" (an address: no name). */
static int http_host_value(const char *v, size_t n, char *out, size_t cap)
{
	size_t colon;

	while (n > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n > 0 && v[0] == '[')
		return -ENOENT;
	colon = n;
	for (size_t i = 0; i < n; i++)
		if (v[i] == ':') {
			colon = i;
			break;
		}
	for (size_t i = colon + 1; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
	return sniff_copy_name(v, colon, out, cap) == 0 ? 0 : -ENOENT;
}

int sniff_http(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	const char *s = (const char *)buf;
	size_t lim = len < SNIFF_HTTP_MAX ? len : SNIFF_HTTP_MAX;
	size_t line = 0;
	bool first = true;
	int r;

	if (cap > 0)
		out[0] = '\0';
	r = http_method(buf, len);
	if (r <= 0)
		return r < 0 ? r : SNIFF_NEED_MORE;
	for (size_t i = 0; i < lim; i++) {
		size_t end;

		if (s[i] != '\n')
			continue;
		end = i > line && s[i - 1] == '\r' ? i - 1 : i;
		if (first) {
			/* "METHOD target HTTP/1.x" */
			if (end - line < 8 || memcmp(s + end - 8, "HTTP/1.", 7) != 0)
				return -EINVAL;
			first = false;
		} else if (end == line) {
			return -ENOENT; /* the head ended without a Host */
		} else if (end - line >= 5 && strncasecmp(s + line, "host:", 5) == 0) {
			return http_host_value(s + line + 5, end - line - 5, out, cap);
		}
		line = i + 1;
	}
	return len < SNIFF_HTTP_MAX ? SNIFF_NEED_MORE : -EINVAL;
}
