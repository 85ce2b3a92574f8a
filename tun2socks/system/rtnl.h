/* rtnl: a NETLINK_ROUTE socket that adds, removes and lists policy-routing
 * rules and routes (Linux only: rtnl_linux.c). The messages are built and
 * parsed by rtnl_msg.c; this is the I/O around them. Blocking, with a
 * timeout: it runs at startup, at stop and in `tun2socks cleanup`, never
 * on the loop's path.
 */
#ifndef T2S_RTNL_H
#define T2S_RTNL_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/system/rtnl_msg.h"

struct rtnl;

/* 0 or -errno (-EPERM without CAP_NET_ADMIN shows at the first change). */
int rtnl_open(struct rtnl **out);
void rtnl_close(struct rtnl *nl);

/* Adds (NLM_F_CREATE | NLM_F_EXCL: -EEXIST if it is there) or removes one
 * rule. 0 or the kernel's -errno, with its extended-ACK text in err. */
int rtnl_rule_change(struct rtnl *nl, bool add, const struct rtnl_rule *r, char *err,
		     size_t errlen);

/* The same for a route. A removal matches by table, type and destination
 * (any scope, protocol and device: the device of a route we added may be
 * gone and its index reused). */
int rtnl_route_change(struct rtnl *nl, bool add, const struct rtnl_route *r, char *err,
		      size_t errlen);

/* The route the kernel picks for a packet of ours to dst (a host prefix),
 * sent with fwmark mark (0: none) from a socket bound to oif (0: none):
 * 0 with *out (its oif is the interface), or -errno (-ENETUNREACH: no
 * route). */
int rtnl_route_get(struct rtnl *nl, const struct prefix *dst, uint32_t mark, uint32_t oif,
		   struct rtnl_route *out);

/* Calls fn for every rule (route) of the family, in the kernel's order;
 * fn returning non-zero stops the walk and is returned. 0 or -errno. */
typedef int (*rtnl_rule_fn)(void *arg, const struct rtnl_rule *r);
typedef int (*rtnl_route_fn)(void *arg, const struct rtnl_route *r);
int rtnl_list_rules(struct rtnl *nl, int family, rtnl_rule_fn fn, void *arg);
int rtnl_list_routes(struct rtnl *nl, int family, rtnl_route_fn fn, void *arg);

#endif
