/* autoroute on macOS: the routes of route_split.h through a PF_ROUTE
 * socket (autoroute_impl.h; docs/design.md §13, "macOS"). There are no
 * policy rules and no network namespaces; the original default gateways
 * are asked for (RTM_GET of the default route, netmask 0: the exact
 * entry, not our /1 halves) whenever a plan is built.
 *
 * Written to Apple's documented interfaces (route(4), <net/route.h>) and
 * not compiled or run on a Mac yet. */
#include "tun2socks/system/autoroute_impl.h"
#include "tun2socks/base/errtext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <net/if.h>

#include "tun2socks/system/route_split.h"
#include "tun2socks/system/rtsock.h"

struct autoroute_os {
	struct rtsock *rs;
};

int autoroute_os_open(struct autoroute_os **out)
{
	struct autoroute_os *os = calloc(1, sizeof(*os));
	int r;

	*out = NULL;
	if (os == NULL)
		return -ENOMEM;
	r = rtsock_open(&os->rs);
	if (r < 0) {
		free(os);
		return r;
	}
	*out = os;
	return 0;
}

void autoroute_os_close(struct autoroute_os *os)
{
	if (os == NULL)
		return;
	rtsock_close(os->rs);
	free(os);
}

const char *autoroute_os_state_dir(void)
{
	/* / is read-only on macOS; /var/run is root's and emptied at boot. */
	return "/var/run/tun2socks";
}

/* The interface's name of an answer: RTA_IFP's, else from its index. */
static void answer_dev(const struct rtmsg_info *m, char *dev, size_t cap)
{
	char name[IF_NAMESIZE];

	if (m->ifname[0])
		snprintf(dev, cap, "%s", m->ifname);
	else if (m->index && if_indextoname(m->index, name))
		snprintf(dev, cap, "%s", name);
	else if (cap)
		dev[0] = '\0';
}

/* The default route of fam through a router, unless it is the TUN's. */
static void find_gateway(struct autoroute_os *os, int fam, uint32_t tun_ifindex, bool *has,
			 struct prefix *gw, char *dev, size_t devlen)
{
	struct rtmsg_req req = { .type = RTMSG_GET };
	struct rtmsg_info m;

	*has = false;
	prefix_any(&req.dst, fam);
	if (rtsock_get(os->rs, &req, &m) < 0 || !m.has_dst || m.dst.len != 0 || !m.has_gw ||
	    !(m.flags & RTMSG_F_GATEWAY) || m.index == 0 || m.index == tun_ifindex)
		return;
	*gw = m.gw;
	answer_dev(&m, dev, devlen);
	*has = true;
}

int autoroute_os_plan(struct autoroute_os *os, const struct route_plan_cfg *cfg,
		      struct route_plan *out, char *err, size_t errlen)
{
	struct route_split_gw gw;

	memset(&gw, 0, sizeof(gw));
	find_gateway(os, AF_INET, cfg->tun_ifindex, &gw.has4, &gw.gw4, gw.dev4, sizeof(gw.dev4));
	find_gateway(os, AF_INET6, cfg->tun_ifindex, &gw.has6, &gw.gw6, gw.dev6, sizeof(gw.dev6));
	return route_split_build(cfg, &gw, out, err, errlen);
}

static void loopback(int fam, struct prefix *p)
{
	uint8_t a[16] = { 0 };

	if (fam == AF_INET) {
		a[0] = 127;
		a[3] = 1;
	} else {
		a[15] = 1;
	}
	prefix_make(p, fam, a, prefix_max_len(fam));
}

int autoroute_os_change(struct autoroute_os *os, bool add, const struct route_obj *o, char *err,
			size_t errlen)
{
	struct rtmsg_req req = { .type = add ? RTMSG_ADD : RTMSG_DELETE };
	int r;

	if (o->kind != ROUTE_OBJ_ROUTE) {
		errtext_set(err, errlen, "macOS has no policy-routing rules");
		return -ENOTSUP;
	}
	req.dst = o->route.dst;
	if (add && o->route.type == RTNL_RT_UNREACHABLE) {
		/* route(8)'s -reject: a gateway on the loopback */
		req.has_gw = true;
		req.reject = true;
		loopback(o->route.family, &req.gw);
	} else if (add && o->via.family) {
		req.has_gw = true;
		req.gw = o->via;
	} else if (add) {
		unsigned idx = if_nametoindex(o->dev);

		if (idx == 0 || idx > 0xffff) {
			errtext_set(err, errlen, "no interface %s", o->dev);
			return -ENODEV;
		}
		req.ifindex = (uint16_t)idx;
	}
	r = rtsock_change(os->rs, &req);
	if (r < 0)
		errtext_set(err, errlen, "routing socket: %s", strerror(-r));
	return r;
}

