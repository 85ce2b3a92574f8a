/* Unit tests for auto-route's macOS plan (tun2socks/system/route_split.c)
 * and the text of its gateway routes (route_text.c). */
#include "tun2socks/system/route_split.h"
#include "tun2socks/system/route_text.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct prefix pfx(const char *s)
{
	struct prefix p;

	if (prefix_parse(s, false, &p) != 0)
		abort();
	return p;
}

static struct route_plan_cfg base_cfg(void)
{
	struct route_plan_cfg c = {
		.table = 2022,
		.rule_index = 9000,
		.tun_name = "utun4",
		.tun_ifindex = 17,
		.has4 = true,
		.has6 = true,
		.tun4 = pfx("198.18.0.0/15"),
		.tun6 = pfx("fdfe:dcba:9876::/126"),
	};
	return c;
}

static struct route_split_gw base_gw(void)
{
	struct route_split_gw g = { .has4 = true, .has6 = true };

	g.gw4 = pfx("192.168.1.1");
	g.gw6 = pfx("fe80:4::1");
	strcpy(g.dev4, "en0");
	strcpy(g.dev6, "en0");
	return g;
}

static void plan_text(const struct route_plan *p, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n && off < cap; i++) {
		char line[ROUTE_TEXT_MAX];

		route_text_format(&p->obj[i], line, sizeof(line));
		off += (size_t)snprintf(buf + off, cap - off, "%s\n", line);
	}
}

/* Everything, both families, two proxy servers (one twice), through the
 * original gateways; the IPv4 split minus multicast and broadcast. */
static void test_default(void)
{
	struct route_plan_cfg c = base_cfg();
	struct route_split_gw g = base_gw();
	struct prefix servers[] = { pfx("203.0.113.5/32"), pfx("2001:db8::5/128"),
				    pfx("203.0.113.5/32") };
	struct route_plan p;
	char text[8192], err[256];

	c.servers = servers;
	c.n_servers = 3;
	T_EQ_INT(route_split_build(&c, &g, &p, err, sizeof(err)), 0);
	plan_text(&p, text, sizeof(text));
	T_EQ_STR(text, "route -4 table main 203.0.113.5/32 via 192.168.1.1 dev en0\n"
		       "route -6 table main 2001:db8::5/128 via fe80:4::1 dev en0\n"
		       "route -4 table main 0.0.0.0/1 dev utun4\n"
		       "route -4 table main 128.0.0.0/2 dev utun4\n"
		       "route -4 table main 192.0.0.0/3 dev utun4\n"
		       "route -4 table main 240.0.0.0/5 dev utun4\n"
		       "route -4 table main 248.0.0.0/6 dev utun4\n"
		       "route -4 table main 252.0.0.0/7 dev utun4\n"
		       "route -4 table main 254.0.0.0/8 dev utun4\n"
		       "route -4 table main 255.0.0.0/9 dev utun4\n"
		       "route -4 table main 255.128.0.0/10 dev utun4\n"
		       "route -4 table main 255.192.0.0/11 dev utun4\n"
		       "route -4 table main 255.224.0.0/12 dev utun4\n"
		       "route -4 table main 255.240.0.0/13 dev utun4\n"
		       "route -4 table main 255.248.0.0/14 dev utun4\n"
		       "route -4 table main 255.252.0.0/15 dev utun4\n"
		       "route -4 table main 255.254.0.0/16 dev utun4\n"
		       "route -4 table main 255.255.0.0/17 dev utun4\n"
		       "route -4 table main 255.255.128.0/18 dev utun4\n"
		       "route -4 table main 255.255.192.0/19 dev utun4\n"
		       "route -4 table main 255.255.224.0/20 dev utun4\n"
		       "route -4 table main 255.255.240.0/21 dev utun4\n"
		       "route -4 table main 255.255.248.0/22 dev utun4\n"
		       "route -4 table main 255.255.252.0/23 dev utun4\n"
		       "route -4 table main 255.255.254.0/24 dev utun4\n"
		       "route -4 table main 255.255.255.0/25 dev utun4\n"
		       "route -4 table main 255.255.255.128/26 dev utun4\n"
		       "route -4 table main 255.255.255.192/27 dev utun4\n"
		       "route -4 table main 255.255.255.224/28 dev utun4\n"
		       "route -4 table main 255.255.255.240/29 dev utun4\n"
		       "route -4 table main 255.255.255.248/30 dev utun4\n"
		       "route -4 table main 255.255.255.252/31 dev utun4\n"
		       "route -4 table main 255.255.255.254/32 dev utun4\n"
		       "route -6 table main ::/1 dev utun4\n"
		       "route -6 table main 8000::/1 dev utun4\n");
	T_CHECK(p.fam4 && p.fam6);
	for (size_t i = 0; i < p.n; i++)
		T_EQ_INT(p.obj[i].kind, ROUTE_OBJ_ROUTE);
	T_EQ_INT(p.obj[2].route.oif, 17);
	route_plan_free(&p);
}

