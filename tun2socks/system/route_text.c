/* route_text: rules and routes as ip(8)-style lines (route_text.h). */
#include "tun2socks/system/route_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct out {
	char *buf;
	size_t cap, len;
};

static void add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void add_prefix(struct out *o, const char *word, const struct prefix *p)
{
	char t[PREFIX_STRLEN];

	prefix_format(p, t, sizeof(t));
	add(o, " %s %s", word, t);
}

static void add_range(struct out *o, const char *word, const uint16_t *r)
{
	if (r[0] == r[1])
		add(o, " %s %u", word, r[0]);
	else
		add(o, " %s %u-%u", word, r[0], r[1]);
}

static void add_table(struct out *o, uint32_t t)
{
	if (t == RTNL_TABLE_MAIN)
		add(o, " main");
	else
		add(o, " %u", t);
}

static void format_rule(struct out *o, const struct rtnl_rule *r)
{
	add(o, "rule %s pref %u", r->family == AF_INET ? "-4" : "-6", r->priority);
	if (r->invert)
		add(o, " not");
	if (r->src.len)
		add_prefix(o, "from", &r->src);
	if (r->dst.len)
		add_prefix(o, "to", &r->dst);
	if (r->iif[0])
		add(o, " iif %s", r->iif);
	if (r->oif[0])
		add(o, " oif %s", r->oif);
	if (r->has_fwmark)
		add(o, " fwmark 0x%x/0x%x", r->fwmark, r->fwmask);
	if (r->ip_proto == RTNL_IPPROTO_UDP)
		add(o, " ipproto udp");
	else if (r->ip_proto == RTNL_IPPROTO_TCP)
		add(o, " ipproto tcp");
	else if (r->ip_proto)
		add(o, " ipproto %u", r->ip_proto);
	if (r->sport[0] || r->sport[1])
		add_range(o, "sport", r->sport);
	if (r->dport[0] || r->dport[1])
		add_range(o, "dport", r->dport);
	if (r->has_uid)
		add(o, " uidrange %u-%u", r->uid[0], r->uid[1]);
	switch (r->action) {
	case RTNL_ACT_TABLE:
		add(o, " lookup");
		add_table(o, r->table);
		break;
	case RTNL_ACT_GOTO:
		add(o, " goto %u", r->goto_prio);
		break;
	case RTNL_ACT_NOP:
		add(o, " nop");
		break;
	case RTNL_ACT_UNREACHABLE:
		add(o, " unreachable");
		break;
	case RTNL_ACT_BLACKHOLE:
		add(o, " blackhole");
		break;
	case RTNL_ACT_PROHIBIT:
		add(o, " prohibit");
		break;
	default:
		add(o, " action %u", r->action);
		break;
	}
	if (r->has_suppress)
		add(o, " suppress_prefixlength %u", r->suppress_prefixlen);
}

static const struct {
	const char *name;
	uint8_t type;
} route_types[] = {
	{ "unreachable", RTNL_RT_UNREACHABLE },
	{ "blackhole", RTNL_RT_BLACKHOLE },
	{ "prohibit", RTNL_RT_PROHIBIT },
	{ "throw", RTNL_RT_THROW },
};

static void format_route(struct out *o, const struct route_obj *obj)
{
	const struct rtnl_route *r = &obj->route;
	char t[PREFIX_STRLEN];

	add(o, "route %s table", r->family == AF_INET ? "-4" : "-6");
	add_table(o, r->table);
	for (size_t i = 0; i < sizeof(route_types) / sizeof(route_types[0]); i++)
		if (route_types[i].type == r->type)
			add(o, " %s", route_types[i].name);
	prefix_format(&r->dst, t, sizeof(t));
	add(o, " %s", t);
	if (obj->via.family) {
		/* the address alone: the prefix's text up to its '/' */
		char *slash;

		prefix_format(&obj->via, t, sizeof(t));
		slash = strchr(t, '/');
		if (slash)
			*slash = '\0';
		add(o, " via %s", t);
	}
	if (obj->dev[0])
		add(o, " dev %s", obj->dev);
	if (r->metric)
		add(o, " metric %u", r->metric);
}

void route_text_format(const struct route_obj *obj, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };

	if (cap == 0)
		return;
	buf[0] = '\0';
	if (obj->kind == ROUTE_OBJ_RULE)
		format_rule(&o, &obj->rule);
	else
		format_route(&o, obj);
}

