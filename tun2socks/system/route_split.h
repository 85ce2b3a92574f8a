/* route_split: what auto-route adds on macOS (docs/design.md §13,
 * "macOS"), as a route_plan. There are no policy rules there: only routes
 * of the one table, more specific than the default route so that they win
 * without replacing it (what a VPN client does), and removed in reverse:
 *
 *   route -4 table main 203.0.113.5/32 via 192.168.1.1 dev en0
 *                        each proxy server, through the original gateway
 *   route -4 table main 0.0.0.0/1 dev utun4       route-address (default
 *   route -4 table main 128.0.0.0/1 dev utun4     everything) split at /1,
 *   route -6 table main ::/1 dev utun4            minus route-exclude-
 *   route -6 table main 8000::/1 dev utun4        address, multicast and
 *                                                 the limited broadcast
 *   route -6 table main unreachable ::/1          strict-route, no IPv6 on
 *                                                 the TUN
 *
 * Our own sockets are bound to the uplink (IP_BOUND_IF), so the kernel's
 * scoped routing takes them around all of it; the host routes are for
 * other programs that talk to a proxy server. A proxy server of a family
 * with no original gateway is left out of the split routes instead (it
 * then follows whatever default route there is). The LAN keeps its more
 * specific routes, so it stays direct. Pure.
 */
#ifndef T2S_ROUTE_SPLIT_H
#define T2S_ROUTE_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/system/route_plan.h"

/* The default routes as they were before we added ours. */
struct route_split_gw {
	bool has4, has6;
	struct prefix gw4, gw6;  /* host prefixes (IPv6 link-local: scope embedded) */
	char dev4[16], dev6[16]; /* their interfaces */
};

/* Builds the plan into out (cleared first) from cfg's TUN, families,
 * strict-route, route-address, route-exclude-address and servers (the
 * table, rule index, marks, uids and dns-hijack have no meaning here: the
 * routes go to the main table, RTNL_TABLE_MAIN). 0, -EINVAL with err
 * (nothing to route), -E2BIG, or -ENOMEM. */
int route_split_build(const struct route_plan_cfg *cfg, const struct route_split_gw *gw,
		      struct route_plan *out, char *err, size_t errlen);

#endif
