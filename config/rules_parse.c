/* rules_parse: see rules_parse.h. */
#include "config/rules_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rule_regex.h"
#include "config/suggest.h"

/* Where the operands of a rule come from decides what it may hold. */
enum pmode {
	MODE_LINE,  /* a rules: line: target required */
	MODE_ENTRY, /* a classical rule-set entry: no target */
	MODE_SUB,   /* an operand of AND/OR/NOT: no target */
};

/* Parse context. Offsets are byte offsets into s; s[0] sits at pos. */
struct rp {
	const char *s;
	size_t len;
	struct conf_pos pos;
	struct conf_err *err;
	bool in_set; /* inside a rule-set entry: RULE-SET refused */
};

static const struct {
	const char *name;
	enum rule_type type;
} rule_types[] = {
	{ "DOMAIN", RULE_DOMAIN },
	{ "DOMAIN-SUFFIX", RULE_DOMAIN_SUFFIX },
	{ "DOMAIN-KEYWORD", RULE_DOMAIN_KEYWORD },
	{ "DOMAIN-REGEX", RULE_DOMAIN_REGEX },
	{ "IP-CIDR", RULE_IP_CIDR },
	{ "IP-CIDR6", RULE_IP_CIDR },
	{ "SRC-IP-CIDR", RULE_SRC_IP_CIDR },
	{ "DST-PORT", RULE_DST_PORT },
	{ "SRC-PORT", RULE_SRC_PORT },
	{ "NETWORK", RULE_NETWORK },
	{ "PROCESS-NAME", RULE_PROCESS_NAME },
	{ "PROCESS-PATH", RULE_PROCESS_PATH },
	{ "UID", RULE_UID },
	{ "RULE-SET", RULE_RULE_SET },
	{ "AND", RULE_AND },
	{ "OR", RULE_OR },
	{ "NOT", RULE_NOT },
	{ "MATCH", RULE_MATCH },
	{ "DOMAIN-WILDCARD", RULE_DOMAIN_WILDCARD },
	{ "PROCESS-NAME-REGEX", RULE_PROCESS_NAME_REGEX },
	{ "PROCESS-PATH-REGEX", RULE_PROCESS_PATH_REGEX },
	{ "IP-SUFFIX", RULE_IP_SUFFIX },
	{ "SRC-IP-SUFFIX", RULE_SRC_IP_SUFFIX },
	{ "IN-PORT", RULE_IN_PORT },
	{ "DSCP", RULE_DSCP },
	{ "GEOIP", RULE_GEOIP },
	{ "SRC-GEOIP", RULE_SRC_GEOIP },
	{ "IP-ASN", RULE_IP_ASN },
	{ "SRC-IP-ASN", RULE_SRC_IP_ASN },
	{ "GEOSITE", RULE_GEOSITE },
	{ "SUB-RULE", RULE_SUB_RULE },
	{ "IN-TYPE", RULE_IN_TYPE },
	{ "IN-USER", RULE_IN_USER },
	{ "IN-NAME", RULE_IN_NAME },
};

const char *rules_type_name(enum rule_type type)
{
	for (size_t i = 0; i < sizeof(rule_types) / sizeof(rule_types[0]); i++)
		if (rule_types[i].type == type)
			return rule_types[i].name;
	return "?";
}

/* Character classes by hand: <ctype.h> depends on the locale. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool eq_nocase(const char *a, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower(a[i]) != lower(lit[i]))
			return false;
	return lit[i] == '\0';
}

static void trim(const char *s, size_t *a, size_t *b)
{
	while (*a < *b && is_blank(s[*a]))
		(*a)++;
	while (*b > *a && is_blank(s[*b - 1]))
		(*b)--;
}

/* Index of the first c in s[a, b), or b. */
static size_t find(const char *s, size_t a, size_t b, char c)
{
	const char *p = memchr(s + a, c, b - a);

	return p ? (size_t)(p - s) : b;
}

static struct conf_pos pos_at(const struct rp *p, size_t off)
{
	struct conf_pos at = p->pos;

	if (at.col > 0)
		at.col = off > (size_t)(1 << 30) ? 1 << 30 : at.col + (int)off;
	return at;
}

