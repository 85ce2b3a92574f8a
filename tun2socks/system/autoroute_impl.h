/* autoroute's platform part: the kernel's routing tables and rules, and
 * the identity of our network namespace. One of autoroute_linux.c or
 * autoroute_darwin.c provides it. */
#ifndef T2S_AUTOROUTE_IMPL_H
#define T2S_AUTOROUTE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/route_text.h"

struct autoroute_os;

/* 0, -ENOTSUP where there is no auto-route, or -errno. */
int autoroute_os_open(struct autoroute_os **out);
void autoroute_os_close(struct autoroute_os *os);

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
