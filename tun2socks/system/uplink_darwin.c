/* uplink on macOS: not yet (a PF_ROUTE socket would carry the same
 * events); the monitor and the startup look report they are unsupported. */
#include "tun2socks/system/uplink.h"

#include <errno.h>

int uplink_find(uint32_t skip_ifindex, uint32_t *ifindex)
{
	(void)skip_ifindex;
	*ifindex = 0;
	return -ENOTSUP;
}

int uplink_start(uv_loop_t *loop, const struct uplink_cfg *cfg, struct uplink **out)
{
	(void)loop;
	(void)cfg;
	*out = NULL;
	return -ENOTSUP;
}

uint64_t uplink_looks(const struct uplink *u)
{
	(void)u;
	return 0;
}

void uplink_stop(struct uplink *u)
{
	(void)u;
}
