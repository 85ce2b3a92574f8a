/* route_text: one rule or route as a line in ip(8)'s words, and back.
 *   rule -4 pref 9000 fwmark 0x2022/0xffffffff goto 9010
 *   rule -6 pref 9002 ipproto udp dport 53 lookup 2022
 *   rule -4 pref 9003 lookup main suppress_prefixlength 0
 *   route -4 table 2022 0.0.0.0/1 dev tun0
 *   route -6 table 2022 unreachable ::/0
 *   route -4 table main 203.0.113.5/32 via 192.168.1.1 dev en0   (macOS)
 * The state file holds these lines (route_state.h), and the log shows
 * them, so a user can read them and undo them by hand with `ip`. Pure. */
#ifndef T2S_ROUTE_TEXT_H
#define T2S_ROUTE_TEXT_H

#include <stddef.h>

#include "tun2socks/system/rtnl_msg.h"

enum route_obj_kind { ROUTE_OBJ_RULE, ROUTE_OBJ_ROUTE };

/* Something auto-route adds: a rule, or a route (with its device's name,
 * since an interface index does not outlive the daemon). */
struct route_obj {
	enum route_obj_kind kind;
	struct rtnl_rule rule;
	struct rtnl_route route;
	char dev[16]; /* route: the oif's name, "" for none */
	/* route: through this router (a host prefix; family 0: none). The
	 * macOS plan's host routes for the proxy servers (route_split.h). */
	struct prefix via;
};

enum { ROUTE_TEXT_MAX = 256 };

/* The line, without a newline, into buf (ROUTE_TEXT_MAX is enough). */
void route_text_format(const struct route_obj *o, char *buf, size_t cap);

/* Parses a line route_text_format wrote (extra spaces allowed). The route's
 * oif stays 0 (dev holds the name). 0 or -EINVAL. */
int route_text_parse(const char *line, struct route_obj *out);

#endif
