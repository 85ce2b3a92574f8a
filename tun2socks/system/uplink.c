/* uplink: choosing the uplink of a routing dump (uplink.h). */
#include "tun2socks/system/uplink.h"

#include <sys/socket.h>

static bool uplink_candidate(const struct rtnl_route *r, uint32_t skip)
{
	return r->table == RTNL_TABLE_MAIN && r->dst.len == 0 && r->type == RTNL_RT_UNICAST &&
	       r->oif != 0 && r->oif != skip;
}

uint32_t uplink_pick(const struct rtnl_route *routes, size_t n, uint32_t skip_ifindex)
{
	static const int fams[] = { AF_INET, AF_INET6 };

	for (int f = 0; f < 2; f++) {
		const struct rtnl_route *best = NULL;

		for (size_t i = 0; i < n; i++) {
			const struct rtnl_route *r = &routes[i];

			if (r->family != fams[f] || !uplink_candidate(r, skip_ifindex))
				continue;
			if (best == NULL || r->metric < best->metric)
				best = r;
		}
		if (best)
			return best->oif;
	}
	return 0;
}
