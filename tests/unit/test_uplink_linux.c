/* The uplink monitor (tun2socks/system/uplink_linux.c) against the real
 * kernel, in a network namespace of its own: two "uplinks" (TUN devices
 * standing in for Wi-Fi and Ethernet) and a third TUN as ours. A better
 * default route appearing, its link going down, every default gone, and a
 * DNS server routed into our TUN are each reported once, on the loop.
 * Needs root (T2S_ALLOW_SKIP=1: exit 77 instead of failing). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tun2socks/system/rtnl.h"
#include "tun2socks/system/uplink.h"
#include "tun2socks/tun/tun.h"
#include "root_helper.h"
#include "test.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

struct seen {
	int changed, loops;
	struct uplink_event last_change, last_loop;
};

static void on_event(void *arg, const struct uplink_event *ev)
{
	struct seen *s = arg;

	if (ev->kind == UPLINK_CHANGED) {
		s->changed++;
		s->last_change = *ev;
	} else {
		s->loops++;
		s->last_loop = *ev;
	}
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until *count reaches want, or 10 s (a busy machine). */
static void wait_count(uv_loop_t *loop, const int *count, int want)
{
	uv_timer_t tick;
	uint64_t end;

	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, on_tick, 20, 20);
	uv_update_time(loop);
	end = uv_now(loop) + 10000;
	while (*count < want && uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* Lets the monitor settle, then checks nothing more came. */
static void wait_quiet(uv_loop_t *loop, struct uplink *u, uint64_t looks)
{
	uv_timer_t tick;
	uint64_t end;

	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, on_tick, 20, 20);
	uv_update_time(loop);
	end = uv_now(loop) + 10000;
	while (uplink_looks(u) <= looks && uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static struct tun *make_tun(const char *name, uint8_t net)
{
	struct tun_config c = { .name = name,
				.fd = -1,
				.framing = -1,
				.mtu = 1500,
				.has_addr4 = true,
				.addr4 = { 10, net, 0, 1 },
				.prefix4 = 24,
				.offload = -1 };
	struct tun *t = NULL;
	char err[256];

	if (tun_open(&c, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "tun_open %s: %s\n", name, err);
		return NULL;
	}
	return t;
}

static int route(bool add, const char *dst, const char *dev, uint32_t metric)
{
	struct rtnl_route r = { .family = AF_INET,
				.type = RTNL_RT_UNICAST,
				.scope = RTNL_SCOPE_LINK,
				.protocol = RTNL_PROTO_STATIC,
				.table = RTNL_TABLE_MAIN,
				.metric = metric };
	struct rtnl *nl;
	char err[128];
	int rc;

	prefix_parse(dst, false, &r.dst);
	r.oif = if_nametoindex(dev);
	if (rtnl_open(&nl) < 0)
		return -1;
	rc = rtnl_route_change(nl, add, &r, err, sizeof(err));
	rtnl_close(nl);
	if (rc < 0)
		fprintf(stderr, "route %s %s dev %s: %s %s\n", add ? "add" : "del", dst, dev,
			strerror(-rc), err);
	return rc;
}

static int link_down(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags &= ~IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static void test_follow(void)
{
	struct tun *a = make_tun("upa", 1), *b = make_tun("upb", 2), *mine = make_tun("ours", 3);
	uint32_t ia = if_nametoindex("upa"), ib = if_nametoindex("upb"), found = 0;
	struct prefix dns;
	struct seen s = { 0 };
	struct uplink *u = NULL;
	uv_loop_t loop;
	uint64_t looks;

	T_CHECK(a && b && mine);
	if (!a || !b || !mine)
		goto out;
	T_EQ_INT(route(true, "0.0.0.0/0", "upa", 100), 0);
	T_EQ_INT(uplink_find(0, &found), 0);
	T_EQ_INT(found, ia);

	prefix_parse("10.9.9.9", false, &dns);
	uv_loop_init(&loop);
	{
		struct uplink_cfg c = { .tun_ifindex = if_nametoindex("ours"),
					.ifindex = ia,
					.dns = &dns,
					.n_dns = 1,
					.settle_ms = 50,
					.fn = on_event,
					.arg = &s };

		T_EQ_INT(uplink_start(&loop, &c, &u), 0);
	}
	if (u == NULL)
		goto out_loop;
	/* The first look: the same uplink, the DNS server not in our TUN. */
	wait_quiet(&loop, u, 0);
	T_EQ_INT(s.changed, 0);
	T_EQ_INT(s.loops, 0);

	/* A better default route (Ethernet plugged in). */
	T_EQ_INT(route(true, "0.0.0.0/0", "upb", 10), 0);
	wait_count(&loop, &s.changed, 1);
	T_EQ_INT(s.changed, 1);
	T_EQ_INT(s.last_change.ifindex, ib);
	T_EQ_STR(s.last_change.name, "upb");

	/* The DNS server now routed into our TUN: named once. */
	looks = uplink_looks(u);
	T_EQ_INT(route(true, "10.9.9.9/32", "ours", 0), 0);
	wait_count(&loop, &s.loops, 1);
	T_EQ_INT(s.loops, 1);
	T_CHECK(prefix_equal(&s.last_loop.server, &dns));
	/* an unrelated change: looked at again, not reported again */
	T_EQ_INT(route(true, "10.50.0.0/16", "upa", 0), 0);
	looks = uplink_looks(u);
	wait_quiet(&loop, u, looks);
	T_EQ_INT(s.loops, 1);
	T_EQ_INT(s.changed, 1);

	/* Its link goes down: back to the other one. */
	T_EQ_INT(link_down("upb"), 0);
	wait_count(&loop, &s.changed, 2);
	T_EQ_INT(s.changed, 2);
	T_EQ_INT(s.last_change.ifindex, ia);
	T_EQ_STR(s.last_change.name, "upa");

	/* No default route left. */
	T_EQ_INT(link_down("upa"), 0);
	wait_count(&loop, &s.changed, 3);
	T_EQ_INT(s.changed, 3);
	T_EQ_INT(s.last_change.ifindex, 0);
	T_EQ_STR(s.last_change.name, "");

	uplink_stop(u);
out_loop:
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
out:
	tun_close(a);
	tun_close(b);
	tun_close(mine);
}

int main(void)
{
	char why[128];

	if (geteuid() != 0)
		return root_helper_not_runnable("test_uplink_linux", "not running as root");
	if (unshare(CLONE_NEWNET) != 0) {
		snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
		return root_helper_not_runnable("test_uplink_linux", why);
	}
	if (root_helper_lo_up() != 0)
		return root_helper_not_runnable("test_uplink_linux", "cannot bring lo up");
	T_RUN(test_follow);
	return test_summary();
}
