#include "tun2socks/upstream/socks5.h"

#include <errno.h>
#include <string.h>

#define SOCKS5_VER 0x05
#define SOCKS5_AUTH_VER 0x01

/* strlen() that stops looking after max bytes, returning max + 1 then: a
 * caller's overlong or unterminated string is never read past what could
 * be valid. (strnlen is POSIX, not C11.) */
static size_t bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n])
		n++;
	return n;
}

/* Bytes of ATYP ADDR PORT for a, or -EINVAL if a breaks the invariant. */
static int addr_wire_len(const struct socks5_addr *a)
{
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		return 1 + 4 + 2;
	case SOCKS5_ATYP_IPV6:
		return 1 + 16 + 2;
	case SOCKS5_ATYP_DOMAIN:
		/* A NUL inside the name or a missing terminator means the
		 * struct was not filled by our helpers or parsers. */
		if (a->domain_len == 0 || memchr(a->u.domain, '\0', a->domain_len) ||
		    a->u.domain[a->domain_len] != '\0')
			return -EINVAL;
		return 1 + 1 + a->domain_len + 2;
	default:
		return -EINVAL;
	}
}

/* Writes ATYP ADDR PORT; the caller checked room with addr_wire_len(). */
static size_t addr_write(uint8_t *p, const struct socks5_addr *a)
{
	size_t n = 0;

	p[n++] = a->atyp;
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		memcpy(p + n, a->u.v4, 4);
		n += 4;
		break;
	case SOCKS5_ATYP_IPV6:
		memcpy(p + n, a->u.v6, 16);
		n += 16;
		break;
	default: /* DOMAIN */
		p[n++] = a->domain_len;
		memcpy(p + n, a->u.domain, a->domain_len);
		n += a->domain_len;
		break;
	}
	p[n++] = (uint8_t)(a->port >> 8);
	p[n++] = (uint8_t)(a->port & 0xff);
	return n;
}

/* Parses ATYP ADDR PORT at p. Returns its length, 0 if len is a prefix of
 * a valid encoding, -EPROTO as soon as a present byte is wrong. out is
 * fully written only on success; callers clear it first. */
static int addr_parse(const uint8_t *p, size_t len, struct socks5_addr *out)
{
	size_t need;

	if (len < 1)
		return 0;
	switch (p[0]) {
	case SOCKS5_ATYP_IPV4:
		need = 1 + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		need = 1 + 16 + 2;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < 2)
			return 0;
		if (p[1] == 0)
			return -EPROTO;
		/* Reject a NUL as soon as it arrives: the name could not be
		 * held as a C string, and no real name contains one. */
		if (memchr(p + 2, '\0', len - 2 < p[1] ? len - 2 : p[1]))
			return -EPROTO;
		need = 1 + 1 + (size_t)p[1] + 2;
		break;
	default:
		return -EPROTO;
	}
	if (len < need)
		return 0;

	out->atyp = p[0];
	switch (p[0]) {
	case SOCKS5_ATYP_IPV4:
		memcpy(out->u.v4, p + 1, 4);
		break;
	case SOCKS5_ATYP_IPV6:
		memcpy(out->u.v6, p + 1, 16);
		break;
	default:
		out->domain_len = p[1];
		memcpy(out->u.domain, p + 2, p[1]);
		out->u.domain[p[1]] = '\0';
		break;
	}
	out->port = (uint16_t)((p[need - 2] << 8) | p[need - 1]);
	return (int)need;
}

int socks5_greeting_build(uint8_t *buf, size_t cap, bool offer_userpass)
{
	size_t n = offer_userpass ? 4 : 3;

	if (cap < n)
		return -ENOBUFS;
	buf[0] = SOCKS5_VER;
	buf[1] = (uint8_t)(n - 2);
	buf[2] = SOCKS5_METHOD_NONE;
	if (offer_userpass)
		buf[3] = SOCKS5_METHOD_USERPASS;
	return (int)n;
}

int socks5_greeting_one_build(uint8_t *buf, size_t cap, uint8_t method)
{
	if (cap < 3)
		return -ENOBUFS;
	buf[0] = SOCKS5_VER;
	buf[1] = 1;
	buf[2] = method;
	return 3;
}

int socks5_method_parse(const uint8_t *buf, size_t len, bool offered_userpass, uint8_t *method_out)
{
	*method_out = 0;
	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_VER)
		return -EPROTO;
	if (len < 2)
		return 0;
	switch (buf[1]) {
	case SOCKS5_METHOD_NONE:
		break;
	case SOCKS5_METHOD_USERPASS:
		if (!offered_userpass)
			return -ENOTSUP;
		break;
	default: /* 0xFF, or anything we never offer (GSSAPI, private) */
		return -ENOTSUP;
	}
	*method_out = buf[1];
	return 2;
}

