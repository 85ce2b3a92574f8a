/* priv: Linux asks for CAP_NET_ADMIN (TUNSETIFF, then netlink to set the
 * MTU, addresses and link state); uid 0 alone is not enough (a container
 * may drop the capability) nor needed (setcap grants it). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tun2socks/app/priv.h"

int priv_tun_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	/* capget(2) directly: libcap is not worth a dependency for one bit. */
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	return (data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN)) != 0;
}

const char *priv_tun_hint(void)
{
	return "this process lacks CAP_NET_ADMIN: run tun2socks as root (sudo), grant it the "
	       "capability once (sudo setcap cap_net_admin+ep /path/to/tun2socks)";
}