/* No IPv6 on the TUN, strict-route: IPv6 unreachable; no IPv6 gateway:
 * the IPv6 server is left out of the split instead. route-address and
 * route-exclude-address narrow the IPv4 side. */
static void test_strict_and_narrow(void)
{
	struct route_plan_cfg c = base_cfg();
	struct route_split_gw g = base_gw();
	struct prefix addr[] = { pfx("10.0.0.0/8"), pfx("::/0") }, excl[] = { pfx("10.128.0.0/9") },
		      servers[] = { pfx("10.1.2.3/32"), pfx("8000::1/128") };
	struct route_plan p;
	char text[8192], err[256];

	c.has6 = false;
	c.strict = true;
	g.has6 = false;
	c.route_addr = addr;
	c.n_route_addr = 2;
	c.exclude = excl;
	c.n_exclude = 1;
	c.servers = servers;
	c.n_servers = 2;
	T_EQ_INT(route_split_build(&c, &g, &p, err, sizeof(err)), 0);
	plan_text(&p, text, sizeof(text));
	/* then 8000::/1 minus 8000::1, in 127 more prefixes */
	T_CHECK(strncmp(text,
			"route -4 table main 10.1.2.3/32 via 192.168.1.1 dev en0\n"
			"route -4 table main 10.0.0.0/9 dev utun4\n"
			"route -6 table main unreachable ::/1\n"
			"route -6 table main unreachable 8000::/128\n"
			"route -6 table main unreachable 8000::2/127\n",
			strlen("route -4 table main 10.1.2.3/32 via 192.168.1.1 dev en0\n"
			       "route -4 table main 10.0.0.0/9 dev utun4\n"
			       "route -6 table main unreachable ::/1\n"
			       "route -6 table main unreachable 8000::/128\n"
			       "route -6 table main unreachable 8000::2/127\n")) == 0);
	T_EQ_INT(p.n, 3 + 127);
	T_EQ_INT(p.obj[p.n - 1].route.type, RTNL_RT_UNREACHABLE);
	route_plan_free(&p);

	/* Without strict-route nothing of IPv6, and no IPv4 server: the
	 * IPv6 server has no route either. */
	c.strict = false;
	c.n_servers = 0;
	T_EQ_INT(route_split_build(&c, &g, &p, err, sizeof(err)), 0);
	plan_text(&p, text, sizeof(text));
	T_EQ_STR(text, "route -4 table main 10.0.0.0/9 dev utun4\n");
	T_CHECK(p.fam4 && !p.fam6);
	route_plan_free(&p);

	/* Nothing at all. */
	c.has4 = false;
	T_EQ_INT(route_split_build(&c, &g, &p, err, sizeof(err)), -EINVAL);
	T_CHECK(strstr(err, "nothing to route") != NULL);
	T_EQ_INT(p.n, 0);
}

/* Gateway routes survive the state file's text form. */
static void test_text_round_trip(void)
{
	static const char *lines[] = {
		"route -4 table main 203.0.113.5/32 via 192.168.1.1 dev en0",
		"route -6 table main 2001:db8::5/128 via fe80:4::1 dev en0",
		"route -4 table main 128.0.0.0/1 dev utun4",
		"route -6 table main unreachable 8000::/1",
	};
	static const char *bad[] = {
		"route -4 table main 203.0.113.5/32 via 2001:db8::1 dev en0",
		"route -4 table main 203.0.113.5/32 via 192.168.1.1/32 dev en0",
		"route -4 table main 203.0.113.5/32 via",
		"route -6 table main unreachable 8000::/1 via ::1",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct route_obj o;
		char back[ROUTE_TEXT_MAX];

		T_EQ_INT(route_text_parse(lines[i], &o), 0);
		route_text_format(&o, back, sizeof(back));
		T_EQ_STR(back, lines[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct route_obj o;

		T_EQ_INT(route_text_parse(bad[i], &o), -EINVAL);
	}
}

int main(void)
{
	T_RUN(test_default);
	T_RUN(test_strict_and_narrow);
	T_RUN(test_text_round_trip);
	return test_summary();
}