static int fail(const struct rp *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(const struct rp *p, size_t off, const char *fmt, ...)
{
	struct conf_pos at = pos_at(p, off);
	char msg[sizeof(((struct conf_err *)0)->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conf_err_set(p->err, &at, "%s", msg);
}

/* s[a, b) names no rule type we know: say so, with the closest of ours. */
static int fail_unknown_type(const struct rp *p, size_t a, size_t b)
{
	const size_t n = sizeof(rule_types) / sizeof(rule_types[0]);
	struct suggest sg;
	const char *best;
	char q[400];

	conf_err_quote(q, sizeof(q), p->s + a, b - a);
	suggest_init(&sg, p->s + a, b - a);
	for (size_t i = 0; i < n; i++)
		suggest_add(&sg, rule_types[i].name);
	best = suggest_best(&sg);
	if (best)
		return fail(p, a, "unknown rule type '%s' (did you mean \"%s\"?)", q, best);
	return fail(p, a, "unknown rule type '%s' (not supported by tun2socks)", q);
}

static int fail_nomem(const struct rp *p, size_t off)
{
	fail(p, off, "out of memory");
	return -ENOMEM;
}

static char *dup_range(const char *s, size_t a, size_t b)
{
	char *d = malloc(b - a + 1);

	if (d) {
		memcpy(d, s + a, b - a);
		d[b - a] = '\0';
	}
	return d;
}

/* --- shared payload parsers ----------------------------------------------- */

/* s[0, len) with each label that holds bytes >= 0x80 as its punycode
 * A-label ("中国" -> "xn--fiqs8s"), as mihomo's idna.ToASCII makes them,
 * into out (cap bytes, NUL-terminated). 0 or -EINVAL with *why. */
static int idn_to_ascii(const char *s, size_t len, char *out, size_t cap, const char **why)
{
	size_t o = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		char label[256];
		size_t ll;
		bool wide = false;
		char *a = NULL;
		int r;

		if (i < len && s[i] != '.')
			continue;
		ll = i - start;
		for (size_t j = start; j < i; j++)
			wide |= (unsigned char)s[j] >= 0x80;
		if (ll >= sizeof(label)) {
			*why = "label longer than 63 bytes";
			return -EINVAL;
		}
		memcpy(label, s + start, ll);
		label[ll] = '\0';
		if (wide) {
			r = idn2_to_ascii_8z(label, &a, IDN2_NONTRANSITIONAL);
			if (r != IDN2_OK) {
				*why = r == IDN2_MALLOC ? "out of memory"
							: "not a valid internationalized name";
				return -EINVAL;
			}
			ll = strlen(a);
		}
		if (o + ll + 2 > cap) {
			idn2_free(a);
			*why = "longer than 253 bytes";
			return -EINVAL;
		}
		memcpy(out + o, a ? a : label, ll);
		idn2_free(a);
		o += ll;
		if (i < len)
			out[o++] = '.';
		start = i + 1;
	}
	out[o] = '\0';
	return 0;
}

int rules_domain_norm(const char *s, size_t len, bool wildcard, char *out, size_t *out_len,
		      const char **why)
{
	size_t start = 0;

	*out_len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			char ascii[1024];

			if (len >= sizeof(ascii) / 2) {
				*why = "longer than 253 bytes";
				return -EINVAL;
			}
			if (idn_to_ascii(s, len, ascii, sizeof(ascii), why))
				return -EINVAL;
			return rules_domain_norm(ascii, strlen(ascii), wildcard, out, out_len, why);
		}
	}
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty name";
		return -EINVAL;
	}
	if (len > RULES_DOMAIN_MAX) {
		*why = "longer than 253 bytes";
		return -EINVAL;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c != '.') {
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  is_digit((char)c) || c == '-' || c == '_' ||
				  (wildcard && c == '*');

			if (!ok) {
				*why = "unexpected character (a name holds letters, "
				       "digits, '-', '_' and dots)";
				return -EINVAL;
			}
			out[i] = lower((char)c);
			continue;
		}
		if (i == start) {
			*why = "empty label";
			return -EINVAL;
		}
		if (i - start > 63) {
			*why = "label longer than 63 bytes";
			return -EINVAL;
		}
		if (wildcard && memchr(out + start, '*', i - start) && i - start != 1) {
			*why = "'*' must be a whole label";
			return -EINVAL;
		}
		if (i < len)
			out[i] = '.';
		start = i + 1;
	}
	out[len] = '\0';
	*out_len = len;
	return 0;
}

