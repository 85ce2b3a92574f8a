/* uplink_pick (tun2socks/system/uplink.c): the uplink of a routing dump. */
#include "tun2socks/system/uplink.h"
#include "test.h"

#include <sys/socket.h>

static struct rtnl_route def(int family, uint32_t oif, uint32_t metric)
{
	struct rtnl_route r = { .family = (uint8_t)family,
				.type = RTNL_RT_UNICAST,
				.table = RTNL_TABLE_MAIN,
				.oif = oif,
				.metric = metric };

	prefix_any(&r.dst, family);
	return r;
}

int main(void)
{
	struct rtnl_route rs[8] = { 0 };

	/* nothing, or nothing that is a default route of main */
	T_EQ_INT(uplink_pick(rs, 0, 0), 0);
	rs[0] = def(AF_INET, 3, 0);
	rs[0].dst.len = 1; /* 0.0.0.0/1: the /1 recipe, not a default */
	rs[1] = def(AF_INET, 4, 0);
	rs[1].table = 2022;
	rs[2] = def(AF_INET, 5, 0);
	rs[2].type = RTNL_RT_UNREACHABLE;
	rs[3] = def(AF_INET, 0, 0); /* multipath: no single interface */
	T_EQ_INT(uplink_pick(rs, 4, 0), 0);

	/* the lowest metric wins; a tie goes to the first */
	rs[0] = def(AF_INET, 3, 200);
	rs[1] = def(AF_INET, 4, 100);
	rs[2] = def(AF_INET, 5, 100);
	T_EQ_INT(uplink_pick(rs, 3, 0), 4);

	/* the TUN is never the uplink, even as the best default */
	rs[1] = def(AF_INET, 9, 0);
	T_EQ_INT(uplink_pick(rs, 3, 9), 5);

	/* IPv4 before IPv6, whatever the metrics and the order */
	rs[0] = def(AF_INET6, 7, 1);
	rs[1] = def(AF_INET, 8, 1000);
	T_EQ_INT(uplink_pick(rs, 2, 0), 8);
	/* IPv6 alone */
	T_EQ_INT(uplink_pick(rs, 1, 0), 7);
	T_EQ_INT(uplink_pick(rs, 1, 7), 0);

	printf("%d passed, %d failed\n", test_passed_, test_failed_);
	return test_failed_ ? 1 : 0;
}
