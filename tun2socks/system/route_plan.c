/* route_plan: the rules and routes of auto-route (route_plan.h). */
#include "tun2socks/system/route_plan.h"
#include "tun2socks/base/errtext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool route_plan_table_ok(uint32_t t)
{
	return t != 0 && t != 253 && t != 254 && t != 255;
}

bool route_plan_rule_index_ok(uint32_t p)
{
	return p >= 1 && p + ROUTE_PLAN_SPAN < 32766;
}

void route_plan_free(struct route_plan *p)
{
	free(p->obj);
	memset(p, 0, sizeof(*p));
}

struct route_obj *route_plan_push(struct route_plan *p)
{
	struct route_obj *o;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct route_obj *n = realloc(p->obj, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		p->obj = n;
		p->cap = cap;
	}
	o = &p->obj[p->n++];
	memset(o, 0, sizeof(*o));
	return o;
}

bool route_plan_server_first(const struct route_plan_cfg *c, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (prefix_equal(&c->servers[j], &c->servers[i]))
			return false;
	return true;
}

/* A rule of family fam at priority prio, from local sockets ("iif lo")
 * except for the nop target. */
static struct rtnl_rule *rule(struct route_plan *p, int fam, uint32_t prio, uint8_t action)
{
	struct route_obj *o = route_plan_push(p);

	if (o == NULL)
		return NULL;
	o->kind = ROUTE_OBJ_RULE;
	o->rule.family = (uint8_t)fam;
	o->rule.priority = prio;
	o->rule.action = action;
	prefix_any(&o->rule.src, fam);
	prefix_any(&o->rule.dst, fam);
	if (action != RTNL_ACT_NOP)
		strcpy(o->rule.iif, "lo");
	return &o->rule;
}

/* The users whose traffic is left out: every uid outside the included
 * ranges (when there are any), and the excluded ranges; merged. */
