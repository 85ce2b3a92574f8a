/* autoroute's platform part: the plan, the kernel's routing tables and
 * rules, and the identity of our network namespace. One of
 * autoroute_linux.c (policy rules and a table of ours, route_plan.h) or
 * autoroute_darwin.c (routes of the main table, route_split.h) provides
 * it. */
#ifndef T2S_AUTOROUTE_IMPL_H
#define T2S_AUTOROUTE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/route_plan.h"
#include "tun2socks/system/route_text.h"

struct autoroute_os;

/* 0, -ENOTSUP where there is no auto-route, or -errno. */
int autoroute_os_open(struct autoroute_os **out);
void autoroute_os_close(struct autoroute_os *os);

/* The plan for cfg, into out (cleared first): route_plan_build on Linux;
 * on macOS route_split_build around the default gateways the kernel has
 * now. 0, or -errno with err. */
int autoroute_os_plan(struct autoroute_os *os, const struct route_plan_cfg *cfg,
		      struct route_plan *out, char *err, size_t errlen);

/* Where state files go unless told (AUTOROUTE_STATE_DIR). */
const char *autoroute_os_state_dir(void);

/* Adds or removes one object. 0 or -errno with the kernel's words in err
 * (removing what is not there: -ENOENT or -ESRCH). */
int autoroute_os_change(struct autoroute_os *os, bool add, const struct route_obj *o, char *err,
			size_t errlen);

/* Whether table or the priorities lo..hi are in use: 0, or -EEXIST with
 * the first rule or route found, in route_text's words, in what. */
int autoroute_os_in_use(struct autoroute_os *os, uint32_t table, uint32_t lo, uint32_t hi,
			char *what, size_t whatlen);

/* The interface index the kernel routes a packet of ours to dst through
 * (mark, bound interface: 0 for none). 0 with *oif, or -errno. */
int autoroute_os_route_oif(struct autoroute_os *os, const struct prefix *dst, uint32_t mark,
			   uint32_t bind_ifindex, uint32_t *oif);

/* Which of obj[0..n) the kernel has now (present[i]): rules as the same
 * line in route_text's words, routes by family, table, type, destination
 * and device. 0 or -errno. */
int autoroute_os_present(struct autoroute_os *os, const struct route_obj *obj, size_t n,
			 bool *present);

/* Whether interface name exists and is up: 1 up, 0 down, -ENODEV, or
 * -errno. */
int autoroute_os_link_up(const char *name);

/* The network namespace we run in (an inode number), 0 if unknown. */
uint64_t autoroute_os_netns(void);

#endif