/* ---- parsing --------------------------------------------------------------- */

#define MAX_WORDS 32

/* Splits a copy of line at spaces and tabs. */
static int split(const char *line, char *copy, size_t cap, char **w)
{
	int n = 0;
	char *save = NULL, *tok;

	if (strlen(line) >= cap)
		return -EINVAL;
	strcpy(copy, line);
	for (tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_WORDS)
			return -EINVAL;
		w[n++] = tok;
	}
	return n;
}

static int parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	v = strtoull(s, &end, 0);
	if (*end != '\0' || v > 0xffffffffull)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* "N" or "N-M" (N <= M) within max. */
static int parse_range(const char *s, uint32_t max, uint32_t *lo, uint32_t *hi)
{
	char buf[32];
	char *dash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u32(buf, lo) < 0 || (dash ? parse_u32(dash + 1, hi) : (*hi = *lo, 0)) < 0)
		return -EINVAL;
	return *lo <= *hi && *hi <= max ? 0 : -EINVAL;
}

static int parse_table(const char *s, uint32_t *out)
{
	if (strcmp(s, "main") == 0) {
		*out = RTNL_TABLE_MAIN;
		return 0;
	}
	return parse_u32(s, out) == 0 && *out != 0 ? 0 : -EINVAL;
}

static int parse_family(const char *s, uint8_t *out)
{
	if (strcmp(s, "-4") == 0)
		*out = AF_INET;
	else if (strcmp(s, "-6") == 0)
		*out = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static int parse_prefix_of(const char *s, uint8_t family, struct prefix *p)
{
	return prefix_parse(s, false, p) == 0 && p->family == family ? 0 : -EINVAL;
}

static int parse_ifname(const char *s, char *dst, size_t cap)
{
	if (s[0] == '\0' || strlen(s) >= cap)
		return -EINVAL;
	strcpy(dst, s);
	return 0;
}

static int parse_rule(char **w, int n, struct rtnl_rule *r)
{
	bool have_action = false;
	uint32_t lo, hi;
	int i = 4;

	if (n < 4 || parse_family(w[1], &r->family) < 0 || strcmp(w[2], "pref") != 0 ||
	    parse_u32(w[3], &r->priority) < 0)
		return -EINVAL;
	r->src.family = r->dst.family = r->family;
	if (i < n && strcmp(w[i], "not") == 0) {
		r->invert = true;
		i++;
	}
	while (i < n) {
		const char *k = w[i], *v = i + 1 < n ? w[i + 1] : NULL;
		int rc = 0;

		if (strcmp(k, "nop") == 0 || strcmp(k, "unreachable") == 0 ||
		    strcmp(k, "blackhole") == 0 || strcmp(k, "prohibit") == 0) {
			if (have_action)
				return -EINVAL;
			have_action = true;
			r->action = k[0] == 'n'   ? RTNL_ACT_NOP
				    : k[0] == 'u' ? RTNL_ACT_UNREACHABLE
				    : k[0] == 'b' ? RTNL_ACT_BLACKHOLE
						  : RTNL_ACT_PROHIBIT;
			i++;
			continue;
		}
		if (v == NULL)
			return -EINVAL;
		if (strcmp(k, "from") == 0) {
			rc = parse_prefix_of(v, r->family, &r->src);
		} else if (strcmp(k, "to") == 0) {
			rc = parse_prefix_of(v, r->family, &r->dst);
		} else if (strcmp(k, "iif") == 0) {
			rc = parse_ifname(v, r->iif, sizeof(r->iif));
		} else if (strcmp(k, "oif") == 0) {
			rc = parse_ifname(v, r->oif, sizeof(r->oif));
		} else if (strcmp(k, "fwmark") == 0) {
			char buf[32], *slash;

			if (strlen(v) >= sizeof(buf))
				return -EINVAL;
			strcpy(buf, v);
			slash = strchr(buf, '/');
			if (slash)
				*slash = '\0';
			r->has_fwmark = true;
			r->fwmask = 0xffffffffu;
			rc = parse_u32(buf, &r->fwmark);
			if (rc == 0 && slash)
				rc = parse_u32(slash + 1, &r->fwmask);
		} else if (strcmp(k, "ipproto") == 0) {
			if (strcmp(v, "udp") == 0) {
				r->ip_proto = RTNL_IPPROTO_UDP;
			} else if (strcmp(v, "tcp") == 0) {
				r->ip_proto = RTNL_IPPROTO_TCP;
			} else {
				rc = parse_u32(v, &lo);
				if (rc == 0 && (lo == 0 || lo > 255))
					rc = -EINVAL;
				r->ip_proto = (uint8_t)lo;
			}
		} else if (strcmp(k, "sport") == 0 || strcmp(k, "dport") == 0) {
			uint16_t *pr = k[0] == 's' ? r->sport : r->dport;

			rc = parse_range(v, 65535, &lo, &hi);
			if (rc == 0 && hi == 0)
				rc = -EINVAL;
			pr[0] = (uint16_t)lo;
			pr[1] = (uint16_t)hi;
		} else if (strcmp(k, "uidrange") == 0) {
			r->has_uid = true;
			rc = parse_range(v, 0xffffffffu, &r->uid[0], &r->uid[1]);
		} else if (strcmp(k, "lookup") == 0) {
			if (have_action)
				return -EINVAL;
			have_action = true;
			r->action = RTNL_ACT_TABLE;
			rc = parse_table(v, &r->table);
		} else if (strcmp(k, "goto") == 0) {
			if (have_action)
				return -EINVAL;
			have_action = true;
			r->action = RTNL_ACT_GOTO;
			rc = parse_u32(v, &r->goto_prio);
		} else if (strcmp(k, "suppress_prefixlength") == 0) {
			rc = parse_u32(v, &lo);
			if (rc == 0 && lo > 128)
				rc = -EINVAL;
			r->has_suppress = true;
			r->suppress_prefixlen = (uint8_t)lo;
		} else {
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
		i += 2;
	}
	return have_action ? 0 : -EINVAL;
}

static int parse_route(char **w, int n, struct route_obj *o)
{
	struct rtnl_route *r = &o->route;
	int i = 4;

	if (n < 5 || parse_family(w[1], &r->family) < 0 || strcmp(w[2], "table") != 0 ||
	    parse_table(w[3], &r->table) < 0)
		return -EINVAL;
	r->type = RTNL_RT_UNICAST;
	for (size_t t = 0; t < sizeof(route_types) / sizeof(route_types[0]); t++) {
		if (strcmp(w[i], route_types[t].name) == 0) {
			r->type = route_types[t].type;
			i++;
			break;
		}
	}
	if (i >= n || parse_prefix_of(w[i], r->family, &r->dst) < 0)
		return -EINVAL;
	for (i++; i < n; i += 2) {
		if (i + 1 >= n)
			return -EINVAL;
		if (strcmp(w[i], "dev") == 0 && r->type == RTNL_RT_UNICAST) {
			if (parse_ifname(w[i + 1], o->dev, sizeof(o->dev)) < 0)
				return -EINVAL;
		} else if (strcmp(w[i], "metric") == 0) {
			if (parse_u32(w[i + 1], &r->metric) < 0)
				return -EINVAL;
		} else if (strcmp(w[i], "via") == 0 && r->type == RTNL_RT_UNICAST) {
			if (strchr(w[i + 1], '/') || prefix_parse(w[i + 1], false, &o->via) < 0 ||
			    o->via.family != r->family)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	/* What the daemon adds: a device route is link-scoped; the others
	 * have no device. */
	if (r->type == RTNL_RT_UNICAST && o->dev[0] == '\0')
		return -EINVAL;
	r->scope = r->type == RTNL_RT_UNICAST && r->family == AF_INET ? RTNL_SCOPE_LINK
								      : RTNL_SCOPE_UNIVERSE;
	r->protocol = RTNL_PROTO_STATIC;
	return 0;
}

int route_text_parse(const char *line, struct route_obj *out)
{
	char copy[ROUTE_TEXT_MAX * 2], *w[MAX_WORDS];
	int n = split(line, copy, sizeof(copy), w), r;

	memset(out, 0, sizeof(*out));
	if (n < 1)
		return -EINVAL;
	if (strcmp(w[0], "rule") == 0) {
		out->kind = ROUTE_OBJ_RULE;
		r = parse_rule(w, n, &out->rule);
	} else if (strcmp(w[0], "route") == 0) {
		out->kind = ROUTE_OBJ_ROUTE;
		r = parse_route(w, n, out);
	} else {
		r = -EINVAL;
	}
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}