int rules_cidr_parse(const char *s, size_t len, struct rule_cidr *out, const char **why)
{
	const char *slash = memchr(s, '/', len);
	char text[48];
	size_t alen, plen_len;
	unsigned plen = 0, max;
	bool v6;

	memset(out, 0, sizeof(*out));
	if (!slash) {
		*why = "expected address/length";
		return -EINVAL;
	}
	alen = (size_t)(slash - s);
	v6 = memchr(s, ':', alen) != NULL;
	if (alen == 0 || alen >= sizeof(text)) {
		*why = "bad address";
		return -EINVAL;
	}
	memcpy(text, s, alen);
	text[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, out->addr) != 1) {
		memset(out, 0, sizeof(*out));
		*why = v6 ? "bad IPv6 address" : "bad IPv4 address";
		return -EINVAL;
	}
	max = v6 ? 128 : 32;
	plen_len = len - alen - 1;
	for (size_t i = 0; i < plen_len; i++) {
		char c = slash[1 + i];

		if (!is_digit(c) || i >= 3) {
			plen = 999;
			break;
		}
		plen = plen * 10 + (unsigned)(c - '0');
	}
	if (plen_len == 0 || plen > max || (plen_len > 1 && slash[1] == '0')) {
		memset(out, 0, sizeof(*out));
		*why = v6 ? "prefix length must be 0..128" : "prefix length must be 0..32";
		return -EINVAL;
	}
	out->family = v6 ? 6 : 4;
	out->plen = (uint8_t)plen;
	for (unsigned bit = plen; bit < max; bit++)
		out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return 0;
}

/* --- payloads -------------------------------------------------------------- */

