/* autoroute on Linux: rules and routes over RTNETLINK (autoroute_impl.h). */
#include "tun2socks/system/autoroute_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <net/if.h>

#include "tun2socks/system/rtnl.h"

struct autoroute_os {
	struct rtnl *nl;
};

int autoroute_os_open(struct autoroute_os **out)
{
	struct autoroute_os *os = calloc(1, sizeof(*os));
	int r;

	*out = NULL;
	if (os == NULL)
		return -ENOMEM;
	r = rtnl_open(&os->nl);
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
	rtnl_close(os->nl);
	free(os);
}

int autoroute_os_plan(struct autoroute_os *os, const struct route_plan_cfg *cfg,
		      struct route_plan *out, char *err, size_t errlen)
{
	(void)os;
	return route_plan_build(cfg, out, err, errlen);
}

const char *autoroute_os_state_dir(void)
{
	return "/run/tun2socks";
}

int autoroute_os_change(struct autoroute_os *os, bool add, const struct route_obj *o, char *err,
			size_t errlen)
{
	if (o->kind == ROUTE_OBJ_RULE)
		return rtnl_rule_change(os->nl, add, &o->rule, err, errlen);
	return rtnl_route_change(os->nl, add, &o->route, err, errlen);
}

struct in_use {
	uint32_t table, lo, hi;
	char *what;
	size_t whatlen;
};

static int rule_in_use(void *arg, const struct rtnl_rule *r)
{
	struct in_use *u = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_RULE, .rule = *r };

	if (r->priority < u->lo || r->priority > u->hi)
		return 0;
	route_text_format(&o, u->what, u->whatlen);
	return -EEXIST;
}

static int route_in_use(void *arg, const struct rtnl_route *r)
{
	struct in_use *u = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_ROUTE, .route = *r };

	if (r->table != u->table)
		return 0;
	route_text_format(&o, u->what, u->whatlen);
	return -EEXIST;
}

int autoroute_os_in_use(struct autoroute_os *os, uint32_t table, uint32_t lo, uint32_t hi,
			char *what, size_t whatlen)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct in_use u = { table, lo, hi, what, whatlen };
	int r = 0;

	for (int i = 0; r == 0 && i < 2; i++)
		r = rtnl_list_rules(os->nl, fams[i], rule_in_use, &u);
	for (int i = 0; r == 0 && i < 2; i++)
		r = rtnl_list_routes(os->nl, fams[i], route_in_use, &u);
	return r;
}

int autoroute_os_route_oif(struct autoroute_os *os, const struct prefix *dst, uint32_t mark,
			   uint32_t bind_ifindex, uint32_t *oif)
{
	struct rtnl_route rt;
	int r = rtnl_route_get(os->nl, dst, mark, bind_ifindex, &rt);

	*oif = r == 0 ? rt.oif : 0;
	return r;
}

struct present {
	const struct route_obj *obj;
	size_t n;
	bool *present;
};

static int rule_present(void *arg, const struct rtnl_rule *r)
{
	struct present *p = arg;
	struct route_obj o = { .kind = ROUTE_OBJ_RULE, .rule = *r };
	char have[ROUTE_TEXT_MAX], want[ROUTE_TEXT_MAX];

	route_text_format(&o, have, sizeof(have));
	for (size_t i = 0; i < p->n; i++) {
		if (p->present[i] || p->obj[i].kind != ROUTE_OBJ_RULE ||
		    p->obj[i].rule.priority != r->priority)
			continue;
		route_text_format(&p->obj[i], want, sizeof(want));
		if (strcmp(have, want) == 0)
			p->present[i] = true;
	}
	return 0;
}

static int route_present(void *arg, const struct rtnl_route *r)
{
	struct present *p = arg;
	char dev[IF_NAMESIZE] = "";

	if (r->oif && if_indextoname(r->oif, dev) == NULL)
		dev[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		const struct route_obj *o = &p->obj[i];

		if (p->present[i] || o->kind != ROUTE_OBJ_ROUTE || o->route.family != r->family ||
		    o->route.table != r->table || o->route.type != r->type ||
		    !prefix_equal(&o->route.dst, &r->dst) || strcmp(o->dev, dev) != 0)
			continue;
		p->present[i] = true;
	}
	return 0;
}

int autoroute_os_present(struct autoroute_os *os, const struct route_obj *obj, size_t n,
			 bool *present)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct present p = { obj, n, present };
	int r = 0;

	memset(present, 0, n * sizeof(*present));
	for (int i = 0; r == 0 && i < 2; i++)
		r = rtnl_list_rules(os->nl, fams[i], rule_present, &p);
	for (int i = 0; r == 0 && i < 2; i++)
		r = rtnl_list_routes(os->nl, fams[i], route_present, &p);
	return r;
}

int autoroute_os_link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	r = ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -errno : (ifr.ifr_flags & IFF_UP) != 0;
	close(fd);
	return r;
}

uint64_t autoroute_os_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (uint64_t)st.st_ino : 0;
}
