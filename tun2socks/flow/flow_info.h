/* flow_info: what a live TCP flow or UDP session looks like from outside
 * (the control API's connection list, docs/design.md §20). Filled on
 * demand by flow_tcp_foreach / flow_udp_foreach from the flows' own
 * fields, so keeping it costs the data path nothing when nobody asks. */
#ifndef T2S_FLOW_INFO_H
#define T2S_FLOW_INFO_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "tun2socks/route/route.h"

struct flow_info {
	uint64_t id; /* flow#N or udp#N: unique within its kind */
	bool udp;
	const ip_addr_t *src;
	uint16_t src_port;
	/* The destination the client used (TCP), or the first datagram's
	 * target (UDP: a name or an address in route->target). NULL dst:
	 * see route. */
	const ip_addr_t *dst;
	uint16_t dst_port;
	const char *domain;        /* the name, or NULL */
	const struct route *route; /* NULL while the router decides */
	uint64_t up, down;         /* bytes */
	uint64_t start_ms;         /* uv_now() when it began */
};

/* Called once per live flow; fi and what it points to are valid for the
 * call only. */
typedef void (*flow_info_fn)(void *arg, const struct flow_info *fi);

#endif
