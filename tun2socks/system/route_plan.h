/* route_plan: what auto-route adds to the kernel, as a list of rules and
 * routes in the order they are added (removal is the reverse). Pure, so
 * the whole policy is unit-tested without a kernel. docs/design.md §13
 * explains each rule; with P the rule index, T the table and N = P + 10:
 *
 *   P+0  iif lo fwmark M goto N                 our own sockets skip it all
 *   P+1  iif lo uidrange A-B goto N              users left out (uid options)
 *   P+2  iif lo ipproto udp/tcp dport 53 lookup T   DNS to any server: the TUN
 *   P+3  iif lo to <proxy server> goto N         the proxies, for other programs
 *   P+4  iif lo lookup main suppress_prefixlength 0 LAN, VPNs: stay direct
 *   P+5  iif lo from <TUN prefix> lookup T       sockets bound to the TUN
 *   P+6  -4: iif lo from 0.0.0.0/32 lookup T     sockets without a source yet
 *        -6: iif lo from ::/1, 8000::/1 goto N   a local source address: a
 *                                                reply to an incoming connection
 *   P+7  -6: iif lo lookup T                     (IPv6 lookups carry no source)
 *   N    nop                                     the goto target
 *
 * Table T holds route-address (default everything) minus
 * route-exclude-address and, for IPv4, multicast and the limited
 * broadcast: device routes into the TUN, or unreachable routes for a
 * family the TUN has no address for under strict-route.
 */
#ifndef T2S_ROUTE_PLAN_H
#define T2S_ROUTE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/prefix.h"
#include "tun2socks/system/route_text.h"

/* Priorities used: rule_index .. rule_index + ROUTE_PLAN_SPAN. */
enum { ROUTE_PLAN_SPAN = 10, ROUTE_PLAN_MAX_ROUTES = 8192 };

struct uid_range {
	uint32_t lo, hi; /* inclusive */
};

struct route_plan_cfg {
	uint32_t table;      /* iproute2-table-index */
	uint32_t rule_index; /* iproute2-rule-index: the first priority */
	const char *tun_name;
	uint32_t tun_ifindex;
	bool has4, has6;          /* the TUN has an address of the family */
	struct prefix tun4, tun6; /* its prefixes */
	bool strict;              /* block a family the TUN cannot carry */
	bool dns_hijack;
	bool has_mark; /* our own sockets' fwmark */
	uint32_t mark;
	const struct prefix *route_addr; /* none: everything */
	size_t n_route_addr;
	const struct prefix *exclude; /* route-exclude-address */
	size_t n_exclude;
	const struct prefix *servers; /* the proxy servers (host prefixes) */
	size_t n_servers;
	const struct uid_range *include_uid; /* none: every user */
	size_t n_include_uid;
	const struct uid_range *exclude_uid;
	size_t n_exclude_uid;
};

struct route_plan {
	struct route_obj *obj;
	size_t n, cap;
	bool fam4, fam6; /* the families it routes */
};

/* Builds the plan into out (cleared first). 0, -EINVAL with err (a table
 * or rule index we must not use, nothing left to route), -E2BIG (more than
 * ROUTE_PLAN_MAX_ROUTES routes), or -ENOMEM. */
int route_plan_build(const struct route_plan_cfg *cfg, struct route_plan *out, char *err,
		     size_t errlen);
void route_plan_free(struct route_plan *p);

/* A new zeroed object at the end of p (grown by doubling), or NULL. For
 * the plan builders of each platform (route_split.h). */
struct route_obj *route_plan_push(struct route_plan *p);
/* Whether proxy server i is the first of its address in c (proxies on one
 * host, other ports: one rule or route for them all). */
bool route_plan_server_first(const struct route_plan_cfg *c, size_t i);

/* Whether table t / priority p may be ours: not 0 and not the kernel's own
 * (local 255, main 254, default 253; priorities 0 and 32766 up). */
bool route_plan_table_ok(uint32_t t);
bool route_plan_rule_index_ok(uint32_t p);

/* "1000-1999,2500" (or one number) into out[cap]. Returns the count or
 * -EINVAL. */
int route_plan_parse_uids(const char *s, struct uid_range *out, size_t cap);

#endif
