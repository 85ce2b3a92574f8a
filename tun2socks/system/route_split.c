/* route_split: auto-route's routes on macOS (route_split.h). */
#include "tun2socks/system/route_split.h"
#include "tun2socks/base/errtext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A route of the main table, unicast, static. */
static struct route_obj *push(struct route_plan *p)
{
	struct route_obj *o = route_plan_push(p);

	if (o == NULL)
		return NULL;
	o->kind = ROUTE_OBJ_ROUTE;
	o->route.table = RTNL_TABLE_MAIN;
	o->route.protocol = RTNL_PROTO_STATIC;
	o->route.scope = RTNL_SCOPE_UNIVERSE;
	o->route.type = RTNL_RT_UNICAST;
	return o;
}

/* The host routes of fam's proxy servers through gw. */
static int split_hosts(const struct route_plan_cfg *c, int fam, const struct prefix *gw,
		       const char *dev, struct route_plan *p)
{
	for (size_t i = 0; i < c->n_servers; i++) {
		struct route_obj *o;

		if (c->servers[i].family != fam || !route_plan_server_first(c, i))
			continue;
		o = push(p);
		if (o == NULL)
			return -ENOMEM;
		o->route.family = (uint8_t)fam;
		o->route.dst = c->servers[i];
		o->via = *gw;
		snprintf(o->dev, sizeof(o->dev), "%s", dev);
	}
	return 0;
}

/* The routes of fam into the TUN (or unreachable ones): the number added,
 * or -errno. */
static int split_routes(const struct route_plan_cfg *c, int fam, bool servers_out,
			struct route_plan *p, char *err, size_t errlen)
{
	bool has = fam == AF_INET ? c->has4 : c->has6;
	struct prefix *in = NULL, *ex = NULL, *out = NULL;
	size_t ni = 0, ne = 0, added = 0;
	int n, ret;

	if (!has && !c->strict)
		return 0;
	in = malloc((c->n_route_addr + 1) * sizeof(*in));
	ex = malloc((c->n_exclude + c->n_servers + 2) * sizeof(*ex));
	out = malloc(ROUTE_PLAN_MAX_ROUTES * sizeof(*out));
	if (in == NULL || ex == NULL || out == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n_route_addr; i++)
		if (c->route_addr[i].family == fam)
			in[ni++] = c->route_addr[i];
	if (c->n_route_addr == 0)
		prefix_any(&in[ni++], fam);
	for (size_t i = 0; i < c->n_exclude; i++)
		ex[ne++] = c->exclude[i];
	for (size_t i = 0; servers_out && i < c->n_servers; i++)
		ex[ne++] = c->servers[i];
	if (fam == AF_INET) {
		/* Multicast and the limited broadcast keep their usual way
		 * (mDNS, SSDP, DHCP), as on Linux. */
		(void)prefix_parse("224.0.0.0/4", false, &ex[ne++]);
		(void)prefix_parse("255.255.255.255/32", false, &ex[ne++]);
	}
	n = prefix_subtract(fam, in, ni, ex, ne, out, ROUTE_PLAN_MAX_ROUTES - 1);
	if (n == -ENOBUFS) {
		errtext_set(err, errlen,
			    "auto-route: route-exclude-address leaves more than %d %s routes",
			    ROUTE_PLAN_MAX_ROUTES, fam == AF_INET ? "IPv4" : "IPv6");
		ret = -E2BIG;
		goto out;
	}
	if (n < 0) {
		ret = n;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		/* A /0 would replace the default route (and be refused as
		 * there already): two /1 halves win over it instead. */
		int halves = out[i].len == 0 ? 2 : 1;

		for (int h = 0; h < halves; h++) {
			struct route_obj *o = push(p);

			if (o == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			o->route.family = (uint8_t)fam;
			o->route.dst = out[i];
			if (halves == 2) {
				o->route.dst.len = 1;
				o->route.dst.addr[0] = h ? 0x80 : 0;
			}
			if (has) {
				o->route.oif = c->tun_ifindex;
				snprintf(o->dev, sizeof(o->dev), "%s", c->tun_name);
			} else {
				o->route.type = RTNL_RT_UNREACHABLE;
			}
			added++;
		}
	}
	ret = (int)added;
out:
	free(in);
	free(ex);
	free(out);
	return ret;
}

int route_split_build(const struct route_plan_cfg *c, const struct route_split_gw *gw,
		      struct route_plan *p, char *err, size_t errlen)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	bool on[2] = { false, false };
	int r;

	memset(p, 0, sizeof(*p));
	if (c->n_servers > ROUTE_PLAN_MAX_ROUTES / 2) {
		errtext_set(err, errlen, "auto-route: more than %d proxy servers",
			    ROUTE_PLAN_MAX_ROUTES / 2);
		return -E2BIG;
	}
	/* The proxy servers first: they never enter the TUN, not even for
	 * the moment between two additions. */
	for (int i = 0; i < 2; i++) {
		bool has_gw = fams[i] == AF_INET ? gw->has4 : gw->has6;
		bool routed = (fams[i] == AF_INET ? c->has4 : c->has6) || c->strict;

		if (!has_gw || !routed)
			continue;
		r = split_hosts(c, fams[i], fams[i] == AF_INET ? &gw->gw4 : &gw->gw6,
				fams[i] == AF_INET ? gw->dev4 : gw->dev6, p);
		if (r < 0)
			goto fail;
	}
	for (int i = 0; i < 2; i++) {
		bool has_gw = fams[i] == AF_INET ? gw->has4 : gw->has6;

		r = split_routes(c, fams[i], !has_gw, p, err, errlen);
		if (r < 0)
			goto fail;
		on[i] = r > 0;
	}
	if (!on[0] && !on[1]) {
		errtext_set(err, errlen,
			    "auto-route: nothing to route (the TUN has no address of a family "
			    "route-address names, and strict-route is off)");
		r = -EINVAL;
		goto fail;
	}
	p->fam4 = on[0];
	p->fam6 = on[1];
	return 0;
fail:
	route_plan_free(p);
	return r;
}
