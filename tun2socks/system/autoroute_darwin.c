/* autoroute on macOS: not yet (routes through PF_ROUTE messages are the
 * plan); auto-route reports it is unsupported here. */
#include "tun2socks/system/autoroute_impl.h"

#include <errno.h>

int autoroute_os_open(struct autoroute_os **out)
{
	*out = NULL;
	return -ENOTSUP;
}

void autoroute_os_close(struct autoroute_os *os)
{
	(void)os;
}

int autoroute_os_change(struct autoroute_os *os, bool add, const struct route_obj *o, char *err,
			size_t errlen)
{
	(void)os;
	(void)add;
	(void)o;
	(void)err;
	(void)errlen;
	return -ENOTSUP;
}

int autoroute_os_in_use(struct autoroute_os *os, uint32_t table, uint32_t lo, uint32_t hi,
			char *what, size_t whatlen)
{
	(void)os;
	(void)table;
	(void)lo;
	(void)hi;
	(void)what;
	(void)whatlen;
	return -ENOTSUP;
}

int autoroute_os_route_oif(struct autoroute_os *os, const struct prefix *dst, uint32_t mark,
			   uint32_t bind_ifindex, uint32_t *oif)
{
	(void)os;
	(void)dst;
	(void)mark;
	(void)bind_ifindex;
	*oif = 0;
	return -ENOTSUP;
}

int autoroute_os_present(struct autoroute_os *os, const struct route_obj *obj, size_t n,
			 bool *present)
{
	(void)os;
	(void)obj;
	(void)n;
	(void)present;
	return -ENOTSUP;
}

int autoroute_os_link_up(const char *name)
{
	(void)name;
	return -ENOTSUP;
}

uint64_t autoroute_os_netns(void)
{
	return 0;
}