static bool has_wide(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* "443", "8000-9000", "80/443/8000-8080" (blanks around parts allowed)
 * into spec->ranges; values 0..max. */
static int parse_ranges(const struct rp *p, size_t a, size_t b, uint32_t max, const char *what,
			struct rule_spec *out)
{
	size_t n = 1, k = 0, i = a;
	char q[400];

	for (size_t j = a; j < b; j++)
		n += p->s[j] == '/';
	out->ranges = calloc(n, sizeof(*out->ranges));
	if (!out->ranges)
		return fail_nomem(p, a);
	while (i <= b) {
		size_t e = find(p->s, i, b, '/'), ea = i, eb = e, dash;
		uint64_t v[2] = { 0, 0 };
		int parts = 1;

		trim(p->s, &ea, &eb);
		if (ea == eb) {
			conf_err_quote(q, sizeof(q), p->s + a, b - a);
			return fail(p, ea, "empty %s in '%s'", what, q);
		}
		dash = find(p->s, ea, eb, '-');
		for (int side = 0; side < 2; side++) {
			size_t fa = side ? dash + 1 : ea, fb = side ? eb : dash;

			if (side && dash == eb)
				break;
			parts = side + 1;
			trim(p->s, &fa, &fb);
			if (fa == fb)
				v[side] = UINT64_MAX;
			for (size_t j = fa; j < fb && v[side] <= max; j++) {
				if (!is_digit(p->s[j])) {
					v[side] = UINT64_MAX;
					break;
				}
				v[side] = v[side] * 10 + (uint64_t)(p->s[j] - '0');
			}
			if (v[side] > max) {
				conf_err_quote(q, sizeof(q), p->s + ea, eb - ea);
				return fail(p, ea,
					    "bad %s '%s': expected a number 0..%u, "
					    "a range A-B or a list A/B-C",
					    what, q, (unsigned)max);
			}
		}
		if (parts == 1)
			v[1] = v[0];
		if (v[0] > v[1]) {
			conf_err_quote(q, sizeof(q), p->s + ea, eb - ea);
			return fail(p, ea, "bad %s range '%s': %u is above %u", what, q,
				    (unsigned)v[0], (unsigned)v[1]);
		}
		out->ranges[k].lo = (uint32_t)v[0];
		out->ranges[k].hi = (uint32_t)v[1];
		k++;
		i = e + 1;
	}
	out->n_ranges = k;
	return 0;
}

static int parse_regex(const struct rp *p, size_t a, size_t b, struct rule_spec *out)
{
	struct rule_regex *re = NULL;
	char q[400], why[200];
	int r;

	out->str = dup_range(p->s, a, b);
	if (!out->str)
		return fail_nomem(p, a);
	conf_err_quote(q, sizeof(q), p->s + a, b - a);
	r = rule_regex_compile(out->str, b - a, &re, why, sizeof(why));
	if (r == -ENOMEM)
		return fail_nomem(p, a);
	if (r < 0)
		return fail(p, a, "bad regex '%s': %s", q, why);
	rule_regex_free(re);
	return 0;
}

/* "address/length" of IP-SUFFIX: the address's last length bits, kept
 * as written (not masked as a CIDR's would be). */
static int parse_suffix(const struct rp *p, size_t a, size_t b, struct rule_spec *out)
{
	char q[400], text[48];
	const char *why, *slash;
	struct rule_cidr c;
	size_t alen;

	conf_err_quote(q, sizeof(q), p->s + a, b - a);
	if (rules_cidr_parse(p->s + a, b - a, &c, &why))
		return fail(p, a, "bad IP suffix '%s': %s", q, why);
	slash = memchr(p->s + a, '/', b - a);
	alen = (size_t)(slash - (p->s + a));
	memcpy(text, p->s + a, alen);
	text[alen] = '\0';
	if (inet_pton(c.family == 6 ? AF_INET6 : AF_INET, text, c.addr) != 1)
		return fail(p, a, "bad IP suffix '%s'", q);
	out->cidr = c;
	return 0;
}

/* Inbound types mihomo's IN-TYPE knows (constant/metadata.go ParseType);
 * "SOCKS" stands for SOCKS4 and SOCKS5. */
static const char *const in_types[] = {
	"HTTP",   "HTTPS",  "SOCKS4", "SOCKS5", "SHADOWSOCKS", "VMESS",     "VLESS",  "REDIR",
	"TPROXY", "TROJAN", "TUNNEL", "TUN",    "TUIC",        "HYSTERIA2", "ANYTLS", "INNER",
};

/* The '/'-separated names of IN-TYPE, IN-USER and IN-NAME into out->str,
 * each trimmed, joined by '/' (IN-TYPE: upper-cased, SOCKS expanded and
 * checked against in_types). An empty name is an error, as in mihomo. */
static int parse_in_list(const struct rp *p, size_t a, size_t b, struct rule_spec *out)
{
	bool is_type = out->type == RULE_IN_TYPE;
	size_t cap = 2 * (b - a) + 16, n = 0;
	char *buf = malloc(cap), q[400];

	if (!buf)
		return fail_nomem(p, a);
	for (size_t c = a; c <= b;) {
		size_t ea = c, eb = find(p->s, c, b, '/');

		c = eb + 1;
		trim(p->s, &ea, &eb);
		if (ea == eb) {
			free(buf);
			return fail(p, ea, "empty name in '%s' (names are separated by '/')",
				    rules_type_name(out->type));
		}
		if (n)
			buf[n++] = '/';
		if (!is_type) {
			memcpy(buf + n, p->s + ea, eb - ea);
			n += eb - ea;
			continue;
		}
		if (eq_nocase(p->s + ea, eb - ea, "SOCKS")) {
			memcpy(buf + n, "SOCKS4/SOCKS5", 13);
			n += 13;
			continue;
		}
		size_t i = 0;

		for (; i < sizeof(in_types) / sizeof(in_types[0]); i++)
			if (eq_nocase(p->s + ea, eb - ea, in_types[i]))
				break;
		if (i == sizeof(in_types) / sizeof(in_types[0])) {
			free(buf);
			conf_err_quote(q, sizeof(q), p->s + ea, eb - ea);
			return fail(p, ea,
				    "unknown inbound type '%s': expected TUN, HTTP, HTTPS, SOCKS, "
				    "SOCKS4, SOCKS5, REDIR, TPROXY, TUNNEL, INNER or another of "
				    "mihomo's inbound types",
				    q);
		}
		memcpy(buf + n, in_types[i], strlen(in_types[i]));
		n += strlen(in_types[i]);
	}
	buf[n] = '\0';
	out->str = buf;
	return 0;
}

/* The payload s[a, b) (trimmed, not empty) of a plain rule. */
static int parse_payload(const struct rp *p, size_t a, size_t b, struct rule_spec *out)
{
	char q[400], name[RULES_DOMAIN_MAX + 1];
	const char *why;
	size_t n;

	conf_err_quote(q, sizeof(q), p->s + a, b - a);
	switch (out->type) {
	case RULE_DOMAIN:
	case RULE_DOMAIN_SUFFIX:
		if (rules_domain_norm(p->s + a, b - a, false, name, &n, &why))
			return fail(p, a, "bad domain '%s': %s", q, why);
		out->str = dup_range(name, 0, n);
		break;
	case RULE_DOMAIN_KEYWORD:
		/* mihomo turns a keyword into punycode as it does names. */
		if (has_wide(p->s + a, b - a)) {
			char ascii[1024];

			if (b - a >= sizeof(ascii) / 2 ||
			    idn_to_ascii(p->s + a, b - a, ascii, sizeof(ascii), &why))
				return fail(p, a,
					    "bad keyword '%s': not a valid internationalized name",
					    q);
			out->str = dup_range(ascii, 0, strlen(ascii));
		} else {
			out->str = dup_range(p->s, a, b);
		}
		if (out->str)
			for (char *c = out->str; *c; c++)
				*c = lower(*c);
		break;
	case RULE_IP_CIDR:
	case RULE_SRC_IP_CIDR:
		if (rules_cidr_parse(p->s + a, b - a, &out->cidr, &why))
			return fail(p, a, "bad CIDR '%s': %s", q, why);
		return 0;
	case RULE_DOMAIN_WILDCARD:
		out->str = dup_range(p->s, a, b);
		if (out->str)
			for (char *c = out->str; *c; c++)
				*c = lower(*c);
		break;
	case RULE_IP_SUFFIX:
	case RULE_SRC_IP_SUFFIX:
		return parse_suffix(p, a, b, out);
	case RULE_GEOIP:
	case RULE_SRC_GEOIP:
	case RULE_GEOSITE:
		/* Codes compare without case (mihomo lower-cases them). */
		out->str = dup_range(p->s, a, b);
		if (out->str)
			for (char *c = out->str; *c; c++)
				*c = lower(*c);
		break;
	case RULE_IP_ASN:
	case RULE_SRC_IP_ASN: {
		uint64_t v = 0;
		size_t i = a;

		/* mihomo compares the decimal text; "AS13335" never matches
		 * there, so it is refused here. */
		for (; i < b && is_digit(p->s[i]) && v <= UINT32_MAX; i++)
			v = v * 10 + (uint64_t)(p->s[i] - '0');
		if (i != b || v > UINT32_MAX)
			return fail(p, a, "bad AS number '%s': expected a number like 13335", q);
		out->asn = (uint32_t)v;
		return 0;
	}
	case RULE_DST_PORT:
	case RULE_SRC_PORT:
	case RULE_IN_PORT:
		return parse_ranges(p, a, b, 65535, "port", out);
	case RULE_DSCP:
		return parse_ranges(p, a, b, 63, "DSCP", out);
	case RULE_IN_TYPE:
	case RULE_IN_USER:
	case RULE_IN_NAME:
		return parse_in_list(p, a, b, out);
	case RULE_UID:
		return parse_ranges(p, a, b, UINT32_MAX, "UID", out);
	case RULE_NETWORK:
		if (eq_nocase(p->s + a, b - a, "tcp"))
			out->network = RULE_NET_TCP;
		else if (eq_nocase(p->s + a, b - a, "udp"))
			out->network = RULE_NET_UDP;
		else
			return fail(p, a, "bad network '%s': expected TCP or UDP", q);
		return 0;
	case RULE_PROCESS_NAME:
	case RULE_PROCESS_PATH:
	case RULE_RULE_SET:
		out->str = dup_range(p->s, a, b);
		break;
	default:
		return fail(p, a, "internal error: no payload parser");
	}
	return out->str ? 0 : fail_nomem(p, a);
}

/* --- rule structure ---------------------------------------------------------- */

static const char *mode_where(enum pmode mode)
{
	return mode == MODE_ENTRY ? "rule-set entries" : "rules inside AND/OR/NOT";
}

/* What follows the payload: s[c] is ',' or c == b. MODE_LINE wants a
 * target first; then options (only no-resolve). */
static int parse_tail(const struct rp *p, size_t c, size_t b, enum pmode mode,
		      struct rule_spec *out)
{
	const char *name = rules_type_name(out->type);
	char q[400];

	if (mode == MODE_LINE) {
		size_t ta = c + 1, tb;

		if (c >= b)
			return fail(p, b, "missing target: expected %s,%sTARGET", name,
				    out->type == RULE_MATCH ? "" : "PAYLOAD,");
		c = find(p->s, ta, b, ',');
		tb = c;
		trim(p->s, &ta, &tb);
		if (ta == tb)
			return fail(p, ta, "empty target after '%s'",
				    out->type == RULE_MATCH ? "MATCH" : "payload");
		if (eq_nocase(p->s + ta, tb - ta, "no-resolve"))
			return fail(p, ta, "missing target before 'no-resolve'");
		out->target = dup_range(p->s, ta, tb);
		if (!out->target)
			return fail_nomem(p, ta);
		out->target_pos = pos_at(p, ta);
	}
	bool src_seen = false;

	while (c < b) {
		size_t fa = c + 1, fb;
		bool nr, src;

		c = find(p->s, fa, b, ',');
		fb = c;
		trim(p->s, &fa, &fb);
		if (fa == fb && mode != MODE_ENTRY)
			return fail(p, fa, "empty field after ','");
		conf_err_quote(q, sizeof(q), p->s + fa, fb - fa);
		nr = eq_nocase(p->s + fa, fb - fa, "no-resolve");
		src = eq_nocase(p->s + fa, fb - fa, "src");
		if (!nr && !src) {
			if (mode == MODE_ENTRY) {
				/* mihomo reads a rule-set entry's fields after the
				 * payload as options and ignores the others (a
				 * target, as in "DOMAIN,x.com,DIRECT"). */
				if (!out->ignored) {
					out->ignored = true;
					out->ignored_off = fa;
				}
				continue;
			}
			if (mode == MODE_LINE)
				return fail(p, fa,
					    "unknown option '%s': expected no-resolve or src", q);
			return fail(p, fa,
				    "unexpected '%s': expected no-resolve, src or nothing "
				    "(%s take no target)",
				    q, mode_where(mode));
		}
		if (src_seen)
			continue; /* "src" makes no-resolve moot, as in mihomo */
		if (out->type != RULE_IP_CIDR && out->type != RULE_IP_SUFFIX &&
		    out->type != RULE_GEOIP && out->type != RULE_IP_ASN &&
		    (src || out->type != RULE_RULE_SET))
			return fail(p, fa,
				    "%s is not allowed on %s (only on "
				    "IP-CIDR, IP-CIDR6, IP-SUFFIX, GEOIP, IP-ASN%s)",
				    nr ? "no-resolve" : "src", name, nr ? " and RULE-SET" : "");
		if (src) {
			/* mihomo: "src" tests the source address, which
			 * needs no resolution. */
			out->type = out->type == RULE_IP_CIDR  ? RULE_SRC_IP_CIDR
				    : out->type == RULE_GEOIP  ? RULE_SRC_GEOIP
				    : out->type == RULE_IP_ASN ? RULE_SRC_IP_ASN
							       : RULE_SRC_IP_SUFFIX;
			out->no_resolve = false;
			src_seen = true;
			continue;
		}
		out->no_resolve = true;
	}
	if (out->type == RULE_SRC_IP_CIDR || out->type == RULE_SRC_IP_SUFFIX ||
	    out->type == RULE_SRC_GEOIP || out->type == RULE_SRC_IP_ASN)
		out->no_resolve = false;
	return 0;
}

/* Index of the ')' closing the '(' at s[o], looking no further than b; b
 * if unbalanced. */
static size_t match_paren(const char *s, size_t o, size_t b)
{
	size_t depth = 0;

	for (size_t i = o; i < b; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i;
	}
	return b;
}

static int parse_rule(const struct rp *p, size_t a, size_t b, enum pmode mode, int depth,
		      struct rule_spec *out);

/* What follows a rule's closing parenthesis at s[close]: blanks, then
 * nothing or ',' and the target (and options) for parse_tail. */
static int parse_after_paren(const struct rp *p, size_t close, size_t b, enum pmode mode,
			     struct rule_spec *out)
{
	size_t i = close + 1;

	while (i < b && is_blank(p->s[i]))
		i++;
	if (i < b && p->s[i] != ',') {
		char q[400];

		conf_err_quote(q, sizeof(q), p->s + i, b - i);
		return fail(p, i, "unexpected '%s' after ')': expected ','", q);
	}
	return parse_tail(p, i, b, mode, out);
}

/* AND / OR / NOT: s[rest, b) is "((SUB),(SUB)...)[,TARGET][,options]". */
static int parse_logic(const struct rp *p, size_t rest, size_t b, enum pmode mode, int depth,
		       struct rule_spec *out)
{
	const char *name = rules_type_name(out->type);
	size_t o = rest, close, i, cap = 0;
	int err;

	while (o < b && is_blank(p->s[o]))
		o++;
	out->payload_pos = pos_at(p, o);
	if (o >= b || p->s[o] != '(')
		return fail(p, o, "expected '(' after %s: write %s,((RULE),(RULE))%s", name, name,
			    mode == MODE_LINE ? ",TARGET" : "");
	close = match_paren(p->s, o, b);
	if (close >= b)
		return fail(p, o, "unbalanced '(': no matching ')'");
	i = o + 1;
	for (;;) {
		size_t j;
		struct rule_spec *grown;

		while (i < close && is_blank(p->s[i]))
			i++;
		if (i >= close) {
			if (out->n_sub == 0)
				return fail(p, o, "empty %s: expected at least one (RULE)", name);
			return fail(p, i, "expected '(' after ','");
		}
		if (p->s[i] != '(')
			return fail(p, i, "expected '(' to open a rule inside %s", name);
		j = match_paren(p->s, i, close);
		if (j >= close)
			return fail(p, i, "unbalanced '(': no matching ')'");
		if (depth + 1 > RULES_MAX_DEPTH)
			return fail(p, i, "AND/OR/NOT nested deeper than %d levels",
				    RULES_MAX_DEPTH);
		if (out->n_sub == cap) {
			cap = cap ? cap * 2 : 2;
			grown = realloc(out->sub, cap * sizeof(*grown));
			if (!grown)
				return fail_nomem(p, i);
			out->sub = grown;
		}
		memset(&out->sub[out->n_sub], 0, sizeof(out->sub[0]));
		out->n_sub++;
		err = parse_rule(p, i + 1, j, MODE_SUB, depth + 1, &out->sub[out->n_sub - 1]);
		if (err)
			return err;
		i = j + 1;
		while (i < close && is_blank(p->s[i]))
			i++;
		if (i >= close)
			break;
		if (p->s[i] != ',')
			return fail(p, i, "expected ',' or ')' after a rule inside %s", name);
		i++;
	}
	if (out->type == RULE_NOT && out->n_sub != 1)
		return fail(p, o, "NOT takes exactly one rule, found %zu", out->n_sub);
	return parse_after_paren(p, close, b, mode, out);
}

/* SUB-RULE: s[rest, b) is "(CONDITION),NAME": one rule in parentheses
 * (mihomo wraps the payload in another pair and reads one operand), then
 * the sub-rules list as the target. Only on rules: lines and in sub-rules
 * lists (mihomo refuses it in rule sets and operands). */
static int parse_sub_rule(const struct rp *p, size_t rest, size_t b, enum pmode mode, int depth,
			  struct rule_spec *out)
{
	size_t o = rest, close;
	int err;

	if (mode != MODE_LINE)
		return fail(p, rest, "SUB-RULE is not allowed %s",
			    mode == MODE_ENTRY ? "in a rule set" : "inside AND/OR/NOT");
	while (o < b && is_blank(p->s[o]))
		o++;
	out->payload_pos = pos_at(p, o);
	if (o >= b || p->s[o] != '(')
		return fail(p, o, "expected '(' after SUB-RULE: write SUB-RULE,(RULE),NAME");
	close = match_paren(p->s, o, b);
	if (close >= b)
		return fail(p, o, "unbalanced '(': no matching ')'");
	out->sub = calloc(1, sizeof(*out->sub));
	if (!out->sub)
		return fail_nomem(p, o);
	out->n_sub = 1;
	err = parse_rule(p, o + 1, close, MODE_SUB, depth + 1, &out->sub[0]);
	if (err)
		return err;
	return parse_after_paren(p, close, b, mode, out);
}

/* DOMAIN-REGEX, PROCESS-NAME-REGEX, PROCESS-PATH-REGEX: the pattern may
 * hold commas, so on a rules: line the target is the last field (as
 * mihomo reads it) and no option follows. */
static int parse_regex_rule(const struct rp *p, size_t rest, size_t b, enum pmode mode,
			    struct rule_spec *out)
{
	const char *name = rules_type_name(out->type);
	size_t pa = rest, pb = b, ta, tb;

	if (mode == MODE_LINE) {
		const char *lc = NULL;

		for (size_t i = b; i > rest; i--)
			if (p->s[i - 1] == ',') {
				lc = p->s + i - 1;
				break;
			}
		if (!lc)
			return fail(p, b, "missing target: expected %s,REGEX,TARGET", name);
		pb = (size_t)(lc - p->s);
		ta = pb + 1;
		tb = b;
		trim(p->s, &ta, &tb);
		if (ta == tb)
			return fail(p, ta, "empty target after payload");
		if (eq_nocase(p->s + ta, tb - ta, "no-resolve"))
			return fail(p, ta,
				    "no-resolve is not allowed on %s "
				    "(only on IP-CIDR, IP-CIDR6, IP-SUFFIX, GEOIP, IP-ASN and "
				    "RULE-SET)",
				    name);
		out->target = dup_range(p->s, ta, tb);
		if (!out->target)
			return fail_nomem(p, ta);
		out->target_pos = pos_at(p, ta);
	}
	trim(p->s, &pa, &pb);
	out->payload_pos = pos_at(p, pa);
	if (pa == pb)
		return fail(p, pa, "missing payload: expected %s,REGEX%s", name,
			    mode == MODE_LINE ? ",TARGET" : "");
	return parse_regex(p, pa, pb, out);
}

static int parse_rule(const struct rp *p, size_t a, size_t b, enum pmode mode, int depth,
		      struct rule_spec *out)
{
	size_t ta, tb, t_end, rest, pa, pb, c, a0 = a;
	const char *name;
	size_t i;
	int err;

	trim(p->s, &a, &b);
	if (a == b) {
		/* Operands: at their '('. */
		if (mode == MODE_SUB)
			return fail(p, a0 - 1, "empty rule inside parentheses");
		return fail(p, a0, "empty rule");
	}
	t_end = find(p->s, a, b, ',');
	ta = a;
	tb = t_end;
	trim(p->s, &ta, &tb);
	if (ta == tb)
		return fail(p, ta, "missing rule type before ','");
	for (i = 0; i < sizeof(rule_types) / sizeof(rule_types[0]); i++)
		if (eq_nocase(p->s + ta, tb - ta, rule_types[i].name))
			break;
	if (i == sizeof(rule_types) / sizeof(rule_types[0]))
		return fail_unknown_type(p, ta, tb);
	out->type = rule_types[i].type;
	out->pos = pos_at(p, ta);
	name = rules_type_name(out->type);
	if (mode != MODE_SUB) {
		out->text = dup_range(p->s, a, b);
		if (!out->text)
			return fail_nomem(p, a);
	}
	if (out->type == RULE_MATCH && mode != MODE_LINE)
		return fail(p, ta, "MATCH is not allowed %s",
			    mode == MODE_ENTRY ? "in a rule set" : "inside AND/OR/NOT");
	if (out->type == RULE_RULE_SET && p->in_set)
		return fail(p, ta, "RULE-SET is not allowed in a rule set");
	if (t_end == b && out->type != RULE_MATCH)
		return fail(p, b, "missing payload: expected %s,PAYLOAD%s", name,
			    mode == MODE_LINE ? ",TARGET" : "");
	if (out->type == RULE_MATCH)
		return parse_tail(p, t_end, b, mode, out);
	rest = t_end + 1;
	if (out->type == RULE_AND || out->type == RULE_OR || out->type == RULE_NOT)
		return parse_logic(p, rest, b, mode, depth, out);
	if (out->type == RULE_SUB_RULE)
		return parse_sub_rule(p, rest, b, mode, depth, out);
	if (out->type == RULE_DOMAIN_REGEX || out->type == RULE_PROCESS_NAME_REGEX ||
	    out->type == RULE_PROCESS_PATH_REGEX)
		return parse_regex_rule(p, rest, b, mode, out);

	c = find(p->s, rest, b, ',');
	pa = rest;
	pb = c;
	trim(p->s, &pa, &pb);
	out->payload_pos = pos_at(p, pa);
	if (pa == pb)
		return fail(p, pa, "missing payload: expected %s,PAYLOAD%s", name,
			    mode == MODE_LINE ? ",TARGET" : "");
	err = parse_payload(p, pa, pb, out);
	if (err)
		return err;
	return parse_tail(p, c, b, mode, out);
}

static int parse_top(const char *s, size_t len, const struct conf_pos *pos, enum pmode mode,
		     struct rule_spec *out, struct conf_err *err)
{
	struct rp p = {
		.s = s,
		.len = len,
		.err = err,
		.in_set = mode == MODE_ENTRY,
	};
	int r;

	memset(out, 0, sizeof(*out));
	if (pos)
		p.pos = *pos;
	if (memchr(s, '\0', len)) {
		size_t z = (size_t)((const char *)memchr(s, '\0', len) - s);

		return fail(&p, z, "unexpected NUL byte");
	}
	r = parse_rule(&p, 0, len, mode, 0, out);
	if (r)
		rule_spec_free(out);
	return r;
}

int rules_parse_line(const char *s, size_t len, const struct conf_pos *pos, struct rule_spec *out,
		     struct conf_err *err)
{
	return parse_top(s, len, pos, MODE_LINE, out, err);
}

int rules_parse_entry(const char *s, size_t len, const struct conf_pos *pos, struct rule_spec *out,
		      struct conf_err *err)
{
	return parse_top(s, len, pos, MODE_ENTRY, out, err);
}