static size_t excluded_uids(const struct route_plan_cfg *c, struct uid_range *out)
{
	struct uid_range tmp[2 * 64 + 2];
	size_t n = 0, m = 0;

	if (c->n_include_uid > 0) {
		/* The complement of the included ranges, sorted first. */
		struct uid_range inc[64];
		uint64_t next = 0;
		size_t ni = c->n_include_uid < 64 ? c->n_include_uid : 64;

		memcpy(inc, c->include_uid, ni * sizeof(*inc));
		for (size_t i = 1; i < ni; i++)
			for (size_t j = i; j > 0 && inc[j - 1].lo > inc[j].lo; j--) {
				struct uid_range t = inc[j];

				inc[j] = inc[j - 1];
				inc[j - 1] = t;
			}
		for (size_t i = 0; i < ni; i++) {
			if (inc[i].lo > next)
				tmp[n++] = (struct uid_range){ (uint32_t)next, inc[i].lo - 1 };
			if ((uint64_t)inc[i].hi + 1 > next)
				next = (uint64_t)inc[i].hi + 1;
		}
		if (next <= 0xffffffffu)
			tmp[n++] = (struct uid_range){ (uint32_t)next, 0xffffffffu };
	}
	for (size_t i = 0; i < c->n_exclude_uid && i < 64; i++)
		tmp[n++] = c->exclude_uid[i];
	/* Sort and merge overlapping or adjacent ranges. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && tmp[j - 1].lo > tmp[j].lo; j--) {
			struct uid_range t = tmp[j];

			tmp[j] = tmp[j - 1];
			tmp[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && (uint64_t)tmp[i].lo <= (uint64_t)out[m - 1].hi + 1) {
			if (tmp[i].hi > out[m - 1].hi)
				out[m - 1].hi = tmp[i].hi;
		} else {
			out[m++] = tmp[i];
		}
	}
	return m;
}

static const char *const fam_name[] = { [AF_INET] = "IPv4", [AF_INET6] = "IPv6" };

/* Routes of family fam into table T: the routed set as device routes, or
 * unreachable ones when the TUN has no address of the family. Returns the
 * number of routes (0: nothing of fam is routed) or -errno. */
static int plan_routes(const struct route_plan_cfg *c, int fam, struct route_plan *p, char *err,
		       size_t errlen)
{
	struct prefix any, *in = NULL, *ex = NULL, *out = NULL;
	size_t ni = 0, ne = 0;
	bool has = fam == AF_INET ? c->has4 : c->has6;
	int n, ret;

	if (!has && !c->strict)
		return 0;
	in = malloc((c->n_route_addr + 1) * sizeof(*in));
	ex = malloc((c->n_exclude + 2) * sizeof(*ex));
	out = malloc(ROUTE_PLAN_MAX_ROUTES * sizeof(*out));
	if (in == NULL || ex == NULL || out == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n_route_addr; i++)
		if (c->route_addr[i].family == fam)
			in[ni++] = c->route_addr[i];
	if (c->n_route_addr == 0) {
		prefix_any(&any, fam);
		in[ni++] = any;
	}
	for (size_t i = 0; i < c->n_exclude; i++)
		ex[ne++] = c->exclude[i];
	if (fam == AF_INET) {
		/* Multicast and the limited broadcast cannot be proxied: they
		 * keep their usual way (mDNS, SSDP, DHCP). */
		(void)prefix_parse("224.0.0.0/4", false, &ex[ne++]);
		(void)prefix_parse("255.255.255.255/32", false, &ex[ne++]);
	}
	n = prefix_subtract(fam, in, ni, ex, ne, out, ROUTE_PLAN_MAX_ROUTES);
	if (n == -ENOBUFS) {
		errtext_set(err, errlen,
			    "auto-route: route-exclude-address leaves more than %d %s routes",
			    ROUTE_PLAN_MAX_ROUTES, fam_name[fam]);
		ret = -E2BIG;
		goto out;
	}
	if (n < 0) {
		ret = n;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct route_obj *o = route_plan_push(p);

		if (o == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		o->kind = ROUTE_OBJ_ROUTE;
		o->route.family = (uint8_t)fam;
		o->route.table = c->table;
		o->route.dst = out[i];
		o->route.protocol = RTNL_PROTO_STATIC;
		if (has) {
			o->route.type = RTNL_RT_UNICAST;
			o->route.scope = fam == AF_INET ? RTNL_SCOPE_LINK : RTNL_SCOPE_UNIVERSE;
			o->route.oif = c->tun_ifindex;
			snprintf(o->dev, sizeof(o->dev), "%s", c->tun_name);
		} else {
			o->route.type = RTNL_RT_UNREACHABLE;
			o->route.scope = RTNL_SCOPE_UNIVERSE;
		}
	}
	ret = n;
out:
	free(in);
	free(ex);
	free(out);
	return ret;
}

/* The rules of family fam after the routes exist (P+2 .. P+7). */
static int plan_rules(const struct route_plan_cfg *c, int fam, struct route_plan *p)
{
	uint32_t P = c->rule_index, N = P + ROUTE_PLAN_SPAN, T = c->table;
	bool has = fam == AF_INET ? c->has4 : c->has6;
	struct rtnl_rule *r;

	if (c->dns_hijack) {
		for (int i = 0; i < 2; i++) {
			r = rule(p, fam, P + 2, RTNL_ACT_TABLE);
			if (r == NULL)
				return -ENOMEM;
			r->table = T;
			r->ip_proto = i == 0 ? RTNL_IPPROTO_UDP : RTNL_IPPROTO_TCP;
			r->dport[0] = r->dport[1] = 53;
		}
	}
	/* After the DNS rules: port 53 of a proxy server's address is
	 * answered by us too. */
	for (size_t i = 0; i < c->n_servers; i++) {
		/* Proxies on one host (other ports, other protocols): one
		 * rule, or the kernel refuses the second as a duplicate. */
		if (c->servers[i].family != fam || !route_plan_server_first(c, i))
			continue;
		r = rule(p, fam, P + 3, RTNL_ACT_GOTO);
		if (r == NULL)
			return -ENOMEM;
		r->goto_prio = N;
		r->dst = c->servers[i];
	}
	r = rule(p, fam, P + 4, RTNL_ACT_TABLE);
	if (r == NULL)
		return -ENOMEM;
	r->table = RTNL_TABLE_MAIN;
	r->has_suppress = true;
	r->suppress_prefixlen = 0;
	if (has) {
		r = rule(p, fam, P + 5, RTNL_ACT_TABLE);
		if (r == NULL)
			return -ENOMEM;
		r->table = T;
		r->src = fam == AF_INET ? c->tun4 : c->tun6;
	}
	if (fam == AF_INET) {
		/* IPv4 looks a route up with no source first: that lookup is
		 * the one that picks the TUN. */
		r = rule(p, fam, P + 6, RTNL_ACT_TABLE);
		if (r == NULL)
			return -ENOMEM;
		r->table = T;
		r->src.len = 32;
		return 0;
	}
	/* IPv6 rules with a source never match a lookup without one, so a
	 * source in ::/1 or 8000::/1 means a bound socket or a reply to an
	 * incoming connection: those go their usual way. Not when IPv6 is
	 * blocked: after an unreachable answer the kernel looks again with
	 * a source picked from another interface, which must not escape. */
	if (has) {
		for (int i = 0; i < 2; i++) {
			r = rule(p, fam, P + 6, RTNL_ACT_GOTO);
			if (r == NULL)
				return -ENOMEM;
			r->goto_prio = N;
			r->src.len = 1;
			r->src.addr[0] = i ? 0x80 : 0;
		}
	}
	r = rule(p, fam, P + 7, RTNL_ACT_TABLE);
	if (r == NULL)
		return -ENOMEM;
	r->table = T;
	return 0;
}

int route_plan_build(const struct route_plan_cfg *c, struct route_plan *p, char *err, size_t errlen)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	uint32_t P = c->rule_index, N = P + ROUTE_PLAN_SPAN;
	struct uid_range uids[2 * 64 + 2];
	size_t n_uids = excluded_uids(c, uids);
	struct route_plan routes = { 0 };
	bool fam_on[2] = { false, false };
	int ret;

	memset(p, 0, sizeof(*p));
	if (!route_plan_table_ok(c->table)) {
		errtext_set(err, errlen, "iproute2-table-index %u is the kernel's own table",
			    c->table);
		return -EINVAL;
	}
	if (!route_plan_rule_index_ok(c->rule_index)) {
		errtext_set(
			err, errlen,
			"iproute2-rule-index %u: the rules take %u to %u, which must lie within "
			"1-32765 (before the main table's rule)",
			c->rule_index, c->rule_index, c->rule_index + ROUTE_PLAN_SPAN);
		return -EINVAL;
	}
	if (c->n_include_uid > 64 || c->n_exclude_uid > 64) {
		errtext_set(err, errlen, "include-uid/exclude-uid: at most 64 ranges each");
		return -EINVAL;
	}
	/* Routes first, into a plan of their own: a family with nothing to
	 * route gets no rules either. */
	for (int i = 0; i < 2; i++) {
		ret = plan_routes(c, fams[i], &routes, err, errlen);
		if (ret < 0)
			goto fail;
		fam_on[i] = ret > 0;
	}
	if (!fam_on[0] && !fam_on[1]) {
		errtext_set(err, errlen,
			    "auto-route: nothing to route (the TUN has no address of a "
			    "family route-address names, and strict-route is off)");
		ret = -EINVAL;
		goto fail;
	}
	/* In the order of adding: the goto target, then what lets our own
	 * sockets and the excluded users through, the routes, and the rules
	 * that send traffic to them last (so nothing is sent into the TUN
	 * before our own traffic is kept out of it). */
	for (int i = 0; i < 2; i++) {
		struct rtnl_rule *r;

		if (!fam_on[i])
			continue;
		if (rule(p, fams[i], N, RTNL_ACT_NOP) == NULL)
			goto oom;
		if (c->has_mark) {
			r = rule(p, fams[i], P, RTNL_ACT_GOTO);
			if (r == NULL)
				goto oom;
			r->goto_prio = N;
			r->has_fwmark = true;
			r->fwmark = c->mark;
			r->fwmask = 0xffffffffu;
		}
		for (size_t u = 0; u < n_uids; u++) {
			r = rule(p, fams[i], P + 1, RTNL_ACT_GOTO);
			if (r == NULL)
				goto oom;
			r->goto_prio = N;
			r->has_uid = true;
			r->uid[0] = uids[u].lo;
			r->uid[1] = uids[u].hi;
		}
	}
	for (size_t i = 0; i < routes.n; i++) {
		struct route_obj *o = route_plan_push(p);

		if (o == NULL)
			goto oom;
		*o = routes.obj[i];
	}
	for (int i = 0; i < 2; i++) {
		if (fam_on[i] && plan_rules(c, fams[i], p) < 0)
			goto oom;
	}
	p->fam4 = fam_on[0];
	p->fam6 = fam_on[1];
	route_plan_free(&routes);
	return 0;
oom:
	ret = -ENOMEM;
fail:
	route_plan_free(&routes);
	route_plan_free(p);
	return ret;
}

int route_plan_parse_uids(const char *s, struct uid_range *out, size_t cap)
{
	size_t n = 0;
	const char *p = s;

	if (*s == '\0')
		return -EINVAL;
	for (;;) {
		unsigned long long lo, hi;
		char *end;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		lo = strtoull(p, &end, 10);
		hi = lo;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return -EINVAL;
			hi = strtoull(end + 1, &end, 10);
		}
		if (lo > hi || hi > 0xffffffffull || n == cap)
			return -EINVAL;
		out[n].lo = (uint32_t)lo;
		out[n].hi = (uint32_t)hi;
		n++;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
	return (int)n;
}