int socks5_auth_build(uint8_t *buf, size_t cap, const char *user, const char *pass)
{
	size_t ulen, plen, n;

	if (!user || !pass)
		return -EINVAL;
	ulen = bounded_len(user, 255);
	plen = bounded_len(pass, 255);
	if (ulen < 1 || ulen > 255 || plen < 1 || plen > 255)
		return -EINVAL;
	n = 3 + ulen + plen;
	if (cap < n)
		return -ENOBUFS;
	buf[0] = SOCKS5_AUTH_VER;
	buf[1] = (uint8_t)ulen;
	memcpy(buf + 2, user, ulen);
	buf[2 + ulen] = (uint8_t)plen;
	memcpy(buf + 3 + ulen, pass, plen);
	return (int)n;
}

int socks5_auth_reply_parse(const uint8_t *buf, size_t len)
{
	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_AUTH_VER && buf[0] != SOCKS5_VER)
		return -EPROTO;
	if (len < 2)
		return 0;
	return buf[1] == 0 ? 2 : -EACCES;
}

int socks5_request_build(uint8_t *buf, size_t cap, uint8_t cmd, const struct socks5_addr *dst)
{
	int alen;

	if (cmd != SOCKS5_CMD_CONNECT && cmd != SOCKS5_CMD_BIND && cmd != SOCKS5_CMD_UDP_ASSOCIATE)
		return -EINVAL;
	alen = addr_wire_len(dst);
	if (alen < 0)
		return alen;
	if (cap < 3 + (size_t)alen)
		return -ENOBUFS;
	buf[0] = SOCKS5_VER;
	buf[1] = cmd;
	buf[2] = 0;
	return (int)(3 + addr_write(buf + 3, dst));
}

int socks5_reply_parse(const uint8_t *buf, size_t len, struct socks5_reply *out)
{
	int n;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_VER)
		return -EPROTO;
	if (len < 3)
		return 0;
	if (buf[2] != 0)
		return -EPROTO;
	n = addr_parse(buf + 3, len - 3, &out->bnd);
	if (n <= 0)
		return n;
	out->rep = buf[1];
	return 3 + n;
}

int socks5_rep_to_errno(uint8_t rep)
{
	switch (rep) {
	case SOCKS5_REP_SUCCEEDED:
		return 0;
	case SOCKS5_REP_GENERAL_FAILURE:
		return -EIO;
	case SOCKS5_REP_NOT_ALLOWED:
		return -EACCES;
	case SOCKS5_REP_NET_UNREACHABLE:
		return -ENETUNREACH;
	case SOCKS5_REP_HOST_UNREACHABLE:
		return -EHOSTUNREACH;
	case SOCKS5_REP_CONN_REFUSED:
		return -ECONNREFUSED;
	case SOCKS5_REP_TTL_EXPIRED:
		return -ETIMEDOUT;
	case SOCKS5_REP_CMD_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case SOCKS5_REP_ATYP_NOT_SUPPORTED:
		return -EAFNOSUPPORT;
	default:
		return -EPROTO;
	}
}

const char *socks5_rep_str(uint8_t rep)
{
	static const char *const text[] = {
		[SOCKS5_REP_SUCCEEDED] = "succeeded",
		[SOCKS5_REP_GENERAL_FAILURE] = "general SOCKS server failure",
		[SOCKS5_REP_NOT_ALLOWED] = "connection not allowed by ruleset",
		[SOCKS5_REP_NET_UNREACHABLE] = "network unreachable",
		[SOCKS5_REP_HOST_UNREACHABLE] = "host unreachable",
		[SOCKS5_REP_CONN_REFUSED] = "connection refused",
		[SOCKS5_REP_TTL_EXPIRED] = "TTL expired",
		[SOCKS5_REP_CMD_NOT_SUPPORTED] = "command not supported",
		[SOCKS5_REP_ATYP_NOT_SUPPORTED] = "address type not supported",
	};

	if (rep >= sizeof(text) / sizeof(text[0]))
		return "unknown reply code";
	return text[rep];
}

int socks5_udp_header_build(uint8_t *buf, size_t cap, const struct socks5_addr *dst)
{
	int alen = addr_wire_len(dst);

	if (alen < 0)
		return alen;
	if (cap < 3 + (size_t)alen)
		return -ENOBUFS;
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = 0; /* FRAG: standalone datagram */
	return (int)(3 + addr_write(buf + 3, dst));
}

