/* uplink: the interface that carries the machine's default route, and a
 * monitor that follows it (docs/design.md §13, "Following the uplink").
 *
 * uplink_pick is pure: of a routing dump, the main table's default
 * routes, lowest metric first, IPv4 before IPv6, never the TUN. The
 * monitor (uplink_linux.c) listens to RTNETLINK's link, address and route
 * groups on the loop; some time after the last event it dumps the main
 * table again and, on a non-blocking socket, asks the kernel where each
 * upstream DNS server is routed for our sockets. It reports a new uplink
 * and a DNS server the kernel now routes into the TUN (a loop). Nothing
 * blocks: requests are sent and their answers read when the socket is
 * readable.
 */
#ifndef T2S_UPLINK_H
#define T2S_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tun2socks/system/prefix.h"
#include "tun2socks/system/rtnl_msg.h"

/* The uplink of a dump: the oif of the best default route of the main
 * table (unicast, with an interface, not skip_ifindex); IPv4 first, then
 * IPv6; within a family the lowest metric, the first in dump order on a
 * tie. 0 when there is none. */
uint32_t uplink_pick(const struct rtnl_route *routes, size_t n, uint32_t skip_ifindex);

/* The same from the kernel's tables now (blocking: for startup). 0 with
 * *ifindex (0: no default route), -ENOTSUP where we cannot ask, -errno. */
int uplink_find(uint32_t skip_ifindex, uint32_t *ifindex);

enum uplink_event_kind {
	UPLINK_CHANGED, /* the default route moved: ifindex, name (0, "": none) */
	UPLINK_DNS_LOOP /* server is now routed into the TUN for our sockets */
};

struct uplink_event {
	enum uplink_event_kind kind;
	uint32_t ifindex;
	char name[32];
	struct prefix server;
};

typedef void (*uplink_fn)(void *arg, const struct uplink_event *ev);

struct uplink_cfg {
	uint32_t tun_ifindex;     /* never the uplink */
	uint32_t ifindex;         /* the uplink as the caller knows it (0: none) */
	uint32_t mark;            /* our sockets' fwmark (0: none) */
	bool bind;                /* our sockets are bound to the uplink */
	const struct prefix *dns; /* upstream DNS servers to check (copied) */
	size_t n_dns;
	unsigned settle_ms; /* quiet time after an event before a look (0: 200) */
	uplink_fn fn;
	void *arg;
};

struct uplink;

/* Starts the monitor on loop. 0, -ENOTSUP (not on this platform), or
 * -errno. */
int uplink_start(uv_loop_t *loop, const struct uplink_cfg *cfg, struct uplink **out);

/* How many looks it has taken (for tests and the log). */
uint64_t uplink_looks(const struct uplink *u);

/* Closes its handles; freed once the loop has run their close callbacks.
 * NULL is a no-op. */
void uplink_stop(struct uplink *u);

#endif