/* The route of the main table at exactly p, if there is one: 1 with o,
 * 0, or -errno. */
static int exact_route(struct autoroute_os *os, const struct prefix *p, struct route_obj *o,
		       int32_t *flags)
{
	struct rtmsg_req req = { .type = RTMSG_GET, .dst = *p };
	struct rtmsg_info m;
	int r = rtsock_get(os->rs, &req, &m);

	memset(o, 0, sizeof(*o));
	*flags = 0;
	if (r == -ESRCH || r == -ENETUNREACH)
		return 0;
	if (r < 0)
		return r;
	/* a host lookup answers with the best match: only p itself counts */
	if (!m.has_dst || !prefix_equal(&m.dst, p))
		return 0;
	o->kind = ROUTE_OBJ_ROUTE;
	o->route.family = p->family;
	o->route.table = RTNL_TABLE_MAIN;
	o->route.dst = m.dst;
	o->route.type = (m.flags & RTMSG_F_REJECT) ? RTNL_RT_UNREACHABLE : RTNL_RT_UNICAST;
	if (m.has_gw && (m.flags & RTMSG_F_GATEWAY) && !(m.flags & RTMSG_F_REJECT))
		o->via = m.gw;
	if (o->route.type == RTNL_RT_UNICAST)
		answer_dev(&m, o->dev, sizeof(o->dev));
	*flags = m.flags;
	return 1;
}

int autoroute_os_in_use(struct autoroute_os *os, uint32_t table, uint32_t lo, uint32_t hi,
			char *what, size_t whatlen)
{
	/* The /1 halves are what a VPN client (or another tun2socks,
	 * mihomo, sing-box) adds to take the default route over. */
	static const char *const halves[] = { "0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1" };

	(void)table;
	(void)lo;
	(void)hi;
	for (size_t i = 0; i < sizeof(halves) / sizeof(halves[0]); i++) {
		struct route_obj o;
		struct prefix p;
		int32_t flags;
		int r;

		if (prefix_parse(halves[i], false, &p) < 0)
			return -EINVAL;
		r = exact_route(os, &p, &o, &flags);
		if (r < 0)
			return r;
		if (r == 1) {
			route_text_format(&o, what, whatlen);
			return -EEXIST;
		}
	}
	return 0;
}

int autoroute_os_route_oif(struct autoroute_os *os, const struct prefix *dst, uint32_t mark,
			   uint32_t bind_ifindex, uint32_t *oif)
{
	/* IP_BOUND_IF makes the kernel look routes up scoped to the
	 * interface: a GET with RTF_IFSCOPE asks the same. No marks here. */
	struct rtmsg_req req = { .type = RTMSG_GET, .dst = *dst, .scope = (uint16_t)bind_ifindex };
	struct rtmsg_info m;
	int r;

	(void)mark;
	*oif = 0;
	if (bind_ifindex > 0xffff)
		return -EINVAL;
	r = rtsock_get(os->rs, &req, &m);
	if (r == -ESRCH)
		return -ENETUNREACH;
	if (r < 0)
		return r;
	*oif = m.index;
	return 0;
}

int autoroute_os_present(struct autoroute_os *os, const struct route_obj *obj, size_t n,
			 bool *present)
{
	memset(present, 0, n * sizeof(*present));
	for (size_t i = 0; i < n; i++) {
		const struct route_obj *want = &obj[i];
		struct route_obj have;
		int32_t flags;
		int r;

		if (want->kind != ROUTE_OBJ_ROUTE)
			continue;
		r = exact_route(os, &want->route.dst, &have, &flags);
		if (r < 0)
			return r;
		if (r == 0 || have.route.type != want->route.type)
			continue;
		if (want->route.type == RTNL_RT_UNREACHABLE)
			present[i] = true;
		else if (want->via.family)
			present[i] = prefix_equal(&have.via, &want->via);
		else
			present[i] = strcmp(have.dev, want->dev) == 0;
	}
	return 0;
}

int autoroute_os_link_up(const char *name)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = errno == ENXIO ? -ENODEV : -errno;
	else
		r = (ifr.ifr_flags & IFF_UP) != 0;
	close(fd);
	return r;
}

uint64_t autoroute_os_netns(void)
{
	return 0; /* no network namespaces */
}