int socks5_udp_header_parse(const uint8_t *buf, size_t len, struct socks5_addr *out,
			    uint8_t *frag_out)
{
	int n;

	memset(out, 0, sizeof(*out));
	*frag_out = 0;
	if (len < 3 || buf[0] != 0 || buf[1] != 0)
		return -EPROTO;
	n = addr_parse(buf + 3, len - 3, out);
	if (n <= 0) /* the datagram is all there is: a prefix is a truncation */
		return -EPROTO;
	*frag_out = buf[2];
	return 3 + n;
}

int socks5_addr_from_domain(struct socks5_addr *out, const char *name, uint16_t port)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!name)
		return -EINVAL;
	n = bounded_len(name, 255);
	if (n < 1 || n > 255)
		return -EINVAL;
	out->atyp = SOCKS5_ATYP_DOMAIN;
	out->domain_len = (uint8_t)n;
	memcpy(out->u.domain, name, n + 1);
	out->port = port;
	return 0;
}

void socks5_addr_from_ipv4(struct socks5_addr *out, const uint8_t v4[4], uint16_t port)
{
	memset(out, 0, sizeof(*out));
	out->atyp = SOCKS5_ATYP_IPV4;
	memcpy(out->u.v4, v4, 4);
	out->port = port;
}

void socks5_addr_from_ipv6(struct socks5_addr *out, const uint8_t v6[16], uint16_t port)
{
	memset(out, 0, sizeof(*out));
	out->atyp = SOCKS5_ATYP_IPV6;
	memcpy(out->u.v6, v6, 16);
	out->port = port;
}

/* Bounded string writer: appends while room is left, always terminated. */
struct strbuf {
	char *p;
	size_t cap, len;
};

static void sb_putc(struct strbuf *sb, char c)
{
	if (sb->len + 1 < sb->cap) {
		sb->p[sb->len++] = c;
		sb->p[sb->len] = '\0';
	}
}

static void sb_puts(struct strbuf *sb, const char *s)
{
	while (*s)
		sb_putc(sb, *s++);
}

static void sb_putu(struct strbuf *sb, unsigned v)
{
	char d[10];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		sb_putc(sb, d[--n]);
}

static void sb_puthex(struct strbuf *sb, unsigned v, int min_digits)
{
	static const char hex[] = "0123456789abcdef";
	char d[8];
	int n = 0;

	do {
		d[n++] = hex[v & 0xf];
		v >>= 4;
	} while (v || n < min_digits);
	while (n)
		sb_putc(sb, d[--n]);
}

static void sb_putv4(struct strbuf *sb, const uint8_t v4[4])
{
	for (int i = 0; i < 4; i++) {
		if (i)
			sb_putc(sb, '.');
		sb_putu(sb, v4[i]);
	}
}

/* RFC 5952: lower-case hex without leading zeros, the longest run of two or
 * more zero groups (the first on a tie) as "::", and ::ffff:a.b.c.d for
 * IPv4-mapped addresses (section 5). */
static void sb_putv6(struct strbuf *sb, const uint8_t v6[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned g[8];
	int best = -1, best_len = 0;

	if (memcmp(v6, mapped, sizeof(mapped)) == 0) {
		sb_puts(sb, "::ffff:");
		sb_putv4(sb, v6 + 12);
		return;
	}
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)(v6[2 * i] << 8 | v6[2 * i + 1]);
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			sb_puts(sb, "::");
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			sb_putc(sb, ':');
		sb_puthex(sb, g[i], 1);
	}
}

const char *socks5_addr_str(const struct socks5_addr *a, char *buf, size_t cap)
{
	struct strbuf sb = { buf, cap, 0 };

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		sb_putv4(&sb, a->u.v4);
		break;
	case SOCKS5_ATYP_IPV6:
		sb_putc(&sb, '[');
		sb_putv6(&sb, a->u.v6);
		sb_putc(&sb, ']');
		break;
	case SOCKS5_ATYP_DOMAIN:
		for (size_t i = 0; i < a->domain_len; i++) {
			unsigned char c = (unsigned char)a->u.domain[i];

			if (c > 0x20 && c < 0x7f && c != '\\') {
				sb_putc(&sb, (char)c);
			} else {
				sb_puts(&sb, "\\x");
				sb_puthex(&sb, c, 2);
			}
		}
		break;
	default:
		sb_putc(&sb, '?');
		return buf;
	}
	sb_putc(&sb, ':');
	sb_putu(&sb, a->port);
	return buf;
}
